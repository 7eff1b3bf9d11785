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

"""Export a tracker model as two fixed-shape graphs: the template encoder and the per-frame net.

The template tokens depend on the target alone, so they are computed once per target (as
:class:`~rgbx_tracker_ros.core.tracker.RgbxTracker` does in torch) by the *template* graph, and
every frame runs only the *search* graph:

======== ========================================================= ===========================
graph    inputs (float32, batch 1)                                 outputs (float32)
======== ========================================================= ===========================
template template_rgb (1, 3, T, T), template_x (1, 3, T, T),      template_tokens (1, Nt, D)
         template_x_mask (1,)
search   search_rgb (1, 3, S, S), search_x (1, 3, S, S),            score (1, 1, F, F),
         search_x_mask (1,), template_tokens (1, Nt, D)              size (1, 2, F, F),
                                                                     offset (1, 2, F, F)
======== ========================================================= ===========================

Crops are ImageNet-normalised (``core.tracker.normalize_crops``). A missing X is fed as zeros
with ``x_mask`` 0: every family's masked path equals its X-is-None path (tested), so one graph
serves RGB + X and RGB alone. Shapes are fixed (batch 1); the engines loop for larger batches
(re-detection tiles).

Files: ``<stem>.template.onnx`` and ``<stem>.search.onnx`` (or ``.xml``/``.bin`` for OpenVINO,
``.engine`` for TensorRT) and ``<stem>.json``, the manifest (:func:`write_manifest`) the engines
read: variant, family, crop sizes, token shape, the checkpoint's sha256, the format and the
versions that wrote it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Tuple

import torch
from torch import nn

from ..core.model_api import TrackerModel

_logger = logging.getLogger(__name__)

__all__ = ['ExportedGraphs', 'FORMATS', 'SearchGraph', 'TemplateGraph', 'export',
           'export_onnx', 'to_openvino', 'to_tensorrt', 'write_manifest']

#: Export formats, with the backend that runs each.
FORMATS = {'onnx': 'onnxruntime', 'openvino': 'openvino', 'tensorrt': 'tensorrt'}
TEMPLATE_INPUTS = ('template_rgb', 'template_x', 'template_x_mask')
SEARCH_INPUTS = ('search_rgb', 'search_x', 'search_x_mask', 'template_tokens')
SEARCH_OUTPUTS = ('score', 'size', 'offset')
OPSET = 17
MANIFEST_VERSION = 1


class TemplateGraph(nn.Module):
    """(1, 3, T, T) template crops + (1,) X mask -> (1, Nt, D) template tokens
    (``model.encode_template``)."""

    def __init__(self, model: TrackerModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, template_rgb: torch.Tensor, template_x: torch.Tensor,
                template_x_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_template(template_rgb, template_x, template_x_mask)


class SearchGraph(nn.Module):
    """(1, 3, S, S) search crops + (1,) X mask + template tokens -> score, size, offset maps
    (``model(...)``, the per-frame call)."""

    def __init__(self, model: TrackerModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, search_rgb: torch.Tensor, search_x: torch.Tensor,
                search_x_mask: torch.Tensor, template_tokens: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(None, search_rgb, None, search_x, search_x_mask=search_x_mask,
                         template_tokens=template_tokens)
        return out.score_map, out.size_map, out.offset_map


@dataclasses.dataclass
class ExportedGraphs:
    """An exported model on disk.

    Attributes:
        manifest: the ``<stem>.json`` file.
        template: the template graph file.
        search: the per-frame graph file.
        format: 'onnx', 'openvino' or 'tensorrt'.
        info: the manifest's content.
    """

    manifest: Path
    template: Path
    search: Path
    format: str
    info: dict


def example_inputs(model: TrackerModel) -> Tuple[tuple, tuple]:
    """Random example inputs of both graphs (template, search), batch 1, float32."""
    t, s = int(model.template_size), int(model.search_size)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(1, 3, t, t, generator=gen), torch.randn(1, 3, t, t, generator=gen)
    x = torch.randn(1, 3, s, s, generator=gen), torch.randn(1, 3, s, s, generator=gen)
    with torch.no_grad():
        tokens = model.encode_template(z[0], z[1], torch.ones(1))
    return (z[0], z[1], torch.ones(1)), (x[0], x[1], torch.ones(1), tokens.clone())


def export_onnx(model: TrackerModel, out_dir: Path, stem: str, checkpoint_sha256: str = '',
                opset: int = OPSET) -> ExportedGraphs:
    """Write the template and search graphs of ``model`` as ONNX (opset ``opset``, fixed shapes)
    and the manifest; returns where they are.

    The model is put in eval mode with gradients off and left so (the exporter restores the
    training flag of the module it is given, so the wrappers are built in eval mode: a wrapper
    in training mode would put the model back into training mode after the export).

    Raises:
        RuntimeError: the exporter cannot trace the model (message names the graph).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    z_in, x_in = example_inputs(model)
    files = {}
    t0 = time.perf_counter()
    for name, graph, inputs, in_names, out_names in (
            ('template', TemplateGraph(model).eval(), z_in, TEMPLATE_INPUTS,
             ('template_tokens',)),
            ('search', SearchGraph(model).eval(), x_in, SEARCH_INPUTS, SEARCH_OUTPUTS)):
        path = out_dir / f'{stem}.{name}.onnx'
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')     # tracer warnings about Python control flow
            try:
                torch.onnx.export(graph, inputs, str(path), dynamo=False, opset_version=opset,
                                  input_names=list(in_names), output_names=list(out_names),
                                  do_constant_folding=True)
            except Exception as exc:    # the exporter raises many types
                raise RuntimeError(f'ONNX export of the {name} graph of '
                                   f'{getattr(model, "variant", "the model")} failed: '
                                   f'{type(exc).__name__}: {exc}') from exc
        files[name] = path
    model.eval()
    _, _, _, tokens = x_in
    info = {
        'manifest_version': MANIFEST_VERSION, 'format': 'onnx', 'opset': opset,
        'variant': getattr(model, 'variant', ''), 'family': getattr(model, 'family', ''),
        'template_size': int(model.template_size), 'search_size': int(model.search_size),
        'feat_size': int(model.feat_size), 'token_shape': list(tokens.shape),
        'checkpoint_sha256': checkpoint_sha256, 'torch': torch.__version__,
        'template': files['template'].name, 'search': files['search'].name,
        'export_seconds': round(time.perf_counter() - t0, 2)}
    manifest = write_manifest(out_dir / f'{stem}.json', info)
    return ExportedGraphs(manifest, files['template'], files['search'], 'onnx', info)


def to_openvino(onnx: ExportedGraphs, precision: str = 'fp32') -> ExportedGraphs:
    """Convert ONNX graphs to OpenVINO IR (``.xml`` + ``.bin``, weights stored in fp32 unless
    ``precision`` is 'fp16') beside them, with a manifest ``<stem>.openvino.json``.

    Raises:
        rgbx_tracker_ros.export.engines.BackendUnavailable: the ``openvino`` package is missing.
    """
    from .engines import require
    ov = require('openvino')
    stem = onnx.manifest.name[:-len('.json')]
    files = {}
    for name, src in (('template', onnx.template), ('search', onnx.search)):
        dst = src.with_suffix('.xml')
        ov.save_model(ov.convert_model(str(src)), str(dst), compress_to_fp16=precision == 'fp16')
        files[name] = dst
    info = dict(onnx.info, format='openvino', openvino=ov.__version__,
                weights=precision, template=files['template'].name, search=files['search'].name)
    manifest = write_manifest(onnx.manifest.with_name(f'{stem}.openvino.json'), info)
    return ExportedGraphs(manifest, files['template'], files['search'], 'openvino', info)


def to_tensorrt(onnx: ExportedGraphs, precision: str = 'fp16',
                workspace_gib: float = 4.0) -> ExportedGraphs:
    """Build TensorRT engines (``.engine``) from ONNX graphs, on this machine's GPU (an engine is
    tied to the GPU and TensorRT version that built it), with a manifest
    ``<stem>.tensorrt.json``. ``precision`` 'fp16' or 'bf16' lets TensorRT pick those kernels
    where faster; 'fp32' keeps float32.

    Raises:
        rgbx_tracker_ros.export.engines.BackendUnavailable: ``tensorrt`` is not installed or no
            CUDA GPU is visible.
        rgbx_tracker_ros.export.engines.EngineError: TensorRT cannot parse or build a graph.
    """
    from .engines import BackendUnavailable, EngineError, require
    trt = require('tensorrt')
    if not torch.cuda.is_available():
        raise BackendUnavailable('the tensorrt backend needs a CUDA GPU; none is visible here '
                                 '(use backend onnxruntime or openvino on a CPU)')
    logger = trt.Logger(trt.Logger.WARNING)
    stem = onnx.manifest.name[:-len('.json')]
    files = {}
    for name, src in (('template', onnx.template), ('search', onnx.search)):
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(src.read_bytes()):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineError(f'TensorRT cannot parse {src}: {errors}')
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * 2**30))
        if precision in ('fp16', 'bf16'):
            config.set_flag(trt.BuilderFlag.FP16 if precision == 'fp16' else trt.BuilderFlag.BF16)
        blob = builder.build_serialized_network(network, config)
        if blob is None:
            raise EngineError(f'TensorRT could not build an engine from {src}')
        dst = src.with_suffix('.engine')
        dst.write_bytes(bytes(blob))
        files[name] = dst
    info = dict(onnx.info, format='tensorrt', tensorrt=trt.__version__, precision=precision,
                gpu=torch.cuda.get_device_name(), template=files['template'].name,
                search=files['search'].name)
    manifest = write_manifest(onnx.manifest.with_name(f'{stem}.tensorrt.json'), info)
    return ExportedGraphs(manifest, files['template'], files['search'], 'tensorrt', info)


def export(model: TrackerModel, fmt: str, out_dir: Path, stem: str,
           checkpoint_sha256: str = '', precision: str = 'fp32') -> ExportedGraphs:
    """Export ``model`` in format ``fmt`` ('onnx', 'openvino', 'tensorrt'; the latter two go
    through ONNX, whose files stay beside them).

    Raises:
        ValueError: unknown format.
        rgbx_tracker_ros.export.engines.BackendUnavailable: the format's package is missing.
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown export format {fmt!r}; use one of {", ".join(FORMATS)}')
    graphs = export_onnx(model, out_dir, stem, checkpoint_sha256)
    if fmt == 'openvino':
        return to_openvino(graphs, 'fp16' if precision == 'fp16' else 'fp32')
    if fmt == 'tensorrt':
        return to_tensorrt(graphs, 'fp16' if precision in ('auto', 'fp16') else precision)
    return graphs


def write_manifest(path: Path, info: dict) -> Path:
    """Write ``info`` as the manifest JSON ``path``; returns it."""
    path = Path(path)
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + '\n', encoding='utf-8')
    return path
