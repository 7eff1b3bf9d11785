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

"""The seam between the tracker and a model family (the only thing ``core`` knows of models).

:class:`~rgbx_tracker_ros.core.tracker.RgbxTracker`, the node and the evaluators use a model only
through :class:`TrackerModel`: its crop sizes, ``encode_template`` and a forward pass that returns
a :class:`TrackerOutput` (the center head's score / size / offset maps, OSTrack's layout, plus the
family's auxiliary loss terms as named tensors, which the trainer weights and sums). Models are
built by ``rgbx_tracker_ros.models.factory``; ``core`` never imports ``rgbx_tracker_ros.models``
(a layering test checks it).

:func:`decode_boxes` turns the maps into a box at the score-map peak (OSTrack ``cal_bbox``); it
lives here because it is part of the output contract every family's center head follows.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Protocol, Tuple, runtime_checkable

import torch

__all__ = ['TrackerModel', 'TrackerOutput', 'decode_boxes']


@dataclasses.dataclass
class TrackerOutput:
    """Output of a tracker model's forward pass (the center head of OSTrack, trackers.md 1.6).

    Attributes:
        score_map: (B, 1, Hf, Wf) target-centre probability in (0, 1).
        size_map: (B, 2, Hf, Wf) (w, h) normalised to the search crop.
        offset_map: (B, 2, Hf, Wf) sub-cell centre offsets (cells).
        aux: the family's auxiliary loss terms by name, each a scalar tensor (OneTrackerV2:
            'dis', 'balance', 'cluster'; XTrack: 'balance', 'modality'); the trainer multiplies
            each by its weight (the family's defaults, overridable in the config) and sums them.
            Empty in eval mode.
        features: per-block (B, N, D) tokens, only when the model's ``keep_features`` is set
            (feature distillation); else None.
    """

    score_map: torch.Tensor
    size_map: torch.Tensor
    offset_map: torch.Tensor
    aux: Dict[str, torch.Tensor]
    features: Optional[List[torch.Tensor]] = None


@runtime_checkable
class TrackerModel(Protocol):
    """What the tracker needs from a model (any family).

    Attributes:
        template_size: template crop side, pixels (e.g. 112 or 128).
        search_size: search crop side, pixels (e.g. 224 or 256).
        feat_size: side of the search feature map / score map, cells (search_size / patch).
    """

    template_size: int
    search_size: int
    feat_size: int

    def encode_template(self, template_rgb: torch.Tensor, template_x: Optional[torch.Tensor],
                        template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Template crops (B, 3, T, T) (X None = missing; or per sample ``template_x_mask``
        (B,) 0 = missing) -> cached template tokens (B, Nt, D)."""
        ...

    def __call__(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                 template_x: Optional[torch.Tensor], search_x: Optional[torch.Tensor],
                 template_x_mask: Optional[torch.Tensor] = None,
                 search_x_mask: Optional[torch.Tensor] = None,
                 template_tokens: Optional[torch.Tensor] = None,
                 modality: Optional[torch.Tensor] = None) -> TrackerOutput:
        """Search crops (B, 3, S, S) with the template (crops or cached tokens) -> maps.

        ``*_x_mask`` (B,) mark samples without X (0); ``modality`` (B,) int64 labels feed the
        label-dependent auxiliary losses in training (None at inference).
        """
        ...

    def eval(self) -> 'TrackerModel':
        """Inference mode (torch.nn.Module.eval)."""
        ...

    def to(self, device: torch.device) -> 'TrackerModel':
        """Move to ``device`` (torch.nn.Module.to)."""
        ...


def decode_boxes(score: torch.Tensor, size: torch.Tensor, offset: torch.Tensor,
                 window: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Peak of the (optionally windowed) score map -> normalised box (OSTrack ``cal_bbox``).

    Args:
        score: (B, 1, Hf, Wf) score map in (0, 1).
        size: (B, 2, Hf, Wf) (w, h) normalised to the search crop.
        offset: (B, 2, Hf, Wf) sub-cell (dx, dy) offsets in cells.
        window: optional (Hf, Wf) Hanning window multiplied onto the score map for peak selection.

    Returns:
        boxes (B, 4) as (cx, cy, w, h) in [0, 1] of the search crop, and (B,) the raw score at the
        selected peak.
    """
    b, _, hf, wf = score.shape
    response = score if window is None else score * window
    idx = response.flatten(1).argmax(dim=1)
    iy, ix = idx // wf, idx % wf
    flat = torch.arange(b, device=score.device)
    w, h = size.flatten(2)[flat, :, idx].unbind(-1)
    dx, dy = offset.flatten(2)[flat, :, idx].unbind(-1)
    boxes = torch.stack([(ix + dx) / wf, (iy + dy) / hf, w, h], dim=-1)
    return boxes, score.flatten(1)[flat, idx]
