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

"""OTB: ``img/`` + ``groundtruth_rect.txt`` (1-based pixel origin, shifted to
0-based), RGB only."""

from __future__ import annotations

from pathlib import Path

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    box_is_empty, _build, _check_gt_count, _list_frames, read_boxes, Reader, Sequence)


def read_otb(root: str | Path) -> Sequence:
    """OTB layout: img/ + groundtruth_rect.txt (any delimiter), RGB only.

    OTB boxes use a 1-based pixel origin (MATLAB); they are converted to our 0-based origin by
    x - 1, y - 1 for rows with w > 0 and h > 0 (0,0,0,0 / NaN rows are kept, meaning absent).

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'img', 'img')
    gt_path = root / 'groundtruth_rect.txt'
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    present = ~box_is_empty(gt)
    gt = gt.copy()
    gt[present, :2] -= 1.0
    return _build(root, 'otb', Modality.RGB, rgb, None, gt, gt_path,
                  extra={'gt_origin_in_file': 1})


OTB = Reader('otb', read_otb, lambda root, names: 'img' in names, description='img/ (otb)')
