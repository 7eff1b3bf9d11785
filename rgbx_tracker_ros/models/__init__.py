"""Torch models of rgbx_tracker_ros: registry, Meta Merger, Dual MoE, center head, RgbxViT.

Importing this package registers every variant; build them with :func:`create_model`.
"""

from . import rgbx_vit  # noqa: F401  (registers the variants)
from .registry import create_model, list_variants, variant_args

__all__ = ['create_model', 'list_variants', 'variant_args']
