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

"""PATrack family (arXiv 2026, trackers.md 3.5): progressive adapters on a frozen two-stream ViT.

Modality-dependent ``Mixer`` adapters (high/low-frequency split) in most blocks, modality-entangled
``PSFM`` cross-attention adapters in a few (release: blocks 3, 6, 9), a task-level adapter on the
fused search tokens before the frozen OSTrack head (no residual). Only parameters whose name
contains 'adap' train; no auxiliary losses; frozen BatchNorm stays in eval (FIX_BN).
Variants: ``patrack_b256`` (the release, loads its ``{'net': ...}`` by name), ``patrack_s14``
(our DINOv2 ViT-S/14 d8 base), ``test_patrack`` (tests).
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .adapters import GEFM, PSFM, HeadAdapter, HighMixer, LowMixer, Mixer, spatial_attention
from .model import PATrack, PATrackBlock, default_psfm_blocks

FAMILY = register_family(Family(
    name='patrack', title='PATrack (Mixer + PSFM + head adapters)', trainable=('adap',),
    aux_weights={}, fix_bn=True,
    release_format="PATrack release: OSTrack-style {'net': state_dict}, ViT-B/16 256/128; every "
                   'block holds adap_t / adap2_t (Mixer), highfuseadapter1 / highfuseadapter2 '
                   '(PSFM) and norml1 / norml2, the root adapter_head and an unused norm1 '
                   '(patrack_b256 loads it by name)'))

__all__ = ['FAMILY', 'GEFM', 'HeadAdapter', 'HighMixer', 'LowMixer', 'Mixer', 'PATrack',
           'PATrackBlock', 'PSFM', 'default_psfm_blocks', 'spatial_attention']
