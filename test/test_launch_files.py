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

"""launch/*.launch.py without the `launch` package: they compile, reference only this package's
console scripts and installed files, and - run against a recording stub of the launch /
launch_ros API - start exactly the node configuration that `rgbx-launch` starts."""

from __future__ import annotations

import ast
import json
import py_compile
import runpy
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from rgbx_tracker_ros.cli import launch as rgbx_launch
from rgbx_tracker_ros.bringup import EXECUTABLE_MODULES, replay_configuration
from rgbx_tracker_ros.core.rig import list_rigs, load_rig

REPO = Path(__file__).resolve().parents[1]
LAUNCH_DIR = REPO / 'launch'
LAUNCH_FILES = sorted(LAUNCH_DIR.glob('*.launch.py'))


def _console_scripts() -> dict[str, str]:
    tree = ast.parse((REPO / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == 'console_scripts':
                    return dict(s.value.replace(' ', '').split('=', 1) for s in v.elts)
    raise AssertionError('setup.py has no console_scripts')


# ------------------------------------------------------------------ a stub of launch/launch_ros
class _Recorder:
    nodes: list[dict[str, Any]] = []


def _stub_modules() -> dict[str, types.ModuleType]:
    """Minimal fakes of the classes the launch files use; Node records its kwargs."""
    class LaunchDescription:
        def __init__(self, entities=None):
            self.entities = list(entities or [])

    class DeclareLaunchArgument:
        def __init__(self, name, default_value=None, description=''):
            self.name, self.default_value, self.description = name, default_value, description

    class OpaqueFunction:
        def __init__(self, function, args=None, kwargs=None):
            self.function = function

    class RegisterEventHandler:
        def __init__(self, event_handler):
            self.event_handler = event_handler

    class EmitEvent:
        def __init__(self, event):
            self.event = event

    class OnProcessExit:
        def __init__(self, target_action, on_exit):
            self.target_action, self.on_exit = target_action, on_exit

    class Shutdown:
        def __init__(self, reason=''):
            self.reason = reason

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context.launch_configurations[self.name]

    class IfCondition:
        """launch.conditions.IfCondition: true for 'true' / '1', false for 'false' / '0',
        anything else is an error (as in launch)."""
        def __init__(self, predicate):
            self.predicate = predicate

        def evaluate(self, context):
            text = self.predicate.perform(context).strip().lower()
            if text not in ('true', '1', 'false', '0'):
                raise ValueError(f'IfCondition: {text!r} is not a boolean')
            return text in ('true', '1')

    class Node:
        def __init__(self, condition=None, **kwargs):
            self.kwargs, self.condition = kwargs, condition
            _Recorder.nodes.append(kwargs)

    class ExecuteProcess:
        def __init__(self, cmd, condition=None, **kwargs):
            self.cmd, self.condition, self.kwargs = cmd, condition, kwargs

    class ExecutableInPackage:
        def __init__(self, executable, package):
            self.executable, self.package = executable, package

    mods = {}
    for name, attrs in {
        'launch': {'LaunchDescription': LaunchDescription},
        'launch.actions': {'DeclareLaunchArgument': DeclareLaunchArgument,
                           'OpaqueFunction': OpaqueFunction,
                           'RegisterEventHandler': RegisterEventHandler,
                           'EmitEvent': EmitEvent, 'ExecuteProcess': ExecuteProcess},
        'launch.conditions': {'IfCondition': IfCondition},
        'launch.substitutions': {'LaunchConfiguration': LaunchConfiguration},
        'launch.event_handlers': {'OnProcessExit': OnProcessExit},
        'launch.events': {'Shutdown': Shutdown},
        'launch_ros': {},
        'launch_ros.actions': {'Node': Node},
        'launch_ros.substitutions': {'ExecutableInPackage': ExecutableInPackage},
    }.items():
        mod = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(mod, k, v)
        mods[name] = mod
    return mods


def _run_launch(monkeypatch, path: Path, **arguments: str) -> tuple[list, dict[str, str]]:
    """generate_launch_description() + every OpaqueFunction with the given launch arguments;
    returns (entities the functions returned whose condition holds, the declared defaults)."""
    for name, mod in _stub_modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    _Recorder.nodes = []
    ld = runpy.run_path(str(path))['generate_launch_description']()
    declared = {e.name: e.default_value for e in ld.entities if hasattr(e, 'default_value')}
    unknown = set(arguments) - set(declared)
    assert not unknown, f'{path.name} declares no argument(s) {unknown}'
    ctx = types.SimpleNamespace(launch_configurations={**declared, **arguments})
    out = []
    for e in ld.entities:
        if hasattr(e, 'function'):
            out += [a for a in e.function(ctx)
                    if getattr(a, 'condition', None) is None or a.condition.evaluate(ctx)]
    return out, declared


def _normalise(kwargs: dict[str, Any]) -> dict[str, Any]:
    kw = {k: v for k, v in kwargs.items() if k not in ('output', 'emulate_tty')}
    kw['remappings'] = [list(r) for r in kw.get('remappings', [])]
    return json.loads(json.dumps(kw))


# ------------------------------------------------------------------------------------ tests
def test_launch_files_exist_and_compile(tmp_path) -> None:
    assert {p.name for p in LAUNCH_FILES} == {'tracker.launch.py', 'replay.launch.py'}
    for path in LAUNCH_FILES:
        py_compile.compile(str(path), cfile=str(tmp_path / (path.name + 'c')), doraise=True)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_reference_only_installed_things(path: Path) -> None:
    tree = ast.parse(path.read_text())
    scripts = _console_scripts()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert mod.split('.')[0] in ('launch', 'launch_ros', 'rgbx_tracker_ros',
                                         'tempfile'), mod   # tempfile: the rviz config
            if mod.startswith('rgbx_tracker_ros'):
                stem = REPO / mod.replace('.', '/')
                assert stem.with_suffix('.py').is_file() or (stem / '__init__.py').is_file(), mod
        if isinstance(node, ast.keyword) and node.arg in ('executable', 'package') \
                and isinstance(node.value, ast.Constant):
            # our console scripts, and rviz2 (started only with rviz:=true)
            allowed = set(scripts) | {'rviz2'} if node.arg == 'executable' \
                else {'rgbx_tracker_ros', 'rviz2'}
            assert node.value.value in allowed, f'{path.name}: {node.arg}={node.value.value}'
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.endswith(('.yaml', '.rviz', '.pt', '.py')) \
                and not any(ch.isspace() for ch in node.value):
            assert (REPO / node.value).is_file(), f'{path.name} names missing {node.value}'
    # the default rig of every launch file is an installed rig file
    for name in ('rig',):
        for call in ast.walk(tree):
            if isinstance(call, ast.Tuple) and call.elts and isinstance(call.elts[0],
                                                                        ast.Constant) \
                    and call.elts[0].value == name:
                assert (REPO / 'config' / 'rigs' / f'{call.elts[1].value}.yaml').is_file()
    # what rgbx-launch runs for each executable is the console script's own module
    for exe, module in EXECUTABLE_MODULES.items():
        assert scripts[exe] == f'{module}:main'


@pytest.mark.parametrize('rig', ['rgbt_flir_boson', 'rgbd_realsense_d435',
                                 'rgbe_prophesee_frames', 'rgbe_prophesee_raw', 'rgb_only'])
def test_tracker_launch_and_rgbx_launch_agree(monkeypatch, capsys, rig: str) -> None:
    assert rig in list_rigs()
    nodes, declared = _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py', rig=rig)
    assert {'rig', 'namespace', 'use_sim_time', 'variant', 'checkpoint'} <= set(declared)
    assert len(nodes) == 1
    assert rgbx_launch.main(['--rig', rig, '--print-config']) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [_normalise(nodes[0].kwargs)] == printed['nodes']
    assert nodes[0].kwargs['executable'] in _console_scripts()
    # the command line rgbx-launch runs carries the same parameters and remappings
    cmd = printed['commands'][0]
    ros = cmd[cmd.index('--ros-args') + 1:]
    params = {a.split(':=', 1)[0]: yaml.safe_load(a.split(':=', 1)[1])
              for flag, a in zip(ros[::2], ros[1::2]) if flag == '-p'}
    remaps = [a.split(':=', 1) for flag, a in zip(ros[::2], ros[1::2])
              if flag == '-r' and not a.startswith('__')]
    assert params == printed['nodes'][0]['parameters'][0]
    assert remaps == printed['nodes'][0]['remappings']
    assert f"__ns:={printed['nodes'][0]['namespace']}" in ros
    assert cmd[:2] == ['-m', 'rgbx_tracker_ros.ros.tracker_node']


def test_overrides_agree_through_the_console_command(monkeypatch) -> None:
    nodes, _ = _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py',
                           rig='rgbd_realsense_d435', namespace='robot/cam',
                           use_sim_time='true', variant='test_tiny', checkpoint='none',
                           compute='gpu')
    proc = subprocess.run(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.launch', '--rig', 'rgbd_realsense_d435',
         '--namespace', 'robot/cam', '--use-sim-time', '--variant', 'test_tiny',
         '--checkpoint', 'none', '--compute', 'gpu', '--print-config'],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert [_normalise(nodes[0].kwargs)] == printed['nodes']
    params = printed['nodes'][0]['parameters'][0]
    assert printed['nodes'][0]['namespace'] == '/robot/cam'
    assert params['use_sim_time'] is True and params['variant'] == 'test_tiny'
    assert params['device'] == 'cuda' and params['checkpoint'] == 'none'


def test_invalid_rig_is_reported_by_both(monkeypatch, tmp_path, capsys) -> None:
    bad = tmp_path / 'bad_rig.yaml'
    bad.write_text((REPO / 'config' / 'rigs' / 'rgb_only.yaml').read_text()
                   + 'colour_space: srgb\n')
    with pytest.raises(ValueError, match=r'bad_rig\.yaml: colour_space: unknown key'):
        _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py', rig=str(bad))
    assert rgbx_launch.main(['--rig', str(bad), '--print-config']) == 2
    assert 'colour_space: unknown key' in capsys.readouterr().err


def test_replay_launch_runs_node_player_recorder_then_evaluator(monkeypatch, tmp_path) -> None:
    bag, out = str(tmp_path / 'x.bag'), str(tmp_path / 'out')
    entities, _ = _run_launch(monkeypatch, LAUNCH_DIR / 'replay.launch.py', bag=bag, out=out,
                              rig='rgbt_flir_boson', checkpoint='none', variant='test_tiny',
                              withhold_x='3:5', withhold_rgb='7:8')
    nodes = [e for e in entities if hasattr(e, 'kwargs')]
    handlers = [e.event_handler for e in entities if hasattr(e, 'event_handler')]
    scripts = _console_scripts()
    assert [n.kwargs['executable'] for n in nodes] == ['tracker_node', 'rgbx-record',
                                                       'rgbx-player']
    assert all(n.kwargs['package'] == 'rgbx_tracker_ros' for n in nodes)
    # evaluator starts when the recorder exits; the launch shuts down after the evaluator
    rec_exit = next(h for h in handlers if h.target_action is nodes[1])
    evaluator = rec_exit.on_exit[0]
    # the evaluator is not a ROS node: ExecuteProcess of the installed console script
    assert type(evaluator).__name__ == 'ExecuteProcess'
    exe = evaluator.cmd[0]
    assert (exe.executable, exe.package) == ('rgbx-eval-run', 'rgbx_tracker_ros')
    final = next(h for h in handlers if h.target_action is evaluator)
    assert type(final.on_exit[0].event).__name__ == 'Shutdown'
    for n in nodes:
        assert n.kwargs['executable'] in scripts
    assert exe.executable in scripts
    # the same set as rgbx-launch --replay (bringup.replay_configuration)
    cfg = replay_configuration(load_rig('rgbt_flir_boson'), bag, out, '/',
                               {'checkpoint': 'none', 'variant': 'test_tiny'},
                               withhold_x='3:5', withhold_rgb='7:8')
    assert nodes[0].kwargs['parameters'] == [cfg.node.parameters]
    assert nodes[0].kwargs['parameters'][0]['use_sim_time'] is True
    assert nodes[0].kwargs['remappings'] == []         # the bag's own topic names
    assert nodes[2].kwargs['arguments'] == cfg.player.arguments
    assert '--withhold-x' in cfg.player.arguments and bag in cfg.player.arguments
    assert cfg.player.arguments[cfg.player.arguments.index('--withhold-rgb') + 1] == '7:8'
    assert nodes[1].kwargs['arguments'] == cfg.recorder.arguments
    assert evaluator.cmd[1:] == cfg.evaluator.arguments
    assert f'{out}/summary.json' in cfg.recorder.arguments


def test_rviz_argument_starts_rviz2_on_the_nodes_topics(monkeypatch, tmp_path, capsys) -> None:
    """rviz:=true adds rviz2 with the packaged config rewritten for the node's namespace, the
    same file rgbx-launch --rviz-config writes; without it no rviz2 starts."""
    nodes, declared = _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py',
                                  rig='rgbt_flir_boson', namespace='robot/cam')
    assert declared['rviz'] == 'false' and len(nodes) == 1
    nodes, _ = _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py',
                           rig='rgbt_flir_boson', namespace='robot/cam', rviz='true')
    assert len(nodes) == 2
    rviz = nodes[1].kwargs
    assert (rviz['package'], rviz['executable']) == ('rviz2', 'rviz2')
    assert rviz['arguments'][0] == '-d'
    text = Path(rviz['arguments'][1]).read_text()
    assert '/robot/cam/tracker_node/debug_image' in text
    assert '/camera/camera/tracker_node/' not in text
    assert rviz['parameters'] == [{'use_sim_time': False}]
    out = tmp_path / 'view.rviz'
    assert rgbx_launch.main(['--rig', 'rgbt_flir_boson', '--namespace', 'robot/cam',
                             '--rviz-config', str(out)]) == 0
    assert out.read_text() == text
    assert str(out) in capsys.readouterr().out
    entities, _ = _run_launch(monkeypatch, LAUNCH_DIR / 'replay.launch.py',
                              bag=str(tmp_path / 'x.bag'), out=str(tmp_path / 'o'),
                              rig='rgbt_flir_boson', rviz='true')
    replay_rviz = [e.kwargs for e in entities
                   if hasattr(e, 'kwargs') and e.kwargs['executable'] == 'rviz2']
    assert len(replay_rviz) == 1 and replay_rviz[0]['parameters'] == [{'use_sim_time': True}]
    assert '/tracker_node/debug_image' in Path(replay_rviz[0]['arguments'][1]).read_text()


def test_rgbx_launch_rviz_without_rviz2_says_what_to_do(monkeypatch, capsys) -> None:
    monkeypatch.setattr(rgbx_launch.shutil, 'which', lambda name: None)
    assert rgbx_launch.main(['--rig', 'rgbt_flir_boson', '--rviz']) == 2
    err = capsys.readouterr().err
    assert 'rviz2 is not on PATH' in err and '--rviz-config' in err


def test_replay_passes_topics_ground_truth_transport_and_node_options(
        monkeypatch, tmp_path) -> None:
    """A bag recorded by someone else: its topic names and ground truth reach the player and
    the evaluator, transport:=compressed makes the node decode, and autostart / params_file /
    log_level reach the node - the same through replay.launch.py and rgbx-launch --replay."""
    params = tmp_path / 'over.yaml'
    params.write_text('/**:\n  ros__parameters:\n    slop: 0.02\n')
    gt = tmp_path / 'gt.txt'
    gt.write_text('1,2,3,4\n')
    bag, out = str(tmp_path / 'their.bag'), str(tmp_path / 'out')
    entities, declared = _run_launch(
        monkeypatch, LAUNCH_DIR / 'replay.launch.py', bag=bag, out=out,
        rig='rgbt_flir_boson', rgb_topic='/cam/color/image_raw', x_topic='/cam/lwir/image_raw',
        gt_file=str(gt), transport='compressed', autostart='false', params_file=str(params),
        log_level='debug')
    assert {'autostart', 'params_file', 'log_level', 'transport', 'gt_topic'} <= set(declared)
    nodes = {e.kwargs['executable']: e for e in entities if hasattr(e, 'kwargs')
             and 'executable' in e.kwargs}
    node = nodes['tracker_node'].kwargs
    assert node['parameters'][0]['transport'] == 'compressed'
    assert node['parameters'][0]['autostart'] is False
    assert node['parameters'][1:] == [str(params.resolve())]
    assert node['ros_arguments'] == ['--log-level', 'debug']
    player = nodes['rgbx-player'].kwargs['arguments']
    for flag, value in (('--rgb-topic', '/cam/color/image_raw'),
                        ('--x-topic', '/cam/lwir/image_raw'), ('--gt-file', str(gt)),
                        ('--transport', 'compressed')):
        assert player[player.index(flag) + 1] == value
    evaluator = next(e.event_handler.on_exit[0] for e in entities if hasattr(e, 'event_handler')
                     and type(e.event_handler.on_exit[0]).__name__ == 'ExecuteProcess')
    assert evaluator.cmd[evaluator.cmd.index('--gt-file') + 1] == str(gt)
    assert evaluator.cmd[evaluator.cmd.index('--rgb-topic') + 1] == '/cam/color/image_raw'
    assert '--transport' not in evaluator.cmd
    # rgbx-launch builds the same sets (it prints the node; the replay set is the same function)
    cfg = replay_configuration(
        load_rig('rgbt_flir_boson'), bag, out, '/',
        {'autostart': 'false', 'params_file': str(params), 'log_level': 'debug'},
        topics=rgbx_launch.BagTopics(rgb='/cam/color/image_raw', x='/cam/lwir/image_raw',
                                     gt_file=str(gt)), transport='compressed')
    assert player == cfg.player.arguments
    ros = cfg.node.ros_args()
    assert ros[ros.index('--params-file') + 1] == str(params.resolve())
    assert ros[ros.index('--log-level') + 1] == 'debug'
    # params files come after the rig's -p values, so the file wins (rcl applies them in order)
    assert ros.index('--params-file') > max(i for i, a in enumerate(ros) if a == '-p')


def test_node_options_are_checked(monkeypatch, tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match=r'params_file: .*is not a file'):
        _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py', rig='rgb_only',
                    params_file=str(tmp_path / 'missing.yaml'))
    with pytest.raises(ValueError, match=r'log_level: .*expected one of debug'):
        _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py', rig='rgb_only',
                    log_level='loud')
    with pytest.raises(ValueError, match=r'transport: .*raw or compressed'):
        _run_launch(monkeypatch, LAUNCH_DIR / 'replay.launch.py', rig='rgb_only',
                    bag=str(tmp_path / 'b'), out=str(tmp_path / 'o'), transport='theora')
    with pytest.raises(ValueError, match='is not a boolean'):
        _run_launch(monkeypatch, LAUNCH_DIR / 'tracker.launch.py', rig='rgb_only',
                    rviz='maybe')
    assert rgbx_launch.main(['--rig', 'rgb_only', '--params-file', str(tmp_path / 'no.yaml'),
                             '--print-config']) == 2
    assert 'params_file' in capsys.readouterr().err
    params = tmp_path / 'p.yaml'
    params.write_text('/**:\n  ros__parameters:\n    slop: 0.02\n')
    assert rgbx_launch.main(['--rig', 'rgb_only', '--params-file', str(params),
                             '--log-level', 'warn', '--autostart', 'false',
                             '--print-config']) == 0
    printed = json.loads(capsys.readouterr().out)
    node = printed['nodes'][0]
    assert node['parameters'][1] == str(params.resolve())
    assert node['parameters'][0]['autostart'] is False
    assert node['ros_arguments'] == ['--log-level', 'warn']
    cmd = printed['commands'][0]
    assert cmd[cmd.index('--params-file') + 1] == str(params.resolve())
