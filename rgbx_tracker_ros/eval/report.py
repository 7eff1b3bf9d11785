"""Evaluation report of one or more tracker runs: metrics table, plots and an annotated video.

API (ROS-free; matplotlib through its Agg canvas, so no display and no global backend change)::

    from rgbx_tracker_ros.eval.report import write_report, format_table, SequenceRun

    result = write_report(
        'out/report',                      # folder, created if needed
        seq,                               # a data.sequences.Sequence, or a list of them
        {'t224': (boxes, scores),          # run name -> (T, 4) boxes [+ (T,) scores], or a
         'nano': boxes},                   #   SequenceRun, or {sequence name: one of those}
    )
    print(format_table(result))            # plain-text table for the console
    result.paths                           # {'report': ..., 'precision_plot': ...,
                                           #  'success_plot': ..., 'video': ... or None}
    result.summary['t224']                 # {'PR': .., 'NPR': .., 'SR': .., ...} fractions

    evaluate_runs(seqs, runs)              # the same numbers, nothing written
    score_sequence(seq, boxes)             # one run on one sequence -> SequenceScore
    write_video(seq, {'t224': boxes}, 'out/clip')   # just the annotated video

Boxes are (x, y, w, h) float pixels, top-left origin, one row per frame of the sequence (rows
before the tracker was initialised may be NaN). Scores are the tracker's per-frame confidence in
[0, 1]; when a run gives them for every sequence, the report adds the VOT long-term Pr / Re / F.

Protocol (``protocol='auto'``): VisEvent-layout sequences use :func:`metrics.visevent_sequence`
(absent frames removed, full denominator); every other sequence uses
:func:`metrics.lasher_sequence` (frame 1 := GT, invalid boxes replaced by the previous one, "-1"
centres, inclusive IoU, GT with a coordinate <= 0 or NaN scores -1: a hit for PR / NPR, a miss
for SR). ``'lasher'``, ``'visevent'``, ``'rgbt234'`` (MPR / MSR with the infrared GT, no NPR) and
``'otb'`` (continuous geometry) force one protocol. Frames a dataset does not annotate (VTUAV) are
left out. Run-level numbers average the per-sequence curves (each sequence weighs the same).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval import metrics

_logger = logging.getLogger(__name__)

PROTOCOLS = ('auto', 'lasher', 'visevent', 'rgbt234', 'otb')

_PROTOCOL_TEXT = {
    'lasher': ('LasHeR toolkit conventions (trackers.md 4.1): results truncated to the GT '
               'length; frame 1 := GT; a result with NaN / inf / w <= 0 / h <= 0 is replaced by '
               'the previous one; centres x + (w - 1) / 2; inclusive-pixel IoU; a frame whose GT '
               'has any coordinate <= 0 or NaN (target absent) gets error -1 and IoU -1, so it '
               'counts as a hit for PR / NPR and a miss for SR and stays in the denominator. '
               'PR = fraction of frames with centre error <= 20 px; NPR = fraction with the '
               'centre error, both centres divided by the GT (w, h), <= 0.20; SR = mean over '
               'IoU thresholds 0:0.05:1 of the fraction of frames with IoU > t.'),
    'visevent': ('VisEvent toolkit conventions (trackers.md 4.3): as LasHeR, but frames flagged '
                 'in absent_label.txt are removed before scoring while the rates keep the full '
                 'sequence length as denominator (absent frames act as misses).'),
    'rgbt234': ('RGBT234 MPR / MSR (trackers.md 4.2): per frame the smaller centre error and '
                'the larger inclusive IoU over the visible and infrared GT; no frame-1 '
                'replacement, no masking; no normalised precision.'),
    'otb': ('Plain OTB-style curves: centres x + w / 2, continuous IoU, no special frames; '
            'SR = mean over IoU thresholds 0:0.05:1 (success AUC).'),
}

# BGR colours for the video, GT first.
_GT_BGR = (0, 220, 0)
_RUN_BGR = ((0, 0, 255), (255, 128, 0), (0, 200, 255), (255, 0, 255), (255, 255, 0),
            (128, 0, 255), (0, 128, 255), (200, 200, 200))
_RUN_MPL = ('tab:red', 'tab:blue', 'tab:orange', 'tab:purple', 'tab:cyan', 'tab:pink',
            'tab:brown', 'tab:gray')


class ReportError(ValueError):
    """Runs and sequences do not match (missing sequence, wrong frame count, unknown protocol)."""


@dataclass
class SequenceRun:
    """One run on one sequence.

    Attributes:
        pred_xywh: (T, 4) boxes, pixels, top-left origin (NaN rows allowed).
        scores: (T,) confidences in [0, 1], or None.
    """

    pred_xywh: np.ndarray
    scores: np.ndarray | None = None


@dataclass
class SequenceScore:
    """Scores of one run on one sequence (fractions in [0, 1]; NPR NaN where undefined)."""

    run: str
    sequence: str
    protocol: str
    num_frames: int
    pr: float
    npr: float
    sr: float
    curves: metrics.Curves


@dataclass
class ReportResult:
    """What :func:`write_report` computed and wrote.

    Attributes:
        rows: per run and sequence :class:`SequenceScore`, runs in the given order.
        overall: run name -> :class:`metrics.Curves` averaged over the run's sequences.
        vot_lt: run name -> :class:`metrics.VotLtResult` when the run has scores, else absent.
        summary: run name -> {'PR', 'NPR', 'SR', 'sequences', 'frames' [, 'Pr', 'Re', 'F']}.
        paths: 'report', 'precision_plot', 'success_plot', 'video' (Path or None).
        protocols: sequence name -> protocol used.
    """

    rows: list[SequenceScore]
    overall: dict[str, metrics.Curves]
    vot_lt: dict[str, metrics.VotLtResult]
    summary: dict[str, dict[str, float]]
    paths: dict[str, Path | None] = field(default_factory=dict)
    protocols: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs

def _as_run(value: Any, seq: Sequence, run_name: str) -> SequenceRun:
    if isinstance(value, SequenceRun):
        run = value
    elif isinstance(value, tuple):
        if len(value) != 2:
            raise ReportError(f'run {run_name!r} on {seq.name}: a tuple must be (boxes, scores)')
        run = SequenceRun(value[0], value[1])
    else:
        run = SequenceRun(value)
    pred = np.asarray(run.pred_xywh, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise ReportError(f'run {run_name!r} on {seq.name}: boxes must be (T, 4), got '
                          f'{pred.shape}')
    if len(pred) != seq.num_frames:
        raise ReportError(f'run {run_name!r} on {seq.name}: {len(pred)} boxes for '
                          f'{seq.num_frames} frames; give one row per frame (NaN if none)')
    scores = None
    if run.scores is not None:
        scores = np.asarray(run.scores, dtype=np.float64).reshape(-1)
        if len(scores) != seq.num_frames:
            raise ReportError(f'run {run_name!r} on {seq.name}: {len(scores)} scores for '
                              f'{seq.num_frames} frames')
    return SequenceRun(pred, scores)


def _normalise_runs(sequences: list[Sequence],
                    runs: Mapping[str, Any]) -> dict[str, dict[str, SequenceRun]]:
    if not runs:
        raise ReportError('no runs given')
    out: dict[str, dict[str, SequenceRun]] = {}
    for name, value in runs.items():
        if isinstance(value, Mapping):
            missing = [s.name for s in sequences if s.name not in value]
            if missing:
                raise ReportError(f'run {name!r} has no result for sequence(s) {missing}')
            out[str(name)] = {s.name: _as_run(value[s.name], s, name) for s in sequences}
        else:
            if len(sequences) != 1:
                raise ReportError(f'run {name!r}: give a {{sequence name: boxes}} dict when '
                                  f'reporting {len(sequences)} sequences')
            out[str(name)] = {sequences[0].name: _as_run(value, sequences[0], name)}
    return out


def _protocol_for(seq: Sequence, protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ReportError(f'unknown protocol {protocol!r}; known: {", ".join(PROTOCOLS)}')
    if protocol != 'auto':
        return protocol
    return 'visevent' if seq.layout == 'visevent' else 'lasher'


def score_sequence(seq: Sequence, pred_xywh: np.ndarray, protocol: str = 'auto') -> SequenceScore:
    """Score (T, 4) boxes on ``seq`` with ``protocol`` (see the module docstring).

    Only annotated frames (``seq.annotated``) are scored.

    Raises:
        ReportError: unknown protocol or wrong number of boxes.
    """
    proto = _protocol_for(seq, protocol)
    pred = _as_run(pred_xywh, seq, 'boxes').pred_xywh
    keep = seq.annotated
    gt = seq.gt_xywh[keep]
    pred = pred[keep]
    if proto == 'lasher':
        curves = metrics.lasher_sequence(pred, gt)
    elif proto == 'visevent':
        curves = metrics.visevent_sequence(pred, gt, seq.absent[keep])
    elif proto == 'rgbt234':
        gt_x = None if seq.gt_x_xywh is None else seq.gt_x_xywh[keep]
        curves = metrics.rgbt234_sequence(pred, gt, gt_x)
    else:
        curves = metrics.otb_sequence(pred, gt)
    return SequenceScore(run='', sequence=seq.name, protocol=proto, num_frames=int(keep.sum()),
                         pr=curves.pr, npr=curves.npr, sr=curves.sr, curves=curves)


# --------------------------------------------------------------------------- evaluation

def evaluate_runs(sequences: Sequence | list[Sequence], runs: Mapping[str, Any],
                  protocol: str = 'auto') -> ReportResult:
    """Compute all metrics without writing anything (same inputs as :func:`write_report`).

    Raises:
        ReportError: runs and sequences do not match, or unknown protocol.
    """
    seqs = [sequences] if isinstance(sequences, Sequence) else list(sequences)
    if not seqs:
        raise ReportError('no sequences given')
    names = [s.name for s in seqs]
    if len(set(names)) != len(names):
        raise ReportError(f'sequence names must be unique, got {names}')
    table = _normalise_runs(seqs, runs)
    rows: list[SequenceScore] = []
    overall: dict[str, metrics.Curves] = {}
    vot: dict[str, metrics.VotLtResult] = {}
    summary: dict[str, dict[str, float]] = {}
    protocols = {s.name: _protocol_for(s, protocol) for s in seqs}
    for run_name, per_seq in table.items():
        run_rows = []
        for seq in seqs:
            row = score_sequence(seq, per_seq[seq.name].pred_xywh, protocols[seq.name])
            row.run = run_name
            run_rows.append(row)
        rows.extend(run_rows)
        avg = metrics.average_curves([r.curves for r in run_rows])
        overall[run_name] = avg
        summary[run_name] = {'PR': avg.pr, 'NPR': avg.npr, 'SR': avg.sr,
                             'sequences': float(len(run_rows)),
                             'frames': float(sum(r.num_frames for r in run_rows))}
        if all(per_seq[s.name].scores is not None for s in seqs):
            keep = [s.annotated for s in seqs]
            result = metrics.vot_lt_prf(
                [per_seq[s.name].pred_xywh[k] for s, k in zip(seqs, keep)],
                [per_seq[s.name].scores[k] for s, k in zip(seqs, keep)],
                [np.where(s.absent[k][:, None], np.nan, s.gt_xywh[k]) for s, k in zip(seqs, keep)],
                image_sizes_wh=[s.attributes.get('image_size_wh') for s in seqs])
            vot[run_name] = result
            summary[run_name].update({'Pr': result.precision, 'Re': result.recall,
                                      'F': result.f_score})
    return ReportResult(rows=rows, overall=overall, vot_lt=vot, summary=summary,
                        protocols=protocols)


# --------------------------------------------------------------------------- text

def _pct(value: float) -> str:
    return '  n/a' if not np.isfinite(value) else f'{100.0 * value:5.1f}'


def format_table(result: ReportResult) -> str:
    """Plain-text table (percent) of every run x sequence plus one 'ALL' row per run."""
    header = ('run', 'sequence', 'protocol', 'frames', 'PR@20', 'NPR@.2', 'SR')
    lines = []
    for run_name, avg in result.overall.items():
        for row in (r for r in result.rows if r.run == run_name):
            lines.append((run_name, row.sequence, row.protocol, str(row.num_frames),
                          _pct(row.pr), _pct(row.npr), _pct(row.sr)))
        if avg.num_sequences > 1:
            frames = int(result.summary[run_name]['frames'])
            lines.append((run_name, 'ALL (mean)', '', str(frames), _pct(avg.pr),
                          _pct(avg.npr), _pct(avg.sr)))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = '  '.join(f'{{:<{w}}}' if i < 3 else f'{{:>{w}}}' for i, w in enumerate(widths))
    out = [fmt.format(*header), '  '.join('-' * w for w in widths)]
    out += [fmt.format(*line) for line in lines]
    if result.vot_lt:
        out.append('')
        out.append('VOT long-term (confidence-thresholded): run, Pr, Re, F, threshold')
        for run_name, v in result.vot_lt.items():
            out.append(f'  {run_name}: Pr {_pct(v.precision)}  Re {_pct(v.recall)}  '
                       f'F {_pct(v.f_score)}  tau {v.threshold:.3f}')
    return '\n'.join(out)


def _markdown(result: ReportResult, seqs: list[Sequence], title: str) -> str:
    lines = [f'# {title}', '', '## Sequences', '',
             '| sequence | layout | modality | frames | scored | absent |',
             '|---|---|---|---:|---:|---:|']
    for s in seqs:
        lines.append(f'| {s.name} | {s.layout} | {s.modality.value} | {s.num_frames} | '
                     f'{int(s.annotated.sum())} | {int(s.absent.sum())} |')
    lines += ['', '## Metrics (percent)', '',
              '| run | sequence | protocol | PR@20px | NPR@0.20 | SR |',
              '|---|---|---|---:|---:|---:|']
    for run_name, avg in result.overall.items():
        for r in (r for r in result.rows if r.run == run_name):
            lines.append(f'| {run_name} | {r.sequence} | {r.protocol} | {_pct(r.pr).strip()} | '
                         f'{_pct(r.npr).strip()} | {_pct(r.sr).strip()} |')
        if avg.num_sequences > 1:
            lines.append(f'| {run_name} | **mean of {avg.num_sequences}** | | '
                         f'{_pct(avg.pr).strip()} | {_pct(avg.npr).strip()} | '
                         f'{_pct(avg.sr).strip()} |')
    if result.vot_lt:
        lines += ['', '## VOT long-term precision / recall / F (percent)', '',
                  '| run | Pr | Re | F | threshold |', '|---|---:|---:|---:|---:|']
        for run_name, v in result.vot_lt.items():
            lines.append(f'| {run_name} | {_pct(v.precision).strip()} | '
                         f'{_pct(v.recall).strip()} | {_pct(v.f_score).strip()} | '
                         f'{v.threshold:.3f} |')
    lines += ['', '## How the numbers were computed', '']
    for proto in sorted(set(result.protocols.values())):
        used = ', '.join(n for n, p in result.protocols.items() if p == proto)
        lines.append(f'- **{proto}** ({used}): {_PROTOCOL_TEXT[proto]}')
    lines.append('- Run-level rows average the per-sequence curves, each sequence weighing the '
                 'same (as the benchmark toolkits do). Only annotated frames are scored.')
    if result.vot_lt:
        lines.append('- VOT long-term: thresholds from all confidences of the run (100 '
                     'quantiles plus +/-inf); per sequence Pr = mean IoU over frames with '
                     'confidence >= tau (1 if none), Re = sum of those IoUs / frames with the '
                     'target visible; averaged over sequences; F = max over tau of 2PrRe/(Pr+Re) '
                     '(votchallenge toolkit, trackers.md 4.4).')
    lines += ['', '## Plots', '']
    for key in ('precision_plot', 'success_plot', 'video'):
        path = result.paths.get(key)
        if path is not None:
            link = f'![{key}]({path.name})' if path.suffix == '.png' else f'[{key}]({path.name})'
            lines.append(link)
            lines.append('')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- plots

def _plot(result: ReportResult, path: Path, kind: str, title: str) -> Path:
    fig = Figure(figsize=(6.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, (run_name, avg) in enumerate(result.overall.items()):
        colour = _RUN_MPL[i % len(_RUN_MPL)]
        if kind == 'precision':
            ax.plot(metrics.PR_THRESHOLDS_PX, avg.pr_curve, color=colour, linewidth=2,
                    label=f'{run_name} [{100 * avg.pr:.1f}]')
        else:
            ax.plot(metrics.SR_THRESHOLDS, avg.sr_curve, color=colour, linewidth=2,
                    label=f'{run_name} [{100 * avg.sr:.1f}]')
    if kind == 'precision':
        ax.set_xlabel('location error threshold (pixels)')
        ax.set_ylabel('precision')
        ax.axvline(20, color='0.6', linestyle=':', linewidth=1)
        ax.set_xlim(0, 50)
    else:
        ax.set_xlabel('overlap threshold (IoU)')
        ax.set_ylabel('success rate')
        ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(loc='lower right' if kind == 'precision' else 'lower left', fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path))
    return path


# --------------------------------------------------------------------------- video

def _open_writer(stem: Path, fps: float, size_wh: tuple[int, int]) -> tuple[Any, Path]:
    """mp4v .mp4, or MJPG .avi if that cannot be opened."""
    for suffix, fourcc in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        path = stem.with_suffix(suffix)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps),
                                 size_wh)
        if writer.isOpened():
            return writer, path
        writer.release()
        _logger.warning('cv2.VideoWriter cannot open %s with %s', path, fourcc)
    raise ReportError(f'cv2.VideoWriter cannot write {stem}.mp4 (mp4v) nor {stem}.avi (MJPG)')


def _draw_box(image: np.ndarray, box, colour, thickness: int, scale_x: float = 1.0) -> None:
    b = np.asarray(box, dtype=np.float64)
    if not np.all(np.isfinite(b)) or b[2] <= 0 or b[3] <= 0:
        return
    p1 = (int(round(b[0] * scale_x)), int(round(b[1] * scale_x)))
    p2 = (int(round((b[0] + b[2]) * scale_x)), int(round((b[1] + b[3]) * scale_x)))
    cv2.rectangle(image, p1, p2, colour, thickness, cv2.LINE_AA)


def _to_bgr(image: np.ndarray, encoding: str) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if encoding == 'rgb8' else image.copy()


def _x_panel(seq: Sequence, index: int, height: int) -> np.ndarray | None:
    try:
        from rgbx_tracker_ros.core.modality import encode_x
        x = encode_x(seq.read_x(index), seq.x_encoding, seq.modality)
    except (ValueError, ImportError) as err:
        _logger.warning('no X panel in the video: %s', err)
        return None
    bgr = cv2.cvtColor(x, cv2.COLOR_RGB2BGR)
    if bgr.shape[0] != height:
        width = int(round(bgr.shape[1] * height / bgr.shape[0]))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    return bgr


def write_video(seq: Sequence, runs: Mapping[str, SequenceRun], stem: str | Path,
                fps: float = 10.0, max_frames: int | None = None,
                show_x: bool = True) -> Path:
    """Write an annotated video of ``seq``: GT (green) and every run's box, with a legend.

    When the sequence has X and ``show_x`` is set, the X frame (encoded by
    ``core.modality.encode_x``) is shown to the right with the same boxes.

    Args:
        seq: the sequence.
        runs: run name -> :class:`SequenceRun` (or (T, 4) boxes).
        stem: output path without suffix; '.mp4' (mp4v) is tried first, then '.avi' (MJPG).
        fps: frames per second of the video.
        max_frames: write at most this many frames (None = all).
        show_x: add the X panel.

    Returns:
        The path written.

    Raises:
        ReportError: no writer could be opened, or bad run boxes.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    runs = {k: _as_run(v, seq, k) for k, v in runs.items()}
    n = seq.num_frames if max_frames is None else min(seq.num_frames, int(max_frames))
    writer = None
    path = stem.with_suffix('.mp4')
    try:
        for i in range(n):
            frame = _to_bgr(seq.read_rgb(i), seq.rgb_encoding)
            h, w = frame.shape[:2]
            panels = [frame]
            x_scale = 1.0
            if show_x and seq.has_x:
                xp = _x_panel(seq, i, h)
                if xp is not None:
                    x_w = seq.attributes.get('x_image_size_wh', (w, h))
                    x_scale = h / float(x_w[1])
                    panels.append(xp)
            for p_idx, panel in enumerate(panels):
                scale = 1.0 if p_idx == 0 else x_scale
                gt_box = seq.gt_x_xywh[i] if (p_idx and seq.gt_x_xywh is not None) \
                    else seq.gt_xywh[i]
                if seq.annotated[i] and not seq.absent[i]:
                    _draw_box(panel, gt_box, _GT_BGR, 2, scale)
                for k, run in enumerate(runs.values()):
                    _draw_box(panel, run.pred_xywh[i], _RUN_BGR[k % len(_RUN_BGR)], 2, scale)
            canvas = np.concatenate(panels, axis=1) if len(panels) > 1 else frame
            legend = [('GT', _GT_BGR)] + [(name, _RUN_BGR[k % len(_RUN_BGR)])
                                          for k, name in enumerate(runs)]
            box_w = 24 + 8 * max(len(f'{seq.name} #{n}'), *(len(lab) for lab, _ in legend))
            roi = canvas[0:22 + 16 * len(legend), 0:min(box_w, canvas.shape[1])]
            roi[:] = (roi * 0.35).astype(np.uint8)          # darken behind the legend
            y = 16
            cv2.putText(canvas, f'{seq.name} #{i + 1}', (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (255, 255, 255), 1, cv2.LINE_AA)
            for label, colour in legend:
                y += 16
                cv2.rectangle(canvas, (6, y - 9), (18, y + 1), colour, -1)
                cv2.putText(canvas, label, (24, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                            cv2.LINE_AA)
            if writer is None:
                size = (canvas.shape[1], canvas.shape[0])
                writer, path = _open_writer(stem, fps, size)
            writer.write(np.ascontiguousarray(canvas))
    finally:
        if writer is not None:
            writer.release()
    return path


# --------------------------------------------------------------------------- entry point

def write_report(out_dir: str | Path, sequences: Sequence | list[Sequence],
                 runs: Mapping[str, Any], protocol: str = 'auto', video: bool = True,
                 video_sequence: str | None = None, fps: float = 10.0,
                 video_max_frames: int | None = None, title: str | None = None) -> ReportResult:
    """Score the runs and write report.md, precision.png, success.png and an annotated video.

    Args:
        out_dir: output folder (created).
        sequences: one :class:`Sequence` or a list.
        runs: run name -> per-sequence results: a dict {sequence name: value} or, for a single
            sequence, the value itself; a value is (T, 4) boxes, a (boxes, scores) tuple or a
            :class:`SequenceRun`.
        protocol: 'auto', 'lasher', 'visevent', 'rgbt234' or 'otb' (module docstring).
        video: write the annotated video.
        video_sequence: which sequence to render (default: the first).
        fps: video frame rate.
        video_max_frames: cap on the number of video frames (None = all).
        title: heading of report.md and the plots.

    Returns:
        :class:`ReportResult` with the metrics and ``paths`` of the files written.

    Raises:
        ReportError: runs and sequences do not match, unknown protocol / sequence, or no video
            writer could be opened.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seqs = [sequences] if isinstance(sequences, Sequence) else list(sequences)
    result = evaluate_runs(seqs, runs, protocol)
    title = title or ('Tracking report: ' + ', '.join(s.name for s in seqs[:3])
                      + (' ...' if len(seqs) > 3 else ''))
    suffix = f' ({len(seqs)} sequences)' if len(seqs) > 1 else f' ({seqs[0].name})'
    result.paths['precision_plot'] = _plot(result, out / 'precision.png', 'precision',
                                           'Precision plot' + suffix)
    result.paths['success_plot'] = _plot(result, out / 'success.png', 'success',
                                         'Success plot' + suffix)
    result.paths['video'] = None
    if video:
        by_name = {s.name: s for s in seqs}
        name = video_sequence or seqs[0].name
        if name not in by_name:
            raise ReportError(f'video_sequence {name!r} is not one of {list(by_name)}')
        table = _normalise_runs(seqs, runs)
        result.paths['video'] = write_video(
            by_name[name], {k: v[name] for k, v in table.items()}, out / f'{name}_tracks',
            fps=fps, max_frames=video_max_frames)
    result.paths['report'] = out / 'report.md'
    result.paths['report'].write_text(_markdown(result, seqs, title), encoding='utf-8')
    _logger.info('report written to %s', result.paths['report'])
    return result


# --------------------------------------------------------------------------- attribute splits

#: LasHeR challenge attributes in the column order of ``AttriSeqsTxt/<sequence>.txt`` (used
#: when the dataset has no ``Attributes_order.txt``).
LASHER_ATTRIBUTES = ('NO', 'PO', 'TO', 'HO', 'MB', 'LI', 'HI', 'AIV', 'LR', 'DEF', 'BC', 'SA',
                     'CM', 'TC', 'FL', 'OV', 'FM', 'SV', 'ARC')


def _flags(path: Path) -> np.ndarray:
    text = path.read_text(encoding='utf-8', errors='replace')
    try:
        return np.asarray([float(v) for v in text.replace(',', ' ').split()], dtype=np.float64)
    except ValueError:
        raise ReportError(f'attribute file {path}: expected 0/1 numbers') from None


def sequence_attributes(seq: Sequence) -> set[str]:
    """Challenge attributes of ``seq`` found next to it on disk (sequence-level, as the
    benchmark toolkits split results).

    Sources, all optional, merged:

    - ``<sequence>/<NAME>.tag``: one 0/1 per frame (VOT / DepthTrack / RGBT234 style); the
      sequence has NAME when any frame is flagged.
    - ``<dataset>/attr_txt/<NAME>.txt`` + ``<dataset>/attr_txt/SequencesName.txt`` (RGBT234 /
      RGBT210 toolkit): one 0/1 per sequence, in the order of ``SequencesName.txt``.
    - ``<dataset>/AttriSeqsTxt/<sequence>.txt`` (LasHeR toolkit): one row of 0/1 flags in the
      order of ``<dataset>/Attributes_order.txt`` (default :data:`LASHER_ATTRIBUTES`).

    ``<dataset>`` is the parent folder of the sequence folder (``attributes['root']``).

    Raises:
        ReportError: an attribute file that is not 0/1 numbers, or whose length does not match.
    """
    root = seq.attributes.get('root')
    if not root:
        return set()
    root = Path(root)
    found: set[str] = set()
    if root.is_dir():
        for tag in sorted(root.glob('*.tag')):
            flags = _flags(tag)
            if len(flags) != seq.num_frames:
                raise ReportError(f'{tag} has {len(flags)} flags for {seq.num_frames} frames')
            if np.any(flags > 0):
                found.add(tag.stem)
    dataset = root.parent
    attr_dir = dataset / 'attr_txt'
    names_file = attr_dir / 'SequencesName.txt'
    if names_file.is_file():
        names = [n.strip() for n in names_file.read_text(encoding='utf-8').split()]
        if seq.name in names:
            index = names.index(seq.name)
            for path in sorted(attr_dir.glob('*.txt')):
                if path.name == 'SequencesName.txt':
                    continue
                flags = _flags(path)
                if index < len(flags) and flags[index] > 0:
                    found.add(path.stem)
    lasher = dataset / 'AttriSeqsTxt' / f'{seq.name}.txt'
    if lasher.is_file():
        order_file = dataset / 'Attributes_order.txt'
        order = LASHER_ATTRIBUTES
        if order_file.is_file():
            order = tuple(v for v in order_file.read_text(encoding='utf-8')
                          .replace(',', ' ').split())
        flags = _flags(lasher)
        if len(flags) != len(order):
            raise ReportError(f'{lasher} has {len(flags)} flags for {len(order)} attributes '
                              f'({", ".join(order)})')
        found.update(name for name, flag in zip(order, flags) if flag > 0)
    return found


@dataclass
class AttributeScore:
    """Scores of one run averaged over the sequences that have one attribute (fractions)."""

    attribute: str
    run: str
    sequences: list[str]
    pr: float
    npr: float
    sr: float
    curves: metrics.Curves


def attribute_splits(result: ReportResult,
                     attributes: Mapping[str, set[str]]) -> list[AttributeScore]:
    """Per attribute and run: the per-sequence curves of ``result`` averaged over the sequences
    that have the attribute (each sequence weighs the same, as in the RGBT234 / LasHeR
    toolkits' attribute evaluation).

    Args:
        result: from :func:`evaluate_runs` / :func:`write_report`.
        attributes: sequence name -> its attribute names (e.g. :func:`sequence_attributes`).

    Returns:
        Rows sorted by attribute name, runs in ``result`` order; attributes that no scored
        sequence has are left out.
    """
    names = sorted({a for attrs in attributes.values() for a in attrs})
    out: list[AttributeScore] = []
    for attr in names:
        with_attr = [s for s, attrs in attributes.items() if attr in attrs]
        for run_name in result.overall:
            rows = [r for r in result.rows if r.run == run_name and r.sequence in with_attr]
            if not rows:
                continue
            avg = metrics.average_curves([r.curves for r in rows])
            out.append(AttributeScore(attribute=attr, run=run_name,
                                      sequences=[r.sequence for r in rows],
                                      pr=avg.pr, npr=avg.npr, sr=avg.sr, curves=avg))
    return out
