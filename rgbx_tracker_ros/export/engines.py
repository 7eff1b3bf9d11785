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

"""Run exported graphs (:mod:`.graphs`) as a ``core.model_api.TrackerModel``.

:func:`open_engine` reads a manifest and returns an :class:`EngineModel` for a backend:

- ``onnxruntime``: ONNX graphs; CPU, or on a GPU the TensorRT and CUDA execution providers
  (``onnxruntime-gpu``) in that order of preference;
- ``openvino``: OpenVINO IR (or the ONNX graphs, read directly) on the CPU plugin, with the
  inference precision pinned (OpenVINO would otherwise run bf16 on CPUs that have it);
- ``tensorrt``: serialised TensorRT engines on a CUDA GPU, through torch's CUDA tensors.

The model gives :class:`~rgbx_tracker_ros.core.tracker.RgbxTracker` what the torch model does:
crop sizes, ``encode_template`` (the template graph, run once per target) and the per-frame call
returning a :class:`~rgbx_tracker_ros.core.model_api.TrackerOutput` of CPU float32 tensors (the
tracker then runs on the CPU device: decoding is a few hundred values). A missing X is fed as
zeros with mask 0 (see :mod:`.graphs`). Batches above 1 (re-detection tiles) run one by one.

A backend whose package is not installed raises :class:`BackendUnavailable`, naming the pip
package to install.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from ..core.model_api import TrackerOutput
from ..core.types import BACKENDS, BackendUnavailable

_logger = logging.getLogger(__name__)

__all__ = ['BACKENDS', 'BackendUnavailable', 'EngineError', 'EngineModel', 'open_engine',
           'read_manifest', 'require']

#: backend -> (module to import, pip package that provides it)
_PACKAGES = {'onnxruntime': ('onnxruntime', 'onnxruntime (CPU) or onnxruntime-gpu (CUDA)'),
             'openvino': ('openvino', 'openvino'),
             'tensorrt': ('tensorrt', 'tensorrt')}
#: backend -> the export format it runs
BACKEND_FORMAT = {'onnxruntime': 'onnx', 'openvino': 'openvino', 'tensorrt': 'tensorrt'}


class EngineError(RuntimeError):
    """An exported graph or its manifest cannot be used (missing, stale, wrong shapes)."""


def require(backend: str):
    """Import the module of ``backend`` (or a module name of :data:`_PACKAGES`).

    Raises:
        BackendUnavailable: not installed; the message names the pip package.
    """
    module, package = _PACKAGES.get(backend, (backend, backend))
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f'backend {backend!r} needs the Python package {package!r}, which is not installed '
            f'here ({exc}); install it with pip (python -m pip install {package.split()[0]}) or '
            f'use backend torch') from exc


class EngineModel:
    """A TrackerModel over two exported graphs.

    Args:
        info: the manifest (crop sizes, token shape, variant).
        run_template: feeds {name: (1, ...) float32 array} -> [template_tokens].
        run_search: feeds -> [score, size, offset] arrays.
        backend: backend name, for reports.
        provider: where it runs (execution provider / device), for reports.

    Attributes:
        template_size, search_size, feat_size: as the torch model's (pixels, pixels, cells).
    """

    def __init__(self, info: dict, run_template: Callable, run_search: Callable,
                 backend: str, provider: str) -> None:
        self.info = info
        self.template_size = int(info['template_size'])
        self.search_size = int(info['search_size'])
        self.feat_size = int(info['feat_size'])
        self.variant = info.get('variant', '')
        self.family = info.get('family', '')
        self.backend, self.provider = backend, provider
        self._run_template, self._run_search = run_template, run_search
        self._zeros: Dict[int, np.ndarray] = {}

    # --- TrackerModel -------------------------------------------------------------------------
    def eval(self) -> 'EngineModel':
        """No-op (graphs are inference-only)."""
        return self

    def to(self, device) -> 'EngineModel':
        """Outputs are CPU tensors whatever the engine's device; the tracker runs on 'cpu'.

        Raises:
            ValueError: a non-CPU torch device is asked for (set the engine's device instead).
        """
        if torch.device(device).type != 'cpu':
            raise ValueError(f'an {self.backend} engine returns CPU tensors; build the tracker '
                             f'with device cpu (the engine itself runs on {self.provider})')
        return self

    def encode_template(self, template_rgb: torch.Tensor, template_x: Optional[torch.Tensor],
                        template_x_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 3, T, T) template crops -> (B, Nt, D) tokens, through the template graph."""
        outs = [self._run_template(self._feeds(('template_rgb', 'template_x', 'template_x_mask'),
                                               template_rgb, template_x, template_x_mask, i))[0]
                for i in range(template_rgb.shape[0])]
        return torch.from_numpy(np.concatenate(outs) if len(outs) > 1 else outs[0])

    def __call__(self, template_rgb, search_rgb: torch.Tensor, template_x, search_x,
                 template_x_mask=None, search_x_mask=None,
                 template_tokens: Optional[torch.Tensor] = None, modality=None) -> TrackerOutput:
        """The per-frame network on (B, 3, S, S) search crops with cached ``template_tokens``
        (B, Nt, D) from :meth:`encode_template` (template crops are encoded first if given
        instead)."""
        if template_tokens is None:
            template_tokens = self.encode_template(template_rgb, template_x, template_x_mask)
        maps = []
        for i in range(search_rgb.shape[0]):
            feeds = self._feeds(('search_rgb', 'search_x', 'search_x_mask'), search_rgb,
                                search_x, search_x_mask, i)
            tokens = template_tokens[i if template_tokens.shape[0] > 1 else 0]
            feeds['template_tokens'] = np.ascontiguousarray(tokens[None].numpy(),
                                                            dtype=np.float32)
            maps.append(self._run_search(feeds))
        score, size, offset = (torch.from_numpy(np.concatenate([m[k] for m in maps])
                                                if len(maps) > 1 else maps[0][k])
                               for k in range(3))
        return TrackerOutput(score, size, offset, {})

    def _feeds(self, names: Sequence[str], rgb: torch.Tensor, x: Optional[torch.Tensor],
               mask: Optional[torch.Tensor], i: int) -> Dict[str, np.ndarray]:
        rgb_i = np.ascontiguousarray(rgb[i:i + 1].float().numpy())
        if x is None:
            side = rgb_i.shape[-1]
            x_i = self._zeros.setdefault(side, np.zeros_like(rgb_i))
            m = 0.0
        else:
            x_i = np.ascontiguousarray(x[i:i + 1].float().numpy())
            m = 1.0 if mask is None else float(mask[i])
        return {names[0]: rgb_i, names[1]: x_i, names[2]: np.array([m], dtype=np.float32)}

    def describe(self) -> str:
        """'backend (provider)', for logs and reports."""
        return f'{self.backend} ({self.provider})'


def _threads(threads: Optional[int]) -> int:
    return int(threads) if threads else max(1, torch.get_num_threads())


def _graph_files(manifest: Path, info: dict) -> tuple:
    folder = manifest.parent
    files = folder / info['template'], folder / info['search']
    for f in files:
        if not f.is_file():
            raise EngineError(f'{manifest} names {f.name}, which is not beside it; export the '
                              f'model again (rgbx-export)')
    return files


def _open_onnxruntime(manifest: Path, info: dict, device: str, threads: Optional[int],
                      precision: str) -> EngineModel:
    ort = require('onnxruntime')
    files = _graph_files(manifest, info)
    available = ort.get_available_providers()
    if device.startswith('cuda'):
        wanted = [p for p in ('TensorrtExecutionProvider', 'CUDAExecutionProvider')
                  if p in available]
        if not wanted:
            raise BackendUnavailable(
                f'backend onnxruntime on {device} needs onnxruntime-gpu (this onnxruntime has '
                f'{", ".join(available)}); install onnxruntime-gpu or use device cpu')
    else:
        wanted = ['CPUExecutionProvider']
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads(threads)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    providers = wanted + ['CPUExecutionProvider'] if wanted[0] != 'CPUExecutionProvider' \
        else wanted
    sessions = [ort.InferenceSession(str(f), sess_options=opts, providers=providers)
                for f in files]

    def runner(session):
        return lambda feeds: session.run(None, feeds)

    return EngineModel(info, runner(sessions[0]), runner(sessions[1]), 'onnxruntime',
                       sessions[1].get_providers()[0])


def _open_openvino(manifest: Path, info: dict, device: str, threads: Optional[int],
                   precision: str) -> EngineModel:
    ov = require('openvino')
    if device.startswith('cuda'):
        raise BackendUnavailable('backend openvino runs on the CPU here; use device cpu, or '
                                 'backend onnxruntime / tensorrt on a CUDA GPU')
    files = _graph_files(manifest, info)
    core = ov.Core()
    hint = {'bf16': 'bf16'}.get(precision, 'f32')
    config = {'INFERENCE_PRECISION_HINT': hint, 'INFERENCE_NUM_THREADS': _threads(threads),
              'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': 1}
    compiled = [core.compile_model(core.read_model(str(f)), 'CPU', config) for f in files]

    def runner(model):
        request = model.create_infer_request()
        outputs = model.outputs

        def run(feeds):
            result = request.infer(feeds)
            return [np.array(result[o], copy=True) for o in outputs]
        return run

    return EngineModel(info, runner(compiled[0]), runner(compiled[1]), 'openvino',
                       f'CPU {hint}')


def _open_tensorrt(manifest: Path, info: dict, device: str, threads: Optional[int],
                   precision: str) -> EngineModel:
    trt = require('tensorrt')
    if not torch.cuda.is_available():
        raise BackendUnavailable('backend tensorrt needs a CUDA GPU; none is visible here')
    dev = torch.device(device if device.startswith('cuda') else 'cuda')
    files = _graph_files(manifest, info)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    stream = torch.cuda.Stream(dev)

    def runner(path: Path):
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise EngineError(f'TensorRT cannot load {path} (built by another TensorRT version '
                              f'or for another GPU?); export it again on this machine')
        context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        outs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        buffers = {n: torch.empty(tuple(engine.get_tensor_shape(n)), dtype=torch.float32,
                                  device=dev) for n in names}
        for n, t in buffers.items():
            context.set_tensor_address(n, t.data_ptr())

        def run(feeds):
            with torch.cuda.stream(stream):
                for n, a in feeds.items():
                    buffers[n].copy_(torch.from_numpy(a), non_blocking=True)
                context.execute_async_v3(stream.cuda_stream)
                result = [buffers[n].cpu().numpy() for n in outs]
            return result
        return run

    return EngineModel(info, runner(files[0]), runner(files[1]), 'tensorrt',
                       torch.cuda.get_device_name(dev))


_OPENERS = {'onnxruntime': _open_onnxruntime, 'openvino': _open_openvino,
            'tensorrt': _open_tensorrt}


def open_engine(manifest, backend: str, device: str = 'cpu', threads: Optional[int] = None,
                precision: str = 'fp32') -> EngineModel:
    """Open the exported graphs described by ``manifest`` on ``backend``.

    Args:
        manifest: path of the ``<stem>[.format].json`` written by :mod:`.graphs`.
        backend: 'onnxruntime', 'openvino' or 'tensorrt'.
        device: 'cpu', 'cuda' or 'cuda:N' ('auto' = CUDA when torch sees one).
        threads: CPU threads (None = torch's setting).
        precision: 'fp32' or 'bf16' (OpenVINO's inference precision); other backends run the
            precision their graphs were built with.

    Raises:
        ValueError: unknown backend.
        BackendUnavailable: the backend's package is missing, or it needs a GPU.
        EngineError: missing or unreadable manifest or graph files, or a manifest of another
            format than the backend runs.
    """
    if backend not in _OPENERS:
        raise ValueError(f'unknown backend {backend!r}; use one of {", ".join(BACKENDS)}')
    manifest = Path(manifest)
    info = read_manifest(manifest)
    if info is None:
        raise EngineError(f'no readable export manifest at {manifest}; run rgbx-export first')
    fmt = info.get('format')
    allowed = {'onnxruntime': ('onnx',), 'openvino': ('openvino', 'onnx'),
               'tensorrt': ('tensorrt',)}[backend]
    if fmt not in allowed:
        raise EngineError(f'{manifest} describes {fmt!r} graphs; backend {backend} runs '
                          f'{" or ".join(allowed)} (export with --format '
                          f'{BACKEND_FORMAT[backend]})')
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = _OPENERS[backend](manifest, info, device, threads, precision)
    _logger.info('opened %s graphs of %s on %s', fmt, info.get('variant'), model.describe())
    return model


def engine_cache_dir() -> Path:
    """Where exported graphs are cached: ``$RGBX_CACHE/engines`` (``~/.cache/rgbx_tracker_ros``
    when unset), the weights cache of ``models.pretrained``."""
    return Path(os.environ.get('RGBX_CACHE') or Path.home() / '.cache' / 'rgbx_tracker_ros') \
        / 'engines'


def read_manifest(path: Path) -> Optional[dict]:
    """The export manifest (JSON) at ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
