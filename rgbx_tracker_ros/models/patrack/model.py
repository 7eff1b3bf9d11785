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

"""PATrack: progressive adaptation of a frozen RGB tracker to RGB-X (arXiv 2026, trackers.md 3.5).

A BAT-derived dual-stream tracker (:class:`~..layers.two_stream.TwoStreamTracker`: RGB tokens
``x`` and X tokens ``xi`` through the same frozen ViT, fused after the final norm, frozen OSTrack
center head) with three kinds of trainable adapters (:mod:`.adapters`):

- blocks **not** in ``psfm_blocks`` (release: all but 3, 6, 9): the modality-dependent
  :class:`~.adapters.Mixer` in BAT's cross-stream pattern, ``adap_t`` after attention and
  ``adap2_t`` after the FFN::

      x  += attn(norm1 x)  + adap_t(norm1 xi);   xi += attn(norm1 xi) + adap_t(norm1 x)
      x  += mlp(norm2 x)   + adap2_t(norm2 xi);  xi += mlp(norm2 xi)  + adap2_t(norm2 x)

  (``xi`` reads ``x`` from before the update; the frozen terms keep their layer scale on the
  DINOv2 base, the adapter terms only share the drop path);
- blocks in ``psfm_blocks`` (release 3, 6, 9, 0-based): the modality-entangled
  :class:`~.adapters.PSFM` at both positions. Its inputs are the streams through the block's own
  extra LayerNorms ``norml1`` / ``norml2`` (frozen: their names lack 'adap', so they keep their
  initial identity affine, as in the release); template and search maps go through it
  separately; its RGB / X outputs pass through the frozen ``norm1`` / ``norm2`` and are added::

      r, t = highfuseadapter1(norml1 x, norml1 xi)     # per template / search map
      x  += attn(norm1 x)  + norm1(r);   xi += attn(norm1 xi) + norm1(t)
      r, t = highfuseadapter2(norml2 x, norml2 xi)
      x  += mlp(norm2 x)   + norm2(r);   xi += mlp(norm2 xi)  + norm2(t)

  (the frozen norm's bias is added even where the PSFM output is 0: no configuration of these
  adapters is the identity, and the release initialises nothing to zero);
- the task-level :class:`~.adapters.HeadAdapter` ``adapter_head`` on the fused search tokens,
  **replacing** them (no residual) before the frozen head.

Release layout (``release_layout=True``, variant ``patrack_b256``): the release builds the two
Mixers, the two PSFMs (with two unused scalars ``gamma1`` / ``gamma2`` each) and ``norml1`` /
``norml2`` in **every** block and an unused LayerNorm ``norm1`` at the model root, and uses each
block's PSFMs or Mixers only. So that a release loads with nothing missing or unexpected, this
flag builds the same; otherwise each block holds only what it uses. Trainable (``'adap'``):
≈13.11 M instantiated / ≈3.72 M used for ViT-B/256 (trackers.md: 13.1 M / 3.7 M).

Key names (``backbone.blocks.{i}.`` prefix unless noted), read from the release source because
trackers.md names only the modules: ``adap_t`` / ``adap2_t`` ``.D_fc1``, ``.high_mixer.{conv1,
proj1, proj2}``, ``.conv_fuse``, ``.proj``; ``highfuseadapter1`` / ``highfuseadapter2``
``.down``, ``.up``, ``.obj_fuse.{linear1..4, linearcat, gamma1, gamma2}``; ``norml1``,
``norml2``; root ``adapter_head.{adapter_down, adapter_mid, adapter_up}`` and ``norm1``. Every
trainable name contains 'adap'.

Deviations: candidate elimination is not run (the release's rgbt / rgbe configs disable it; its
rgbd config keeps 0.7); the grids are the variant's (the release hard-codes 8x8 / 16x16).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from ..layers.bases import B256, B256_NAME, S14, S14_NAME, make_variant
from ..layers.two_stream import PairContext, TwoStreamBlock, TwoStreamTracker
from ..layers.vit import map_to_tokens, tokens_to_map
from ..registry import register_variant
from .adapters import PSFM, HeadAdapter, Mixer

__all__ = ['PATrack', 'PATrackBlock', 'default_psfm_blocks']


def default_psfm_blocks(depth: int) -> Tuple[int, ...]:
    """The blocks at a quarter, half and three quarters of the depth: (3, 6, 9) for the
    release's 12 blocks (which are also OSTrack's CE locations), (2, 4, 6) for 8."""
    return tuple(sorted({depth // 4, depth // 2, 3 * depth // 4}))


class PATrackBlock(TwoStreamBlock):
    """A frozen timm block with PATrack's adapters (see the module docstring for the algebra).

    Args:
        dim, num_heads, mlp_ratio, **kwargs: the timm ``Block``.
        entangled: this block runs the PSFMs (else the Mixers).
        with_mixer: build ``adap_t`` / ``adap2_t`` (required unless ``entangled``).
        with_psfm: build ``highfuseadapter1`` / ``highfuseadapter2`` and ``norml1`` / ``norml2``
            (required if ``entangled``).
        mixer_dim: Mixer bottleneck width (release 8).
        psfm_dim: PSFM width (release 192).
        psfm_gammas: build the PSFMs' unused ``gamma1`` / ``gamma2`` (release layout).

    Raises:
        ValueError: the modules the block uses are not built.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *,
                 entangled: bool = False, with_mixer: bool = True, with_psfm: bool = False,
                 mixer_dim: int = 8, psfm_dim: int = 192, psfm_gammas: bool = False,
                 **kwargs) -> None:
        super().__init__(dim, num_heads, mlp_ratio, **kwargs)
        if entangled and not with_psfm:
            raise ValueError('an entangled (PSFM) block needs with_psfm=True')
        if not entangled and not with_mixer:
            raise ValueError('a modality-dependent (Mixer) block needs with_mixer=True')
        self.entangled = entangled
        if with_mixer:
            self.adap_t = Mixer(dim, mixer_dim)
            self.adap2_t = Mixer(dim, mixer_dim)
        if with_psfm:
            norm_layer = kwargs.get('norm_layer', nn.LayerNorm)
            self.highfuseadapter1 = PSFM(dim, psfm_dim, psfm_gammas)
            self.highfuseadapter2 = PSFM(dim, psfm_dim, psfm_gammas)
            self.norml1 = norm_layer(dim)
            self.norml2 = norm_layer(dim)

    @staticmethod
    def entangle(psfm: PSFM, norm: nn.Module, x: torch.Tensor, xi: torch.Tensor,
                 ctx: PairContext) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, Nz + Nx, D) streams -> the PSFM's RGB and X terms (same shape): ``norm`` on both,
        template and search token maps through ``psfm`` separately."""
        n, ni = norm(x), norm(xi)
        rgb, other = [], []
        for part, side in ((slice(None, ctx.nz), ctx.grid_z), (slice(ctx.nz, None), ctx.grid_x)):
            r, t = psfm(tokens_to_map(n[:, part], side), tokens_to_map(ni[:, part], side))
            rgb.append(map_to_tokens(r))
            other.append(map_to_tokens(t))
        return torch.cat(rgb, dim=1), torch.cat(other, dim=1)

    def forward_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, Nz + Nx, D) RGB and X tokens -> the same after this block."""
        if self.entangled:
            r, t = self.entangle(self.highfuseadapter1, self.norml1, x, xi, ctx)
            x, xi = (x + self.attn_branch(x) + self.drop_path1(self.norm1(r)),
                     xi + self.attn_branch(xi) + self.drop_path1(self.norm1(t)))
            r, t = self.entangle(self.highfuseadapter2, self.norml2, x, xi, ctx)
            return (x + self.mlp_branch(x) + self.drop_path2(self.norm2(r)),
                    xi + self.mlp_branch(xi) + self.drop_path2(self.norm2(t)))
        gz, gx = ctx.grid_z, ctx.grid_x
        dp1, dp2 = self.drop_path1, self.drop_path2     # separate calls: independent masks
        n, ni = self.norm1(x), self.norm1(xi)
        x, xi = (x + dp1(self.ls1(self.attn(n))) + dp1(self.adap_t(ni, gz, gx)),
                 xi + dp1(self.ls1(self.attn(ni))) + dp1(self.adap_t(n, gz, gx)))
        n, ni = self.norm2(x), self.norm2(xi)
        return (x + dp2(self.ls2(self.mlp(n))) + dp2(self.adap2_t(ni, gz, gx)),
                xi + dp2(self.ls2(self.mlp(ni))) + dp2(self.adap2_t(n, gz, gx)))


class PATrack(TwoStreamTracker):
    """The PATrack tracker network (see the module docstring).

    Args:
        template_size, search_size, patch_size, embed_dim, depth, num_heads, mlp_ratio,
            drop_path_rate, init_values, head_channels, corr_head, fuse: see
            :class:`~..layers.two_stream.TwoStreamTracker`.
        psfm_blocks: 0-based blocks that run the PSFMs instead of the Mixers; None =
            :func:`default_psfm_blocks` (release (3, 6, 9)).
        mixer_dim: Mixer bottleneck width (release 8, a multiple of 4).
        psfm_dim: PSFM width (release 192).
        head_adapter_dim: head adapter width (release 192).
        release_layout: build every adapter in every block plus the unused root ``norm1``,
            exactly as the release (so its state dict loads); False = only what is used.

    Forward: as :class:`~..layers.two_stream.TwoStreamTracker`; no auxiliary losses
    (``TrackerOutput.aux`` is empty).

    Raises:
        ValueError: a ``psfm_blocks`` index outside ``[0, depth)``; an odd template or search
            grid while some block runs a Mixer (its AvgPool 2 + upsample x2 needs even grids);
            a bad ``fuse`` or ``mixer_dim``.
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, head_channels: int = 256,
                 corr_head: bool = False, fuse: str = 'sum',
                 psfm_blocks: Optional[Sequence[int]] = None, mixer_dim: int = 8,
                 psfm_dim: int = 192, head_adapter_dim: int = 192,
                 release_layout: bool = False) -> None:
        psfm = default_psfm_blocks(depth) if psfm_blocks is None else tuple(
            sorted({int(i) for i in psfm_blocks}))
        bad = [i for i in psfm if not 0 <= i < depth]
        if bad:
            raise ValueError(f'psfm_blocks {bad} outside the {depth} blocks [0, {depth})')
        if len(psfm) < depth:
            for name, side in (('template', template_size), ('search', search_size)):
                grid = side // patch_size
                if grid % 2:
                    raise ValueError(f'the Mixer needs an even {name} grid (AvgPool 2 + '
                                     f'upsample x2); {name}_size={side} / patch {patch_size} '
                                     f'gives {grid}')
        super().__init__(template_size, search_size, patch_size, embed_dim, depth, num_heads,
                         mlp_ratio, drop_path_rate, init_values, head_channels, corr_head, fuse,
                         block_layer=PATrackBlock,
                         entangled=lambda i: i in psfm,
                         with_mixer=lambda i: release_layout or i not in psfm,
                         with_psfm=lambda i: release_layout or i in psfm,
                         mixer_dim=mixer_dim, psfm_dim=psfm_dim, psfm_gammas=release_layout)
        self.psfm_blocks = psfm
        self.adapter_head = HeadAdapter(embed_dim, head_adapter_dim)
        if release_layout:
            self.norm1 = nn.LayerNorm(embed_dim)    # in the release's state dict, never used

    def head_tokens(self, search: torch.Tensor) -> torch.Tensor:
        """(B, Nx, D) fused search tokens -> ``adapter_head(search)`` (no residual)."""
        return self.adapter_head(search)


# --- registered variants: each only fills constructor arguments -------------------------------

@register_variant(family='patrack', base=B256_NAME)
def patrack_b256(build: bool = True, **kw):
    """PATrack release (ViT-B/16 256/128, PSFMs at 3, 6, 9, release layout, fused by sum)."""
    return make_variant(PATrack, build, dict(B256, fuse='sum', psfm_blocks=(3, 6, 9),
                                             release_layout=True), kw)


@register_variant(family='patrack', base=S14_NAME)
def patrack_s14(build: bool = True, **kw):
    """PATrack adapters on our DINOv2 ViT-S/14 d8 RGB tracker (PSFMs at 2, 4, 6, mean fuse)."""
    # 8 blocks: PSFMs at the same relative depths as the release's 3, 6, 9 of 12 (1/4, 1/2, 3/4),
    # three of them as in the release, Mixers in the first two and the last block.
    return make_variant(PATrack, build, dict(S14, fuse='mean', psfm_blocks=(2, 4, 6)), kw)


@register_variant(family='patrack', base='test (random)')
def test_patrack(build: bool = True, **kw):
    """Test-only PATrack: width 64, 3 blocks (PSFM in block 1), search 128 / template 64."""
    return make_variant(PATrack, build, dict(
        template_size=64, search_size=128, patch_size=16, embed_dim=64, depth=3, num_heads=2,
        head_channels=32, fuse='mean', psfm_blocks=(1,), psfm_dim=16, head_adapter_dim=16), kw)
