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

"""Visible + infrared folders: RGBT234 / RGBT210 (and our TNO sample) and LasHeR.

``visible/`` + ``infrared/`` frames, ``visible.txt`` + ``infrared.txt`` (or ``init.txt``) GT in
(x, y, w, h) as stored; LasHeR names its frames ``v000001.jpg`` / ``i000001.jpg``.
"""

from __future__ import annotations

import re
from pathlib import Path

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    _build, _check_gt_count, _first_existing, IMAGE_EXTENSIONS, _list_frames, _pair_frames,
    read_boxes, Reader, Sequence, SequenceError)


def _read_visible_infrared(root: Path, layout: str) -> Sequence:
    rgb = _list_frames(root / 'visible', 'visible')
    x = _list_frames(root / 'infrared', 'infrared')
    _pair_frames(rgb, x, root)
    gt_path = _first_existing(root, ('visible.txt', 'init.txt', 'infrared.txt'))
    if gt_path is None:
        raise SequenceError(f'{root}: no ground truth; expected visible.txt (+ infrared.txt) or '
                            f'init.txt')
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    gt_x = None
    if gt_path.name == 'visible.txt' and (root / 'infrared.txt').is_file():
        gt_x = read_boxes(root / 'infrared.txt', (4,))
        _check_gt_count(gt_x, len(rgb), root / 'infrared.txt')
    return _build(root, layout, Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x)


def read_rgbt234(root: str | Path) -> Sequence:
    """RGBT234 / RGBT210 layout (also our TNO sample): visible/, infrared/, visible.txt +
    infrared.txt, or init.txt. GT is (x, y, w, h) as stored; ``gt_x_xywh`` = infrared.txt.

    Raises:
        SequenceError: see the module docstring.
    """
    return _read_visible_infrared(Path(root), 'rgbt234')


def read_lasher(root: str | Path) -> Sequence:
    """LasHeR layout: visible/, infrared/, visible.txt / infrared.txt (or init.txt), xywh.

    Raises:
        SequenceError: see the module docstring.
    """
    return _read_visible_infrared(Path(root), 'lasher')


_LASHER_NAME = re.compile(r'^v\d+$')


def _has_visible_infrared(root: Path, names: set) -> bool:
    return {'visible', 'infrared'} <= names


def _lasher_names(root: Path) -> bool:
    first = next((p for p in sorted((root / 'visible').iterdir())
                  if p.suffix.lower() in IMAGE_EXTENSIONS), None)
    return first is not None and bool(_LASHER_NAME.match(first.stem))


LASHER = Reader('lasher', read_lasher,
                lambda root, names: _has_visible_infrared(root, names) and _lasher_names(root),
                description='visible/ + infrared/ with v000001.jpg / i000001.jpg (lasher)')
RGBT234 = Reader('rgbt234', read_rgbt234,
                 lambda root, names: _has_visible_infrared(root, names)
                 and not _lasher_names(root),
                 description='visible/ + infrared/ (rgbt234, rgbt210)')
