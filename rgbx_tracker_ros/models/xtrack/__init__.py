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

"""XTrack family (ICCV 2025, arXiv 2405.17773; trackers.md section 3.3, BAT 3.2 its ancestor).

Dual-stream frozen OSTrack ViT with one trainable MeME (mixture of modal experts: 6 low-rank
experts routed per sample with noisy top-2 gating, an EdgeMix shared expert, modal-prompt fusion)
per block, reused at the attention and FFN positions in both directions. Only parameters whose
name contains 'MeME' train (the MeME modules and their two LayerNorms per block); backbone and
head stay frozen with the head's BatchNorm in eval (FIX_BN).

Auxiliary losses: 'balance' (importance + load cv^2, its 1e-2 factor inside, weight 1.0) and
'modality' (router-vs-modality BCE, weight 0.01).

Variants: ``xtrack_b256`` (the release), ``xtrack_s14`` (our DINOv2 ViT-S/14 base),
``test_xtrack`` (tests).
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .meme import MeME, MoELoRA
from .model import XTrack, XTrackBlock

FAMILY = register_family(Family(
    name='xtrack', title='XTrack (MeME mixture of modal experts)', trainable=('MeME',),
    aux_weights={'balance': 1.0, 'modality': 0.01}, fix_bn=True,
    release_format="OSTrack-family {'net': state_dict} (supertyd/XTrack): OSTrack ViT-B/16 and "
                   "center head names plus backbone.blocks.{i}.MeME_attn.{ffn0_1,ffn1_1}.*, "
                   "norm1_MeME, norm2_MeME, backbone.temporal_pos_embed_{x,z}; loads by name"))

__all__ = ['FAMILY', 'MeME', 'MoELoRA', 'XTrack', 'XTrackBlock']
