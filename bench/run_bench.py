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

"""Benchmarks (``make bench``): model-only FPS per variant, node end-to-end latency, peak memory,
accuracy on the real sequences against peer trackers (bench/accuracy.py) and time-per-frame
scaling with resolution and variant size (bench/scaling.py).

Prints markdown tables. Targets on this project's reference CPU (2 cores): t224 >= 30 FPS
model-only, node >= 20 Hz on 640x512 RGB + thermal at 30 Hz. Timings are wall-clock medians after
warm-up; ``--quick`` shortens every measurement. Rows per precision (autocast, as the tracker
runs it): fp32 always, bf16 on CPUs with native bfloat16; on a GPU CUDA fp32, bf16 and fp16.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.core.tracker import cpu_has_native_bf16, precision_name  # noqa: E402
from rgbx_tracker_ros.models import create_model, list_variants  # noqa: E402

CPU_ITERS = {'t224': 60, 's14_224_d8': 15, 's14_224': 10, 's224': 30, 'b224': 10, 'b384': 4,
             'l224': 4, 'l384': 2}


def time_model(name: str, device: torch.device, iters: int,
               dtype: torch.dtype | None = None) -> dict:
    """Median forward time (ms) of variant ``name`` with RGB + X at batch 1; ``dtype``: the
    autocast dtype (None = float32), as ``RgbxTracker(precision=...)`` runs the network."""
    model = create_model(name).eval().to(device)
    ts, ss = model.template_size, model.search_size
    z = torch.rand(1, 3, ts, ts, device=device)
    x = torch.rand(1, 3, ss, ss, device=device)
    times = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                                enabled=dtype is not None):
        for i in range(iters + 2):
            if device.type == 'cuda':
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(z, x, z, x)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            if i >= 2:
                times.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    ms = statistics.median(times) * 1000
    row = {'variant': name, 'device': f'{device.type} {precision_name(dtype)}',
           'params_M': params, 'ms': ms, 'fps': 1000 / ms}
    if device.type == 'cuda':
        row['gpu_mem_MB'] = torch.cuda.max_memory_allocated() / 2 ** 20
    del model
    return row


def model_table(quick: bool, variants) -> list:
    rows = []
    for name in variants:
        iters = max(2, CPU_ITERS.get(name, 10) // (4 if quick else 1))
        for dtype in [None] + ([torch.bfloat16] if cpu_has_native_bf16() else []):
            rows.append(time_model(name, torch.device('cpu'), iters, dtype))
            print(f'  {name} {rows[-1]["device"]}: {rows[-1]["fps"]:.1f} FPS', flush=True)
        if torch.cuda.is_available():
            for dtype in (None, torch.bfloat16, torch.float16):
                torch.cuda.reset_peak_memory_stats()
                rows.append(time_model(name, torch.device('cuda'), 50, dtype))
    return rows


def node_latency(seconds: float, precision: str = 'auto') -> dict:
    """Run the tracker node as a process (``precision`` parameter as given) and feed it 640x512
    RGB + thermal at 30 Hz."""
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(150 + os.getpid() % 50))
    cmd = [sys.executable, str(REPO / 'bench' / 'node_latency.py'), '--seconds', str(seconds),
           '--precision', precision]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 180)
    if out.returncode != 0:
        return {'error': (out.stderr or out.stdout)[-2000:]}
    line = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')][-1]
    return dict(kv.split('=', 1) for kv in line[len('RESULT '):].split())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true', help='fewer iterations')
    parser.add_argument('--variants', nargs='*',
                        default=[v for v in list_variants(family='onetracker')
                                 if not v.startswith('test_')])
    parser.add_argument('--node-seconds', type=float, default=20.0)
    parser.add_argument('--skip-node', action='store_true')
    parser.add_argument('--skip-accuracy', action='store_true',
                        help='skip bench/accuracy.py (real sequences, ours vs OpenCV peers)')
    parser.add_argument('--skip-scaling', action='store_true',
                        help='skip bench/scaling.py (time vs resolution and variant size)')
    parser.add_argument('--only', choices=['accuracy', 'scaling', 'families', 'backends'],
                        default=None,
                        help='run only that part (families: bench/families.py, the trained '
                             'model families on the shared sequences; backends: '
                             'bench/backends.py, torch vs onnxruntime vs OpenVINO)')
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    if args.only in ('families', 'backends'):
        extra = (['--budget'] + ([] if args.skip_node else ['--node'])
                 if args.only == 'backends' else [])
        return subprocess.run([sys.executable, str(REPO / 'bench' / f'{args.only}.py'), *extra],
                              cwd=REPO).returncode
    if args.only:
        return extra_parts(args, accuracy=args.only == 'accuracy', scaling=args.only == 'scaling')
    print(f'machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, CUDA '
          f'{"yes: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no"}')
    order = ['t224', 's14_224_d8', 's14_224', 's224', 'b224', 'b384', 'l224', 'l384']
    variants = sorted(args.variants, key=lambda v: order.index(v) if v in order else 99)
    print('model-only forward (batch 1, RGB + X):', flush=True)
    rows = model_table(args.quick, variants)
    print('\n| variant | device | params (M) | ms / frame | FPS | GPU mem (MB) |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["variant"]} | {r["device"]} | {r["params_M"]:.1f} | {r["ms"]:.1f} | '
              f'{r["fps"]:.1f} | {r.get("gpu_mem_MB", float("nan")):.0f} |')
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'\npeak RSS of the model benchmark process: {peak_rss:.0f} MB')
    if not args.skip_node:
        print('\nnode end-to-end (tracker_node process, t224 demo checkpoint, 640x512 rgb8 + '
              'mono16 thermal published at 30 Hz):', flush=True)
        results = {p: node_latency(args.node_seconds, p) for p in ('fp32', 'auto')}
        failed = [f'precision {p}:\n{r["error"]}' for p, r in results.items() if 'error' in r]
        if failed:
            print('node benchmark failed:\n' + '\n'.join(failed))
            extra_parts(args, not args.skip_accuracy, not args.skip_scaling)
            return 1
        print('\n| precision parameter | published | answered | output rate (Hz) | '
              'latency median (ms) | latency p95 (ms) | node peak RSS (MB) |')
        print('|---|---|---|---|---|---|---|')
        for p, res in results.items():
            label = p if p != 'auto' else f'auto ({"bf16" if cpu_has_native_bf16() else "fp32"})'
            print(f'| {label} | {res["published"]} | {res["answered"]} | '
                  f'{float(res["rate_hz"]):.1f} | {float(res["lat_med_ms"]):.1f} | '
                  f'{float(res["lat_p95_ms"]):.1f} | {float(res["node_rss_mb"]):.0f} |')
    return extra_parts(args, not args.skip_accuracy, not args.skip_scaling)


def extra_parts(args, accuracy: bool, scaling: bool) -> int:
    """Run bench/accuracy.py and bench/scaling.py as child processes (their tables go to stdout).

    Returns 0 when every part that ran succeeded, else 1.
    """
    rc = 0
    parts = []
    if accuracy:
        parts.append(('accuracy on the real sequences (ours vs OpenCV peers)',
                      [str(REPO / 'bench' / 'accuracy.py')]))
    if scaling:
        parts.append(('scaling: time per frame vs resolution and variant size',
                      [str(REPO / 'bench' / 'scaling.py')] + (['--quick'] if args.quick else [])))
    for title, cmd in parts:
        print(f'\n{title}:', flush=True)
        done = subprocess.run([sys.executable] + cmd, cwd=REPO)
        if done.returncode != 0:
            print(f'{title}: failed (exit {done.returncode})')
            rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main())
