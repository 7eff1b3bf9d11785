"""rgbx_tracker_ros.eval."""
