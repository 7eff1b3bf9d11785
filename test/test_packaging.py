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

"""Packaging checks: ament_python layout (setup.py, setup.cfg, package.xml), the venv's ament share
layout made by scripts/setup_venv.sh, the single OpenCV build, and `make test`'s handling of
pytest's "no tests collected" exit code.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata as md
import os
import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[1]
PKG = 'rgbx_tracker_ros'
SHARE = f'share/{PKG}'

EXPECTED_SCRIPTS = {
    'tracker_node': 'rgbx_tracker_ros.ros.tracker_node:main',
    'rgbx-player': 'rgbx_tracker_ros.ros.player:main',
    'rgbx-make-bag': 'rgbx_tracker_ros.cli.make_bag:main',
    'rgbx-demo': 'rgbx_tracker_ros.cli.demo:main',
    'rgbx-train': 'rgbx_tracker_ros.cli.train:main',
    'rgbx-eval': 'rgbx_tracker_ros.cli.evaluate:main',
    'rgbx-launch': 'rgbx_tracker_ros.cli.launch:main',
    'rgbx-select': 'rgbx_tracker_ros.cli.select:main',
    'rgbx-record': 'rgbx_tracker_ros.ros.recorder:main',
    'rgbx-eval-run': 'rgbx_tracker_ros.cli.eval_run:main',
    'rgbx-weights': 'rgbx_tracker_ros.cli.weights:main',
    'rgbx-models': 'rgbx_tracker_ros.cli.models:main',
    'rgbx-export': 'rgbx_tracker_ros.cli.export:main',
    'rgbx-calibrate': 'rgbx_tracker_ros.cli.calibrate:main',
}


@pytest.fixture(scope='module')
def setup_kwargs() -> dict[str, Any]:
    """The keyword arguments setup.py passes to setuptools.setup (run from the repo root)."""
    captured: dict[str, Any] = {}
    original = setuptools.setup
    cwd = os.getcwd()
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(REPO)
        runpy.run_path(str(REPO / 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original
        os.chdir(cwd)
    assert captured, 'setup.py did not call setuptools.setup'
    return captured


def _data_file_map(kwargs: dict[str, Any]) -> dict[str, str]:
    """Source path (relative to the repo) -> install path (relative to the prefix)."""
    out = {}
    for dest, files in kwargs['data_files']:
        for f in files:
            out[f] = f'{dest}/{Path(f).name}'
    return out


def test_setup_packages_cover_every_subpackage_and_exclude_tests(setup_kwargs) -> None:
    on_disk = {'.'.join(p.parent.relative_to(REPO).parts)
               for p in (REPO / PKG).rglob('__init__.py') if '__pycache__' not in p.parts}
    assert PKG in on_disk and f'{PKG}.core' in on_disk
    assert set(setup_kwargs['packages']) == on_disk
    assert not any(p.split('.')[0] in ('test', 'tests') for p in setup_kwargs['packages'])


def test_setup_data_files_follow_ament_layout(setup_kwargs) -> None:
    files = _data_file_map(setup_kwargs)
    assert files[f'resource/{PKG}'] == f'share/ament_index/resource_index/packages/{PKG}'
    assert files['package.xml'] == f'{SHARE}/package.xml'
    expected = {}
    for folder, pattern in (('launch', '*'), ('config', '**/*'), ('checkpoints', '*.pt')):
        for path in sorted((REPO / folder).glob(pattern)):
            if (path.is_file() and '__pycache__' not in path.parts
                    and not path.name.startswith('.')):
                rel = path.relative_to(REPO).as_posix()
                expected[rel] = f'{SHARE}/{rel}'  # subfolders preserved
    for src, dest in expected.items():
        assert files.get(src) == dest, f'{src} should install to {dest}, got {files.get(src)}'
    # Nothing else besides the marker and package.xml.
    assert set(files) == set(expected) | {f'resource/{PKG}', 'package.xml'}


def test_setup_config_tree_recursion_preserves_subfolders(tmp_path, setup_kwargs) -> None:
    """Run setup.py's data-file logic on a scratch tree with nested config folders."""
    for rel in ('config/tracker.yaml', 'config/rigs/rgbt/cam.yaml', 'config/rigs/rgbd/cam.yaml',
                'launch/tracker.launch.py', 'checkpoints/a.pt', 'checkpoints/notes.txt',
                'resource/' + PKG, 'package.xml'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('x')
    (tmp_path / 'setup.py').write_text((REPO / 'setup.py').read_text())
    captured: dict[str, Any] = {}
    original, cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(tmp_path)
        runpy.run_path('setup.py', run_name='__main__')
    finally:
        setuptools.setup = original
        os.chdir(cwd)
    files = _data_file_map(captured)
    assert files['config/rigs/rgbt/cam.yaml'] == f'{SHARE}/config/rigs/rgbt/cam.yaml'
    assert files['config/rigs/rgbd/cam.yaml'] == f'{SHARE}/config/rigs/rgbd/cam.yaml'
    assert files['config/tracker.yaml'] == f'{SHARE}/config/tracker.yaml'
    assert files['launch/tracker.launch.py'] == f'{SHARE}/launch/tracker.launch.py'
    assert files['checkpoints/a.pt'] == f'{SHARE}/checkpoints/a.pt'
    assert 'checkpoints/notes.txt' not in files


def test_setup_console_scripts_and_requirements(setup_kwargs) -> None:
    scripts = dict(s.replace(' ', '').split('=', 1)
                   for s in setup_kwargs['entry_points']['console_scripts'])
    assert scripts == EXPECTED_SCRIPTS
    # ROS 2 wheels (and everything else) come from requirements.txt / rosdep, not install_requires.
    assert not [r for r in setup_kwargs['install_requires'] if r.lower().startswith('ros-')]


@pytest.mark.parametrize('script', sorted(EXPECTED_SCRIPTS))
def test_console_script_targets_exist(script: str) -> None:
    module, func = EXPECTED_SCRIPTS[script].split(':')
    path = REPO / Path(*module.split('.')).with_suffix('.py')
    assert path.is_file(), f'{script}: {path.relative_to(REPO)} does not exist'
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert func in names, f'{script}: {module} has no top-level {func}()'


def test_setup_cfg_installs_scripts_under_lib_pkg_and_declares_markers() -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / 'setup.cfg')
    assert cfg['develop']['script_dir'] == f'$base/lib/{PKG}'
    assert cfg['install']['install_scripts'] == f'$base/lib/{PKG}'
    pytest_cfg = cfg['tool:pytest']
    assert pytest_cfg['testpaths'].strip() == 'test'
    assert pytest_cfg['junit_family'].strip() == 'xunit2'
    markers = {line.split(':')[0].strip() for line in pytest_cfg['markers'].splitlines() if line}
    assert {'ros', 'slow'} <= markers


def test_package_xml_is_format3_ament_python_with_rosdep_keys(setup_kwargs) -> None:
    root = ET.parse(REPO / 'package.xml').getroot()
    assert root.tag == 'package' and root.get('format') == '3'
    assert root.findtext('name') == PKG
    assert root.findtext('version') == setup_kwargs['version']
    assert root.find('export/build_type').text == 'ament_python'
    exec_deps = {e.text for e in root.findall('exec_depend')}
    for key in ('rclpy', 'sensor_msgs', 'std_msgs', 'std_srvs', 'diagnostic_msgs',
                'visualization_msgs', 'geometry_msgs', 'vision_msgs', 'python3-numpy',
                'python3-opencv', 'python3-yaml', 'python3-matplotlib', 'python3-tqdm'):
        assert key in exec_deps, f'package.xml lacks <exec_depend>{key}</exec_depend>'
    assert 'lifecycle_msgs' in exec_deps      # rclpy.lifecycle's services
    test_deps = {e.text for e in root.findall('test_depend')}
    # each lint test's ament package, and pytest
    lint = {f'ament_{m.stem[len("test_"):]}' for m in (REPO / 'test').glob('test_*.py')
            if m.stem in ('test_flake8', 'test_pep257', 'test_copyright')}
    assert lint == {'ament_flake8', 'ament_pep257', 'ament_copyright'}
    assert lint | {'python3-pytest'} <= test_deps
    assert root.findtext('maintainer') and root.findtext('license') == 'Apache-2.0'
    assert (REPO / 'LICENSE').read_text().lstrip().startswith('Apache License')


def _ros_packages_imported() -> set[str]:
    """Top-level ROS packages the package's code and launch files import (ast)."""
    ros = re.compile(r'^(rclpy|launch|launch_ros|ament_index_python|std_srvs|\w+_msgs|'
                     r'\w+_interfaces)$')
    found = set()
    for path in [*(REPO / PKG).rglob('*.py'), *(REPO / 'launch').glob('*.py')]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and \
                not node.level else []
            found.update(n.split('.')[0] for n in names if ros.match(n.split('.')[0]))
    return found


def test_package_xml_declares_every_ros_package_the_code_imports() -> None:
    root = ET.parse(REPO / 'package.xml').getroot()
    declared = {e.text for e in root.findall('exec_depend')}
    imported = _ros_packages_imported()
    assert {'rclpy', 'sensor_msgs', 'rcl_interfaces', 'ament_index_python'} <= imported
    assert imported - declared == set()


def test_venv_ament_share_layout(monkeypatch) -> None:
    from ament_index_python.packages import get_package_share_directory

    monkeypatch.setenv('AMENT_PREFIX_PATH', sys.prefix)
    share = Path(get_package_share_directory(PKG))
    assert (share / 'package.xml').read_text() == (REPO / 'package.xml').read_text()
    for folder in ('config', 'launch'):
        for path in (REPO / folder).rglob('*'):
            if path.is_file():
                rel = path.relative_to(REPO)
                assert (share / rel).is_file(), f'{rel} not visible under {share}'


def test_exactly_one_opencv_distribution() -> None:
    names = sorted({(d.metadata['Name'] or '').lower() for d in md.distributions()})
    opencv = [n for n in names if n.startswith('opencv')]
    assert opencv == ['opencv-contrib-python-headless']
    import cv2

    assert hasattr(cv2, 'TrackerNano'), 'cv2 is not the contrib build'


def test_make_test_treats_no_tests_collected_as_failure(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTEST_')}
    proc = subprocess.run(
        ['make', '-s', 'test', f'JUNIT_XML={tmp_path}/j.xml',
         'PYTEST_ARGS=test/test_packaging.py -k no_such_test_zz -p no:cacheprovider'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert 'no tests' in (proc.stdout + proc.stderr)
