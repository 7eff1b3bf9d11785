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

"""Token-budget options (speed for accuracy without new weights): OSTrack candidate elimination
keeps the search tokens the template centre attends to most (checked against timm's own attention
map), changes nothing at keep ratio 1, compounds its ratios and restores dropped tokens as zeros;
fewer blocks and a smaller search crop load from a full checkpoint; options parse from the
command line and export to ONNX."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rgbx_tracker_ros.models.checkpoint import load_checkpoint, save_checkpoint
from rgbx_tracker_ros.models.factory import parse_model_options
from rgbx_tracker_ros.models.layers.ce import ce_block, restore_tokens, template_center_index
from rgbx_tracker_ros.models.registry import create_model


def _perturbed(variant: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    model = create_model(variant, **overrides).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _inputs(model, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    t, s = model.template_size, model.search_size
    return (torch.randn(1, 3, t, t, generator=g), torch.randn(1, 3, s, s, generator=g))


def test_center_index_follows_ostrack_ctr_point() -> None:
    assert [template_center_index(g) for g in (8, 12, 7, 14)] == [3 * 8 + 3, 5 * 12 + 5,
                                                                  3 * 7 + 3, 6 * 14 + 6]


@pytest.mark.parametrize('variant', ['test_tiny', 'test_s14'])
def test_keeping_every_token_changes_nothing(variant) -> None:
    base = _perturbed(variant)
    ce = create_model(variant, ce_loc=(0, 1), ce_keep_ratio=0.99999).eval()
    ce.load_state_dict(base.state_dict())
    z, s = _inputs(base)
    with torch.no_grad():
        a, b = base(z, s, z, s), ce(z, s, z, s)
    assert torch.allclose(a.score_map, b.score_map, atol=1e-6)
    assert torch.allclose(a.size_map, b.size_map, atol=1e-6)


def test_ce_keeps_the_tokens_the_template_centre_attends_to() -> None:
    model = _perturbed('test_s14', seed=3)
    backbone = model.backbone
    z, s = _inputs(model, seed=4)
    with torch.no_grad():
        tokens = backbone.input_tokens(z, s, z, s)
    nz = backbone.grid_z ** 2
    nx = tokens.shape[1] - nz
    block = backbone.blocks[0]
    # the oracle: timm's own (unfused) attention probabilities, captured at its dropout
    seen = {}
    block.attn.fused_attn = False
    handle = block.attn.attn_drop.register_forward_hook(
        lambda mod, inp, out: seen.setdefault('attn', out.detach()))
    with torch.no_grad():
        full = block(tokens)
    handle.remove()
    block.attn.fused_attn = True
    centre = template_center_index(backbone.grid_z)
    score = seen['attn'][0, :, centre, nz:].mean(0)
    keep = math.ceil(0.7 * nx)
    expected = set(score.argsort(descending=True)[:keep].tolist())
    index = torch.arange(nx).expand(1, -1)
    with torch.no_grad():
        out, kept = ce_block(block, tokens, index, nz, centre, 0.7)
    assert set(kept[0].tolist()) == expected and out.shape[1] == nz + keep
    # the kept tokens went through the same attention as without CE; only the FFN input
    # lost tokens, and the FFN works per token: kept tokens equal the full block's output
    rows = torch.cat([torch.arange(nz), nz + kept[0]])
    assert torch.allclose(out[0], full[0, rows], atol=1e-5)
    # compounding, and zeros back at the dropped positions after the norm
    with torch.no_grad():
        out2, kept2 = ce_block(backbone.blocks[1], out, kept, nz, centre, 0.7)
        restored = restore_tokens(out2, kept2, nz, nx)
    assert kept2.shape[1] == math.ceil(0.7 * keep)
    assert restored.shape == tokens.shape
    nonzero = restored[0, nz:].abs().sum(-1) > 0
    assert set(torch.nonzero(nonzero).flatten().tolist()) == set(kept2[0].tolist())


def test_ce_changes_the_maps_but_not_their_shape_and_exports(tmp_path) -> None:
    from rgbx_tracker_ros.export.engines import open_engine
    from rgbx_tracker_ros.export.graphs import export
    base = _perturbed('test_tiny', seed=5)
    ce = create_model('test_tiny', ce_loc=(0, 1), ce_keep_ratio=0.5).eval()
    ce.load_state_dict(base.state_dict())
    z, s = _inputs(base, seed=6)
    with torch.no_grad():
        a, b = base(z, s, z, s), ce(z, s, z, s)
    assert a.score_map.shape == b.score_map.shape
    assert float((a.score_map - b.score_map).abs().max()) > 1e-3
    engine = open_engine(export(ce, 'onnx', tmp_path, 'ce').manifest, 'onnxruntime')
    with torch.no_grad():
        tokens = ce.encode_template(z, z)
        ref = ce(None, s, None, s, template_tokens=tokens)
    out = engine(None, s, None, s, template_tokens=engine.encode_template(z, z))
    assert float((ref.score_map - out.score_map).abs().max()) < 1e-4


def test_ce_settings_are_validated() -> None:
    with pytest.raises(ValueError, match='ce_keep_ratio'):
        create_model('test_tiny', ce_loc=(0,), ce_keep_ratio=0.0)
    with pytest.raises(ValueError, match=r'ce_loc \[5\]: blocks \[5\] are outside 0..1'):
        create_model('test_tiny', ce_loc=(5,), ce_keep_ratio=0.7)
    model = create_model('test_tiny', ce_loc=(0,), ce_keep_ratio=0.7)
    model.keep_features = True
    z, s = _inputs(model)
    with pytest.raises(ValueError, match='feature distillation'):
        model(z, s, z, s)


def test_fewer_blocks_and_a_smaller_search_crop_load_from_a_full_checkpoint(tmp_path) -> None:
    full = _perturbed('test_s14', seed=7)
    path = save_checkpoint(tmp_path / 'full.pt', full, 'test_s14')
    cut, report = load_checkpoint(path, depth=1)
    assert len(cut.backbone.blocks) == 1 and not report.unexpected
    assert report.ignored and all(k.startswith('backbone.blocks.1.') for k in report.ignored)
    z, s = _inputs(full, seed=8)
    with torch.no_grad():
        tokens = full.backbone.input_tokens(z, s, z, s)
        want = full.head(full.backbone.norm(full.backbone.blocks[0](tokens)))
        got = cut(z, s, z, s)
    assert torch.allclose(want.score_map, got.score_map, atol=1e-6)
    small, report = load_checkpoint(path, search_size=full.search_size - 2 * 14)
    assert small.feat_size == full.feat_size - 2 and not report.unexpected
    with torch.no_grad():
        z2, s2 = _inputs(small)
        assert small(z2, s2, z2, s2).score_map.shape[-1] == small.feat_size


def test_model_options_parse_and_name_bad_keys() -> None:
    assert parse_model_options(['ce_loc=3,6', 'ce_keep_ratio=0.7', 'search_size=168',
                                'missing_x=rgb'], 's14_224_d8') == {
        'ce_loc': (3, 6), 'ce_keep_ratio': 0.7, 'search_size': 168, 'missing_x': 'rgb'}
    with pytest.raises(ValueError, match='not options of variant .s14_224_d8.*ce_keep_ratio'):
        parse_model_options(['ce_ratio=0.7'], 's14_224_d8')
    with pytest.raises(ValueError, match='KEY=VALUE'):
        parse_model_options(['ce_keep_ratio'])
    assert np.isclose(parse_model_options(['ce_keep_ratio=.5'])['ce_keep_ratio'], 0.5)
