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

"""Dual mixture of experts FFN (OneTrackerV2's Dual MoE, ICML 2026).

Each token x goes through a shared expert, a top-k T-MoE (spatio-temporal matching experts) and a
top-k M-MoE (modality experts); the outputs are summed::

    y = E_shared(x) + sum_{i in topk_T} g_i^T(x) E_i^T(x) + sum_{i in topk_M} g_i^M(x) E_i^M(x)

Routed experts are low rank (D -> r -> D with GELU); gates are a softmax over the experts,
renormalised over the top-k. The shared expert is a plain timm ``Mlp`` whose parameters keep the
``fc1`` / ``fc2`` names of a ViT FFN, so ViT / OSTrack checkpoints load into it unchanged.

Auxiliary terms are left on the module after every forward (``self.aux``):

- ``dis``: mean of cos^2(y^T, y^M) over tokens, the expert-decoupling loss;
- ``balance``: Switch-Transformer load balance ``E * sum_e f_e P_e`` for both routers;
- ``m_route``: (B, E_M) per-sample M-MoE routing: the renormalised top-k gates averaged over the
  sample's tokens (each row sums to 1), for this block's router-cluster loss
  (:func:`router_cluster_loss`).
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import nn


class LowRankExperts(nn.Module):
    """E low-rank expert MLPs mixed by per-token gates: (B, N, D), (B, N, E) -> (B, N, D).

    Each expert is Linear(D -> r) -> GELU -> Linear(r -> D). All down projections run as one
    matmul; because the gated sum is linear in the up projections, the gates scale the hidden units
    and one (E*r -> D) matmul does every up projection. The up projection starts at zero so a fresh
    expert adds nothing to the shared FFN.
    """

    def __init__(self, num_experts: int, dim: int, rank: int) -> None:
        super().__init__()
        self.num_experts, self.rank = num_experts, rank
        self.w_down = nn.Parameter(torch.empty(dim, num_experts * rank))
        self.b_down = nn.Parameter(torch.zeros(num_experts * rank))
        self.w_up = nn.Parameter(torch.zeros(num_experts * rank, dim))
        self.b_up = nn.Parameter(torch.zeros(num_experts, dim))
        nn.init.normal_(self.w_down, std=1.0 / math.sqrt(dim))

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        hidden = F.gelu(x @ self.w_down + self.b_down)
        hidden = hidden.unflatten(-1, (self.num_experts, self.rank)) * gates.unsqueeze(-1)
        return hidden.flatten(-2) @ self.w_up + gates @ self.b_up


def top_k_gates(logits: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Softmax router probabilities and their top-k renormalised sparse gates.

    Args:
        logits: (B, N, E) router logits.
        k: experts kept per token (1 <= k <= E).

    Returns:
        probs (B, N, E) dense softmax and gates (B, N, E) with zeros outside the top-k and the kept
        weights renormalised to sum to one.
    """
    probs = logits.softmax(dim=-1)
    top_val, top_idx = probs.topk(k, dim=-1)
    gates = torch.zeros_like(probs).scatter(-1, top_idx, top_val)
    return probs, gates / gates.sum(-1, keepdim=True).clamp_min(1e-9)


def cos2_dissimilarity(y_t: torch.Tensor, y_m: torch.Tensor) -> torch.Tensor:
    """Mean over tokens of cos^2 between the T-MoE and M-MoE outputs (B, N, D): OneTrackerV2's
    dissimilarity loss, 0 when the two MoEs write orthogonal directions, 1 when parallel."""
    return (F.cosine_similarity(y_t, y_m, dim=-1, eps=1e-6) ** 2).mean()


def switch_balance(probs: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Load-balance loss E * sum_e f_e * P_e (Switch Transformer); 1.0 when perfectly balanced."""
    num_experts = probs.shape[-1]
    frac = (gates > 0).float().flatten(0, -2).mean(0)
    frac = frac / frac.sum().clamp_min(1e-9)
    return num_experts * (frac * probs.flatten(0, -2).mean(0)).sum()


class DualMoE(Mlp):
    """Shared FFN + top-k T-MoE + top-k M-MoE, a drop-in ``mlp_layer`` for timm's ``Block``.

    Args:
        in_features: token width D.
        hidden_features: hidden width of the shared expert (timm passes ``mlp_ratio * D``).
        num_t_experts: experts in the T-MoE.
        num_m_experts: experts in the M-MoE.
        top_k: experts used per token in each MoE.
        expert_rank: rank r of every routed expert.
        **mlp_kwargs: forwarded to timm ``Mlp`` (act_layer, norm_layer, bias, drop, ...).

    Forward: (B, N, D) -> (B, N, D); sets ``self.aux`` (see the module docstring).
    """

    def __init__(self, in_features: int, hidden_features: int = None, num_t_experts: int = 4,
                 num_m_experts: int = 4, top_k: int = 2, expert_rank: int = 32,
                 **mlp_kwargs) -> None:
        super().__init__(in_features, hidden_features, **mlp_kwargs)
        if not 1 <= top_k <= min(num_t_experts, num_m_experts):
            raise ValueError(f'top_k must be in [1, {min(num_t_experts, num_m_experts)}], '
                             f'got {top_k}')
        self.top_k = top_k
        self.t_router = nn.Linear(in_features, num_t_experts)
        self.m_router = nn.Linear(in_features, num_m_experts)
        self.t_experts = LowRankExperts(num_t_experts, in_features, expert_rank)
        self.m_experts = LowRankExperts(num_m_experts, in_features, expert_rank)
        for router in (self.t_router, self.m_router):
            nn.init.normal_(router.weight, std=0.02)
            nn.init.zeros_(router.bias)
        self.aux: Dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = super().forward(x)
        t_probs, t_gates = top_k_gates(self.t_router(x), self.top_k)
        m_probs, m_gates = top_k_gates(self.m_router(x), self.top_k)
        y_t = self.t_experts(x, t_gates)
        y_m = self.m_experts(x, m_gates)
        if self.training:
            self.aux = {
                'dis': cos2_dissimilarity(y_t, y_m),
                'balance': switch_balance(t_probs, t_gates) + switch_balance(m_probs, m_gates),
                'm_route': m_gates.mean(1),
            }
        return shared + y_t + y_m


def router_cluster_loss(m_route: torch.Tensor, modality: torch.Tensor,
                        margin: float = 0.1) -> torch.Tensor:
    """OneTrackerV2's multimodal router cluster loss on per-sample M-MoE routing.

    S_ij = <g_i, g_j> for routing distributions g (B, K). Same-modality pairs are pushed above
    1/K + margin, different-modality pairs below 1/K - margin (hinge, averaged per group); 1/K is
    the similarity of uniform routing. (The seed summary writes the second bound as delta - 1/K,
    which is negative for usual K; we centre both bounds on 1/K.)
    """
    k = m_route.shape[1]
    sim = m_route @ m_route.t()
    same = modality[:, None].eq(modality[None, :])
    off_diag = ~torch.eye(len(modality), dtype=torch.bool, device=sim.device)
    loss = sim.new_zeros(())
    pos, neg = same & off_diag, ~same
    if pos.any():
        loss = loss + torch.relu(1.0 / k + margin - sim[pos]).mean()
    if neg.any():
        loss = loss + torch.relu(sim[neg] - (1.0 / k - margin)).mean()
    return loss
