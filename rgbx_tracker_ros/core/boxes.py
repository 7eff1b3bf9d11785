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

"""Box conversions and overlap, pixels, (x, y, w, h) with a top-left origin.

Layouts are in the names: ``box_xywh`` is (x, y, w, h) top-left, ``box_xyxy`` is (x1, y1, x2, y2),
``box_cxcywh`` is (cx, cy, w, h). All functions accept (..., 4) arrays and return new arrays.
"""

from __future__ import annotations

import numpy as np


def xywh_to_xyxy(box_xywh) -> np.ndarray:
    """(..., 4) xywh -> (..., 4) xyxy (x2 = x + w, exclusive corner)."""
    x, y, w, h = np.moveaxis(np.asarray(box_xywh, dtype=np.float64), -1, 0)
    return np.stack([x, y, x + w, y + h], axis=-1)


def xyxy_to_xywh(box_xyxy) -> np.ndarray:
    """(..., 4) xyxy -> (..., 4) xywh."""
    x1, y1, x2, y2 = np.moveaxis(np.asarray(box_xyxy, dtype=np.float64), -1, 0)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)


def xywh_to_cxcywh(box_xywh) -> np.ndarray:
    """(..., 4) xywh -> (..., 4) centre-size (cx = x + w / 2)."""
    x, y, w, h = np.moveaxis(np.asarray(box_xywh, dtype=np.float64), -1, 0)
    return np.stack([x + w / 2, y + h / 2, w, h], axis=-1)


def cxcywh_to_xywh(box_cxcywh) -> np.ndarray:
    """(..., 4) centre-size -> (..., 4) xywh."""
    cx, cy, w, h = np.moveaxis(np.asarray(box_cxcywh, dtype=np.float64), -1, 0)
    return np.stack([cx - w / 2, cy - h / 2, w, h], axis=-1)


def iou_xywh(a_xywh, b_xywh) -> np.ndarray:
    """Continuous IoU of (..., 4) xywh boxes (broadcasting); 0 where the union is empty."""
    a = xywh_to_xyxy(a_xywh)
    b = xywh_to_xyxy(b_xywh)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) \
        + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def validate_box_xywh(box_xywh, image_shape=None) -> np.ndarray:
    """Return ``box_xywh`` as a float64 (4,) array after checking it is a usable target box.

    Args:
        box_xywh: 4 numbers (x, y, w, h), pixels, top-left origin.
        image_shape: optional (H, W, ...) of the frame; if given, the box must overlap it.

    Raises:
        ValueError: if the box is not 4 finite numbers with w > 0 and h > 0, or lies outside the
            image.
    """
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)):
        raise ValueError(f'a target box must be 4 finite numbers (x, y, w, h) in pixels, '
                         f'got {box_xywh!r}')
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'a target box needs w > 0 and h > 0 (pixels), got {box.tolist()}')
    if image_shape is not None:
        h_img, w_img = image_shape[:2]
        if box[0] >= w_img or box[1] >= h_img or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f'target box {box.tolist()} lies outside the {w_img}x{h_img} image')
    return box


def _image_size(width, height) -> tuple[float, float]:
    w_img, h_img = float(width), float(height)
    if not (np.isfinite(w_img) and np.isfinite(h_img) and w_img > 0 and h_img > 0):
        raise ValueError(f'image size must be positive, got width={width!r} height={height!r}')
    return w_img, h_img


def _fmt(w: float, h: float) -> str:
    return f'{w:g}x{h:g}'


def clip_box_xywh(box_xywh, width, height, min_size: float = 1.0) -> np.ndarray | None:
    """Clip one (x, y, w, h) box to the image; None when too little of it is left.

    The image covers [0, width] x [0, height] in pixels (top-left origin, the right and bottom
    edges are exclusive pixel borders), so the result satisfies ``0 <= x``, ``0 <= y``,
    ``x + w <= width``, ``y + h <= height``. This is the rule for every box the node publishes:
    inside the image, with a positive size.

    Args:
        box_xywh: 4 numbers (x, y, w, h), pixels.
        width, height: image size in pixels (> 0).
        min_size: smallest width and height, pixels, the clipped box may have (> 0); a box
            narrower or lower than this after clipping gives None.

    Returns:
        (4,) float64 clipped box, or None if the box is not 4 finite numbers, has w <= 0 or
        h <= 0, lies entirely outside the image (touching an edge counts as outside), or is
        smaller than ``min_size`` in width or height after clipping.

    Raises:
        ValueError: ``box_xywh`` does not hold 4 numbers, a non-positive image size, or
            ``min_size <= 0``.

    Example: in a 6x6 image, (-9, -9, 19, 19) -> (0, 0, 6, 6); (10, 0, 5, 5) -> None.
    """
    w_img, h_img = _image_size(width, height)
    if not min_size > 0:
        raise ValueError(f'min_size must be > 0 pixels, got {min_size!r}')
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4:
        raise ValueError(f'a box must be 4 numbers (x, y, w, h) in pixels, got {box_xywh!r}')
    if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return None
    x1 = min(max(box[0], 0.0), w_img)
    y1 = min(max(box[1], 0.0), h_img)
    x2 = min(max(box[0] + box[2], 0.0), w_img)
    y2 = min(max(box[1] + box[3], 0.0), h_img)
    if x2 - x1 < min_size or y2 - y1 < min_size:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64)


def validate_init_box(box_xywh, width, height, min_size_px: float = 4.0) -> np.ndarray:
    """Check an initialisation box and return it clipped to the image.

    The box is first checked by :func:`validate_box_xywh` (4 finite numbers, w > 0, h > 0,
    overlapping the image), then clipped with :func:`clip_box_xywh`; what is left must be at
    least ``min_size_px`` wide and high. A box partly outside the image is accepted and clipped
    (e.g. (-100, -100, 5000, 5000) on 640x480 -> (0, 0, 640, 480)).

    Args:
        box_xywh: 4 numbers (x, y, w, h), pixels, top-left origin.
        width, height: image size in pixels (> 0).
        min_size_px: smallest width and height in pixels of the clipped box (> 0).

    Returns:
        (4,) float64 box inside [0, width] x [0, height].

    Raises:
        ValueError: not 4 finite numbers, w <= 0 or h <= 0, entirely outside the image, or
            smaller than ``min_size_px`` after clipping. The message names the box and the
            image size (WxH pixels).
    """
    w_img, h_img = _image_size(width, height)
    size = _fmt(w_img, h_img)
    try:
        box = validate_box_xywh(box_xywh, (height, width))
    except (TypeError, ValueError) as exc:
        text = str(exc) if isinstance(exc, ValueError) and 'box' in str(exc) \
            else f'a target box must be 4 finite numbers (x, y, w, h), got {box_xywh!r}'
        raise ValueError(f'init box rejected for the {size} image: {text}') from None
    clipped = clip_box_xywh(box, w_img, h_img, min_size=min_size_px)
    if clipped is None:
        x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
        cw = min(box[0] + box[2], w_img) - x1
        ch = min(box[1] + box[3], h_img) - y1
        raise ValueError(f'init box {box.tolist()} rejected for the {size} image: it covers '
                         f'{_fmt(cw, ch)} pixels inside the image, less than the minimum '
                         f'{min_size_px:g}x{min_size_px:g}')
    return clipped
