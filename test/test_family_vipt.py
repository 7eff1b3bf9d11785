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

"""ViPT family (trackers.md 3.1): release names, trainable count, prompt maths, cached template."""

import math

import pytest
import torch

from rgbx_tracker_ros.models import create_model, get_family, list_variants, variant_args
from rgbx_tracker_ros.models.registry import trainable_names
from rgbx_tracker_ros.models.vipt import Fovea, PromptBlock

from release_keys import LEFTOVERS, load_release, ostrack_shapes, random_state

# ViT-B/16 reduced to 2 blocks of width 64 (names and shapes scale with D, depth, head width)
SMALL = dict(depth=2, embed_dim=64, num_heads=2, head_channels=32)


def release_shapes(dim=768, depth=12, patch=16, grid_z=8, grid_x=16, head=256, prompts=12):
    """Key -> shape of a ViPT-deep release 'net' dict, written out from trackers.md: OSTrack
    ViT (1.3, 1.9) and center head (1.5) from ``release_keys.ostrack_shapes``, the prompt keys
    (3.1) here; ``prompts=0`` gives the OSTrack_ep0300 'net' (its cls_token and MAE pos_embed
    included)."""
    shapes = ostrack_shapes(dim, depth, grid_z ** 2, grid_x ** 2, head=head, patch=patch)
    if prompts:
        shapes.update({'backbone.patch_embed_prompt.proj.weight': (dim, 3, patch, patch),
                       'backbone.patch_embed_prompt.proj.bias': (dim,)})
    for i in range(prompts):
        p = f'backbone.prompt_blocks.{i}.'
        shapes.update({p + 'conv0_0.weight': (8, dim, 1, 1), p + 'conv0_0.bias': (8,),
                       p + 'conv0_1.weight': (8, dim, 1, 1), p + 'conv0_1.bias': (8,),
                       p + 'conv1x1.weight': (dim, 8, 1, 1), p + 'conv1x1.bias': (dim,),
                       p + 'fovea.smooth': (1,),
                       f'backbone.prompt_norms.{i}.weight': (dim,),
                       f'backbone.prompt_norms.{i}.bias': (dim,)})
    return shapes


def test_family_rule_and_variants():
    fam = get_family('vipt')
    assert (fam.name, fam.trainable, fam.aux_weights, fam.fix_bn) == ('vipt', ('prompt',), {},
                                                                      True)
    assert fam.convert_release is None and 'prompt_blocks' in fam.release_format
    assert {'vipt_b256', 'vipt_s14', 'test_vipt'} <= set(list_variants(family='vipt'))
    b, s = variant_args('vipt_b256'), variant_args('vipt_s14')
    assert (b['search_size'], b['template_size'], b['embed_dim'], b['depth']) == (256, 128, 768,
                                                                                  12)
    assert b['prompt_type'] == 'vipt_deep' and not b['corr_head']
    assert (s['patch_size'], s['embed_dim'], s['depth'], s['corr_head']) == (14, 384, 8, True)


def test_full_b256_state_dict_is_the_release_name_set_on_meta():
    """Every key of the ViPT-deep release, with its shape, and nothing else (meta: no data);
    cls_token and the MAE pos_embed are the two tensors the loader ignores."""
    with torch.device('meta'):
        model = create_model('vipt_b256')
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ref = release_shapes()
    ignored = set(LEFTOVERS)
    assert set(own) == set(ref) - ignored
    assert {k: v for k, v in own.items() if own[k] != ref[k]} == {}
    assert len([k for k in own if 'prompt_norms' in k]) == 2 * 12


def test_vipt_release_loads_with_nothing_missing_or_unexpected(tmp_path):
    d = SMALL['embed_dim']
    state = random_state(release_shapes(dim=d, depth=2, head=32, prompts=2))
    state['backbone.prompt_blocks.1.fovea.smooth'] = torch.tensor([3.5])
    model, report = load_release(tmp_path / 'ViPT_deep_rgbt.pth', state, 'vipt_b256', epoch=60,
                                 **SMALL)
    assert report.missing == [] and report.unexpected == [] and report.resized == []
    assert sorted(report.ignored) == ['backbone.cls_token', 'backbone.pos_embed']
    own = model.state_dict()
    for key in ('backbone.prompt_blocks.1.fovea.smooth', 'backbone.pos_embed_z',
                'backbone.patch_embed_prompt.proj.weight', 'backbone.prompt_norms.0.bias'):
        torch.testing.assert_close(own[key], state[key])
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 128, 128), torch.rand(1, 3, 256, 256),
                    torch.rand(1, 3, 128, 128), torch.rand(1, 3, 256, 256))
    assert out.score_map.shape == (1, 1, 16, 16) and torch.isfinite(out.size_map).all()


def test_ostrack_net_loads_with_only_the_prompt_keys_missing(tmp_path):
    """The init of the recipe (OSTrack_ep0300): pos_embed_z/x straight from the file."""
    state = random_state(release_shapes(dim=64, depth=2, head=32, prompts=0))
    model, report = load_release(tmp_path / 'OSTrack_ep0300.pth.tar', state, 'vipt_b256',
                                 **SMALL)
    assert report.unexpected == [] and report.resized == []
    assert report.missing and all('prompt' in k for k in report.missing)
    assert set(report.missing) == {k for k in model.state_dict() if 'prompt' in k}
    torch.testing.assert_close(model.backbone.pos_embed_x, state['backbone.pos_embed_x'])


def test_trainable_count_of_b256_is_the_reference():
    """README 0.84 M. Computed: patch_embed_prompt 768*3*16*16 + 768 = 590,592; per prompt
    block 2 * (768*8 + 8) + (8*768 + 768) + 1 = 19,217 (x12 = 230,604); 12 prompt norms
    2*768 (x12 = 18,432); total 839,628."""
    with torch.device('meta'):
        model = create_model('vipt_b256')
    names = set(trainable_names(model, get_family('vipt')))
    count = sum(p.numel() for n, p in model.named_parameters() if n in names)
    assert count == 839_628
    assert abs(count - 0.84e6) / 0.84e6 < 0.05
    assert all(n.startswith(('backbone.patch_embed_prompt.', 'backbone.prompt_blocks.',
                             'backbone.prompt_norms.')) for n in names)


def test_fovea_spatial_softmax_gating_by_hand():
    fovea = Fovea()
    assert fovea.smooth.shape == (1,) and float(fovea.smooth.detach()) == 10.0
    # init temperature 10, one channel on a 2x2 map [[0, 0], [0, 0.1]]:
    # exp(10 * x) = [1, 1, 1, e] -> gate = [1, 1, 1, e] / (3 + e); out = gate * x
    x = torch.tensor([[[[0.0, 0.0], [0.0, 0.1]]]])
    e = math.e
    want = torch.tensor([[[[0.0, 0.0], [0.0, 0.1 * e / (3 + e)]]]])
    torch.testing.assert_close(fovea(x), want)
    # temperature ln 2, channel 0 = [1, 2] (1x2 map): exp = [2, 4] -> gate [1/3, 2/3],
    # out [1/3, 4/3]; channel 1 = [0, 0]: gate [1/2, 1/2], out [0, 0] (per channel softmax)
    with torch.no_grad():
        fovea.smooth.fill_(math.log(2.0))
    x = torch.tensor([[[[1.0, 2.0]], [[0.0, 0.0]]]])
    torch.testing.assert_close(fovea(x), torch.tensor([[[[1 / 3, 4 / 3]], [[0.0, 0.0]]]]))


def test_prompt_block_by_hand():
    """D=2, bottleneck 1: conv0_0 reads RGB channel 0, conv0_1 reads X channel 1,
    conv1x1 = [1, 2]^T, no biases, temperature ln 2, 1x2 maps.
    RGB ch0 [1, 2] -> fovea [1/3, 4/3]; X ch1 [5, 7]; sum [16/3, 25/3];
    out ch0 = [16/3, 25/3], ch1 = 2 * that = [32/3, 50/3]."""
    block = PromptBlock(2, hide_channels=1)
    with torch.no_grad():
        for conv in (block.conv0_0, block.conv0_1, block.conv1x1):
            conv.bias.zero_()
        block.conv0_0.weight.copy_(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
        block.conv0_1.weight.copy_(torch.tensor([0.0, 1.0]).view(1, 2, 1, 1))
        block.conv1x1.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
        block.fovea.smooth.fill_(math.log(2.0))
    rgb = torch.tensor([[[[1.0, 2.0]], [[9.0, 9.0]]]])
    x = torch.tensor([[[[8.0, 8.0]], [[5.0, 7.0]]]])
    want = torch.tensor([[[[16 / 3, 25 / 3]], [[32 / 3, 50 / 3]]]])
    torch.testing.assert_close(block(rgb, x), want)


def _distinct_norms(model, seed=1):
    """Give every prompt norm its own affine so a wrong norm index shows in the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in model.backbone.prompt_norms:
            norm.weight.copy_(1 + 0.5 * torch.randn(norm.weight.shape, generator=gen))
            norm.bias.copy_(0.5 * torch.randn(norm.bias.shape, generator=gen))


def _reference(model, z, x, zx, xx):
    """ViPT-deep written out from trackers.md 3.1 in the release's layout: the two maps
    concatenated on channels and split in half inside the block; norm_0 on the four patch-token
    sets at layer 0; before block i >= 1, norm_{i-1} on the running tokens and norm_i on the
    previous prompt; template and search separate maps."""
    bb = model.backbone
    nz, gz, gx = bb.num_template_tokens, bb.grid_z, bb.grid_x

    def to_map(t, g):
        return t.transpose(1, 2).reshape(t.shape[0], -1, g, g)

    def prompt(i, a, b, g):
        blk = bb.prompt_blocks[i]
        cat = torch.cat([to_map(a, g), to_map(b, g)], dim=1)
        half = cat.shape[1] // 2
        x0, x1 = blk.conv0_0(cat[:, :half]), blk.conv0_1(cat[:, half:])
        flat = x0.flatten(2)
        x0 = (torch.softmax(flat * blk.fovea.smooth, dim=-1) * flat).view_as(x0)
        return blk.conv1x1(x0 + x1).flatten(2).transpose(1, 2)

    zr, xr = bb.patch_embed(z), bb.patch_embed(x)
    ze, xe = bb.patch_embed_prompt(zx), bb.patch_embed_prompt(xx)
    n0 = bb.prompt_norms[0]
    pz, px = prompt(0, n0(zr), n0(ze), gz), prompt(0, n0(xr), n0(xe), gx)
    t = torch.cat([zr + pz + bb.pos_embed_z, xr + px + bb.pos_embed_x], dim=1)
    for i, block in enumerate(bb.blocks):
        if i >= 1:
            cur = bb.prompt_norms[i - 1](t)
            pz = prompt(i, cur[:, :nz], bb.prompt_norms[i](pz), gz)
            px = prompt(i, cur[:, nz:], bb.prompt_norms[i](px), gx)
            t = t + torch.cat([pz, px], dim=1)
        t = block(t)
    t = bb.norm(t)
    return model.box_head.from_tokens(t[:, :nz], t[:, nz:])


def _crops(b=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 3, 64, 64, generator=gen), torch.randn(b, 3, 128, 128, generator=gen),
            torch.randn(b, 3, 64, 64, generator=gen), torch.randn(b, 3, 128, 128, generator=gen))


def test_forward_is_the_release_computation():
    torch.manual_seed(0)
    model = create_model('test_vipt').eval()
    _distinct_norms(model)
    z, x, zx, xx = _crops()
    with torch.inference_mode():
        out = model(z, x, zx, xx)
        score, size, offset = _reference(model, z, x, zx, xx)
    torch.testing.assert_close(out.score_map, score)
    torch.testing.assert_close(out.size_map, size)
    torch.testing.assert_close(out.offset_map, offset)


def test_cached_template_equals_the_full_path():
    torch.manual_seed(0)
    model = create_model('test_vipt').eval()
    _distinct_norms(model)
    z, x, zx, xx = _crops(3)
    with torch.inference_mode():
        full = model(z, x, zx, xx)
        cached = model(None, x, None, xx, template_tokens=model.encode_template(z, zx))
        one = model.encode_template(z[:1], zx[:1])                # one target, 3 search regions
        broadcast = model(None, x, None, xx, template_tokens=one)
        per_region = model(z[:1].expand(3, -1, -1, -1), x, zx[:1].expand(3, -1, -1, -1), xx)
        rgb_only = model(z, x)
        rgb_cached = model(None, x, template_tokens=model.encode_template(z, None))
    assert one.shape == (1, 2 * 16, 64)
    for a, b in ((full, cached), (per_region, broadcast), (rgb_only, rgb_cached)):
        for name in ('score_map', 'size_map', 'offset_map'):
            torch.testing.assert_close(getattr(a, name), getattr(b, name))


def test_missing_x_feeds_the_rgb_crop_to_the_prompt_embedding():
    torch.manual_seed(0)
    model = create_model('test_vipt').eval()
    z, x, zx, xx = _crops()
    with torch.inference_mode():
        missing = model(z, x)
        rgb_as_x = model(z, x, z, x)
        with_x = model(z, x, zx, xx)
        masked = model(z, x, zx, xx, torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(missing.score_map, rgb_as_x.score_map)
    assert not torch.allclose(missing.score_map, with_x.score_map)      # X changes the output
    torch.testing.assert_close(masked.score_map[:1], with_x.score_map[:1])
    torch.testing.assert_close(masked.score_map[1:], rgb_as_x.score_map[1:])


def test_forward_backward_trains_only_the_prompts():
    torch.manual_seed(0)
    model = create_model('test_vipt').train()
    rule = set(trainable_names(model, get_family('vipt')))
    for name, p in model.named_parameters():
        p.requires_grad_(name in rule)
    z, x, zx, xx = _crops()
    out = model(z, x, zx, xx, torch.ones(2), torch.tensor([1.0, 0.0]),
                modality=torch.tensor([1, 0]))
    assert out.aux == {} and out.features is None
    (out.score_map.mean() + out.size_map.mean() + out.offset_map.mean()).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert {n for n, g in grads.items() if g is not None} == rule
    dead = [n for n in rule if not (torch.isfinite(grads[n]).all() and grads[n].abs().sum() > 0)]
    assert dead == []
    # the deep prompts reach every block: blocks 1..depth-1 and every norm get a gradient
    assert {f'backbone.prompt_blocks.{i}.fovea.smooth' for i in range(3)} <= rule


def test_keep_features_gives_the_per_block_tokens_for_distillation():
    torch.manual_seed(0)
    model = create_model('test_vipt').eval()
    model.keep_features = True
    z, x, zx, xx = _crops()
    with torch.inference_mode():
        out = model(z, x, zx, xx)
        last = model.backbone.norm(out.features[-1])
        score, _, _ = model.box_head.from_tokens(last[:, :16], last[:, 16:])
    assert len(out.features) == 3
    assert all(f.shape == (2, 16 + 64, 64) for f in out.features)
    torch.testing.assert_close(score, out.score_map)


def test_shallow_prompt_type_and_errors():
    shaw = create_model('test_vipt', prompt_type='vipt_shaw').eval()
    assert len(shaw.backbone.prompt_blocks) == len(shaw.backbone.prompt_norms) == 1
    z, x, _, _ = _crops()
    with torch.inference_mode():
        assert shaw(z, x).score_map.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match='prompt_type'):
        create_model('test_vipt', prompt_type='deep')
    model = create_model('test_vipt').eval()
    with pytest.raises(ValueError, match='template'):
        model(None, x)
    with pytest.raises(ValueError, match='encode_template'):
        model(None, x, template_tokens=torch.zeros(2, 16, 64))      # another family's cache
