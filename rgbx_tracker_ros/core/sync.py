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

"""Pair RGB frames with X frames (thermal / depth / event) by header stamp, with RGB-only fallback.

Our own approximate-time synchronizer (``message_filters`` is not available here). Pure Python and
ROS-free: the node passes the header stamps (``stamp_ns``, int nanoseconds) and its own monotonic
arrival clock (``now_ns``, int nanoseconds) into every call; nothing in here reads a clock. All
durations below are in seconds (constructor / :meth:`FramePairer.set_timing`) and are compared
with differences of those nanosecond values.

Terms
-----
*released*: handed out by :meth:`FramePairer.pop_ready` / :meth:`FramePairer.flush`. *last
released*: the newest stamp released so far (RGB frame or X frame alone). *waited*: ``now_ns``
minus the arrival time of the frame in question (its own arrival, never that of another frame).
*X period*: the median of the last 8 differences of the (sorted) X stamps seen on the current
time base (usable and unusable X). *usable X*: pushed with ``usable=True`` (the default).

X state (:attr:`FramePairer.x_state`)
-------------------------------------
``'never'`` (no X frame yet), ``'ok'`` (usable X arrives and can pair), ``'no_signal'`` (X frames
arrive but carry no usable signal: the first unusable X while the state is 'never' or 'lost', or
3 unusable X in a row while 'ok'), ``'lost'`` (an RGB frame waited ``x_timeout_s`` for an X frame
that did not come, rule 3). A usable X frame that can still pair (not ``dropped_x_late``) makes it
'ok' again. A stream falling silent on its own declares nothing.

Release rules for RGB frames
----------------------------
Pending RGB frames are decided oldest stamp first. A *normal* frame (newer than the last released
stamp) that must wait holds back the newer normal frames, so normal frames come out in stamp order.
*Late* frames (rule 5) are decided on their own and hold back nothing. Each call returns its
releases sorted by stamp.

1. **X unavailable** (state 'never' or 'lost'): the RGB frame is released RGB-only
   (``x_missing_reason='x_unavailable'``) once it has waited ``x_grace_s`` (default 0: at once, so
   a pure RGB rig never waits). The grace lets an X frame sent with the RGB frame but delivered a
   moment later still pair (it makes the first frame after an X outage pair).
2. **Nearest X is settled** (state 'ok' or 'no_signal'): no X frame closer to ``t_rgb`` than the
   nearest buffered one (or, with none within ``slop_s``, none within ``slop_s`` at all) can still
   arrive. That is so when an X with ``t_x >= t_rgb`` has arrived (X is assumed to arrive in stamp
   order), or when the next X stamps predicted from the newest X stamp ``N`` and the X period
   ``P`` -- ``N + k*P`` for ``k = 1..4``, each give or take ``x_jitter * k * P`` -- all miss that
   distance, and ``t_rgb - N <= 3 * P`` (further ahead nothing is predicted: rule 3 decides). Then:

   - a usable X within ``slop_s`` is buffered: released paired with the nearest (ties: the older);
   - only an unusable X is within ``slop_s``: released RGB-only at once (``x_missing_reason=
     'x_unusable'``, ``x_problem`` = its reason);
   - no X within ``slop_s``: released RGB-only once the frame has waited ``x_grace_s`` (an X
     delivered out of order may still turn up): ``'no_x_in_slop'`` (counted ``rgb_only`` and
     ``rgb_only_no_x_in_slop``; X stays 'ok': a slower X camera is not a lost one), or
     ``'x_unusable'`` while the state is 'no_signal'.
2b. **Expected X overdue** (state 'ok' or 'no_signal', at least 3 X frames on this time base):
   when the X predicted near ``t_rgb`` has not arrived by ``t_rgb + slop_s + x_jitter * P`` plus
   the largest arrival delay (arrival clock - stamp) of the last 8 X frames plus ``x_grace_s``,
   the X camera slowed down or skipped a frame: the frame is released with the nearest X within
   slop, else RGB-only (``'no_x_in_slop'``; X stays 'ok'), so a change of the X rate never holds
   RGB frames for ``x_timeout_s``. If no X frame at all arrived for ``x_timeout_s`` by then, X is
   declared **lost** (``'x_timeout'``).
3. **Waited too long**: an RGB frame that has waited ``x_timeout_s`` is released with the nearest
   usable X within slop if one is buffered; else RGB-only (``'x_unusable'`` if an unusable X is
   within slop; else ``'x_timeout'``, and X is declared **lost**: the X stream stopped, or its
   stamps lag behind RGB by more than ``slop_s``). A waiting frame dropped by queue overflow
   passes its wait on: the next frame counts from the earlier arrival.
4. **RGB lost** (only with ``rgb_timeout_s``): when a usable, unused X frame newer than the last
   released stamp has waited ``rgb_timeout_s`` and no RGB frame arrived since it did (and none is
   pending), RGB is declared lost. While it is, unused usable X frames newer than the last released
   stamp are released alone, oldest first, each once it has waited ``x_grace_s`` for an RGB frame
   sent with it (``rgb=None``, ``rgb_missing=True``), so the node keeps tracking on X; the first
   RGB frame that arrives ends it ("RGB resumed"). RGB frames whose stamp equals an X frame
   released alone, or is older than the reorder floor, are ``dropped_rgb_late``.
5. **Reorder window** (``reorder_window`` = W frames, default 2; 0 or 1 = none): an RGB frame
   older than the last released stamp but newer than the W-th newest released stamp (any older
   stamp while fewer than W frames were released since the start / the last time-base reset), and
   equal to no released stamp, is queued as *late* and released out of stamp order with
   ``late=True``: paired at once when a usable X within slop is buffered; RGB-only at once when
   only an unusable one is; else it waits for the X while one is *expected* -- the X period grid
   (anchored at the newest X stamp) has a slot within ``slop_s + x_jitter*P`` of ``t_rgb`` and no
   X stamp within that distance was seen (no period known yet: expected while no X was seen
   within ``slop_s``) -- up to ``x_timeout_s`` (``'x_timeout'``, X is *not* declared lost for a
   late frame), otherwise for ``x_grace_s`` (``'no_x_in_slop'``); while X is 'no_signal' the
   reason is ``'x_unusable'``. With X unavailable, rule 1. X
   frames are kept for late frames: the buffer is pruned against the reorder floor (the W-th newest
   released stamp, the oldest released one while fewer were released) minus ``slop_s``, and an X
   frame within ``slop_s`` of a pending RGB frame is never pruned nor dropped as late.

An X frame may pair with more than one RGB frame (an X camera slower than the RGB camera); it is
counted ``x_used`` once.

Time jumps
----------
With ``time_jump_threshold_s`` = T (default 2 s; 0 or None = off) every pushed frame is compared
with the previous frame of the *same stream*: ``d = (stamp - prev_stamp) - (now - prev_arrival)``.
The stream jumped forward when ``d > T``, back when ``d < -T`` and ``stamp < prev_stamp`` (stamps
that advance slower than the arrival clock -- a paused bag player, a backlog delivered after a
network stall -- are no jump). Then:

- if the frame's offset ``stamp - now`` is within T of the other stream's latest offset, the
  stream *follows* the other one onto its time base (the second stream's first frame after a
  jump, or the jumping stream coming back after one badly stamped frame): its frames queued on
  the old base are dropped (``dropped_<rgb|x>_time_jump``; for RGB also the released history);
  no event;
- else it is a **time jump**: one 'Time jump: <stream> stamps jumped forward|back by <s> s ...'
  event, ``time_jumps`` + 1, every pending RGB and buffered X frame is dropped
  (``dropped_rgb_time_jump``; ``dropped_x_time_jump`` for unused usable X), the released history,
  the X stamp history and the X period are forgotten, and the frame that jumped is kept: it starts
  the new base, so the next good pairs are answered.

After a time jump the other stream's frames still on the old base are *held* (counted in
:attr:`FramePairer.pending`) until one stream follows the other: when the other stream follows,
the held frames are dropped (``dropped_<rgb|x>_time_jump``; an unusable X counts ``x_unusable``
only); when the jumping stream comes back, they are queued as if just pushed. A frame of the held
stream arriving more than ``x_timeout_s`` (arrival clock) after the jump, still on the old base,
drops the held frames and is queued: both streams then go on, each on its own base.
:meth:`FramePairer.flush` queues held frames.

A clock stepped back by less than T: when 5 RGB frames in a row would be ``dropped_rgb_late`` and
they arrived at the pace of their stamps (arrival span >= half the stamp span: not a backlog
delivered at once), the 5th one resets the time base ('Time jump: back: ...', ``time_jumps`` + 1)
and is kept. :meth:`FramePairer.reset_time_base` does the same reset on request (the node calls it
when /clock goes back) and also forgets both streams' previous frames.

Why per stream: a reference shared by both streams would flag every frame of an X stream whose
latency differs from RGB's by more than T, or whose driver stamps on another clock, as a jump.

Drops and accounting
--------------------
Queues are bounded (``max_pending`` each). Every frame ends as exactly one of: RGB -- ``paired``,
``rgb_only``, ``dropped_rgb_<reason>``, or still pending; X -- ``x_used`` (paired at least once or
released alone), ``x_unusable``, ``dropped_x_<reason>``, or still buffered unused / held (see
:meth:`FramePairer.accounting`). ``rgb_only`` = sum of ``rgb_only_<reason>`` over the
``x_missing_reason`` values. Drop reasons (:attr:`FramePairer.stats` ``dropped_<reason>``):

- ``dropped_rgb_overflow``: more than ``max_pending`` RGB frames pending; the oldest is dropped.
- ``dropped_rgb_duplicate``: an RGB stamp equal to a pending one or to a released RGB stamp still
  in the released history (the newest ``max(W, 1)`` released stamps).
- ``dropped_rgb_late``: an RGB stamp not newer than the reorder floor (with W <= 1: older than
  the last released stamp), or equal to that of an X frame released alone.
- ``dropped_rgb_time_jump``: pending or held when the time base was reset, or pending / held on
  the old base when RGB followed X onto another one.
- ``dropped_x_overflow``: the X buffer was full and its oldest frame, never used, was dropped.
- ``dropped_x_duplicate``: a usable X stamp equal to a buffered usable one.
- ``dropped_x_late``: a usable X frame older than the reorder floor minus ``slop_s`` and not within
  ``slop_s`` of any pending RGB frame: it cannot pair with any RGB frame still to come.
- ``dropped_x_unmatched``: a usable X frame pruned from the buffer (too old now) without ever
  having been used (e.g. X faster than RGB, or X arriving while RGB had to be released alone).
- ``dropped_x_time_jump``: an unused usable X frame buffered or held when the time base was reset,
  or buffered / held on the old base when X followed RGB onto another one.

Unusable X frames (``push_x(..., usable=False)`` / :meth:`FramePairer.push_x_unusable`) are
counted ``x_unusable`` (and per reason in :attr:`FramePairer.x_unusable_reasons`) and never
dropped nor paired; they only mark that the X frame for their stamp exists.

Events
------
State changes are queued as human-readable strings for :meth:`FramePairer.drain_events`, each
starting with one of: 'X available:', 'X lost:', 'X resumed:', 'X no signal:', 'RGB lost:',
'RGB resumed:', 'Time jump:'. 'X lost', 'X no signal', 'RGB lost' and 'Time jump' deserve a WARN.
"""

from __future__ import annotations

import bisect
import collections
import logging
import statistics
import threading
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000

_RGB_ONLY_REASONS = ('x_unavailable', 'no_x_in_slop', 'x_timeout', 'x_unusable', 'flush')

_STAT_KEYS = (
    'rgb_in', 'x_in', 'paired', 'rgb_only', 'x_only', 'x_used', 'x_unusable', 'late_released',
    *(f'rgb_only_{r}' for r in _RGB_ONLY_REASONS),
    'time_jumps',
    'dropped_rgb_overflow', 'dropped_rgb_duplicate', 'dropped_rgb_late', 'dropped_rgb_time_jump',
    'dropped_x_overflow', 'dropped_x_duplicate', 'dropped_x_late', 'dropped_x_unmatched',
    'dropped_x_time_jump',
)

_X_SEEN_KEEP = 16          # X stamps remembered per time base (period estimate, late-frame check)
_PERIOD_DIFFS = 8          # X period = median of the last 8 stamp differences
_PREDICT_PERIODS = 3       # no prediction further than 3 X periods past the newest X stamp
_NO_SIGNAL_AFTER = 3       # unusable X frames in a row that turn an 'ok' X state to 'no_signal'
_LATE_RUN_RESET = 5        # RGB frames dropped late in a row that reset the time base


@dataclass
class FramePair:
    """One released RGB frame, with its X frame when one was paired (or, once RGB is lost, one X
    frame released alone).

    Attributes:
        stamp_ns: header stamp of the RGB frame (nanoseconds; of the X frame when
            ``rgb_missing``); publish results with this stamp.
        rgb: the RGB payload exactly as pushed (e.g. an image array or a ROS message), or None
            when ``rgb_missing``.
        x: the paired X payload as pushed, or None when released RGB-only.
        x_stamp_ns: header stamp of the paired X frame (nanoseconds), or None.
        x_missing: True when released without X (see ``x_missing_reason``).
        rgb_missing: True for an X frame released alone because RGB was lost (rule 4).
        late: True for an RGB frame older than a frame released before it (reorder window, rule
            5): it comes out of stamp order; a tracker that must see frames in order may skip it.
        x_problem: for an RGB-only release because X carries no usable signal, the reason given
            with the unusable X frame (e.g. 'no_signal'); else None.
        x_missing_reason: why an RGB frame went out without X, one of 'x_unavailable' (X never
            arrived or is lost), 'no_x_in_slop' (X fine, none within slop can come),
            'x_timeout' (waited ``x_timeout_s``), 'x_unusable' (X unusable), 'flush'; None when
            paired or ``rgb_missing``.
    """

    stamp_ns: int
    rgb: Any
    x: Any | None
    x_stamp_ns: int | None
    x_missing: bool
    rgb_missing: bool = False
    late: bool = False
    x_problem: str | None = None
    x_missing_reason: str | None = None


class _XFrame:
    __slots__ = ('stamp_ns', 'payload', 'used', 'arrival_ns', 'problem')

    def __init__(self, stamp_ns: int, payload: Any, arrival_ns: int = 0,
                 problem: str | None = None) -> None:
        self.stamp_ns = stamp_ns
        self.payload = payload
        self.used = False
        self.arrival_ns = arrival_ns
        self.problem = problem          # None = usable; else the reason it is unusable


class _RgbFrame:
    __slots__ = ('stamp_ns', 'payload', 'arrival_ns', 'late')

    def __init__(self, stamp_ns: int, payload: Any, arrival_ns: int, late: bool = False) -> None:
        self.stamp_ns = stamp_ns
        self.payload = payload
        self.arrival_ns = arrival_ns
        self.late = late


def _as_ns(value: Any, name: str) -> int:
    """Return ``value`` as an int number of nanoseconds or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f'{name} must be an integer number of nanoseconds, got {value!r}')
    try:
        as_int = int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f'{name} must be an integer number of nanoseconds, got {value!r}') from None
    if as_int != value:
        raise ValueError(f'{name} must be an integer number of nanoseconds (not a float in '
                         f'seconds?), got {value!r}')
    return as_int


class FramePairer:
    """Approximate-time pairing of RGB and X frames with an RGB-only fallback.

    Image callbacks call :meth:`push_rgb` / :meth:`push_x`; a worker calls :meth:`pop_ready`.
    All public methods take one internal lock, so callbacks and the worker may run on different
    threads. See the module docstring for the release rules, time jumps and drop reasons.

    Args:
        slop_s: largest ``|t_x - t_rgb|`` (seconds, header stamps) for a pair; >= 0.
        x_timeout_s: seconds (arrival clock) an RGB frame may wait for its X before it is
            released without it and X is declared lost (rule 3); must be > ``slop_s``.
        max_pending: bound of the pending-RGB queue and of the X buffer (frames); >= 1.
        x_grace_s: seconds (arrival clock) an RGB frame is held for a late X before it is
            released alone while X is unavailable or no X within slop can come, and, while RGB
            is lost, an X frame for a late RGB frame; >= 0 (0 = at once).
        rgb_timeout_s: seconds (arrival clock) an X frame may wait for an RGB frame before RGB is
            declared lost and X frames are released alone (rule 4); None (default) or 0 = never.
        reorder_window: frames (int >= 0): an RGB frame newer than the ``reorder_window``-th
            newest released stamp is still released when it arrives out of order (rule 5); 0 or
            1 = no reordering (an RGB frame older than the last released one is dropped).
        time_jump_threshold_s: seconds by which a stream's stamps may move against the arrival
            clock from one frame to the next before it counts as a time jump; None or 0 = off.
        x_jitter: tolerance of the X stamp prediction (rule 2, 5), as a fraction of the X period
            per predicted period; 0 <= x_jitter < 0.5.

    Raises:
        ValueError: if the arguments are out of range.

    Example:
        >>> p = FramePairer(slop_s=0.01, x_timeout_s=0.5)
        >>> p.push_x(1_000_000_000, 'x0', now_ns=5)
        >>> p.push_rgb(1_004_000_000, 'rgb0', now_ns=6)
        >>> p.push_x(1_040_000_000, 'x1', now_ns=7)
        >>> [(q.rgb, q.x) for q in p.pop_ready(now_ns=8)]
        [('rgb0', 'x0')]
    """

    def __init__(self, slop_s: float, x_timeout_s: float, max_pending: int = 8,
                 x_grace_s: float = 0.0, rgb_timeout_s: float | None = None, *,
                 reorder_window: int = 2, time_jump_threshold_s: float | None = 2.0,
                 x_jitter: float = 0.2) -> None:
        if isinstance(max_pending, bool) or int(max_pending) != max_pending or max_pending < 1:
            raise ValueError(f'max_pending must be an integer >= 1, got {max_pending!r}')
        if not 0.0 <= x_jitter < 0.5:
            raise ValueError(f'x_jitter must be in [0, 0.5) (fraction of the X period), got '
                             f'{x_jitter!r}')
        self.max_pending = int(max_pending)
        self.x_jitter = float(x_jitter)
        self._lock = threading.Lock()
        self.reorder_window = 0
        self.time_jump_threshold_s: float | None = None
        self._jump_ns: int | None = None
        self.set_reordering(time_jump_threshold_s, reorder_window)
        self.rgb_timeout_s: float | None = None
        self._rgb_timeout_ns: int | None = None
        self.set_timing(slop_s, x_timeout_s, x_grace_s)
        self.set_rgb_timeout(rgb_timeout_s)
        self._rgb: list[_RgbFrame] = []      # pending, sorted by stamp
        self._x: list[_XFrame] = []          # buffered (usable and unusable), sorted by stamp
        self._x_stamps: list[int] = []       # mirror of self._x stamps for bisect
        self._released: list[tuple[int, bool]] = []  # newest max(W, 1) (stamp, x_alone), sorted
        self._last_released_ns: int | None = None
        self._x_seen: list[int] = []         # recent distinct X stamps on this base, sorted
        self._x_period_ns: int | None = None
        # arrival clock - header stamp of recent X frames (ns): when an expected X is overdue
        self._x_offsets: collections.deque[int] = collections.deque(maxlen=_PERIOD_DIFFS)
        self._last_x_arrival_ns: int | None = None
        self._ref: dict[str, tuple[int, int] | None] = {'RGB': None, 'X': None}
        self._stale: tuple[str, int] | None = None   # (stream still on the old base, since ns)
        self._stale_frames: list[tuple] = []  # its frames held meanwhile (push arguments)
        self._last_rgb_arrival_ns: int | None = None
        self._x_state = 'never'              # 'never' | 'ok' | 'no_signal' | 'lost'
        self._rgb_state = 'never'            # 'never' | 'ok' | 'lost'
        self._had_usable_x = False
        self._unusable_run = 0
        self._last_unusable_reason: str | None = None
        self._wait_since: int | None = None  # arrival of a waiting RGB frame lost to overflow
        self._late_run = 0                   # RGB frames dropped late in a row
        self._late_start = (0, 0)            # (stamp, arrival) of the first of them
        self._events: list[str] = []
        self._stats = {key: 0 for key in _STAT_KEYS}
        self._unusable_reasons: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------ public API

    @property
    def x_available(self) -> bool:
        """True while usable X frames are being paired (:attr:`x_state` 'ok'); False before any X,
        after X was lost and while X carries no signal. Reflects the most recent call."""
        with self._lock:
            return self._x_state == 'ok'

    @property
    def x_state(self) -> str:
        """'never', 'ok', 'no_signal' or 'lost' (see the module docstring)."""
        with self._lock:
            return self._x_state

    @property
    def rgb_available(self) -> bool:
        """False while X frames are released alone because RGB was lost (rule 4), else True."""
        with self._lock:
            return self._rgb_state != 'lost'

    def set_reordering(self, time_jump_threshold_s: float | None, reorder_window: int) -> None:
        """Change the time-jump threshold (seconds; None or 0 = off) and the reorder window
        (frames, int >= 0) while frames flow; a smaller window takes effect at the next release.

        Raises:
            ValueError: for a negative or non-finite threshold or a window that is not an
                integer >= 0.
        """
        if (isinstance(reorder_window, bool) or int(reorder_window) != reorder_window
                or reorder_window < 0):
            raise ValueError(f'reorder_window must be an integer >= 0 (frames), got '
                             f'{reorder_window!r}')
        if time_jump_threshold_s is not None and not (
                0.0 <= time_jump_threshold_s < float('inf')):
            raise ValueError(f'time_jump_threshold_s must be >= 0 seconds or None, got '
                             f'{time_jump_threshold_s!r}')
        with self._lock:
            self.reorder_window = int(reorder_window)
            on = time_jump_threshold_s is not None and time_jump_threshold_s > 0
            self.time_jump_threshold_s = float(time_jump_threshold_s) if on else None
            self._jump_ns = int(round(time_jump_threshold_s * _NS_PER_S)) if on else None

    def set_rgb_timeout(self, rgb_timeout_s: float | None) -> None:
        """Set the RGB timeout of rule 4 (seconds; None or 0 = never release X alone).

        Raises:
            ValueError: for a negative or non-finite value.
        """
        if rgb_timeout_s is not None and not 0.0 <= rgb_timeout_s < float('inf'):
            raise ValueError(f'rgb_timeout_s must be >= 0 seconds or None, got {rgb_timeout_s!r}')
        with self._lock:
            on = rgb_timeout_s is not None and rgb_timeout_s > 0
            self.rgb_timeout_s = float(rgb_timeout_s) if on else None
            self._rgb_timeout_ns = int(round(rgb_timeout_s * _NS_PER_S)) if on else None

    @property
    def stats(self) -> dict[str, int]:
        """A copy of the counters (frames): rgb_in, x_in, paired, rgb_only, x_only, x_used,
        x_unusable, late_released, rgb_only_<reason> (x_unavailable, no_x_in_slop, x_timeout,
        x_unusable, flush), time_jumps (events, not frames) and dropped_<reason>."""
        with self._lock:
            return dict(self._stats)

    @property
    def x_unusable_reasons(self) -> dict[str, int]:
        """Unusable X frames per reason given with them (frames); sums to
        ``stats['x_unusable']``."""
        with self._lock:
            return dict(self._unusable_reasons)

    @property
    def pending(self) -> tuple[int, int]:
        """(pending RGB frames, buffered X frames incl. used and unusable ones), each including
        frames held after a time jump until their stream follows (frames); for diagnostics."""
        with self._lock:
            held_rgb, held_x = self._held_counts()
            return len(self._rgb) + held_rgb, len(self._x) + held_x

    def accounting(self) -> dict[str, int]:
        """Where every pushed frame went (frame counts), for diagnostics and tests.

        Returns:
            rgb_in, rgb_released (paired + rgb_only), rgb_dropped (sum of dropped_rgb_*),
            rgb_pending (as in :attr:`pending`), rgb_unaccounted (rgb_in minus those three:
            always 0); x_in, x_used, x_unusable, x_dropped (sum of dropped_x_*), x_waiting
            (usable X never used in the buffer, plus X frames held after a time jump, which are
            counted used / unusable / dropped once decided), x_unaccounted (x_in minus those
            four: always 0). Never raises.
        """
        with self._lock:
            s = self._stats
            rgb_dropped = sum(v for k, v in s.items() if k.startswith('dropped_rgb_'))
            x_dropped = sum(v for k, v in s.items() if k.startswith('dropped_x_'))
            rgb_released = s['paired'] + s['rgb_only']
            held_rgb, held_x = self._held_counts()
            rgb_pending = len(self._rgb) + held_rgb
            x_waiting = sum(1 for x in self._x if x.problem is None and not x.used) + held_x
            return {
                'rgb_in': s['rgb_in'], 'rgb_released': rgb_released, 'rgb_dropped': rgb_dropped,
                'rgb_pending': rgb_pending,
                'rgb_unaccounted': s['rgb_in'] - rgb_released - rgb_dropped - rgb_pending,
                'x_in': s['x_in'], 'x_used': s['x_used'], 'x_unusable': s['x_unusable'],
                'x_dropped': x_dropped, 'x_waiting': x_waiting,
                'x_unaccounted': (s['x_in'] - s['x_used'] - s['x_unusable'] - x_dropped
                                  - x_waiting),
            }

    def set_timing(self, slop_s: float, x_timeout_s: float,
                   x_grace_s: float | None = None) -> None:
        """Set the pairing slop, the X timeout and (unless None: kept) the X grace, in seconds;
        safe while frames flow.

        Raises:
            ValueError: unless 0 <= slop_s < x_timeout_s and x_grace_s >= 0.
        """
        if not slop_s >= 0.0:
            raise ValueError(f'slop_s must be >= 0 seconds, got {slop_s!r}')
        if not x_timeout_s > slop_s:
            raise ValueError(f'x_timeout_s must be > slop_s ({slop_s} s), got {x_timeout_s!r}')
        if x_grace_s is not None and not x_grace_s >= 0.0:
            raise ValueError(f'x_grace_s must be >= 0 seconds, got {x_grace_s!r}')
        with self._lock:
            self.slop_s = float(slop_s)
            self.x_timeout_s = float(x_timeout_s)
            self._slop_ns = int(round(self.slop_s * _NS_PER_S))
            self._timeout_ns = int(round(self.x_timeout_s * _NS_PER_S))
            if x_grace_s is not None:
                self.x_grace_s = float(x_grace_s)
                self._grace_ns = int(round(self.x_grace_s * _NS_PER_S))

    def drain_events(self) -> list[str]:
        """Return and clear the state-change messages queued since the last call (oldest first;
        prefixes in the module docstring). Never raises."""
        with self._lock:
            events, self._events = self._events, []
            return events

    def reset_time_base(self, reason: str) -> None:
        """Start a new time base now (e.g. /clock went back): drop all pending RGB and buffered X
        frames (counted ``dropped_rgb_time_jump`` / ``dropped_x_time_jump``), forget the released
        history, the X stamp history and both streams' time references, count a time jump and
        queue a 'Time jump: <reason>; ...' event. The next frames of each stream start the new
        base without being checked against the old one.

        Args:
            reason: human-readable cause, included in the event.

        Never raises.
        """
        with self._lock:
            n_rgb, n_x = self._reset_base()
            self._ref = {'RGB': None, 'X': None}
            self._stats['time_jumps'] += 1
            self._event(f'Time jump: {reason}; dropped {n_rgb} pending RGB and {n_x} buffered X '
                        f'frame(s); pairing on the new time base', warn=True)

    def push_rgb(self, stamp_ns: int, payload: Any, now_ns: int) -> None:
        """Queue an RGB frame.

        Args:
            stamp_ns: header stamp of the frame (int nanoseconds).
            payload: anything; returned untouched in :attr:`FramePair.rgb`.
            now_ns: arrival clock (int nanoseconds, monotonic).

        Raises:
            ValueError: if a stamp or clock value is not an integer number of nanoseconds.
        """
        stamp_ns = _as_ns(stamp_ns, 'stamp_ns')
        now_ns = _as_ns(now_ns, 'now_ns')
        with self._lock:
            self._stats['rgb_in'] += 1
            self._last_rgb_arrival_ns = now_ns
            if self._check_jump('RGB', stamp_ns, now_ns):
                self._stale_frames.append((stamp_ns, payload, now_ns))
                return
            self._accept_rgb(stamp_ns, payload, now_ns)

    def push_x(self, stamp_ns: int, payload: Any, now_ns: int, *, usable: bool = True,
               reason: str = 'no_signal') -> None:
        """Buffer an X frame; marks X available (or resumed) when it is usable and can still
        pair, 'no_signal' when unusable X keeps arriving.

        Args:
            stamp_ns: header stamp of the frame (int nanoseconds).
            payload: anything; returned untouched in :attr:`FramePair.x` (unusable: never).
            now_ns: arrival clock (int nanoseconds, monotonic).
            usable: False for an X frame that arrived but carries no usable signal (all-NaN
                depth, flat thermal, ...): counted ``x_unusable``, never paired; RGB frames
                within slop of it are released RGB-only at once with ``x_problem=reason``.
            reason: why it is unusable (free text, e.g. 'no_signal', 'all_nan'); ignored when
                usable.

        Raises:
            ValueError: if a stamp or clock value is not an integer number of nanoseconds.
        """
        stamp_ns = _as_ns(stamp_ns, 'stamp_ns')
        now_ns = _as_ns(now_ns, 'now_ns')
        reason = str(reason)
        with self._lock:
            self._stats['x_in'] += 1
            if self._check_jump('X', stamp_ns, now_ns):
                self._stale_frames.append((stamp_ns, payload, now_ns, usable, reason))
                return
            self._accept_x(stamp_ns, payload, now_ns, usable, reason)

    def push_x_unusable(self, stamp_ns: int, now_ns: int, reason: str = 'no_signal') -> None:
        """Same as ``push_x(stamp_ns, None, now_ns, usable=False, reason=reason)``.

        Raises:
            ValueError: if a stamp or clock value is not an integer number of nanoseconds.
        """
        self.push_x(stamp_ns, None, now_ns, usable=False, reason=reason)

    def pop_ready(self, now_ns: int) -> list[FramePair]:
        """Release every frame that can be decided now (rules 1-5).

        Args:
            now_ns: arrival clock (int nanoseconds, same clock as the pushes).

        Returns:
            The released pairs (possibly empty), sorted by stamp (late frames included at their
            stamp).

        Raises:
            ValueError: if ``now_ns`` is not an integer number of nanoseconds.
        """
        now_ns = _as_ns(now_ns, 'now_ns')
        with self._lock:
            released: list[FramePair] = []
            blocked = False
            for frame in list(self._rgb):
                if frame.late:
                    pair = self._decide_late(frame, now_ns)
                elif blocked:
                    continue
                else:
                    pair = self._decide(frame, now_ns)
                    blocked = pair is None   # a waiting normal frame holds back newer ones
                if pair is not None:
                    released.append(pair)
            self._check_rgb_lost(now_ns)
            if self._rgb_state == 'lost' and not self._rgb:
                released.extend(self._release_x_alone(now_ns))
            self._prune_x()
            released.sort(key=lambda q: q.stamp_ns)
            return released

    def flush(self) -> list[FramePair]:
        """Release all pending RGB frames now (end of a recording; frames held after a time jump
        included), each with the nearest usable X within slop (X state 'ok' or 'no_signal') or
        none, then, while RGB is lost, all unused X frames alone.

        Returns:
            The released pairs, sorted by stamp. Never raises.
        """
        with self._lock:
            if self._stale is not None:      # frames held after a time jump: take them back
                stream, held = self._stale[0], self._stale_frames
                self._stale, self._stale_frames = None, []
                for frame in held:
                    (self._accept_rgb if stream == 'RGB' else self._accept_x)(*frame)
            released = []
            x_on = self._x_state in ('ok', 'no_signal')
            while self._rgb:
                head = self._rgb[0]
                best = self._nearest_x(head.stamp_ns, usable=True) if x_on else None
                marker = self._nearest_x(head.stamp_ns, usable=False) if x_on else None
                if best is not None:
                    released.append(self._release_rgb(head, best))
                elif not x_on:
                    released.append(self._release_rgb(head, None, 'x_unavailable'))
                elif marker is not None:
                    released.append(self._release_rgb(head, None, 'x_unusable', marker.problem))
                else:
                    released.append(self._release_rgb(head, None, 'flush'))
            if self._rgb_state == 'lost':
                released.extend(self._release_x_alone(None))
            self._prune_x()
            released.sort(key=lambda q: q.stamp_ns)
            return released

    # ------------------------------------------------------------------ internals (lock held)

    def _event(self, message: str, warn: bool = False) -> None:
        # the caller logs what drain_events() returns (the node at WARN for the warn ones);
        # logging it here as well would print every state change twice
        _logger.debug(message)
        self._events.append(message)

    def _drop(self, reason: str, stream: str, stamp_ns: int, n: int = 1) -> None:
        self._stats[reason] += n
        _logger.debug('%s frame %d dropped: %s', stream, stamp_ns, reason)

    # ---- time base

    def _check_jump(self, stream: str, stamp_ns: int, now_ns: int) -> bool:
        """Time-jump detection against the stream's previous frame (see the module docstring).

        Returns:
            True when the frame is on the time base the other stream jumped away from: the
            caller quarantines it (``self._stale_frames``) until one stream follows the other.
        """
        own = self._ref[stream]
        other_name = 'X' if stream == 'RGB' else 'RGB'
        other = self._ref[other_name]
        self._ref[stream] = (stamp_ns, now_ns)
        if self._jump_ns is None:
            return False
        on_other_base = other is not None and abs(
            (stamp_ns - now_ns) - (other[0] - other[1])) <= self._jump_ns
        jumped = False
        d = 0
        if own is not None:
            ds = stamp_ns - own[0]
            d = ds - (now_ns - own[1])
            jumped = d > self._jump_ns or (d < -self._jump_ns and ds < 0)
        stale = self._stale
        if stale is not None and stale[0] == stream:
            # this stream stayed behind when the other one jumped
            if on_other_base:
                self._follow(stream)             # it jumped too: drop its old-base frames
                return False
            if not jumped:
                if now_ns - stale[1] <= self._timeout_ns:
                    return True
                self._drop_stale_frames()        # the streams stay on two time bases
                return False
        elif stale is not None and jumped and on_other_base:
            # the stream that jumped came back (one badly stamped frame): drop what it queued
            # on the other base, take back the frames held meanwhile
            self._follow(stream, restore=True)
            return False
        if not jumped:
            return False
        if on_other_base:
            self._follow(stream)
            return False
        n_rgb, n_x = self._reset_base()
        self._stats['time_jumps'] += 1
        if other is not None:
            self._stale = (other_name, now_ns)
        self._event(f'Time jump: {stream} stamps jumped {"forward" if d > 0 else "back"} by '
                    f'{abs(d) / 1e9:.3f} s against the arrival clock (stamp {stamp_ns} ns); '
                    f'dropped {n_rgb} pending RGB and {n_x} buffered X frame(s); pairing on the '
                    f'new time base', warn=True)
        return False

    def _held_counts(self) -> tuple[int, int]:
        """(RGB, X) frames held after a time jump."""
        if self._stale is None:
            return 0, 0
        n = len(self._stale_frames)
        return (n, 0) if self._stale[0] == 'RGB' else (0, n)

    def _drop_stale_frames(self) -> int:
        """Drop the frames held while their stream stayed on the old time base; -> frames."""
        if self._stale is None:
            return 0
        stream, frames = self._stale[0], self._stale_frames
        self._stale, self._stale_frames = None, []
        for frame in frames:
            if stream == 'RGB':
                self._drop('dropped_rgb_time_jump', 'RGB', frame[0])
            elif frame[3]:
                self._drop('dropped_x_time_jump', 'X', frame[0])
            else:
                self._count_unusable(frame[4])
        return len(frames)

    def _drop_rgb_queue(self) -> int:
        n = len(self._rgb)
        if n:
            self._drop('dropped_rgb_time_jump', 'RGB', self._rgb[0].stamp_ns, n)
        self._rgb = []
        self._released = []
        self._last_released_ns = None
        self._late_run = 0
        self._wait_since = None
        return n

    def _drop_x_buffer(self) -> int:
        n = sum(1 for x in self._x if x.problem is None and not x.used)
        if n:
            self._drop('dropped_x_time_jump', 'X', self._x_stamps[0], n)
        self._x = []
        self._x_stamps = []
        self._x_seen = []
        self._x_period_ns = None
        self._x_offsets.clear()
        return n

    def _reset_base(self) -> tuple[int, int]:
        """Drop everything queued on the old time base; -> (RGB frames, X frames) dropped."""
        stale = self._stale[0] if self._stale is not None else None
        n_stale = self._drop_stale_frames()
        n_rgb, n_x = self._drop_rgb_queue(), self._drop_x_buffer()
        return (n_rgb + (n_stale if stale == 'RGB' else 0),
                n_x + (n_stale if stale == 'X' else 0))

    def _follow(self, stream: str, restore: bool = False) -> None:
        """``stream`` moved onto the other stream's time base: drop its old-base frames; with
        ``restore``, accept the other stream's frames held since the jump, else drop them."""
        held = self._stale_frames if restore else []
        if restore:
            self._stale, self._stale_frames = None, []
        else:
            self._drop_stale_frames()
        n = self._drop_rgb_queue() if stream == 'RGB' else self._drop_x_buffer()
        for frame in held:
            if stream == 'RGB':
                self._accept_x(*frame)
            else:
                self._accept_rgb(*frame)
        _logger.debug('%s stream followed the other stream onto its time base; %d frame(s) '
                      'dropped, %d restored', stream, n, len(held))

    # ---- accepting frames (after the time-base check)

    def _accept_rgb(self, stamp_ns: int, payload: Any, now_ns: int) -> None:
        if self._rgb_state == 'lost':
            self._event('RGB resumed: RGB frames arriving again; pairing RGB with X')
        self._rgb_state = 'ok'
        late = False
        last = self._last_released_ns
        if last is not None and stamp_ns <= last:
            verdict = self._classify_old_rgb(stamp_ns)
            if verdict == 'late':
                late = True
            elif verdict == 'dropped_rgb_late' and self._late_run_resets(stamp_ns, now_ns):
                n_rgb, n_x = self._reset_base()
                self._stats['time_jumps'] += 1
                self._event(
                    f'Time jump: back: {_LATE_RUN_RESET} RGB frames in a row older than the '
                    f'last released stamp (this one by {(last - stamp_ns) / 1e9:.3f} s); '
                    f'dropped {n_rgb} pending RGB and {n_x} buffered X frame(s); pairing on '
                    f'the new time base', warn=True)
            else:
                self._drop(verdict, 'RGB', stamp_ns)
                return
        self._late_run = 0
        stamps = [f.stamp_ns for f in self._rgb]
        index = bisect.bisect_left(stamps, stamp_ns)
        if index < len(stamps) and stamps[index] == stamp_ns:
            self._drop('dropped_rgb_duplicate', 'RGB', stamp_ns)
            return
        self._rgb.insert(index, _RgbFrame(stamp_ns, payload, now_ns, late))
        while len(self._rgb) > self.max_pending:
            oldest = self._rgb.pop(0)
            if not oldest.late:
                # the wait for X goes on in the next frame (rule 3 times the whole wait)
                self._wait_since = oldest.arrival_ns if self._wait_since is None \
                    else min(self._wait_since, oldest.arrival_ns)
            self._drop('dropped_rgb_overflow', 'RGB', oldest.stamp_ns)

    def _accept_x(self, stamp_ns: int, payload: Any, now_ns: int, usable: bool,
                  reason: str) -> None:
        self._note_x_stamp(stamp_ns)
        self._x_offsets.append(now_ns - stamp_ns)
        self._last_x_arrival_ns = now_ns
        current = self._x_can_pair(stamp_ns)
        index = bisect.bisect_left(self._x_stamps, stamp_ns)
        same = self._x[index] if (index < len(self._x)
                                  and self._x_stamps[index] == stamp_ns) else None
        if not usable:
            self._count_unusable(reason)
            self._unusable_run += 1
            if current and same is None:
                self._insert_x(index, _XFrame(stamp_ns, None, now_ns, problem=reason))
            if self._x_state in ('never', 'lost') or (
                    self._x_state == 'ok' and self._unusable_run >= _NO_SIGNAL_AFTER):
                self._event(f'X no signal: {self._unusable_run} X frame(s) in a row arrived '
                            f'without a usable signal ({reason}); tracking on RGB alone',
                            warn=True)
                self._x_state = 'no_signal'
            return
        self._unusable_run = 0
        if not current:
            # Too old to pair with any RGB frame still to come.
            self._drop('dropped_x_late', 'X', stamp_ns)
        elif same is not None and same.problem is None:
            self._drop('dropped_x_duplicate', 'X', stamp_ns)
        else:
            if same is not None:          # replaces an unusable marker of the same stamp
                self._x.pop(index)
                self._x_stamps.pop(index)
            self._insert_x(index, _XFrame(stamp_ns, payload, now_ns))
        if current and self._x_state != 'ok':
            if not self._had_usable_x:
                self._event('X available: first usable X frame received; pairing RGB with X')
            else:
                self._event('X resumed: usable X frames arriving again; pairing RGB with X')
            self._x_state = 'ok'
        if current:
            self._had_usable_x = True

    def _count_unusable(self, reason: str) -> None:
        self._stats['x_unusable'] += 1
        self._unusable_reasons[reason] += 1
        self._last_unusable_reason = reason

    # ---- X bookkeeping

    def _note_x_stamp(self, stamp_ns: int) -> None:
        """Remember an X stamp (usable or not) for the period estimate and the late-frame check."""
        index = bisect.bisect_left(self._x_seen, stamp_ns)
        if index < len(self._x_seen) and self._x_seen[index] == stamp_ns:
            return
        self._x_seen.insert(index, stamp_ns)
        if len(self._x_seen) > _X_SEEN_KEEP:
            self._x_seen.pop(0)
        recent = self._x_seen[-(_PERIOD_DIFFS + 1):]
        diffs = [b - a for a, b in zip(recent, recent[1:])]
        self._x_period_ns = int(statistics.median(diffs)) if diffs else None
        if self._x_period_ns is not None and self._x_period_ns <= 0:
            self._x_period_ns = None

    def _reorder_floor(self) -> int | None:
        """RGB stamps not newer than this are dropped late; None = any older stamp is accepted
        (fewer than W frames released so far)."""
        if self._last_released_ns is None:
            return None
        w = self.reorder_window
        if w <= 1:
            return self._last_released_ns
        if len(self._released) >= w:
            return self._released[-w][0]
        return None

    def _x_floor(self) -> int | None:
        """X frames older than this minus slop cannot pair (unless near a pending RGB frame)."""
        if self._last_released_ns is None:
            return None
        w = self.reorder_window
        if w <= 1:
            return self._last_released_ns
        return self._released[-w][0] if len(self._released) >= w else self._released[0][0]

    def _near_pending_rgb(self, stamp_ns: int) -> bool:
        return any(abs(f.stamp_ns - stamp_ns) <= self._slop_ns for f in self._rgb)

    def _x_can_pair(self, stamp_ns: int) -> bool:
        floor = self._x_floor()
        return (floor is None or stamp_ns >= floor - self._slop_ns
                or self._near_pending_rgb(stamp_ns))

    def _insert_x(self, index: int, frame: _XFrame) -> None:
        self._x.insert(index, frame)
        self._x_stamps.insert(index, frame.stamp_ns)
        while len(self._x) > self.max_pending:
            oldest = self._x.pop(0)
            self._x_stamps.pop(0)
            if oldest.problem is None and not oldest.used:
                self._drop('dropped_x_overflow', 'X', oldest.stamp_ns)

    def _nearest_x(self, stamp_ns: int, usable: bool) -> _XFrame | None:
        """Buffered X frame (usable ones or unusable ones) nearest to ``stamp_ns`` within slop
        (ties: the older)."""
        best = None
        best_dt = None
        for x in self._x:
            if (x.problem is None) != usable:
                continue
            dt = abs(x.stamp_ns - stamp_ns)
            if dt <= self._slop_ns and (best_dt is None or dt < best_dt):
                best, best_dt = x, dt
        return best

    def _x_settled(self, stamp_ns: int, nearest_dt: int | None) -> bool:
        """Rule 2: True when no X frame nearer than ``nearest_dt`` (None: within slop) can still
        arrive for an RGB frame at ``stamp_ns``."""
        if not self._x_seen:
            return False
        newest = self._x_seen[-1]
        if newest >= stamp_ns:
            return True
        period = self._x_period_ns
        if period is None or stamp_ns - newest > _PREDICT_PERIODS * period:
            return False
        reach = self._slop_ns if nearest_dt is None else nearest_dt
        for k in range(1, _PREDICT_PERIODS + 2):
            miss = abs(newest + k * period - stamp_ns) - self.x_jitter * k * period
            if (miss <= reach) if nearest_dt is None else (miss < reach):
                return False
        return True

    def _x_overdue(self, stamp_ns: int, now_ns: int) -> bool:
        """Rule 2b: True when every X that could pair with an RGB frame at ``stamp_ns`` should
        have arrived by ``now_ns``: the last stamp within reach (``slop_s`` plus the prediction
        jitter) plus the largest arrival delay (arrival clock - stamp) of the last 8 X frames
        plus ``x_grace_s``. Needs 3 X frames on this time base."""
        if len(self._x_offsets) < 3 or self._x_period_ns is None:
            return False
        reach = self._slop_ns + int(self.x_jitter * self._x_period_ns)
        return now_ns > stamp_ns + reach + max(self._x_offsets) + self._grace_ns

    def _x_expected_near(self, stamp_ns: int) -> bool:
        """Rule 5: is an X frame within slop of a late RGB frame still expected?"""
        period = self._x_period_ns
        if period is None:
            return not any(abs(s - stamp_ns) <= self._slop_ns for s in self._x_seen)
        reach = self._slop_ns + self.x_jitter * period
        newest = self._x_seen[-1]
        slot = newest + round((stamp_ns - newest) / period) * period
        if abs(slot - stamp_ns) > reach or slot < self._x_seen[0] - reach:
            return False
        return not any(abs(s - stamp_ns) <= reach for s in self._x_seen)

    # ---- release decisions

    def _unusable_problem(self) -> str | None:
        return self._last_unusable_reason if self._x_state == 'no_signal' else None

    def _decide(self, f: _RgbFrame, now_ns: int) -> FramePair | None:
        """Rules 1-3 for the oldest waiting normal RGB frame; None = keep waiting."""
        waited = now_ns - f.arrival_ns
        if self._x_state in ('never', 'lost'):
            if waited < self._grace_ns:
                return None   # hold it x_grace_s for an X frame delivered a moment later
            return self._release_rgb(f, None, 'x_unavailable')
        best = self._nearest_x(f.stamp_ns, usable=True)
        marker = self._nearest_x(f.stamp_ns, usable=False)
        dts = [abs(x.stamp_ns - f.stamp_ns) for x in (best, marker) if x is not None]
        if self._x_settled(f.stamp_ns, min(dts) if dts else None):
            if best is not None:
                return self._release_rgb(f, best)
            if marker is not None:
                return self._release_rgb(f, None, 'x_unusable', marker.problem)
            if waited < self._grace_ns:
                return None   # an X delivered out of order may still turn up
            if self._x_state == 'no_signal':
                return self._release_rgb(f, None, 'x_unusable', self._unusable_problem())
            return self._release_rgb(f, None, 'no_x_in_slop')
        if self._x_overdue(f.stamp_ns, now_ns):
            # the X predicted near this frame is later than any recent X was: the X camera
            # slowed down or skipped a frame; X stays 'ok' (rule 2b)
            if best is not None:
                return self._release_rgb(f, best)
            if marker is not None:
                return self._release_rgb(f, None, 'x_unusable', marker.problem)
            silent = now_ns - (self._last_x_arrival_ns or now_ns)
            if silent < self._timeout_ns:
                return self._release_rgb(f, None, 'no_x_in_slop')
            # ... unless no X at all arrived for x_timeout_s while this frame waited: lost
            self._x_state = 'lost'
            self._event(f'X lost: no X frame for {silent / 1e9:.3f} s while RGB frames arrive '
                        f'(RGB stamp {f.stamp_ns}); tracking on RGB alone', warn=True)
            return self._release_rgb(f, None, 'x_timeout')
        if self._wait_since is not None:   # older frames dropped by overflow waited as well
            waited = max(waited, now_ns - self._wait_since)
        if waited < self._timeout_ns:
            return None
        if best is not None:
            return self._release_rgb(f, best)
        if marker is not None:
            return self._release_rgb(f, None, 'x_unusable', marker.problem)
        newest = self._x_seen[-1] if self._x_seen else None
        lag = ('no X on this time base' if newest is None else
               f'newest X stamp {(f.stamp_ns - newest) / 1e9:.3f} s older')
        self._x_state = 'lost'
        self._event(f'X lost: no X frame within slop ({self.slop_s:.3f} s) of RGB stamp '
                    f'{f.stamp_ns} after waiting {waited / 1e9:.3f} s ({lag}); tracking on RGB '
                    f'alone', warn=True)
        return self._release_rgb(f, None, 'x_timeout')

    def _decide_late(self, f: _RgbFrame, now_ns: int) -> FramePair | None:
        """Rule 5 for a late RGB frame; None = keep waiting. Never declares X lost."""
        waited = now_ns - f.arrival_ns
        if self._x_state in ('never', 'lost'):
            if waited < self._grace_ns:
                return None
            return self._release_rgb(f, None, 'x_unavailable')
        best = self._nearest_x(f.stamp_ns, usable=True)
        if best is not None:
            return self._release_rgb(f, best)
        marker = self._nearest_x(f.stamp_ns, usable=False)
        if marker is not None:
            return self._release_rgb(f, None, 'x_unusable', marker.problem)
        if self._x_expected_near(f.stamp_ns):
            if waited < self._timeout_ns:
                return None
            reason = 'x_timeout'
        else:
            if waited < self._grace_ns:
                return None
            reason = 'no_x_in_slop'
        if self._x_state == 'no_signal':
            return self._release_rgb(f, None, 'x_unusable', self._unusable_problem())
        return self._release_rgb(f, None, reason)

    def _note_release(self, stamp_ns: int, x_alone: bool) -> None:
        entry = (stamp_ns, x_alone)
        bisect.insort(self._released, entry)
        keep = max(self.reorder_window, 1)
        del self._released[:-keep]
        if self._last_released_ns is None or stamp_ns > self._last_released_ns:
            self._last_released_ns = stamp_ns

    def _late_run_resets(self, stamp_ns: int, now_ns: int) -> bool:
        """Count an RGB frame about to be dropped late; True when it is the ``_LATE_RUN_RESET``-th
        in a row and the run arrived at the pace of its stamps (a clock stepped back, not a
        backlog of stale frames delivered at once), so the time base is to be reset."""
        if self._jump_ns is None:
            return False
        if self._late_run == 0:
            self._late_start = (stamp_ns, now_ns)
        self._late_run += 1
        stamp_span = stamp_ns - self._late_start[0]
        arrival_span = now_ns - self._late_start[1]
        return self._late_run >= _LATE_RUN_RESET and 2 * arrival_span >= stamp_span

    def _classify_old_rgb(self, stamp_ns: int) -> str:
        """An RGB stamp <= the last released one: 'late' (accept, rule 5) or a drop reason."""
        for released, x_alone in self._released:
            if released == stamp_ns:
                return 'dropped_rgb_late' if x_alone else 'dropped_rgb_duplicate'
        floor = self._reorder_floor()
        if self.reorder_window <= 1 or (floor is not None and stamp_ns <= floor):
            return 'dropped_rgb_late'
        return 'late'

    def _release_rgb(self, f: _RgbFrame, x: _XFrame | None, reason: str | None = None,
                     problem: str | None = None) -> FramePair:
        self._rgb.remove(f)
        if not f.late:
            self._wait_since = None
        self._note_release(f.stamp_ns, False)
        if f.late:
            self._stats['late_released'] += 1
        if x is None:
            self._stats['rgb_only'] += 1
            self._stats[f'rgb_only_{reason}'] += 1
            return FramePair(f.stamp_ns, f.payload, None, None, True, late=f.late,
                             x_problem=problem, x_missing_reason=reason)
        if not x.used:
            x.used = True
            self._stats['x_used'] += 1
        self._stats['paired'] += 1
        return FramePair(f.stamp_ns, f.payload, x.payload, x.stamp_ns, False, late=f.late)

    def _x_waiting_for_rgb(self) -> list[_XFrame]:
        last = self._last_released_ns
        return [x for x in self._x if x.problem is None and not x.used
                and (last is None or x.stamp_ns > last)]

    def _check_rgb_lost(self, now_ns: int) -> None:
        """Rule 4: RGB is lost when an X frame waited rgb_timeout_s and no RGB frame arrived
        since it did (and none is pending)."""
        if self._rgb_timeout_ns is None or self._rgb_state == 'lost' or self._rgb:
            return
        since = self._last_rgb_arrival_ns
        waiting = [x for x in self._x_waiting_for_rgb() if since is None or x.arrival_ns > since]
        if not waiting:
            return
        first = min(waiting, key=lambda x: x.arrival_ns)
        waited = now_ns - first.arrival_ns
        if waited < self._rgb_timeout_ns:
            return
        self._rgb_state = 'lost'
        what = ('no RGB frame yet' if since is None else
                f'no RGB frame for {(now_ns - since) / 1e9:.3f} s')
        self._event(f'RGB lost: X frame {first.stamp_ns} waited {waited / 1e9:.3f} s for an RGB '
                    f'frame, {what} (rgb_timeout_s={self.rgb_timeout_s:.3f}); tracking on X '
                    f'alone', warn=True)

    def _release_x_alone(self, now_ns: int | None) -> list[FramePair]:
        """Rule 4: unused usable X frames newer than the last release, oldest first, each once
        it has waited x_grace_s for an RGB frame sent with it (``now_ns`` None: all)."""
        out = []
        for x in self._x_waiting_for_rgb():
            if now_ns is not None and now_ns - x.arrival_ns < self._grace_ns:
                break
            x.used = True
            self._stats['x_used'] += 1
            self._stats['x_only'] += 1
            self._note_release(x.stamp_ns, True)
            out.append(FramePair(x.stamp_ns, None, x.payload, x.stamp_ns, False, True))
        return out

    def _prune_x(self) -> None:
        """Drop X frames that can no longer pair with any RGB frame still to come."""
        floor = self._x_floor()
        if floor is None:
            return
        limit = floor - self._slop_ns
        keep_x, keep_stamps = [], []
        for x in self._x:
            if x.stamp_ns >= limit or self._near_pending_rgb(x.stamp_ns):
                keep_x.append(x)
                keep_stamps.append(x.stamp_ns)
            elif x.problem is None and not x.used:
                self._drop('dropped_x_unmatched', 'X', x.stamp_ns)
        self._x, self._x_stamps = keep_x, keep_stamps
