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

"""Model registry, every variant's forward pass at small size, Meta Merger and Dual MoE."""

import pytest
import torch

from rgbx_tracker_ros.models import create_model, list_variants, variant_args
from rgbx_tracker_ros.models.onetracker.meta_merger import MetaMerger
from rgbx_tracker_ros.models.onetracker.moe import DualMoE, top_k_gates

PAPER_AND_CPU = ['b224', 'b384', 'l224', 'l384', 's224', 't224']


def test_registry_lists_the_paper_and_cpu_variants():
    assert set(PAPER_AND_CPU) <= set(list_variants())
    assert list_variants('test_*', family='onetracker') == ['test_s14', 'test_tiny']
    assert {'s14_224', 's14_224_d8'} <= set(list_variants('s14_*'))
    with pytest.raises(KeyError, match='known: b224'):
        create_model('b999')


@pytest.mark.parametrize('name', PAPER_AND_CPU)
def test_variant_widths_and_forward_at_small_size(name):
    args = variant_args(name)
    # Full width and heads of the variant, but one block and small crops to keep the test cheap.
    model = create_model(name, depth=1, template_size=32, search_size=64).eval()
    assert model.backbone.blocks[0].attn.num_heads == args['num_heads']
    assert model.backbone.pos_embed_x.shape[-1] == args['embed_dim']
    z, x = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        out = model(z, x, z, x)
        out_rgb = model(z, x)
    assert out.score_map.shape == (1, 1, 4, 4)
    assert out.size_map.shape == (1, 2, 4, 4) and out.offset_map.shape == (1, 2, 4, 4)
    assert out_rgb.score_map.shape == (1, 1, 4, 4)
    assert torch.isfinite(out.score_map).all() and torch.isfinite(out_rgb.score_map).all()


def test_paper_sizes_of_crops():
    assert variant_args('b384')['search_size'] == 384
    assert variant_args('b384')['template_size'] == 192
    assert variant_args('t224')['search_size'] == 224


def test_test_variant_forward_backward_and_aux_losses():
    model = create_model('test_tiny').train()
    z, x = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128)
    out = model(z, x, z, x, torch.ones(2), torch.tensor([1.0, 0.0]),
                modality=torch.tensor([1, 0]))
    assert set(out.aux) == {'dis', 'balance', 'cluster'}
    assert all(v.dim() == 0 for v in out.aux.values())
    assert set(model(z, x, z, x).aux) == {'dis', 'balance'}     # no labels: no cluster term
    loss = (out.score_map.mean() + out.size_map.mean() + out.offset_map.mean()
            + out.aux['dis'] + out.aux['balance'] + out.aux['cluster'])
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []


def test_missing_x_path_equals_masked_x():
    """x=None and an X whose mask is 0 must give the same output: one merger, one RGB-only path."""
    torch.manual_seed(0)
    model = create_model('test_tiny').eval()
    for p in model.backbone.merger.conv_out.parameters():   # make the merger non-trivial
        torch.nn.init.normal_(p, std=0.1)
    z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    zx, xx = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        none = model(z, x)
        masked = model(z, x, zx, xx, torch.zeros(1), torch.zeros(1))
        with_x = model(z, x, zx, xx)
    torch.testing.assert_close(none.score_map, masked.score_map)
    assert not torch.allclose(none.score_map, with_x.score_map)


def test_meta_merger_rgb_only_path_does_not_depend_on_x():
    merger = MetaMerger(16)
    torch.nn.init.normal_(merger.conv_out.weight, std=0.1)
    rgb = torch.rand(2, 16, 5, 5)
    out_a = merger(rgb, torch.rand(2, 16, 5, 5), torch.tensor([0.0, 1.0]))
    out_b = merger(rgb, torch.rand(2, 16, 5, 5), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(out_a[0], out_b[0])          # sample 0 has no X
    assert not torch.allclose(out_a[1], out_b[1])            # sample 1 uses its X


def test_top_k_gates_are_sparse_and_normalised():
    probs, gates = top_k_gates(torch.tensor([[[0.0, 1.0, 2.0, 3.0]]]), 2)
    assert torch.allclose(probs.sum(-1), torch.ones(1, 1))
    assert (gates[0, 0, :2] == 0).all()
    assert torch.allclose(gates.sum(-1), torch.ones(1, 1))
    assert gates[0, 0, 3] > gates[0, 0, 2]


def test_dual_moe_keeps_vit_ffn_names_and_adds_experts():
    moe = DualMoE(32, 64, num_t_experts=3, num_m_experts=2, top_k=1, expert_rank=4)
    names = dict(moe.named_parameters())
    assert {'fc1.weight', 'fc2.weight', 't_router.weight', 'm_router.weight'} <= set(names)
    x = torch.rand(2, 7, 32)
    moe.eval()
    # Fresh experts start with a zero up projection: the layer equals its shared ViT FFN.
    torch.testing.assert_close(moe(x), moe.fc2(moe.drop2(moe.norm(moe.act(moe.fc1(x))))))
    with pytest.raises(ValueError, match='top_k'):
        DualMoE(32, 64, num_t_experts=2, num_m_experts=2, top_k=3)
