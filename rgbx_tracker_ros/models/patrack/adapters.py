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

"""PATrack's three adapters (trackers.md 3.5; BAT 3.2 is the block pattern they plug into).

- :class:`Mixer`, the **modality-dependent** adapter: a BAT-style bottleneck (Linear D -> 8) whose
  middle splits the 8 channels into 4 "high-frequency" ones (:class:`HighMixer`: half Conv1x1 +
  depthwise 3x3, half MaxPool 3x3 + Conv1x1, each -> GELU) and 4 "low-frequency" ones
  (:class:`LowMixer`: AvgPool 2 + nearest upsample x2), fuses the 12 channels with a depthwise
  3x3 residual and projects back (Conv1x1 12 -> D). It runs on the template and the search token
  maps separately.
- :class:`PSFM`, the **modality-entangled** adapter: both modalities' maps projected D -> 192 by
  one shared Conv1x1 (``down``), cross-attended by :class:`GEFM` (a query from both
  modalities, keys and values per modality, :func:`spatial_attention`; each refined map gets
  the *other* modality's projected map as residual), projected back 192 -> D (``up``).
- :class:`HeadAdapter`, the **task-level** adapter: Linear D -> 192 -> Linear 192 -> 192 ->
  Dropout 0.1 -> Linear 192 -> D on the fused search tokens, with **no residual**.

Attribute names are the release's (``D_fc1``, ``high_mixer.{conv1, proj1, proj2}``,
``conv_fuse``, ``proj``; ``down``, ``up``, ``obj_fuse.{linear1..4, linearcat, gamma1, gamma2}``;
``adapter_down``, ``adapter_mid``, ``adapter_up``) so a PATrack release loads by name.
Initialisation is the release's: PyTorch defaults (no zero init anywhere; the Linear layers
inside the backbone get the ViT's truncated normal from the tracker).
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from ..layers.vit import map_to_tokens, tokens_to_map

__all__ = ['GEFM', 'HeadAdapter', 'HighMixer', 'LowMixer', 'Mixer', 'PSFM', 'spatial_attention']


class HighMixer(nn.Module):
    """High-frequency half of the Mixer: (B, C, H, W) -> (B, 2C, H, W), C even.

    Channels ``[:C/2]``: ``conv1`` (Conv1x1 C/2 -> C, no bias) -> ``proj1`` (depthwise 3x3, no
    bias) -> GELU. Channels ``[C/2:]``: ``Maxpool`` (3x3, stride 1, pad 1) -> ``proj2`` (Conv1x1
    C/2 -> C, bias) -> GELU. Output = the two results concatenated (conv half first).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cnn_in = dim // 2
        width = 2 * self.cnn_in
        self.conv1 = nn.Conv2d(self.cnn_in, width, 1, bias=False)
        self.proj1 = nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False)
        self.mid_gelu1 = nn.GELU()
        self.Maxpool = nn.MaxPool2d(3, stride=1, padding=1)
        self.proj2 = nn.Conv2d(dim - self.cnn_in, width, 1)
        self.mid_gelu2 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cx = self.mid_gelu1(self.proj1(self.conv1(x[:, :self.cnn_in])))
        px = self.mid_gelu2(self.proj2(self.Maxpool(x[:, self.cnn_in:])))
        return torch.cat([cx, px], dim=1)


class LowMixer(nn.Module):
    """Low-frequency half of the Mixer: AvgPool 2x2 (stride 2) then nearest upsample x2; no
    parameters. (B, C, H, W) -> (B, C, H, W) for even H, W (each 2x2 cell -> its mean)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, stride=2, padding=0, count_include_pad=False)
        self.uppool = nn.Upsample(scale_factor=2, mode='nearest')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.uppool(self.pool(x))


class Mixer(nn.Module):
    """Modality-dependent adapter (``adap_t`` / ``adap2_t``): (B, Nz + Nx, D) tokens -> same.

    Args:
        embed_dim: token width D.
        hidden: bottleneck width (release 8); a multiple of 4: ``hidden / 2`` high channels
            (of which half go to the conv path, half to the max-pool path) and ``hidden / 2``
            low channels. The fused map has ``hidden + hidden / 2`` channels (12).

    ``forward(tokens, grid_z, grid_x)``: the first ``grid_z ** 2`` tokens are the template map,
    the rest the search map (row-major, ``grid_x ** 2`` tokens); both go through the same layers
    separately (the release hard-codes 8x8 and 16x16). Grids must be even (AvgPool 2 +
    upsample x2).

    Raises:
        ValueError: ``hidden`` not a positive multiple of 4 (construction); a token count that is
            not ``grid_z ** 2 + grid_x ** 2`` or an odd grid (forward).
    """

    def __init__(self, embed_dim: int = 768, hidden: int = 8) -> None:
        super().__init__()
        if hidden < 4 or hidden % 4:
            raise ValueError(f'Mixer hidden width must be a positive multiple of 4, got {hidden}')
        self.high_dim = hidden // 2
        fused = hidden + hidden // 2
        self.D_fc1 = nn.Linear(embed_dim, hidden)
        self.high_mixer = HighMixer(self.high_dim)
        self.low_mixer = LowMixer()
        self.conv_fuse = nn.Conv2d(fused, fused, 3, padding=1, groups=fused, bias=False)
        self.proj = nn.Conv2d(fused, embed_dim, 1)

    def mix(self, feat: torch.Tensor) -> torch.Tensor:
        """(B, hidden, H, W) bottleneck map -> (B, D, H, W): high/low split, fuse, project."""
        high = self.high_mixer(feat[:, :self.high_dim])
        low = self.low_mixer(feat[:, self.high_dim:])
        fused = torch.cat([high, low], dim=1)
        return self.proj(fused + self.conv_fuse(fused))

    def _part(self, tokens: torch.Tensor, side: int) -> torch.Tensor:
        if side % 2:
            raise ValueError(f'the Mixer needs even token grids (AvgPool 2 + upsample x2), '
                             f'got {side}x{side}')
        out = self.mix(tokens_to_map(self.D_fc1(tokens), side))
        return map_to_tokens(out)

    def forward(self, tokens: torch.Tensor, grid_z: int, grid_x: int) -> torch.Tensor:
        nz = grid_z * grid_z
        if tokens.shape[1] != nz + grid_x * grid_x:
            raise ValueError(f'expected {nz} + {grid_x * grid_x} tokens, got {tokens.shape[1]}')
        return torch.cat([self._part(tokens[:, :nz], grid_z),
                          self._part(tokens[:, nz:], grid_x)], dim=1)


def spatial_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The release's L x L spatial softmax attention of :class:`GEFM` (no 1/sqrt(C) scale).

    q, k, v: (B, C, H, W) -> (B, C, H, W). With positions i, j of the L = H*W cells, the output
    at cell j is ``sum_i softmax_i(k_j . q_i) v_i``: the release builds ``S = K^T Q``
    (S[j, i] = k_j . q_i), softmaxes its last axis and multiplies ``V S^T``, so the *key* of the
    output cell is compared with the *queries* of all cells (the roles of Q and K are swapped
    against the usual attention; kept so trained weights behave as in the release).
    """
    b, c, h, w = v.shape
    logits = torch.bmm(k.flatten(2).transpose(1, 2), q.flatten(2))         # (B, L, L)
    weights = logits.softmax(dim=-1)
    return torch.bmm(v.flatten(2), weights.transpose(1, 2)).view(b, c, h, w)


class GEFM(nn.Module):
    """Cross-attention core of :class:`PSFM` on (B, C, H, W) maps of both modalities.

    ``Q = linearcat([r; t])`` (Conv1x1 2C -> C); RGB: ``K, V = linear1(r), linear2(r)``;
    X: ``K, V = linear3(t), linear4(t)`` (all Conv1x1, no bias). Returns
    ``(spatial_attention(Q, K_r, V_r) + t, spatial_attention(Q, K_t, V_t) + r)``: each refined
    map gets the *other* modality as residual.

    Args:
        dim: channels C (release 192).
        gammas: also create the release's two scalar parameters ``gamma1`` / ``gamma2`` (zeros;
            the release creates them and never uses them), so its state dict loads.
    """

    def __init__(self, dim: int, gammas: bool = False) -> None:
        super().__init__()
        if gammas:
            self.gamma1 = nn.Parameter(torch.zeros(1))
            self.gamma2 = nn.Parameter(torch.zeros(1))
        for i in range(1, 5):
            setattr(self, f'linear{i}', nn.Conv2d(dim, dim, 1, bias=False))
        self.linearcat = nn.Conv2d(2 * dim, dim, 1, bias=False)

    def forward(self, r: torch.Tensor, t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        q = self.linearcat(torch.cat([r, t], dim=1))
        r_refine = spatial_attention(q, self.linear1(r), self.linear2(r)) + t
        t_refine = spatial_attention(q, self.linear3(t), self.linear4(t)) + r
        return r_refine, t_refine


class PSFM(nn.Module):
    """Modality-entangled adapter (``highfuseadapter1`` / ``highfuseadapter2``).

    (B, D, H, W) RGB and X maps -> the RGB and X adapter maps (B, D, H, W):
    ``down`` (Conv1x1 D -> C, no bias, shared by both modalities) -> :class:`GEFM` -> ``up``
    (Conv1x1 C -> D, no bias).

    Args:
        embed_dim: D.
        hidden: C (release 192).
        gammas: see :class:`GEFM`.
    """

    def __init__(self, embed_dim: int = 768, hidden: int = 192, gammas: bool = False) -> None:
        super().__init__()
        self.obj_fuse = GEFM(hidden, gammas)
        self.up = nn.Conv2d(hidden, embed_dim, 1, bias=False)
        self.down = nn.Conv2d(embed_dim, hidden, 1, bias=False)

    def forward(self, rgb: torch.Tensor, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        r, t = self.obj_fuse(self.down(rgb), self.down(x))
        return self.up(r), self.up(t)


class HeadAdapter(nn.Module):
    """Task-level adapter (``adapter_head``): (B, Nx, D) -> (B, Nx, D), **no residual**.

    ``adapter_up(Dropout(0.1)(adapter_mid(adapter_down(x))))``: Linear D -> C, C -> C, C -> D
    (release C = 192; no activation). PyTorch default initialisation, as the release.
    """

    def __init__(self, embed_dim: int = 768, hidden: int = 192, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.adapter_down = nn.Linear(embed_dim, hidden)
        self.adapter_up = nn.Linear(hidden, embed_dim)
        self.adapter_mid = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter_up(self.dropout(self.adapter_mid(self.adapter_down(x))))
