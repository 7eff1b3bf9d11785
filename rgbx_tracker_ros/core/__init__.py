"""rgbx_tracker_ros.core."""
