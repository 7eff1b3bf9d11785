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

"""Health bookkeeping of a running tracker (ROS-free): rates, counters, latency, state.

The node feeds :class:`TrackerHealth` from its callbacks and worker. :meth:`TrackerHealth.reports`
returns one :class:`HealthReport` per concern, the way ROS's ``diagnostic_updater`` publishes one
``diagnostic_msgs/DiagnosticStatus`` per task: ``'input rgb'``, ``'input x'`` (only when X is
expected), ``'sync'`` and ``'tracker'``; :meth:`TrackerHealth.snapshot` folds them into one
combined report for callers that publish a single status. Time is always an argument (``now_ns``,
a monotonic arrival clock in nanoseconds); nothing here reads a clock.
Levels follow ``diagnostic_msgs/DiagnosticStatus``: 0 OK, 1 WARN, 2 ERROR.

**The window.** Every counter is cumulative. A short history of (``now_ns``, counters) samples is
kept (one taken on each timed call - :meth:`~TrackerHealth.record_input`,
:meth:`~TrackerHealth.record_result`, :meth:`~TrackerHealth.record_x_signal`,
:meth:`~TrackerHealth.reports` - at most one per ``window_s / 50``), and every "window" figure is
the difference between the counters now and the latest sample at least ``window_s`` old (the
start of the run while the run is shorter than the window). Ratios and warnings therefore reflect
the last ``window_s`` seconds, not the whole run: a burst of drops 20 s ago is forgotten. Calls
without a time (:meth:`~TrackerHealth.record_bad_frame`, :meth:`~TrackerHealth.record_dropped`,
:meth:`~TrackerHealth.set_pairer_stats`) are attributed to the next timed call.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading
from typing import Any, Mapping

_logger = logging.getLogger(__name__)

OK = 0
WARN = 1
ERROR = 2

STATE_RGBX = 'RGB-X'
STATE_RGB_ONLY = 'RGB only'
#: X present and the RGB frame dark (debug image), or the RGB stream lost and X tracked alone
#: (diagnostics ``x_state``; the node feeds the network a black RGB frame, as in a dark scene).
STATE_X_ONLY = 'X only'

#: Report names (``HealthReport.name``) of :meth:`TrackerHealth.reports`, in that order.
REPORT_INPUT_RGB = 'input rgb'
REPORT_INPUT_X = 'input x'
REPORT_SYNC = 'sync'
REPORT_TRACKER = 'tracker'

#: Input topics with their own report; bad frames on any other topic ('init', 'worker',
#: 'tracker', 'marker', 'camera_info', ...) are reported by the 'tracker' status.
_INPUT_TOPICS = ('rgb', 'x')
#: Pairer drop reason that is normal (X faster than RGB): reported, never a warning.
_X_UNMATCHED = 'x_unmatched'
_NS = 1_000_000_000
_SAMPLES_PER_WINDOW = 50
_MAX_LATENCIES = 10_000


class RateMeter:
    """Event rate over a sliding window.

    Args:
        window_s: window length in seconds (> 0).

    Raises:
        ValueError: if ``window_s`` is not positive.
    """

    def __init__(self, window_s: float = 5.0) -> None:
        if not window_s > 0:
            raise ValueError(f'window_s must be > 0 seconds, got {window_s}')
        self._window_ns = int(window_s * 1e9)
        self._times: collections.deque[int] = collections.deque()
        self.count = 0
        #: arrival time (ns) of the latest event, None before the first.
        self.last_ns: int | None = None

    def tick(self, now_ns: int) -> None:
        """Record one event at ``now_ns`` (monotonic, ns)."""
        self._times.append(int(now_ns))
        self.count += 1
        self.last_ns = int(now_ns)
        self._trim(now_ns)

    def _trim(self, now_ns: int) -> None:
        while self._times and self._times[0] < now_ns - self._window_ns:
            self._times.popleft()

    def rate_hz(self, now_ns: int) -> float:
        """Events per second over the window ending at ``now_ns``; 0.0 with fewer than 2 events.

        The rate is measured between the first and last event in the window (so a burst after a
        long pause is not diluted by the silent part of the window); when the last event is older
        than the window the rate is 0.
        """
        self._trim(now_ns)
        n = len(self._times)
        if n < 2:
            return 0.0
        span = max(self._times[-1] - self._times[0], 1)
        return (n - 1) * 1e9 / span

    def recent_rate_hz(self, now_ns: int) -> float:
        """Like :meth:`rate_hz`, but a silence since the last event lowers the rate.

        ``min((n - 1) / (t_last - t_first), n / (now - t_first))`` over the ``n`` events in the
        window: for a steady stream with period ``T`` both terms are ``1 / T`` once ``now`` is one
        period past the last event, and the second one falls as the silence grows, so a stream
        that stopped 3 s ago reads well below its former rate instead of the former rate for a
        whole window. 0.0 with fewer than 2 events in the window.
        """
        rate = self.rate_hz(now_ns)
        if rate > 0 and now_ns > self._times[-1]:
            rate = min(rate, len(self._times) * 1e9 / (now_ns - self._times[0]))
        return rate


@dataclasses.dataclass
class HealthReport:
    """One diagnostics status.

    Attributes:
        level: 0 OK, 1 WARN, 2 ERROR (``diagnostic_msgs/DiagnosticStatus`` levels).
        message: one-line summary.
        values: ordered key -> string value pairs (``diagnostic_msgs/KeyValue``).
        name: which concern it reports ('input rgb', 'input x', 'sync', 'tracker'; '' for the
            combined :meth:`TrackerHealth.snapshot`).
    """

    level: int
    message: str
    values: dict[str, str]
    name: str = ''


def _check_real(name: str, value: Any, low: float, high: float | None, unit: str,
                low_open: bool = False, high_open: bool = False) -> float:
    """``float(value)`` if finite and within the range, else ValueError naming the range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    ok = math.isfinite(v) and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        rng = ('(' if low_open else '[') + f'{low:g}, ' + (
            'inf)' if high is None else f'{high:g}' + (')' if high_open else ']'))
        raise ValueError(f'{name} must be a finite number in {rng}{unit}, got {value!r}')
    return v


def _fmt(x: float, digits: int = 1) -> str:
    return f'{x:.{digits}f}' if math.isfinite(x) else 'nan'


class TrackerHealth:
    """Thread-safe counters, rates and latency statistics for the tracker node's diagnostics.

    Args:
        device: the inference device ('cpu', 'cuda:0', ...), reported as is.
        window_s: the window in seconds (> 0) for input rates and every windowed figure (drop
            ratios, latency statistics, time jumps, X signal); fixed for the object's life.
        x_expected: False for an RGB-only rig (modality 'rgb'): frames without X are then normal
            and do not raise the level to WARN, and there is no 'input x' report.
        precision: the network precision in use ('fp32', 'bf16', 'fp16'), reported as is.
        expected_rate_rgb: expected RGB message rate in Hz (>= 0; 0 = no rate check).
        expected_rate_x: expected X message rate in Hz (>= 0; 0 = no rate check). For raw events
            this is the rate of event messages.
        drop_warn_ratio: WARN when more than this fraction (in [0, 1]; 0 = any drop, 1 = never)
            of a stream's frames in the last window were dropped or rejected; also the fraction
            of unusable X frames above which X "looks dead".
        stall_error_s: ERROR when inputs arrived within the last ``stall_error_s`` seconds (> 0)
            but no frame was answered (:meth:`record_result`) for ``stall_error_s`` (or, before
            the first answer, since the first input). Keep it above the synchronizer's longest
            hold (``x_timeout``).
        rate_tolerance: a stream is too slow below ``(1 - rate_tolerance) * expected`` Hz (in
            [0, 1)). ``diagnostic_updater.FrequencyStatus`` uses 0.1 for steady control loops;
            cameras jitter, deliver in bursts and drop frames under load, so the default 0.5 only
            warns when a stream runs at under half its rate. A stream faster than expected is not
            a warning (frames it adds are dropped as stale and show up in the drop ratio).

    Raises:
        ValueError: for an argument outside the range above (the message names it).

    :meth:`reports` returns, in order (all values strings; "window" = the last ``window_s``):

    - ``'input rgb'`` / ``'input x'`` (the latter only when ``x_expected``): ``rate_hz`` (over the
      window, a silence counted, :meth:`RateMeter.recent_rate_hz`), ``expected_rate_hz`` and
      ``min_rate_hz`` (with a rate check), ``last_input_age_s`` ('nan' before the first frame),
      ``frames_in`` / ``frames_in_total`` (messages received; the larger of the node's count and
      the synchronizer's ``<stream>_in``), ``bad_frames`` / ``bad_frames_total`` (rejected by the
      node, counted as dropped), ``dropped`` / ``dropped_total``, ``drop_ratio`` (window
      dropped / frames in, at most 1), ``drop_warn_ratio``, ``dropped_window.<reason>`` per
      reason, ``window_s`` (the span the window covers). RGB dropped = the synchronizer's
      ``dropped_rgb_*`` + the node's own drops (:meth:`record_dropped`, e.g. 'stale'; reasons
      starting with ``x_`` count for X) + bad 'rgb' frames. X dropped = ``dropped_x_*`` except
      ``dropped_x_unmatched`` + bad 'x' frames. X only: ``unmatched`` / ``unmatched_total`` (X
      frames that never found an RGB partner: normal with X faster than RGB, never a warning),
      ``unusable`` / ``signal_checked`` (window) and ``x_signal`` ('ok', 'unchecked' or
      'looks dead: <reason>').
      WARN: drop ratio > ``drop_warn_ratio``; rate < ``min_rate_hz`` (including no frames at
      all, when a rate is expected); X looks dead: more than ``drop_warn_ratio`` (and at least
      one) of the X frames in the window were unusable (:meth:`record_x_signal` ok=False, or the
      synchronizer's ``x_unusable`` counter, whichever counted more).
    - ``'sync'``: ``x_state``, ``x_state_since_stamp_ns``, tracked frames by kind ``pairs`` /
      ``rgb_alone`` / ``x_alone`` (window) and ``*_total``, ``dropped_window.<reason>`` and
      ``dropped_total.<reason>`` (every reason, both streams and the node's), ``dropped`` /
      ``dropped_total`` (sums), ``time_jumps`` / ``time_jumps_total`` (the synchronizer's
      ``time_jumps``), ``pairer.<key>`` (its other counters, cumulative) and
      ``pairer_window.<key>``, ``window_s``. WARN: X missing (tracking on RGB alone while X is
      expected), RGB missing (tracking on X alone), a time jump in the window.
    - ``'tracker'``: ``target`` ('tracking' / 'waiting for init'), ``frames_processed`` (total) and
      ``frames_processed_window``, ``latency_ms_mean`` / ``latency_ms_max`` / ``latency_ms_p95``
      (window), ``latency_ms_mean_total``, ``last_score``, ``last_stamp_ns``,
      ``last_result_age_s`` / ``last_input_age_s`` ('nan' if none yet), ``stall_error_s``,
      ``bad_frames.<topic>.<reason>`` (window; topics other than 'rgb' / 'x'), ``device``,
      ``precision``, ``events`` (the latest state-change messages). ERROR: stalled (see
      ``stall_error_s``); WARN: bad frames on those other topics in the window (worker errors,
      tracker NaN boxes, invalid init boxes, ...).

    Synchronizer counters are accumulated so that they never go down: a counter that is lower
    than the previous :meth:`set_pairer_stats` value (a new or reset synchronizer) adds its new
    value.

    :meth:`snapshot` keys (the combined report): ``x_state``, ``x_state_since_stamp_ns``,
    ``target``, ``rate_hz.<topic>`` per input topic (between the first and last frame in the
    window, :meth:`RateMeter.rate_hz`), ``frames_in.<topic>``, ``synchronized_pairs``,
    ``rgb_only_frames``, ``x_only_frames`` (tracked on X alone, RGB lost), ``frames_processed``,
    ``sync.<key>`` (the synchronizer's non-drop counters), ``dropped.<reason>``,
    ``dropped_total``, ``bad_frames.<topic>.<reason>``, ``bad_frames_total`` (all cumulative),
    ``latency_ms_mean`` / ``latency_ms_max`` (since the previous snapshot) and
    ``latency_ms_mean_total``, ``device``, ``precision``, ``last_score``, ``last_stamp_ns``,
    ``events``; then every key of every report as ``<name>/<key>`` with spaces in the name
    written '_' (``input_rgb/drop_ratio``, ``sync/time_jumps``, ``tracker/latency_ms_p95``).
    """

    def __init__(self, device: str, window_s: float = 5.0, x_expected: bool = True,
                 precision: str = 'fp32', *, expected_rate_rgb: float = 0.0,
                 expected_rate_x: float = 0.0, drop_warn_ratio: float = 0.2,
                 stall_error_s: float = 2.0, rate_tolerance: float = 0.5) -> None:
        self._lock = threading.Lock()
        self.precision = str(precision)
        self._x_expected = bool(x_expected)
        self._window_s = _check_real('window_s', window_s, 0.0, None, ' s', low_open=True)
        self._window_ns = max(1, int(self._window_s * _NS))
        self._sample_ns = max(1, self._window_ns // _SAMPLES_PER_WINDOW)
        self.device = str(device)
        self._expected = {'rgb': 0.0, 'x': 0.0}
        self._drop_warn_ratio = 0.2
        self._stall_ns = 2 * _NS
        self._rate_tolerance = 0.5
        self.configure(expected_rate_rgb=expected_rate_rgb, expected_rate_x=expected_rate_x,
                       drop_warn_ratio=drop_warn_ratio, stall_error_s=stall_error_s,
                       rate_tolerance=rate_tolerance)
        self._rates: dict[str, RateMeter] = {}
        # cumulative counters, keyed by tuples: ('in', topic), ('bad', topic, reason),
        # ('drop', reason) (the node's own drops), ('pairer', key), ('xsig',), ('xdead', reason),
        # ('res', 'pairs' | 'rgb_alone' | 'x_alone')
        self._counts: collections.Counter[tuple[str, ...]] = collections.Counter()
        self._pairer_raw: dict[str, int] = {}
        self._pairer_info: dict[str, str] = {}
        self._history: collections.deque[tuple[int, dict[tuple[str, ...], int]]] = \
            collections.deque()
        self._start_ns: int | None = None
        self._last_time_ns: int | None = None
        self._first_input_ns: int | None = None
        self._last_input_ns: int | None = None
        self._last_result_ns: int | None = None
        self._latencies: collections.deque[tuple[int, float]] = \
            collections.deque(maxlen=_MAX_LATENCIES)
        self._last_dead_reason = ''
        self._frames_processed = 0
        self._lat_sum = 0.0
        self._lat_n = 0
        self._lat_win_sum = 0.0
        self._lat_win_n = 0
        self._lat_win_max = 0.0
        self._last_score = math.nan
        self._last_stamp_ns = 0
        self._tracking = False
        self._x_state = 'waiting'
        self._x_state_since = 0
        self._events: collections.deque[str] = collections.deque(maxlen=4)

    # ----------------------------------------------------------- configuration
    def configure(self, *, expected_rate_rgb: float | None = None,
                  expected_rate_x: float | None = None, drop_warn_ratio: float | None = None,
                  stall_error_s: float | None = None,
                  rate_tolerance: float | None = None) -> None:
        """Change the run-time settings (None keeps a setting); units and ranges as in the
        constructor. All arguments are validated before any is applied.

        Raises:
            ValueError: for a value outside its range (the message names it and the range).
        """
        new: dict[str, float] = {}
        if expected_rate_rgb is not None:
            new['rgb'] = _check_real('expected_rate_rgb', expected_rate_rgb, 0.0, None, ' Hz')
        if expected_rate_x is not None:
            new['x'] = _check_real('expected_rate_x', expected_rate_x, 0.0, None, ' Hz')
        if drop_warn_ratio is not None:
            new['drop'] = _check_real('drop_warn_ratio', drop_warn_ratio, 0.0, 1.0, '')
        if stall_error_s is not None:
            new['stall'] = _check_real('stall_error_s', stall_error_s, 0.0, None, ' s',
                                       low_open=True)
        if rate_tolerance is not None:
            new['tol'] = _check_real('rate_tolerance', rate_tolerance, 0.0, 1.0, '',
                                     high_open=True)
        with self._lock:
            for topic in ('rgb', 'x'):
                if topic in new:
                    self._expected[topic] = new[topic]
            if 'drop' in new:
                self._drop_warn_ratio = new['drop']
            if 'stall' in new:
                self._stall_ns = max(1, int(new['stall'] * _NS))
            if 'tol' in new:
                self._rate_tolerance = new['tol']

    # ----------------------------------------------------------------- feeding
    def record_input(self, topic: str, now_ns: int) -> None:
        """Count one message received on ``topic`` ('rgb', 'x') at ``now_ns`` (monotonic ns),
        before it is decoded (a rejected frame is counted here and in :meth:`record_bad_frame`).
        """
        now_ns = int(now_ns)
        with self._lock:
            meter = self._rates.get(topic)
            if meter is None:
                meter = self._rates[topic] = RateMeter(self._window_s)
            meter.tick(now_ns)
            self._counts[('in', topic)] += 1
            if self._first_input_ns is None:
                self._first_input_ns = now_ns
            self._last_input_ns = now_ns
            self._sample(now_ns)

    def record_bad_frame(self, topic: str, reason: str) -> int:
        """Count a rejected frame on ``topic`` for ``reason`` (e.g. 'encoding', 'size_mismatch').

        'rgb' and 'x' frames count as dropped frames of that stream; other topics ('init',
        'worker', 'tracker', ...) are reported by the 'tracker' status.

        Returns:
            the new count for that (topic, reason).
        """
        with self._lock:
            self._counts[('bad', str(topic), str(reason))] += 1
            return self._counts[('bad', str(topic), str(reason))]

    def record_dropped(self, reason: str, n: int = 1) -> None:
        """Count ``n`` frames dropped by the node itself (outside the pairer) for ``reason``.

        The node drops ready pairs (reason 'stale'), i.e. RGB frames: a reason counts for the RGB
        stream unless it starts with ``x_``.
        """
        if n > 0:
            with self._lock:
                self._counts[('drop', str(reason))] += int(n)

    def set_pairer_stats(self, stats: Mapping[str, Any]) -> None:
        """Store the synchronizer's cumulative counters (``FramePairer.stats``: rgb_in, x_in,
        paired, rgb_only, x_only, dropped_<reason>, time_jumps, x_unusable, ...). Keys are
        treated generically: ``dropped_rgb_*`` are RGB frames dropped, ``dropped_x_*`` X frames
        dropped, any other key a counter to report; a value that is not a number is reported as
        text."""
        with self._lock:
            seen = set()
            for key, val in stats.items():
                key = str(key)
                try:
                    v = int(val)
                except (TypeError, ValueError, OverflowError):
                    self._pairer_info[key] = str(val)
                    continue
                seen.add(key)
                prev = self._pairer_raw.get(key, 0)
                self._counts[('pairer', key)] += v - prev if v >= prev else max(v, 0)
                self._pairer_raw[key] = v
            for key in list(self._pairer_raw):
                if key not in seen:
                    del self._pairer_raw[key]

    def record_x_signal(self, ok: bool, reason: str = '', now_ns: int | None = None) -> None:
        """Record the node's signal check of one X frame (after decoding).

        Args:
            ok: False when the frame carries no usable signal (depth all NaN / 0 / inf, a flat
                thermal image, no events).
            reason: why it is unusable (e.g. 'all_nan', 'flat'), shown in the 'input x' status.
            now_ns: arrival clock (monotonic ns); None = the time of the latest
                :meth:`record_input`.
        """
        with self._lock:
            self._counts[('xsig',)] += 1
            if not ok:
                reason = str(reason) or 'unusable'
                self._counts[('xdead', reason)] += 1
                self._last_dead_reason = reason
            t = self._now_or_latest(now_ns)
            if t is not None:
                self._sample(t)

    def record_result(self, stamp_ns: int, latency_s: float, score: float | None,
                      used_x: bool, tracking: bool, rgb_missing: bool = False,
                      now_ns: int | None = None) -> bool:
        """Record one processed (answered) frame.

        Args:
            stamp_ns: RGB header stamp of the frame (ns).
            latency_s: arrival-to-publish time of that frame in seconds.
            score: tracker score in [0, 1], or None when no target is tracked.
            used_x: whether the frame was tracked with X (False = RGB alone).
            tracking: whether a target is initialised.
            rgb_missing: the RGB stream was lost and the frame was tracked on X alone.
            now_ns: when it was answered, on the arrival clock (monotonic ns), for the stall check
                and the latency window; None = the time of the latest :meth:`record_input` (an
                answer is then taken to follow the latest input; a stall is still seen, as inputs
                go on while this time stands still).

        Returns:
            True when the X state changed with this frame (the caller may publish diagnostics
            at once so that the change is visible with the stamp it happened at).
        """
        with self._lock:
            t = self._now_or_latest(now_ns)
            self._frames_processed += 1
            if rgb_missing:
                self._counts[('res', 'x_alone')] += 1
            elif used_x:
                self._counts[('res', 'pairs')] += 1
            else:
                self._counts[('res', 'rgb_alone')] += 1
            if math.isfinite(latency_s) and latency_s >= 0:
                self._lat_sum += latency_s
                self._lat_n += 1
                self._lat_win_sum += latency_s
                self._lat_win_n += 1
                self._lat_win_max = max(self._lat_win_max, latency_s)
                self._latencies.append((0 if t is None else t, float(latency_s)))
            self._last_score = math.nan if score is None else float(score)
            self._last_stamp_ns = int(stamp_ns)
            self._tracking = bool(tracking)
            if t is not None:
                self._last_result_ns = t if self._last_result_ns is None else \
                    max(self._last_result_ns, t)
                self._sample(t)
            state = STATE_X_ONLY if rgb_missing else STATE_RGBX if used_x else STATE_RGB_ONLY
            changed = state != self._x_state
            if changed:
                self._x_state = state
                self._x_state_since = int(stamp_ns)
            return changed

    def record_event(self, text: str) -> None:
        """Keep a short history of state-change messages (X lost / resumed, init, ...)."""
        with self._lock:
            self._events.append(str(text))

    @property
    def x_state(self) -> str:
        """'RGB-X', 'RGB only', 'X only' (RGB lost), or 'waiting' before the first frame."""
        with self._lock:
            return self._x_state

    def bad_frame_total(self) -> int:
        """Total number of rejected frames so far."""
        with self._lock:
            return sum(v for k, v in self._counts.items() if k[0] == 'bad')

    # ------------------------------------------------------ window (lock held)
    def _now_or_latest(self, now_ns: int | None) -> int | None:
        if now_ns is not None:
            return int(now_ns)
        return self._last_input_ns if self._last_input_ns is not None else self._last_time_ns

    def _sample(self, now_ns: int) -> None:
        """Keep (now_ns, counters) at most every ``window_s / 50``; drop the samples that are
        older than the latest one at least ``window_s`` old (the baseline)."""
        if self._start_ns is None:
            self._start_ns = now_ns
        if self._last_time_ns is None or now_ns > self._last_time_ns:
            self._last_time_ns = now_ns
        hist = self._history
        if not hist or now_ns - hist[-1][0] >= self._sample_ns:
            hist.append((now_ns, dict(self._counts)))
        while len(hist) >= 2 and hist[1][0] <= now_ns - self._window_ns:
            hist.popleft()

    def _baseline(self, now_ns: int) -> tuple[int | None, dict[tuple[str, ...], int]]:
        """(time, counters) the window starts from: the latest sample at least ``window_s`` old,
        else (the run's first timed call, no counts)."""
        base: tuple[int | None, dict[tuple[str, ...], int]] = (self._start_ns, {})
        for t, counts in self._history:
            if t <= now_ns - self._window_ns:
                base = (t, counts)
            else:
                break
        return base

    # --------------------------------------------------------------- reporting
    def reports(self, now_ns: int) -> list[HealthReport]:
        """One :class:`HealthReport` per concern at ``now_ns`` (monotonic ns): 'input rgb',
        'input x' (only when X is expected), 'sync', 'tracker'. Keys and level rules: see the
        class docstring. Does not restart :meth:`snapshot`'s latency window."""
        with self._lock:
            return self._reports(int(now_ns))

    def _reports(self, now: int) -> list[HealthReport]:
        self._sample(now)
        base_t, base = self._baseline(now)
        cur = self._counts
        span_s = max(0.0, (now - base_t) / _NS) if base_t is not None else 0.0

        def delta(key: tuple[str, ...]) -> int:
            return max(0, cur.get(key, 0) - base.get(key, 0))

        ctx = _Window(delta, span_s, now)
        out = [self._input_report('rgb', ctx)]
        if self._x_expected:
            out.append(self._input_report('x', ctx))
        out.append(self._sync_report(ctx))
        out.append(self._tracker_report(ctx))
        return out

    def _stream_drops(self, topic: str, ctx: _Window) -> tuple[dict[str, int], dict[str, int]]:
        """-> ({reason: dropped in window}, {reason: dropped in total}) of one stream, bad frames
        as 'bad.<reason>', x_unmatched excluded."""
        win: dict[str, int] = {}
        tot: dict[str, int] = {}
        for key, total in sorted(self._counts.items()):
            reason = None
            if key[0] == 'pairer' and key[1].startswith(f'dropped_{topic}_'):
                reason = key[1][len('dropped_'):]
                if reason == _X_UNMATCHED:
                    reason = None
            elif key[0] == 'drop' and (key[1].startswith('x_') == (topic == 'x')):
                reason = key[1]
            elif key[0] == 'bad' and key[1] == topic:
                reason = f'bad.{key[2]}'
            if reason is not None:
                win[reason] = win.get(reason, 0) + ctx.delta(key)
                tot[reason] = tot.get(reason, 0) + total
        return win, tot

    def _input_report(self, topic: str, ctx: _Window) -> HealthReport:
        now = ctx.now
        meter = self._rates.get(topic)
        values: dict[str, str] = {}
        level = OK
        parts: list[str] = []
        rate = meter.recent_rate_hz(now) if meter is not None else 0.0
        values['rate_hz'] = f'{rate:.2f}'
        expected = self._expected[topic]
        last_ns = meter.last_ns if meter is not None else None
        age_s = max(0.0, (now - last_ns) / _NS) if last_ns is not None else math.nan
        if expected > 0:
            min_rate = (1.0 - self._rate_tolerance) * expected
            values['expected_rate_hz'] = f'{expected:g}'
            values['min_rate_hz'] = f'{min_rate:.2f}'
            if rate < min_rate:
                level = WARN
                if last_ns is None:
                    parts.append(f'no {topic} frames yet, expected {expected:g} Hz')
                elif age_s > self._window_s:
                    parts.append(f'no {topic} frames for {age_s:.1f} s, expected {expected:g} Hz')
                else:
                    parts.append(f'{topic} at {rate:.1f} Hz, expected {expected:g} Hz '
                                 f'(WARN below {min_rate:.1f} Hz)')
        values['last_input_age_s'] = _fmt(age_s, 2)
        frames = max(ctx.delta(('in', topic)), ctx.delta(('pairer', f'{topic}_in')))
        frames_total = max(self._counts.get(('in', topic), 0),
                           self._counts.get(('pairer', f'{topic}_in'), 0))
        values['frames_in'] = str(frames)
        values['frames_in_total'] = str(frames_total)
        bad = sum(ctx.delta(k) for k in self._counts if k[0] == 'bad' and k[1] == topic)
        bad_total = sum(v for k, v in self._counts.items() if k[0] == 'bad' and k[1] == topic)
        values['bad_frames'] = str(bad)
        values['bad_frames_total'] = str(bad_total)
        win, tot = self._stream_drops(topic, ctx)
        dropped = sum(win.values())
        ratio = dropped / max(frames, dropped) if dropped else 0.0
        values['dropped'] = str(dropped)
        values['dropped_total'] = str(sum(tot.values()))
        values['drop_ratio'] = f'{ratio:.3f}'
        values['drop_warn_ratio'] = f'{self._drop_warn_ratio:g}'
        for reason in sorted(win):
            values[f'dropped_window.{reason}'] = str(win[reason])
        if dropped and ratio > self._drop_warn_ratio:
            level = max(level, WARN)
            why = ', '.join(f'{r} {n}' for r, n in sorted(win.items(), key=lambda kv: -kv[1])
                            if n)
            parts.append(f'{topic}: {dropped} of {max(frames, dropped)} frames dropped '
                         f'({100 * ratio:.0f} %) in the last {ctx.span_s:.1f} s: {why}')
        if bad:
            parts.append(f'{bad} bad frame(s) rejected on {topic}')
        if topic == 'x':
            unmatched = ctx.delta(('pairer', f'dropped_{_X_UNMATCHED}'))
            values['unmatched'] = str(unmatched)
            values['unmatched_total'] = str(self._counts.get(('pairer',
                                                              f'dropped_{_X_UNMATCHED}'), 0))
            dead_by_reason = {k[1]: ctx.delta(k) for k in self._counts if k[0] == 'xdead'}
            dead_sig = sum(dead_by_reason.values())
            dead_pairer = ctx.delta(('pairer', 'x_unusable'))
            dead = max(dead_sig, dead_pairer)
            checked = max(ctx.delta(('xsig',)), frames, dead)
            values['unusable'] = str(dead)
            values['signal_checked'] = str(checked)
            looks_dead = dead > 0 and dead > self._drop_warn_ratio * checked
            if looks_dead:
                if dead_sig >= dead_pairer:
                    top = max(dead_by_reason.values())
                    reasons = [r for r, n in dead_by_reason.items() if n == top]
                    reason = (self._last_dead_reason if self._last_dead_reason in reasons
                              else sorted(reasons)[0])
                else:
                    reason = 'unusable (synchronizer)'
                values['x_signal'] = f'looks dead: {reason}'
                level = max(level, WARN)
                parts.append(f'X looks dead: {reason} ({dead} of {checked} X frames in the last '
                             f'{ctx.span_s:.1f} s)')
            else:
                checks = ctx.delta(('xsig',)) or ('pairer', 'x_unusable') in self._counts
                values['x_signal'] = 'ok' if checks else 'unchecked'
        values['window_s'] = f'{ctx.span_s:.1f}'
        if not parts:
            parts.append(f'{topic} {rate:.1f} Hz, {dropped} of {frames} frames dropped in the '
                         f'last {ctx.span_s:.1f} s')
        name = REPORT_INPUT_RGB if topic == 'rgb' else REPORT_INPUT_X
        return HealthReport(level=level, message='; '.join(parts), values=values, name=name)

    def _sync_report(self, ctx: _Window) -> HealthReport:
        values: dict[str, str] = {}
        values['x_state'] = self._x_state
        values['x_state_since_stamp_ns'] = str(self._x_state_since)
        for kind in ('pairs', 'rgb_alone', 'x_alone'):
            values[kind] = str(ctx.delta(('res', kind)))
            values[f'{kind}_total'] = str(self._counts.get(('res', kind), 0))
        win: dict[str, int] = {}
        tot: dict[str, int] = {}
        for key, total in sorted(self._counts.items()):
            if key[0] == 'drop':
                reason = key[1]
            elif key[0] == 'pairer' and key[1].startswith('dropped_'):
                reason = key[1][len('dropped_'):]
            else:
                continue
            win[reason] = win.get(reason, 0) + ctx.delta(key)
            tot[reason] = tot.get(reason, 0) + total
        for reason in sorted(win):
            values[f'dropped_window.{reason}'] = str(win[reason])
        for reason in sorted(tot):
            values[f'dropped_total.{reason}'] = str(tot[reason])
        values['dropped'] = str(sum(win.values()))
        values['dropped_total'] = str(sum(tot.values()))
        jumps = ctx.delta(('pairer', 'time_jumps'))
        values['time_jumps'] = str(jumps)
        values['time_jumps_total'] = str(self._counts.get(('pairer', 'time_jumps'), 0))
        for key, total in sorted(self._counts.items()):
            if key[0] == 'pairer' and not key[1].startswith('dropped_') \
                    and key[1] != 'time_jumps':
                values[f'pairer.{key[1]}'] = str(total)
                values[f'pairer_window.{key[1]}'] = str(ctx.delta(key))
        for key in sorted(self._pairer_info):
            values[f'pairer.{key}'] = self._pairer_info[key]
        values['window_s'] = f'{ctx.span_s:.1f}'
        level = OK
        parts = []
        if self._x_state == STATE_RGB_ONLY and not self._x_expected:
            parts.append('tracking on RGB (no X sensor configured)')
        elif self._x_state == STATE_RGB_ONLY:
            level = WARN
            parts.append('X missing: tracking on RGB alone')
        elif self._x_state == STATE_X_ONLY:
            level = WARN
            parts.append('RGB missing: tracking on X alone')
        elif self._x_state == STATE_RGBX:
            parts.append('tracking on RGB-X')
        else:
            parts.append('waiting for frames')
        if jumps:
            level = max(level, WARN)
            parts.append(f'{jumps} time jump(s) in the last {ctx.span_s:.1f} s (stamps went back '
                         f'or leapt: bag loop or clock reset?)')
        return HealthReport(level=level, message='; '.join(parts), values=values,
                            name=REPORT_SYNC)

    def _tracker_report(self, ctx: _Window) -> HealthReport:
        now = ctx.now
        values: dict[str, str] = {}
        values['target'] = 'tracking' if self._tracking else 'waiting for init'
        values['frames_processed'] = str(self._frames_processed)
        values['frames_processed_window'] = str(sum(ctx.delta(('res', k))
                                                    for k in ('pairs', 'rgb_alone', 'x_alone')))
        while self._latencies and self._latencies[0][0] < now - self._window_ns:
            self._latencies.popleft()
        lat = sorted(v for _, v in self._latencies)
        if lat:
            p95 = lat[max(0, math.ceil(0.95 * len(lat)) - 1)]
            values['latency_ms_mean'] = f'{1e3 * sum(lat) / len(lat):.1f}'
            values['latency_ms_max'] = f'{1e3 * lat[-1]:.1f}'
            values['latency_ms_p95'] = f'{1e3 * p95:.1f}'
        else:
            values['latency_ms_mean'] = values['latency_ms_max'] = 'nan'
            values['latency_ms_p95'] = 'nan'
        values['latency_ms_mean_total'] = (f'{1e3 * self._lat_sum / self._lat_n:.1f}'
                                           if self._lat_n else 'nan')
        values['last_score'] = (f'{self._last_score:.3f}' if math.isfinite(self._last_score)
                                else 'nan')
        values['last_stamp_ns'] = str(self._last_stamp_ns)
        res_age = (max(0.0, (now - self._last_result_ns) / _NS)
                   if self._last_result_ns is not None else math.nan)
        in_age = (max(0.0, (now - self._last_input_ns) / _NS)
                  if self._last_input_ns is not None else math.nan)
        values['last_result_age_s'] = _fmt(res_age, 2)
        values['last_input_age_s'] = _fmt(in_age, 2)
        values['stall_error_s'] = f'{self._stall_ns / _NS:g}'
        other_bad = {k: ctx.delta(k) for k in sorted(self._counts)
                     if k[0] == 'bad' and k[1] not in _INPUT_TOPICS}
        for (_, topic, reason), n in other_bad.items():
            values[f'bad_frames.{topic}.{reason}'] = str(n)
        values['device'] = self.device
        values['precision'] = self.precision
        values['events'] = ' | '.join(self._events)
        level = OK
        parts = []
        stall_s = self._stall_ns / _NS
        inputs_recent = in_age <= stall_s            # False for nan (no input yet)
        if inputs_recent and self._last_result_ns is None and self._first_input_ns is not None \
                and now - self._first_input_ns > self._stall_ns:
            level = ERROR
            parts.append(f'stalled: frames arrive but none was answered in '
                         f'{(now - self._first_input_ns) / _NS:.1f} s since the first input')
        elif inputs_recent and res_age > stall_s:
            level = ERROR
            parts.append(f'stalled: frames arrive but none was answered for {res_age:.1f} s')
        n_bad = sum(other_bad.values())
        if n_bad:
            level = max(level, WARN)
            what = ', '.join(f'{t}.{r} {n}' for (_, t, r), n in other_bad.items() if n)
            parts.append(f'{n_bad} bad frame(s) rejected in the last {ctx.span_s:.1f} s ({what})')
        if not self._tracking and self._frames_processed:
            parts.append('no target (set initial_box or publish ~/init)')
        if not parts:
            parts.append(f'{values["frames_processed_window"]} frame(s) answered in the last '
                         f'{ctx.span_s:.1f} s, latency {values["latency_ms_mean"]} ms mean')
        return HealthReport(level=level, message='; '.join(parts), values=values,
                            name=REPORT_TRACKER)

    def snapshot(self, now_ns: int) -> HealthReport:
        """Return one combined :class:`HealthReport` and start a new latency window.

        Its level is the highest of :meth:`reports` (drops, slow / dead / missing streams, time
        jumps, bad frames raise it to WARN, a stall to ERROR); its message is the 'sync' state
        followed by the messages of every report that is not OK (and the 'no target' hint).
        Keys: see the class docstring.
        """
        now = int(now_ns)
        with self._lock:
            reps = self._reports(now)
            values: dict[str, str] = {}
            values['x_state'] = self._x_state
            values['x_state_since_stamp_ns'] = str(self._x_state_since)
            values['target'] = 'tracking' if self._tracking else 'waiting for init'
            for topic in sorted(self._rates):
                values[f'rate_hz.{topic}'] = f'{self._rates[topic].rate_hz(now):.2f}'
                values[f'frames_in.{topic}'] = str(self._rates[topic].count)
            values['synchronized_pairs'] = str(self._counts.get(('res', 'pairs'), 0))
            values['rgb_only_frames'] = str(self._counts.get(('res', 'rgb_alone'), 0))
            values['x_only_frames'] = str(self._counts.get(('res', 'x_alone'), 0))
            values['frames_processed'] = str(self._frames_processed)
            dropped: collections.Counter[str] = collections.Counter()
            bad: dict[tuple[str, str], int] = {}
            for key, val in sorted(self._counts.items()):
                if key[0] == 'drop':
                    dropped[key[1]] += val
                elif key[0] == 'pairer' and key[1].startswith('dropped_'):
                    dropped[key[1][len('dropped_'):]] += val
                elif key[0] == 'pairer':
                    values[f'sync.{key[1]}'] = str(val)
                elif key[0] == 'bad':
                    bad[(key[1], key[2])] = val
            for key in sorted(self._pairer_info):
                values[f'sync.{key}'] = self._pairer_info[key]
            for reason in sorted(dropped):
                values[f'dropped.{reason}'] = str(dropped[reason])
            values['dropped_total'] = str(sum(dropped.values()))
            for (topic, reason) in sorted(bad):
                values[f'bad_frames.{topic}.{reason}'] = str(bad[(topic, reason)])
            values['bad_frames_total'] = str(sum(bad.values()))
            if self._lat_win_n:
                values['latency_ms_mean'] = f'{1e3 * self._lat_win_sum / self._lat_win_n:.1f}'
                values['latency_ms_max'] = f'{1e3 * self._lat_win_max:.1f}'
            else:
                values['latency_ms_mean'] = 'nan'
                values['latency_ms_max'] = 'nan'
            values['latency_ms_mean_total'] = (f'{1e3 * self._lat_sum / self._lat_n:.1f}'
                                               if self._lat_n else 'nan')
            values['device'] = self.device
            values['precision'] = self.precision
            values['last_score'] = (f'{self._last_score:.3f}' if math.isfinite(self._last_score)
                                    else 'nan')
            values['last_stamp_ns'] = str(self._last_stamp_ns)
            values['events'] = ' | '.join(self._events)
            self._lat_win_sum = 0.0
            self._lat_win_n = 0
            self._lat_win_max = 0.0
            for rep in reps:
                prefix = rep.name.replace(' ', '_')
                for key, val in rep.values.items():
                    values[f'{prefix}/{key}'] = val

            level = max(rep.level for rep in reps)
            by_name = {rep.name: rep for rep in reps}
            parts = [by_name[REPORT_SYNC].message]
            for rep in sorted(reps, key=lambda r: -r.level):
                if rep.name != REPORT_SYNC and rep.level > OK:
                    parts.append(rep.message)
            tracker = by_name[REPORT_TRACKER]
            hint = 'no target (set initial_box or publish ~/init)'
            if tracker.level == OK and hint in tracker.message:
                parts.append(hint)
            return HealthReport(level=level, message='; '.join(parts), values=values)


@dataclasses.dataclass
class _Window:
    """The window one :meth:`TrackerHealth.reports` call looks at."""

    delta: Any          # (counter key) -> count since the window's start
    span_s: float       # seconds the window covers (shorter at the start of a run)
    now: int            # ns
