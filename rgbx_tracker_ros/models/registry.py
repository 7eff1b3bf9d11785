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

"""Model families and variants: two small registries (the timm pattern, trimmed).

A **family** is one tracker design (OneTrackerV2, XTrack, SEATrack, PATrack, ViPT, MMMP): a
sub-package of :mod:`rgbx_tracker_ros.models` that registers one :class:`Family` (its
trainable-parameter rule, auxiliary loss weights, the release layout it loads) and any number of
**variants**: small functions that only fill constructor arguments, registered with
:func:`register_variant` under the family and the base network they build on. Callers build
models with :func:`create_model` and never import a model class directly.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Callable, Dict, List, Optional, Tuple

import torch

__all__ = ['Family', 'VariantInfo', 'create_model', 'family_of', 'get_family', 'list_families',
           'list_variants', 'register_family', 'register_variant', 'trainable_names',
           'variant_args', 'variant_info']


@dataclasses.dataclass(frozen=True)
class Family:
    """One tracker design and how to train and load it.

    Attributes:
        name: short name ('onetracker', 'xtrack', ...), the sub-package name.
        title: paper / method name for tables.
        trainable: substrings of parameter names that train in the parameter-efficient recipe
            (XTrack: ``('MeME',)``; SEATrack: ``('moe', 'scaling', 'lora')``); everything else is
            frozen. Empty = the family has no such rule (all parameters, or the trainer's
            ``--freeze-backbone`` rule, train).
        aux_weights: loss weight of each auxiliary term the family's models return in
            ``TrackerOutput.aux`` (the trainer multiplies and sums them; a term without a weight
            is an error).
        fix_bn: keep BatchNorm layers whose parameters are frozen in eval mode while training
            (the OSTrack-family ``FIX_BN`` setting: the frozen head's running statistics stay).
        release_format: the checkpoint layout of the authors' release, for ``rgbx-models``.
        convert_release: maps the state dict of an authors' release (the ``'net'`` dict) to our
            state-dict names: ``convert_release(state, model) -> state``. None = the names match.
    """

    name: str
    title: str
    trainable: Tuple[str, ...] = ()
    aux_weights: Dict[str, float] = dataclasses.field(default_factory=dict)
    fix_bn: bool = True
    release_format: str = ''
    convert_release: Optional[Callable[[Dict[str, torch.Tensor], torch.nn.Module],
                                       Dict[str, torch.Tensor]]] = None


@dataclasses.dataclass(frozen=True)
class VariantInfo:
    """Registry entry of a variant: its family, the base network and a one-line description."""

    name: str
    family: str
    base: str
    description: str


_FAMILIES: Dict[str, Family] = {}
_VARIANTS: Dict[str, Callable] = {}
_INFO: Dict[str, VariantInfo] = {}


def register_family(family: Family) -> Family:
    """Register ``family`` (once per sub-package).

    Raises:
        ValueError: if a family of that name is already registered.
    """
    if family.name in _FAMILIES:
        raise ValueError(f'model family {family.name!r} is registered twice')
    _FAMILIES[family.name] = family
    return family


def register_variant(fn: Optional[Callable] = None, *, family: str = 'onetracker',
                     base: str = '') -> Callable:
    """Register ``fn`` under its ``__name__`` as a variant of ``family`` built on ``base``.

    Used bare (``@register_variant``) or with arguments
    (``@register_variant(family='xtrack', base='OSTrack ViT-B/16 @256')``).

    Raises:
        ValueError: if a variant of that name is already registered.
    """
    def wrap(f: Callable) -> Callable:
        name = f.__name__
        if name in _VARIANTS:
            raise ValueError(f'model variant {name!r} is registered twice')
        _VARIANTS[name] = f
        doc = (f.__doc__ or '').strip().splitlines()
        _INFO[name] = VariantInfo(name, family, base, ' '.join(doc[:1]))
        return f
    return wrap(fn) if fn is not None else wrap


def list_variants(pattern: str = '*', family: Optional[str] = None) -> List[str]:
    """Sorted names of the registered variants matching the shell-style ``pattern`` (and of
    ``family`` when given)."""
    return sorted(n for n in _VARIANTS if fnmatch.fnmatchcase(n, pattern)
                  and (family is None or _INFO[n].family == family))


def list_families() -> List[str]:
    """Names of the registered families, in registration order."""
    return list(_FAMILIES)


def get_family(name: str) -> Family:
    """The :class:`Family` called ``name``.

    Raises:
        KeyError: unknown family; the message lists the known ones.
    """
    if name not in _FAMILIES:
        raise KeyError(f'unknown model family {name!r}; known: {", ".join(_FAMILIES)}')
    return _FAMILIES[name]


def variant_info(name: str) -> VariantInfo:
    """Family, base and description of variant ``name``.

    Raises:
        KeyError: if ``name`` is not registered.
    """
    _lookup(name)
    return _INFO[name]


def family_of(name: str) -> Family:
    """The :class:`Family` of variant ``name``.

    Raises:
        KeyError: unknown variant.
    """
    return get_family(variant_info(name).family)


def variant_args(name: str) -> dict:
    """Constructor arguments of variant ``name`` (a copy).

    Raises:
        KeyError: if ``name`` is not registered; the message lists the known variants.
    """
    return dict(_lookup(name)(build=False))


def create_model(name: str, **overrides):
    """Build variant ``name`` with its default arguments updated by ``overrides``.

    ``None`` overrides are dropped so the variant's defaults apply. The model is returned in train
    mode with freshly initialised weights; load weights with
    :mod:`rgbx_tracker_ros.models.checkpoint`. Its ``variant`` and ``family`` attributes name the
    entry it was built from.

    Raises:
        KeyError: if ``name`` is not a registered variant.
        TypeError: if an override is not a constructor argument of the model.
    """
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    model = _lookup(name)(build=True, **kwargs)
    model.variant = name
    model.family = _INFO[name].family
    return model


def trainable_names(model: torch.nn.Module, family: Family) -> List[str]:
    """Parameter names of ``model`` that the family's rule trains (substring match, as the
    authors' ``requires_grad`` loops do); all names when the family has no rule."""
    names = [n for n, _ in model.named_parameters()]
    if not family.trainable:
        return names
    return [n for n in names if any(s in n for s in family.trainable)]


def _lookup(name: str) -> Callable:
    if name not in _VARIANTS:
        raise KeyError(f'unknown model variant {name!r}; known: {", ".join(list_variants())}')
    return _VARIANTS[name]
