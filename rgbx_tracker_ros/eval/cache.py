# Copyright 2026 The rgbx_tracker_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Result cache: one ``.npz`` file per (tracker, sequence), so a rerun only computes what is new.

Layout: ``<root>/<tracker label>/<sequence name>.npz`` holding the per-frame output of
:func:`rgbx_tracker_ros.eval.runner.run_sequence` (``boxes_xywh`` (T, 4) float pixels,
``scores`` (T,), ``x_used`` (T,) bool, ``seconds`` (T,) wall time of each ``track`` call) plus
``key`` (a SHA-256 over the tracker fingerprint, the sequence fingerprint and the run options)
and ``meta`` (the same inputs as JSON, for people reading the folder).

A cached file is used only when its key equals the key of the requested run: changing the
checkpoint (its size or modification time), the OpenCV version, the NanoTrack files, the
sequence's ground truth or frame files (first / last frame size and mtime, frame count), or the
options (X on/off, re-initialisation frames, frame cap) computes the run again and overwrites the
file. Timings in a cached file are those measured when it was computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval.runner import TrackRun

_logger = logging.getLogger(__name__)

#: Bumped when the stored arrays or the key recipe change (old files are then recomputed).
CACHE_FORMAT = 1
_UNSAFE = re.compile(r'[^A-Za-z0-9._+-]')


class CacheError(ValueError):
    """A cache folder cannot be used (e.g. the root is a file)."""


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _array_digest(arr: np.ndarray | None) -> str | None:
    if arr is None:
        return None
    a = np.ascontiguousarray(arr)
    return hashlib.sha1(a.tobytes() + str(a.dtype).encode() + str(a.shape).encode()).hexdigest()


def _stamp(path: Path | str | None) -> Any:
    if path is None:
        return None
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return {'path': str(p.resolve()), 'size': st.st_size, 'mtime_ns': st.st_mtime_ns}


def sequence_fingerprint(seq: Sequence) -> dict:
    """What identifies a sequence's content cheaply: name, layout, frame count, hashes of the GT
    arrays and masks, and size / mtime of the first and last RGB and X frame files; for frames
    read from a :class:`~rgbx_tracker_ros.data.readers.base.FrameSource` (a bag) its
    ``fingerprint()`` and size / mtime of ``attributes['source_file']``."""
    info: dict[str, Any] = {
        'name': seq.name, 'layout': seq.layout, 'frames': seq.num_frames,
        'root': seq.attributes.get('root'),
        'gt': _array_digest(seq.gt_xywh), 'gt_x': _array_digest(seq.gt_x_xywh),
        'absent': _array_digest(seq.absent), 'annotated': _array_digest(seq.annotated),
    }
    if seq.source is not None:      # frames that are not files (a replay bag)
        info['rgb'] = seq.source.fingerprint()
        info['x'] = seq.has_x
    else:
        info['rgb'] = [_stamp(seq.rgb_paths[0]), _stamp(seq.rgb_paths[-1])]
        info['x'] = None if seq.x_paths is None else [
            _stamp(seq.x_paths[0]), _stamp(seq.x_paths[-1])]
    if 'source_file' in seq.attributes:
        info['source_file'] = _stamp(seq.attributes['source_file'])
    return info


def run_key(tracker: dict, sequence: dict, options: dict) -> str:
    """SHA-256 (hex) of the tracker fingerprint, sequence fingerprint and run options."""
    return _digest({'format': CACHE_FORMAT, 'tracker': tracker, 'sequence': sequence,
                    'options': options})


def safe_name(name: str) -> str:
    """``name`` with every character outside ``A-Za-z0-9._+-`` replaced by '_' (file names)."""
    out = _UNSAFE.sub('_', str(name)).strip('.')
    return out or '_'


class RunCache:
    """Folder of cached runs.

    Args:
        root: cache folder (created on the first save).

    Attributes:
        hits: runs served from the cache since construction.
        misses: runs computed (absent, stale or unreadable file).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(f'cache folder {self.root} exists and is not a folder')
        self.hits = 0
        self.misses = 0

    def path(self, label: str, sequence: str) -> Path:
        """File of ``label`` on ``sequence``."""
        return self.root / safe_name(label) / f'{safe_name(sequence)}.npz'

    def load(self, label: str, sequence: str, key: str) -> TrackRun | None:
        """The cached run if its key matches, else None (stale and unreadable files are logged
        and treated as absent)."""
        path = self.path(label, sequence)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data['key']) != key:
                    _logger.info('cache: %s is stale (tracker, sequence or options changed)',
                                 path)
                    return None
                return TrackRun(boxes_xywh=data['boxes_xywh'].astype(np.float64),
                                scores=data['scores'].astype(np.float64),
                                x_used=data['x_used'].astype(bool),
                                seconds=data['seconds'].astype(np.float64))
        except (OSError, KeyError, ValueError) as err:
            _logger.warning('cache: cannot read %s (%s); recomputing', path, err)
            return None

    def save(self, label: str, sequence: str, key: str, run: TrackRun,
             meta: dict | None = None) -> Path:
        """Write ``run`` atomically (temporary file + rename) and return its path."""
        path = self.path(label, sequence)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.npz', dir=path.parent)
        os.close(fd)
        try:
            np.savez_compressed(tmp, boxes_xywh=run.boxes_xywh, scores=run.scores,
                                x_used=run.x_used, seconds=run.seconds, key=np.str_(key),
                                meta=np.str_(json.dumps(meta or {}, sort_keys=True,
                                                        default=str)))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def get_or_compute(self, label: str, sequence: str, key: str,
                       compute: Callable[[], TrackRun],
                       meta: dict | None = None) -> tuple[TrackRun, bool]:
        """Cached run for ``key``, or ``compute()`` saved under it.

        Returns:
            (run, hit): ``hit`` is True when the run came from the cache.
        """
        run = self.load(label, sequence, key)
        if run is not None:
            self.hits += 1
            return run, True
        run = compute()
        self.misses += 1
        self.save(label, sequence, key, run, meta)
        return run, False
