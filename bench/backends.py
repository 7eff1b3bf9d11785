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

"""Inference backends (``make bench BENCH_ARGS="--only backends"``): the same checkpoints run in
torch fp32, onnxruntime and OpenVINO on this CPU (TensorRT and onnxruntime's CUDA providers when
a GPU and their packages are present), next to NanoTrack v2 timed in the same run.

Per (checkpoint, backend):

- model-only ms per frame: the per-frame network call with the template tokens cached, as the
  tracker runs it (batch 1, RGB + X), median after warm-up, and its ratio to NanoTrack v2's
  update on a 640x480 frame measured in this process;
- SR (LasHeR rules, ``rgbx-eval``'s runner and scoring) on ``otb_crossing`` (RGB) and
  ``tno_nato_camp`` (RGB + X, re-initialised at the footage's two cuts as the demo does), with
  the checkpoint's own tracking settings (re-detection included), and the SR difference to the
  torch fp32 run of the same checkpoint (the bound: 1 point);
- the export check (``rgbx_tracker_ros.export.check``) on TNO: the largest score-map and box
  differences on identical crops;
- with ``--budget``: the token-budget options (candidate elimination, a smaller search crop,
  fewer blocks; ``rgbx-eval --model-option``) on the default checkpoint, each timed in torch
  and onnxruntime and scored (onnxruntime boxes, which the check above ties to torch's);
- with ``--node``: the tracker node on a 30 Hz 640x512 RGB + thermal stream (bench/node_latency.py)
  per backend: answered fraction, median and p95 latency.

Engines are exported once into ``bench_out/engines`` (the cache ``load_tracker`` uses).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.families import cpu_name, time_model, time_nano  # noqa: E402
from rgbx_tracker_ros.data.sequences import load_sequence  # noqa: E402
from rgbx_tracker_ros.eval.report import score_sequence  # noqa: E402
from rgbx_tracker_ros.eval.runner import run_sequence  # noqa: E402
from rgbx_tracker_ros.export.check import compare_on_sequence  # noqa: E402
from rgbx_tracker_ros.models.factory import load_tracker  # noqa: E402

DATA = REPO.parent / 'shared' / 'data' / 'real'
CACHE = REPO / 'bench_out' / 'engines'
CHECKPOINTS = ('t224_demo', 's14_224_d8_rgbx', 't224_mmmp_student', 't224_student',
               't224_student3')
#: TNO's footage skips at these 0-based frames (SOURCES.md): re-initialised there, as the demo.
TNO_REINIT = (9, 19)
#: token-budget rows: label -> model options (none of them is a default anywhere)
BUDGET = {
    'full (default)': {},
    'CE blocks 3,6 keep 0.7': {'ce_loc': (3, 6), 'ce_keep_ratio': 0.7},
    'CE blocks 2,4,6 keep 0.7': {'ce_loc': (2, 4, 6), 'ce_keep_ratio': 0.7},
    'search crop 196': {'search_size': 196},
    'search crop 168': {'search_size': 168},
    '6 of 8 blocks': {'depth': 6},
}


def backends_here() -> list[str]:
    """The backends whose packages are installed (and, for tensorrt, a GPU is visible)."""
    out = ['torch']
    for name in ('onnxruntime', 'openvino'):
        if importlib.util.find_spec(name):
            out.append(name)
    if torch.cuda.is_available() and importlib.util.find_spec('tensorrt'):
        out.append('tensorrt')
    return out


def time_per_frame(tracker, iters: int) -> float:
    """Median ms of the tracker's per-frame network call (template tokens cached), RGB + X."""
    return time_model(tracker.model, iters, warmup=3)


def accuracy(tracker) -> dict:
    """SR (percent) on the shared sequences: {'otb_crossing': SR, 'tno_nato_camp': SR}."""
    out = {}
    for name, reinit in (('otb_crossing', ()), ('tno_nato_camp', TNO_REINIT)):
        seq = load_sequence(DATA / name)
        run = run_sequence(tracker, seq, use_x=True, reinit_frames=reinit)
        out[name] = 100 * score_sequence(seq, run.boxes_xywh).sr
    return out


def node_run(ckpt: Path, backend: str, seconds: float) -> dict:
    """bench/node_latency.py with the node on ``ckpt`` and ``backend`` (fp32)."""
    from rgbx_tracker_ros.models.checkpoint import read_checkpoint
    variant = read_checkpoint(ckpt)['variant']
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(150 + os.getpid() % 50))
    cmd = [sys.executable, str(REPO / 'bench' / 'node_latency.py'), '--seconds', str(seconds),
           '--precision', 'fp32', '--backend', backend, '--checkpoint', str(ckpt),
           '--variant', variant, '--engine-cache', str(CACHE)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 240)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith('RESULT ')]
    if done.returncode != 0 or not lines:
        return {'error': (done.stderr or done.stdout)[-500:]}
    return dict(kv.split('=', 1) for kv in lines[-1][len('RESULT '):].split())


def budget_table(ckpt: Path, nano_ms: float, args) -> None:
    """The token-budget rows of :data:`BUDGET` on ``ckpt``: torch and onnxruntime ms per frame
    and SR on both sequences."""
    print(f'\ntoken budget on {ckpt.stem} (model options; SR from the onnxruntime run):')
    print('| option | torch ms | onnxruntime ms | onnxruntime FPS | x NanoTrack v2 time | '
          'SR otb_crossing (RGB) | SR tno_nato_camp (RGB-T) |')
    print('|---|---|---|---|---|---|---|')
    for label, options in BUDGET.items():
        ms = {}
        for backend in ('torch', 'onnxruntime'):
            tracker = load_tracker(ckpt, device='cpu', precision='fp32', backend=backend,
                                   threads=args.threads, engine_cache=CACHE,
                                   model_overrides=options)
            ms[backend] = time_per_frame(tracker, args.iters)
        sr = accuracy(tracker)
        print(f'| {label} | {ms["torch"]:.1f} | {ms["onnxruntime"]:.1f} | '
              f'{1000 / ms["onnxruntime"]:.1f} | {ms["onnxruntime"] / nano_ms:.1f} | '
              f'{sr["otb_crossing"]:.1f} | {sr["tno_nato_camp"]:.1f} |', flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoints', nargs='*', default=list(CHECKPOINTS))
    parser.add_argument('--backends', nargs='*', default=None, help='default: all installed')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--node', action='store_true', help='also time the node per backend')
    parser.add_argument('--budget', action='store_true', help='also the token-budget options')
    parser.add_argument('--budget-checkpoint', default='s14_224_d8_rgbx')
    parser.add_argument('--node-seconds', type=float, default=15.0)
    parser.add_argument('--node-checkpoint', default='t224_student3')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    backends = args.backends or backends_here()
    nano_ms = time_nano(100)
    print(f'machine: {cpu_name()}; torch {torch.__version__}; {args.threads} threads; '
          f'NanoTrack v2 update {nano_ms:.1f} ms ({1000 / nano_ms:.0f} FPS) in this run',
          flush=True)
    rows = []
    tno = load_sequence(DATA / 'tno_nato_camp')
    for name in args.checkpoints:
        ckpt = REPO / 'checkpoints' / f'{name}.pt'
        if not ckpt.is_file():
            print(f'  {name}: no checkpoint, skipped')
            continue
        reference = None
        for backend in backends:
            tracker = load_tracker(ckpt, device='cpu', precision='fp32', backend=backend,
                                   threads=args.threads, engine_cache=CACHE)
            ms = time_per_frame(tracker, args.iters)
            sr = accuracy(tracker)
            row = {'checkpoint': name, 'backend': tracker.backend, 'ms': ms, 'sr': sr}
            if backend == 'torch':
                reference = tracker.model, sr
            elif reference is not None:
                check = compare_on_sequence(reference[0], tracker.model, tno, max_frames=30)
                row['check'] = check
                row['dsr'] = max(abs(sr[k] - reference[1][k]) for k in sr)
            rows.append(row)
            print(f'  {name} {tracker.backend}: {ms:.1f} ms, SR {sr}', flush=True)
    print('\n| checkpoint | backend | ms / frame | FPS | x NanoTrack v2 time | SR otb_crossing '
          '(RGB) | SR tno_nato_camp (RGB-T) | max SR diff to torch | score-map diff | box '
          'diff (px) |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        check = r.get('check')
        dsr = f'{r["dsr"]:.2f}' if 'dsr' in r else '-'
        diffs = ('-', '-') if check is None else (f'{check.max_score_diff:.1e}',
                                                  f'{check.max_box_px:.3f}')
        print(f'| {r["checkpoint"]} | {r["backend"]} | {r["ms"]:.1f} | {1000 / r["ms"]:.1f} | '
              f'{r["ms"] / nano_ms:.1f} | {r["sr"]["otb_crossing"]:.1f} | '
              f'{r["sr"]["tno_nato_camp"]:.1f} | {dsr} | {diffs[0]} | {diffs[1]} |')
    if args.budget:
        budget_table(REPO / 'checkpoints' / f'{args.budget_checkpoint}.pt', nano_ms, args)
    if args.node:
        ckpt = REPO / 'checkpoints' / f'{args.node_checkpoint}.pt'
        print(f'\nnode: {args.node_checkpoint}, fp32, 640x512 rgb8 + mono16 at 30 Hz for '
              f'{args.node_seconds:.0f} s')
        print('| backend | published | answered | answered % | latency median (ms) | '
              'latency p95 (ms) |')
        print('|---|---|---|---|---|---|')
        for backend in backends:
            res = node_run(ckpt, backend, args.node_seconds)
            if 'error' in res:
                print(f'| {backend} | failed: {res["error"]!r} | | | | |')
                continue
            share = 100 * int(res['answered']) / max(1, int(res['published']))
            print(f'| {backend} | {res["published"]} | {res["answered"]} | {share:.0f} | '
                  f'{float(res["lat_med_ms"]):.1f} | {float(res["lat_p95_ms"]):.1f} |',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
