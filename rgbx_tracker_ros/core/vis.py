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

"""Drawing of tracking results for debug images and annotated videos (ROS-free, OpenCV).

Boxes are (x, y, w, h) in pixels with a top-left origin, as everywhere in this package.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Sequence

import cv2
import numpy as np

_logger = logging.getLogger(__name__)

# Colours are RGB (the images drawn on are RGB order).
_COLOUR_RGBX = (40, 220, 60)      # green: tracking with both modalities
_COLOUR_RGB_ONLY = (255, 160, 0)  # orange: X missing, tracking on RGB alone
_COLOUR_X_ONLY = (190, 80, 255)   # violet: RGB dark, tracking follows X
_COLOUR_NO_TARGET = (220, 40, 40)
_COLOUR_GT = (0, 170, 255)        # light blue: ground truth (annotated videos)


def _state_colour(state_text: str) -> tuple[int, int, int]:
    text = state_text.lower()
    if 'rgb only' in text or 'rgb alone' in text:
        return _COLOUR_RGB_ONLY
    if 'x only' in text:
        return _COLOUR_X_ONLY
    return _COLOUR_RGBX


def _style(box_xywh, score: float | None, state_text: str
           ) -> tuple[np.ndarray | None, tuple[int, int, int], str, str]:
    """What a drawn track shows, decided once for :func:`draw_track` and :func:`track_shapes`:
    (the finite box or None, RGB colour 0-255, score label ('' without a box or score), status
    text)."""
    colour = _state_colour(state_text)
    box = _finite_box(box_xywh)
    if box is None:
        if 'only' not in state_text.lower():
            colour = _COLOUR_NO_TARGET
        return None, colour, '', f'{state_text} | no target'
    label = f'{score:.2f}' if score is not None and np.isfinite(score) else ''
    return box, colour, label, state_text


def _trail_points(trail) -> np.ndarray:
    """(N, 2) finite box centres of a trail (None entries and NaNs dropped), oldest first."""
    return np.asarray([p for p in (trail or []) if p is not None and np.all(np.isfinite(p))],
                      dtype=np.float64).reshape(-1, 2)


def _finite_box(box_xywh) -> np.ndarray | None:
    if box_xywh is None:
        return None
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return None
    return box


def draw_track(rgb: np.ndarray, box_xywh: Sequence[float] | np.ndarray | None, score: float | None,
               state_text: str, trail: Iterable[Sequence[float]] | None = None,
               gt_xywh: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Return a copy of ``rgb`` with the tracked box, its score, the modality state and a trail.

    Args:
        rgb: (H, W, 3) uint8 RGB-order image, or (H, W) uint8 (drawn on as gray replicated to 3
            channels).
        box_xywh: the tracked box (x, y, w, h) in pixels, top-left origin; None (or a non-finite /
            empty box) draws 'no target'.
        score: the tracker's confidence in [0, 1], or None.
        state_text: modality state shown in the corner, e.g. 'RGB-X' or 'RGB only'. Text containing
            'RGB only' is drawn in orange, 'X only' in violet, anything else in green.
        trail: optional recent box centres (cx, cy) in pixels, oldest first, drawn as a polyline.
        gt_xywh: optional ground-truth box (x, y, w, h) drawn thin in light blue (videos).

    Returns:
        (H, W, 3) uint8 RGB image; the input is not modified.

    Raises:
        ValueError: if ``rgb`` is not an (H, W) or (H, W, 3) uint8 array.
    """
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f'draw_track needs an (H, W, 3) or (H, W) uint8 image, got shape '
                         f'{img.shape} dtype {img.dtype}; encode the frame first '
                         f'(core.modality.encode_rgb)')
    out = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else img.copy()
    h_img, w_img = out.shape[:2]
    scale = max(0.35, min(h_img, w_img) / 600.0)
    thick = max(1, int(round(min(h_img, w_img) / 300.0)))
    box, colour, label, status = _style(box_xywh, score, state_text)

    gt = _finite_box(gt_xywh)
    if gt is not None:
        p1 = (int(round(gt[0])), int(round(gt[1])))
        p2 = (int(round(gt[0] + gt[2])), int(round(gt[1] + gt[3])))
        cv2.rectangle(out, p1, p2, _COLOUR_GT, 1, cv2.LINE_AA)

    pts = _trail_points(trail)
    if len(pts) >= 2:           # in the state's colour, also while there is no target
        cv2.polylines(out, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False,
                      _state_colour(state_text), thick, cv2.LINE_AA)

    if box is not None:
        p1 = (int(round(box[0])), int(round(box[1])))
        p2 = (int(round(box[0] + box[2])), int(round(box[1] + box[3])))
        cv2.rectangle(out, p1, p2, colour, thick + 1, cv2.LINE_AA)
        if label:
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            ty = p1[1] - 3 if p1[1] - th - base - 3 >= 0 else p2[1] + th + 3
            tx = min(max(p1[0], 0), max(w_img - tw, 0))
            cv2.rectangle(out, (tx, ty - th - 2), (tx + tw + 2, ty + base - 1), (0, 0, 0), -1)
            cv2.putText(out, label, (tx + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick,
                        cv2.LINE_AA)

    (tw, th), base = cv2.getTextSize(status, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(out, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(out, status, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick,
                cv2.LINE_AA)
    return out


def box_centre(box_xywh) -> tuple[float, float] | None:
    """Centre (cx, cy) in pixels of an (x, y, w, h) box, or None for a missing/invalid box."""
    box = _finite_box(box_xywh)
    if box is None:
        return None
    return float(box[0] + box[2] / 2.0), float(box[1] + box[3] / 2.0)


@dataclasses.dataclass
class TrackShapes:
    """What :func:`draw_track` draws, as shapes for an image-annotation message (Foxglove's
    ``foxglove_msgs/ImageAnnotations``), so a viewer draws the box on the raw camera image.

    Coordinates are image pixels with the origin at the top-left corner of the top-left pixel.

    Attributes:
        box: (4, 2) corners of the box, clockwise from the top-left, or None (no target).
        trail: (N, 2) recent box centres, oldest first (N may be 0).
        colour: (r, g, b) in [0, 1], the state's colour (as :func:`draw_track`).
        label: score text at the box ('0.87'), '' without a box.
        label_at: (x, y) of the label (above the box, or below it at the image top).
        status: the state text ('RGB-X', 'RGB only', '... | no target').
    """

    box: np.ndarray | None
    trail: np.ndarray
    colour: tuple[float, float, float]
    label: str
    label_at: tuple[float, float]
    status: str


def track_shapes(box_xywh, score: float | None, state_text: str,
                 trail: Iterable[Sequence[float]] | None = None) -> TrackShapes:
    """The tracked box, score, state and trail as :class:`TrackShapes` (the same content and
    colours as :func:`draw_track`, without drawing).

    Args:
        box_xywh: (x, y, w, h) pixels, top-left origin, or None / an invalid box (no target).
        score: confidence in [0, 1], or None.
        state_text: the modality state ('RGB-X', 'RGB only', 'X only').
        trail: recent box centres (cx, cy) pixels, oldest first.
    """
    pts = _trail_points(trail)
    box, colour, label, status = _style(box_xywh, score, state_text)
    rgb = tuple(c / 255.0 for c in colour)
    if box is None:
        return TrackShapes(None, pts, rgb, label, (0.0, 0.0), status)
    x, y, w, h = box
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    label_at = (float(x), float(y) - 4.0 if y >= 16 else float(y + h) + 14.0)
    return TrackShapes(corners, pts, rgb, label, label_at, status)
