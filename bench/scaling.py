#!/usr/bin/env python3
"""Scaling benchmark: model time per frame vs input resolution and vs variant size (CPU).

Two tables (markdown), both model-only forward passes at batch 1 with freshly initialised
weights (weights do not change the cost), median wall time after warm-up:

1. resolution: variant t224 with the search crop overridden to 128 / 224 / 320 px (template =
   search / 2, the OSTrack 2x / 4x crop ratio), RGB + X and RGB only (``x=None``, the
   missing-modality path);
2. variant size: t224, s224, b224 at the default 224 px search / 112 px template, RGB + X.

The ViT sees (template / 16)^2 + (search / 16)^2 tokens whether X is given or not (the Meta
Merger fuses RGB and X into one token set before it, so X only adds the patch embedding and the
merger); attention cost grows with the square of the token count, the MLPs linearly, so the time
per frame grows between linearly and quadratically with the search area.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer iterations')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: number of CPU cores)')
    parser.add_argument('--search-sizes', type=int, nargs='*', default=list(SEARCH_SIZES))
    parser.add_argument('--variants', nargs='*', default=list(VARIANTS))
    args = parser.parse_args(argv)
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
    return 0


if __name__ == '__main__':
    sys.exit(main())
