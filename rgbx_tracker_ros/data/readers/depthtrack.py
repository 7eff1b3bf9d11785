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

"""DepthTrack / VOT-RGBD: ``color/`` + ``depth/`` (16-bit PNG, mm),
``groundtruth.txt``."""

from __future__ import annotations

from pathlib import Path

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    _build, _check_gt_count, _list_frames, _pair_frames, read_boxes, Reader, Sequence)


def read_depthtrack(root: str | Path) -> Sequence:
    """DepthTrack / VOT-RGBD layout: color/, depth/ (16-bit PNG, millimetres), groundtruth.txt.

    GT rows are x, y, w, h (8 numbers = a polygon, turned into its bounding box); a NaN row marks
    the target as absent.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'color', 'color')
    x = _list_frames(root / 'depth', 'depth')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundtruth.txt'
    gt = read_boxes(gt_path)
    _check_gt_count(gt, len(rgb), gt_path)
    return _build(root, 'depthtrack', Modality.DEPTH, rgb, x, gt, gt_path,
                  extra={'depth_unit': 'mm'})


DEPTHTRACK = Reader('depthtrack', read_depthtrack,
                    lambda root, names: {'color', 'depth'} <= names,
                    description='color/ + depth/ (depthtrack)')
