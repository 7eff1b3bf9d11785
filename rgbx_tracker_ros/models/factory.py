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

"""The one place that turns a checkpoint (or a variant name) into a ready tracker.

``core`` never imports ``models`` (core.model_api is the seam): the tracker receives a built
:class:`~rgbx_tracker_ros.core.model_api.TrackerModel`. Everything that starts from a file —
the node, ``rgbx-eval``, the benchmarks, the tests — calls :func:`load_tracker` (or
:func:`build_node_tracker` for the node's parameters), so they run the same model with the same
tracking settings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

from ..core.node_model import NodeModel
from ..core.tracker import RgbxTracker
from ..core.types import BACKENDS
from .checkpoint import load_checkpoint
from .pretrained import sha256_file
from .registry import create_model

_logger = logging.getLogger(__name__)

__all__ = ['TOKEN_BUDGET_OPTIONS', 'build_node_tracker', 'load_tracker', 'parse_model_options']

#: Constructor options that trade accuracy for speed without new weights (issue: token budget):
#: candidate elimination, a smaller search crop (position table resized), fewer blocks.
TOKEN_BUDGET_OPTIONS = ('ce_loc', 'ce_keep_ratio', 'search_size', 'depth')


def load_tracker(checkpoint: Union[str, Path, None], variant: Optional[str] = None,
                 device: str = 'auto', trust_pickle: bool = False, precision: str = 'fp32',
                 redetect_threshold: Optional[float] = None,
                 size_lr: Optional[float] = None,
                 model_overrides: Optional[dict] = None, backend: str = 'torch',
                 threads: Optional[int] = None,
                 engine_cache: Optional[Union[str, Path]] = None,
                 redetect_tiles_per_frame: int = 0) -> RgbxTracker:
    """Build a tracker from a checkpoint file, or random weights when ``checkpoint`` is None.

    Args:
        checkpoint: our checkpoint (its variant is used; ``variant`` must match if given), an
            OSTrack-family or timm ViT file (``variant`` required), or None/'' for random
            weights of ``variant`` (default 't224').
        variant: registered variant name.
        device: 'auto', 'cpu', 'cuda' or 'cuda:N'.
        trust_pickle: allow releases that pickle Python objects (trusted files only).
        precision: network precision, see ``core.tracker.resolve_precision``.
        redetect_threshold: re-detection threshold (see RgbxTracker); None = the value the
            checkpoint's training chose on validation data (``meta['tracking']``), 0 without.
        size_lr: size update rate (see RgbxTracker); None = the checkpoint's
            ``meta['tracking']`` value, else 1.
        redetect_tiles_per_frame: bound on the search regions of re-detection per frame (see
            RgbxTracker; 0 = all of them, the offline setting).
        model_overrides: constructor arguments changed from the checkpoint's (options that do
            not change the weights, e.g. ``{'missing_x': 'rgb'}``).
        backend: 'torch' (the model itself), or 'onnxruntime' / 'openvino' / 'tensorrt': the
            model exported to two graphs (``rgbx_tracker_ros.export``) on first use, cached in
            ``engine_cache``, and run there (``device`` picks the engine's device; the tracker's
            own tensors stay on the CPU).
        threads: CPU threads of a non-torch backend (None = torch's setting).
        engine_cache: cache folder of exported graphs (None = ``$RGBX_CACHE/engines``).

    Raises:
        ValueError: an unknown device, precision or backend.
        rgbx_tracker_ros.models.checkpoint.CheckpointError: unusable checkpoint file.
        rgbx_tracker_ros.export.BackendUnavailable: the backend's package is not installed
            (the message names it) or it needs a GPU.
        KeyError: unknown variant.
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; use one of {", ".join(BACKENDS)}')
    tracking = {}
    if checkpoint:
        model, report = load_checkpoint(checkpoint, variant or None, trust_pickle=trust_pickle,
                                        **(model_overrides or {}))
        variant = report.variant
        tracking = dict(report.meta.get('tracking', {}))
        _logger.info('loaded %s (%s): %d tensors, %d missing, %d unexpected', checkpoint,
                     report.source_format, report.loaded, len(report.missing),
                     len(report.unexpected))
    else:
        _logger.warning('no checkpoint given: variant %s runs with RANDOM weights', variant)
        variant = variant or 't224'
        model = create_model(variant, **(model_overrides or {}))
    if redetect_threshold is None:
        redetect_threshold = float(tracking.get('redetect_threshold', 0.0))
    if size_lr is None:
        size_lr = float(tracking.get('size_lr', 1.0))
    if backend != 'torch':
        from ..export.cached import engine_for
        source = sha256_file(checkpoint) if checkpoint else f'random:{variant}'
        engine = engine_for(model, backend, source, device=device, threads=threads,
                            precision=precision, cache_dir=engine_cache,
                            overrides=model_overrides)
        model, device, precision = engine, 'cpu', 'fp32'
    tracker = RgbxTracker(model, variant, device, precision=precision,
                          redetect_threshold=redetect_threshold, size_lr=size_lr,
                          redetect_tiles_per_frame=redetect_tiles_per_frame)
    tracker.checkpoint = Path(checkpoint) if checkpoint else None
    tracker.backend = getattr(model, 'describe', lambda: 'torch')()
    return tracker


def build_node_tracker(model: NodeModel) -> RgbxTracker:
    """The tracker of the node's model (``core.node_model.node_model(parameters)``), exactly as
    ``tracker_node`` and ``rgbx-eval``'s ``rig:NAME`` specs run it.

    Raises:
        ValueError: an unknown or unavailable device, or an unknown precision (fp16 on a CPU).
        rgbx_tracker_ros.models.checkpoint.CheckpointError: unusable checkpoint file.
        KeyError: unknown variant.
    """
    return load_tracker(model.checkpoint, variant=model.variant, device=model.device,
                        precision=model.precision, backend=model.backend,
                        engine_cache=model.engine_cache or None,
                        redetect_tiles_per_frame=model.redetect_tiles_per_frame)


def _option_value(text: str):
    """'0.7' -> 0.7, '168' -> 168, '3,6' -> (3, 6), 'rgb' -> 'rgb', 'none' / '' -> ()."""
    import yaml
    text = text.strip()
    if ',' in text:
        return tuple(_option_value(part) for part in text.split(',') if part.strip())
    if text.lower() in ('', 'none', '()'):
        return ()
    value = yaml.safe_load(text)
    return value if isinstance(value, (int, float, str, bool)) else text


def parse_model_options(items, variant: Optional[str] = None) -> dict:
    """``['ce_keep_ratio=0.7', 'ce_loc=3,6', 'search_size=168']`` -> constructor overrides for
    :func:`load_tracker` (``model_overrides``): numbers parsed, comma lists as tuples.

    Args:
        items: KEY=VALUE strings (a single comma-free string of several is not split).
        variant: when given, every key must be a constructor argument of it.

    Raises:
        ValueError: an item without '=', or (with ``variant``) an unknown key; the message lists
            the valid ones.
        KeyError: unknown variant.
    """
    out = {}
    for item in items or ():
        key, sep, value = str(item).partition('=')
        key = key.strip()
        if not sep or not key:
            raise ValueError(f'model option {item!r}: expected KEY=VALUE, e.g. ce_keep_ratio=0.7')
        out[key] = _option_value(value)
    if variant is not None and out:
        from .registry import variant_args
        valid = variant_args(variant)
        bad = sorted(set(out) - set(valid))
        if bad:
            raise ValueError(f'model option(s) {", ".join(bad)} are not options of variant '
                             f'{variant!r}; valid: {", ".join(sorted(valid))}')
    return out
