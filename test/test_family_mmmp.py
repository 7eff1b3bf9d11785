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

"""MMMP teacher family (arXiv 2403.16834, trackers.md 3.8): names, loading, counts, prompts."""

import math

import pytest
import torch
from timm.models.vision_transformer import Block

from rgbx_tracker_ros.models import create_model, get_family, list_variants, variant_args
from rgbx_tracker_ros.models.mmmp.model import (DualAttention, Fovea, MutualPrompter,
                                                PromptContext)
from rgbx_tracker_ros.models.registry import trainable_names
from rgbx_tracker_ros.train.trainer import fix_frozen_bn, freeze_policy

from release_keys import load_release, ostrack_shapes, random_state

FAMILY = get_family('mmmp')


def prompt_keys(dim: int, depth: int, n: int, r: int, c: int = 8, k: int = 7) -> dict:
    """Our prompter layout (module docstring of models/mmmp/model.py), written out here."""
    keys = {}
    for i in range(depth):
        p = f'backbone.blocks.{i}.prompt.'
        keys.update({p + 'norm.weight': (dim,), p + 'norm.bias': (dim,),
                     p + 'down_own.weight': (c, dim), p + 'down_own.bias': (c,),
                     p + 'down_other.weight': (c, dim), p + 'down_other.bias': (c,),
                     p + 'fovea.smooth': (1,), p + 'up.weight': (dim, c), p + 'up.bias': (dim,)})
        for branch in ('own', 'other') + (('hist',) if i > 0 else ()):
            a = p + f'att_{branch}.'
            keys.update({a + 'g_s1.weight': (n // r, n), a + 'g_s1.bias': (n // r,),
                         a + 'g_s2.weight': (n, n // r), a + 'g_s2.bias': (n,),
                         a + 'g_t.weight': (1, 2, k), a + 'g_t.bias': (1,)})
    return keys


def test_family_and_variants():
    assert list_variants(family='mmmp') == ['mmmp_b256', 'mmmp_s14', 'test_mmmp']
    assert FAMILY.trainable == ('prompt',) and FAMILY.aux_weights == {} and FAMILY.fix_bn
    assert FAMILY.release_format.startswith('none (no code released)')
    assert FAMILY.convert_release is None
    assert variant_args('mmmp_b256')['fuse'] == 'sum'
    assert variant_args('mmmp_s14')['fuse'] == 'mean'
    assert variant_args('mmmp_s14')['patch_size'] == 14
    assert all('-' not in n and ':' not in n for n in list_variants(family='mmmp'))


def test_b256_full_name_set_on_meta():
    with torch.device('meta'):
        model = create_model('mmmp_b256')
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    # 128 / 256 crops at patch 16: Nz = 64, Nx = 256, N = 320; r = 16 -> 20 bottleneck units
    base = ostrack_shapes(768, 12, 64, 256, head=256, leftovers=False)   # no MAE leftovers
    want = {**base, **prompt_keys(768, 12, 320, 16)}
    assert got == want
    assert all('prompt' in k for k in set(got) - set(base))


def test_ostrack_release_loads_into_reduced_b256(tmp_path):
    # No MMMP release exists; its base is an OSTrack 'net' release (trackers.md 1.9), which
    # must load with only the (new, zero-output) prompters missing.
    dim, depth, head = 64, 2, 32
    net = random_state(ostrack_shapes(dim, depth, 64, 256, head=head))   # cls / MAE pos too
    model, report = load_release(tmp_path / 'OSTrack_ep0300.pth.tar', net, 'mmmp_b256',
                                 epoch=300, depth=depth, embed_dim=dim, num_heads=2,
                                 head_channels=head)
    assert report.unexpected == []
    assert sorted(report.ignored) == ['backbone.cls_token', 'backbone.pos_embed']
    assert set(report.missing) == set(prompt_keys(dim, depth, 320, 16))
    torch.testing.assert_close(model.state_dict()['backbone.blocks.1.attn.qkv.weight'],
                               net['backbone.blocks.1.attn.qkv.weight'])
    z, x = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 256, 256)
    with torch.inference_mode():
        out = model(z, x, z.flip(-1), x.flip(-1))
    assert out.score_map.shape == (1, 1, 16, 16) and torch.isfinite(out.score_map).all()


def test_trainable_counts():
    # No figure was published (no code, and the paper gives none), so the reference is the
    # count of the layout written out by hand. Per block with D = 768, c = 8, N = 320, N/r = 20:
    #   norm 2*768 = 1,536; down_own + down_other 2 * (768*8 + 8) = 12,304;
    #   one attention branch g_s1 (320*20 + 20) + g_s2 (20*320 + 320) + g_t (2*7 + 1) = 13,155,
    #   three branches 39,465; fovea 1; up 8*768 + 768 = 6,912  -> 60,218 per block;
    #   12 blocks minus block 0's history branch: 12 * 60,218 - 13,155 = 709,461 (ViPT: 0.84 M).
    # S14 (D = 384, same N = 64 + 256): 768 + 6,160 + 39,465 + 1 + 3,456 = 49,850 per block,
    #   8 * 49,850 - 13,155 = 385,645.
    for name, ref in (('mmmp_b256', 709_461), ('mmmp_s14', 385_645)):
        with torch.device('meta'):
            model = create_model(name)
        sizes = dict(model.named_parameters())
        got = sum(sizes[n].numel() for n in trainable_names(model, FAMILY))
        assert abs(got - ref) <= 0.05 * ref
        assert got == ref


def _perturb_prompts(model, std=0.05):
    for name, p in model.named_parameters():
        if 'prompt.up' in name:
            torch.nn.init.normal_(p, std=std)


def test_forward_backward_only_prompts_train():
    torch.manual_seed(0)
    model = create_model('test_mmmp').train()
    freeze_policy(model, set(), False, None, rule=FAMILY.trainable)
    fixed = fix_frozen_bn(model)
    model.train()
    assert fixed and all(not m.training for n, m in model.named_modules() if n in fixed)
    _perturb_prompts(model)              # zero `up` would block the gradient to the rest
    z, x = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128)
    out = model(z, x, torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128),
                torch.ones(2), torch.tensor([1.0, 0.0]), modality=torch.tensor([1, 0]))
    assert out.aux == {}
    (out.score_map.mean() + out.size_map.mean() + out.offset_map.mean()).backward()
    for name, p in model.named_parameters():
        if 'prompt' in name:
            assert p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert not p.requires_grad and p.grad is None, name


def _plain_vit_head(model, z, x):
    """The frozen ViT + head on RGB alone (timm Block.forward, no prompts, one stream)."""
    bb = model.backbone
    tokens = torch.cat([bb.embed_template(z), bb.embed_search(x)], dim=1)
    for blk in bb.blocks:
        tokens = Block.forward(blk, tokens)
    tokens = bb.norm(tokens)
    nz = bb.num_template_tokens
    return model.box_head.from_tokens(tokens[:, :nz], tokens[:, nz:])


def test_zero_init_teacher_equals_frozen_vit_on_rgb():
    torch.manual_seed(1)
    model = create_model('test_mmmp', fuse='mean').eval()
    assert all(float(p.detach().abs().sum()) == 0 for n, p in model.named_parameters()
               if 'prompt.up' in n)
    z, x = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        score, size, offset = _plain_vit_head(model, z, x)
        none = model(z, x)
        masked = model(z, x, torch.rand_like(z), torch.rand_like(x), torch.zeros(2),
                       torch.zeros(2))
    for out in (none, masked):
        torch.testing.assert_close(out.score_map, score, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out.size_map, size, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out.offset_map, offset, atol=1e-6, rtol=1e-5)


def test_prompts_cross_streams_and_history():
    torch.manual_seed(2)
    model = create_model('test_mmmp').eval()
    _perturb_prompts(model, 0.5)
    bb = model.backbone
    prompter = bb.blocks[1].prompt
    own, other = torch.randn(1, 80, 64), torch.randn(1, 80, 64)
    hist = torch.randn(1, 80, 8)
    with torch.inference_mode():
        p, h = prompter(own, other, hist)
        assert p.shape == (1, 80, 64) and h.shape == (1, 80, 8)
        assert not torch.allclose(prompter(own, torch.randn(1, 80, 64), hist)[0], p)
        assert not torch.allclose(prompter(own, other, torch.randn(1, 80, 8))[0], p)
        assert bb.blocks[0].prompt.att_hist is None
        # the block hands its hidden prompts (RGB, X) to the next one through the context
        ctx = model.context()
        assert isinstance(ctx, PromptContext) and ctx.prompts is None
        x0, xi0 = torch.randn(1, 80, 64), torch.randn(1, 80, 64)
        bb.blocks[0].forward_pair(x0, xi0, ctx)
        assert ctx.prompts[0].shape == (1, 80, 8)
        torch.testing.assert_close(ctx.prompts[0], bb.blocks[0].prompt(x0, xi0)[1])
        torch.testing.assert_close(ctx.prompts[1], bb.blocks[0].prompt(xi0, x0)[1])


def test_dual_attention_and_fovea_hand_computed():
    att = DualAttention(num_tokens=3, reduction=1, kernel=3)
    for p in att.parameters():
        torch.nn.init.zeros_(p)
    h = torch.arange(6.0).view(1, 3, 2)
    # all-zero weights: token weight sigmoid(0 + 0) = 0.5, channel weight sigmoid(0) = 0.5
    torch.testing.assert_close(att(h), h * 0.25)
    fovea = Fovea(num_template_tokens=1, smooth=math.log(3.0))
    t = torch.tensor([[[5.0], [1.0], [0.0]]])
    # template: a single token, softmax = 1 -> 5; search: softmax(ln3 * (1, 0)) = (3/4, 1/4)
    torch.testing.assert_close(fovea(t), torch.tensor([[[5.0], [0.75], [0.0]]]))
    with pytest.raises(ValueError, match='odd'):
        DualAttention(3, 1, kernel=4)


def test_keep_features_and_template_tokens():
    torch.manual_seed(3)
    model = create_model('test_mmmp').eval()
    _perturb_prompts(model)
    model.keep_features = True
    z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    zx, xx = torch.rand_like(z), torch.rand_like(x)
    with torch.inference_mode():
        out = model(z, x, zx, xx)
        cached = model(None, x, None, xx, template_tokens=model.encode_template(z, zx))
    assert len(out.features) == 2 and out.features[0].shape == (1, 80, 64)
    torch.testing.assert_close(cached.score_map, out.score_map)


def test_prompter_is_symmetric_in_its_use():
    # one prompter per block serves both directions: swapping the streams swaps the prompts
    torch.manual_seed(4)
    prompter = MutualPrompter(16, num_tokens=5, num_template_tokens=1, hidden=4, reduction=1)
    torch.nn.init.normal_(prompter.up.weight, std=0.3)
    a, b = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    pa, _ = prompter(a, b)
    pb, _ = prompter(b, a)
    assert not torch.allclose(pa, pb)
    torch.testing.assert_close(prompter(a, b)[0], pa)
