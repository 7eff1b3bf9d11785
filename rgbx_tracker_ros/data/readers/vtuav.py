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

"""VTUAV: ``rgb/`` + ``ir/`` frames, ``rgb.txt`` / ``ir.txt`` GT, dense or every 10th frame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    _build, _list_frames, _pair_frames, read_boxes, Reader, Sequence, SequenceError,
    VTUAV_ANNOTATION_STEP)


def _expand_sparse(gt: np.ndarray, n_frames: int, step: int) -> np.ndarray:
    full = np.full((n_frames, 4), np.nan)
    full[::step] = gt
    return full


def read_vtuav(root: str | Path) -> Sequence:
    """VTUAV layout: rgb/, ir/, rgb.txt / ir.txt (xywh).

    VTUAV annotates every 10th frame: a GT file with ceil(T / 10) rows is placed at frames
    0, 10, 20, ... and the other frames get NaN rows with ``annotated=False``; a GT file with T
    rows is used as is.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'rgb', 'rgb')
    x = _list_frames(root / 'ir', 'ir')
    _pair_frames(rgb, x, root)
    n = len(rgb)
    sparse_rows = math.ceil(n / VTUAV_ANNOTATION_STEP)

    def load(path: Path) -> tuple[np.ndarray, bool]:
        boxes = read_boxes(path, (4,))
        if len(boxes) == n:
            return boxes, False
        if len(boxes) == sparse_rows:
            return _expand_sparse(boxes, n, VTUAV_ANNOTATION_STEP), True
        raise SequenceError(f'{path} has {len(boxes)} boxes for {n} frames; expected {n} (every '
                            f'frame) or {sparse_rows} (every {VTUAV_ANNOTATION_STEP}th frame)')

    gt_path = root / 'rgb.txt'
    gt, sparse = load(gt_path)
    gt_x = load(root / 'ir.txt')[0] if (root / 'ir.txt').is_file() else None
    annotated = None
    if sparse:
        annotated = np.zeros(n, dtype=bool)
        annotated[::VTUAV_ANNOTATION_STEP] = True
    return _build(root, 'vtuav', Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x,
                  annotated=annotated,
                  extra={'annotation_step': VTUAV_ANNOTATION_STEP if sparse else 1})


VTUAV = Reader('vtuav', read_vtuav, lambda root, names: {'rgb', 'ir'} <= names,
               description='rgb/ + ir/ (vtuav)')
