"""``rgbx-eval``: run trackers over sequences, datasets or replay bags and write a report.

Usage::

    rgbx-eval PATH [PATH ...] --trackers SPEC [SPEC ...] --out DIR
              [--protocol auto|lasher|rgbt234|visevent|otb] [--reinit-frames F ...]
              [--max-frames N] [--device auto|cpu|cuda] [--precision fp32|auto|bf16|fp16]
              [--backend torch|onnxruntime|openvino|tensorrt]
              [--no-video] [--video-frames N]

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
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rgbx_tracker_ros.core.types import BACKENDS, PRECISIONS, BackendUnavailable, Modality
from rgbx_tracker_ros.data.sequences import (
    Sequence, SequenceError, detect_layout, load_sequence, load_sequences, LAYOUTS)
from rgbx_tracker_ros.eval import report as rep
from rgbx_tracker_ros.eval.cache import RunCache, run_key, safe_name, sequence_fingerprint
from rgbx_tracker_ros.eval.peers import (
    PeerError, TrackerSpec, build_tracker, parse_tracker_spec, valid_tracker_names)
from rgbx_tracker_ros.eval.runner import TrackRun, run_sequence

_logger = logging.getLogger('rgbx-eval')


class EvaluateError(ValueError):
    """Bad command-line input for ``rgbx-eval`` (the message says what and how to fix it)."""


# --------------------------------------------------------------------------- bag input

@dataclass
class BagSequence(Sequence):
    """A :class:`Sequence` read from a replay bag; frames are decoded on demand.

    ``rgb_paths`` / ``x_paths`` hold placeholder paths ``<bag>#<k>``; :meth:`read_rgb` and
    :meth:`read_x` decode the stored ``sensor_msgs/Image`` or ``CompressedImage`` messages
    (:func:`rgbx_tracker_ros.ros.bag_io.decode_bag_image`) instead of files.
    ``attributes['ground_truth']`` is 'topic', 'file' (``--gt-file``) or 'none' (only the
    ``--init-box`` on frame 0; not scored).
    """

    frames: list = field(default_factory=list, repr=False)

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame ``index`` of the RGB topic in :attr:`rgb_encoding` (as published)."""
        from rgbx_tracker_ros.ros.bag_io import decode_bag_image
        f = self.frames[index]
        return decode_bag_image(f.rgb_raw, f.rgb_type)[0]

    def read_x(self, index: int) -> np.ndarray:
        """Frame ``index`` of the X topic in :attr:`x_encoding` (as published)."""
        from rgbx_tracker_ros.ros.bag_io import decode_bag_image
        if self.x_paths is None:
            raise SequenceError(f'{self.name}: the bag has no X topic')
        f = self.frames[index]
        return decode_bag_image(f.x_raw, f.x_type or None)[0]


def _storage_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir()
            if p.is_file() and p.name.removesuffix('.zstd').endswith(('.mcap', '.db3'))]


def is_bag(path: Path) -> bool:
    """True for a rosbag2 folder (``metadata.yaml``, or ``.mcap`` / ``.db3`` storage files
    without one, as after a metadata.yaml was lost) or a ``.mcap`` / ``.db3`` file."""
    if path.is_dir():
        return (path / 'metadata.yaml').is_file() or bool(_storage_files(path))
    return path.name.removesuffix('.zstd').endswith(('.mcap', '.db3'))


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


def load_bag_sequence(path: str | Path, modality: Optional[Modality] = None,
                      rgb_topic: Optional[str] = None, x_topic: Optional[str] = None,
                      gt_file: Optional[str | Path] = None,
                      init_box: Optional[tuple[float, float, float, float]] = None
                      ) -> BagSequence:
    """Read a replay bag (``rgbx-make-bag`` layout) as a sequence.

    A truncated or partly corrupt bag gives the frames that can be read
    (:func:`rgbx_tracker_ros.ros.bag_io.read_bag_checked`; corrupt MCAP chunks are skipped) and
    one ``WARN`` line on the log; ``attributes['bag_read']`` holds the report.

    Args:
        path: the bag folder (or its ``.mcap`` / ``.db3`` file).
        modality: modality of the X topic; None guesses it from the encoding (16UC1 / 32FC1 ->
            depth, otherwise thermal).
        rgb_topic / x_topic: raw image topics in the bag (None: ``/rgb/image_raw`` /
            ``/x/image_raw``); ``<topic>/compressed`` (``/compressedDepth``) found too.
        gt_file: ground truth file (:func:`rgbx_tracker_ros.ros.bag_io.load_gt_file`) in place
            of the bag's ``ground_truth`` topic.
        init_box: (x, y, w, h) pixels on the first RGB frame, for a bag without ground truth
            (then only that frame is annotated: the sequence is tracked, not scored).

    Raises:
        SequenceError: no readable frames, no ground truth (and no ``init_box``), a bad
            ``gt_file``, or X on only some frames.
    """
    from rgbx_tracker_ros.ros.bag_io import (
        apply_gt_file, BagError, decode_bag_image, read_bag_checked, TOPIC_RGB, TOPIC_X)
    path = Path(path)
    bag_dir = path if path.is_dir() else path.parent
    source = bag_dir if (bag_dir / 'metadata.yaml').is_file() else path
    rgb_topic = rgb_topic or TOPIC_RGB
    frames, report = read_bag_checked(source, rgb_topic, x_topic or TOPIC_X)
    if report.fatal:
        raise SequenceError(report.fatal)
    if report.problems:
        _logger.warning('WARN: %s', report.warning_line())
    if not frames:
        raise SequenceError(f'bag {bag_dir} has no RGB frames')
    gt_source = 'topic'
    if gt_file is not None:
        try:
            apply_gt_file(frames, gt_file)
        except BagError as exc:
            raise SequenceError(str(exc)) from None
        gt_source = 'file'
    present = np.array([f.gt_present for f in frames])
    annotated = None
    if not present.any() and init_box is not None and gt_file is None:
        gt_source = 'none'
        frames[0].gt_xywh = np.asarray(init_box, dtype=np.float64)
        frames[0].gt_present = True
        present = np.zeros(len(frames), dtype=bool)
        present[0] = True
        annotated = present.copy()
    elif not present.any():
        raise SequenceError(
            f'bag {bag_dir} has no ground-truth detections ('
            + (f'--gt-file {gt_file} is all 0,0,0,0' if gt_file is not None else
               'no /ground_truth topic') + '); give --gt-file FILE (one x,y,w,h row per RGB '
            'frame) to score, or --init-box X,Y,W,H (the target on the first frame) to only '
            'run the trackers and write their tracks')
    with_x = [f.x_raw is not None for f in frames]
    if any(with_x) and not all(with_x):
        raise SequenceError(f'bag {bag_dir}: {sum(with_x)} of {len(frames)} RGB frames have an X '
                            'image with the same stamp; rgbx-eval needs X on every frame or '
                            'on none')
    rgb0, rgb_enc, _, _ = decode_bag_image(frames[0].rgb_raw, frames[0].rgb_type)
    attributes: dict[str, Any] = {'root': None, 'bag': str(bag_dir),
                                  'image_size_wh': (int(rgb0.shape[1]), int(rgb0.shape[0])),
                                  'ground_truth': gt_source,
                                  'image_types': sorted({frames[0].rgb_type,
                                                         frames[0].x_type or frames[0].rgb_type})}
    if gt_file is not None:
        attributes['gt_file'] = str(gt_file)
    if report.problems:
        attributes['bag_read'] = report.as_dict()
    data_files = report.files or sorted(_storage_files(bag_dir))
    if data_files:
        attributes['source_file'] = str(data_files[0])
    x_enc = None
    if all(with_x):
        x0, x_enc, _, _ = decode_bag_image(frames[0].x_raw, frames[0].x_type or None)
        attributes['x_image_size_wh'] = (int(x0.shape[1]), int(x0.shape[0]))
        if modality is None:
            modality = Modality.DEPTH if x_enc in ('16UC1', '32FC1') else Modality.THERMAL
    gt = np.stack([f.gt_xywh for f in frames]).astype(np.float64)
    placeholders = [Path(f'{bag_dir}#{k}') for k in range(len(frames))]
    return BagSequence(name=bag_dir.name, layout='bag',
                       modality=modality if x_enc else Modality.RGB,
                       rgb_paths=placeholders, x_paths=list(placeholders) if x_enc else None,
                       gt_xywh=gt, absent=~present, annotated=annotated,
                       attributes=attributes,
                       rgb_encoding=rgb_enc, x_encoding=x_enc, frames=frames)


# --------------------------------------------------------------------------- inputs

def collect_sequences(paths: list[str], layout: Optional[str] = None,
                      modality: Optional[Modality] = None, rgb_topic: Optional[str] = None,
                      x_topic: Optional[str] = None, gt_file: Optional[str | Path] = None,
                      init_box: Optional[tuple[float, float, float, float]] = None
                      ) -> list[Sequence]:
    """Load every PATH: a sequence folder, a dataset folder of sequences, or a replay bag.

    ``rgb_topic`` / ``x_topic`` / ``gt_file`` / ``init_box`` apply to bag inputs (see
    :func:`load_bag_sequence`); ``gt_file`` needs exactly one bag among the paths.

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
                                          init_box))
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
    if gt_file is not None and sum(s.layout == 'bag' for s in seqs) != 1:
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


class _Progress:
    """Wraps a tracker so that every initialize / track call advances a tqdm bar."""

    def __init__(self, tracker: Any, bar: Any) -> None:
        self._tracker = tracker
        self._bar = bar

    def initialize(self, rgb, x, box) -> None:
        self._tracker.initialize(rgb, x, box)
        self._bar.update(1)

    def track(self, rgb, x=None):
        out = self._tracker.track(rgb, x)
        self._bar.update(1)
        return out


# --------------------------------------------------------------------------- tables

def _pct(v: float) -> str:
    return 'n/a' if v is None or not math.isfinite(v) else f'{100.0 * v:.1f}'


def _num(v: float, digits: int = 1) -> str:
    return 'n/a' if v is None or not math.isfinite(v) else f'{v:.{digits}f}'


def _md_table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join('---' if i < right_from else '---:' for i in range(len(header)))
             + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open('w', newline='', encoding='utf-8') as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _fps(seconds: np.ndarray) -> float:
    t = seconds[seconds > 0]
    return float(len(t) / t.sum()) if len(t) else float('nan')


@dataclass
class EvaluationOutput:
    """What :func:`evaluate` produced (for callers such as the benchmarks and tests).

    Attributes:
        result: the :class:`report.ReportResult` over all sequences (None when the inputs
            have no ground truth and only their tracks were written).
        runs: tracker label -> sequence -> :class:`TrackRun`.
        computed: (label, sequence) pairs computed in this call.
        cached: (label, sequence) pairs read from the cache.
        attributes: attribute split rows (may be empty).
        paths: name -> written file.
    """

    result: Optional[rep.ReportResult]
    runs: dict[str, dict[str, TrackRun]]
    computed: list[tuple[str, str]]
    cached: list[tuple[str, str]]
    attributes: list[rep.AttributeScore]
    paths: dict[str, Path]

    def fps(self, label: str, sequence: Optional[str] = None) -> float:
        """Tracked frames per second of ``track`` calls (all sequences when None)."""
        runs = self.runs[label]
        secs = [runs[sequence].seconds] if sequence else [r.seconds for r in runs.values()]
        return _fps(np.concatenate(secs))


def _tables(out: EvaluationOutput, seqs: list[Sequence], out_dir: Path, protocol: str) -> str:
    result = out.result
    overall_rows, overall_csv = [], []
    for label, avg in result.overall.items():
        s = result.summary[label]
        fps = out.fps(label)
        overall_rows.append([label, str(int(s['sequences'])), str(int(s['frames'])),
                             _pct(avg.pr), _pct(avg.npr), _pct(avg.sr), _num(fps),
                             _pct(s.get('F', float('nan')))])
        overall_csv.append([label, int(s['sequences']), int(s['frames']), avg.pr, avg.npr,
                            avg.sr, fps, s.get('Pr', ''), s.get('Re', ''), s.get('F', '')])
    seq_rows, seq_csv = [], []
    for r in result.rows:
        fps = out.fps(r.run, r.sequence)
        seq_rows.append([r.run, r.sequence, r.protocol, str(r.num_frames), _pct(r.pr),
                         _pct(r.npr), _pct(r.sr), _num(fps)])
        seq_csv.append([r.run, r.sequence, r.protocol, r.num_frames, r.pr, r.npr, r.sr, fps])
    header_o = ['tracker', 'sequences', 'frames', 'PR@20px', 'NPR@0.20', 'SR', 'FPS', 'VOT-LT F']
    header_s = ['tracker', 'sequence', 'protocol', 'frames', 'PR@20px', 'NPR@0.20', 'SR', 'FPS']
    _write_csv(out_dir / 'overall.csv',
               ['tracker', 'sequences', 'frames', 'PR', 'NPR', 'SR', 'FPS', 'Pr', 'Re', 'F'],
               overall_csv)
    _write_csv(out_dir / 'per_sequence.csv',
               ['tracker', 'sequence', 'protocol', 'frames', 'PR', 'NPR', 'SR', 'FPS'], seq_csv)
    out.paths['overall_csv'] = out_dir / 'overall.csv'
    out.paths['per_sequence_csv'] = out_dir / 'per_sequence.csv'
    md = ['# rgbx-eval summary', '',
          f'{len(seqs)} sequence(s), {len(result.overall)} tracker(s), protocol {protocol!r} '
          '(see report.md for how each number is computed). Metrics in percent; FPS = tracked '
          'frames per second of the tracker calls alone (frame decoding excluded), as measured '
          'when the run was computed (cached runs keep their timing).', '',
          '## Overall (mean over sequences)', '', _md_table(header_o, overall_rows),
          '', '## Per sequence', '', _md_table(header_s, seq_rows, right_from=3)]
    if out.attributes:
        att_rows = [[a.attribute, a.run, str(len(a.sequences)), _pct(a.pr), _pct(a.npr),
                     _pct(a.sr)] for a in out.attributes]
        _write_csv(out_dir / 'attributes.csv',
                   ['attribute', 'tracker', 'sequences', 'PR', 'NPR', 'SR'],
                   [[a.attribute, a.run, len(a.sequences), a.pr, a.npr, a.sr]
                    for a in out.attributes])
        out.paths['attributes_csv'] = out_dir / 'attributes.csv'
        md += ['', '## Attribute splits (mean over the sequences with the attribute)', '',
               _md_table(['attribute', 'tracker', 'sequences', 'PR@20px', 'NPR@0.20', 'SR'],
                         att_rows, right_from=2)]
    md += ['', '## Files', '', '- [report.md](report.md), [precision.png](precision.png), '
           '[success.png](success.png): all trackers, averaged over the sequences',
           '- overall.csv, per_sequence.csv' + (', attributes.csv' if out.attributes else ''),
           '- runs.json: computed / cached per tracker and sequence']
    for s in seqs:
        folder = f'sequences/{safe_name(s.name)}'
        video = out.paths.get(f'video:{s.name}')
        extra = f', video {folder}/{video.name}' if video else ''
        md.append(f'- {s.name}: [{folder}/report.md]({folder}/report.md){extra}')
    text = '\n'.join(md) + '\n'
    (out_dir / 'summary.md').write_text(text, encoding='utf-8')
    out.paths['summary'] = out_dir / 'summary.md'
    return text


# --------------------------------------------------------------------------- main work

def _resolve_precision(precision: str, device: str) -> str:
    """'auto' -> the precision our trackers will actually run ('fp32' / 'bf16' / 'fp16'), so
    that cached runs are keyed by what ran.

    Raises:
        EvaluateError: an unknown precision, fp16 on a CPU, or an unusable device.
    """
    from rgbx_tracker_ros.core.tracker import precision_name, resolve_device, resolve_precision
    try:
        return precision_name(resolve_precision(precision, resolve_device(device)))
    except ValueError as exc:
        raise EvaluateError(str(exc)) from exc


def _rig_run_settings(spec: TrackerSpec) -> dict[str, str]:
    """What a ``rig:`` spec will run on here: {'device': resolved torch device, 'precision':
    resolved precision}, for the cache key.

    Raises:
        EvaluateError: the rig profile's device is not available here (e.g. cuda without a GPU)
            or its precision cannot run on it; the message names the rig and the profile.
    """
    from rgbx_tracker_ros.core.tracker import precision_name, resolve_device, resolve_precision
    try:
        dev = resolve_device(spec.device)
        prec = precision_name(resolve_precision(spec.precision, dev))
    except ValueError as exc:
        raise EvaluateError(
            f'tracker {spec.label}: the {spec.profile} compute profile of rig {spec.rig} '
            f'({spec.rig_path}) runs on device {spec.device!r} at precision '
            f'{spec.precision!r}, which cannot run here: {exc}. Run rgbx-eval on a machine '
            f'like the one this profile is for, or evaluate another profile (e.g. '
            f'rig:{spec.rig}@cpu)') from exc
    settings = {'device': str(dev), 'precision': prec}
    if spec.x_homography is not None:
        settings['x_homography'] = list(spec.x_homography)
    return settings


def _registration(options: dict):
    """The X -> RGB registration a run's options name (a rig's ``x_homography``), or None."""
    if not options.get('x_homography'):
        return None
    from rgbx_tracker_ros.core.registration import Registration
    return Registration.from_homography(options['x_homography'])


def evaluate(seqs: list[Sequence], specs: list[TrackerSpec], out_dir: str | Path,
             protocol: str = 'auto', reinit: Optional[dict[str, list[int]]] = None,
             max_frames: Optional[int] = None, device: str = 'auto',
             nano_dir: Optional[str | Path] = None, video: bool = True,
             precision: str = 'fp32', backend: str = 'torch',
             model_options: Optional[dict] = None, video_frames: int = 150,
             video_fps: float = 10.0, recompute: bool = False,
             progress: bool = True) -> EvaluationOutput:
    """Run (or load from the cache) every tracker on every sequence and write the report.

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

    Raises:
        EvaluateError: duplicate labels, an X-only peer on a sequence without X, bad protocol,
            a ``rig:`` spec with X on sequences of another X modality, or a rig profile whose
            device is not available here.
        PeerError, CheckpointError, SequenceError, ReportError: from the parts.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if protocol not in rep.PROTOCOLS:
        raise EvaluateError(f'unknown protocol {protocol!r}; known: {", ".join(rep.PROTOCOLS)}')
    labels = [s.label for s in specs]
    dup = sorted({n for n in labels if labels.count(n) > 1})
    if dup:
        raise EvaluateError(f'tracker labels must be unique; repeated: {dup} (rename one with '
                            'LABEL=SPEC)')
    if not specs:
        raise EvaluateError(f'no trackers given; valid: {valid_tracker_names()}')
    if not seqs:
        raise EvaluateError('no sequences given')
    unscored = [s.name for s in seqs if s.attributes.get('ground_truth') == 'none']
    if unscored and len(unscored) != len(seqs):
        raise EvaluateError(f'bag(s) {", ".join(unscored)} have no ground truth (only '
                            '--init-box) and are not scored; evaluate them in a separate call')
    no_x = [s.name for s in seqs if not s.has_x]
    for spec in specs:
        if spec.needs_x and no_x:
            raise EvaluateError(f'tracker {spec.label} tracks on X frames but sequence(s) '
                                f'{", ".join(no_x)} have no X stream; drop the tracker or those '
                                'sequences (the -rgb peers and our trackers run without X)')
        if spec.model is not None and spec.use_x:
            other = sorted(f'{s.name} ({s.modality.value})' for s in seqs
                           if s.has_x and s.modality.value != spec.modality)
            if other:
                raise EvaluateError(
                    f'tracker {spec.label} is the node on rig {spec.rig}, whose X is '
                    f'{spec.modality}, but sequence(s) {", ".join(other)} have another X '
                    f'modality: that node never sees such frames. Use a rig of that modality, '
                    f'rig-rgb:{spec.rig} (its model on RGB alone), or drop those sequences '
                    f'(for a bag whose X modality was guessed wrong pass --modality)')
    resolved_precision = _resolve_precision(precision, device) \
        if any(s.family == 'ours' and s.model is None for s in specs) else None
    rig_settings = {s.label: _rig_run_settings(s) for s in specs if s.model is not None}
    out_dir.mkdir(parents=True, exist_ok=True)
    reinit = reinit or {}
    cache = RunCache(out_dir / 'cache')
    runs: dict[str, dict[str, TrackRun]] = {s.label: {} for s in specs}
    computed: list[tuple[str, str]] = []
    cached: list[tuple[str, str]] = []
    log: list[dict[str, Any]] = []
    seq_prints = {s.name: sequence_fingerprint(s) for s in seqs}
    jobs = tqdm(total=len(specs) * len(seqs), desc='runs', unit='run', disable=not progress,
                file=sys.stderr)
    try:
        for spec in specs:
            fingerprint = spec.fingerprint(nano_dir)
            tracker = None
            for seq in seqs:
                n = seq.num_frames if max_frames is None else min(seq.num_frames, max_frames)
                options = {'use_x': spec.use_x, 'reinit': reinit.get(seq.name, []),
                           'max_frames': n}
                if spec.label in rig_settings:      # the node's device and precision
                    options.update(rig_settings[spec.label])
                elif spec.family == 'ours':
                    options['precision'] = resolved_precision
                    if backend != 'torch':
                        options['backend'] = backend
                    if model_options:
                        options['model_options'] = {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in sorted(model_options.items())}
                key = run_key(fingerprint, seq_prints[seq.name], options)
                jobs.set_postfix_str(f'{spec.label} on {seq.name}')
                run = None if recompute else cache.load(spec.label, seq.name, key)
                hit = run is not None
                if run is None:
                    if tracker is None:
                        tracker = build_tracker(spec, device=device, nano_dir=nano_dir,
                                                precision=precision, backend=backend,
                                                model_options=model_options)
                    t0 = time.perf_counter()
                    with tqdm(total=max(0, n - seq.first_valid_frame()),
                              desc=f'{spec.label}/{seq.name}', unit='frame', leave=False,
                              disable=not progress,
                              file=sys.stderr) as bar:
                        run = run_sequence(_Progress(tracker, bar), seq, use_x=spec.use_x,
                                           reinit_frames=reinit.get(seq.name, ()),
                                           max_frames=max_frames,
                                           registration=_registration(options))
                    cache.save(spec.label, seq.name, key, run,
                               meta={'tracker': fingerprint, 'label': spec.label,
                                     'sequence': seq_prints[seq.name], 'options': options})
                    cache.misses += 1
                    computed.append((spec.label, seq.name))
                    _logger.info('computed %s on %s (%d frames, %.1f s)', spec.label, seq.name,
                                 n, time.perf_counter() - t0)
                else:
                    cache.hits += 1
                    cached.append((spec.label, seq.name))
                    _logger.info('cached %s on %s', spec.label, seq.name)
                runs[spec.label][seq.name] = run
                log.append({'tracker': spec.label, 'sequence': seq.name,
                            'status': 'cached' if hit else 'computed', 'frames': n,
                            'fps': run.fps if math.isfinite(run.fps) else None,
                            'reinit_frames': options['reinit'],
                            'use_x': spec.use_x,
                            'cache_file': str(cache.path(spec.label, seq.name))})
                if spec.model is not None:     # what the node runs on that rig
                    log[-1].update(rig=spec.rig, profile=spec.profile,
                                   variant=spec.model.variant,
                                   checkpoint=None if spec.checkpoint is None
                                   else str(spec.checkpoint),
                                   **rig_settings[spec.label])
                jobs.update(1)
    finally:
        jobs.close()
    (out_dir / 'runs.json').write_text(json.dumps(log, indent=2, default=str) + '\n',
                                       encoding='utf-8')
    if unscored:
        return _write_tracks_only(out_dir, seqs, runs, computed, cached)

    # With --max-frames only the first N frames are run and scored (the sequence is cut).
    scored = [_truncate(s, max_frames) for s in seqs]
    report_runs = {label: {s.name: rep.SequenceRun(runs[label][s.name].boxes_xywh,
                                                   runs[label][s.name].scores) for s in scored}
                   for label in runs}
    title = 'rgbx-eval: ' + ', '.join(s.name for s in scored[:3]) + \
        (f' ... ({len(scored)} sequences)' if len(scored) > 3 else '')
    result = rep.write_report(out_dir, scored, report_runs, protocol=protocol, video=False,
                              title=title)
    paths: dict[str, Path] = {k: v for k, v in result.paths.items() if v is not None}
    paths['runs'] = out_dir / 'runs.json'
    for seq in scored:
        sub = out_dir / 'sequences' / safe_name(seq.name)
        one = rep.write_report(sub, seq, {k: v[seq.name] for k, v in report_runs.items()},
                               protocol=protocol, video=video, fps=video_fps,
                               video_max_frames=video_frames,
                               title=f'rgbx-eval: {seq.name}')
        paths[f'report:{seq.name}'] = one.paths['report']
        if one.paths.get('video') is not None:
            paths[f'video:{seq.name}'] = one.paths['video']
    attrs = {s.name: rep.sequence_attributes(s) for s in scored}
    splits = rep.attribute_splits(result, attrs) if any(attrs.values()) else []
    output = EvaluationOutput(result=result, runs=runs, computed=computed, cached=cached,
                              attributes=splits, paths=paths)
    _tables(output, scored, out_dir, protocol)
    return output


TRACK_FIELDS = ('frame', 'x', 'y', 'w', 'h', 'score', 'x_used', 'track_ms')


def _write_tracks_only(out_dir: Path, seqs: list[Sequence],
                       runs: dict[str, dict[str, TrackRun]], computed: list[tuple[str, str]],
                       cached: list[tuple[str, str]]) -> EvaluationOutput:
    """Sequences without ground truth: write ``tracks/<tracker>/<sequence>.csv`` (frame
    1-based, box x, y, w, h in pixels (empty before the init frame), score, x_used 0/1,
    track_ms = wall time of the ``track`` call in milliseconds, 0 on the init frame) and a
    ``summary.md`` with the FPS per run and a note that nothing was scored; ``result`` of the
    returned output is None."""
    paths: dict[str, Path] = {'runs': out_dir / 'runs.json'}
    lines = ['# rgbx-eval: tracks only (not scored)', '',
             'Not scored: no ground truth for ' + ', '.join(s.name for s in seqs)
             + ' (the trackers were initialised from --init-box on the first frame). Give '
             '--gt-file FILE (one x,y,w,h row per RGB frame) for PR / NPR / SR and a report.',
             '', '| Tracker | Sequence | Frames | FPS | Tracks |', '|---|---|--:|--:|---|']
    for label, per_seq in runs.items():
        for seq in seqs:
            run = per_seq[seq.name]
            path = out_dir / 'tracks' / safe_name(label) / f'{safe_name(seq.name)}.csv'
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = []
            for i in range(len(run.scores)):
                box = run.boxes_xywh[i]
                ok = bool(np.isfinite(box).all())
                rows.append([i + 1, *(f'{v:.3f}' if ok else '' for v in box),
                             f'{run.scores[i]:.4f}' if math.isfinite(run.scores[i]) else '',
                             int(run.x_used[i]), f'{run.seconds[i] * 1e3:.3f}'])
            _write_csv(path, list(TRACK_FIELDS), rows)
            paths[f'tracks:{label}:{seq.name}'] = path
            lines.append(f'| {label} | {seq.name} | {len(rows)} | {_num(run.fps)} | '
                         f'{path.relative_to(out_dir)} |')
    (out_dir / 'summary.md').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    paths['summary'] = out_dir / 'summary.md'
    return EvaluationOutput(result=None, runs=runs, computed=computed, cached=cached,
                            attributes=[], paths=paths)


def _truncate(seq: Sequence, max_frames: Optional[int]) -> Sequence:
    """The first ``max_frames`` frames of ``seq`` (the sequence itself when no cap applies)."""
    if max_frames is None or max_frames >= seq.num_frames:
        return seq
    import dataclasses
    n = int(max_frames)
    fields = {f.name: getattr(seq, f.name) for f in dataclasses.fields(seq)}
    fields.update(rgb_paths=seq.rgb_paths[:n],
                  x_paths=None if seq.x_paths is None else seq.x_paths[:n],
                  gt_xywh=seq.gt_xywh[:n],
                  gt_x_xywh=None if seq.gt_x_xywh is None else seq.gt_x_xywh[:n],
                  absent=seq.absent[:n], annotated=seq.annotated[:n])
    return type(seq)(**fields)


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
                        help='CPU threads for torch and OpenCV (default: library defaults)')
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
                                 args.x_topic, args.gt_file, init_box)
        reinit = parse_reinit(args.reinit_frames, seqs)
        out = evaluate(seqs, specs, args.out, protocol=args.protocol, reinit=reinit,
                       max_frames=args.max_frames, device=args.device or 'auto',
                       nano_dir=args.nano_dir, precision=args.precision or 'fp32',
                       backend=args.backend, model_options=model_options,
                       video=not args.no_video,
                       video_frames=args.video_frames,
                       video_fps=args.video_fps, recompute=args.recompute,
                       progress=not args.no_progress)
    except (ValueError, FileNotFoundError, BackendUnavailable) as err:
        # PeerError, SequenceError, CheckpointError, ReportError, EvaluateError are ValueErrors.
        print(f'rgbx-eval: error: {err}', file=sys.stderr)
        return 2
    if not args.quiet:
        print((Path(args.out) / 'summary.md').read_text(encoding='utf-8'))
        print(f'rgbx-eval: {len(out.computed)} run(s) computed, {len(out.cached)} from the '
              f'cache; report in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
