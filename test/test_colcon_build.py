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

"""`colcon build --symlink-install` of this package, as in a ROS 2 workspace: the ament index
marker, the console scripts under lib/rgbx_tracker_ros (``ros2 run`` finds them there), and the
launch / config files linked back to the source tree so edits show up without a rebuild.

colcon runs from the venv ``make venv`` builds beside the project venv ($VENV/opt/colcon:
colcon-core pins an older setuptools than requirements.txt)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = 'rgbx_tracker_ros'
COLCON = Path(sys.prefix) / 'opt' / 'colcon' / 'bin' / 'colcon'


def test_colcon_build_symlink_install(tmp_path) -> None:
    assert COLCON.is_file(), f'{COLCON} missing: run make venv (scripts/setup_venv.sh step 2c)'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    proc = subprocess.run(
        [str(COLCON), '--log-base', str(tmp_path / 'log'), 'build', '--symlink-install',
         '--paths', str(REPO), '--build-base', str(tmp_path / 'build'),
         '--install-base', str(tmp_path / 'install')],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    prefix = tmp_path / 'install' / PKG
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PKG).is_file()
    node = prefix / 'lib' / PKG / 'tracker_node'
    assert node.is_file() and os.access(node, os.X_OK)
    assert "'console_scripts', 'tracker_node'" in node.read_text()   # our entry point
    share = prefix / 'share' / PKG
    for rel in ('launch/tracker.launch.py', 'launch/replay.launch.py',
                'config/rigs/rgbt_flir_boson.yaml', 'config/train/xtrack_rgbt.yaml',
                'package.xml'):
        installed = share / rel
        assert installed.is_symlink(), f'{rel} is not linked (not a symlink install)'
        assert installed.resolve() == (REPO / rel).resolve(), rel
    # the Python package itself is the source tree (develop / egg-link), not a copy
    links = list((prefix / 'lib').glob('python3*/site-packages/*.egg-link'))
    assert len(links) == 1
    develop_dir = Path(links[0].read_text().splitlines()[0])
    assert (develop_dir / PKG).resolve() == (REPO / PKG).resolve()
