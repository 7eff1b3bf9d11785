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

"""The LoRA'd ``qkv`` of SEATrack's AMG-LoRA blocks (trackers.md 3.4).

SEATrack replaces the ``attn.qkv`` Linear of its adapted blocks with a loralib-style
``MergedLinear`` of rank 8 that adapts only the K and V thirds of the output
(``enable_lora = [False, True, True]``). The release's tensor layout, which a release checkpoint
must load into unchanged, follows loralib's grouped low-rank update:

- ``lora_A``: (r * n_enabled, in) = (16, 768) for ViT-B: the r rows of group g are its down
  projection;
- ``lora_B``: (out / len(enable_lora) * n_enabled, r) = (1536, 8) for ViT-B: the
  ``out / 3`` rows of group g (K, then V) are its up projection;
- the weight update is ``delta[rows of group g] = lora_B[g] @ lora_A[g]`` (loralib's grouped
  ``conv1d``), zero on the Q rows. No ``alpha / r`` scaling (the release comments it out);
  dropout 0.1 on the LoRA term's output (as the release's forward applies it).

**Merging.** The release adds ``delta`` into ``qkv.weight`` in place at ``eval()`` and takes it
out again at ``train()``; a state dict saved while merged, or a checkpoint loaded into a merged
layer, then merges twice. Here ``qkv.weight`` is never modified: :meth:`LoRAQKV.merge` (called by
``eval()``) switches the layer to a cached merged weight ``weight + delta`` that is recomputed
whenever ``weight``, ``lora_A`` or ``lora_B`` change (their version counters, storage, dtype or
device), so merging is idempotent by construction, the state dict always holds the unmerged
release layout, and loading weights into a merged model cannot double-count. The merged weight is
an inference-only shortcut: when gradients are needed (grad mode on and a parameter of the layer
requires grad) the layer computes the unmerged form, so merging never changes results (beyond
float rounding) or gradients.
"""

from __future__ import annotations

import contextlib
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['LoRAQKV']


class LoRAQKV(nn.Linear):
    """A Linear with a LoRA bypass on selected equal output groups (loralib ``MergedLinear``).

    Args:
        in_features, out_features: the Linear (qkv: D -> 3 D).
        rank: LoRA rank r (SEATrack 8).
        enable_lora: which of the equal output groups are adapted (qkv: Q, K, V ->
            ``(False, True, True)``).
        dropout: dropout on the LoRA term (0.1).
        bias: the Linear has a bias (OSTrack qkv: True).

    Parameters (state-dict names of the release): ``weight`` (out, in), ``bias`` (out,),
    ``lora_A`` (r * n_enabled, in), Xavier-normal with gain sqrt(2); ``lora_B``
    (out / len(enable_lora) * n_enabled, r), zeros.

    Forward: (..., in) -> (..., out) = ``x W^T + b + dropout(x delta^T)`` (unmerged) or
    ``x (W + delta)^T + b`` (merged, no gradient needed).

    Raises:
        ValueError: rank < 1, no group enabled, or ``out_features`` not divisible into the
            groups.
    """

    def __init__(self, in_features: int, out_features: int, rank: int = 8,
                 enable_lora: Sequence[bool] = (False, True, True), dropout: float = 0.1,
                 bias: bool = True, device=None, dtype=None) -> None:
        if rank < 1:
            raise ValueError(f'LoRA rank must be >= 1, got {rank}')
        enable = tuple(bool(e) for e in enable_lora)
        if not any(enable):
            raise ValueError('enable_lora must enable at least one output group')
        if out_features % len(enable):
            raise ValueError(f'out_features={out_features} is not divisible into '
                             f'{len(enable)} groups')
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.rank = rank
        self.enable_lora = enable
        self.group_size = out_features // len(enable)
        n = sum(enable)
        dd = dict(device=self.weight.device, dtype=self.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(rank * n, in_features, **dd))
        self.lora_B = nn.Parameter(torch.zeros(self.group_size * n, rank, **dd))
        nn.init.xavier_normal_(self.lora_A, gain=math.sqrt(2.0))
        self.lora_dropout = nn.Dropout(dropout)
        self._merge_on = False
        self._cache: Optional[Tuple[tuple, torch.Tensor]] = None

    # --- the low-rank update --------------------------------------------------------------
    def _groups(self):
        """(output slice, lora_A rows, lora_B rows) of every enabled group."""
        r, g = self.rank, self.group_size
        j = 0
        for i, on in enumerate(self.enable_lora):
            if on:
                yield slice(i * g, (i + 1) * g), self.lora_A[j * r:(j + 1) * r], \
                    self.lora_B[j * g:(j + 1) * g]
                j += 1

    def delta_weight(self) -> torch.Tensor:
        """(out, in) weight update: ``lora_B[g] @ lora_A[g]`` on the rows of each enabled group,
        zero elsewhere (loralib's grouped conv1d + zero_pad, without alpha / r scaling)."""
        delta = self.weight.new_zeros(self.out_features, self.in_features)
        for rows, a, b in self._groups():
            delta[rows] = b @ a
        return delta

    def lora_term(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in) -> (..., out): ``dropout(x delta^T)``, computed through the rank-r factors
        (zeros on the groups without LoRA)."""
        groups = iter(self._groups())
        out = []
        for on in self.enable_lora:
            if on:
                _, a, b = next(groups)
                out.append(F.linear(F.linear(x, a), b))
            else:
                out.append(x.new_zeros(*x.shape[:-1], self.group_size))
        return self.lora_dropout(torch.cat(out, dim=-1))

    # --- merging ----------------------------------------------------------------------------
    @property
    def merged(self) -> bool:
        """The layer runs on the merged weight when no gradient is needed (after ``eval()`` or
        :meth:`merge`)."""
        return self._merge_on

    def merge(self) -> None:
        """Use ``weight + delta`` for inference from now on (idempotent: ``weight`` itself is
        never changed, a second call recomputes nothing)."""
        self._merge_on = True
        self.merged_weight()

    def unmerge(self) -> None:
        """Back to the separate LoRA path (drops the cached merged weight)."""
        self._merge_on = False
        self._cache = None

    def train(self, mode: bool = True) -> 'LoRAQKV':
        """Unmerge in train mode, merge in eval mode (as the release's MergedLinear)."""
        super().train(mode)
        if mode:
            self.unmerge()
        else:
            self.merge()
        return self

    def _state_key(self) -> Optional[tuple]:
        """What the cached merged weight was computed from; None = cannot tell (never cache)."""
        try:
            return tuple((t._version, t.data_ptr(), t.dtype, t.device)
                         for t in (self.weight, self.lora_A, self.lora_B))
        except RuntimeError:        # inference tensors have no version counter
            return None

    def merged_weight(self) -> torch.Tensor:
        """(out, in) ``weight + delta`` (no gradient), computed in float32 and cached until one
        of the three tensors changes."""
        key = self._state_key()
        if key is not None and self._cache is not None and self._cache[0] == key:
            cached = self._cache[1]
            if not (cached.is_inference() and not torch.is_inference_mode_enabled()):
                return cached
        dev = self.weight.device.type
        no_autocast = (torch.autocast(dev, enabled=False) if dev in ('cpu', 'cuda')
                       else contextlib.nullcontext())
        with torch.no_grad(), no_autocast:
            w = self.weight.detach().to(dtype=torch.float32, copy=True)
            for rows, a, b in self._groups():
                w[rows] = w[rows] + b.float() @ a.float()
            w = w.to(self.weight.dtype)
        self._cache = None if key is None else (key, w)
        return w

    def _apply(self, fn, *args, **kwargs):
        self._cache = None          # .to() / .half(): recompute on the new tensors
        return super()._apply(fn, *args, **kwargs)

    def _needs_grad(self) -> bool:
        return torch.is_grad_enabled() and any(
            p.requires_grad for p in (self.weight, self.lora_A, self.lora_B))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._merge_on and not self._needs_grad():
            return F.linear(x, self.merged_weight(), self.bias)
        return F.linear(x, self.weight, self.bias) + self.lora_term(x)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, rank={self.rank}, enable_lora={self.enable_lora}, '
                f'merged={self._merge_on}')
