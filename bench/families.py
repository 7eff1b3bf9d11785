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

"""Model-family comparison (``make bench BENCH_ARGS="--only families"``): accuracy of each
family's trained checkpoint on the shared real sequences and model-only CPU speed, next to
NanoTrack v2 timed in the same run.

For every checkpoint found (``checkpoints/<family>_s14.pt`` from ``make train-families``, the
base RGB tracker ``s14_224_d8_rgbx.pt``, the distilled ``t224_mmmp_student.pt``, the CPU
students ``t224_student.pt`` / ``t224_student3.pt`` distilled from the base tracker (the
real-time issue), and ``t224_mmmp_student.pt``'s initialisation ``t224_demo.pt``):

- SR on ``otb_crossing`` (RGB) and ``tno_nato_camp`` (RGB-T, on RGB + X and on RGB alone) with
  ``rgbx-eval``'s runner and LasHeR scoring, re-detection off for every model (a comparison of the
  networks), boxes cached in ``bench_out/families/``;
- model-only time per frame (batch 1, fp32, template tokens cached as the tracker runs it, the
  per-frame network call only), and its ratio to the update time of OpenCV's NanoTrack v2 on a
  640x480 frame measured in the same process.

Prints the OpenCV peers (nano-rgb, nano-x, csrt-x) scored in the same run and one markdown table
with the machine's CPU model and flags. No training happens here.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.models import family_of, variant_info  # noqa: E402
from rgbx_tracker_ros.models.checkpoint import load_checkpoint, read_checkpoint  # noqa: E402
from rgbx_tracker_ros.models.registry import trainable_names  # noqa: E402

SEQUENCES = ('otb_crossing', 'tno_nato_camp')
ROWS = ('s14_224_d8_rgbx', 't224_demo', 'xtrack_s14', 'seatrack_s14', 'patrack_s14',
        'vipt_s14', 'mmmp_s14', 't224_mmmp_student', 't224_student', 't224_student3')


def cpu_name() -> str:
    """CPU model and the flags that decide fp32 / bf16 speed."""
    model, flags = platform.processor() or 'cpu', set()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
            elif line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
    except OSError:
        pass
    shown = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags]
    return f'{model}, {os.cpu_count()} cores, flags: {" ".join(shown) or "none of avx2/avx512"}'


def time_model(model, iters: int, warmup: int = 2) -> float:
    """Median ms of ``model``'s per-frame call (template tokens cached, as the tracker runs
    it), batch 1, RGB + X, after ``warmup`` calls; ``model`` is any TrackerModel (torch or an
    exported engine)."""
    ts, ss = model.template_size, model.search_size
    z, s = torch.rand(1, 3, ts, ts), torch.rand(1, 3, ss, ss)
    times = []
    with torch.inference_mode():
        tokens = model.encode_template(z, z)
        for i in range(iters + warmup):
            t0 = time.perf_counter()
            model(None, s, None, s, template_tokens=tokens)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def time_network(ckpt: Path, iters: int) -> float:
    """Median ms of the per-frame call of checkpoint ``ckpt`` (:func:`time_model`), fp32."""
    model, _ = load_checkpoint(ckpt)
    return time_model(model.eval(), iters)


def time_nano(iters: int) -> float:
    """Median ms of NanoTrack v2's update on a 640x480 frame (OpenCV TrackerNano)."""
    from rgbx_tracker_ros.eval.peers import OpenCVPeer
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    peer = OpenCVPeer('nano', 'rgb')
    peer.initialize(frame, None, (300, 220, 40, 40))
    times = []
    for i in range(iters + 2):
        t0 = time.perf_counter()
        peer.track(frame, None)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def evaluate(name: str, ckpt: Path, out: Path) -> dict:
    """SR / PR (percent) of checkpoint ``name`` on each shared sequence, RGB + X and RGB only,
    with re-detection off (the plain OSTrack tracker: a comparison of the networks, not of the
    global search), through ``eval.runner.run_sequence`` and ``eval.report.score_sequence``
    (LasHeR rules, as ``rgbx-eval``). Boxes are cached per (checkpoint sha256, sequence, input)
    in ``out``; returns {(input, sequence): (PR, SR)}."""
    from rgbx_tracker_ros.data.sequences import load_sequence
    from rgbx_tracker_ros.eval.report import score_sequence
    from rgbx_tracker_ros.eval.runner import run_sequence
    from rgbx_tracker_ros.models.factory import load_tracker
    from rgbx_tracker_ros.models.pretrained import sha256_file
    data = REPO.parent / 'shared' / 'data' / 'real'
    digest = sha256_file(ckpt)[:16]
    tracker, results = None, {}
    for seq_name in SEQUENCES:
        seq = load_sequence(data / seq_name)
        for use_x in ((True, False) if seq.has_x else (False,)):
            tag = 'rgbx' if use_x else 'rgb'
            cache = out / f'{name}.{digest}.{seq_name}.{tag}.npy'
            if cache.is_file():
                boxes = np.load(cache)
            else:
                if tracker is None:
                    tracker = load_tracker(ckpt, device='cpu', redetect_threshold=0.0)
                boxes = run_sequence(tracker, seq, use_x=use_x).boxes_xywh
                out.mkdir(parents=True, exist_ok=True)
                np.save(cache, boxes)
            score = score_sequence(seq, boxes)
            results[(tag, seq_name)] = (100 * score.pr, 100 * score.sr)
    return results


PEERS = ('nano-rgb', 'nano-x', 'csrt-x')


def peer_scores() -> dict:
    """SR (percent) of the OpenCV peers on the shared sequences, in this run, with the same
    runner and scoring as the models: {(peer, sequence): SR}; ``-x`` peers only where the
    sequence has X."""
    from rgbx_tracker_ros.data.sequences import load_sequence
    from rgbx_tracker_ros.eval.peers import OpenCVPeer
    from rgbx_tracker_ros.eval.report import score_sequence
    from rgbx_tracker_ros.eval.runner import run_sequence
    data = REPO.parent / 'shared' / 'data' / 'real'
    results = {}
    for seq_name in SEQUENCES:
        seq = load_sequence(data / seq_name)
        for label in PEERS:
            name, source = label.split('-')
            if source == 'x' and not seq.has_x:
                continue
            run = run_sequence(OpenCVPeer(name, source), seq, use_x=source == 'x')
            results[(label, seq_name)] = 100 * score_sequence(seq, run.boxes_xywh).sr
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoints', type=Path, default=REPO / 'checkpoints')
    parser.add_argument('--out', type=Path, default=REPO / 'bench_out' / 'families')
    parser.add_argument('--iters', type=int, default=10, help='timed calls per model')
    parser.add_argument('--skip-eval', action='store_true')
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    found = [(name, args.checkpoints / f'{name}.pt') for name in ROWS
             if (args.checkpoints / f'{name}.pt').is_file()]
    if not found:
        print(f'no family checkpoints in {args.checkpoints}: run `make train-families`')
        return 1
    print(f'machine: {cpu_name()}; torch {torch.__version__}, fp32, batch 1', flush=True)
    nano_ms = time_nano(max(args.iters * 5, 30))
    rows = []
    for name, ckpt in found:
        obj = read_checkpoint(ckpt)
        variant = obj['variant']
        model, _ = load_checkpoint(ckpt)
        fam = family_of(variant)
        trained = obj['meta'].get('freeze', {}).get('trainable_params')
        if trained is None:
            trained = sum(dict(model.named_parameters())[n].numel()
                          for n in trainable_names(model, fam))
        ms = time_network(ckpt, args.iters)
        rows.append({'name': name, 'variant': variant, 'family': fam.name,
                     'base': variant_info(variant).base, 'trainable': trained,
                     'steps': obj['meta'].get('step', ''), 'val_iou': obj['meta'].get('val_iou'),
                     'ms': ms,
                     'scores': {} if args.skip_eval else evaluate(name, ckpt, args.out)})
        print(f'{name}: {rows[-1]["scores"]}', flush=True)
    print(f'\nNanoTrack v2 update (640x480, same run): {nano_ms:.1f} ms\n')
    if not args.skip_eval:
        peers = peer_scores()
        print('| peer (same run) | Crossing SR RGB | TNO SR |')
        print('|---|---|---|')
        for label in PEERS:
            cells = [peers.get((label, s)) for s in SEQUENCES]
            print(f'| {label} | ' + ' | '.join('-' if c is None else f'{c:.1f}' for c in cells)
                  + ' |')
        print()
    print('| model | family | base | trainable (M) | chosen step (val IoU) | Crossing SR RGB | '
          'TNO SR RGB-T | TNO SR RGB only | ms / frame | FPS | speed vs NanoTrack |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')

    def sr(r, tag, seq):
        got = r['scores'].get((tag, seq))
        return '-' if got is None else f'{got[1]:.1f}'
    for r in rows:
        val = '' if r['val_iou'] is None else f' ({r["val_iou"]:.3f})'
        print(f'| {r["name"]} | {r["family"]} | {r["base"]} | {r["trainable"] / 1e6:.2f} | '
              f'{r["steps"]}{val} | {sr(r, "rgb", "otb_crossing")} | '
              f'{sr(r, "rgbx", "tno_nato_camp")} | {sr(r, "rgb", "tno_nato_camp")} | '
              f'{r["ms"]:.0f} | {1000 / r["ms"]:.1f} | {nano_ms / r["ms"]:.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
