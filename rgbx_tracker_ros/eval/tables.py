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

"""Tables of an evaluation: ``summary.md``, ``overall.csv``, ``per_sequence.csv``,
``attributes.csv`` (:func:`write_tables`) and, for inputs without ground truth, the per-frame
tracks ``tracks/<tracker>/<sequence>.csv`` (:func:`write_tracks_only`).

Numbers in the CSV files are fractions in [0, 1] (PR, NPR, SR, VOT-LT Pr / Re / F) and frames
per second (FPS of the ``track`` calls alone); the markdown tables show percent with one
decimal. ``n/a`` marks an undefined number (e.g. NPR under the rgbt234 protocol).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval.cache import safe_name
from rgbx_tracker_ros.eval.runner import TrackRun


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


def fps_of(seconds: np.ndarray) -> float:
    """Tracked frames per second from per-frame ``track`` seconds (0 = init frame, left out)."""
    t = seconds[seconds > 0]
    return float(len(t) / t.sum()) if len(t) else float('nan')


def write_tables(out: Any, seqs: list[Sequence], out_dir: Path, protocol: str) -> str:
    """Write summary.md, overall.csv, per_sequence.csv (and attributes.csv when ``out`` has
    attribute splits) into ``out_dir``; add them to ``out.paths``; return summary.md's text.

    ``out`` is an :class:`rgbx_tracker_ros.eval.experiment.EvaluationOutput` (``result``,
    ``attributes``, ``paths``, ``fps(label[, sequence])``).
    """
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


TRACK_FIELDS = ('frame', 'x', 'y', 'w', 'h', 'score', 'x_used', 'track_ms')


def write_tracks_only(out_dir: Path, seqs: list[Sequence],
                      runs: dict[str, dict[str, TrackRun]]) -> dict[str, Path]:
    """Sequences without ground truth: write ``tracks/<tracker>/<sequence>.csv`` (frame
    1-based, box x, y, w, h in pixels (empty before the init frame), score, x_used 0/1,
    track_ms = wall time of the ``track`` call in milliseconds, 0 on the init frame) and a
    ``summary.md`` with the FPS per run and a note that nothing was scored.

    Returns:
        name -> written file ('summary', 'runs', 'tracks:<tracker>:<sequence>').
    """
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
    return paths
