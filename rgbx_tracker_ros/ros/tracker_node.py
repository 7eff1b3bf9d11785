"""ROS 2 node ``tracker_node``: RGB-X single-object tracking on two image topics.

Subscribes ``rgb/image_raw`` and ``x/image_raw`` (relative names: namespaces and remaps apply;
with ``modality: event`` and ``event_input: raw``, raw events as ``sensor_msgs/PointCloud2``
with fields x, y, t (microseconds), p on ``x/events`` instead, rendered per RGB frame interval),
pairs them by header stamp with :class:`rgbx_tracker_ros.core.sync.FramePairer` (``slop``
seconds) and tracks with :class:`rgbx_tracker_ros.core.tracker.RgbxTracker`. When no X frame
arrives for ``x_timeout`` seconds it tracks on RGB alone (the model's missing-modality path) and
says so (log + WARN in diagnostics); it goes back to RGB-X as soon as X frames return.

Publishes, each with the header of the RGB frame it answers:

- ``~/detections`` (``vision_msgs/Detection2DArray``): one detection per processed frame (box
  centre/size in pixels, ``results[0].hypothesis`` class id 'target' and score, id 'target'), or
  an empty array when no target is tracked;
- ``~/debug_image`` (``sensor_msgs/Image`` rgb8, only while someone subscribes): the RGB frame
  with box, score, modality state and a short trail;
- ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``) every ``diagnostics_period`` seconds and
  at once when the X state changes: input rates, synchronized pairs, frames dropped and why, bad
  frames and why, X state, latency, device, score.

Initialisation: the ``initial_box`` parameter ([x, y, w, h] pixels, applied on the first frame),
or a ``vision_msgs/Detection2D`` on ``~/init`` whose header stamp names the frame the box refers
to: stamp 0 = the next frame; the last processed frame = re-initialise on it (cached) and publish
its detection again; a future stamp = when that frame (or the first later one) is processed; an
older stamp = the next frame, with a warning. This makes initialisation deterministic when a
player replays a bag in lockstep.

While X is missing, an RGB frame is held ``x_grace`` seconds (arrival clock) before it is
released alone, so that an X frame sent together with it but delivered a moment later still
pairs (this is what makes the first frame after an X outage pair in a lockstep replay).

Threads: image callbacks only decode, encode (core.modality) and push into the pairer; one
worker thread pops ready pairs and runs inference (it keeps the newest ready pair and counts
older ones as ``dropped.stale`` when inference falls behind). The arrival clock of the pairer is
the monotonic clock, never ROS time, so a lockstep player with a paused ``/clock`` cannot
deadlock it.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray

from rgbx_tracker_ros.core import health as health_mod
from rgbx_tracker_ros.core.modality import encode_rgb, encode_x, EVENT_DTYPE, events_to_frame
from rgbx_tracker_ros.core.sync import FramePair, FramePairer
from rgbx_tracker_ros.core.types import Modality, parse_modality
from rgbx_tracker_ros.core.vis import box_centre, draw_track
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, detection_to_box_xywh, ImageConversionError, image_to_array,
    ns_to_stamp, pointcloud_to_events, result_to_detections, stamp_to_ns)

NODE_NAME = 'tracker_node'
DEFAULT_CHECKPOINT_NAME = 't224_demo.pt'
RANDOM_WEIGHTS = 'none'
_TRAIL_LENGTH = 20
_MAX_PENDING = 8


@dataclasses.dataclass(frozen=True)
class NodeParams:
    """Validated node parameters (see :func:`declare_parameters` for their meaning)."""

    variant: str
    checkpoint: str
    device: str
    modality: Modality
    event_input: str
    slop: float
    x_timeout: float
    x_grace: float
    initial_box: tuple[float, float, float, float] | None
    score_threshold: float
    qos_reliability: str
    diagnostics_period: float


def _range(lo: float, hi: float) -> list[FloatingPointRange]:
    return [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]


def declare_parameters(node: Node) -> None:
    """Declare the parameters with descriptions and ranges (defaults: config/tracker.yaml)."""
    d = node.declare_parameter
    d('variant', 't224', ParameterDescriptor(
        description="model variant (t224, s224, b224, b384, l224, l384, or a test_* variant); "
                    "a checkpoint's own variant takes precedence", read_only=True))
    d('checkpoint', '', ParameterDescriptor(
        description=f"path to a .pt checkpoint; empty = the package's checkpoints/"
                    f"{DEFAULT_CHECKPOINT_NAME}; '{RANDOM_WEIGHTS}' = random weights (tests only)",
        read_only=True))
    d('device', 'auto', ParameterDescriptor(
        description="inference device: auto (CUDA when available, else CPU), cpu, cuda, cuda:N",
        read_only=True))
    d('modality', 'thermal', ParameterDescriptor(
        description="X modality on x/image_raw: thermal, depth, event, or rgb (no X topic)",
        read_only=True))
    d('event_input', 'frame', ParameterDescriptor(
        description="modality event only: 'frame' = rendered event frames on x/image_raw; "
                    "'raw' = raw events (sensor_msgs/PointCloud2 with fields x, y, t in "
                    "microseconds, p) on x/events, rendered per RGB frame interval",
        read_only=True))
    d('slop', 0.02, ParameterDescriptor(
        description='largest |t_x - t_rgb| between header stamps of a pair, seconds',
        floating_point_range=_range(0.0, 1.0), read_only=True))
    d('x_timeout', 0.5, ParameterDescriptor(
        description='seconds without X (arrival clock) before tracking on RGB alone; > slop',
        floating_point_range=_range(0.001, 60.0), read_only=True))
    d('x_grace', 0.03, ParameterDescriptor(
        description='while X is missing, hold an RGB frame this long (arrival clock) so that an '
                    'X frame sent with it but delivered just after it can still pair, s',
        floating_point_range=_range(0.0, 1.0), read_only=True))
    d('initial_box', None, ParameterDescriptor(
        description='[x, y, w, h] pixels (top-left origin) of the target in the first frame; '
                    'empty = wait for a vision_msgs/Detection2D on ~/init',
        dynamic_typing=True, read_only=True))
    d('score_threshold', 0.0, ParameterDescriptor(
        description='publish an empty Detection2DArray when the score is below this (the '
                    'tracker keeps tracking)', floating_point_range=_range(0.0, 1.0),
        read_only=True))
    d('qos_reliability', 'best_effort', ParameterDescriptor(
        description='reliability of the image subscriptions: best_effort (sensor data) or '
                    'reliable', read_only=True))
    d('diagnostics_period', 1.0, ParameterDescriptor(
        description='seconds between /diagnostics messages (steady clock)',
        floating_point_range=_range(0.05, 60.0), read_only=True))


def read_parameters(node: Node) -> NodeParams:
    """Read and validate the declared parameters.

    Raises:
        ValueError: naming the parameter, the value received and what is valid.
    """
    g = node.get_parameter
    device = str(g('device').value).strip().lower()
    if not (device in ('auto', 'cpu', 'cuda') or device.startswith('cuda:')):
        raise ValueError(f"parameter device={device!r}: expected auto, cpu, cuda or cuda:N")
    reliability = str(g('qos_reliability').value).strip().lower().replace('-', '_')
    if reliability not in ('best_effort', 'reliable'):
        raise ValueError(f'parameter qos_reliability={reliability!r}: expected best_effort or '
                         f'reliable')
    event_input = str(g('event_input').value).strip().lower()
    if event_input not in ('frame', 'raw'):
        raise ValueError(f"parameter event_input={event_input!r}: expected 'frame' or 'raw'")
    slop = float(g('slop').value)
    x_timeout = float(g('x_timeout').value)
    if not 0.0 <= slop < x_timeout:
        raise ValueError(f'parameters slop={slop} and x_timeout={x_timeout}: need '
                         f'0 <= slop < x_timeout (seconds)')
    raw_box = g('initial_box').value
    box = None
    if raw_box is not None and not isinstance(raw_box, str) and len(raw_box) > 0:
        vals = [float(v) for v in raw_box]
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals) or vals[2] <= 0 \
                or vals[3] <= 0:
            raise ValueError(f'parameter initial_box={list(raw_box)}: expected [x, y, w, h] in '
                             f'pixels with w > 0 and h > 0, or [] to wait for ~/init')
        box = (vals[0], vals[1], vals[2], vals[3])
    elif isinstance(raw_box, str) and raw_box.strip():
        raise ValueError(f'parameter initial_box={raw_box!r}: expected a list [x, y, w, h]')
    return NodeParams(
        variant=str(g('variant').value), checkpoint=str(g('checkpoint').value).strip(),
        device=device, modality=parse_modality(str(g('modality').value)),
        event_input=event_input, slop=slop,
        x_timeout=x_timeout, x_grace=float(g('x_grace').value), initial_box=box,
        score_threshold=float(g('score_threshold').value),
        qos_reliability=reliability, diagnostics_period=float(g('diagnostics_period').value))


def default_checkpoint() -> Path | None:
    """The package's committed demo checkpoint: install share dir first, then the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory('rgbx_tracker_ros')) / 'checkpoints'
                          / DEFAULT_CHECKPOINT_NAME)
    except Exception:  # noqa: BLE001 - not installed in an ament index: use the source tree
        pass
    candidates.append(Path(__file__).resolve().parents[2] / 'checkpoints'
                      / DEFAULT_CHECKPOINT_NAME)
    return next((c for c in candidates if c.is_file()), None)


def resolve_checkpoint(value: str) -> Path | None:
    """Parameter value -> checkpoint path, or None for random weights ('none').

    Raises:
        FileNotFoundError: when the named (or the default) checkpoint does not exist.
    """
    if value.lower() == RANDOM_WEIGHTS:
        return None
    if not value:
        found = default_checkpoint()
        if found is None:
            raise FileNotFoundError(
                f'no checkpoint given and the default checkpoints/{DEFAULT_CHECKPOINT_NAME} was '
                f"not found; set the checkpoint parameter to a .pt file (or '{RANDOM_WEIGHTS}' "
                f'for random weights)')
        return found
    path = Path(value).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'parameter checkpoint={value!r}: no such file')
    return path


@dataclasses.dataclass
class _Frame:
    """One decoded and encoded input frame (payload pushed into the pairer)."""

    header: Any              # std_msgs/Header of the message
    image: np.ndarray        # (H, W, 3) uint8 encoded for the tracker
    arrival_ns: int          # monotonic arrival time


@dataclasses.dataclass
class _InitRequest:
    stamp_ns: int
    box_xywh: np.ndarray


class EventWindowRenderer:
    """Raw events -> one rendered X frame per RGB frame interval (no ROS; used by the node).

    The X frame of an RGB frame with stamp t_k shows the events of ``[t_(k-1), t_k)`` (the first
    RGB frame: all buffered events before t_0), rendered with ``core.modality.events_to_frame``
    at the RGB frame's size (the event sensor is assumed registered to the RGB camera). A window
    is rendered once the event stream has covered it: an event message stamped at or after t_k
    (its header stamp = the end of the time span it covers) has arrived.

    Args:
        max_pending: RGB windows waiting for events beyond this are rendered from what is there.
        keep_without_rgb_s: before any RGB frame, events older than this are discarded.
    """

    def __init__(self, max_pending: int = 8, keep_without_rgb_s: float = 1.0) -> None:
        self._chunks: list[np.ndarray] = []
        self._covered_ns = -1
        self._prev_rgb_ns: int | None = None
        self._pending: list[tuple[int, int | None, tuple[int, int]]] = []
        self._max_pending = int(max_pending)
        self._keep_us = int(keep_without_rgb_s * 1e6)

    def add_events(self, events: np.ndarray, stamp_ns: int) -> list[tuple[int, np.ndarray]]:
        """Buffer events ((N,) EVENT_DTYPE, t in microseconds) of a message stamped
        ``stamp_ns``; return the (RGB stamp, (H, W, 3) uint8 frame) windows now complete."""
        if events.size:
            self._chunks.append(events)
        self._covered_ns = max(self._covered_ns, int(stamp_ns))
        if self._prev_rgb_ns is None and self._chunks:
            limit = self._covered_ns // 1000 - self._keep_us
            self._chunks = [c[c['t'] >= limit] for c in self._chunks]
        return self._render(force=False)

    def add_rgb(self, stamp_ns: int, shape_hw: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
        """Open the window ending at an RGB frame's stamp; return the windows now complete."""
        stamp_ns = int(stamp_ns)
        if self._prev_rgb_ns is not None and stamp_ns <= self._prev_rgb_ns:
            return []  # out of order or duplicate: the pairer counts it
        self._pending.append((stamp_ns, self._prev_rgb_ns, (int(shape_hw[0]), int(shape_hw[1]))))
        self._prev_rgb_ns = stamp_ns
        return self._render(force=len(self._pending) > self._max_pending)

    def _render(self, force: bool) -> list[tuple[int, np.ndarray]]:
        out = []
        while self._pending and (force or self._pending[0][0] <= self._covered_ns):
            stamp, start, (h, w) = self._pending.pop(0)
            force = force and len(self._pending) > self._max_pending
            events = (np.concatenate(self._chunks) if self._chunks
                      else np.zeros(0, dtype=EVENT_DTYPE))
            t_end = stamp // 1000
            out.append((stamp, events_to_frame(events, h, w,
                                               None if start is None else start // 1000, t_end)))
            later = events[events['t'] >= t_end]
            self._chunks = [later] if later.size else []
        return out


class TrackerNode(Node):
    """The RGB-X tracker node (see the module docstring for topics, parameters and behaviour).

    Raises (from the constructor):
        ValueError: invalid parameters.
        FileNotFoundError: missing checkpoint.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self)
        self.params = read_parameters(self)
        p = self.params

        from rgbx_tracker_ros.core.tracker import RgbxTracker  # torch: import late

        ckpt = resolve_checkpoint(p.checkpoint)
        if ckpt is None:
            self.get_logger().warning(f"checkpoint '{RANDOM_WEIGHTS}': variant {p.variant} "
                                      f'with RANDOM weights (for tests; tracking is meaningless)')
        t0 = time.monotonic()
        self._tracker = RgbxTracker.from_checkpoint(ckpt, variant=p.variant, device=p.device)
        self.get_logger().info(
            f'model {getattr(self._tracker, "variant", p.variant)} on '
            f'{self._tracker.device} from {ckpt if ckpt else "random weights"} loaded in '
            f'{time.monotonic() - t0:.1f} s; modality {p.modality.value}, slop {p.slop} s, '
            f'x_timeout {p.x_timeout} s')

        self._x_expected = p.modality is not Modality.RGB
        self._health = health_mod.TrackerHealth(str(self._tracker.device),
                                                x_expected=self._x_expected)
        self._pairer = FramePairer(p.slop, p.x_timeout, max_pending=_MAX_PENDING)
        self._lock = threading.Lock()   # init requests, RGB arrival times, event renderer
        self._init_requests: list[_InitRequest] = []
        self._pending_init: _InitRequest | None = None
        self._initial_box_pending = p.initial_box is not None
        self._last: tuple[FramePair, _Frame, np.ndarray | None] | None = None
        self._trail: collections.deque = collections.deque(maxlen=_TRAIL_LENGTH)
        self._warned_resize = False
        self._rgb_arrivals: dict[int, int] = {}  # pending RGB stamp -> arrival (x_grace)
        self._grace_ns = int(p.x_grace * 1e9) if self._x_expected else 0
        self._wake = threading.Event()
        self._stop = threading.Event()

        reliability = (ReliabilityPolicy.RELIABLE if p.qos_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                               reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._det_pub = self.create_publisher(Detection2DArray, '~/detections', out_qos)
        self._dbg_pub = self.create_publisher(
            Image, '~/debug_image', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                                               reliability=ReliabilityPolicy.RELIABLE))
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', out_qos)
        self._init_sub = self.create_subscription(Detection2D, '~/init', self._on_init, out_qos)
        # X first: when both are ready in one executor pass, X is pushed before its RGB frame
        self._events = None
        if not self._x_expected:
            self._x_sub = None
        elif p.modality is Modality.EVENT and p.event_input == 'raw':
            self._events = EventWindowRenderer()
            self._x_sub = self.create_subscription(PointCloud2, 'x/events', self._on_events,
                                                   image_qos)
        else:
            self._x_sub = self.create_subscription(Image, 'x/image_raw', self._on_x, image_qos)
        self._rgb_sub = self.create_subscription(Image, 'rgb/image_raw', self._on_rgb, image_qos)
        self._diag_timer = self.create_timer(p.diagnostics_period, self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._worker = threading.Thread(target=self._worker_loop, name='tracker_worker',
                                        daemon=True)
        self._worker.start()
        init_text = (f'initial_box {list(p.initial_box)}' if p.initial_box else
                     f'waiting for a Detection2D on {self.resolve_topic_name("~/init")}')
        self.get_logger().info(
            f'listening on {self._rgb_sub.topic_name}'
            + (f' and {self._x_sub.topic_name}' if self._x_sub else ' (RGB only)')
            + f' ({p.qos_reliability}); {init_text}')

    # ------------------------------------------------------------ callbacks
    def _bad_frame(self, topic: str, reason: str, detail: str) -> None:
        n = self._health.record_bad_frame(topic, reason)
        self.get_logger().warning(f'bad frame #{n} on {topic} ({reason}): {detail}; frame '
                                  f'skipped', throttle_duration_sec=2.0)

    def _decode(self, msg: Image, topic: str) -> np.ndarray | None:
        try:
            arr = image_to_array(msg)
            if topic == 'rgb':
                return encode_rgb(arr, msg.encoding)
            return encode_x(arr, msg.encoding, self.params.modality)
        except ImageConversionError as exc:
            self._bad_frame(topic, exc.reason, str(exc))
        except ValueError as exc:  # core.modality.EncodingError and friends
            self._bad_frame(topic, 'encoding', str(exc))
        return None

    def _on_rgb(self, msg: Image) -> None:
        now = time.monotonic_ns()
        self._health.record_input('rgb', now)
        image = self._decode(msg, 'rgb')
        if image is not None:
            stamp = stamp_to_ns(msg.header.stamp)
            if self._events is not None:
                with self._lock:
                    ready = self._events.add_rgb(stamp, image.shape[:2])
                self._push_event_frames(ready, msg.header.frame_id, now)
            with self._lock:
                self._rgb_arrivals[stamp] = now
            self._pairer.push_rgb(stamp, _Frame(msg.header, image, now), now)
            self._wake.set()

    def _on_x(self, msg: Image) -> None:
        now = time.monotonic_ns()
        self._health.record_input('x', now)
        image = self._decode(msg, 'x')
        if image is not None:
            self._pairer.push_x(stamp_to_ns(msg.header.stamp), _Frame(msg.header, image, now),
                                now)
            self._wake.set()

    def _on_events(self, msg: PointCloud2) -> None:
        now = time.monotonic_ns()
        self._health.record_input('x', now)
        try:
            events = pointcloud_to_events(msg)
        except ImageConversionError as exc:
            self._bad_frame('x', exc.reason, str(exc))
            return
        with self._lock:
            ready = self._events.add_events(events, stamp_to_ns(msg.header.stamp))
        self._push_event_frames(ready, msg.header.frame_id, now)
        self._wake.set()

    def _push_event_frames(self, ready: list[tuple[int, np.ndarray]], frame_id: str,
                           now: int) -> None:
        for stamp, frame in ready:
            header = Header(stamp=ns_to_stamp(stamp), frame_id=frame_id)
            self._pairer.push_x(stamp, _Frame(header, frame, now), now)

    def _on_init(self, msg: Detection2D) -> None:
        box = detection_to_box_xywh(msg)
        if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
            self._bad_frame('init', 'invalid_box',
                            f'init box {box.tolist()} needs finite x, y and w, h > 0 (pixels)')
            return
        with self._lock:
            self._init_requests.append(_InitRequest(stamp_to_ns(msg.header.stamp), box))
        self._wake.set()

    # --------------------------------------------------------------- worker
    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.02)
            self._wake.clear()
            try:
                self._worker_step()
            except Exception as exc:  # noqa: BLE001 - the node must survive any frame
                self._health.record_bad_frame('worker', type(exc).__name__)
                self.get_logger().error(f'worker error (frame skipped): {exc!r}',
                                        throttle_duration_sec=2.0)

    def _worker_step(self) -> None:
        self._handle_init_requests()
        now = time.monotonic_ns()
        with self._lock:
            oldest = min(self._rgb_arrivals.values(), default=None)
        if (self._grace_ns and oldest is not None and now - oldest < self._grace_ns
                and not self._pairer.x_available):
            return  # X missing: give an X frame sent with this RGB frame x_grace to arrive
        pairs = self._pairer.pop_ready(now)
        if pairs:
            newest = pairs[-1].stamp_ns
            with self._lock:
                for stamp in [s for s in self._rgb_arrivals if s <= newest]:
                    del self._rgb_arrivals[stamp]
        for event in self._pairer.drain_events():
            self._health.record_event(event)
            if event.startswith('X lost'):
                self.get_logger().warning(event)
            else:
                self.get_logger().info(event)
        if len(pairs) > 1:
            self._health.record_dropped('stale', len(pairs) - 1)
            pairs = pairs[-1:]
        for pair in pairs:
            self._process(pair)
        self._health.set_pairer_stats(self._pairer.stats)

    def _handle_init_requests(self) -> None:
        with self._lock:
            requests, self._init_requests = self._init_requests, []
        for req in requests:
            last_stamp = self._last[0].stamp_ns if self._last is not None else None
            if req.stamp_ns != 0 and last_stamp is not None and req.stamp_ns == last_stamp:
                pair, frame, x_img = self._last
                self._pending_init = None
                self._run(pair, frame, x_img, init=req, repeat=True)
                continue
            if req.stamp_ns != 0 and last_stamp is not None and req.stamp_ns < last_stamp:
                self.get_logger().warning(
                    f'~/init refers to stamp {req.stamp_ns}, older than the last processed frame '
                    f'{last_stamp}: initialising on the next frame instead')
                req = _InitRequest(0, req.box_xywh)
            self._pending_init = req
            self.get_logger().info(
                f'~/init box {np.round(req.box_xywh, 1).tolist()} queued for '
                + ('the next frame' if req.stamp_ns == 0 else f'frame stamp {req.stamp_ns}'))

    def _process(self, pair: FramePair) -> None:
        frame: _Frame = pair.rgb
        x_img = pair.x.image if pair.x is not None else None
        if x_img is not None and x_img.shape[:2] != frame.image.shape[:2]:
            if not self._warned_resize:
                self.get_logger().warning(
                    f'X frames are {x_img.shape[1]}x{x_img.shape[0]}, RGB frames '
                    f'{frame.image.shape[1]}x{frame.image.shape[0]}: resizing X to RGB (assumes '
                    f'registered cameras)')
                self._warned_resize = True
            x_img = cv2.resize(x_img, (frame.image.shape[1], frame.image.shape[0]),
                               interpolation=cv2.INTER_LINEAR)
        init = None
        pend = self._pending_init
        if pend is not None and (pend.stamp_ns == 0 or pair.stamp_ns >= pend.stamp_ns):
            init, self._pending_init = pend, None
        elif self._initial_box_pending:
            init = _InitRequest(pair.stamp_ns, np.asarray(self.params.initial_box, np.float64))
        self._initial_box_pending = False
        self._last = (pair, frame, x_img)
        self._run(pair, frame, x_img, init)

    def _run(self, pair: FramePair, frame: _Frame, x_img: np.ndarray | None,
             init: _InitRequest | None, repeat: bool = False) -> None:
        """Initialise or track on one pair and publish; ``repeat``: the last frame again (a
        re-initialisation on it), published but not counted a second time."""
        box = score = None
        if init is not None:
            try:
                self._tracker.initialize(frame.image, x_img, init.box_xywh)
                box, score = np.asarray(init.box_xywh, np.float64), 1.0
                self._trail.clear()
                self.get_logger().info(f'target initialised at {np.round(box, 1).tolist()} on '
                                       f'frame stamp {pair.stamp_ns}')
                self._health.record_event(f'initialised on stamp {pair.stamp_ns}')
            except ValueError as exc:
                self._bad_frame('init', 'invalid_box', str(exc))
        elif getattr(self._tracker, 'initialized', False):
            box, score = self._tracker.track(frame.image, x_img)
            box = np.asarray(box, np.float64).reshape(-1)
            score = float(score)
            if box.size != 4 or not np.all(np.isfinite(box)) or not math.isfinite(score):
                self._bad_frame('tracker', 'nan_box', f'tracker returned box {box.tolist()} '
                                f'score {score} for stamp {pair.stamp_ns}')
                box = score = None
        tracking = bool(getattr(self._tracker, 'initialized', False))
        out_box = box if (box is not None and score is not None
                          and score >= self.params.score_threshold) else None
        self._det_pub.publish(result_to_detections(frame.header, out_box, score))
        latency = (time.monotonic_ns() - frame.arrival_ns) / 1e9
        used_x = x_img is not None
        if not repeat and self._health.record_result(pair.stamp_ns, latency, score, used_x,
                                                     tracking):
            self._publish_diagnostics()
        if self._dbg_pub.get_subscription_count() > 0:
            centre = box_centre(out_box)
            if centre is not None:
                self._trail.append(centre)
            state = health_mod.STATE_RGBX if used_x else health_mod.STATE_RGB_ONLY
            drawn = draw_track(frame.image, out_box, score, state, trail=list(self._trail))
            self._dbg_pub.publish(array_to_image(drawn, 'rgb8', header=frame.header))

    # ---------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        self._health.set_pairer_stats(self._pairer.stats)
        rep = self._health.snapshot(time.monotonic_ns())
        status = DiagnosticStatus()
        status.level = bytes([rep.level])
        status.name = f'{self.get_fully_qualified_name()}: tracking'
        status.message = rep.message
        status.hardware_id = self._health.device
        status.values = [KeyValue(key=k, value=v) for k, v in rep.values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [status]
        self._diag_pub.publish(msg)

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        self._stop.set()
        self._wake.set()
        if getattr(self, '_worker', None) is not None and self._worker.is_alive():
            self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``tracker_node`` (``ros2 run rgbx_tracker_ros tracker_node``)."""
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = TrackerNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        code = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
