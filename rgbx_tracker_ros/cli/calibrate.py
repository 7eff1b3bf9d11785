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

"""``rgbx-calibrate``: the homography that registers X (thermal, events, depth) to RGB, written as
the rig snippet ``registration: {homography: ...}`` (ROS-free except ``--bag``).

::

    rgbx-calibrate points pairs.csv                    # >= 4 rows x_x,y_x,x_rgb,y_rgb (pixels)
    rgbx-calibrate chessboard --rgb rgb.png --x thermal.png --pattern 9x6 --out reg.yaml
    rgbx-calibrate chessboard --bag replay_bag --frame 1 --pattern 9x6

The homography maps X pixels to RGB pixels (x right, y down), as the rig key and the node
parameter ``x_homography`` expect (:mod:`rgbx_tracker_ros.core.registration`). It is fitted with
``cv2.findHomography`` (RANSAC, ``--ransac-px`` reprojection threshold) and the RMS / max
reprojection error in RGB pixels of the inliers is reported on stderr; the snippet goes to
stdout or ``--out``. A homography is exact for a planar scene (the board) or for cameras with a
common centre; elsewhere objects at another depth than the board are off by the parallax.

Point files: CSV (comma, semicolon or white-space separated; '#' comments and a header line
are skipped) or YAML (a list of [x_x, y_x, x_rgb, y_rgb] rows, or ``{points: [...]}``).

Chessboard: ``--pattern COLSxROWS`` counts inner corners. A thermal view of a heated board is
read as is (8 or 16 bit), percentile-normalised to 8 bit, and tried as is and inverted (a heated
board's dark squares are the warm ones). Corner orderings that differ by a half turn between the
two images are resolved (the cameras are assumed not to be rotated by 180 degrees to each other).

Exit status: 0 done; 1 calibration failed (board not found, too few points or inliers, degenerate
points); 2 bad input (unreadable or malformed file, bad arguments).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import yaml

from rgbx_tracker_ros.core.registration import Registration, RegistrationError

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
MIN_POINTS = 4


class CalibrationError(RuntimeError):
    """The calibration could not be computed (exit status 1)."""


class InputError(ValueError):
    """Unreadable or malformed input (exit status 2)."""


# ------------------------------------------------------------------------ fitting
def fit_homography(points_x: Any, points_rgb: Any, ransac_px: float = 3.0,
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Fit the homography X pixels -> RGB pixels to point pairs with RANSAC.

    Args:
        points_x: (N, 2) (x, y) pixels in the X image, N >= 4.
        points_rgb: (N, 2) the same points in the RGB image, pixels.
        ransac_px: RANSAC reprojection threshold in RGB pixels (> 0).

    Returns:
        (H (3, 3) float64 normalised, inlier mask (N,) bool, stats): stats has ``points``,
        ``inliers``, ``rms_px`` and ``max_px`` (reprojection error of the inliers in RGB
        pixels) and ``rms_all_px`` (of all points).

    Raises:
        InputError: shapes differ, not (N, 2), non-finite values, bad threshold.
        CalibrationError: fewer than 4 pairs, or no homography found (degenerate points, e.g.
            collinear), or fewer than 4 inliers.
    """
    px = np.asarray(points_x, np.float64)
    pr = np.asarray(points_rgb, np.float64)
    if px.ndim != 2 or px.shape[1:] != (2,) or pr.shape != px.shape:
        raise InputError(f'point pairs: expected two (N, 2) arrays of the same shape, got '
                         f'{px.shape} and {pr.shape}')
    if not (np.all(np.isfinite(px)) and np.all(np.isfinite(pr))):
        raise InputError('point pairs: non-finite coordinates')
    if not (math.isfinite(ransac_px) and ransac_px > 0):
        raise InputError(f'--ransac-px {ransac_px}: expected pixels > 0')
    n = len(px)
    if n < MIN_POINTS:
        raise CalibrationError(f'too few point pairs: {n}; a homography needs at least '
                               f'{MIN_POINTS} (not three on a line)')
    h, mask = cv2.findHomography(px, pr, cv2.RANSAC, float(ransac_px), maxIters=5000,
                                 confidence=0.999)
    if h is None or mask is None:
        raise CalibrationError(f'no homography fits the {n} point pairs (degenerate: collinear '
                               f'or repeated points?)')
    inliers = mask.reshape(-1).astype(bool)
    if inliers.sum() < MIN_POINTS:
        raise CalibrationError(f'only {int(inliers.sum())} of {n} point pairs agree within '
                               f'{ransac_px:g} px; check the pairs or raise --ransac-px')
    try:
        reg = Registration.from_homography(h)
    except RegistrationError as exc:
        raise CalibrationError(f'the fitted homography is unusable: {exc}') from None
    err = np.linalg.norm(reg.map_points(px) - pr, axis=1)
    stats = {'points': float(n), 'inliers': float(inliers.sum()),
             'rms_px': float(np.sqrt(np.mean(err[inliers] ** 2))),
             'max_px': float(err[inliers].max()),
             'rms_all_px': float(np.sqrt(np.mean(err ** 2)))}
    return reg.homography.copy(), inliers, stats


# ------------------------------------------------------------------------ point files
def read_point_pairs(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a point-pair file (see the module docstring).

    Returns:
        ((N, 2) X points, (N, 2) RGB points), pixels.

    Raises:
        InputError: unreadable file, a row that is not 4 numbers, no rows.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f'{path}: cannot read: {exc}') from None
    rows: list[list[Any]]
    if path.suffix.lower() in ('.yaml', '.yml'):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f'{path}: not valid YAML: {exc}') from None
        if isinstance(data, dict):
            data = data.get('points')
        if not isinstance(data, list):
            raise InputError(f'{path}: expected a list of [x_x, y_x, x_rgb, y_rgb] rows (or '
                             f'points: [...])')
        rows = [r if isinstance(r, (list, tuple)) else [r] for r in data]
        where = [f'row {i + 1}' for i in range(len(rows))]
    else:
        rows, where = [], []
        body = '\n'.join(line.split('#', 1)[0] for line in text.splitlines())
        delimiter = ';' if ';' in body else ','
        for lineno, row in enumerate(csv.reader(io.StringIO(body), delimiter=delimiter), 1):
            cells = [c for part in row for c in part.split()]
            if not cells or (not rows and not _numeric(cells[0])):
                continue                   # blank line, or the header line
            rows.append(cells)
            where.append(f'line {lineno}')
    out = []
    for row, w in zip(rows, where):
        try:
            vals = [float(v) for v in row]
        except (TypeError, ValueError):
            vals = []
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
            raise InputError(f'{path}: {w}: expected 4 numbers x_x, y_x, x_rgb, y_rgb (pixels), '
                             f'got {row!r}')
        out.append(vals)
    if not out:
        raise InputError(f'{path}: no point pairs (rows x_x, y_x, x_rgb, y_rgb)')
    arr = np.asarray(out, np.float64)
    return arr[:, :2], arr[:, 2:]


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------------ chessboards
def to_gray8(image: np.ndarray, invert: bool = False) -> np.ndarray:
    """An image of any camera (8/16-bit or float, grey or colour) as (H, W) uint8 for corner
    detection: colour to grey, then the 0.5-99.5 percentile range stretched to 0-255 (a 16-bit
    thermal frame spans a few hundred counts), optionally inverted.

    Raises:
        InputError: not an (H, W) or (H, W, 3|4) image.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim != 2 or img.size == 0:
        raise InputError(f'expected a grey or colour image, got shape {img.shape}')
    f = img.astype(np.float64)
    finite = f[np.isfinite(f)]
    if finite.size == 0:
        raise InputError('the image has no finite pixels')
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    g = np.clip((np.nan_to_num(f, nan=lo) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return 255 - g if invert else g


def find_corners(image: np.ndarray, pattern: tuple[int, int], try_inverted: bool = True,
                 ) -> np.ndarray | None:
    """Inner chessboard corners, sub-pixel refined.

    Args:
        image: any image :func:`to_gray8` reads.
        pattern: (columns, rows) of inner corners.
        try_inverted: also try the inverted image (heated boards in thermal).

    Returns:
        (columns * rows, 2) float64 (x, y) pixels in OpenCV's row-major order, or None when
        the board is not found.
    """
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    for invert in ((False, True) if try_inverted else (False,)):
        gray = to_gray8(image, invert)
        found, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
        if not found:
            try:
                found, corners = cv2.findChessboardCornersSB(gray, pattern)
            except cv2.error:
                found = False
            if found:
                return corners.reshape(-1, 2).astype(np.float64)
            continue
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.01)
        corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), crit)
        return corners.reshape(-1, 2).astype(np.float64)
    return None


def _consistent_order(corners_x: np.ndarray, corners_rgb: np.ndarray,
                      pattern: tuple[int, int]) -> np.ndarray:
    """X corners reordered (reversed: a half turn of the grid) when their row and column
    directions point the other way than the RGB corners'."""
    cols, rows = pattern

    def axes(c: np.ndarray) -> np.ndarray:
        g = c.reshape(rows, cols, 2)
        return np.concatenate([g[0, -1] - g[0, 0], g[-1, 0] - g[0, 0]])

    a, b, r = axes(corners_rgb), axes(corners_x), axes(corners_x[::-1])
    return corners_x[::-1].copy() if float(a @ r) > float(a @ b) else corners_x


def parse_pattern(text: str) -> tuple[int, int]:
    """'9x6' -> (9, 6) inner corners (columns, rows), each >= 2.

    Raises:
        InputError: not COLSxROWS.
    """
    parts = str(text).lower().replace('*', 'x').split('x')
    try:
        cols, rows = (int(p) for p in parts)
    except ValueError:
        raise InputError(f'--pattern {text!r}: expected COLSxROWS inner corners, e.g. 9x6') \
            from None
    if cols < 2 or rows < 2:
        raise InputError(f'--pattern {text!r}: need at least 2x2 inner corners')
    return cols, rows


def chessboard_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray, str]],
                     pattern: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Corners of the board in each (rgb image, x image, label) pair, stacked.

    Returns:
        ((N, 2) X corners, (N, 2) RGB corners), pixels.

    Raises:
        CalibrationError: the board is not found in an image (the message names it).
    """
    all_x, all_rgb = [], []
    for rgb, x, label in pairs:
        c_rgb = find_corners(rgb, pattern, try_inverted=False)
        if c_rgb is None:
            raise CalibrationError(f'{label}: no {pattern[0]}x{pattern[1]} chessboard found in '
                                   f'the RGB image (check --pattern: inner corners COLSxROWS)')
        c_x = find_corners(x, pattern, try_inverted=True)
        if c_x is None:
            raise CalibrationError(f'{label}: no {pattern[0]}x{pattern[1]} chessboard found in '
                                   f'the X image (heat the board; check --pattern)')
        all_x.append(_consistent_order(c_x, c_rgb, pattern))
        all_rgb.append(c_rgb)
    return np.concatenate(all_x), np.concatenate(all_rgb)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as stored (8 or 16 bit, grey or BGR).

    Raises:
        InputError: unreadable.
    """
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f'{path}: cannot read the image')
    return img


def bag_images(bag: str | Path, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB, X) arrays of 1-based frame ``frame`` of a replay bag (``rgbx-make-bag`` layout).

    Raises:
        InputError: unreadable bag, frame out of range, no X image in that frame.
    """
    from rgbx_tracker_ros.ros.bag_io import decode_bag_image, read_bag_frames
    try:
        frames = read_bag_frames(bag)
    except Exception as exc:  # noqa: BLE001 - the bag readers raise several types
        raise InputError(f'--bag {bag}: cannot read: {exc}') from None
    if not 1 <= frame <= len(frames):
        raise InputError(f'--frame {frame}: {bag} has frames 1..{len(frames)}')
    f = frames[frame - 1]
    if f.x_raw is None or f.x_type != 'sensor_msgs/msg/Image':
        raise InputError(f'--frame {frame}: {bag} has no X image in that frame')
    rgb, enc, _, _ = decode_bag_image(f.rgb_raw)
    x = decode_bag_image(f.x_raw)[0]
    if enc in ('rgb8', 'rgba8'):
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if enc == 'rgb8' else cv2.COLOR_RGBA2BGR)
    return rgb, x


# ------------------------------------------------------------------------ output
def rig_snippet(h: np.ndarray, stats: dict[str, float], source: str) -> str:
    """The rig YAML snippet ``registration: {homography: ...}`` with a comment line."""
    rows = ', '.join('[' + ', '.join(f'{v:.10g}' for v in row) + ']' for row in h)
    return (f'# rgbx-calibrate ({source}): {int(stats["inliers"])} of {int(stats["points"])} '
            f'points, RMS reprojection error {stats["rms_px"]:.3f} px (max '
            f'{stats["max_px"]:.3f} px); X pixels -> RGB pixels\n'
            f'registration:\n  homography: [{rows}]\n')


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-calibrate``; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='rgbx-calibrate',
                                     description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p_pts = sub.add_parser('points', help='from point pairs x_x,y_x,x_rgb,y_rgb (CSV or YAML)')
    p_pts.add_argument('file', type=Path)
    p_cb = sub.add_parser('chessboard', help='from a chessboard seen by both cameras')
    p_cb.add_argument('--rgb', type=Path, nargs='+', default=[], help='RGB image file(s)')
    p_cb.add_argument('--x', type=Path, nargs='+', default=[],
                      help='X image file(s), one per --rgb (8/16-bit thermal is fine)')
    p_cb.add_argument('--bag', type=Path, default=None, help='take the images from this bag')
    p_cb.add_argument('--frame', type=int, nargs='+', default=[1],
                      help='1-based frame(s) of --bag (default 1)')
    p_cb.add_argument('--pattern', required=True, help='inner corners COLSxROWS, e.g. 9x6')
    for p in (p_pts, p_cb):
        p.add_argument('--ransac-px', type=float, default=3.0,
                       help='RANSAC threshold, RGB pixels (default 3)')
        p.add_argument('--out', type=Path, default=None,
                       help='write the rig snippet here (default: stdout)')
    args = parser.parse_args(argv)
    try:
        if args.cmd == 'points':
            px, pr = read_point_pairs(args.file)
            source = f'point pairs {args.file.name}'
        else:
            pattern = parse_pattern(args.pattern)
            if args.bag is not None:
                if args.rgb or args.x:
                    raise InputError('give --bag or --rgb/--x images, not both')
                pairs = [(*bag_images(args.bag, f), f'{args.bag} frame {f}') for f in args.frame]
                source = f'chessboard {pattern[0]}x{pattern[1]}, {args.bag.name}'
            else:
                if not args.rgb or len(args.rgb) != len(args.x):
                    raise InputError(f'give as many --x images as --rgb images (got '
                                     f'{len(args.rgb)} and {len(args.x)}), or --bag')
                pairs = [(read_image(r), read_image(x), f'{r.name} / {x.name}')
                         for r, x in zip(args.rgb, args.x)]
                source = f'chessboard {pattern[0]}x{pattern[1]}, {len(pairs)} image pair(s)'
            px, pr = chessboard_pairs(pairs, pattern)
        h, _, stats = fit_homography(px, pr, args.ransac_px)
    except InputError as exc:
        print(f'rgbx-calibrate: {exc}', file=sys.stderr)
        return EXIT_INPUT
    except CalibrationError as exc:
        print(f'rgbx-calibrate: calibration failed: {exc}', file=sys.stderr)
        return EXIT_FAILED
    text = rig_snippet(h, stats, source)
    print(f'rgbx-calibrate: {int(stats["inliers"])} of {int(stats["points"])} points agree; '
          f'reprojection error RMS {stats["rms_px"]:.3f} px, max {stats["max_px"]:.3f} px '
          f'(all points RMS {stats["rms_all_px"]:.3f} px)', file=sys.stderr)
    if args.out is not None:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
        except OSError as exc:
            print(f'rgbx-calibrate: --out {args.out}: cannot write: {exc}', file=sys.stderr)
            return EXIT_INPUT
        print(f'rgbx-calibrate: wrote {args.out}', file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
