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

Parts: scoring and attributes in :mod:`rgbx_tracker_ros.eval.scoring`, plots in
:mod:`rgbx_tracker_ros.eval.plots`, videos in :mod:`rgbx_tracker_ros.eval.video`; their names
are re-exported here.

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
from pathlib import Path
from typing import Any, Mapping

import cv2  # noqa: F401 - ``report.cv2`` (the video writer) as before the split
import numpy as np

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval.plots import _RUN_MPL, plot_curves  # noqa: F401
from rgbx_tracker_ros.eval.scoring import (  # noqa: F401 - re-exported
    LASHER_ATTRIBUTES, PROTOCOL_TEXT, PROTOCOLS, AttributeScore, ReportError, ReportResult,
    SequenceRun, SequenceScore, _as_run, _flags, _normalise_runs, _protocol_for,
    attribute_splits, evaluate_runs, score_sequence, sequence_attributes)
from rgbx_tracker_ros.eval.video import (  # noqa: F401 - re-exported
    _GT_BGR, _RUN_BGR, _draw_box, _open_writer, _to_bgr, _x_panel, write_video)

_logger = logging.getLogger(__name__)
_PROTOCOL_TEXT = PROTOCOL_TEXT
_plot = plot_curves


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
