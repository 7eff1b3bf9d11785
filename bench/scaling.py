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

"""Scaling benchmark: model time per frame vs input resolution and vs variant size (CPU).

Two tables (markdown), both model-only forward passes at batch 1 with freshly initialised
weights (weights do not change the cost), median wall time after warm-up:

1. resolution: variant t224 with the search crop overridden to 128 / 224 / 320 px (template =
   search / 2, the OSTrack 2x / 4x crop ratio), RGB + X and RGB only (``x=None``, the
   missing-modality path);
2. variant size: t224, s224, b224 at the default 224 px search / 112 px template, RGB + X;
3. training throughput (samples / s) of ``rgbx-train`` on synthetic pairs, one process (all
   cores) vs ``torchrun --nproc_per_node=2`` (DDP over gloo, the cores split between the ranks),
   the same global batch; on a CUDA machine also one GPU;
4. evaluation wall time of ``rgbx-eval`` over the shared real sequences with ``--jobs 1`` and
   ``--jobs 2`` (worker processes, the cores split between them), results checked identical.

The ViT sees (template / 16)^2 + (search / 16)^2 tokens whether X is given or not (the Meta
Merger fuses RGB and X into one token set before it, so X only adds the patch embedding and the
merger); attention cost grows with the square of the token count, the MLPs linearly, so the time
per frame grows between linearly and quadratically with the search area.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.models import create_model  # noqa: E402

SEARCH_SIZES = (128, 224, 320)
VARIANTS = ('t224', 's224', 'b224')


def time_forward(variant: str, iters: int, search: int | None = None,
                 with_x: bool = True) -> dict:
    """Median forward time (ms) of ``variant`` (optionally with another search size) on CPU."""
    overrides = {} if search is None else {'search_size': search, 'template_size': search // 2}
    model = create_model(variant, **overrides).eval()
    ts, ss = model.template_size, model.search_size
    z = torch.rand(1, 3, ts, ts)
    x = torch.rand(1, 3, ss, ss)
    times = []
    with torch.inference_mode():
        for i in range(iters + 2):
            t0 = time.perf_counter()
            if with_x:
                model(z, x, z, x)
            else:
                model(z, x, None, None)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    tokens = (ts // 16) ** 2 + (ss // 16) ** 2
    return {'variant': variant, 'template': ts, 'search': ss, 'tokens': tokens,
            'params_M': sum(p.numel() for p in model.parameters()) / 1e6, 'ms': ms,
            'fps': 1000 / ms, 'x': with_x}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def train_throughput(procs: int, variant: str, global_batch: int, steps: int,
                     device: str = 'cpu') -> dict:
    """Samples / s of ``rgbx-train`` (synthetic pairs made in the training processes) with
    ``procs`` processes (torchrun DDP when > 1), measured from the training log between the
    first and the last checkpoint record (start-up, model build and the first steps excluded).

    Raises:
        RuntimeError: the training command failed (its output tail is in the message).
    """
    cores = os.cpu_count() or 1
    threads = max(1, cores // procs)
    with tempfile.TemporaryDirectory(prefix='rgbx_scaling_') as tmp:
        out = Path(tmp) / 'run.pt'
        args = ['--variant', variant, '--out', str(out), '--iterations', str(steps),
                '--batch-size', str(global_batch // procs), '--warmup', '1',
                '--checkpoint-every', str(max(1, steps // 4)), '--threads', str(threads),
                '--synthetic-ratio', '1.0']
        if procs > 1:
            cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={procs}',
                   f'--master_port={_free_port()}', '-m', 'rgbx_tracker_ros.cli.train', *args]
        else:
            cmd = [sys.executable, '-m', 'rgbx_tracker_ros.cli.train', *args]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
        if device == 'cpu':
            env['CUDA_VISIBLE_DEVICES'] = ''
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-2000:]}')
        records = [json.loads(line) for line in
                   out.with_name('run.log.jsonl').read_text().splitlines()]
    first, last = records[0], records[-1]
    rate = (last['step'] - first['step']) * global_batch / (last['elapsed_s'] - first['elapsed_s'])
    return {'procs': procs, 'device': device, 'threads': threads, 'batch': global_batch,
            'samples_s': rate}


def eval_wall_time(jobs: int, sequences: list[str], trackers: list[str],
                   max_frames: int) -> tuple[float, list]:
    """Wall time (s) of ``rgbx-eval --jobs N`` (no cache, no video) and its per-sequence rows
    (without the timing columns) for the identity check.

    Raises:
        RuntimeError: the evaluation failed.
    """
    with tempfile.TemporaryDirectory(prefix='rgbx_scaling_eval_') as tmp:
        cmd = [sys.executable, '-m', 'rgbx_tracker_ros.cli.evaluate', *sequences,
               '--trackers', *trackers, '--out', tmp, '--jobs', str(jobs), '--no-video',
               '--max-frames', str(max_frames), '--recompute']
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-2000:]}')
        with open(Path(tmp) / 'per_sequence.csv', newline='') as fh:
            rows = [{k: v for k, v in r.items() if 'fps' not in k.lower()
                     and 'ms' not in k.lower()} for r in csv.DictReader(fh)]
    return wall, rows


def cpu_flags() -> str:
    """The CPU model and the vector extensions that decide CPU speed (AVX2, AVX-512, BF16,
    VNNI, AMX), from /proc/cpuinfo."""
    try:
        info = Path('/proc/cpuinfo').read_text()
    except OSError:
        return 'unknown CPU'
    model = next((line.split(':', 1)[1].strip() for line in info.splitlines()
                  if line.startswith('model name')), 'unknown CPU')
    flags = next((line.split(':', 1)[1].split() for line in info.splitlines()
                  if line.startswith('flags')), [])
    keep = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_bf16') if f in flags]
    return f'{model} ({", ".join(keep) or "no AVX2"})'


def parallel_tables(quick: bool) -> None:
    """Tables 3 and 4 of the module docstring."""
    print(f'\nCPU: {cpu_flags()}, {os.cpu_count()} cores', flush=True)
    steps = 12 if quick else 40
    trows = [train_throughput(1, 't224', 8, steps), train_throughput(2, 't224', 8, steps)]
    if torch.cuda.is_available():
        try:
            trows.append(train_throughput(1, 't224', 8, steps, device='cuda'))
        except RuntimeError as exc:
            print(f'  (GPU run failed: {exc})')
    print('\nTraining throughput (rgbx-train, t224, synthetic pairs, global batch 8):\n')
    print('| processes | device | torch threads each | samples / s | vs 1 process |')
    print('|---:|---|---:|---:|---:|')
    for r in trows:
        print(f'| {r["procs"]} | {r["device"]} | {r["threads"]} | {r["samples_s"]:.1f} | '
              f'{r["samples_s"] / trows[0]["samples_s"]:.2f}x |')
    shared = REPO.parent / 'shared' / 'data' / 'real'
    sequences = [str(shared / 'tno_nato_camp'), str(shared / 'otb_crossing')]
    if not all(Path(s).is_dir() for s in sequences):
        print('\n(evaluation table skipped: ../shared/data/real is not there)')
        return
    trackers = ['t224:checkpoints/t224_demo.pt', 'csrt-rgb']
    frames = 60 if quick else 120
    walls = {}
    for jobs in (1, 2):
        walls[jobs] = eval_wall_time(jobs, sequences, trackers, frames)
    same = walls[1][1] == walls[2][1]
    print(f'\nEvaluation wall time (rgbx-eval, {len(sequences)} shared sequences x '
          f'{len(trackers)} trackers, up to {frames} frames each, no cache, no video):\n')
    print('| --jobs | wall s | speed-up vs --jobs 1 | per-sequence results |')
    print('|---:|---:|---:|---|')
    for jobs, (wall, _) in walls.items():
        print(f'| {jobs} | {wall:.1f} | {walls[1][0] / wall:.2f}x | '
              f'{"reference" if jobs == 1 else ("identical" if same else "DIFFERENT")} |')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer iterations')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: number of CPU cores)')
    parser.add_argument('--search-sizes', type=int, nargs='*', default=list(SEARCH_SIZES))
    parser.add_argument('--variants', nargs='*', default=list(VARIANTS))
    parser.add_argument('--parallel-only', action='store_true',
                        help='only the training-throughput and evaluation wall-time tables')
    parser.add_argument('--skip-parallel', action='store_true',
                        help='skip the training-throughput and evaluation wall-time tables')
    args = parser.parse_args(argv)
    if args.parallel_only:
        parallel_tables(args.quick)
        return 0
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    print(f'scaling on CPU, {threads} torch thread(s), torch {torch.__version__}', flush=True)

    base_iters = 8 if args.quick else 30
    rows = []
    for size in args.search_sizes:
        if size % 32:
            print(f'  skipping search size {size}: must be a multiple of 32 (patch 16, '
                  'template = search / 2)')
            continue
        for with_x in (True, False):
            rows.append(time_forward('t224', base_iters, size, with_x))
    base = next((r['ms'] for r in rows if r['search'] == 224 and r['x']), None)
    print('\nTime per frame vs input resolution (t224, model-only forward, batch 1):\n')
    print('| search px | template px | tokens (template + search) | input | ms / frame | FPS | '
          'vs 224 RGB+X |')
    print('|---:|---:|---:|---|---:|---:|---:|')
    for r in rows:
        rel = f'{r["ms"] / base:.2f}x' if base else 'n/a'
        print(f'| {r["search"]} | {r["template"]} | {r["tokens"]} | '
              f'{"RGB+X" if r["x"] else "RGB"} | {r["ms"]:.1f} | {r["fps"]:.1f} | {rel} |')

    vrows = []
    for variant in args.variants:
        iters = max(3, base_iters // {'t224': 1, 's224': 2, 'b224': 6}.get(variant, 6))
        vrows.append(time_forward(variant, iters))
        print(f'  {variant}: {vrows[-1]["ms"]:.1f} ms', flush=True)
    vbase = vrows[0]['ms'] if vrows else None
    print('\nTime per frame vs variant size (224 px search, RGB+X, model-only forward):\n')
    print('| variant | params (M) | ms / frame | FPS | vs ' + (vrows[0]['variant'] if vrows
                                                               else '-') + ' |')
    print('|---|---:|---:|---:|---:|')
    for r in vrows:
        print(f'| {r["variant"]} | {r["params_M"]:.1f} | {r["ms"]:.1f} | {r["fps"]:.1f} | '
              f'{r["ms"] / vbase:.2f}x |')
    if not args.skip_parallel:
        parallel_tables(args.quick)
    return 0


if __name__ == '__main__':
    sys.exit(main())
