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

"""The MMMP teacher: a two-stream tracker with cross-modal mutual prompt learning.

Follows "From Two-Stream to One-Stream: Efficient RGB-T Tracking via Mutual Prompt Learning and
Knowledge Distillation" (Luo, Guo, Li; arXiv 2403.16834; trackers.md section 3.8, seeds/mmmp_*).
No code was released, so the layout below is our reading of the paper (section 3.2), with the
choices the paper leaves open marked **[ours]**.

Structure (paper eq. 6): both streams run through the same frozen OSTrack ViT
(:class:`~rgbx_tracker_ros.models.layers.two_stream.TwoStreamTracker`). Before every block ``l``
a Multi-Modal Mutual Prompter ``M`` turns the block inputs into one prompt per stream, each
computed from the *other* stream too, and adds it::

    P_rgb^l = M(H_rgb^{l-1}, P_rgb^{l-1}, H_x^{l-1})      H_rgb^l = E^l(H_rgb^{l-1} + P_rgb^l)
    P_x^l   = M(H_x^{l-1},   P_x^{l-1},   H_rgb^{l-1})    H_x^l   = E^l(H_x^{l-1}   + P_x^l)

(block 0 has no previous prompt). One prompter per block serves both directions (the paper writes
one ``M`` and does not single out a dominant modality). Inside ``M`` (paper eqs. 8-16) each of the
three inputs goes through two attentions:

- **token ("spatial") attention**: per-token weights. The channels of each token are pooled (mean
  and max, (B, N) each), both go through the same MLP over the N axis (``g_s1``: N -> N/r, ReLU,
  ``g_s2``: N/r -> N; the paper's 1x1 convs), the two results are summed, and a sigmoid
  **[ours]** gives the (B, N, 1) weights.
- **channel attention** (the paper's "token attention"): per-channel weights. The tokens are
  pooled (mean and max over N, (B, 2, C)), then a width-7 conv (``g_t``: 2 -> 1 channels; the
  paper's 7x7 conv on a 1 x C map is this 1-D conv) and a sigmoid **[ours]** give (B, 1, C).

The own stream's result then passes through ViPT's fovea: a softmax over the tokens with learned
temperature ``smooth`` (init 10), taken separately over the template and the search tokens,
multiplied onto the tokens. The three branches are summed (eq. 16).

**[ours]** As in ViPT's prompter, which the paper extends, ``M`` works at a small hidden width
``c`` (``prompt_hidden``, default 8). Both token inputs go through a shared LayerNorm and their
own down-projection (``down_own``, ``down_other``: D -> c). The summed result is the history
carried to the next block (the paper's "P^{l-1} after the two attentions"). It is projected
back by ``up`` (c -> D), which is **zero-initialised**, so a fresh teacher equals the frozen ViT
on each stream.

**[ours, deviation]** The paper concatenates the two final streams and reduces them with a
trained linear layer before a trained head. We fuse with the skeleton's ``sum`` (B256) or
``mean`` (S14) in front of the frozen head, as in the other parameter-efficient families, so
that only the prompters train (``Family.trainable = ('prompt',)``).

State-dict names of one block's prompter (``backbone.blocks.{i}.prompt.``), shapes for width D,
hidden c, N = Nz + Nx tokens and reduction r:
``norm.{weight,bias}`` (D); ``down_own``/``down_other``: ``weight`` (c, D), ``bias`` (c);
``att_own``/``att_other``/``att_hist`` (no ``att_hist`` in block 0): ``g_s1.weight`` (N/r, N),
``g_s1.bias`` (N/r), ``g_s2.weight`` (N, N/r), ``g_s2.bias`` (N), ``g_t.weight`` (1, 2, 7),
``g_t.bias`` (1); ``fovea.smooth`` (1); ``up.weight`` (D, c), ``up.bias`` (D).
Everything else uses OSTrack's names (trackers.md 1.9), so the base OSTrack / our S14 tracker
loads into it with only the prompters missing.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import torch
from torch import nn

from ..layers.bases import B256, B256_NAME, S14, S14_NAME, make_variant
from ..layers.two_stream import PairContext, TwoStreamBlock, TwoStreamTracker
from ..registry import register_variant

__all__ = ['DualAttention', 'Fovea', 'MMMPTracker', 'MutualPromptBlock', 'MutualPrompter',
           'PromptContext']


class DualAttention(nn.Module):
    """The token ("spatial") and channel attentions of one MMMP branch (paper eqs. 8-15).

    Args:
        num_tokens: N = Nz + Nx, the length of the ``[template | search]`` sequence.
        reduction: r, the bottleneck factor of the MLP over the N axis (N/r hidden units, at
            least 1).
        kernel: width of the channel-attention conv ``g_t`` (odd; the paper's 7).

    Forward: (B, N, C) tokens -> (B, N, C) re-weighted tokens.

    Raises:
        ValueError: an even ``kernel``.
    """

    def __init__(self, num_tokens: int, reduction: int = 16, kernel: int = 7) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f'the channel-attention kernel must be odd, got {kernel}')
        hidden = max(1, num_tokens // reduction)
        self.g_s1 = nn.Linear(num_tokens, hidden)
        self.g_s2 = nn.Linear(hidden, num_tokens)
        self.g_t = nn.Conv1d(2, 1, kernel, padding=kernel // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        def mlp(v: torch.Tensor) -> torch.Tensor:
            return self.g_s2(torch.relu(self.g_s1(v)))

        # token weights from the channel-pooled descriptors (B, N)
        w_tok = torch.sigmoid(mlp(h.mean(dim=2)) + mlp(h.amax(dim=2))).unsqueeze(-1)
        h = h * w_tok
        # channel weights from the token-pooled descriptors (B, 2, C)
        pooled = torch.stack([h.mean(dim=1), h.amax(dim=1)], dim=1)
        return h * torch.sigmoid(self.g_t(pooled))


class Fovea(nn.Module):
    """ViPT's fovea: ``softmax(smooth * h)`` over the tokens, per channel, times ``h``; taken
    separately over the template (first ``num_template_tokens``) and the search tokens.

    Args:
        num_template_tokens: Nz.
        smooth: initial temperature (ViPT: 10).
    """

    def __init__(self, num_template_tokens: int, smooth: float = 10.0) -> None:
        super().__init__()
        self.nz = num_template_tokens
        self.smooth = nn.Parameter(torch.full((1,), float(smooth)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        parts = (h[:, :self.nz], h[:, self.nz:])
        return torch.cat([torch.softmax(p * self.smooth, dim=1) * p for p in parts], dim=1)


class MutualPrompter(nn.Module):
    """One block's Multi-Modal Mutual Prompter ``M(own, previous prompt, other)``.

    Args:
        embed_dim: token width D.
        num_tokens: N = Nz + Nx.
        num_template_tokens: Nz.
        hidden: prompt width c.
        reduction, kernel: see :class:`DualAttention`.
        smooth: initial fovea temperature.
        has_history: whether a previous prompt comes in (False in block 0: no ``att_hist``).

    Forward:
        own, other: (B, N, D) block inputs of this stream and of the other stream.
        history: (B, N, c) hidden prompt of the previous block for this stream, or None.

    Returns:
        the (B, N, D) prompt to add to ``own`` and the (B, N, c) hidden prompt for the next block.
    """

    def __init__(self, embed_dim: int, num_tokens: int, num_template_tokens: int,
                 hidden: int = 8, reduction: int = 16, kernel: int = 7, smooth: float = 10.0,
                 has_history: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.down_own = nn.Linear(embed_dim, hidden)
        self.down_other = nn.Linear(embed_dim, hidden)
        self.att_own = DualAttention(num_tokens, reduction, kernel)
        self.att_other = DualAttention(num_tokens, reduction, kernel)
        self.att_hist = DualAttention(num_tokens, reduction, kernel) if has_history else None
        self.fovea = Fovea(num_template_tokens, smooth)
        self.up = nn.Linear(hidden, embed_dim)
        self.up._keep_init = True        # the skeleton's ViT init must not overwrite the zeros
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, own: torch.Tensor, other: torch.Tensor,
                history: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        hid = self.fovea(self.att_own(self.down_own(self.norm(own))))
        hid = hid + self.att_other(self.down_other(self.norm(other)))
        if history is not None and self.att_hist is not None:
            hid = hid + self.att_hist(history)
        return self.up(hid), hid


@dataclasses.dataclass
class PromptContext(PairContext):
    """:class:`~..layers.two_stream.PairContext` plus the hidden prompts (RGB, X) handed from
    one block to the next."""

    prompts: Optional[Tuple[torch.Tensor, torch.Tensor]] = None


class MutualPromptBlock(TwoStreamBlock):
    """A frozen ViT block with a :class:`MutualPrompter` (``self.prompt``) in front of it.

    Args:
        dim, num_heads, mlp_ratio, **kwargs: the timm ``Block``.
        num_tokens, num_template_tokens, prompt_hidden, prompt_reduction, prompt_kernel,
        fovea_smooth, has_history: see :class:`MutualPrompter`.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *, num_tokens: int,
                 num_template_tokens: int, prompt_hidden: int = 8, prompt_reduction: int = 16,
                 prompt_kernel: int = 7, fovea_smooth: float = 10.0, has_history: bool = True,
                 **kwargs) -> None:
        super().__init__(dim, num_heads, mlp_ratio, **kwargs)
        self.prompt = MutualPrompter(dim, num_tokens, num_template_tokens, prompt_hidden,
                                     prompt_reduction, prompt_kernel, fovea_smooth, has_history)

    def forward_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        hist = getattr(ctx, 'prompts', None)
        p, h = self.prompt(x, xi, None if hist is None else hist[0])
        pi, hi = self.prompt(xi, x, None if hist is None else hist[1])
        if isinstance(ctx, PromptContext):
            ctx.prompts = (h, hi)
        return super().forward_pair(x + p, xi + pi, ctx)


class MMMPTracker(TwoStreamTracker):
    """The MMMP teacher: :class:`~..layers.two_stream.TwoStreamTracker` with a
    :class:`MutualPromptBlock` per block (see the module docstring).

    Args:
        template_size, search_size, patch_size, embed_dim, depth, num_heads, mlp_ratio,
        drop_path_rate, init_values, head_channels, corr_head, fuse: the two-stream skeleton.
        prompt_hidden: prompter width c (ViPT's 8).
        prompt_reduction: r of the token-attention MLP over N.
        prompt_kernel: width of the channel-attention conv (7).
        fovea_smooth: initial fovea temperature (10).

    Forward: as :class:`~..layers.two_stream.TwoStreamTracker`. ``aux`` is always empty (the
    paper trains the teacher with the tracking losses only). With ``keep_features`` set,
    ``TrackerOutput.features`` holds the fused (B, Nz + Nx, D) tokens after each block (the
    feature-distillation targets).

    Raises:
        ValueError: a crop side that is not a multiple of ``patch_size``, an unknown ``fuse``
            or an even ``prompt_kernel``.
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, head_channels: int = 256,
                 corr_head: bool = False, fuse: str = 'sum', prompt_hidden: int = 8,
                 prompt_reduction: int = 16, prompt_kernel: int = 7,
                 fovea_smooth: float = 10.0) -> None:
        nz = (template_size // patch_size) ** 2
        nx = (search_size // patch_size) ** 2
        super().__init__(template_size, search_size, patch_size, embed_dim, depth, num_heads,
                         mlp_ratio, drop_path_rate, init_values, head_channels, corr_head, fuse,
                         block_layer=MutualPromptBlock, num_tokens=nz + nx,
                         num_template_tokens=nz, prompt_hidden=prompt_hidden,
                         prompt_reduction=prompt_reduction, prompt_kernel=prompt_kernel,
                         fovea_smooth=fovea_smooth, has_history=lambda i: i > 0)

    def context(self, modality: Optional[torch.Tensor] = None) -> PromptContext:
        """A fresh :class:`PromptContext` (no prompt before block 0)."""
        base = super().context(modality)
        return PromptContext(**{f.name: getattr(base, f.name)
                                for f in dataclasses.fields(PairContext)})


def _variant(build: bool, defaults: dict, overrides: dict):
    return make_variant(MMMPTracker, build, defaults, overrides)


# --- registered variants: each only fills constructor arguments -------------------------------

@register_variant(family='mmmp', base=B256_NAME)
def mmmp_b256(build: bool = True, **kw):
    """MMMP teacher on OSTrack ViT-B/16 @256 (the paper's setting), streams summed."""
    return _variant(build, dict(B256, fuse='sum', prompt_hidden=8, prompt_reduction=16), kw)


@register_variant(family='mmmp', base=S14_NAME)
def mmmp_s14(build: bool = True, **kw):
    """MMMP teacher on our DINOv2 ViT-S/14 d8 tracker (224 / 112), streams averaged."""
    return _variant(build, dict(S14, fuse='mean', prompt_hidden=8, prompt_reduction=16), kw)


@register_variant(family='mmmp', base='test (random)')
def test_mmmp(build: bool = True, **kw):
    """Test-only MMMP teacher: width 64, 2 blocks, search 128 / template 64; random weights."""
    return _variant(build, dict(template_size=64, search_size=128, patch_size=16, embed_dim=64,
                                depth=2, num_heads=2, head_channels=32, fuse='mean',
                                prompt_hidden=8, prompt_reduction=4), kw)
