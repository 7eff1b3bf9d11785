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

"""FramePairer: pairing, release rules, fallback/recovery events, time jumps, reordering,
unusable X and drop accounting. Scripted stamps and arrival clocks only (no sleeping); every
FramePairer created in a test has its accounting checked when the test ends."""

import threading

import pytest

from rgbx_tracker_ros.core.sync import FramePair, FramePairer


def ms(value: float) -> int:
    """Milliseconds -> integer nanoseconds."""
    return int(round(value * 1_000_000))


def make(slop=10, timeout=500, max_pending=8) -> FramePairer:
    return FramePairer(slop_s=slop / 1000.0, x_timeout_s=timeout / 1000.0, max_pending=max_pending)


def rgb_accounted(p: FramePairer) -> int:
    s = p.stats
    return (s['paired'] + s['rgb_only'] + s['dropped_rgb_overflow'] + s['dropped_rgb_duplicate']
            + s['dropped_rgb_late'] + s['dropped_rgb_time_jump'] + p.pending[0])


def assert_accounted(p: FramePairer) -> None:
    """Every pushed frame is in exactly one bucket (computed from the stats, and as reported by
    FramePairer.accounting); the rgb_only breakdown adds up."""
    s = p.stats
    a = p.accounting()
    dropped_rgb = sum(v for k, v in s.items() if k.startswith('dropped_rgb_'))
    dropped_x = sum(v for k, v in s.items() if k.startswith('dropped_x_'))
    assert s['rgb_in'] == s['paired'] + s['rgb_only'] + dropped_rgb + a['rgb_pending']
    assert a['rgb_pending'] == p.pending[0]
    assert s['x_in'] == s['x_used'] + s['x_unusable'] + dropped_x + a['x_waiting']
    assert a['rgb_unaccounted'] == 0 and a['x_unaccounted'] == 0
    assert s['rgb_only'] == sum(v for k, v in s.items() if k.startswith('rgb_only_'))
    assert s['x_unusable'] == sum(p.x_unusable_reasons.values())


@pytest.fixture(autouse=True)
def every_pairer_is_accounted(monkeypatch):
    """After each test: every frame pushed into any FramePairer is in exactly one bucket."""
    created = []
    init = FramePairer.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(FramePairer, '__init__', recording_init)
    yield
    for pairer in created:
        assert_accounted(pairer)


def test_pairs_within_slop_once_a_newer_x_arrived():
    p = make(slop=10)
    p.push_x(ms(1000), 'x1000', now_ns=ms(1))
    p.push_rgb(ms(1004), 'rgb1004', now_ns=ms(2))
    # newest X (1000) is older than the RGB frame: a closer X could still come -> wait
    assert p.pop_ready(now_ns=ms(3)) == []
    p.push_x(ms(1040), 'x1040', now_ns=ms(4))
    pairs = p.pop_ready(now_ns=ms(5))
    assert pairs == [FramePair(stamp_ns=ms(1004), rgb='rgb1004', x='x1000', x_stamp_ns=ms(1000),
                               x_missing=False)]
    assert p.stats['paired'] == 1 and p.stats['rgb_only'] == 0
    assert p.x_available


def test_nearest_x_wins_and_ties_take_the_older():
    p = make(slop=10)
    for t in (995, 1003, 1030):
        p.push_x(ms(t), f'x{t}', now_ns=ms(1))
    p.push_rgb(ms(1000), 'a', now_ns=ms(2))       # |995| = 5, |1003| = 3 -> 1003
    p.push_rgb(ms(1020), 'b', now_ns=ms(2))       # 1030 is 10 away (== slop), 1003 is 17 away
    pairs = p.pop_ready(now_ns=ms(3))
    assert [(q.rgb, q.x) for q in pairs] == [('a', 'x1003'), ('b', 'x1030')]
    q = make(slop=10)
    q.push_x(ms(995), 'x995', now_ns=0)
    q.push_x(ms(1005), 'x1005', now_ns=0)
    q.push_rgb(ms(1000), 'tie', now_ns=0)
    assert q.pop_ready(now_ns=1)[0].x == 'x995'


def test_rgb_only_when_an_x_newer_than_t_plus_slop_arrives():
    p = make(slop=10, timeout=500)
    p.push_x(ms(900), 'x900', now_ns=ms(0))
    p.push_rgb(ms(1000), 'rgb', now_ns=ms(1))
    assert p.pop_ready(now_ns=ms(2)) == []        # still waiting: X 900 is older
    p.push_x(ms(1011), 'x1011', now_ns=ms(3))      # > 1000 + 10: no match can come
    pairs = p.pop_ready(now_ns=ms(4))
    assert len(pairs) == 1 and pairs[0].x_missing and pairs[0].x is None
    assert pairs[0].x_stamp_ns is None and pairs[0].stamp_ns == ms(1000)
    assert p.stats['rgb_only'] == 1 and p.x_available     # not a loss of X
    # X 900 was never used and is now too old for any future RGB frame (> 1000): counted
    assert p.stats['dropped_x_unmatched'] == 1


def test_before_any_x_rgb_is_released_at_once_without_events():
    p = make()
    p.push_rgb(ms(0), 'a', now_ns=ms(0))
    p.push_rgb(ms(33), 'b', now_ns=ms(33))
    pairs = p.pop_ready(now_ns=ms(34))
    assert [q.rgb for q in pairs] == ['a', 'b'] and all(q.x_missing for q in pairs)
    assert not p.x_available
    assert p.drain_events() == []


def test_x_timeout_fallback_and_recovery_with_events():
    p = make(slop=5, timeout=200)
    out = []
    now = 0
    # 0..300 ms: both cameras at 20 Hz, X arrives 2 ms after RGB, stamps 1 ms apart
    for k in range(7):
        t = 50 * k
        now = t + 10
        p.push_rgb(ms(t), f'rgb{t}', now_ns=ms(now))
        p.push_x(ms(t + 1), f'x{t + 1}', now_ns=ms(now + 2))
        out += p.pop_ready(now_ns=ms(now + 3))
    assert all(not q.x_missing for q in out) and len(out) == 7
    events = p.drain_events()
    assert len(events) == 1 and events[0].startswith('X available')
    # X stops after stamp 301 (last arrival at now = 312 ms); RGB goes on
    last_x_arrival = now + 2
    released_during_gap = []
    for k in range(7, 20):
        t = 50 * k
        now = t + 10
        p.push_rgb(ms(t), f'rgb{t}', now_ns=ms(now))
        released_during_gap += [(q, now) for q in p.pop_ready(now_ns=ms(now))]
        if now - last_x_arrival <= 200:
            assert p.x_available
    assert not p.x_available
    events = p.drain_events()
    assert len(events) == 1 and events[0].startswith('X lost') and 'RGB alone' in events[0]
    assert all(q.x_missing for q, _ in released_during_gap)
    # the frames that were pending when X was declared lost waited; later ones go out at once
    assert released_during_gap[-1][0].stamp_ns == ms(950)
    assert released_during_gap[-1][1] == 960
    assert p.pending == (0, 0)
    # X comes back
    p.push_x(ms(1001), 'x1001', now_ns=ms(1011))
    p.push_rgb(ms(1000), 'rgb1000', now_ns=ms(1012))
    back = p.pop_ready(now_ns=ms(1013))
    assert [(q.rgb, q.x, q.x_missing) for q in back] == [('rgb1000', 'x1001', False)]
    events = p.drain_events()
    assert len(events) == 1 and events[0].startswith('X resumed')
    assert p.x_available
    assert rgb_accounted(p) == p.stats['rgb_in'] == 21


def test_waiting_frame_is_released_at_x_timeout_and_lagging_x_is_declared_lost():
    p = make(slop=10, timeout=100)
    # X stamps lag 1 s behind RGB stamps although X keeps arriving
    p.push_x(ms(0), 'x0', now_ns=ms(0))
    p.push_rgb(ms(1000), 'rgb1000', now_ns=ms(1))
    p.push_x(ms(50), 'x50', now_ns=ms(50))
    assert p.pop_ready(now_ns=ms(100)) == []      # waited 99 ms < 100 ms
    p.push_x(ms(100), 'x100', now_ns=ms(100))
    pairs = p.pop_ready(now_ns=ms(101))
    assert len(pairs) == 1 and pairs[0].x_missing
    events = p.drain_events()
    assert len(events) == 2 and events[0].startswith('X available')
    assert events[1].startswith('X lost') and 'within slop' in events[1]
    # still lagging X does not flap back to available; it is dropped as too late
    p.push_x(ms(150), 'x150', now_ns=ms(150))
    p.push_rgb(ms(1050), 'rgb1050', now_ns=ms(151))
    pairs = p.pop_ready(now_ns=ms(152))
    assert [q.x_missing for q in pairs] == [True]
    assert not p.x_available and p.drain_events() == []
    assert p.stats['dropped_x_late'] == 1


def test_bounded_queues_count_overflow_drops():
    p = make(slop=10, max_pending=3)
    p.push_x(ms(0), 'x0', now_ns=0)                # X available, so RGB frames wait for X
    for t in (100, 133, 166, 200, 233):
        p.push_rgb(ms(t), t, now_ns=ms(1))
    assert p.stats['dropped_rgb_overflow'] == 2 and p.pending[0] == 3
    p.push_x(ms(300), 'x300', now_ns=ms(2))
    assert [q.rgb for q in p.pop_ready(now_ns=ms(3))] == [166, 200, 233]

    q = make(slop=10, max_pending=3)
    for t in range(5):
        q.push_x(ms(10 * t), t, now_ns=ms(t))
    assert q.stats['dropped_x_overflow'] == 2 and q.pending == (0, 3)


def test_out_of_order_and_duplicate_frames():
    """Without a reorder window (reorder_window=0: the old behaviour) an RGB frame older than the
    last released one is dropped late; with the default window (2) it is released late."""
    for window in (0, 2):
        p = FramePairer(slop_s=0.010, x_timeout_s=0.5, reorder_window=window)
        p.push_x(ms(990), 'x990', now_ns=0)
        p.push_rgb(ms(1033), 'late-arriving newer', now_ns=ms(1))
        p.push_rgb(ms(1000), 'older', now_ns=ms(2))   # arrives second, is released first
        p.push_rgb(ms(1000), 'dup', now_ns=ms(3))
        p.push_x(ms(1030), 'x1030', now_ns=ms(4))
        p.push_x(ms(1030), 'x1030 again', now_ns=ms(5))
        p.push_x(ms(1100), 'x1100', now_ns=ms(6))
        pairs = p.pop_ready(now_ns=ms(7))
        assert [(q.rgb, q.x) for q in pairs] == [('older', 'x990'),
                                                 ('late-arriving newer', 'x1030')]
        p.push_rgb(ms(1010), 'older than released', now_ns=ms(8))
        p.push_rgb(ms(1033), 'same as released', now_ns=ms(9))
        s = p.stats
        assert s['dropped_rgb_duplicate'] == 2 and s['dropped_x_duplicate'] == 1
        out = p.pop_ready(now_ns=ms(10))
        if window == 0:
            assert s['dropped_rgb_late'] == 1 and out == []
        else:
            # inside the window: released out of order, RGB-only (no X within 10 ms of 1010)
            assert s['dropped_rgb_late'] == 0
            assert [(q.rgb, q.late, q.x_missing) for q in out] == [
                ('older than released', True, True)]
            assert p.stats['late_released'] == 1
        assert rgb_accounted(p) == s['rgb_in'] == 5
        assert_accounted(p)


def test_x_faster_than_rgb_counts_unmatched_x():
    p = make(slop=5, max_pending=16)
    for t in range(0, 100, 10):                    # X at 100 Hz
        p.push_x(ms(t), t, now_ns=ms(t))
    p.push_rgb(ms(41), 'rgb41', now_ns=ms(100))    # RGB: one frame; nearest X is 40
    pairs = p.pop_ready(now_ns=ms(101))
    assert pairs[0].x == 40
    # X 0..30 are older than 41 - 5 and were never used
    assert p.stats['dropped_x_unmatched'] == 4


def test_flush_releases_everything_pending():
    p = make(slop=10)
    p.push_x(ms(0), 'x0', now_ns=0)
    p.push_rgb(ms(5), 'a', now_ns=0)
    p.push_rgb(ms(50), 'b', now_ns=0)
    assert p.pop_ready(now_ns=1) == []
    pairs = p.flush()
    assert [(q.rgb, q.x) for q in pairs] == [('a', 'x0'), ('b', None)]


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match='x_timeout_s'):
        FramePairer(slop_s=0.5, x_timeout_s=0.5)
    with pytest.raises(ValueError, match='slop_s'):
        FramePairer(slop_s=-0.1, x_timeout_s=0.5)
    with pytest.raises(ValueError, match='max_pending'):
        FramePairer(slop_s=0.01, x_timeout_s=0.5, max_pending=0)
    p = make()
    with pytest.raises(ValueError, match='nanoseconds'):
        p.push_rgb(1.5, 'a', now_ns=0)
    with pytest.raises(ValueError, match='nanoseconds'):
        p.pop_ready(now_ns='soon')


def test_concurrent_pushes_and_pops_lose_nothing():
    p = make(slop=2, timeout=50, max_pending=4)
    released = []
    n = 2000

    def rgb_cb():
        for k in range(n):
            p.push_rgb(ms(10 * k), k, now_ns=ms(10 * k))

    def x_cb():
        for k in range(n):
            p.push_x(ms(10 * k + 1), k, now_ns=ms(10 * k))

    def worker():
        for k in range(n):
            released.extend(p.pop_ready(now_ns=ms(10 * k)))

    threads = [threading.Thread(target=f) for f in (rgb_cb, x_cb, worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    released.extend(p.flush())
    stamps = [q.stamp_ns for q in released]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    s = p.stats
    assert s['rgb_in'] == s['x_in'] == n
    assert len(released) == s['paired'] + s['rgb_only']
    assert rgb_accounted(p) == n
    assert all(q.x_missing or abs(q.x_stamp_ns - q.stamp_ns) <= ms(2) for q in released)


def test_set_timing_changes_pairing_at_run_time_and_validates():
    p = make(slop=2)
    p.push_x(ms(1000), 'x1000', now_ns=ms(1))
    p.push_rgb(ms(1005), 'rgb1005', now_ns=ms(2))
    p.set_timing(slop_s=0.010, x_timeout_s=0.5)          # 5 ms apart now pairs
    p.push_x(ms(1040), 'x1040', now_ns=ms(3))
    pairs = p.pop_ready(now_ns=ms(4))
    assert [(f.rgb, f.x) for f in pairs] == [('rgb1005', 'x1000')]
    with pytest.raises(ValueError, match='x_timeout_s must be > slop_s'):
        p.set_timing(slop_s=0.5, x_timeout_s=0.1)
    assert (p.slop_s, p.x_timeout_s) == (0.010, 0.5)      # a rejected change changes nothing


def test_x_grace_holds_rgb_for_a_late_x_while_x_is_missing():
    """While X is unavailable, an RGB frame waits x_grace_s (arrival clock) so that an X frame
    sent with it but delivered a moment later pairs; after the grace it goes alone."""
    p = FramePairer(slop_s=0.002, x_timeout_s=0.5, x_grace_s=0.030)
    p.push_rgb(ms(1000), 'rgb1000', now_ns=ms(10))
    assert p.pop_ready(now_ns=ms(20)) == []               # within the grace: held
    p.push_x(ms(1000), 'x1000', now_ns=ms(25))            # the late X arrives
    assert [(f.rgb, f.x) for f in p.pop_ready(now_ns=ms(26))] == [('rgb1000', 'x1000')]
    # X lost again: a new RGB frame is released alone once its grace has passed
    q = FramePairer(slop_s=0.002, x_timeout_s=0.5, x_grace_s=0.030)
    q.push_rgb(ms(2000), 'rgb2000', now_ns=ms(100))
    assert q.pop_ready(now_ns=ms(129)) == []
    out = q.pop_ready(now_ns=ms(130))
    assert [(f.rgb, f.x_missing) for f in out] == [('rgb2000', True)]
    # the grace changes at run time; 0 releases at once; negative values are refused
    q.set_timing(0.002, 0.5, x_grace_s=0.0)
    q.push_rgb(ms(2033), 'rgb2033', now_ns=ms(140))
    assert [f.rgb for f in q.pop_ready(now_ns=ms(140))] == ['rgb2033']
    assert q.x_grace_s == 0.0
    with pytest.raises(ValueError, match='x_grace_s must be >= 0'):
        q.set_timing(0.002, 0.5, x_grace_s=-0.1)
    q.set_timing(0.004, 0.5)                               # None keeps the grace
    assert q.x_grace_s == 0.0 and q.slop_s == 0.004


def test_rgb_lost_releases_x_alone_then_rgb_resumes():
    """Rule 4: with rgb_timeout_s, X frames go out alone once an X frame waited that long (from
    its own arrival) with no RGB arriving; the first RGB frame ends it; stamps stay in order and
    every X frame goes out once."""
    p = FramePairer(slop_s=0.002, x_timeout_s=0.5, rgb_timeout_s=0.2)
    for k in range(3):                                    # RGB-X at 10 Hz
        p.push_x(ms(1000 + 100 * k), f'x{k}', now_ns=ms(100 * k))
        p.push_rgb(ms(1000 + 100 * k), f'rgb{k}', now_ns=ms(100 * k + 1))
    assert [(f.rgb, f.x) for f in p.pop_ready(now_ns=ms(202))] == [
        ('rgb0', 'x0'), ('rgb1', 'x1'), ('rgb2', 'x2')]
    assert p.rgb_available
    p.push_x(ms(1300), 'x3', now_ns=ms(300))              # the RGB camera has died
    assert p.pop_ready(now_ns=ms(402)) == []              # X3 waited 102 ms < 200 ms: wait
    out = p.pop_ready(now_ns=ms(500))                     # X3 waited 200 ms: RGB lost
    assert [(f.stamp_ns, f.rgb, f.x, f.rgb_missing, f.x_missing) for f in out] == [
        (ms(1300), None, 'x3', True, False)]
    assert not p.rgb_available
    assert any(e.startswith('RGB lost') and 'tracking on X alone' in e for e in p.drain_events())
    for k in (4, 5):                                      # later X frames go out at once
        p.push_x(ms(1000 + 100 * k), f'x{k}', now_ns=ms(100 * k + 200))
        assert [f.x for f in p.pop_ready(now_ns=ms(100 * k + 201))] == [f'x{k}']
    p.push_rgb(ms(1500), 'rgb5-late', now_ns=ms(705))     # its X went out alone
    p.push_x(ms(1600), 'x6', now_ns=ms(800))
    p.push_rgb(ms(1600), 'rgb6', now_ns=ms(801))
    assert p.rgb_available
    assert any(e.startswith('RGB resumed') for e in p.drain_events())
    assert [(f.rgb, f.x, f.rgb_missing) for f in p.pop_ready(now_ns=ms(802))] == [
        ('rgb6', 'x6', False)]
    s = p.stats
    assert (s['paired'], s['x_only'], s['dropped_rgb_late']) == (4, 3, 1)
    assert rgb_accounted(p) == s['rgb_in']
    assert_accounted(p)


def test_rgb_timeout_off_keeps_x_waiting_for_rgb():
    """Without rgb_timeout_s (the default) nothing is released without an RGB frame; the RGB
    camera starting late is rule 4 too (timed from the first X arrival)."""
    p = make()
    p.push_x(ms(1000), 'x0', now_ns=ms(0))
    assert p.pop_ready(now_ns=ms(5000)) == [] and p.rgb_available
    q = FramePairer(slop_s=0.002, x_timeout_s=0.5, rgb_timeout_s=0.2)
    q.push_x(ms(1000), 'x0', now_ns=ms(0))
    assert q.pop_ready(now_ns=ms(150)) == []
    assert [f.x for f in q.pop_ready(now_ns=ms(250))] == ['x0']
    assert 'no RGB frame yet' in q.drain_events()[-1]
    q.set_rgb_timeout(0)                                  # 0 = off
    assert q.rgb_timeout_s is None
    with pytest.raises(ValueError, match='rgb_timeout_s must be >= 0'):
        q.set_rgb_timeout(-1.0)


def test_rgb_lost_x_waits_x_grace_for_an_rgb_frame_sent_with_it():
    """While RGB is lost an X frame is held x_grace_s, so the RGB frame published right after it
    (a lockstep player sends X first) pairs with it instead of being dropped as late."""
    p = FramePairer(slop_s=0.002, x_timeout_s=0.5, x_grace_s=0.030, rgb_timeout_s=0.2)
    p.push_x(ms(1000), 'x0', now_ns=ms(0))
    assert [f.x for f in p.pop_ready(now_ns=ms(250))] == ['x0']      # RGB never came: alone
    p.push_x(ms(1100), 'x1', now_ns=ms(300))
    assert p.pop_ready(now_ns=ms(310)) == []                         # within the grace
    p.push_rgb(ms(1100), 'rgb1', now_ns=ms(315))
    assert [(f.rgb, f.x, f.rgb_missing) for f in p.pop_ready(now_ns=ms(316))] == [
        ('rgb1', 'x1', False)]
    assert p.stats['dropped_rgb_late'] == 0 and p.rgb_available


def test_rgb_is_not_lost_while_an_rgb_frame_waits_for_x_or_everything_stops():
    """An RGB frame pending for its X (X withheld) or both streams stopping is not an RGB loss."""
    p = FramePairer(slop_s=0.002, x_timeout_s=0.5, rgb_timeout_s=0.2)
    p.push_x(ms(1000), 'x0', now_ns=ms(0))
    p.push_rgb(ms(1000), 'rgb0', now_ns=ms(1))
    assert len(p.pop_ready(now_ns=ms(2))) == 1
    p.push_rgb(ms(1100), 'rgb1', now_ns=ms(100))          # its X never comes
    assert p.pop_ready(now_ns=ms(400)) == [] and p.rgb_available
    out = p.pop_ready(now_ns=ms(601))                     # x_timeout: RGB alone
    assert [(f.rgb, f.x_missing) for f in out] == [('rgb1', True)]
    assert p.pop_ready(now_ns=ms(5000)) == [] and p.rgb_available   # all quiet
    assert not any(e.startswith('RGB lost') for e in p.drain_events())


# ---------------------------------------------------------------------------------------------
# Scripted scenarios (field bugs found by fault injection against the node). A script is a list
# of (arrival_ms, stream, stamp_ms) with stream 'rgb', 'x' or 'x?' (unusable X); run() pushes in
# arrival order, pops after every push and on a 1 ms tick (like the node's worker), and returns
# the releases with their release time.

def node_like(**kw) -> FramePairer:
    """The node's defaults: slop 20 ms, x_timeout 0.5 s, x_grace 30 ms, rgb_timeout 0.5 s."""
    args = dict(slop_s=0.020, x_timeout_s=0.5, x_grace_s=0.030, rgb_timeout_s=0.5)
    args.update(kw)
    return FramePairer(**args)


def run(p: FramePairer, script, tick_ms: float = 1.0, tail_ms: float = 1000.0):
    """-> (list of (release_ms, FramePair), list of events)."""
    script = sorted(script, key=lambda e: e[0])        # stable: script order for ties
    out, events = [], []
    t_end = script[-1][0] + tail_ms
    ticks = [script[0][0] + tick_ms * i for i in range(int((t_end - script[0][0]) / tick_ms) + 1)]
    i = 0
    for tick in ticks:
        while i < len(script) and script[i][0] <= tick:
            arrival, stream, stamp = script[i]
            if stream == 'rgb':
                p.push_rgb(ms(stamp), f'rgb{stamp:g}', now_ns=ms(arrival))
            elif stream == 'x':
                p.push_x(ms(stamp), f'x{stamp:g}', now_ns=ms(arrival))
            else:
                p.push_x_unusable(ms(stamp), now_ns=ms(arrival), reason='all_nan')
            out += [(arrival, q) for q in p.pop_ready(now_ns=ms(arrival))]
            i += 1
        out += [(tick, q) for q in p.pop_ready(now_ns=ms(tick))]
    events += p.drain_events()
    assert_accounted(p)
    return out, events


def lockstep(n, period_ms=40.0, t0_stamp=1000.0, rgb_delay=5.0, x_delay=7.0, start=0, x_every=1,
             stamp_of=None):
    """n frames of RGB (and X every x_every-th frame) captured every period_ms; stamp_of(k)
    overrides the stamp of frame k (default t0_stamp + k * period_ms)."""
    script = []
    for k in range(start, start + n):
        capture = k * period_ms
        stamp = stamp_of(k) if stamp_of else t0_stamp + capture
        script.append((capture + rgb_delay, 'rgb', stamp))
        if k % x_every == 0:
            script.append((capture + x_delay, 'x', stamp))
    return script


def rgb_released(out):
    return [q for _, q in out if not q.rgb_missing]


def warnings_of(events):
    return [e for e in events if e.startswith(('X lost', 'RGB lost', 'Time jump', 'X no signal'))]


def test_time_jump_forward_one_bad_pair_then_good_pairs_are_answered():
    """Bug 1: one RGB/X pair stamped 1000 s in the future used to silence the node for good."""
    p = node_like()
    script = lockstep(20, stamp_of=lambda k: 1000.0 + 40 * k + (1e6 if k == 5 else 0))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 20 and all(not q.x_missing for q in rel)    # the bad pair too
    assert [q.stamp_ns for q in rel[6:]] == [ms(1000 + 40 * k) for k in range(6, 20)]
    jumps = warnings_of(events)
    assert len(jumps) == 2
    assert jumps[0].startswith('Time jump: RGB stamps jumped forward by 1000.')
    assert jumps[1].startswith('Time jump: RGB stamps jumped back by 1000.')
    s = p.stats
    assert s['time_jumps'] == 2 and s['paired'] == 20
    assert sum(v for k, v in s.items() if k.startswith('dropped_')) == 0


def test_time_jump_back_clock_reset_and_stamps_after_it_are_answered():
    p = node_like()
    script = lockstep(30, stamp_of=lambda k: 1000.0 + 40 * k - (100_000 if k >= 10 else 0))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 30 and all(not q.x_missing for q in rel)
    jumps = warnings_of(events)
    assert len(jumps) == 1 and jumps[0].startswith('Time jump: RGB stamps jumped back by 100.')
    assert p.stats['time_jumps'] == 1 and p.x_state == 'ok'


def test_time_jump_with_x_delivered_late():
    """The second stream's first frame on the new base follows silently, also when one of its
    old-base frames is still in flight (X delivered 60 ms after RGB): that one is held, then
    dropped, counted; the RGB frame pending at the jump is dropped too."""
    p = node_like()
    script = lockstep(30, x_delay=60.0,
                      stamp_of=lambda k: 1000.0 + 40 * k + (500_000 if k >= 10 else 0))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 29 and all(not q.x_missing for q in rel[1:])
    assert rel[0].x_missing_reason == 'x_unavailable'      # X not seen yet after x_grace
    assert ms(1360) not in [q.stamp_ns for q in rel]       # pending when RGB jumped
    s = p.stats
    assert (s['dropped_rgb_time_jump'], s['dropped_x_time_jump']) == (1, 1)
    assert len(warnings_of(events)) == 1 and s['time_jumps'] == 1


def test_single_bad_x_stamp_recovers():
    p = node_like()
    script = lockstep(20)
    script = [(a, st, t + 1e6 if (st == 'x' and t == 1000 + 40 * 8) else t) for a, st, t in script]
    out, events = run(p, script)
    rel = rgb_released(out)
    # RGB 1320 (pending for X 1320 when that one jumped) is dropped; RGB 1360, held while the
    # X stream was on the other base, is taken back when X returns and pairs
    assert [q.stamp_ns for q in rel] == [ms(1000 + 40 * k) for k in range(20) if k != 8]
    assert all(not q.x_missing for q in rel)
    s = p.stats
    assert (s['dropped_rgb_time_jump'], s['dropped_x_time_jump']) == (1, 1)
    assert len(warnings_of(events)) == 1 and s['time_jumps'] == 1


def test_bag_loop_restarts_stamps_every_n_frames():
    """A 3 s bag replayed in a loop: stamps restart every 75 frames; every frame is answered."""
    p = node_like()
    script = lockstep(225, stamp_of=lambda k: 1000.0 + 40 * (k % 75))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 225 and all(not q.x_missing for q in rel)
    jumps = warnings_of(events)
    assert len(jumps) == 2 and all('back by 3.000 s' in e for e in jumps)
    assert p.stats['time_jumps'] == 2


def test_clock_stepped_back_by_less_than_the_threshold_resets_after_a_late_run():
    p = node_like()
    script = lockstep(40, stamp_of=lambda k: 1000.0 + 40 * k - (1000 if k >= 10 else 0))
    out, events = run(p, script)
    rel = rgb_released(out)
    s = p.stats
    assert s['dropped_rgb_late'] == 4 and s['time_jumps'] == 1
    assert len(rel) == 36
    assert [e[:16] for e in warnings_of(events)] == ['Time jump: back:']
    assert all(not q.x_missing for q in rel[-25:])


def test_backlog_of_stale_frames_is_not_a_time_jump():
    """X stalls 3 s, then its backlog arrives at once: X lost, the stale X frames are dropped
    late, no time jump; fresh X pairs again."""
    p = node_like(rgb_timeout_s=None, max_pending=16)
    script = []
    for k in range(150):
        capture = 40 * k
        script.append((capture + 5, 'rgb', 1000 + capture))
        if k < 20 or k >= 95:
            script.append((capture + 7, 'x', 1000 + capture))
        elif k < 95:
            script.append((95 * 40 + 1 + 0.01 * k, 'x', 1000 + capture))   # backlog at 3.8 s
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 150 and p.stats['time_jumps'] == 0
    assert [e.split(':')[0] for e in events] == ['X available', 'X lost', 'X resumed']
    assert all(not q.x_missing for q in rel[-50:])


def test_reset_time_base_drops_everything_and_counts_a_jump():
    p = node_like()
    for k in range(3):
        p.push_rgb(ms(5000 + 40 * k), k, now_ns=ms(40 * k))
        p.push_x(ms(5000 + 40 * k), k, now_ns=ms(40 * k + 2))
    p.push_rgb(ms(5120), 'waiting', now_ns=ms(121))       # waits for its X
    p.push_x(ms(5160), 'unused', now_ns=ms(122))
    released = p.pop_ready(now_ns=ms(123))
    assert [q.rgb for q in released] == [0, 1, 2]
    p.drain_events()
    assert p.pending == (1, 3)                            # X 5000 was pruned (used)
    p.reset_time_base('/clock went back')
    events = p.drain_events()
    assert len(events) == 1 and events[0].startswith('Time jump: /clock went back; dropped 1 '
                                                     'pending RGB and 1 buffered X')
    s = p.stats
    assert (s['time_jumps'], s['dropped_rgb_time_jump'], s['dropped_x_time_jump']) == (1, 1, 1)
    assert p.pending == (0, 0)
    # the old stamps are answered again (no 'late', no further jump)
    p.push_rgb(ms(1000), 'a', now_ns=ms(200))
    p.push_x(ms(1000), 'xa', now_ns=ms(201))
    assert [(q.rgb, q.x) for q in p.pop_ready(now_ns=ms(202))] == [('a', 'xa')]
    assert p.drain_events() == [] and p.stats['time_jumps'] == 1
    assert_accounted(p)


def test_time_jump_detection_can_be_switched_off():
    script = lockstep(20, stamp_of=lambda k: 1000.0 + 40 * k + (1e6 if k == 5 else 0))
    p = node_like(time_jump_threshold_s=None, reorder_window=0)
    out, events = run(p, script)
    assert p.stats['time_jumps'] == 0 and len(rgb_released(out)) == 6   # the old failure
    # the reorder window alone keeps frames flowing, but every later one is 'late'
    p = node_like(time_jump_threshold_s=None)
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 20 and all(q.late for q in rel[6:]) and p.stats['time_jumps'] == 0
    with pytest.raises(ValueError, match='time_jump_threshold_s'):
        FramePairer(0.02, 0.5, time_jump_threshold_s=-1.0)


def test_swapped_pairs_are_all_answered():
    """Bug 2: delivery order RGB1, X1, RGB0, X0, RGB3, X3, RGB2, X2, ... lost half the frames."""
    p = node_like()
    script = []
    for g in range(10):
        capture = 80 * g + 40                       # frames 2g and 2g+1, 40 ms apart
        for j, k in enumerate((2 * g + 1, 2 * g)):
            script.append((capture + 5 + 2 * j, 'rgb', 1000 + 40 * k))
            script.append((capture + 6 + 2 * j, 'x', 1000 + 40 * k))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 20 and all(not q.x_missing for q in rel)
    assert sorted(q.stamp_ns for q in rel) == [ms(1000 + 40 * k) for k in range(20)]
    assert all(q.x_stamp_ns == q.stamp_ns for q in rel)
    assert [q.late for q in rel] == [False, True] * 10
    s = p.stats
    assert s['late_released'] == 10 and s['paired'] == 20
    assert sum(v for k, v in s.items() if k.startswith('dropped_')) == 0
    assert warnings_of(events) == []


def test_swapped_pairs_with_the_old_behaviour_lose_half():
    p = node_like(reorder_window=0)
    script = []
    for g in range(10):
        capture = 80 * g + 40
        for j, k in enumerate((2 * g + 1, 2 * g)):
            script.append((capture + 5 + 2 * j, 'rgb', 1000 + 40 * k))
            script.append((capture + 6 + 2 * j, 'x', 1000 + 40 * k))
    out, _ = run(p, script)
    assert len(rgb_released(out)) == 10 and p.stats['dropped_rgb_late'] == 10


def test_late_frames_without_their_x_go_out_rgb_only_and_never_declare_x_lost():
    """A late RGB frame whose X is expected (a slot of the X period grid with no X seen) waits
    up to x_timeout for it; one with no X that could fall within slop waits x_grace; neither
    holds back the normal frames nor declares X lost."""
    p = node_like(slop_s=0.010)
    script = [e for e in lockstep(20) if not (e[2] == 1360 and e[1] == 'x')]
    script = [(a + 50 if (st == 'rgb' and t == 1360) else a, st, t) for a, st, t in script]
    script.append((40 * 12 + 8, 'rgb', 1000 + 40 * 11 + 20))   # 1460: 20 ms from any X
    out, events = run(p, script)
    late = {q.stamp_ns: (t, q) for t, q in out if q.late}
    assert sorted(late) == [ms(1360), ms(1460)]
    t, q = late[ms(1360)]
    assert q.x_missing_reason == 'x_timeout' and t == pytest.approx(360 + 55 + 500)
    t, q = late[ms(1460)]
    assert q.x_missing_reason == 'no_x_in_slop' and t == pytest.approx(488 + 30)
    normal = [q for _, q in out if not q.late]
    assert len(normal) == 19 and all(not q.x_missing for q in normal)
    assert warnings_of(events) == [] and p.x_state == 'ok'


def test_duplicate_stamps_are_counted_once_each():
    p = node_like()
    p.push_x(ms(1000), 'x0', now_ns=ms(0))
    p.push_rgb(ms(1000), 'a', now_ns=ms(1))
    p.push_rgb(ms(1000), 'a again, pending', now_ns=ms(2))
    assert [q.rgb for q in p.pop_ready(now_ns=ms(3))] == ['a']
    p.push_rgb(ms(1000), 'a again, released', now_ns=ms(4))
    p.push_x(ms(1000), 'x0 again', now_ns=ms(5))
    p.push_x(ms(1040), 'x1', now_ns=ms(40))
    p.push_rgb(ms(1080), 'c', now_ns=ms(80))
    p.push_x(ms(1080), 'x2', now_ns=ms(81))
    assert [(q.rgb, q.x, q.late) for q in p.pop_ready(now_ns=ms(81))] == [('c', 'x2', False)]
    p.push_rgb(ms(1040), 'b late', now_ns=ms(82))
    out = p.pop_ready(now_ns=ms(83))
    assert [(q.rgb, q.x, q.late) for q in out] == [('b late', 'x1', True)]
    p.push_rgb(ms(1040), 'b again, released late', now_ns=ms(84))
    p.push_x_unusable(ms(1120), now_ns=ms(120))
    p.push_x(ms(1120), 'x3 replaces the unusable marker', now_ns=ms(121))
    p.push_rgb(ms(1120), 'd', now_ns=ms(122))
    assert [(q.rgb, q.x) for q in p.pop_ready(now_ns=ms(123))] == [
        ('d', 'x3 replaces the unusable marker')]
    s = p.stats
    assert s['dropped_rgb_duplicate'] == 3 and s['dropped_x_duplicate'] == 1
    assert s['x_unusable'] == 1 and s['paired'] == 4
    assert_accounted(p)


def _release_latencies(out, script):
    arrival = {stamp: a for a, st, stamp in script if st == 'rgb'}
    return {q.stamp_ns: t - arrival[q.stamp_ns / 1e6] for t, q in out if not q.rgb_missing}


def test_x_at_a_third_of_the_rgb_rate_releases_every_rgb_frame_promptly():
    """Bug 3: RGB 15 Hz (here every 60 ms), X 5 Hz: the RGB frames between X frames used to
    wait for the next X. Now each one goes out within x_grace (30 ms) of its arrival, RGB-only
    without X being declared lost; the ones with an X within slop are paired."""
    def scenario(x_every):
        p = node_like()
        script = lockstep(60, period_ms=60.0, rgb_delay=5.0, x_delay=8.0, x_every=x_every)
        out, events = run(p, script)
        return p, script, out, events

    p_full, script_full, out_full, _ = scenario(1)
    p, script, out, events = scenario(3)
    assert len(rgb_released(out)) == len(rgb_released(out_full)) == 60
    lat_full = _release_latencies(out_full, script_full)
    lat = _release_latencies(out, script)
    # warm-up: the X period is known once two X frames arrived (stamp 1180, arrival 188 ms);
    # the RGB frames at 1060 and 1120 had to wait for it
    warm = {ms(1060), ms(1120)}
    prompt_full = [s for s, v in lat_full.items() if v <= 30 + 3 and s not in warm]
    prompt = [s for s, v in lat.items() if v <= 30 + 3 and s not in warm]
    assert len(prompt) == len(prompt_full) == 58
    assert all(lat[s] <= 3 for s in lat if (s / 1e6 - 1000) % 180 == 0)   # paired at X arrival
    rel = {q.stamp_ns: q for q in rgb_released(out)}
    for stamp, q in rel.items():
        if (stamp / 1e6 - 1000) % 180 == 0:
            assert q.x_stamp_ns == stamp
        else:
            assert q.x_missing and q.x_missing_reason == 'no_x_in_slop'
    s = p.stats
    assert s['paired'] == 20 and s['rgb_only'] == 40 and s['rgb_only_no_x_in_slop'] == 40
    assert p.x_state == 'ok' and warnings_of(events) == []


def test_x_at_the_rgb_rate_delivered_40_ms_late_still_pairs():
    p = node_like()
    script = lockstep(40, period_ms=33.0, rgb_delay=2.0, x_delay=42.0)
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 40
    # the very first frame cannot know that X exists (x_grace 30 ms < 40 ms): RGB-only
    assert rel[0].x_missing_reason == 'x_unavailable'
    assert all(q.x_stamp_ns == q.stamp_ns for q in rel[1:])
    assert warnings_of(events) == []
    q = node_like(x_grace_s=0.05)
    out, _ = run(q, script)
    assert all(not f.x_missing for f in rgb_released(out))


@pytest.mark.parametrize('x_first', [True, False])
def test_pause_of_both_streams_longer_than_rgb_timeout_then_resume(x_first):
    """Bug 4: after a pause of both streams, X frames arriving just before their RGB were
    released alone (false 'RGB lost') and their RGB frames dropped."""
    p = node_like()
    d_rgb, d_x = (7.0, 4.0) if x_first else (4.0, 7.0)
    script = (lockstep(10, period_ms=100.0, rgb_delay=d_rgb, x_delay=d_x)
              + lockstep(10, period_ms=100.0, rgb_delay=d_rgb, x_delay=d_x, start=30))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 20 and all(not q.x_missing for q in rel)
    assert p.stats['x_only'] == 0 and events == ['X available: first usable X frame received; '
                                                 'pairing RGB with X']
    assert sum(v for k, v in p.stats.items() if k.startswith('dropped_')) == 0


@pytest.mark.parametrize('x_first', [True, False])
def test_one_hz_cameras_pair_without_lost_events(x_first):
    p = node_like()
    d_rgb, d_x = (25.0, 5.0) if x_first else (5.0, 25.0)
    out, events = run(p, lockstep(10, period_ms=1000.0, rgb_delay=d_rgb, x_delay=d_x))
    rel = rgb_released(out)
    assert len(rel) == 10 and all(not q.x_missing for q in rel)
    assert warnings_of(events) == [] and p.stats['x_only'] == 0


def test_x_really_dead_is_lost_once_then_rgb_goes_out_promptly():
    p = node_like(max_pending=16)
    script = lockstep(40, period_ms=100.0)
    script = [e for e in script if not (e[1] == 'x' and e[2] >= 2000)]      # X dies at 2 s
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 40
    assert [e.split(':')[0] for e in events] == ['X available', 'X lost']
    # rule 2b: the X expected near 2000..2300 is overdue soon after grace, so those frames go
    # out RGB-only without waiting x_timeout; X is lost once no X arrived for x_timeout (2400)
    lost_at = [q for q in rel if q.x_missing_reason == 'x_timeout']
    assert [q.stamp_ns for q in lost_at] == [ms(2400)]
    lat = _release_latencies(out, script)
    assert all(lat[ms(t)] < 100 for t in range(2000, 2400, 100))
    assert all(q.x_missing_reason == 'no_x_in_slop' for q in rel
               if ms(2000) <= q.stamp_ns < ms(2400))
    after = [q for q in rel if q.stamp_ns >= ms(2600)]
    assert all(q.x_missing_reason == 'x_unavailable' and lat[q.stamp_ns] == 30 for q in after)
    assert p.x_state == 'lost' and not p.x_available


def test_x_at_a_third_of_the_rate_dies_too():
    p = node_like(max_pending=16)
    script = lockstep(60, period_ms=60.0, x_every=3)
    script = [e for e in script if not (e[1] == 'x' and e[2] >= 2000)]
    out, events = run(p, script)
    assert len(rgb_released(out)) == 60
    assert [e.split(':')[0] for e in events] == ['X available', 'X lost']


def test_rgb_really_dead_releases_x_alone():
    p = node_like()
    script = lockstep(30, period_ms=100.0)
    script = [e for e in script if not (e[1] == 'rgb' and 1_500 <= e[2] < 3_000)]
    script += lockstep(5, period_ms=100.0, start=30)
    out, events = run(p, script)
    alone = [(t, q) for t, q in out if q.rgb_missing]
    assert [q.stamp_ns for _, q in alone] == [ms(1500 + 100 * k) for k in range(15)]
    # RGB is lost when X 1500 (arrived 507 ms) waited 0.5 s; later X frames go out after 30 ms
    assert alone[0][0] == pytest.approx(1007, abs=1)
    assert all(t - (q.stamp_ns / 1e6 - 1000 + 7) == pytest.approx(30, abs=1)
               for t, q in alone[5:])
    assert [e.split(':')[0] for e in events] == ['X available', 'RGB lost', 'RGB resumed']
    rel = rgb_released(out)
    assert len(rel) == 20 and all(not q.x_missing for q in rel)
    assert p.stats['x_only'] == 15 and p.stats['dropped_rgb_late'] == 0


def test_unusable_x_releases_rgb_promptly_and_reports_no_signal():
    """Bug 5: X frames that arrive without usable signal mark their stamp: the RGB frame goes
    out at once RGB-only with x_problem; three in a row turn the X state to 'no_signal'."""
    p = node_like()
    script = []
    for k in range(30):
        capture = 40 * k
        script.append((capture + 5, 'rgb', 1000 + capture))
        script.append((capture + 15, 'x?' if 10 <= k < 20 else 'x', 1000 + capture))
    out, events = run(p, script)
    rel = rgb_released(out)
    assert len(rel) == 30
    bad = [q for q in rel if 1400 <= q.stamp_ns / 1e6 < 1800]
    assert all(q.x_missing and q.x_problem == 'all_nan' and q.x_missing_reason == 'x_unusable'
               for q in bad)
    lat = _release_latencies(out, script)
    assert all(lat[q.stamp_ns] == 10 for q in bad)        # at the unusable X's arrival
    assert all(not q.x_missing for q in rel if not 1400 <= q.stamp_ns / 1e6 < 1800)
    assert [e.split(':')[0] for e in events] == ['X available', 'X no signal', 'X resumed']
    s = p.stats
    assert s['x_unusable'] == 10 and p.x_unusable_reasons == {'all_nan': 10}
    assert s['rgb_only_x_unusable'] == 10 and s['paired'] == 20
    assert p.x_state == 'ok'


def test_only_unusable_x_from_the_start_is_no_signal_not_ok():
    p = node_like()
    states = []
    for k in range(5):
        p.push_rgb(ms(1000 + 40 * k), k, now_ns=ms(40 * k))
        p.push_x(ms(1000 + 40 * k), None, now_ns=ms(40 * k + 3), usable=False, reason='flat')
        states.append(p.x_state)
        out = p.pop_ready(now_ns=ms(40 * k + 3))
        assert [(q.rgb, q.x_problem) for q in out] == [(k, 'flat')]
    assert states == ['no_signal'] * 5 and not p.x_available
    assert [e.split(':')[0] for e in p.drain_events()] == ['X no signal']
    assert_accounted(p)


def test_new_arguments_are_validated():
    with pytest.raises(ValueError, match='reorder_window'):
        FramePairer(0.02, 0.5, reorder_window=-1)
    with pytest.raises(ValueError, match='x_jitter'):
        FramePairer(0.02, 0.5, x_jitter=0.5)
    p = FramePairer(0.02, 0.5, time_jump_threshold_s=0)
    assert p.time_jump_threshold_s is None and p.x_state == 'never'


def test_x_lost_although_the_waiting_frames_overflow_the_queue():
    """Rule 3 times the whole wait: a waiting frame dropped by overflow passes its wait on, so X
    is declared lost x_timeout after the first frame started waiting (8 frames < 0.5 s here)."""
    p = node_like(max_pending=8)
    # only two X frames: too few to know when the next one is overdue (rule 2b), so frame 1080
    # (arrives 85 ms) waits x_timeout, and the frames arriving meanwhile overflow the queue
    script = [e for e in lockstep(60) if not (e[1] == 'x' and e[2] >= 1080)]
    out, events = run(p, script)
    assert [e.split(':')[0] for e in events] == ['X available', 'X lost']
    lost = [(t, q) for t, q in out if q.x_missing_reason == 'x_timeout']
    assert len(lost) == 1 and lost[0][0] == pytest.approx(85 + 500, abs=1)
    assert p.stats['dropped_rgb_overflow'] == 5


def test_held_frames_are_dropped_when_the_streams_stay_on_two_bases():
    """RGB stamps jump for good while the X driver keeps its clock: X frames are held for
    x_timeout, then dropped, and both streams go on; nothing can pair, so the first RGB frame on
    the new base waits x_timeout for an X and X is declared lost, once."""
    p = node_like()
    script = lockstep(40, stamp_of=lambda k: 1000.0 + 40 * k)
    script = [(a, st, t + (3_600_000 if st == 'rgb' and t >= 1400 else 0)) for a, st, t in script]
    out, events = run(p, script)
    assert [e.split(':')[0] for e in events] == ['X available', 'Time jump', 'X lost']
    rel = rgb_released(out)
    s = p.stats
    assert len(rel) == 40 - s['dropped_rgb_overflow'] == 35
    assert all(q.x_missing for q in rel[10:])
    assert s['dropped_x_time_jump'] == 13         # X 1400..1880 arrived within 0.5 s of the jump
    assert s['dropped_x_late'] == 17 and s['time_jumps'] == 1


def test_flush_takes_back_held_frames():
    p = node_like()
    for k in range(3):
        p.push_rgb(ms(1000 + 40 * k), k, now_ns=ms(40 * k))
        p.push_x(ms(1000 + 40 * k), k, now_ns=ms(40 * k + 1))
    assert len(p.pop_ready(now_ns=ms(90))) == 3
    p.push_x(ms(9_000_000), 'x far', now_ns=ms(120))      # X jumps: a time jump
    p.push_rgb(ms(1120), 'held', now_ns=ms(121))           # RGB still on the old base: held
    assert p.pending == (1, 1)
    assert p.pop_ready(now_ns=ms(122)) == []
    out = p.flush()
    assert [q.rgb for q in out] == ['held'] and out[0].x_missing
    assert_accounted(p)


def test_reorder_window_of_three_frames():
    p = node_like(reorder_window=3)
    for k in (0, 1, 2, 3):
        p.push_x(ms(1000 + 40 * k), k, now_ns=ms(40 * k))
        p.push_rgb(ms(1000 + 40 * k), k, now_ns=ms(40 * k + 1))
        p.pop_ready(now_ns=ms(40 * k + 1))
    # released 1000..1120; floor = third newest = 1040
    p.push_rgb(ms(1041), 'in', now_ns=ms(200))
    p.push_rgb(ms(1040), 'dup', now_ns=ms(201))
    p.push_rgb(ms(1039), 'out', now_ns=ms(202))
    out = p.pop_ready(now_ns=ms(202))
    assert [(q.rgb, q.x, q.late) for q in out] == [('in', 1, True)]
    s = p.stats
    assert (s['dropped_rgb_duplicate'], s['dropped_rgb_late']) == (1, 1)
    assert_accounted(p)


def test_x_state_goes_from_lost_to_no_signal_to_ok():
    p = node_like()
    p.push_x(ms(1000), 'x', now_ns=ms(0))
    p.push_rgb(ms(1000), 'a', now_ns=ms(1))
    assert p.x_state == 'ok' and len(p.pop_ready(now_ns=ms(1))) == 1
    p.push_rgb(ms(1040), 'b', now_ns=ms(40))
    assert [q.x_missing_reason for q in p.pop_ready(now_ns=ms(540))] == ['x_timeout']
    assert p.x_state == 'lost'
    p.push_x_unusable(ms(1080), now_ns=ms(580), reason='flat')
    assert p.x_state == 'no_signal' and not p.x_available
    p.push_rgb(ms(1080), 'c', now_ns=ms(581))
    assert [(q.rgb, q.x_problem) for q in p.pop_ready(now_ns=ms(581))] == [('c', 'flat')]
    p.push_x(ms(1120), 'x2', now_ns=ms(620))
    p.push_rgb(ms(1120), 'd', now_ns=ms(621))
    assert [(q.rgb, q.x) for q in p.pop_ready(now_ns=ms(621))] == [('d', 'x2')]
    assert p.x_state == 'ok'
    assert [e.split(':')[0] for e in p.drain_events()] == [
        'X available', 'X lost', 'X no signal', 'X resumed']
    assert p.x_unusable_reasons == {'flat': 1}
    assert_accounted(p)


def test_set_reordering_at_run_time() -> None:
    p = FramePairer(0.01, 0.5, x_grace_s=0.0, reorder_window=2)
    p.set_reordering(None, 0)
    assert p.reorder_window == 0 and p.time_jump_threshold_s is None
    p.push_rgb(2_000_000_000, 'b', now_ns=1)
    assert [q.rgb for q in p.pop_ready(now_ns=2)] == ['b']
    p.push_rgb(1_990_000_000, 'a', now_ns=3)            # out of order, window 0: dropped late
    assert p.pop_ready(now_ns=4) == [] and p.stats['dropped_rgb_late'] == 1
    p.push_rgb(1_000_000_000, 'back', now_ns=5)         # jump detection off: dropped late too
    assert p.pop_ready(now_ns=6) == [] and p.stats['time_jumps'] == 0
    assert p.stats['dropped_rgb_late'] == 2
    p.set_reordering(2.0, 2)
    assert p.time_jump_threshold_s == 2.0 and p.reorder_window == 2
    with pytest.raises(ValueError, match='reorder_window'):
        p.set_reordering(2.0, -1)
    with pytest.raises(ValueError, match='time_jump_threshold_s'):
        p.set_reordering(float('nan'), 1)


def test_x_camera_slowing_down_mid_run_does_not_hold_rgb_frames():
    """X at the RGB rate, then at a third of it (the node's field case: the X period estimate
    still says 'every frame' for a while): the frames whose predicted X does not come are released
    once that X is overdue (rule 2b), not after x_timeout, and X is never declared lost."""
    p = node_like(max_pending=8)
    fast = lockstep(20, period_ms=66.0)
    slow = lockstep(30, period_ms=66.0, start=20, x_every=3)
    out, events = run(p, fast + slow)
    rel = rgb_released(out)
    assert len(rel) == 50 and p.stats['dropped_rgb_overflow'] == 0
    lat = _release_latencies(out, fast + slow)
    assert max(lat.values()) < 100, max(lat.values())
    assert [e.split(':')[0] for e in events] == ['X available']
    assert all(not q.x_missing for q in rel if (q.stamp_ns / 1e6 - 1000) / 66 % 3 == 0)
