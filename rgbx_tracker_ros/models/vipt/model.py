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

"""ViPT: visual prompt multi-modal tracking (Zhu et al., CVPR 2023), one stream.

Follows trackers.md 3.1 (``jiawen-zhu/ViPT: lib/models/vipt/vit_ce_prompt.py, ostrack_prompt.py``).
The frozen OSTrack ViT runs once, on the RGB tokens ``[template | search]``; the X crops only
feed prompts. For each crop (template and search separately, as 2-D maps):

1. RGB patch tokens ``r = patch_embed(rgb)``, X patch tokens ``e = patch_embed_prompt(x)``
   (its own patch embedding; X missing -> the RGB crop is fed to it, per sample);
2. layer 0: ``p_0 = prompt_blocks[0](N_0(r), N_0(e))`` with ``N_i = prompt_norms[i]``; the
   tokens entering block 0 are ``r + p_0 + pos_embed_{z|x}`` (the prompt is added BEFORE the
   position table);
3. 'vipt_deep', before every block i >= 1: ``p_i = prompt_blocks[i](N_{i-1}(t), N_i(p_{i-1}))``
   on the running tokens ``t`` of that crop, and ``t <- t + p_i``;
4. final norm, the search tokens -> OSTrack center head.

So 'vipt_deep' has ``depth`` prompt blocks and ``depth`` prompt norms (norm i is used on the
previous prompt at layer i and on the running tokens at layer i + 1); 'vipt_shaw' has one of
each (layer 0 only). State-dict names are the release's (OSTrack keys +
``backbone.patch_embed_prompt.proj``, ``backbone.prompt_blocks.{i}.{conv0_0, conv0_1, conv1x1,
fovea.smooth}``, ``backbone.prompt_norms.{i}``), so an OSTrack ``net`` loads with only the
prompt keys missing and a ViPT release loads with nothing missing.

Not implemented: candidate elimination (the release runs CE with keep ratio 0.7 at blocks 3,
6, 9, trackers.md 1.4); all search tokens are kept, which is the release's network at keep
ratio 1.0.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from timm.layers import PatchEmbed
from torch import nn

from ...core.model_api import TrackerOutput
from ..layers import ViTBase, init_vit_weights, map_to_tokens, tokens_to_map
from ..layers.net import TrackerNet
from ..layers.bases import B256, B256_NAME, S14, S14_NAME, make_variant
from ..layers.two_stream import x_or_rgb
from ..registry import register_variant
from .prompt import PromptBlock

__all__ = ['PROMPT_TYPES', 'PromptViT', 'ViPT']

#: 'vipt_deep': a prompt block before every ViT block; 'vipt_shaw': before block 0 only
PROMPT_TYPES = ('vipt_deep', 'vipt_shaw')


class PromptViT(ViTBase):
    """The OSTrack ViT (:class:`~..layers.vit.ViTBase`) with ViPT's X patch embedding and prompts.

    Args:
        template_size, search_size, patch_size, embed_dim, depth, num_heads, mlp_ratio,
            drop_path_rate, init_values: the ViT (see :class:`~..layers.vit.ViTBase`).
        prompt_type: 'vipt_deep' (``depth`` prompt blocks and norms) or 'vipt_shaw' (one).
        hide_channels: prompt-block bottleneck width (ViPT: 8).
        smooth: initial Fovea temperature (ViPT: 10).

    The template state (:meth:`template_state`, (B, 2 Nz, D)) is ``[t_0 | p_0]``: the template
    tokens entering block 0 (RGB + layer-0 prompt + ``pos_embed_z``) and the template's layer-0
    prompt that the layer-1 prompt reads. Both depend on the template crop alone (the layer-0
    prompt sees each crop separately); every deeper prompt depends on the running tokens, which
    attention mixes with the search region, so nothing deeper can be cached.

    Raises:
        ValueError: an unknown ``prompt_type`` (and see :class:`~..layers.vit.ViTBase`).
    """

    def __init__(self, template_size: int, search_size: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, init_values: Optional[float] = None,
                 prompt_type: str = 'vipt_deep', hide_channels: int = 8,
                 smooth: float = 10.0) -> None:
        if prompt_type not in PROMPT_TYPES:
            raise ValueError(f'prompt_type must be one of {PROMPT_TYPES}, got {prompt_type!r}')
        super().__init__(template_size, search_size, patch_size, embed_dim, depth, num_heads,
                         mlp_ratio, drop_path_rate, init_values)
        self.prompt_type = prompt_type
        self.patch_embed_prompt = PatchEmbed(img_size=None, patch_size=patch_size, in_chans=3,
                                             embed_dim=embed_dim, strict_img_size=False)
        count = depth if prompt_type == 'vipt_deep' else 1
        self.prompt_blocks = nn.ModuleList(PromptBlock(embed_dim, hide_channels, smooth)
                                           for _ in range(count))
        self.prompt_norms = nn.ModuleList(nn.LayerNorm(embed_dim, eps=1e-6)
                                          for _ in range(count))
        self.apply(init_vit_weights)           # Linear / LayerNorm only: the convs keep theirs

    @property
    def deep(self) -> bool:
        """True for 'vipt_deep' (a prompt before every block)."""
        return self.prompt_type == 'vipt_deep'

    def _prompt(self, i: int, rgb: torch.Tensor, prompt: torch.Tensor, grid: int
                ) -> torch.Tensor:
        """Prompt block ``i`` on already-normalised (B, grid^2, D) tokens -> (B, grid^2, D)."""
        return map_to_tokens(self.prompt_blocks[i](tokens_to_map(rgb, grid),
                                                   tokens_to_map(prompt, grid)))

    def crop_state(self, rgb: torch.Tensor, x: Optional[torch.Tensor],
                   x_mask: Optional[torch.Tensor], pos: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """One crop through the patch embeddings and the layer-0 prompt.

        Args:
            rgb: (B, 3, H, W) crops; x: (B, 3, H, W) X crops or None (missing: RGB is used).
            x_mask: optional (B,) 1 = X present, 0 = missing (the RGB crop is used instead).
            pos: (1, N, D) position table of the crop (``pos_embed_z`` / ``pos_embed_x``).

        Returns:
            ``(t_0, p_0)``, both (B, N, D): tokens entering block 0 and the layer-0 prompt.
        """
        tokens = self.patch_embed(rgb)
        side = rgb.shape[-1] // self.patch_size
        x_tokens = self.patch_embed_prompt(x_or_rgb(rgb, x, x_mask))
        norm = self.prompt_norms[0]
        prompt = self._prompt(0, norm(tokens), norm(x_tokens), side)
        return tokens + prompt + pos, prompt

    def template_state(self, template_rgb: torch.Tensor,
                       template_x: Optional[torch.Tensor] = None,
                       template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, T, T) template crops -> (B, 2 Nz, D) ``[t_0 | p_0]`` (see the class doc)."""
        z, pz = self.crop_state(template_rgb, template_x, template_x_mask, self.pos_embed_z)
        return torch.cat([z, pz], dim=1)

    def forward(self, template: torch.Tensor, search_rgb: torch.Tensor,
                search_x: Optional[torch.Tensor] = None,
                search_x_mask: Optional[torch.Tensor] = None,
                features: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        """Run the prompted ViT.

        Args:
            template: (B, 2 Nz, D) from :meth:`template_state`.
            search_rgb, search_x, search_x_mask: the search crops (B, 3, S, S) (X optional).
            features: when given, each block's (B, Nz + Nx, D) output is appended (before the
                final norm).

        Returns:
            (B, Nz + Nx, D) normalised ``[template | search]`` output tokens.
        """
        nz = self.num_template_tokens
        x, px = self.crop_state(search_rgb, search_x, search_x_mask, self.pos_embed_x)
        tokens, pz = torch.cat([template[:, :nz], x], dim=1), template[:, nz:]
        for i, block in enumerate(self.blocks):
            if i >= 1 and self.deep:
                cur = self.prompt_norms[i - 1](tokens)
                prev = self.prompt_norms[i]
                pz = self._prompt(i, cur[:, :nz], prev(pz), self.grid_z)
                px = self._prompt(i, cur[:, nz:], prev(px), self.grid_x)
                tokens = tokens + torch.cat([pz, px], dim=1)
            tokens = block(tokens)
            if features is not None:
                features.append(tokens)
        return self.norm(tokens)


class ViPT(TrackerNet):
    """The ViPT tracker network: :class:`PromptViT` + the OSTrack center head.

    Args:
        template_size, search_size: crop sides (pixels): 128 / 256 on the OSTrack-256 base,
            112 / 224 on our DINOv2 ViT-S/14 base.
        patch_size, embed_dim, depth, num_heads, mlp_ratio, drop_path_rate, init_values: the
            ViT (see :class:`~..layers.vit.ViTBase`).
        head_channels: first conv width of the center head (OSTrack 256).
        corr_head: correlation channels in the head (see
            :class:`~..layers.center_head.TokenCenterHead`); True on the DINOv2 base.
        prompt_type, hide_channels, smooth: the prompts (see :class:`PromptViT`).

    Forward:
        template_rgb (B, 3, T, T), search_rgb (B, 3, S, S): ImageNet-normalised crops.
        template_x, search_x: X crops of the same shapes, or None (missing: the RGB crop is fed
            to ``patch_embed_prompt``).
        template_x_mask, search_x_mask: optional (B,) 1/0, 0 = X missing for that sample.
        template_tokens: optional (B, 2 Nz, D) from :meth:`encode_template` (template crops may
            then be None); a batch of 1 is broadcast to the search batch.
        modality: accepted for the common signature; ViPT has no label-dependent loss.

    Returns:
        :class:`~rgbx_tracker_ros.core.model_api.TrackerOutput` with maps of side
        ``search_size / patch_size``, ``aux`` always empty (ViPT has no auxiliary loss) and,
        when ``keep_features`` is set, ``features`` = the per-block (B, Nz + Nx, D) tokens.

    Raises:
        ValueError: neither template crops nor template tokens, or template tokens of the
            wrong shape (e.g. cached by another family).
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, head_channels: int = 256,
                 corr_head: bool = False, prompt_type: str = 'vipt_deep',
                 hide_channels: int = 8, smooth: float = 10.0) -> None:
        super().__init__(template_size, search_size)
        self.backbone = PromptViT(template_size, search_size, patch_size, embed_dim, depth,
                                  num_heads, mlp_ratio, drop_path_rate, init_values,
                                  prompt_type, hide_channels, smooth)
        self.add_head(head_channels, corr_head)

    def encode_template(self, template_rgb: torch.Tensor,
                        template_x: Optional[torch.Tensor] = None,
                        template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, T, T) template crops (X optional) -> (B, 2 Nz, D) template state.

        ``[template tokens entering block 0 | template layer-0 prompt]``: what depends on the
        template alone (:meth:`PromptViT.template_state`). Passing it as ``template_tokens``
        gives the same output as passing the crops every frame.
        """
        return self.backbone.template_state(template_rgb, template_x, template_x_mask)

    def forward(self, template_rgb: Optional[torch.Tensor], search_rgb: torch.Tensor,
                template_x: Optional[torch.Tensor] = None,
                search_x: Optional[torch.Tensor] = None,
                template_x_mask: Optional[torch.Tensor] = None,
                search_x_mask: Optional[torch.Tensor] = None,
                template_tokens: Optional[torch.Tensor] = None,
                modality: Optional[torch.Tensor] = None) -> TrackerOutput:
        bb = self.backbone
        if template_tokens is None:
            if template_rgb is None:
                raise ValueError('give the template crops (template_rgb) or template_tokens')
            template_tokens = self.encode_template(template_rgb, template_x, template_x_mask)
        expected = (2 * bb.num_template_tokens, bb.embed_dim)
        if template_tokens.dim() != 3 or tuple(template_tokens.shape[1:]) != expected:
            raise ValueError(f'template_tokens must be (B, {expected[0]}, {expected[1]}) from '
                             f'ViPT.encode_template, got {tuple(template_tokens.shape)}')
        b = search_rgb.shape[0]
        if template_tokens.shape[0] != b:
            template_tokens = template_tokens.expand(b, -1, -1)
        features: Optional[List[torch.Tensor]] = [] if self.keep_features else None
        tokens = bb(template_tokens, search_rgb, search_x, search_x_mask, features)
        nz = bb.num_template_tokens
        score, size, offset = self.box_head.from_tokens(tokens[:, :nz], tokens[:, nz:])
        return TrackerOutput(score, size, offset, {}, features)


# --- registered variants: each only fills constructor arguments -------------------------------

@register_variant(family='vipt', base=B256_NAME)
def vipt_b256(build: bool = True, **kw):
    """ViPT-deep on OSTrack ViT-B/16 256/128 (the authors' release structure and names)."""
    return make_variant(ViPT, build, dict(B256, prompt_type='vipt_deep'), kw)


@register_variant(family='vipt', base=S14_NAME)
def vipt_s14(build: bool = True, **kw):
    """ViPT-deep prompts on our DINOv2 ViT-S/14 d8 RGB tracker (224/112, correlation head)."""
    return make_variant(ViPT, build, dict(S14, prompt_type='vipt_deep'), kw)


@register_variant(family='vipt', base='test (random)')
def test_vipt(build: bool = True, **kw):
    """Test-only ViPT-deep: width 64, 3 blocks, search 128 / template 64; random weights."""
    return make_variant(ViPT, build, dict(template_size=64, search_size=128, patch_size=16,
                                          embed_dim=64, depth=3, num_heads=2,
                                          head_channels=32), kw)
