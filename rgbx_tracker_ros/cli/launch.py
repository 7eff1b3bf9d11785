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

"""``rgbx-launch``: start a rig's node set without ``ros2 launch`` (pip-only installs, the demo).

The same node configuration as ``launch/tracker.launch.py``: both call
:func:`rgbx_tracker_ros.bringup.node_configuration`. Each node runs as its own process
(``python -m <module> --ros-args -r __node:=... -r __ns:=... -p name:=value -r from:=to``);
SIGINT / SIGTERM are forwarded to every child, which then shut down cleanly.

Usage::

    rgbx-launch --rig NAME|PATH [--namespace NS] [--use-sim-time] [--variant V]
                [--checkpoint C] [--device D] [--backend B] [--compute cpu|gpu]
                [--initial-box X,Y,W,H] [--rviz]
                [--autostart true|false] [--params-file FILE] [--log-level LEVEL]
    rgbx-launch --rig NAME --replay BAG --out DIR [--withhold-x A:B] [--withhold-rgb A:B]
                [--reinit-at N,N] [--rgb-topic T] [--x-topic T] [--gt-topic T | --gt-file F]
                [--transport raw|compressed]
    rgbx-launch --list                  # known rigs
    rgbx-launch --rig NAME --print-config   # the node configuration as JSON, then exit
    rgbx-launch --rig NAME --rviz-config FILE  # write the rviz2 config for the node, then exit

``--rviz`` also starts ``rviz2`` (from PATH) with config/rviz/tracker.rviz rewritten for the
node's namespace, as ``tracker.launch.py rviz:=true`` does.

``--replay`` runs the node set of ``launch/replay.launch.py``: tracker node, ``rgbx-player``
(lockstep bag replay), ``rgbx-record`` (the node's outputs to ``DIR/recorded``), then
``rgbx-eval-run`` (report in ``DIR/evaluation``).

The environment is passed through (ROS_DOMAIN_ID, RMW, ...); AMENT_PREFIX_PATH gets this
interpreter's prefix and PYTHONPATH the source tree, so a venv or a source checkout works. Exit
status: 0 after a clean stop, 1 when a process failed (its exit code is printed), 2 for bad
arguments (e.g. an invalid rig: the message names the file and the key).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import rgbx_tracker_ros.models  # noqa: F401  (installs the variant catalogue: rigs are checked)
from rgbx_tracker_ros.bringup import (
    BagTopics, LOG_LEVELS, node_configuration, NodeConfig, REPLAY_TRANSPORTS,
    replay_configuration, ros_param_value, rviz_config, rviz_launch_kwargs)
from rgbx_tracker_ros.core.rig import list_rigs, load_rig, RigError, rigs_dirs, source_root


def launch_kwargs(cfg: NodeConfig) -> dict[str, Any]:
    """A :class:`NodeConfig` as the keyword arguments of ``launch_ros.actions.Node`` (what
    ``launch/tracker.launch.py`` passes), JSON-friendly (:meth:`NodeConfig.launch_kwargs`)."""
    return cfg.launch_kwargs()


def child_env() -> dict[str, str]:
    """The caller's environment plus this interpreter's prefix on AMENT_PREFIX_PATH (message
    packages of a venv) and the source tree on PYTHONPATH; unbuffered output."""
    env = dict(os.environ)
    prefixes = [p for p in env.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if sys.prefix not in prefixes:
        prefixes.append(sys.prefix)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(prefixes)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if str(source_root()) not in paths:
        paths.insert(0, str(source_root()))
    env['PYTHONPATH'] = os.pathsep.join(paths)
    env['PYTHONUNBUFFERED'] = '1'
    return env


class ProcessGroup:
    """Child processes started from :class:`NodeConfig` s, stopped together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, cfg: NodeConfig) -> subprocess.Popen:
        """Start ``cfg`` (``python -m`` of its executable's module) and return the process."""
        cmd = cfg.command(sys.executable)
        return self.start_command(cfg.name or cfg.executable, cmd, shown=cmd[1:])

    def start_command(self, label: str, cmd: list[str],
                      shown: list[str] | None = None) -> subprocess.Popen:
        """Start any command (e.g. rviz2) as a member of the group and return the process."""
        print(f'[rgbx-launch] starting {label}: {" ".join(cmd if shown is None else shown)}',
              flush=True)
        proc = subprocess.Popen(cmd, env=child_env())
        self.procs.append((label, proc))
        return proc

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to every running child."""
        for _, proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass

    def stop(self, proc: subprocess.Popen | None = None, timeout_s: float = 10.0) -> None:
        """SIGINT, then SIGTERM, then SIGKILL (``timeout_s`` apart) to one child or all."""
        targets = [p for _, p in self.procs] if proc is None else [proc]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in targets if p.poll() is None]
            if not alive:
                return
            for p in alive:
                p.send_signal(sig)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and any(p.poll() is None for p in alive):
                time.sleep(0.05)

    def failed(self) -> list[tuple[str, int]]:
        """(label, exit code) of children that exited with an error (SIGINT exits are not
        errors)."""
        bad = []
        for label, proc in self.procs:
            code = proc.poll()
            if code not in (None, 0, -signal.SIGINT, 130):
                bad.append((label, code))
        return bad


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {'variant': args.variant, 'checkpoint': args.checkpoint, 'device': args.device,
            'backend': args.backend,
            'compute': args.compute, 'initial_box': args.initial_box,
            'use_sim_time': True if args.use_sim_time else None,
            'autostart': args.autostart, 'params_file': args.params_file,
            'log_level': args.log_level}


def _rviz_command(node: NodeConfig) -> list[str]:
    """``rviz2 -d FILE --ros-args -p use_sim_time:=...``: the rviz2 node the launch files start
    (:func:`~rgbx_tracker_ros.bringup.rviz_launch_kwargs`) as a command line."""
    kw = rviz_launch_kwargs(node.fully_qualified_name,
                            bool(node.parameters.get('use_sim_time')))
    params = [f'{k}:={ros_param_value(v)}' for d in kw['parameters'] for k, v in d.items()]
    return [shutil.which('rviz2') or 'rviz2', *kw['arguments'], '--ros-args',
            *(a for p in params for a in ('-p', p))]


def _run_live(cfg: NodeConfig, rviz_cmd: list[str] | None = None) -> int:
    group = ProcessGroup()
    stopping = {'flag': False}

    def forward(signum: int, frame: Any) -> None:
        stopping['flag'] = True
        group.signal_all(signal.SIGINT)   # rclpy nodes shut down cleanly on SIGINT
    old_int = signal.signal(signal.SIGINT, forward)
    old_term = signal.signal(signal.SIGTERM, forward)
    try:
        proc = group.start(cfg)
        if rviz_cmd:
            group.start_command('rviz2', rviz_cmd)
        while proc.poll() is None:
            time.sleep(0.1)
        if stopping['flag']:
            group.stop()
    finally:
        group.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    bad = group.failed()
    for label, code in bad:
        print(f'[rgbx-launch] {label} exited with code {code}', file=sys.stderr)
    return 1 if bad else 0


def _run_replay(args: argparse.Namespace, overrides: dict[str, Any], rig: Any) -> int:
    out = args.out.resolve()
    rec = out / 'recorded'
    if rec.exists():
        print(f'rgbx-launch: {rec} exists; choose a new --out folder', file=sys.stderr)
        return 2
    (out / 'recorder.ready').unlink(missing_ok=True)   # from an earlier, aborted replay
    namespace = '/' if args.namespace is None else args.namespace   # the bag's topic names
    cfg = replay_configuration(rig, args.replay.resolve(), out, namespace, overrides,
                               withhold_x=args.withhold_x or '', reinit_at=args.reinit_at or '',
                               withhold_rgb=args.withhold_rgb or '',
                               topics=BagTopics(rgb=args.rgb_topic or '', x=args.x_topic or '',
                                                gt_topic=args.gt_topic or '',
                                                gt_file=str(args.gt_file.resolve())
                                                if args.gt_file else ''),
                               transport=args.transport)
    group = ProcessGroup()
    stopping = {'flag': False}

    def forward(signum: int, frame: Any) -> None:
        stopping['flag'] = True
        group.signal_all(signal.SIGINT)
    old_int = signal.signal(signal.SIGINT, forward)
    old_term = signal.signal(signal.SIGTERM, forward)
    try:
        node = group.start(cfg.node)
        if args.rviz:
            group.start_command('rviz2', _rviz_command(cfg.node))
        recorder = group.start(cfg.recorder)
        player = group.start(cfg.player)
        while player.poll() is None and not stopping['flag']:
            if node.poll() is not None:
                print(f'[rgbx-launch] tracker_node exited with code {node.returncode} during '
                      f'the replay', file=sys.stderr)
                break
            time.sleep(0.1)
        deadline = time.monotonic() + 30.0
        while recorder.poll() is None and time.monotonic() < deadline and not stopping['flag']:
            time.sleep(0.1)
        group.stop(recorder)
        group.stop(player)
        group.stop(node)
        if stopping['flag'] or player.returncode != 0:
            print(f'[rgbx-launch] replay did not finish (player exit code {player.returncode})',
                  file=sys.stderr)
            return 1
        evaluator = group.start(cfg.evaluator)
        code = evaluator.wait()
    finally:
        group.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    return 0 if code == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-launch`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='rgbx-launch', description=__doc__.split('\n')[0])
    parser.add_argument('--rig', help='rig name (see --list) or path to a rig .yaml')
    parser.add_argument('--list', action='store_true', help='list the known rigs and exit')
    parser.add_argument('--namespace', default=None,
                        help="node namespace (default: the rig's, with --replay the root; "
                             "'/' = root)")
    parser.add_argument('--use-sim-time', action='store_true', help='use /clock (bag replay)')
    parser.add_argument('--variant', default=None, help='model variant override')
    parser.add_argument('--checkpoint', default=None,
                        help="checkpoint override ('none' = random weights, tests only)")
    parser.add_argument('--device', default=None, help='device override: auto, cpu, cuda[:N]')
    parser.add_argument('--backend', default=None,
                        help='inference backend override: torch, onnxruntime, openvino, tensorrt')
    parser.add_argument('--compute', default=None,
                        help="compute profile of the rig: cpu or gpu (default: the rig's)")
    parser.add_argument('--initial-box', default=None, metavar='X,Y,W,H',
                        help='target box in the first frame, pixels')
    parser.add_argument('--print-config', action='store_true',
                        help='print the node configuration (launch_ros Node kwargs and the '
                             'command line) as JSON and exit')
    parser.add_argument('--rviz', action='store_true',
                        help="also start rviz2 showing the node's debug image (and 3D marker)")
    parser.add_argument('--rviz-config', type=Path, default=None, metavar='FILE',
                        help="write the rviz2 config for this rig's node to FILE and exit")
    parser.add_argument('--replay', type=Path, default=None, metavar='BAG',
                        help='replay BAG: node + player + recorder, then the evaluator')
    parser.add_argument('--out', type=Path, default=None, help='output folder of --replay')
    parser.add_argument('--withhold-x', default=None, metavar='A:B',
                        help='--replay: frames (1-based) the player withholds X for')
    parser.add_argument('--withhold-rgb', default=None, metavar='A:B',
                        help='--replay: frames (1-based) the player withholds RGB for (a dead '
                             'RGB camera)')
    parser.add_argument('--reinit-at', default=None, metavar='N[,N...]',
                        help='--replay: frames (1-based) re-initialised from the ground truth')
    parser.add_argument('--rgb-topic', default=None,
                        help='--replay: RGB image topic in the bag (default /rgb/image_raw)')
    parser.add_argument('--x-topic', default=None,
                        help='--replay: X image topic in the bag (default /x/image_raw)')
    parser.add_argument('--gt-topic', default=None,
                        help='--replay: ground-truth topic in the bag (default /ground_truth)')
    parser.add_argument('--gt-file', type=Path, default=None, metavar='FILE',
                        help='--replay: ground truth file (x,y,w,h pixels per RGB frame)')
    parser.add_argument('--transport', choices=REPLAY_TRANSPORTS, default='raw',
                        help='--replay: raw (decoded Image) or compressed (the stored '
                             'CompressedImage, decoded by the node)')
    parser.add_argument('--autostart', choices=('true', 'false'), default=None,
                        help='true (default): the lifecycle node configures and activates '
                             'itself; false: it waits for its lifecycle services')
    parser.add_argument('--params-file', default=None, metavar='FILE',
                        help="a ROS 2 parameter YAML applied over the rig's parameters")
    parser.add_argument('--log-level', default=None, choices=LOG_LEVELS,
                        help='node log level (default info)')
    args = parser.parse_args(argv)
    if args.list:
        for name in list_rigs():
            try:
                desc = load_rig(name).description
            except RigError as exc:
                desc = f'INVALID: {exc}'
            print(f'{name:24s} {desc}')
        print(f'(searched {", ".join(str(d) for d in rigs_dirs())})')
        return 0
    if not args.rig:
        parser.error('--rig is required (or --list)')
    if args.replay is not None and args.out is None:
        parser.error('--replay needs --out DIR')
    overrides = _overrides(args)
    try:
        rig = load_rig(args.rig)
        cfg = node_configuration(rig, args.namespace, overrides)
    except RigError as exc:
        print(f'rgbx-launch: {exc}', file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps({'rig': str(rig.path), 'nodes': [launch_kwargs(cfg)],
                          'commands': [cfg.command(sys.executable)[1:]]}, indent=2))
        return 0
    if args.rviz_config is not None:
        path = args.rviz_config
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rviz_config(cfg.fully_qualified_name))
        print(f'rviz2 config for {cfg.fully_qualified_name} written to {path} '
              f'(rviz2 -d {path})')
        return 0
    if args.rviz and shutil.which('rviz2') is None:
        print('rgbx-launch: --rviz: rviz2 is not on PATH; install it with ROS 2 (e.g. '
              'apt install ros-$ROS_DISTRO-rviz2) and source the ROS setup file, or use '
              '--rviz-config FILE and open FILE on a machine with rviz2', file=sys.stderr)
        return 2
    print(f'[rgbx-launch] rig {rig.name} ({rig.description}) from {rig.path}', flush=True)
    if args.replay is not None:
        return _run_replay(args, overrides, rig)
    return _run_live(cfg, _rviz_command(cfg) if args.rviz else None)


if __name__ == '__main__':
    sys.exit(main())
