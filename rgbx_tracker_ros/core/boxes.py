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
        ValueError: if the box is not 4 finite numbers with w > 0 and h > 0, or lies outside the image.
    """
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)):
        raise ValueError(f'a target box must be 4 finite numbers (x, y, w, h) in pixels, got {box_xywh!r}')
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'a target box needs w > 0 and h > 0 (pixels), got {box.tolist()}')
    if image_shape is not None:
        h_img, w_img = image_shape[:2]
        if box[0] >= w_img or box[1] >= h_img or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f'target box {box.tolist()} lies outside the {w_img}x{h_img} image')
    return box
