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

"""XTrack family (trackers.md 3.3): release names, trainable count, aux losses, quirks."""

import math

import pytest
import torch

from rgbx_tracker_ros.models import create_model, get_family
from rgbx_tracker_ros.models.registry import trainable_names, variant_args
from rgbx_tracker_ros.models.xtrack.meme import (LAPLACIAN, balance_loss, cv_squared,
                                                 modality_bce, modality_targets, router_gates)

from release_keys import (LEFTOVERS, add_linear, add_norm, load_release, ostrack_shapes,
                          random_state)

FAMILY = get_family('xtrack')


def release_state(dim=768, depth=12, nz=64, nx=256, hidden=64, experts=6, head=256, patch=16,
                  mlp=4):
    """Key -> shape of an XTrack release 'net' dict: the OSTrack part from
    ``release_keys.ostrack_shapes`` (trackers.md 1.9: ViT names, MAE pos_embed (1, 197, D),
    cls_token; 1.5: center head C_in -> 256 -> 128 -> 64 -> 32, 1x1 to 1/2/2) and the keys of 3.3
    written out here (MeME keys; experts/shared/rgb Linear(D->64), EdgeMix LayerNorm(64),
    proj_x 64->128, depthwise 3x3 conv without bias, proj_xx 64->64, dte/dteall 64->64, Fusion
    proj_* 64->64 and its depthwise conv, w_gate/w_noise N x 6, ffn1_1 64->D; mean/std are the
    (1,)-shaped Normal parameters and temporal_pos_embed_{x,z} (1, 1, D) of the reference code,
    held by every release, the 256 ones too)."""
    s = ostrack_shapes(dim, depth, nz, nx, head=head, patch=patch, mlp_ratio=mlp)
    s['backbone.temporal_pos_embed_x'] = (1, 1, dim)
    s['backbone.temporal_pos_embed_z'] = (1, 1, dim)
    for i in range(depth):
        b = f'backbone.blocks.{i}.'
        add_norm(s, b + 'norm1_MeME', dim)
        add_norm(s, b + 'norm2_MeME', dim)
        m = b + 'MeME_attn.ffn0_1.'
        for e in range(experts):
            add_linear(s, m + f'experts.{e}', dim, hidden)
        add_linear(s, m + 'shared_expert', dim, hidden)
        add_norm(s, m + 'shared_expert1.norm', hidden)
        s[m + 'shared_expert1.conv.conv.weight'] = (hidden, 1, 3, 3)
        add_linear(s, m + 'shared_expert1.proj_x', hidden, 2 * hidden)
        add_linear(s, m + 'shared_expert1.proj_xx', hidden, hidden)
        add_linear(s, m + 'dte', hidden, hidden)
        add_linear(s, m + 'dteall', hidden, hidden)
        add_linear(s, m + 'rgb', dim, hidden)
        s[m + 'fuse.conv.weight'] = (hidden, 1, 3, 3)
        for p in ('proj_xx', 'proj_x', 'proj_mod'):
            add_linear(s, m + 'fuse.' + p, hidden, hidden)
        s[m + 'w_gate'] = s[m + 'w_noise'] = (nz + nx, experts)
        s[m + 'mean'] = s[m + 'std'] = (1,)
        add_linear(s, b + 'MeME_attn.ffn1_1', hidden, dim)
    return s


IGNORED = set(LEFTOVERS)                                   # report.ignored by the loader


def _crops(b, t, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, n, n, generator=g) for n in (t, s, t, s)]


def test_full_b256_names_and_shapes_on_meta():
    with torch.device('meta'):
        model = create_model('xtrack_b256')
    want = {k: v for k, v in release_state().items() if k not in IGNORED}
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert set(have) - set(want) == set()
    assert set(want) - set(have) == set()
    assert have == want


def test_s14_router_rows():
    # DINOv2 ViT-S/14 at 224/112: 16x16 + 8x8 = 320 tokens, like the 256/128 release
    with torch.device('meta'):
        model = create_model('xtrack_s14')
    assert model.backbone.blocks[0].MeME_attn.ffn0_1.w_gate.shape == (320, 6)
    assert not model.release_quirks and model.fuse == 'mean'
    assert variant_args('xtrack_b256')['release_quirks'] is True
    assert variant_args('test_xtrack')['release_quirks'] is False


def test_release_loads_without_missing_or_unexpected(tmp_path):
    # reduced-width copy of the 256 release: the names/shapes scale with D, depth, head width;
    # 256/128 crops keep the release's N = 320 router rows
    over = dict(embed_dim=64, depth=2, num_heads=2, head_channels=32)
    net = random_state(release_state(dim=64, depth=2, head=32), seed=1)
    model, report = load_release(tmp_path / 'xtrack_release.pth.tar', net, 'xtrack_b256',
                                 epoch=62, **over)
    assert report.missing == [] and report.unexpected == []
    assert sorted(report.ignored) == sorted(IGNORED)
    sd = model.state_dict()
    for k in ('backbone.blocks.1.MeME_attn.ffn0_1.w_gate',
              'backbone.blocks.0.MeME_attn.ffn0_1.shared_expert1.conv.conv.weight',
              'backbone.temporal_pos_embed_z'):
        assert torch.equal(sd[k], net[k])
    assert not model.temporal_pos            # 256 search tokens: tables held, not added
    with torch.no_grad():
        out = model(*_crops(1, 128, 256)[:2], *_crops(1, 128, 256)[2:])
    assert out.score_map.shape == (1, 1, 16, 16) and torch.isfinite(out.score_map).all()


def test_trainable_count_b256_matches_reference():
    with torch.device('meta'):
        model = create_model('xtrack_b256')
    names = set(trainable_names(model, FAMILY))
    params = dict(model.named_parameters())
    n = sum(params[k].numel() for k in names)
    assert abs(n - 5.8e6) / 5.8e6 < 0.05                     # trackers.md 3.3: about 5.8 M
    per_block = sum(p.numel() for k, p in params.items() if k in names and '.blocks.0.' in k)
    assert abs(per_block - 0.485e6) / 0.485e6 < 0.05         # 0.485 M per block
    assert all('MeME' in k for k in names)
    assert not any('temporal_pos' in k or 'box_head' in k for k in names)


def test_forward_backward_only_meme_trains():
    torch.manual_seed(0)
    model = create_model('test_xtrack').train()
    train = set(trainable_names(model, FAMILY))
    for k, p in model.named_parameters():
        p.requires_grad_(k in train)
    model.box_head.eval()                                    # FIX_BN
    out = model(*_crops(3, 64, 128), modality=torch.tensor([1, 3, 0]))
    assert set(out.aux) == {'balance', 'modality'}
    assert all(v.dim() == 0 for v in out.aux.values())
    loss = out.score_map.mean() + out.size_map.mean() + sum(
        FAMILY.aux_weights[k] * v for k, v in out.aux.items())
    loss.backward()
    for k, p in model.named_parameters():
        if k.endswith('fuse.conv.weight'):      # in the release too, but unused: no gradient
            assert p.grad is None
        elif k in train:
            assert p.grad is not None, k
        else:
            assert p.grad is None, k
    meme = model.backbone.blocks[0].MeME_attn
    for p in (meme.ffn0_1.w_gate, meme.ffn0_1.experts[0].weight, meme.ffn1_1.weight,
              model.backbone.blocks[1].norm2_MeME.weight):
        assert p.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert model(*_crops(1, 64, 128)).aux == {}
    model.train()
    assert 'modality' not in model(*_crops(1, 64, 128)).aux     # no labels => no term


def test_cv_squared_and_balance_hand_computed():
    # cv^2 uses the unbiased variance. importance [2, 0, 0, 0, 0, 0]: mean 1/3,
    # var = ((5/3)^2 + 5 (1/3)^2) / 5 = (30/9) / 5 = 2/3, cv^2 = (2/3) / (1/9) = 6
    assert cv_squared(torch.tensor([2., 0, 0, 0, 0, 0])).item() == pytest.approx(6.0, rel=1e-6)
    assert cv_squared(torch.ones(6)).item() == 0.0
    assert cv_squared(torch.tensor([5.])).item() == 0.0
    # two samples routed 0.75 / 0.25 to experts 0 / 1: importance [1.5, 0.5, 0, 0, 0, 0],
    # mean 1/3, squared deviations 49/36 + 1/36 + 4 * 4/36 = 11/6, var 11/30, cv^2 = 3.3;
    # hard load [2, 2, 0, 0, 0, 0]: mean 2/3, sq. dev. 2 * 16/9 + 4 * 4/9 = 16/3, var 16/15,
    # cv^2 = (16/15) / (4/9) = 2.4; balance = 1e-2 * (3.3 + 2.4) = 0.057
    gates = torch.tensor([[0.75, 0.25, 0, 0, 0, 0]] * 2)
    load = torch.tensor([2., 2, 0, 0, 0, 0])
    assert balance_loss(gates, load).item() == pytest.approx(0.057, rel=1e-6)


def test_top2_gating_hand_computed():
    # logits [0, 0, 0, 0, ln 3, ln 2]: softmax = [1, 1, 1, 1, 3, 2] / 9; top-2 = experts 4, 5
    # with 3/9 and 2/9, renormalised 0.6 / 0.4; eval load = counts [0, 0, 0, 0, 1, 1]
    w_gate = torch.tensor([[0., 0, 0, 0, math.log(3), math.log(2)]])
    out = router_gates(torch.ones(1, 1), w_gate, torch.zeros(1, 6), k=2, noisy=False)
    assert torch.allclose(out.gates, torch.tensor([[0, 0, 0, 0, 0.6, 0.4]]), atol=1e-5)
    assert out.load.tolist() == [0, 0, 0, 0, 1, 1]
    probs = torch.tensor([[1., 1, 1, 1, 3, 2]]) / 9
    assert torch.allclose(out.probs, probs, atol=1e-6)
    quirk = router_gates(torch.ones(1, 1), w_gate, torch.zeros(1, 6), k=2, noisy=False,
                         release_quirks=True)
    assert torch.allclose(quirk.probs, probs.softmax(1), atol=1e-6)   # softmax twice
    # noisy training path: smooth load is differentiable and the gates still sum to 1
    w = torch.zeros(4, 6, requires_grad=True)
    noisy = router_gates(torch.randn(3, 4), w, torch.zeros(4, 6), k=2, noisy=True)
    assert torch.allclose(noisy.gates.sum(1), torch.ones(3), atol=1e-5)
    balance_loss(noisy.gates, noisy.load).backward()
    assert w.grad is not None


def test_modality_bce_hand_computed():
    # labels: thermal -> experts {0, 1}, depth -> {4, 5}, RGB-only excluded.
    # thermal sample p = [.4, .4, .05, .05, .05, .05]:
    #   (2 * -ln .4 + 4 * -ln .95) / 6 = (1.832581 + 0.205173) / 6 = 0.339626
    # depth sample p = 1/6 each: (2 * ln 6 + 4 * -ln(5/6)) / 6 = (3.583519 + 0.729286) / 6
    #   = 0.718801; BCE is the mean over the 2 x 6 kept entries = 0.529214 per router entry,
    # and the two router entries are summed: 1.058427
    p = torch.tensor([[.4, .4, .05, .05, .05, .05], [1 / 6] * 6, [.9, .02, .02, .02, .02, .02]])
    labels = torch.tensor([1, 2, 0])
    target, keep = modality_targets(labels)
    assert target[0].tolist() == [1, 1, 0, 0, 0, 0] and target[1].tolist() == [0, 0, 0, 0, 1, 1]
    assert keep.tolist() == [True, True, False]
    assert modality_targets(torch.tensor([3]))[0][0].tolist() == [0, 0, 1, 1, 0, 0]   # event
    assert modality_bce([p], labels).item() == pytest.approx(0.529214, abs=1e-5)
    assert modality_bce([p, p], labels).item() == pytest.approx(1.058427, abs=1e-5)
    assert modality_bce([p], torch.tensor([0, 0, 0])).item() == 0.0
    with pytest.raises(ValueError):
        modality_targets(torch.tensor([4]))


def test_laplacian_and_zero_router_init_only_without_quirks():
    lap = torch.tensor(LAPLACIAN).expand(16, 1, 3, 3)
    fixed = create_model('test_xtrack').backbone.blocks[0].MeME_attn.ffn0_1
    assert torch.equal(fixed.shared_expert1.conv.conv.weight, lap)
    assert not fixed.w_gate.any() and not fixed.w_noise.any()
    assert fixed.mean.tolist() == [0.0] and fixed.std.tolist() == [1.0]
    torch.manual_seed(0)
    quirk = create_model('test_xtrack', release_quirks=True).backbone.blocks[0].MeME_attn.ffn0_1
    assert not torch.equal(quirk.shared_expert1.conv.conv.weight, lap)    # Xavier overwrote it
    assert quirk.w_gate.abs().sum() > 0


def _block_by_hand(block, x, xi, nz, xi_ffn_order):
    """XTrackBlock.forward_pair written out (eval, no drop path)."""
    meme = block.MeME_attn
    a_x, a_xi = block.norm1_MeME(x), block.norm1_MeME(xi)
    z, s, _, _ = meme(a_x, a_xi, nz)
    zi, si, _, _ = meme(a_xi, a_x, nz)
    x1 = x + block.attn(block.norm1(x)) + torch.cat([z, s], 1)
    xi1 = xi + block.attn(block.norm1(xi)) + torch.cat([zi, si], 1)
    f_x, f_xi = block.norm2_MeME(x1), block.norm2_MeME(xi1)
    z, s, _, _ = meme(f_x, f_xi, nz)
    zi, si, _, _ = meme(f_xi, f_x, nz)
    res = torch.cat([si, zi] if xi_ffn_order == 'search_first' else [zi, si], 1)
    return (x1 + block.mlp(block.norm2(x1)) + torch.cat([z, s], 1),
            xi1 + block.mlp(block.norm2(xi1)) + res)


def test_concat_order_quirk_changes_output_only_with_flag():
    torch.manual_seed(0)
    fixed = create_model('test_xtrack').eval()
    quirk = create_model('test_xtrack', release_quirks=True).eval()
    quirk.load_state_dict(fixed.state_dict())                 # same weights, flag differs
    crops = _crops(2, 64, 128, seed=3)
    with torch.no_grad():
        x, xi = fixed.input_pair(*crops)
        ctx = fixed.context()
        blk_f, blk_q = fixed.backbone.blocks[0], quirk.backbone.blocks[0]
        out_f, out_q = blk_f.forward_pair(x, xi, ctx), blk_q.forward_pair(x, xi, ctx)
        ref_ts = _block_by_hand(blk_f, x, xi, ctx.nz, 'template_first')
        ref_st = _block_by_hand(blk_f, x, xi, ctx.nz, 'search_first')
        assert torch.allclose(out_f[0], ref_ts[0], atol=1e-5)
        assert torch.allclose(out_f[1], ref_ts[1], atol=1e-5)
        assert torch.allclose(out_q[0], out_f[0], atol=1e-6)       # RGB stream unaffected
        assert torch.allclose(out_q[1], ref_st[1], atol=1e-5)
        assert not torch.allclose(out_q[1], out_f[1], atol=1e-3)
        y_f, y_q = fixed(*crops), quirk(*crops)
    assert not torch.allclose(y_f.score_map, y_q.score_map, atol=1e-6)


def test_release_quirk_modality_logits_attention_twice():
    # quirks: each block contributes its attention-position probabilities twice
    torch.manual_seed(0)
    for quirks in (False, True):
        model = create_model('test_xtrack', release_quirks=quirks).train()
        ctx = model.context(torch.tensor([1, 2]))
        x, xi = model.input_pair(*_crops(2, 64, 128))
        model.run_pair(x, xi, ctx)
        routers = ctx.aux['router']
        assert len(routers) == 2 * len(model.backbone.blocks)
        assert torch.equal(routers[0], routers[1]) == quirks
        assert all(torch.allclose(r.sum(1), torch.ones(2), atol=1e-5) for r in routers)
        assert len(ctx.aux['balance']) == len(model.backbone.blocks)


def test_zero_up_projection_with_rgb_as_x_equals_plain_vit():
    # XTrack's init is not zero (ffn1_1 is trunc-normal as in the release); with the MeME
    # up-projections zeroed the MeME adds nothing, so with RGB as X and fuse='mean' the model is
    # the plain frozen ViT + head on RGB
    torch.manual_seed(0)
    model = create_model('test_xtrack').eval()
    for blk in model.backbone.blocks:
        torch.nn.init.zeros_(blk.MeME_attn.ffn1_1.weight)
        torch.nn.init.zeros_(blk.MeME_attn.ffn1_1.bias)
    t, s = _crops(2, 64, 128, seed=5)[:2]
    with torch.no_grad():
        out = model(t, s)                       # X missing -> RGB fed as X
        bb = model.backbone
        tokens = torch.cat([bb.embed_template(t), bb.embed_search(s)], 1)
        for blk in bb.blocks:
            tokens = blk(tokens)                # timm Block.forward: the plain ViT block
        tokens = bb.norm(tokens)
        nz = bb.num_template_tokens
        score, size, offset = model.box_head.from_tokens(tokens[:, :nz], tokens[:, nz:])
    assert torch.allclose(out.score_map, score, atol=1e-5)
    assert torch.allclose(out.size_map, size, atol=1e-5)


def test_router_and_argument_errors():
    moe = create_model('test_xtrack').backbone.blocks[0].MeME_attn.ffn0_1
    with pytest.raises(ValueError, match='80 tokens'):
        moe.route(torch.zeros(1, 16, 64), torch.zeros(1, 100, 64))     # a 160 search crop
    with pytest.raises(ValueError, match='top_k'):
        create_model('test_xtrack', top_k=7)
