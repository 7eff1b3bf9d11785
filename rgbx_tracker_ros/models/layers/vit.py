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

"""The ViT every family shares: patch embedding, the two OSTrack position tables and timm blocks.

State-dict names follow OSTrack (trackers.md 1.3, 1.9): ``patch_embed.proj``, ``pos_embed_z``
(1, Nz, D), ``pos_embed_x`` (1, Nx, D), ``blocks.{i}.norm1 / attn.qkv / attn.proj / norm2 /
mlp.fc1 / mlp.fc2`` (timm ``Block``; DINOv2's layer scales are ``ls1.gamma`` / ``ls2.gamma``) and
``norm``, so OSTrack releases, timm ViTs and our fetched DINOv2 load by name. A family changes
the FFN (``mlp_layer``) or the block (``block_layer``, a timm ``Block`` subclass that adds its
adapters) by type, never by copying the ViT.
"""

from __future__ import annotations

import functools
from typing import Optional, Type

import torch
from timm.layers import Mlp, PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn

__all__ = ['ViTBase', 'init_vit_weights', 'make_blocks', 'map_to_tokens', 'tokens_to_map']


def make_blocks(embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0,
                drop_path_rate: float = 0.0, init_values: Optional[float] = None,
                mlp_layer: Type[nn.Module] = Mlp, block_layer: Type[Block] = Block,
                **block_kwargs) -> nn.ModuleList:
    """``depth`` timm blocks (qkv bias, LayerNorm eps 1e-6, drop path rising linearly to
    ``drop_path_rate``) of type ``block_layer`` with FFN type ``mlp_layer``.

    ``block_kwargs`` go to every block; a callable value ``f(i)`` is evaluated per block index
    (e.g. which blocks carry an adapter).
    """
    # plain floats (not torch.linspace): models can then be built on the meta device
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
    blocks = []
    for i in range(depth):
        extra = {k: (v(i) if callable(v) and not isinstance(v, type) else v)
                 for k, v in block_kwargs.items()}
        blocks.append(block_layer(embed_dim, num_heads, mlp_ratio, qkv_bias=True,
                                  drop_path=rates[i], init_values=init_values,
                                  norm_layer=functools.partial(nn.LayerNorm, eps=1e-6),
                                  mlp_layer=mlp_layer, **extra))
    return nn.ModuleList(blocks)


def init_vit_weights(module: nn.Module) -> None:
    """timm/OSTrack initialisation: truncated-normal (std 0.02) Linear weights, zero biases,
    unit LayerNorms. Modules flagged ``_keep_init`` keep their own initialisation."""
    if isinstance(module, nn.Linear) and not hasattr(module, '_keep_init'):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def tokens_to_map(tokens: torch.Tensor, height: int, width: Optional[int] = None) -> torch.Tensor:
    """(B, H*W, C) tokens in row-major order -> (B, C, H, W) map."""
    width = height if width is None else width
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], height, width)


def map_to_tokens(feat: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) map -> (B, H*W, C) tokens in row-major order (inverse of
    :func:`tokens_to_map`)."""
    return feat.flatten(2).transpose(1, 2)


class ViTBase(nn.Module):
    """Patch embedding + position tables + blocks + final norm (no forward of its own).

    Args:
        template_size: template crop side (pixels), a multiple of ``patch_size``.
        search_size: search crop side (pixels), a multiple of ``patch_size``.
        patch_size: ViT patch side (pixels): 16 (OSTrack / MAE) or 14 (DINOv2).
        embed_dim, depth, num_heads, mlp_ratio: ViT width, blocks, heads and FFN ratio.
        drop_path_rate: stochastic depth, rising linearly over the blocks.
        init_values: layer-scale initial value (DINOv2 has layer scale); None = none (OSTrack).
        mlp_layer, block_layer, **block_kwargs: see :func:`make_blocks`.

    Raises:
        ValueError: a crop side that is not a multiple of ``patch_size``.
    """

    def __init__(self, template_size: int, search_size: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, init_values: Optional[float] = None,
                 mlp_layer: Type[nn.Module] = Mlp, block_layer: Type[Block] = Block,
                 **block_kwargs) -> None:
        super().__init__()
        for name, side in (('template_size', template_size), ('search_size', search_size)):
            if side % patch_size:
                raise ValueError(f'{name}={side} must be a multiple of patch_size={patch_size}')
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.grid_z = template_size // patch_size
        self.grid_x = search_size // patch_size
        self.patch_embed = PatchEmbed(img_size=None, patch_size=patch_size, in_chans=3,
                                      embed_dim=embed_dim, strict_img_size=False)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.grid_z ** 2, embed_dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.grid_x ** 2, embed_dim))
        nn.init.trunc_normal_(self.pos_embed_z, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=0.02)
        self.blocks = make_blocks(embed_dim, depth, num_heads, mlp_ratio, drop_path_rate,
                                  init_values, mlp_layer, block_layer, **block_kwargs)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    @property
    def num_template_tokens(self) -> int:
        """Nz, template tokens."""
        return self.grid_z ** 2

    @property
    def num_search_tokens(self) -> int:
        """Nx, search tokens."""
        return self.grid_x ** 2

    def patch_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised crops -> (B, H/p * W/p, D) patch tokens (no positions)."""
        return self.patch_embed(images)

    def embed_template(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, T) template crops -> (B, Nz, D) tokens with ``pos_embed_z``."""
        return self.patch_embed(images) + self.pos_embed_z

    def embed_search(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) search crops -> (B, Nx, D) tokens with ``pos_embed_x``."""
        return self.patch_embed(images) + self.pos_embed_x
