"""Torch models of rgbx_tracker_ros: registry, Meta Merger, Dual MoE, center head, RgbxViT.

Importing this package registers every variant; build them with :func:`create_model`.
"""

from . import rgbx_vit  # noqa: F401  (registers the variants)
from .registry import create_model, list_variants, variant_args
from ..core import rig as _rig

# rig files name variants: let the (model-free) rig loader check them against this registry
_rig.set_variant_catalogue(list_variants)

__all__ = ['create_model', 'list_variants', 'variant_args']
