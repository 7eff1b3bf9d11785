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

"""Training loop: sources -> batches -> RgbxViT -> losses -> AdamW, with checkpoints and resume.

Recipe (OSTrack-like, scaled to a CPU): AdamW (weight decay 1e-4), linear warm-up then cosine
decay, gradient clipping, a mixture of real still-image pairs (``data/train``) and synthetic RGB-X
sequences, random X dropout for the missing-modality path. Weights are saved in our checkpoint
format (:mod:`rgbx_tracker_ros.models.checkpoint`); the optimiser state goes to a ``.state.pt``
file beside it so ``--resume`` continues where a run stopped.

Samples are made in the training process (``workers=0``, the CPU recipe of the demo checkpoint) or,
for a GPU that one process cannot feed, by ``workers`` DataLoader processes
(:class:`SampleStream`), each drawing whole batches from its own RNG seeded from (seed, worker id,
start step): a run is reproducible for a given worker count, and a resumed run draws new samples
instead of replaying the first ones. ``echo`` reuses each batch for that many steps (data echoing).
``amp`` runs the forward pass under bf16 autocast on CUDA (losses in fp32); ``max_minutes`` ends a
run cleanly (checkpoint, state, log) once that wall time has passed.

**Distributed data parallel.** Started by ``torchrun --nproc_per_node=N rgbx-train ...`` (any
number of nodes), each of the ``world_size`` processes trains a replica wrapped in
DistributedDataParallel (:mod:`~rgbx_tracker_ros.train.distributed`: NCCL on GPUs, one per
process, gloo on CPUs). ``batch_size`` is per rank and per micro-batch; an optimiser step sees
``batch_size * world_size * accum`` samples (the global batch) and the gradient of their mean
loss (DDP averages the ranks' gradients, ``accum`` micro-batch losses are divided by ``accum``;
the micro-batches before the last of a step run under DDP's ``no_sync``). The heads' BatchNorm
layers normalise over one rank's micro-batch (``batch_size`` samples), or over all ranks' with
``sync_bn``; never across micro-batches. ``shard`` chooses how the ranks split the sample
stream:

- ``'rank'`` (default): every rank draws from its own seeded stream, :func:`rank_seed` (rank 0
  draws exactly the single-process stream), and DataLoader workers are numbered globally
  (``rank * workers + id``) for :func:`worker_seed`. No sample is made twice.
- ``'global'``: every rank draws the whole global micro-batch (``batch_size * world_size``
  samples) from the single-process stream and keeps its slice ``[rank * batch_size, (rank + 1) *
  batch_size)``: the run sees the samples of a single-process run with ``batch_size *
  world_size`` (and, with ``accum``, the order of micro-batches of that run), so the two can be
  compared: equal steps with ``sync_bn``; without it, the steps of one process with
  ``batch_size`` and ``accum * world_size`` (BatchNorm over ``batch_size`` samples in both), up
  to summation order. Each rank makes
  ``world_size`` times the samples it uses; for checks, not speed.

Rank 0 alone shows the progress bar, validates, writes the log, checkpoints and the state file;
the loss terms it logs are the mean over the ranks, and the other ranks wait at a barrier while
it writes. The ``max_minutes`` decision is rank 0's, broadcast every step, so all ranks stop at the
same step. The state file keeps every rank's sample-RNG state (``'rng_ranks'``), so ``--resume``
of a run with the same ``world_size`` continues every stream; with another world size (or an
older state file) rank 0 continues its stream and the other ranks start new ones from
:func:`worker_seed` (seed, rank, start step). The resumed run's files must be readable by every
rank (a shared file system on several nodes). With ``world_size == 1`` nothing of this runs and
training is exactly the single-process recipe.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from ..core.tracker import IMAGENET_MEAN, IMAGENET_STD, normalize_crops
from ..models import create_model, family_of, variant_args
from ..models.registry import Family
from ..models.checkpoint import init_from, save_checkpoint
from ..core.model_api import TrackerOutput
from . import distributed
from .data import (Geometry, PairSample, StaticPairSource, SyntheticSource,
                   UnlabelledVideoSource, VideoPairSource, drop_x)
from .feature_cache import decoded_ious, redetect_threshold
from .losses import DEFAULT_WEIGHTS, HEAD_TERMS, LossOutput, tracking_loss
from .recipe import scheduled_lr

_logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings (CLI flags of ``rgbx-train`` map 1:1 onto these fields).

    Attributes:
        variant: registered model variant.
        out: checkpoint path (.pt); ``<out>.state.pt`` and ``<out>.log.jsonl`` are written
            beside it.
        iterations: optimiser steps.
        batch_size: samples per micro-batch per rank; an optimiser step uses
            ``batch_size * world_size * accum`` samples (one process: ``batch_size * accum``).
        accum: gradient accumulation: micro-batches per optimiser step (1 = off). Each
            micro-batch loss is divided by ``accum``, so the step's gradient is that of the mean
            loss over the step's samples (up to BatchNorm, whose batch statistics are per
            micro-batch); data echoing (``echo``) repeats the step's whole set of micro-batches.
        shard: how ranks of a distributed run split the samples: 'rank' (each rank its own
            seeded stream) or 'global' (each rank its slice of the single-process stream); see
            the module docstring. No effect in one process.
        recipe: a training recipe (``config/train/<name>.yaml`` or a path;
            :mod:`~rgbx_tracker_ros.train.recipe`): its datasets, mixed by their ratios, are the
            only sample source (the still / synthetic / video sources are off), and its lr
            schedule (step, cosine or constant) replaces :func:`lr_at`'s cosine. ``rgbx-train
            --recipe`` also takes the recipe's variant, batch, epochs x samples and optimiser
            settings (flags given on the command line win).
        sync_bn: distributed runs: BatchNorm layers (the heads' conv towers) normalise with the
            batch statistics of all ranks (:func:`~.distributed.sync_batchnorm`), so a step
            equals one process with the global batch; off (default), each rank normalises over
            its own ``batch_size`` samples (as the OSTrack-family DDP recipes do). No effect in
            one process.
        lr: peak learning rate; warmup: linear warm-up steps; min_lr_ratio: final lr / peak.
        weight_decay, grad_clip: AdamW decay and max gradient norm.
        data_root: ``data/train`` folder, or None for synthetic data only.
        synthetic_ratio: fraction of samples drawn from the synthetic generator.
        x_dropout: probability of removing X from a sample (split search/both/template 3:2:1).
        checkpoint_every: optimiser steps between checkpoints.
        seed: RNG seed (of rank 0 in a distributed run; the other ranks' sample streams are
            seeded by :func:`rank_seed`).
        threads: torch CPU threads (0 = torch default).
        resume: continue from ``<out>.state.pt`` when it exists (every rank reads it).
        workers: DataLoader processes making samples, per rank (0 = in the training process,
            the demo recipe; each worker holds its own synthetic pool and shares the still
            images).
        amp: bf16 autocast for the forward pass on CUDA (ignored on CPU).
        echo: data echoing (Choi et al. 2019, "Faster Neural Network Training with Data
            Echoing"): each batch is used for this many consecutive steps (1 = off). For a GPU that
            the sample makers cannot keep busy; it repeats samples, so keep it small (2-4).
        max_minutes: stop once this wall time (minutes, counted from the call of :func:`train`,
            data loading included) has passed, with checkpoint, state and log written (0 = no
            limit). The lr schedule still follows ``iterations``.
        init: initialise from pretrained weights before training: a fetched backbone name
            (``dinov2_vits14``) or a file (timm ViT, OSTrack-family release, our checkpoint); see
            :func:`~rgbx_tracker_ros.models.checkpoint.init_from`. What was loaded, missing and
            unexpected is logged and stored in the checkpoint metadata.
        freeze_backbone: keep every tensor loaded by ``init`` frozen and train only the new
            modules (Meta Merger, routed experts, head): the PEFT regime of XTrack / SEATrack /
            PATrack. The checkpoint then stores only the non-pretrained tensors plus the sha256
            of the pretrained file (when ``init`` names a fetched backbone).
        backbone_lr_scale: learning-rate factor of the tensors loaded by ``init`` (OSTrack: 0.1).
        video_ratio: fraction of samples from the real training videos
            (``<data_root>/videos``, :class:`~.data.VideoPairSource`, 'train' split).
        cache_samples: > 0 switches to the cached-prefix recipe
            (:mod:`~rgbx_tracker_ros.train.feature_cache`): everything before the last
            ``train_blocks`` blocks is frozen, run once over this many samples, and the rest is
            trained over the cache for ``iterations`` steps.
        cache_val_samples: validation pairs (videos' 'val' split and held-out stills, whose
            'train' split is then used for training) for choosing the checkpoint: the best
            validation IoU is saved to ``out``.
        train_blocks: blocks trained after the cached prefix (0 = the final norm and head only).
        cache_file: where the caches are stored for reuse (default ``<out>.cache.pt`` and
            ``<out>.valcache.pt``).
        trainable: which parameters train. 'auto': the family's rule
            (:attr:`~rgbx_tracker_ros.models.registry.Family.trainable`, e.g. XTrack's names
            with 'MeME') when the family has one and ``init`` loads a base, else every
            parameter (minus ``freeze_backbone``); 'all': every parameter; otherwise a
            comma-separated list of name substrings (the authors' ``requires_grad`` loops).
            Frozen BatchNorm layers stay in eval mode when the family sets ``fix_bn``.
        loss_weights: overrides of loss-term weights, ``'name=value,...'`` (e.g.
            ``'balance=0.02,modality=0.01'``), over the head weights and the family's.
        val_samples: > 0: that many validation pairs are drawn once from held-out data (the
            videos' 'val' split and held-out stills, whose 'train' split is then used for
            training; synthetic pairs from another seed) and scored at every checkpoint; the
            step with the best mean IoU is saved to ``out`` (with the re-detection threshold of
            that pass in ``meta['tracking']``), and the last step to ``<out>.last.pt``.
        teacher_options: with ``distill_from``: constructor overrides of the teacher,
            whitespace-separated ``KEY=VALUE`` (e.g. ``'search_size=168'``: the teacher on the
            smaller search crop of a faster student; :func:`~.distill.load_teacher`).
        unlabelled_ratio: with ``distill_from``: fraction of samples drawn from the unlabelled
            real sequences of ``data_root`` (:class:`~.data.UnlabelledVideoSource`), trained on
            the teacher's response and features only.
        distill_from: a teacher checkpoint: train the model (the student, any one-stream
            variant) by feature and response distillation from it as well
            (:mod:`~rgbx_tracker_ros.train.distill`).
        student_init: with ``distill_from``: 'teacher' initialises the student from the teacher
            before training (MixFormerV2's deep-to-shallow: student block j from the teacher
            block of :func:`~.distill.layer_pairs`, every other tensor of the same name and shape
            copied), 'teacher:0,2,4,6' names the teacher blocks; '' = the student's own init.
    """

    variant: str = 't224'
    out: str = 'checkpoints/t224_demo.pt'
    iterations: int = 2000
    batch_size: int = 16
    accum: int = 1
    shard: str = 'rank'
    sync_bn: bool = False
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
    workers: int = 0
    amp: bool = False
    echo: int = 1
    max_minutes: float = 0.0
    init: str = ''
    freeze_backbone: bool = False
    backbone_lr_scale: float = 0.1
    video_ratio: float = 0.0
    cache_samples: int = 0
    cache_val_samples: int = 0
    train_blocks: int = 0
    cache_file: str = ''
    trainable: str = 'auto'
    val_samples: int = 0
    loss_weights: str = ''
    distill_from: str = ''
    student_init: str = ''
    teacher_options: str = ''
    unlabelled_ratio: float = 0.0
    recipe: str = ''
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
        'labelled': torch.tensor([s.labelled for s in samples], dtype=torch.float32,
                                 device=device),
    }


def draw_samples(static: Optional[StaticPairSource], synthetic: Optional[SyntheticSource],
                 rng: np.random.Generator, cfg: TrainConfig,
                 video: Optional[VideoPairSource] = None,
                 count: Optional[int] = None,
                 unlabelled: Optional[UnlabelledVideoSource] = None) -> List[PairSample]:
    """``count`` (default ``cfg.batch_size``) samples: from the unlabelled sequences with
    probability ``cfg.unlabelled_ratio`` (when given; distillation only), else from the videos
    with probability ``cfg.video_ratio`` (when given), else synthetic with probability
    ``cfg.synthetic_ratio`` (always when there is no static source), else a still image; then
    random X dropout (``cfg.x_dropout`` split 2:3:1 over both / search / template)."""
    samples = []
    for _ in range(cfg.batch_size if count is None else count):
        if unlabelled is not None and rng.random() < cfg.unlabelled_ratio:
            sample = unlabelled.sample(rng)
        elif video is not None and rng.random() < cfg.video_ratio:
            samples.append(video.sample(rng))        # RGB only: nothing to drop
            continue
        else:
            use_syn = static is None or (synthetic is not None
                                         and rng.random() < cfg.synthetic_ratio)
            sample = (synthetic if use_syn else static).sample(rng)
        samples.append(drop_x(sample, rng, p_both=cfg.x_dropout / 3,
                              p_search=cfg.x_dropout / 2, p_template=cfg.x_dropout / 6))
    return samples


def stack_samples(samples: List[PairSample]) -> Dict[str, torch.Tensor]:
    """Samples -> CPU tensors for a worker to hand over (uint8 crops stay uint8, 4x less to copy).

    Returns template_rgb / template_x (B, Ht, Wt, 3) and search_rgb / search_x (B, Hs, Ws, 3)
    uint8 RGB (missing X = zeros), template_x_mask / search_x_mask (B,) float32 (1 = X present),
    boxes (B, 4) float32 normalised (cx, cy, w, h) in the search crop, modality (B,) int64,
    labelled (B,) float32 (0 = unlabelled frames, :class:`~.data.UnlabelledVideoSource`).
    """
    def stack(key: str, rgb_key: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([
            getattr(s, key) if getattr(s, key) is not None else np.zeros_like(getattr(s, rgb_key))
            for s in samples]))

    return {
        'template_rgb': torch.from_numpy(np.stack([s.template_rgb for s in samples])),
        'search_rgb': torch.from_numpy(np.stack([s.search_rgb for s in samples])),
        'template_x': stack('template_x', 'template_rgb'),
        'search_x': stack('search_x', 'search_rgb'),
        'template_x_mask': torch.tensor([s.template_x is not None for s in samples],
                                        dtype=torch.float32),
        'search_x_mask': torch.tensor([s.search_x is not None for s in samples],
                                      dtype=torch.float32),
        'boxes': torch.from_numpy(np.stack([s.box_cxcywh for s in samples]).astype(np.float32)),
        'modality': torch.tensor([s.modality for s in samples], dtype=torch.int64),
        'labelled': torch.tensor([s.labelled for s in samples], dtype=torch.float32),
    }


def batch_to_device(raw: Dict[str, torch.Tensor], device: torch.device) -> dict:
    """:func:`stack_samples` output -> model inputs on ``device`` (crops (B, 3, H, W) float32,
    ImageNet mean/std as :func:`~rgbx_tracker_ros.core.tracker.normalize_crops`)."""
    mean = torch.as_tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.as_tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    out = {}
    for key, value in raw.items():
        value = value.to(device, non_blocking=True)
        if value.dtype == torch.uint8:
            value = (value.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        out[key] = value
    return out


def worker_seed(seed: int, worker_id: int, start_step: int) -> int:
    """A 32-bit seed for one sample worker, mixed from (seed, worker id, start step).

    Different workers, and a run resumed at a different step, get unrelated streams
    (:class:`numpy.random.SeedSequence`).
    """
    return int(np.random.SeedSequence([seed, worker_id, start_step]).generate_state(1)[0])


def rank_seed(seed: int, rank: int) -> int:
    """The sample seed of ``rank`` in a distributed run with ``shard='rank'``: ``seed`` itself
    for rank 0 (so rank 0 draws the single-process stream), else a 32-bit seed mixed from
    (seed, rank) (:class:`numpy.random.SeedSequence`), unrelated for every rank."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


class SampleStream(IterableDataset):
    """Endless stream of stacked batches (:func:`stack_samples`) for a DataLoader worker.

    The still images are loaded once in the parent and shared with the (forked) workers; each
    worker builds its own synthetic pool and RNG from :func:`worker_seed` (its id, ``start_step``).

    Args:
        cfg: training settings (batch size, mix, X dropout, seed).
        geo: crop geometry.
        static: loaded still-image source, or None.
        start_step: the step the run starts (or resumes) at.
        video: video pair source, or None.
        unlabelled: unlabelled-sequence source (distillation), or None.
        rank: the training process's rank (distributed runs): worker ``id`` of rank ``r`` seeds
            as worker ``r * cfg.workers + id``, so no two workers of a run share a stream.
    """

    def __init__(self, cfg: TrainConfig, geo: Geometry, static: Optional[StaticPairSource],
                 start_step: int, video: Optional[VideoPairSource] = None,
                 rank: int = 0, unlabelled: Optional[UnlabelledVideoSource] = None) -> None:
        super().__init__()
        self.cfg, self.geo, self.static, self.start_step = cfg, geo, static, start_step
        self.video, self.rank, self.unlabelled = video, rank, unlabelled

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        info = get_worker_info()
        wid = (info.id if info is not None else 0) + self.rank * max(1, self.cfg.workers)
        seed = worker_seed(self.cfg.seed, wid, self.start_step)
        rng = np.random.default_rng(seed)
        synthetic = SyntheticSource(self.geo, seed=seed) \
            if self.cfg.synthetic_ratio > 0 or self.static is None else None
        while True:
            yield stack_samples(draw_samples(self.static, synthetic, rng, self.cfg, self.video,
                                             unlabelled=self.unlabelled))


def worker_batches(cfg: TrainConfig, geo: Geometry, static: Optional[StaticPairSource],
                   start: int, device: torch.device,
                   video: Optional[VideoPairSource] = None,
                   rank: int = 0, unlabelled: Optional[UnlabelledVideoSource] = None
                   ) -> Iterator[Dict[str, torch.Tensor]]:
    """Batches from ``cfg.workers`` DataLoader processes (fork where available, so the still
    images are shared rather than pickled); ``rank``: see :class:`SampleStream`.

    Each worker runs one torch thread (DataLoader's default) and one OpenCV thread: OpenCV's
    thread count is set to 1 in this process around the fork, because calling
    ``cv2.setNumThreads`` inside a forked child that inherited a live OpenCV pool deadlocks.
    """
    import multiprocessing as mp

    import cv2
    context = 'fork' if 'fork' in mp.get_all_start_methods() else None
    loader = DataLoader(SampleStream(cfg, geo, static, start, video, rank, unlabelled),
                        batch_size=None,
                        num_workers=cfg.workers, prefetch_factor=4,
                        pin_memory=device.type == 'cuda', multiprocessing_context=context)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return iter(loader)      # the workers are forked here
    finally:
        cv2.setNumThreads(threads)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``cfg.lr`` then cosine decay to ``cfg.lr * cfg.min_lr_ratio``; with a
    recipe whose schedule is 'step' or 'constant' (``cfg.extra['recipe']['schedule']``, written
    by :meth:`~.recipe.Recipe.to_train_overrides`), that schedule instead: after the warm-up the
    lr is multiplied by ``gamma`` at each of its ``decay_steps``, or stays at ``cfg.lr``."""
    schedule = (cfg.extra.get('recipe') or {}).get('schedule') or {} if cfg.recipe else {}
    return scheduled_lr(step, cfg.lr, cfg.warmup, cfg.iterations,
                        schedule.get('kind', 'cosine'), cfg.min_lr_ratio,
                        schedule.get('decay_steps', ()), float(schedule.get('gamma', 0.1)))


def recipe_source(cfg: TrainConfig, geo: Geometry):
    """The recipe's dataset mix (:meth:`~.recipe.Recipe.build_source`) when ``cfg.recipe`` is
    set, else None.

    Raises:
        ValueError (RecipeError, DatasetError): the recipe or one of its datasets is invalid;
            the message names the file and the key.
    """
    if not cfg.recipe:
        return None
    from .recipe import load_recipe
    return load_recipe(cfg.recipe).build_source(geo)


def train(cfg: TrainConfig) -> Path:
    """Run training per ``cfg``; returns the checkpoint path.

    In a process started by ``torchrun`` with more than one process, joins the process group
    (:func:`~.distributed.setup`) and trains data-parallel (module docstring); the group is left
    again on return.

    Raises:
        FileNotFoundError: if ``cfg.data_root`` is given but missing.
        KeyError: unknown variant.
        ValueError: negative ``cfg.workers``, ``cfg.echo`` or ``cfg.accum`` below 1, an unknown
            ``cfg.shard``, ``shard='global'`` with workers, the cached-prefix recipe in a
            distributed run, or a bad torchrun environment.
    """
    if cfg.workers < 0:
        raise ValueError(f'workers must be >= 0, got {cfg.workers}: use 0 for samples made in '
                         'the training process')
    if cfg.echo < 1:
        raise ValueError(f'echo must be >= 1 (1 = every step a new batch), got {cfg.echo}')
    if cfg.accum < 1:
        raise ValueError(f'accum must be >= 1 (micro-batches per optimiser step, 1 = no '
                         f'accumulation), got {cfg.accum}')
    if cfg.shard not in ('rank', 'global'):
        raise ValueError(f"shard must be 'rank' (a sample stream per rank) or 'global' (each "
                         f"rank's slice of one stream), got {cfg.shard!r}")
    if cfg.shard == 'global' and cfg.workers:
        raise ValueError("shard='global' draws the samples in the training process; use "
                         "workers=0 with it (or shard='rank' with workers)")
    t_start = time.time()
    ctx = distributed.setup()
    try:
        return _train(cfg, ctx, t_start)
    finally:
        distributed.cleanup(ctx)


def _train(cfg: TrainConfig, ctx: distributed.DistContext, t_start: float) -> Path:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = ctx.device
    out = Path(cfg.out)
    log_path = out.with_name(out.stem + '.log.jsonl')
    out.parent.mkdir(parents=True, exist_ok=True)
    model = create_model(cfg.variant).to(device).train()
    geo = Geometry(template_size=model.template_size, search_size=model.search_size)
    pretrained_keys, init_meta = set(), {}
    if cfg.init:
        report = init_from(model, cfg.init)
        pretrained_keys = {k for k in model.state_dict() if k not in set(report.missing)}
        init_meta = dict(report.meta.get('init', {}), loaded=report.loaded,
                         missing=len(report.missing), unexpected=len(report.unexpected),
                         resized=report.resized)
        _logger.info('init from %s: %d tensors loaded, %d missing (new modules), %d unexpected '
                     '(%s), resized %s', cfg.init, report.loaded, len(report.missing),
                     len(report.unexpected), ', '.join(report.unexpected[:4]) or '-',
                     report.resized)
        model.to(device)
    cached_start = None
    if cfg.cache_samples > 0:
        if not hasattr(model, 'forward_from'):
            raise ValueError(f'cache_samples (the cached-prefix recipe) needs a one-stream model '
                             f'with forward_from; {cfg.variant} ({model.family}) has none: '
                             'train it without --cache-samples')
        depth = len(model.backbone.blocks)
        if not 0 <= cfg.train_blocks <= depth:
            raise ValueError(f'train_blocks must be in [0, {depth}], got {cfg.train_blocks}')
        cached_start = depth - cfg.train_blocks
    family = family_of(cfg.variant)
    freeze = freeze_policy(model, pretrained_keys, cfg.freeze_backbone, cached_start,
                           trainable_rule(cfg, family))
    fixed_bn = fix_frozen_bn(model) if family.fix_bn else []
    freeze['fixed_bn'] = len(fixed_bn)
    weights = loss_weights(cfg, family)
    optim = make_optimizer(model, pretrained_keys, cfg)
    freeze['trainable_params'] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _logger.info('trainable parameters: %d of %d', freeze['trainable_params'],
                 sum(p.numel() for p in model.parameters()))
    skip = frozen_pretrained_keys(model, pretrained_keys, fixed_bn)
    base = None
    if skip and cfg.init in pretrained_sources():
        base = {'name': cfg.init, 'sha256': init_meta.get('sha256', '')}
    elif skip and cfg.init:
        base = {'file': str(cfg.init), 'sha256': init_meta.get('sha256', '')}
    if base is None:
        skip = set()
    meta_common = {'init': init_meta, 'freeze': freeze, 'loss_weights': weights}
    if cfg.sync_bn and ctx.distributed:
        _logger.info('sync_bn: %d BatchNorm layers normalise over all %d ranks',
                     distributed.sync_batchnorm(model), ctx.world_size)
    if cfg.student_init and not cfg.distill_from:
        raise ValueError('student_init initialises a student from its teacher: it needs '
                         'distill_from (the teacher checkpoint)')
    if cfg.teacher_options and not cfg.distill_from:
        raise ValueError('teacher_options change the teacher: they need distill_from (the '
                         'teacher checkpoint)')
    if cfg.distill_from:
        from .distill import train_distilled
        return train_distilled(cfg, model, optim, geo, device, out, meta_common, base, skip,
                               weights)
    if cfg.cache_samples > 0:
        if ctx.distributed:
            raise ValueError(f'the cached-prefix recipe (cache_samples) trains in one process; '
                             f'this run has {ctx.world_size} (torchrun): start it without '
                             'torchrun, or train without --cache-samples')
        return _train_cached(cfg, model, optim, geo, device, out, log_path, meta_common, base,
                             skip, weights)
    use_amp = cfg.amp and device.type == 'cuda'
    net = distributed.wrap_model(ctx, model)      # ``model`` itself in one process

    def step_loss(batch: dict) -> LossOutput:
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=use_amp):
            out_net = net(batch['template_rgb'], batch['search_rgb'], batch['template_x'],
                          batch['search_x'], batch['template_x_mask'], batch['search_x_mask'],
                          modality=batch['modality'])
        return tracking_loss(as_float(out_net) if use_amp else out_net, batch['boxes'],
                             weights=weights)

    hooks = LoopHooks(loss=step_loss,
                      trained=[p for p in model.parameters() if p.requires_grad],
                      ddp=net if net is not model else None)
    return run_loop(cfg, model, optim, geo, device, out, meta_common, base, skip, hooks,
                    t_start, ctx)


def as_float(out: TrackerOutput) -> TrackerOutput:
    """``out`` with float32 maps and aux terms (after a bf16 autocast forward pass)."""
    return TrackerOutput(out.score_map.float(), out.size_map.float(), out.offset_map.float(),
                         {k: v.float() for k, v in out.aux.items()},
                         None if out.features is None else [f.float() for f in out.features])


@dataclass
class LoopHooks:
    """What a training loop variant (plain, distillation) plugs into :func:`run_loop`.

    Attributes:
        loss: ``loss(batch) -> LossOutput`` for one batch (forward pass included).
        trained: every tensor the optimiser updates (for gradient clipping).
        name: progress-bar label.
        meta: extra checkpoint metadata (e.g. ``{'distill': ...}``).
        state: ``state() -> dict`` of extra tensors saved in ``<out>.state.pt``.
        load_state: ``load_state(state)`` restores them on ``--resume``.
        ddp: the DistributedDataParallel wrapper that ``loss`` calls (distributed runs): DDP
            averages its parameters' gradients during backward, and the micro-batches before
            the last of a step run under its ``no_sync``. None (one process, or a loss that
            calls the bare model, as distillation does): :func:`run_loop` averages the gradients
            of ``trained`` over the ranks after the step's last micro-batch instead, and copies
            rank 0's model and ``trained`` tensors to every rank at the start.
    """

    loss: Callable[[dict], 'LossOutput']
    trained: List[torch.Tensor]
    name: str = 'train'
    meta: dict = field(default_factory=dict)
    state: Callable[[], dict] = dict
    load_state: Optional[Callable[[dict], None]] = None
    ddp: Optional[torch.nn.Module] = None


def _rank_rng_state(state: dict, cfg: TrainConfig, ctx: distributed.DistContext,
                    start: int) -> Optional[dict]:
    """The sample-RNG state this rank resumes with (None: a new stream, seeded by the caller)."""
    ranks = state.get('rng_ranks')
    if cfg.shard == 'global' or ctx.rank == 0:
        return state['rng']                # the shared stream / rank 0's own
    if ranks is not None and len(ranks) == ctx.world_size:
        return ranks[ctx.rank]
    if ctx.rank == 1:
        _logger.warning('%s holds sample-RNG states of %s rank(s), this run has %d: ranks > 0 '
                        'start new streams', cfg.out, len(ranks) if ranks else 1,
                        ctx.world_size)
    return None


def run_loop(cfg: TrainConfig, model: torch.nn.Module, optim: torch.optim.Optimizer,
             geo: Geometry, device: torch.device, out: Path, meta_common: dict,
             base: Optional[dict], skip: set, hooks: LoopHooks, t_start: float,
             ctx: Optional[distributed.DistContext] = None) -> Path:
    """The training loop shared by plain training and distillation: resume, sample sources
    (in process or ``cfg.workers``), lr schedule, gradient accumulation (``cfg.accum``),
    clipping, log records, validation (``cfg.val_samples``), checkpoints and ``max_minutes``
    (counted from ``t_start``); data-parallel over the ranks of ``ctx`` (default: the initialised
    process group, if any; see the module docstring).

    Returns:
        ``out``, the checkpoint path.

    Raises:
        ValueError: the ranks of a distributed run found different resume states.
    """
    ctx = ctx if ctx is not None else distributed.current(device)
    rank, world, main = ctx.rank, ctx.world_size, ctx.is_main
    state_path = out.with_name(out.stem + '.state.pt')
    log_path = out.with_name(out.stem + '.log.jsonl')
    seed = cfg.seed if cfg.shard == 'global' else rank_seed(cfg.seed, rank)
    start, rng = 0, np.random.default_rng(seed)
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state['model'])
        optim.load_state_dict(state['optim'])
        if hooks.load_state is not None:
            hooks.load_state(state)
        start = state['step']
        rng_state = _rank_rng_state(state, cfg, ctx, start)
        if rng_state is not None:
            rng.bit_generator.state = rng_state
        else:
            rng = np.random.default_rng(worker_seed(cfg.seed, rank, start))
        _logger.info('resumed from %s at step %d', state_path, start)
    if ctx.distributed:
        starts = distributed.all_gather_objects(ctx, start)
        if len(set(starts)) > 1:
            raise ValueError(f'the ranks resume at different steps {starts}: every rank must '
                             f'read the same {state_path} (put --out on a file system that all '
                             'nodes share)')
        if hooks.ddp is None:          # DDP copied rank 0's model when wrapping; here we do
            distributed.broadcast_tensors(ctx, list(model.state_dict().values()) +
                                          list(hooks.trained))
        torch.manual_seed(rank_seed(cfg.seed, rank))   # e.g. drop-path masks differ per rank
    in_ddp = {id(p) for p in hooks.ddp.parameters()} if hooks.ddp is not None else set()
    unsynced = [t for t in hooks.trained if id(t) not in in_ddp]   # averaged by hand
    video = _video_source(cfg, geo)
    unlabelled = _unlabelled_source(cfg, geo)
    split = 'train' if cfg.val_samples > 0 else 'all'
    static = StaticPairSource(Path(cfg.data_root), geo, split=split) if cfg.data_root else None
    mix = recipe_source(cfg, geo)
    if mix is not None:       # the recipe's datasets replace the other sources (draw_samples)
        static, video = mix, None
        cfg = replace(cfg, synthetic_ratio=0.0, video_ratio=0.0)
    val_batches = validation_batches(cfg, geo, device) if cfg.val_samples > 0 and main else None
    best_iou = -1.0
    synthetic = batches = None
    if cfg.workers:
        batches = worker_batches(cfg, geo, static, start, device, video, rank, unlabelled)
    else:
        synthetic = SyntheticSource(geo, seed=seed * 1000 + start) \
            if cfg.synthetic_ratio > 0 or static is None else None
    dist_meta = {}
    if ctx.distributed or cfg.accum > 1:
        dist_meta = {'distributed': {
            'world_size': world, 'accum': cfg.accum, 'shard': cfg.shard,
            'backend': ctx.backend, 'global_batch': cfg.batch_size * world * cfg.accum}}

    def micro_batch() -> dict:
        if batches is not None:
            return batch_to_device(next(batches), device)
        if cfg.shard == 'global' and ctx.distributed:
            every = draw_samples(static, synthetic, rng, cfg, video,
                                 count=cfg.batch_size * world, unlabelled=unlabelled)
            return collate(every[rank * cfg.batch_size:(rank + 1) * cfg.batch_size], device)
        return collate(draw_samples(static, synthetic, rng, cfg, video, unlabelled=unlabelled),
                       device)

    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations,
               desc=f'{hooks.name} {cfg.variant}', dynamic_ncols=True, disable=not main)
    t0, window, micro = time.time(), [], []
    for step in bar:
        for group in optim.param_groups:
            group['lr'] = lr_at(step, cfg) * group.get('lr_scale', 1.0)
        if (step - start) % cfg.echo == 0:
            micro = [micro_batch() for _ in range(cfg.accum)]
        optim.zero_grad(set_to_none=True)
        terms = []
        for i, batch in enumerate(micro):
            with distributed.no_sync(hooks.ddp, sync=i + 1 == len(micro)):
                loss = hooks.loss(batch)
                (loss.total / cfg.accum if cfg.accum > 1 else loss.total).backward()
            terms.append(loss.terms)
        distributed.all_reduce_grads(ctx, unsynced)
        torch.nn.utils.clip_grad_norm_(hooks.trained, cfg.grad_clip)
        optim.step()
        window.append(terms[0] if len(terms) == 1 else _mean_terms(terms))
        bar.set_postfix(loss=f'{float(loss.total.detach()):.3f}',
                        iou=f'{loss.terms.get("iou", float("nan")):.2f}', refresh=False)
        out_of_time = cfg.max_minutes > 0 and distributed.broadcast_bool(
            ctx, time.time() - t_start >= cfg.max_minutes * 60)
        last = step + 1 == cfg.iterations or out_of_time
        if (step + 1) % cfg.checkpoint_every == 0 or last:
            mean = distributed.all_reduce_mean(ctx, _mean_terms(window))
            window = []
            rng_ranks = distributed.all_gather_objects(ctx, rng.bit_generator.state) \
                if ctx.distributed else None
            if main:
                best_iou = _checkpoint(cfg, model, optim, out, step, t0, mean, out_of_time,
                                       {**meta_common, **hooks.meta, **dist_meta}, base, skip,
                                       val_batches, best_iou, log_path, state_path,
                                       {'rng': rng.bit_generator.state, **hooks.state(),
                                        **({'rng_ranks': rng_ranks, 'world_size': world}
                                           if rng_ranks is not None else {})})
            distributed.barrier(ctx)        # the others wait while rank 0 writes
        if out_of_time:
            if main:
                _logger.warning('stopped at step %d of %d: max_minutes %.1f reached',
                                step + 1, cfg.iterations, cfg.max_minutes)
            break
    bar.close()
    return out


def _mean_terms(terms: List[Dict[str, float]]) -> Dict[str, float]:
    """Per-key mean of loss-term dicts (a key averaged over the dicts that have it)."""
    return {k: float(np.mean([w[k] for w in terms if k in w]))
            for k in dict.fromkeys(k for w in terms for k in w)}


def _checkpoint(cfg: TrainConfig, model: torch.nn.Module, optim: torch.optim.Optimizer,
                out: Path, step: int, t0: float, mean: Dict[str, float], out_of_time: bool,
                meta_extra: dict, base: Optional[dict], skip: set,
                val_batches: Optional[List[dict]], best_iou: float, log_path: Path,
                state_path: Path, state_extra: dict) -> float:
    """Rank 0's checkpoint of :func:`run_loop` after ``step``: log record, validation, the
    checkpoint(s) and the state file; returns the best validation IoU so far."""
    record = {'step': step + 1, 'lr': lr_at(step, cfg), 'elapsed_s': time.time() - t0, **mean}
    if out_of_time:
        record['stopped'] = f'max_minutes {cfg.max_minutes}'
    meta = {'train_config': asdict(cfg), 'step': step + 1, 'last_losses': mean, **meta_extra}
    target = out
    if val_batches is not None:
        ious, peaks = score_batches(model, val_batches)
        record['val_iou'] = float(ious.mean())
        meta['tracking'] = {
            'redetect_threshold': round(redetect_threshold(ious, peaks), 4),
            'chosen_on': 'validation pairs (held-out training data)'}
        meta['val_iou'] = record['val_iou']
        if record['val_iou'] > best_iou:
            best_iou = record['val_iou']
            save_checkpoint(out, model, cfg.variant, variant_args(cfg.variant), meta,
                            base=base, skip=skip)
        target = out.with_name(out.stem + '.last.pt')
    with open(log_path, 'a') as fh:
        fh.write(json.dumps(record) + '\n')
    save_checkpoint(target, model, cfg.variant, variant_args(cfg.variant), meta,
                    base=base, skip=skip)
    torch.save({'model': model.state_dict(), 'optim': optim.state_dict(), 'step': step + 1,
                **state_extra}, state_path)
    return best_iou


def validation_draw(cfg: TrainConfig, geo: Geometry) -> Callable[[int], List[PairSample]]:
    """``draw(n)`` of validation pairs from held-out data, for both recipes: held-out stills
    (``split='val'``), the videos' 'val' split (half of the pairs, when ``data_root`` has
    videos) and synthetic pairs from a seed the training never uses; its own RNG, seeded from
    ``cfg.seed``, so the same settings give the same pairs."""
    vstatic = StaticPairSource(Path(cfg.data_root), geo, split='val') if cfg.data_root else None
    vvideo = _video_source(cfg, geo, split='val') \
        if cfg.data_root and (Path(cfg.data_root) / 'videos').is_dir() else None
    vsyn = SyntheticSource(geo, seed=cfg.seed * 1000 + 777_777) \
        if cfg.synthetic_ratio > 0 or vstatic is None else None
    vcfg = TrainConfig(**{**asdict(cfg), 'video_ratio': 0.5 if vvideo else 0.0})
    rng = np.random.default_rng(cfg.seed + 1)
    return lambda n: draw_samples(vstatic, vsyn, rng, vcfg, vvideo, count=n)


def validation_batches(cfg: TrainConfig, geo: Geometry, device: torch.device,
                       batch_size: int = 32) -> List[dict]:
    """``cfg.val_samples`` validation pairs (:func:`validation_draw`), drawn once, as model
    batches."""
    samples = validation_draw(cfg, geo)(cfg.val_samples)
    return [collate(samples[i:i + batch_size], device)
            for i in range(0, len(samples), batch_size)]


@torch.no_grad()
def score_batches(model: torch.nn.Module, batches: List[dict]):
    """(N,) IoU of the decoded peak box (no window) with the label and (N,) the peak score, for
    any family's model; the model's train / eval mode is restored."""
    was_training = model.training
    model.eval()
    ious, peaks = [], []
    for batch in batches:
        out = model(batch['template_rgb'], batch['search_rgb'], batch['template_x'],
                    batch['search_x'], batch['template_x_mask'], batch['search_x_mask'])
        iou, peak = decoded_ious(out, batch['boxes'])
        ious.append(iou)
        peaks.append(peak)
    model.train(was_training)
    return torch.cat(ious), torch.cat(peaks)


def frozen_pretrained_keys(model: torch.nn.Module, pretrained_keys: set,
                           fixed_bn: List[str]) -> set:
    """State-dict keys a compact checkpoint may leave out: tensors loaded by ``init`` that do not
    change in training (frozen parameters, and the running statistics of the BatchNorm layers
    kept frozen by FIX_BN), except the position tables (resampled from the pretrained grid;
    stored so loading never depends on how)."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    bn_stats = {f'{m}.{b}' for m in fixed_bn
                for b in ('running_mean', 'running_var', 'num_batches_tracked')}
    return {k for k in pretrained_keys if (k in frozen or k in bn_stats)
            and 'pos_embed' not in k}


def trainable_rule(cfg: TrainConfig, family: Family) -> Optional[tuple]:
    """Name substrings of the parameters that train (None = no substring rule); see
    :attr:`TrainConfig.trainable`.

    Raises:
        ValueError: an empty substring list.
    """
    rule = cfg.trainable.strip()
    if rule == 'all':
        return None
    if rule == 'auto':
        return tuple(family.trainable) if family.trainable and cfg.init else None
    parts = tuple(p.strip() for p in rule.split(',') if p.strip())
    if not parts:
        raise ValueError(f"trainable must be 'auto', 'all' or name substrings, got {rule!r}")
    return parts


def loss_weights(cfg: TrainConfig, family: Family) -> Dict[str, float]:
    """Head weights, then the family's auxiliary weights, then ``cfg.loss_weights``.

    Raises:
        ValueError: a malformed ``name=value`` entry.
    """
    weights = {k: DEFAULT_WEIGHTS[k] for k in HEAD_TERMS}
    weights.update(family.aux_weights)
    for item in filter(None, (p.strip() for p in cfg.loss_weights.split(','))):
        name, sep, value = item.partition('=')
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ''
        if not sep or not name.strip():
            raise ValueError(f'loss_weights entry {item!r} is not name=value '
                             "(e.g. 'balance=0.02')")
    return weights


def fix_frozen_bn(model: torch.nn.Module) -> List[str]:
    """FIX_BN: keep every BatchNorm layer whose parameters are all frozen in eval mode, also
    across later ``model.train()`` calls (its running statistics stay those of the base).

    Returns:
        the module names of the layers fixed.
    """
    fixed = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not any(
                p.requires_grad for p in module.parameters()):
            module.train = _eval_only.__get__(module)
            module.eval()
            fixed.append(name)
    return fixed


def _eval_only(self, mode: bool = True):
    return torch.nn.Module.train(self, False)


def pretrained_sources() -> set:
    """Names of the fetchable pretrained backbones (``--init NAME``)."""
    from ..models.pretrained import SOURCES
    return set(SOURCES)


def freeze_policy(model: torch.nn.Module, pretrained_keys: set, freeze_backbone: bool,
                  cached_start: Optional[int], rule: Optional[tuple] = None) -> dict:
    """Set ``requires_grad`` per the freeze rules; returns the policy for the checkpoint meta.

    - ``rule`` (name substrings, the family's parameter-efficient rule): only parameters whose
      name contains one of them train; the other rules below still freeze more.
    - ``freeze_backbone``: every tensor loaded from the pretrained file is frozen.
    - ``cached_start`` (cached-prefix recipe): everything before block ``cached_start`` is
      frozen, pretrained or new (patch embedding, Meta Merger, positions, early blocks); the
      later blocks, the final norm and the head train.
    """
    for name, p in model.named_parameters():
        frozen = freeze_backbone and name in pretrained_keys
        if rule is not None and not any(sub in name for sub in rule):
            frozen = True
        if cached_start is not None and name.startswith('backbone.'):
            parts = name.split('.')
            in_late_block = parts[1] == 'blocks' and int(parts[2]) >= cached_start
            if not (in_late_block or parts[1] == 'norm'):
                frozen = True
        p.requires_grad_(not frozen)
    return {'freeze_backbone': freeze_backbone, 'cached_prefix_blocks': cached_start,
            'trainable_rule': list(rule) if rule is not None else None,
            'frozen_tensors': sum(not p.requires_grad for p in model.parameters())}


def make_optimizer(model: torch.nn.Module, pretrained_keys: set,
                   cfg: TrainConfig) -> torch.optim.Optimizer:
    """The AdamW optimiser of the trainable tensors, in four groups: pretrained / new x decay /
    no decay.

    Pretrained tensors (loaded by ``cfg.init``) get ``lr_scale = cfg.backbone_lr_scale``
    (OSTrack trains its MAE backbone at 0.1x); biases, norms, layer scales and position tables
    get no weight decay.
    """
    groups: Dict[tuple, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = p.ndim > 1 and 'pos_embed' not in name
        groups.setdefault((name in pretrained_keys, decay), []).append(p)
    params = [{'params': ps, 'weight_decay': cfg.weight_decay if decay else 0.0,
               'lr_scale': cfg.backbone_lr_scale if pre else 1.0}
              for (pre, decay), ps in sorted(groups.items())]
    if not params:
        raise ValueError('nothing to train: every parameter is frozen')
    return torch.optim.AdamW(params, lr=cfg.lr)


def _video_source(cfg: TrainConfig, geo: Geometry,
                  split: str = 'train') -> Optional[VideoPairSource]:
    if cfg.video_ratio <= 0 and split == 'train':
        return None
    if not cfg.data_root:
        raise ValueError('video_ratio > 0 needs data_root (videos are read from '
                         '<data_root>/videos)')
    return VideoPairSource(Path(cfg.data_root) / 'videos', geo, split=split)


def _unlabelled_source(cfg: TrainConfig, geo: Geometry) -> Optional[UnlabelledVideoSource]:
    """The unlabelled-sequence source of ``cfg.unlabelled_ratio`` > 0, else None.

    Raises:
        ValueError: unlabelled samples without a teacher (``distill_from``) or without
            ``data_root``.
    """
    if cfg.unlabelled_ratio <= 0:
        return None
    if not cfg.distill_from:
        raise ValueError('unlabelled_ratio > 0 needs distill_from: unlabelled frames have no '
                         "box, so only a teacher's response can train on them")
    if not cfg.data_root:
        raise ValueError('unlabelled_ratio > 0 needs data_root (the unlabelled sequences are '
                         'read from it)')
    return UnlabelledVideoSource(Path(cfg.data_root), geo)


def _train_cached(cfg: TrainConfig, model, optim, geo: Geometry, device, out: Path,
                  log_path: Path, meta_common: dict, base: Optional[dict],
                  skip: set, weights: Dict[str, float]) -> Path:
    """The cached-prefix recipe (:mod:`~rgbx_tracker_ros.train.feature_cache`)."""
    from .feature_cache import build_feature_cache, cache_key, load_or_build, train_on_cache
    start = int(meta_common['freeze']['cached_prefix_blocks'])
    use_val = cfg.cache_val_samples > 0
    split = 'train' if use_val else 'all'
    static = StaticPairSource(Path(cfg.data_root), geo, split=split) if cfg.data_root else None
    video = _video_source(cfg, geo)
    synthetic = SyntheticSource(geo, seed=cfg.seed * 1000) \
        if cfg.synthetic_ratio > 0 or static is None else None
    rng = np.random.default_rng(cfg.seed)
    cache_path = Path(cfg.cache_file) if cfg.cache_file else \
        out.with_name(out.stem + '.cache.pt')
    settings = dict(variant=cfg.variant, init=cfg.init, start=start, seed=cfg.seed,
                    data_root=cfg.data_root, synthetic_ratio=cfg.synthetic_ratio,
                    video_ratio=cfg.video_ratio, x_dropout=cfg.x_dropout, split=split)
    cache = load_or_build(
        cache_path, cache_key(n=cfg.cache_samples, **settings),
        lambda: build_feature_cache(
            model, lambda n: draw_samples(static, synthetic, rng, cfg, video, count=n),
            cfg.cache_samples, start, desc='feature cache'))
    val_cache = None
    if use_val:
        val_path = cache_path.with_name(cache_path.name.replace('.cache.pt', '') +
                                        '.valcache.pt')
        val_cache = load_or_build(
            val_path, cache_key(n=cfg.cache_val_samples, val=True, **settings),
            lambda: build_feature_cache(model, validation_draw(cfg, geo),
                                        cfg.cache_val_samples, start, desc='validation cache'))

    def on_checkpoint(step: int, record: dict, is_best: bool, tracking: dict) -> None:
        with open(log_path, 'a') as fh:
            fh.write(json.dumps(record) + '\n')
        if is_best:
            # tracking: the re-detection threshold, from the validation pass of this step
            meta = {'train_config': asdict(cfg), 'step': step, 'last_losses': record,
                    **meta_common, **({'tracking': tracking} if tracking else {})}
            save_checkpoint(out, model, cfg.variant, variant_args(cfg.variant), meta,
                            base=base, skip=skip)

    result = train_on_cache(model, cache, optim, cfg.iterations, cfg.batch_size,
                            lambda step: lr_at(step, cfg), cfg.grad_clip, rng, val_cache,
                            cfg.checkpoint_every, on_checkpoint,
                            max_seconds=cfg.max_minutes * 60, weights=weights)
    _logger.info('best validation IoU %.3f at step %d (saved to %s)', result['best_val_iou'],
                 result['best_step'], out)
    return out
