"""Health bookkeeping of a running tracker (ROS-free): rates, counters, latency, state.

The node feeds :class:`TrackerHealth` from its callbacks and worker and turns
:meth:`TrackerHealth.snapshot` into a ``diagnostic_msgs/DiagnosticStatus``. Time is always an
argument (``now_ns``, a monotonic clock in nanoseconds); nothing here reads a clock.
Levels follow ``diagnostic_msgs/DiagnosticStatus``: 0 OK, 1 WARN, 2 ERROR.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading

_logger = logging.getLogger(__name__)

OK = 0
WARN = 1
ERROR = 2

STATE_RGBX = 'RGB-X'
STATE_RGB_ONLY = 'RGB only'
#: X present and the RGB frame dark (debug image), or the RGB stream lost and X tracked alone
#: (diagnostics ``x_state``; the node feeds the network a black RGB frame, as in a dark scene).
STATE_X_ONLY = 'X only'


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

    def tick(self, now_ns: int) -> None:
        """Record one event at ``now_ns`` (monotonic, ns)."""
        self._times.append(int(now_ns))
        self.count += 1
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


@dataclasses.dataclass
class HealthReport:
    """One diagnostics snapshot.

    Attributes:
        level: 0 OK, 1 WARN, 2 ERROR (``diagnostic_msgs/DiagnosticStatus`` levels).
        message: one-line summary.
        values: ordered key -> string value pairs (``diagnostic_msgs/KeyValue``).
    """

    level: int
    message: str
    values: dict[str, str]


class TrackerHealth:
    """Thread-safe counters, rates and latency statistics for the tracker node's diagnostics.

    Args:
        device: the inference device ('cpu', 'cuda:0', ...), reported as is.
        window_s: window in seconds for input rates (> 0).
        x_expected: False for an RGB-only rig (modality 'rgb'): frames without X are then normal
            and do not raise the level to WARN.
        precision: the network precision in use ('fp32', 'bf16', 'fp16'), reported as is.

    Keys reported by :meth:`snapshot` (all values strings): ``x_state`` ('RGB-X' / 'RGB only' /
    'X only' / 'waiting'), ``x_state_since_stamp_ns`` (header stamp of the first frame in that
    state), ``rate_hz.<topic>`` per input topic, ``frames_in.<topic>``, ``synchronized_pairs``,
    ``rgb_only_frames``, ``x_only_frames`` (tracked on X alone, RGB lost), ``frames_processed``,
    ``dropped.<reason>``, ``dropped_total``,
    ``bad_frames.<topic>.<reason>``, ``bad_frames_total``, ``latency_ms_mean`` /
    ``latency_ms_max`` (since the previous snapshot) and ``latency_ms_mean_total``, ``device``,
    ``precision``, ``target`` ('tracking' / 'waiting for init'), ``last_score``, ``last_stamp_ns``,
    ``events`` (the latest state-change messages).
    """

    def __init__(self, device: str, window_s: float = 5.0, x_expected: bool = True,
                 precision: str = 'fp32') -> None:
        self._lock = threading.Lock()
        self.precision = str(precision)
        self._x_expected = bool(x_expected)
        self._window_s = float(window_s)
        self.device = str(device)
        self._rates: dict[str, RateMeter] = {}
        self._bad: collections.Counter[tuple[str, str]] = collections.Counter()
        self._bad_at_last_snapshot = 0
        self._dropped: collections.Counter[str] = collections.Counter()
        self._pairer_stats: dict[str, int] = {}
        self._frames_processed = 0
        self._rgb_only_frames = 0
        self._x_only_frames = 0
        self._pairs = 0
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

    # ----------------------------------------------------------------- feeding
    def record_input(self, topic: str, now_ns: int) -> None:
        """Count one message received on ``topic`` at ``now_ns`` (monotonic ns)."""
        with self._lock:
            meter = self._rates.get(topic)
            if meter is None:
                meter = self._rates[topic] = RateMeter(self._window_s)
            meter.tick(now_ns)

    def record_bad_frame(self, topic: str, reason: str) -> int:
        """Count a rejected frame on ``topic`` for ``reason`` (e.g. 'encoding', 'size_mismatch').

        Returns:
            the new count for that (topic, reason).
        """
        with self._lock:
            self._bad[(topic, reason)] += 1
            return self._bad[(topic, reason)]

    def record_dropped(self, reason: str, n: int = 1) -> None:
        """Count ``n`` frames dropped by the node itself (outside the pairer) for ``reason``."""
        if n > 0:
            with self._lock:
                self._dropped[reason] += int(n)

    def set_pairer_stats(self, stats: dict[str, int]) -> None:
        """Store the synchronizer's counters (``FramePairer.stats``: rgb_in, x_in, paired,
        rgb_only, dropped_<reason>)."""
        with self._lock:
            self._pairer_stats = dict(stats)

    def record_result(self, stamp_ns: int, latency_s: float, score: float | None,
                      used_x: bool, tracking: bool, rgb_missing: bool = False) -> bool:
        """Record one processed frame.

        Args:
            stamp_ns: RGB header stamp of the frame (ns).
            latency_s: arrival-to-publish time of that frame in seconds.
            score: tracker score in [0, 1], or None when no target is tracked.
            used_x: whether the frame was tracked with X (False = RGB alone).
            tracking: whether a target is initialised.
            rgb_missing: the RGB stream was lost and the frame was tracked on X alone.

        Returns:
            True when the X state changed with this frame (the caller may publish diagnostics
            at once so that the change is visible with the stamp it happened at).
        """
        with self._lock:
            self._frames_processed += 1
            if rgb_missing:
                self._x_only_frames += 1
            elif used_x:
                self._pairs += 1
            else:
                self._rgb_only_frames += 1
            if math.isfinite(latency_s) and latency_s >= 0:
                self._lat_sum += latency_s
                self._lat_n += 1
                self._lat_win_sum += latency_s
                self._lat_win_n += 1
                self._lat_win_max = max(self._lat_win_max, latency_s)
            self._last_score = math.nan if score is None else float(score)
            self._last_stamp_ns = int(stamp_ns)
            self._tracking = bool(tracking)
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
            return sum(self._bad.values())

    # --------------------------------------------------------------- reporting
    def snapshot(self, now_ns: int) -> HealthReport:
        """Return the current :class:`HealthReport` and start a new latency window.

        WARN while tracking on RGB alone and when bad frames arrived since the previous
        snapshot; OK otherwise.
        """
        with self._lock:
            values: dict[str, str] = {}
            values['x_state'] = self._x_state
            values['x_state_since_stamp_ns'] = str(self._x_state_since)
            values['target'] = 'tracking' if self._tracking else 'waiting for init'
            for topic in sorted(self._rates):
                values[f'rate_hz.{topic}'] = f'{self._rates[topic].rate_hz(now_ns):.2f}'
                values[f'frames_in.{topic}'] = str(self._rates[topic].count)
            values['synchronized_pairs'] = str(self._pairs)
            values['rgb_only_frames'] = str(self._rgb_only_frames)
            values['x_only_frames'] = str(self._x_only_frames)
            values['frames_processed'] = str(self._frames_processed)
            dropped = collections.Counter(self._dropped)
            for key, val in self._pairer_stats.items():
                if key.startswith('dropped_'):
                    dropped[key[len('dropped_'):]] += int(val)
                else:
                    values[f'sync.{key}'] = str(val)
            for reason in sorted(dropped):
                values[f'dropped.{reason}'] = str(dropped[reason])
            values['dropped_total'] = str(sum(dropped.values()))
            for (topic, reason) in sorted(self._bad):
                values[f'bad_frames.{topic}.{reason}'] = str(self._bad[(topic, reason)])
            bad_total = sum(self._bad.values())
            values['bad_frames_total'] = str(bad_total)
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
            if not self._tracking and self._frames_processed:
                parts.append('no target (set initial_box or publish ~/init)')
            new_bad = bad_total - self._bad_at_last_snapshot
            self._bad_at_last_snapshot = bad_total
            if new_bad > 0:
                level = max(level, WARN)
                parts.append(f'{new_bad} bad frame(s) rejected')
            return HealthReport(level=level, message='; '.join(parts), values=values)
