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

"""Training losses: the center-head terms (OSTrack) plus whatever auxiliary terms the model
returns.

Total::

    L = focal + 2 * GIoU + 5 * L1 + sum_t w_t * aux_t

The center-head weights are OSTrack's (trackers.md 1.8). The auxiliary terms ``aux_t`` are the
scalars a model family puts in ``TrackerOutput.aux`` (OneTrackerV2: cos^2 dissimilarity 'dis',
router cluster 'cluster', 'balance'; XTrack: 'balance', 'modality'; ...), weighted by the family's
``aux_weights`` (:class:`~rgbx_tracker_ros.models.registry.Family`) updated by the training
config; a term without a weight is an error, so no loss is silently dropped.

Focal: CenterNet focal loss (alpha 2, beta 4) against a Gaussian heat map whose radius comes from
the box size at min overlap 0.7. GIoU and L1 (on x1y1x2y2, normalised) compare the box read at the
ground-truth centre cell with the label box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import torch

#: center-head weights (OSTrack) and the OneTrackerV2 family's auxiliary weights
DEFAULT_WEIGHTS = {'focal': 1.0, 'giou': 2.0, 'l1': 5.0, 'dis': 0.1, 'cluster': 1.0,
                   'balance': 0.01}
HEAD_TERMS = ('focal', 'giou', 'l1')


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet radius (cells) so a box shifted by it keeps IoU >= ``min_overlap``."""
    r1 = (height + width - math.sqrt((height + width) ** 2 - 4 * width * height
                                     * (1 - min_overlap) / (1 + min_overlap))) / 2
    b2 = 2 * (height + width)
    r2 = (b2 - math.sqrt(b2 ** 2 - 16 * (1 - min_overlap) * width * height)) / 8
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    r3 = (-b3 + math.sqrt(b3 ** 2 - 4 * a3 * (min_overlap - 1) * width * height)) / (2 * a3)
    return max(0.0, min(r1, r2, r3))


def center_heatmap(boxes_cxcywh: torch.Tensor, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Gaussian target maps (B, 1, size, size) and the integer centre cells (B, 2) as (ix, iy).

    Args:
        boxes_cxcywh: (B, 4) boxes normalised to [0, 1] of the search crop.
        size: score-map side (cells).
    """
    b = boxes_cxcywh.shape[0]
    centers = (boxes_cxcywh[:, :2] * size).floor().clamp(0, size - 1).long()
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    maps = torch.zeros(b, 1, size, size)
    for i in range(b):
        w, h = (boxes_cxcywh[i, 2:] * size).tolist()
        radius = max(0, int(gaussian_radius(h, w)))
        sigma = (2 * radius + 1) / 6
        d2 = (xs - centers[i, 0]) ** 2 + (ys - centers[i, 1]) ** 2
        maps[i, 0] = torch.exp(-d2.float() / (2 * sigma * sigma))
    return maps, centers


def focal_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet focal loss; pred in (0, 1), target Gaussian with exact 1 at the centres."""
    pos = target.eq(1).float()
    neg_weight = (1 - target) ** 4
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * neg_weight * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp_min(1.0)


def _cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], dim=1)


def giou_loss(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean (1 - GIoU) and mean IoU of (B, 4) x1y1x2y2 boxes."""
    area_p = (pred_xyxy[:, 2:] - pred_xyxy[:, :2]).clamp_min(0).prod(1)
    area_g = (gt_xyxy[:, 2:] - gt_xyxy[:, :2]).clamp_min(0).prod(1)
    inter = (torch.min(pred_xyxy[:, 2:], gt_xyxy[:, 2:])
             - torch.max(pred_xyxy[:, :2], gt_xyxy[:, :2])).clamp_min(0).prod(1)
    union = area_p + area_g - inter
    iou = inter / union.clamp_min(1e-7)
    hull = (torch.max(pred_xyxy[:, 2:], gt_xyxy[:, 2:])
            - torch.min(pred_xyxy[:, :2], gt_xyxy[:, :2])).clamp_min(0).prod(1)
    giou = iou - (hull - union) / hull.clamp_min(1e-7)
    return (1 - giou).mean(), iou.mean()


@dataclass
class LossOutput:
    """Weighted total and the named terms (floats, for logging)."""

    total: torch.Tensor
    terms: Dict[str, float]


def aux_terms(aux: Dict[str, torch.Tensor], weights: Dict[str, float]) -> Dict[str, torch.Tensor]:
    """The model's auxiliary terms, each checked to have a weight in ``weights``.

    Raises:
        ValueError: a term without a weight.
    """
    for name in aux:
        if name not in weights:
            raise ValueError(f'the model returned the auxiliary loss term {name!r}, which has no '
                             f'weight; known weights: {sorted(weights)}. Give it one in the '
                             "family's aux_weights or the training config (loss_weights).")
    return dict(aux)


def tracking_loss(out, boxes_cxcywh: torch.Tensor,
                  weights: Dict[str, float] = None) -> LossOutput:
    """All training terms for one batch.

    Args:
        out: :class:`~rgbx_tracker_ros.core.model_api.TrackerOutput` in train mode.
        boxes_cxcywh: (B, 4) label boxes normalised to the search crop.
        weights: term weights over :data:`DEFAULT_WEIGHTS` (the trainer passes the family's
            auxiliary weights and the config's overrides).

    Raises:
        ValueError: an auxiliary term of the model has no weight.
    """
    w = dict(DEFAULT_WEIGHTS, **(weights or {}))
    size = out.score_map.shape[-1]
    heat, centers = center_heatmap(boxes_cxcywh.cpu(), size)
    heat, centers = heat.to(out.score_map.device), centers.to(out.score_map.device)
    idx = centers[:, 1] * size + centers[:, 0]
    flat = torch.arange(len(idx), device=idx.device)
    wh = out.size_map.flatten(2)[flat, :, idx]
    off = out.offset_map.flatten(2)[flat, :, idx]
    pred = torch.cat([(centers.float() + off) / size, wh], dim=1)
    pred_xyxy, gt_xyxy = _cxcywh_to_xyxy(pred), _cxcywh_to_xyxy(boxes_cxcywh)
    terms = {'focal': focal_loss(out.score_map, heat)}
    terms['giou'], iou = giou_loss(pred_xyxy, gt_xyxy)
    terms['l1'] = (pred_xyxy - gt_xyxy).abs().mean()
    terms.update(aux_terms(out.aux, w))
    total = sum(w[k] * v for k, v in terms.items())
    logged = {k: float(v.detach()) for k, v in terms.items()}
    logged['iou'] = float(iou.detach())
    return LossOutput(total, logged)
