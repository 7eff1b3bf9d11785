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

"""What every family's tracker network has in common (the :class:`~rgbx_tracker_ros.core.
model_api.TrackerModel` attributes): crop sides, the score-map side, the token center head and
the ``keep_features`` switch used by distillation."""

from __future__ import annotations

from torch import nn

from .center_head import TokenCenterHead

__all__ = ['TrackerNet']


class TrackerNet(nn.Module):
    """Base of the family networks: ``template_size`` / ``search_size`` (pixels), ``feat_size``
    (cells, from ``self.backbone.grid_x``), ``keep_features`` (False: set it to get the per-block
    tokens in ``TrackerOutput.features``) and :meth:`add_head`, which builds ``box_head``
    (OSTrack's state-dict names).

    Subclasses set ``self.backbone`` (a :class:`~.vit.ViTBase`) and then call :meth:`add_head`.
    """

    def __init__(self, template_size: int, search_size: int) -> None:
        super().__init__()
        self.template_size = template_size
        self.search_size = search_size
        #: set True to get the per-block tokens in ``TrackerOutput.features`` (distillation)
        self.keep_features = False

    @property
    def feat_size(self) -> int:
        """Side Hf = Wf of the score map (cells)."""
        return self.backbone.grid_x

    def add_head(self, head_channels: int, corr_head: bool) -> None:
        """Build ``self.box_head``: a :class:`~.center_head.TokenCenterHead` on the backbone's
        width and grids."""
        bb = self.backbone
        self.box_head = TokenCenterHead(bb.embed_dim, bb.grid_z, bb.grid_x, head_channels,
                                        corr=corr_head)
