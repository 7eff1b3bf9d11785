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

"""Checks that the venv-built vision_msgs (interfaces/vision_msgs) works end to end.

Fails if scripts/build_vision_msgs.sh broke: the module must import from the venv, be registered in
the ament index under AMENT_PREFIX_PATH, have the published ROS 2 vision_msgs 4.x field layout, and
carry a Detection2DArray between two rclpy nodes over the real middleware (rmw_fastrtps_cpp).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import rclpy  # a missing rclpy is a failure here, not a skip: run `make venv`
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

pytestmark = pytest.mark.ros


def _domain_id() -> int:
    """Domain id for this run: $ROS_DOMAIN_ID if set (the Makefile sets one per run), else
    per pid."""
    value = os.environ.get('ROS_DOMAIN_ID')
    if value:
        return int(value)
    return 100 + os.getpid() % 100


def test_vision_msgs_module_comes_from_venv_and_ament_index() -> None:
    import vision_msgs.msg as vm
    from ament_index_python.packages import get_package_share_directory
    from ament_index_python.resources import get_resource

    # The Python package is the one installed into the active interpreter's prefix.
    assert Path(vm.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
    share = Path(get_package_share_directory('vision_msgs'))
    assert (share / 'msg' / 'Detection2DArray.msg').is_file()
    content, _ = get_resource('rosidl_interfaces', 'vision_msgs')
    names = set(content.split())
    for msg in ('Point2D', 'Pose2D', 'BoundingBox2D', 'BoundingBox3D', 'ObjectHypothesis',
                'ObjectHypothesisWithPose', 'Detection2D', 'Detection2DArray', 'Detection3D',
                'Detection3DArray'):
        assert f'msg/{msg}.msg' in names, f'{msg} missing from the ament index: {names}'


def test_vision_msgs_field_layout_matches_ros2_interface() -> None:
    from vision_msgs.msg import (BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray,
                                 Detection3D, ObjectHypothesis, ObjectHypothesisWithPose,
                                 Point2D, Pose2D)

    assert Point2D.get_fields_and_field_types() == {'x': 'double', 'y': 'double'}
    assert Pose2D.get_fields_and_field_types() == {
        'position': 'vision_msgs/Point2D', 'theta': 'double'}
    assert BoundingBox2D.get_fields_and_field_types() == {
        'center': 'vision_msgs/Pose2D', 'size_x': 'double', 'size_y': 'double'}
    assert BoundingBox3D.get_fields_and_field_types() == {
        'center': 'geometry_msgs/Pose', 'size': 'geometry_msgs/Vector3'}
    assert ObjectHypothesis.get_fields_and_field_types() == {
        'class_id': 'string', 'score': 'double'}
    assert ObjectHypothesisWithPose.get_fields_and_field_types() == {
        'hypothesis': 'vision_msgs/ObjectHypothesis', 'pose': 'geometry_msgs/PoseWithCovariance'}
    assert Detection2D.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'results': 'sequence<vision_msgs/ObjectHypothesisWithPose>',
        'bbox': 'vision_msgs/BoundingBox2D', 'id': 'string'}
    assert Detection3D.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'results': 'sequence<vision_msgs/ObjectHypothesisWithPose>',
        'bbox': 'vision_msgs/BoundingBox3D', 'id': 'string'}
    assert Detection2DArray.get_fields_and_field_types() == {
        'header': 'std_msgs/Header', 'detections': 'sequence<vision_msgs/Detection2D>'}


def _make_array(stamp_sec: int) -> 'object':
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    det = Detection2D()
    det.header.frame_id = 'camera_rgb'
    det.header.stamp.sec = stamp_sec
    det.header.stamp.nanosec = 250_000_000
    det.bbox.center.position.x = 320.5
    det.bbox.center.position.y = 240.25
    det.bbox.center.theta = 0.0
    det.bbox.size_x = 64.0
    det.bbox.size_y = 48.0
    det.id = 'target'
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id = 'target'
    hyp.hypothesis.score = 0.875
    det.results.append(hyp)
    arr = Detection2DArray()
    arr.header = det.header
    arr.detections.append(det)
    return arr


def test_detection2d_array_serialization_round_trip() -> None:
    from vision_msgs.msg import Detection2DArray

    arr = _make_array(stamp_sec=7)
    data = serialize_message(arr)
    assert isinstance(data, bytes) and len(data) > 40
    back = deserialize_message(data, Detection2DArray)
    assert back == arr
    assert back.detections[0].bbox.size_y == 48.0


def test_detection2d_array_pub_sub_between_two_nodes() -> None:
    from vision_msgs.msg import Detection2DArray

    context = Context()
    rclpy.init(context=context, domain_id=_domain_id())
    executor = SingleThreadedExecutor(context=context)
    try:
        pub_node = rclpy.create_node('vm_test_pub', context=context)
        sub_node = rclpy.create_node('vm_test_sub', context=context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        received: list[Detection2DArray] = []
        sub_node.create_subscription(Detection2DArray, 'vm_test/detections', received.append, qos)
        pub = pub_node.create_publisher(Detection2DArray, 'vm_test/detections', qos)
        executor.add_node(pub_node)
        executor.add_node(sub_node)

        deadline = time.monotonic() + 20.0
        sent = 0
        while not received and time.monotonic() < deadline:
            if pub.get_subscription_count() > 0:
                pub.publish(_make_array(stamp_sec=100 + sent))
                sent += 1
            executor.spin_once(timeout_sec=0.1)
        assert received, f'no Detection2DArray received within 20 s ({sent} published)'
        msg = received[0]
        assert msg.header.stamp.sec >= 100 and msg.header.frame_id == 'camera_rgb'
        assert len(msg.detections) == 1
        det = msg.detections[0]
        assert (det.bbox.center.position.x, det.bbox.center.position.y) == (320.5, 240.25)
        assert (det.bbox.size_x, det.bbox.size_y) == (64.0, 48.0)
        assert det.results[0].hypothesis.class_id == 'target'
        assert det.results[0].hypothesis.score == 0.875
        assert det.id == 'target'
    finally:
        executor.shutdown()
        rclpy.shutdown(context=context)
