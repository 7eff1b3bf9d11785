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

"""ViPT's prompt layers: the Fovea gate and the prompt block (trackers.md 3.1).

Follows ``jiawen-zhu/ViPT: lib/models/vipt/vit_ce_prompt.py`` (``Fovea``, ``Prompt_block``),
re-implemented from the facts in trackers.md 3.1; module and parameter names are the release's
(``conv0_0``, ``conv0_1``, ``conv1x1``, ``fovea.smooth``) so its prompt weights load by name.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ['Fovea', 'PromptBlock']


class Fovea(nn.Module):
    """Spatial-softmax gating with a learned temperature.

    For each sample and channel, over the H*W positions of a (B, C, H, W) map ``x``::

        out = softmax(smooth * x, over positions) * x

    so every channel keeps (softly) its strongest positions.

    Args:
        smooth: initial value of the learned temperature ``smooth`` (shape (1,); ViPT: 10).
    """

    def __init__(self, smooth: float = 10.0) -> None:
        super().__init__()
        self.smooth = nn.Parameter(torch.full((1,), float(smooth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        flat = x.flatten(2)
        gate = torch.softmax(flat * self.smooth, dim=-1)
        return (gate * flat).view_as(x)


class PromptBlock(nn.Module):
    """One ViPT prompt block: two 1x1 reductions, the Fovea gate, a 1x1 expansion.

    ``forward(rgb, prompt)`` with two (B, D, H, W) maps (the RGB / running tokens and the X /
    previous-prompt tokens of ONE crop, template or search, as 2-D maps) returns the
    (B, D, H, W) prompt::

        conv1x1( fovea(conv0_0(rgb)) + conv0_1(prompt) )

    (the release feeds the two maps concatenated on the channel axis and splits them in half;
    taking them separately is the same computation).

    Args:
        embed_dim: D, the token width.
        hide_channels: width of the bottleneck (ViPT: 8).
        smooth: initial Fovea temperature (ViPT: 10).

    Weights of dimension > 1 are Xavier-uniform initialised (as the release); biases keep the
    PyTorch Conv2d default. The block is not zero-initialised: a fresh prompt already changes
    the RGB tokens.
    """

    def __init__(self, embed_dim: int, hide_channels: int = 8, smooth: float = 10.0) -> None:
        super().__init__()
        self.conv0_0 = nn.Conv2d(embed_dim, hide_channels, 1)
        self.conv0_1 = nn.Conv2d(embed_dim, hide_channels, 1)
        self.conv1x1 = nn.Conv2d(hide_channels, embed_dim, 1)
        self.fovea = Fovea(smooth)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, rgb: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        """(B, D, H, W) RGB map and (B, D, H, W) X / previous-prompt map -> (B, D, H, W)."""
        return self.conv1x1(self.fovea(self.conv0_0(rgb)) + self.conv0_1(prompt))
