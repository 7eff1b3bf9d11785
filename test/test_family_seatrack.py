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

"""SEATrack family (trackers.md 3.4): release names and shapes, trainable count, AMG-LoRA
mutual guidance, HMoE, LoRA merging and the zero-adapter equivalence.

The release's key names and shapes are written out here from trackers.md 1.5 / 1.9 / 3.4 and the
loralib ``MergedLinear`` layout (never read back from our modules' ``state_dict()``).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from rgbx_tracker_ros.models import create_model, get_family, list_variants
from rgbx_tracker_ros.models.checkpoint import load_checkpoint, save_checkpoint
from rgbx_tracker_ros.models.layers.two_stream import TwoStreamTracker
from rgbx_tracker_ros.models.registry import trainable_names, variant_args
from rgbx_tracker_ros.models.seatrack import (HMoE, LoRAQKV, SEATrackBlock, default_blocks,
                                              mutual_guidance)

from release_keys import LEFTOVERS, load_release, ostrack_shapes, random_state

RELEASE_BLOCKS = (1, 3, 5, 7, 9, 11)
#: a reduced-width/depth copy of seatrack_b256 (same names, shapes scale with these numbers)
SMALL = dict(embed_dim=64, depth=4, num_heads=2, head_channels=32, template_size=64,
             search_size=128)


def release_shapes(depth=12, dim=768, grid_z=8, grid_x=16, head=256, patch=16,
                   blocks=RELEASE_BLOCKS, rank=8, hidden=4, slots=2):
    """Key -> shape of a SEATrack release ``'net'`` dict (OSTrack ViT-B/16 256 + the adapters).

    OSTrack (trackers.md 1.9, 1.5; ``release_keys.ostrack_shapes``): patch_embed.proj conv, the
    MAE leftovers ``cls_token`` (1, 1, D) and ``pos_embed`` (1, 197, D), ``pos_embed_z``
    (1, Nz, D) / ``pos_embed_x`` (1, Nx, D), timm block names (qkv 3D x D, proj D x D, fc1 4D x D,
    fc2 D x 4D), final norm, center head with channels D -> c -> c/2 -> c/4 -> c/8 and 1x1 convs
    to 1 / 2 / 2.

    SEATrack (trackers.md 3.4), at each adapted block:
    - ``attn.qkv`` is loralib ``MergedLinear(D, 3D, r=8, enable_lora=[False, True, True])``:
      lora_A = (r * sum(enable_lora), in) = (2r, D)           -> (16, 768) for ViT-B
      lora_B = (out // len(enable_lora) * sum(enable_lora), r) -> (3D/3 * 2, r) = (1536, 8)
    - ``r2dte_scaling`` / ``dte2r_scaling``: one scalar each, shape (1,);
    - ``attn_moe`` (E=4) and ``ffn_moe`` (E=8), slot width d = D / 2 (384), hidden h = 4:
      norm (D,), gate_thi (d, E*S), linear1 / linear2 = D -> h -> D low-rank projections
      (lora_a (D, h), lora_b (h, D), bias_a (h,), bias_b (D,)), experts = E stacked d -> h -> d
      low-rank MLPs (lora_a (E, d, h), lora_b (E, h, d), bias_a (E, h), bias_b (E, d)),
      temperatures D_temp / C_temp (1,).
    """
    s = ostrack_shapes(dim, depth, grid_z ** 2, grid_x ** 2, head=head, patch=patch)
    d = dim // slots
    for i in range(depth):
        if i not in blocks:
            continue
        p = f'backbone.blocks.{i}.'
        s[p + 'attn.qkv.lora_A'] = (rank * 2, dim)
        s[p + 'attn.qkv.lora_B'] = (3 * dim // 3 * 2, rank)
        s[p + 'r2dte_scaling'] = (1,)
        s[p + 'dte2r_scaling'] = (1,)
        for name, e in (('attn_moe', 4), ('ffn_moe', 8)):
            q = f'{p}{name}.'
            s.update({q + 'norm.weight': (dim,), q + 'norm.bias': (dim,),
                      q + 'gate_thi': (d, e * slots), q + 'D_temp': (1,), q + 'C_temp': (1,),
                      q + 'experts.lora_a': (e, d, hidden), q + 'experts.lora_b': (e, hidden, d),
                      q + 'experts.bias_a': (e, hidden), q + 'experts.bias_b': (e, d)})
            for lin in ('linear1', 'linear2'):
                s.update({f'{q}{lin}.lora_a': (dim, hidden), f'{q}{lin}.lora_b': (hidden, dim),
                          f'{q}{lin}.bias_a': (hidden,), f'{q}{lin}.bias_b': (dim,)})
    return s


def synth_release(shapes, seed=0):
    """Random tensors of those shapes (positive BN variances / temperatures)."""
    return random_state(shapes, seed, positive=('running_var', 'D_temp', 'C_temp'))


def loralib_delta(lora_a, lora_b, out_features):
    """The release's merge: grouped conv1d of lora_A (1, 2r, in) with lora_B (2 out/3, r, 1),
    groups=2, zero-padded on the Q rows (enable_lora [False, True, True])."""
    delta = F.conv1d(lora_a.unsqueeze(0), lora_b.unsqueeze(-1), groups=2).squeeze(0)
    full = torch.zeros(out_features, lora_a.shape[1])
    full[out_features // 3:] = delta
    return full


def crops(b=2, t=64, s=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, n, n, generator=g) for n in (t, s, t, s)]


def randomise_lora(model, std=0.1, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.lora_layers():
            layer.lora_B.copy_(std * torch.randn(layer.lora_B.shape, generator=g))


def test_family_and_variants_are_registered():
    fam = get_family('seatrack')
    assert fam.trainable == ('moe', 'scaling', 'lora')
    assert fam.aux_weights == {} and fam.fix_bn is True and fam.release_format
    assert list_variants(family='seatrack') == ['seatrack_b256', 'seatrack_s14', 'test_seatrack']
    assert variant_args('seatrack_b256')['fuse'] == 'sum'
    assert variant_args('seatrack_s14')['fuse'] == 'mean'
    assert default_blocks(12) == RELEASE_BLOCKS and default_blocks(8) == (1, 3, 5, 7)


def test_b256_state_dict_is_the_release_name_set_on_meta():
    with torch.device('meta'):
        model = create_model('seatrack_b256')
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ref = release_shapes()
    ref = {k: v for k, v in ref.items() if k not in LEFTOVERS}   # ignored by the loader
    assert set(ours) - set(ref) == set()
    assert set(ref) - set(ours) == set()
    assert {k: v for k, v in ours.items() if ref[k] != v} == {}
    assert ours['backbone.blocks.1.attn.qkv.lora_A'] == (16, 768)
    assert ours['backbone.blocks.1.attn.qkv.lora_B'] == (1536, 8)
    assert ours['backbone.blocks.11.ffn_moe.gate_thi'] == (384, 16)
    assert 'backbone.blocks.0.attn.qkv.lora_A' not in ours


def test_b256_trainable_count_matches_the_reference():
    with torch.device('meta'):
        model = create_model('seatrack_b256')
    params = dict(model.named_parameters())
    names = trainable_names(model, get_family('seatrack'))
    total = sum(params[n].numel() for n in names)
    # per adapted block: LoRA 16*768 + 1536*8 = 24576, scalars 2, attn_moe 32282, ffn_moe 49194
    assert total == 6 * (24576 + 2 + 32282 + 49194) == 636324
    assert abs(total - 0.636e6) / 0.636e6 < 0.05           # trackers.md: 0.636 M computed
    extras = {k for k in release_shapes() if any(
        s in k for s in ('lora_', 'scaling', '_moe.'))}
    assert set(names) == extras                           # the rule trains exactly the adapters


def test_s14_variant_shapes_and_count():
    with torch.device('meta'):
        model = create_model('seatrack_s14')
    assert model.lora_blocks == (1, 3, 5, 7) and model.moe_blocks == (1, 3, 5, 7)
    assert model.fuse == 'mean'
    sd = model.state_dict()
    assert tuple(sd['backbone.blocks.7.attn.qkv.lora_A'].shape) == (16, 384)
    assert tuple(sd['backbone.blocks.7.attn.qkv.lora_B'].shape) == (768, 8)
    assert tuple(sd['backbone.blocks.1.attn_moe.gate_thi'].shape) == (192, 8)   # slot 384/2
    assert tuple(sd['backbone.blocks.1.ffn_moe.experts.lora_a'].shape) == (8, 192, 4)
    params = dict(model.named_parameters())
    total = sum(params[n].numel() for n in trainable_names(model, get_family('seatrack')))
    assert total == 4 * (12288 + 2 + 16154 + 24618)


def test_block_sets_are_a_constructor_argument():
    model = create_model('test_seatrack', depth=3, lora_blocks=(0, 2), moe_blocks=(1,))
    keys = set(model.state_dict())
    assert 'backbone.blocks.0.attn.qkv.lora_A' in keys
    assert 'backbone.blocks.2.dte2r_scaling' in keys
    assert 'backbone.blocks.1.attn.qkv.lora_A' not in keys
    assert 'backbone.blocks.1.attn_moe.gate_thi' in keys
    assert not any(k.startswith('backbone.blocks.0.attn_moe') for k in keys)
    with pytest.raises(ValueError, match='do not exist'):
        create_model('test_seatrack', lora_blocks=(5,))
    with pytest.raises(ValueError, match='slots'):
        create_model('test_seatrack', slots=3)


def test_release_checkpoint_loads_with_nothing_missing_and_merges_once(tmp_path):
    shapes = release_shapes(depth=4, dim=64, grid_z=4, grid_x=8, head=32, blocks=(1, 3))
    state = synth_release(shapes)
    model, report = load_release(tmp_path / 'SEATrack_ep0060.pth.tar', state, 'seatrack_b256',
                                 epoch=60, **SMALL)
    assert report.missing == [] and report.unexpected == []
    assert sorted(report.ignored) == ['backbone.cls_token', 'backbone.pos_embed']
    assert report.resized == []
    assert not model.training
    for i in (1, 3):
        p = f'backbone.blocks.{i}.'
        qkv = model.backbone.blocks[i].attn.qkv
        assert isinstance(qkv, LoRAQKV) and qkv.merged
        # the stored weight stays the release's unmerged one; the merged one adds delta ONCE
        assert torch.equal(model.state_dict()[p + 'attn.qkv.weight'], state[p + 'attn.qkv.weight'])
        want = state[p + 'attn.qkv.weight'] + loralib_delta(
            state[p + 'attn.qkv.lora_A'], state[p + 'attn.qkv.lora_B'], 3 * 64)
        assert torch.allclose(qkv.merged_weight(), want, atol=1e-6)
        assert model.backbone.blocks[i].dte2r_scaling.item() == state[p + 'dte2r_scaling'].item()
    z, s, zx, sx = crops()
    with torch.no_grad():
        merged = model(z, s, zx, sx)
        model.merge_lora()                                  # again: nothing changes
        again = model(z, s, zx, sx)
        model.unmerge_lora()
        unmerged = model(z, s, zx, sx)
    assert torch.isfinite(merged.score_map).all() and merged.score_map.shape == (2, 1, 8, 8)
    assert torch.equal(merged.score_map, again.score_map)
    for a, b in ((merged.score_map, unmerged.score_map), (merged.size_map, unmerged.size_map),
                 (merged.offset_map, unmerged.offset_map)):
        assert torch.allclose(a, b, atol=1e-5)


def test_mutual_guidance_on_a_hand_computed_2x2_case():
    a_rgb = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    a_x = torch.tensor([[0.0, 4.0], [1.0, 0.0]])
    # A_rgb' = A_rgb + 0.5 (A_x - A_rgb): [[1 - 0.5, 2 + 1], [3 - 1, 4 - 2]] = [[0.5, 3], [2, 2]]
    # A_x'   = A_x + 0.25 (A_rgb - A_x):  [[0 + 0.25, 4 - 0.5], [1 + 0.5, 0 + 1]]
    g_rgb, g_x = mutual_guidance(a_rgb, a_x, 0.5, 0.25)
    assert torch.equal(g_rgb, torch.tensor([[0.5, 3.0], [2.0, 2.0]]))
    assert torch.equal(g_x, torch.tensor([[0.25, 3.5], [1.5, 1.0]]))
    # scalars 1.0 (the init): each stream takes the other stream's logits; 0: its own
    one_rgb, one_x = mutual_guidance(a_rgb, a_x, 1.0, 1.0)
    assert torch.equal(one_rgb, a_x) and torch.equal(one_x, a_rgb)
    zero_rgb, zero_x = mutual_guidance(a_rgb, a_x, 0.0, 0.0)
    assert torch.equal(zero_rgb, a_rgb) and torch.equal(zero_x, a_x)


def test_amg_block_at_init_attends_with_the_other_streams_logits():
    torch.manual_seed(0)
    model = create_model('test_seatrack').eval()
    randomise_lora(model)
    block = model.backbone.blocks[1]
    assert isinstance(block, SEATrackBlock) and block.amg
    assert block.r2dte_scaling.item() == 1.0 and block.dte2r_scaling.item() == 1.0
    x, xi = torch.randn(2, 80, 64), torch.randn(2, 80, 64)

    def qkv_heads(t):                       # by hand: (W + delta) x + b, split into 2 heads
        w = block.attn.qkv.weight + block.attn.qkv.delta_weight()
        out = F.linear(block.norm1(t), w, block.attn.qkv.bias).reshape(2, 80, 3, 2, 32)
        return out.permute(2, 0, 3, 1, 4)

    def attend(logits, v):
        o = (logits.softmax(-1) @ v).transpose(1, 2).reshape(2, 80, 64)
        return block.attn.proj(o)

    with torch.no_grad():
        q_r, k_r, v_r = qkv_heads(x)
        q_x, k_x, v_x = qkv_heads(xi)
        logits_r = q_r @ k_r.transpose(-2, -1) / math.sqrt(32)
        logits_x = q_x @ k_x.transpose(-2, -1) / math.sqrt(32)
        o_rgb, o_x = block.guided_attention(x, xi)
        assert torch.allclose(o_rgb, attend(logits_x, v_r), atol=1e-5)    # RGB uses X's map
        assert torch.allclose(o_x, attend(logits_r, v_x), atol=1e-5)      # X uses RGB's map
        block.r2dte_scaling.fill_(0.0)
        block.dte2r_scaling.fill_(0.0)                                     # no guidance:
        o_rgb, o_x = block.guided_attention(x, xi)                         # plain attention
        assert torch.allclose(o_rgb, block.attn(block.norm1(x)), atol=1e-5)
        assert torch.allclose(o_x, block.attn(block.norm1(xi)), atol=1e-5)


def hmoe_by_loops(moe, tokens):
    """Reference HMoE written from trackers.md 3.4 with explicit loops (eval: no dropout)."""
    b, n, dim = tokens.shape
    s, e = moe.slots, moe.num_experts
    d = dim // s
    lin = moe.linear1
    h = moe.norm(tokens) @ lin.lora_a + lin.bias_a
    h = h @ lin.lora_b + lin.bias_b                         # (B, N, D)
    out = torch.zeros_like(tokens)
    for bi in range(b):
        sub = torch.stack([h[bi, t, j * d:(j + 1) * d] for t in range(n) for j in range(s)])
        logits = sub @ moe.gate_thi                          # (N S, E S), col = expert*S + slot
        dispatch = torch.softmax(logits / moe.D_temp, dim=0)
        expert_out = []
        for ex in range(e):
            slot_outs = []
            for j in range(s):
                inp = dispatch[:, ex * s + j] @ sub          # weighted sum of sub-tokens
                a = inp @ moe.experts.lora_a[ex] + moe.experts.bias_a[ex]
                slot_outs.append(a @ moe.experts.lora_b[ex] + moe.experts.bias_b[ex])
            joined = torch.cat(slot_outs)                    # (D,)
            l2 = moe.linear2
            expert_out.append((joined @ l2.lora_a + l2.bias_a) @ l2.lora_b + l2.bias_b)
        for t in range(n):
            score = torch.stack([logits[t * s:(t + 1) * s, ex * s:(ex + 1) * s].sum()
                                 for ex in range(e)])
            w = torch.softmax(score / moe.C_temp, dim=0)
            out[bi, t] = sum(w[ex] * expert_out[ex] for ex in range(e))
    return out


def test_hmoe_matches_a_loop_reference():
    torch.manual_seed(0)
    moe = HMoE(8, num_experts=3, slots=2, hidden=2).eval()
    with torch.no_grad():
        moe.D_temp.fill_(0.7)
        moe.C_temp.fill_(1.3)
        tokens = torch.randn(2, 5, 8)
        assert torch.allclose(moe(tokens), hmoe_by_loops(moe, tokens), atol=1e-5)
    with pytest.raises(ValueError):
        HMoE(9, 4, slots=2)


def test_forward_backward_only_the_rule_trains():
    torch.manual_seed(0)
    model = create_model('test_seatrack')
    randomise_lora(model)
    names = set(trainable_names(model, get_family('seatrack')))
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    z, s, zx, sx = crops()
    out = model(z, s, zx, sx)
    assert out.aux == {}
    (out.score_map.sum() + out.size_map.sum() + out.offset_map.sum()).backward()
    for n, p in model.named_parameters():
        if n in names:
            assert p.grad is not None and torch.isfinite(p.grad).all(), n
            assert p.grad.abs().sum() > 0, n
        else:
            assert p.grad is None, n
    assert any('lora_A' in n for n in names) and any('scaling' in n for n in names)


def test_merged_equals_unmerged_and_merging_is_idempotent(tmp_path):
    torch.manual_seed(0)
    model = create_model('test_seatrack')
    randomise_lora(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    z, s, zx, sx = crops()
    model.eval()                                            # eval() merges
    layer = model.lora_layers()[0]
    assert layer.merged
    with torch.no_grad():
        merged = model(z, s, zx, sx).score_map
        w_once = layer.merged_weight().clone()
        assert model.merge_lora() == 1 and model.merge_lora() == 1
        twice = model(z, s, zx, sx).score_map
        model.unmerge_lora()
        unmerged = model(z, s, zx, sx).score_map
    assert torch.equal(merged, twice)
    assert torch.equal(layer.merged_weight(), w_once)
    assert torch.allclose(w_once, layer.weight + layer.delta_weight(), atol=1e-6)
    assert torch.allclose(merged, unmerged, atol=1e-5)
    after = model.state_dict()                              # the stored weights never change
    assert all(torch.equal(before[k], after[k]) for k in before)
    model.train()
    assert not layer.merged
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(z, s, zx, sx).score_map, merged, atol=1e-6)
    # LoRA matters here (so the comparisons above are not vacuous)
    with torch.no_grad():
        layer.lora_B.zero_()
        assert not torch.allclose(model(z, s, zx, sx).score_map, merged, atol=1e-4)
        layer.lora_B.copy_(before['backbone.blocks.1.attn.qkv.lora_B'])
    # a merged model saved and loaded again: one merge, same output
    path = save_checkpoint(tmp_path / 'sea.pt', model, 'test_seatrack')
    loaded, report = load_checkpoint(path)
    assert report.missing == [] and report.unexpected == []
    with torch.no_grad():
        assert torch.allclose(loaded(z, s, zx, sx).score_map, merged, atol=1e-6)
    # loading weights into an already merged model refreshes the merged weight
    other = create_model('test_seatrack').eval()
    with torch.no_grad():
        other(z, s, zx, sx)
        other.load_state_dict(before)
        assert torch.allclose(other(z, s, zx, sx).score_map, merged, atol=1e-6)


def test_eval_with_gradients_uses_the_unmerged_path():
    model = create_model('test_seatrack')
    randomise_lora(model)
    model.eval()
    z, s, zx, sx = crops()
    model(z, s, zx, sx).score_map.sum().backward()
    layer = model.lora_layers()[0]
    assert layer.lora_B.grad is not None and layer.lora_B.grad.abs().sum() > 0


def test_zero_adapters_with_rgb_as_x_equal_the_plain_frozen_vit():
    """lora_B is zero-initialised (as the release), so AMG-LoRA is neutral with RGB as X (equal
    logits); the HMoE is NOT zero-initialised in the release, so its output is zeroed here
    (linear2 -> 0) to compare with the plain frozen ViT + head on RGB (fuse='mean')."""
    torch.manual_seed(0)
    model = create_model('test_seatrack', fuse='mean').eval()
    args = {k: v for k, v in variant_args('test_seatrack').items()
            if k in ('template_size', 'search_size', 'patch_size', 'embed_dim', 'depth',
                     'num_heads', 'head_channels')}
    plain = TwoStreamTracker(fuse='mean', **args).eval()
    result = plain.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    assert all(any(s in k for s in ('lora', 'moe', 'scaling')) for k in result.unexpected_keys)
    z, s, _, _ = crops()
    with torch.no_grad():
        ref = plain(z, s)
        assert not torch.allclose(model(z, s).score_map, ref.score_map, atol=1e-4)
        for block in model.backbone.blocks:
            if block.moe:
                for moe in (block.attn_moe, block.ffn_moe):
                    moe.linear2.lora_b.zero_()
                    moe.linear2.bias_b.zero_()
        out = model(z, s)
    for a, b in ((out.score_map, ref.score_map), (out.size_map, ref.size_map),
                 (out.offset_map, ref.offset_map)):
        assert torch.allclose(a, b, atol=1e-5)


def test_rgb_as_x_keeps_the_streams_identical():
    """Equal logits make the guidance neutral and the mixer treats both halves alike."""
    torch.manual_seed(0)
    model = create_model('test_seatrack').eval()
    randomise_lora(model)
    z, s, _, _ = crops()
    with torch.no_grad():
        x, xi = model.input_pair(z, s)
        x, xi = model.run_pair(x, xi, model.context())
    assert torch.allclose(x, xi, atol=1e-5)
