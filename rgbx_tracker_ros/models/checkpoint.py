"""Save and load tracker weights.

Three layouts are understood:

1. **Ours** (self-describing): ``{'format': FORMAT, 'variant': str, 'model_args': dict,
   'state_dict': dict, 'meta': dict}``. :func:`load_checkpoint` rebuilds the model from it.
2. **OSTrack family** (OSTrack, ViPT, XTrack, SEATrack, PATrack, BAT releases): a dict with the
   weights under ``'net'`` (trackers.md 1.9), keys ``backbone.*`` and ``box_head.*``. Our state-dict
   names follow OSTrack, so the patch embedding, ViT blocks (attention and FFN -> the Dual MoE's
   shared expert), final norm and center head load directly; position tables of another grid are
   resized bicubically; modules the release does not have (Meta Merger, routed experts) keep their
   initialisation, and release-specific extras (prompts, adapters) are reported as unexpected.
3. **timm ViT** state dicts (``patch_embed.*``, ``blocks.*``, ``norm.*``, ``pos_embed`` with a cls
   entry): loaded into the backbone the way OSTrack initialises from MAE weights (cls entry dropped,
   the 2-D table resized to the template and search grids).

Releases that pickle Python objects next to the weights need ``trust_pickle=True`` (only for files
from a source you trust), because unpickling can run code.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
from timm.layers import resample_abs_pos_embed

from .registry import create_model, variant_args

FORMAT = 'rgbx_tracker_ros.checkpoint/1'


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says why and what to do."""


@dataclass
class LoadReport:
    """What happened when weights were loaded into a model.

    Attributes:
        source_format: 'rgbx', 'ostrack' or 'timm_vit'.
        variant: the variant the model was built as.
        loaded: number of tensors copied.
        resized: keys whose tensors were resized (position tables).
        missing: model keys the file did not provide (they keep their initialisation).
        unexpected: file keys the model has no place for (ignored).
        meta: the 'meta' dict of our own checkpoints (training command, steps...), else {}.
    """

    source_format: str
    variant: str = ''
    loaded: int = 0
    resized: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def save_checkpoint(path: Union[str, Path], model: torch.nn.Module, variant: str,
                    model_args: Optional[dict] = None, meta: Optional[dict] = None,
                    base: Optional[dict] = None, skip=()) -> Path:
    """Write ``model`` in our self-describing format; returns the path.

    Args:
        path: output file (parents are created).
        model: an :class:`~rgbx_tracker_ros.models.rgbx_vit.RgbxViT`.
        variant: registered variant name the model was built from.
        model_args: the full constructor arguments (default: the variant's defaults).
        meta: free-form provenance (training command, steps, losses), stored as given.
        base: for a model whose pretrained tensors stayed frozen: ``{'name': 'dinov2_vits14',
            'sha256': ...}`` of the fetched backbone they come from. The tensors in ``skip``
            are then not stored; :func:`load_checkpoint` reads them from that file again.
        skip: state-dict keys left out (only together with ``base``).

    Raises:
        ValueError: ``skip`` without ``base``.
    """
    if skip and not base:
        raise ValueError('tensors can only be left out of a checkpoint (skip) when base names '
                         'the pretrained file they come from')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skip = set(skip)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in skip}
    tmp = path.with_name(path.name + '.tmp')
    obj = {'format': FORMAT, 'variant': variant,
           'model_args': dict(model_args or variant_args(variant)),
           'state_dict': state, 'meta': dict(meta or {})}
    if base:
        obj['base'] = dict(base)
    torch.save(obj, tmp)
    os.replace(tmp, path)   # readers (a running node, a test) never see a half-written file
    return path


def read_checkpoint(path: Union[str, Path], trust_pickle: bool = False) -> dict:
    """Read a checkpoint file into a dict (CPU tensors).

    Raises:
        CheckpointError: if the file is missing, unreadable, or needs unpickling of arbitrary
            objects while ``trust_pickle`` is False.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist; pass an existing .pt/.pth file '
                              'or leave the checkpoint empty to use the packaged demo weights')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=not trust_pickle)
    except Exception as exc:  # torch raises several types for bad / pickled files
        hint = '' if trust_pickle else (
            ' If this is a release that pickles training settings next to the weights and you '
            'trust its source, load it with trust_pickle=True.')
        raise CheckpointError(f'cannot read checkpoint {path}: {exc}.{hint}') from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f'checkpoint {path} holds a {type(obj).__name__}, expected a dict')
    return obj


def load_checkpoint(path: Union[str, Path], variant: Optional[str] = None,
                    trust_pickle: bool = False, **overrides) -> Tuple[torch.nn.Module, LoadReport]:
    """Build a model and load weights from ``path``; the model is returned in eval mode.

    Args:
        path: checkpoint file in any layout of the module docstring.
        variant: variant to build; required for OSTrack-family and timm files, optional for ours
            (must then match the file's variant).
        trust_pickle: allow unpickling arbitrary objects (only for trusted files).
        **overrides: constructor overrides applied on top of the variant / file arguments.

    Raises:
        CheckpointError: unreadable file, unknown layout, missing or mismatching variant, or a
            tensor whose shape cannot be made to fit.
    """
    obj = read_checkpoint(path, trust_pickle)
    if obj.get('format') == FORMAT:
        if variant is not None and variant != obj['variant']:
            raise CheckpointError(f'checkpoint {path} holds variant {obj["variant"]!r}, '
                                  f'not {variant!r}; drop the variant or pick another file')
        model = create_model(obj['variant'], **dict(obj['model_args'], **overrides))
        base = _load_base(model, obj['base'], path) if obj.get('base') else None
        report = load_state(model, obj['state_dict'], 'rgbx')
        if base is not None:        # what the backbone provided is not missing
            from_base = set(model.state_dict()) - set(base.missing)
            report.missing = [k for k in report.missing if k not in from_base]
        report.variant = obj['variant']
        report.meta = dict(obj.get('meta', {}))
        if report.missing or report.unexpected:
            raise CheckpointError(f'checkpoint {path} does not match variant {obj["variant"]!r}: '
                                  f'missing {report.missing[:5]}, unexpected '
                                  f'{report.unexpected[:5]}')
        return model.eval(), report
    if variant is None:
        raise CheckpointError(f'{path} is not an rgbx_tracker_ros checkpoint; say which variant '
                              'to build for it (e.g. variant="b224" for a ViT-B release)')
    model = create_model(variant, **overrides)
    report = _load_release(model, obj, path)
    report.variant = variant
    return model.eval(), report


def _load_release(model: torch.nn.Module, obj: dict, path, expected: str = 'ours, ') -> LoadReport:
    """Load an OSTrack-family ('net') or timm ViT state dict into ``model``.

    Raises:
        CheckpointError: any other layout; the message lists what is ``expected``.
    """
    if 'net' in obj:
        return load_state(model, obj['net'], 'ostrack')
    if any(k.startswith('blocks.') for k in obj) or 'state_dict' in obj or 'model' in obj:
        state = obj.get('state_dict', obj.get('model', obj))
        return load_state(model, {'backbone.' + k: v for k, v in state.items()}, 'timm_vit')
    raise CheckpointError(f'{path}: unknown checkpoint layout (top-level keys '
                          f'{sorted(obj)[:8]}); expected {expected}an OSTrack-style dict with '
                          "'net', or a timm ViT state dict")


def _load_base(model: torch.nn.Module, base: dict, path: Path) -> LoadReport:
    """Load the pretrained tensors a compact checkpoint left out (see :func:`save_checkpoint`);
    returns the :func:`init_from` report of that load."""
    from . import pretrained
    name = base.get('name', '')
    try:
        manifest = pretrained.read_manifest(name)
    except pretrained.PretrainedError as exc:
        raise CheckpointError(f'checkpoint {path} stores only its trained tensors and needs the '
                              f'pretrained backbone {name!r}: {exc}') from exc
    if base.get('sha256') and manifest.get('sha256') != base['sha256']:
        raise CheckpointError(f'checkpoint {path} was trained on {name} with sha256 '
                              f'{base["sha256"][:12]}..., but the cache holds '
                              f'{manifest.get("sha256", "")[:12]}...: run `rgbx-weights fetch '
                              f'{name} --force`')
    return init_from(model, name)


def load_state(model: torch.nn.Module, state: Dict[str, torch.Tensor],
               source_format: str) -> LoadReport:
    """Copy matching tensors of ``state`` into ``model`` (in place) and report what happened.

    Handles a DDP ``module.`` prefix, a timm ``pos_embed`` with a cls entry (split into the template
    and search tables) and position tables of another grid size (bicubic resize).

    Raises:
        CheckpointError: if a tensor exists in both but its shape cannot be made to fit.
    """
    state = {(k[7:] if k.startswith('module.') else k): v for k, v in state.items()}
    report = LoadReport(source_format)
    own = model.state_dict()
    if 'backbone.pos_embed' in state and 'backbone.pos_embed_x' not in state:
        table = state.pop('backbone.pos_embed')
        grid = table.shape[1]
        if math.isqrt(grid - 1) ** 2 == grid - 1:
            table = table[:, 1:]
        state['backbone.pos_embed_z'] = table
        state['backbone.pos_embed_x'] = table
    state.pop('backbone.cls_token', None)
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
            continue
        target = own[key]
        if value.shape != target.shape:
            if key.endswith(('pos_embed_z', 'pos_embed_x')):
                value = _resize_pos_table(value, target.shape[1])
                report.resized.append(key)
            else:
                raise CheckpointError(f'tensor {key}: file shape {tuple(value.shape)} does not fit '
                                      f'model shape {tuple(target.shape)}; pick the variant of '
                                      'matching width/depth')
        own[key] = value.to(target.dtype)
        report.loaded += 1
    report.missing = [k for k in model.state_dict() if k not in state]
    model.load_state_dict(own)
    return report


def _resize_pos_table(table: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(1, N, D) square position table -> (1, num_tokens, D): bicubic resample of the 2-D grid
    with timm's ``resample_abs_pos_embed``, without antialiasing (as DINOv2 / Hugging Face and
    OSTrack resample their tables)."""
    src, dst = math.isqrt(table.shape[1]), math.isqrt(num_tokens)
    if src * src != table.shape[1] or dst * dst != num_tokens:
        raise CheckpointError(f'cannot resize a position table of {table.shape[1]} tokens to '
                              f'{num_tokens}: both must be square grids')
    return resample_abs_pos_embed(table.float(), [dst, dst], [src, src], num_prefix_tokens=0,
                                  antialias=False)


def init_from(model: torch.nn.Module, source: Union[str, Path],
              trust_pickle: bool = False) -> LoadReport:
    """Initialise ``model``'s backbone (and head, if the file has one) from pretrained weights.

    ``rgbx-train --init SOURCE``. ``source`` is the name of a fetched pretrained backbone
    (``'dinov2_vits14'``, :mod:`~rgbx_tracker_ros.models.pretrained`), or a file the loader reads:
    a timm ViT state dict (MAE, DeiT, DINOv2 ...), an OSTrack-family release (``'net'``), or one
    of our checkpoints (all matching tensors are copied). New modules (Meta Merger, routed
    experts, the correlation channels of the head) keep their initialisation, which is zero
    at the output, so the network starts as the pretrained ViT.

    Returns:
        the :class:`LoadReport` (``report.meta['init']`` names the source, with its sha256 and
        credit for a named backbone).

    Raises:
        CheckpointError: unreadable file, unknown layout or a tensor that does not fit.
        PretrainedError: a named backbone that is not fetched or does not match its manifest.
    """
    from . import pretrained
    if str(source) in pretrained.SOURCES:
        state = pretrained.load_pretrained(str(source))
        man = pretrained.read_manifest(str(source))
        report = load_state(model, {'backbone.' + k: v for k, v in state.items()}, 'timm_vit')
        report.meta['init'] = {'source': str(source), 'sha256': man['sha256'],
                               'credit': man['credit'], 'from': man['source']}
        return report
    obj = read_checkpoint(source, trust_pickle)
    if obj.get('format') == FORMAT:
        report = load_state(model, obj['state_dict'], 'rgbx')
    else:
        names = ', '.join(sorted(pretrained.SOURCES))
        report = _load_release(model, obj, source, f'a pretrained name ({names}), ours, ')
    report.meta['init'] = {'source': str(source), 'sha256': pretrained.sha256_file(source)}
    return report
