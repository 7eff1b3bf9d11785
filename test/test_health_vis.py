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

"""ROS-free diagnostics bookkeeping (core/health.py) and result drawing (core/vis.py)."""

from __future__ import annotations

import math

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
    # drops and bad frames are judged over the last window_s: after 6 s of clean frames (RGB,
    # X and answers) they are forgotten; the cumulative counters stay
    for k in range(60, 120):
        t = k * S // 10
        h.record_input('rgb', t)
        h.record_input('x', t)
        h.record_result(t, 0.02, 0.5, used_x=True, tracking=True, now_ns=t)
    rep = h.snapshot(12 * S)
    assert rep.level == health.OK, rep.message
    assert rep.values['bad_frames.x.encoding'] == '1' and rep.values['dropped_total'] == '6'
    assert (rep.values['input_x/bad_frames'] == '0'
            and rep.values['input_x/bad_frames_total'] == '1')


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


# ------------------------------------------------------------------ windowed diagnostics
class _Rig:
    """Scripted camera rig feeding a TrackerHealth like the node does (no sleeping): RGB (and X)
    at ``hz`` on a fake arrival clock, a fake synchronizer's cumulative stats, answers."""

    def __init__(self, h: health.TrackerHealth, hz: float = 30.0) -> None:
        self.h, self.t, self.dt = h, 0, int(S / hz)
        self.stats: dict[str, int] = {'rgb_in': 0, 'x_in': 0, 'paired': 0}

    def run(self, seconds: float, *, x: bool = True, answer: bool = True, drop=None,
            x_ok: bool | None = None, x_reason: str = '', answer_now: bool = True) -> None:
        """``drop(k)`` -> None or the reason RGB frame k is dropped ('stale' = by the node,
        else the synchronizer's 'dropped_<reason>')."""
        for k in range(round(seconds * S / self.dt)):
            self.t += self.dt
            self.h.record_input('rgb', self.t)
            self.stats['rgb_in'] += 1
            if x:
                self.h.record_input('x', self.t)
                self.stats['x_in'] += 1
                if x_ok is not None:
                    self.h.record_x_signal(x_ok, x_reason, now_ns=self.t)
            reason = drop(k) if drop is not None else None
            if reason == 'stale':
                self.h.record_dropped('stale')
            elif reason is not None:
                self.stats[f'dropped_{reason}'] = self.stats.get(f'dropped_{reason}', 0) + 1
            elif answer:
                self.stats['paired'] += 1
                self.h.record_result(self.t, 0.01, 0.9, used_x=x, tracking=True,
                                     now_ns=self.t if answer_now else None)
            self.h.set_pairer_stats(self.stats)

    def idle(self, seconds: float) -> None:
        self.t += int(seconds * S)

    def reports(self) -> dict[str, health.HealthReport]:
        return {r.name: r for r in self.h.reports(self.t)}


def _levels(reps: dict[str, health.HealthReport]) -> dict[str, int]:
    return {name: r.level for name, r in reps.items()}


def test_reports_one_status_per_concern() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0)
    reps = h.reports(rig.t)
    assert [r.name for r in reps] == ['input rgb', 'input x', 'sync', 'tracker']
    assert all(r.level == health.OK for r in reps), [r.message for r in reps]
    rgb, x, sync, tracker = reps
    assert rgb.values['frames_in'] == '30' and rgb.values['dropped'] == '0'
    assert float(rgb.values['rate_hz']) == pytest.approx(30.0, rel=0.02)
    assert x.values['x_signal'] == 'unchecked'
    assert sync.values['x_state'] == 'RGB-X' and sync.values['pairs'] == '30'
    assert tracker.values['frames_processed'] == '30' and tracker.values['device'] == 'cpu'
    # the combined snapshot: max level, legacy keys, every status' keys as '<name>/<key>'
    snap = h.snapshot(rig.t)
    assert snap.name == '' and snap.level == health.OK
    assert snap.values['synchronized_pairs'] == '30' and snap.values['input_rgb/frames_in'] == '30'
    assert snap.values['sync/x_state'] == 'RGB-X' and 'tracker/latency_ms_p95' in snap.values
    # an RGB-only rig has no 'input x' status
    assert [r.name for r in health.TrackerHealth('cpu', x_expected=False).reports(0)] == [
        'input rgb', 'sync', 'tracker']
    assert health.HealthReport(0, 'm', {}).name == ''       # old positional use still works


def test_all_frames_dropped_warns_then_stalls() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0, drop=lambda k: 'rgb_overflow')
    reps = rig.reports()
    assert reps['input rgb'].level == health.WARN
    assert '30 of 30 frames dropped (100 %)' in reps['input rgb'].message
    assert 'rgb_overflow 30' in reps['input rgb'].message
    assert reps['input rgb'].values['drop_ratio'] == '1.000'
    assert reps['input rgb'].values['dropped_window.rgb_overflow'] == '30'
    assert reps['sync'].values['dropped_window.rgb_overflow'] == '30'
    snap = h.snapshot(rig.t)
    assert snap.level == health.WARN and '100 %' in snap.message
    # still nothing answered 2 s after the first input, while frames keep coming: ERROR
    rig.run(2.0, drop=lambda k: 'rgb_overflow')
    reps = rig.reports()
    assert reps['tracker'].level == health.ERROR and 'stalled' in reps['tracker'].message
    assert h.snapshot(rig.t).level == health.ERROR


def test_half_stale_on_30_hz_warns() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h, hz=30.0)
    rig.run(5.0, drop=lambda k: 'stale' if k % 2 else None)
    reps = rig.reports()
    rgb = reps['input rgb']
    assert rgb.level == health.WARN and 'stale' in rgb.message
    assert float(rgb.values['drop_ratio']) == pytest.approx(0.5, abs=0.02)
    assert reps['tracker'].level == health.OK            # answers keep coming
    assert h.snapshot(rig.t).level == health.WARN


def test_ten_percent_dropped_is_ok() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(5.0, drop=lambda k: 'rgb_late' if k % 10 == 0 else None)
    reps = rig.reports()
    assert set(_levels(reps).values()) == {health.OK}, [r.message for r in reps.values()]
    assert float(reps['input rgb'].values['drop_ratio']) == pytest.approx(0.1, abs=0.02)
    assert h.snapshot(rig.t).level == health.OK


def test_drop_ratio_counts_bad_frames_and_x_drops() -> None:
    h = health.TrackerHealth('cpu', drop_warn_ratio=0.05)
    rig = _Rig(h)
    rig.run(1.0)
    for _ in range(3):
        h.record_bad_frame('x', 'encoding')
    rig.stats['dropped_x_late'] = 2
    rig.run(0.1)
    x = rig.reports()['input x']
    assert x.level == health.WARN and x.values['dropped'] == '5'
    assert x.values['dropped_window.bad.encoding'] == '3' and x.values['bad_frames'] == '3'
    assert '3 bad frame(s) rejected on x' in x.message
    assert rig.reports()['input rgb'].level == health.OK


def test_window_forgets_old_drops() -> None:
    h = health.TrackerHealth('cpu', window_s=5.0)
    rig = _Rig(h)
    rig.run(2.0, drop=lambda k: 'stale' if k % 2 else None)
    assert rig.reports()['input rgb'].level == health.WARN
    rig.run(20.0)                                        # clean since
    reps = rig.reports()
    rgb = reps['input rgb']
    assert rgb.level == health.OK and rgb.values['dropped'] == '0'
    assert rgb.values['dropped_total'] == '30' and float(rgb.values['window_s']) >= 5.0
    assert reps['sync'].values['dropped_total.stale'] == '30'
    assert reps['sync'].values['dropped_window.stale'] == '0'
    assert h.snapshot(rig.t).level == health.OK


def test_expected_rate_too_low_warns_and_right_rate_is_ok() -> None:
    h = health.TrackerHealth('cpu', expected_rate_rgb=30.0)
    rig = _Rig(h, hz=10.0)
    rig.run(3.0)
    rgb = rig.reports()['input rgb']
    assert rgb.level == health.WARN and 'expected 30 Hz' in rgb.message
    assert rgb.values['expected_rate_hz'] == '30' and rgb.values['min_rate_hz'] == '15.00'
    assert h.snapshot(rig.t).level == health.WARN
    h.configure(expected_rate_rgb=10.0)                 # changed at run time
    assert rig.reports()['input rgb'].level == health.OK
    h.configure(expected_rate_rgb=0.0)                  # 0: no check
    assert 'expected_rate_hz' not in rig.reports()['input rgb'].values

    h30 = health.TrackerHealth('cpu', expected_rate_rgb=30.0, expected_rate_x=30.0)
    rig30 = _Rig(h30, hz=30.0)
    rig30.run(3.0)
    assert set(_levels(rig30.reports()).values()) == {health.OK}
    # 40 % slow is inside the default tolerance (0.5), outside a 0.1 one
    h18 = health.TrackerHealth('cpu', expected_rate_rgb=30.0)
    rig18 = _Rig(h18, hz=18.0)
    rig18.run(3.0)
    assert rig18.reports()['input rgb'].level == health.OK
    h18.configure(rate_tolerance=0.1)
    assert rig18.reports()['input rgb'].level == health.WARN


def test_dead_x_sensor_warns_with_reason_and_recovers() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0, x_ok=True)
    assert rig.reports()['input x'].values['x_signal'] == 'ok'
    rig.run(3.0, x_ok=False, x_reason='all_nan')
    x = rig.reports()['input x']
    assert x.level == health.WARN
    assert x.values['x_signal'] == 'looks dead: all_nan'
    assert 'X looks dead: all_nan (90 of 120 X frames in the last' in x.message
    snap = h.snapshot(rig.t)
    assert snap.level == health.WARN and 'X looks dead' in snap.message
    rig.run(6.0, x_ok=True)                             # the sensor is back
    x = rig.reports()['input x']
    assert x.level == health.OK and x.values['x_signal'] == 'ok' and x.values['unusable'] == '0'
    assert h.snapshot(rig.t).level == health.OK


def test_dead_x_from_the_synchronizer_counter() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0)
    rig.stats['x_unusable'] = 0
    rig.run(0.1)
    for _ in range(30):
        rig.stats['x_unusable'] += 1
        rig.run(1 / 30)
    x = rig.reports()['input x']
    assert x.level == health.WARN and 'unusable (synchronizer)' in x.message
    assert x.values['unusable'] == '30'


def test_stall_is_an_error_until_results_resume() -> None:
    h = health.TrackerHealth('cpu', stall_error_s=2.0)
    rig = _Rig(h)
    rig.run(1.0)
    rig.run(1.5, answer=False)                          # 1.5 s without an answer: not yet
    assert rig.reports()['tracker'].level == health.OK
    rig.run(1.0, answer=False)
    tracker = rig.reports()['tracker']
    assert tracker.level == health.ERROR and 'none was answered for 2.5 s' in tracker.message
    assert tracker.values['last_result_age_s'] == '2.50'
    assert h.snapshot(rig.t).level == health.ERROR
    rig.run(0.5)                                        # results resume
    assert rig.reports()['tracker'].level == health.OK
    assert h.snapshot(rig.t).level == health.OK


def test_stall_without_result_times_uses_the_latest_input() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(3.0, answer_now=False)                      # record_result without now_ns
    assert rig.reports()['tracker'].level == health.OK
    rig.run(2.5, answer=False)
    assert rig.reports()['tracker'].level == health.ERROR


def test_streams_stopped_is_not_a_stall() -> None:
    h = health.TrackerHealth('cpu', expected_rate_rgb=30.0)
    assert h.reports(0)[0].level == health.WARN         # nothing yet, a rate is expected
    assert 'no rgb frames yet' in h.reports(0)[0].message
    assert max(r.level for r in health.TrackerHealth('cpu').reports(0)) == health.OK
    rig = _Rig(h)
    rig.run(2.0)
    rig.idle(10.0)                                      # both cameras stop
    reps = rig.reports()
    assert reps['tracker'].level == health.OK
    assert reps['input rgb'].level == health.WARN and 'no rgb frames for' in \
        reps['input rgb'].message
    assert reps['input rgb'].values['rate_hz'] == '0.00'
    assert reps['input x'].level == health.OK           # no X rate expected
    assert h.snapshot(rig.t).level == health.WARN
    # the silence counts at once: 3 s after the stop the rate is well below 30 Hz
    h2 = health.TrackerHealth('cpu')
    rig2 = _Rig(h2)
    rig2.run(5.0)
    rig2.idle(3.0)
    assert float(rig2.reports()['input rgb'].values['rate_hz']) < 15.0


def test_time_jump_warns_for_one_window() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0)
    rig.stats['time_jumps'] = 1
    rig.run(0.5)
    sync = rig.reports()['sync']
    assert sync.level == health.WARN and 'time jump' in sync.message
    assert sync.values['time_jumps'] == '1' and sync.values['time_jumps_total'] == '1'
    rig.run(6.0)
    sync = rig.reports()['sync']
    assert sync.level == health.OK and sync.values['time_jumps'] == '0'
    assert sync.values['time_jumps_total'] == '1'


def test_x_unmatched_alone_does_not_warn() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    for _ in range(150):                                # X at 60 Hz, RGB at 30 Hz
        rig.run(1 / 30)
        h.record_input('x', rig.t + rig.dt // 2)
        rig.stats['x_in'] += 1
        rig.stats['dropped_x_unmatched'] = rig.stats.get('dropped_x_unmatched', 0) + 1
    h.set_pairer_stats(rig.stats)
    reps = rig.reports()
    assert set(_levels(reps).values()) == {health.OK}, [r.message for r in reps.values()]
    x = reps['input x']
    assert x.values['dropped'] == '0' and int(x.values['unmatched']) >= 140
    assert reps['sync'].values['dropped_total.x_unmatched'] == '150'


def test_x_missing_warns_in_sync_and_counts_tracked_kinds() -> None:
    h = health.TrackerHealth('cpu')
    rig = _Rig(h)
    rig.run(1.0, x=False)
    sync = rig.reports()['sync']
    assert sync.level == health.WARN and 'X missing' in sync.message
    assert sync.values['rgb_alone'] == '30' and sync.values['pairs'] == '0'
    h.record_result(rig.t, 0.01, 0.5, used_x=False, tracking=True, rgb_missing=True,
                    now_ns=rig.t)
    sync = rig.reports()['sync']
    assert sync.level == health.WARN and 'RGB missing' in sync.message
    assert sync.values['x_alone'] == '1'


def test_tracker_latency_window_and_other_bad_frames() -> None:
    h = health.TrackerHealth('cuda:0', precision='bf16')
    for k in range(20):
        t = k * S // 30
        h.record_input('rgb', t)
        h.record_result(t, (k + 1) / 1000, 0.5, used_x=True, tracking=True, now_ns=t)
    tracker = h.reports(S)[-1]
    assert tracker.values['latency_ms_mean'] == '10.5'
    assert tracker.values['latency_ms_max'] == '20.0'
    assert tracker.values['latency_ms_p95'] == '19.0'
    assert tracker.values['device'] == 'cuda:0' and tracker.values['precision'] == 'bf16'
    assert tracker.level == health.OK
    h.record_bad_frame('worker', 'RuntimeError')
    tracker = h.reports(S)[-1]
    assert tracker.level == health.WARN and 'worker.RuntimeError 1' in tracker.message
    assert tracker.values['bad_frames.worker.RuntimeError'] == '1'
    # latency older than the window is forgotten
    assert h.reports(20 * S)[-1].values['latency_ms_mean'] == 'nan'


def test_pairer_counter_reset_and_clock_before_samples() -> None:
    h = health.TrackerHealth('cpu')
    base = 10_000 * S                                    # a monotonic clock far from 0
    for k in range(30):
        h.record_input('rgb', base + k * S // 30)
        h.record_input('x', base + k * S // 30)
        h.record_result(k, 0.01, 0.9, used_x=True, tracking=True)
    h.set_pairer_stats({'rgb_in': 30, 'dropped_rgb_late': 2})
    h.set_pairer_stats({'rgb_in': 5, 'dropped_rgb_late': 1})   # a new synchronizer
    snap = h.snapshot(0)                                 # the node tests' snapshot(0)
    assert snap.level == health.OK
    assert snap.values['dropped.rgb_late'] == '3' and snap.values['sync.rgb_in'] == '35'


def test_configuration_is_validated() -> None:
    for kwargs, name in (({'expected_rate_rgb': -1.0}, 'expected_rate_rgb'),
                         ({'expected_rate_x': math.inf}, 'expected_rate_x'),
                         ({'drop_warn_ratio': 1.5}, 'drop_warn_ratio'),
                         ({'drop_warn_ratio': math.nan}, 'drop_warn_ratio'),
                         ({'stall_error_s': 0.0}, 'stall_error_s'),
                         ({'rate_tolerance': 1.0}, 'rate_tolerance'),
                         ({'window_s': 0.0}, 'window_s')):
        with pytest.raises(ValueError, match=name):
            health.TrackerHealth('cpu', **kwargs)
    h = health.TrackerHealth('cpu')
    with pytest.raises(ValueError, match=r'stall_error_s.*\(0, inf\) s'):
        h.configure(stall_error_s=-2)
    with pytest.raises(ValueError, match='expected_rate_rgb'):
        h.configure(expected_rate_x=30.0, expected_rate_rgb='fast')
    # nothing applied from a refused call
    assert 'expected_rate_hz' not in h.reports(0)[1].values
