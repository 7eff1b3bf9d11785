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

"""Replay bags as sequences: one more frame source. :class:`BagFrames` decodes the bag's image
messages on demand, :class:`BagSequence` is a :class:`~rgbx_tracker_ros.data.readers.base.Sequence`
over it (no file paths), :func:`load_bag_sequence` reads a bag, :func:`is_bag` recognises one.

Bag reading goes through :mod:`rgbx_tracker_ros.ros.bag_io` (``rosbags`` / ``mcap``; no rclpy),
imported when a bag is read, so importing this module needs neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import FrameSource, Sequence, SequenceError

#: The WARN line of a partly readable bag goes to rgbx-eval's log (the CLI prints it).
_logger = logging.getLogger('rgbx-eval')


class BagFrames(FrameSource):
    """The frames of a replay bag: the stored ``sensor_msgs/Image`` or ``CompressedImage``
    messages, decoded on demand (:func:`rgbx_tracker_ros.ros.bag_io.decode_bag_image`).

    Pickling does not copy the messages: it records how the bag was read (``reader`` args) and
    the frame count, and unpickling reads the bag again (as a worker process does), checking
    that the same number of frames comes back.

    Args:
        frames: the :class:`rgbx_tracker_ros.ros.bag_io.BagFrame` list (RGB order).
        reader: keyword arguments of ``read_bag_checked`` (``path``, ``rgb_topic``,
            ``x_topic``, ``gt_topic``) that gave ``frames``.
    """

    def __init__(self, frames: list, reader: dict) -> None:
        self.frames = list(frames)
        self.reader = dict(reader)
        self.has_x = bool(self.frames) and all(f.x_raw is not None for f in self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def read_rgb(self, index: int) -> np.ndarray:
        """RGB frame ``index`` as published (the sequence's ``rgb_encoding``)."""
        from rgbx_tracker_ros.ros.bag_io import decode_bag_image
        f = self.frames[index]
        return decode_bag_image(f.rgb_raw, f.rgb_type)[0]

    def read_x(self, index: int) -> np.ndarray:
        """X frame ``index`` as published (the sequence's ``x_encoding``)."""
        from rgbx_tracker_ros.ros.bag_io import decode_bag_image
        f = self.frames[index]
        return decode_bag_image(f.x_raw, f.x_type or None)[0]

    def head(self, n: int) -> 'BagFrames':
        """The first ``n`` frames."""
        return BagFrames(self.frames[:int(n)], self.reader)

    def fingerprint(self) -> dict:
        """Bag path, topics, frame count and first / last RGB stamps (ns)."""
        return {'bag': {k: str(v) for k, v in sorted(self.reader.items())},
                'frames': len(self.frames),
                'stamps_ns': [int(self.frames[0].stamp_ns), int(self.frames[-1].stamp_ns)]
                if self.frames else []}

    def __reduce__(self):
        return (_reopen_bag_frames, (self.reader, len(self.frames)))


def _read_frames(reader: dict) -> tuple[list, Any]:
    from rgbx_tracker_ros.ros.bag_io import read_bag_checked
    return read_bag_checked(reader['path'], reader['rgb_topic'], reader['x_topic'],
                            reader['gt_topic'])


def _reopen_bag_frames(reader: dict, count: int) -> BagFrames:
    """Unpickle a :class:`BagFrames`: read the bag again and keep its first ``count`` frames.

    Raises:
        SequenceError: the bag now gives fewer frames (it changed since it was first read).
    """
    # the first read already reported what was damaged; do not repeat it per worker / task
    bag_log = logging.getLogger('rgbx_tracker_ros.ros.bag_io')
    level = bag_log.level
    bag_log.setLevel(logging.ERROR)
    try:
        frames, report = _read_frames(reader)
    finally:
        bag_log.setLevel(level)
    if len(frames) < count:
        raise SequenceError(f'bag {reader["path"]} gives {len(frames)} frames now but had '
                            f'{count} when it was first read; did it change?'
                            + (f' ({report.fatal})' if report.fatal else ''))
    return BagFrames(frames[:count], reader)


@dataclass
class BagSequence(Sequence):
    """A :class:`Sequence` read from a replay bag: its frames are a :class:`BagFrames` source
    (``source``; ``rgb_paths`` is empty, ``x_paths`` None), decoded on demand.

    ``attributes['ground_truth']`` is 'topic', 'file' (``--gt-file``) or 'none' (only the
    ``--init-box`` on frame 0; not scored).
    """

    @property
    def frames(self) -> list:
        """The bag's :class:`rgbx_tracker_ros.ros.bag_io.BagFrame` list (stamps, raw messages)."""
        return self.source.frames


def _storage_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir()
            if p.is_file() and p.name.removesuffix('.zstd').endswith(('.mcap', '.db3'))]


def is_bag(path: Path) -> bool:
    """True for a rosbag2 folder (``metadata.yaml``, or ``.mcap`` / ``.db3`` storage files
    without one, as after a metadata.yaml was lost) or a ``.mcap`` / ``.db3`` file."""
    if path.is_dir():
        return (path / 'metadata.yaml').is_file() or bool(_storage_files(path))
    return path.name.removesuffix('.zstd').endswith(('.mcap', '.db3'))


def load_bag_sequence(path: str | Path, modality: Optional[Modality] = None,
                      rgb_topic: Optional[str] = None, x_topic: Optional[str] = None,
                      gt_file: Optional[str | Path] = None,
                      init_box: Optional[tuple[float, float, float, float]] = None,
                      gt_topic: Optional[str] = None) -> BagSequence:
    """Read a replay bag (``rgbx-make-bag`` layout) as a sequence.

    A truncated or partly corrupt bag gives the frames that can be read
    (:func:`rgbx_tracker_ros.ros.bag_io.read_bag_checked`; corrupt MCAP chunks are skipped) and
    one ``WARN`` line on the log; ``attributes['bag_read']`` holds the report.

    Args:
        path: the bag folder (or its ``.mcap`` / ``.db3`` file).
        modality: modality of the X topic; None guesses it from the encoding (16UC1 / 32FC1 ->
            depth, otherwise thermal).
        rgb_topic / x_topic: raw image topics in the bag (None: ``/rgb/image_raw`` /
            ``/x/image_raw``); ``<topic>/compressed`` (``/compressedDepth``) found too.
        gt_file: ground truth file (:func:`rgbx_tracker_ros.ros.bag_io.load_gt_file`) in place
            of the bag's ``ground_truth`` topic.
        init_box: (x, y, w, h) pixels on the first RGB frame, for a bag without ground truth
            (then only that frame is annotated: the sequence is tracked, not scored).
        gt_topic: the ``vision_msgs/Detection2DArray`` ground-truth topic (None:
            ``/ground_truth``).

    Raises:
        SequenceError: no readable frames, no ground truth (and no ``init_box``), a bad
            ``gt_file``, or X on only some frames.
    """
    from rgbx_tracker_ros.ros.bag_io import (
        apply_gt_file, BagError, decode_bag_image, TOPIC_GT, TOPIC_RGB, TOPIC_X)
    path = Path(path)
    bag_dir = path if path.is_dir() else path.parent
    source = bag_dir if (bag_dir / 'metadata.yaml').is_file() else path
    reader = {'path': str(source), 'rgb_topic': rgb_topic or TOPIC_RGB,
              'x_topic': x_topic or TOPIC_X, 'gt_topic': gt_topic or TOPIC_GT}
    frames, report = _read_frames(reader)
    if report.fatal:
        raise SequenceError(report.fatal)
    if report.problems:
        _logger.warning('WARN: %s', report.warning_line())
    if not frames:
        raise SequenceError(f'bag {bag_dir} has no RGB frames')
    gt_source = 'topic'
    if gt_file is not None:
        try:
            apply_gt_file(frames, gt_file)
        except BagError as exc:
            raise SequenceError(str(exc)) from None
        gt_source = 'file'
    present = np.array([f.gt_present for f in frames])
    annotated = None
    if not present.any() and init_box is not None and gt_file is None:
        gt_source = 'none'
        frames[0].gt_xywh = np.asarray(init_box, dtype=np.float64)
        frames[0].gt_present = True
        present = np.zeros(len(frames), dtype=bool)
        present[0] = True
        annotated = present.copy()
    elif not present.any():
        raise SequenceError(
            f'bag {bag_dir} has no ground-truth detections ('
            + (f'--gt-file {gt_file} is all 0,0,0,0' if gt_file is not None else
               'no /ground_truth topic') + '); give --gt-file FILE (one x,y,w,h row per RGB '
            'frame) to score, or --init-box X,Y,W,H (the target on the first frame) to only '
            'run the trackers and write their tracks')
    with_x = [f.x_raw is not None for f in frames]
    if any(with_x) and not all(with_x):
        raise SequenceError(f'bag {bag_dir}: {sum(with_x)} of {len(frames)} RGB frames have an X '
                            'image with the same stamp; rgbx-eval needs X on every frame or '
                            'on none')
    rgb0, rgb_enc, _, _ = decode_bag_image(frames[0].rgb_raw, frames[0].rgb_type)
    attributes: dict[str, Any] = {'root': None, 'bag': str(bag_dir),
                                  'image_size_wh': (int(rgb0.shape[1]), int(rgb0.shape[0])),
                                  'ground_truth': gt_source,
                                  'image_types': sorted({frames[0].rgb_type,
                                                         frames[0].x_type or frames[0].rgb_type})}
    if gt_file is not None:
        attributes['gt_file'] = str(gt_file)
    if report.problems:
        attributes['bag_read'] = report.as_dict()
    data_files = report.files or sorted(_storage_files(bag_dir))
    if data_files:
        attributes['source_file'] = str(data_files[0])
    x_enc = None
    if all(with_x):
        x0, x_enc, _, _ = decode_bag_image(frames[0].x_raw, frames[0].x_type or None)
        attributes['x_image_size_wh'] = (int(x0.shape[1]), int(x0.shape[0]))
        if modality is None:
            modality = Modality.DEPTH if x_enc in ('16UC1', '32FC1') else Modality.THERMAL
    gt = np.stack([f.gt_xywh for f in frames]).astype(np.float64)
    return BagSequence(name=bag_dir.name, layout='bag',
                       modality=modality if x_enc else Modality.RGB,
                       rgb_paths=[], x_paths=None,
                       gt_xywh=gt, absent=~present, annotated=annotated,
                       attributes=attributes,
                       rgb_encoding=rgb_enc, x_encoding=x_enc, attribute_formats=(),
                       source=BagFrames(frames, reader))
