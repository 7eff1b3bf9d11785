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

"""``rgbx-export``: export a tracker as two fixed-shape graphs and check them against torch.

Usage::

    rgbx-export --checkpoint C [--variant V] --format onnx|openvino|tensorrt [--out DIR]
                [--precision fp32|fp16|bf16] [--check-sequence PATH] [--check-frames N]
                [--no-check] [--threads N]

Writes ``<out>/<variant>.template.<ext>`` (the template encoder, run once per target) and
``<out>/<variant>.search.<ext>`` (the per-frame network), with the manifest
``<variant>[.<format>].json`` beside them (:mod:`rgbx_tracker_ros.export.graphs`). Then it tracks
a real sequence with the torch model and runs the export on the same crops (``--check-sequence``;
default: ``../shared/data/real/tno_nato_camp`` of the source tree, else a generated thermal
sequence), printing the largest score-map and box differences; the exit status is 1 when they
exceed 1e-2 / 1 px (:mod:`rgbx_tracker_ros.export.check`). Pass the manifest to a node with
``engine_cache`` = the output's parent, or just set ``backend`` on the node: it exports on first
use into its cache.

Exit status: 0 ok; 1 the check failed; 2 bad arguments, unusable checkpoint or a backend that is
not installed (the message names the package).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ..core.types import BackendUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECK = REPO_ROOT.parent / 'shared' / 'data' / 'real' / 'tno_nato_camp'
FORMAT_BACKEND = {'onnx': 'onnxruntime', 'openvino': 'openvino', 'tensorrt': 'tensorrt'}


def _check_sequence(path):
    """The sequence to check on: ``path``, the shared TNO sequence, or a generated one."""
    from ..data.sequences import load_sequence
    if path:
        return load_sequence(path)
    if DEFAULT_CHECK.is_dir():
        return load_sequence(DEFAULT_CHECK)
    import tempfile

    from .demo import write_synthetic_sequence
    folder = Path(tempfile.mkdtemp(prefix='rgbx_export_check_'))
    return load_sequence(write_synthetic_sequence(folder, num_frames=40, seed=3))


def main(argv=None) -> int:
    """Entry point of ``rgbx-export``; returns the exit status."""
    parser = argparse.ArgumentParser(prog='rgbx-export', description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True,
                        help="our checkpoint (.pt), or 'none' for random weights of --variant")
    parser.add_argument('--variant', default=None, help="variant (default: the checkpoint's)")
    parser.add_argument('--format', required=True, choices=list(FORMAT_BACKEND))
    parser.add_argument('--out', default='exports', help='output folder (default exports/)')
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'fp16', 'bf16'),
                        help='openvino: fp16 stores fp16 weights; tensorrt: fp16/bf16 kernels '
                             'allowed; onnx: always fp32')
    parser.add_argument('--device', default='auto', help='device of the check (tensorrt: cuda)')
    parser.add_argument('--check-sequence', default=None,
                        help='sequence folder to check on (default: the shared TNO sequence)')
    parser.add_argument('--check-frames', type=int, default=60)
    parser.add_argument('--no-check', action='store_true', help='export only')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads')
    parser.add_argument('--model-option', action='append', default=[], metavar='KEY=VALUE',
                        help='constructor option baked into the export, repeatable (token '
                             'budget: ce_keep_ratio=0.7, ce_loc=3,6, search_size=168, depth=6)')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    import torch

    from ..export.check import compare_on_sequence
    from ..export.engines import open_engine
    from ..export.graphs import export
    from ..models.checkpoint import load_checkpoint
    from ..models.factory import parse_model_options
    from ..models.pretrained import sha256_file
    from ..models.registry import create_model
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        options = parse_model_options(args.model_option)
        if args.checkpoint.lower() == 'none':
            if not args.variant:
                raise ValueError('--checkpoint none needs --variant')
            model = create_model(args.variant, **options)
            source = f'random:{args.variant}'
        else:
            model, _ = load_checkpoint(args.checkpoint, args.variant, **options)
            source = sha256_file(args.checkpoint)
        variant = getattr(model, 'variant', args.variant) or 'model'
        t0 = time.perf_counter()
        graphs = export(model, args.format, Path(args.out), variant, checkpoint_sha256=source,
                        precision=args.precision)
        print(f'rgbx-export: {variant} -> {graphs.template}, {graphs.search} '
              f'(manifest {graphs.manifest}; {time.perf_counter() - t0:.1f} s)')
        if args.no_check:
            return 0
        engine = open_engine(graphs.manifest, FORMAT_BACKEND[args.format], device=args.device,
                             threads=args.threads, precision=args.precision)
        seq = _check_sequence(args.check_sequence)
        result = compare_on_sequence(model.eval(), engine, seq, max_frames=args.check_frames)
    except (ValueError, FileNotFoundError, KeyError, BackendUnavailable) as err:
        print(f'rgbx-export: error: {err}', file=sys.stderr)
        return 2
    print(f'rgbx-export: check on {engine.describe()}: {result.line()}')
    return 0 if result.passed else 1


if __name__ == '__main__':
    sys.exit(main())
