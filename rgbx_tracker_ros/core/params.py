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

"""The tracker node's parameters: ONE typed schema (ROS-free).

:class:`NodeParams` is a frozen dataclass; the metadata of each field (:class:`Spec`) holds its
description, unit, valid range or choices, and whether it is read-only (a restart is needed) or
changeable at run time. Everything else is generated from it:

- ``ros/tracker_node.py`` declares the parameters (descriptors with description, range and
  read-only flag) with :func:`parameter_specs` and reads/validates them with
  :func:`validate_parameters`;
- the parameter callback validates a change with the same function (e.g. ``slop < x_timeout``)
  and applies the :data:`RUNTIME_PARAMETERS`;
- ``config/tracker.yaml`` and the rig defaults (``core.rig``) are tested against
  :func:`defaults`.

Every validation error is a :class:`ParameterError` (a ``ValueError``) with one line: the
parameter, the value received, what is valid, and how to set it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from rgbx_tracker_ros.core.types import BACKENDS, PRECISIONS, Modality, parse_modality

__all__ = ['NodeParams', 'ParameterError', 'Spec', 'PARAMETER_NAMES', 'RUNTIME_PARAMETERS',
           'defaults', 'parameter_specs', 'validate_parameters']


class ParameterError(ValueError):
    """An invalid node parameter (or combination); the message is one line saying what is wrong
    and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """Schema of one parameter (the ``metadata['spec']`` of a :class:`NodeParams` field).

    Attributes:
        description: what it does, for ``ros2 param describe``.
        kind: 'float', 'int', 'str', 'choice', 'bool' or 'box' (a list of numbers or empty,
            declared with dynamic typing: [x, y, w, h] for ``initial_box``, 9 numbers for
            ``x_homography``).
        unit: unit shown in messages ('s', 'Hz', 'px', '' for none).
        lo / hi: inclusive range of a number (None = unbounded).
        choices: valid values of a 'choice' (lower case).
        runtime: changeable on a running node (validated by the parameter callback); otherwise
            read-only (declared ``read_only``: restart the node to change it).
    """

    description: str
    kind: str = 'float'
    unit: str = ''
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    runtime: bool = False


def _p(default: Any, description: str, **spec: Any) -> Any:
    return dataclasses.field(default=default, metadata={'spec': Spec(description, **spec)})


@dataclasses.dataclass(frozen=True)
class NodeParams:
    """Validated parameters of ``tracker_node`` (defaults = ``config/tracker.yaml``).

    Units: seconds, pixels, Hz. See each field's :class:`Spec` (``parameter_specs()``) for its
    description and range.
    """

    # --- model (read-only)
    variant: str = _p('s14_224_d8', "model variant (s14_224_d8, s14_224, t224, s224, b224, b384, "
                      "l224, l384, or a test_* variant); a checkpoint's own variant takes "
                      "precedence", kind='str')
    checkpoint: str = _p('', "path to a .pt checkpoint; empty = the package's default "
                         "checkpoint; 'none' = random weights (tests only)", kind='str')
    device: str = _p('auto', 'inference device: auto (CUDA when available, else CPU), cpu, '
                     'cuda, cuda:N', kind='str')
    precision: str = _p('auto', 'network precision: auto (bf16 on CPUs with native bfloat16, '
                        'else fp32), fp32, bf16, fp16 (CUDA only)', kind='choice',
                        choices=tuple(PRECISIONS))
    backend: str = _p('torch', 'inference backend: torch, onnxruntime (CPU; CUDA / TensorRT '
                      'providers with onnxruntime-gpu), openvino (CPU) or tensorrt (CUDA); the '
                      'model is exported to two graphs on first use and cached (rgbx-export '
                      'does it ahead of time)', kind='choice', choices=tuple(BACKENDS))
    engine_cache: str = _p('', "folder of the exported graphs of non-torch backends; '' = "
                           '$RGBX_CACHE/engines (~/.cache/rgbx_tracker_ros/engines)', kind='str')
    autostart: bool = _p(True, 'walk the lifecycle node to active on start (configure: load '
                         'the model; activate: subscribe); false = wait for the lifecycle '
                         'services (ros2 lifecycle set)', kind='bool')
    redetect_tiles_per_frame: int = _p(0, 'bound on the cost of re-detection: a low-score '
                                       'frame searches at most this many regions of the '
                                       'frame, round robin over consecutive frames; 0 = the '
                                       'whole frame at once (the offline setting)',
                                       kind='int', lo=0, hi=256)
    torch_threads: int = _p(0, 'CPU threads for inference; 0 = all cores but one (left to '
                            'image callbacks and DDS)', kind='int', lo=0, hi=256)
    # --- inputs (read-only)
    modality: str = _p('thermal', 'X modality on x/image_raw: thermal, depth, event, or rgb (no '
                       'X topic)', kind='choice', choices=tuple(m.value for m in Modality))
    event_input: str = _p('frame', "modality event only: 'frame' = rendered event frames on "
                          "x/image_raw; 'raw' = raw events (sensor_msgs/PointCloud2 with fields "
                          "x, y, t in microseconds, p) on x/events, rendered per RGB frame "
                          "interval", kind='choice', choices=('frame', 'raw'))
    transport: str = _p('raw', "image transport of the image inputs: 'raw' = sensor_msgs/Image "
                        "on rgb/image_raw and x/image_raw; 'compressed' = "
                        "sensor_msgs/CompressedImage on <topic>/compressed (jpeg / png; "
                        "<topic>/compressedDepth for modality depth), decoded with OpenCV; raw "
                        "events stay on x/events", kind='choice', choices=('raw', 'compressed'))
    qos_reliability: str = _p('best_effort', 'reliability of the input subscriptions: '
                              'best_effort (sensor data) or reliable', kind='choice',
                              choices=('best_effort', 'reliable'))
    qos_depth: int = _p(5, 'history depth of the input subscriptions (messages)', kind='int',
                        lo=1, hi=1000)
    camera_info: str = _p('none', "modality depth: intrinsics for the 3D target marker from 'x' "
                          "(x/camera_info) or 'rgb' (rgb/camera_info, depth aligned to colour); "
                          "'none' = no marker", kind='choice', choices=('none', 'rgb', 'x'))
    x_resize: str = _p('aspect', "X frames of another size than RGB: 'aspect' = scale X to the "
                       "RGB size when the aspect ratios agree (registered cameras), else the X "
                       "frame is a counted bad frame; 'stretch' = always resize", kind='choice',
                       choices=('aspect', 'stretch'))
    x_homography: tuple[float, ...] | None = _p(
        None, 'registration of X to RGB: 9 numbers (row major) of the homography that maps X '
              'pixels to RGB pixels (x right, y down); X frames are warped into the RGB grid '
              "before tracking (nearest neighbour for depth); empty = none (X is only resized, "
              "see x_resize); a rig's registration: key sets it (rgbx-calibrate computes it)",
        kind='box')
    # --- synchronisation (run time)
    slop: float = _p(0.02, 'largest |t_x - t_rgb| between header stamps of a pair; < x_timeout',
                     unit='s', lo=0.0, hi=1.0, runtime=True)
    x_timeout: float = _p(0.5, 'an RGB frame that waited this long (arrival clock) for its X '
                          'frame is tracked on RGB alone and X is declared lost; > slop',
                          unit='s', lo=0.001, hi=60.0, runtime=True)
    x_grace: float = _p(0.03, 'while X is missing (or no X can fall within slop), hold an RGB '
                        'frame this long for an X frame delivered just after it (and while RGB '
                        'is lost, an X frame for its RGB frame)', unit='s', lo=0.0, hi=1.0,
                        runtime=True)
    rgb_timeout: float = _p(0.5, 'an X frame that waited this long (arrival clock) for its RGB '
                            'frame is tracked on X alone (a black RGB frame, as in a dark '
                            'scene); 0 = never (not with raw events, which are framed by RGB)',
                            unit='s', lo=0.0, hi=60.0, runtime=True)
    time_jump_threshold: float = _p(2.0, 'a header stamp that differs from the stream\'s recent '
                                    'stamps by more than this (beyond the arrival-clock gap) is a '
                                    'time jump: logged, counted, queues dropped, new time base; '
                                    '0 = off', unit='s', lo=0.0, hi=3600.0, runtime=True)
    reorder_window: int = _p(2, 'frames that arrive this many frames out of stamp order are '
                             'still paired and answered (out of order) instead of dropped as '
                             'late; 0 = drop them', kind='int', lo=0, hi=16, runtime=True)
    # --- dead-sensor detection (run time)
    min_valid_ratio: float = _p(0.05, 'depth X frames with fewer valid (finite, > 0) pixels than '
                                'this fraction carry no signal and are treated as missing X',
                                lo=0.0, hi=1.0, runtime=True)
    # --- tracking (run time except initial_box)
    initial_box: tuple[float, float, float, float] | None = _p(
        None, '[x, y, w, h] pixels (top-left origin) of the target in the first frame; empty = '
              'wait for ~/init or ~/init_from_detections', kind='box', unit='px')
    min_box_size: float = _p(4.0, 'smallest width and height of an init box after clipping to '
                             'the image; smaller ones are rejected with a reason', unit='px',
                             lo=1.0, hi=10000.0, runtime=True)
    score_threshold: float = _p(0.0, 'publish an empty Detection2DArray when the score is below '
                                'this (the tracker keeps tracking)', lo=0.0, hi=1.0, runtime=True)
    init_class_id: str = _p('', "~/init_from_detections picks the highest-scoring detection of "
                            "this class id (e.g. 'person' or a COCO id); '' = any class",
                            kind='str', runtime=True)
    rgb_dark_level: float = _p(12.0, "mean RGB intensity (0-255) below which a frame counts as "
                               "dark: with X the debug image then says 'X only' (0 = never)",
                               lo=0.0, hi=255.0, runtime=True)
    # --- diagnostics
    expected_rate_rgb: float = _p(0.0, 'expected RGB rate: the rgb input status WARNs when the '
                                  'measured rate is below half of it (0 = no check)', unit='Hz',
                                  lo=0.0, hi=10000.0, runtime=True)
    expected_rate_x: float = _p(0.0, 'expected X message rate: the x input status WARNs when the '
                                'measured rate is below half of it (0 = no check)', unit='Hz',
                                lo=0.0, hi=1e6, runtime=True)
    drop_warn_ratio: float = _p(0.2, 'diagnostics WARN when more than this fraction of a '
                                "stream's frames in the last window were dropped", lo=0.0,
                                hi=1.0, runtime=True)
    stall_error_s: float = _p(2.0, 'diagnostics ERROR when frames arrive but nothing has been '
                              'answered for this long', unit='s', lo=0.1, hi=3600.0,
                              runtime=True)
    diagnostics_period: float = _p(1.0, 'seconds between /diagnostics messages (steady clock)',
                                   unit='s', lo=0.05, hi=60.0)

    @property
    def modality_enum(self) -> Modality:
        """:attr:`modality` as a :class:`~rgbx_tracker_ros.core.types.Modality`."""
        return parse_modality(self.modality)

    @property
    def x_expected(self) -> bool:
        """True unless the rig has no X sensor (modality rgb)."""
        return self.modality_enum is not Modality.RGB

    @property
    def raw_events(self) -> bool:
        """True for raw events on x/events (rendered per RGB frame interval)."""
        return self.modality_enum is Modality.EVENT and self.event_input == 'raw'

    def replace(self, **changes: Any) -> 'NodeParams':
        """A validated copy with ``changes`` (raises :class:`ParameterError`)."""
        values = dataclasses.asdict(self)
        values.update(changes)
        return validate_parameters(values)


_FIELDS = {f.name: f for f in dataclasses.fields(NodeParams)}
#: All parameter names, in declaration order.
PARAMETER_NAMES: tuple[str, ...] = tuple(_FIELDS)
#: Parameters applied at run time through the parameter callback (the rest are read-only).
RUNTIME_PARAMETERS: tuple[str, ...] = tuple(n for n, f in _FIELDS.items()
                                            if f.metadata['spec'].runtime)


def parameter_specs() -> dict[str, tuple[Any, Spec]]:
    """name -> (default, :class:`Spec`) for every parameter, in declaration order."""
    return {n: (f.default, f.metadata['spec']) for n, f in _FIELDS.items()}


def defaults() -> dict[str, Any]:
    """name -> default value (``initial_box`` as None) for every parameter."""
    return {n: f.default for n, f in _FIELDS.items()}


def _fail(name: str, value: Any, expected: str) -> ParameterError:
    return ParameterError(f'parameter {name}={value!r}: expected {expected} (set it in the '
                          f'params file or with --ros-args -p {name}:=VALUE)')


def _number(name: str, value: Any, spec: Spec) -> float:
    unit = f' {spec.unit}' if spec.unit else ''
    rng = f'in [{spec.lo:g}, {spec.hi:g}]{unit}' if spec.hi is not None else f'>= {spec.lo:g}'
    what = ('an integer ' if spec.kind == 'int' else 'a number ') + rng
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        raise _fail(name, value, what)
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise _fail(name, value, what) from None
    if not math.isfinite(num) or (spec.lo is not None and num < spec.lo) \
            or (spec.hi is not None and num > spec.hi):
        raise _fail(name, value, what)
    if spec.kind == 'int':
        if num != int(num):
            raise _fail(name, value, what)
        return int(num)
    return num


def _bool(name: str, value: Any) -> bool:
    """true / false (a bool, or the strings true/false/1/0/yes/no of a launch argument)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off'):
        return False
    raise _fail(name, value, 'true or false')


def _number_list(name: str, value: Any, count: int, expected: str) -> list[float] | None:
    """``count`` finite numbers from a list parameter, or None for empty ([] / '' / None).

    Raises:
        ParameterError: a string, non-numbers, another count or a non-finite value.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        raise _fail(name, value, expected)
    try:
        vals = [float(v) for v in value]
    except (TypeError, ValueError):
        raise _fail(name, value, expected) from None
    if not vals:
        return None
    if len(vals) != count or not all(math.isfinite(v) for v in vals):
        raise _fail(name, list(value), expected)
    return vals


def _box(name: str, value: Any) -> tuple[float, float, float, float] | None:
    expected = '[x, y, w, h] in pixels with w > 0 and h > 0, or [] to wait for ~/init'
    vals = _number_list(name, value, 4, expected)
    if vals is None:
        return None
    if vals[2] <= 0 or vals[3] <= 0:
        raise _fail(name, list(value), expected)
    return (vals[0], vals[1], vals[2], vals[3])


def _homography(name: str, value: Any) -> tuple[float, ...] | None:
    """9 finite numbers of a non-singular 3x3 matrix (row major), or None for empty."""
    expected = ('9 numbers (row major) of a non-singular 3x3 homography X pixels -> RGB pixels, '
                'or [] for no registration')
    vals = _number_list(name, value, 9, expected)
    if vals is None:
        return None
    from rgbx_tracker_ros.core.registration import RegistrationError, check_homography
    try:
        check_homography(vals)          # the same test the session's registration applies
    except RegistrationError:
        raise _fail(name, list(value), expected + ' (this one is singular)') from None
    return tuple(vals)


def validate_parameters(values: Mapping[str, Any]) -> NodeParams:
    """Validate parameter values (name -> value; missing ones take their defaults).

    Integers are accepted for float parameters (``-p slop:=0``); strings are normalised (lower
    case for choices, stripped).

    Returns:
        the validated :class:`NodeParams`.

    Raises:
        ParameterError: one line naming the parameter, the value received and what is valid;
            also for an unknown name and for ``slop >= x_timeout``, ``fp16`` on a CPU and an
            invalid ``device``.
    """
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ParameterError(f'unknown parameter(s) {", ".join(unknown)}; known: '
                             f'{", ".join(PARAMETER_NAMES)}')
    out: dict[str, Any] = {}
    for name, (default, spec) in parameter_specs().items():
        value = values.get(name, default)
        if spec.kind in ('float', 'int'):
            out[name] = _number(name, value, spec)
        elif spec.kind == 'box':
            out[name] = _homography(name, value) if name == 'x_homography' else _box(name, value)
        elif spec.kind == 'bool':
            out[name] = _bool(name, value)
        else:
            if isinstance(value, (list, tuple, dict)) or value is None:
                raise _fail(name, value, 'a string')
            text = str(value).strip()
            if spec.kind == 'choice':
                text = text.lower().replace('-', '_') if name == 'qos_reliability' \
                    else text.lower()
                if name == 'camera_info' and not text:
                    text = 'none'
                if text not in spec.choices:
                    raise _fail(name, value, 'one of ' + ', '.join(spec.choices))
            out[name] = text
    device = out['device'].lower()
    if not (device in ('auto', 'cpu', 'cuda') or (device.startswith('cuda:')
                                                  and device[5:].isdigit())):
        raise _fail('device', values.get('device', device), 'auto, cpu, cuda or cuda:N')
    out['device'] = device
    if out['precision'] == 'fp16' and device == 'cpu':
        raise ParameterError("parameter precision='fp16' needs a CUDA device (device cuda or "
                             "cuda:N); on a CPU use bf16, fp32 or auto")
    if out['backend'] == 'tensorrt' and device == 'cpu':
        raise ParameterError("parameter backend='tensorrt' needs a CUDA device (device cuda, "
                             "cuda:N or auto on a GPU machine); on a CPU use onnxruntime, "
                             "openvino or torch")
    if out['backend'] == 'openvino' and device.startswith('cuda'):
        raise ParameterError(f"parameter backend='openvino' runs on the CPU here, not on "
                             f"device={device!r}; use device cpu, or backend onnxruntime / "
                             f"tensorrt / torch on a CUDA GPU")
    if not out['slop'] < out['x_timeout']:
        raise ParameterError(f"parameters slop={out['slop']} and x_timeout={out['x_timeout']}: "
                             f"need 0 <= slop < x_timeout (seconds)")
    return NodeParams(**out)
