"""OneTrackerV2 family (ICML 2026, seeds/onetrackerv2): Meta Merger + Dual MoE, one stream.

One shared patch embedding, the Meta Merger fusing RGB and X into one token set, ViT blocks whose
FFN is the Dual MoE (shared expert + top-k T-MoE + top-k M-MoE), the OSTrack center head.
Auxiliary losses: cos^2 dissimilarity of the two MoEs ('dis'), the load balance ('balance') and
the per-block multimodal router-cluster loss ('cluster'), weights from the seed summary.
"""

from ..registry import Family, register_family
from . import model  # noqa: F401  (registers the variants)
from .model import Backbone, RgbxViT

FAMILY = register_family(Family(
    name='onetracker', title='OneTrackerV2 (Meta Merger + Dual MoE)', trainable=(),
    aux_weights={'dis': 0.1, 'cluster': 1.0, 'balance': 0.01}, fix_bn=False,
    release_format="OSTrack-family 'net' (ViT and head); timm ViT"))

__all__ = ['Backbone', 'FAMILY', 'RgbxViT']
