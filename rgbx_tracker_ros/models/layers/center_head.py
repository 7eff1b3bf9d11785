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

"""Center head: score, size and offset maps from search tokens (OSTrack ``CenterPredictor``).

Three parallel branches (score / 'ctr', offset, size), each four Conv3x3-BN-ReLU layers with
channels C_in -> c -> c/2 -> c/4 -> c/8 and a final 1x1 conv (OSTrack uses c = 256). Module names
follow the OSTrack state dict (``conv{1..4}_{ctr,offset,size}.{0,1}``, ``conv5_*``) so released
heads load. See trackers.md section 1.5.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

# the decode of the maps is part of the tracker-model contract (core.model_api); re-exported
from ...core.model_api import decode_boxes  # noqa: F401
from .vit import tokens_to_map

_BRANCHES = (('ctr', 1), ('offset', 2), ('size', 2))


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class CenterHead(nn.Module):
    """(B, C_in, Hf, Wf) search features -> score (B,1,Hf,Wf), size (B,2,..), offset (B,2,..).

    Args:
        in_channels: C_in, the token width.
        channels: width of the first conv layer (halved three times).
    """

    def __init__(self, in_channels: int, channels: int = 256) -> None:
        super().__init__()
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for name, out in _BRANCHES:
            for i in range(4):
                setattr(self, f'conv{i + 1}_{name}', _conv_bn_relu(widths[i], widths[i + 1]))
            setattr(self, f'conv5_{name}', nn.Conv2d(widths[4], out, 1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        # CenterNet prior: start the score map near 0.1 so the focal loss starts bounded.
        nn.init.constant_(self.conv5_ctr.bias, -2.19)

    def _branch(self, name: str, feat: torch.Tensor) -> torch.Tensor:
        for i in range(1, 6):
            feat = getattr(self, f'conv{i}_{name}')(feat)
        return feat

    def forward(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        score = torch.sigmoid(self._branch('ctr', feat)).clamp(1e-4, 1 - 1e-4)
        size = torch.sigmoid(self._branch('size', feat))
        offset = self._branch('offset', feat)
        return score, size, offset


class TokenCenterHead(CenterHead):
    """Center head fed from tokens: search tokens as a map, plus optional correlation channels.

    Args:
        embed_dim: token width D.
        grid_z: template grid side (cells); grid_x: search grid side (cells).
        channels: width of the first conv layer.
        corr: also feed, besides the D search-token channels, the cosine similarity of every
            search token to each token of the template's central half (the target):
            Nc = (grid_z / 2)^2 extra channels, a decomposed SiamFC cross-correlation that tells
            the head WHICH object is the target (the variants on a frozen pretrained backbone,
            whose features were never trained to compare template and search).

    ``from_tokens(z, x)``: (B, Nz, D) normalised template tokens and (B, Nx, D) search tokens
    -> score (B, 1, Hf, Wf), size (B, 2, Hf, Wf), offset (B, 2, Hf, Wf).
    """

    def __init__(self, embed_dim: int, grid_z: int, grid_x: int, channels: int = 256,
                 corr: bool = False) -> None:
        lo, hi = grid_z // 4, grid_z - grid_z // 4
        index = [r * grid_z + c for r in range(lo, hi) for c in range(lo, hi)] if corr else []
        super().__init__(embed_dim + len(index), channels)
        self.grid_x = grid_x
        self.corr_index = index

    def from_tokens(self, z: torch.Tensor, x: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feat = tokens_to_map(x, self.grid_x)
        if self.corr_index:
            target = F.normalize(z[:, self.corr_index], dim=-1)            # (B, Nc, D)
            corr = F.normalize(x, dim=-1) @ target.transpose(1, 2)          # (B, Nx, Nc)
            feat = torch.cat([feat, tokens_to_map(corr, self.grid_x)], 1)
        return self(feat)
