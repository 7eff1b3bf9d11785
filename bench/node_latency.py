#!/usr/bin/env python3

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

"""Feed a tracker_node process 640x512 RGB + mono16 thermal at 30 Hz and measure its answers.

Latency = arrival time of the Detection2DArray - publish time of the RGB frame it answers (matched
by header stamp); ``node_lat_mean_ms`` is the node's own arrival-to-publish mean from its
diagnostics (the rest is DDS transport both ways and the probe); ``pairs`` / ``rgb_alone`` are
the node's counts of frames tracked on RGB + X and on RGB alone (all should be pairs).
Prints one line ``RESULT key=value ...`` for bench/run_bench.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.ros.conversions import array_to_image, stamp_to_ns  # noqa: E402


def frames(n: int, width: int = 640, height: int = 512):
    """A warm square moving over a textured background (RGB and mono16 thermal).

    The thermal background carries 4000 counts of texture, as the fault driver's does: a flat one
    (one value outside the square) is what the node's X health check calls a dead sensor
    (``flat_thermal``), and the node would then track on RGB alone.
    """
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    thermal_bg = (rng.integers(0, 4000, (height, width)) + 20000).astype(np.uint16)
    for i in range(n):
        rgb = bg.copy()
        thermal = thermal_bg.copy()
        x = 200 + int(60 * np.sin(i / 15))
        rgb[200:260, x:x + 40] = (200, 60, 60)
        thermal[200:260, x:x + 40] = 32000
        yield rgb, thermal


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--precision', default='auto', help="the node's precision parameter")
    parser.add_argument('--backend', default='torch', help="the node's backend parameter")
    parser.add_argument('--checkpoint', default='', help="the node's checkpoint ('' = default)")
    parser.add_argument('--threads', type=int, default=0, help="the node's torch_threads")
    parser.add_argument('--variant', default='', help="the node's variant ('' = tracker.yaml's)")
    parser.add_argument('--engine-cache', default='', help="the node's engine_cache parameter")
    parser.add_argument('--node-param', action='append', default=[], metavar='NAME:=VALUE',
                        help='another node parameter (repeatable), e.g. '
                             'redetect_tiles_per_frame:=2')
    args = parser.parse_args()
    node_cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args',
                '--params-file', str(REPO / 'config' / 'tracker.yaml'),
                '-p', 'initial_box:=[200.0, 200.0, 40.0, 60.0]', '-p', 'modality:=thermal',
                '-p', f'precision:={args.precision}', '-p', f'backend:={args.backend}']
    if args.checkpoint:
        node_cmd += ['-p', f'checkpoint:={args.checkpoint}']
    if args.threads:
        node_cmd += ['-p', f'torch_threads:={args.threads}']
    if args.variant:
        node_cmd += ['-p', f'variant:={args.variant}']
    if args.engine_cache:
        node_cmd += ['-p', f'engine_cache:={args.engine_cache}']
    for item in args.node_param:
        node_cmd += ['-p', item]
    proc = subprocess.Popen(node_cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    rclpy.init()
    node = rclpy.create_node('latency_probe')
    pub_rgb = node.create_publisher(Image, '/rgb/image_raw', qos_profile_sensor_data)
    pub_x = node.create_publisher(Image, '/x/image_raw', qos_profile_sensor_data)
    sent, lat = {}, []
    diag: dict = {}

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            for kv in status.values:
                diag[kv.key] = kv.value

    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    node.create_subscription(
        Detection2DArray, '/tracker_node/detections',
        lambda m: lat.append(time.monotonic() - sent[stamp_to_ns(m.header.stamp)])
        if stamp_to_ns(m.header.stamp) in sent else None, 10)
    deadline = time.monotonic() + 120
    while (pub_rgb.get_subscription_count() == 0 or node.count_publishers(
            '/tracker_node/detections') == 0) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    # Warm-up: give the node a few frames before the measured window.
    n_total = int(args.seconds * args.rate)
    period = 1.0 / args.rate
    gen = frames(n_total + 30)
    for _ in range(30):
        rgb, thermal = next(gen)
        stamp = time.time_ns()
        pub_x.publish(array_to_image(thermal, 'mono16', stamp, 'thermal'))
        pub_rgb.publish(array_to_image(rgb, 'rgb8', stamp, 'rgb'))
        rclpy.spin_once(node, timeout_sec=period)
    lat.clear()
    start = time.monotonic()
    for i in range(n_total):
        rgb, thermal = next(gen)
        stamp = time.time_ns()
        sent[stamp] = time.monotonic()
        pub_x.publish(array_to_image(thermal, 'mono16', stamp, 'thermal'))
        pub_rgb.publish(array_to_image(rgb, 'rgb8', stamp, 'rgb'))
        next_t = start + (i + 1) * period
        while time.monotonic() < next_t:
            rclpy.spin_once(node, timeout_sec=max(0.0, next_t - time.monotonic()))
    end_wait = time.monotonic() + 2.0
    while time.monotonic() < end_wait:
        rclpy.spin_once(node, timeout_sec=0.05)
    elapsed = time.monotonic() - start
    rss = 0.0
    try:
        for line in Path(f'/proc/{proc.pid}/status').read_text().splitlines():
            if line.startswith('VmHWM:'):
                rss = float(line.split()[1]) / 1024
    except OSError:
        pass
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    node.destroy_node()
    rclpy.shutdown()
    lat_ms = sorted(1000 * v for v in lat) or [float('nan')]
    p95 = lat_ms[min(len(lat_ms) - 1, int(0.95 * len(lat_ms)))]
    print(f'RESULT published={n_total} answered={len(lat)} rate_hz={len(lat) / elapsed:.2f} '
          f'lat_med_ms={statistics.median(lat_ms):.2f} lat_p95_ms={p95:.2f} '
          f'node_rss_mb={rss:.1f} '
          f'node_lat_mean_ms={diag.get("latency_ms_mean_total", "nan")} '
          f'pairs={diag.get("pairs_total", "nan")} '
          f'rgb_alone={diag.get("rgb_alone_total", "nan")}')
    return 0


if __name__ == '__main__':
    os.environ.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    sys.exit(main())
