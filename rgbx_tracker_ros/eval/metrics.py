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

"""Single-object tracking metrics of the RGB-X benchmarks, pure numpy.

All boxes are (T, 4) float arrays of (x, y, w, h) in pixels with a top-left origin, one row per
frame. Each benchmark differs in its box conventions and in how it treats absent targets, so each
has its own function (one generic routine does not reproduce published numbers):

=====================  ======================================================================
function               follows
=====================  ======================================================================
lasher_sequence        LasHeR MATLAB toolkit (``calc_seq_err_robust.m``, ``eval_tracker.m``):
                       PR@20 px, NPR@0.20, SR (mean over 21 IoU thresholds); frame 1 := GT;
                       invalid results replaced by the previous one; centres ``x + (w - 1) / 2``;
                       inclusive-pixel IoU; GT with any coordinate <= 0 (or NaN) scores -1.
visevent_sequence      VisEvent_SOT_Benchmark (same code, plus ``absent_label``: absent frames are
                       removed but the rates keep the full sequence length as denominator).
rgbt234_sequence       RGBT234 MPR / MSR as in the Python RGBT toolkit (``rgbt`` package): per
                       frame the smaller centre error / larger IoU over the visible and infrared
                       GT; no frame-1 replacement, no masking.
vot_lt_prf             VOT long-term Pr / Re / F (DepthTrack, VOT-RGBD2021/2022-LT; votchallenge
                       ``vot/analysis/longterm.py``): needs a confidence per frame.
otb_sequence           plain OTB / got10k-style curves: continuous centres ``x + w / 2``,
                       continuous IoU, success AUC = mean over 21 thresholds, no special frames.
=====================  ======================================================================

Per-sequence functions return :class:`Curves`; :func:`average_curves` (and
:func:`lasher_dataset` for the LasHeR plot rule) average them over sequences, which is how every
one of these toolkits aggregates (each sequence has the same weight). Scalars are fractions in
[0, 1] (multiply by 100 for the percentages papers print).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..core.boxes import iou_xywh

#: Centre-error thresholds in pixels (0..50); PR is read at 20 px (index 20).
PR_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
#: Normalised centre-error thresholds 0:0.01:0.5; NPR is read at 0.20 (index 20).
NPR_THRESHOLDS = np.linspace(0.0, 0.5, 51)
#: IoU thresholds 0:0.05:1; SR / AUC is the mean of the success curve over these 21 values.
SR_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PR_INDEX = 20
NPR_INDEX = 20


class MetricInputError(ValueError):
    """Boxes, scores or masks handed to a metric have the wrong shape or length."""


@dataclass(frozen=True)
class Curves:
    """Precision / normalised precision / success curves of one sequence or of a whole set.

    Attributes:
        pr_curve: (51,) fraction of frames with centre error <= t px, t = 0..50.
        npr_curve: (51,) fraction with normalised centre error <= t, t = 0:0.01:0.5; None where
            the protocol has no normalised precision (RGBT234 MPR / MSR).
        sr_curve: (21,) fraction of frames with IoU > t, t = 0:0.05:1.
        center_error: (T,) per-frame error in pixels used for ``pr_curve`` (-1 = masked frame,
            NaN = never a hit); None for averaged curves.
        iou: (T,) per-frame IoU used for ``sr_curve`` (-1 = masked frame); None for averages.
        num_sequences: how many sequences were averaged (1 for a single sequence).
    """

    pr_curve: np.ndarray
    npr_curve: np.ndarray | None
    sr_curve: np.ndarray
    center_error: np.ndarray | None = None
    iou: np.ndarray | None = None
    num_sequences: int = 1

    @property
    def pr(self) -> float:
        """Precision at 20 px (PR / MPR)."""
        return float(self.pr_curve[PR_INDEX])

    @property
    def npr(self) -> float:
        """Normalised precision at 0.20 (NaN where the protocol has none)."""
        return float('nan') if self.npr_curve is None else float(self.npr_curve[NPR_INDEX])

    @property
    def sr(self) -> float:
        """Success rate: mean of the success curve over the 21 thresholds (SR / MSR / AUC)."""
        return float(np.mean(self.sr_curve))


# --------------------------------------------------------------------------- input checks

def _boxes(boxes, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricInputError(f'{name} must be a (T, 4) array of x, y, w, h boxes in pixels, '
                               f'got shape {arr.shape}')
    return arr


def _pred_gt(pred_xywh, gt_xywh, truncate: bool) -> tuple[np.ndarray, np.ndarray]:
    pred = _boxes(pred_xywh, 'pred_xywh')
    gt = _boxes(gt_xywh, 'gt_xywh')
    if len(gt) == 0:
        raise MetricInputError('gt_xywh has no frames')
    if truncate and len(pred) > len(gt):
        pred = pred[:len(gt)]
    if len(pred) != len(gt):
        raise MetricInputError(f'pred_xywh has {len(pred)} frames but gt_xywh has {len(gt)}; '
                               f'write one result row per ground-truth frame')
    return pred.copy(), gt


def _mask(mask, length: int, name: str) -> np.ndarray:
    arr = np.asarray(mask).astype(bool).reshape(-1)
    if arr.shape[0] != length:
        raise MetricInputError(f'{name} has {arr.shape[0]} entries, expected {length} (one per '
                               f'frame)')
    return arr


# --------------------------------------------------------------------------- geometry

def centers_minus1(boxes_xywh: np.ndarray) -> np.ndarray:
    """(T, 2) centres with the OTB/LasHeR MATLAB "-1 pixel" convention: x + (w - 1) / 2."""
    return boxes_xywh[:, :2] + (boxes_xywh[:, 2:] - 1.0) / 2.0


def iou_inclusive(a_xywh: np.ndarray, b_xywh: np.ndarray) -> np.ndarray:
    """(T,) IoU of boxes treated as inclusive pixel ranges (OTB ``calcRectInt`` convention).

    Right edge = x + w - 1; intersection side = min(right) - max(left) + 1 clipped at 0;
    union = wA*hA + wB*hB - intersection. Rows with a non-positive union give 0.
    """
    a = np.asarray(a_xywh, dtype=np.float64)
    b = np.asarray(b_xywh, dtype=np.float64)
    a_r = a[:, 0] + a[:, 2] - 1.0
    a_b = a[:, 1] + a[:, 3] - 1.0
    b_r = b[:, 0] + b[:, 2] - 1.0
    b_b = b[:, 1] + b[:, 3] - 1.0
    iw = np.clip(np.minimum(a_r, b_r) - np.maximum(a[:, 0], b[:, 0]) + 1.0, 0.0, None)
    ih = np.clip(np.minimum(a_b, b_b) - np.maximum(a[:, 1], b[:, 1]) + 1.0, 0.0, None)
    inter = iw * ih
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.where(np.isnan(inter) | np.isnan(union), np.nan, iou)


def iou_continuous(a_xywh: np.ndarray, b_xywh: np.ndarray) -> np.ndarray:
    """(T,) IoU of continuous boxes [x, x + w) x [y, y + h); 0 where the union is empty, NaN where
    either box has a NaN coordinate (:func:`rgbx_tracker_ros.core.boxes.iou_xywh` plus NaN
    rows)."""
    a = np.asarray(a_xywh, dtype=np.float64)
    b = np.asarray(b_xywh, dtype=np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = iou_xywh(a, b)
    return np.where(np.isnan(a).any(-1) | np.isnan(b).any(-1), np.nan, iou)


# --------------------------------------------------------------------------- curve helpers

def _precision_curve(errors: np.ndarray, thresholds: np.ndarray, denominator: int) -> np.ndarray:
    """Fraction of frames with error <= t; NaN errors never count (comparison is False)."""
    with np.errstate(invalid='ignore'):
        hits = errors[None, :] <= thresholds[:, None]
    return hits.sum(axis=1) / float(denominator)


def _success_curve(ious: np.ndarray, thresholds: np.ndarray, denominator: int) -> np.ndarray:
    """Fraction of frames with IoU > t (strict); NaN never counts."""
    with np.errstate(invalid='ignore'):
        hits = ious[None, :] > thresholds[:, None]
    return hits.sum(axis=1) / float(denominator)


def _otb_robust_preprocess(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``calc_seq_err_robust.m`` pre-processing (LasHeR / VisEvent / OTB MATLAB toolkits).

    For frames 2..T (in order): a result with a NaN, an infinite value, w <= 0 or h <= 0 is
    replaced by the previous (already repaired, raw) result when that frame's GT has no NaN.
    Then the frame-1 result is set to the frame-1 GT. (The order is the MATLAB one: a bad frame 2
    inherits the tracker's raw frame-1 row, not the GT.)
    """
    out = pred.copy()
    for i in range(1, len(out)):
        row = out[i]
        bad = (not np.all(np.isfinite(row))) or row[2] <= 0 or row[3] <= 0
        if bad and not np.any(np.isnan(gt[i])):
            out[i] = out[i - 1]
    out[0] = gt[0]
    return out


def _lasher_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
    """Centre error (px), normalised centre error and inclusive IoU with the -1 masking."""
    c_pred = centers_minus1(pred)
    c_gt = centers_minus1(gt)
    err = np.sqrt(np.sum((c_pred - c_gt) ** 2, axis=1))
    with np.errstate(invalid='ignore', divide='ignore'):
        size = gt[:, 2:]
        nerr = np.sqrt(np.sum((c_pred / size - c_gt / size) ** 2, axis=1))
        valid = np.all(gt > 0, axis=1)           # NaN > 0 is False, as in MATLAB
    iou = iou_inclusive(pred, gt)
    err = np.where(valid, err, -1.0)
    nerr = np.where(valid, nerr, -1.0)
    iou = np.where(valid, iou, -1.0)
    return err, nerr, iou


# --------------------------------------------------------------------------- protocols

def lasher_sequence(pred_xywh, gt_xywh) -> Curves:
    """LasHeR PR / NPR / SR of one sequence (LasHeR MATLAB toolkit, trackers.md section 4.1).

    Steps: results longer than the GT are truncated; invalid results (NaN, inf, w <= 0, h <= 0)
    are replaced by the previous frame's; frame 1 := GT; centres ``x + (w - 1) / 2``; NPR
    divides both centres by the GT (w, h); inclusive-pixel IoU; frames whose GT has any
    coordinate <= 0 (absent targets annotated 0,0,0,0, boxes touching x=0 or y=0, or NaN) get
    error -1 and IoU -1, so they always count as PR / NPR hits and SR misses, and stay in the
    denominator (all GT frames). (The "-1" centre offset cancels in a centre difference, and the
    inclusive-pixel IoU equals the continuous IoU for boxes with w, h > 0; both are kept as the
    toolkit writes them so the per-frame values match it.)

    Args:
        pred_xywh: (T', 4) tracker boxes, T' >= T.
        gt_xywh: (T, 4) ground truth.

    Returns:
        :class:`Curves` with pr (at 20 px), npr (at 0.20) and sr (mean over 21 thresholds).

    Raises:
        MetricInputError: wrong shapes, or fewer result rows than GT rows.
    """
    pred, gt = _pred_gt(pred_xywh, gt_xywh, truncate=True)
    pred = _otb_robust_preprocess(pred, gt)
    err, nerr, iou = _lasher_errors(pred, gt)
    n = len(gt)
    return Curves(pr_curve=_precision_curve(err, PR_THRESHOLDS_PX, n),
                  npr_curve=_precision_curve(nerr, NPR_THRESHOLDS, n),
                  sr_curve=_success_curve(iou, SR_THRESHOLDS, n),
                  center_error=err, iou=iou)


def visevent_sequence(pred_xywh, gt_xywh, absent) -> Curves:
    """VisEvent PR / NPR / SR of one sequence (VisEvent_SOT_Benchmark, trackers.md section 4.3).

    Same pre-processing and conventions as :func:`lasher_sequence`; then the frames flagged in
    ``absent_label.txt`` (1 = absent) are removed from results and GT, and the remaining frames
    are scored (GT coordinates <= 0 still give -1). The rates are divided by the **full**
    sequence length, so absent frames act as misses for PR, NPR and SR alike.

    Args:
        pred_xywh: (T', 4) tracker boxes, T' >= T.
        gt_xywh: (T, 4) ground truth.
        absent: (T,) bool or 0/1, True where the target is absent.

    Returns:
        :class:`Curves`; ``center_error`` / ``iou`` hold NaN at absent frames.

    Raises:
        MetricInputError: wrong shapes or lengths.
    """
    pred, gt = _pred_gt(pred_xywh, gt_xywh, truncate=True)
    absent_mask = _mask(absent, len(gt), 'absent')
    pred = _otb_robust_preprocess(pred, gt)
    keep = ~absent_mask
    err_k, nerr_k, iou_k = _lasher_errors(pred[keep], gt[keep])
    n = len(gt)
    err = np.full(n, np.nan)
    nerr = np.full(n, np.nan)
    iou = np.full(n, np.nan)
    err[keep], nerr[keep], iou[keep] = err_k, nerr_k, iou_k
    return Curves(pr_curve=_precision_curve(err_k, PR_THRESHOLDS_PX, n),
                  npr_curve=_precision_curve(nerr_k, NPR_THRESHOLDS, n),
                  sr_curve=_success_curve(iou_k, SR_THRESHOLDS, n),
                  center_error=err, iou=iou)


def rgbt234_sequence(pred_xywh, gt_visible_xywh, gt_infrared_xywh=None) -> Curves:
    """RGBT234 / RGBT210 MPR / MSR of one sequence (Python RGBT toolkit, trackers.md 4.2).

    Per frame the centre error (``x + (w - 1) / 2`` centres) is computed against the visible and
    the infrared GT and the **minimum** is kept; the inclusive-pixel IoU is computed against both
    and the **maximum** is kept. MPR = fraction with error <= 20 px; MSR = mean over the 21 IoU
    thresholds of the fraction with IoU > t. No frame-1 replacement and no masking of special
    GT rows (the tracking scripts already write the GT into row 0). The Python toolkit rounds
    result files to integers when it reads them; this function uses the boxes as given.

    Args:
        pred_xywh: (T, 4) tracker boxes.
        gt_visible_xywh: (T, 4) visible-band GT (``visible.txt``).
        gt_infrared_xywh: (T, 4) infrared GT (``infrared.txt``); None uses the visible GT twice.

    Returns:
        :class:`Curves` with ``npr_curve=None``; ``pr`` is MPR, ``sr`` is MSR.

    Raises:
        MetricInputError: wrong shapes or lengths.
    """
    pred, gt_v = _pred_gt(pred_xywh, gt_visible_xywh, truncate=False)
    gt_i = gt_v if gt_infrared_xywh is None else _boxes(gt_infrared_xywh, 'gt_infrared_xywh')
    if len(gt_i) != len(gt_v):
        raise MetricInputError(f'gt_infrared_xywh has {len(gt_i)} frames, gt_visible_xywh '
                               f'{len(gt_v)}')
    c_pred = centers_minus1(pred)
    err_v = np.sqrt(np.sum((c_pred - centers_minus1(gt_v)) ** 2, axis=1))
    err_i = np.sqrt(np.sum((c_pred - centers_minus1(gt_i)) ** 2, axis=1))
    err = np.fmin(err_v, err_i)
    iou = np.fmax(iou_inclusive(pred, gt_v), iou_inclusive(pred, gt_i))
    n = len(gt_v)
    return Curves(pr_curve=_precision_curve(err, PR_THRESHOLDS_PX, n), npr_curve=None,
                  sr_curve=_success_curve(iou, SR_THRESHOLDS, n), center_error=err, iou=iou)


def otb_sequence(pred_xywh, gt_xywh, valid=None) -> Curves:
    """Plain OTB-style precision / success curves (got10k-like, continuous geometry).

    Centres ``x + w / 2``; centre error in pixels; NPR divides the centre offset by the GT
    (w, h); continuous IoU; success AUC = mean of the success curve over the 21 thresholds.
    No frame-1 replacement and no special GT handling: NaN boxes never count as hits. Use this
    for sequences that do not come from one of the benchmarks above (e.g. our own recordings).

    Args:
        pred_xywh: (T, 4) tracker boxes.
        gt_xywh: (T, 4) ground truth.
        valid: optional (T,) bool; only these frames are scored and counted (denominator).

    Returns:
        :class:`Curves`; frames outside ``valid`` hold NaN in ``center_error`` / ``iou``.

    Raises:
        MetricInputError: wrong shapes or lengths, or no valid frame.
    """
    pred, gt = _pred_gt(pred_xywh, gt_xywh, truncate=False)
    keep = np.ones(len(gt), bool) if valid is None else _mask(valid, len(gt), 'valid')
    if not keep.any():
        raise MetricInputError('otb_sequence: no valid frame to score')
    c_pred = pred[:, :2] + pred[:, 2:] / 2.0
    c_gt = gt[:, :2] + gt[:, 2:] / 2.0
    err = np.sqrt(np.sum((c_pred - c_gt) ** 2, axis=1))
    with np.errstate(invalid='ignore', divide='ignore'):
        nerr = np.sqrt(np.sum(((c_pred - c_gt) / gt[:, 2:]) ** 2, axis=1))
    iou = iou_continuous(pred, gt)
    err = np.where(keep, err, np.nan)
    nerr = np.where(keep, nerr, np.nan)
    iou = np.where(keep, iou, np.nan)
    n = int(keep.sum())
    return Curves(pr_curve=_precision_curve(err[keep], PR_THRESHOLDS_PX, n),
                  npr_curve=_precision_curve(nerr[keep], NPR_THRESHOLDS, n),
                  sr_curve=_success_curve(iou[keep], SR_THRESHOLDS, n),
                  center_error=err, iou=iou)


# --------------------------------------------------------------------------- aggregation

def average_curves(per_sequence: Iterable[Curves], drop_all_zero: bool = False) -> Curves:
    """Average per-sequence curves with equal weight per sequence.

    Args:
        per_sequence: :class:`Curves` of each sequence (at least one).
        drop_all_zero: drop, separately for each curve type, sequences whose curve is zero at
            every threshold before averaging (the LasHeR / OTB MATLAB plotting rule).

    Returns:
        :class:`Curves` whose ``pr``, ``npr``, ``sr`` are the dataset scores.

    Raises:
        MetricInputError: if the list is empty.
    """
    items = list(per_sequence)
    if not items:
        raise MetricInputError('average_curves needs at least one sequence')

    def mean_of(curves: list[np.ndarray | None]) -> np.ndarray | None:
        if any(c is None for c in curves):
            return None
        stack = np.stack(curves)
        if drop_all_zero:
            kept = stack[stack.sum(axis=1) > np.finfo(np.float64).eps]
            if len(kept):
                stack = kept
        return stack.mean(axis=0)

    return Curves(pr_curve=mean_of([c.pr_curve for c in items]),
                  npr_curve=mean_of([c.npr_curve for c in items]),
                  sr_curve=mean_of([c.sr_curve for c in items]),
                  num_sequences=len(items))


def lasher_dataset(preds: Sequence, gts: Sequence) -> Curves:
    """LasHeR dataset scores: :func:`lasher_sequence` per sequence, then the MATLAB average.

    The plotting step of the MATLAB toolkit drops sequences whose curve is identically zero
    before averaging (per curve type); this does the same. (The Python ``rgbt`` port does not;
    the two differ only when a sequence scores 0 at every threshold.)

    Args:
        preds: per-sequence (T_i, 4) results.
        gts: per-sequence (T_i, 4) GT, same order.

    Raises:
        MetricInputError: different numbers of result and GT sequences, or bad shapes.
    """
    if len(preds) != len(gts):
        raise MetricInputError(f'{len(preds)} result sequences but {len(gts)} GT sequences')
    return average_curves([lasher_sequence(p, g) for p, g in zip(preds, gts)],
                          drop_all_zero=True)


# --------------------------------------------------------------------------- VOT long-term

@dataclass(frozen=True)
class VotLtResult:
    """VOT long-term tracking precision / recall / F.

    Attributes:
        precision: Pr at the threshold maximising F.
        recall: Re at that threshold.
        f_score: max over thresholds of F = 2 Pr Re / (Pr + Re).
        threshold: the confidence threshold of the maximum.
        thresholds: (K,) thresholds, descending (+inf first, -inf last).
        precision_curve: (K,) Pr averaged over sequences at each threshold.
        recall_curve: (K,) Re averaged over sequences.
        f_curve: (K,) F from the averaged Pr and Re.
    """

    precision: float
    recall: float
    f_score: float
    threshold: float
    thresholds: np.ndarray
    precision_curve: np.ndarray
    recall_curve: np.ndarray
    f_curve: np.ndarray


def vot_lt_thresholds(scores: Iterable[float], resolution: int = 100) -> np.ndarray:
    """Confidence thresholds of the VOT long-term analysis (``determine_thresholds``).

    All finite-or-infinite non-NaN confidences, sorted descending; if there are more than
    ``resolution - 2`` of them, ``resolution - 2`` evenly spaced ones are taken (indices
    round(linspace(d, n - d, resolution - 2)), d = floor(n / (resolution - 2))); then +inf is
    prepended and -inf appended.
    """
    values = np.asarray([float(s) for s in scores], dtype=np.float64)
    values = np.sort(values[~np.isnan(values)])[::-1]
    if len(values) > resolution - 2:
        delta = math.floor(len(values) / (resolution - 2))
        idx = np.round(np.linspace(delta, len(values) - delta, num=resolution - 2)).astype(int)
        values = values[idx]
    return np.concatenate([[np.inf], values, [-np.inf]])


def _clip_to_image(boxes: np.ndarray, size_wh) -> np.ndarray:
    w_img, h_img = float(size_wh[0]), float(size_wh[1])
    x1 = np.clip(boxes[:, 0], 0.0, w_img)
    y1 = np.clip(boxes[:, 1], 0.0, h_img)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0.0, w_img)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0.0, h_img)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def vot_lt_overlaps(pred_xywh, gt_xywh, image_size_wh=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame VOT overlaps and the visible-target mask.

    A box is empty when it has a NaN or w <= 0 or h <= 0 (after clipping to the image when
    ``image_size_wh`` = (W, H) is given, VOT's ``bounded`` option). Empty GT and empty
    prediction -> overlap 1; exactly one of them empty -> 0; else continuous IoU. (VOT
    rasterises regions; for axis-aligned boxes that differs from this only by pixel rounding.)

    Returns:
        (overlaps (T,), visible (T,) bool where the GT is non-empty).
    """
    pred, gt = _pred_gt(pred_xywh, gt_xywh, truncate=False)
    if image_size_wh is not None:
        pred = _clip_to_image(pred, image_size_wh)
        gt = _clip_to_image(gt, image_size_wh)

    def empty(b: np.ndarray) -> np.ndarray:
        return np.any(np.isnan(b), axis=1) | ~(b[:, 2] > 0) | ~(b[:, 3] > 0)

    e_pred, e_gt = empty(pred), empty(gt)
    iou = np.nan_to_num(iou_continuous(pred, gt), nan=0.0)
    overlaps = np.where(e_gt & e_pred, 1.0, np.where(e_gt | e_pred, 0.0, iou))
    return overlaps, ~e_gt


def vot_lt_prf(preds: Sequence, scores: Sequence, gts: Sequence, image_sizes_wh=None,
               absents: Sequence | None = None, resolution: int = 100) -> VotLtResult:
    """VOT long-term Pr / Re / F over a set of sequences (DepthTrack, VOT-RGBD; section 4.4).

    Thresholds come from all confidences of all sequences (:func:`vot_lt_thresholds`). For a
    sequence and threshold tau the reported frames are those with confidence >= tau:
    Pr(tau) = mean overlap over reported frames (1 if none is reported), Re(tau) = sum of
    overlaps over reported frames with a visible target / number of frames with a visible
    target (0 if none). Restricting the recall sum to visible frames keeps Re <= 1 when an empty
    prediction on an absent frame scores 1 (toolkit versions differ there: older ones score
    empty-vs-empty 0, which gives the same recall). Pr and Re
    are averaged over sequences; F = 2 Pr Re / (Pr + Re) (0 where both are 0); the reported F is
    the maximum over thresholds and Pr, Re are read at its arg-max (first one on ties).

    Args:
        preds: per-sequence (T_i, 4) boxes (NaN row = tracker reported no target).
        scores: per-sequence (T_i,) confidences (NaN ones are ignored for the thresholds and
            never reported).
        gts: per-sequence (T_i, 4) GT; NaN rows or w, h <= 0 = target absent.
        image_sizes_wh: optional per-sequence (W, H) to bound regions to the image.
        absents: optional per-sequence (T_i,) bool forcing GT rows to absent.
        resolution: number of thresholds including +inf and -inf (VOT default 100).

    Raises:
        MetricInputError: mismatched numbers of sequences or frame counts.
    """
    if not (len(preds) == len(scores) == len(gts)) or len(gts) == 0:
        raise MetricInputError(f'need the same non-zero number of sequences: {len(preds)} preds, '
                               f'{len(scores)} scores, {len(gts)} gts')
    per_seq = []
    all_scores = []
    for k, (pred, score, gt) in enumerate(zip(preds, scores, gts)):
        gt = _boxes(gt, f'gts[{k}]').copy()
        if absents is not None and absents[k] is not None:
            gt[_mask(absents[k], len(gt), f'absents[{k}]')] = np.nan
        size = None if image_sizes_wh is None else image_sizes_wh[k]
        overlaps, visible = vot_lt_overlaps(pred, gt, size)
        conf = np.asarray(score, dtype=np.float64).reshape(-1)
        if len(conf) != len(gt):
            raise MetricInputError(f'scores[{k}] has {len(conf)} values, expected {len(gt)}')
        per_seq.append((overlaps, visible, conf))
        all_scores.extend(conf.tolist())
    thresholds = vot_lt_thresholds(all_scores, resolution)
    pr = np.zeros(len(thresholds))
    re = np.zeros(len(thresholds))
    for overlaps, visible, conf in per_seq:
        n_visible = int(visible.sum())
        for i, tau in enumerate(thresholds):
            with np.errstate(invalid='ignore'):
                subset = conf >= tau
            if not subset.any():
                pr[i] += 1.0
            else:
                pr[i] += overlaps[subset].mean()
                re[i] += overlaps[subset & visible].sum() / n_visible if n_visible else 0.0
    pr /= len(per_seq)
    re /= len(per_seq)
    with np.errstate(invalid='ignore', divide='ignore'):
        f = np.where(pr + re > 0, 2 * pr * re / np.where(pr + re > 0, pr + re, 1.0), 0.0)
    best = int(np.argmax(f))
    return VotLtResult(precision=float(pr[best]), recall=float(re[best]), f_score=float(f[best]),
                       threshold=float(thresholds[best]), thresholds=thresholds,
                       precision_curve=pr, recall_curve=re, f_curve=f)
