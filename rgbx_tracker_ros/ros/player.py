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

"""``rgbx-player``: replay a bag to the tracker node in lockstep and record its answers.

Per frame k (bag order) the player publishes ``/clock`` (the frame stamp), then the X image
(``x/image_raw``, or raw events on ``x/events``; unless frame k is in ``--withhold-x``) and
the RGB image (unless frame k is in ``--withhold-rgb``: a dead RGB camera; the node answers the
X frame alone after its ``rgb_timeout``), each exactly as stored in the bag, and
waits until the node's ``~/detections`` answer with that stamp arrives (or ``--timeout``
seconds pass: a missed answer, counted, never a hang). Before the first frame with a valid ground
truth (GT not 0,0,0,0) it sends that GT box as a ``vision_msgs/Detection2D`` with the frame's
stamp on the node's ``~/init``, and waits for a non-empty answer for that frame.

Outputs in ``--out DIR``:

- ``results.csv``: one row per frame: frame (1-based), stamp_ns, x_published, answered, has_box,
  x, y, w, h, score, x_state (the node's 'RGB-X' / 'RGB only' / 'X only' for that frame, from its
  diagnostics), round_trip_ms, gt_present, gt_x, gt_y, gt_w, gt_h, rgb_published;
- ``diagnostics.jsonl``: every ``/diagnostics`` status of the node (level, message, values);
- ``summary.json``: counts and settings.

Frame numbers in ``--withhold-x`` / ``--withhold-rgb START:END`` are 1-based and inclusive
(frame 1 = the first RGB frame in the bag, as in RGBT234 file names). Exit status 0 after a
replay (with a one-line summary), 2 when the bag cannot be read or the node never shows up.

A truncated or partly corrupt bag (``.mcap`` or ``.db3``, with or without metadata.yaml) is
replayed as far as it is readable (:func:`rgbx_tracker_ros.ros.bag_io.read_bag_checked`: corrupt
MCAP chunks are skipped, never used): one ``rgbx-player: WARN: ...`` line on stderr says which
file, how many messages were read, where the readable part ends / which chunk was skipped and
what is wrong, and ``summary.json`` gets the report under ``bag_read``; the exit status is then
0 as for an intact bag. When no frame can be read the player exits with status 2 and one
``rgbx-player: error: ...`` line, before it starts ROS.

Compressed bags and image transport (``--transport``, default ``raw``):

- ``raw``: images go out as ``sensor_msgs/Image`` on ``rgb/image_raw`` / ``x/image_raw`` (what
  the node subscribes with its default ``transport: raw``, as in ``rgbx-launch --replay``).
  Frames stored raw are published byte for byte as recorded; frames stored as
  ``sensor_msgs/CompressedImage`` (``rgbx-make-bag --compressed``, or image_transport
  recordings) are decoded first (:func:`rgbx_tracker_ros.ros.bag_io.decode_bag_image`: a JPEG
  of 'rgb8' arrives as 'bgr8', a PNG of 'mono8' as 'mono8', compressedDepth as '16UC1' or
  '32FC1' metres; stamp and frame_id kept). A frame that does not decode is an error (exit 2).
- ``compressed``: images go out as ``sensor_msgs/CompressedImage`` on ``rgb/image_raw/compressed``
  and ``x/image_raw/compressed`` (``x/image_raw/compressedDepth`` for compressedDepth payloads,
  or raw 16UC1 / 32FC1 depth), for a node with ``transport: compressed``. Compressed frames are
  published byte for byte as recorded; raw frames are encoded first (RGB JPEG quality 90, 16-bit
  PNG; X PNG, depth compressedDepth) with :mod:`rgbx_tracker_ros.core.codec`.

Raw events (``x/events``) always go out as recorded.

Bags recorded by someone else: ``--rgb-topic`` / ``--x-topic`` name the raw image topics of the
bag (default ``/rgb/image_raw`` / ``/x/image_raw``; their ``/compressed`` /
``/compressedDepth`` sub-topics are found too), ``.mcap`` or ``.db3``; the player still publishes
on the node's topics above. ``--gt-file FILE`` (one ``x,y,w,h`` row per RGB frame, pixels,
0,0,0,0 = absent; :func:`rgbx_tracker_ros.ros.bag_io.load_gt_file`) replaces the bag's
``ground_truth`` topic; a bag with neither sends no ``~/init`` (run the node with
``initial_box``, or use ``--no-init``), and the GT columns of results.csv are zeros with
gt_present 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray

from rgbx_tracker_ros.core.codec import transport_topic
from rgbx_tracker_ros.ros.bag_io import (
    apply_gt_file, BagError, BagFrame, BagReadReport, COMPRESSED_TYPE, compressed_is_depth,
    decode_bag_image, IMAGE_TYPE, POINTCLOUD_TYPE, read_bag_checked, read_bag_frames, TOPIC_GT,
    TOPIC_RGB, TOPIC_X)
from rgbx_tracker_ros.ros.conversions import (
    array_to_compressed, array_to_image, box_to_detection, detections_to_result, ns_to_stamp,
    stamp_to_ns)

#: Values of ``--transport``: how images are published (see the module docstring).
PLAYER_TRANSPORTS = ('raw', 'compressed')
_DEPTH_ENCODINGS = ('16UC1', '32FC1')

#: seconds the player waits for ``--wait-for`` (the recorder's ready file) once the node is up.
WAIT_FOR_S = 30.0
RESULT_FIELDS = ('frame', 'stamp_ns', 'x_published', 'answered', 'has_box', 'x', 'y', 'w', 'h',
                 'score', 'x_state', 'round_trip_ms', 'gt_present', 'gt_x', 'gt_y', 'gt_w',
                 'gt_h', 'rgb_published')


def parse_frames(text: str | None) -> tuple[int, ...]:
    """'10,20' -> (10, 20): 1-based frame numbers; '' -> ().

    Raises:
        argparse.ArgumentTypeError: not a comma-separated list of positive integers.
    """
    if not text:
        return ()
    try:
        frames = tuple(int(v) for v in text.split(','))
    except ValueError:
        frames = (0,)
    if any(n < 1 for n in frames):
        raise argparse.ArgumentTypeError(f'{text!r}: expected 1-based frame numbers like 10,20')
    return frames


def parse_span(text: str | None) -> tuple[int, int] | None:
    """'START:END' (1-based, inclusive frame numbers) -> (start, end); None/'' -> None.

    Raises:
        argparse.ArgumentTypeError: malformed span or END < START.
    """
    if not text:
        return None
    try:
        a, b = (int(v) for v in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected START:END frame numbers (1-based, inclusive), got {text!r}')
    if a < 1 or b < a:
        raise argparse.ArgumentTypeError(f'{text!r}: need 1 <= START <= END')
    return a, b


def x_is_depth(frames: list[BagFrame]) -> bool:
    """Whether the bag's X images are depth (compressedDepth payloads, or raw 16UC1 / 32FC1):
    they go out on ``x/image_raw/compressedDepth`` with ``--transport compressed``."""
    f = next((f for f in frames if f.x_raw is not None and f.x_type != POINTCLOUD_TYPE), None)
    if f is None:
        return False
    if f.x_type == COMPRESSED_TYPE:
        return compressed_is_depth(f.x_raw)
    return decode_bag_image(f.x_raw, IMAGE_TYPE)[1] in _DEPTH_ENCODINGS


def image_for_transport(raw: bytes, msgtype: str, transport: str, kind: str = 'rgb',
                        depth: bool = False) -> Any:
    """What the player publishes for one stored image (see the module docstring).

    Args:
        raw: the CDR bytes as stored (``BagFrame.rgb_raw`` / ``x_raw``).
        msgtype: ``BagFrame.rgb_type`` / ``x_type`` (Image or CompressedImage).
        transport: 'raw' (publish an Image) or 'compressed' (publish a CompressedImage).
        kind: 'rgb' (compressed: JPEG, or PNG for 16-bit) or 'x' (compressed: PNG).
        depth: X is depth (compressed: compressedDepth).

    Returns:
        ``raw`` itself (bytes, published as is) when the stored type matches ``transport``,
        else a decoded rclpy ``Image`` / an encoded rclpy ``CompressedImage`` with the stored
        stamp and frame_id.

    Raises:
        rgbx_tracker_ros.core.codec.CodecError: a payload that does not decode / encode.
        ImageConversionError: an encoding the converter does not support.
    """
    stored = COMPRESSED_TYPE if msgtype == COMPRESSED_TYPE else IMAGE_TYPE
    want = COMPRESSED_TYPE if transport == 'compressed' else IMAGE_TYPE
    if stored == want:
        return raw
    arr, enc, stamp_ns, frame_id = decode_bag_image(raw, stored)
    if want == IMAGE_TYPE:
        return array_to_image(arr, enc, stamp_ns, frame_id)
    if kind == 'x' and depth and enc in _DEPTH_ENCODINGS:
        codec = 'compressedDepth'
    elif kind == 'rgb' and arr.dtype == np.uint8:
        codec = 'jpeg'
    else:
        codec = 'png'
    return array_to_compressed(arr, enc, codec, stamp_ns, frame_id)


class LockstepPlayer(Node):
    """The player node: publishers for the images, /clock and init; answer and diagnostics
    subscriptions (all reliable, so nothing is lost between two processes).

    ``transport`` 'raw': ``Image`` on ``rgb/image_raw`` / ``x/image_raw``; 'compressed':
    ``CompressedImage`` on ``rgb/image_raw/compressed`` and ``x/image_raw/compressed`` (or
    ``x/image_raw/compressedDepth`` when ``x_depth``)."""

    def __init__(self, tracker_node: str, transport: str = 'raw', x_depth: bool = False) -> None:
        super().__init__('rgbx_player')
        node = '/' + tracker_node.strip('/')
        self.tracker_node = node
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                              reliability=ReliabilityPolicy.RELIABLE)
        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                          reliability=ReliabilityPolicy.RELIABLE)
        if transport not in PLAYER_TRANSPORTS:
            raise ValueError(f'unknown transport {transport!r}; valid: '
                             f'{", ".join(PLAYER_TRANSPORTS)}')
        self.transport = transport
        img = CompressedImage if transport == 'compressed' else Image
        self.rgb_pub = self.create_publisher(
            img, transport_topic('rgb/image_raw', transport), reliable)
        self.x_pub = self.create_publisher(
            img, transport_topic('x/image_raw', transport, x_depth), reliable)
        self.events_pub = self.create_publisher(PointCloud2, 'x/events', reliable)
        self.clock_pub = self.create_publisher(Clock, '/clock', reliable)
        self.init_pub = self.create_publisher(Detection2D, f'{node}/init', reliable)
        self.det_sub = self.create_subscription(Detection2DArray, f'{node}/detections',
                                                self._on_detections, deep)
        self.diag_sub = self.create_subscription(DiagnosticArray, '/diagnostics',
                                                 self._on_diagnostics, deep)
        self.answers: dict[int, tuple[Detection2DArray, float]] = {}
        self.diagnostics: list[dict[str, Any]] = []
        self.transitions: dict[int, str] = {}     # first stamp of a state -> state

    def _on_detections(self, msg: Detection2DArray) -> None:
        self.answers[stamp_to_ns(msg.header.stamp)] = (msg, time.monotonic())

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            if not st.name.startswith(self.tracker_node):
                continue
            values = {kv.key: kv.value for kv in st.values}
            self.diagnostics.append({
                'stamp_ns': stamp_to_ns(msg.header.stamp), 'received_s': time.time(),
                'level': int.from_bytes(st.level, 'little') if isinstance(st.level, bytes)
                else int(st.level),
                'name': st.name, 'message': st.message, 'values': values})
            since = values.get('x_state_since_stamp_ns')
            state = values.get('x_state')
            if since is not None and state in ('RGB-X', 'RGB only', 'X only') and int(since) > 0:
                self.transitions[int(since)] = state

    def state_at(self, stamp_ns: int) -> str:
        """The node's X state for the frame with ``stamp_ns`` (from diagnostics transitions)."""
        best = None
        for since in sorted(self.transitions):
            if since <= stamp_ns:
                best = self.transitions[since]
        return best or ''


def _spin_until(executor: SingleThreadedExecutor, cond, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() >= deadline:
            return False
        executor.spin_once(timeout_sec=0.005)
    return True


def replay(bag: Path, out_dir: Path, withhold: tuple[int, int] | None = None,
           timeout_s: float = 5.0, wait_s: float = 60.0, tracker_node: str = 'tracker_node',
           send_init: bool = True, reinit_at: tuple[int, ...] = (),
           withhold_rgb: tuple[int, int] | None = None, frames: list[BagFrame] | None = None,
           bag_report: BagReadReport | None = None, transport: str = 'raw',
           wait_for: Path | None = None) -> dict[str, Any]:
    """Replay ``bag`` to the node in lockstep; write results.csv / diagnostics.jsonl /
    summary.json into ``out_dir`` and return the summary dict (rclpy must be initialised).

    ``withhold`` / ``withhold_rgb``: (start, end) 1-based inclusive frames without X / RGB.

    ``reinit_at``: 1-based frame numbers where the ground-truth box is sent on ``~/init`` again
    (e.g. the cuts of a temporally sparse recording); frames without a GT box are skipped.

    ``frames`` / ``bag_report``: the bag as already read by :func:`read_bag_checked` (None:
    read ``bag`` here with :func:`read_bag_frames`); the report goes into summary.json.

    ``transport``: 'raw' (Images; compressed frames decoded) or 'compressed'
    (CompressedImages; raw frames encoded); frames already in that form go out byte for byte.

    ``wait_for``: then also wait (up to :data:`WAIT_FOR_S`) until this file exists
    (``rgbx-record --ready-file``: the recorder hears the node's answers), so the recording
    misses none; without it the replay goes on with a warning.

    Raises:
        CodecError / ImageConversionError (ValueErrors): a frame that does not decode / encode.
        RuntimeError: when the node's subscriptions / publishers do not appear within ``wait_s``.
        BagError: the bag has no readable frame (BagReadError: it is damaged).
    """
    if frames is None:
        frames = read_bag_frames(bag)
    if not frames:
        raise BagError(f'bag {bag} has no frames on /rgb/image_raw; nothing to replay')
    out_dir.mkdir(parents=True, exist_ok=True)
    x_depth = transport == 'compressed' and x_is_depth(frames)
    player = LockstepPlayer(tracker_node, transport, x_depth)
    executor = SingleThreadedExecutor()
    executor.add_node(player)
    log = player.get_logger()
    has_x = any(f.x_raw is not None for f in frames)
    x_pub = (player.events_pub if any(f.x_type.endswith('PointCloud2') for f in frames)
             else player.x_pub)
    topics = {'rgb': player.rgb_pub.topic_name, 'x': x_pub.topic_name if has_x else None}
    try:
        ok = _spin_until(executor, lambda: (
            player.rgb_pub.get_subscription_count() > 0
            and player.det_sub.get_publisher_count() > 0
            and (not send_init or player.init_pub.get_subscription_count() > 0)), wait_s)
        if not ok:
            raise RuntimeError(
                f'tracker node {player.tracker_node} not found within {wait_s} s (no subscriber '
                f'on {player.rgb_pub.topic_name} / no publisher on {player.det_sub.topic_name}); '
                f'is it running with the same ROS_DOMAIN_ID?')
        if wait_for is not None and not _spin_until(executor, wait_for.exists, WAIT_FOR_S):
            log.warning(f'{wait_for} did not appear within {WAIT_FOR_S:g} s: the recorder may '
                        "miss the first answers (rgbx-eval-run fills them from results.csv)")
        if has_x and not _spin_until(executor, lambda: x_pub.get_subscription_count() > 0, 2.0):
            log.warning(f'nobody subscribes {x_pub.topic_name}: the node runs RGB only')
        _spin_until(executor, lambda: False, 0.3)  # let both sides finish matching

        init_index = next((f.index for f in frames if f.gt_present), None) if send_init else None
        rows = []
        missed = 0
        withheld_n = rgb_withheld_n = 0
        t_start = time.monotonic()
        for f in frames:
            number = f.index + 1
            withheld = withhold is not None and withhold[0] <= number <= withhold[1]
            send_rgb = not (withhold_rgb is not None
                            and withhold_rgb[0] <= number <= withhold_rgb[1])
            rgb_withheld_n += int(not send_rgb)
            player.clock_pub.publish(Clock(clock=ns_to_stamp(f.stamp_ns)))
            is_init = init_index is not None and (
                f.index == init_index or (number in reinit_at and f.gt_present))
            if is_init:
                header = Header(stamp=ns_to_stamp(f.stamp_ns), frame_id='')
                player.init_pub.publish(box_to_detection(f.gt_xywh, 1.0, header))
            send_x = f.x_raw is not None and not withheld
            withheld_n += int(f.x_raw is not None and withheld)
            x_msg = rgb_msg = None
            if send_x:
                x_msg = (f.x_raw if f.x_type == POINTCLOUD_TYPE else
                         image_for_transport(f.x_raw, f.x_type, transport, 'x', x_depth))
            if send_rgb:
                rgb_msg = image_for_transport(f.rgb_raw, f.rgb_type, transport, 'rgb')
            t0 = time.monotonic()
            if send_x:
                x_pub.publish(x_msg)
            if send_rgb:
                player.rgb_pub.publish(rgb_msg)

            def answered(stamp=f.stamp_ns, need_box=is_init) -> bool:
                got = player.answers.get(stamp)
                return got is not None and (not need_box or len(got[0].detections) > 0)

            _spin_until(executor, answered, timeout_s)
            got = player.answers.get(f.stamp_ns)
            if got is None:
                missed += 1
                log.warning(f'frame {number} (stamp {f.stamp_ns}): no answer within {timeout_s} s')
                box, score, rtt = None, None, math.nan
            else:
                box, score = detections_to_result(got[0])
                rtt = (got[1] - t0) * 1e3
            rows.append({'frame': number, 'stamp_ns': f.stamp_ns, 'x_published': int(send_x),
                         'answered': int(got is not None), 'has_box': int(box is not None),
                         'box': box, 'score': score, 'round_trip_ms': rtt,
                         'gt_present': int(f.gt_present), 'gt': f.gt_xywh,
                         'rgb_published': int(send_rgb)})
        elapsed = time.monotonic() - t_start

        # the node's last state and counters: wait for a diagnostics message after the last frame
        last_stamp = frames[-1].stamp_ns
        _spin_until(executor, lambda: any(
            d['values'].get('last_stamp_ns') == str(last_stamp) for d in player.diagnostics[-3:]),
            max(timeout_s, 2.5))
    finally:
        executor.remove_node(player)
        player.destroy_node()

    with open(out_dir / 'results.csv', 'w', newline='') as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_FIELDS)
        writer.writeheader()
        for r in rows:
            box = r['box'] if r['box'] is not None else [math.nan] * 4
            writer.writerow({
                'frame': r['frame'], 'stamp_ns': r['stamp_ns'], 'x_published': r['x_published'],
                'answered': r['answered'], 'has_box': r['has_box'],
                'x': f'{box[0]:.3f}', 'y': f'{box[1]:.3f}', 'w': f'{box[2]:.3f}',
                'h': f'{box[3]:.3f}',
                'score': '' if r['score'] is None else f'{r["score"]:.4f}',
                'x_state': player.state_at(r['stamp_ns']) if r['answered'] else '',
                'round_trip_ms': f'{r["round_trip_ms"]:.2f}', 'gt_present': r['gt_present'],
                'gt_x': f'{r["gt"][0]:.3f}', 'gt_y': f'{r["gt"][1]:.3f}',
                'gt_w': f'{r["gt"][2]:.3f}', 'gt_h': f'{r["gt"][3]:.3f}',
                'rgb_published': r['rgb_published']})
    with open(out_dir / 'diagnostics.jsonl', 'w') as fh:
        for d in player.diagnostics:
            fh.write(json.dumps(d) + '\n')
    rtts = np.array([r['round_trip_ms'] for r in rows], dtype=np.float64)
    summary = {
        'bag': str(bag), 'frames': len(rows), 'answered': len(rows) - missed, 'missed': missed,
        'with_box': sum(r['has_box'] for r in rows), 'x_withheld_frames': withheld_n,
        'withhold_x': list(withhold) if withhold else None,
        'rgb_withheld_frames': rgb_withheld_n,
        'withhold_rgb': list(withhold_rgb) if withhold_rgb else None,
        'init_frame': None if init_index is None else init_index + 1,
        'reinit_at': [n for n in reinit_at if 0 < n <= len(frames) and frames[n - 1].gt_present],
        'round_trip_ms_mean': float(np.nanmean(rtts)) if np.isfinite(rtts).any() else None,
        'elapsed_s': elapsed, 'diagnostics_messages': len(player.diagnostics),
        'last_diagnostics': player.diagnostics[-1] if player.diagnostics else None,
        # the node's latest status of each kind ('input rgb', 'input x', 'sync', 'tracker')
        'last_statuses': {d['name'].rsplit(': ', 1)[-1]: d for d in player.diagnostics},
        'bag_read': None if bag_report is None else bag_report.as_dict(),
        'transport': transport,
        'stored_rgb_type': frames[0].rgb_type,
        'topics': topics,
    }
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-player`` (see the module docstring)."""
    from rclpy.utilities import remove_ros_args

    args_all = sys.argv if argv is None else ['rgbx-player', *argv]
    parser = argparse.ArgumentParser(
        prog='rgbx-player', description='Replay a bag to tracker_node in lockstep and record '
                                        'its detections (results.csv, diagnostics.jsonl).')
    parser.add_argument('bag', type=Path, help='rosbag2 folder written by rgbx-make-bag')
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    parser.add_argument('--withhold-x', type=parse_span, default=None, metavar='START:END',
                        help='do not publish X for these frames (1-based, inclusive)')
    parser.add_argument('--withhold-rgb', type=parse_span, default=None, metavar='START:END',
                        help='do not publish RGB for these frames (a dead RGB camera; the node '
                             'answers X alone after its rgb_timeout)')
    parser.add_argument('--timeout', type=float, default=5.0,
                        help='seconds to wait for each answer (default 5)')
    parser.add_argument('--wait', type=float, default=60.0,
                        help='seconds to wait for the node to appear (default 60)')
    parser.add_argument('--node', default='tracker_node',
                        help='fully qualified name of the tracker node (default tracker_node)')
    parser.add_argument('--reinit-at', type=parse_frames, default=(), metavar='N[,N...]',
                        help='also send the GT box on ~/init at these frames (1-based), e.g. '
                             'where the recording skips')
    parser.add_argument('--no-init', action='store_true',
                        help='do not send the GT box on ~/init (node uses initial_box)')
    parser.add_argument('--transport', choices=PLAYER_TRANSPORTS, default='raw',
                        help='raw (default): publish sensor_msgs/Image, decoding compressed '
                             'frames; compressed: publish CompressedImage on '
                             '<topic>/compressed (or /compressedDepth), as stored, for a node '
                             'with transport: compressed')
    parser.add_argument('--rgb-topic', default=TOPIC_RGB,
                        help=f'RGB image topic in the bag (raw name; its /compressed sub-topic '
                             f'is found too; default {TOPIC_RGB})')
    parser.add_argument('--x-topic', default=TOPIC_X,
                        help=f'X image topic in the bag (raw name; /compressed and '
                             f'/compressedDepth found too; default {TOPIC_X})')
    parser.add_argument('--gt-file', type=Path, default=None,
                        help='ground truth: one x,y,w,h row (pixels) per RGB frame, 0,0,0,0 = '
                             'absent; replaces the bag\'s ground_truth topic')
    parser.add_argument('--gt-topic', default=TOPIC_GT,
                        help=f'ground-truth vision_msgs/Detection2DArray topic in the bag '
                             f'(default {TOPIC_GT})')
    parser.add_argument('--wait-for', type=Path, default=None, metavar='FILE',
                        help='wait for FILE before the first frame (rgbx-record --ready-file)')
    args = parser.parse_args(remove_ros_args(args_all)[1:])
    if not args.bag.exists():
        print(f'rgbx-player: bag {args.bag} does not exist', file=sys.stderr)
        return 2
    frames, report = read_bag_checked(args.bag, args.rgb_topic, args.x_topic,
                                      args.gt_topic)
    if report.fatal:
        print(f'rgbx-player: error: {report.fatal}', file=sys.stderr)
        return 2
    if not frames:
        print(f'rgbx-player: error: bag {args.bag} has no frames on {args.rgb_topic}; nothing to '
              'replay (write one with rgbx-make-bag, or name the topic with --rgb-topic)',
              file=sys.stderr)
        return 2
    if args.gt_file is not None:
        try:
            apply_gt_file(frames, args.gt_file)
        except BagError as exc:
            print(f'rgbx-player: error: {exc}', file=sys.stderr)
            return 2
    if report.problems:
        print(f'rgbx-player: WARN: {report.warning_line()}', file=sys.stderr)
    rclpy.init(args=args_all)
    try:
        summary = replay(args.bag, args.out, args.withhold_x, args.timeout, args.wait, args.node,
                         send_init=not args.no_init, reinit_at=args.reinit_at,
                         withhold_rgb=args.withhold_rgb, frames=frames, bag_report=report,
                         transport=args.transport, wait_for=args.wait_for)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f'rgbx-player: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        rclpy.try_shutdown()
    print(f'rgbx-player: {summary["frames"]} frames, {summary["answered"]} answered, '
          f'{summary["missed"]} missed, {summary["with_box"]} with a box, X withheld on '
          f'{summary["x_withheld_frames"]} frames, RGB on {summary["rgb_withheld_frames"]}, '
          f'mean round trip '
          f'{summary["round_trip_ms_mean"] or float("nan"):.1f} ms -> {args.out / "results.csv"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
