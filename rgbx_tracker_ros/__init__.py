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
