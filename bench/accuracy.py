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

"""Accuracy benchmark: every real sequence with ground truth, ours against the OpenCV peers.

Sequences: every folder of ``../shared/data/real`` that :func:`data.sequences.load_sequence`
reads and whose GT has at least one present target (today: ``tno_nato_camp``, RGB-T, 32 frames;
``otb_crossing``, RGB, 120 frames). Trackers:

- ours: every shipped checkpoint in ``checkpoints/`` (our checkpoint format; training resume
  state ``*.state.pt`` is not a model and is skipped), once with RGB + X and once on RGB alone
  (on RGB-only sequences just the RGB run);
- peers: OpenCV CSRT, KCF, MIL and NanoTrack v2 (``eval.peers``), each on the RGB frames and,
  where the sequence has X, on the X frames.

``tno_nato_camp`` is temporally sparse: its footage skips between 0-based frames 8 -> 9 and
18 -> 19 (``../shared/data/real/SOURCES.md``), so it is run twice and labelled: ``plain`` (one
initialisation on the first frame with the target) and ``re-init 9,19`` (re-initialised from the
GT at frames 9 and 19, i.e. three independently tracked segments). Metrics: LasHeR toolkit rules
(``eval.report`` protocol 'auto': PR@20px, NPR@0.20, SR = success AUC over 21 IoU thresholds;
frame 1 := GT; absent-GT frames count as PR hits and SR misses). FPS: frames per second of the
``track`` calls over one pass (initialisation and frame decoding excluded).

Each group is written as an ``rgbx-eval`` report (tables, plots, video) under
``--out`` (default ``bench_out/accuracy``); runs are recomputed unless ``--use-cache`` (timings
of cached runs are old). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.cli.evaluate import evaluate  # noqa: E402
from rgbx_tracker_ros.data.sequences import (  # noqa: E402
    SequenceError, load_sequence)
from rgbx_tracker_ros.eval.peers import PEER_NAMES, parse_tracker_spec  # noqa: E402

SHARED = REPO.parent / 'shared'
REAL = SHARED / 'data' / 'real'
#: Re-initialisation frames of temporally sparse real sequences (0-based; SOURCES.md).
CUTS = {'tno_nato_camp': [9, 19]}


def shipped_checkpoints(folder: Path) -> list[tuple[Path, str]]:
    """(path, variant) of every model checkpoint in ``folder`` (our format; others skipped)."""
    from rgbx_tracker_ros.models.checkpoint import FORMAT, CheckpointError, read_checkpoint
    found = []
    for path in sorted(folder.glob('*.pt')):
        if path.name.endswith('.state.pt'):
            continue
        try:
            obj = read_checkpoint(path)
        except CheckpointError as err:
            print(f'  skipping {path.name}: {err}', file=sys.stderr)
            continue
        if obj.get('format') == FORMAT and 'variant' in obj:
            found.append((path, str(obj['variant'])))
        else:
            print(f'  skipping {path.name}: not an rgbx_tracker_ros model checkpoint',
                  file=sys.stderr)
    return found


def real_sequences(root: Path = REAL) -> list:
    """Sequences of ``root`` that load and have at least one present GT box."""
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            seq = load_sequence(sub)
            seq.first_valid_frame()
        except SequenceError:
            continue
        out.append(seq)
    return out


def _pct(v: float) -> str:
    return 'n/a' if not math.isfinite(v) else f'{100 * v:.1f}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkpoints', default=str(REPO / 'checkpoints'),
                        help='folder of shipped checkpoints (default: checkpoints/)')
    parser.add_argument('--out', default=str(REPO / 'bench_out' / 'accuracy'))
    parser.add_argument('--peers', nargs='*', default=list(PEER_NAMES))
    parser.add_argument('--use-cache', action='store_true',
                        help='reuse cached runs (their FPS were measured when computed)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch / OpenCV threads (default: number of CPU cores)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-video', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import cv2
    import torch
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)

    seqs = real_sequences()
    ckpts = shipped_checkpoints(Path(args.checkpoints))
    if not seqs:
        print(f'no real sequence with ground truth under {REAL}')
        return 1
    ours = []
    for path, variant in ckpts:
        stem = path.stem
        ours.append((parse_tracker_spec(f'{stem}={variant}:{path}'), f'{variant} ({path.name})',
                     'RGB+X'))
        ours.append((parse_tracker_spec(f'{stem}-rgb={variant}-rgb:{path}'),
                     f'{variant} ({path.name})', 'RGB'))
    print(f'accuracy on {len(seqs)} real sequence(s) with GT: '
          + ', '.join(f'{s.name} ({s.num_frames} frames, {s.modality.value})' for s in seqs)
          + f'; {len(ckpts)} checkpoint(s): ' + ', '.join(p.name for p, _ in ckpts)
          + f'; torch/OpenCV threads {threads}', flush=True)

    table = []      # (sequence, run, tracker, stream, pr, npr, sr, fps)
    for seq in seqs:
        peers = []
        for name in args.peers:
            peers.append((parse_tracker_spec(f'{name}-rgb'), name, 'RGB'))
            if seq.has_x:
                peers.append((parse_tracker_spec(f'{name}-x'), name,
                              'X (' + seq.modality.value + ')'))
        # On a sequence without X our RGB+X tracker would run the RGB-only path: list it once.
        entries = [e for e in ours if seq.has_x or e[2] == 'RGB'] + peers
        specs = [e[0] for e in entries]
        groups = [('plain', None)]
        if seq.name in CUTS:
            groups.append(('re-init ' + ','.join(map(str, CUTS[seq.name])),
                           {seq.name: CUTS[seq.name]}))
        for run_name, reinit in groups:
            t0 = time.perf_counter()
            out_dir = Path(args.out) / f'{seq.name}_{run_name.split()[0]}'
            res = evaluate([seq], specs, out_dir, reinit=reinit, device=args.device,
                           video=not args.no_video, recompute=not args.use_cache,
                           progress=False)
            print(f'  {seq.name} [{run_name}]: {len(specs)} trackers in '
                  f'{time.perf_counter() - t0:.0f} s -> {out_dir}', flush=True)
            for (spec, tracker, stream), row in zip(entries, res.result.rows):
                assert row.run == spec.label
                table.append((seq.name, run_name, tracker, stream, row.pr, row.npr, row.sr,
                              res.fps(spec.label)))

    print('\n| sequence | run | tracker | input | PR@20px | NPR@0.20 | SR | FPS |')
    print('|---|---|---|---|---:|---:|---:|---:|')
    for seq_name, run_name, tracker, stream, pr, npr, sr, fps in table:
        print(f'| {seq_name} | {run_name} | {tracker} | {stream} | {_pct(pr)} | {_pct(npr)} | '
              f'{_pct(sr)} | {fps:.1f} |')
    print('\nPR / NPR / SR in percent (LasHeR toolkit rules, eval.report protocol "auto"); '
          'FPS = tracked frames per second of the track() calls alone. "re-init 9,19": '
          're-initialised from GT at the two footage cuts (0-based frames 9 and 19).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
