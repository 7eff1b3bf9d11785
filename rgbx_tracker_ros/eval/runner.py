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

"""Run a tracker over a :class:`~rgbx_tracker_ros.data.sequences.Sequence` offline.

The same :class:`~rgbx_tracker_ros.core.tracker.RgbxTracker` the ROS node uses, fed straight from
the sequence files (no ROS): frames are encoded with :mod:`rgbx_tracker_ros.core.modality`, the
target is initialised from the ground truth of the first valid frame (and, optionally, again at
given frames, e.g. where footage skips), and one box and score come back per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

import numpy as np

from ..core.modality import encode_rgb, encode_x
from ..core.registration import Registration
from ..core.types import Modality
from ..data.sequences import Sequence


@dataclass
class TrackRun:
    """Per-frame output of one run.

    Attributes:
        boxes_xywh: (T, 4) float pixels, top-left; NaN before the first initialisation.
        scores: (T,) peak scores; 1.0 on initialisation frames, NaN before.
        x_used: (T,) bool, True where the frame was tracked with X.
        seconds: (T,) wall time of each track() call (0 on initialisation frames).
    """

    boxes_xywh: np.ndarray
    scores: np.ndarray
    x_used: np.ndarray
    seconds: np.ndarray

    @property
    def fps(self) -> float:
        """Tracked frames per second of tracker time (initialisation frames excluded)."""
        t = self.seconds[self.seconds > 0]
        return float(len(t) / t.sum()) if len(t) else float('nan')


def run_sequence(tracker, seq: Sequence, use_x: bool = True,
                 withhold_x: Optional[Tuple[int, int]] = None,
                 reinit_frames: Iterable[int] = (), max_frames: Optional[int] = None,
                 registration: Optional[Registration] = None) -> TrackRun:
    """Track ``seq`` from its first valid frame.

    Args:
        tracker: object with ``initialize(rgb, x, box)`` and ``track(rgb, x) -> (box, score)``.
        seq: the sequence (its GT gives the initial box).
        use_x: feed X frames (False = RGB only throughout).
        withhold_x: optional [start, end) 0-based frame range in which X is not given.
        reinit_frames: 0-based frames where the target is set again from GT (e.g. the cuts of a
            temporally sparse recording); frames whose GT is absent are skipped.
        max_frames: stop after this many frames.
        registration: optional X -> RGB registration: each encoded X frame is warped into the
            RGB frame's grid (nearest neighbour for depth) as the node does with
            ``x_homography``; None = X as read.

    Raises:
        rgbx_tracker_ros.data.sequences.SequenceError: unreadable frames or no valid GT.
    """
    n = len(seq) if max_frames is None else min(len(seq), max_frames)
    boxes = np.full((n, 4), np.nan)
    scores = np.full(n, np.nan)
    x_used = np.zeros(n, bool)
    seconds = np.zeros(n)
    start = seq.first_valid_frame()
    reinit = {start} | {f for f in reinit_frames if 0 <= f < n and not seq.absent[f]
                        and seq.annotated[f]}
    for i in range(start, n):
        rgb = encode_rgb(seq.read_rgb(i), seq.rgb_encoding)
        give_x = use_x and seq.has_x and not (withhold_x and withhold_x[0] <= i < withhold_x[1])
        x = encode_x(seq.read_x(i), seq.x_encoding, seq.modality) if give_x else None
        if x is not None and registration is not None:
            x = registration.warp(x, rgb.shape[:2],
                                  'nearest' if seq.modality is Modality.DEPTH else 'linear')
        x_used[i] = x is not None
        if i in reinit:
            tracker.initialize(rgb, x, seq.gt_xywh[i])
            boxes[i], scores[i] = seq.gt_xywh[i], 1.0
            continue
        t0 = time.perf_counter()
        boxes[i], scores[i] = tracker.track(rgb, x)
        seconds[i] = time.perf_counter() - t0
    return TrackRun(boxes, scores, x_used, seconds)
