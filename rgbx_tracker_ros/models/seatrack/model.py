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

"""SEATrack (CVPR 2026, arXiv 2604.12502): AMG-LoRA + HMoE on a frozen dual-stream ViT.

Follows trackers.md section 3.4 (code ``AutoLab-SAI-SJTU/SEATrack``: ``lib/models/seatrack/
vit_ci.py``, ``lib/models/layers/attn_blocks.py`` ``CEBlock_AP``, ``lib/models/layers/attn.py``),
on the :class:`~..layers.two_stream.TwoStreamTracker` skeleton: RGB tokens ``x`` and X tokens
``xi`` through the same frozen OSTrack ViT (shared patch embedding and position tables), the two
streams' search tokens fused after the final norm (``x + xi``) into the frozen center head.

In each adapted block i (default {1, 3, 5, 7, 9, 11} that exist for the depth):

- **AMG-LoRA**: ``attn.qkv`` is a :class:`~.lora.LoRAQKV` (rank 8 on K and V, shared by both
  streams). Both streams' pre-softmax logits ``A = q k^T * scale`` (B, H, N, N) are computed,
  then mutually guided (:func:`mutual_guidance`)::

      A_rgb' = A_rgb + dte2r_scaling * (A_x - A_rgb)
      A_x'   = A_x   + r2dte_scaling * (A_rgb - A_x)

  (both scalars start at 1.0, so at initialisation each stream attends with the *other*
  stream's logits and its own values); softmax, @ V, proj, residual.
- **HMoE** (:class:`~.hmoe.HMoE`): after the attention residual, ``attn_moe`` (4 experts) mixes
  ``[x templates | xi templates]`` and, in a second call, ``[x searches | xi searches]``; the
  output is split back and added to both streams. After the FFN residual ``ffn_moe`` (8
  experts) does the same.

Other blocks run plain per-stream attention and FFN. No auxiliary losses. Trainable (the
release's rule): parameter names containing 'moe', 'scaling' or 'lora' — 0.636 M for ViT-B/256.

Inference merges LoRA into qkv once (``eval()`` or :meth:`SEATrack.merge_lora`; see
:mod:`.lora` for why it can never merge twice).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..layers.bases import B256, B256_NAME, S14, S14_NAME, make_variant
from ..layers.two_stream import PairContext, TwoStreamBlock, TwoStreamTracker
from ..registry import register_variant
from .hmoe import HMoE
from .lora import LoRAQKV

__all__ = ['RELEASE_BLOCKS', 'SEATrack', 'SEATrackBlock', 'default_blocks', 'mutual_guidance']

#: the release's adapted blocks (``lora_layers`` = ``moe_layers``, 0-based, ViT-B depth 12)
RELEASE_BLOCKS = (1, 3, 5, 7, 9, 11)

Scalar = Union[torch.Tensor, float]


def mutual_guidance(logits_rgb: torch.Tensor, logits_x: torch.Tensor, s_x2rgb: Scalar,
                    s_rgb2x: Scalar) -> Tuple[torch.Tensor, torch.Tensor]:
    """AMG on pre-softmax attention logits (CFG-style interpolation / extrapolation).

    Args:
        logits_rgb, logits_x: (..., N, N) logits of the RGB and X streams.
        s_x2rgb: guidance of RGB by X (the release's ``dte2r_scaling``).
        s_rgb2x: guidance of X by RGB (``r2dte_scaling``).

    Returns:
        ``(A_rgb + s_x2rgb (A_x - A_rgb), A_x + s_rgb2x (A_rgb - A_x))``.
    """
    return (logits_rgb + s_x2rgb * (logits_x - logits_rgb),
            logits_x + s_rgb2x * (logits_rgb - logits_x))


def default_blocks(depth: int) -> Tuple[int, ...]:
    """The release's adapted blocks that exist in a ViT of ``depth`` blocks (S14 d8: 1, 3, 5,
    7)."""
    return tuple(i for i in RELEASE_BLOCKS if i < depth)


def _block_set(blocks: Optional[Iterable[int]], depth: int, name: str) -> Tuple[int, ...]:
    if blocks is None:
        return default_blocks(depth)
    out = tuple(sorted({int(i) for i in blocks}))
    bad = [i for i in out if not 0 <= i < depth]
    if bad:
        raise ValueError(f'{name}: blocks {bad} do not exist in a ViT of depth {depth}')
    return out


class SEATrackBlock(TwoStreamBlock):
    """A two-stream ViT block with SEATrack's optional AMG-LoRA attention and HMoE mixers.

    Args:
        dim, num_heads, mlp_ratio, **kwargs: the timm ``Block``.
        amg: this block carries AMG-LoRA (LoRA'd qkv + ``r2dte_scaling`` / ``dte2r_scaling``).
        moe: this block carries ``attn_moe`` and ``ffn_moe``.
        lora_rank, lora_dropout: the LoRA (8, 0.1).
        attn_experts, ffn_experts, slots, moe_hidden, moe_dropout: the HMoEs (4, 8, 2, 4, 0.1).

    ``forward_pair(x, xi, ctx)``: (B, Nz + Nx, D) RGB and X tokens -> the same after the block.

    Raises:
        ValueError: an AMG block on a gated timm attention (not supported), or a width that
            the slots do not divide.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *, amg: bool = False,
                 moe: bool = False, lora_rank: int = 8, lora_dropout: float = 0.1,
                 attn_experts: int = 4, ffn_experts: int = 8, slots: int = 2,
                 moe_hidden: int = 4, moe_dropout: float = 0.1, **kwargs) -> None:
        super().__init__(dim, num_heads, mlp_ratio, **kwargs)
        self.amg = bool(amg)
        self.moe = bool(moe)
        if self.amg:
            if getattr(self.attn, 'gate', None) is not None:
                raise ValueError('AMG-LoRA does not support gated attention')
            old = self.attn.qkv
            self.attn.qkv = LoRAQKV(old.in_features, old.out_features, lora_rank,
                                    (False, True, True), lora_dropout, old.bias is not None,
                                    device=old.weight.device, dtype=old.weight.dtype)
            self.r2dte_scaling = nn.Parameter(torch.ones(1))
            self.dte2r_scaling = nn.Parameter(torch.ones(1))
        if self.moe:
            self.attn_moe = HMoE(dim, attn_experts, slots, moe_hidden, moe_dropout)
            self.ffn_moe = HMoE(dim, ffn_experts, slots, moe_hidden, moe_dropout)

    def attention_logits(self, tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, N, D) normed tokens -> pre-softmax logits (B, H, N, N) and values (B, H, N, Dh)."""
        attn = self.attn
        b, n, _ = tokens.shape
        qkv = attn.qkv(tokens).reshape(b, n, 3, attn.num_heads, attn.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        q, k = attn.q_norm(q), attn.k_norm(k)
        return (q @ k.transpose(-2, -1)) * attn.scale, v

    def attend(self, logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Softmax of (B, H, N, N) logits @ (B, H, N, Dh) values -> proj -> (B, N, D)."""
        attn = self.attn
        b, _, n, _ = logits.shape
        out = attn.attn_drop(logits.softmax(dim=-1)) @ values
        out = attn.norm(out.transpose(1, 2).reshape(b, n, attn.attn_dim))
        return attn.proj_drop(attn.proj(out))

    def guided_attention(self, x: torch.Tensor, xi: torch.Tensor
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
        """AMG attention outputs (B, N, D) of both streams (before drop path / layer scale)."""
        a_rgb, v_rgb = self.attention_logits(self.norm1(x))
        a_x, v_x = self.attention_logits(self.norm1(xi))
        g_rgb, g_x = mutual_guidance(a_rgb, a_x, self.dte2r_scaling, self.r2dte_scaling)
        return self.attend(g_rgb, v_rgb), self.attend(g_x, v_x)

    @staticmethod
    def mix(moe: HMoE, x: torch.Tensor, xi: torch.Tensor, nz: int, drop_path: nn.Module
            ) -> Tuple[torch.Tensor, torch.Tensor]:
        """HMoE over ``[x | xi]`` templates, then searches; split back, added to both streams."""
        nx = x.shape[1] - nz
        mz = moe(torch.cat([x[:, :nz], xi[:, :nz]], dim=1))
        ms = moe(torch.cat([x[:, nz:], xi[:, nz:]], dim=1))
        x = x + drop_path(torch.cat([mz[:, :nz], ms[:, :nx]], dim=1))
        xi = xi + drop_path(torch.cat([mz[:, nz:], ms[:, nx:]], dim=1))
        return x, xi

    def forward_pair(self, x: torch.Tensor, xi: torch.Tensor, ctx: PairContext
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.amg:
            o_rgb, o_x = self.guided_attention(x, xi)
            x = x + self.drop_path1(self.ls1(o_rgb))
            xi = xi + self.drop_path1(self.ls1(o_x))
        else:
            x, xi = x + self.attn_branch(x), xi + self.attn_branch(xi)
        if self.moe:
            x, xi = self.mix(self.attn_moe, x, xi, ctx.nz, self.drop_path1)
        x, xi = x + self.mlp_branch(x), xi + self.mlp_branch(xi)
        if self.moe:
            x, xi = self.mix(self.ffn_moe, x, xi, ctx.nz, self.drop_path2)
        return x, xi


class SEATrack(TwoStreamTracker):
    """SEATrack: the two-stream tracker with AMG-LoRA and HMoE blocks (module docstring).

    Args:
        template_size, search_size, patch_size, embed_dim, depth, num_heads, mlp_ratio,
            drop_path_rate, init_values, head_channels, corr_head, fuse: see
            :class:`~..layers.two_stream.TwoStreamTracker` (the release: B256, ``fuse='sum'``).
        lora_blocks: blocks (0-based) with AMG-LoRA; None = :func:`default_blocks` (the release's
            1, 3, 5, 7, 9, 11 that exist).
        moe_blocks: blocks with the two HMoEs; None = the same default.
        lora_rank, lora_dropout: LoRA rank (8) and dropout (0.1) on K and V of qkv.
        attn_experts, ffn_experts: experts of ``attn_moe`` (4) and ``ffn_moe`` (8).
        slots, moe_hidden, moe_dropout: HMoE slots (2; slot width D/2), rank (4), dropout (0.1).

    Forward: as :class:`~..layers.two_stream.TwoStreamTracker`; ``aux`` is always empty.

    Raises:
        ValueError: a block index outside ``range(depth)``, or ``embed_dim`` not divisible by
            ``slots``.
    """

    def __init__(self, template_size: int = 128, search_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, head_channels: int = 256,
                 corr_head: bool = False, fuse: str = 'sum',
                 lora_blocks: Optional[Sequence[int]] = None,
                 moe_blocks: Optional[Sequence[int]] = None, lora_rank: int = 8,
                 lora_dropout: float = 0.1, attn_experts: int = 4, ffn_experts: int = 8,
                 slots: int = 2, moe_hidden: int = 4, moe_dropout: float = 0.1) -> None:
        lora = _block_set(lora_blocks, depth, 'lora_blocks')
        moe = _block_set(moe_blocks, depth, 'moe_blocks')
        if embed_dim % slots:
            raise ValueError(f'embed_dim={embed_dim} is not divisible into {slots} HMoE slots')
        super().__init__(template_size, search_size, patch_size, embed_dim, depth, num_heads,
                         mlp_ratio, drop_path_rate, init_values, head_channels, corr_head, fuse,
                         block_layer=SEATrackBlock, amg=lambda i: i in lora,
                         moe=lambda i: i in moe, lora_rank=lora_rank, lora_dropout=lora_dropout,
                         attn_experts=attn_experts, ffn_experts=ffn_experts, slots=slots,
                         moe_hidden=moe_hidden, moe_dropout=moe_dropout)
        self.lora_blocks = lora
        self.moe_blocks = moe

    def lora_layers(self):
        """The :class:`~.lora.LoRAQKV` layers (one per AMG block)."""
        return [m for m in self.modules() if isinstance(m, LoRAQKV)]

    def merge_lora(self) -> int:
        """Merge every LoRA into its qkv for inference (idempotent; ``eval()`` does it too).
        Returns the number of layers."""
        layers = self.lora_layers()
        for layer in layers:
            layer.merge()
        return len(layers)

    def unmerge_lora(self) -> int:
        """Back to separate LoRA terms (``train()`` does it too). Returns the number of layers."""
        layers = self.lora_layers()
        for layer in layers:
            layer.unmerge()
        return len(layers)


# --- registered variants: each only fills constructor arguments -------------------------------

@register_variant(family='seatrack', base=B256_NAME)
def seatrack_b256(build: bool = True, **kw):
    """SEATrack release structure: OSTrack ViT-B/16 256/128, AMG-LoRA + HMoE at blocks
    1, 3, 5, 7, 9, 11, streams summed (loads the authors' 'net' checkpoints)."""
    return make_variant(SEATrack, build, dict(B256, fuse='sum'), kw)


@register_variant(family='seatrack', base=S14_NAME)
def seatrack_s14(build: bool = True, **kw):
    """SEATrack on our DINOv2 ViT-S/14 d8 RGB tracker: AMG-LoRA + HMoE at blocks 1, 3, 5, 7
    (slot width 192), streams averaged."""
    return make_variant(SEATrack, build, dict(S14, fuse='mean'), kw)


@register_variant(family='seatrack', base='test (random)')
def test_seatrack(build: bool = True, **kw):
    """Test-only SEATrack: width 64, 2 blocks (block 1 adapted), search 128 / template 64."""
    return make_variant(SEATrack, build, dict(template_size=64, search_size=128, patch_size=16,
                                              embed_dim=64, depth=2, num_heads=2,
                                              head_channels=32, fuse='sum'), kw)
