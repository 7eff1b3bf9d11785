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

"""MeME, XTrack's mixture of modal experts (ICCV 2025; trackers.md section 3.3).

One MeME module (:class:`MeME`, the release's ``Prompt_block``) sits in every ViT block and is
called four times per block (attention and FFN positions, both directions). A call gets the
block-normalised tokens of its own stream ("own") and of the other stream ("other"), both laid
out ``[template (Nz) | search (Nx)]``, and returns a residual for the own stream::

    router:  m = [mean_c(other_search) | mean_c(other_template)]      (B, N)   N = Nx + Nz
             logits = m @ w_gate (+ noise, training)                    (B, E)   E = 6
             gates  = top-k (k = 2) of softmax(logits), renormalised   (B, E)   per sample
    routed:  r = sum_e gates[:, e] * experts[e](other)                  (B, n, H) H = 64
    shared:  s = EdgeMix(shared_expert(other))                          (B, n, H)
    mixed:   u = dteall(dte(r) + s)
    fused:   f = Fusion(rgb(own), u)
    out:     ffn1_1(f)                                                  (B, n, D)

(template and search are processed separately, n = Nz or Nx, so EdgeMix's depthwise conv sees
each as its own square map.) State-dict names are the release's (``ffn0_1.experts.{e}``,
``shared_expert``, ``shared_expert1.{norm,conv.conv,proj_x,proj_xx}``, ``dte``, ``dteall``,
``rgb``, ``fuse.{conv,proj_xx,proj_x,proj_mod}``, ``w_gate``, ``w_noise``, the buffers ``mean``
and ``std`` of the gating's normal distribution, ``ffn1_1``).

Gating follows Shazeer et al. 2017 (noisy top-k): noise std ``softplus(m @ w_noise) + 1e-2``,
noise only in training; the load of an expert is the smooth probability of it being in the
top-k under the noise (training) or the hard count of samples routed to it (no noise).
Balance term per call: ``1e-2 * (cv^2(importance) + cv^2(load))``, importance = the gates summed
over the batch, cv^2 = unbiased variance / mean^2.

``release_quirks`` reproduces what the authors' code does where it departs from the description
(trackers.md 3.3 "Quirk"); see :class:`MeME` and :func:`router_gates`.
"""

from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.vit import map_to_tokens, tokens_to_map

__all__ = ['EdgeMix', 'LaplacianConv', 'MeME', 'ModalityFusion', 'MoELoRA', 'RouterOutput',
           'cv_squared', 'balance_loss', 'modality_bce', 'modality_targets', 'router_gates',
           'MODALITY_EXPERTS', 'LAPLACIAN']

#: the 3x3 Laplacian the EdgeMix depthwise conv starts from (paper: edges as a shared prior)
LAPLACIAN = ((0., 1., 0.), (1., -4., 1.), (0., 1., 0.))

#: our modality label (train.data.MODALITY_LABEL) -> the two experts the modality-classification
#: target marks (the release: LasHeR/thermal {0, 1}, VisEvent/event {2, 3}, DepthTrack {4, 5});
#: label 0 (RGB only, no X) has no target and is left out of the loss
MODALITY_EXPERTS = {1: (0, 1), 3: (2, 3), 2: (4, 5)}


def cv_squared(values: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Squared coefficient of variation of a 1-D tensor: unbiased var / (mean^2 + eps).

    0 for a single value (one expert), as in the release.
    """
    values = values.float()
    if values.numel() == 1:
        return values.new_zeros(())
    return values.var() / (values.mean() ** 2 + eps)


def balance_loss(gates: torch.Tensor, load: torch.Tensor, coef: float = 1e-2) -> torch.Tensor:
    """``coef * (cv^2(gates.sum(0)) + cv^2(load))`` for (B, E) gates and (E,) load."""
    return coef * (cv_squared(gates.sum(0)) + cv_squared(load))


def _normal_cdf(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf((x - mean) / (std * math.sqrt(2.0))))


class RouterOutput(NamedTuple):
    """What :func:`router_gates` returns.

    Attributes:
        gates: (B, E) top-k renormalised gates (zeros elsewhere).
        load: (E,) expert load (smooth probability of being in the top-k under noise in
            training, else the count of samples routed to each expert).
        probs: (B, E) router probabilities for the modality-classification loss.
    """

    gates: torch.Tensor
    load: torch.Tensor
    probs: torch.Tensor


def router_gates(feat: torch.Tensor, w_gate: torch.Tensor, w_noise: torch.Tensor, k: int,
                 noisy: bool, mean: Optional[torch.Tensor] = None,
                 std: Optional[torch.Tensor] = None, release_quirks: bool = False,
                 noise_epsilon: float = 1e-2) -> RouterOutput:
    """Noisy top-k gating of one sample-level router (Shazeer et al. 2017).

    Args:
        feat: (B, N) router input (channel means of the tokens).
        w_gate, w_noise: (N, E) gate and noise weights.
        k: experts kept per sample (k <= E).
        noisy: add the learned noise (training only).
        mean, std: the normal distribution of the noise (buffers of :class:`MoELoRA`); default
            the standard normal.
        release_quirks: as the release: (a) the probabilities handed to the classification loss
            are ``softmax(softmax(logits))`` (softmax twice), (b) the top-k thresholds of the
            smooth load are taken from the softmax probabilities but compared with raw logits.
            False: one softmax, thresholds from the noisy logits themselves.
        noise_epsilon: floor of the noise std.

    Returns:
        :class:`RouterOutput` (gates, load, probs).
    """
    num_experts = w_gate.shape[1]
    clean = feat @ w_gate
    if noisy:
        noise_std = F.softplus(feat @ w_noise) + noise_epsilon
        logits = clean + torch.randn_like(clean) * noise_std
    else:
        logits = clean
    probs = logits.softmax(dim=1)
    top_val, top_idx = probs.topk(min(k + 1, num_experts), dim=1)
    top_k = top_val[:, :k]
    gates = torch.zeros_like(probs).scatter(1, top_idx[:, :k],
                                            top_k / (top_k.sum(1, keepdim=True) + 1e-6))
    if noisy and k < num_experts:
        mean = clean.new_zeros(()) if mean is None else mean
        std = clean.new_ones(()) if std is None else std
        ranked = top_val if release_quirks else logits.topk(k + 1, dim=1).values
        thr_in, thr_out = ranked[:, k:k + 1], ranked[:, k - 1:k]
        in_top = logits > thr_in
        p_in = _normal_cdf((clean - thr_in) / noise_std, mean, std)
        p_out = _normal_cdf((clean - thr_out) / noise_std, mean, std)
        load = torch.where(in_top, p_in, p_out).sum(0)
    else:
        load = (gates > 0).sum(0).to(gates.dtype)
    return RouterOutput(gates, load, probs.softmax(dim=1) if release_quirks else probs)


def modality_targets(modality: torch.Tensor, num_experts: int = 6
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B,) int64 labels -> (B, E) multi-hot expert targets and the (B,) bool mask of samples
    that have one (label 0, RGB only, has none).

    Raises:
        ValueError: a label outside 0..3.
    """
    if modality.numel() and (modality.min() < 0 or modality.max() > 3):
        raise ValueError(f'modality labels must be 0..3 (RGB, thermal, depth, event), got '
                         f'{modality.tolist()}')
    target = torch.zeros(modality.shape[0], num_experts, device=modality.device)
    for label, experts in MODALITY_EXPERTS.items():
        rows = modality == label
        for e in experts:
            target[rows, e] = 1.0
    return target, modality > 0


def modality_bce(probs: List[torch.Tensor], modality: torch.Tensor) -> torch.Tensor:
    """Modality-classification loss: sum over ``probs`` entries of the mean BCE between the
    (B, E) router probabilities and the multi-hot expert targets (RGB-only samples excluded).

    Returns a scalar; 0 when no sample has X.
    """
    if not probs:
        return torch.zeros((), device=modality.device)
    target, keep = modality_targets(modality, probs[0].shape[1])
    total = probs[0].sum() * 0.0                # a zero on the graph when no sample has X
    if not bool(keep.any()):
        return total
    target = target[keep]
    for p in probs:
        total = total + F.binary_cross_entropy(p[keep].float().clamp(0.0, 1.0),
                                               target.to(p.device))
    return total


class LaplacianConv(nn.Module):
    """Depthwise 3x3 conv without bias, initialised with :data:`LAPLACIAN` on every channel
    (``shared_expert1.conv.conv``). (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False, groups=channels)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor(LAPLACIAN).expand(channels, 1, 3, 3))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.conv(feat)


class EdgeMix(nn.Module):
    """The shared expert's edge-gated mixer (release ``Shared``): (B, n, H) -> (B, n, H).

    ``x + proj_xx(GELU(conv(map(a))) * b)`` with ``[a | b] = proj_x(norm(x))`` (two H halves),
    ``map`` = tokens as their square grid.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, eps=1e-6)
        self.conv = LaplacianConv(hidden)
        self.proj_x = nn.Linear(hidden, 2 * hidden)
        self.proj_xx = nn.Linear(hidden, hidden)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        a, b = self.proj_x(self.norm(tokens)).chunk(2, dim=-1)
        side = math.isqrt(tokens.shape[1])
        a = map_to_tokens(self.conv(tokens_to_map(a, side)))
        return tokens + self.proj_xx(F.gelu(a) * b)


class ModalityFusion(nn.Module):
    """Modal prompting of the own tokens by the experts' output (release ``Fusion``).

    ``r + proj_xx(GELU(proj_mod(GELU(m))) * proj_x(GELU(r)))`` for own projection r and modal
    matrix m, both (B, n, H). ``conv`` (depthwise 3x3) exists in the release but is unused; it is
    kept so its weights load.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(hidden, hidden, 3, padding=1, bias=False, groups=hidden)
        self.proj_xx = nn.Linear(hidden, hidden)
        self.proj_x = nn.Linear(hidden, hidden)
        self.proj_mod = nn.Linear(hidden, hidden)

    def forward(self, own: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        gate = F.gelu(self.proj_mod(F.gelu(mod)))
        return own + self.proj_xx(gate * self.proj_x(F.gelu(own)))


class MoELoRA(nn.Module):
    """Router + 6 low-rank experts + shared EdgeMix expert + fusion (release ``MoE_lora``).

    Args:
        dim: token width D.
        num_tokens: N = Nz + Nx, rows of ``w_gate`` / ``w_noise`` (320 at 256/128 with patch 16,
            and at 224/112 with patch 14; 720 at 384/192).
        hidden: expert width H (64).
        num_experts: E (6).
        top_k: experts per sample (2).
        noisy_gating: learned gating noise in training (Shazeer 2017).
        release_quirks: see :func:`router_gates`.

    ``w_gate`` / ``w_noise`` start at zero, the Laplacian in EdgeMix (the release's intent; the
    release then overwrites them, see :class:`MeME`).

    Raises:
        ValueError: ``top_k`` not in 1..num_experts.
    """

    def __init__(self, dim: int, num_tokens: int, hidden: int = 64, num_experts: int = 6,
                 top_k: int = 2, noisy_gating: bool = True, release_quirks: bool = False) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f'top_k must be in [1, {num_experts}], got {top_k}')
        self.top_k = top_k
        self.noisy_gating = noisy_gating
        self.release_quirks = release_quirks
        self.experts = nn.ModuleList(nn.Linear(dim, hidden) for _ in range(num_experts))
        self.shared_expert = nn.Linear(dim, hidden)
        self.shared_expert1 = EdgeMix(hidden)
        self.dte = nn.Linear(hidden, hidden)
        self.dteall = nn.Linear(hidden, hidden)
        self.rgb = nn.Linear(dim, hidden)
        self.fuse = ModalityFusion(hidden)
        self.w_gate = nn.Parameter(torch.zeros(num_tokens, num_experts))
        self.w_noise = nn.Parameter(torch.zeros(num_tokens, num_experts))
        self.register_buffer('mean', torch.tensor([0.0]))
        self.register_buffer('std', torch.tensor([1.0]))

    def route(self, other_z: torch.Tensor, other_x: torch.Tensor) -> RouterOutput:
        """Per-sample routing from the other stream's template (B, Nz, D) and search (B, Nx, D)
        tokens: router input = channel means, search first (the release's ``w_gate`` rows).

        Raises:
            ValueError: Nz + Nx differs from the rows of ``w_gate``.
        """
        feat = torch.cat([other_x.mean(-1), other_z.mean(-1)], dim=1)
        if feat.shape[1] != self.w_gate.shape[0]:
            raise ValueError(f'MeME router was built for {self.w_gate.shape[0]} tokens '
                             f'(template + search) but got {feat.shape[1]}; build the variant '
                             'with the crop sizes it runs at')
        return router_gates(feat, self.w_gate, self.w_noise, self.top_k,
                            self.noisy_gating and self.training, self.mean, self.std,
                            self.release_quirks)

    def mix_experts(self, tokens: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """sum_e gates[b, e] * experts[e](tokens[b]): (B, n, D), (B, E) -> (B, n, H).

        The experts are linear, so the per-sample mixture of their weights is applied once.
        """
        weight = torch.stack([e.weight for e in self.experts])         # (E, H, D)
        bias = torch.stack([e.bias for e in self.experts])             # (E, H)
        mixed = torch.einsum('be,ehd->bhd', gates.to(weight.dtype), weight)
        return torch.einsum('bnd,bhd->bnh', tokens, mixed) + (gates.to(bias.dtype) @ bias)[:, None]

    def expert_path(self, own: torch.Tensor, other: torch.Tensor,
                    gates: torch.Tensor) -> torch.Tensor:
        """(B, n, D) own and other tokens of one region -> (B, n, H) fused low-rank features."""
        routed = self.mix_experts(other, gates)
        shared = self.shared_expert1(self.shared_expert(other))
        return self.fuse(self.rgb(own), self.dteall(self.dte(routed) + shared))

    def forward(self, own_z: torch.Tensor, own_x: torch.Tensor, other_z: torch.Tensor,
                other_x: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns template (B, Nz, H) and search (B, Nx, H) features, the balance term (scalar)
        and the (B, E) router probabilities."""
        route = self.route(other_z, other_x)
        z = self.expert_path(own_z, other_z, route.gates)
        x = self.expert_path(own_x, other_x, route.gates)
        return z, x, balance_loss(route.gates, route.load), route.probs


class MeME(nn.Module):
    """One XTrack MeME module (release ``Prompt_block``): :class:`MoELoRA` ``ffn0_1`` and the
    up-projection ``ffn1_1`` Linear(H -> D).

    Args:
        dim: token width D.
        num_tokens: N = Nz + Nx (router rows).
        hidden, num_experts, top_k, noisy_gating: see :class:`MoELoRA`.
        release_quirks: the authors' code: after building, every parameter with more than one
            dimension is re-initialised Xavier-uniform (this overwrites the Laplacian and the
            zero ``w_gate`` / ``w_noise``; the ViT's trunc-normal init of every Linear that runs
            afterwards in both codes leaves only the convs and router weights Xavier), and the
            gating quirks of :func:`router_gates`.

    Forward:
        own, other: (B, Nz + Nx, D) normalised tokens ``[template | search]`` of the stream
        receiving the residual and of the other stream; ``nz`` = Nz.

    Returns:
        template residual (B, Nz, D), search residual (B, Nx, D), balance term (scalar),
        router probabilities (B, E).
    """

    def __init__(self, dim: int, num_tokens: int, hidden: int = 64, num_experts: int = 6,
                 top_k: int = 2, noisy_gating: bool = True, release_quirks: bool = False) -> None:
        super().__init__()
        self.ffn0_1 = MoELoRA(dim, num_tokens, hidden, num_experts, top_k, noisy_gating,
                              release_quirks)
        self.ffn1_1 = nn.Linear(hidden, dim)
        if release_quirks:
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

    def forward(self, own: torch.Tensor, other: torch.Tensor, nz: int
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        z, x, balance, probs = self.ffn0_1(own[:, :nz], own[:, nz:], other[:, :nz], other[:, nz:])
        return self.ffn1_1(z), self.ffn1_1(x), balance, probs
