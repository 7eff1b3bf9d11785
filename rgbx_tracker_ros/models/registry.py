"""Model variant registry: a decorator and a dict (the timm pattern, trimmed).

Variants are small functions that only fill constructor arguments; callers build models with
:func:`create_model` and never import a model class directly.
"""

from __future__ import annotations

import fnmatch
from typing import Callable, Dict, List

_VARIANTS: Dict[str, Callable] = {}


def register_variant(fn: Callable) -> Callable:
    """Register ``fn`` under its ``__name__`` as a model variant.

    Raises:
        ValueError: if a variant of that name is already registered.
    """
    name = fn.__name__
    if name in _VARIANTS:
        raise ValueError(f'model variant {name!r} is registered twice')
    _VARIANTS[name] = fn
    return fn


def list_variants(pattern: str = '*') -> List[str]:
    """Sorted names of the registered variants matching the shell-style ``pattern``."""
    return sorted(n for n in _VARIANTS if fnmatch.fnmatchcase(n, pattern))


def variant_args(name: str) -> dict:
    """Constructor arguments of variant ``name`` (a copy).

    Raises:
        KeyError: if ``name`` is not registered; the message lists the known variants.
    """
    return dict(_lookup(name)(build=False))


def create_model(name: str, **overrides):
    """Build variant ``name`` with its default arguments updated by ``overrides``.

    ``None`` overrides are dropped so the variant's defaults apply. The model is returned in train
    mode with freshly initialised weights; load weights with :mod:`rgbx_tracker_ros.models.checkpoint`.

    Raises:
        KeyError: if ``name`` is not a registered variant.
        TypeError: if an override is not a constructor argument of the model.
    """
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    return _lookup(name)(build=True, **kwargs)


def _lookup(name: str) -> Callable:
    if name not in _VARIANTS:
        raise KeyError(f'unknown model variant {name!r}; known: {", ".join(list_variants())}')
    return _VARIANTS[name]
