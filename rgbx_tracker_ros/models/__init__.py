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

"""Torch models of rgbx_tracker_ros: one sub-package per model family on shared layers.

Families (each registers its :class:`~.registry.Family` and variants when imported):
``onetracker`` (OneTrackerV2: Meta Merger + Dual MoE), ``xtrack`` (MeME), ``seatrack``
(AMG-LoRA + HMoE), ``patrack`` (progressive adapters), ``vipt`` (visual prompts) and ``mmmp``
(two-stream teacher with mutual prompts, distilled into a one-stream student). Shared: ViT blocks,
patch embedding, position tables, center head (:mod:`.layers`). Build any variant with
:func:`create_model`; ``rgbx-models`` lists them.
"""

import importlib

from .registry import (create_model, family_of, get_family, list_families, list_variants,
                       variant_args, variant_info)
from ..core import rig as _rig

FAMILY_PACKAGES = ('onetracker', 'xtrack', 'seatrack', 'patrack', 'vipt', 'mmmp')
for _name in FAMILY_PACKAGES:
    importlib.import_module(f'{__name__}.{_name}')

# rig files name variants: let the (model-free) rig loader check them against this registry
_rig.set_variant_catalogue(list_variants)

__all__ = ['FAMILY_PACKAGES', 'create_model', 'family_of', 'get_family', 'list_families',
           'list_variants', 'variant_args', 'variant_info']
