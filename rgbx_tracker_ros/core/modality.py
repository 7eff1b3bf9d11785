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

"""Turn raw sensor images into the 3-channel uint8 frames the tracker consumes.

Every RGB-X tracker of the OSTrack family (ViPT, BAT, SDSTrack, XTrack, SEATrack, SUTrack...) feeds
the X modality as a 3-channel uint8 image stacked after RGB (their shared
``lib/train/dataset/depth_utils.py::get_x_frame``). This module reproduces those renderings for
live sensors, so what a ROS node feeds the network has the statistics the networks were trained on:

* RGB: ``rgb8`` / ``bgr8`` / ``mono8`` -> (H, W, 3) uint8 in RGB order (mono replicated);
  also, with cv_bridge's semantics, ``rgba8`` / ``bgra8`` (alpha dropped), YUV 4:2:2
  ``yuv422`` = ``uyvy`` and ``yuv422_yuy2`` = ``yuyv``, the Bayer mosaics ``bayer_rggb8`` /
  ``bayer_bggr8`` / ``bayer_gbrg8`` / ``bayer_grbg8`` (demosaiced) and ``mono16`` (scaled to
  8 bit by 255/65535, then replicated).
* Thermal (LasHeR, RGBT234 style): the datasets store LWIR as 3-channel grey images and the
  trackers use them as they are. ``mono8`` is replicated to 3 channels; ``mono16`` (raw
  radiometric counts) is first normalised per frame with a robust percentile stretch; ``rgb8`` /
  ``bgr8`` are taken as already-rendered images.
* Depth (DepthTrack, VOT-RGBD style, ``dtype='rgbcolormap'`` with ``depth_clip=True``): millimetres
  are clipped at ``min(3 * median, 10000 mm)``, min-max normalised per frame to 0..255 and coloured
  with OpenCV's JET colormap. As in the reference, the colormap output is kept in OpenCV's BGR
  channel order (it is *not* converted to RGB), because that is what released checkpoints saw.
* Event (VisEvent style): the trackers consume pre-rendered event frames; ``rgb8`` / ``bgr8`` /
  ``mono8`` frames pass through, and :func:`events_to_frame` renders raw ``(t, x, y, p)`` events.

:func:`check_x_signal` / :class:`XSignalMonitor` tell a live X frame from a dead sensor's (no
valid depth, a flat thermal picture, no events for a while) before it is tracked as RGB-X.

All functions are vectorised numpy / OpenCV and raise :class:`EncodingError` (a ``ValueError``)
with what was received and what was expected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rgbx_tracker_ros.core.types import Modality, parse_modality

__all__ = [
    'DEPTH_MAX_MM',
    'DEPTH_MIN_VALID_RATIO',
    'EVENT_DTYPE',
    'EVENT_TIMEOUT_S',
    'EVENT_BACKGROUND_RGB',
    'EVENT_NEGATIVE_RGB',
    'EVENT_POSITIVE_RGB',
    'EncodingError',
    'EventRenderStats',
    'RGB_ENCODINGS',
    'SIGNAL_STEP',
    'SignalCheck',
    'THERMAL_MIN_SPREAD',
    'XSignalMonitor',
    'X_ENCODINGS',
    'check_x_signal',
    'depth_to_colormap',
    'encode_rgb',
    'encode_x',
    'events_to_frame',
    'load_events_npy',
    'normalize_thermal16',
    'render_events',
]

logger = logging.getLogger(__name__)

#: Raw event record: t in microseconds, x/y in pixels (column/row), p polarity (1 = ON, 0 = OFF).
#: The same layout as the decoded Prophesee / expelliarmus arrays.
EVENT_DTYPE = np.dtype([('t', '<i8'), ('x', '<i2'), ('y', '<i2'), ('p', 'u1')])

#: Upper bound of the depth clip range in millimetres (DepthTrack / CDTB: targets are within 10 m).
DEPTH_MAX_MM = 10000.0

#: Event frame colours, RGB order: white background, ON events red, OFF events blue.
EVENT_BACKGROUND_RGB = (255, 255, 255)
EVENT_POSITIVE_RGB = (255, 0, 0)
EVENT_NEGATIVE_RGB = (0, 0, 255)

#: Valid encodings per input kind (aliases included), for messages and callers.
RGB_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'mono16', 'rgba8', 'bgra8', 'yuv422', 'uyvy',
                 'yuv422_yuy2', 'yuyv', 'bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8',
                 'bayer_grbg8')
X_ENCODINGS = {
    Modality.THERMAL: ('mono8', 'mono16', 'rgb8', 'bgr8', '8UC1', '16UC1'),
    Modality.DEPTH: ('16UC1', '32FC1', 'mono16'),
    Modality.EVENT: ('rgb8', 'bgr8', 'mono8', '8UC1'),
    Modality.RGB: (),
}

_THERMAL_PERCENTILES = (1.0, 99.9)


class EncodingError(ValueError):
    """An image whose encoding, dtype or shape the tracker cannot use.

    The message names what was received and what was expected.
    """


# ------------------------------------------------------------------------------------------------
# helpers

def _describe(image) -> str:
    if isinstance(image, np.ndarray):
        return f'shape {image.shape} dtype {image.dtype}'
    return f'an object of type {type(image).__name__}'


def _as_mono(image, encoding: str, dtypes: tuple, what: str) -> np.ndarray:
    """Return ``image`` as an (H, W) array after checking it is a single-channel image."""
    if not isinstance(image, np.ndarray):
        raise EncodingError(f'encoding {encoding!r} expects a numpy array (H, W) {what}; '
                            f'got {_describe(image)}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2 or image.dtype not in dtypes or image.shape[0] == 0 or image.shape[1] == 0:
        names = ' or '.join(np.dtype(d).name for d in dtypes)
        raise EncodingError(f'encoding {encoding!r} expects an (H, W) {names} {what} image; got '
                            f'{_describe(image)}. Check the encoding field of the message.')
    return image


def _as_color(image, encoding: str, channels: int = 3) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != channels \
            or image.dtype != np.uint8 or image.shape[0] == 0 or image.shape[1] == 0:
        raise EncodingError(f'encoding {encoding!r} expects an (H, W, {channels}) uint8 image; '
                            f'got {_describe(image)}. Check the encoding field of the message.')
    return image


# OpenCV names a Bayer pattern by the 2x2 cell that starts at the second row and column, ROS by
# the top-left one: ROS 'rggb' (R G / G B from pixel (0, 0)) is OpenCV's 'BG' (as cv_bridge maps).
_BAYER_TO_RGB = {'bayer_rggb8': cv2.COLOR_BayerBG2RGB, 'bayer_bggr8': cv2.COLOR_BayerRG2RGB,
                 'bayer_gbrg8': cv2.COLOR_BayerGR2RGB, 'bayer_grbg8': cv2.COLOR_BayerGB2RGB}
# YUV 4:2:2, 2 bytes per pixel: 'yuv422' / 'uyvy' = U Y0 V Y1, 'yuv422_yuy2' / 'yuyv' = Y0 U Y1 V
_YUV_TO_RGB = {'yuv422': cv2.COLOR_YUV2RGB_UYVY, 'uyvy': cv2.COLOR_YUV2RGB_UYVY,
               'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUY2, 'yuyv': cv2.COLOR_YUV2RGB_YUY2}
_U16_TO_U8 = 255.0 / 65535.0


def _checked_rgb(image, encoding) -> np.ndarray:
    """The one dtype / shape check of an RGB camera image: the validated array of ``encoding``
    (see :func:`encode_rgb`), shared by :func:`encode_rgb` and :func:`check_rgb`.

    Raises:
        EncodingError: unknown encoding, or dtype / shape not matching it.
    """
    enc = str(encoding)
    if enc in ('rgb8', 'bgr8'):
        return _as_color(image, enc)
    if enc in ('mono8', '8UC1'):
        return _as_mono(image, enc, (np.uint8,), 'grey')
    if enc in ('rgba8', 'bgra8'):
        return _as_color(image, enc, 4)
    if enc in _YUV_TO_RGB:
        arr = _as_color(image, enc, 2)
        if arr.shape[1] % 2:
            raise EncodingError(f'encoding {enc!r} (YUV 4:2:2) needs an even width; got '
                                f'{_describe(image)}')
        return arr
    if enc in _BAYER_TO_RGB:
        arr = _as_mono(image, enc, (np.uint8,), 'Bayer mosaic')
        if arr.shape[0] < 2 or arr.shape[1] < 2:
            raise EncodingError(f'encoding {enc!r} needs a mosaic of at least 2x2 pixels; got '
                                f'{_describe(image)}')
        return arr
    if enc == 'mono16':
        return _as_mono(image, enc, (np.uint16,), 'grey')
    raise EncodingError(f'unknown RGB encoding {encoding!r}; valid '
                        f'encodings: {", ".join(RGB_ENCODINGS)} (convert other formats before '
                        f'tracking)')


def _gray3(mono: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W, 3) uint8, the plane in every channel (``cv2.cvtColor``: about 40x
    faster than ``np.repeat`` on a 640x512 frame, which the node pays on every X frame)."""
    return cv2.cvtColor(np.ascontiguousarray(mono), cv2.COLOR_GRAY2RGB)


def _unknown(encoding, modality: Modality, valid) -> EncodingError:
    if not valid:
        return EncodingError(f'modality {modality.value!r} has no X image (encoding {encoding!r} '
                             'given); track RGB alone by passing x=None')
    return EncodingError(f'unknown encoding {encoding!r} for modality {modality.value!r}; '
                         f'valid encodings: {", ".join(valid)}')


# ------------------------------------------------------------------------------------------------
# RGB

def encode_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a colour camera image to (H, W, 3) uint8 RGB.

    cv_bridge semantics for the other encodings: 'rgba8' / 'bgra8' drop alpha; 'yuv422' /
    'uyvy' and 'yuv422_yuy2' / 'yuyv' are converted with ``cv2.COLOR_YUV2RGB_UYVY`` /
    ``_YUY2``; 'bayer_*8' are demosaiced (bilinear, ``cv2.COLOR_Bayer*2RGB``); 'mono16' is
    scaled to 8 bit by 255/65535 (rounded) and replicated.

    Args:
        image: (H, W, 3) uint8 for 'rgb8' / 'bgr8'; (H, W) or (H, W, 1) uint8 for 'mono8' and
            'bayer_*8' (the mosaic, at least 2x2); (H, W, 4) uint8 for 'rgba8' / 'bgra8';
            (H, W, 2) uint8 with an even W for the YUV 4:2:2 ones (as decoded by
            ``ros.conversions``); (H, W) uint16 for 'mono16'.
        encoding: ROS ``sensor_msgs/Image`` encoding, one of :data:`RGB_ENCODINGS` (or '8UC1').

    Returns:
        (H, W, 3) uint8, RGB channel order; mono is replicated to 3 channels. A new contiguous
        array except for 'rgb8' input that is already contiguous (returned as is, not copied).

    Raises:
        EncodingError: unknown encoding, or dtype / shape not matching the encoding.
    """
    enc = str(encoding)
    arr = _checked_rgb(image, encoding)
    if enc in ('mono8', '8UC1'):
        return _gray3(arr)
    arr = np.ascontiguousarray(arr)
    if enc == 'rgb8':
        return arr
    if enc == 'bgr8':
        return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    if enc == 'rgba8':
        return np.ascontiguousarray(arr[:, :, :3])
    if enc == 'bgra8':
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB)
    if enc in _YUV_TO_RGB:
        return cv2.cvtColor(arr, _YUV_TO_RGB[enc])
    if enc in _BAYER_TO_RGB:
        return cv2.cvtColor(arr, _BAYER_TO_RGB[enc])
    return _gray3(cv2.convertScaleAbs(arr, alpha=_U16_TO_U8))       # mono16


# ------------------------------------------------------------------------------------------------
# thermal

def normalize_thermal16(image: np.ndarray,
                        percentiles: tuple[float, float] = _THERMAL_PERCENTILES) -> np.ndarray:
    """Robust per-frame stretch of a 16-bit thermal frame to uint8.

    Values are clipped to the ``percentiles`` (default 1st and 99.9th) of the frame and mapped
    linearly to 0..255, so a few dead or saturated pixels do not wash out the picture. A constant
    frame (no contrast) maps to all zeros.

    Args:
        image: (H, W) uint16 raw counts (any unit; only the per-frame order matters).
        percentiles: (low, high) in percent, 0 <= low < high <= 100.

    Returns:
        (H, W) uint8.

    The percentiles are exactly ``np.percentile``'s (linear interpolation) but read from a
    65536-bin histogram, and the stretch is a lookup table: about 1 ms for 640x512 instead of
    about 3-7 ms (this runs on every thermal frame the node receives).
    """
    if image.size == 0:
        return np.zeros(image.shape, dtype=np.uint8)
    lo, hi = _percentiles_uint16(image, percentiles)
    if not hi > lo:
        return np.zeros(image.shape, dtype=np.uint8)
    scale = 255.0 / (hi - lo)
    values = np.arange(65536, dtype=np.float32)
    lut = np.clip((values - np.float32(lo)) * np.float32(scale) + 0.5, 0, 255).astype(np.uint8)
    return np.take(lut, image)


def _percentiles_uint16(image: np.ndarray, percentiles: tuple[float, ...]) -> list[float]:
    """``np.percentile(image, percentiles)`` (linear method) for uint16 data via a histogram."""
    flat = image.ravel()
    n = flat.size
    cum = np.cumsum(np.bincount(flat, minlength=65536))
    out = []
    for p in percentiles:
        pos = p / 100.0 * (n - 1)
        k = int(np.floor(pos))
        # k-th smallest value (0-based) = first histogram bin whose cumulative count exceeds k
        a, b = np.searchsorted(cum, [k, min(k + 1, n - 1)], side='right')
        out.append(float(a) + (pos - k) * (float(b) - float(a)))
    return out


# ------------------------------------------------------------------------------------------------
# depth

def depth_to_colormap(depth_mm: np.ndarray, max_depth_mm: float = DEPTH_MAX_MM) -> np.ndarray:
    """Colour a depth map in millimetres the way the OSTrack-family RGB-D trackers do.

    Follows ``depth_utils.get_x_frame(dtype='rgbcolormap', depth_clip=True)`` (DepthTrack,
    VOT-RGBD): clip at ``min(3 * median, max_depth_mm)``, per-frame min-max normalise to 0..255
    (``cv2.NORM_MINMAX``), apply ``cv2.COLORMAP_JET``. The result stays in OpenCV's BGR order like
    the reference: channel 0 is JET's blue, so near pixels are stored blue-ish and far ones
    red-ish in B, G, R order.

    Invalid depth (0, negative, NaN, +-inf) is treated as 0 mm, exactly as a 16-bit depth PNG
    stores a hole in DepthTrack, so holes get the bottom of the colormap (JET index 0, stored as
    (128, 0, 0)) just as in the reference, and when a frame has holes the frame minimum is 0.
    One deliberate difference: the median is taken over valid pixels only (the reference
    includes the zeros, which with Kinect's ~30 % holes shrinks the clip range and, with more
    than half holes, collapses the frame to one colour). A frame without any valid pixel, or a
    hole-free frame of one constant depth, maps to index 0 everywhere.

    Args:
        depth_mm: (H, W) depth in millimetres, any real dtype.
        max_depth_mm: upper bound of the clip, millimetres (reference: 10000).

    Returns:
        (H, W, 3) uint8, BGR channel order (as the reference feeds it).
    """
    d = np.asarray(depth_mm, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    d = np.where(valid, d, np.float32(0.0))
    if valid.any():
        clip = min(3.0 * float(np.median(d[valid])), float(max_depth_mm))
        d = np.minimum(d, np.float32(clip))
    lo = float(d.min())
    hi = float(d.max())
    if hi > lo:
        idx = np.clip((d - np.float32(lo)) * np.float32(255.0 / (hi - lo)) + 0.5, 0, 255)
        idx = idx.astype(np.uint8)
    else:
        idx = np.zeros(d.shape, dtype=np.uint8)
    return cv2.applyColorMap(idx, cv2.COLORMAP_JET)


# ------------------------------------------------------------------------------------------------
# X dispatcher

def encode_x(image: np.ndarray, encoding: str, modality: Modality | str) -> np.ndarray:
    """Convert a raw X-sensor image to the (H, W, 3) uint8 frame the tracker's X branch expects.

    Args:
        image: the decoded image array (see below for the shape per encoding).
        encoding: ROS ``sensor_msgs/Image`` encoding of ``image``.
        modality: :class:`Modality` (or its string) of the X sensor.

    Per modality:
        * THERMAL: 'mono8' / '8UC1' (H, W) uint8 -> replicated to 3 channels, values unchanged;
          'mono16' / '16UC1' (H, W) uint16 -> :func:`normalize_thermal16` (1st-99.9th percentile
          stretch per frame) then replicated; 'rgb8' / 'bgr8' (H, W, 3) uint8 pre-rendered -> RGB.
        * DEPTH: '16UC1' / 'mono16' (H, W) uint16 millimetres, or '32FC1' (H, W) float32 metres
          -> :func:`depth_to_colormap` (clip + min-max + JET, BGR order as the reference; holes =
          0 / NaN / inf get JET index 0).
        * EVENT: a rendered event frame, 'rgb8' / 'bgr8' (H, W, 3) or 'mono8' (H, W) uint8 -> RGB.
          Render raw events with :func:`events_to_frame` first.
        * RGB: there is no X; always raises (pass ``x=None`` to the tracker instead).

    Returns:
        (H, W, 3) uint8 contiguous array.

    Raises:
        EncodingError: unknown encoding for the modality (the message lists the valid ones), or an
            array whose dtype / shape does not match the encoding.
        ValueError: unknown modality string.
    """
    kind, arr = _validated_x(image, encoding, modality)
    if kind == 'thermal8':
        return _gray3(arr)
    if kind == 'thermal16':
        return _gray3(normalize_thermal16(arr))
    if kind == 'depth_m':
        with np.errstate(invalid='ignore', over='ignore'):
            return depth_to_colormap(arr.astype(np.float32) * np.float32(1000.0))
    if kind == 'depth_mm':
        return depth_to_colormap(arr)
    return encode_rgb(arr, kind)


def check_rgb(image: np.ndarray, encoding: str) -> tuple[int, int]:
    """Validate an RGB camera image as :func:`encode_rgb` would, without converting it.

    Returns:
        (H, W) of the image.

    Raises:
        EncodingError: exactly when :func:`encode_rgb` would.
    """
    return _checked_rgb(image, encoding).shape[:2]


def check_x(image: np.ndarray, encoding: str, modality: Modality | str) -> tuple[int, int]:
    """Validate an X image as :func:`encode_x` would, without converting it (cheap: dtype and
    shape checks only), so a node can count a bad frame on arrival and encode only the frames
    it tracks.

    Returns:
        (H, W) of the image.

    Raises:
        EncodingError: exactly when :func:`encode_x` would; ValueError: unknown modality.
    """
    kind, arr = _validated_x(image, encoding, modality)
    return check_rgb(arr, kind) if kind in RGB_ENCODINGS else arr.shape[:2]


def _validated_x(image: np.ndarray, encoding: str, modality: Modality | str
                 ) -> tuple[str, np.ndarray]:
    """The one dtype / shape check of an X image: ('thermal8' | 'thermal16' | 'depth_m' |
    'depth_mm', the checked (H, W) array), or (an RGB encoding, the image) for pre-rendered
    frames, which :func:`check_rgb` / :func:`encode_rgb` take from there.

    Raises:
        EncodingError: unknown encoding for the modality, or dtype / shape not matching it.
    """
    mod = modality if isinstance(modality, Modality) else parse_modality(modality)
    enc = str(encoding)
    valid = X_ENCODINGS[mod]
    if enc not in valid:
        raise _unknown(encoding, mod, valid)
    if mod is Modality.THERMAL:
        if enc in ('mono8', '8UC1'):
            return 'thermal8', _as_mono(image, enc, (np.uint8,), 'thermal')
        if enc in ('mono16', '16UC1'):
            return 'thermal16', _as_mono(image, enc, (np.uint16,), 'thermal')
        return enc, image
    if mod is Modality.DEPTH:
        if enc == '32FC1':
            return 'depth_m', _as_mono(image, enc, (np.float32, np.float64), 'depth (metres)')
        return 'depth_mm', _as_mono(image, enc, (np.uint16,), 'depth (millimetres)')
    return ('mono8' if enc == '8UC1' else enc), image


# ------------------------------------------------------------------------------------------------
# events

@dataclass(frozen=True)
class EventRenderStats:
    """Counts from one :func:`render_events` call (all numbers of events, not pixels)."""

    total: int           # events passed in
    in_window: int       # events with t_start_us <= t < t_end_us
    rendered: int        # in-window events inside the sensor area (drawn)
    out_of_bounds: int   # in-window events with x or y outside the sensor (ignored)
    pixels: int          # distinct pixels coloured


def _check_events(events) -> np.ndarray:
    if not isinstance(events, np.ndarray) or events.dtype.names is None \
            or not {'t', 'x', 'y', 'p'} <= set(events.dtype.names) or events.ndim != 1:
        got = _describe(events)
        if isinstance(events, np.ndarray) and events.dtype.names:
            got += f' fields {events.dtype.names}'
        raise EncodingError('events must be a 1-D numpy structured array with fields t (int64 '
                            f'microseconds), x, y, p (see EVENT_DTYPE); got {got}')
    return events


def render_events(events: np.ndarray, height: int, width: int, t_start_us: int | None = None,
                  t_end_us: int | None = None) -> tuple[np.ndarray, EventRenderStats]:
    """Render raw events of a time window into a 3-channel frame; also return counts.

    Rendering (in the spirit of VisEvent's pre-rendered ``event_imgs``): white background; each
    pixel that received at least one event in ``[t_start_us, t_end_us)`` is painted with the
    polarity of its *latest* event there: ON (p > 0) red (255, 0, 0), OFF (p <= 0, i.e. 0 or -1)
    blue (0, 0, 255), RGB order. Events with x outside [0, width) or y outside [0, height) are
    ignored and counted. An empty window gives the plain white background. Input need not be
    time-sorted; ties in time are resolved by array order (later in the array wins).

    Args:
        events: (N,) structured array with fields t (int, microseconds), x (column, pixels),
            y (row, pixels), p (polarity); e.g. :data:`EVENT_DTYPE`.
        height, width: sensor size in pixels.
        t_start_us, t_end_us: half-open window in microseconds; None = unbounded on that side.

    Returns:
        (frame (height, width, 3) uint8 RGB, :class:`EventRenderStats`).

    Raises:
        EncodingError: events not a structured array with t, x, y, p.
        ValueError: non-positive height / width, or t_end_us < t_start_us.
    """
    ev = _check_events(events)
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise ValueError(f'event frame size must be positive, got height={height} width={width}')
    if t_start_us is not None and t_end_us is not None and t_end_us < t_start_us:
        raise ValueError(f'event window is reversed: t_start_us={t_start_us} > '
                         f't_end_us={t_end_us}')
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = EVENT_BACKGROUND_RGB
    t = ev['t']
    keep = np.ones(t.shape, dtype=bool)
    if t_start_us is not None:
        keep &= t >= t_start_us
    if t_end_us is not None:
        keep &= t < t_end_us
    x = ev['x'][keep].astype(np.int64)
    y = ev['y'][keep].astype(np.int64)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    n_win = int(keep.sum())
    n_in = int(inside.sum())
    pixels = 0
    if n_in:
        tt = t[keep][inside]
        pos = ev['p'][keep][inside].astype(np.int64) > 0
        flat = y[inside] * width + x[inside]
        order = np.argsort(tt, kind='stable')           # time order, ties keep array order
        flat, pos = flat[order], pos[order]
        # latest event per pixel = first occurrence in the reversed sequence
        uniq, first_rev = np.unique(flat[::-1], return_index=True)
        last_pos = pos[::-1][first_rev]
        pixels = int(uniq.size)
        view = frame.reshape(-1, 3)
        view[uniq[last_pos]] = EVENT_POSITIVE_RGB
        view[uniq[~last_pos]] = EVENT_NEGATIVE_RGB
    stats = EventRenderStats(total=int(t.size), in_window=n_win, rendered=n_in,
                             out_of_bounds=n_win - n_in, pixels=pixels)
    return frame, stats


def events_to_frame(events: np.ndarray, height: int, width: int, t_start_us: int | None = None,
                    t_end_us: int | None = None) -> np.ndarray:
    """Render the events of ``[t_start_us, t_end_us)`` as an (height, width, 3) uint8 RGB frame.

    Same rendering as :func:`render_events` (white background, latest polarity per pixel: ON red,
    OFF blue); out-of-bounds events are ignored and reported with a ``logging`` warning. Use
    :func:`render_events` to get the counts programmatically.

    Raises:
        EncodingError: events not a structured array with fields t, x, y, p.
        ValueError: non-positive size or reversed window.
    """
    frame, stats = render_events(events, height, width, t_start_us, t_end_us)
    if stats.out_of_bounds:
        logger.warning('events_to_frame: ignored %d of %d events outside the %dx%d sensor',
                       stats.out_of_bounds, stats.in_window, width, height)
    return frame


def load_events_npy(path: str | Path) -> np.ndarray:
    """Load a decoded event recording saved as a ``.npy`` structured array.

    Accepts any structured array with fields t, x, y, p (e.g. the Prophesee / expelliarmus decoded
    layout: t int64 microseconds, x int16, y int16, p uint8) and returns it as :data:`EVENT_DTYPE`.
    Negative polarities (-1 convention) become 0 (OFF).

    Args:
        path: file path of the ``.npy``.

    Returns:
        (N,) array of :data:`EVENT_DTYPE`, in file order.

    Raises:
        FileNotFoundError: missing file.
        EncodingError: the file does not hold a 1-D structured array with t, x, y, p.
    """
    raw = np.load(Path(path), allow_pickle=False)
    _check_events(raw)
    out = np.empty(raw.shape, dtype=EVENT_DTYPE)
    out['t'] = raw['t']
    out['x'] = raw['x']
    out['y'] = raw['y']
    out['p'] = (raw['p'] > 0).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------------------------
# signal checks: is the X sensor delivering a picture at all?

#: Default smallest fraction of valid depth pixels (finite and > 0) for a depth frame to count
#: as a signal. Real Kinect frames of ../shared/data/real have 0.66-0.73 valid.
DEPTH_MIN_VALID_RATIO = 0.05

#: Default smallest robust spread ``p99 - p1`` of a thermal frame, in the encoding's units:
#:
#: * mono8 / 8UC1: 2 grey levels. Real 8-bit LWIR frames of ../shared/data/real have at least
#:   126 (TNO Nato_camp, 32 frames) and 156 (RoadScene, 12 frames): a margin of 63x. A frozen
#:   frame has 0, a flat one with +-0.5 level of noise at most 1.
#: * mono16 / 16UC1: 8 raw counts (no real 16-bit thermal data here: the TNO frames with 1 count
#:   per grey level, the least a 16-bit source of that 8-bit picture can have, leave 15x).
#: * rgb8 / bgr8 (pre-rendered, e.g. a palette): 12 levels in the channel with the largest
#:   spread. One step of OpenCV's palettes moves a channel by up to 10 (PINK; TURBO 8, JET and
#:   INFERNO 5), so a flat frame with +-0.5 level of noise stays below; the real frames rendered
#:   with INFERNO / JET / HOT / BONE have at least 184 / 254 / 167 / 130 (10x for BONE).
THERMAL_MIN_SPREAD = {'mono8': 2.0, '8UC1': 2.0, 'mono16': 8.0, '16UC1': 8.0,
                      'rgb8': 12.0, 'bgr8': 12.0}

#: Default time without any event before an event X counts as dead, seconds (the rigs' x_timeout).
EVENT_TIMEOUT_S = 0.5

#: Pixel subsampling step of :func:`check_x_signal` for depth and thermal (rows and columns).
SIGNAL_STEP = 4

_LOW_PCT, _HIGH_PCT = 1.0, 99.0


@dataclass(frozen=True)
class SignalCheck:
    """Result of a signal check on one X frame.

    Attributes:
        ok: True if the frame (or, for :class:`XSignalMonitor`, the X stream) carries a signal.
        reason: 'ok'; per frame 'no_valid_depth', 'flat_thermal' or 'no_events'; from
            :class:`XSignalMonitor` also 'no_events_yet' (ok: an empty event frame within the
            timeout) and 'recovered' (ok: the first good frame after a dead period).
        detail: one human-readable line with the measured value, the threshold and the units.
    """

    ok: bool
    reason: str
    detail: str


def _rank_spread(sample: np.ndarray) -> tuple[float, float]:
    """(p1, p99) of a 1-D sample by nearest rank (the lower / upper rank: never narrower)."""
    n = sample.size
    lo_k = int(np.floor(_LOW_PCT / 100.0 * (n - 1)))
    hi_k = int(np.ceil(_HIGH_PCT / 100.0 * (n - 1)))
    if sample.dtype == np.uint8:                   # histogram: faster than a partition
        cum = np.cumsum(np.bincount(sample, minlength=256))
        lo, hi = np.searchsorted(cum, [lo_k, hi_k], side='right')
        return float(lo), float(hi)
    part = np.partition(sample, (lo_k, hi_k))
    return float(part[lo_k]), float(part[hi_k])


def _thermal_check(image, enc: str, min_spread, step: int) -> SignalCheck:
    if enc in ('mono8', '8UC1', 'mono16', '16UC1'):
        dtype = np.uint8 if enc in ('mono8', '8UC1') else np.uint16
        mono = _as_mono(image, enc, (dtype,), 'thermal')
        channels = [mono[::step, ::step]]
    else:
        colour = _as_color(image, enc)
        channels = [colour[::step, ::step, c] for c in range(3)]
    threshold = float(THERMAL_MIN_SPREAD[enc] if min_spread is None else min_spread)
    unit = 'counts' if enc in ('mono16', '16UC1') else 'grey levels'
    spreads = []
    for ch in channels:
        lo, hi = _rank_spread(np.ravel(ch))
        spreads.append((hi - lo, lo, hi))
    spread, lo, hi = max(spreads)
    n = channels[0].size
    text = (f'thermal p99 - p1 = {spread:g} {unit} ({lo:g}..{hi:g}) over {n} sampled pixels; '
            f'minimum {threshold:g}')
    if spread < threshold:
        return SignalCheck(False, 'flat_thermal', f'{text}: the frame is flat (dead, covered or '
                                                  'frozen sensor)')
    return SignalCheck(True, 'ok', text)


def _depth_check(image, enc: str, min_valid_ratio: float, step: int) -> SignalCheck:
    if enc == '32FC1':
        d = _as_mono(image, enc, (np.float32, np.float64), 'depth (metres)')[::step, ::step]
        valid = np.count_nonzero(np.isfinite(d) & (d > 0))
    else:
        d = _as_mono(image, enc, (np.uint16,), 'depth (millimetres)')[::step, ::step]
        valid = np.count_nonzero(d)
    ratio = valid / d.size
    text = (f'{ratio:.1%} valid depth pixels (finite and > 0) of {d.size} sampled; minimum '
            f'{min_valid_ratio:.1%}')
    if ratio < min_valid_ratio:
        return SignalCheck(False, 'no_valid_depth', f'{text}: no usable depth in this frame')
    return SignalCheck(True, 'ok', text)


def _event_check(image, enc: str) -> SignalCheck:
    if enc in ('mono8', '8UC1'):
        frame = _as_mono(image, enc, (np.uint8,), 'event')
        stride = 1
    else:
        frame = _as_color(image, enc)
        stride = 3
    flat = np.ascontiguousarray(frame).reshape(-1)
    # every pixel equals the one before it <=> all pixels are one colour (exact, whole frame)
    if flat.size > stride and not np.array_equal(flat[stride:], flat[:-stride]):
        return SignalCheck(True, 'ok', 'event frame with event pixels (not one colour)')
    colour = tuple(int(v) for v in flat[:stride])
    if enc == 'bgr8':
        colour = colour[::-1]
    is_bg = colour == EVENT_BACKGROUND_RGB or (stride == 1 and colour[0] == 255)
    what = "the renderer's background" if is_bg else 'one colour'
    return SignalCheck(False, 'no_events',
                       f'every pixel is {colour if stride == 3 else colour[0]} '
                       f'({what}): no events in this frame')


def check_x_signal(image: np.ndarray, encoding: str, modality: Modality | str,
                   min_valid_ratio: float = DEPTH_MIN_VALID_RATIO,
                   min_thermal_spread: float | None = None,
                   step: int = SIGNAL_STEP) -> SignalCheck:
    """Check that one raw X frame carries a signal (a dead, covered or frozen sensor does not).

    Call it on the array :func:`encode_x` is given (same ``encoding`` and ``modality``). Rules:

    * DEPTH ('16UC1' / 'mono16' millimetres, '32FC1' metres): a pixel is valid if finite and
      > 0; fewer than ``min_valid_ratio`` valid pixels -> ``'no_valid_depth'`` (all 0, all NaN,
      all inf, or nearly so). The detail gives the valid fraction.
    * THERMAL: robust spread ``p99 - p1`` (nearest rank) in the encoding's units (8-bit grey
      levels, or raw counts for 'mono16' / '16UC1'; for 'rgb8' / 'bgr8' the largest spread of
      the three channels) below ``min_thermal_spread`` -> ``'flat_thermal'``. Default thresholds:
      :data:`THERMAL_MIN_SPREAD` (2 levels for 8-bit grey, 8 counts for 16-bit, 12 levels
      for pre-rendered colour frames).
    * EVENT (a rendered frame): all pixels one colour (the white background of
      :func:`render_events`, or any single colour of another renderer) -> ``'no_events'``. This
      is one frame only: a static scene gives empty frames, so the stream is dead only after
      no events for a while; :class:`XSignalMonitor` applies that timeout. The whole frame is
      compared (a few event pixels must not be missed), not a subsample.

    Depth and thermal look at every ``step``-th row and column (default 4). Measured cost on
    640x512 with the defaults (one CPU core): depth 0.03-0.05 ms, thermal mono8 / mono16
    0.10-0.12 ms, thermal bgr8 0.27 ms, event frames 0.05-0.10 ms.

    Args:
        image: the decoded X image (shape and dtype as :func:`encode_x` expects per encoding).
        encoding: ROS ``sensor_msgs/Image`` encoding of ``image``.
        modality: :class:`Modality` (or its string) of the X sensor.
        min_valid_ratio: depth only, 0..1.
        min_thermal_spread: thermal only, in the encoding's units; None = the default per encoding.
        step: subsampling step (>= 1) for depth and thermal.

    Returns:
        :class:`SignalCheck`; ``reason`` is 'ok' when ``ok``.

    Raises:
        EncodingError: unknown encoding for the modality, or an array not matching the encoding
            (the same checks as :func:`encode_x`).
        ValueError: unknown modality string, or ``step`` < 1.
    """
    mod = modality if isinstance(modality, Modality) else parse_modality(modality)
    enc = str(encoding)
    valid = X_ENCODINGS[mod]
    if enc not in valid:
        raise _unknown(encoding, mod, valid)
    step = int(step)
    if step < 1:
        raise ValueError(f'step must be >= 1, got {step}')
    if mod is Modality.DEPTH:
        return _depth_check(image, enc, float(min_valid_ratio), step)
    if mod is Modality.THERMAL:
        return _thermal_check(image, enc, min_thermal_spread, step)
    return _event_check(image, enc)


class XSignalMonitor:
    """Per-stream signal state of an X sensor: per-frame :func:`check_x_signal` plus the event
    timeout, with the dead / alive transitions.

    * Depth and thermal: the stream is dead while its frames fail the check (a frame decides).
    * Events: an empty frame is normal for a static scene; the stream is dead when no frame has
      had an event for ``no_event_timeout_s`` seconds of frame stamps (``stamp - stamp of the
      last frame with events >= timeout``; before the first event, counted from the first
      frame). Until then an empty frame gives ``ok=True, reason='no_events_yet'``. A stamp older
      than the previous one (a replayed bag, a reset clock) does not advance the quiet time.

    Attributes:
        dead: the stream is currently dead.
        changed: the last :meth:`check` flipped ``dead`` (went dead, or recovered).
        dead_since_ns: stamp of the frame that made it dead, or None.
        frames, dead_frames: frames checked, and frames checked while dead.
        last: the last :class:`SignalCheck`, or None.

    :meth:`check` returns the per-frame result while alive, the failing reason while dead
    (``ok=False``), and ``reason='recovered'`` (``ok=True``) on the first good frame after.
    """

    def __init__(self, modality: Modality | str, min_valid_ratio: float = DEPTH_MIN_VALID_RATIO,
                 no_event_timeout_s: float = EVENT_TIMEOUT_S,
                 min_thermal_spread: float | None = None, step: int = SIGNAL_STEP):
        self.modality = modality if isinstance(modality, Modality) else parse_modality(modality)
        if not 0.0 <= float(min_valid_ratio) <= 1.0:
            raise ValueError(f'min_valid_ratio must be in [0, 1], got {min_valid_ratio!r}')
        if not float(no_event_timeout_s) > 0:
            raise ValueError(f'no_event_timeout_s must be > 0 seconds, got {no_event_timeout_s!r}')
        self.min_valid_ratio = float(min_valid_ratio)
        self.no_event_timeout_s = float(no_event_timeout_s)
        self.min_thermal_spread = min_thermal_spread
        self.step = int(step)
        self.reset()

    def reset(self) -> None:
        """Forget all state (e.g. after the X stream or the rig changed)."""
        self.dead = False
        self.changed = False
        self.dead_since_ns: int | None = None
        self.frames = 0
        self.dead_frames = 0
        self.last: SignalCheck | None = None
        self._quiet_ns = 0            # event stamps: quiet time accumulated so far
        self._prev_stamp: int | None = None

    def check(self, image: np.ndarray, encoding: str, stamp_ns: int) -> SignalCheck:
        """Check one X frame with header stamp ``stamp_ns`` (nanoseconds) and update the state.

        Raises:
            EncodingError, ValueError: as :func:`check_x_signal`.
        """
        frame = check_x_signal(image, encoding, self.modality, self.min_valid_ratio,
                               self.min_thermal_spread, self.step)
        stamp = int(stamp_ns)
        if self.modality is Modality.EVENT:
            frame = self._event_timeout(frame, stamp)
        self._prev_stamp = stamp
        was_dead = self.dead
        self.dead = not frame.ok
        self.changed = self.dead != was_dead
        self.frames += 1
        if self.dead:
            self.dead_frames += 1
            if not was_dead:
                self.dead_since_ns = stamp
        elif was_dead:
            gone = (stamp - self.dead_since_ns) / 1e9 if self.dead_since_ns is not None else 0.0
            frame = SignalCheck(True, 'recovered', f'signal back after {gone:.3f} s dead: '
                                                   f'{frame.detail}')
            self.dead_since_ns = None
        self.last = frame
        return frame

    def _event_timeout(self, frame: SignalCheck, stamp: int) -> SignalCheck:
        if frame.ok:
            self._quiet_ns = 0
            return frame
        if self._prev_stamp is not None and stamp > self._prev_stamp:
            self._quiet_ns += stamp - self._prev_stamp
        quiet_s = self._quiet_ns / 1e9
        if quiet_s >= self.no_event_timeout_s:
            return SignalCheck(False, 'no_events', f'no events for {quiet_s:.3f} s (timeout '
                                                   f'{self.no_event_timeout_s:g} s): '
                                                   f'{frame.detail}')
        return SignalCheck(True, 'no_events_yet', f'no events for {quiet_s:.3f} s (timeout '
                                                  f'{self.no_event_timeout_s:g} s)')
