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

"""ROS 2 node ``tracker_node``: RGB-X single-object tracking on two image topics.

A thin adapter: it declares the parameters of :mod:`rgbx_tracker_ros.core.params`, converts
messages to arrays, and hands them to :class:`rgbx_tracker_ros.core.pipeline.NodePipeline`
(synchronizer, dead-sensor check, tracking session, diagnostics aggregation), then publishes what
the pipeline answers.

Subscribes ``rgb/image_raw`` and ``x/image_raw`` (relative names: namespaces and remaps apply;
with ``modality: event`` and ``event_input: raw``, raw events as ``sensor_msgs/PointCloud2``
with fields x, y, t (microseconds), p on ``x/events`` instead, rendered per RGB frame interval;
with ``transport: compressed``, ``sensor_msgs/CompressedImage`` on ``<topic>/compressed`` of the
remapped image topics, ``<topic>/compressedDepth`` for modality depth, decoded by core.codec),
pairs them by header stamp (``slop`` seconds; core.sync) and tracks with
:class:`rgbx_tracker_ros.core.tracker.RgbxTracker`. Without X (an RGB frame waited ``x_timeout``
for it, or X carries no signal: all-NaN depth, flat thermal, no events) it tracks on RGB alone
(the model's missing-modality path) and says so; when the RGB camera dies (an X frame waited
``rgb_timeout`` for its RGB frame) it tracks on X alone on a black RGB frame ('X only'). A time
jump of the header stamps (a bag played in a loop, a clock reset, one bad stamp) or of ``/clock``
going back is logged once, counted, and the synchronizer starts over on the new time base.

Publishes, each with the header of the RGB frame it answers (of the X frame while RGB is lost):

- ``~/detections`` (``vision_msgs/Detection2DArray``): one detection per answered frame (box
  centre/size in pixels, clipped to the image, ``results[0].hypothesis`` class id 'target' and
  score, id 'target'), or an empty array when no target is tracked;
- ``~/debug_image`` (``sensor_msgs/Image`` rgb8, only while someone subscribes): the frame with
  box, score, modality state and a short trail;
- ``~/target_marker`` (``visualization_msgs/MarkerArray``, modality depth with ``camera_info``
  'x' or 'rgb'): a box at the target's 3D position plus a score/distance label; DELETEALL
  without a target;
- ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``) every ``diagnostics_period`` seconds and
  at once when the modality state changes: one status per input topic (rate against
  ``expected_rate_*``, drops, dead sensor), one for sync, one for the tracker (core.health).

Initialisation: the ``initial_box`` parameter ([x, y, w, h] pixels, applied on the first frame),
or a ``vision_msgs/Detection2D`` on ``~/init`` whose header stamp names the frame the box refers
to (core.session: 0 = the next frame; the last answered frame = re-initialise on it and answer it
again; a future stamp = that frame; an older stamp = the next frame, with a warning).
``~/init_from_detections`` (``vision_msgs/Detection2DArray`` from a detector) does the same with
the highest-scoring detection of class ``init_class_id``. ``~/reset`` (``std_srvs/Trigger``)
drops the target.

Threads: image callbacks only decode and push into the pipeline; one worker thread polls it and
runs inference. The arrival clock is the monotonic clock, never ROS time, so a lockstep player
with a paused ``/clock`` cannot deadlock it.

Start-up errors (a bad parameter, an unknown variant, a missing or broken checkpoint, an
unreadable params file) are one line on stderr and exit code 2; Ctrl-C exits cleanly (0).
"""

from __future__ import annotations

import signal
import sys

if __name__ == '__main__':
    # Ctrl-C (or SIGTERM) while the heavy imports below run: exit quietly, no traceback. This also
    # overrides a SIGINT inherited as ignored (a background job of a non-interactive shell).
    def _exit_quietly(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGINT, _exit_quietly)
    signal.signal(signal.SIGTERM, _exit_quietly)

# The imports below come after the signal set-up on purpose (E402 ignored in setup.cfg).
import copy
import os
import threading
import time
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
from rclpy.clock import Clock, ClockType, JumpThreshold
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection2DArray
from visualization_msgs.msg import Marker, MarkerArray

from rgbx_tracker_ros.core import health as health_mod
from rgbx_tracker_ros.core.codec import CodecError, transport_topic
from rgbx_tracker_ros.core.depth import DepthError, check_intrinsics
# The model (variant, checkpoint, device, precision -> RgbxTracker) is chosen in core.node_model,
# shared with rgbx-eval's rig:NAME specs; default_checkpoint / resolve_checkpoint are re-exported.
from rgbx_tracker_ros.core.node_model import (  # noqa: F401
    DEFAULT_CHECKPOINT_NAME, MODEL_PARAMETERS, default_checkpoint, node_model, RANDOM_WEIGHTS,
    resolve_checkpoint)
from rgbx_tracker_ros.core.params import (  # noqa: F401  (re-exported for users and tests)
    NodeParams, PARAMETER_NAMES, ParameterError, RUNTIME_PARAMETERS, parameter_specs,
    validate_parameters)
from rgbx_tracker_ros.core.pipeline import Answer, NodePipeline
from rgbx_tracker_ros.core.session import view_state  # noqa: F401  (re-exported)
from rgbx_tracker_ros.core.types import BackendUnavailable, Modality
from rgbx_tracker_ros.core.vis import draw_track, track_shapes
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, compressed_to_array, detection_score, detection_to_box_xywh,
    ImageConversionError, image_to_array, ns_to_stamp, pointcloud_to_events, result_to_annotations,
    result_to_detections,
    select_detection, stamp_to_ns)

NODE_NAME = 'tracker_node'
#: Exit code of a configuration error at start-up (one line on stderr, no traceback).
EXIT_CONFIG_ERROR = 2
_THROTTLE_S = 2.0


def declare_parameters(node: Node) -> None:
    """Declare every parameter of :class:`~rgbx_tracker_ros.core.params.NodeParams` with its
    description, unit, range and read-only flag (generated from the schema).

    Numbers are declared with dynamic typing, so that ``-p slop:=0`` (an integer) or a string
    reaches :func:`~rgbx_tracker_ros.core.params.validate_parameters`, which accepts the integer
    and rejects the string with one clear line, instead of an rclpy type exception.
    """
    restart = ' (read-only: restart the node to change it)'
    runtime = ' (changeable at run time)'
    for name, (default, spec) in parameter_specs().items():
        unit = f', {spec.unit}' if spec.unit else ''
        text = spec.description + unit + (runtime if spec.runtime else restart)
        desc = ParameterDescriptor(description=text, read_only=not spec.runtime)
        if spec.kind == 'float' and spec.lo is not None and spec.hi is not None:
            desc.floating_point_range = [FloatingPointRange(from_value=float(spec.lo),
                                                            to_value=float(spec.hi), step=0.0)]
            desc.additional_constraints = f'a number in [{spec.lo:g}, {spec.hi:g}]{unit}'
        elif spec.kind == 'int' and spec.lo is not None and spec.hi is not None:
            desc.integer_range = [IntegerRange(from_value=int(spec.lo), to_value=int(spec.hi),
                                               step=1)]
            desc.additional_constraints = f'an integer in [{spec.lo:g}, {spec.hi:g}]'
        elif spec.kind == 'choice':
            desc.additional_constraints = 'one of ' + ', '.join(spec.choices)
        if spec.kind in ('float', 'int', 'box'):
            desc.dynamic_typing = True
        node.declare_parameter(name, default, desc)


def read_parameters(node: Node) -> NodeParams:
    """Read and validate the declared parameters.

    Raises:
        ParameterError: naming the parameter, the value received and what is valid.
    """
    return validate_parameters({n: node.get_parameter(n).value for n in PARAMETER_NAMES})


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
        out.markers = [Marker(header=header, ns='target', id=0, action=Marker.DELETEALL)]
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


class TrackerNode(LifecycleNode):
    """The RGB-X tracker node (see the module docstring for topics, parameters and behaviour).

    A managed (lifecycle) node, as nav2 and yolo_ros nodes are: *configure* loads the model and
    creates the publishers, the ``~/init`` inputs and the ``~/reset`` service; *activate*
    subscribes the camera inputs, starts the inference thread and the diagnostics timer;
    *deactivate* unsubscribes and stops them (the model stays loaded); *cleanup* frees the model
    and the outputs. With the parameter ``autostart`` (default true) the constructor walks the
    node to active itself; with ``autostart: false`` it waits, unconfigured, for
    ``ros2 lifecycle set /tracker_node configure`` / ``activate`` (the lifecycle services).

    Args:
        start_worker: start the inference thread on activation (False: call :meth:`step`
            yourself, as the in-process tests do).

    Attributes:
        params: the current :class:`~rgbx_tracker_ros.core.params.NodeParams`.
        pipeline: the ROS-free :class:`~rgbx_tracker_ros.core.pipeline.NodePipeline`.
        detections_pub / debug_pub / marker_pub: the output publishers (marker_pub None
            unless modality depth).

    Raises (from the constructor):
        ParameterError: invalid parameters.
        FileNotFoundError / CheckpointError / ValueError: missing or unusable model (with
            ``autostart``; a configure through the lifecycle service fails instead, logged).
    """

    def __init__(self, start_worker: bool = True, **kwargs: Any) -> None:
        # state destroy_node relies on, set before anything can fail (rclpy's context shutdown
        # calls destroy_node on a node whose constructor raised)
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._throttle: dict[str, float] = {}
        self._start_worker = start_worker
        self.pipeline: NodePipeline | None = None
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self._diag_timer = None
        self._configure_error: Exception | None = None
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self)
        self.params = read_parameters(self)
        self.add_on_set_parameters_callback(self._validate_parameter_change)
        self.add_post_set_parameters_callback(self._apply_parameter_change)
        # /clock going back (use_sim_time and a bag restarted): a time jump of the ROS clock
        self._jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1),
                          on_clock_change=False), post_callback=self._on_clock_jump)
        if self.params.autostart:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise self._configure_error or RuntimeError('configure failed')
            self.trigger_activate()

    @property
    def lifecycle_state(self) -> str:
        """The lifecycle state's label: 'unconfigured', 'inactive', 'active', 'finalized'."""
        return self._state_machine.current_state[1]

    # ------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model, build the pipeline, create the outputs (publishers, ``~/init``
        subscriptions, ``~/reset``). A failure is logged (and kept for the constructor)."""
        try:
            self.params = read_parameters(self)
            self._configure(self.params)
        except (ParameterError, FileNotFoundError, ValueError, KeyError, RuntimeError) as exc:
            self._configure_error = exc
            self.get_logger().error(f'configure failed: {_one_line(exc)}')
            self._destroy(self._outputs)
            self.pipeline = None
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe the inputs, start the worker thread and the diagnostics timer."""
        p = self.params
        self._create_inputs(p, self._depth_marker)
        self._diag_timer = self.create_timer(p.diagnostics_period, self.publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, name='tracker_worker',
                                        daemon=True)
        if self._start_worker:
            self._worker.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe the inputs and stop the worker and the timer; the model stays."""
        self._stop_worker()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        self._destroy(self._inputs)
        self._x_sub = self._rgb_sub = self._info_sub = None
        self.get_logger().info('deactivated: inputs unsubscribed, model kept')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model and destroy the outputs."""
        self._destroy(self._outputs)
        self.pipeline = None
        self.get_logger().info('cleaned up: model freed')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything (from any state)."""
        self._stop_worker()
        return TransitionCallbackReturn.SUCCESS

    def _destroy(self, entities: list[Any]) -> None:
        for entity in entities:
            kind = type(entity).__name__
            destroy = {'Subscription': self.destroy_subscription,
                       'Publisher': self.destroy_publisher,
                       'Service': self.destroy_service}.get(kind)
            if destroy is not None:
                destroy(entity)
        entities.clear()

    def _stop_worker(self) -> None:
        self._stop.set()
        self._wake.set()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=5.0)

    def _configure(self, p: NodeParams) -> None:
        model = node_model({name: getattr(p, name) for name in MODEL_PARAMETERS})
        if model.checkpoint is None:
            self.get_logger().warning(f"checkpoint '{RANDOM_WEIGHTS}': variant {p.variant} "
                                      f'with RANDOM weights (for tests; tracking is meaningless)')
        import torch
        torch.set_num_threads(p.torch_threads or max(1, (os.cpu_count() or 1) - 1))
        t0 = time.monotonic()
        from rgbx_tracker_ros.models.factory import build_node_tracker   # imports torch
        tracker = build_node_tracker(model)
        self.get_logger().info(
            f'model {getattr(tracker, "variant", p.variant)} on {tracker.device} '
            f'({tracker.precision}, backend {tracker.backend}) from '
            f'{model.checkpoint or "random weights"} loaded in '
            f'{time.monotonic() - t0:.1f} s; modality {p.modality}, slop {p.slop} s, '
            f'x_timeout {p.x_timeout} s')
        depth_marker = p.modality_enum is Modality.DEPTH and p.camera_info != 'none'
        self._depth_marker = depth_marker
        self.pipeline = NodePipeline(p, tracker, want_depth=depth_marker)
        self._create_outputs(p)

    # ------------------------------------------------------------ set-up
    def _create_outputs(self, p: NodeParams) -> None:
        """Publishers, the ``~/init`` subscriptions and ``~/reset`` (configure)."""
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.detections_pub = self.create_publisher(Detection2DArray, '~/detections', out_qos)
        self.debug_pub = self.create_publisher(
            Image, '~/debug_image', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                                               reliability=ReliabilityPolicy.RELIABLE))
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', out_qos)
        # Foxglove: the box as image annotations, drawn on the raw camera image
        try:
            from foxglove_msgs.msg import ImageAnnotations
            self.annotations_pub = self.create_publisher(ImageAnnotations, '~/annotations',
                                                         out_qos)
        except ImportError:
            self.annotations_pub = None
            self.get_logger().info('foxglove_msgs is not installed: no ~/annotations '
                                   '(install ros-$ROS_DISTRO-foxglove-msgs for Foxglove)')
        self.marker_pub = (self.create_publisher(MarkerArray, '~/target_marker', out_qos)
                           if p.modality_enum is Modality.DEPTH else None)
        self._outputs += [e for e in (self.detections_pub, self.debug_pub, self._diag_pub,
                                      self.annotations_pub, self.marker_pub) if e is not None]
        self._outputs += [
            self.create_subscription(Detection2D, '~/init', self._on_init, out_qos),
            self.create_subscription(Detection2DArray, '~/init_from_detections',
                                     self._on_init_detections, out_qos),
            self.create_service(Trigger, '~/reset', self._on_reset)]

    def _create_inputs(self, p: NodeParams, depth_marker: bool) -> None:
        """The camera (and camera_info) subscriptions (activate)."""
        reliability = (ReliabilityPolicy.RELIABLE if p.qos_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=p.qos_depth,
                               reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        # X first: when both are ready in one executor pass, X is pushed before its RGB frame
        self._x_sub = None
        if p.raw_events:
            self._x_sub = self.create_subscription(
                PointCloud2, 'x/events', self._on_events, copy.copy(image_qos),
                qos_overriding_options=QoSOverridingOptions.with_default_policies())
        elif p.x_expected:
            self._x_sub = self._image_subscription('x/image_raw', self._on_x, image_qos,
                                                   p.modality_enum is Modality.DEPTH)
        self._rgb_sub = self._image_subscription('rgb/image_raw', self._on_rgb, image_qos)
        self._info_sub = None
        if p.camera_info != 'none' and not depth_marker:
            self.get_logger().warning(f'camera_info={p.camera_info!r} is only used with '
                                      f'modality depth (3D marker); ignored')
        elif depth_marker:
            # camera_info publishers use reliable or sensor QoS: best effort matches both
            info_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                  reliability=ReliabilityPolicy.BEST_EFFORT)
            self._info_sub = self.create_subscription(
                CameraInfo, f'{p.camera_info}/camera_info', self._on_camera_info, info_qos)
        self._warned_no_info = False
        self._inputs += [s for s in (self._x_sub, self._rgb_sub, self._info_sub)
                         if s is not None]
        init_text = (f'initial_box {list(p.initial_box)}' if p.initial_box else
                     f'waiting for a Detection2D on {self.resolve_topic_name("~/init")} or '
                     f'detections on {self.resolve_topic_name("~/init_from_detections")}')
        self.get_logger().info(
            f'listening on {self._rgb_sub.topic_name}'
            + (f' and {self._x_sub.topic_name}' if self._x_sub else ' (RGB only)')
            + (f' (+ {self._info_sub.topic_name} for ~/target_marker)' if self._info_sub
               else '') + f' ({p.qos_reliability}, depth {p.qos_depth}); {init_text}')

    def _image_subscription(self, topic: str, callback: Any, qos: QoSProfile,
                            depth: bool = False) -> Any:
        """``sensor_msgs/Image`` on ``topic``, or with ``transport: compressed``
        ``sensor_msgs/CompressedImage`` on the remapped ``topic`` + '/compressed'
        ('/compressedDepth' for a depth camera), the names image_transport publishes under.

        QoS: ``qos`` (from ``qos_reliability`` / ``qos_depth``) unless the standard ROS 2
        overrides say otherwise, per input, the image_pipeline way:
        ``qos_overrides.<resolved topic>.subscription.{reliability,depth,history,durability}``
        in a params file or ``-p`` (read-only parameters, declared with the subscription)."""
        overrides = QoSOverridingOptions.with_default_policies()
        qos = copy.copy(qos)          # the overrides are applied to the profile in place
        if self.params.transport != 'compressed':
            return self.create_subscription(Image, topic, callback, qos,
                                            qos_overriding_options=overrides)
        name = transport_topic(self.resolve_topic_name(topic), 'compressed', depth)
        return self.create_subscription(CompressedImage, name, callback, qos,
                                        qos_overriding_options=overrides)

    @property
    def input_topics(self) -> dict[str, str]:
        """Resolved input topic names: 'rgb', and 'x' (image or raw events) when X is expected,
        'camera_info' for a depth marker."""
        topics = {'rgb': self._rgb_sub.topic_name}
        if self._x_sub is not None:
            topics['x'] = self._x_sub.topic_name
        if self._info_sub is not None:
            topics['camera_info'] = self._info_sub.topic_name
        return topics

    # ------------------------------------------------------------ parameters
    def _validate_parameter_change(self, changes: list[Parameter]) -> SetParametersResult:
        """Reject a change that would make the parameter set invalid (e.g. slop >= x_timeout);
        read-only parameters are rejected by rclpy itself from their descriptors."""
        values = {n: self.get_parameter(n).value for n in PARAMETER_NAMES}
        values.update({c.name: c.value for c in changes if c.name in values})
        try:
            validate_parameters(values)
        except ParameterError as exc:
            self.get_logger().warning(f'parameter change rejected: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _apply_parameter_change(self, changes: list[Parameter]) -> None:
        if not any(c.name in RUNTIME_PARAMETERS for c in changes):
            return
        self.params = read_parameters(self)
        if self.pipeline is None:           # not configured: applied when it is
            return
        names = self.pipeline.apply_params(self.params)
        if names:
            self.get_logger().info('parameters applied: ' + ', '.join(
                f'{n}={getattr(self.params, n)!r}' for n in names))

    # ------------------------------------------------------------ callbacks
    def _decode(self, msg: Image | CompressedImage, topic: str) -> tuple[np.ndarray, str] | None:
        """(array, encoding) of an Image or CompressedImage; None for a bad frame (counted
        with its reason: e.g. 'size_mismatch', 'truncated', 'unknown_format')."""
        try:
            if isinstance(msg, CompressedImage):
                return compressed_to_array(msg)
            return image_to_array(msg), msg.encoding
        except (ImageConversionError, CodecError) as exc:
            self.pipeline.bad_frame(topic, exc.reason, str(exc))
        except ValueError as exc:
            self.pipeline.bad_frame(topic, 'encoding', str(exc))
        return None

    def _on_rgb(self, msg: Image | CompressedImage) -> None:
        self._on_image(msg, 'rgb', self.pipeline.on_rgb)

    def _on_x(self, msg: Image | CompressedImage) -> None:
        self._on_image(msg, 'x', self.pipeline.on_x)

    def _on_image(self, msg: Image | CompressedImage, topic: str, push: Any) -> None:
        now = time.monotonic_ns()
        decoded = self._decode(msg, topic)
        if decoded is None:
            self.pipeline.health.record_input(topic, now)
        else:
            arr, encoding = decoded
            push(stamp_to_ns(msg.header.stamp), msg.header.frame_id, arr, encoding, now)
        self._wake.set()

    def _on_events(self, msg: PointCloud2) -> None:
        now = time.monotonic_ns()
        try:
            events = pointcloud_to_events(msg)
        except ImageConversionError as exc:
            self.pipeline.health.record_input('x', now)
            self.pipeline.bad_frame('x', exc.reason, str(exc))
            return
        self.pipeline.on_events(events, stamp_to_ns(msg.header.stamp), msg.header.frame_id,
                                now)
        self._wake.set()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            k = check_intrinsics(msg.k)
        except DepthError as exc:
            self.pipeline.bad_frame('camera_info', 'intrinsics', str(exc))
            return
        self.pipeline.set_intrinsics(k, (int(msg.width), int(msg.height)), msg.header.frame_id)

    def _on_init(self, msg: Detection2D) -> None:
        if self.pipeline.request_init(stamp_to_ns(msg.header.stamp),
                                      detection_to_box_xywh(msg), '~/init'):
            self._wake.set()
        self._flush_log()

    def _on_init_detections(self, msg: Detection2DArray) -> None:
        class_id = self.params.init_class_id
        det = select_detection(msg, class_id)
        if det is None:
            have = sorted({h.hypothesis.class_id for d in msg.detections for h in d.results})
            self.pipeline.bad_frame(
                'init', 'no_detection', f'~/init_from_detections: {len(msg.detections)} '
                f'detection(s), none ' + (f'of class {class_id!r} (classes: {have})'
                                          if class_id else 'usable'))
            self._flush_log()
            return
        stamp = stamp_to_ns(msg.header.stamp) or stamp_to_ns(det.header.stamp)
        self.get_logger().info(
            f'~/init_from_detections: picked {det.id or "a detection"} (class '
            f'{det.results[0].hypothesis.class_id if det.results else "?"}, score '
            f'{detection_score(det):.2f}) of {len(msg.detections)}')
        if self.pipeline.request_init(stamp, detection_to_box_xywh(det),
                                      '~/init_from_detections'):
            self._wake.set()
        self._flush_log()

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        ticket = self.pipeline.request_reset()
        self._wake.set()
        applied = True
        if self._worker is not None and self._worker.is_alive() and not self._stop.is_set():
            applied = self.pipeline.session.wait_reset(ticket, timeout_s=2.0)
        response.success = True
        response.message = ('target dropped; detections stay empty until ~/init or '
                            '~/init_from_detections' if applied else
                            'reset queued (the worker is busy); detections stay empty from the '
                            'next frame on')
        return response

    def _on_clock_jump(self, jump: Any) -> None:
        delta_s = jump.delta.nanoseconds / 1e9
        if delta_s < 0 and self.pipeline is not None:
            self.pipeline.reset_time_base(f'/clock went back by {-delta_s:.3f} s')
            self._wake.set()

    # ------------------------------------------------------------ worker
    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.02)
            self._wake.clear()
            self.step()

    def step(self) -> list[Answer]:
        """One worker step: poll the pipeline, publish its answers, log its messages. The node
        survives any error in a frame (counted as bad frame ``worker.<exception>``)."""
        answers: list[Answer] = []
        if self.pipeline is None:
            return answers
        try:
            answers = self.pipeline.poll(time.monotonic_ns())
            for answer in answers:
                self._publish(answer)
        except Exception as exc:  # noqa: BLE001 - the node must survive any frame
            self.pipeline.bad_frame('worker', type(exc).__name__, f'worker error (frame '
                                                                  f'skipped): {exc!r}')
        self._flush_log()
        return answers

    def _publish(self, answer: Answer) -> None:
        header = Header(stamp=ns_to_stamp(answer.stamp_ns), frame_id=answer.frame_id)
        self.detections_pub.publish(result_to_detections(header, answer.box, answer.score))
        if self.marker_pub is not None:
            if answer.box is not None and self.pipeline.session.intrinsics is None \
                    and not self._warned_no_info:
                self._warned_no_info = True
                self.get_logger().warning(
                    f'no camera_info on '
                    f'{self._info_sub.topic_name if self._info_sub else "(none)"}'
                    f' yet: ~/target_marker stays empty until intrinsics arrive')
            marker_header = Header(stamp=header.stamp, frame_id=answer.marker_frame_id)
            self.marker_pub.publish(target_markers(marker_header, answer.position,
                                                   answer.score, answer.state))
        if self.pipeline.published(answer, time.monotonic_ns()):
            self.publish_diagnostics()
        if self.annotations_pub is not None \
                and self.annotations_pub.get_subscription_count() > 0:
            self.annotations_pub.publish(result_to_annotations(
                header.stamp, track_shapes(answer.box, answer.score, answer.state,
                                           answer.trail)))
        if self.debug_pub.get_subscription_count() > 0:
            drawn = draw_track(answer.image, answer.box, answer.score, answer.state,
                               trail=answer.trail)
            self.debug_pub.publish(array_to_image(drawn, 'rgb8', header=header))

    def _flush_log(self) -> None:
        logger = self.get_logger()
        now = time.monotonic()
        for line in self.pipeline.drain_log():
            if line.throttle_key:
                last = self._throttle.get(line.throttle_key)
                if last is not None and now - last < _THROTTLE_S:
                    continue   # counted in diagnostics all the same
                self._throttle[line.throttle_key] = now
            if line.level >= 40:
                logger.error(line.text)
            elif line.level >= 30:
                logger.warning(line.text)
            else:
                logger.info(line.text)

    # ---------------------------------------------------------- diagnostics
    def publish_diagnostics(self) -> None:
        """Publish the pipeline's statuses (inputs, sync, tracker) on ``/diagnostics``."""
        reports = self.pipeline.reports(time.monotonic_ns())
        params = self.params
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        base = self.get_fully_qualified_name()
        for rep in reports:
            status = DiagnosticStatus()
            status.level = bytes([rep.level])
            status.name = f'{base}: {rep.name}' if rep.name else f'{base}: tracking'
            status.message = rep.message
            status.hardware_id = self.pipeline.health.device
            values = dict(rep.values)
            if rep.name == 'sync':
                values['slop_s'] = f'{params.slop:g}'
                values['x_timeout_s'] = f'{params.x_timeout:g}'
            status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
            msg.status.append(status)
        self._diag_pub.publish(msg)

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node (safe on a half-built node)."""
        if hasattr(self, '_stop'):
            self._stop_worker()
        try:
            super().destroy_node()
        except Exception:  # noqa: BLE001 - a half-built node (constructor raised)
            pass


def _return_image_memory_to_the_os() -> None:
    """glibc only (best effort): serve every allocation of 256 KiB or more (each image) with its
    own mmap, returned to the OS when freed. By default glibc raises that threshold after the
    first such free, and the images then fragment the heap of the callback and worker threads,
    so a long run's RSS creeps up (``make soak``)."""
    if not sys.platform.startswith('linux'):
        return
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 256 * 1024)
    except (OSError, AttributeError):
        pass


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _one_line(exc: BaseException) -> str:
    raw = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    text = ' '.join(str(raw).split())
    return text if len(text) < 600 else text[:600] + ' ...'


def main(args: list[str] | None = None) -> int:
    """Entry point of ``tracker_node`` (``ros2 run rgbx_tracker_ros tracker_node``).

    Returns:
        0 after Ctrl-C or a shutdown; 2 for a configuration error (one line on stderr).
    """
    from rgbx_tracker_ros.export.engines import EngineError
    from rgbx_tracker_ros.models.checkpoint import CheckpointError
    # Our own SIGINT/SIGTERM handling: rclpy's handler only wakes executors, so a Ctrl-C while
    # the model loads (no executor yet) would be lost. The interpreter's KeyboardInterrupt
    # reaches every phase; spinning with a timeout gives it a chance to run.
    _return_image_memory_to_the_os()
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - rcl: unreadable/invalid --params-file, bad args
        print(f'[{NODE_NAME}] cannot start: invalid command line or params file: '
              f'{_one_line(exc)} (check the --params-file path and its YAML)', file=sys.stderr)
        return EXIT_CONFIG_ERROR
    node = None
    code = 0
    try:
        node = TrackerNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, CheckpointError, FileNotFoundError, ValueError, KeyError,
            BackendUnavailable, EngineError, rclpy.exceptions.ParameterException) as exc:
        print(f'[{NODE_NAME}] cannot start: {_one_line(exc)}', file=sys.stderr)
        code = EXIT_CONFIG_ERROR
    finally:
        try:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        except (KeyboardInterrupt, Exception):  # noqa: BLE001 - exiting anyway
            pass
    return code


if __name__ == '__main__':
    sys.exit(main())
