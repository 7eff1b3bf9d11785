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

"""RgbxViT: the one-stream RGB-X tracker network of the OneTrackerV2 family (ICML 2026).

Pipeline for a template crop z and a search crop x, each with an RGB and an optional X image:

1. one shared patch embedding (timm ``PatchEmbed``, 16x16) for RGB and X;
2. the :class:`~rgbx_tracker_ros.models.onetracker.meta_merger.MetaMerger` fuses RGB and X into ONE
   token set per crop (X missing -> RGB-only path of the same merger);
3. learned position tables ``pos_embed_z`` / ``pos_embed_x`` (OSTrack naming) are added;
4. a ViT encoder over ``[template tokens | search tokens]`` (OSTrack's 'direct' layout, no cls
   token) whose FFNs are :class:`~rgbx_tracker_ros.models.onetracker.moe.DualMoE`;
5. final LayerNorm, search tokens reshaped to (B, D, Hf, Wf) and the OSTrack center head.

State-dict names follow OSTrack (``backbone.patch_embed.proj``, ``backbone.blocks.{i}.attn.qkv``,
``backbone.blocks.{i}.mlp.fc1``, ``backbone.norm``, ``box_head.conv1_ctr``...) so the ViT and head
of OSTrack-family checkpoints load into it (see :mod:`rgbx_tracker_ros.models.checkpoint`).
"""

from __future__ import annotations

import functools
from typing import Dict, Optional, Sequence, Type

import torch
from timm.layers import Mlp
from torch import nn

from ...core.model_api import TrackerOutput
from ..layers import ViTBase, init_vit_weights, map_to_tokens, tokens_to_map
from ..layers.net import TrackerNet
from ..layers.bases import make_variant
from ..layers.ce import ce_block, restore_tokens, template_center_index
from ..layers.two_stream import x_or_rgb
from ..registry import register_variant
from .meta_merger import MetaMerger
from .moe import DualMoE, router_cluster_loss

MISSING_X = ('mask', 'rgb')


class Backbone(ViTBase):
    """Shared patch embedding + a merger + ViT blocks (:class:`~..layers.vit.ViTBase`).

    Args:
        template_size, search_size, patch_size, embed_dim, depth, num_heads, mlp_ratio: the ViT.
        num_t_experts, num_m_experts, top_k, expert_rank: Dual MoE settings (passed to
            ``mlp_layer`` when it is :class:`~.moe.DualMoE`).
        drop_path_rate: stochastic depth, linearly increasing over blocks.
        init_values: layer-scale initial value (timm ``LayerScale``, as DINOv2 uses); None = no
            layer scale (the from-scratch variants, and OSTrack/MAE ViTs).
        x_blend: initial X gate of the Meta Merger (see
            :class:`~rgbx_tracker_ros.models.onetracker.meta_merger.MetaMerger`); 0 = none.
        missing_x: what the merger gets where X is missing: 'mask' (the RGB-only path of the
            merger: its X term is dropped per sample) or 'rgb' (the RGB crop is fed as X, as
            the OneTrackerV2 paper runs RGB-only input).
        merger_layer: the merger type, ``merger_layer(embed_dim, x_blend=...)``.
        mlp_layer: the FFN type of every block (default :class:`~.moe.DualMoE`).
        ce_loc: 0-based blocks with candidate elimination (OSTrack CE, trackers.md 1.4;
            :mod:`~rgbx_tracker_ros.models.layers.ce`), e.g. (3, 6, 9); () = none.
        ce_keep_ratio: search tokens kept at each of those blocks, in (0, 1]; 1 = CE off.

    Raises:
        ValueError: unknown ``missing_x``, a CE block outside the network or a keep ratio
            outside (0, 1].
    """

    def __init__(self, template_size: int, search_size: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, mlp_ratio: float, num_t_experts: int,
                 num_m_experts: int, top_k: int, expert_rank: int,
                 drop_path_rate: float = 0.0, init_values: Optional[float] = None,
                 x_blend: float = 0.0, missing_x: str = 'mask',
                 merger_layer: Type[nn.Module] = MetaMerger,
                 mlp_layer: Type[nn.Module] = DualMoE, ce_loc: Sequence[int] = (),
                 ce_keep_ratio: float = 1.0) -> None:
        if missing_x not in MISSING_X:
            raise ValueError(f'missing_x must be one of {MISSING_X}, got {missing_x!r}')
        if not 0.0 < float(ce_keep_ratio) <= 1.0:
            raise ValueError(f'ce_keep_ratio must be in (0, 1], got {ce_keep_ratio}')
        bad = [i for i in ce_loc if not 0 <= int(i) < depth]
        if bad:
            raise ValueError(f'ce_loc {list(ce_loc)}: blocks {bad} are outside 0..{depth - 1}')
        if mlp_layer is DualMoE:
            mlp_layer = functools.partial(DualMoE, num_t_experts=num_t_experts,
                                          num_m_experts=num_m_experts, top_k=top_k,
                                          expert_rank=expert_rank)
        super().__init__(template_size, search_size, patch_size, embed_dim, depth, num_heads,
                         mlp_ratio, drop_path_rate, init_values, mlp_layer=mlp_layer)
        self.missing_x = missing_x
        self.ce_loc = tuple(int(i) for i in ce_loc)
        self.ce_keep_ratio = float(ce_keep_ratio)
        self.merger = merger_layer(embed_dim, x_blend=x_blend)
        self.apply(init_vit_weights)

    def embed(self, rgb: torch.Tensor, x: Optional[torch.Tensor],
              x_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, 3, H, W) RGB and optional X crops -> (B, N, D) merged tokens."""
        if self.missing_x == 'rgb':
            x, x_mask = x_or_rgb(rgb, x, x_mask), None
        b = rgb.shape[0]
        feats = self.patch_embed(rgb if x is None else torch.cat([rgb, x], 0))
        maps = tokens_to_map(feats, rgb.shape[-2] // self.patch_size,
                             rgb.shape[-1] // self.patch_size)
        merged = self.merger(maps[:b], None if x is None else maps[b:], x_mask)
        return map_to_tokens(merged)

    def embed_template(self, template_rgb: torch.Tensor, template_x: Optional[torch.Tensor] = None,
                       template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, Ht, Wt) template crops -> (B, Nz, D) template tokens (merged, with positions).

        These depend on the template alone, so a tracker computes them once per target and
        passes them to :meth:`forward` as ``template_tokens`` on every frame.
        """
        return self.embed(template_rgb, template_x, template_x_mask) + self.pos_embed_z

    def input_tokens(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                     template_x: Optional[torch.Tensor] = None,
                     search_x: Optional[torch.Tensor] = None,
                     template_x_mask: Optional[torch.Tensor] = None,
                     search_x_mask: Optional[torch.Tensor] = None,
                     template_tokens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, Nz + Nx, D) tokens ``[template | search]`` entering block 0.

        ``template_tokens`` (B, Nz, D) from :meth:`embed_template` replace the template crops,
        which may then be None.

        Raises:
            ValueError: if neither template crops nor template tokens are given.
        """
        if template_tokens is not None:
            z = template_tokens
        elif template_rgb is not None:
            z = self.embed_template(template_rgb, template_x, template_x_mask)
        else:
            raise ValueError('give the template crops (template_rgb) or template_tokens')
        x = self.embed(search_rgb, search_x, search_x_mask) + self.pos_embed_x
        return torch.cat([z, x], dim=1)

    def run_blocks(self, tokens: torch.Tensor, start: int = 0,
                   end: Optional[int] = None, features: Optional[list] = None) -> torch.Tensor:
        """Apply blocks ``start .. end-1`` to (B, N, D) tokens (no final norm); each block's
        output is appended to ``features`` when given."""
        for block in self.blocks[start:end]:
            tokens = block(tokens)
            if features is not None:
                features.append(tokens)
        return tokens

    @property
    def ce_active(self) -> bool:
        """True when candidate elimination drops tokens (a CE block and a ratio below 1)."""
        return bool(self.ce_loc) and self.ce_keep_ratio < 1.0

    def encode_blocks(self, tokens: torch.Tensor, start: int = 0,
                      features: Optional[list] = None) -> torch.Tensor:
        """Blocks ``start..`` and the final norm on (B, Nz + Nx, D) tokens, with candidate
        elimination when :attr:`ce_active` (then the dropped search tokens come back as zeros
        after the norm, OSTrack's layout).

        Raises:
            ValueError: CE with ``features`` (feature distillation needs every token).
        """
        if not self.ce_active:
            return self.norm(self.run_blocks(tokens, start, features=features))
        if features is not None:
            raise ValueError('candidate elimination drops tokens: it cannot run with '
                             'keep_features (feature distillation); set ce_keep_ratio 1')
        nz, nx = self.grid_z ** 2, tokens.shape[1] - self.grid_z ** 2
        index = torch.arange(nx, device=tokens.device).expand(tokens.shape[0], -1)
        center = template_center_index(self.grid_z)
        for i, block in enumerate(self.blocks):
            if i < start:
                continue
            if i in self.ce_loc:
                tokens, index = ce_block(block, tokens, index, nz, center, self.ce_keep_ratio)
            else:
                tokens = block(tokens)
        return restore_tokens(self.norm(tokens), index, nz, nx)

    def forward(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                template_x: Optional[torch.Tensor] = None,
                search_x: Optional[torch.Tensor] = None,
                template_x_mask: Optional[torch.Tensor] = None,
                search_x_mask: Optional[torch.Tensor] = None,
                template_tokens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return (B, Nz + Nx, D) normalised ``[template | search]`` output tokens.

        See :meth:`input_tokens` for the arguments and errors.
        """
        tokens = self.input_tokens(template_rgb, search_rgb, template_x, search_x,
                                   template_x_mask, search_x_mask, template_tokens)
        return self.encode_blocks(tokens)


class RgbxViT(TrackerNet):
    """The OneTrackerV2 tracker network: :class:`Backbone` + a token center head.

    Args:
        template_size: template crop side (pixels); 2x the target size per OSTrack.
        search_size: search crop side (pixels); 4x the target size.
        head_channels: width of the center head's first conv.
        corr_head: correlation channels in the center head
            (:class:`~rgbx_tracker_ros.models.layers.TokenCenterHead`); used by the variants on a
            pretrained backbone, whose frozen features were never trained to compare template
            and search.
        **backbone_args: see :class:`Backbone` (``missing_x`` picks the RGB-only path;
            ``ce_loc`` / ``ce_keep_ratio`` turn on candidate elimination, an inference option
            that keeps the weights).
        moe: Dual MoE FFNs (OneTrackerV2); False = plain dense timm ``Mlp`` FFNs, no routers and
            no auxiliary terms (the distilled CPU students, whose budget the experts' extra
            matmuls do not fit).

    Forward:
        template_rgb (B, 3, Ht, Wt), search_rgb (B, 3, Hs, Ws): ImageNet-normalised crops.
        template_x, search_x: the X crops (same shapes) or None when X is missing for the batch.
        template_x_mask, search_x_mask: optional (B,) 1/0 per sample, 0 = X missing.
        template_tokens: optional (B, Nz, D) from :meth:`encode_template`, used instead of the
            template crops (template_rgb may then be None).
        modality: optional (B,) int64 modality labels (training: the router-cluster loss).

    Returns:
        :class:`TrackerOutput` with maps of side ``search_size / patch_size``; in train mode
        ``aux`` holds 'dis' (cos^2 of the T- and M-MoE outputs), 'balance' (Switch load
        balance of both routers) and, given ``modality``, 'cluster' (the router-cluster loss),
        each computed per block and averaged over the blocks.
    """

    def __init__(self, template_size: int = 112, search_size: int = 224, patch_size: int = 16,
                 embed_dim: int = 192, depth: int = 6, num_heads: int = 3,
                 mlp_ratio: float = 4.0, num_t_experts: int = 4, num_m_experts: int = 4,
                 top_k: int = 2, expert_rank: int = 48, head_channels: int = 128,
                 drop_path_rate: float = 0.0, init_values: Optional[float] = None,
                 x_blend: float = 0.0, corr_head: bool = False,
                 missing_x: str = 'mask', ce_loc: Sequence[int] = (),
                 ce_keep_ratio: float = 1.0, moe: bool = True) -> None:
        super().__init__(template_size, search_size)
        self.backbone = Backbone(template_size, search_size, patch_size, embed_dim, depth,
                                 num_heads, mlp_ratio, num_t_experts, num_m_experts, top_k,
                                 expert_rank, drop_path_rate, init_values, x_blend, missing_x,
                                 mlp_layer=DualMoE if moe else Mlp,
                                 ce_loc=ce_loc, ce_keep_ratio=ce_keep_ratio)
        self.add_head(head_channels, corr_head)

    def encode_template(self, template_rgb: torch.Tensor,
                        template_x: Optional[torch.Tensor] = None,
                        template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, Ht, Wt) template crops (X optional) -> (B, Nz, D) template tokens.

        The patch embedding, Meta Merger and position table of the template do not change
        while a target is tracked: compute them once and pass ``template_tokens`` to
        :meth:`forward`. The result is the same as giving the crops every frame.
        """
        return self.backbone.embed_template(template_rgb, template_x, template_x_mask)

    def forward(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                template_x: Optional[torch.Tensor] = None,
                search_x: Optional[torch.Tensor] = None,
                template_x_mask: Optional[torch.Tensor] = None,
                search_x_mask: Optional[torch.Tensor] = None,
                template_tokens: Optional[torch.Tensor] = None,
                modality: Optional[torch.Tensor] = None) -> TrackerOutput:
        tokens = self.backbone.input_tokens(template_rgb, search_rgb, template_x, search_x,
                                            template_x_mask, search_x_mask, template_tokens)
        return self.forward_from(tokens, 0, modality)

    def forward_from(self, tokens: torch.Tensor, start: int,
                     modality: Optional[torch.Tensor] = None) -> TrackerOutput:
        """Finish a forward pass from (B, Nz + Nx, D) tokens entering block ``start``.

        ``forward(...)`` equals ``forward_from(run_blocks(input_tokens(...), 0, start), start)``;
        training with a frozen prefix caches the tokens once and trains the rest on them.
        """
        features = [] if self.keep_features else None
        tokens = self.backbone.encode_blocks(tokens, start, features=features)
        out = self.head(tokens, modality, start)
        out.features = features
        return out

    def head(self, tokens: torch.Tensor, modality: Optional[torch.Tensor] = None,
             start: int = 0) -> TrackerOutput:
        """(B, Nz + Nx, D) normalised output tokens -> :class:`TrackerOutput`."""
        nz = self.backbone.grid_z ** 2
        score, size, offset = self.box_head.from_tokens(tokens[:, :nz], tokens[:, nz:])
        return TrackerOutput(score, size, offset, self._collect_aux(modality, start))

    def _collect_aux(self, modality: Optional[torch.Tensor], start: int = 0
                     ) -> Dict[str, torch.Tensor]:
        """Per-block Dual MoE terms of the blocks that ran (from ``start``), averaged."""
        if not self.training:
            return {}
        auxes = [blk.mlp.aux for blk in self.backbone.blocks[start:]
                 if getattr(blk.mlp, 'aux', None)]
        if not auxes:
            return {}
        terms = {'dis': torch.stack([a['dis'] for a in auxes]).mean(),
                 'balance': torch.stack([a['balance'] for a in auxes]).mean()}
        if modality is not None:
            # expert i of one block is unrelated to expert i of another: cluster per block
            terms['cluster'] = torch.stack([router_cluster_loss(a['m_route'], modality)
                                            for a in auxes]).mean()
        return terms


def _variant(name: str, build: bool, defaults: dict, overrides: dict):
    """Build the model, or (build=False) return its full constructor arguments."""
    return make_variant(RgbxViT, build, defaults, overrides)


# --- registered variants: each only fills constructor arguments -------------------------------
# Paper sizes (OneTrackerV2 B224/B384/L224/L384): template 2x -> 112/192, search 4x -> 224/384.

@register_variant(family='onetracker', base='ViT-B/16 (MAE / OSTrack init)')
def b224(build: bool = True, **kw):
    """ViT-B width (768, 12 blocks, 12 heads), search 224 / template 112."""
    return _variant('b224', build, dict(embed_dim=768, depth=12, num_heads=12, expert_rank=64,
                                        head_channels=256), kw)


@register_variant(family='onetracker', base='ViT-B/16 (MAE / OSTrack init)')
def b384(build: bool = True, **kw):
    """ViT-B width, search 384 / template 192."""
    return _variant('b384', build, dict(embed_dim=768, depth=12, num_heads=12, expert_rank=64,
                                        head_channels=256, template_size=192,
                                        search_size=384), kw)


@register_variant(family='onetracker', base='ViT-L/16')
def l224(build: bool = True, **kw):
    """ViT-L width (1024, 24 blocks, 16 heads), search 224 / template 112."""
    return _variant('l224', build, dict(embed_dim=1024, depth=24, num_heads=16, expert_rank=64,
                                        head_channels=256), kw)


@register_variant(family='onetracker', base='ViT-L/16')
def l384(build: bool = True, **kw):
    """ViT-L width, search 384 / template 192."""
    return _variant('l384', build, dict(embed_dim=1024, depth=24, num_heads=16, expert_rank=64,
                                        head_channels=256, template_size=192,
                                        search_size=384), kw)


@register_variant(family='onetracker', base='ViT-S/16 from scratch')
def s224(build: bool = True, **kw):
    """CPU variant: ViT-S width (384, 8 blocks, 6 heads), search 224 / template 112."""
    return _variant('s224', build, dict(embed_dim=384, depth=8, num_heads=6, expert_rank=64,
                                        head_channels=192), kw)


@register_variant(family='onetracker', base='ViT-Ti/16 from scratch')
def t224(build: bool = True, **kw):
    """CPU variant: ViT-Ti width (192, 6 blocks, 3 heads), search 224 / template 112."""
    return _variant('t224', build, dict(embed_dim=192, depth=6, num_heads=3, expert_rank=48,
                                        head_channels=128), kw)


# --- variants on the pretrained DINOv2 ViT-S/14 (rgbx-weights fetch dinov2_vits14) ------------
# ViT-S/14: width 384, 6 heads, layer scale, patch 14; template 112 px = 8x8 tokens, search
# 224 px = 16x16; positions resampled from DINOv2's 37x37 table when the backbone is loaded.
_S14 = dict(patch_size=14, embed_dim=384, num_heads=6, init_values=1e-5, x_blend=0.5,
            corr_head=True, expert_rank=32, head_channels=192)


@register_variant(family='onetracker', base='DINOv2 ViT-S/14')
def s14_224(build: bool = True, **kw):
    """DINOv2 ViT-S/14 (12 blocks), search 224 / template 112, correlation center head."""
    return _variant('s14_224', build, dict(_S14, depth=12), kw)


@register_variant(family='onetracker', base='DINOv2 ViT-S/14 (8 blocks)')
def s14_224_d8(build: bool = True, **kw):
    """DINOv2 ViT-S/14 truncated to its first 8 blocks (CPU speed), search 224 / template 112."""
    return _variant('s14_224_d8', build, dict(_S14, depth=8), kw)


#: the CPU students (the real-time issue): ViT-Ti width, dense FFNs, layer scale and the
#: correlation head of the DINOv2 variants, at their teacher's crops; only the depth differs.
_STUDENT = dict(embed_dim=192, num_heads=3, init_values=1e-5, x_blend=0.5, corr_head=True,
                expert_rank=16, head_channels=64, moe=False)


@register_variant(family='onetracker', base='ViT-Ti/16, distilled from s14_224_d8 (CPU student)')
def t224_student(build: bool = True, **kw):
    """CPU student sized for 60 FPS on two cores (the real-time issue): ViT-Ti width (192,
    3 heads), 4 blocks with dense FFNs (no Dual MoE), patch 16 (7x7 template + 14x14 search
    tokens), layer scale and the correlation head of the DINOv2 variants; search 224 / template
    112, the crops of its teacher ``s14_224_d8``. Trained with ``rgbx-train --distill-from``
    and ``--student-init teacher:...`` (deep-to-shallow blocks, weight selection of the
    teacher's first 192 channels)."""
    return _variant('t224_student', build, dict(_STUDENT, depth=4), kw)


@register_variant(family='onetracker', base='ViT-Ti/16, distilled from s14_224_d8 (CPU student)')
def t224_student3(build: bool = True, **kw):
    """The 3-block CPU student (the real-time issue's node target): ``t224_student`` with its
    last block removed (width 192, 3 heads, dense FFNs, patch 16, search 224 / template 112,
    correlation head), about 80 % of its per-frame cost. Initialised from ``t224_student.pt``
    (``--init``: blocks 0-2, every tensor outside the blocks) and distilled again from
    ``s14_224_d8`` (``make train-student3``)."""
    return _variant('t224_student3', build, dict(_STUDENT, depth=3), kw)


@register_variant(family='onetracker', base='test (random)')
def test_s14(build: bool = True, **kw):
    """Test-only ViT-S/14-shaped variant (width 48, 2 blocks, layer scale, blend merger,
    correlation head), search 112 / template 56; random weights."""
    return _variant('test_s14', build, dict(_S14, embed_dim=48, depth=2, num_heads=2,
                                            expert_rank=8, num_t_experts=2, num_m_experts=2,
                                            top_k=1, head_channels=32, template_size=56,
                                            search_size=112), kw)


@register_variant(family='onetracker', base='test (random)')
def test_tiny(build: bool = True, **kw):
    """Test-only variant: width 64, 2 blocks, search 128 / template 64; random weights."""
    return _variant('test_tiny', build, dict(embed_dim=64, depth=2, num_heads=2, expert_rank=16,
                                             num_t_experts=2, num_m_experts=2, top_k=1,
                                             head_channels=32, template_size=64,
                                             search_size=128), kw)
