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

"""``rgbx-record``: record the tracker node's outputs into a rosbag2 (MCAP) with ``rosbags``.

The replay step between the player and the evaluator (``launch/replay.launch.py``,
``rgbx-launch --replay``), also usable on a live rig. Records, as serialized by the publisher:

- ``<node>/detections`` (``vision_msgs/msg/Detection2DArray``),
- ``<node>/target_marker`` (``visualization_msgs/msg/MarkerArray``, RGB-D rigs),
- ``/diagnostics`` (``diagnostic_msgs/msg/DiagnosticArray``),
- with ``--debug-image`` also ``<node>/debug_image`` (large).

Bag timestamps are the receive times (ns, system clock); header stamps are the node's (the RGB
frame's stamp), which is what ``rgbx-eval-run`` matches to the ground truth. Stops on SIGINT /
SIGTERM, when the ``--stop-when`` file appears (the player's ``summary.json``: every answer has
then been received), or after ``--idle-timeout`` seconds without a message once recording has
started. With ``--ready-file FILE`` it creates FILE once its detections subscription has
matched the node's publisher, so a replay player (``rgbx-player --wait-for FILE``) starts only
when no answer can be missed. Exit status 0 after a clean stop, 2 for bad arguments (e.g. the
output exists).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rosbags.rosbag2 import StoragePlugin, Writer
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

from rgbx_tracker_ros.ros.bag_io import make_typestore

#: recorded (suffix or absolute topic, rclpy type, rosbags type name)
OUTPUTS = (('detections', Detection2DArray, 'vision_msgs/msg/Detection2DArray'),
           ('target_marker', MarkerArray, 'visualization_msgs/msg/MarkerArray'),
           ('/diagnostics', DiagnosticArray, 'diagnostic_msgs/msg/DiagnosticArray'))
DEBUG_IMAGE = ('debug_image', Image, 'sensor_msgs/msg/Image')


class OutputRecorder(Node):
    """Subscribes the node's outputs with raw (serialized) callbacks and writes them to a bag.

    Args:
        out_bag: bag folder to create (must not exist).
        tracker_node: fully qualified node name, e.g. '/tracker_node' or '/rgbt/tracker_node'.
        debug_image: also record ``<node>/debug_image``.

    Raises:
        rosbags.rosbag2.WriterError: if ``out_bag`` exists.
    """

    def __init__(self, out_bag: Path, tracker_node: str = '/tracker_node',
                 debug_image: bool = False) -> None:
        super().__init__('rgbx_recorder')
        node = '/' + tracker_node.strip('/')
        self._store = make_typestore()
        self._out = Path(out_bag)
        self._writer = Writer(out_bag, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.set_custom_data('rgbx.recorded_node', node)
        self._writer.open()
        self.counts: dict[str, int] = {}
        self.last_message_s = None
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                         reliability=ReliabilityPolicy.RELIABLE)
        self._subs = []
        outputs = list(OUTPUTS) + ([DEBUG_IMAGE] if debug_image else [])
        for suffix, msg_type, type_name in outputs:
            topic = suffix if suffix.startswith('/') else f'{node}/{suffix}'
            conn = self._writer.add_connection(topic, type_name, typestore=self._store)
            self.counts[topic] = 0
            self._subs.append(self.create_subscription(
                msg_type, topic, lambda raw, c=conn, t=topic: self._on_message(c, t, raw), qos,
                raw=True))

    def detections_matched(self) -> bool:
        """True once the ``detections`` subscription is matched with a publisher (the node)."""
        return self._subs[0].get_publisher_count() > 0

    def _on_message(self, conn: Any, topic: str, raw: bytes) -> None:
        self._writer.write(conn, time.time_ns(), bytes(raw))
        self.counts[topic] += 1
        self.last_message_s = time.monotonic()

    def close(self) -> None:
        """Close the bag (idempotent) and write the CRC of every MCAP chunk (rosbags leaves
        them 0), so that readers detect a chunk damaged later."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            from rgbx_tracker_ros.ros.bag_io import add_mcap_chunk_crcs
            for mcap_file in sorted(self._out.glob('*.mcap')):
                add_mcap_chunk_crcs(mcap_file)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-record`` (see the module docstring)."""
    from rclpy.utilities import remove_ros_args

    args_all = sys.argv if argv is None else ['rgbx-record', *argv]
    parser = argparse.ArgumentParser(prog='rgbx-record',
                                     description="Record tracker_node's outputs to an MCAP bag.")
    parser.add_argument('out', type=Path, help='bag folder to create (must not exist)')
    parser.add_argument('--node', default='/tracker_node',
                        help='fully qualified tracker node name (default /tracker_node)')
    parser.add_argument('--stop-when', type=Path, default=None, metavar='FILE',
                        help='stop once FILE exists (e.g. the player\'s summary.json)')
    parser.add_argument('--idle-timeout', type=float, default=0.0, metavar='S',
                        help='stop after S seconds without messages once recording started '
                             '(0 = never)')
    parser.add_argument('--debug-image', action='store_true', help='also record debug_image')
    parser.add_argument('--ready-file', type=Path, default=None, metavar='FILE',
                        help="create FILE once the node's detections are matched (a replay "
                             'player waits for it)')
    args = parser.parse_args(remove_ros_args(args_all)[1:])
    if args.out.exists():
        print(f'rgbx-record: {args.out} exists; choose a new folder', file=sys.stderr)
        return 2
    rclpy.init(args=args_all, signal_handler_options=SignalHandlerOptions.NO)
    stop = {'flag': False}

    def _stop(signum: int, frame: Any) -> None:
        stop['flag'] = True
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    rec = OutputRecorder(args.out, args.node, args.debug_image)
    executor = SingleThreadedExecutor()
    executor.add_node(rec)
    rec.get_logger().info(f'recording {", ".join(rec.counts)} -> {args.out}')
    try:
        ready = args.ready_file is None
        while not stop['flag']:
            executor.spin_once(timeout_sec=0.1)
            if not ready and rec.detections_matched():
                args.ready_file.parent.mkdir(parents=True, exist_ok=True)
                args.ready_file.write_text('matched\n')
                ready = True
            if args.stop_when is not None and args.stop_when.exists():
                # the player wrote its summary: every answer was received; drain a moment
                end = time.monotonic() + 0.5
                while time.monotonic() < end:
                    executor.spin_once(timeout_sec=0.05)
                break
            if (args.idle_timeout > 0 and rec.last_message_s is not None
                    and time.monotonic() - rec.last_message_s > args.idle_timeout):
                rec.get_logger().warning(f'no message for {args.idle_timeout} s: stopping')
                break
    finally:
        rec.close()
        counts = ', '.join(f'{t}: {n}' for t, n in rec.counts.items())
        print(f'rgbx-record: wrote {args.out} ({counts})', flush=True)
        executor.remove_node(rec)
        rec.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
