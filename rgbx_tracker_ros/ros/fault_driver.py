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

"""Fault injection against a running tracker node (used by test/test_node_faults.py and
bench/soak.py): publish RGB + thermal frames with chosen header stamps, collect the answers.

Runs in its own rclpy Context so that it can live next to other rclpy users in one process.
"""

from __future__ import annotations

import threading
import time

import numpy as np


class FaultDriver:
    """Publishes RGB + mono16 thermal frames with chosen stamps to a tracker node and collects
    its answers (``~/detections`` by header stamp) and ``/diagnostics`` statuses.

    Args:
        domain_id: ROS_DOMAIN_ID of the node under test.
        node: fully qualified name of the tracker node.
        height / width: frame size, pixels.
    """

    def __init__(self, domain_id: int, node: str = '/tracker_node', height: int = 128,
                 width: int = 160) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2D, Detection2DArray

        self.node_name = node
        self.h, self.w = height, width
        self.ctx = rclpy.Context()
        rclpy.init(args=[], context=self.ctx, domain_id=domain_id)
        self.node = rclpy.create_node('fault_driver', context=self.ctx)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                         reliability=ReliabilityPolicy.RELIABLE)
        self.pub_rgb = self.node.create_publisher(Image, '/rgb/image_raw', qos)
        self.pub_x = self.node.create_publisher(Image, '/x/image_raw', qos)
        self.pub_init = self.node.create_publisher(Detection2D, f'{node}/init', qos)
        self.lock = threading.Lock()
        self.answers: dict[int, list] = {}
        self.answer_times: dict[int, list[float]] = {}   # monotonic arrival, s
        self.diags: list[dict] = []
        self.node.create_subscription(Detection2DArray, f'{node}/detections', self._on_det, qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, qos)
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()
        rng = np.random.default_rng(3)
        self.bg = rng.integers(0, 255, (self.h, self.w, 3), dtype=np.uint8)
        self.thermal_bg = (rng.integers(0, 4000, (self.h, self.w)) + 20000).astype(np.uint16)
        self.sent_rgb = 0
        self.k = 0

    def _spin(self) -> None:
        while self.ctx.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - shutting down
                return

    def _on_det(self, msg) -> None:
        from rgbx_tracker_ros.ros.conversions import stamp_to_ns
        box = None
        if msg.detections:
            b = msg.detections[0].bbox
            box = (b.center.position.x - b.size_x / 2, b.center.position.y - b.size_y / 2,
                   b.size_x, b.size_y)
        stamp = stamp_to_ns(msg.header.stamp)
        with self.lock:
            self.answers.setdefault(stamp, []).append(box)
            self.answer_times.setdefault(stamp, []).append(time.monotonic())

    def _on_diag(self, msg) -> None:
        statuses = {}
        for st in msg.status:
            if st.name.startswith(self.node_name + ':'):
                statuses[st.name.split(': ', 1)[1]] = (
                    st.level[0] if isinstance(st.level, bytes) else int(st.level), st.message,
                    {kv.key: kv.value for kv in st.values})
        if statuses:
            with self.lock:
                self.diags.append(statuses)

    # ------------------------------------------------------------------ frames
    def images(self, flat_x: bool = False, x_shape: tuple[int, int] | None = None):
        """The next (H, W, 3) uint8 RGB frame and (h, w) uint16 thermal frame (a warm box moving
        over a textured background); ``flat_x``: a dead, flat thermal frame; ``x_shape``:
        thermal (h, w) of another size."""
        x_shape = x_shape or (self.h, self.w)
        self.k += 1
        rgb = self.bg.copy()
        x0 = 40 + int(20 * np.sin(self.k / 10))
        rgb[40:80, x0:x0 + 30] = (220, 40, 40)
        if flat_x:
            thermal = np.full(x_shape, 21000, np.uint16)
        else:
            thermal = self.thermal_bg.copy()
            thermal[40:80, x0:x0 + 30] = 32000
            if x_shape != (self.h, self.w):
                thermal = np.resize(thermal, x_shape).astype(np.uint16)
        return rgb, thermal

    def send_rgb(self, stamp: int, rgb=None, encoding: str = 'rgb8') -> None:
        """Publish one RGB frame stamped ``stamp`` (ns); counted in :attr:`sent_rgb`."""
        from rgbx_tracker_ros.ros.conversions import array_to_image
        rgb = self.images()[0] if rgb is None else rgb
        self.pub_rgb.publish(array_to_image(rgb, encoding, stamp, 'rgb'))
        self.sent_rgb += 1

    def send_x(self, stamp: int, thermal) -> None:
        """Publish one mono16 thermal frame stamped ``stamp`` (ns)."""
        from rgbx_tracker_ros.ros.conversions import array_to_image
        self.pub_x.publish(array_to_image(thermal, 'mono16', stamp, 'thermal'))

    def pair(self, stamp: int, flat_x: bool = False, x: bool = True,
             x_shape: tuple[int, int] | None = None) -> None:
        """Publish X (unless ``x`` is False) then RGB with the same stamp (ns)."""
        rgb, thermal = self.images(flat_x, x_shape)
        if x:
            self.send_x(stamp, thermal)
        self.send_rgb(stamp, rgb)

    def answered(self, stamps) -> int:
        """How many of ``stamps`` (ns) have been answered on ``~/detections``."""
        with self.lock:
            return sum(1 for s in stamps if s in self.answers)

    def wait_answers(self, stamps, timeout: float = 10.0) -> int:
        """Wait up to ``timeout`` seconds for answers to ``stamps``; returns how many came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.answered(stamps) < len(stamps):
            time.sleep(0.05)
        return self.answered(stamps)

    def last_diag(self, after: float = 0.0) -> dict:
        """The statuses of the first diagnostics message received at least ``after`` seconds
        from now: {status name without the node prefix: (level, message, {key: value})}.

        Raises:
            AssertionError: when none arrives within ``after`` + 5 s.
        """
        with self.lock:
            n = len(self.diags)
        deadline = time.monotonic() + after + 5.0
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.diags) > n and time.monotonic() >= deadline - 5.0:
                    return self.diags[-1]
            time.sleep(0.05)
        raise AssertionError('no diagnostics from the node')

    def close(self) -> None:
        """Destroy the node and shut the private context down."""
        self.node.destroy_node()
        self.ctx.try_shutdown()
        self.thread.join(timeout=2.0)


class Clock:
    """Header stamps that follow the wall clock, with an offset the faults move."""

    def __init__(self) -> None:
        self.offset = time.time_ns() - time.monotonic_ns()

    def now(self) -> int:
        return time.monotonic_ns() + self.offset
