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

"""MMMP family ("From Two-Stream to One-Stream", arXiv 2403.16834; trackers.md 3.8): the teacher.

A two-stream tracker on the shared frozen ViT whose blocks each get a Multi-Modal Mutual Prompter
(token and channel attention, prompts exchanged between the RGB and X streams, history carried
from block to block, zero-initialised output). Only the prompters train (names with 'prompt').
There are no auxiliary loss terms. The paper's second stage distils this teacher into a
one-stream student: ``rgbx-train --variant <one-stream variant> --distill-from TEACHER.pt``
(:mod:`rgbx_tracker_ros.train.distill`).

No code and no weights were released: a teacher is trained here from a base (``--init`` an
OSTrack-256 release for ``mmmp_b256``, our ``checkpoints/s14_224_d8_rgbx.pt`` for ``mmmp_s14``),
which loads with only the prompters missing.
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .model import MMMPTracker, MutualPromptBlock, MutualPrompter

FAMILY = register_family(Family(
    name='mmmp', title='MMMP teacher (two-stream mutual prompts; distilled to one stream)',
    trainable=('prompt',), aux_weights={}, fix_bn=True,
    release_format="none (no code released); trains from an OSTrack-family 'net' base "
                   '(ViT and head) or our S14 tracker',
    convert_release=None))

__all__ = ['FAMILY', 'MMMPTracker', 'MutualPromptBlock', 'MutualPrompter']
