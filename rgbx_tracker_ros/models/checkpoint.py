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

"""Save and load tracker weights.

Three layouts are understood:

1. **Ours** (self-describing): ``{'format': FORMAT, 'variant': str, 'model_args': dict,
   'state_dict': dict, 'meta': dict}``. :func:`load_checkpoint` rebuilds the model from it.
2. **OSTrack family** (OSTrack, ViPT, XTrack, SEATrack, PATrack, BAT releases): a dict with the
   weights under ``'net'`` (trackers.md 1.9), keys ``backbone.*`` and ``box_head.*``. Our
   state-dict names follow OSTrack, so the patch embedding, ViT blocks (attention and FFN -> the
   Dual MoE's shared expert), final norm and center head load directly; position tables of another
   grid are resized bicubically; modules the release does not have (Meta Merger, routed experts)
   keep their initialisation, and release-specific extras (prompts, adapters) are reported as
   unexpected.
3. **timm ViT** state dicts (``patch_embed.*``, ``blocks.*``, ``norm.*``, ``pos_embed`` with a cls
   entry): loaded into the backbone the way OSTrack initialises from MAE weights (cls entry
   dropped, the 2-D table resized to the template and search grids).

Releases that pickle Python objects next to the weights need ``trust_pickle=True`` (only for files
from a source you trust), because unpickling can run code.
"""

from __future__ import annotations

import math
import os
import pickle
import pickletools
import re
import zipfile
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
        ignored: release tensors known to be unused (OSTrack's ``cls_token`` and the MAE
            ``pos_embed`` left beside ``pos_embed_z`` / ``pos_embed_x``).
        meta: the 'meta' dict of our own checkpoints (training command, steps...), else {}.
    """

    source_format: str
    variant: str = ''
    loaded: int = 0
    resized: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def save_checkpoint(path: Union[str, Path], model: torch.nn.Module, variant: str,
                    model_args: Optional[dict] = None, meta: Optional[dict] = None,
                    base: Optional[dict] = None, skip=()) -> Path:
    """Write ``model`` in our self-describing format; returns the path.

    Args:
        path: output file (parents are created).
        model: a built variant (any family).
        variant: registered variant name the model was built from.
        model_args: the full constructor arguments (default: the variant's defaults).
        meta: free-form provenance (training command, steps, losses), stored as given.
        base: for a model whose pretrained tensors stayed frozen: ``{'name': 'dinov2_vits14',
            'sha256': ...}`` of the fetched backbone they come from, or ``{'file': PATH,
            'sha256': ...}`` of the checkpoint it was initialised from (e.g. our trained RGB
            tracker, the base of a parameter-efficient family). The tensors in ``skip`` are then
            not stored; :func:`load_checkpoint` reads them from that source again.
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


#: torch.save writes a zip archive (PyTorch >= 1.6) or, in the legacy format, a pickle stream
#: (protocol opcode 0x80 then the protocol number) that starts with torch's magic number.
_ZIP_MAGIC = b'PK\x03\x04'
_NOT_A_CHECKPOINT = '{path} is not a PyTorch checkpoint ({reason}): re-download it or train one ' \
    'with rgbx-train'


def _header_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be a torch.save file, judged from its bytes alone (None if it may be).

    Reads the first bytes and, for a zip, only the central directory (no data is decompressed,
    nothing is unpickled), so it is cheap even for large files.
    """
    with open(path, 'rb') as fh:
        head = fh.read(512)
    if not head:
        return 'empty file'
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return 'truncated or damaged zip archive'
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            return 'zip archive without data.pkl'
        return None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return _legacy_magic_problem(path)             # legacy format: its first pickle
    if b'\0' not in head:
        try:
            head.decode('utf-8')
            return 'a text file'
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:              # not just a character cut at byte 512
                return 'unknown binary data'
            return 'a text file'
    return 'unknown binary data'


def _legacy_magic_problem(path: Path) -> Optional[str]:
    """A legacy torch.save stream starts with a pickle of torch's magic number: check that one
    pickle (a few bytes, parsed with :func:`pickletools.genops`, nothing is built)."""
    try:
        with open(path, 'rb') as fh:
            ops = list(pickletools.genops(fh))
    except Exception:  # noqa: BLE001 - genops raises ValueError and others on bad bytes
        return 'damaged pickle data'
    if not any(arg == torch.serialization.MAGIC_NUMBER for _, arg, _ in ops):
        return 'a plain pickle, not written by torch.save'
    return None


def _pickle_problem(path: Path) -> Optional[str]:
    """Why the pickle data of a torch.save file is damaged, or None if it is well formed.

    Walks the pickle opcodes with :func:`pickletools.genops`, which parses without building or
    importing anything (safe on any file): the ``data.pkl`` of a zip checkpoint, or the leading
    pickles of a legacy file (torch's magic number, protocol, system info, the object, the
    storage keys). Only called after ``torch.load`` failed, so the cost does not matter.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist()
                            if n == 'data.pkl' or n.endswith('/data.pkl'))
                for _ in pickletools.genops(archive.read(name)):
                    pass
            return None
        with open(path, 'rb') as fh:
            for _ in pickletools.genops(fh):           # magic number (checked by the header)
                pass
            for _ in range(4):                         # protocol, sys info, object, storage keys
                for _ in pickletools.genops(fh):
                    pass
        return None
    except zipfile.BadZipFile:
        return 'damaged zip archive'
    except Exception:  # noqa: BLE001 - genops raises ValueError and others on bad bytes
        return 'damaged pickle data'


def _load_problem(exc: BaseException, path: Path, trust_pickle: bool) -> Optional[str]:
    """Short reason if ``torch.load``'s ``exc`` on ``path`` means a damaged file; None if the
    file is a well-formed checkpoint that needs more than the weights-only unpickler (pickled
    Python objects) or code that is not installed."""
    problem = _pickle_problem(path)
    if problem is not None:
        return problem
    if isinstance(exc, pickle.UnpicklingError) and not trust_pickle:
        return None                                    # weights-only refused a real object
    if isinstance(exc, (ImportError, AttributeError)):
        return None                                    # a class of a package not installed
    if isinstance(exc, EOFError):
        return 'unexpected end of file'
    lines = str(exc).strip().splitlines()
    if not lines or 'weights_only' in lines[0] or 'trust' in lines[0].lower():
        return f'damaged data: {type(exc).__name__}'
    return f'damaged data: {lines[0][:80]}'


def read_checkpoint(path: Union[str, Path], trust_pickle: bool = False) -> dict:
    """Read a checkpoint file into a dict (CPU tensors).

    A file that is not a torch.save file at all (empty, text, random bytes, a truncated or
    damaged archive or stream) gets one line, ``'<path> is not a PyTorch checkpoint (<reason>):
    re-download it or train one with rgbx-train'``: such a file is broken, and loading it with
    ``trust_pickle`` would not help (and would be unsafe). Only a well-formed file whose pickle
    names Python objects outside the weights-only allow-list gets the ``trust_pickle`` hint.

    Raises:
        CheckpointError: if the file is missing, not a PyTorch checkpoint, needs unpickling of
            arbitrary objects while ``trust_pickle`` is False, or does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist; pass an existing .pt/.pth file '
                              'or leave the checkpoint empty to use the packaged demo weights')
    try:
        problem = _header_problem(path)
    except OSError as exc:
        raise CheckpointError(f'cannot read checkpoint {path}: {exc}') from exc
    if problem is not None:
        raise CheckpointError(_NOT_A_CHECKPOINT.format(path=path, reason=problem))
    try:
        obj = torch.load(path, map_location='cpu', weights_only=not trust_pickle)
    except Exception as exc:  # torch raises several types for bad / pickled files
        problem = _load_problem(exc, path, trust_pickle)
        if problem is not None:
            raise CheckpointError(_NOT_A_CHECKPOINT.format(path=path, reason=problem)) from None
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
        _drop_cut_blocks(report, obj['model_args'], overrides)
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


_BLOCK_KEY = re.compile(r'^backbone\.blocks\.(\d+)\.')


def _drop_cut_blocks(report: LoadReport, model_args: dict, overrides: dict) -> None:
    """A ``depth`` override below the checkpoint's (fewer blocks, a token-budget option): the
    tensors of the cut blocks are reported as ignored, not unexpected."""
    depth = overrides.get('depth')
    if depth is None or int(depth) >= int(model_args.get('depth', 0) or 0):
        return
    cut = [k for k in report.unexpected
           if (m := _BLOCK_KEY.match(k)) and int(m.group(1)) >= int(depth)]
    report.unexpected = [k for k in report.unexpected if k not in set(cut)]
    report.ignored.extend(cut)


def _load_release(model: torch.nn.Module, obj: dict, path, expected: str = 'ours, ') -> LoadReport:
    """Load an OSTrack-family ('net') or timm ViT state dict into ``model``.

    Raises:
        CheckpointError: any other layout; the message lists what is ``expected``.
    """
    if 'net' in obj:
        state = obj['net']
        convert = getattr(_family(model), 'convert_release', None)
        if convert is not None:
            state = convert({(k[7:] if k.startswith('module.') else k): v
                             for k, v in state.items()}, model)
        return load_state(model, state, 'ostrack')
    if any(k.startswith('blocks.') for k in obj) or 'state_dict' in obj or 'model' in obj:
        state = obj.get('state_dict', obj.get('model', obj))
        return load_state(model, {'backbone.' + k: v for k, v in state.items()}, 'timm_vit')
    raise CheckpointError(f'{path}: unknown checkpoint layout (top-level keys '
                          f'{sorted(obj)[:8]}); expected {expected}an OSTrack-style dict with '
                          "'net', or a timm ViT state dict")


def _family(model: torch.nn.Module):
    from .registry import get_family
    name = getattr(model, 'family', '')
    return get_family(name) if name else None


def resolve_base_file(base_file: str, checkpoint: Path) -> Path:
    """Where the base file a compact checkpoint names is: as given (absolute or relative to the
    working directory), beside the checkpoint, or in the package's ``checkpoints/`` folder.

    Raises:
        CheckpointError: none of these exists.
    """
    given = Path(base_file)
    package = Path(__file__).resolve().parents[2] / 'checkpoints'
    for candidate in (given, Path(checkpoint).parent / given.name, package / given.name):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f'checkpoint {checkpoint} stores only its trained tensors and needs its '
                          f'base {base_file}, which is neither there, beside it nor in {package}: '
                          'put the base file there')


def _load_base(model: torch.nn.Module, base: dict, path: Path) -> LoadReport:
    """Load the pretrained tensors a compact checkpoint left out (see :func:`save_checkpoint`);
    returns the :func:`init_from` report of that load."""
    from . import pretrained
    if base.get('file'):
        source = resolve_base_file(base['file'], path)
        if base.get('sha256') and pretrained.sha256_file(source) != base['sha256']:
            raise CheckpointError(f'checkpoint {path} was trained on the base {source} with '
                                  f'sha256 {base["sha256"][:12]}..., but that file differs now: '
                                  'use the base it was trained on, or retrain')
        return init_from(model, source)
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

    Handles a DDP ``module.`` prefix, a timm ``pos_embed`` with a cls entry (split into the
    template and search tables) and position tables of another grid size (bicubic resize).

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
    elif 'backbone.pos_embed' in state:       # OSTrack keeps MAE's table; it is never used
        state.pop('backbone.pos_embed')
        report.ignored.append('backbone.pos_embed')
    if state.pop('backbone.cls_token', None) is not None:
        report.ignored.append('backbone.cls_token')
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
                raise CheckpointError(f'tensor {key}: file shape {tuple(value.shape)} does not '
                                      f'fit model shape {tuple(target.shape)}; pick the variant '
                                      'of matching width/depth')
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
        base_report = _load_base(model, obj['base'], Path(source)) if obj.get('base') else None
        report = load_state(model, obj['state_dict'], 'rgbx')
        if base_report is not None:   # what the file's own base provided is loaded, not missing
            provided = set(model.state_dict()) - set(base_report.missing)
            report.missing = [k for k in report.missing if k not in provided]
            report.loaded += base_report.loaded
    else:
        names = ', '.join(sorted(pretrained.SOURCES))
        report = _load_release(model, obj, source, f'a pretrained name ({names}), ours, ')
    report.meta['init'] = {'source': str(source), 'sha256': pretrained.sha256_file(source)}
    return report
