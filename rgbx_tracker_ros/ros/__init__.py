"""rgbx_tracker_ros.ros."""
