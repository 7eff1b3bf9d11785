"""Layers every model family shares: the ViT (patch embedding, position tables, timm blocks with
OSTrack's state-dict names), the center head, and the two-stream skeleton of the dual-stream
parameter-efficient families (XTrack, SEATrack, PATrack, the MMMP teacher)."""

from .center_head import CenterHead, TokenCenterHead
from .net import TrackerNet
from .vit import ViTBase, init_vit_weights, make_blocks, map_to_tokens, tokens_to_map

__all__ = ['CenterHead', 'TokenCenterHead', 'TrackerNet', 'ViTBase', 'init_vit_weights',
           'make_blocks', 'map_to_tokens', 'tokens_to_map']
