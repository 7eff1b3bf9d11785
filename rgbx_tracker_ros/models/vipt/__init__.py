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

"""ViPT family (CVPR 2023, trackers.md 3.1): visual prompts on a frozen one-stream OSTrack.

The RGB tokens run through the frozen OSTrack ViT once; X gets its own patch embedding and only
feeds prompt blocks (1x1 reductions, a Fovea spatial-softmax gate, a 1x1 expansion) whose output
is added to the token stream before every block ('vipt_deep'). Trainable: every parameter whose
name contains 'prompt' (``patch_embed_prompt``, ``prompt_blocks``, ``prompt_norms``; 0.84 M on
ViT-B/256). No auxiliary loss; the frozen head's BatchNorm stays in eval (FIX_BN).
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .model import PROMPT_TYPES, PromptViT, ViPT
from .prompt import Fovea, PromptBlock

FAMILY = register_family(Family(
    name='vipt', title='ViPT (visual prompt multi-modal tracking)', trainable=('prompt',),
    aux_weights={}, fix_bn=True,
    release_format=("OSTrack-family {'net': state_dict} (jiawen-zhu/ViPT, e.g. ViPT_deep_*.pth): "
                    'OSTrack keys + backbone.patch_embed_prompt.proj, '
                    'backbone.prompt_blocks.{i}.{conv0_0,conv0_1,conv1x1,fovea.smooth}, '
                    'backbone.prompt_norms.{i}; an OSTrack_ep0300 net loads with only the '
                    'prompt keys missing')))

__all__ = ['FAMILY', 'Fovea', 'PROMPT_TYPES', 'PromptBlock', 'PromptViT', 'ViPT']
