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

"""OneTrackerV2 family (ICML 2026, seeds/onetrackerv2): Meta Merger + Dual MoE, one stream.

One shared patch embedding, the Meta Merger fusing RGB and X into one token set, ViT blocks whose
FFN is the Dual MoE (shared expert + top-k T-MoE + top-k M-MoE), the OSTrack center head.
Auxiliary losses: cos^2 dissimilarity of the two MoEs ('dis'), the load balance ('balance') and
the per-block multimodal router-cluster loss ('cluster'), weights from the seed summary.
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .model import Backbone, RgbxViT

FAMILY = register_family(Family(
    name='onetracker', title='OneTrackerV2 (Meta Merger + Dual MoE)', trainable=(),
    aux_weights={'dis': 0.1, 'cluster': 1.0, 'balance': 0.01}, fix_bn=False,
    release_format="OSTrack-family 'net' (ViT and head); timm ViT"))

__all__ = ['Backbone', 'FAMILY', 'RgbxViT']
