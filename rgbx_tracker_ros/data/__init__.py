"""rgbx_tracker_ros.data."""
