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

"""ament_python build script for rgbx_tracker_ros.

Installs the Python package plus the ament index marker, package.xml, launch files, the config
tree (subfolders preserved) and committed checkpoints under share/rgbx_tracker_ros. With colcon the
console scripts land in lib/rgbx_tracker_ros (setup.cfg) so `ros2 run rgbx_tracker_ros <name>`
works.

Dependencies are deliberately not in install_requires: on a ROS 2 install they come from the
distribution (package.xml / rosdep), in the venv from requirements.txt (make venv).
"""

from __future__ import annotations

import os
from glob import glob

from setuptools import find_packages, setup

package_name = 'rgbx_tracker_ros'
share = os.path.join('share', package_name)


def _tree(root: str) -> list[tuple[str, list[str]]]:
    """Data-file entries installing every file under root to share/<pkg>/<root>/..., by
    subfolder."""
    entries: list[tuple[str, list[str]]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__' and not d.startswith('.'))
        files = sorted(os.path.join(dirpath, f) for f in filenames
                       if not f.startswith('.') and not f.endswith('.pyc'))
        if files:
            entries.append((os.path.join(share, dirpath), files))
    return entries


data_files = [
    (os.path.join('share', 'ament_index', 'resource_index', 'packages'),
     [os.path.join('resource', package_name)]),
    (share, ['package.xml']),
]
launch_files = sorted(glob(os.path.join('launch', '*')))
launch_files = [f for f in launch_files if os.path.isfile(f)]
if launch_files:
    data_files.append((os.path.join(share, 'launch'), launch_files))
data_files += _tree('config')
checkpoints = sorted(glob(os.path.join('checkpoints', '*.pt')))
if checkpoints:
    data_files.append((os.path.join(share, 'checkpoints'), checkpoints))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'tests', 'tests.*']),
    data_files=data_files,
    python_requires='>=3.10',
    # Only setuptools, as usual for ament_python: the libraries come from rosdep (package.xml) on a
    # ROS 2 install, or from requirements.txt (pinned, incl. the one cv2 wheel) in the venv.
    # Listing them here would let pip pull a second OpenCV beside python3-opencv on a ROS machine.
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='rgbx_tracker_ros maintainers',
    maintainer_email='rgbx-tracker@example.com',
    description='RGB-X single-object tracker (thermal, depth, event) with ROS 2 nodes.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'tracker_node = rgbx_tracker_ros.ros.tracker_node:main',
            'rgbx-player = rgbx_tracker_ros.ros.player:main',
            'rgbx-make-bag = rgbx_tracker_ros.cli.make_bag:main',
            'rgbx-demo = rgbx_tracker_ros.cli.demo:main',
            'rgbx-train = rgbx_tracker_ros.cli.train:main',
            'rgbx-eval = rgbx_tracker_ros.cli.evaluate:main',
            'rgbx-launch = rgbx_tracker_ros.cli.launch:main',
            'rgbx-select = rgbx_tracker_ros.cli.select:main',
            'rgbx-record = rgbx_tracker_ros.ros.recorder:main',
            'rgbx-eval-run = rgbx_tracker_ros.cli.eval_run:main',
            'rgbx-weights = rgbx_tracker_ros.cli.weights:main',
            'rgbx-models = rgbx_tracker_ros.cli.models:main',
            'rgbx-export = rgbx_tracker_ros.cli.export:main',
            'rgbx-calibrate = rgbx_tracker_ros.cli.calibrate:main',
        ],
    },
)
