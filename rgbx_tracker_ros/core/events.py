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

"""Raw events -> one rendered X frame per RGB frame interval (ROS-free).

Used by the tracker node with ``modality: event`` and ``event_input: raw``: raw events arrive as
``sensor_msgs/PointCloud2`` (fields x, y, t in microseconds, p) on ``x/events``; the X frame of
each RGB frame is rendered from the events of the RGB frame interval with
:func:`rgbx_tracker_ros.core.modality.events_to_frame`.
"""

from __future__ import annotations

import numpy as np

from rgbx_tracker_ros.core.modality import EVENT_DTYPE, events_to_frame


class EventWindowRenderer:
    """Raw events -> one rendered X frame per RGB frame interval (no ROS; used by the node).

    The X frame of an RGB frame with stamp t_k shows the events of ``[t_(k-1), t_k)`` (the first
    RGB frame: all buffered events before t_0), rendered with ``core.modality.events_to_frame``
    at the RGB frame's size (the event sensor is assumed registered to the RGB camera). A window
    is rendered once the event stream has covered it: an event message stamped at or after t_k
    (its header stamp = the end of the time span it covers) has arrived.

    Args:
        max_pending: RGB windows waiting for events beyond this are rendered from what is there.
        keep_without_rgb_s: before any RGB frame, events older than this are discarded.
    """

    def __init__(self, max_pending: int = 8, keep_without_rgb_s: float = 1.0) -> None:
        self._chunks: list[np.ndarray] = []
        self._covered_ns = -1
        self._prev_rgb_ns: int | None = None
        self._pending: list[tuple[int, int | None, tuple[int, int]]] = []
        self._max_pending = int(max_pending)
        self._keep_us = int(keep_without_rgb_s * 1e6)

    def reset(self) -> None:
        """Forget all buffered events and open windows (a time jump: the stamps start over)."""
        self._chunks = []
        self._covered_ns = -1
        self._prev_rgb_ns = None
        self._pending = []

    def add_events(self, events: np.ndarray, stamp_ns: int) -> list[tuple[int, np.ndarray]]:
        """Buffer events ((N,) EVENT_DTYPE, t in microseconds) of a message stamped
        ``stamp_ns``; return the (RGB stamp, (H, W, 3) uint8 frame) windows now complete."""
        if events.size:
            self._chunks.append(events)
        self._covered_ns = max(self._covered_ns, int(stamp_ns))
        if self._prev_rgb_ns is None and self._chunks:
            limit = self._covered_ns // 1000 - self._keep_us
            self._chunks = [c[c['t'] >= limit] for c in self._chunks]
        return self._render(force=False)

    def add_rgb(self, stamp_ns: int, shape_hw: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
        """Open the window ending at an RGB frame's stamp; return the windows now complete."""
        stamp_ns = int(stamp_ns)
        if self._prev_rgb_ns is not None and stamp_ns <= self._prev_rgb_ns:
            return []  # out of order or duplicate: the pairer counts it
        self._pending.append((stamp_ns, self._prev_rgb_ns, (int(shape_hw[0]), int(shape_hw[1]))))
        self._prev_rgb_ns = stamp_ns
        return self._render(force=len(self._pending) > self._max_pending)

    def _render(self, force: bool) -> list[tuple[int, np.ndarray]]:
        out = []
        while self._pending and (force or self._pending[0][0] <= self._covered_ns):
            stamp, start, (h, w) = self._pending.pop(0)
            force = force and len(self._pending) > self._max_pending
            events = (np.concatenate(self._chunks) if self._chunks
                      else np.zeros(0, dtype=EVENT_DTYPE))
            t_end = stamp // 1000
            out.append((stamp, events_to_frame(events, h, w,
                                               None if start is None else start // 1000, t_end)))
            later = events[events['t'] >= t_end]
            self._chunks = [later] if later.size else []
        return out
