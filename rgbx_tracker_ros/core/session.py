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

"""One tracking session of the tracker node (ROS-free): init requests by stamp, reset, frames
tracked on X alone, box clipping, score threshold and the modality state shown to the user.

:class:`TrackingSession` takes the frame pairs the synchronizer releases
(:class:`rgbx_tracker_ros.core.sync.FramePair` whose payloads are :class:`Frame`) and returns
one :class:`Answer` per frame to publish. It runs on the node's worker thread; only
:meth:`TrackingSession.request_init` and :meth:`TrackingSession.request_reset` may be called from
other threads.

Initialisation requests carry the header stamp of the frame the box refers to:

- stamp 0: the next frame;
- the stamp of the last processed frame: re-initialise on it (the frame is cached) and answer it
  again (``Answer.repeat``);
- a future stamp: when that frame (or the first later one) is processed;
- an older stamp: the next frame, with a warning.

Boxes: an init box is clipped to the image and rejected (a counted problem ``init.invalid_box``
with the reason) when it is not finite, has no positive size, lies outside the image, or is
smaller than ``min_box_size`` pixels after clipping. Every published box lies inside the image
with a positive size (``core.boxes.clip_box_xywh``); a tracker box entirely outside the image is
published as no detection and counted (``tracker.box_outside_image``).

X frames of another size than RGB are scaled to the RGB size when the aspect ratios agree (to 1 %;
registered cameras at another resolution); otherwise, unless ``x_resize`` is 'stretch', the X frame
is a counted bad frame (``x.aspect_mismatch``, sizes in the message) and the RGB frame is tracked
on RGB alone.

With a registration (parameter ``x_homography``: the homography X pixels -> RGB pixels, from the
rig's ``registration:`` key; :mod:`rgbx_tracker_ros.core.registration`) the X frame of any size
is warped into the RGB frame's grid instead (``cv2.warpPerspective``, bilinear; nearest
neighbour for depth, whose values must not be blended across edges); RGB pixels the X camera
does not see are 0. The 3D marker of a depth rig then reads the depth of the box mapped back into
the depth frame's own grid.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading
from typing import Any, Callable

import cv2
import numpy as np

from rgbx_tracker_ros.core import health as health_mod
from rgbx_tracker_ros.core.boxes import clip_box_xywh, validate_box_xywh, validate_init_box
from rgbx_tracker_ros.core.depth import DepthError, target_position
from rgbx_tracker_ros.core.params import NodeParams
from rgbx_tracker_ros.core.registration import Registration, RegistrationError
from rgbx_tracker_ros.core.vis import box_centre

_logger = logging.getLogger(__name__)

_TRAIL_LENGTH = 20
_ASPECT_TOLERANCE = 0.01


class Frame:
    """One decoded input frame (the payload pushed into the synchronizer), encoded for the
    tracker when first used.

    At 30 Hz a node tracks only some of the frames it receives (the rest are answered stale or
    paired away), so the per-frame encoding (a thermal percentile stretch, a depth colour map,
    a channel conversion) runs only for a frame that is tracked: ``encode`` is kept and called
    on the first access of :attr:`image`, once. The input was already validated (dtype, shape,
    encoding) when it arrived, so a bad frame is still counted on arrival.

    Args:
        stamp_ns: header stamp, nanoseconds.
        frame_id: header frame_id.
        image: (H, W, 3) uint8 image encoded for the tracker (core.modality), or None with
            ``encode``.
        arrival_ns: monotonic arrival time, nanoseconds.
        depth_m: (H, W) float32 metres for a depth X frame when a 3D marker is wanted, else None
            (or a callable returning it, evaluated on first access like ``encode``).
        encode: zero-argument callable returning the encoded image (deferred encoding).
        shape_hw: (H, W) of the image, needed with ``encode`` (the raw array's size).

    Raises:
        ValueError: neither ``image`` nor ``encode`` (with ``shape_hw``) given.
    """

    __slots__ = ('stamp_ns', 'frame_id', 'arrival_ns', '_image', '_encode', '_depth',
                 'shape_hw')

    def __init__(self, stamp_ns: int, frame_id: str, image: np.ndarray | None,
                 arrival_ns: int, depth_m: Any = None,
                 encode: Callable[[], np.ndarray] | None = None,
                 shape_hw: tuple[int, int] | None = None) -> None:
        if image is None and (encode is None or shape_hw is None):
            raise ValueError('Frame needs an image, or encode= with shape_hw=')
        self.stamp_ns, self.frame_id, self.arrival_ns = stamp_ns, frame_id, arrival_ns
        self._image, self._encode, self._depth = image, encode, depth_m
        self.shape_hw = tuple(image.shape[:2]) if image is not None else tuple(shape_hw)

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 tracker input (encoded now if it was deferred)."""
        if self._image is None:
            self._image, self._encode = self._encode(), None
        return self._image

    @property
    def encoded(self) -> bool:
        """True once :attr:`image` exists (given, or encoded on access)."""
        return self._image is not None

    @property
    def depth_m(self) -> np.ndarray | None:
        """(H, W) float32 metres of a depth X frame for the 3D marker, else None."""
        if callable(self._depth):
            self._depth = self._depth()
        return self._depth

    def __repr__(self) -> str:
        return (f'Frame(stamp_ns={self.stamp_ns}, frame_id={self.frame_id!r}, '
                f'shape_hw={self.shape_hw}, encoded={self.encoded})')


@dataclasses.dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the camera a 3D marker is computed in.

    Attributes:
        k: (3, 3) pinhole matrix (pixels).
        size_wh: (width, height) of the image the intrinsics belong to, pixels.
        frame_id: the camera_info frame_id (the marker's frame).
    """

    k: np.ndarray
    size_wh: tuple[int, int]
    frame_id: str


@dataclasses.dataclass
class Answer:
    """What to publish for one frame.

    Attributes:
        stamp_ns / frame_id: header of the answer (the RGB frame's; the X frame's stamp and the
            RGB camera's frame_id while RGB is lost).
        box: published box (x, y, w, h) pixels top-left, clipped to the image; None = no
            detection (no target, score below ``score_threshold``, box outside the image).
        score: tracker score in [0, 1] (1.0 on an init frame), or None without a target.
        tracking: a target is initialised.
        state: 'RGB-X', 'RGB only' or 'X only' (core.health STATE_*).
        used_x: the frame was tracked with X.
        rgb_missing: tracked on X alone (RGB lost), on a black RGB frame.
        repeat: the last frame answered again (a re-initialisation on it); not counted twice.
        late: released out of stamp order (synchronizer reorder window).
        image: the (H, W, 3) picture for the debug image (the X frame while RGB is lost).
        trail: recent box centres (pixels) for the debug image.
        position: the 3D target (core.depth.TargetPosition) for depth rigs with intrinsics.
        marker_frame_id: frame_id of the 3D marker.
        arrival_ns: arrival time of the frame (latency = publish time - arrival_ns).
    """

    stamp_ns: int
    frame_id: str
    box: np.ndarray | None
    score: float | None
    tracking: bool
    state: str
    used_x: bool
    rgb_missing: bool
    repeat: bool
    late: bool
    image: np.ndarray
    trail: list
    position: Any = None
    marker_frame_id: str = ''
    arrival_ns: int = 0


@dataclasses.dataclass
class _InitRequest:
    stamp_ns: int
    box_xywh: np.ndarray | None     # None: a reset request
    source: str = '~/init'


def view_state(rgb: np.ndarray, used_x: bool, dark_level: float) -> str:
    """The modality state shown to the user: 'RGB-X', 'RGB only' (no X frame), or 'X only' (X
    present and the RGB frame dark: mean intensity (0-255) of a 1/4 subsample below
    ``dark_level``; the model then effectively follows X). ``dark_level`` 0 = never dark."""
    if not used_x:
        return health_mod.STATE_RGB_ONLY
    if dark_level > 0 and float(rgb[::4, ::4].mean()) < dark_level:
        return health_mod.STATE_X_ONLY
    return health_mod.STATE_RGBX


def aspect_mismatch(rgb_hw: tuple[int, int], x_hw: tuple[int, int],
                    tolerance: float = _ASPECT_TOLERANCE) -> bool:
    """True when the aspect ratios (W / H) of two image sizes (H, W) differ by more than
    ``tolerance`` (relative)."""
    a = rgb_hw[1] / max(rgb_hw[0], 1)
    b = x_hw[1] / max(x_hw[0], 1)
    return abs(a - b) > tolerance * a


class TrackingSession:
    """The per-target state of a tracker node (see the module docstring for the rules).

    Args:
        tracker: object with ``initialize(rgb, x, box_xywh)``, ``track(rgb, x) -> (box, score)``,
            ``initialized`` and optionally ``reset()`` (core.tracker.RgbxTracker).
        params: the node parameters (``initial_box``, ``score_threshold``, ``min_box_size``,
            ``rgb_dark_level``, ``x_resize``, ``x_homography``, ``modality``).
        problem: called as ``problem(topic, reason, detail)`` for every counted problem (bad
            init box, X of the wrong aspect ratio, non-finite tracker output, ...).
        log: called as ``log(level, text)`` (logging levels) for messages worth a log line.
    """

    def __init__(self, tracker: Any, params: NodeParams,
                 problem: Callable[[str, str, str], None] | None = None,
                 log: Callable[[int, str], None] | None = None) -> None:
        self.tracker = tracker
        self.params = params
        self._problem = problem or (lambda topic, reason, detail: None)
        self._log = log or (lambda level, text: _logger.log(level, text))
        self._lock = threading.Lock()
        self._requests: list[_InitRequest] = []
        self._pending: _InitRequest | None = None
        self._initial_box_pending = params.initial_box is not None
        self._last: tuple[Any, Frame, np.ndarray | None] | None = None
        self._rgb_geometry: tuple[tuple[int, int], str] | None = None
        self._trail: collections.deque = collections.deque(maxlen=_TRAIL_LENGTH)
        self._resets_requested = 0
        self._resets_applied = 0
        self._reset_done = threading.Condition(self._lock)
        self.intrinsics: Intrinsics | None = None
        self.state = ''
        self._registration: tuple[Any, Registration | None] = (None, None)

    # ------------------------------------------------------------ requests (any thread)
    def request_init(self, stamp_ns: int, box_xywh: Any, source: str = '~/init') -> bool:
        """Queue an initialisation on the frame stamped ``stamp_ns`` (0 = the next frame).

        Returns:
            False (and a counted ``init.invalid_box`` problem) for a box that is not 4 finite
            numbers with w, h > 0 pixels; the image bounds are checked when it is applied.
        """
        try:
            box = validate_box_xywh(box_xywh)
        except ValueError as exc:
            self._problem('init', 'invalid_box', f'{source}: {exc}')
            return False
        with self._lock:
            self._requests.append(_InitRequest(int(stamp_ns), box, source))
        return True

    def request_reset(self) -> int:
        """Queue a reset (drop the target); returns a ticket for :meth:`wait_reset`."""
        with self._lock:
            self._resets_requested += 1
            self._requests.append(_InitRequest(0, None))
            return self._resets_requested

    def wait_reset(self, ticket: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds until the reset ``ticket`` was applied."""
        with self._reset_done:
            return self._reset_done.wait_for(lambda: self._resets_applied >= ticket,
                                             timeout=timeout_s)

    @property
    def has_requests(self) -> bool:
        """True while init / reset requests wait for the worker."""
        with self._lock:
            return bool(self._requests)

    # ------------------------------------------------------------ worker thread
    def handle_requests(self) -> list[Answer]:
        """Apply queued init / reset requests; returns the answer of a re-initialisation on the
        last processed frame, if any."""
        with self._lock:
            requests, self._requests = self._requests, []
        out: list[Answer] = []
        for req in requests:
            if req.box_xywh is None:
                self._apply_reset()
                continue
            last_stamp = self._last[1].stamp_ns if self._last is not None else None
            if req.stamp_ns != 0 and last_stamp is not None and req.stamp_ns == last_stamp:
                pair, frame, x_img = self._last
                self._pending = None
                answer = self._run(pair, frame, x_img, init=req, repeat=True)
                out.append(answer)
                continue
            if req.stamp_ns != 0 and last_stamp is not None and req.stamp_ns < last_stamp:
                self._log(logging.WARNING,
                          f'{req.source} refers to stamp {req.stamp_ns}, older than the last '
                          f'processed frame {last_stamp}: initialising on the next frame '
                          f'instead')
                req = _InitRequest(0, req.box_xywh, req.source)
            self._pending = req
            self._log(logging.INFO, f'{req.source} box {np.round(req.box_xywh, 1).tolist()} '
                                    f'queued for '
                      + ('the next frame' if req.stamp_ns == 0 else f'frame stamp '
                                                                    f'{req.stamp_ns}'))
        return out

    def process(self, pair: Any) -> Answer:
        """Track (or initialise) on one released pair (core.sync.FramePair of :class:`Frame`)
        and return its answer."""
        if pair.rgb_missing:
            frame = self._x_alone_frame(pair.x)
        else:
            frame = pair.rgb
            self._rgb_geometry = (frame.shape_hw, frame.frame_id)
        x_img = self._x_image(pair.x, frame) if pair.x is not None else None
        init = None
        pend = self._pending
        if pend is not None and (pend.stamp_ns == 0 or frame.stamp_ns >= pend.stamp_ns):
            init, self._pending = pend, None
        elif self._initial_box_pending:
            init = _InitRequest(frame.stamp_ns, np.asarray(self.params.initial_box, np.float64),
                                'initial_box')
        self._initial_box_pending = False
        self._last = (pair, frame, x_img)
        return self._run(pair, frame, x_img, init, late=bool(getattr(pair, 'late', False)))

    def reset(self) -> None:
        """Drop the target and the cached last frame now (worker thread)."""
        reset = getattr(self.tracker, 'reset', None)
        if reset is not None:
            reset()
        self._pending = None
        self._initial_box_pending = False
        self._trail.clear()

    def on_time_jump(self) -> None:
        """The stamps started over (core.sync time jump): forget the cached last frame, so that
        an init request is matched against the new time base only."""
        self._last = None

    # ------------------------------------------------------------ internals
    def _apply_reset(self) -> None:
        self.reset()
        self._log(logging.INFO, '~/reset: target dropped; waiting for ~/init or '
                                '~/init_from_detections')
        with self._reset_done:
            self._resets_applied += 1
            self._reset_done.notify_all()

    @property
    def registration(self) -> Registration | None:
        """The X -> RGB registration of ``params.x_homography`` (None: X is only resized)."""
        key = self.params.x_homography
        if self._registration[0] != key:
            self._registration = (key, None if key is None else Registration.from_homography(key))
        return self._registration[1]

    def _x_image(self, x: Frame, frame: Frame) -> np.ndarray | None:
        img = x.image
        rgb_hw, x_hw = frame.image.shape[:2], img.shape[:2]
        reg = self.registration
        if reg is not None and self._rgb_geometry is not None:   # (no RGB grid yet: X as is)
            depth = self.params.modality == 'depth'
            return reg.warp(img, rgb_hw, 'nearest' if depth else 'linear')
        if x_hw == rgb_hw:
            return img
        if self.params.x_resize != 'stretch' and aspect_mismatch(rgb_hw, x_hw):
            self._problem('x', 'aspect_mismatch',
                          f'X frame {x_hw[1]}x{x_hw[0]} and RGB frame {rgb_hw[1]}x{rgb_hw[0]} '
                          f'have different aspect ratios: tracked on RGB alone (register the '
                          f'cameras, or set x_resize: stretch to resize anyway)')
            return None
        return cv2.resize(img, (rgb_hw[1], rgb_hw[0]), interpolation=cv2.INTER_LINEAR)

    def _x_alone_frame(self, x: Frame) -> Frame:
        """RGB lost: a black RGB frame the size of the last RGB frame (boxes stay in RGB pixels)
        with the X frame's stamp and the RGB camera's frame_id; X's own size and frame_id before
        any RGB frame."""
        shape, frame_id = self._rgb_geometry or (x.shape_hw, x.frame_id)
        return Frame(x.stamp_ns, frame_id, np.zeros((shape[0], shape[1], 3), np.uint8),
                     x.arrival_ns)

    def _run(self, pair: Any, frame: Frame, x_img: np.ndarray | None,
             init: _InitRequest | None, repeat: bool = False, late: bool = False) -> Answer:
        h, w = frame.image.shape[:2]
        box = score = None
        if init is not None:
            try:
                clipped = validate_init_box(init.box_xywh, w, h, self.params.min_box_size)
                self.tracker.initialize(frame.image, x_img, clipped)
                box, score = np.asarray(clipped, np.float64), 1.0
                self._trail.clear()
                self._log(logging.INFO, f'target initialised at {np.round(box, 1).tolist()} '
                                        f'({init.source}) on frame stamp {frame.stamp_ns}')
            except ValueError as exc:
                self._problem('init', 'invalid_box', f'{init.source}: {exc}')
        elif getattr(self.tracker, 'initialized', False):
            raw_box, raw_score = self.tracker.track(frame.image, x_img)
            box = np.asarray(raw_box, np.float64).reshape(-1)
            score = float(raw_score)
            if box.size != 4 or not np.all(np.isfinite(box)) or not math.isfinite(score):
                self._problem('tracker', 'nan_box', f'tracker returned box {box.tolist()} '
                                                    f'score {score} for stamp {frame.stamp_ns}')
                box = score = None
            else:
                clipped = clip_box_xywh(box, w, h)
                if clipped is None:
                    self._problem('tracker', 'box_outside_image',
                                  f'tracker box {np.round(box, 1).tolist()} lies outside the '
                                  f'{w}x{h} image at stamp {frame.stamp_ns}: no detection')
                box = clipped
        tracking = bool(getattr(self.tracker, 'initialized', False))
        out_box = box if (box is not None and score is not None
                          and score >= self.params.score_threshold) else None
        used_x = x_img is not None
        state = (health_mod.STATE_X_ONLY if pair.rgb_missing else
                 view_state(frame.image, used_x, self.params.rgb_dark_level))
        self.state = state
        centre = box_centre(out_box)
        if centre is not None and not repeat:
            self._trail.append(centre)
        position, marker_frame = self._position(frame, pair, out_box)
        view = x_img if pair.rgb_missing and x_img is not None else frame.image
        return Answer(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, box=out_box,
                      score=score if box is not None else None, tracking=tracking, state=state,
                      used_x=used_x, rgb_missing=bool(pair.rgb_missing), repeat=repeat,
                      late=late, image=view, trail=list(self._trail), position=position,
                      marker_frame_id=marker_frame, arrival_ns=frame.arrival_ns)

    def _position(self, frame: Frame, pair: Any, box: np.ndarray | None) -> tuple[Any, str]:
        info = self.intrinsics
        depth = pair.x.depth_m if pair.x is not None else None
        frame_id = (info.frame_id if info is not None and info.frame_id else
                    (pair.x.frame_id if pair.x is not None else frame.frame_id))
        if box is None or info is None or depth is None:
            return None, frame_id
        box_wh = (frame.image.shape[1], frame.image.shape[0])
        reg = self.registration
        try:
            if reg is not None and self._rgb_geometry is not None:   # box -> the depth grid
                box, box_wh = reg.rgb_box_to_x(box), (depth.shape[1], depth.shape[0])
            position = target_position(depth, box, info.k, box_image_wh=box_wh,
                                       k_image_wh=info.size_wh)
        except (DepthError, RegistrationError) as exc:
            self._problem('marker', 'depth', str(exc))
            position = None
        return position, frame_id
