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

"""Template / search-region crops and box back-mapping (OSTrack geometry, trackers.md 1.1 and 1.6).

A square crop of side ``S = ceil(sqrt(w * h) * factor)`` pixels is centred on the target box
(x, y, w, h; pixels, top-left origin), padded with black (0) where it leaves the image, and resized
to ``output_size`` (bilinear). Template: factor 2; search region: factor 4.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import cv2
import numpy as np


def crop_window(box_xywh, factor: float) -> Tuple[int, int, int]:
    """Top-left corner and side (pixels) of the square crop around ``box_xywh``.

    ``side = ceil(sqrt(w * h) * factor)``, ``x1 = round(x + w / 2 - side / 2)`` (same for y).

    Raises:
        ValueError: if the box is degenerate (side < 1).
    """
    x, y, w, h = [float(v) for v in box_xywh]
    side = math.ceil(math.sqrt(max(w, 0.0) * max(h, 0.0)) * factor)
    if side < 1:
        raise ValueError(f'box {box_xywh!r} is too small to crop (side {side} px)')
    return round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5), side


def crop_square(images: Sequence[np.ndarray], box_xywh, factor: float,
                output_size: int) -> Tuple[list, float]:
    """Crop the same square region from every image (identical geometry for RGB and X).

    Args:
        images: (H, W, C) uint8 images of the same H and W (e.g. [rgb, x]).
        box_xywh: target box (x, y, w, h) in pixels, top-left origin.
        factor: crop side relative to sqrt(w * h) (2 for templates, 4 for search regions).
        output_size: side of the returned crops (pixels).

    Returns:
        (crops, resize_factor): list of (output_size, output_size, C) uint8 crops and
        ``output_size / S``, the scale from image pixels to crop pixels.

    Raises:
        ValueError: if the box is degenerate (crop side < 1) or the images differ in size.
    """
    x1, y1, side = crop_window(box_xywh, factor)
    h_img, w_img = images[0].shape[:2]
    if any(im.shape[:2] != (h_img, w_img) for im in images):
        raise ValueError('all images cropped together must have the same height and width, got '
                         + ', '.join(str(im.shape[:2]) for im in images))
    # Intersection of the crop window with the image; the rest stays black (zero padding).
    sx1, sy1 = max(x1, 0), max(y1, 0)
    sx2, sy2 = min(x1 + side, w_img), min(y1 + side, h_img)
    crops = []
    for im in images:
        canvas = np.zeros((side, side) + im.shape[2:], dtype=im.dtype)
        if sx2 > sx1 and sy2 > sy1:
            canvas[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = im[sy1:sy2, sx1:sx2]
        crops.append(cv2.resize(canvas, (output_size, output_size),
                                interpolation=cv2.INTER_LINEAR))
    return crops, output_size / side


def map_box_back(pred_cxcywh_norm, prev_box_xywh, search_size: int,
                 resize_factor: float) -> np.ndarray:
    """Map a normalised search-crop box to image pixels (OSTrack ``map_box_back``).

    Args:
        pred_cxcywh_norm: (cx, cy, w, h) in [0, 1] of the search crop.
        prev_box_xywh: the box the search region was centred on (pixels).
        search_size: search crop side (pixels).
        resize_factor: crop pixels per image pixel, from :func:`crop_square`.

    Returns:
        (4,) float64 box (x, y, w, h) in image pixels.
    """
    cx, cy, w, h = np.asarray(pred_cxcywh_norm, dtype=np.float64) * search_size / resize_factor
    px, py, pw, ph = [float(v) for v in prev_box_xywh]
    half = 0.5 * search_size / resize_factor
    cx_img = cx + (px + 0.5 * pw - half)
    cy_img = cy + (py + 0.5 * ph - half)
    return np.array([cx_img - 0.5 * w, cy_img - 0.5 * h, w, h])


def clip_box(box_xywh, height: int, width: int, margin: int = 10) -> np.ndarray:
    """Clamp a box into the image keeping at least ``margin`` pixels (OSTrack ``clip_box``).

    x1 in [0, W - margin], x2 in [margin, W], same for y; w, h >= margin.
    """
    x1, y1, w, h = [float(v) for v in box_xywh]
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0.0, x1), width - margin)
    x2 = max(min(float(width), x2), float(margin))
    y1 = min(max(0.0, y1), height - margin)
    y2 = max(min(float(height), y2), float(margin))
    return np.array([x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)], dtype=np.float64)


def hann2d(size: int) -> np.ndarray:
    """(size, size) raised-cosine window, 1-D ``0.5 * (1 - cos(2 pi k / (n + 1)))``, k = 1..n.

    This is OSTrack's centred ``hann2d``; it multiplies the score map before the peak is taken.
    """
    k = np.arange(1, size + 1, dtype=np.float64)
    w = 0.5 * (1.0 - np.cos(2.0 * np.pi * k / (size + 1)))
    return np.outer(w, w)
