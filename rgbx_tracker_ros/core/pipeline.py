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

"""Everything the tracker node does between receiving an image and publishing an answer (ROS-free).

:class:`NodePipeline` wires the parts together:

- decoded arrays from the image callbacks -> encoder (:mod:`rgbx_tracker_ros.core.modality`) and
  the dead-sensor check (``XSignalMonitor``: X with no usable signal is counted, reported and
  treated as missing X) -> the synchronizer (:class:`rgbx_tracker_ros.core.sync.FramePairer`);
- raw events -> :class:`rgbx_tracker_ros.core.events.EventWindowRenderer` -> X frames;
- released pairs -> :class:`rgbx_tracker_ros.core.session.TrackingSession` -> :class:`Answer`;
- counters, rates and levels -> :class:`rgbx_tracker_ros.core.health.TrackerHealth`.

The ROS node converts messages to arrays, calls the ``on_*`` methods from its callbacks and
:meth:`NodePipeline.poll` from its worker thread, publishes the answers, and logs what
:meth:`NodePipeline.drain_log` returns. Time is always an argument (``now_ns``: the monotonic
arrival clock, nanoseconds); nothing in here reads a clock.

Accounting: every RGB frame received is answered, or counted with its reason (a bad frame
``bad_frames.rgb.<reason>``, a synchronizer drop ``dropped.rgb_<reason>``, or ``dropped.stale``
when inference falls behind and the worker answers the newest ready frame only).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import threading
from typing import Any

import numpy as np

from rgbx_tracker_ros.core import health as health_mod
from rgbx_tracker_ros.core.depth import DepthError, depth_to_metres
from rgbx_tracker_ros.core.events import EventWindowRenderer
from rgbx_tracker_ros.core.modality import (
    XSignalMonitor, check_rgb, check_x, encode_rgb, encode_x)
from rgbx_tracker_ros.core.params import NodeParams
from rgbx_tracker_ros.core.session import Answer, Frame, Intrinsics, TrackingSession
from rgbx_tracker_ros.core.sync import FramePair, FramePairer
from rgbx_tracker_ros.core.types import Modality

MAX_PENDING = 8
#: Prefixes of synchronizer events logged as warnings (the others are info).
_WARN_EVENTS = ('X lost', 'RGB lost', 'Time jump', 'X no signal')


@dataclasses.dataclass(frozen=True)
class LogLine:
    """A message for the node's logger.

    Attributes:
        level: a ``logging`` level (INFO, WARNING, ERROR).
        text: the message.
        throttle_key: messages with the same key may be throttled by the node ('' = never).
    """

    level: int
    text: str
    throttle_key: str = ''


class NodePipeline:
    """The tracker node's core (see the module docstring).

    Args:
        params: validated node parameters.
        tracker: the tracker (core.tracker.RgbxTracker or anything with ``initialize`` /
            ``track`` / ``initialized`` / ``reset``); ``device`` and ``precision`` attributes
            are reported in diagnostics when present.
        want_depth: keep depth in metres with each depth X frame (for the 3D marker).
    """

    def __init__(self, params: NodeParams, tracker: Any, want_depth: bool = False) -> None:
        self.params = params
        self.tracker = tracker
        self.want_depth = bool(want_depth)
        self._log_lines: collections.deque[LogLine] = collections.deque(maxlen=1000)
        self._lock = threading.Lock()      # event renderer
        self.health = health_mod.TrackerHealth(
            str(getattr(tracker, 'device', 'cpu')), x_expected=params.x_expected,
            precision=str(getattr(tracker, 'precision', 'fp32')),
            expected_rate_rgb=params.expected_rate_rgb,
            expected_rate_x=params.expected_rate_x if params.x_expected else 0.0,
            drop_warn_ratio=params.drop_warn_ratio, stall_error_s=params.stall_error_s)
        self.pairer = FramePairer(
            params.slop, params.x_timeout, max_pending=MAX_PENDING,
            x_grace_s=params.x_grace if params.x_expected else 0.0,
            rgb_timeout_s=self._rgb_timeout_s(params),
            time_jump_threshold_s=params.time_jump_threshold or None,
            reorder_window=params.reorder_window)
        self.session = TrackingSession(tracker, params, problem=self.bad_frame, log=self._log)
        self.signal = (XSignalMonitor(params.modality_enum, min_valid_ratio=params.min_valid_ratio,
                                      no_event_timeout_s=params.x_timeout)
                       if params.x_expected else None)
        self.events = EventWindowRenderer(max_pending=MAX_PENDING) if params.raw_events else None
        self._rgb_arrivals: collections.deque[int] = collections.deque(maxlen=9)

    # ------------------------------------------------------------------ inputs (callbacks)
    def on_rgb(self, stamp_ns: int, frame_id: str, array: np.ndarray, encoding: str,
               now_ns: int) -> None:
        """One RGB image (decoded array, its ROS encoding) stamped ``stamp_ns`` arrived."""
        self.health.record_input('rgb', now_ns)
        self._rgb_arrivals.append(now_ns)
        try:
            shape_hw = check_rgb(array, encoding)
        except ValueError as exc:
            self.bad_frame('rgb', 'encoding', str(exc))
            return
        if self.events is not None:
            with self._lock:
                ready = self.events.add_rgb(stamp_ns, shape_hw)
            self._push_event_frames(ready, frame_id, now_ns)
        # validated now (a bad frame is counted on arrival), encoded only if it is tracked
        frame = Frame(stamp_ns, frame_id, None, now_ns, shape_hw=shape_hw,
                      encode=functools.partial(encode_rgb, array, encoding))
        self.pairer.push_rgb(stamp_ns, frame, now_ns)

    def on_x(self, stamp_ns: int, frame_id: str, array: np.ndarray, encoding: str,
             now_ns: int) -> None:
        """One X image (thermal / depth / rendered events) stamped ``stamp_ns`` arrived."""
        self.health.record_input('x', now_ns)
        if not self.params.x_expected:
            return
        modality = self.params.modality_enum
        try:
            shape_hw = check_x(array, encoding, modality)
        except ValueError as exc:
            self.bad_frame('x', 'encoding', str(exc))
            return
        if not self._signal_ok(array, encoding, stamp_ns, now_ns):
            return
        depth = functools.partial(_depth_or_none, array, encoding) if self.want_depth else None
        frame = Frame(stamp_ns, frame_id, None, now_ns, depth, shape_hw=shape_hw,
                      encode=functools.partial(encode_x, array, encoding, modality))
        self.pairer.push_x(stamp_ns, frame, now_ns)

    def on_events(self, events: np.ndarray, stamp_ns: int, frame_id: str, now_ns: int) -> None:
        """Raw events ((N,) core.modality.EVENT_DTYPE) of a message stamped ``stamp_ns``."""
        self.health.record_input('x', now_ns)
        if self.events is None:
            return
        with self._lock:
            ready = self.events.add_events(events, stamp_ns)
        self._push_event_frames(ready, frame_id, now_ns)

    def set_intrinsics(self, k: np.ndarray, size_wh: tuple[int, int], frame_id: str) -> None:
        """Intrinsics for the 3D marker (depth rigs): (3, 3) K, image (width, height) pixels."""
        self.session.intrinsics = Intrinsics(np.asarray(k, np.float64), size_wh, frame_id)

    def bad_frame(self, topic: str, reason: str, detail: str) -> None:
        """Count a rejected frame / request on ``topic`` for ``reason`` and log it (throttled)."""
        n = self.health.record_bad_frame(topic, reason)
        self._log(logging.WARNING, f'bad frame #{n} on {topic} ({reason}): {detail}; frame '
                                   f'skipped' if topic in ('rgb', 'x') else
                  f'{topic} problem #{n} ({reason}): {detail}', key=f'bad.{topic}.{reason}')

    def request_init(self, stamp_ns: int, box_xywh: Any, source: str = '~/init') -> bool:
        """Queue an initialisation (see core.session); False for an unusable box (counted)."""
        ok = self.session.request_init(stamp_ns, box_xywh, source)
        if ok:
            self.health.record_event(f'init requested ({source}, stamp {stamp_ns})')
        return ok

    def request_reset(self) -> int:
        """Queue a reset; returns a ticket for ``session.wait_reset``."""
        self.health.record_event('target reset')
        return self.session.request_reset()

    def reset_time_base(self, reason: str) -> None:
        """The time base changed (e.g. ``/clock`` went back): drop queues, start over."""
        self.pairer.reset_time_base(reason)
        self._after_time_jump()

    # ------------------------------------------------------------------ worker
    def poll(self, now_ns: int) -> list[Answer]:
        """Apply init / reset requests and track every frame that can be released now.

        When inference fell behind (ready pairs that arrived half an RGB frame period or more
        before the newest one), only the newest is tracked and the older ones are counted as
        ``dropped.stale``; pairs that arrived together (out-of-order delivery, an X frame
        alone next to an RGB frame) are all answered, oldest stamp first.

        Returns:
            the answers to publish, in order (a re-initialisation on the last frame first).
        """
        answers = self.session.handle_requests()
        pairs = self.pairer.pop_ready(now_ns)
        self._drain_pairer_events()
        if len(pairs) > 1:
            fresh = self._fresh(pairs)
            if len(fresh) < len(pairs):
                self.health.record_dropped('stale', len(pairs) - len(fresh))
            pairs = fresh
        for pair in pairs:
            answers.append(self.session.process(pair))
        self.health.set_pairer_stats(self.pairer.stats)
        return answers

    def _fresh(self, pairs: list[FramePair]) -> list[FramePair]:
        """The ready pairs worth answering: those that arrived within half an RGB frame period
        (median of recent RGB arrival gaps; 10 ms before that is known) of the newest."""
        def arrival(p: FramePair) -> int:
            frame = p.x if p.rgb_missing else p.rgb
            return int(getattr(frame, 'arrival_ns', 0))
        gaps = sorted(b - a for a, b in zip(self._rgb_arrivals, list(self._rgb_arrivals)[1:]))
        slack = gaps[len(gaps) // 2] // 2 if gaps else 10_000_000
        newest = max(arrival(p) for p in pairs)
        return [p for p in pairs if newest - arrival(p) <= slack]

    def published(self, answer: Answer, now_ns: int) -> bool:
        """Record that ``answer`` was published at ``now_ns`` (latency = now - arrival).

        Returns:
            True when the modality state changed (publish diagnostics at once).
        """
        if answer.repeat:
            return False
        latency = (now_ns - answer.arrival_ns) / 1e9
        return self.health.record_result(answer.stamp_ns, latency, answer.score, answer.used_x,
                                         answer.tracking, rgb_missing=answer.rgb_missing,
                                         now_ns=now_ns)

    def reports(self, now_ns: int) -> list[health_mod.HealthReport]:
        """The diagnostics statuses (inputs, sync, tracker) at ``now_ns``."""
        self.health.set_pairer_stats(self.pairer.stats)
        return self.health.reports(now_ns)

    def drain_log(self) -> list[LogLine]:
        """Return and clear the messages queued for the node's logger."""
        out = []
        while self._log_lines:
            out.append(self._log_lines.popleft())
        return out

    # ------------------------------------------------------------------ parameters
    def apply_params(self, new: NodeParams) -> list[str]:
        """Apply the run-time parameters of ``new``; returns the names that changed."""
        old, self.params = self.params, new
        changed = [f.name for f in dataclasses.fields(new)
                   if getattr(new, f.name) != getattr(old, f.name)]
        if (new.slop, new.x_timeout, new.x_grace) != (old.slop, old.x_timeout, old.x_grace):
            self.pairer.set_timing(new.slop, new.x_timeout,
                                   new.x_grace if new.x_expected else 0.0)
        if new.rgb_timeout != old.rgb_timeout:
            self.pairer.set_rgb_timeout(self._rgb_timeout_s(new))
        if (new.time_jump_threshold, new.reorder_window) != (old.time_jump_threshold,
                                                             old.reorder_window):
            self.pairer.set_reordering(new.time_jump_threshold or None, new.reorder_window)
        self.health.configure(expected_rate_rgb=new.expected_rate_rgb,
                              expected_rate_x=new.expected_rate_x if new.x_expected else 0.0,
                              drop_warn_ratio=new.drop_warn_ratio,
                              stall_error_s=new.stall_error_s)
        if self.signal is not None:
            self.signal.min_valid_ratio = new.min_valid_ratio
            self.signal.no_event_timeout_s = new.x_timeout
        self.session.params = new
        if changed:
            self.health.record_event('parameters changed: ' + ', '.join(changed))
        return changed

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _rgb_timeout_s(p: NodeParams) -> float | None:
        """The pairer's RGB timeout: off without X, with raw events (rendered per RGB frame
        interval, so there are no X frames without RGB) and for rgb_timeout 0."""
        return p.rgb_timeout if p.x_expected and not p.raw_events and p.rgb_timeout > 0 \
            else None

    def _log(self, level: int, text: str, key: str = '') -> None:
        self._log_lines.append(LogLine(level, text, key))

    def _signal_ok(self, array: np.ndarray, encoding: str, stamp_ns: int, now_ns: int) -> bool:
        if self.signal is None:
            return True
        was_dead = bool(getattr(self.signal, 'dead', False))
        check = self.signal.check(array, encoding, stamp_ns)
        self.health.record_x_signal(check.ok, check.reason, now_ns)
        dead = bool(getattr(self.signal, 'dead', not check.ok))
        if dead and not was_dead:
            self._log(logging.WARNING, f'X has no usable signal ({check.reason}: {check.detail}); '
                                       f'tracking on RGB alone until it recovers')
            self.health.record_event(f'X no signal: {check.reason}')
        elif was_dead and not dead:
            self._log(logging.INFO, 'X signal recovered; pairing RGB with X')
            self.health.record_event('X signal recovered')
        if dead:
            self.pairer.push_x_unusable(stamp_ns, now_ns, check.reason)
            return False
        return True

    def _push_event_frames(self, ready: list[tuple[int, np.ndarray]], frame_id: str,
                           now_ns: int) -> None:
        for stamp, frame in ready:
            if not self._signal_ok(frame, 'rgb8', stamp, now_ns):
                continue
            self.pairer.push_x(stamp, Frame(stamp, frame_id, frame, now_ns), now_ns)

    def _drain_pairer_events(self) -> None:
        for event in self.pairer.drain_events():
            self.health.record_event(event)
            self._log(logging.WARNING if event.startswith(_WARN_EVENTS) else logging.INFO, event)
            if event.startswith('Time jump'):
                self._after_time_jump()

    def _after_time_jump(self) -> None:
        if self.events is not None:
            with self._lock:
                self.events.reset()
        self.session.on_time_jump()


__all__ = ['Answer', 'Frame', 'FramePair', 'LogLine', 'Modality', 'NodePipeline']


def _depth_or_none(array: np.ndarray, encoding: str) -> np.ndarray | None:
    """Depth in metres for the 3D marker, or None when the frame has none to give (encode_x
    accepted it, so only the marker is skipped)."""
    try:
        return depth_to_metres(array, encoding)
    except DepthError:
        return None
