"""rgbx_tracker_ros.cli."""
