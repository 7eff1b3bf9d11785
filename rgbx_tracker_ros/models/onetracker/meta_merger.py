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

"""Meta Merger: fuse RGB and X patch tokens into one token set (OneTrackerV2, ICML 2026).

Following the paper's description (seeds/onetrackerv2_icml2026.txt): both modalities share one
patch embedding; each token map F is enhanced by spatial attention
``sigmoid(conv(F_avg) + conv(F_max))`` (average / max pooled over channels) and channel attention
``sigmoid(lin(F_avg) + lin(F_max))`` (average / max pooled over space); a learnable meta embedding
F_meta mediates between them::

    F_meta' = Conv(Conv(F_meta + F'_rgb) + Conv(F_meta + F'_x) + F_meta)

The merged tokens are ``F_rgb + F_meta'``. On a pretrained backbone the merger may also start as a
pixel blend (``x_blend`` > 0): a learnable per-channel gate ``a`` (initialised to ``x_blend``) adds
``a * (F_x - F_rgb)``, so with ``x_blend=0.5`` the merged tokens start as the patch embedding of
the average of the RGB and X images (the embedding is linear), a fused input the pretrained ViT
already understands, while ``F_meta'`` starts at zero. When X is missing the ``F'_x`` term is
dropped (per sample, by a mask), which is the RGB-only path: the pipeline itself does not change.
Training drops X at random so this path is learned.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class ModalityEnhancer(nn.Module):
    """Spatial and channel attention from average and max pooling: (B, D, H, W) -> (B, D, H, W).

    Args:
        dim: channels D.
        reduction: bottleneck ratio of the channel-attention linears.
        spatial_kernel: kernel size of the spatial-attention convolutions.
    """

    def __init__(self, dim: int, reduction: int = 8, spatial_kernel: int = 7) -> None:
        super().__init__()
        hidden = max(dim // reduction, 8)
        pad = spatial_kernel // 2
        self.spatial_avg = nn.Conv2d(1, 1, spatial_kernel, padding=pad)
        self.spatial_max = nn.Conv2d(1, 1, spatial_kernel, padding=pad)
        self.channel_avg = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.channel_max = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        w_spatial = torch.sigmoid(self.spatial_avg(feat.mean(1, keepdim=True))
                                  + self.spatial_max(feat.amax(1, keepdim=True)))
        w_channel = torch.sigmoid(self.channel_avg(feat.mean((2, 3)))
                                  + self.channel_max(feat.amax((2, 3))))
        return feat * w_spatial * w_channel[:, :, None, None]


class MetaMerger(nn.Module):
    """Fuse RGB and X token maps (B, D, H, W) into one map through a learnable meta embedding.

    Args:
        dim: token width D.
        meta_grid: side of the learnable meta embedding grid; it is resized (bilinear) to each
            token grid, so one merger serves the template and the search region.
        x_blend: initial value of the per-channel X gate (0 = no gate, the from-scratch design;
            the parameter ``x_gate`` then does not exist, so older checkpoints load unchanged).

    Forward:
        feat_rgb: (B, D, H, W) RGB patch tokens as a map.
        feat_x: (B, D, H, W) X patch tokens, or None when X is missing for the whole batch.
        x_mask: optional (B,) float/bool, 1 where the sample has X, 0 where X is missing.

    Returns:
        (B, D, H, W) merged token map.
    """

    def __init__(self, dim: int, meta_grid: int = 7, x_blend: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= x_blend <= 1.0:
            raise ValueError(f'x_blend must be in [0, 1], got {x_blend}')
        if x_blend > 0:
            self.x_gate = nn.Parameter(torch.full((dim,), float(x_blend)))
        self.meta = nn.Parameter(torch.zeros(1, dim, meta_grid, meta_grid))
        nn.init.trunc_normal_(self.meta, std=0.02)
        self.enhance_rgb = ModalityEnhancer(dim)
        self.enhance_x = ModalityEnhancer(dim)
        self.conv_rgb = _dw_conv(dim)
        self.conv_x = _dw_conv(dim)
        self.conv_out = nn.Conv2d(dim, dim, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, feat_rgb: torch.Tensor, feat_x: Optional[torch.Tensor] = None,
                x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        meta = F.interpolate(self.meta, size=feat_rgb.shape[-2:], mode='bilinear',
                             align_corners=False)
        mixed = self.conv_rgb(meta + self.enhance_rgb(feat_rgb)) + meta
        base = feat_rgb
        if feat_x is not None:
            x_term = self.conv_x(meta + self.enhance_x(feat_x))
            blend = (feat_x - feat_rgb) * self.x_gate.view(1, -1, 1, 1) \
                if hasattr(self, 'x_gate') else None
            if x_mask is not None:
                mask = x_mask.to(x_term.dtype).view(-1, 1, 1, 1)
                x_term = x_term * mask
                blend = None if blend is None else blend * mask
            mixed = mixed + x_term
            if blend is not None:
                base = feat_rgb + blend
        return base + self.conv_out(mixed)


def _dw_conv(dim: int) -> nn.Module:
    """Depthwise 3x3 conv + GELU + pointwise 1x1: the merger's cheap 'Conv'."""
    return nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim), nn.GELU(),
                         nn.Conv2d(dim, dim, 1))
