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

"""Layers every model family shares: the ViT (patch embedding, position tables, timm blocks with
OSTrack's state-dict names), the center head, and the two-stream skeleton of the dual-stream
parameter-efficient families (XTrack, SEATrack, PATrack, the MMMP teacher)."""

from .center_head import CenterHead, TokenCenterHead
from .net import TrackerNet
from .vit import ViTBase, init_vit_weights, make_blocks, map_to_tokens, tokens_to_map

__all__ = ['CenterHead', 'TokenCenterHead', 'TrackerNet', 'ViTBase', 'init_vit_weights',
           'make_blocks', 'map_to_tokens', 'tokens_to_map']
