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

"""Synthesized release checkpoints for the family tests (test_family_*.py).

The OSTrack part every family's release shares is written out here once, by hand, from
/work/shared/reference/trackers.md: 1.3 (ViT-B/16 backbone: patch-embed conv, template / search
position tables), 1.9 (the checkpoint's key names, timm block naming, the MAE leftovers
``cls_token`` and ``pos_embed``) and 1.5 (the center head). It is never read back from our
modules' ``state_dict()``, so a test that compares a model with these shapes checks the model
against the reference. Each test file adds its own family's keys to the dict returned by
:func:`ostrack_shapes`, fills it with :func:`random_state` and writes / loads it with
:func:`load_release`.

The test files import this module as a sibling (``from release_keys import ...``): test/ has no
``__init__.py``, so pytest puts test/ on ``sys.path``.
"""

from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import torch

from rgbx_tracker_ros.models.checkpoint import load_checkpoint

Shape = Tuple[int, ...]

#: the two MAE tensors an OSTrack release still holds (1.9); our loader reports them as ignored
LEFTOVERS = ('backbone.cls_token', 'backbone.pos_embed')
#: tokens of the MAE ``pos_embed``: 14 x 14 patches + the cls entry (1.3, 1.9)
MAE_POS_TOKENS = 197


def add_linear(shapes: Dict[str, Shape], key: str, n_in: int, n_out: int) -> None:
    """``key.weight`` (n_out, n_in) and ``key.bias`` (n_out,) of an ``nn.Linear``."""
    shapes[key + '.weight'], shapes[key + '.bias'] = (n_out, n_in), (n_out,)


def add_norm(shapes: Dict[str, Shape], key: str, n: int) -> None:
    """``key.weight`` and ``key.bias``, both (n,), of a LayerNorm (or a BatchNorm's affine)."""
    shapes[key + '.weight'], shapes[key + '.bias'] = (n,), (n,)


def vit_block_shapes(prefix: str, dim: int, mlp_ratio: int = 4) -> Dict[str, Shape]:
    """One timm ViT block (1.3, 1.9): norm1, the single ``attn.qkv`` Linear(D -> 3D),
    ``attn.proj`` D -> D, norm2, ``mlp.fc1`` D -> mlp_ratio * D and ``mlp.fc2`` back to D."""
    s: Dict[str, Shape] = {}
    add_norm(s, prefix + 'norm1', dim)
    add_linear(s, prefix + 'attn.qkv', dim, 3 * dim)
    add_linear(s, prefix + 'attn.proj', dim, dim)
    add_norm(s, prefix + 'norm2', dim)
    add_linear(s, prefix + 'mlp.fc1', dim, mlp_ratio * dim)
    add_linear(s, prefix + 'mlp.fc2', mlp_ratio * dim, dim)
    return s


def center_head_shapes(dim: int, head: int = 256) -> Dict[str, Shape]:
    """The center head (1.5): branches ctr / offset / size, each four Conv3x3 (bias) +
    BatchNorm2d stages with channels D -> c -> c/2 -> c/4 -> c/8 (``conv{1..4}_{branch}.0`` /
    ``.1``, BN buffers included), then a 1x1 ``conv5_{branch}`` to 1 / 2 / 2 channels."""
    s: Dict[str, Shape] = {}
    widths = [dim, head, head // 2, head // 4, head // 8]
    for branch, out in (('ctr', 1), ('offset', 2), ('size', 2)):
        for j in range(1, 5):
            c = f'box_head.conv{j}_{branch}.'
            s[c + '0.weight'] = (widths[j], widths[j - 1], 3, 3)
            s[c + '0.bias'] = (widths[j],)
            for buf in ('weight', 'bias', 'running_mean', 'running_var'):
                s[c + '1.' + buf] = (widths[j],)
            s[c + '1.num_batches_tracked'] = ()
        s[f'box_head.conv5_{branch}.weight'] = (out, widths[4], 1, 1)
        s[f'box_head.conv5_{branch}.bias'] = (out,)
    return s


def ostrack_shapes(dim: int, depth: int, nz: int, nx: int, head: int = 256, patch: int = 16,
                   mlp_ratio: int = 4, leftovers: bool = True) -> Dict[str, Shape]:
    """Key -> shape of an OSTrack 'net' dict (trackers.md 1.3, 1.5, 1.9).

    ``backbone.patch_embed.proj`` conv (D, 3, p, p), ``backbone.pos_embed_z`` (1, Nz, D) and
    ``backbone.pos_embed_x`` (1, Nx, D), ``depth`` timm blocks ``backbone.blocks.{i}.*``
    (:func:`vit_block_shapes`), the final ``backbone.norm`` and the center head ``box_head.*``
    (:func:`center_head_shapes`, ``head`` channels). ``leftovers`` adds the MAE ``cls_token``
    (1, 1, D) and ``pos_embed`` (1, 197, D) a release still holds (:data:`LEFTOVERS`).
    ViT-B/16 at 128 / 256 crops: ``ostrack_shapes(768, 12, 64, 256)``.
    """
    s: Dict[str, Shape] = {'backbone.patch_embed.proj.weight': (dim, 3, patch, patch),
                           'backbone.patch_embed.proj.bias': (dim,)}
    if leftovers:
        s['backbone.cls_token'] = (1, 1, dim)
        s['backbone.pos_embed'] = (1, MAE_POS_TOKENS, dim)
    s['backbone.pos_embed_z'] = (1, nz, dim)
    s['backbone.pos_embed_x'] = (1, nx, dim)
    for i in range(depth):
        s.update(vit_block_shapes(f'backbone.blocks.{i}.', dim, mlp_ratio))
    add_norm(s, 'backbone.norm', dim)
    s.update(center_head_shapes(dim, head))
    return s


def random_state(shapes: Dict[str, Shape], seed: int = 0,
                 positive: Iterable[str] = ('running_var',)) -> Dict[str, torch.Tensor]:
    """Random tensors of the given shapes, valid as a checkpoint: ``num_batches_tracked`` is the
    int64 count 7, keys ending in one of ``positive`` (BN variances; a family adds e.g. its
    temperatures) are uniform in [0.5, 1.5), everything else is 0.05 * N(0, 1). Deterministic
    for a seed and the dict's key order."""
    gen = torch.Generator().manual_seed(seed)
    positive = tuple(positive)
    state = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(7)
        elif positive and key.endswith(positive):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = 0.05 * torch.randn(shape, generator=gen)
    return state


def load_release(path: Path, net: Dict[str, torch.Tensor], variant: str,
                 epoch: Optional[int] = None, **overrides):
    """Save ``net`` as a release file (``{'net': net}`` plus ``'epoch'`` when given, the layout
    of 1.9) at ``path`` and load it with ``load_checkpoint(path, variant, **overrides)``;
    returns its ``(model, report)``."""
    torch.save({'net': net} if epoch is None else {'net': net, 'epoch': epoch}, path)
    return load_checkpoint(path, variant, **overrides)
