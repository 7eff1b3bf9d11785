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

"""The two bases every parameter-efficient family builds on, and the variant-builder helper.

- :data:`B256`: OSTrack's ViT-B/16 at 256 search / 128 template (trackers.md 1.1, 1.3), what the
  authors' releases of ViPT, XTrack, SEATrack and PATrack use (init ``OSTrack_ep0300``).
- :data:`S14`: our DINOv2 ViT-S/14 truncated to 8 blocks at 224 / 112 with the correlation
  center head: the shape of our trained RGB tracker ``checkpoints/s14_224_d8_rgbx.pt``, so a
  family variant on this base initialises from it (``rgbx-train --init
  checkpoints/s14_224_d8_rgbx.pt``) and trains its adapters only.
"""

from __future__ import annotations

import inspect
from typing import Callable

__all__ = ['B256', 'B256_NAME', 'S14', 'S14_NAME', 'S14_INIT', 'make_variant']

B256 = dict(template_size=128, search_size=256, patch_size=16, embed_dim=768, depth=12,
            num_heads=12, mlp_ratio=4.0, init_values=None, head_channels=256, corr_head=False)
B256_NAME = 'OSTrack ViT-B/16 @256'

S14 = dict(template_size=112, search_size=224, patch_size=14, embed_dim=384, depth=8,
           num_heads=6, mlp_ratio=4.0, init_values=1e-5, head_channels=192, corr_head=True)
S14_NAME = 'DINOv2 ViT-S/14 d8 (our RGB tracker)'
#: the checkpoint the S14 variants initialise from (frozen) before training their adapters
S14_INIT = 'checkpoints/s14_224_d8_rgbx.pt'


def make_variant(cls: Callable, build: bool, defaults: dict, overrides: dict):
    """Build ``cls(**defaults, **overrides)``, or (``build=False``) return the full constructor
    arguments (every parameter of ``cls.__init__`` with its default, updated by both dicts)."""
    args = dict(defaults, **overrides)
    if build:
        return cls(**args)
    params = inspect.signature(cls.__init__).parameters
    full = {k: p.default for k, p in params.items()
            if k != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return dict(full, **args)
