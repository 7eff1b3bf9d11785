"""FramePairer: pairing, release rules, fallback/recovery events and drop accounting."""

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
            + s['dropped_rgb_late'] + p.pending[0])


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
    p = make(slop=10)
    p.push_x(ms(990), 'x990', now_ns=0)
    p.push_rgb(ms(1033), 'late-arriving newer', now_ns=ms(1))
    p.push_rgb(ms(1000), 'older', now_ns=ms(2))   # arrives second, is released first
    p.push_rgb(ms(1000), 'dup', now_ns=ms(3))
    p.push_x(ms(1030), 'x1030', now_ns=ms(4))
    p.push_x(ms(1030), 'x1030 again', now_ns=ms(5))
    p.push_x(ms(1100), 'x1100', now_ns=ms(6))
    pairs = p.pop_ready(now_ns=ms(7))
    assert [(q.rgb, q.x) for q in pairs] == [('older', 'x990'), ('late-arriving newer', 'x1030')]
    p.push_rgb(ms(1010), 'older than released', now_ns=ms(8))
    p.push_rgb(ms(1033), 'same as released', now_ns=ms(9))
    s = p.stats
    assert s['dropped_rgb_duplicate'] == 2 and s['dropped_rgb_late'] == 1
    assert s['dropped_x_duplicate'] == 1
    assert p.pop_ready(now_ns=ms(10)) == []
    assert rgb_accounted(p) == s['rgb_in'] == 5


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
    """Rule 4: with rgb_timeout_s, X frames go out alone once no RGB arrived for that long; the
    first RGB frame ends it; stamps stay in order and every X frame goes out once."""
    p = FramePairer(slop_s=0.002, x_timeout_s=0.5, rgb_timeout_s=0.2)
    for k in range(3):                                    # RGB-X at 10 Hz
        p.push_x(ms(1000 + 100 * k), f'x{k}', now_ns=ms(100 * k))
        p.push_rgb(ms(1000 + 100 * k), f'rgb{k}', now_ns=ms(100 * k + 1))
    assert [(f.rgb, f.x) for f in p.pop_ready(now_ns=ms(202))] == [
        ('rgb0', 'x0'), ('rgb1', 'x1'), ('rgb2', 'x2')]
    assert p.rgb_available
    p.push_x(ms(1300), 'x3', now_ns=ms(300))              # the RGB camera has died
    assert p.pop_ready(now_ns=ms(350)) == []              # 149 ms without RGB: wait
    out = p.pop_ready(now_ns=ms(402))                     # > 200 ms: RGB lost
    assert [(f.stamp_ns, f.rgb, f.x, f.rgb_missing, f.x_missing) for f in out] == [
        (ms(1300), None, 'x3', True, False)]
    assert not p.rgb_available
    assert any(e.startswith('RGB lost') and 'tracking on X alone' in e for e in p.drain_events())
    for k in (4, 5):                                      # later X frames go out at once
        p.push_x(ms(1000 + 100 * k), f'x{k}', now_ns=ms(100 * k))
        assert [f.x for f in p.pop_ready(now_ns=ms(100 * k + 1))] == [f'x{k}']
    p.push_rgb(ms(1500), 'rgb5-late', now_ns=ms(505))     # older than the X-only release
    p.push_x(ms(1600), 'x6', now_ns=ms(600))
    p.push_rgb(ms(1600), 'rgb6', now_ns=ms(601))
    assert p.rgb_available
    assert any(e.startswith('RGB resumed') for e in p.drain_events())
    assert [(f.rgb, f.x, f.rgb_missing) for f in p.pop_ready(now_ns=ms(602))] == [
        ('rgb6', 'x6', False)]
    s = p.stats
    assert (s['paired'], s['x_only'], s['dropped_rgb_late']) == (4, 3, 1)
    assert rgb_accounted(p) == s['rgb_in']


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
