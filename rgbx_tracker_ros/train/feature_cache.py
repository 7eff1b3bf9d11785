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

"""Training with a frozen, cached prefix: the CPU recipe for trackers on a pretrained backbone.

When everything up to block ``start`` is frozen (patch embedding, Meta Merger, positions and the
first ``start`` blocks, pretrained or not), its output for a given sample never changes. This
module runs that prefix ONCE per sample (:func:`build_feature_cache`: (N, Nz + Nx, D) float16
tokens ``[template | search]`` entering block ``start``), then trains the rest (blocks
``start ..``, the final norm and the center head) for many epochs over the cached tokens
(:func:`train_on_cache`). On a 2-core CPU a ViT-S/14 prefix costs ~0.1 s per sample while the
head costs a few ms, so the same CPU budget sees each sample many times instead of once.

Augmentation is frozen into the cache (each entry is one augmented pair), so the cache should be
large (thousands of pairs) and drawn from every source. A validation cache, drawn from held-out
data (the ``val`` split of the training videos and held-out still images), picks the checkpoint:
the step with the best mean IoU of the decoded box (:func:`validation_scores`).

ROS-free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from tqdm import tqdm

from ..core.boxes import cxcywh_to_xywh, iou_xywh
from ..core.model_api import decode_boxes
from .data import PairSample
from .losses import tracking_loss

_logger = logging.getLogger(__name__)


def build_feature_cache(model: torch.nn.Module, draw: Callable[[int], List[PairSample]],
                        num_samples: int, start: int, batch_size: int = 16,
                        collate: Optional[Callable] = None, desc: str = 'cache') -> Dict:
    """Run the frozen prefix of ``model`` once over ``num_samples`` drawn samples.

    Args:
        model: an RgbxViT (``backbone.input_tokens`` / ``backbone.run_blocks``).
        draw: ``draw(n)`` returns n :class:`PairSample` (augmented, X dropout applied).
        num_samples: N, entries in the cache.
        start: the first trained block; blocks ``0 .. start-1`` are part of the cached prefix
            (``start = depth``: everything but the final norm and the head is cached).
        batch_size: samples per prefix forward.
        collate: ``collate(samples, device)`` -> model inputs (the trainer's).
        desc: progress-bar label.

    Returns:
        dict with ``tokens`` (N, Nz + Nx, D) float16, ``boxes`` (N, 4) float32 normalised
        (cx, cy, w, h) in the search crop and ``modality`` (N,) int64.
    """
    if collate is None:
        from .trainer import collate
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    tokens, boxes, modality = [], [], []
    bar = tqdm(total=num_samples, desc=desc, dynamic_ncols=True)
    with torch.inference_mode():
        while sum(len(b) for b in boxes) < num_samples:
            n = min(batch_size, num_samples - sum(len(b) for b in boxes))
            batch = collate(draw(n), device)
            t = model.backbone.input_tokens(batch['template_rgb'], batch['search_rgb'],
                                            batch['template_x'], batch['search_x'],
                                            batch['template_x_mask'], batch['search_x_mask'])
            t = model.backbone.run_blocks(t, 0, start)
            tokens.append(t.to(torch.float16).cpu())
            boxes.append(batch['boxes'].cpu())
            modality.append(batch['modality'].cpu())
            bar.update(n)
    bar.close()
    model.train(was_training)
    return {'tokens': torch.cat(tokens), 'boxes': torch.cat(boxes),
            'modality': torch.cat(modality), 'start': start}


def cache_key(**fields) -> str:
    """A short hash of the settings that determine a cache's content (to reuse it safely)."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_or_build(path: Optional[Path], key: str, build: Callable[[], Dict]) -> Dict:
    """Load the cache at ``path`` when its key matches, else build it (and save it there)."""
    if path is not None and path.is_file():
        cache = torch.load(path, map_location='cpu', weights_only=True)
        if cache.get('key') == key:
            _logger.info('reusing feature cache %s (%d samples)', path, len(cache['boxes']))
            return cache
        _logger.info('feature cache %s was built with other settings: rebuilding', path)
    cache = build()
    cache['key'] = key
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + '.tmp')
        torch.save(cache, tmp)
        tmp.replace(path)
    return cache


def redetect_threshold(ious: torch.Tensor, scores: torch.Tensor, quantile: float = 0.1,
                       min_iou: float = 0.5) -> float:
    """Score below which the tracker should search the whole frame, from validation pairs.

    The ``quantile`` of the raw peak scores of the validation pairs the model localises
    (IoU >= ``min_iou``): a target that is in the search region scores above it 90 % of the time
    (for the default quantile), so a global search mostly runs when the target is not there.
    Chosen on held-out training data, never on evaluation sequences.

    Args:
        ious: (N,) IoU of each validation pair's decoded box (:func:`decoded_ious`).
        scores: (N,) raw peak score of each pair.
        quantile: the fraction of localised pairs allowed to score below the threshold.
        min_iou: IoU from which a pair counts as localised.

    Returns:
        The threshold (0.0 when no pair is localised).
    """
    hits = scores[ious >= min_iou]
    if len(hits) == 0:
        return 0.0
    return float(torch.quantile(hits, quantile))


def decoded_ious(out, gt_cxcywh: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N,) IoU of the box decoded at the score-map peak (no window) with the (N, 4) normalised
    (cx, cy, w, h) labels, and (N,) the peak score, for one batch of any model's
    :class:`~rgbx_tracker_ros.core.model_api.TrackerOutput` (on the CPU)."""
    pred, peak = decode_boxes(out.score_map.float(), out.size_map.float(),
                              out.offset_map.float())
    ious = iou_xywh(cxcywh_to_xywh(pred.cpu().numpy()), cxcywh_to_xywh(gt_cxcywh.cpu().numpy()))
    return torch.from_numpy(ious).float(), peak.cpu()


@torch.no_grad()
def validation_scores(model: torch.nn.Module, cache: Dict, batch_size: int = 64):
    """(N,) IoU of the decoded peak box (no window) with the label, and (N,) the peak score."""
    was_training = model.training
    model.eval()
    start = int(cache['start'])
    ious, peaks = [], []
    for i in range(0, len(cache['boxes']), batch_size):
        out = model.forward_from(cache['tokens'][i:i + batch_size].float(), start)
        iou, peak = decoded_ious(out, cache['boxes'][i:i + batch_size])
        ious.append(iou)
        peaks.append(peak)
    model.train(was_training)
    return torch.cat(ious), torch.cat(peaks)


def train_on_cache(model: torch.nn.Module, cache: Dict, optim: torch.optim.Optimizer,
                   iterations: int, batch_size: int, lr_at: Callable[[int], float],
                   grad_clip: float, rng: np.random.Generator, val_cache: Optional[Dict] = None,
                   every: int = 100, on_checkpoint: Optional[Callable] = None,
                   start_step: int = 0, max_seconds: float = 0.0,
                   weights: Optional[Dict[str, float]] = None) -> Dict:
    """Train the part of ``model`` after the cached prefix over the cache.

    Each step takes ``batch_size`` entries (epochs of a random permutation), runs
    ``model.forward_from`` and the usual tracking loss. Every ``every`` steps (and at the end)
    the validation IoU is measured and ``on_checkpoint(step, record, is_best, tracking)`` is
    called; ``tracking`` holds the :func:`redetect_threshold` of that validation pass (empty
    without a validation cache).

    Returns:
        dict with ``best_step``, ``best_val_iou`` and ``log`` (the records).
    """
    start = int(cache['start'])
    n = len(cache['boxes'])
    order, pos = rng.permutation(n), 0
    best, best_step, log, window = -1.0, start_step, [], []
    t0 = time.time()
    model.train()
    bar = tqdm(range(start_step, iterations), initial=start_step, total=iterations,
               desc='train (cached)', dynamic_ncols=True)
    for step in bar:
        for group in optim.param_groups:
            group['lr'] = lr_at(step) * group.get('lr_scale', 1.0)
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = torch.from_numpy(order[pos:pos + batch_size])
        pos += batch_size
        out = model.forward_from(cache['tokens'][idx].float(), start, cache['modality'][idx])
        loss = tracking_loss(out, cache['boxes'][idx], weights=weights)
        optim.zero_grad(set_to_none=True)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g['params']],
                                       grad_clip)
        optim.step()
        window.append(loss.terms)
        bar.set_postfix(loss=f'{float(loss.total.detach()):.3f}', iou=f'{loss.terms["iou"]:.2f}',
                        refresh=False)
        out_of_time = max_seconds > 0 and time.time() - t0 >= max_seconds
        last = step + 1 == iterations or out_of_time
        if (step + 1) % every == 0 or last:
            record = {'step': step + 1, 'lr': lr_at(step), 'elapsed_s': time.time() - t0,
                      'epoch': (step + 1) * batch_size / n,
                      **{k: float(np.mean([w[k] for w in window])) for k in window[0]}}
            window = []
            tracking = {}
            if val_cache is not None:
                ious, peaks = validation_scores(model, val_cache)
                record['val_iou'] = float(ious.mean())
                tracking = {'redetect_threshold': round(redetect_threshold(ious, peaks), 4),
                            'chosen_on': 'validation cache (held-out training data)'}
            is_best = val_cache is None or record['val_iou'] > best
            if is_best:
                best, best_step = record.get('val_iou', best), step + 1
            log.append(record)
            if on_checkpoint is not None:
                on_checkpoint(step + 1, record, is_best, tracking)
        if out_of_time:
            _logger.warning('stopped at step %d of %d: time limit reached', step + 1, iterations)
            break
    bar.close()
    return {'best_step': best_step, 'best_val_iou': best, 'log': log}
