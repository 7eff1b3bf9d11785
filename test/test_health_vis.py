"""ROS-free diagnostics bookkeeping (core/health.py) and result drawing (core/vis.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rgbx_tracker_ros.core import health
from rgbx_tracker_ros.core.vis import box_centre, draw_track

S = 1_000_000_000


def test_rate_meter_over_window() -> None:
    meter = health.RateMeter(window_s=2.0)
    for k in range(11):                       # 10 Hz for 1 s
        meter.tick(k * S // 10)
    assert meter.rate_hz(S) == pytest.approx(10.0)
    assert meter.rate_hz(10 * S) == 0.0       # everything is older than the window
    assert meter.count == 11
    with pytest.raises(ValueError, match='window_s'):
        health.RateMeter(0.0)


def test_health_levels_counters_and_latency() -> None:
    h = health.TrackerHealth('cpu', window_s=5.0)
    assert h.snapshot(0).values['x_state'] == 'waiting'
    for k in range(4):
        h.record_input('rgb', k * S // 10)
    assert h.record_result(1 * S, 0.010, 1.0, used_x=True, tracking=True)  # waiting -> RGB-X
    assert not h.record_result(2 * S, 0.030, 0.8, used_x=True, tracking=True)
    rep = h.snapshot(S)
    assert rep.level == health.OK and rep.values['x_state'] == 'RGB-X'
    assert rep.values['synchronized_pairs'] == '2' and rep.values['rgb_only_frames'] == '0'
    assert rep.values['latency_ms_mean'] == '20.0' and rep.values['latency_ms_max'] == '30.0'
    assert rep.values['rate_hz.rgb'] == '10.00' and rep.values['last_score'] == '0.800'
    # the latency window restarts after a snapshot; the running mean does not
    assert h.snapshot(S).values['latency_ms_mean'] == 'nan'
    assert h.snapshot(S).values['latency_ms_mean_total'] == '20.0'

    assert h.record_result(3 * S, 0.02, 0.5, used_x=False, tracking=True)   # state change
    h.set_pairer_stats({'paired': 2, 'rgb_only': 1, 'dropped_x_late': 3, 'dropped_rgb_late': 1})
    h.record_dropped('stale', 2)
    rep = h.snapshot(S)
    assert rep.level == health.WARN and 'RGB alone' in rep.message
    assert rep.values['x_state'] == 'RGB only'
    assert rep.values['x_state_since_stamp_ns'] == str(3 * S)
    assert rep.values['dropped.x_late'] == '3' and rep.values['dropped.stale'] == '2'
    assert rep.values['dropped_total'] == '6'

    assert h.record_result(4 * S, 0.02, 0.5, used_x=True, tracking=True)
    assert h.record_bad_frame('x', 'encoding') == 1
    rep = h.snapshot(S)
    assert rep.level == health.WARN and '1 bad frame' in rep.message
    assert rep.values['bad_frames.x.encoding'] == '1'
    assert h.snapshot(S).level == health.OK    # no new bad frame since the last snapshot


def test_rgb_only_rig_is_not_a_warning() -> None:
    h = health.TrackerHealth('cpu', x_expected=False)
    h.record_result(S, 0.01, None, used_x=False, tracking=False)
    rep = h.snapshot(S)
    assert rep.level == health.OK and 'no X sensor' in rep.message
    assert rep.values['target'] == 'waiting for init' and rep.values['last_score'] == 'nan'


def test_draw_track_draws_box_state_and_trail() -> None:
    rgb = np.zeros((120, 160, 3), np.uint8)
    out = draw_track(rgb, [40, 30, 50, 40], 0.87, 'RGB-X', trail=[(20, 100), (40, 90), (65, 50)])
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not rgb.any()                       # input untouched
    # box edges are drawn in green (RGB-X); the inside stays black
    assert out[30, 60, 1] > 150 and out[30, 60, 0] < 100
    assert not out[45, 80].any()
    assert out[:20, :80].any()                 # state text in the corner
    orange = draw_track(rgb, [40, 30, 50, 40], 0.5, 'RGB only')
    assert orange[30, 60, 0] > 200 and orange[30, 60, 2] < 50
    # no target (None / NaN box): no box, but the state text says so
    for box in (None, [np.nan, 0, 10, 10]):
        empty = draw_track(rgb, box, None, 'RGB-X')
        assert not empty[40:, :].any() and empty[:20].any()
    gray = draw_track(np.zeros((50, 60), np.uint8), [5, 5, 10, 10], 0.3, 'RGB-X')
    assert gray.shape == (50, 60, 3)
    with pytest.raises(ValueError, match='uint8'):
        draw_track(np.zeros((10, 10, 3), np.float32), None, None, 'RGB-X')
    assert box_centre([10, 20, 30, 40]) == (25.0, 40.0) and box_centre(None) is None
