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

"""Synthetic RGB-X tracking sequences with exact ground truth, for training and tests.

A sequence is a static textured background with a moving textured target (smooth random motion and
scale change), 1-3 distractors that look like the target in RGB, occluders that cross in front of
the target, and the X modality rendered from the same scene:

* thermal: raw 16-bit counts (``mono16``) or a fixed 8-bit rendering (``mono8``); the target is
  hot, distractors are warm but colder than the target, the background and occluders are ambient;
* depth: ``16UC1`` millimetres with Kinect-like noise (sigma = k * d^2) and holes (0 mm) as speckle
  blobs and along depth edges; depth order occluder < target < distractors < background, and the
  target's depth follows its scale (nearer when larger);
* events: raw ``(t, x, y, p)`` events (:data:`~rgbx_tracker_ros.core.modality.EVENT_DTYPE`) from
  the log-intensity change between consecutive frames with a contrast threshold, plus uniform
  noise events; frame k holds the events of ``[stamp[k-1], stamp[k])``.

Optionally the RGB camera goes dark (under-exposure with noise) for a stretch while the X sensor is
unaffected (thermal and depth do not need light; the event sensor is modelled as high dynamic
range, so its events come from the well-lit scene).

Use :func:`generate_sequence` and :func:`encode_sequence_x`; :class:`SyntheticOptions` documents
every option. Everything is numpy / OpenCV and deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from rgbx_tracker_ros.core.modality import EVENT_DTYPE, encode_x, events_to_frame
from rgbx_tracker_ros.core.types import Modality, parse_modality

__all__ = ['SyntheticOptions', 'SyntheticSequence', 'encode_sequence_x', 'generate_sequence']

logger = logging.getLogger(__name__)

_TEX = 64  # side of the object texture patches, pixels (resized to the object box every frame)


@dataclass(frozen=True)
class SyntheticOptions:
    """Options of :func:`generate_sequence` (pass them as keyword arguments).

    Units: pixels, frames, millimetres (depth), raw 16-bit counts (thermal).
    """

    fps: float = 30.0                    # frame rate; stamps are start_ns + k * round(1e9 / fps)
    start_ns: int = 1_000_000_000        # stamp of frame 0, nanoseconds
    target_size: float = 0.2             # nominal target size as a fraction of min(W, H) (+-20 %)
    scale_change: float = 0.25           # amplitude of the log-scale oscillation (0 = fixed size)
    motion: float = 0.3                  # motion amplitude as a fraction of the image half-size
    num_distractors: int | None = None   # None: random 1..3
    distractor_similarity: float = 0.8   # 0..1, how much distractor textures copy the target's
    num_occlusions: int = 1              # occlusion episodes (needs num_frames >= 2 * length)
    occlusion_length: int = 16           # frames an occluder overlaps the target per episode
    hidden_threshold: float = 0.7        # visible = False when more than this fraction is hidden
    dark_rgb: bool = False               # RGB under-exposed during dark_span
    dark_span: tuple[float, float] = (0.35, 0.65)  # [start, end) as fractions of num_frames
    dark_gain: float = 0.06              # RGB gain in the dark stretch
    dark_noise: float = 5.0              # sigma of the noise in the dark stretch, grey levels
    rgb_noise: float = 1.5               # sigma of the RGB sensor noise, grey levels
    thermal_encoding: str = 'mono16'     # 'mono16' (raw counts) or 'mono8'
    thermal_noise: float = 25.0          # sigma of the thermal noise, mono16 counts
    depth_noise: float = 1.43e-6         # k in sigma = k * d^2 (d in mm), Kinect v1 like
    depth_hole_fraction: float = 0.02    # fraction of speckle-blob holes (edge holes come on top)
    event_threshold: float = 0.2         # log-intensity contrast threshold per event
    event_noise_rate: float = 0.001      # noise events per pixel per frame interval
    max_events_per_pixel: int = 5        # cap of events per pixel per frame interval

    def validate(self) -> None:
        """Raise ValueError on an out-of-range option."""
        if not self.fps > 0:
            raise ValueError(f'fps must be > 0, got {self.fps}')
        if not 0.02 <= self.target_size <= 0.45:
            raise ValueError(f'target_size must be in [0.02, 0.45], got {self.target_size}')
        if not 0 <= self.distractor_similarity <= 1:
            raise ValueError('distractor_similarity must be in [0, 1], '
                             f'got {self.distractor_similarity}')
        if self.num_distractors is not None and self.num_distractors < 0:
            raise ValueError(f'num_distractors must be >= 0, got {self.num_distractors}')
        if self.num_occlusions < 0 or self.occlusion_length < 2:
            raise ValueError('need num_occlusions >= 0 and occlusion_length >= 2, got '
                             f'{self.num_occlusions}, {self.occlusion_length}')
        a, b = self.dark_span
        if not 0 <= a < b <= 1:
            raise ValueError(f'dark_span must satisfy 0 <= start < end <= 1, got {self.dark_span}')
        if self.thermal_encoding not in ('mono16', 'mono8'):
            raise ValueError("thermal_encoding must be 'mono16' or 'mono8', "
                             f'got {self.thermal_encoding!r}')
        if not self.event_threshold > 0 or self.max_events_per_pixel < 1:
            raise ValueError('need event_threshold > 0 and max_events_per_pixel >= 1')
        if not 0 <= self.depth_hole_fraction < 1 or not 0 <= self.event_noise_rate < 1:
            raise ValueError('depth_hole_fraction and event_noise_rate must be in [0, 1)')


@dataclass
class SyntheticSequence:
    """One generated sequence; T = number of frames, H x W image size.

    Attributes:
        modality: the X modality (Modality.RGB: no X, ``x_raw`` is empty).
        rgb: T arrays (H, W, 3) uint8, RGB order.
        x_raw: T raw X frames as the sensor gives them: thermal (H, W) uint16 ('mono16') or uint8
            ('mono8'); depth (H, W) uint16 millimetres, 0 = hole ('16UC1'); events: a structured
            array of :data:`EVENT_DTYPE` per frame, the events of ``event_windows_us[k]``.
        x_encoding: 'mono16', 'mono8', '16UC1', 'events' or '' (RGB only).
        boxes_xywh: (T, 4) float64 target box, pixels, (x, y, w, h) top-left; always the full
            (also hidden) extent of the target, inside the image.
        visible: (T,) bool, False when more than ``hidden_threshold`` of the target is hidden.
        stamps_ns: (T,) int64 frame stamps, nanoseconds (RGB and X are synchronous).
        visible_fraction: (T,) float64 unoccluded fraction of the target box.
        dark: (T,) bool, frames in the dark-RGB stretch.
        target_depth_mm: (T,) float64 nominal target depth (millimetres, before noise).
        event_windows_us: (T, 2) int64 half-open ``[start, end)`` event windows, microseconds.
        options: the :class:`SyntheticOptions` used; ``seed`` the seed.
        distractor_boxes_xywh: (T, D, 4) float64 distractor boxes (may extend past the image).
        occluder_boxes_xywh: (T, O, 4) float64 occluder boxes (may lie partly or fully outside).
    """

    modality: Modality
    rgb: list[np.ndarray]
    x_raw: list[np.ndarray]
    x_encoding: str
    boxes_xywh: np.ndarray
    visible: np.ndarray
    stamps_ns: np.ndarray
    visible_fraction: np.ndarray
    dark: np.ndarray
    target_depth_mm: np.ndarray
    event_windows_us: np.ndarray
    options: SyntheticOptions
    seed: int = 0
    distractor_boxes_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))
    occluder_boxes_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def height(self) -> int:
        """Image height, pixels."""
        return int(self.rgb[0].shape[0])

    @property
    def width(self) -> int:
        """Image width, pixels."""
        return int(self.rgb[0].shape[1])


# ------------------------------------------------------------------------------------------------
# textures and motion

def _noise(rng: np.random.Generator, h: int, w: int, c: int, cells=(3, 6, 12, 24)) -> np.ndarray:
    """Multi-octave value noise in [0, 1], (h, w, c) float32."""
    acc = np.zeros((h, w, c), dtype=np.float32)
    for i, n in enumerate(cells):
        small = rng.random((n, n, c), dtype=np.float32)
        big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, c)
        acc += big / (i + 1)
    acc -= acc.min()
    acc /= max(float(acc.max()), 1e-6)
    return acc


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Cluttered colourful background, (h, w, 3) uint8 RGB."""
    common = _noise(rng, h, w, 1)
    chan = _noise(rng, h, w, 3, cells=(4, 16, 48))
    tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    img = (40 + 170 * (0.6 * common + 0.4 * chan) * tint).astype(np.uint8)
    for _ in range(int(rng.integers(6, 14))):  # clutter: a few flat shapes with sharp edges
        col = tuple(int(v) for v in rng.integers(30, 230, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(6, max(8, min(h, w) // 5)))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.4, 2))), col, -1)
        else:
            cv2.circle(img, (x, y), s // 2, col, -1)
    return img


def _object_texture(rng: np.random.Generator) -> np.ndarray:
    """A distinctive object texture, (_TEX, _TEX, 3) float32 in 0..255 RGB."""
    base = rng.uniform(40, 255, 3).astype(np.float32)
    base[rng.integers(0, 3)] *= 0.3  # saturated colour
    yy, xx = np.mgrid[0:_TEX, 0:_TEX].astype(np.float32) / _TEX
    ang = rng.uniform(0, np.pi)
    freq = rng.uniform(2, 5)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(ang) * xx + np.sin(ang) * yy))
    blobs = _noise(rng, _TEX, _TEX, 3, cells=(3, 6))
    second = rng.uniform(20, 255, 3).astype(np.float32)
    mix = (0.55 * stripes[..., None] + 0.45 * blobs)
    tex = base * (1 - mix) + second * mix
    tex[:3], tex[-3:], tex[:, :3], tex[:, -3:] = 0.35 * tex[:3], 0.35 * tex[-3:], \
        0.35 * tex[:, :3], 0.35 * tex[:, -3:]  # darker rim: a clear object edge
    return tex


def _bump(h: int = _TEX, w: int = _TEX) -> np.ndarray:
    """Smooth radial bump, 1 at the centre, ~0 at the rim, (h, w) float32."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
    return np.exp(-2.0 * r2).astype(np.float32)


def _smooth_path(rng: np.random.Generator, t: np.ndarray, amp: float) -> np.ndarray:
    """Sum of three random sinusoids with total amplitude ``amp`` pixels, (T,) float64."""
    weights = rng.dirichlet(np.ones(3))
    periods = rng.uniform(35, 160, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    return (amp * weights[:, None]
            * np.sin(2 * np.pi * t[None] / periods[:, None] + phases[:, None])).sum(0)


def _trajectory(rng: np.random.Generator, n: int, width: int, height: int, size_wh,
                motion: float, scale_change: float):
    """Centre (T, 2) and size (T, 2) of an object moving smoothly inside the image."""
    t = np.arange(n, dtype=np.float64)
    log_s = scale_change * np.sin(2 * np.pi * t / rng.uniform(50, 150) + rng.uniform(0, 2 * np.pi))
    size = np.asarray(size_wh, dtype=np.float64)[None] * np.exp(log_s)[:, None]
    size = np.minimum(size, [width - 6, height - 6])
    cx = width / 2 + rng.uniform(-0.25, 0.25) * width \
        + _smooth_path(rng, t, motion * width / 2 * rng.uniform(0.6, 1.0))
    cy = height / 2 + rng.uniform(-0.25, 0.25) * height \
        + _smooth_path(rng, t, motion * height / 2 * rng.uniform(0.6, 1.0))
    cx = np.clip(cx, size[:, 0] / 2 + 2, width - size[:, 0] / 2 - 2)
    cy = np.clip(cy, size[:, 1] / 2 + 2, height - size[:, 1] / 2 - 2)
    return np.stack([cx, cy], 1), size


def _rects(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Integer (T, 4) x0, y0, w, h rectangles of centre / size, w and h >= 2."""
    wh = np.maximum(np.round(size), 2)
    xy = np.round(centre - wh / 2)
    return np.concatenate([xy, wh], 1).astype(np.int64)


def _overlaps(a, b) -> bool:
    """Whether two integer x0, y0, w, h rectangles share a pixel."""
    return bool(a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3]
                and b[1] < a[1] + a[3])


def _paste(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Write ``patch`` into ``canvas`` at (x0, y0), clipped to the canvas (in place)."""
    h, w = patch.shape[:2]
    ch, cw = canvas.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, cw), min(y0 + h, ch)
    if xa >= xb or ya >= yb:
        return
    canvas[ya:yb, xa:xb] = patch[ya - y0:yb - y0, xa - x0:xb - x0]


def _resize(tex: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(tex, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------------
# events

def _frame_events(rng: np.random.Generator, log_prev: np.ndarray | None, log_cur: np.ndarray,
                  t0_us: int, t1_us: int, opt: SyntheticOptions) -> np.ndarray:
    """Events of one frame interval [t0_us, t1_us), sorted by time."""
    h, w = log_cur.shape
    span = max(t1_us - t0_us, 1)
    parts_t, parts_idx, parts_p = [], [], []
    if log_prev is not None:
        diff = log_cur - log_prev
        count = np.minimum(np.floor(np.abs(diff) / opt.event_threshold),
                           opt.max_events_per_pixel).astype(np.int64).ravel()
        idx = np.flatnonzero(count)
        if idx.size:
            n = count[idx]
            rep = np.repeat(idx, n)
            first = np.repeat(np.cumsum(n) - n, n)
            j = np.arange(rep.size) - first                        # 0..n-1 within a pixel
            frac = (j + 1) / (np.repeat(n, n) + 1.0)               # evenly spread crossings
            parts_t.append(t0_us + np.floor(frac * span).astype(np.int64))
            parts_idx.append(rep)
            parts_p.append((diff.ravel()[rep] > 0).astype(np.uint8))
    n_noise = int(rng.binomial(h * w, opt.event_noise_rate)) if opt.event_noise_rate > 0 else 0
    if n_noise:
        parts_t.append(rng.integers(t0_us, t0_us + span, n_noise))
        parts_idx.append(rng.integers(0, h * w, n_noise))
        parts_p.append(rng.integers(0, 2, n_noise).astype(np.uint8))
    if not parts_t:
        return np.zeros(0, dtype=EVENT_DTYPE)
    t = np.concatenate(parts_t)
    idx = np.concatenate(parts_idx)
    p = np.concatenate(parts_p)
    order = np.argsort(t, kind='stable')
    ev = np.empty(t.size, dtype=EVENT_DTYPE)
    ev['t'] = t[order]
    ev['x'] = idx[order] % w
    ev['y'] = idx[order] // w
    ev['p'] = p[order]
    return ev


# ------------------------------------------------------------------------------------------------
# main entry

def generate_sequence(modality: Modality | str, num_frames: int, width: int = 320,
                      height: int = 256, seed: int = 0, **options) -> SyntheticSequence:
    """Generate a synthetic RGB-X tracking sequence with exact ground truth.

    Args:
        modality: X modality (THERMAL, DEPTH, EVENT, or RGB for no X), Modality or its string.
        num_frames: T >= 1 frames.
        width, height: image size in pixels, each >= 64.
        seed: everything (scene, motion, noise) is a deterministic function of the seed and the
            other arguments.
        **options: any field of :class:`SyntheticOptions` (e.g. ``dark_rgb=True``,
            ``num_occlusions=0``, ``thermal_encoding='mono8'``).

    Returns:
        :class:`SyntheticSequence`. The target is visible in frame 0 (occlusions are scheduled
        after the start) and its box always lies inside the image.

    Raises:
        ValueError: bad sizes, unknown option names (the message lists the valid ones) or
            out-of-range option values.
    """
    mod = modality if isinstance(modality, Modality) else parse_modality(modality)
    valid_names = [f.name for f in dataclasses.fields(SyntheticOptions)]
    unknown = sorted(set(options) - set(valid_names))
    if unknown:
        raise ValueError(f'unknown synthetic option(s) {unknown}; valid: {", ".join(valid_names)}')
    opt = SyntheticOptions(**options)
    opt.validate()
    n, width, height = int(num_frames), int(width), int(height)
    if n < 1 or width < 64 or height < 64:
        raise ValueError(f'need num_frames >= 1 and an image of at least 64x64 pixels, got '
                         f'num_frames={num_frames}, {width}x{height}')
    rng = np.random.default_rng(seed)

    # --- scene layout (all random draws for the layout happen here, in a fixed order)
    side = opt.target_size * min(width, height) * rng.uniform(0.8, 1.2)
    aspect = rng.uniform(0.5, 1.6)  # w / h
    t_size = (side * np.sqrt(aspect), side / np.sqrt(aspect))
    t_centre, t_wh = _trajectory(rng, n, width, height, t_size, opt.motion, opt.scale_change)
    t_rect = _rects(t_centre, t_wh)
    t_tex = _object_texture(rng)
    t_depth0 = rng.uniform(1600, 2200)
    t_scale = np.sqrt(t_wh[:, 0] * t_wh[:, 1] / (t_size[0] * t_size[1]))
    t_depth = t_depth0 / t_scale

    n_dis = int(rng.integers(1, 4)) if opt.num_distractors is None else int(opt.num_distractors)
    distractors = []
    for _ in range(n_dis):
        d_size = np.asarray(t_size) * rng.uniform(0.85, 1.15)
        c, wh = _trajectory(rng, n, width, height, d_size, opt.motion, opt.scale_change * 0.5)
        own = _object_texture(rng)
        jitter = rng.uniform(0.9, 1.1, 3).astype(np.float32)
        tex = np.clip((opt.distractor_similarity * t_tex
                       + (1 - opt.distractor_similarity) * own) * jitter, 0, 255)
        distractors.append(dict(rect=_rects(c, wh), tex=tex, depth=rng.uniform(3200, 4400),
                                heat=rng.uniform(7850, 8300)))

    occluders = []
    n_occ = opt.num_occlusions if n >= 2 * opt.occlusion_length else 0
    if n_occ:
        lo = max(0.3 * n, opt.occlusion_length)
        hi = max(lo, n - opt.occlusion_length / 2 - 1)
        centres = lo + (np.arange(n_occ) + rng.uniform(0.2, 0.8, n_occ)) * (hi - lo) / n_occ
        for tc in np.round(centres).astype(int):
            ow = 1.5 * t_wh[tc, 0] + 4
            oh = 2.2 * t_wh[tc, 1] + 4
            speed = (ow + t_wh[tc, 0]) / opt.occlusion_length
            vel = np.array([speed * rng.choice([-1.0, 1.0]), rng.uniform(-0.15, 0.15) * speed])
            wh = np.repeat([[ow, oh]], n, axis=0)
            tex = np.clip(_noise(rng, _TEX, _TEX, 3, cells=(2, 8)) * rng.uniform(60, 200, 3)
                          + 20, 0, 255).astype(np.float32)
            for direction in (1.0, -1.0):  # the target must be unoccluded in frame 0
                c = t_centre[tc][None] + direction * vel[None] * (np.arange(n) - tc)[:, None]
                rect = _rects(c, wh)
                if not _overlaps(rect[0], t_rect[0]):
                    occluders.append(dict(rect=rect, tex=tex, depth=rng.uniform(700, 1000)))
                    break

    dark = np.zeros(n, dtype=bool)
    if opt.dark_rgb:
        dark[int(round(opt.dark_span[0] * n)):int(round(opt.dark_span[1] * n))] = True

    # static layers
    bg_rgb = _background(rng, height, width)
    need_th = mod is Modality.THERMAL
    need_depth = mod is Modality.DEPTH
    need_ev = mod is Modality.EVENT
    bump = _bump()
    if need_th:
        bg_th = (7500 + 300 * _noise(rng, height, width, 1)[..., 0]
                 + 0.8 * cv2.cvtColor(bg_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32))
        t_heat = 9300 + 600 * bump + 60 * _noise(rng, _TEX, _TEX, 1)[..., 0]
        occ_heat = 7350 + 40 * _noise(rng, _TEX, _TEX, 1)[..., 0]
    if need_depth:
        yy = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None]
        xx = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None]
        bg_depth = (5000 + 3000 * yy + rng.uniform(-400, 400) * xx
                    + 200 * _noise(rng, height, width, 1)[..., 0]).astype(np.float32)
        t_relief = -60 * bump  # a rounded object: centre nearer than the rim

    # --- per-frame rendering
    dt_ns = int(round(1e9 / opt.fps))
    stamps = opt.start_ns + dt_ns * np.arange(n, dtype=np.int64)
    ends_us = stamps // 1000
    starts_us = np.concatenate([[(opt.start_ns - dt_ns) // 1000], ends_us[:-1]])
    windows = np.stack([starts_us, ends_us], 1).astype(np.int64)

    rgb_frames, x_frames = [], []
    vis_frac = np.ones(n)
    log_prev = None
    for k in range(n):
        img = bg_rgb.copy()
        th = bg_th.copy() if need_th else None
        dep = bg_depth.copy() if need_depth else None
        for d in distractors:
            x0, y0, w, h = d['rect'][k]
            _paste(img, _resize(d['tex'], w, h).astype(np.uint8), x0, y0)
            if need_th:
                _paste(th, _resize(d['heat'] + 250 * bump, w, h), x0, y0)
            if need_depth:
                _paste(dep, np.full((h, w), d['depth'], np.float32), x0, y0)
        x0, y0, w, h = t_rect[k]
        _paste(img, _resize(t_tex, w, h).astype(np.uint8), x0, y0)
        if need_th:
            _paste(th, _resize(t_heat, w, h), x0, y0)
        if need_depth:
            _paste(dep, _resize(t_relief, w, h) + np.float32(t_depth[k]), x0, y0)
        seen = np.ones((h, w), dtype=bool)
        for o in occluders:
            ox, oy, ow, oh = o['rect'][k]
            _paste(img, _resize(o['tex'], ow, oh).astype(np.uint8), ox, oy)
            if need_th:
                _paste(th, _resize(occ_heat, ow, oh), ox, oy)
            if need_depth:
                _paste(dep, np.full((oh, ow), o['depth'], np.float32), ox, oy)
            _paste(seen, np.zeros((oh, ow), dtype=bool), ox - x0, oy - y0)
        vis_frac[k] = seen.mean()

        if need_ev:  # HDR event sensor: sees the well-lit scene, before exposure and noise
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
            log_cur = np.log(grey / 255.0 + 0.02)
            x_frames.append(_frame_events(rng, log_prev, log_cur, int(windows[k, 0]),
                                          int(windows[k, 1]), opt))
            log_prev = log_cur

        noise_sigma = opt.dark_noise if dark[k] else opt.rgb_noise
        gain = opt.dark_gain if dark[k] else 1.0
        out = img.astype(np.float32) * np.float32(gain)
        if noise_sigma > 0:
            out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise_sigma)
        rgb_frames.append(np.clip(out + 0.5, 0, 255).astype(np.uint8))

        if need_th:
            th += rng.standard_normal(th.shape, dtype=np.float32) * np.float32(opt.thermal_noise)
            if opt.thermal_encoding == 'mono16':
                x_frames.append(np.clip(th + 0.5, 0, 65535).astype(np.uint16))
            else:  # fixed linear rendering of 7000..10000 counts to 0..255
                x_frames.append(np.clip((th - 7000) * (255 / 3000) + 0.5, 0, 255)
                                .astype(np.uint8))
        if need_depth:
            clean = dep
            dep = clean + rng.standard_normal(clean.shape, dtype=np.float32) \
                * (np.float32(opt.depth_noise) * clean * clean)
            holes = np.zeros(clean.shape, dtype=bool)
            if opt.depth_hole_fraction > 0:
                coarse = rng.random(((height + 3) // 4, (width + 3) // 4)) \
                    < opt.depth_hole_fraction * 0.8
                holes |= np.kron(coarse, np.ones((4, 4), dtype=bool))[:height, :width]
                holes |= rng.random(clean.shape) < opt.depth_hole_fraction * 0.2
            edge = np.zeros(clean.shape, dtype=bool)  # depth discontinuities lose returns
            edge[:, 1:] |= np.abs(np.diff(clean, axis=1)) > 300
            edge[1:] |= np.abs(np.diff(clean, axis=0)) > 300
            holes |= edge & (rng.random(clean.shape) < 0.5)
            dep[holes] = 0
            x_frames.append(np.clip(dep + 0.5, 0, 65535).astype(np.uint16))

    logger.debug('synthetic %s sequence: %d frames %dx%d, seed %d, %d distractors, %d occluders, '
                 '%d hidden frames', mod.value, n, width, height, seed, len(distractors),
                 len(occluders), int((vis_frac < 1 - opt.hidden_threshold - 1e-9).sum()))
    encoding = {Modality.THERMAL: opt.thermal_encoding, Modality.DEPTH: '16UC1',
                Modality.EVENT: 'events', Modality.RGB: ''}[mod]
    dis_boxes = np.stack([d['rect'] for d in distractors], 1).astype(np.float64) if distractors \
        else np.zeros((n, 0, 4))
    occ_boxes = np.stack([o['rect'] for o in occluders], 1).astype(np.float64) if occluders \
        else np.zeros((n, 0, 4))
    return SyntheticSequence(
        modality=mod, rgb=rgb_frames, x_raw=x_frames, x_encoding=encoding,
        boxes_xywh=t_rect.astype(np.float64), visible=vis_frac >= 1 - opt.hidden_threshold - 1e-9,
        stamps_ns=stamps, visible_fraction=vis_frac, dark=dark, target_depth_mm=t_depth,
        event_windows_us=windows, options=opt, seed=int(seed), distractor_boxes_xywh=dis_boxes,
        occluder_boxes_xywh=occ_boxes)


def encode_sequence_x(seq: SyntheticSequence) -> list[np.ndarray]:
    """Encode every raw X frame of ``seq`` with :mod:`rgbx_tracker_ros.core.modality`.

    Thermal and depth go through :func:`~rgbx_tracker_ros.core.modality.encode_x`; events are
    rendered with :func:`~rgbx_tracker_ros.core.modality.events_to_frame` over each frame's
    ``event_windows_us`` interval.

    Returns:
        T arrays (H, W, 3) uint8 (empty for an RGB-only sequence).
    """
    if seq.modality is Modality.RGB:
        return []
    if seq.modality is Modality.EVENT:
        return [events_to_frame(ev, seq.height, seq.width, int(w0), int(w1))
                for ev, (w0, w1) in zip(seq.x_raw, seq.event_windows_us)]
    return [encode_x(x, seq.x_encoding, seq.modality) for x in seq.x_raw]
