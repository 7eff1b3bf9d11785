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

"""The two-stream skeleton of the dual-stream parameter-efficient trackers (BAT-derived).

XTrack, SEATrack, PATrack and the MMMP teacher (trackers.md 3.2-3.5, 3.8) all run the RGB tokens
``x`` and the X tokens ``xi`` through the **same** frozen ViT (shared patch embedding and
position tables), insert their trainable modules inside every block, and sum the two streams
after the final norm before the frozen OSTrack center head. :class:`TwoStreamTracker` is that
skeleton; a family supplies only its block type (a :class:`TwoStreamBlock` subclass whose
:meth:`~TwoStreamBlock.forward_pair` adds its adapters) and, if it has auxiliary losses,
:meth:`TwoStreamTracker.aux_terms`.

Missing X: the X stream gets the RGB crop (per sample where ``x_mask`` is 0), the way these
papers run RGB-only input.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple, Type

import torch
from timm.models.vision_transformer import Block

from ...core.model_api import TrackerOutput
from .net import TrackerNet
from .vit import ViTBase, init_vit_weights

__all__ = ['PairContext', 'TwoStreamBlock', 'TwoStreamTracker', 'x_or_rgb']


@dataclasses.dataclass
class PairContext:
    """What every block of one forward pass may need.

    Attributes:
        nz, nx: template / search token counts (the token layout is ``[template | search]``).
        grid_z, grid_x: template / search grid sides (cells).
        training: the model is in train mode (auxiliary terms are collected only then).
        modality: (B,) int64 modality labels of the batch (``train.data.MODALITY_LABEL``: 0 RGB,
            1 thermal, 2 depth, 3 event) or None (inference).
        aux: auxiliary values by name, appended by blocks (one entry per call).
        features: the fused per-block tokens (B, N, D) when the model keeps features.
    """

    nz: int
    nx: int
    grid_z: int
    grid_x: int
    training: bool = False
    modality: Optional[torch.Tensor] = None
    aux: Dict[str, List[torch.Tensor]] = dataclasses.field(default_factory=dict)
    features: Optional[List[torch.Tensor]] = None

    def add(self, name: str, value: torch.Tensor) -> None:
        """Append ``value`` to the auxiliary list ``name``."""
        self.aux.setdefault(name, []).append(value)


class TwoStreamBlock(Block):
    """A timm ``Block`` that runs both streams through its (frozen) attention and FFN.

    The default :meth:`forward_pair` is the plain shared ViT block on each stream; families
    override it and use :meth:`attn_branch` / :meth:`mlp_branch` for the frozen residual terms.
    """

    def attn_branch(self, tokens: torch.Tensor) -> torch.Tensor:
        """Residual term of the attention sub-layer: DropPath(LayerScale(attn(norm1(t))))."""
        return self.drop_path1(self.ls1(self.attn(self.norm1(tokens))))

    def mlp_branch(self, tokens: torch.Tensor) -> torch.Tensor:
        """Residual term of the FFN sub-layer: DropPath(LayerScale(mlp(norm2(t))))."""
        return self.drop_path2(self.ls2(self.mlp(self.norm2(tokens))))

    def forward_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, N, D) RGB and X tokens -> the same after this block."""
        x = x + self.attn_branch(x)
        xi = xi + self.attn_branch(xi)
        return x + self.mlp_branch(x), xi + self.mlp_branch(xi)


def x_or_rgb(rgb: torch.Tensor, x: Optional[torch.Tensor],
             mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The X input of a stream: ``x``, with the RGB crop where X is missing.

    Args:
        rgb: (B, C, H, W) RGB crops.
        x: (B, C, H, W) X crops, or None (missing for the whole batch).
        mask: optional (B,) 1 where the sample has X, 0 where it is missing.
    """
    if x is None:
        return rgb
    if mask is None:
        return x
    keep = mask.to(torch.bool).view(-1, *([1] * (x.dim() - 1)))
    return torch.where(keep, x, rgb)


class TwoStreamTracker(TrackerNet):
    """Dual-stream tracker: shared frozen ViT on RGB and X, family blocks, fused center head.

    Args:
        template_size, search_size: crop sides (pixels): 128 / 256 for the OSTrack-256 base,
            112 / 224 for our DINOv2 ViT-S/14 base.
        patch_size, embed_dim, depth, num_heads, mlp_ratio, drop_path_rate, init_values: the
            ViT (see :class:`~.vit.ViTBase`).
        head_channels: first conv width of the center head (OSTrack 256).
        corr_head: correlation channels in the head (see :class:`~.center_head.TokenCenterHead`);
            True on the DINOv2 base so the head of our trained RGB tracker loads.
        fuse: 'sum' (the releases: ``x + xi`` after the final norm) or 'mean' (``(x + xi) / 2``:
            with zero-initialised adapters and RGB as X the head then sees exactly the features
            of the one-stream RGB tracker it was trained on).
        block_layer: the family's :class:`TwoStreamBlock` subclass.
        **block_kwargs: passed to every block (callables are evaluated per block index).

    Forward:
        template_rgb (B, 3, T, T), search_rgb (B, 3, S, S): ImageNet-normalised crops.
        template_x, search_x: X crops of the same shapes, or None (X missing: RGB is fed).
        template_x_mask, search_x_mask: optional (B,) 1/0, 0 = X missing for that sample.
        template_tokens: optional (B, 2 Nz, D) from :meth:`encode_template`.
        modality: optional (B,) int64 labels for label-dependent auxiliary losses (training).

    Returns:
        :class:`~rgbx_tracker_ros.core.model_api.TrackerOutput`; ``aux`` holds the family's
        auxiliary loss terms (training only).
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, head_channels: int = 256,
                 corr_head: bool = False, fuse: str = 'sum',
                 block_layer: Type[TwoStreamBlock] = TwoStreamBlock, **block_kwargs) -> None:
        super().__init__(template_size, search_size)
        if fuse not in ('sum', 'mean'):
            raise ValueError(f"fuse must be 'sum' or 'mean', got {fuse!r}")
        self.fuse = fuse
        self.backbone = ViTBase(template_size, search_size, patch_size, embed_dim, depth,
                                num_heads, mlp_ratio, drop_path_rate, init_values,
                                block_layer=block_layer, **block_kwargs)
        self.add_head(head_channels, corr_head)
        self.backbone.apply(init_vit_weights)

    def encode_template(self, template_rgb: torch.Tensor,
                        template_x: Optional[torch.Tensor] = None,
                        template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, T, T) template crops -> (B, 2 Nz, D): ``[RGB template | X template]`` tokens
        with positions (computed once per target; pass as ``template_tokens``)."""
        b = template_rgb.shape[0]
        both = torch.cat([template_rgb, x_or_rgb(template_rgb, template_x, template_x_mask)])
        z = self.backbone.embed_template(both)
        return torch.cat([z[:b], z[b:]], dim=1)

    def context(self, modality: Optional[torch.Tensor] = None) -> PairContext:
        """A fresh :class:`PairContext` for one forward pass."""
        bb = self.backbone
        return PairContext(bb.num_template_tokens, bb.num_search_tokens, bb.grid_z, bb.grid_x,
                           self.training, modality,
                           features=[] if self.keep_features else None)

    def input_pair(self, template_rgb, search_rgb, template_x=None, search_x=None,
                   template_x_mask=None, search_x_mask=None, template_tokens=None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, Nz + Nx, D) RGB and X token sequences ``[template | search]`` entering block 0.

        Raises:
            ValueError: neither template crops nor template tokens are given.
        """
        if template_tokens is None:
            if template_rgb is None:
                raise ValueError('give the template crops (template_rgb) or template_tokens')
            template_tokens = self.encode_template(template_rgb, template_x, template_x_mask)
        nz = self.backbone.num_template_tokens
        b = search_rgb.shape[0]
        both = torch.cat([search_rgb, x_or_rgb(search_rgb, search_x, search_x_mask)])
        s = self.backbone.embed_search(both)
        z_rgb, z_x = template_tokens[:, :nz], template_tokens[:, nz:]
        return torch.cat([z_rgb, s[:b]], dim=1), torch.cat([z_x, s[b:]], dim=1)

    def run_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Both streams through every block (no final norm)."""
        for block in self.backbone.blocks:
            x, xi = block.forward_pair(x, xi, ctx)
            if ctx.features is not None:
                ctx.features.append(self.fuse_streams(x, xi))
        return x, xi

    def fuse_streams(self, x: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        """The fused tokens of the two streams (``fuse``)."""
        return x + xi if self.fuse == 'sum' else 0.5 * (x + xi)

    def head_tokens(self, search: torch.Tensor) -> torch.Tensor:
        """Hook: (B, Nx, D) fused search tokens -> what the center head reads (PATrack's head
        adapter replaces them); identity here."""
        return search

    def aux_terms(self, ctx: PairContext) -> Dict[str, torch.Tensor]:
        """Hook: the family's auxiliary loss terms (scalars) from what the blocks collected."""
        return {}

    def forward(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                template_x: Optional[torch.Tensor] = None,
                search_x: Optional[torch.Tensor] = None,
                template_x_mask: Optional[torch.Tensor] = None,
                search_x_mask: Optional[torch.Tensor] = None,
                template_tokens: Optional[torch.Tensor] = None,
                modality: Optional[torch.Tensor] = None) -> TrackerOutput:
        x, xi = self.input_pair(template_rgb, search_rgb, template_x, search_x,
                                template_x_mask, search_x_mask, template_tokens)
        ctx = self.context(modality)
        x, xi = self.run_pair(x, xi, ctx)
        norm = self.backbone.norm
        fused = self.fuse_streams(norm(x), norm(xi))
        nz = ctx.nz
        score, size, offset = self.box_head.from_tokens(fused[:, :nz],
                                                        self.head_tokens(fused[:, nz:]))
        aux = self.aux_terms(ctx) if self.training else {}
        return TrackerOutput(score, size, offset, aux, ctx.features)
