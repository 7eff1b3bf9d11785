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

"""GTOT: ``v/`` + ``i/`` frames, ``groundTruth_v.txt`` / ``groundTruth_i.txt`` corners."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    _build, _check_gt_count, _list_frames, _pair_frames, read_boxes, Reader, Sequence)


def _corners_to_xywh(corners: np.ndarray) -> np.ndarray:
    x1 = np.minimum(corners[:, 0], corners[:, 2])
    x2 = np.maximum(corners[:, 0], corners[:, 2])
    y1 = np.minimum(corners[:, 1], corners[:, 3])
    y2 = np.maximum(corners[:, 1], corners[:, 3])
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def read_gtot(root: str | Path) -> Sequence:
    """GTOT layout: v/, i/, groundTruth_v.txt / groundTruth_i.txt with x1 y1 x2 y2 per line.

    Corners are converted with w = x2 - x1 and h = y2 - y1 (min/max taken first, in case a row
    lists the corners the other way round), the conversion the GTOT evaluation uses.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'v', 'visible (v)')
    x = _list_frames(root / 'i', 'infrared (i)')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundTruth_v.txt'
    gt = _corners_to_xywh(read_boxes(gt_path, (4,)))
    _check_gt_count(gt, len(rgb), gt_path)
    gt_x = None
    if (root / 'groundTruth_i.txt').is_file():
        gt_x = _corners_to_xywh(read_boxes(root / 'groundTruth_i.txt', (4,)))
        _check_gt_count(gt_x, len(rgb), root / 'groundTruth_i.txt')
    return _build(root, 'gtot', Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x,
                  extra={'gt_source_format': 'x1 y1 x2 y2'})


GTOT = Reader('gtot', read_gtot, lambda root, names: {'v', 'i'} <= names,
              description='v/ + i/ (gtot)')
