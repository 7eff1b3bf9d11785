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

"""Registration of the X image to the RGB image grid (ROS-free; OpenCV + numpy).

Real thermal (or event, or depth) cameras and colour cameras are not pixel-registered: they sit
side by side with their own lenses. The tracker wants both images on ONE pixel grid (a box is
the same region in both), so the X frame is warped into the RGB frame's grid before tracking.

Conventions:

- pixel coordinates: x to the right, y down, origin at the CENTRE of the top-left pixel
  (OpenCV's convention; pixel (i, j) of an (H, W) array is the point x = j, y = i);
- a homography ``H`` is a (3, 3) matrix that maps X pixels to RGB pixels:
  ``[x_rgb, y_rgb, 1]^T ~ H [x_x, y_x, 1]^T`` (``~``: equal up to scale);
- image sizes are (H, W) = (rows, columns) unless named ``*_wh``;
- camera frames: z forward (optical axis), x right, y down; translations in metres.

:class:`Registration` holds H. It comes either straight from a calibration
(``rgbx-calibrate``: point pairs or a chessboard seen by both cameras), valid exactly for a
planar scene or for cameras with a common centre, or from both cameras' intrinsics and the
extrinsic transform between them plus a working depth (:meth:`Registration.from_calibration`):
the homography induced by the plane at that distance in front of the X camera, exact for
objects at that depth and off by the parallax ``f * baseline * |1/z - 1/d|`` pixels elsewhere.

Lens distortion is not modelled: a homography maps straight lines to straight lines, so rectify
strongly distorted cameras first (``image_proc``), or accept that a homography fitted to raw
images (``rgbx-calibrate``) is the best straight-line fit to them.

Every validation error is a :class:`RegistrationError` (a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import cv2
import numpy as np

__all__ = ['Registration', 'RegistrationError', 'plane_homography', 'check_homography',
           'INTERPOLATIONS']

#: interpolation name -> OpenCV flag (``linear`` for images, ``nearest`` for depth values and
#: label-like images, which must not be blended across edges).
INTERPOLATIONS = {'linear': cv2.INTER_LINEAR, 'nearest': cv2.INTER_NEAREST}
#: smallest ratio of the smallest to the largest singular value of a usable homography.
_MIN_SINGULAR_RATIO = 1e-9
#: OpenCV's warpPerspective handles at most 4 channels.
_MAX_CHANNELS = 4
_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)


class RegistrationError(ValueError):
    """An invalid registration (singular homography, bad matrix shape, non-positive depth, ...)
    or an image it cannot warp; the message says what is wrong."""


def _matrix(value: Any, name: str, shape: tuple[int, ...] = (3, 3)) -> np.ndarray:
    """``value`` (nested lists, a flat list or an array) as a finite float64 array of
    ``shape``.

    Raises:
        RegistrationError: wrong number of entries, not numbers, or not finite.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RegistrationError(f'{name}: expected {_shape_text(shape)} numbers, got '
                                f'{value!r}') from None
    size = int(np.prod(shape))
    if arr.size != size or (arr.shape != shape and arr.ndim != 1):
        raise RegistrationError(f'{name}: expected {_shape_text(shape)} numbers, got shape '
                                f'{arr.shape}')
    arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise RegistrationError(f'{name}: has non-finite entries: {arr.tolist()}')
    return arr


def _shape_text(shape: tuple[int, ...]) -> str:
    return 'x'.join(str(s) for s in shape) if len(shape) > 1 else str(shape[0])


def check_homography(value: Any, name: str = 'homography') -> np.ndarray:
    """Validate a homography and normalise it (``H[2, 2] = 1`` where possible).

    Args:
        value: (3, 3) or 9 numbers (row major).
        name: what to call it in an error message.

    Returns:
        the (3, 3) float64 matrix.

    Raises:
        RegistrationError: not 9 finite numbers, or singular (the smallest singular value below
            1e-9 of the largest: it maps the image onto a line or a point).
    """
    h = _matrix(value, name)
    s = np.linalg.svd(h, compute_uv=False)
    if s[0] <= 0 or s[-1] / s[0] < _MIN_SINGULAR_RATIO:
        raise RegistrationError(f'{name} is singular (singular values {np.round(s, 12).tolist()}):'
                                f' it does not map an image onto an image; recalibrate')
    if abs(h[2, 2]) > 1e-12 * s[0]:
        h = h / h[2, 2]
    else:
        h = h / s[0]
    return h


def _intrinsics(value: Any, name: str) -> np.ndarray:
    k = _matrix(value, name)
    if k[0, 0] <= 0 or k[1, 1] <= 0 or abs(k[1, 0]) > 0 or abs(k[2, 0]) > 0 \
            or abs(k[2, 1]) > 0 or abs(k[2, 2] - 1.0) > 1e-9:
        raise RegistrationError(f'{name}: expected pinhole intrinsics [[fx, s, cx], [0, fy, cy], '
                                f'[0, 0, 1]] in pixels with fx, fy > 0, got {k.tolist()}')
    return k


def _rotation(value: Any, name: str) -> np.ndarray:
    r = _matrix(value, name)
    err = float(np.abs(r.T @ r - np.eye(3)).max())
    if err > 1e-3 or np.linalg.det(r) <= 0:
        raise RegistrationError(f'{name}: expected a rotation matrix (orthonormal, det +1; '
                                f'|R^T R - I| = {err:.2g}, det {np.linalg.det(r):.4g}), got '
                                f'{r.tolist()}')
    return r


def plane_homography(k_rgb: Any, k_x: Any, rotation: Any, translation: Any,
                     depth_m: float) -> np.ndarray:
    """The homography X pixels -> RGB pixels induced by the plane ``z_x = depth_m`` (normal
    n = (0, 0, 1) in the X camera frame, i.e. a fronto-parallel plane at that distance from
    the X camera).

    A point P_x in the X camera frame is P_rgb = R P_x + t in the RGB camera frame (``rotation``
    R and ``translation`` t: the X -> RGB extrinsic transform; t is the X camera's centre in RGB
    camera coordinates, metres). On the plane n^T P_x = d, so P_rgb = (R + t n^T / d) P_x and

        H = K_rgb (R + t n^T / d) K_x^-1

    (Hartley & Zisserman's ``R - t n^T / d`` is the same matrix written for the plane
    ``n^T P + d = 0``.) Objects at depth z are off by ``f * |t_xy| * |1/z - 1/d|`` pixels.

    Args:
        k_rgb / k_x: (3, 3) pinhole intrinsics of the RGB / X camera, pixels.
        rotation: (3, 3) rotation X camera frame -> RGB camera frame.
        translation: (3,) metres.
        depth_m: working distance in front of the X camera, metres (> 0).

    Returns:
        (3, 3) float64 homography, normalised (``H[2, 2] = 1``).

    Raises:
        RegistrationError: bad shapes, non-pinhole intrinsics, a matrix that is not a rotation,
            a non-positive or non-finite depth, or a singular result.
    """
    k1 = _intrinsics(k_rgb, 'k_rgb')
    k2 = _intrinsics(k_x, 'k_x')
    r = _rotation(rotation, 'rotation')
    t = _matrix(translation, 'translation', (3,))
    try:
        d = float(depth_m)
    except (TypeError, ValueError):
        raise RegistrationError(f'depth: expected a distance in metres > 0, got '
                                f'{depth_m!r}') from None
    if not math.isfinite(d) or d <= 0:
        raise RegistrationError(f'depth: expected a distance in metres > 0, got {depth_m!r}')
    n = np.array([0.0, 0.0, 1.0])
    return check_homography(k1 @ (r + np.outer(t, n) / d) @ np.linalg.inv(k2),
                            'the homography from the intrinsics and extrinsics')


def _image_hw(rgb_hw: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in rgb_hw[:2])
        ok = h > 0 and w > 0 and all(float(v) == int(v) for v in rgb_hw[:2]) \
            and len(rgb_hw) == 2
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        raise RegistrationError(f'rgb_hw: expected (height, width) in pixels > 0, got '
                                f'{rgb_hw!r}')
    return h, w


@dataclasses.dataclass(frozen=True, eq=False)
class Registration:
    """The mapping of X images into the RGB image grid: a homography X pixels -> RGB pixels.

    Build it with :meth:`from_homography` (or the constructor) or :meth:`from_calibration`;
    both validate. The homography refers to the images as the node receives them (full
    resolution of each camera); an X frame is warped into an RGB frame of any given size
    ``rgb_hw`` (pixels the X image does not cover are 0).

    Attributes:
        homography: (3, 3) float64, X pixels -> RGB pixels, ``H[2, 2] = 1``.
    """

    homography: np.ndarray

    def __post_init__(self) -> None:
        h = check_homography(self.homography)
        h.setflags(write=False)
        object.__setattr__(self, 'homography', h)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_homography(cls, value: Any) -> 'Registration':
        """From a (3, 3) matrix or 9 numbers (row major), X pixels -> RGB pixels.

        Raises:
            RegistrationError: see :func:`check_homography`.
        """
        return cls(check_homography(value))

    @classmethod
    def from_calibration(cls, k_rgb: Any, k_x: Any, rotation: Any, translation: Any,
                         depth_m: float) -> 'Registration':
        """From the two cameras' intrinsics, the X -> RGB extrinsics and a working depth
        (metres): the plane-induced homography of :func:`plane_homography`.

        Raises:
            RegistrationError: see :func:`plane_homography`.
        """
        return cls(plane_homography(k_rgb, k_x, rotation, translation, depth_m))

    # ------------------------------------------------------------------ use
    def as_list(self) -> list[float]:
        """The homography as 9 floats, row major (the node parameter ``x_homography``)."""
        return [float(v) for v in self.homography.reshape(-1)]

    def inverse(self) -> 'Registration':
        """The inverse mapping (RGB pixels -> X pixels) as a Registration."""
        return Registration(np.linalg.inv(self.homography))

    def map_points(self, points_xy: Any) -> np.ndarray:
        """Map X pixel coordinates to RGB pixel coordinates.

        Args:
            points_xy: (N, 2) (x, y) pixels in the X image.

        Returns:
            (N, 2) float64 (x, y) pixels in the RGB image; points mapped to infinity (on the
            horizon line of H) are inf.

        Raises:
            RegistrationError: not an (N, 2) array of finite numbers.
        """
        pts = np.asarray(points_xy, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.all(np.isfinite(pts)):
            raise RegistrationError(f'points: expected (N, 2) finite (x, y) pixels, got shape '
                                    f'{pts.shape}')
        hom = np.hstack([pts, np.ones((len(pts), 1))]) @ self.homography.T
        with np.errstate(divide='ignore', invalid='ignore'):
            out = hom[:, :2] / hom[:, 2:3]
        out[~np.isfinite(out)] = np.inf
        return out

    def warp(self, x_image: np.ndarray, rgb_hw: Sequence[int],
             interpolation: str = 'linear') -> np.ndarray:
        """Warp an X image into the RGB image grid (``cv2.warpPerspective``).

        Args:
            x_image: (H_x, W_x) or (H_x, W_x, C) array, C <= 4, of dtype uint8, int8, uint16,
                int16, int32, float32 or float64 (e.g. the encoded (H, W, 3) uint8 tracker input,
                or (H, W) float32 depth in metres).
            rgb_hw: (H, W) of the RGB image, pixels.
            interpolation: 'linear' (images) or 'nearest' (depth values: no blending of the
                depths of foreground and background across an edge).

        Returns:
            (H, W) or (H, W, C) array of the same dtype; pixels of the RGB grid that the X image
            does not cover are 0.

        Raises:
            RegistrationError: an empty image, more than 4 channels, an unsupported dtype, bad
                ``rgb_hw`` or an unknown interpolation.
        """
        img = np.asarray(x_image)
        h, w = _image_hw(rgb_hw)
        if interpolation not in INTERPOLATIONS:
            raise RegistrationError(f'interpolation {interpolation!r}: expected one of '
                                    f'{", ".join(INTERPOLATIONS)}')
        if img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0 \
                or (img.ndim == 3 and not 1 <= img.shape[2] <= _MAX_CHANNELS):
            raise RegistrationError(f'x_image: expected an (H, W) or (H, W, C<=4) image, got '
                                    f'shape {img.shape}')
        if img.dtype.type not in _DTYPES:
            raise RegistrationError(f'x_image: dtype {img.dtype} cannot be warped; use one of '
                                    f'{", ".join(np.dtype(t).name for t in _DTYPES)}')
        squeeze = img.ndim == 3 and img.shape[2] == 1
        out = cv2.warpPerspective(np.ascontiguousarray(img[..., 0] if squeeze else img),
                                  self.homography, (w, h), flags=INTERPOLATIONS[interpolation],
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out[..., None] if squeeze else out

    def valid_mask(self, x_hw: Sequence[int], rgb_hw: Sequence[int]) -> np.ndarray:
        """(H, W) bool mask of the RGB pixels that an X image of size ``x_hw`` (H_x, W_x)
        fully covers after :meth:`warp`: pixels computed from X pixels only (their bilinear
        neighbours all lie inside the X image). A one-pixel rim outside it is blended with
        the 0 border; everything further out is 0.

        Raises:
            RegistrationError: bad sizes.
        """
        hx, wx = _image_hw(x_hw)
        ones = np.ones((hx, wx), np.float32)
        return self.warp(ones, rgb_hw, 'linear') >= 1.0 - 1e-4

    def coverage(self, x_hw: Sequence[int], rgb_hw: Sequence[int]) -> float:
        """Fraction (0-1) of the RGB image that the warped X image covers (0: the registration
        maps X entirely outside the RGB image, a wrong calibration or the wrong direction)."""
        return float(self.valid_mask(x_hw, rgb_hw).mean())

    def rgb_box_to_x(self, box_xywh: Any) -> np.ndarray:
        """The X-image box (x, y, w, h) pixels bounding an RGB-image box mapped back with H^-1
        (e.g. to read the depth of a tracked box on the X camera's own grid).

        Raises:
            RegistrationError: not 4 finite numbers.
        """
        b = np.asarray(box_xywh, np.float64).reshape(-1)
        if b.size != 4 or not np.all(np.isfinite(b)):
            raise RegistrationError(f'box: expected 4 finite numbers (x, y, w, h), got '
                                    f'{np.asarray(box_xywh).tolist()}')
        x0, y0, x1, y1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        pts = self.inverse().map_points(corners)
        if not np.all(np.isfinite(pts)):
            raise RegistrationError(f'box {b.tolist()} maps to infinity in the X image')
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])

    def __repr__(self) -> str:
        return f'Registration(homography={np.round(self.homography, 6).tolist()})'
