"""Bringup of the tracker node (ROS-free): rig -> node configuration and replay processes
(:mod:`.config`), rviz / Foxglove files (:mod:`.viewers`). The launch files and ``rgbx-launch``
import only this package (and :mod:`rgbx_tracker_ros.core.rig` for loading a rig)."""

from .config import (  # noqa: F401
    EXECUTABLE_MODULES, LOG_LEVELS, NODE_EXECUTABLE, NODE_NAME, NODE_TOPIC_EVENTS,
    NODE_TOPIC_RGB, NODE_TOPIC_RGB_INFO, NODE_TOPIC_X, NODE_TOPIC_X_INFO, OVERRIDE_KEYS,
    REPLAY_TRANSPORTS, BagTopics, NodeConfig, ReplayConfig, node_configuration, player_options,
    replay_configuration, ros_param_value)
from .viewers import (  # noqa: F401
    RVIZ_TEMPLATE_NODE, foxglove_layout_path, rviz_config, rviz_template_path,
    write_rviz_config)
