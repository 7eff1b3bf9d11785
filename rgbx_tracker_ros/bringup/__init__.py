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

"""Bringup of the tracker node (ROS-free): rig -> node configuration and replay processes
(:mod:`.config`), rviz / Foxglove files (:mod:`.viewers`). The launch files and ``rgbx-launch``
import only this package (and :mod:`rgbx_tracker_ros.core.rig` for loading a rig)."""

from .config import (  # noqa: F401
    EXECUTABLE_MODULES, LOG_LEVELS, NODE_EXECUTABLE, NODE_NAME, NODE_TOPIC_EVENTS,
    NODE_TOPIC_RGB, NODE_TOPIC_RGB_INFO, NODE_TOPIC_X, NODE_TOPIC_X_INFO, OVERRIDE_KEYS,
    REPLAY_TRANSPORTS, BagTopics, NodeConfig, ReplayConfig, node_configuration, player_options,
    replay_configuration, ros_param_value)
from .viewers import (  # noqa: F401
    RVIZ_TEMPLATE_NODE, foxglove_layout_path, rviz_config, rviz_launch_kwargs,
    rviz_template_path, write_rviz_config)
