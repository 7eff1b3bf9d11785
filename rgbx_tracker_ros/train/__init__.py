"""rgbx_tracker_ros.train."""
