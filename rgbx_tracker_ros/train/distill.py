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

"""Distil a teacher into a one-stream student (``rgbx-train --distill-from TEACHER.pt``).

The second stage of "From Two-Stream to One-Stream" (arXiv 2403.16834, section 3.3; trackers.md
3.8). A trained teacher (typically the two-stream MMMP tracker,
:mod:`rgbx_tracker_ros.models.mmmp`; any of our checkpoints whose model keeps features works) is
frozen in eval mode. The student, any registered one-stream variant (``--variant``, e.g.
``test_tiny`` / ``t224`` or a ViPT variant), is trained on the same crops with::

    L = L_track + w_feat * L_feat + w_resp * L_resp (+ the student family's auxiliary terms)

``L_track`` is :func:`~.losses.tracking_loss` (focal + 2 GIoU + 5 L1) on the labelled samples.
The weights ``w_feat`` / ``w_resp`` are the loss-weight names ``feat_kd`` / ``resp_kd``, 1.0 by
default, set with ``--loss-weights feat_kd=...,resp_kd=...``.

**Feature distillation** ``L_feat``. Student block ``j`` (0-based, of ``Ls``) is matched with
teacher block ``k(j) = round((j + 1) * Lt / Ls) - 1``, rounding halves up (see
:func:`layer_pairs`). A teacher twice as deep is thus matched at its even layers (1-based), the
paper's best setting. ``every = n`` (``TrainConfig.extra['distill_every']``) keeps only every n-th
student block: at equal depth, ``every=2`` gives the paper's even layers. For each pair, the
student's search tokens after block ``j`` (B, Nx, Ds) go through a learned linear projection
Ds -> Dt (only when the widths differ) and are compared with the teacher's search tokens after
block ``k`` (fused streams for a two-stream teacher). The teacher's token grid is resampled
bilinearly to the student's when the patch grids differ::

    L_feat = sum_pairs (k + 1) * MSE(P_j(S_j), T_k) / sum_pairs (k + 1)

MSE is the mean over batch, tokens and channels. The depth factor ``k + 1`` is the paper's
``2i`` weight (eq. 18). Normalised by its sum, the paper's ``lambda_MF = 0.035`` with ViT-B
12 -> 6 matching corresponds to ``feat_kd = 0.035 * 42 = 1.47``. The projections exist only for
training: they are kept in ``<out>.state.pt`` (resume), never in the student checkpoint.

**Response distillation** ``L_resp`` (paper eq. 19). Both score maps are softened with
temperature tau = 2 on the logit scale, and the student is pulled to the teacher with the focal
loss generalised to soft targets (the quality focal loss of GFL, Li et al. 2020; beta = 2)::

    t = sigmoid(logit(R_t) / tau)         s = sigmoid(logit(R_s) / tau)
    L_resp = (1 / B) * sum_{b, cells} |t - s|^beta * BCE(s, t)
    BCE(s, t) = -(t * log(s) + (1 - t) * log(1 - s))

It is summed over the cells and divided by the batch size, the normalisation of the CenterNet
focal term (one positive per sample). It is 0-gradient exactly where s = t. A teacher map of
another grid is resampled bilinearly on the logit scale.

**Unlabelled frames.** A batch may carry ``'labelled'`` (B,) (1 = has a ground-truth box). The
ground-truth terms (focal / GIoU / L1) are computed on the labelled samples only, and the
distillation terms on all samples. ``rgbx-train --unlabelled-ratio P`` draws that share of
samples from real frame sequences without boxes (:class:`~.data.UnlabelledVideoSource`: TNO's
RGB-T Fire_sequence, a TUM-style RGB-D sequence, ECD APS frames), the teacher's response and
features being their only target.

Crop sizes: the teacher and the student take the same template and search crops (both see the
same RGB and X crops); a teacher with other crop sizes is refused with a :class:`ValueError`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..core.model_api import TrackerOutput
from ..models.checkpoint import load_checkpoint
from ..models.layers.vit import map_to_tokens, tokens_to_map
from .losses import LossOutput, aux_terms, tracking_loss
from .trainer import LoopHooks, TrainConfig, as_float, run_loop

__all__ = ['KD_WEIGHTS', 'TAU', 'FeatureDistiller', 'check_crops', 'distill_loss',
           'feature_kd_loss', 'init_from_teacher', 'layer_pairs', 'load_teacher',
           'response_kd_loss', 'select_weights', 'train_distilled']

_logger = logging.getLogger(__name__)

#: default weights of the two distillation terms (``--loss-weights`` overrides them)
KD_WEIGHTS = {'feat_kd': 1.0, 'resp_kd': 1.0}
#: temperature of the response distillation (the paper's tau)
TAU = 2.0


def layer_pairs(student_depth: int, teacher_depth: int, every: int = 1) -> List[Tuple[int, int]]:
    """(student block, teacher block) pairs, 0-based: ``k(j) = round((j + 1) * Lt / Ls) - 1``
    (halves round up), for the student blocks ``j`` with ``(j + 1) % every == 0``; pairs with
    ``k < 0`` (a student much deeper than the teacher) are dropped.

    Raises:
        ValueError: a depth or ``every`` below 1.
    """
    if student_depth < 1 or teacher_depth < 1 or every < 1:
        raise ValueError(f'depths and every must be >= 1, got student {student_depth}, '
                         f'teacher {teacher_depth}, every {every}')
    pairs = []
    for j in range(student_depth):
        k = (2 * (j + 1) * teacher_depth + student_depth) // (2 * student_depth) - 1
        if (j + 1) % every == 0 and k >= 0:
            pairs.append((j, k))
    return pairs


def response_kd_loss(student_score: torch.Tensor, teacher_score: torch.Tensor,
                     tau: float = TAU, beta: float = 2.0) -> torch.Tensor:
    """Soft-target focal loss between temperature-softened score maps (module docstring).

    Args:
        student_score, teacher_score: (B, 1, H, W) score maps in (0, 1); a teacher map of
            another size is resampled on the logit scale to the student's.
        tau: temperature on the logit scale.
        beta: focusing exponent on ``|t - s|``.

    Returns:
        a scalar: the per-cell terms summed and divided by B.
    """
    eps = 1e-6
    t_logit = torch.logit(teacher_score.float().clamp(eps, 1 - eps))
    if t_logit.shape[-2:] != student_score.shape[-2:]:
        t_logit = F.interpolate(t_logit, size=student_score.shape[-2:], mode='bilinear',
                                align_corners=False)
    target = torch.sigmoid(t_logit / tau).detach()
    s_logit = torch.logit(student_score.float().clamp(eps, 1 - eps)) / tau
    s = torch.sigmoid(s_logit)
    bce = F.binary_cross_entropy_with_logits(s_logit, target, reduction='none')
    return ((target - s).abs() ** beta * bce).sum() / student_score.shape[0]


def feature_kd_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor],
                    layer_weights: Sequence[float]) -> torch.Tensor:
    """``sum_i w_i * MSE(student_i, teacher_i) / sum_i w_i`` over aligned (B, N, D) pairs
    (already projected and on the same grid)."""
    terms = [F.mse_loss(s.float(), t.float()) for s, t in zip(student, teacher)]
    w = torch.as_tensor(list(layer_weights), dtype=torch.float32, device=terms[0].device)
    return (torch.stack(terms) * w).sum() / w.sum()


def _search_tokens(tokens: torch.Tensor, grid: int, out_grid: int) -> torch.Tensor:
    """The last ``grid**2`` tokens of (B, N, D), resampled to an ``out_grid`` square grid."""
    search = tokens[:, -grid * grid:]
    if grid == out_grid:
        return search
    maps = F.interpolate(tokens_to_map(search.float(), grid), size=(out_grid, out_grid),
                         mode='bilinear', align_corners=False)
    return map_to_tokens(maps)


def _structure(model: nn.Module, role: str) -> Tuple[int, int, int]:
    """(depth, width, search grid) of a ViT tracker.

    Raises:
        ValueError: the model has no ViT backbone with blocks or cannot keep its features.
    """
    bb = getattr(model, 'backbone', None)
    if bb is None or not hasattr(bb, 'blocks') or not hasattr(model, 'keep_features'):
        raise ValueError(f'the {role} {getattr(model, "variant", type(model).__name__)} is not a '
                         'ViT tracker that can keep its per-block features (keep_features); '
                         'distillation needs one')
    return len(bb.blocks), int(bb.embed_dim), int(model.feat_size)


class FeatureDistiller(nn.Module):
    """The feature-distillation term: layer pairs, per-pair projections and the loss.

    Args:
        pairs: (student block, teacher block) pairs (:func:`layer_pairs`).
        student_dim, teacher_dim: token widths Ds, Dt; ``proj.{i}`` = Linear(Ds, Dt) per pair
            when they differ, none otherwise.
        student_grid, teacher_grid: search grid sides (cells).

    Forward: the student's and the teacher's per-block (B, N, D) token lists -> scalar
    ``L_feat``.

    Raises:
        ValueError: no pairs.
    """

    def __init__(self, pairs: Sequence[Tuple[int, int]], student_dim: int, teacher_dim: int,
                 student_grid: int, teacher_grid: int) -> None:
        super().__init__()
        if not pairs:
            raise ValueError('feature distillation needs at least one (student, teacher) '
                             'block pair')
        self.pairs = [tuple(p) for p in pairs]
        self.student_grid, self.teacher_grid = student_grid, teacher_grid
        self.proj = nn.ModuleList([nn.Linear(student_dim, teacher_dim) for _ in self.pairs]) \
            if student_dim != teacher_dim else None

    @classmethod
    def for_models(cls, student: nn.Module, teacher: nn.Module,
                   every: int = 1) -> 'FeatureDistiller':
        """The distiller matching ``student`` to ``teacher`` (:func:`layer_pairs`)."""
        ls, ds, gs = _structure(student, 'student')
        lt, dt, gt = _structure(teacher, 'teacher')
        return cls(layer_pairs(ls, lt, every), ds, dt, gs, gt)

    def forward(self, student_feats: Sequence[torch.Tensor],
                teacher_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        s_list, t_list = [], []
        for i, (j, k) in enumerate(self.pairs):
            s = _search_tokens(student_feats[j], self.student_grid, self.student_grid)
            s_list.append(self.proj[i](s) if self.proj is not None else s)
            t_list.append(_search_tokens(teacher_feats[k].detach(), self.teacher_grid,
                                         self.student_grid))
        return feature_kd_loss(s_list, t_list, [k + 1 for _, k in self.pairs])


def _supervised(out: TrackerOutput, boxes: torch.Tensor, weights: Dict[str, float],
                labelled: Optional[torch.Tensor]) -> LossOutput:
    """Ground-truth terms on the labelled samples (all when ``labelled`` is None) plus the
    model's auxiliary terms (batch-level, always)."""
    keep = None if labelled is None else labelled.to(torch.bool).view(-1)
    if keep is None or bool(keep.all()):
        return tracking_loss(out, boxes, weights=weights)
    if bool(keep.any()):
        part = TrackerOutput(out.score_map[keep], out.size_map[keep], out.offset_map[keep],
                             out.aux)
        return tracking_loss(part, boxes[keep], weights=weights)
    terms = aux_terms(out.aux, weights)
    total = sum((weights[k] * v for k, v in terms.items()), out.score_map.new_zeros(()))
    return LossOutput(total, {k: float(v.detach()) for k, v in terms.items()})


def distill_loss(student_out: TrackerOutput, teacher_out: TrackerOutput, boxes: torch.Tensor,
                 weights: Dict[str, float], distiller: Optional[FeatureDistiller] = None,
                 labelled: Optional[torch.Tensor] = None, tau: float = TAU) -> LossOutput:
    """The student's loss for one batch (module docstring).

    Args:
        student_out, teacher_out: train-mode student output (with ``features`` when
            ``distiller`` is given) and the teacher's (eval, no grad).
        boxes: (B, 4) normalised (cx, cy, w, h) label boxes (ignored where not labelled).
        weights: loss weights; ``feat_kd`` / ``resp_kd`` default to :data:`KD_WEIGHTS`.
        distiller: the feature term, or None (no feature distillation).
        labelled: optional (B,) 1 = the sample has a ground-truth box.
        tau: response temperature.

    Returns:
        :class:`~.losses.LossOutput`; ``terms`` also hold 'feat_kd', 'resp_kd' and 'loss'.

    Raises:
        ValueError: feature distillation without features from both models, or an auxiliary
            term without weight.
    """
    w = dict(KD_WEIGHTS, **weights)
    sup = _supervised(student_out, boxes, w, labelled)
    total, terms = sup.total, dict(sup.terms)
    if distiller is not None and w['feat_kd'] > 0:
        if not student_out.features or not teacher_out.features:
            raise ValueError('feature distillation needs per-block features from the student '
                             'and the teacher (set keep_features on both)')
        feat = distiller(student_out.features, teacher_out.features)
        total = total + w['feat_kd'] * feat
        terms['feat_kd'] = float(feat.detach())
    if w['resp_kd'] > 0:
        resp = response_kd_loss(student_out.score_map, teacher_out.score_map, tau)
        total = total + w['resp_kd'] * resp
        terms['resp_kd'] = float(resp.detach())
    terms['loss'] = float(total.detach())
    return LossOutput(total, terms)


def _block_index(name: str) -> Optional[Tuple[str, int, str]]:
    """'backbone.blocks.3.attn.qkv.weight' -> ('backbone.blocks.', 3, 'attn.qkv.weight')."""
    head, sep, rest = name.partition('blocks.')
    if not sep:
        return None
    number, dot, tail = rest.partition('.')
    return (head + sep, int(number), tail) if number.isdigit() and dot else None


def _grid(tokens: int) -> int:
    side = int(round(tokens ** 0.5))
    return side if side * side == tokens else 0


def select_weights(name: str, teacher: torch.Tensor, shape: torch.Size) -> Optional[torch.Tensor]:
    """Weight selection (Xu et al., ICLR 2024, "Initializing Models with Larger Ones"): the
    teacher tensor cut down to a narrower student's ``shape``, or None when it cannot be.

    Every dimension keeps its first ``n`` elements, the same ones in every layer, so the
    residual stream, heads (a fused ``qkv`` is cut per q / k / v: a 3-head student of a 6-head
    teacher keeps heads 0-2 whole) and LayerScale stay consistent. Two tensors are also
    resampled: a patch-embedding kernel of another patch size (timm's
    ``resample_patch_embed``, FlexiViT's pseudo-inverse resize) and a position table of
    another token grid (``pos_embed_z`` / ``pos_embed_x``: bicubic on the (side, side) grid).

    Args:
        name: the student tensor's state-dict name.
        teacher: the teacher's tensor of the same name.
        shape: the student tensor's shape.

    Returns:
        A new tensor of ``shape``, or None (another number of dimensions, or a dimension where
        the student is wider than the teacher).
    """
    t = teacher.detach()
    if t.ndim != len(shape):
        return None
    if name.endswith('qkv.weight') or name.endswith('qkv.bias'):
        if shape[0] % 3 or t.shape[0] % 3:
            return None
        part = torch.Size([shape[0] // 3, *shape[1:]])
        parts = [_leading(q, part) for q in t.reshape(3, t.shape[0] // 3, *t.shape[1:])]
        return None if parts[0] is None else torch.cat(parts, 0)
    if t.ndim == 4 and name.endswith('patch_embed.proj.weight') and t.shape[-2:] != shape[-2:]:
        from timm.layers import resample_patch_embed
        t = resample_patch_embed(t.float(), list(shape[-2:]), verbose=False)
    if t.ndim == 3 and 'pos_embed' in name and t.shape[1] != shape[1]:
        old, new = _grid(t.shape[1]), _grid(shape[1])
        if not old or not new:
            return None
        from timm.layers import resample_abs_pos_embed
        t = resample_abs_pos_embed(t.float(), [new, new], [old, old], num_prefix_tokens=0)
    return _leading(t, shape)


def _leading(t: torch.Tensor, shape: torch.Size) -> Optional[torch.Tensor]:
    """The first ``shape[d]`` elements of ``t`` along every dimension d (a copy), or None when
    ``t`` is smaller than ``shape`` somewhere."""
    if any(s > d for s, d in zip(shape, t.shape)):
        return None
    return t[tuple(slice(0, s) for s in shape)].clone()


def init_from_teacher(student: nn.Module, teacher: nn.Module, spec: str = 'teacher') -> dict:
    """Initialise ``student`` from ``teacher`` in place: MixFormerV2's deep-to-shallow
    initialisation (student block ``j`` takes the tensors of teacher block ``k(j)``), with
    weight selection (:func:`select_weights`) for a narrower student. Every tensor outside the
    blocks (patch embedding, positions, merger, final norm, head) is taken by name.

    A tensor of the same shape is copied; one of a narrower student (ViT-Ti width of a ViT-S
    teacher, another patch size or token grid) is cut down by :func:`select_weights`; a tensor
    the teacher does not have, or cannot be cut to the student's shape, keeps the student's
    initialisation.

    Args:
        student, teacher: built models (same family naming: one-stream ``backbone.blocks.{i}``).
        spec: 'teacher' = ``k(j)`` from :func:`layer_pairs` (a 4-block student of an 8-block
            teacher takes blocks 1, 3, 5, 7); 'teacher:0,1,2,3' = those teacher blocks, one per
            student block (weight selection's "first-N layers").

    Returns:
        {'blocks': [[j, k], ...], 'copied': n tensors of equal shape, 'selected': n tensors cut
        down by weight selection, 'kept': names left at the student's init (first 20)}.

    Raises:
        ValueError: a malformed spec, a block list whose length is not the student's depth, or
            a teacher block that does not exist.
    """
    s_depth, t_depth = (len(m.backbone.blocks) for m in (student, teacher))
    kind, _, listed = spec.partition(':')
    if kind != 'teacher':
        raise ValueError(f"student_init {spec!r}: use 'teacher' or 'teacher:K0,K1,...'")
    if listed:
        try:
            chosen = [int(k) for k in listed.split(',')]
        except ValueError:
            raise ValueError(f'student_init {spec!r}: block list must be integers') from None
        if len(chosen) != s_depth or not all(0 <= k < t_depth for k in chosen):
            raise ValueError(f'student_init {spec!r}: give {s_depth} teacher blocks (the '
                             f'student depth), each in 0..{t_depth - 1}')
        pairs = list(enumerate(chosen))
    else:
        pairs = layer_pairs(s_depth, t_depth)
    source = dict(pairs)
    t_state = teacher.state_dict()
    copied, selected, kept = 0, 0, []
    with torch.no_grad():
        for name, tensor in student.state_dict().items():
            parsed = _block_index(name)
            if parsed is not None:
                prefix, j, tail = parsed
                key = f'{prefix}{source[j]}.{tail}' if j in source else None
            else:
                key = name
            value = t_state.get(key) if key else None
            if value is not None and value.shape == tensor.shape:
                tensor.copy_(value)
                copied += 1
                continue
            cut = select_weights(name, value, tensor.shape) \
                if value is not None and tensor.is_floating_point() else None
            if cut is None:
                kept.append(name)
                continue
            tensor.copy_(cut)
            selected += 1
    _logger.info('student initialised from the teacher: blocks %s, %d tensors copied, %d cut '
                 'down by weight selection, %d kept', pairs, copied, selected, len(kept))
    return {'blocks': [list(p) for p in pairs], 'copied': copied, 'selected': selected,
            'kept': kept[:20]}


def check_crops(teacher: nn.Module, student: nn.Module, teacher_path: str = '') -> None:
    """Both models must take the same crops.

    Raises:
        ValueError: the template or search sizes differ.
    """
    t = (int(teacher.template_size), int(teacher.search_size))
    s = (int(student.template_size), int(student.search_size))
    if t != s:
        raise ValueError(
            f'teacher {teacher_path or getattr(teacher, "variant", "")} '
            f'({getattr(teacher, "variant", "?")}) takes template/search crops of {t[0]}/{t[1]} '
            f'px but the student {getattr(student, "variant", "?")} takes {s[0]}/{s[1]} px: '
            'distillation feeds both models the same crops, so their crop sizes must match '
            '(pick a student variant of the teacher\'s crop sizes, or override them)')


def load_teacher(path: str, student: nn.Module, device: torch.device,
                 options: str = '') -> nn.Module:
    """Load our checkpoint ``path`` as the frozen eval-mode teacher of ``student``.

    Args:
        path: the teacher checkpoint.
        student: the student (its crop sizes must be the teacher's).
        device: where the teacher runs.
        options: constructor overrides of the teacher, whitespace-separated ``KEY=VALUE``
            (:func:`~rgbx_tracker_ros.models.factory.parse_model_options`), e.g.
            ``'search_size=168'`` to run a DINOv2 teacher on the smaller search crop of a
            faster student (its position table is resampled, as the token-budget option does).

    Raises:
        CheckpointError: unreadable file; ValueError: crop sizes differ (:func:`check_crops`) or
            an option is not one of the teacher variant's.
    """
    overrides = {}
    if options.strip():
        from ..models.checkpoint import read_checkpoint
        from ..models.factory import parse_model_options
        overrides = parse_model_options(options.split(), read_checkpoint(path)['variant'])
    teacher, _ = load_checkpoint(path, **overrides)
    check_crops(teacher, student, path)
    teacher.requires_grad_(False)
    return teacher.to(device).eval()


def train_distilled(cfg: TrainConfig, model: nn.Module, optim: torch.optim.Optimizer, geo,
                    device: torch.device, out: Path, meta_common: dict,
                    base: Optional[dict], skip: set, weights: Dict[str, float]) -> Path:
    """:func:`~.trainer.train` with a teacher (``cfg.distill_from``): the trainer's loop
    (:func:`~.trainer.run_loop`: batches, lr schedule, clipping, validation, log, checkpoints of
    the student only, with ``meta['distill']``) with the loss of :func:`distill_loss`; the
    feature projections are trained in extra optimiser groups and saved in ``<out>.state.pt``.
    ``max_minutes`` is counted from this call.

    Raises:
        ValueError: the cached-prefix recipe (``cache_samples``) was asked for, the crop sizes
            differ, a model cannot keep features, or a resumed state has no distillation part.
        CheckpointError: the teacher file cannot be loaded.
    """
    t_start = time.time()
    if cfg.cache_samples > 0:
        raise ValueError('distillation (distill_from) trains on fresh batches; it cannot be '
                         'combined with the cached-prefix recipe (cache_samples)')
    teacher = load_teacher(cfg.distill_from, model, device, cfg.teacher_options)
    init_report = init_from_teacher(model, teacher, cfg.student_init) \
        if cfg.student_init else None
    w = dict(KD_WEIGHTS, **weights)
    every = int(cfg.extra.get('distill_every', 1)) if cfg.extra else 1
    distiller = None
    model.keep_features = True
    if w['feat_kd'] > 0:
        distiller = FeatureDistiller.for_models(model, teacher, every).to(device)
        teacher.keep_features = True
        params = list(distiller.parameters())
        for decay in (True, False):
            group = [p for p in params if (p.ndim > 1) == decay]
            if group:
                optim.add_param_group({'params': group, 'lr': cfg.lr, 'lr_scale': 1.0,
                                       'weight_decay': cfg.weight_decay if decay else 0.0})
    from ..models.pretrained import sha256_file
    distill_meta = {'teacher': str(cfg.distill_from),
                    'teacher_sha256': sha256_file(cfg.distill_from),
                    'teacher_variant': getattr(teacher, 'variant', ''), 'tau': TAU,
                    'pairs': distiller.pairs if distiller is not None else [],
                    'feat_kd': w['feat_kd'], 'resp_kd': w['resp_kd'],
                    'teacher_options': cfg.teacher_options,
                    'student_init': init_report}
    _logger.info('distilling %s (%s) into %s: block pairs %s', cfg.distill_from,
                 distill_meta['teacher_variant'], cfg.variant, distill_meta['pairs'])
    use_amp = cfg.amp and device.type == 'cuda'

    def step_loss(batch: dict) -> LossOutput:
        inputs = (batch['template_rgb'], batch['search_rgb'], batch['template_x'],
                  batch['search_x'], batch['template_x_mask'], batch['search_x_mask'])
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=use_amp):
            with torch.no_grad():
                t_out = teacher(*inputs)
            s_out = model(*inputs, modality=batch['modality'])
        if use_amp:
            s_out, t_out = as_float(s_out), as_float(t_out)
        return distill_loss(s_out, t_out, batch['boxes'], w, distiller, batch.get('labelled'))

    def load_state(state: dict) -> None:
        if 'distiller' not in state:
            raise ValueError(f'{out.with_name(out.stem + ".state.pt")} was not written by a '
                             'distillation run; remove it or train without resume')
        if distiller is not None:
            distiller.load_state_dict(state['distiller'])

    trained = [p for p in model.parameters() if p.requires_grad]
    if distiller is not None:
        trained += list(distiller.parameters())
    hooks = LoopHooks(
        loss=step_loss, trained=trained, name='distil', meta={'distill': distill_meta},
        state=lambda: {'distiller': distiller.state_dict() if distiller is not None else {}},
        load_state=load_state)
    try:
        return run_loop(cfg, model, optim, geo, device, out, meta_common, base, skip, hooks,
                        t_start)
    finally:
        model.keep_features = False
