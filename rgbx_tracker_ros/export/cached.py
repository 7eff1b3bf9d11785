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

"""Export on first use: the engine of (checkpoint, backend) from a cache, exported when missing.

The node and ``rgbx-eval`` take ``backend: onnxruntime`` (or ``openvino`` / ``tensorrt``) and a
checkpoint; :func:`engine_for` finds the exported graphs in ``<cache>/<key>/`` or writes them
there with :func:`~rgbx_tracker_ros.export.graphs.export`. The key covers everything the graphs
depend on: the checkpoint's sha256 (or the variant, for random weights), the constructor
overrides, the format and its precision, the torch / opset versions and, for TensorRT, the GPU.
A stale or half-written folder is exported again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Optional

import torch

from ..core.model_api import TrackerModel
from .engines import BACKEND_FORMAT, EngineModel, engine_cache_dir, open_engine, read_manifest
from .graphs import OPSET, export

_logger = logging.getLogger(__name__)

__all__ = ['engine_for']


def _key(source: str, fmt: str, precision: str, overrides: Optional[dict]) -> str:
    parts = {'source': source, 'format': fmt, 'precision': precision, 'torch': torch.__version__,
             'opset': OPSET, 'overrides': overrides or {}}
    if fmt == 'tensorrt' and torch.cuda.is_available():
        parts['gpu'] = torch.cuda.get_device_name()
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def engine_for(model: TrackerModel, backend: str, source: str, device: str = 'cpu',
               threads: Optional[int] = None, precision: str = 'fp32',
               cache_dir: Optional[Path] = None, overrides: Optional[dict] = None
               ) -> EngineModel:
    """The ``backend`` engine of ``model``, exported into the cache on first use.

    Args:
        model: the torch model (built from the checkpoint; exported only when not cached).
        backend: 'onnxruntime', 'openvino' or 'tensorrt'.
        source: what identifies the weights: the checkpoint's sha256, or 'random:<variant>'.
        device, threads, precision: as :func:`~rgbx_tracker_ros.export.engines.open_engine`.
        cache_dir: cache root (default :func:`~rgbx_tracker_ros.export.engines.engine_cache_dir`).
        overrides: the model's constructor overrides (part of the key).

    Raises:
        BackendUnavailable, EngineError: see ``open_engine``; RuntimeError: export failed.
    """
    fmt = BACKEND_FORMAT[backend]
    prec = precision if fmt == 'tensorrt' else 'fp32'
    folder = Path(cache_dir or engine_cache_dir()) / _key(source, fmt, prec, overrides)
    stem = getattr(model, 'variant', '') or 'model'
    manifest = folder / (f'{stem}.json' if fmt == 'onnx' else f'{stem}.{fmt}.json')
    if read_manifest(manifest) is None:
        if folder.exists():
            shutil.rmtree(folder)      # half-written by an interrupted export
        tmp = folder.with_name(folder.name + '.partial')
        shutil.rmtree(tmp, ignore_errors=True)
        _logger.info('exporting %s to %s for backend %s (first use; cached in %s)', stem, fmt,
                     backend, folder)
        export(model, fmt, tmp, stem, checkpoint_sha256=source, precision=prec)
        tmp.rename(folder)
    return open_engine(manifest, backend, device=device, threads=threads, precision=precision)
