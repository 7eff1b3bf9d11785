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

"""rgbx_tracker_ros: RGB-X single-object tracking for ROS 2.

The package root imports neither torch nor rclpy, so ``import rgbx_tracker_ros`` is cheap.
Sub-packages:

- ``core``: ROS-free numpy/OpenCV logic (boxes, crops, modality encoders, synchronizer, tracker).
- ``models``: the torch models (Meta Merger, Dual MoE ViT, center head) and their registry.
- ``data``: sequence readers, the synthetic RGB-X generator and training samplers.
- ``eval``: benchmark metrics and reports.
- ``train``: losses and the training loop.
- ``ros``: the only sub-package that imports rclpy and ROS messages (nodes, bag tools).
- ``cli``: console entry points.
"""

__version__ = '0.1.0'
