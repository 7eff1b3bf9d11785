"""ROS 2 node ``tracker_node``: RGB-X single-object tracking on two image topics.

Subscribes ``rgb/image_raw`` and ``x/image_raw`` (relative names: namespaces and remaps apply;
with ``modality: event`` and ``event_input: raw``, raw events as ``sensor_msgs/PointCloud2``
with fields x, y, t (microseconds), p on ``x/events`` instead, rendered per RGB frame interval),
pairs them by header stamp with :class:`rgbx_tracker_ros.core.sync.FramePairer` (``slop``
seconds) and tracks with :class:`rgbx_tracker_ros.core.tracker.RgbxTracker`. When no X frame
arrives for ``x_timeout`` seconds it tracks on RGB alone (the model's missing-modality path) and
says so (log + WARN in diagnostics); it goes back to RGB-X as soon as X frames return. When the
RGB camera dies instead (no RGB frame for ``rgb_timeout`` seconds while X arrives), it tracks on
X alone, feeding the network a black RGB frame as in a dark scene (state 'X only', WARN), with
the X frame's stamp and the RGB camera's frame_id and image size, until RGB frames return.

Publishes, each with the header of the RGB frame it answers (of the X frame while RGB is lost):

- ``~/detections`` (``vision_msgs/Detection2DArray``): one detection per processed frame (box
  centre/size in pixels, ``results[0].hypothesis`` class id 'target' and score, id 'target'), or
  an empty array when no target is tracked;
- ``~/debug_image`` (``sensor_msgs/Image`` rgb8, only while someone subscribes): the RGB frame
  with box, score, modality state ('RGB-X', 'RGB only' without X, 'X only' when the RGB frame is
  dark, below ``rgb_dark_level``, or lost: then drawn on the X frame) and a short trail;
- ``~/target_marker`` (``visualization_msgs/MarkerArray``, modality depth with ``camera_info``
  'x' or 'rgb'): a box at the target's 3D position (median depth inside the box, pinhole
  back-projection with the camera_info intrinsics, :mod:`rgbx_tracker_ros.core.depth`) in the
  camera_info's frame_id, plus a score/distance label; a DELETEALL marker without a target;
- ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``) every ``diagnostics_period`` seconds and
  at once when the X state changes: input rates (WARN below half of ``expected_rate_*``),
  synchronized pairs, frames dropped and why, bad frames and why, X state, latency, device,
  precision, score.

Initialisation: the ``initial_box`` parameter ([x, y, w, h] pixels, applied on the first frame),
or a ``vision_msgs/Detection2D`` on ``~/init`` whose header stamp names the frame the box refers
to: stamp 0 = the next frame; the last processed frame = re-initialise on it (cached) and publish
its detection again; a future stamp = when that frame (or the first later one) is processed; an
older stamp = the next frame, with a warning. This makes initialisation deterministic when a
player replays a bag in lockstep. ``~/init_from_detections`` (``vision_msgs/Detection2DArray``
from a detector) does the same with the detection of class ``init_class_id`` (or any class when
empty) that has the highest score, stamp from the array header. ``~/reset``
(``std_srvs/Trigger``) drops the target: detections stay empty until the next init.

Parameters are declared with descriptors (ranges; read-only where a restart is needed: model,
device, precision, modality, QoS, camera_info). ``slop``, ``x_timeout``, ``x_grace``,
``rgb_timeout``, ``score_threshold``, ``init_class_id``, ``rgb_dark_level`` and the expected
rates are validated by the parameter callback (e.g. ``slop`` must stay below ``x_timeout``; a
rejected change keeps the old value and says why) and applied to the running node.

While X is missing, an RGB frame is held ``x_grace`` seconds (arrival clock) before it is
released alone, so that an X frame sent together with it but delivered a moment later still
pairs (this is what makes the first frame after an X outage pair in a lockstep replay); while RGB
is lost, an X frame is held the same way for its RGB frame. The pairer does the holding
(``FramePairer(x_grace_s=..., rgb_timeout_s=...)``).

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
import os
import sys
import threading
import time
from typing import Any

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection2DArray
from visualization_msgs.msg import Marker, MarkerArray

from rgbx_tracker_ros.core import health as health_mod
from rgbx_tracker_ros.core.depth import (
    check_intrinsics, DepthError, depth_to_metres, target_position)
from rgbx_tracker_ros.core.modality import encode_rgb, encode_x, EVENT_DTYPE, events_to_frame
# The model (variant, checkpoint, device, precision -> RgbxTracker) is chosen in core.node_model,
# shared with rgbx-eval's rig:NAME specs; default_checkpoint / resolve_checkpoint are re-exported.
from rgbx_tracker_ros.core.node_model import (  # noqa: F401
    build_node_tracker, DEFAULT_CHECKPOINT_NAME, default_checkpoint, MODEL_PARAMETER_DEFAULTS,
    node_model, RANDOM_WEIGHTS, resolve_checkpoint)
from rgbx_tracker_ros.core.sync import FramePair, FramePairer
from rgbx_tracker_ros.core.types import PRECISIONS, Modality, parse_modality
from rgbx_tracker_ros.core.vis import box_centre, draw_track
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, detection_score, detection_to_box_xywh, ImageConversionError,
    image_to_array, ns_to_stamp, pointcloud_to_events, result_to_detections, select_detection,
    stamp_to_ns)

NODE_NAME = 'tracker_node'
_TRAIL_LENGTH = 20
_MAX_PENDING = 8


@dataclasses.dataclass(frozen=True)
class NodeParams:
    """Validated node parameters (see :func:`declare_parameters` for their meaning).

    ``slop``, ``x_timeout``, ``x_grace``, ``score_threshold``, ``init_class_id``,
    ``rgb_dark_level`` and the expected rates may change at run time (parameter callback); the
    others need a restart (read-only parameters).
    """

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
    qos_depth: int = 5
    torch_threads: int = 0
    precision: str = 'auto'
    init_class_id: str = ''
    camera_info: str = 'none'
    expected_rate_rgb: float = 0.0
    expected_rate_x: float = 0.0
    rgb_dark_level: float = 12.0
    rgb_timeout: float = 0.5


#: Parameters applied at run time through the parameter callback (the rest are read-only).
RUNTIME_PARAMETERS = ('slop', 'x_timeout', 'x_grace', 'rgb_timeout', 'score_threshold',
                      'init_class_id',
                      'rgb_dark_level', 'expected_rate_rgb', 'expected_rate_x')


def _range(lo: float, hi: float) -> list[FloatingPointRange]:
    return [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]


def declare_parameters(node: Node) -> None:
    """Declare the parameters with descriptions, ranges and read-only flags (defaults:
    config/tracker.yaml). Read-only ones need a node restart; the others are validated and
    applied at run time (see :data:`RUNTIME_PARAMETERS`)."""
    d = node.declare_parameter
    restart = ' (read-only: restart the node to change it)'
    d('variant', MODEL_PARAMETER_DEFAULTS['variant'], ParameterDescriptor(
        description="model variant (s14_224_d8, s14_224, t224, s224, b224, b384, l224, l384, or a "
                    "test_* variant); "
                    "a checkpoint's own variant takes precedence" + restart, read_only=True))
    d('checkpoint', MODEL_PARAMETER_DEFAULTS['checkpoint'], ParameterDescriptor(
        description=f"path to a .pt checkpoint; empty = the package's checkpoints/"
                    f"{DEFAULT_CHECKPOINT_NAME}; '{RANDOM_WEIGHTS}' = random weights (tests "
                    f"only)" + restart, read_only=True))
    d('device', MODEL_PARAMETER_DEFAULTS['device'], ParameterDescriptor(
        description="inference device: auto (CUDA when available, else CPU), cpu, cuda, cuda:N"
                    + restart, read_only=True))
    d('precision', MODEL_PARAMETER_DEFAULTS['precision'], ParameterDescriptor(
        description="network precision: auto (bf16 on CPUs with native bfloat16, "
                    "else fp32), fp32, bf16, fp16 (CUDA only)" + restart, read_only=True))
    d('modality', 'thermal', ParameterDescriptor(
        description="X modality on x/image_raw: thermal, depth, event, or rgb (no X topic)"
                    + restart, read_only=True))
    d('event_input', 'frame', ParameterDescriptor(
        description="modality event only: 'frame' = rendered event frames on x/image_raw; "
                    "'raw' = raw events (sensor_msgs/PointCloud2 with fields x, y, t in "
                    "microseconds, p) on x/events, rendered per RGB frame interval" + restart,
        read_only=True))
    d('slop', 0.02, ParameterDescriptor(
        description='largest |t_x - t_rgb| between header stamps of a pair, s; < x_timeout '
                    '(changeable at run time)', floating_point_range=_range(0.0, 1.0)))
    d('x_timeout', 0.5, ParameterDescriptor(
        description='seconds without X (arrival clock) before tracking on RGB alone; > slop '
                    '(changeable at run time)', floating_point_range=_range(0.001, 60.0)))
    d('x_grace', 0.03, ParameterDescriptor(
        description='while X is missing, hold an RGB frame this long (arrival clock) so that an '
                    'X frame sent with it but delivered just after it can still pair (and while '
                    'RGB is lost, an X frame for a late RGB frame), s',
        floating_point_range=_range(0.0, 1.0)))
    d('rgb_timeout', 0.5, ParameterDescriptor(
        description='seconds without RGB (arrival clock) while X arrives before tracking on X '
                    'alone (a black RGB frame, as in a dark scene); 0 = never (changeable at run '
                    'time; not with raw events, which are framed by RGB)',
        floating_point_range=_range(0.0, 60.0)))
    d('initial_box', None, ParameterDescriptor(
        description='[x, y, w, h] pixels (top-left origin) of the target in the first frame; '
                    'empty = wait for ~/init or ~/init_from_detections' + restart,
        dynamic_typing=True, read_only=True))
    d('score_threshold', 0.0, ParameterDescriptor(
        description='publish an empty Detection2DArray when the score is below this (the '
                    'tracker keeps tracking; changeable at run time)',
        floating_point_range=_range(0.0, 1.0)))
    d('init_class_id', '', ParameterDescriptor(
        description='~/init_from_detections picks the highest-scoring detection of this class '
                    "id (e.g. 'person' or a COCO id); '' = the highest-scoring detection"))
    d('qos_reliability', 'best_effort', ParameterDescriptor(
        description='reliability of the input subscriptions: best_effort (sensor data) or '
                    'reliable' + restart, read_only=True))
    d('torch_threads', 0, ParameterDescriptor(
        description='CPU threads for inference; 0 = all cores but one (left to image callbacks '
                    'and DDS: on a small CPU more threads compete with them and lower the output '
                    'rate)' + restart, integer_range=[IntegerRange(from_value=0, to_value=256,
                                                                  step=1)], read_only=True))
    d('qos_depth', 5, ParameterDescriptor(
        description='history depth of the input subscriptions (messages)' + restart,
        integer_range=[IntegerRange(from_value=1, to_value=1000, step=1)], read_only=True))
    d('camera_info', 'none', ParameterDescriptor(
        description="modality depth: intrinsics for the 3D target marker (~/target_marker) "
                    "from 'x' (x/camera_info, the depth camera) or 'rgb' (rgb/camera_info, "
                    "depth aligned to colour); 'none' = no marker" + restart, read_only=True))
    d('expected_rate_rgb', 0.0, ParameterDescriptor(
        description='expected RGB rate, Hz: diagnostics WARN below half of it (0 = no check)',
        floating_point_range=_range(0.0, 10000.0)))
    d('expected_rate_x', 0.0, ParameterDescriptor(
        description='expected X message rate, Hz: diagnostics WARN below half of it (0 = no '
                    'check)', floating_point_range=_range(0.0, 1e6)))
    d('rgb_dark_level', 12.0, ParameterDescriptor(
        description="mean RGB intensity (0-255) below which a frame counts as dark: with X the "
                    "debug image then says 'X only' (0 = never)",
        floating_point_range=_range(0.0, 255.0)))
    d('diagnostics_period', 1.0, ParameterDescriptor(
        description='seconds between /diagnostics messages (steady clock)' + restart,
        floating_point_range=_range(0.05, 60.0), read_only=True))


def validate_parameters(values: dict[str, Any]) -> NodeParams:
    """Validate a complete set of parameter values (name -> value) into :class:`NodeParams`.

    Raises:
        ValueError: naming the parameter, the value received and what is valid.
    """
    g = values.__getitem__
    device = str(g('device')).strip().lower()
    if not (device in ('auto', 'cpu', 'cuda') or device.startswith('cuda:')):
        raise ValueError(f"parameter device={device!r}: expected auto, cpu, cuda or cuda:N")
    precision = str(g('precision')).strip().lower()
    if precision not in PRECISIONS:
        raise ValueError(f"parameter precision={precision!r}: expected one of "
                         f"{', '.join(PRECISIONS)}")
    if precision == 'fp16' and device == 'cpu':
        raise ValueError("parameter precision='fp16' needs a CUDA device (device cuda or "
                         "cuda:N); on a CPU use bf16, fp32 or auto")
    reliability = str(g('qos_reliability')).strip().lower().replace('-', '_')
    if reliability not in ('best_effort', 'reliable'):
        raise ValueError(f'parameter qos_reliability={reliability!r}: expected best_effort or '
                         f'reliable')
    event_input = str(g('event_input')).strip().lower()
    if event_input not in ('frame', 'raw'):
        raise ValueError(f"parameter event_input={event_input!r}: expected 'frame' or 'raw'")
    camera_info = str(g('camera_info')).strip().lower() or 'none'
    if camera_info not in ('none', 'rgb', 'x'):
        raise ValueError(f"parameter camera_info={camera_info!r}: expected 'none', 'rgb' or "
                         f"'x'")
    slop = float(g('slop'))
    x_timeout = float(g('x_timeout'))
    if not 0.0 <= slop < x_timeout:
        raise ValueError(f'parameters slop={slop} and x_timeout={x_timeout}: need '
                         f'0 <= slop < x_timeout (seconds)')
    numbers = {n: float(g(n)) for n in ('x_grace', 'rgb_timeout', 'score_threshold',
                                        'expected_rate_rgb',
                                        'expected_rate_x', 'rgb_dark_level',
                                        'diagnostics_period')}
    bad = [f'{n}={v}' for n, v in numbers.items() if not math.isfinite(v) or v < 0]
    if bad or numbers['score_threshold'] > 1.0:
        raise ValueError(f'parameters {", ".join(bad) or "score_threshold"}: need finite '
                         f'values >= 0 (score_threshold in [0, 1])')
    raw_box = g('initial_box')
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
        variant=str(g('variant')), checkpoint=str(g('checkpoint')).strip(),
        device=device, modality=parse_modality(str(g('modality'))),
        event_input=event_input, slop=slop,
        x_timeout=x_timeout, x_grace=numbers['x_grace'], initial_box=box,
        score_threshold=numbers['score_threshold'],
        qos_reliability=reliability, diagnostics_period=numbers['diagnostics_period'],
        qos_depth=int(g('qos_depth')), torch_threads=int(g('torch_threads')),
        precision=precision,
        init_class_id=str(g('init_class_id')).strip(),
        camera_info=camera_info, expected_rate_rgb=numbers['expected_rate_rgb'],
        expected_rate_x=numbers['expected_rate_x'], rgb_dark_level=numbers['rgb_dark_level'],
        rgb_timeout=numbers['rgb_timeout'])


PARAMETER_NAMES = ('variant', 'checkpoint', 'device', 'modality', 'event_input', 'slop',
                   'x_timeout', 'x_grace', 'rgb_timeout', 'initial_box', 'score_threshold',
                   'init_class_id',
                   'qos_reliability', 'qos_depth', 'torch_threads', 'precision', 'camera_info',
                   'expected_rate_rgb', 'expected_rate_x', 'rgb_dark_level', 'diagnostics_period')


def read_parameters(node: Node) -> NodeParams:
    """Read and validate the declared parameters.

    Raises:
        ValueError: naming the parameter, the value received and what is valid.
    """
    return validate_parameters({n: node.get_parameter(n).value for n in PARAMETER_NAMES})


@dataclasses.dataclass
class _Frame:
    """One decoded and encoded input frame (payload pushed into the pairer)."""

    header: Any              # std_msgs/Header of the message
    image: np.ndarray        # (H, W, 3) uint8 encoded for the tracker
    arrival_ns: int          # monotonic arrival time
    depth_m: np.ndarray | None = None   # (H, W) float32 metres (depth X with a marker)


@dataclasses.dataclass
class _InitRequest:
    stamp_ns: int
    box_xywh: np.ndarray | None     # None: a ~/reset request


@dataclasses.dataclass(frozen=True)
class _Intrinsics:
    k: np.ndarray                   # (3, 3) pinhole matrix
    size_wh: tuple[int, int]        # image size the intrinsics belong to, pixels
    frame_id: str


def view_state(rgb: np.ndarray, used_x: bool, dark_level: float) -> str:
    """The modality state shown on the debug image: 'RGB-X', 'RGB only' (no X frame), or
    'X only' (X present and the RGB frame is dark: mean intensity (0-255) below
    ``dark_level``; the model then effectively follows X)."""
    if not used_x:
        return health_mod.STATE_RGB_ONLY
    if dark_level > 0 and float(rgb[::4, ::4].mean()) < dark_level:
        return health_mod.STATE_X_ONLY
    return health_mod.STATE_RGBX


_MARKER_COLOURS = {health_mod.STATE_RGBX: (0.16, 0.86, 0.24),
                   health_mod.STATE_RGB_ONLY: (1.0, 0.63, 0.0),
                   health_mod.STATE_X_ONLY: (0.75, 0.3, 1.0)}


def target_markers(header: Header, position: Any, score: float | None,
                   state: str = '') -> MarkerArray:
    """``visualization_msgs/MarkerArray`` for the 3D target: a CUBE (namespace 'target', id 0)
    at ``position.xyz`` sized ``position.size_xyz`` (metres) and a TEXT_VIEW_FACING label
    (id 1) with score and distance, both with ``header``; a single DELETEALL marker when
    ``position`` (a :class:`rgbx_tracker_ros.core.depth.TargetPosition`) is None."""
    out = MarkerArray()
    if position is None:
        m = Marker(header=header, ns='target', id=0, action=Marker.DELETEALL)
        out.markers = [m]
        return out
    r, g, b = _MARKER_COLOURS.get(state, _MARKER_COLOURS[health_mod.STATE_RGBX])
    x, y, z = (float(v) for v in position.xyz)
    cube = Marker(header=header, ns='target', id=0, type=Marker.CUBE, action=Marker.ADD)
    cube.pose.position.x, cube.pose.position.y, cube.pose.position.z = x, y, z
    cube.pose.orientation.w = 1.0
    cube.scale.x, cube.scale.y, cube.scale.z = (float(v) for v in position.size_xyz)
    cube.color.r, cube.color.g, cube.color.b, cube.color.a = r, g, b, 0.5
    cube.lifetime.sec = 1
    text = Marker(header=header, ns='target', id=1, type=Marker.TEXT_VIEW_FACING,
                  action=Marker.ADD)
    text.pose.position.x = x
    text.pose.position.y = y - float(position.size_xyz[1]) / 2.0 - 0.05   # above (y down)
    text.pose.position.z = z
    text.pose.orientation.w = 1.0
    text.scale.z = 0.08
    text.color.r = text.color.g = text.color.b = text.color.a = 1.0
    text.text = (f'{score:.2f} ' if score is not None else '') + f'{position.depth_m:.2f} m'
    text.lifetime.sec = 1
    out.markers = [cube, text]
    return out


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

        model = node_model({'variant': p.variant, 'checkpoint': p.checkpoint,
                            'device': p.device, 'precision': p.precision})
        ckpt = model.checkpoint
        if ckpt is None:
            self.get_logger().warning(f"checkpoint '{RANDOM_WEIGHTS}': variant {p.variant} "
                                      f'with RANDOM weights (for tests; tracking is meaningless)')
        import torch
        torch.set_num_threads(p.torch_threads or max(1, (os.cpu_count() or 1) - 1))
        t0 = time.monotonic()
        self._tracker = build_node_tracker(model)   # imports torch
        self.get_logger().info(
            f'model {getattr(self._tracker, "variant", p.variant)} on '
            f'{self._tracker.device} ({self._tracker.precision}) from '
            f'{ckpt if ckpt else "random weights"} loaded in '
            f'{time.monotonic() - t0:.1f} s; modality {p.modality.value}, slop {p.slop} s, '
            f'x_timeout {p.x_timeout} s')

        self._x_expected = p.modality is not Modality.RGB
        self._health = health_mod.TrackerHealth(str(self._tracker.device),
                                                x_expected=self._x_expected,
                                                precision=self._tracker.precision)
        # x_grace only matters when X is expected; an RGB-only rig never holds frames
        self._pairer = FramePairer(p.slop, p.x_timeout, max_pending=_MAX_PENDING,
                                   x_grace_s=p.x_grace if self._x_expected else 0.0,
                                   rgb_timeout_s=self._rgb_timeout_s(p))
        self._rgb_geometry: tuple[tuple[int, int], str] | None = None  # last RGB (H, W), frame
        self._lock = threading.Lock()   # init requests, event renderer
        self._init_requests: list[_InitRequest] = []
        self._pending_init: _InitRequest | None = None
        self._initial_box_pending = p.initial_box is not None
        self._last: tuple[FramePair, _Frame, np.ndarray | None] | None = None
        self._trail: collections.deque = collections.deque(maxlen=_TRAIL_LENGTH)
        self._warned_resize = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reset_done = threading.Condition(self._lock)
        self._resets_requested = 0
        self._resets_applied = 0
        self._view_state = ''
        self._camera_info: _Intrinsics | None = None
        self._warned_depth = False

        reliability = (ReliabilityPolicy.RELIABLE if p.qos_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=p.qos_depth,
                               reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._det_pub = self.create_publisher(Detection2DArray, '~/detections', out_qos)
        self._dbg_pub = self.create_publisher(
            Image, '~/debug_image', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                                               reliability=ReliabilityPolicy.RELIABLE))
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', out_qos)
        self._marker_pub = None
        if p.modality is Modality.DEPTH:
            self._marker_pub = self.create_publisher(MarkerArray, '~/target_marker', out_qos)
        self._init_sub = self.create_subscription(Detection2D, '~/init', self._on_init, out_qos)
        self._init_dets_sub = self.create_subscription(
            Detection2DArray, '~/init_from_detections', self._on_init_detections, out_qos)
        self._reset_srv = self.create_service(Trigger, '~/reset', self._on_reset)
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
        self._info_sub = None
        if p.camera_info != 'none':
            if p.modality is not Modality.DEPTH:
                self.get_logger().warning(f'camera_info={p.camera_info!r} is only used with '
                                          f'modality depth (3D marker); ignored')
            else:
                # camera_info publishers use reliable or sensor QoS: best effort matches both
                info_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                      reliability=ReliabilityPolicy.BEST_EFFORT)
                self._info_sub = self.create_subscription(
                    CameraInfo, f'{p.camera_info}/camera_info', self._on_camera_info, info_qos)
        self._diag_timer = self.create_timer(p.diagnostics_period, self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._validate_parameter_change)
        self.add_post_set_parameters_callback(self._apply_parameter_change)
        self._worker = threading.Thread(target=self._worker_loop, name='tracker_worker',
                                        daemon=True)
        self._worker.start()
        init_text = (f'initial_box {list(p.initial_box)}' if p.initial_box else
                     f'waiting for a Detection2D on {self.resolve_topic_name("~/init")} or '
                     f'detections on {self.resolve_topic_name("~/init_from_detections")}')
        self.get_logger().info(
            f'listening on {self._rgb_sub.topic_name}'
            + (f' and {self._x_sub.topic_name}' if self._x_sub else ' (RGB only)')
            + (f' (+ {self._info_sub.topic_name} for {self._marker_pub.topic_name})'
               if self._info_sub is not None and self._marker_pub is not None else '')
            + f' ({p.qos_reliability}, depth {p.qos_depth}); {init_text}')

    # ------------------------------------------------------------ parameters
    def _validate_parameter_change(self, changes: list[Parameter]) -> SetParametersResult:
        """Reject a change that would make the parameter set invalid (e.g. slop >= x_timeout);
        read-only parameters are rejected by rclpy itself from their descriptors."""
        values = {n: self.get_parameter(n).value for n in PARAMETER_NAMES}
        for change in changes:
            if change.name in values:
                values[change.name] = change.value
        try:
            validate_parameters(values)
        except (ValueError, TypeError) as exc:
            self.get_logger().warning(f'parameter change rejected: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _apply_parameter_change(self, changes: list[Parameter]) -> None:
        names = [c.name for c in changes if c.name in RUNTIME_PARAMETERS]
        if not names:
            return
        new = read_parameters(self)
        old, self.params = self.params, new
        if (new.slop, new.x_timeout, new.x_grace) != (old.slop, old.x_timeout, old.x_grace):
            self._pairer.set_timing(new.slop, new.x_timeout,
                                    new.x_grace if self._x_expected else 0.0)
        if new.rgb_timeout != old.rgb_timeout:
            self._pairer.set_rgb_timeout(self._rgb_timeout_s(new))
        self.get_logger().info('parameters applied: ' + ', '.join(
            f'{n}={getattr(new, n)!r}' for n in names))
        self._health.record_event('parameters changed: ' + ', '.join(names))

    # ------------------------------------------------------------ callbacks
    def _rgb_timeout_s(self, p: NodeParams) -> float | None:
        """The pairer's RGB timeout: off without X, with raw events (rendered per RGB frame
        interval, so there are no X frames without RGB) and for rgb_timeout 0."""
        raw_events = p.modality is Modality.EVENT and p.event_input == 'raw'
        return p.rgb_timeout if self._x_expected and not raw_events and p.rgb_timeout > 0 \
            else None

    def _bad_frame(self, topic: str, reason: str, detail: str) -> None:
        n = self._health.record_bad_frame(topic, reason)
        self.get_logger().warning(f'bad frame #{n} on {topic} ({reason}): {detail}; frame '
                                  f'skipped', throttle_duration_sec=2.0)

    def _decode(self, msg: Image, topic: str) -> tuple[np.ndarray, Any] | None:
        """-> (encoded (H, W, 3) uint8 image, raw array), or None for a bad frame."""
        try:
            arr = image_to_array(msg)
            if topic == 'rgb':
                return encode_rgb(arr, msg.encoding), arr
            return encode_x(arr, msg.encoding, self.params.modality), arr
        except ImageConversionError as exc:
            self._bad_frame(topic, exc.reason, str(exc))
        except ValueError as exc:  # core.modality.EncodingError and friends
            self._bad_frame(topic, 'encoding', str(exc))
        return None

    def _on_rgb(self, msg: Image) -> None:
        now = time.monotonic_ns()
        self._health.record_input('rgb', now)
        decoded = self._decode(msg, 'rgb')
        if decoded is not None:
            image = decoded[0]
            stamp = stamp_to_ns(msg.header.stamp)
            if self._events is not None:
                with self._lock:
                    ready = self._events.add_rgb(stamp, image.shape[:2])
                self._push_event_frames(ready, msg.header.frame_id, now)
            self._pairer.push_rgb(stamp, _Frame(msg.header, image, now), now)
            self._wake.set()

    def _on_x(self, msg: Image) -> None:
        now = time.monotonic_ns()
        self._health.record_input('x', now)
        decoded = self._decode(msg, 'x')
        if decoded is not None:
            depth = None
            if self._marker_pub is not None:
                try:
                    depth = depth_to_metres(decoded[1], msg.encoding)
                except DepthError:
                    depth = None   # encode_x accepted it: only the marker is skipped
            self._pairer.push_x(stamp_to_ns(msg.header.stamp),
                                _Frame(msg.header, decoded[0], now, depth), now)
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

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            k = check_intrinsics(msg.k)
        except DepthError as exc:
            self._bad_frame('camera_info', 'intrinsics', str(exc))
            return
        self._camera_info = _Intrinsics(k, (int(msg.width), int(msg.height)),
                                        msg.header.frame_id)

    def _queue_init(self, stamp_ns: int, box: np.ndarray, source: str) -> None:
        if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
            self._bad_frame('init', 'invalid_box',
                            f'{source} box {box.tolist()} needs finite x, y and w, h > 0 '
                            f'(pixels)')
            return
        with self._lock:
            self._init_requests.append(_InitRequest(stamp_ns, box))
        self._wake.set()

    def _on_init(self, msg: Detection2D) -> None:
        self._queue_init(stamp_to_ns(msg.header.stamp), detection_to_box_xywh(msg), '~/init')

    def _on_init_detections(self, msg: Detection2DArray) -> None:
        class_id = self.params.init_class_id
        det = select_detection(msg, class_id)
        if det is None:
            have = sorted({h.hypothesis.class_id for d in msg.detections for h in d.results})
            self._bad_frame('init', 'no_detection',
                            f'~/init_from_detections: {len(msg.detections)} detection(s), none '
                            + (f'of class {class_id!r} (classes: {have})' if class_id else
                               'usable'))
            return
        stamp = stamp_to_ns(msg.header.stamp) or stamp_to_ns(det.header.stamp)
        self.get_logger().info(
            f'~/init_from_detections: picked {det.id or "a detection"} (class '
            f'{det.results[0].hypothesis.class_id if det.results else "?"}, score '
            f'{detection_score(det):.2f}) of {len(msg.detections)}')
        self._queue_init(stamp, detection_to_box_xywh(det), '~/init_from_detections')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        with self._lock:
            self._resets_requested += 1
            wanted = self._resets_requested
            self._init_requests.append(_InitRequest(0, None))
        self._wake.set()
        applied = True
        if self._worker.is_alive() and not self._stop.is_set():
            with self._reset_done:
                applied = self._reset_done.wait_for(lambda: self._resets_applied >= wanted,
                                                    timeout=2.0)
        response.success = True
        response.message = ('target dropped; detections stay empty until ~/init or '
                            '~/init_from_detections' if applied else
                            'reset queued (the worker is busy); detections stay empty from the '
                            'next frame on')
        return response

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
        pairs = self._pairer.pop_ready(time.monotonic_ns())
        for event in self._pairer.drain_events():
            self._health.record_event(event)
            if event.startswith(('X lost', 'RGB lost')):
                self.get_logger().warning(event)
            else:
                self.get_logger().info(event)
        if len(pairs) > 1:
            self._health.record_dropped('stale', len(pairs) - 1)
            pairs = pairs[-1:]
        for pair in pairs:
            self._process(pair)
        self._health.set_pairer_stats(self._pairer.stats)

    def _reset_target(self) -> None:
        """Drop the target (worker thread): no tracking until the next init."""
        reset = getattr(self._tracker, 'reset', None)
        if reset is not None:
            reset()
        self._pending_init = None
        self._initial_box_pending = False
        self._trail.clear()
        self._health.record_event('target reset')
        self.get_logger().info('~/reset: target dropped; waiting for ~/init or '
                               '~/init_from_detections')
        with self._reset_done:
            self._resets_applied += 1
            self._reset_done.notify_all()

    def _handle_init_requests(self) -> None:
        with self._lock:
            requests, self._init_requests = self._init_requests, []
        for req in requests:
            if req.box_xywh is None:
                self._reset_target()
                continue
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
        if pair.rgb_missing:
            frame = self._x_alone_frame(pair.x)
        else:
            frame = pair.rgb
            self._rgb_geometry = (frame.image.shape[:2], frame.header.frame_id)
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

    def _x_alone_frame(self, x: _Frame) -> _Frame:
        """RGB lost (FramePairer rule 4): a black RGB frame the size of the last RGB frame (so
        boxes stay in RGB pixels; X is resized to it like a paired X) with the X frame's stamp
        and the RGB camera's frame_id; X's own size and frame_id before any RGB frame."""
        shape, frame_id = self._rgb_geometry or (x.image.shape[:2], x.header.frame_id)
        header = Header(stamp=x.header.stamp, frame_id=frame_id)
        return _Frame(header, np.zeros((shape[0], shape[1], 3), np.uint8), x.arrival_ns)

    def _run(self, pair: FramePair, frame: _Frame, x_img: np.ndarray | None,
             init: _InitRequest | None, repeat: bool = False) -> None:
        """Initialise or track on one pair and publish; ``repeat``: the last frame again (a
        re-initialisation on it), published but not counted a second time."""
        box = score = None
        params = self.params
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
                          and score >= params.score_threshold) else None
        self._det_pub.publish(result_to_detections(frame.header, out_box, score))
        if self._marker_pub is not None:
            self._publish_marker(frame, pair, out_box, score)
        latency = (time.monotonic_ns() - frame.arrival_ns) / 1e9
        used_x = x_img is not None
        state = (health_mod.STATE_X_ONLY if pair.rgb_missing else
                 view_state(frame.image, used_x, params.rgb_dark_level))
        self._view_state = state
        if not repeat and self._health.record_result(pair.stamp_ns, latency, score, used_x,
                                                     tracking, rgb_missing=pair.rgb_missing):
            self._publish_diagnostics()
        if self._dbg_pub.get_subscription_count() > 0:
            centre = box_centre(out_box)
            if centre is not None:
                self._trail.append(centre)
            # RGB lost: draw on the X frame, the one picture there is
            view = x_img if pair.rgb_missing and x_img is not None else frame.image
            drawn = draw_track(view, out_box, score, state, trail=list(self._trail))
            self._dbg_pub.publish(array_to_image(drawn, 'rgb8', header=frame.header))

    def _publish_marker(self, frame: _Frame, pair: FramePair, box: np.ndarray | None,
                        score: float | None) -> None:
        """~/target_marker for one answered frame (RGB header stamp, camera frame id)."""
        info = self._camera_info
        depth = pair.x.depth_m if pair.x is not None else None
        position = None
        if box is not None and info is not None and depth is not None:
            try:
                position = target_position(depth, box, info.k,
                                           box_image_wh=(frame.image.shape[1],
                                                         frame.image.shape[0]),
                                           k_image_wh=info.size_wh)
            except DepthError as exc:
                self._bad_frame('marker', 'depth', str(exc))
        elif box is not None and info is None and not self._warned_depth:
            self._warned_depth = True
            self.get_logger().warning(
                f'no camera_info on {self._info_sub.topic_name if self._info_sub else "(none)"}'
                f' yet: ~/target_marker stays empty until intrinsics arrive')
        frame_id = (info.frame_id if info is not None and info.frame_id else
                    (pair.x.header.frame_id if pair.x is not None else frame.header.frame_id))
        header = Header(stamp=frame.header.stamp, frame_id=frame_id)
        self._marker_pub.publish(target_markers(header, position, score, self._view_state))

    # ---------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        self._health.set_pairer_stats(self._pairer.stats)
        now = time.monotonic_ns()
        rep = self._health.snapshot(now)
        level, message, values = rep.level, rep.message, dict(rep.values)
        params = self.params
        values['view'] = self._view_state or 'waiting'
        values['slop_s'] = f'{params.slop:g}'
        values['x_timeout_s'] = f'{params.x_timeout:g}'
        values['score_threshold'] = f'{params.score_threshold:g}'
        for topic, expected in (('rgb', params.expected_rate_rgb),
                                ('x', params.expected_rate_x if self._x_expected else 0.0)):
            if expected <= 0:
                continue
            values[f'expected_rate_hz.{topic}'] = f'{expected:g}'
            rate = float(values.get(f'rate_hz.{topic}', '0') or 0)
            seen = int(values.get(f'frames_in.{topic}', '0') or 0)
            if seen >= 3 and rate < 0.5 * expected:
                level = max(level, health_mod.WARN)
                message += f'; {topic} at {rate:.1f} Hz, expected {expected:g} Hz'
        status = DiagnosticStatus()
        status.level = bytes([level])
        status.name = f'{self.get_fully_qualified_name()}: tracking'
        status.message = message
        status.hardware_id = self._health.device
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
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
