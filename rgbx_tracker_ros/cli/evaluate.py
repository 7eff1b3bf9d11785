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

"""``rgbx-eval``: run trackers over sequences, datasets or replay bags and write a report.

Usage::

    rgbx-eval PATH [PATH ...] --trackers SPEC [SPEC ...] --out DIR
              [--protocol auto|lasher|rgbt234|visevent|otb] [--reinit-frames F ...]
              [--max-frames N] [--device auto|cpu|cuda] [--precision fp32|auto|bf16|fp16]
              [--backend torch|onnxruntime|openvino|tensorrt]
              [--no-video] [--video-frames N] [--jobs N] [--threads T]

``PATH`` is a sequence folder (any layout of :mod:`rgbx_tracker_ros.data.sequences`: RGBT234,
RGBT210, LasHeR, GTOT, VTUAV, DepthTrack, VisEvent, OTB), a dataset folder holding such
sequences, or a rosbag2 replay bag as written by ``rgbx-make-bag`` (RGB, X and ``ground_truth``
topics; raw ``sensor_msgs/Image`` or ``--compressed`` ``CompressedImage``). ``SPEC`` is a
tracker (:func:`rgbx_tracker_ros.eval.peers.parse_tracker_spec`):
``csrt-rgb``, ``csrt-x``, ``kcf-rgb``, ``mil-x``, ``nano-rgb`` ... (OpenCV peers on the RGB or X
frames), ``t224:checkpoints/t224_demo.pt`` (ours, RGB + X), ``t224-rgb:checkpoints/...`` (ours, RGB
only), optionally ``LABEL=SPEC``.

``rig:RIG`` evaluates exactly what the tracker node runs on rig RIG (``config/rigs/RIG.yaml``,
or a path to a rig file) with the rig's default compute profile; ``rig:RIG@cpu`` /
``rig:RIG@gpu`` pick the profile (``@cpu`` is the plain spec for the shipped rigs, whose default
is cpu). Variant, checkpoint file (``''`` = the packaged ``checkpoints/s14_224_d8_rgbx.pt``, a bare
name = the package's ``checkpoints/<name>``), device and precision come from
``bringup.node_configuration`` and are built by ``models.factory.build_node_tracker``, as in
the node; ``--device`` and ``--precision`` do not apply to them. A rig with an X modality tracks
on RGB + X (only on sequences of that modality; RGB-only sequences run its RGB path), an
RGB-only rig (``rig:rgb_only``) on RGB; ``rig-rgb:RIG[@PROFILE]`` runs the rig's model on RGB
alone. Labels: ``RIG.PROFILE`` / ``RIG.PROFILE-rgb`` (e.g. ``rgbt_flir_boson.cpu``). A profile
whose checkpoint file is missing (``rig:rgbt_flir_boson@gpu`` needs ``b224_rgbt.pt``, which is not
shipped: train it with ``rgbx-train`` into ``checkpoints/``) is an error that says so.

Every tracker is initialised from the GT of the first frame with the target present (and again
at ``--reinit-frames``: ``9 19`` for every sequence, ``tno_nato_camp:9,19`` for one; 0-based)
and run to the end. Results are cached in ``DIR/cache/<tracker>/<sequence>.npz``; a rerun only
computes (tracker, sequence) pairs that are new or whose checkpoint, sequence or options
changed (for ``rig:`` specs also the rig profile's variant, resolved checkpoint file, device and
precision; ``--recompute`` ignores the cache).

Written to ``DIR``:

- ``summary.md``: overall and per-sequence tables (PR@20px, NPR@0.20, SR in percent, FPS of the
  ``track`` calls, VOT long-term F from the per-frame scores), attribute splits where the
  dataset has attribute files, links to everything below;
- ``overall.csv``, ``per_sequence.csv``, ``attributes.csv`` (same numbers, fractions);
- ``report.md``, ``precision.png``, ``success.png``: all trackers on one figure (averaged over
  the sequences), with how each number was computed;
- ``sequences/<name>/``: the same report per sequence plus a short video with every tracker's
  box (``--video-frames`` frames);
- ``runs.json``: per (tracker, sequence) whether it was computed or cached, frames, FPS.

Protocols (``--protocol``) are those of :mod:`rgbx_tracker_ros.eval.report`: ``auto`` = VisEvent
rules for VisEvent folders and LasHeR rules (PR / NPR / SR) for everything else; ``rgbt234``
gives MPR / MSR over the visible and infrared GT; ``otb`` plain continuous curves.

Exit status: 0 on success, 2 on bad input (unknown tracker, bad path, broken sequence,
checkpoint that does not load); the message says what was wrong. A truncated or partly corrupt
bag (also one without metadata.yaml) is scored on the frames that can be read, after one
``rgbx-eval: WARN: ...`` line saying what was lost and where; a bag with no readable frame is an
error (status 2).

Bags recorded by someone else (``.mcap`` or ``.db3``, raw or compressed): ``--rgb-topic`` /
``--x-topic`` name the raw image topics (their ``/compressed`` / ``/compressedDepth`` sub-topics
are found too); ``--gt-file FILE`` gives the ground truth (one ``x,y,w,h`` row per RGB frame,
pixels, 0,0,0,0 = absent) in place of a ``ground_truth`` topic. A bag with no ground truth at
all needs ``--init-box X,Y,W,H`` (pixels, the target on its first RGB frame): the trackers run
and ``DIR/tracks/<tracker>/<sequence>.csv`` (frame (1-based), x, y, w, h, score, x_used,
track_ms), ``runs.json`` (FPS) and a ``summary.md`` with the timing are written, but nothing is
scored (no PR / SR, no report): summary.md says so. Such bags cannot be mixed with scored
inputs in one call (an error says so).

Evaluation at scale (:mod:`rgbx_tracker_ros.eval.parallel`): ``--jobs N`` runs the (tracker,
sequence) pairs that are not cached in N worker processes (start method 'spawn'; each worker
uses ``--threads`` torch threads, default cores // N, and one OpenCV thread), each writing its
cache file; the report is then made from the cache as in the sequential run, so boxes, scores
and every number but FPS are identical to ``--jobs 1`` at the same ``--threads`` (torch's CPU
kernels split their sums by thread count: our trackers' boxes at another thread count can
differ by ~1e-5 px; the OpenCV peers never differ). Under torchrun (``torchrun
--nproc_per_node=G -m rgbx_tracker_ros.cli.evaluate ...``, or over machines with ``--nnodes`` /
``--rdzv-endpoint``) rank r runs the uncached pairs r, r + WORLD_SIZE, ... (on CUDA device
LOCAL_RANK when our trackers run on cuda; ``--jobs`` applies per rank); rank 0 waits for all
ranks and writes the report from the cache, the others exit 0. ``--out`` must be on a
filesystem every rank sees. A failure on any rank is reported by every rank (status 2; torchrun
then exits non-zero).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import Optional

from rgbx_tracker_ros.core.types import BACKENDS, PRECISIONS, BackendUnavailable, Modality
from rgbx_tracker_ros.data.bag import BagSequence, is_bag, load_bag_sequence  # noqa: F401
from rgbx_tracker_ros.data.sequences import (
    Sequence, SequenceError, detect_layout, load_sequence, load_sequences, LAYOUTS)
from rgbx_tracker_ros.eval import experiment
from rgbx_tracker_ros.eval import report as rep
from rgbx_tracker_ros.eval.experiment import EvaluateError, EvaluationOutput
from rgbx_tracker_ros.eval.parallel import DistContext
from rgbx_tracker_ros.eval.peers import (  # noqa: F401 - PeerError: re-exported
    PeerError, TrackerSpec, parse_tracker_spec, valid_tracker_names)

_logger = logging.getLogger('rgbx-eval')


#: Names kept for callers of the former in-module implementation.
_registration = experiment.registration_of
_rig_run_settings = experiment.rig_run_settings
_resolve_precision = experiment.resolve_precision
_truncate = experiment.truncate


# --------------------------------------------------------------------------- bag input

def parse_box(text: str) -> tuple[float, float, float, float]:
    """'X,Y,W,H' (pixels, top-left corner, width, height; W, H > 0) -> a 4-tuple.

    Raises:
        EvaluateError: not four numbers or a non-positive size.
    """
    try:
        box = tuple(float(v) for v in text.split(','))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        raise EvaluateError(f'--init-box {text!r}: expected X,Y,W,H in pixels with W, H > 0')
    return box  # type: ignore[return-value]


# --------------------------------------------------------------------------- inputs

def collect_sequences(paths: list[str], layout: Optional[str] = None,
                      modality: Optional[Modality] = None, rgb_topic: Optional[str] = None,
                      x_topic: Optional[str] = None, gt_file: Optional[str | Path] = None,
                      init_box: Optional[tuple[float, float, float, float]] = None,
                      gt_topic: Optional[str] = None
                      ) -> list[Sequence]:
    """Load every PATH: a sequence folder, a dataset folder of sequences, or a replay bag.

    ``rgb_topic`` / ``x_topic`` / ``gt_topic`` / ``gt_file`` / ``init_box`` apply to bag inputs
    (see :func:`load_bag_sequence`); ``gt_file`` needs exactly one bag among the paths.

    Raises:
        EvaluateError: a path that does not exist, two sequences with the same name, or
            ``gt_file`` with not exactly one bag.
        SequenceError: a sequence that fails validation (message names folder and file).
    """
    seqs: list[Sequence] = []
    for text in paths:
        path = Path(text).expanduser()
        if not path.exists():
            raise EvaluateError(f'{path} does not exist; give a sequence folder, a dataset '
                                'folder of sequences or a rosbag2 replay bag')
        if is_bag(path):
            seqs.append(load_bag_sequence(path, modality, rgb_topic, x_topic, gt_file,
                                          init_box, gt_topic=gt_topic))
            continue
        if not path.is_dir():
            raise EvaluateError(f'{path} is a file; give a sequence folder, a dataset folder or '
                                'a rosbag2 bag folder (with metadata.yaml)')
        try:
            detected = detect_layout(path)
        except SequenceError:
            detected = None
        if detected is not None:
            seqs.append(load_sequence(path, layout or detected))
            continue
        try:
            seqs.extend(load_sequences(path, layout))
        except SequenceError as err:
            raise EvaluateError(
                f'{path} is neither a sequence folder nor a dataset of sequences ({err}); '
                f'known layouts: {", ".join(sorted(LAYOUTS))}') from None
    if gt_file is not None and sum(isinstance(s, BagSequence) for s in seqs) != 1:
        raise EvaluateError('--gt-file applies to one bag: give exactly one bag path with it')
    names = [s.name for s in seqs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise EvaluateError(f'sequence names must be unique across the inputs; repeated: {dup}')
    return seqs


def parse_reinit(tokens: list[str], seqs: list[Sequence]) -> dict[str, list[int]]:
    """``['9', '19', 'seq:3,5']`` -> {sequence: sorted 0-based frames}.

    Plain integers apply to every sequence; ``NAME:F1,F2`` only to sequence NAME.

    Raises:
        EvaluateError: a token that is not an integer or NAME:INTS, or an unknown NAME.
    """
    names = {s.name for s in seqs}
    out: dict[str, set[int]] = {s.name: set() for s in seqs}
    for token in tokens or []:
        try:
            if ':' in token:
                name, frames = token.rsplit(':', 1)
                if name not in names:
                    raise EvaluateError(f'--reinit-frames {token!r}: no sequence {name!r}; '
                                        f'sequences: {", ".join(sorted(names))}')
                out[name].update(int(v) for v in frames.split(',') if v.strip())
            else:
                for s in out.values():
                    s.add(int(token))
        except ValueError as err:
            if isinstance(err, EvaluateError):
                raise
            raise EvaluateError(f'--reinit-frames {token!r}: expected 0-based frame numbers '
                                '(e.g. 9 19) or NAME:9,19') from None
    return {k: sorted(v) for k, v in out.items()}


def evaluate(seqs: list[Sequence], specs: list[TrackerSpec], out_dir: str | Path,
             protocol: str = 'auto', reinit: Optional[dict[str, list[int]]] = None,
             max_frames: Optional[int] = None, device: str = 'auto',
             nano_dir: Optional[str | Path] = None, video: bool = True,
             precision: str = 'fp32', backend: str = 'torch',
             model_options: Optional[dict] = None, video_frames: int = 150,
             video_fps: float = 10.0, recompute: bool = False,
             progress: bool = True, jobs: int = 1,
             threads: Optional[int] = None) -> EvaluationOutput:
    """Run (or load from the cache) every tracker on every sequence and write the report:
    :func:`rgbx_tracker_ros.eval.experiment.run` then
    :func:`rgbx_tracker_ros.eval.experiment.report`.

    Args:
        seqs: sequences (unique names).
        specs: trackers (unique labels).
        out_dir: output folder (created); the cache is ``out_dir/cache``.
        protocol: a :data:`report.PROTOCOLS` entry.
        reinit: sequence -> 0-based frames where trackers are re-initialised from GT.
        max_frames: evaluate only the first N frames of each sequence.
        device: torch device of our trackers (``rig:`` specs run on their rig profile's).
        precision: network precision of our trackers ('fp32' default for reproducible
            numbers; 'auto' = what the node runs); part of the cache key of our runs. ``rig:``
            specs run at the node's precision instead (also in their cache key).
        backend: inference backend of our trackers ('torch', 'onnxruntime', 'openvino',
            'tensorrt'); part of the cache key when not 'torch'. ``rig:`` specs run the rig
            profile's backend.
        model_options: constructor overrides of our (non-rig) trackers, e.g. the token-budget
            options ``{'ce_keep_ratio': 0.7, 'ce_loc': (3, 6)}``; part of their cache key.
        nano_dir: NanoTrack v2 folder (default: ``../shared/peers/nanotrack_v2``).
        video: write a video per sequence.
        video_frames: at most this many frames per video.
        video_fps: frame rate of the videos.
        recompute: ignore cached results (and overwrite them).
        progress: show tqdm progress bars (stderr).
        jobs: worker processes on this machine (:mod:`rgbx_tracker_ros.eval.parallel`); the
            results are identical to ``jobs=1``. Under ``torchrun`` the runs are also sharded
            by rank and rank 0 writes the report (``is_main`` of the output is False elsewhere).
        threads: torch threads per worker when ``jobs > 1`` (default: cores // jobs).

    Raises:
        EvaluateError: duplicate labels, an X-only peer on a sequence without X, bad protocol,
            a ``rig:`` spec with X on sequences of another X modality, or a rig profile whose
            device is not available here.
        PeerError, CheckpointError, SequenceError, ReportError: from the parts.
    """
    if protocol not in rep.PROTOCOLS:
        raise EvaluateError(f'unknown protocol {protocol!r}; known: {", ".join(rep.PROTOCOLS)}')
    runs = experiment.run(specs, seqs, out_dir, reinit=reinit, max_frames=max_frames,
                          device=device, nano_dir=nano_dir, precision=precision,
                          backend=backend, model_options=model_options, recompute=recompute,
                          progress=progress, jobs=jobs, threads=threads)
    return experiment.report(runs, seqs, out_dir, protocol=protocol, video=video,
                             video_frames=video_frames, video_fps=video_fps)


# --------------------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    """The ``rgbx-eval`` argument parser."""
    parser = argparse.ArgumentParser(
        prog='rgbx-eval', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Trackers: ' + valid_tracker_names() + '.\nSee the module docstring '
               '(python -m pydoc rgbx_tracker_ros.cli.evaluate) for the output files.')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='sequence folder, dataset folder of sequences, or rosbag2 bag')
    parser.add_argument('--trackers', nargs='+', required=True, metavar='SPEC',
                        help='trackers, e.g. t224:checkpoints/t224_demo.pt t224-rgb:... '
                             'csrt-rgb csrt-x kcf-rgb mil-rgb nano-rgb nano-x; '
                             'rig:RIG[@cpu|@gpu] = exactly the model, checkpoint, device and '
                             'precision the tracker node runs on that rig (RGB + X as the rig '
                             'has), rig-rgb:RIG[@PROFILE] = the same on RGB alone, e.g. '
                             'rig:rgbt_flir_boson rig:rgb_only')
    parser.add_argument('--out', required=True, help='output folder (cache inside)')
    parser.add_argument('--protocol', default='auto', choices=rep.PROTOCOLS)
    parser.add_argument('--reinit-frames', nargs='*', default=[], metavar='F',
                        help='0-based frames to re-initialise from GT: "9 19" for every '
                             'sequence, "NAME:9,19" for one')
    parser.add_argument('--layout', choices=sorted(LAYOUTS), default=None,
                        help='force a folder layout (default: detect)')
    parser.add_argument('--modality', choices=[m.value for m in Modality], default=None,
                        help='X modality of bag inputs (default: from the encoding)')
    parser.add_argument('--rgb-topic', default=None,
                        help='bag inputs: RGB image topic (raw name; /compressed found too; '
                             'default /rgb/image_raw)')
    parser.add_argument('--x-topic', default=None,
                        help='bag inputs: X image topic (raw name; /compressed, '
                             '/compressedDepth found too; default /x/image_raw)')
    parser.add_argument('--gt-topic', default=None,
                        help='bag inputs: ground-truth vision_msgs/Detection2DArray topic '
                             '(default /ground_truth)')
    parser.add_argument('--gt-file', default=None,
                        help='one bag input: ground truth, one x,y,w,h row (pixels) per RGB '
                             'frame, 0,0,0,0 = absent (replaces its ground_truth topic)')
    parser.add_argument('--init-box', default=None, metavar='X,Y,W,H',
                        help='bag inputs without ground truth: the target on the first RGB '
                             'frame (pixels); the trackers run and their tracks are written, '
                             'nothing is scored')
    parser.add_argument('--max-frames', type=int, default=None,
                        help='evaluate only the first N frames of each sequence')
    parser.add_argument('--device', default=None,
                        help="torch device of our trackers (default auto; rig: specs use the "
                             "rig profile's)")
    parser.add_argument('--backend', default='torch', choices=list(BACKENDS),
                        help='inference backend of our trackers (default torch; the others run '
                             "the model exported on first use; rig: specs use the rig profile's)")
    parser.add_argument('--model-option', action='append', default=[], metavar='KEY=VALUE',
                        help='constructor option of our trackers, repeatable: the token-budget '
                             'options ce_keep_ratio=0.7, ce_loc=3,6 (candidate elimination), '
                             'search_size=168, depth=6 (fewer blocks)')
    parser.add_argument('--precision', default=None, choices=list(PRECISIONS),
                        help="network precision of our trackers (default fp32; 'auto' = as the "
                             "node runs: bf16 on CPUs with native bfloat16, else fp32; rig: "
                             "specs always run at the node's precision)")
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for torch and OpenCV (default: library defaults; '
                             'with --jobs N: torch threads per worker, default cores // N)')
    parser.add_argument('--jobs', type=int, default=1, metavar='N',
                        help='run the (tracker, sequence) pairs in N worker processes on this '
                             'machine (default 1); results are identical to --jobs 1')
    parser.add_argument('--nano-dir', default=None,
                        help='folder with the NanoTrack v2 ONNX files')
    parser.add_argument('--no-video', action='store_true', help='skip the per-sequence videos')
    parser.add_argument('--video-frames', type=int, default=150,
                        help='frames per video (default 150)')
    parser.add_argument('--video-fps', type=float, default=10.0)
    parser.add_argument('--recompute', action='store_true', help='ignore cached results')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument('-q', '--quiet', action='store_true', help='print errors only')
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of ``rgbx-eval``; returns the exit status (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='rgbx-eval: %(message)s')
    _logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        if args.max_frames is not None and args.max_frames < 2:
            raise EvaluateError('--max-frames must be >= 2')
        if args.jobs < 1:
            raise EvaluateError('--jobs must be >= 1')
        DistContext.from_env()      # bad torchrun variables are an error here
        if args.threads is not None:
            if args.threads < 1:
                raise EvaluateError('--threads must be >= 1')
            import cv2
            import torch
            torch.set_num_threads(args.threads)
            cv2.setNumThreads(args.threads)
        specs = [parse_tracker_spec(t) for t in args.trackers]
        rigs = [s.label for s in specs if s.model is not None]
        if rigs and (args.device is not None or args.precision is not None):
            _logger.warning('%s run(s) on the device and precision of the rig profile, as the '
                            'node does; --device / --precision apply to the other trackers',
                            ', '.join(rigs))
        from rgbx_tracker_ros.models.factory import parse_model_options
        model_options = parse_model_options(args.model_option)
        for spec in specs:
            if spec.family == 'ours' and spec.model is None and model_options:
                parse_model_options(args.model_option, spec.name)     # keys valid for it
        modality = None if args.modality is None else Modality(args.modality)
        init_box = None if args.init_box is None else parse_box(args.init_box)
        seqs = collect_sequences(args.paths, args.layout, modality, args.rgb_topic,
                                 args.x_topic, args.gt_file, init_box, args.gt_topic)
        reinit = parse_reinit(args.reinit_frames, seqs)
        out = evaluate(seqs, specs, args.out, protocol=args.protocol, reinit=reinit,
                       max_frames=args.max_frames, device=args.device or 'auto',
                       nano_dir=args.nano_dir, precision=args.precision or 'fp32',
                       backend=args.backend, model_options=model_options,
                       video=not args.no_video,
                       video_frames=args.video_frames,
                       video_fps=args.video_fps, recompute=args.recompute,
                       progress=not args.no_progress, jobs=args.jobs,
                       threads=args.threads)
    except (ValueError, FileNotFoundError, BackendUnavailable) as err:
        # PeerError, SequenceError, CheckpointError, ReportError, EvaluateError are ValueErrors.
        rank = os.environ.get('RANK', '0')
        where = '' if rank == '0' else f' (rank {rank})'
        print(f'rgbx-eval: error{where}: {err}', file=sys.stderr)
        return 2
    if not out.is_main:     # torchrun rank > 0: its runs are in the cache, rank 0 reports
        return 0
    if not args.quiet:
        print((Path(args.out) / 'summary.md').read_text(encoding='utf-8'))
        print(f'rgbx-eval: {len(out.computed)} run(s) computed, {len(out.cached)} from the '
              f'cache; report in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
