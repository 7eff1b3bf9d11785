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

"""Benchmark metrics on tiny sequences whose scores are computed by hand in the comments."""

import numpy as np
import pytest

from rgbx_tracker_ros.eval import metrics as m


def test_lasher_three_frames_by_hand():
    gt = np.array([[10, 10, 10, 10],
                   [20, 20, 10, 10],
                   [0, 0, 0, 0]], float)          # frame 3: target absent
    pred = np.array([[50, 50, 5, 5],              # frame 1 is replaced by the GT
                     [25, 20, 10, 10],            # 5 px to the right
                     [100, 100, 10, 10]], float)
    c = m.lasher_sequence(pred, gt)
    # errors: f1 0, f2 5, f3 -1 (GT <= 0)  -> PR(t) = 2/3 for t < 5, 3/3 from 5 px on
    np.testing.assert_allclose(c.center_error, [0, 5, -1])
    np.testing.assert_allclose(c.pr_curve[:5], 2 / 3)
    np.testing.assert_allclose(c.pr_curve[5:], 1.0)
    assert c.pr == pytest.approx(1.0)
    # normalised: f2 offset 5 / GT w 10 = 0.5 > 0.20 -> NPR@0.2 = (f1 + f3) / 3
    assert c.npr == pytest.approx(2 / 3)
    # IoU: f1 1, f2 inclusive overlap 5x10 = 50 / (100 + 100 - 50) = 1/3, f3 -1
    np.testing.assert_allclose(c.iou, [1, 1 / 3, -1])
    # SR curve: t = 0..0.30 (7 values) 2/3, t = 0.35..0.95 (13) 1/3, t = 1 0
    # SR = (7 * 2/3 + 13 * 1/3) / 21 = 9 / 21
    np.testing.assert_allclose(c.sr_curve[:7], 2 / 3)
    np.testing.assert_allclose(c.sr_curve[7:20], 1 / 3)
    assert c.sr_curve[20] == 0
    assert c.sr == pytest.approx(9 / 21)


def test_minus_one_masking_for_gt_touching_the_border():
    # frame 2's GT touches x = 0 -> error and IoU -1: a PR hit and an SR miss although the
    # prediction is far away
    gt = np.array([[5, 5, 10, 10], [0, 5, 10, 10]], float)
    pred = np.array([[5, 5, 10, 10], [200, 200, 10, 10]], float)
    c = m.lasher_sequence(pred, gt)
    np.testing.assert_allclose(c.center_error, [0, -1])
    np.testing.assert_allclose(c.iou, [1, -1])
    assert c.pr == 1.0 and c.npr == 1.0
    assert c.sr == pytest.approx(20 * 0.5 / 21)
    # NaN GT is masked the same way (MATLAB: NaN > 0 is false)
    c_nan = m.lasher_sequence(pred, np.array([[5, 5, 10, 10], [np.nan] * 4]))
    np.testing.assert_allclose(c_nan.center_error, [0, -1])


def test_minus_one_pixel_centres_and_inclusive_iou():
    np.testing.assert_allclose(m.centers_minus1(np.array([[10, 20, 5, 7.0]])), [[12, 23]])
    a = np.array([[0, 0, 10, 10.0]])
    b = np.array([[5, 0, 10, 10.0]])
    np.testing.assert_allclose(m.iou_inclusive(a, b), [50 / 150])
    np.testing.assert_allclose(m.iou_inclusive(a, np.array([[10, 0, 10, 10.0]])), [0])
    np.testing.assert_allclose(m.iou_inclusive(a, np.array([[0, 0, 0, 0.0]])), [0])


def test_invalid_results_take_the_previous_raw_row_then_frame1_is_gt():
    gt = np.array([[10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 10, 10]], float)
    pred = np.array([[12, 10, 10, 10],            # raw frame 1: 2 px off (replaced by GT)
                     [5, 5, -1, 4],               # invalid -> raw frame 1 (MATLAB order)
                     [np.nan, 1, 1, 1]])          # invalid -> repaired frame 2
    c = m.lasher_sequence(pred, gt)
    np.testing.assert_allclose(c.center_error, [0, 2, 2])
    # longer results are truncated to the GT length; shorter ones are an error
    longer = np.vstack([pred, [[0, 0, 1, 1]]])
    np.testing.assert_allclose(m.lasher_sequence(longer, gt).pr_curve, c.pr_curve)
    with pytest.raises(m.MetricInputError, match='2 frames but gt_xywh has 3'):
        m.lasher_sequence(pred[:2], gt)
    with pytest.raises(m.MetricInputError, match=r'\(T, 4\)'):
        m.lasher_sequence(pred[:, :3], gt)


def test_visevent_absent_frames_removed_with_full_denominator():
    gt = np.tile([10, 10, 10, 10.0], (4, 1))
    absent = np.array([0, 0, 1, 0])
    pred = np.array([[0, 0, 1, 1],                # -> GT
                     [10, 10, 10, 10],            # exact
                     [10, 10, 10, 10],            # exact but absent: removed
                     [40, 10, 10, 10]], float)    # 30 px off, IoU 0
    c = m.visevent_sequence(pred, gt, absent)
    # kept: f1, f2 hits, f4 miss; denominator 4 -> PR = NPR = 2/4
    assert c.pr == pytest.approx(0.5) and c.npr == pytest.approx(0.5)
    # IoU 1, 1, 0 over 4 frames -> 0.5 for t < 1, 0 at t = 1 -> SR = 20 * 0.5 / 21
    assert c.sr == pytest.approx(10 / 21)
    assert np.isnan(c.center_error[2]) and np.isnan(c.iou[2])
    # LasHeR rules would have counted the absent frame as a hit
    assert m.lasher_sequence(pred, gt).pr == pytest.approx(0.75)
    with pytest.raises(m.MetricInputError, match='absent'):
        m.visevent_sequence(pred, gt, absent[:3])


def test_rgbt234_min_error_and_max_iou_over_two_gts():
    gt_v = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    gt_i = np.array([[30, 0, 10, 10], [0, 0, 10, 10]], float)
    pred = np.array([[25, 0, 10, 10], [0, 0, 10, 10]], float)
    c = m.rgbt234_sequence(pred, gt_v, gt_i)
    # f1: error 25 to visible, 5 to infrared -> 5; IoU 0 / (5x10 / 150) -> 1/3. f2 exact.
    np.testing.assert_allclose(c.center_error, [5, 0])
    np.testing.assert_allclose(c.iou, [1 / 3, 1])
    assert c.pr == 1.0                             # MPR@20
    # MSR: t = 0..0.30 (7) 2/2, t = 0.35..0.95 (13) 1/2, t = 1 0 -> (7 + 6.5) / 21
    assert c.sr == pytest.approx(13.5 / 21)
    assert c.npr_curve is None and np.isnan(c.npr)
    # no frame-1 replacement: with the visible GT alone frame 1 is a miss
    assert m.rgbt234_sequence(pred, gt_v).pr == pytest.approx(0.5)
    assert m.lasher_sequence(pred, gt_v).pr == pytest.approx(1.0)


def test_otb_plain_continuous_geometry():
    gt = np.array([[0, 0, 20, 20.0]])
    pred = np.array([[0, 0, 10, 10.0]])
    c = m.otb_sequence(pred, gt)
    # centres (5, 5) vs (10, 10): error sqrt(50) = 7.07 px; IoU 100 / 400
    assert c.pr_curve[7] == 0 and c.pr_curve[8] == 1
    np.testing.assert_allclose(c.iou, [0.25])
    # success: 1 for t < 0.25 (t = 0, .05, .1, .15, .2) -> AUC 5 / 21
    assert c.sr == pytest.approx(5 / 21)
    # valid mask: denominator only counts valid frames; NaN predictions are misses
    c2 = m.otb_sequence(np.array([[0, 0, 20, 20], [np.nan] * 4, [0, 0, 20, 20]]),
                        np.tile(gt, (3, 1)), valid=[True, True, False])
    assert c2.pr == pytest.approx(0.5)


def test_vot_lt_precision_recall_f_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]])
    pred = np.array([[0, 0, 10, 10],    # IoU 1
                     [5, 0, 10, 10],    # IoU 1/3
                     [0, 0, 10, 10],    # reported on an absent frame: 0
                     [50, 50, 10, 10]])  # IoU 0
    scores = np.array([0.9, 0.8, 0.3, 0.2])
    r = m.vot_lt_prf([pred], [scores], [gt])
    np.testing.assert_array_equal(r.thresholds, [np.inf, 0.9, 0.8, 0.3, 0.2, -np.inf])
    # 3 visible frames. tau=.9: Pr 1, Re 1/3, F .5 | tau=.8: Pr 2/3, Re 4/9, F 16/30
    # tau=.3: Pr 4/9, Re 4/9, F 4/9 | tau=.2 and -inf: Pr 1/3, Re 4/9, F 8/21 | +inf: Pr 1, Re 0
    np.testing.assert_allclose(r.precision_curve, [1, 1, 2 / 3, 4 / 9, 1 / 3, 1 / 3])
    np.testing.assert_allclose(r.recall_curve, [0, 1 / 3, 4 / 9, 4 / 9, 4 / 9, 4 / 9])
    assert r.f_score == pytest.approx(16 / 30)
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(4 / 9)
    assert r.threshold == 0.8
    # predicting nothing on the absent frame scores overlap 1 there
    pred2 = pred.astype(float)
    pred2[2] = np.nan
    r2 = m.vot_lt_prf([pred2], [scores], [gt])
    assert r2.precision_curve[3] == pytest.approx((1 + 1 / 3 + 1) / 3)
    # ... but recall only sums visible frames, so it stays 4/9 (never above 1)
    assert r2.recall_curve[3] == pytest.approx(4 / 9)
    assert np.all(r2.recall_curve <= 1)


def test_vot_lt_thresholds_subsample_like_the_toolkit():
    scores = np.arange(10) / 10.0
    # delta = floor(10 / 3) = 3; indices round(linspace(3, 7, 3)) = 3, 5, 7 of the descending list
    np.testing.assert_allclose(m.vot_lt_thresholds(scores, resolution=5),
                               [np.inf, 0.6, 0.4, 0.2, -np.inf])
    assert len(m.vot_lt_thresholds([0.5, np.nan], resolution=100)) == 3


def test_averaging_and_the_lasher_all_zero_rule():
    # sequence A: frame-1 GT absent and a miss afterwards -> SR curve all zero, PR 1/2 (f1 = -1)
    gt_a = np.array([[0, 0, 0, 0], [10, 10, 10, 10]], float)
    pred_a = np.array([[0, 0, 0, 0], [100, 100, 10, 10]], float)
    # sequence B: perfect -> SR 20/21, PR 1
    gt_b = np.array([[10, 10, 10, 10], [12, 10, 10, 10]], float)
    a = m.lasher_sequence(pred_a, gt_a)
    b = m.lasher_sequence(gt_b, gt_b)
    assert np.all(a.sr_curve == 0) and a.pr == 0.5
    plain = m.average_curves([a, b])
    assert plain.sr == pytest.approx((0 + 20 / 21) / 2)
    assert plain.pr == pytest.approx(0.75) and plain.num_sequences == 2
    lasher = m.lasher_dataset([pred_a, gt_b], [gt_a, gt_b])
    assert lasher.sr == pytest.approx(20 / 21)        # A dropped from the SR average only
    assert lasher.pr == pytest.approx(0.75)
    with pytest.raises(m.MetricInputError):
        m.average_curves([])
    with pytest.raises(m.MetricInputError, match='2 result sequences but 1'):
        m.lasher_dataset([pred_a, gt_b], [gt_a])


def test_curves_are_monotone_on_random_tracks():
    rng = np.random.default_rng(3)
    gt = np.column_stack([rng.uniform(1, 300, 200), rng.uniform(1, 200, 200),
                          rng.uniform(5, 60, 200), rng.uniform(5, 60, 200)])
    pred = gt + rng.normal(0, 8, gt.shape)
    for c in (m.lasher_sequence(pred, gt), m.otb_sequence(pred, gt),
              m.rgbt234_sequence(pred, gt, gt + 1)):
        assert np.all(np.diff(c.pr_curve) >= 0) and np.all(np.diff(c.sr_curve) <= 0)
        assert 0 < c.sr < 1 and 0 < c.pr <= 1
