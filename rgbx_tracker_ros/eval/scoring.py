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

"""Scoring runs on sequences: protocols, per-sequence scores, run averages, attribute splits.

``score_sequence(seq, boxes, protocol)`` scores one run on one sequence; ``evaluate_runs(seqs,
runs, protocol)`` all runs on all sequences (per-sequence rows, run-level curves averaged over
the sequences, VOT long-term Pr / Re / F where every sequence has scores);
``attribute_splits(result, {sequence: attributes})`` the same averages per challenge attribute.

Protocol ``'auto'`` scores each sequence with the protocol its reader attached
(``Sequence.protocol``: 'visevent' for VisEvent folders, 'lasher' for the others; see
:mod:`rgbx_tracker_ros.data.readers`); ``'lasher'``, ``'visevent'``, ``'rgbt234'`` and ``'otb'``
force one (:data:`PROTOCOL_TEXT` says how each number is computed). Challenge attributes are
read from the files the sequence's reader names (``Sequence.attribute_formats``), when asked
(:func:`sequence_attributes`), so edits of those files are seen.

Boxes are (x, y, w, h) float pixels, top-left origin, one row per frame (NaN rows allowed);
scores are per-frame confidences in [0, 1]; all rates are fractions in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rgbx_tracker_ros.data.readers.base import ATTRIBUTE_FORMATS, Sequence
from rgbx_tracker_ros.eval import metrics

PROTOCOLS = ('auto', 'lasher', 'visevent', 'rgbt234', 'otb')

#: How each protocol computes its numbers (for the reports).
PROTOCOL_TEXT = {
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
    """The protocol ``seq`` is scored with: ``protocol``, or for 'auto' the one its reader
    attached (``seq.protocol``)."""
    if protocol not in PROTOCOLS:
        raise ReportError(f'unknown protocol {protocol!r}; known: {", ".join(PROTOCOLS)}')
    if protocol != 'auto':
        return protocol
    return seq.protocol


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

    ``<dataset>`` is the parent folder of the sequence folder (``attributes['root']``). Only
    the formats the sequence's reader attached (``seq.attribute_formats``: 'tag',
    'attr_txt', 'attriseqs') are read, when this is called.

    Raises:
        ReportError: an attribute file that is not 0/1 numbers, or whose length does not match.
    """
    root = seq.attributes.get('root')
    formats = set(getattr(seq, 'attribute_formats', ATTRIBUTE_FORMATS))
    if not root or not formats:
        return set()
    root = Path(root)
    found: set[str] = set()
    for fmt in ATTRIBUTE_FORMATS:
        if fmt in formats:
            found |= _ATTRIBUTE_READERS[fmt](seq, root)
    return found


def _tag_attributes(seq: Sequence, root: Path) -> set[str]:
    """'tag': ``<sequence>/<NAME>.tag``, one 0/1 per frame; NAME when any frame is flagged."""
    found: set[str] = set()
    if root.is_dir():
        for tag in sorted(root.glob('*.tag')):
            flags = _flags(tag)
            if len(flags) != seq.num_frames:
                raise ReportError(f'{tag} has {len(flags)} flags for {seq.num_frames} frames')
            if np.any(flags > 0):
                found.add(tag.stem)
    return found


def _attr_txt_attributes(seq: Sequence, root: Path) -> set[str]:
    """'attr_txt': ``<dataset>/attr_txt/<NAME>.txt`` in the order of ``SequencesName.txt``."""
    found: set[str] = set()
    attr_dir = root.parent / 'attr_txt'
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
    return found


def _attriseqs_attributes(seq: Sequence, root: Path) -> set[str]:
    """'attriseqs': ``<dataset>/AttriSeqsTxt/<sequence>.txt`` in the order of
    ``<dataset>/Attributes_order.txt`` (default :data:`LASHER_ATTRIBUTES`)."""
    dataset = root.parent
    lasher = dataset / 'AttriSeqsTxt' / f'{seq.name}.txt'
    if not lasher.is_file():
        return set()
    order_file = dataset / 'Attributes_order.txt'
    order = LASHER_ATTRIBUTES
    if order_file.is_file():
        order = tuple(v for v in order_file.read_text(encoding='utf-8')
                      .replace(',', ' ').split())
    flags = _flags(lasher)
    if len(flags) != len(order):
        raise ReportError(f'{lasher} has {len(flags)} flags for {len(order)} attributes '
                          f'({", ".join(order)})')
    return {name for name, flag in zip(order, flags) if flag > 0}


_ATTRIBUTE_READERS = {'tag': _tag_attributes, 'attr_txt': _attr_txt_attributes,
                      'attriseqs': _attriseqs_attributes}


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
