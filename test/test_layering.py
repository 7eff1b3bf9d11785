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

"""Layering: ``core`` knows models only through core.model_api (no import of
``rgbx_tracker_ros.models``), and nothing outside ``ros/`` (and the ROS-facing CLIs) imports rclpy
or ROS messages. Checked on the source with ast, and on a fresh interpreter's sys.modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'rgbx_tracker_ros'
ROS_MODULES = ('rclpy', 'sensor_msgs', 'std_msgs', 'vision_msgs', 'diagnostic_msgs',
               'visualization_msgs', 'geometry_msgs', 'rcl_interfaces', 'std_srvs', 'launch',
               'launch_ros', 'foxglove_msgs', 'lifecycle_msgs')


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against the package)."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(PKG.parent).with_suffix('').parts)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[:len(parts) - node.level]
                out.add('.'.join(base + ([node.module] if node.module else [])))
            else:
                out.add(node.module or '')
    return out


def test_core_and_export_do_not_import_models() -> None:
    # the exporters and engines take any TrackerModel; only models.factory connects them
    offenders = {}
    for path in sorted([*(PKG / 'core').glob('*.py'), *(PKG / 'export').glob('*.py')]):
        bad = sorted(m for m in _imports(path) if m.startswith('rgbx_tracker_ros.models'))
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_ros_imports_stay_in_ros_and_cli() -> None:
    offenders = {}
    for path in sorted(PKG.rglob('*.py')):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ('ros', 'cli'):
            continue
        bad = sorted(m for m in _imports(path) if m.split('.')[0] in ROS_MODULES)
        if bad:
            offenders[str(rel)] = bad
    assert offenders == {}


def test_loading_a_rig_imports_neither_torch_nor_models() -> None:
    code = ('import sys\n'
            'from rgbx_tracker_ros.core import rig, params, session, sync, health\n'
            'from rgbx_tracker_ros import bringup\n'
            'bringup.node_configuration(rig.load_rig("rgbt_flir_boson"))\n'
            'print(sorted(m for m in sys.modules if m == "torch" or '
            'm.startswith("rgbx_tracker_ros.models")))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, cwd=PKG.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == '[]', out.stdout


def test_core_never_imports_bringup_and_launch_files_import_only_bringup() -> None:
    offenders = {}
    for path in sorted((PKG / 'core').glob('*.py')):
        bad = sorted(m for m in _imports(path) if m.startswith('rgbx_tracker_ros.bringup'))
        if bad:
            offenders[path.name] = bad
    assert offenders == {}
    launch_dir = PKG.parent / 'launch'
    files = sorted(launch_dir.glob('*.launch.py'))
    assert files
    for path in files:
        ours = {m for m in _imports(path) if m.startswith('rgbx_tracker_ros')}
        assert ours and ours <= {'rgbx_tracker_ros.bringup', 'rgbx_tracker_ros.core.rig'}, \
            (path.name, ours)
