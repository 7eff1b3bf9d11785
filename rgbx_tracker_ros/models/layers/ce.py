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

"""Candidate elimination (OSTrack CE, trackers.md 1.4): drop the search tokens the template
centre does not attend to, inside the blocks, so later blocks run on fewer tokens.

At each block of ``ce_loc``, after attention and before the FFN, the attention of the template's
centre token (row ``(g - 1) // 2`` in both axes of the g x g template grid, OSTrack's
``CTR_POINT``) to every search token, averaged over heads, scores the search tokens; the top
``ceil(keep_ratio * N)`` are kept (sorted by score) and the rest dropped. Keep ratios compound
(256 -> 180 -> 126 -> 89 search tokens at 0.7 over three blocks). After the final norm the
dropped tokens come back as zeros at their original positions (:func:`restore_tokens`), so the
head sees the full map.

The block is run from its own timm submodules (``norm1``, ``attn.qkv``, ``q_norm`` / ``k_norm``,
fused attention, ``attn.proj``, ``ls1``, ``norm2``, ``mlp``, ``ls2``), so every block type built
by :func:`~rgbx_tracker_ros.models.layers.vit.make_blocks` works; only the centre row's attention
weights are computed explicitly. An inference-time option here: it changes which tokens reach the
head, not the weights.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['ce_block', 'restore_tokens', 'template_center_index']


def template_center_index(grid: int) -> int:
    """Flat index of the template's centre token in a ``grid`` x ``grid`` template (OSTrack
    CTR_POINT: 8 -> row/col 3, 12 -> 5, 7 -> 3, 14 -> 6)."""
    c = (grid - 1) // 2
    return c * grid + c


def ce_block(block: nn.Module, x: torch.Tensor, index: torch.Tensor, nz: int, center: int,
             keep_ratio: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """One timm ViT block with candidate elimination between its attention and its FFN.

    Args:
        block: a timm ``Block`` (attention without gating).
        x: (B, Nz + Nx, D) tokens ``[template | search]`` (Nx: the search tokens still kept).
        index: (B, Nx) int64 positions of the kept search tokens in the full search grid.
        nz: template tokens.
        center: index of the template centre token within the template tokens.
        keep_ratio: fraction of the current search tokens to keep, in (0, 1].

    Returns:
        (B, Nz + K, D) tokens after the block and (B, K) their search-grid positions,
        K = ceil(keep_ratio * Nx).
    """
    attn = block.attn
    b, n, _ = x.shape
    h = block.norm1(x)
    qkv = attn.qkv(h).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    out = F.scaled_dot_product_attention(q, k, v)
    out = attn.proj(attn.norm(out.transpose(1, 2).reshape(b, n, -1)))
    x = x + block.drop_path1(block.ls1(out))
    nx = n - nz
    keep = math.ceil(keep_ratio * nx)
    if keep < nx:
        # the centre row of the attention map, over all keys (as the full softmax), averaged
        # over heads, restricted to the search columns
        row = (q[:, :, center:center + 1] * attn.scale) @ k.transpose(-2, -1)
        score = row.softmax(dim=-1)[:, :, 0, nz:].mean(dim=1)            # (B, Nx)
        order = score.argsort(dim=1, descending=True)[:, :keep]
        search = x[:, nz:].gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        x = torch.cat([x[:, :nz], search], dim=1)
        index = index.gather(1, order)
    x = x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
    return x, index


def restore_tokens(tokens: torch.Tensor, index: torch.Tensor, nz: int,
                   num_search: int) -> torch.Tensor:
    """(B, Nz + K, D) tokens with K kept search tokens at ``index`` (B, K) -> (B, Nz + Nx, D)
    with zeros at the dropped search positions (OSTrack re-inserts zeros after the final
    norm)."""
    b, _, d = tokens.shape
    full = tokens.new_zeros(b, num_search, d)
    full = full.scatter(1, index.unsqueeze(-1).expand(-1, -1, d), tokens[:, nz:])
    return torch.cat([tokens[:, :nz], full], dim=1)
