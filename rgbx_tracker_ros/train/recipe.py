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

"""Training recipes: a YAML file naming the dataset mix, epochs, batch, optimiser and schedule.

A recipe reproduces a paper's training set-up (``config/train/*.yaml`` ship the seed papers'
recipes as read in ``trackers.md`` §1.7, §1.8 and §3). Format::

    name: xtrack_rgbt                   # required, a label
    paper: XTrack (trackers.md 3.3)     # optional: where the numbers come from
    variant: xtrack_b256                # required, a registered model variant
    init: OSTrack_ep0300.pth.tar        # optional pretrained file / backbone name
    trainable: auto                     # optional, TrainConfig.trainable
    freeze_backbone: false              # optional, TrainConfig.freeze_backbone
    datasets:                           # required, >= 1 entry
      - {name: lasher, root: ${LASHER_ROOT}, split: train, ratio: 1}
      - {name: depthtrack, root: ${DEPTHTRACK_ROOT}, ratio: 1, split_file: null, max_gap: 200}
    epochs: 65                          # required, > 0
    samples_per_epoch: 60000            # required, > 0
    batch_size: 32                      # required, > 0 (total over all GPUs)
    optimizer: {lr: 1e-4, backbone_lr_scale: 0.1, weight_decay: 1e-4, grad_clip: 0.1}
    schedule: {kind: step, decay_epoch: 48, gamma: 0.1, warmup: 0}
    sampling: {max_gap: 200, center_jitter: 3.0, scale_jitter: 0.25}
    notes: free text

Dataset names are the keys of :data:`~rgbx_tracker_ros.train.datasets.DATASETS`; ``split``
defaults to the reader's default, ``null`` means ``root`` is the folder of sequences.
``root`` and ``split_file`` expand ``$VAR`` / ``${VAR}`` and ``~`` when the source is built
(so a recipe loads and validates without the datasets being present); an unset variable is an
error then. Numbers may be written ``4e-4`` (YAML 1.1 reads that as a string; it is converted).

Schedules (``kind``):

- ``step``: lr ``×gamma`` (default 0.1) at each epoch of ``decay_epoch`` (a number or a list;
  OSTrack's ``LR_DROP_EPOCH``), after an optional linear ``warmup`` (steps).
- ``cosine``: linear warm-up then cosine decay to ``lr × min_lr_ratio`` (the trainer's
  :func:`~rgbx_tracker_ros.train.trainer.lr_at`).
- ``constant``: no decay (e.g. SEATrack's RGB-D / RGB-E runs, whose drop epoch lies beyond the
  last epoch).

:func:`scheduled_lr` is the one implementation of the three, used by :meth:`Recipe.lr_at` and by
the trainer's ``lr_at``, which follows the schedule that :meth:`Recipe.to_train_overrides`
records in ``extra['recipe']`` (``rgbx-train --recipe``).

Errors raise :class:`RecipeError` (a ValueError) naming the file and the key.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import yaml

from .data import Geometry
from .datasets import DATASETS, DatasetError, MixedSource, SequencePairSource, open_dataset

__all__ = ['DatasetSpec', 'Recipe', 'RecipeError', 'apply_recipe', 'explicit_flags',
           'load_recipe', 'recipe_dir', 'recipe_files']

#: Shipped recipes in the source tree (installed: share/rgbx_tracker_ros/config/train).
RECIPE_DIR = Path(__file__).resolve().parents[2] / 'config' / 'train'


def recipe_dir() -> Path:
    """The shipped recipe folder: the source tree's ``config/train``, else
    ``<prefix>/share/rgbx_tracker_ros/config/train`` of the first ``AMENT_PREFIX_PATH`` prefix
    that has it (an installed package); the source path when neither exists."""
    if RECIPE_DIR.is_dir():
        return RECIPE_DIR
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        candidate = Path(prefix) / 'share' / 'rgbx_tracker_ros' / 'config' / 'train'
        if prefix and candidate.is_dir():
            return candidate
    return RECIPE_DIR


_TOP_KEYS = {'name', 'paper', 'variant', 'init', 'trainable', 'freeze_backbone', 'datasets',
             'epochs', 'samples_per_epoch', 'batch_size', 'optimizer', 'schedule', 'sampling',
             'notes'}
_REQUIRED = ('name', 'variant', 'datasets', 'epochs', 'samples_per_epoch', 'batch_size',
             'optimizer')
_DATASET_KEYS = {'name', 'root', 'split', 'split_file', 'ratio', 'max_gap'}
_OPTIMIZER_KEYS = {'lr', 'backbone_lr_scale', 'weight_decay', 'grad_clip'}
_SCHEDULE_KEYS = {'kind', 'warmup', 'decay_epoch', 'gamma', 'min_lr_ratio'}
_SAMPLING_KEYS = {'max_gap', 'center_jitter', 'scale_jitter'}
_KINDS = ('step', 'cosine', 'constant')
_VAR = re.compile(r'\$(\w+)|\$\{([^}]*)\}')


class RecipeError(ValueError):
    """A recipe file is malformed; the message names the file and the offending key."""


@dataclass
class DatasetSpec:
    """One dataset of the mix.

    Attributes:
        name: training reader name (a key of ``DATASETS``).
        root: dataset folder as written (``$VAR`` expanded by :meth:`resolved_root`).
        ratio: sampling weight (> 0); the share is ratio / sum of ratios.
        split: reader split; 'default' = the reader's default; None = root holds the sequences.
        split_file: optional list of sequence names (as written, expanded when opened).
        max_gap: frame gap of this dataset's pairs; None = the recipe's ``sampling.max_gap``.
    """

    name: str
    root: str
    ratio: float = 1.0
    split: Optional[str] = 'default'
    split_file: Optional[str] = None
    max_gap: Optional[int] = None

    def resolved_root(self, env: Optional[Mapping[str, str]] = None) -> Path:
        """``root`` with environment variables and ``~`` expanded.

        Raises:
            RecipeError: a variable is not set in ``env`` (default ``os.environ``).
        """
        return Path(_expand(self.root, env, f'datasets[{self.name}].root')).expanduser()


@dataclass
class Recipe:
    """A loaded, validated training recipe (see the module docstring for the keys).

    Attributes:
        name, paper, notes: labels.
        variant: registered model variant.
        init: pretrained file / backbone name ('' = none).
        trainable: ``TrainConfig.trainable`` ('' = keep the trainer's).
        freeze_backbone: ``TrainConfig.freeze_backbone`` or None (keep).
        datasets: the mix.
        epochs, samples_per_epoch, batch_size: the run length (samples per epoch over all GPUs).
        lr, backbone_lr_scale, weight_decay, grad_clip: optimiser (None = keep the trainer's).
        schedule: 'step', 'cosine' or 'constant'.
        warmup: linear warm-up steps.
        decay_epochs: epochs of the step drops (step schedule).
        gamma: factor per step drop.
        min_lr_ratio: final lr / peak of the cosine schedule (None = keep the trainer's).
        max_gap: template/search frame gap (frames).
        center_jitter, scale_jitter: search-region jitter (None = the Geometry's).
        path: the recipe file.
    """

    name: str
    variant: str
    datasets: List[DatasetSpec]
    epochs: int
    samples_per_epoch: int
    batch_size: int
    lr: float
    paper: str = ''
    notes: str = ''
    init: str = ''
    trainable: str = ''
    freeze_backbone: Optional[bool] = None
    backbone_lr_scale: Optional[float] = None
    weight_decay: Optional[float] = None
    grad_clip: Optional[float] = None
    schedule: str = 'cosine'
    warmup: int = 0
    decay_epochs: Tuple[float, ...] = ()
    gamma: float = 0.1
    min_lr_ratio: Optional[float] = None
    max_gap: int = 200
    center_jitter: Optional[float] = None
    scale_jitter: Optional[float] = None
    path: Optional[Path] = None

    # -- schedule ----------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> float:
        """Optimiser steps per epoch: samples_per_epoch / batch_size."""
        return self.samples_per_epoch / self.batch_size

    @property
    def iterations(self) -> int:
        """Total optimiser steps: ceil(epochs × samples_per_epoch / batch_size)."""
        return int(math.ceil(self.epochs * self.samples_per_epoch / self.batch_size))

    def decay_steps(self) -> List[int]:
        """Steps at which the step schedule multiplies the lr by ``gamma`` (within the run)."""
        steps = [int(round(e * self.steps_per_epoch)) for e in self.decay_epochs]
        return [s for s in steps if s < self.iterations]

    def lr_at(self, step: int) -> float:
        """Peak-group learning rate at optimiser step ``step`` (0-based) under the recipe's own
        schedule (the backbone group is this × ``backbone_lr_scale``)."""
        ratio = 0.05 if self.min_lr_ratio is None else self.min_lr_ratio
        return scheduled_lr(step, self.lr, self.warmup, self.iterations, self.schedule, ratio,
                            self.decay_steps(), self.gamma)

    # -- trainer mapping ---------------------------------------------------------------------
    def to_train_overrides(self) -> Dict[str, Any]:
        """``TrainConfig`` field values of this recipe.

        Always: variant, iterations, batch_size, lr, warmup, min_lr_ratio and ``extra``
        (``{'recipe': {...}}``: name, file, paper, the exact schedule, datasets and sampling, for
        the checkpoint metadata and the trainer's ``lr_at``, which follows that schedule under
        ``recipe``). When the recipe states them: init, trainable, freeze_backbone,
        backbone_lr_scale, weight_decay, grad_clip. ``min_lr_ratio``: 1.0 for 'constant',
        gamma^drops for 'step' (where the step schedule ends), the recipe's (or left out) for
        'cosine'.
        """
        out: Dict[str, Any] = {'variant': self.variant, 'iterations': self.iterations,
                               'batch_size': self.batch_size, 'lr': self.lr,
                               'warmup': self.warmup}
        if self.schedule == 'constant':
            out['min_lr_ratio'] = 1.0
        elif self.schedule == 'step':
            out['min_lr_ratio'] = self.gamma ** len(self.decay_steps())
        elif self.min_lr_ratio is not None:
            out['min_lr_ratio'] = self.min_lr_ratio
        for key in ('backbone_lr_scale', 'weight_decay', 'grad_clip', 'freeze_backbone'):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.init:
            out['init'] = self.init
        if self.trainable:
            out['trainable'] = self.trainable
        out['extra'] = {'recipe': {
            'name': self.name, 'paper': self.paper,
            'file': str(self.path) if self.path else '',
            'epochs': self.epochs, 'samples_per_epoch': self.samples_per_epoch,
            'schedule': {'kind': self.schedule, 'warmup': self.warmup,
                         'decay_steps': self.decay_steps(), 'gamma': self.gamma,
                         'min_lr_ratio': self.min_lr_ratio},
            'datasets': [asdict(d) for d in self.datasets],
            'sampling': {'max_gap': self.max_gap, 'center_jitter': self.center_jitter,
                         'scale_jitter': self.scale_jitter},
        }}
        return out

    def geometry(self, geo: Geometry) -> Geometry:
        """``geo`` with the recipe's search jitter (a copy; ``geo`` is not changed)."""
        values = asdict(geo)
        if self.center_jitter is not None:
            values['center_jitter'] = self.center_jitter
        if self.scale_jitter is not None:
            values['scale_jitter'] = self.scale_jitter
        return Geometry(**values)

    def build_source(self, geo: Geometry, env: Optional[Mapping[str, str]] = None,
                     **reader_kwargs) -> MixedSource:
        """Open every dataset and return the ratio mix of their
        :class:`~.datasets.SequencePairSource` (``sample(rng) -> PairSample``).

        Args:
            geo: crop geometry of the model (template / search size and factor); the recipe's
                jitter replaces the jitter of ``geo``.
            env: variables for ``$VAR`` in roots (default ``os.environ``).
            **reader_kwargs: passed to every reader (e.g. ``cache_size``).

        Raises:
            RecipeError: an unset environment variable in a root / split file.
            DatasetError: a dataset folder does not match its layout (the file is named).
        """
        geo = self.geometry(geo)
        sources = []
        for spec in self.datasets:
            split_file = (None if spec.split_file is None else
                          _expand(spec.split_file, env, f'datasets[{spec.name}].split_file'))
            try:
                dataset = open_dataset(spec.name, spec.resolved_root(env), split=spec.split,
                                       split_file=split_file, **reader_kwargs)
            except DatasetError as err:
                raise DatasetError(f'recipe {self.path or self.name}: {err}') from err
            gap = self.max_gap if spec.max_gap is None else spec.max_gap
            sources.append(SequencePairSource(dataset, geo, max_gap=gap))
        return MixedSource(sources, [d.ratio for d in self.datasets],
                           names=[d.name for d in self.datasets])


# --------------------------------------------------------------------------- schedule

def scheduled_lr(step: int, lr: float, warmup: int, iterations: int, kind: str = 'cosine',
                 min_lr_ratio: float = 0.05, decay_steps: Iterable[int] = (),
                 gamma: float = 0.1) -> float:
    """Peak-group learning rate at optimiser step ``step`` (0-based): a linear warm-up over
    ``warmup`` steps, then ``kind`` (module docstring): 'constant' stays at ``lr``, 'step'
    multiplies it by ``gamma`` at each of ``decay_steps``, anything else ('cosine') decays
    it to ``lr * min_lr_ratio`` at ``iterations``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if kind == 'constant':
        return lr
    if kind == 'step':
        return lr * gamma ** sum(step >= s for s in decay_steps)
    t = (step - warmup) / max(1, iterations - warmup)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


# --------------------------------------------------------------------------- loading

def _expand(text: str, env: Optional[Mapping[str, str]], where: str) -> str:
    env = os.environ if env is None else env

    def sub(match: re.Match) -> str:
        var = match.group(1) or match.group(2)
        if var not in env:
            raise RecipeError(f'{where}: environment variable {var} is not set (used in '
                              f'{text!r}); export it to the dataset folder')
        return env[var]
    return _VAR.sub(sub, str(text))


class _Checker:
    """Typed access to a recipe mapping, with errors naming the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, msg: str) -> RecipeError:
        return RecipeError(f'{self.path}: {key}: {msg}')

    def keys(self, data: Any, allowed: set, where: str) -> dict:
        if not isinstance(data, dict):
            raise self.fail(where or 'recipe', f'expected a mapping, got {type(data).__name__}')
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            prefix = f'{where}.' if where else ''
            raise self.fail(prefix + unknown[0], f'unknown key; allowed: '
                            f'{", ".join(sorted(allowed))}')
        return data

    def number(self, value: Any, key: str, positive: bool = True,
               allow_zero: bool = False) -> float:
        if isinstance(value, bool):
            raise self.fail(key, f'expected a number, got {value!r}')
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise self.fail(key, f'expected a number, got {value!r}') from None
        if not math.isfinite(out):
            raise self.fail(key, f'must be finite, got {value!r}')
        if positive and not (out > 0 or (allow_zero and out == 0)):
            raise self.fail(key, f'must be {">= 0" if allow_zero else "> 0"}, got {value!r}')
        return out

    def integer(self, value: Any, key: str, allow_zero: bool = False) -> int:
        out = self.number(value, key, allow_zero=allow_zero)
        if out != int(out):
            raise self.fail(key, f'expected a whole number, got {value!r}')
        return int(out)

    def text(self, value: Any, key: str, required: bool = False) -> str:
        if value is None and not required:
            return ''
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) \
                or (required and not str(value).strip()):
            raise self.fail(key, f'expected a non-empty string, got {value!r}')
        return str(value)


def load_recipe(path: str | Path, check_variant: bool = True) -> Recipe:
    """Load and validate a recipe YAML file.

    Args:
        path: the recipe file; a bare name (``xtrack_rgbt``) is looked up in ``config/train``.
        check_variant: check that ``variant`` is registered (imports the model registry).

    Returns:
        The :class:`Recipe` (roots unexpanded: see :meth:`Recipe.build_source`).

    Raises:
        RecipeError: missing file, invalid YAML, an unknown / missing key, a wrong type, a
            ratio or size <= 0, an unknown dataset name or schedule kind, an unknown variant;
            each message names the file and the key.
    """
    path = Path(path)
    if not path.is_file() and path.suffix == '' and (recipe_dir() / f'{path}.yaml').is_file():
        path = recipe_dir() / f'{path}.yaml'
    if not path.is_file():
        raise RecipeError(f'recipe file {path} does not exist (shipped recipes: '
                          f'{", ".join(p.stem for p in recipe_files())})')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as err:
        raise RecipeError(f'{path}: not valid YAML ({err})') from None
    c = _Checker(path)
    data = c.keys(data, _TOP_KEYS, '')
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise c.fail(missing[0], 'required key is missing')

    datasets = data['datasets']
    if not isinstance(datasets, list) or not datasets:
        raise c.fail('datasets', 'expected a non-empty list of {name, root, ratio, ...}')
    specs = []
    for k, entry in enumerate(datasets):
        where = f'datasets[{k}]'
        entry = c.keys(entry, _DATASET_KEYS, where)
        for key in ('name', 'root'):
            if key not in entry:
                raise c.fail(f'{where}.{key}', 'required key is missing')
        name = c.text(entry['name'], f'{where}.name', required=True).strip().lower()
        if name not in DATASETS:
            raise c.fail(f'{where}.name', f'unknown dataset {entry["name"]!r}; known: '
                         f'{", ".join(sorted(DATASETS))}')
        split = entry.get('split', 'default')
        if split is not None:
            split = c.text(split, f'{where}.split', required=True)
        specs.append(DatasetSpec(
            name=name, root=c.text(entry['root'], f'{where}.root', required=True),
            ratio=c.number(entry.get('ratio', 1.0), f'{where}.ratio'), split=split,
            split_file=(None if entry.get('split_file') is None
                        else c.text(entry['split_file'], f'{where}.split_file', True)),
            max_gap=(None if entry.get('max_gap') is None
                     else c.integer(entry['max_gap'], f'{where}.max_gap', allow_zero=True))))

    opt = c.keys(data['optimizer'], _OPTIMIZER_KEYS, 'optimizer')
    if 'lr' not in opt:
        raise c.fail('optimizer.lr', 'required key is missing')

    def opt_number(key: str, allow_zero: bool = True) -> Optional[float]:
        value = opt.get(key)
        return None if value is None else c.number(value, f'optimizer.{key}',
                                                   allow_zero=allow_zero)

    sched = c.keys(data.get('schedule') or {'kind': 'cosine'}, _SCHEDULE_KEYS, 'schedule')
    kind = str(sched.get('kind', 'cosine')).strip().lower()
    if kind not in _KINDS:
        raise c.fail('schedule.kind', f'unknown schedule {sched.get("kind")!r}; known: '
                     f'{", ".join(_KINDS)}')
    decay = sched.get('decay_epoch')
    if kind == 'step':
        if decay is None:
            raise c.fail('schedule.decay_epoch', "required for kind 'step'")
        decay_list = decay if isinstance(decay, list) else [decay]
        decay_epochs = tuple(sorted(c.number(e, 'schedule.decay_epoch') for e in decay_list))
    elif decay is not None:
        raise c.fail('schedule.decay_epoch', f"only used by kind 'step', not {kind!r}")
    else:
        decay_epochs = ()
    min_lr_ratio = sched.get('min_lr_ratio')
    if min_lr_ratio is not None:
        if kind != 'cosine':
            raise c.fail('schedule.min_lr_ratio', f"only used by kind 'cosine', not {kind!r}")
        min_lr_ratio = c.number(min_lr_ratio, 'schedule.min_lr_ratio', allow_zero=True)
        if min_lr_ratio > 1:
            raise c.fail('schedule.min_lr_ratio', f'must be <= 1, got {min_lr_ratio}')

    sampling = c.keys(data.get('sampling') or {}, _SAMPLING_KEYS, 'sampling')
    freeze = data.get('freeze_backbone')
    if freeze is not None and not isinstance(freeze, bool):
        raise c.fail('freeze_backbone', f'expected true or false, got {freeze!r}')

    recipe = Recipe(
        name=c.text(data['name'], 'name', required=True),
        variant=c.text(data['variant'], 'variant', required=True).strip(),
        datasets=specs,
        epochs=c.integer(data['epochs'], 'epochs'),
        samples_per_epoch=c.integer(data['samples_per_epoch'], 'samples_per_epoch'),
        batch_size=c.integer(data['batch_size'], 'batch_size'),
        lr=c.number(opt['lr'], 'optimizer.lr'),
        paper=c.text(data.get('paper'), 'paper'),
        notes=c.text(data.get('notes'), 'notes'),
        init=c.text(data.get('init'), 'init').strip(),
        trainable=c.text(data.get('trainable'), 'trainable').strip(),
        freeze_backbone=freeze,
        backbone_lr_scale=opt_number('backbone_lr_scale', allow_zero=False),
        weight_decay=opt_number('weight_decay'),
        grad_clip=opt_number('grad_clip', allow_zero=False),
        schedule=kind,
        warmup=(0 if sched.get('warmup') is None
                else c.integer(sched['warmup'], 'schedule.warmup', allow_zero=True)),
        decay_epochs=decay_epochs,
        gamma=(0.1 if sched.get('gamma') is None
               else c.number(sched['gamma'], 'schedule.gamma')),
        min_lr_ratio=min_lr_ratio,
        max_gap=(200 if sampling.get('max_gap') is None
                 else c.integer(sampling['max_gap'], 'sampling.max_gap', allow_zero=True)),
        center_jitter=(None if sampling.get('center_jitter') is None else
                       c.number(sampling['center_jitter'], 'sampling.center_jitter', True,
                                allow_zero=True)),
        scale_jitter=(None if sampling.get('scale_jitter') is None else
                      c.number(sampling['scale_jitter'], 'sampling.scale_jitter', True,
                               allow_zero=True)),
        path=path)
    if recipe.warmup >= recipe.iterations:
        raise c.fail('schedule.warmup', f'{recipe.warmup} warm-up steps >= the '
                     f'{recipe.iterations} steps of the run')
    if check_variant:
        from ..models import registry
        import rgbx_tracker_ros.models  # noqa: F401  (registers the families and variants)
        if recipe.variant not in registry.list_variants():
            raise c.fail('variant', f'unknown model variant {recipe.variant!r}; known: '
                         f'{", ".join(registry.list_variants())}')
    return recipe


def recipe_files(folder: str | Path | None = None) -> List[Path]:
    """The shipped recipe files (``config/train/*.yaml``), sorted."""
    return sorted(Path(folder or recipe_dir()).glob('*.yaml'))


# --------------------------------------------------------------------------- CLI hook

def apply_recipe(cfg: Mapping[str, Any], recipe: Recipe,
                 explicit: Iterable[str] = ()) -> Dict[str, Any]:
    """Merge a recipe into ``TrainConfig`` values: recipe values replace ``cfg``'s, except
    the keys in ``explicit`` (flags the user typed: they win). ``extra`` is merged, not
    replaced.

    Args:
        cfg: ``TrainConfig`` field values (e.g. ``dataclasses.asdict(cfg)`` or ``vars(args)``).
        recipe: from :func:`load_recipe`.
        explicit: names of fields set on the command line (:func:`explicit_flags`).

    Returns:
        A new dict (``cfg`` is not modified).
    """
    keep = set(explicit)
    out = dict(cfg)
    for key, value in recipe.to_train_overrides().items():
        if key in keep:
            continue
        if key == 'extra':
            out['extra'] = {**dict(out.get('extra') or {}), **value}
        else:
            out[key] = value
    return out


_UNSET = object()


def explicit_flags(parser, argv: Optional[List[str]] = None) -> set:
    """``dest`` names of the options that ``argv`` sets explicitly (argparse's defaults
    excluded), so that typed flags can override a recipe: parses ``argv`` once more with every
    destination pre-set to a sentinel, which argparse then leaves alone unless the flag is
    given.

    Args:
        parser: the ``argparse.ArgumentParser`` of the command.
        argv: the arguments (default ``sys.argv[1:]``).
    """
    import argparse
    ns = argparse.Namespace(**{a.dest: _UNSET for a in parser._actions
                               if a.dest is not argparse.SUPPRESS})
    parsed, _ = parser.parse_known_args(argv, namespace=ns)
    return {k for k, v in vars(parsed).items() if v is not _UNSET}
