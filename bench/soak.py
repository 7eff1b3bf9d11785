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

"""Soak benchmark (``make soak``): a tracker_node process fed 640x512 RGB + mono16 thermal at
30 Hz for 10 minutes (``--seconds``) with faults mixed in, every minute:

- a dead (flat) thermal camera for 3 s;
- one pair stamped 1000 s in the future;
- header stamps jumping back 5 s (a bag loop);
- both cameras pausing for 1 s;
- 10 swapped (out-of-order) pairs;
- 3 bad RGB frames (a depth image on the RGB topic).

Prints a table: node RSS at start (after warm-up) and end and its growth (target: under 5 %),
answer rate, latency p50 / p95 (send -> answer), and the accounting of the RGB frames: sent =
received by the node + lost in transport; received = answered + dropped by reason (from the
node's diagnostics). Not a test: nothing here asserts; the numbers go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.cli.demo import stop_process  # noqa: E402
from rgbx_tracker_ros.ros.fault_driver import Clock, FaultDriver  # noqa: E402

H, W = 512, 640
NODE = '/tracker_node'


def _rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return float(line.split()[1]) / 1024
    return float('nan')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=600.0, help='soak length (s)')
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate (Hz)')
    parser.add_argument('--warmup', type=float, default=20.0,
                        help='seconds before measuring (at least until 20 frames are answered, '
                             'at most 120 s)')
    parser.add_argument('--node-arg', action='append', default=[],
                        help="extra '-p name:=value' for the node, e.g. variant:=t224")
    args = parser.parse_args()
    domain = random.SystemRandom().randint(1, 100)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED='1')
    env.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args',
           '--params-file', str(REPO / 'config' / 'tracker.yaml'),
           '-p', 'initial_box:=[200.0, 40.0, 30.0, 40.0]', '-p', 'modality:=thermal',
           '-p', 'qos_reliability:=reliable', '-p', 'qos_depth:=10',
           '-p', f'expected_rate_rgb:={args.rate}', '-p', f'expected_rate_x:={args.rate}']
    for extra in args.node_arg:
        cmd += ['-p', extra]
    log_path = REPO / 'build' / 'soak_node.log'
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    d = FaultDriver(domain, NODE, H, W)
    clock = Clock()
    period = 1.0 / args.rate
    sent_at: dict[int, float] = {}
    faults = {'dead X (s)': 0.0, 'future stamps': 0, 'jumps back': 0, 'pauses': 0,
              'swapped pairs': 0, 'bad frames': 0}
    try:
        deadline = time.monotonic() + 120
        while d.pub_rgb.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        t0 = time.monotonic()
        rss0 = None
        k = 0
        while True:
            t = time.monotonic() - t0
            if t >= args.warmup + args.seconds:
                break
            with d.lock:
                warm = len(d.answers) >= 20 or t >= 120.0
            if rss0 is None and t >= args.warmup and warm:
                args.warmup = t
                time.sleep(1.0)
                rss0 = _rss_mb(proc.pid)
                sent_at.clear()
            phase = (t - args.warmup) % 60.0 if t >= args.warmup else -1.0
            stamp = clock.now()
            if 10.0 <= phase < 13.0:
                d.pair(stamp, flat_x=True)
                faults['dead X (s)'] += period
            elif 20.0 <= phase < 20.0 + period:
                d.pair(stamp + 1000 * 10**9)
                faults['future stamps'] += 1
            elif 30.0 <= phase < 30.0 + period:
                clock.offset -= 5 * 10**9
                faults['jumps back'] += 1
                d.pair(clock.now())
            elif 40.0 <= phase < 40.0 + period:
                time.sleep(1.0)
                faults['pauses'] += 1
                continue
            elif 50.0 <= phase < 50.0 + 10 * period:
                nxt = stamp + int(period * 1e9)
                d.pair(nxt)
                d.pair(stamp)
                sent_at[nxt] = sent_at[stamp] = time.monotonic()
                faults['swapped pairs'] += 1
                time.sleep(2 * period)
                k += 2
                continue
            elif 55.0 <= phase < 55.0 + 3 * period:
                d.send_rgb(stamp, np.ones((H, W), np.float32), '32FC1')
                faults['bad frames'] += 1
            else:
                d.pair(stamp)
            sent_at[stamp] = time.monotonic()
            k += 1
            next_t = t0 + k * period
            time.sleep(max(0.0, next_t - time.monotonic()))
        t_stop = time.monotonic()
        quiet_since, last_n = time.monotonic(), -1
        while time.monotonic() - quiet_since < 3.0 and time.monotonic() - t_stop < 60.0:
            time.sleep(0.25)                 # until the node has answered what it will answer
            with d.lock:
                n = len(d.answers)
            if n != last_n:
                quiet_since, last_n = time.monotonic(), n
        rss1 = _rss_mb(proc.pid)
        final = d.last_diag(after=0.5)
        alive = proc.poll() is None
    finally:
        d.close()
        stop_process(proc, timeout_s=20.0)
        log.close()

    with d.lock:
        answers = dict(d.answers)
    lat = sorted(1e3 * (min(d.answer_times[s]) - sent_at[s]) for s in sent_at
                 if s in d.answer_times)
    # accounting over the whole run (warm-up included), so that no frame is in flight at a
    # boundary; rate and latency over the measured window
    sent = d.sent_rgb
    answered = len(answers)
    answered_window = sum(1 for s in sent_at if s in answers)
    rgb1, sync1 = final['input rgb'][2], final['sync'][2]
    received = int(rgb1['frames_in_total'])
    dropped = int(rgb1['dropped_total'])
    reasons = {key[14:]: int(val) for key, val in sync1.items()
               if key.startswith('dropped_total.') and key[14:].startswith(('rgb', 'stale'))}
    bad = int(rgb1['bad_frames_total'])
    rows = [
        ('node alive at the end', 'yes' if alive else 'NO'),
        ('CPU', _cpu_name()),
        ('node RSS start / end (MB)', f'{rss0:.1f} / {rss1:.1f}'),
        ('RSS growth', f'{100 * (rss1 - rss0) / rss0:+.2f} % (target < 5 %)'),
        ('RGB frames sent (whole run)', str(sent)),
        ('received by the node', f'{received} (lost in transport: {sent - received})'),
        ('answered', str(answered)),
        ('answer rate in the measured window',
         f'{answered_window / args.seconds:.2f} Hz of {args.rate:g} Hz'),
        ('dropped by the node (all reasons)', str(dropped)),
        ('  of which bad frames', str(bad)),
        *[(f'  of which {r}', str(n)) for r, n in sorted(reasons.items()) if n],
        ('accounting received - answered - dropped', str(received - answered - dropped)),
        ('latency p50 / p95 (ms)', f'{_pct(lat, 50):.1f} / {_pct(lat, 95):.1f}'),
        ('faults injected', ', '.join(f'{k} {v:g}' for k, v in faults.items())),
        ('time jumps seen by the node', str(int(sync1['time_jumps_total']))),
        ('final levels (input rgb, input x, sync, tracker)',
         ', '.join(str(final[n][0]) for n in ('input rgb', 'input x', 'sync', 'tracker'))),
    ]
    width = max(len(r[0]) for r in rows)
    print(f'\nsoak: {args.seconds:.0f} s of {W}x{H} rgb8 + mono16 at {args.rate:g} Hz '
          f'(node log: {log_path})')
    for name, value in rows:
        print(f'| {name.ljust(width)} | {value} |')
    return 0 if alive else 1


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(q / 100 * len(values)))]


def _cpu_name() -> str:
    try:
        info = Path('/proc/cpuinfo').read_text()
    except OSError:
        return 'unknown'
    name = next((ln.split(':', 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith('model name')), 'unknown')
    flags = next((ln for ln in info.splitlines() if ln.startswith('flags')), '')
    extra = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f' {f}' in flags]
    return f'{name}, {os.cpu_count()} cores, {" ".join(extra) or "no avx2"}'


if __name__ == '__main__':
    sys.exit(main())
