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

"""Check an exported model against the torch model on real crops.

:func:`compare_on_sequence` tracks a sequence with the torch model and, on every frame, runs the
engine on the *same* search crops (and the template on the same template crop): the largest score
map difference and the largest box difference (image pixels, the decoded box of each network
mapped back with the frame's crop geometry) are the export's error, free of any drift between two
trajectories. Frames go through X as the sequence gives it, and every ``x_every``-th frame without
X, so the masked path is checked too.

The bounds the issue sets (score maps within 1e-2, boxes within 1 px) are :data:`SCORE_TOL` and
:data:`BOX_TOL_PX`; ``rgbx-export`` fails when they are exceeded.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from ..core.crop import crop_window, map_box_back
from ..core.model_api import TrackerModel, TrackerOutput, decode_boxes
from ..core.modality import encode_rgb, encode_x
from ..core.tracker import SEARCH_FACTOR, RgbxTracker

__all__ = ['BOX_TOL_PX', 'ExportCheck', 'SCORE_TOL', 'compare_on_sequence']

SCORE_TOL = 1e-2
BOX_TOL_PX = 1.0


@dataclasses.dataclass
class ExportCheck:
    """Worst differences between an engine and the torch model over the checked frames.

    Attributes:
        frames: frames compared (per-frame calls; the template once per initialisation).
        frames_without_x: of those, frames run on the missing-X path.
        max_score_diff: max |score_engine - score_torch| over every score-map cell.
        max_box_px: max distance of box corners, image pixels.
        max_token_diff: max |tokens| difference of the template graph.
        sequence: the sequence's name.
    """

    frames: int
    frames_without_x: int
    max_score_diff: float
    max_box_px: float
    max_token_diff: float
    sequence: str

    @property
    def passed(self) -> bool:
        """Within :data:`SCORE_TOL` and :data:`BOX_TOL_PX`."""
        return self.max_score_diff <= SCORE_TOL and self.max_box_px <= BOX_TOL_PX

    def line(self) -> str:
        """One-line summary."""
        verdict = 'ok' if self.passed else 'FAILED'
        return (f'{verdict}: {self.frames} frames of {self.sequence} ({self.frames_without_x} '
                f'without X): score maps within {self.max_score_diff:.2e} (bound {SCORE_TOL}), '
                f'boxes within {self.max_box_px:.3f} px (bound {BOX_TOL_PX}), template tokens '
                f'within {self.max_token_diff:.2e}')


class _Tee:
    """TrackerModel that runs the reference and the candidate on the same inputs, returns the
    reference's output and keeps the candidate's for comparison."""

    def __init__(self, reference: TrackerModel, candidate: TrackerModel) -> None:
        self.reference, self.candidate = reference, candidate
        self.template_size = reference.template_size
        self.search_size = reference.search_size
        self.feat_size = reference.feat_size
        self.last: Optional[tuple] = None
        self.token_diff = 0.0
        self.candidate_tokens = None

    def eval(self):
        return self

    def to(self, device):
        return self

    def encode_template(self, template_rgb, template_x, template_x_mask=None):
        ref = self.reference.encode_template(template_rgb, template_x)
        self.candidate_tokens = self.candidate.encode_template(template_rgb, template_x)
        self.token_diff = max(self.token_diff,
                              float((ref.float() - self.candidate_tokens.float()).abs().max()))
        return ref

    def __call__(self, template_rgb, search_rgb, template_x, search_x, template_x_mask=None,
                 search_x_mask=None, template_tokens=None, modality=None) -> TrackerOutput:
        ref = self.reference(None, search_rgb, None, search_x, template_tokens=template_tokens)
        cand = self.candidate(None, search_rgb, None, search_x,
                              template_tokens=self.candidate_tokens.expand(
                                  search_rgb.shape[0], -1, -1))
        self.last = (ref, cand)
        return ref


def compare_on_sequence(reference: TrackerModel, candidate: TrackerModel, seq,
                        max_frames: int = 60, x_every: int = 5) -> ExportCheck:
    """Track ``seq`` (a :class:`~rgbx_tracker_ros.data.sequences.Sequence`) with ``reference``
    (the torch model, CPU, fp32) and compare ``candidate`` (an engine) on the same crops.

    Args:
        reference: the torch model.
        candidate: the exported engine (:class:`~rgbx_tracker_ros.export.engines.EngineModel`).
        seq: a sequence with ground truth (its first valid frame initialises the target).
        max_frames: frames to compare (after the first).
        x_every: every this-many-th frame is run without X (0 = never); sequences without X
            always run without.

    Raises:
        rgbx_tracker_ros.data.sequences.SequenceError: unreadable frames.
    """
    tee = _Tee(reference, candidate)
    tracker = RgbxTracker(tee, device='cpu', precision='fp32')
    start = seq.first_valid_frame()
    stop = min(len(seq), start + 1 + max_frames)
    score_diff = box_px = 0.0
    frames = without_x = 0
    for i in range(start, stop):
        rgb = encode_rgb(seq.read_rgb(i), seq.rgb_encoding)
        drop = not seq.has_x or (x_every and (i - start) % x_every == 0 and i > start)
        x = None if drop else encode_x(seq.read_x(i), seq.x_encoding, seq.modality)
        if i == start:
            tracker.initialize(rgb, x, seq.gt_xywh[i])
            continue
        prev = tracker.box_xywh
        tracker.track(rgb, x)
        ref, cand = tee.last
        score_diff = max(score_diff, float((ref.score_map - cand.score_map).abs().max()))
        box_px = max(box_px, _box_px(ref, cand, prev, tracker))
        frames += 1
        without_x += x is None
    return ExportCheck(frames, without_x, score_diff, box_px, tee.token_diff, seq.name)


def _box_px(ref: TrackerOutput, cand: TrackerOutput, prev_box: np.ndarray,
            tracker: RgbxTracker) -> float:
    """Corner distance (image px) between the two networks' decoded boxes of one frame."""
    window = tracker._window
    side = float(crop_window(prev_box, SEARCH_FACTOR)[2])
    factor = tracker.search_size / side
    boxes = []
    for out in (ref, cand):
        b, _ = decode_boxes(out.score_map.float(), out.size_map.float(), out.offset_map.float(),
                            window)
        boxes.append(map_box_back(b[0].numpy().astype(np.float64), prev_box,
                                  tracker.search_size, factor))
    a, c = boxes
    corners = np.abs(np.concatenate([a[:2] - c[:2], (a[:2] + a[2:]) - (c[:2] + c[2:])]))
    return float(corners.max())
