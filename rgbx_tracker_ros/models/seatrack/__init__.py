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

"""SEATrack family (CVPR 2026, trackers.md 3.4): AMG-LoRA + HMoE on a frozen dual-stream ViT.

Both streams (RGB, X) run through the same frozen OSTrack ViT; in blocks 1, 3, 5, 7, 9, 11 the
qkv gets a rank-8 LoRA on K and V (shared by the streams, merged into qkv once for inference)
and the pre-softmax attention logits of each stream are guided by the other's
(``dte2r_scaling`` / ``r2dte_scaling``, 1.0 at init); two HMoE soft mixers per adapted block
(4 experts after attention, 8 after the FFN) exchange information between the streams. The
streams' search tokens are summed into the frozen center head. No auxiliary losses.

Variants: ``seatrack_b256`` (the release structure), ``seatrack_s14`` (our DINOv2 S/14 d8 base,
``fuse='mean'``), ``test_seatrack`` (tiny, tests).
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .hmoe import HMoE, LowRankExperts, LowRankProjection
from .lora import LoRAQKV
from .model import SEATrack, SEATrackBlock, default_blocks, mutual_guidance

FAMILY = register_family(Family(
    name='seatrack', title='SEATrack (AMG-LoRA + HMoE)', trainable=('moe', 'scaling', 'lora'),
    aux_weights={}, fix_bn=True,
    release_format="OSTrack-family {'net': state_dict} (AutoLab-SAI-SJTU/SEATrack, saved in "
                   'train mode: qkv.weight unmerged beside attn.qkv.lora_A / lora_B); OSTrack '
                   'names plus backbone.blocks.{i}.attn.qkv.{lora_A,lora_B}, '
                   'backbone.blocks.{i}.{r2dte_scaling,dte2r_scaling} and '
                   'backbone.blocks.{i}.{attn_moe,ffn_moe}.* for i in 1,3,5,7,9,11'))

__all__ = ['FAMILY', 'HMoE', 'LoRAQKV', 'LowRankExperts', 'LowRankProjection', 'SEATrack',
           'SEATrackBlock', 'default_blocks', 'mutual_guidance']
