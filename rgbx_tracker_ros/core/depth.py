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

"""3D target position from a depth image and pinhole intrinsics (ROS-free; the node's RGB-D
marker).

Conventions: boxes are (x, y, w, h) pixels, top-left origin, in the image the box was tracked in
(the RGB frame); depth images are (H, W) in metres (NaN / 0 / inf = no measurement); ``K`` is the
3x3 pinhole matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` of the depth image (in ROS:
``sensor_msgs/CameraInfo.k``, row-major), and 3D points are in that camera's optical frame
(REP 103 ``*_optical_frame``: x right, y down, z forward, metres). The back-projection is the
pinhole model ``X = (u - cx) Z / fx``, ``Y = (v - cy) Z / fy`` (Hartley & Zisserman, ch. 6).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Sequence

import numpy as np

_logger = logging.getLogger(__name__)


class DepthError(ValueError):
    """Bad depth input: wrong shape or dtype of the depth image, bad intrinsics or encoding."""


@dataclasses.dataclass(frozen=True)
class TargetPosition:
    """Where the tracked box is in 3D.

    Attributes:
        xyz: (3,) box centre back-projected at the median depth, metres, camera optical frame.
        size_xyz: (3,) extent: box width and height at that depth (w Z / fx, h Z / fy) and, for
            z, the inter-quartile spread of the valid depths (at least ``min_extent_m``), m.
        depth_m: the median depth, metres.
        valid_fraction: fraction of box pixels with a valid depth, in (0, 1].
    """

    xyz: np.ndarray
    size_xyz: np.ndarray
    depth_m: float
    valid_fraction: float


def depth_to_metres(image: np.ndarray, encoding: str) -> np.ndarray:
    """A depth image as published -> (H, W) float32 metres (invalid pixels NaN).

    Args:
        image: (H, W) array; '16UC1' / 'mono16' uint16 millimetres (0 = no measurement, as the
            RealSense and REP 118 use), or '32FC1' float32 metres (NaN / inf / 0 = none).
        encoding: '16UC1', 'mono16' or '32FC1'.

    Raises:
        DepthError: for another encoding or a non-2D array.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise DepthError(f'depth image must be (H, W), got shape {arr.shape}')
    if encoding in ('16UC1', 'mono16'):
        out = arr.astype(np.float32) / 1000.0
    elif encoding == '32FC1':
        out = arr.astype(np.float32, copy=True)
    else:
        raise DepthError(f'depth encoding {encoding!r} not supported; expected 16UC1 / mono16 '
                         f'(millimetres) or 32FC1 (metres)')
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def check_intrinsics(k: Sequence[float] | np.ndarray) -> np.ndarray:
    """``K`` (9 numbers row-major, or 3x3) -> (3, 3) float64.

    Raises:
        DepthError: not 9 finite numbers, or fx / fy not positive (an uncalibrated camera
            publishes all zeros).
    """
    mat = np.asarray(k, dtype=np.float64).reshape(-1)
    if mat.size != 9 or not np.all(np.isfinite(mat)):
        raise DepthError(f'intrinsics K must be 9 finite numbers, got {np.asarray(k).tolist()}')
    mat = mat.reshape(3, 3)
    if not (mat[0, 0] > 0 and mat[1, 1] > 0):
        raise DepthError(f'intrinsics K has fx={mat[0, 0]}, fy={mat[1, 1]}: the camera is not '
                         f'calibrated (camera_info.k must hold fx, fy > 0)')
    return mat


def scale_intrinsics(k: np.ndarray, from_wh: tuple[int, int],
                     to_wh: tuple[int, int]) -> np.ndarray:
    """Intrinsics of an image of size ``from_wh`` resized to ``to_wh`` (pixels): fx, cx scale
    with the width ratio, fy, cy with the height ratio (pixel-centre convention of OpenCV
    resize: ``c' = (c + 0.5) s - 0.5``)."""
    sx = to_wh[0] / float(from_wh[0])
    sy = to_wh[1] / float(from_wh[1])
    out = np.array(k, dtype=np.float64).reshape(3, 3).copy()
    out[0, 0] *= sx
    out[1, 1] *= sy
    out[0, 2] = (out[0, 2] + 0.5) * sx - 0.5
    out[1, 2] = (out[1, 2] + 0.5) * sy - 0.5
    return out


def back_project(u: float, v: float, z: float, k: np.ndarray) -> np.ndarray:
    """Pixel (u, v) at depth z metres -> (3,) point (X, Y, Z) metres, camera optical frame."""
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return np.array([(u - cx) * z / fx, (v - cy) * z / fy, z], dtype=np.float64)


def median_depth_in_box(depth_m: np.ndarray, box_xywh: Sequence[float]) -> tuple[float, float,
                                                                                 np.ndarray]:
    """Median of the valid depths inside a box.

    Args:
        depth_m: (H, W) metres, NaN where invalid (see :func:`depth_to_metres`).
        box_xywh: (x, y, w, h) pixels in ``depth_m``'s pixel grid; clipped to the image.

    Returns:
        (median metres, valid fraction in [0, 1], the valid depths (N,)); the median is NaN when
        the box holds no valid depth or lies outside the image.
    """
    h_img, w_img = depth_m.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + w)), w_img), min(int(np.ceil(y + h)), h_img)
    if x1 <= x0 or y1 <= y0:
        return float('nan'), 0.0, np.zeros(0, np.float32)
    patch = depth_m[y0:y1, x0:x1]
    valid = patch[np.isfinite(patch) & (patch > 0)]
    if valid.size == 0:
        return float('nan'), 0.0, valid
    return float(np.median(valid)), valid.size / float(patch.size), valid


def target_position(depth_m: np.ndarray, box_xywh: Sequence[float], k: Sequence[float],
                    box_image_wh: tuple[int, int] | None = None,
                    k_image_wh: tuple[int, int] | None = None,
                    min_extent_m: float = 0.05) -> TargetPosition | None:
    """3D position and size of a tracked box from the median depth inside it.

    Args:
        depth_m: (H, W) float metres, NaN / <= 0 invalid (use :func:`depth_to_metres`).
        box_xywh: (x, y, w, h) pixels in an image of size ``box_image_wh`` (default: the depth
            image's size); scaled to the depth grid when the sizes differ (registered cameras,
            e.g. depth aligned to colour at another resolution).
        k: intrinsics of the depth image (9 numbers or 3x3) for an image of size ``k_image_wh``
            (camera_info width/height; default the depth image's size), rescaled if it differs.
        box_image_wh: (width, height) of the image the box refers to, pixels.
        k_image_wh: (width, height) the intrinsics were calibrated for, pixels.
        min_extent_m: smallest z extent of the returned size, metres.

    Returns:
        :class:`TargetPosition`, or None when no valid depth lies inside the box.

    Raises:
        DepthError: bad depth array, intrinsics or box.
    """
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.dtype.kind != 'f':
        raise DepthError(f'depth_m must be an (H, W) float array in metres, got shape '
                         f'{depth.shape} dtype {depth.dtype}; use depth_to_metres()')
    h_img, w_img = depth.shape
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        raise DepthError(f'box must be 4 finite numbers (x, y, w, h) with w, h > 0, got '
                         f'{np.asarray(box_xywh).tolist()}')
    kmat = check_intrinsics(k)
    if k_image_wh is not None and tuple(k_image_wh) != (w_img, h_img) and min(k_image_wh) > 0:
        kmat = scale_intrinsics(kmat, k_image_wh, (w_img, h_img))
    if box_image_wh is not None and tuple(box_image_wh) != (w_img, h_img):
        sx, sy = w_img / float(box_image_wh[0]), h_img / float(box_image_wh[1])
        box = np.array([box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy])
    z, frac, valid = median_depth_in_box(depth, box)
    if not np.isfinite(z):
        return None
    u, v = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
    # pixel centres: the box spans [x, x + w) in pixel-corner coordinates, the pinhole model
    # maps pixel centres (integer u at the middle of a pixel), hence the -0.5
    xyz = back_project(u - 0.5, v - 0.5, z, kmat)
    q1, q3 = np.percentile(valid, [25.0, 75.0])
    size = np.array([box[2] * z / kmat[0, 0], box[3] * z / kmat[1, 1],
                     max(float(q3 - q1), float(min_extent_m))], dtype=np.float64)
    return TargetPosition(xyz=xyz, size_xyz=size, depth_m=z, valid_fraction=frac)
