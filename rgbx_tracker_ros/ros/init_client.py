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

"""rclpy side of ``rgbx-select``: grab a frame from the node's ``~/debug_image`` and send a box
on its ``~/init`` (``vision_msgs/Detection2D``, header stamp = the frame the box was drawn on).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D

from rgbx_tracker_ros.ros.conversions import (
    box_to_detection, image_to_array, ns_to_stamp, stamp_to_ns)


class InitClientError(RuntimeError):
    """The tracker node did not show up, or sent no frame / answer in time."""


def _qualified(node: str) -> str:
    return '/' + node.strip('/')


class InitClient:
    """A short-lived rclpy node talking to one tracker node.

    Args:
        tracker_node: fully qualified name, e.g. '/tracker_node' or '/rgbt/tracker_node'.
        args: ROS command-line arguments for ``rclpy.init`` (remaps, domain), or None.

    Use as a context manager; it initialises and shuts down its own rclpy context.
    """

    def __init__(self, tracker_node: str = '/tracker_node', args: list[str] | None = None):
        self.tracker_node = _qualified(tracker_node)
        self._ctx = Context()
        rclpy.init(args=args, context=self._ctx)
        self.node = Node('rgbx_select', context=self._ctx)
        self._exec = SingleThreadedExecutor(context=self._ctx)
        self._exec.add_node(self.node)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.RELIABLE)
        self._init_pub = self.node.create_publisher(Detection2D, f'{self.tracker_node}/init',
                                                    qos)

    def __enter__(self) -> 'InitClient':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Destroy the node and shut down the context (idempotent)."""
        if self._ctx.ok():
            self._exec.remove_node(self.node)
            self.node.destroy_node()
            rclpy.shutdown(context=self._ctx)

    def _spin_until(self, cond, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                return False
            self._exec.spin_once(timeout_sec=0.02)
        return True

    def grab_debug_frame(self, timeout_s: float = 10.0) -> tuple[np.ndarray, int, str]:
        """One frame of ``<node>/debug_image`` -> ((H, W, 3) uint8 RGB, stamp ns, frame_id).

        Raises:
            InitClientError: no frame within ``timeout_s`` (node not running, or no input).
        """
        got: list[Image] = []
        sub = self.node.create_subscription(
            Image, f'{self.tracker_node}/debug_image', got.append,
            QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                       reliability=ReliabilityPolicy.RELIABLE))
        try:
            if not self._spin_until(lambda: bool(got), timeout_s):
                raise InitClientError(
                    f'no image on {sub.topic_name} within {timeout_s} s: is the tracker node '
                    f'running (same ROS_DOMAIN_ID) and receiving frames?')
        finally:
            self.node.destroy_subscription(sub)
        msg = got[-1]
        return image_to_array(msg), stamp_to_ns(msg.header.stamp), msg.header.frame_id

    def send_init(self, box_xywh: Any, stamp_ns: int = 0, frame_id: str = '',
                  wait_s: float = 10.0) -> None:
        """Publish the box on ``<node>/init`` once the node subscribes.

        Args:
            box_xywh: (x, y, w, h) pixels, top-left origin.
            stamp_ns: stamp of the frame the box refers to (0 = the node's next frame).
            frame_id: header frame id.
            wait_s: how long to wait for the node's subscription, and then for its
                acknowledgement of the (reliable) message.

        Raises:
            InitClientError: nobody subscribes ``<node>/init`` within ``wait_s``, or the message
                was not acknowledged in time.
        """
        if not self._spin_until(lambda: self._init_pub.get_subscription_count() > 0, wait_s):
            raise InitClientError(f'nobody subscribes {self._init_pub.topic_name} within '
                                  f'{wait_s} s: is {self.tracker_node} running with the same '
                                  f'ROS_DOMAIN_ID?')
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)
        self._init_pub.publish(box_to_detection(box_xywh, 1.0, header))
        # reliable QoS: make sure the node has the message before this process goes away
        if not self._init_pub.wait_for_all_acked(Duration(seconds=wait_s)):
            raise InitClientError(f'{self.tracker_node} did not acknowledge the box on '
                                  f'{self._init_pub.topic_name} within {wait_s} s')
