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

"""Readers of benchmark sequence folders, one module per layout family, behind a registry.

:data:`READERS` maps a layout name to its :class:`~rgbx_tracker_ros.data.readers.base.Reader`
(``read``, ``detect``, the ``protocol`` and ``attribute_formats`` it attaches to its
sequences); :func:`detect_layout` asks the readers in registry order, :func:`load_sequence`
reads one folder, :func:`load_sequences` every sequence of a dataset folder. A new layout is
one more module and one more entry here; no other module branches on a layout's name.

============  ======================  ===========================  ==========  ==================
layout        frames                  module                       protocol    attribute files
============  ======================  ===========================  ==========  ==================
visevent      vis_imgs/ event_imgs/   :mod:`.visevent`             visevent    tag, attr_txt,
                                                                               attriseqs
depthtrack    color/ depth/           :mod:`.depthtrack`           lasher      (same)
gtot          v/ i/                   :mod:`.gtot`                 lasher      (same)
vtuav         rgb/ ir/                :mod:`.vtuav`                lasher      (same)
lasher        visible/ infrared/      :mod:`.visible_infrared`     lasher      (same)
              (v000001.jpg names)
rgbt234       visible/ infrared/      :mod:`.visible_infrared`     lasher      (same)
              (alias rgbt210)
otb           img/                    :mod:`.otb`                  lasher      (same)
============  ======================  ===========================  ==========  ==================

The protocol is the one ``protocol='auto'`` of :mod:`rgbx_tracker_ros.eval.scoring` scores
the sequence with; the attribute files are read, when asked, by
:func:`rgbx_tracker_ros.eval.scoring.sequence_attributes`. Replay bags are not folders of this
registry: :mod:`rgbx_tracker_ros.data.bag` reads them as a frame source.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from rgbx_tracker_ros.data.readers.base import Reader, Sequence, SequenceError
from rgbx_tracker_ros.data.readers.depthtrack import DEPTHTRACK, read_depthtrack  # noqa: F401
from rgbx_tracker_ros.data.readers.gtot import GTOT, read_gtot  # noqa: F401
from rgbx_tracker_ros.data.readers.otb import OTB, read_otb  # noqa: F401
from rgbx_tracker_ros.data.readers.visevent import VISEVENT, read_visevent  # noqa: F401
from rgbx_tracker_ros.data.readers.visible_infrared import (  # noqa: F401
    LASHER, RGBT234, read_lasher, read_rgbt234)
from rgbx_tracker_ros.data.readers.vtuav import VTUAV, read_vtuav  # noqa: F401

_logger = logging.getLogger('rgbx_tracker_ros.data.sequences')

#: Layout name -> reader, in detection order (the first whose ``detect`` accepts a folder wins).
READERS: dict[str, Reader] = {r.name: r for r in (VISEVENT, DEPTHTRACK, GTOT, VTUAV, LASHER,
                                                  RGBT234, OTB)}
#: Other names of a layout.
ALIASES: dict[str, str] = {'rgbt210': 'rgbt234'}
#: Layout name (aliases included) -> its read function (``read(path) -> Sequence``).
LAYOUTS: dict[str, Callable[[Path], Sequence]] = {
    **{name: r.read for name, r in READERS.items()},
    **{alias: READERS[name].read for alias, name in ALIASES.items()}}


def register(reader: Reader, before: str | None = None) -> None:
    """Add (or replace) a reader; ``before`` = the layout it must be detected ahead of (None =
    last). Also updates :data:`LAYOUTS`."""
    items = [(k, v) for k, v in READERS.items() if k != reader.name]
    at = next((i for i, (k, _) in enumerate(items) if k == before), len(items))
    items.insert(at, (reader.name, reader))
    READERS.clear()
    READERS.update(items)
    LAYOUTS[reader.name] = reader.read


def detect_layout(path: str | Path) -> str:
    """Name of the layout of folder ``path``: the first reader of :data:`READERS` whose
    ``detect`` accepts it.

    Raises:
        SequenceError: the folder does not exist or matches no known layout.
    """
    root = Path(path)
    if not root.is_dir():
        raise SequenceError(f'sequence folder {root} does not exist')
    has = {p.name for p in root.iterdir()}
    for name, reader in READERS.items():
        if reader.detect(root, has):
            return name
    raise SequenceError(
        f'{root}: unknown sequence layout (found {sorted(has)[:10]}); expected one of: '
        + ', '.join(r.description or r.name for r in READERS.values()))


def load_sequence(path: str | Path, layout: str | None = None) -> Sequence:
    """Load and validate the sequence in folder ``path``.

    Args:
        path: the sequence folder.
        layout: a key of ``LAYOUTS``; None detects it with :func:`detect_layout`.

    Raises:
        SequenceError: unknown layout name, or the folder fails validation.
    """
    if layout is None:
        layout = detect_layout(path)
    key = str(layout).strip().lower()
    if key not in LAYOUTS:
        raise SequenceError(f'unknown layout {layout!r}; known: {", ".join(sorted(LAYOUTS))}')
    if not Path(path).is_dir():
        raise SequenceError(f'sequence folder {path} does not exist')
    reader = READERS[ALIASES.get(key, key)]
    seq = reader.read(Path(path))
    seq.protocol = reader.protocol
    seq.attribute_formats = tuple(reader.attribute_formats)
    return seq


def load_sequences(root: str | Path, layout: str | None = None) -> list[Sequence]:
    """Load every sequence in the sub-folders of a dataset folder (sorted by name).

    Sub-folders that are not sequences (no known layout) are skipped with a log message; a
    folder that looks like a sequence but fails validation raises.

    Raises:
        SequenceError: ``root`` is missing, holds no sequence, or a sequence is broken.
    """
    root = Path(root)
    if not root.is_dir():
        raise SequenceError(f'dataset folder {root} does not exist')
    sequences = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            found = layout or detect_layout(sub)
        except SequenceError as err:
            _logger.info('skipping %s: %s', sub, err)
            continue
        sequences.append(load_sequence(sub, found))
    if not sequences:
        raise SequenceError(f'no sequence folders found in {root}')
    return sequences
