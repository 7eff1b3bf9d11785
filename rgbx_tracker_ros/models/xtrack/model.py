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

"""XTrack: the dual-stream tracker with one MeME per block (ICCV 2025; trackers.md 3.3, 3.2).

BAT-derived (trackers.md 3.2): RGB tokens ``x`` and X tokens ``xi`` run through the same frozen
ViT (:class:`~..layers.two_stream.TwoStreamTracker`); every block adds the residual of its one
:class:`~.meme.MeME` module, reused at both positions and in both directions::

    x'   = x  + DropPath(attn(norm1 x))  + DropPath(MeME(norm1_MeME x,  norm1_MeME xi))
    xi'  = xi + DropPath(attn(norm1 xi)) + DropPath(MeME(norm1_MeME xi, norm1_MeME x))
    x''  = x' + DropPath(mlp(norm2 x'))  + DropPath(MeME(norm2_MeME x', norm2_MeME xi'))
    xi'' = xi'+ DropPath(mlp(norm2 xi')) + DropPath(MeME(norm2_MeME xi', norm2_MeME x'))

(MeME(own, other) returns ``[template | search]`` residuals; with ``release_quirks`` the last line
concatenates them as ``[search | template]``, as the authors' code does.) The streams are summed
(``fuse='sum'``, the release) or averaged after the final norm and read by the frozen OSTrack
center head. State-dict names are the release's (``backbone.blocks.{i}.MeME_attn.*``,
``.norm1_MeME``, ``.norm2_MeME``, ``backbone.temporal_pos_embed_{x,z}``), so a release
``{'net': ...}`` loads with nothing missing or unexpected.

Auxiliary terms (training only), from the two calls per block whose router reads the X stream
(the RGB stream's calls; the release discards the terms of the reverse calls):

- ``'balance'``: sum of ``1e-2 * (cv^2(importance) + cv^2(load))`` (weight 1.0);
- ``'modality'``: BCE between the router probabilities and the multi-hot expert target of the
  sample's modality (:data:`~.meme.MODALITY_EXPERTS`; RGB-only samples excluded), summed over
  the calls (weight 0.01); only when ``modality`` labels are given. With ``release_quirks`` the
  probabilities are softmaxed twice and the attention-position ones enter twice per block (the
  FFN ones not at all), as in the release; otherwise attention and FFN once each.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..layers.bases import B256, B256_NAME, S14, S14_NAME, make_variant
from ..layers.two_stream import PairContext, TwoStreamBlock, TwoStreamTracker
from ..registry import register_variant
from .meme import MeME, modality_bce

__all__ = ['XTrack', 'XTrackBlock', 'TEMPORAL_POS_TOKENS']

#: the release adds ``temporal_pos_embed_{x,z}`` (to the RGB stream) only at this search-token
#: count (the 384 configs); the tables exist, unused, in every release (the 256 ones too)
TEMPORAL_POS_TOKENS = 576


class XTrackBlock(TwoStreamBlock):
    """A frozen ViT block with XTrack's MeME and its two LayerNorms (release ``CEABlock``).

    Args:
        dim, num_heads, mlp_ratio, **block_kwargs: the timm ``Block``.
        num_tokens: N = Nz + Nx for the MeME router.
        meme_hidden, num_experts, top_k, noisy_gating: see :class:`~.meme.MoELoRA`.
        release_quirks: see :class:`XTrack`.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *, num_tokens: int,
                 meme_hidden: int = 64, num_experts: int = 6, top_k: int = 2,
                 noisy_gating: bool = True, release_quirks: bool = False, **block_kwargs) -> None:
        super().__init__(dim, num_heads, mlp_ratio, **block_kwargs)
        norm_layer = block_kwargs.get('norm_layer', nn.LayerNorm)
        self.release_quirks = release_quirks
        self.norm1_MeME = norm_layer(dim)
        self.norm2_MeME = norm_layer(dim)
        self.MeME_attn = MeME(dim, num_tokens, meme_hidden, num_experts, top_k, noisy_gating,
                              release_quirks)

    def forward_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        nz, meme = ctx.nz, self.MeME_attn
        a_x, a_xi = self.norm1_MeME(x), self.norm1_MeME(xi)
        z_r, s_r, bal_attn, p_attn = meme(a_x, a_xi, nz)
        z_i, s_i, _, _ = meme(a_xi, a_x, nz)
        x = x + self.attn_branch(x) + self.drop_path1(torch.cat([z_r, s_r], dim=1))
        xi = xi + self.attn_branch(xi) + self.drop_path1(torch.cat([z_i, s_i], dim=1))

        f_x, f_xi = self.norm2_MeME(x), self.norm2_MeME(xi)
        z_r, s_r, bal_ffn, p_ffn = meme(f_x, f_xi, nz)
        z_i, s_i, _, _ = meme(f_xi, f_x, nz)
        xi_res = [s_i, z_i] if self.release_quirks else [z_i, s_i]
        x = x + self.mlp_branch(x) + self.drop_path2(torch.cat([z_r, s_r], dim=1))
        xi = xi + self.mlp_branch(xi) + self.drop_path2(torch.cat(xi_res, dim=1))
        if ctx.training:
            ctx.add('balance', bal_attn + bal_ffn)
            ctx.add('router', p_attn)
            ctx.add('router', p_attn if self.release_quirks else p_ffn)
        return x, xi


class XTrack(TwoStreamTracker):
    """XTrack: :class:`~..layers.two_stream.TwoStreamTracker` with :class:`XTrackBlock` blocks.

    Args:
        meme_hidden: expert width H (64 in the release).
        num_experts: MeME experts (6: two per X modality).
        top_k: experts per sample (2).
        noisy_gating: learned gating noise in training.
        release_quirks: reproduce the authors' code where it departs from its description
            (default True for ``xtrack_b256`` so released weights behave as released, False
            elsewhere): (1) MeME's Xavier re-initialisation that overwrites the Laplacian and
            the zero router init, (2) ``[search | template]`` order of the X stream's FFN-position
            residual, (3) softmax twice in the router probabilities of the modality loss, the
            attention-position ones counted twice and the FFN ones not, and the top-k
            thresholds of the smooth load taken from probabilities.
        temporal_pos: add ``backbone.temporal_pos_embed_{x,z}`` (1, 1, D) to the RGB stream;
            None = the release rule (only at 576 search tokens). The tables always exist so
            every release loads.
        **base: see :class:`~..layers.two_stream.TwoStreamTracker` (template_size,
            search_size, patch_size, embed_dim, depth, num_heads, ..., fuse).

    Forward / returns: as :class:`~..layers.two_stream.TwoStreamTracker`; ``aux`` holds
    'balance' and (with ``modality`` labels) 'modality' in training.

    Raises:
        ValueError: bad ``fuse``, crop sides not multiples of the patch, ``top_k`` out of range;
            at forward, crops of another size than built for (the router has N rows).
    """

    def __init__(self, meme_hidden: int = 64, num_experts: int = 6, top_k: int = 2,
                 noisy_gating: bool = True, release_quirks: bool = False,
                 temporal_pos: Optional[bool] = None, template_size: int = 128,
                 search_size: int = 256, patch_size: int = 16, embed_dim: int = 768,
                 **base) -> None:
        num_tokens = (template_size // patch_size) ** 2 + (search_size // patch_size) ** 2
        super().__init__(template_size=template_size, search_size=search_size,
                         patch_size=patch_size, embed_dim=embed_dim, block_layer=XTrackBlock,
                         num_tokens=num_tokens, meme_hidden=meme_hidden,
                         num_experts=num_experts, top_k=top_k, noisy_gating=noisy_gating,
                         release_quirks=release_quirks, **base)
        self.release_quirks = release_quirks
        bb = self.backbone
        bb.temporal_pos_embed_x = nn.Parameter(torch.randn(1, 1, embed_dim))
        bb.temporal_pos_embed_z = nn.Parameter(torch.randn(1, 1, embed_dim))
        self.temporal_pos = (bb.num_search_tokens == TEMPORAL_POS_TOKENS
                             if temporal_pos is None else bool(temporal_pos))

    def input_pair(self, *args, **kwargs) -> Tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`TwoStreamTracker.input_pair`, plus the temporal tables on the RGB stream
        when ``temporal_pos``."""
        x, xi = super().input_pair(*args, **kwargs)
        if self.temporal_pos:
            bb = self.backbone
            nz, nx = bb.num_template_tokens, bb.num_search_tokens
            x = x + torch.cat([bb.temporal_pos_embed_z.expand(-1, nz, -1),
                               bb.temporal_pos_embed_x.expand(-1, nx, -1)], dim=1)
        return x, xi

    def aux_terms(self, ctx: PairContext) -> Dict[str, torch.Tensor]:
        """'balance' (sum over blocks) and, with labels, 'modality' (see the module doc)."""
        terms = {}
        if ctx.aux.get('balance'):
            terms['balance'] = torch.stack(ctx.aux['balance']).sum()
        if ctx.modality is not None and ctx.aux.get('router'):
            terms['modality'] = modality_bce(ctx.aux['router'], ctx.modality)
        return terms


def _variant(build: bool, defaults: dict, kw: dict):
    return make_variant(XTrack, build, defaults, kw)


@register_variant(family='xtrack', base=B256_NAME)
def xtrack_b256(build: bool = True, **kw):
    """XTrack-B as released: OSTrack ViT-B/16 256/128, MeME H=64 x 12 blocks, streams summed,
    the release's quirks on (loads the authors' ``{'net': ...}`` files)."""
    return _variant(build, dict(B256, fuse='sum', release_quirks=True), kw)


@register_variant(family='xtrack', base=S14_NAME)
def xtrack_s14(build: bool = True, **kw):
    """XTrack on our DINOv2 ViT-S/14 d8 224/112 RGB tracker (N = 320 router rows), streams
    averaged, quirks fixed; initialise from ``checkpoints/s14_224_d8_rgbx.pt``."""
    return _variant(build, dict(S14, fuse='mean', release_quirks=False), kw)


@register_variant(family='xtrack', base='test (random)')
def test_xtrack(build: bool = True, **kw):
    """Test-only XTrack: width 64, 2 blocks, search 128 / template 64 (N = 80), H = 16;
    random weights, quirks off."""
    return _variant(build, dict(template_size=64, search_size=128, patch_size=16, embed_dim=64,
                                depth=2, num_heads=2, head_channels=32, meme_hidden=16,
                                fuse='mean', release_quirks=False), kw)
