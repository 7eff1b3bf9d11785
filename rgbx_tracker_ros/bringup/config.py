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

"""The tracker node's bringup: a validated :class:`~rgbx_tracker_ros.core.rig.Rig` (plus launch
overrides) -> the node's configuration, and the replay processes (ROS-free; used by
``launch/*.launch.py`` and ``rgbx-launch`` alike).

:func:`node_configuration` is the ONE place that turns a rig into a :class:`NodeConfig` (node
name, namespace, executable, parameters, remappings); the launch files and ``rgbx-launch`` both
call it, so they start the same node. :func:`replay_configuration` adds the replay processes
(player, recorder, evaluator) of ``launch/replay.launch.py`` / ``rgbx-launch --replay``. The rviz
and Foxglove files are :mod:`rgbx_tracker_ros.bringup.viewers`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Mapping

from rgbx_tracker_ros.core import rig as _rig
from rgbx_tracker_ros.core.rig import (
    PACKAGE, Rig, RigError, check_device, check_variant, schema_choice)
from rgbx_tracker_ros.core.types import Modality

NODE_NAME = 'tracker_node'
NODE_EXECUTABLE = 'tracker_node'
NODE_MODULE = 'rgbx_tracker_ros.ros.tracker_node'
PLAYER_EXECUTABLE = 'rgbx-player'
RECORDER_EXECUTABLE = 'rgbx-record'
EVALUATOR_EXECUTABLE = 'rgbx-eval-run'
#: console script -> module run with ``python -m`` by ``rgbx-launch`` (same entry points).
EXECUTABLE_MODULES = {
    NODE_EXECUTABLE: NODE_MODULE,
    PLAYER_EXECUTABLE: 'rgbx_tracker_ros.ros.player',
    RECORDER_EXECUTABLE: 'rgbx_tracker_ros.ros.recorder',
    EVALUATOR_EXECUTABLE: 'rgbx_tracker_ros.cli.eval_run',
}
#: Topics of the node (relative names) that a rig remaps.
NODE_TOPIC_RGB = 'rgb/image_raw'
NODE_TOPIC_X = 'x/image_raw'
NODE_TOPIC_EVENTS = 'x/events'
NODE_TOPIC_RGB_INFO = 'rgb/camera_info'
NODE_TOPIC_X_INFO = 'x/camera_info'
#: keys :func:`node_configuration` accepts in ``overrides`` (launch arguments).
OVERRIDE_KEYS = ('variant', 'checkpoint', 'device', 'backend', 'autostart', 'use_sim_time',
                 'initial_box', 'score_threshold', 'init_class_id', 'compute', 'params_file',
                 'log_level')
#: ``log_level`` values (rcutils severities, lower case).
LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')


@dataclasses.dataclass
class NodeConfig:
    """One process of a node set, as ``launch_ros.actions.Node`` takes it.

    Attributes:
        name: node name ('' = the executable's own).
        namespace: '' or an absolute namespace like '/rig'.
        executable: console script of this package (see setup.py).
        package: the ROS package.
        parameters: ROS parameters (name -> bool / int / float / str / list).
        remappings: (from, to) topic remappings, in order.
        arguments: command-line arguments before ``--ros-args``.
        params_files: YAML parameter files applied after ``parameters`` (later ones win), as
            ``ros2 run ... --ros-args --params-file F`` / a launch Node's ``parameters=[...,
            F]``; the ``params_file`` launch argument.
        log_level: the node's log level (debug, info, warn, error, fatal); '' = the default
            (info). The ``log_level`` launch argument.
    """

    name: str
    namespace: str
    executable: str
    package: str = PACKAGE
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    remappings: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    arguments: list[str] = dataclasses.field(default_factory=list)
    params_files: list[str] = dataclasses.field(default_factory=list)
    log_level: str = ''

    @property
    def fully_qualified_name(self) -> str:
        """'/ns/name' (or '/name')."""
        return (self.namespace.rstrip('/') + '/' + self.name) if self.namespace else \
            '/' + self.name

    def ros_args(self) -> list[str]:
        """``--ros-args`` arguments that give a process this configuration (``-r __node:=``,
        ``-r __ns:=``, ``-p name:=value`` with YAML values, ``-r from:=to``); [] when there is
        nothing to set."""
        args = ['--ros-args']
        if self.name:
            args += ['-r', f'__node:={self.name}']
        if self.namespace:
            args += ['-r', f'__ns:={self.namespace}']
        for key, value in self.parameters.items():
            args += ['-p', f'{key}:={ros_param_value(value)}']
        for path in self.params_files:
            args += ['--params-file', str(path)]
        for src, dst in self.remappings:
            args += ['-r', f'{src}:={dst}']
        if self.log_level and self.log_level != 'info':
            args += ['--log-level', self.log_level]
        return args if len(args) > 1 else []

    def launch_kwargs(self) -> dict[str, Any]:
        """This configuration as the keyword arguments of ``launch_ros.actions.Node`` (what the
        launch files pass; JSON-friendly): package, executable, name, namespace, parameters
        (the dict, then the ``params_files``), remappings, arguments, ros_arguments
        (``--log-level``)."""
        kw: dict[str, Any] = {'package': self.package, 'executable': self.executable}
        if self.name:
            kw['name'] = self.name
        if self.namespace:
            kw['namespace'] = self.namespace
        kw['parameters'] = [dict(self.parameters), *(str(p) for p in self.params_files)]
        kw['remappings'] = [list(r) for r in self.remappings]
        if self.arguments:
            kw['arguments'] = list(self.arguments)
        if self.log_level and self.log_level != 'info':
            kw['ros_arguments'] = ['--log-level', self.log_level]
        return kw

    def command(self, python: str) -> list[str]:
        """``python -m <module> ARGS --ros-args ...``: the same entry point as the console
        script, runnable from a source tree (``rgbx-launch``).

        Raises:
            KeyError: for an executable without a module in :data:`EXECUTABLE_MODULES`.
        """
        return [python, '-m', EXECUTABLE_MODULES[self.executable], *self.arguments,
                *self.ros_args()]


def ros_param_value(value: Any) -> str:
    """A parameter value as ``-p name:=VALUE`` text (YAML): strings single-quoted (so 'true' or
    '1' stay strings), lists in brackets, booleans lower case."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(ros_param_value(v) for v in value) + ']'
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


# ----------------------------------------------------------------------- node configuration
def _namespace(text: str) -> str:
    text = str(text).strip().strip('/')
    return '/' + text if text else ''


def _resolve_checkpoint(value: str) -> str:
    """A bare file name -> the package's checkpoints/<name> (:func:`checkpoint_dirs`: share dir,
    else source tree) when it exists there; everything else unchanged ('' and 'none' are the
    node's own values)."""
    if not value or value.lower() == 'none' or os.sep in value or value.startswith('~'):
        return value
    for folder in _rig.checkpoint_dirs():
        if (folder / value).is_file():
            return str(folder / value)
    return value


def _truthy(value: Any, key: str, path: str | Path) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off', ''):
        return False
    raise RigError(path, key, f'{value!r}: expected true or false')


def _parse_box(value: Any, path: str | Path) -> list[float] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip().strip('[]')
        parts = [p for p in text.replace(',', ' ').split() if p]
    else:
        parts = list(value)
    try:
        box = [float(v) for v in parts]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        raise RigError(path, 'initial_box', f'{value!r}: expected x,y,w,h pixels with w, h > 0')
    return box


def node_configuration(rig: Rig, namespace: str | None = None,
                       overrides: Mapping[str, Any] | None = None) -> NodeConfig:
    """The tracker node's configuration for ``rig`` (the one function both the launch files and
    ``rgbx-launch`` use).

    Args:
        rig: a loaded :class:`Rig`.
        namespace: node namespace; None or '' = the rig's ``namespace`` ('/' = the root).
        overrides: launch-argument overrides; keys from :data:`OVERRIDE_KEYS`. Values that are
            None or '' mean "no override" (launch arguments default to ''). ``compute`` picks
            the profile ('cpu' / 'gpu'; default: the rig's ``compute.default``); ``variant``,
            ``checkpoint``, ``device`` override that profile; ``use_sim_time`` is a bool or
            'true'/'false'; ``initial_box`` 'x,y,w,h' pixels or a list.

    Returns:
        :class:`NodeConfig` for executable ``tracker_node``: parameters (modality, event_input,
        transport, slop, x_timeout, x_grace, rgb_timeout, qos_reliability, qos_depth,
        score_threshold, init_class_id, camera_info, expected_rate_rgb, expected_rate_x, variant,
        checkpoint, device,
        use_sim_time[, initial_box][, x_homography: the rig's registration as 9 numbers, X
        pixels -> RGB pixels]) and remappings of the node's relative input topics to the
        rig's topics.

    Raises:
        RigError: unknown override key, unknown compute profile or variant, bad device / box.
    """
    ov = {k: v for k, v in dict(overrides or {}).items()
          if v is not None and not (isinstance(v, str) and not v.strip())}
    for key in ov:
        if key not in OVERRIDE_KEYS:
            raise RigError(rig.path, key, f'unknown override; valid: {", ".join(OVERRIDE_KEYS)}')
    profile_name = str(ov.get('compute', rig.default_compute)).strip().lower()
    if profile_name not in rig.compute:
        raise RigError(rig.path, 'compute', f'profile {profile_name!r} is not in this rig '
                                            f'(profiles: {", ".join(rig.compute)})')
    profile = rig.compute[profile_name]
    variant = str(ov.get('variant', profile.variant)).strip()
    if 'variant' in ov:
        check_variant(variant, rig.path, 'variant')
    device = check_device(str(ov.get('device', profile.device)), rig.path, 'device')
    checkpoint = _resolve_checkpoint(str(ov.get('checkpoint', profile.checkpoint)).strip())
    backend = str(ov.get('backend', profile.backend)).strip().lower()
    if backend not in schema_choice('backend')[1]:
        raise RigError(rig.path, 'backend', f'{backend!r}: expected one of '
                                            f'{", ".join(schema_choice("backend")[1])}')
    camera_info = ('rgb' if rig.topics.rgb_camera_info else
                   'x' if rig.topics.x_camera_info else 'none')
    score = ov.get('score_threshold', rig.score_threshold)
    try:
        score = float(score)
    except (TypeError, ValueError):
        score = math.nan
    if not 0.0 <= score <= 1.0:
        raise RigError(rig.path, 'score_threshold', f'{ov.get("score_threshold")!r}: expected '
                                                    f'a number in [0, 1]')
    params: dict[str, Any] = {
        'modality': rig.modality.value,
        'event_input': rig.event_input,
        'transport': rig.transport,
        'slop': rig.slop,
        'x_timeout': rig.x_timeout,
        'x_grace': rig.x_grace,
        'rgb_timeout': rig.rgb_timeout,
        'qos_reliability': rig.qos_reliability,
        'qos_depth': rig.qos_depth,
        'score_threshold': score,
        'init_class_id': str(ov.get('init_class_id', rig.init_class_id)),
        'camera_info': camera_info,
        'expected_rate_rgb': rig.rate_rgb_hz,
        'expected_rate_x': rig.rate_x_hz,
        'variant': variant,
        'checkpoint': checkpoint,
        'device': device,
        'backend': backend,
        'use_sim_time': _truthy(ov.get('use_sim_time', False), 'use_sim_time', rig.path),
        'autostart': _truthy(ov.get('autostart', True), 'autostart', rig.path),
    }
    box = _parse_box(ov.get('initial_box'), rig.path)
    if box is not None:
        params['initial_box'] = box
    if rig.registration is not None:
        params['x_homography'] = rig.registration.as_list()
    remaps: list[tuple[str, str]] = [(NODE_TOPIC_RGB, rig.topics.rgb)]
    if rig.modality is not Modality.RGB:
        raw = rig.modality is Modality.EVENT and rig.event_input == 'raw'
        remaps.append((NODE_TOPIC_EVENTS if raw else NODE_TOPIC_X, rig.topics.x))
    if rig.topics.rgb_camera_info:
        remaps.append((NODE_TOPIC_RGB_INFO, rig.topics.rgb_camera_info))
    if rig.topics.x_camera_info:
        remaps.append((NODE_TOPIC_X_INFO, rig.topics.x_camera_info))
    remaps = [(a, b) for a, b in remaps if a != b]
    ns = _namespace(namespace) if namespace else _namespace(rig.namespace)
    if namespace is not None and str(namespace).strip() == '/':
        ns = ''
    return NodeConfig(name=NODE_NAME, namespace=ns, executable=NODE_EXECUTABLE,
                      parameters=params, remappings=remaps,
                      params_files=_params_files(ov.get('params_file'), rig.path),
                      log_level=_log_level(ov.get('log_level'), rig.path))


def _params_files(value: Any, path: str | Path) -> list[str]:
    """The ``params_file`` override -> [absolute path] ([] when not given)."""
    if value is None or not str(value).strip():
        return []
    file = Path(str(value).strip()).expanduser()
    if not file.is_file():
        raise RigError(path, 'params_file', f'{value!r} is not a file: give a ROS 2 parameter '
                                            'YAML (/**: {ros__parameters: {slop: 0.05}})')
    return [str(file.resolve())]


def _log_level(value: Any, path: str | Path) -> str:
    """The ``log_level`` override, checked ('' when not given)."""
    text = '' if value is None else str(value).strip().lower()
    if text and text not in LOG_LEVELS:
        raise RigError(path, 'log_level', f'{value!r}: expected one of {", ".join(LOG_LEVELS)}')
    return text


@dataclasses.dataclass
class ReplayConfig:
    """The replay node set: tracker node, lockstep player, recorder and evaluator.

    ``concurrent`` start together (node, recorder, player); ``evaluator`` runs after the
    recorder has exited (it stops by itself once the player has written ``summary.json``).
    """

    node: NodeConfig
    player: NodeConfig
    recorder: NodeConfig
    evaluator: NodeConfig
    out_dir: Path

    @property
    def concurrent(self) -> list[NodeConfig]:
        """Processes started at once, in start order."""
        return [self.node, self.recorder, self.player]


#: ``transport`` values of a replay (what the player publishes and the node subscribes to).
REPLAY_TRANSPORTS = ('raw', 'compressed')


@dataclasses.dataclass
class BagTopics:
    """Where a replay bag keeps its streams (a bag recorded by someone else names its own).

    Attributes:
        rgb: the RGB image topic (raw name; its ``/compressed`` sub-topic is found too).
        x: the X image topic (raw name; ``/compressed`` / ``/compressedDepth`` found too).
        gt_topic: the ground-truth ``vision_msgs/Detection2DArray`` topic.
        gt_file: a ground-truth file (one ``x,y,w,h`` row in pixels per RGB frame, 0,0,0,0 =
            absent) used instead of ``gt_topic``; '' = none.
        None / '' = the ``rgbx-make-bag`` names (``/rgb/image_raw``, ``/x/image_raw``,
        ``/ground_truth``).
    """

    rgb: str = ''
    x: str = ''
    gt_topic: str = ''
    gt_file: str = ''

    def flags(self) -> list[str]:
        """``--rgb-topic T --x-topic T --gt-topic T --gt-file F`` for the ones given (the flags
        of ``rgbx-player`` and ``rgbx-eval-run``)."""
        args: list[str] = []
        for flag, value in (('--rgb-topic', self.rgb), ('--x-topic', self.x),
                            ('--gt-topic', self.gt_topic), ('--gt-file', self.gt_file)):
            if value and str(value).strip():
                args += [flag, str(value).strip()]
        return args


def player_options(withhold_x: str = '', withhold_rgb: str = '',
                   reinit_at: str = '') -> list[str]:
    """``rgbx-player`` flags for a replay: ``--withhold-x`` / ``--withhold-rgb`` 'START:END'
    (1-based, inclusive frames without X / RGB) and ``--reinit-at`` '10,20'; '' or None = not
    given."""
    args: list[str] = []
    for flag, value in (('--withhold-x', withhold_x), ('--withhold-rgb', withhold_rgb),
                        ('--reinit-at', reinit_at)):
        if value:
            args += [flag, str(value)]
    return args


def replay_configuration(rig: Rig, bag: str | Path, out_dir: str | Path,
                         namespace: str | None = None,
                         overrides: Mapping[str, Any] | None = None,
                         withhold_x: str = '', reinit_at: str = '',
                         answer_timeout_s: float = 5.0, withhold_rgb: str = '',
                         topics: BagTopics | None = None,
                         transport: str = 'raw') -> ReplayConfig:
    """The node of :func:`node_configuration` (on sim time, reliable QoS, topics as in a replay
    bag: ``rgb/image_raw``, ``x/image_raw`` / ``x/events``) plus the player, recorder and
    evaluator processes of ``launch/replay.launch.py`` / ``rgbx-launch --replay``.

    Args:
        rig: the rig whose node settings (modality, sync, model) are used.
        bag: replay bag folder (``rgbx-make-bag`` layout, with ground truth).
        out_dir: output folder: the player's results.csv / diagnostics.jsonl / summary.json,
            the recorder's ``recorded/`` bag and the evaluator's report.
        namespace: as in :func:`node_configuration`.
        overrides: as in :func:`node_configuration`; ``use_sim_time`` defaults to true here
            (the player publishes the bag's /clock).
        withhold_x: player's 'START:END' (1-based frames without X), '' = none.
        reinit_at: player's '10,20' re-initialisation frames, '' = none.
        answer_timeout_s: the player's wait per answer (s).
        withhold_rgb: player's 'START:END' (1-based frames without RGB: a dead RGB camera),
            '' = none.
        topics: the bag's topic names and ground truth (a bag recorded by someone else);
            None = the ``rgbx-make-bag`` names. Passed to the player and the evaluator.
        transport: 'raw' (the player decodes compressed frames and publishes
            ``sensor_msgs/Image``) or 'compressed' (it publishes the stored
            ``CompressedImage`` on ``<topic>/compressed`` / ``/compressedDepth`` and the node
            runs with ``transport: compressed``, decoding them itself as on the robot).
        ``overrides`` may also hold ``params_file`` and ``log_level`` (the node's), and
        ``initial_box`` for a bag without ground truth: the node initialises itself on the
        first frame, the player sends no ``~/init`` (``--no-init``) and the evaluator only
        records the run (``--init-box``: tracks, video, round-trip times; nothing scored).

    Raises:
        RigError: see :func:`node_configuration`; an unknown ``transport``.
    """
    ov = dict(overrides or {})
    if ov.get('use_sim_time') is None or not str(ov['use_sim_time']).strip():
        ov['use_sim_time'] = True
    node = node_configuration(rig, namespace, ov)
    node.remappings = []                   # bag topics are the node's own names
    node.parameters['qos_reliability'] = 'reliable'
    node.parameters['camera_info'] = 'none'
    transport = str(transport or 'raw').strip().lower()
    if transport not in REPLAY_TRANSPORTS:
        raise RigError(rig.path, 'transport', f'{transport!r}: a replay publishes '
                                              f'{" or ".join(REPLAY_TRANSPORTS)} images')
    node.parameters['transport'] = transport   # what the player publishes
    topics = topics or BagTopics()
    out = Path(out_dir)
    init_box = node.parameters.get('initial_box')     # a bag without ground truth
    player_args = [str(bag), '--out', str(out), '--node', node.fully_qualified_name,
                   '--timeout', f'{answer_timeout_s:g}', '--wait', '120',
                   '--wait-for', str(out / 'recorder.ready'),   # the recorder hears the node
                   *player_options(withhold_x, withhold_rgb, reinit_at),
                   *(['--no-init'] if init_box is not None else []),
                   *topics.flags(), *(['--transport', transport] if transport != 'raw' else [])]
    player = NodeConfig(name='rgbx_player', namespace=node.namespace,
                        executable=PLAYER_EXECUTABLE, arguments=player_args)
    recorder = NodeConfig(
        name='rgbx_recorder', namespace=node.namespace, executable=RECORDER_EXECUTABLE,
        arguments=[str(out / 'recorded'), '--node', node.fully_qualified_name,
                   '--stop-when', str(out / 'summary.json'), '--idle-timeout', '60',
                   '--ready-file', str(out / 'recorder.ready')])
    evaluator = NodeConfig(
        name='', namespace='', executable=EVALUATOR_EXECUTABLE,
        arguments=[str(bag), '--recorded', str(out / 'recorded'), '--out',
                   str(out / 'evaluation'), '--node', node.fully_qualified_name,
                   '--player-results', str(out / 'results.csv'), *topics.flags(),
                   *(['--init-box', ','.join(f'{v:g}' for v in init_box)]
                     if init_box is not None else [])])
    return ReplayConfig(node, player, recorder, evaluator, out)


# ------------------------------------------------------------------------------------------------
# rviz
