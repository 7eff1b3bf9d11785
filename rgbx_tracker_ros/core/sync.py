"""Pair RGB frames with X frames (thermal / depth / event) by header stamp, with RGB-only fallback.

Our own approximate-time synchronizer (``message_filters`` is not available here). Pure Python and
ROS-free: the node passes the header stamps (``stamp_ns``) and its own monotonic arrival clock
(``now_ns``) into every call; nothing in here reads a clock.

Release rules, applied to pending RGB frames oldest stamp first (a frame that must wait holds back
the newer ones, so pairs always come out in RGB stamp order):

1. **X unavailable** (no X frame ever arrived, or X was declared lost): the RGB frame is released
   as RGB-only (``x_missing=True``) once it has waited ``x_grace_s`` on the arrival clock (default
   0: at once, so a pure RGB rig never waits). The grace lets an X frame sent together with the RGB
   frame but delivered a moment later still pair: it is what makes the first frame after an X
   outage pair in a lockstep replay.
2. **Nearest X is known**: once an X frame with ``t_x >= t_rgb`` has arrived, no later X can be
   closer (X is assumed to arrive in stamp order), so the RGB frame is released, paired with the
   buffered X nearest in stamp if ``|t_x - t_rgb| <= slop``; otherwise (every X within reach is
   farther than ``slop``, i.e. an X newer than ``t_rgb + slop`` arrived) as RGB-only.
3. **Waited too long**: if the RGB frame has waited ``x_timeout_s`` on the arrival clock, it is
   released with the nearest X within ``slop`` if one is buffered, else RGB-only, and X is declared
   lost (the X stream arrives but its stamps lag behind RGB by more than ``slop``).
4. **RGB lost** (only with ``rgb_timeout_s``): when no RGB frame arrived for ``rgb_timeout_s``
   (arrival clock) while X frames keep arriving, buffered X frames newer than the last release
   are released alone, oldest first, each after waiting ``x_grace_s`` for an RGB frame sent with
   it (``rgb=None``, ``rgb_missing=True``), so a node can keep
   tracking on X when the RGB camera dies; the first RGB frame that arrives ends it ("RGB
   resumed"). RGB frames older than an X frame released alone are then ``dropped_rgb_late``.

X is also declared lost when no X frame arrived for ``x_timeout_s`` (arrival clock). X is
available again ("X resumed") as soon as an X frame arrives whose stamp is not older than the last
released RGB stamp minus ``slop`` (it can still pair), so a lagging X stream does not flap.
An X frame may be paired with more than one RGB frame (an X camera slower than the RGB camera).

Queues are bounded (``max_pending`` each). Every frame that is dropped is counted in
:attr:`FramePairer.stats` under ``dropped_<reason>``:

- ``dropped_rgb_overflow``: more than ``max_pending`` RGB frames pending; the oldest is dropped.
- ``dropped_rgb_duplicate``: an RGB stamp equal to a pending one or to the last released one.
- ``dropped_rgb_late``: an RGB stamp older than the last released stamp, or equal to that of an X
  frame released alone (pairs are released in stamp order, so it cannot be released any more).
- ``dropped_x_overflow``: the X buffer is full; the oldest X frame is dropped without ever having
  been paired.
- ``dropped_x_duplicate``: an X stamp equal to a buffered one.
- ``dropped_x_late``: an X frame too old to pair with any RGB frame still to come.
- ``dropped_x_unmatched``: an X frame pruned from the buffer (too old now) without ever having been
  paired (e.g. X faster than RGB, or X arriving while RGB had to be released alone).

State changes are queued as human-readable strings for :meth:`FramePairer.drain_events`
('X available: ...', 'X lost: ...; tracking on RGB alone', 'X resumed: ...', 'RGB lost: ...;
tracking on X alone', 'RGB resumed: ...').
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000

_STAT_KEYS = (
    'rgb_in', 'x_in', 'paired', 'rgb_only', 'x_only',
    'dropped_rgb_overflow', 'dropped_rgb_duplicate', 'dropped_rgb_late',
    'dropped_x_overflow', 'dropped_x_duplicate', 'dropped_x_late', 'dropped_x_unmatched',
)


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
        x_missing: True when released without X (X unavailable, no X within slop, or timeout).
        rgb_missing: True for an X frame released alone because RGB was lost (rule 4).
    """

    stamp_ns: int
    rgb: Any
    x: Any | None
    x_stamp_ns: int | None
    x_missing: bool
    rgb_missing: bool = False


class _XFrame:
    __slots__ = ('stamp_ns', 'payload', 'used', 'arrival_ns')

    def __init__(self, stamp_ns: int, payload: Any, arrival_ns: int = 0) -> None:
        self.stamp_ns = stamp_ns
        self.payload = payload
        self.used = False
        self.arrival_ns = arrival_ns


class _RgbFrame:
    __slots__ = ('stamp_ns', 'payload', 'arrival_ns')

    def __init__(self, stamp_ns: int, payload: Any, arrival_ns: int) -> None:
        self.stamp_ns = stamp_ns
        self.payload = payload
        self.arrival_ns = arrival_ns


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
    threads. See the module docstring for the release rules and drop reasons.

    Args:
        slop_s: largest ``|t_x - t_rgb|`` (seconds, header stamps) for a pair; >= 0.
        x_timeout_s: seconds (arrival clock) an RGB frame may wait for its X, and seconds without
            any X arrival after which X is declared lost; must be > ``slop_s``.
        max_pending: bound of the pending-RGB queue and of the X buffer (frames); >= 1.
        x_grace_s: while X is unavailable, seconds (arrival clock) an RGB frame is held for a
            late X before it is released alone, and while RGB is lost an X frame for a late RGB
            frame; >= 0 (0 = at once).
        rgb_timeout_s: seconds without any RGB arrival after which X frames are released alone
            (rule 4); None (default) = never: frames are always driven by RGB.

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
                 x_grace_s: float = 0.0, rgb_timeout_s: float | None = None) -> None:
        if int(max_pending) != max_pending or max_pending < 1:
            raise ValueError(f'max_pending must be an integer >= 1, got {max_pending!r}')
        self.max_pending = int(max_pending)
        self._lock = threading.Lock()
        self.rgb_timeout_s: float | None = None
        self._rgb_timeout_ns: int | None = None
        self.set_timing(slop_s, x_timeout_s, x_grace_s)
        self.set_rgb_timeout(rgb_timeout_s)
        self._last_rgb_arrival_ns: int | None = None
        self._first_x_arrival_ns: int | None = None
        self._rgb_state = 'never'            # 'never' | 'ok' | 'lost'
        self._last_was_x_alone = False       # the last release was an X frame alone (rule 4)
        self._rgb: list[_RgbFrame] = []      # pending, sorted by stamp
        self._x: list[_XFrame] = []          # buffered, sorted by stamp
        self._x_stamps: list[int] = []       # mirror of self._x stamps for bisect
        self._last_released_ns: int | None = None
        self._last_x_arrival_ns: int | None = None
        self._x_state = 'never'              # 'never' | 'ok' | 'lost'
        self._events: list[str] = []
        self._stats = {key: 0 for key in _STAT_KEYS}

    # ------------------------------------------------------------------ public API

    @property
    def x_available(self) -> bool:
        """True while X frames are being paired; False before any X and after X was lost.

        Reflects the clock passed to the most recent call (pushes and pops update it).
        """
        with self._lock:
            return self._x_state == 'ok'

    @property
    def rgb_available(self) -> bool:
        """False while X frames are released alone because RGB was lost (rule 4), else True."""
        with self._lock:
            return self._rgb_state != 'lost'

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
        """A copy of the counters: rgb_in, x_in, paired, rgb_only, x_only and
        dropped_<reason>."""
        with self._lock:
            return dict(self._stats)

    @property
    def pending(self) -> tuple[int, int]:
        """(pending RGB frames, buffered X frames); for diagnostics."""
        with self._lock:
            return len(self._rgb), len(self._x)

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
        """Return and clear the state-change messages queued since the last call (oldest first)."""
        with self._lock:
            events, self._events = self._events, []
            return events

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
            self._check_x_arrival_timeout(now_ns)
            self._last_rgb_arrival_ns = now_ns
            if self._rgb_state == 'lost':
                self._event('RGB resumed: RGB frames arriving again; pairing RGB with X')
            self._rgb_state = 'ok'
            if self._last_released_ns is not None:
                if stamp_ns == self._last_released_ns and not self._last_was_x_alone:
                    self._drop('dropped_rgb_duplicate', 'RGB', stamp_ns)
                    return
                if stamp_ns == self._last_released_ns:   # its X frame already went out alone
                    self._drop('dropped_rgb_late', 'RGB', stamp_ns)
                    return
                if stamp_ns < self._last_released_ns:
                    self._drop('dropped_rgb_late', 'RGB', stamp_ns)
                    return
            stamps = [f.stamp_ns for f in self._rgb]
            index = bisect.bisect_left(stamps, stamp_ns)
            if index < len(stamps) and stamps[index] == stamp_ns:
                self._drop('dropped_rgb_duplicate', 'RGB', stamp_ns)
                return
            self._rgb.insert(index, _RgbFrame(stamp_ns, payload, now_ns))
            while len(self._rgb) > self.max_pending:
                oldest = self._rgb.pop(0)
                self._drop('dropped_rgb_overflow', 'RGB', oldest.stamp_ns)

    def push_x(self, stamp_ns: int, payload: Any, now_ns: int) -> None:
        """Buffer an X frame; marks X available (or resumed) when it can still pair.

        Args:
            stamp_ns: header stamp of the frame (int nanoseconds).
            payload: anything; returned untouched in :attr:`FramePair.x`.
            now_ns: arrival clock (int nanoseconds, monotonic).

        Raises:
            ValueError: if a stamp or clock value is not an integer number of nanoseconds.
        """
        stamp_ns = _as_ns(stamp_ns, 'stamp_ns')
        now_ns = _as_ns(now_ns, 'now_ns')
        with self._lock:
            self._stats['x_in'] += 1
            self._check_x_arrival_timeout(now_ns)
            self._last_x_arrival_ns = now_ns
            if self._first_x_arrival_ns is None:
                self._first_x_arrival_ns = now_ns
            current = (self._last_released_ns is None
                       or stamp_ns >= self._last_released_ns - self._slop_ns)
            if not current:
                # Too old to pair with any RGB frame still to come (RGB is released in order).
                self._drop('dropped_x_late', 'X', stamp_ns)
            else:
                index = bisect.bisect_left(self._x_stamps, stamp_ns)
                if index < len(self._x_stamps) and self._x_stamps[index] == stamp_ns:
                    self._drop('dropped_x_duplicate', 'X', stamp_ns)
                else:
                    self._x.insert(index, _XFrame(stamp_ns, payload, now_ns))
                    self._x_stamps.insert(index, stamp_ns)
                    while len(self._x) > self.max_pending:
                        oldest = self._x.pop(0)
                        self._x_stamps.pop(0)
                        if not oldest.used:
                            self._drop('dropped_x_overflow', 'X', oldest.stamp_ns)
            if current and self._x_state != 'ok':
                if self._x_state == 'never':
                    self._event('X available: first X frame received; pairing RGB with X')
                else:
                    self._event('X resumed: X frames arriving again; pairing RGB with X')
                self._x_state = 'ok'

    def pop_ready(self, now_ns: int) -> list[FramePair]:
        """Release every RGB frame that can be decided now, in RGB stamp order.

        Args:
            now_ns: arrival clock (int nanoseconds, same clock as the pushes).

        Returns:
            The released pairs (possibly empty), oldest stamp first.

        Raises:
            ValueError: if ``now_ns`` is not an integer number of nanoseconds.
        """
        now_ns = _as_ns(now_ns, 'now_ns')
        with self._lock:
            self._check_x_arrival_timeout(now_ns)
            released: list[FramePair] = []
            while self._rgb:
                head = self._rgb[0]
                if self._x_state != 'ok':
                    if now_ns - head.arrival_ns < self._grace_ns:
                        break   # hold it x_grace_s for an X frame delivered a moment later
                    released.append(self._release(head, None))
                    continue
                best = self._nearest_x(head.stamp_ns)
                newest_x = self._x_stamps[-1] if self._x_stamps else None
                if newest_x is not None and newest_x >= head.stamp_ns:
                    released.append(self._release(head, best))
                    continue
                waited_ns = now_ns - head.arrival_ns
                if waited_ns >= self._timeout_ns:
                    if best is None:
                        lag = ('no X buffered' if newest_x is None else
                               f'newest X stamp {(head.stamp_ns - newest_x) / 1e9:.3f} s older')
                        self._x_state = 'lost'
                        self._event(
                            f'X lost: no X frame within slop ({self.slop_s:.3f} s) of RGB stamp '
                            f'{head.stamp_ns} after waiting {waited_ns / 1e9:.3f} s ({lag}); '
                            f'tracking on RGB alone')
                    released.append(self._release(head, best))
                    continue
                break
            self._check_rgb_arrival_timeout(now_ns)
            if self._rgb_state == 'lost' and not self._rgb:
                released.extend(self._release_x_alone(now_ns))
            self._prune_x()
            return released

    def flush(self) -> list[FramePair]:
        """Release all pending RGB frames now (end of a recording), nearest X within slop or none.

        Returns:
            The released pairs, oldest stamp first.
        """
        with self._lock:
            released = []
            while self._rgb:
                head = self._rgb[0]
                best = self._nearest_x(head.stamp_ns) if self._x_state == 'ok' else None
                released.append(self._release(head, best))
            if self._rgb_state == 'lost':
                released.extend(self._release_x_alone(None))
            self._prune_x()
            return released

    # ------------------------------------------------------------------ internals (lock held)

    def _event(self, message: str) -> None:
        _logger.info(message)
        self._events.append(message)

    def _drop(self, reason: str, stream: str, stamp_ns: int) -> None:
        self._stats[reason] += 1
        _logger.debug('%s frame %d dropped: %s', stream, stamp_ns, reason)

    def _check_x_arrival_timeout(self, now_ns: int) -> None:
        if self._x_state != 'ok' or self._last_x_arrival_ns is None:
            return
        silent_ns = now_ns - self._last_x_arrival_ns
        if silent_ns > self._timeout_ns:
            self._x_state = 'lost'
            self._event(f'X lost: no X frame for {silent_ns / 1e9:.3f} s (x_timeout_s='
                        f'{self.x_timeout_s:.3f}); tracking on RGB alone')

    def _check_rgb_arrival_timeout(self, now_ns: int) -> None:
        """Rule 4: RGB is lost after rgb_timeout without an RGB arrival while an X frame waits
        for one (no RGB pending, an unused X frame newer than the last release)."""
        if self._rgb_timeout_ns is None or self._rgb_state == 'lost' or self._rgb:
            return
        last = self._last_released_ns
        if not any(not x.used and (last is None or x.stamp_ns > last) for x in self._x):
            return
        since = self._last_rgb_arrival_ns if self._last_rgb_arrival_ns is not None \
            else self._first_x_arrival_ns
        if since is None:
            return
        silent_ns = now_ns - since
        if silent_ns > self._rgb_timeout_ns:
            self._rgb_state = 'lost'
            what = ('no RGB frame yet' if self._last_rgb_arrival_ns is None else
                    f'no RGB frame for {silent_ns / 1e9:.3f} s')
            self._event(f'RGB lost: {what} (rgb_timeout_s={self.rgb_timeout_s:.3f}) while X '
                        f'arrives; tracking on X alone')

    def _release_x_alone(self, now_ns: int | None) -> list[FramePair]:
        """Rule 4: unused buffered X frames newer than the last release, oldest first, each once
        it has waited x_grace_s for an RGB frame sent with it (``now_ns`` None: all)."""
        out = []
        for x in self._x:
            if x.used or (self._last_released_ns is not None
                          and x.stamp_ns <= self._last_released_ns):
                continue
            if now_ns is not None and now_ns - x.arrival_ns < self._grace_ns:
                break
            x.used = True
            self._last_released_ns = x.stamp_ns
            self._last_was_x_alone = True
            self._stats['x_only'] += 1
            out.append(FramePair(x.stamp_ns, None, x.payload, x.stamp_ns, False, True))
        return out

    def _nearest_x(self, stamp_ns: int) -> _XFrame | None:
        """Buffered X frame nearest to ``stamp_ns`` within slop (ties: the older one)."""
        index = bisect.bisect_left(self._x_stamps, stamp_ns)
        best = None
        best_dt = None
        for j in (index - 1, index):
            if 0 <= j < len(self._x):
                dt = abs(self._x_stamps[j] - stamp_ns)
                if dt <= self._slop_ns and (best_dt is None or dt < best_dt):
                    best, best_dt = self._x[j], dt
        return best

    def _release(self, head: _RgbFrame, x: _XFrame | None) -> FramePair:
        self._rgb.pop(0)
        self._last_released_ns = head.stamp_ns
        self._last_was_x_alone = False
        if x is None:
            self._stats['rgb_only'] += 1
            return FramePair(head.stamp_ns, head.payload, None, None, True)
        x.used = True
        self._stats['paired'] += 1
        return FramePair(head.stamp_ns, head.payload, x.payload, x.stamp_ns, False)

    def _prune_x(self) -> None:
        """Drop X frames that can no longer pair with any RGB frame still to come."""
        if self._last_released_ns is None:
            return
        limit = self._last_released_ns - self._slop_ns
        while self._x and self._x_stamps[0] < limit:
            old = self._x.pop(0)
            self._x_stamps.pop(0)
            if not old.used:
                self._drop('dropped_x_unmatched', 'X', old.stamp_ns)
