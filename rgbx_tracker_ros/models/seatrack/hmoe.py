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

"""SEATrack's HMoE: a Soft-MoE-style global mixer of the two streams' tokens (trackers.md 3.4).

One :class:`HMoE` call takes the concatenated RGB and X tokens of one crop (the templates, or the
searches), N = 2 Nz or 2 Nx tokens of width D:

1. LayerNorm, then a low-rank projection ``linear1`` (D -> 4 -> D, with biases);
2. every token is cut into S = 2 *slots* (sub-tokens) of width D / S (384 for ViT-B);
3. logits = sub-tokens @ ``gate_thi`` (D/S x E*S; column e*S + s = slot s of expert e);
4. **Dispatch** = softmax over the N*S sub-tokens (temperature ``D_temp``); the E*S slot inputs
   are the Dispatch-weighted sums of the sub-tokens;
5. the experts are per-expert low-rank MLPs (D/S -> 4 -> D/S, biases, dropout 0.1) on their S
   slot inputs; each expert's S slot outputs, joined back to width D, pass ``linear2``
   (D -> 4 -> D);
6. **Combine** = softmax over the E experts (temperature ``C_temp``) of each token's logits
   summed over its sub-tokens and the expert's slots; the output of token n is the
   Combine-weighted sum of the E expert outputs. (B, N, D) -> (B, N, D).

State-dict names are the release's: ``norm.{weight,bias}``, ``gate_thi``,
``linear1.{lora_a,lora_b,bias_a,bias_b}``, ``experts.{lora_a,lora_b,bias_a,bias_b}``,
``D_temp``, ``C_temp``, ``linear2.*``. Initialisation follows the release: the low-rank matrices
Xavier-normal with gain sqrt(2), ``gate_thi`` normal with std sqrt(1 / (D/S)), the temperatures
1.0, the projections' biases uniform in +-1/sqrt(in) (the release picks the bound by testing
``'a' in name``, which ``bias_b`` also passes), the experts' biases Xavier-normal like their
matrices. Nothing is zero-initialised: the mixer contributes from the first step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['HMoE', 'LowRankExperts', 'LowRankProjection']

_GAIN = math.sqrt(2.0)


class LowRankProjection(nn.Module):
    """``x @ lora_a + bias_a`` -> dropout -> ``@ lora_b + bias_b`` -> dropout (the release's
    ``LoRP``, no activation).

    Args:
        in_dim, hidden, out_dim: widths (SEATrack D -> 4 -> D).
        dropout: both dropouts (0.1).

    Shapes: (..., in_dim) -> (..., out_dim). Parameters ``lora_a`` (in, hidden), ``lora_b``
    (hidden, out), ``bias_a`` (hidden,), ``bias_b`` (out,).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.lora_a = nn.Parameter(torch.empty(in_dim, hidden))
        self.lora_b = nn.Parameter(torch.empty(hidden, out_dim))
        self.bias_a = nn.Parameter(torch.empty(hidden))
        self.bias_b = nn.Parameter(torch.empty(out_dim))
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)
        nn.init.xavier_normal_(self.lora_a, gain=_GAIN)
        nn.init.xavier_normal_(self.lora_b, gain=_GAIN)
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.bias_a, -bound, bound)
        nn.init.uniform_(self.bias_b, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop1(x @ self.lora_a + self.bias_a)
        return self.drop2(h @ self.lora_b + self.bias_b)


class LowRankExperts(nn.Module):
    """E independent low-rank MLPs d -> hidden -> d with biases (the release's
    ``MultiExpertLinear``), applied to their own slot inputs.

    Args:
        num_experts, dim, hidden: E, d (the slot width D/S), hidden (4).
        dropout: both dropouts (0.1).

    Shapes: (B, E, S, d) -> (B, E, S, d). Parameters ``lora_a`` (E, d, hidden), ``lora_b``
    (E, hidden, d), ``bias_a`` (E, hidden), ``bias_b`` (E, d).
    """

    def __init__(self, num_experts: int, dim: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.lora_a = nn.Parameter(torch.empty(num_experts, dim, hidden))
        self.lora_b = nn.Parameter(torch.empty(num_experts, hidden, dim))
        self.bias_a = nn.Parameter(torch.empty(num_experts, hidden))
        self.bias_b = nn.Parameter(torch.empty(num_experts, dim))
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)
        for p in (self.lora_a, self.lora_b, self.bias_a, self.bias_b):
            nn.init.xavier_normal_(p, gain=_GAIN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop1(torch.matmul(x, self.lora_a) + self.bias_a[:, None])
        return self.drop2(torch.matmul(h, self.lora_b) + self.bias_b[:, None])


class HMoE(nn.Module):
    """The hierarchical soft mixture of experts (module docstring).

    Args:
        dim: token width D.
        num_experts: E (SEATrack: 4 after attention, 8 after the FFN).
        slots: S, sub-tokens per token and slots per expert (2).
        hidden: rank of the low-rank projections and experts (4).
        dropout: dropout of the projections and experts (0.1).

    Forward: (B, N, D) tokens -> (B, N, D) mixer output (added residually by the caller).

    Raises:
        ValueError: ``dim`` not divisible by ``slots``.
    """

    def __init__(self, dim: int, num_experts: int, slots: int = 2, hidden: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if dim % slots:
            raise ValueError(f'HMoE: width {dim} is not divisible into {slots} slots')
        self.num_experts = num_experts
        self.slots = slots
        sub = dim // slots
        self.norm = nn.LayerNorm(dim)
        self.gate_thi = nn.Parameter(torch.empty(sub, num_experts * slots))
        nn.init.normal_(self.gate_thi, mean=0.0, std=math.sqrt(1.0 / sub))
        self.linear1 = LowRankProjection(dim, hidden, dim, dropout)
        self.experts = LowRankExperts(num_experts, sub, hidden, dropout)
        self.D_temp = nn.Parameter(torch.ones(1))
        self.C_temp = nn.Parameter(torch.ones(1))
        self.linear2 = LowRankProjection(dim, hidden, dim, dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, d = tokens.shape
        e, s = self.num_experts, self.slots
        sub = self.linear1(self.norm(tokens)).reshape(b, n * s, d // s)       # (B, N S, D/S)
        logits = sub @ self.gate_thi                                            # (B, N S, E S)
        dispatch = F.softmax(logits / self.D_temp, dim=1)                       # over sub-tokens
        combine = logits.reshape(b, n, s, e, s).sum(dim=(2, 4))                 # (B, N, E)
        combine = F.softmax(combine / self.C_temp, dim=-1)                      # over experts
        slot_in = (dispatch.transpose(1, 2) @ sub).reshape(b, e, s, d // s)     # (B, E, S, D/S)
        expert_out = self.linear2(self.experts(slot_in).reshape(b, e, d))       # (B, E, D)
        return combine @ expert_out                                             # (B, N, D)
