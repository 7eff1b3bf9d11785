"""Training loop: sources -> batches -> RgbxViT -> losses -> AdamW, with checkpoints and resume.

Recipe (OSTrack-like, scaled to a CPU): AdamW (weight decay 1e-4), linear warm-up then cosine decay,
gradient clipping, a mixture of real still-image pairs (``data/train``) and synthetic RGB-X
sequences, random X dropout for the missing-modality path. Weights are saved in our checkpoint
format (:mod:`rgbx_tracker_ros.models.checkpoint`); the optimiser state goes to a ``.state.pt`` file
beside it so ``--resume`` continues where a run stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from ..core.tracker import normalize_crops
from ..models import create_model, variant_args
from ..models.checkpoint import save_checkpoint
from .data import Geometry, PairSample, StaticPairSource, SyntheticSource, drop_x
from .losses import tracking_loss

_logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings (CLI flags of ``rgbx-train`` map 1:1 onto these fields).

    Attributes:
        variant: registered model variant.
        out: checkpoint path (.pt); ``<out>.state.pt`` and ``<out>.log.jsonl`` are written beside it.
        iterations: optimiser steps.
        batch_size: samples per step.
        lr: peak learning rate; warmup: linear warm-up steps; min_lr_ratio: final lr / peak.
        weight_decay, grad_clip: AdamW decay and max gradient norm.
        data_root: ``data/train`` folder, or None for synthetic data only.
        synthetic_ratio: fraction of samples drawn from the synthetic generator.
        x_dropout: probability of removing X from a sample (split search/both/template 3:2:1).
        checkpoint_every: steps between checkpoints.
        seed: RNG seed.
        threads: torch CPU threads (0 = torch default).
        resume: continue from ``<out>.state.pt`` when it exists.
    """

    variant: str = 't224'
    out: str = 'checkpoints/t224_demo.pt'
    iterations: int = 2000
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 100
    min_lr_ratio: float = 0.05
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    data_root: Optional[str] = None
    synthetic_ratio: float = 0.5
    x_dropout: float = 0.3
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 0
    resume: bool = False
    extra: dict = field(default_factory=dict)


def collate(samples: List[PairSample], device: torch.device) -> dict:
    """Stack samples into model inputs; missing X becomes zeros with a 0 mask."""
    def stack_x(key: str, rgb_key: str):
        crops = [getattr(s, key) if getattr(s, key) is not None else
                 np.zeros_like(getattr(s, rgb_key)) for s in samples]
        mask = torch.tensor([getattr(s, key) is not None for s in samples], dtype=torch.float32)
        return normalize_crops(crops, device), mask.to(device)

    template_x, template_mask = stack_x('template_x', 'template_rgb')
    search_x, search_mask = stack_x('search_x', 'search_rgb')
    return {
        'template_rgb': normalize_crops([s.template_rgb for s in samples], device),
        'search_rgb': normalize_crops([s.search_rgb for s in samples], device),
        'template_x': template_x, 'search_x': search_x,
        'template_x_mask': template_mask, 'search_x_mask': search_mask,
        'boxes': torch.from_numpy(np.stack([s.box_cxcywh for s in samples])).to(device),
        'modality': torch.tensor([s.modality for s in samples], device=device),
    }


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``cfg.lr`` then cosine decay to ``cfg.lr * cfg.min_lr_ratio``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.iterations - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def train(cfg: TrainConfig) -> Path:
    """Run training per ``cfg``; returns the checkpoint path.

    Raises:
        FileNotFoundError: if ``cfg.data_root`` is given but missing.
        KeyError: unknown variant.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    out = Path(cfg.out)
    state_path = out.with_name(out.stem + '.state.pt')
    log_path = out.with_name(out.stem + '.log.jsonl')
    out.parent.mkdir(parents=True, exist_ok=True)
    model = create_model(cfg.variant).to(device).train()
    geo = Geometry(template_size=model.template_size, search_size=model.search_size)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and 'pos_embed' not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 or 'pos_embed' in n]
    optim = torch.optim.AdamW([{'params': decay, 'weight_decay': cfg.weight_decay},
                               {'params': no_decay, 'weight_decay': 0.0}], lr=cfg.lr)
    start, rng = 0, np.random.default_rng(cfg.seed)
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state['model'])
        optim.load_state_dict(state['optim'])
        start = state['step']
        rng.bit_generator.state = state['rng']
        _logger.info('resumed from %s at step %d', state_path, start)
    static = StaticPairSource(Path(cfg.data_root), geo) if cfg.data_root else None
    synthetic = SyntheticSource(geo, seed=cfg.seed * 1000 + start) \
        if cfg.synthetic_ratio > 0 or static is None else None
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations,
               desc=f'train {cfg.variant}', dynamic_ncols=True)
    t0, window = time.time(), []
    for step in bar:
        for group in optim.param_groups:
            group['lr'] = lr_at(step, cfg)
        samples = []
        for _ in range(cfg.batch_size):
            use_syn = static is None or (synthetic is not None and rng.random() < cfg.synthetic_ratio)
            sample = (synthetic if use_syn else static).sample(rng)
            samples.append(drop_x(sample, rng, p_both=cfg.x_dropout / 3,
                                  p_search=cfg.x_dropout / 2, p_template=cfg.x_dropout / 6))
        batch = collate(samples, device)
        out_net = model(batch['template_rgb'], batch['search_rgb'], batch['template_x'],
                        batch['search_x'], batch['template_x_mask'], batch['search_x_mask'])
        loss = tracking_loss(out_net, batch['boxes'], batch['modality'])
        optim.zero_grad(set_to_none=True)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optim.step()
        window.append(loss.terms)
        bar.set_postfix(loss=f'{float(loss.total):.3f}', iou=f'{loss.terms["iou"]:.2f}')
        last = step + 1 == cfg.iterations
        if (step + 1) % cfg.checkpoint_every == 0 or last:
            mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
            record = {'step': step + 1, 'lr': lr_at(step, cfg), 'elapsed_s': time.time() - t0,
                      **mean}
            with open(log_path, 'a') as fh:
                fh.write(json.dumps(record) + '\n')
            window = []
            meta = {'train_config': asdict(cfg), 'step': step + 1, 'last_losses': mean}
            save_checkpoint(out, model, cfg.variant, variant_args(cfg.variant), meta)
            torch.save({'model': model.state_dict(), 'optim': optim.state_dict(),
                        'step': step + 1, 'rng': rng.bit_generator.state}, state_path)
    return out
