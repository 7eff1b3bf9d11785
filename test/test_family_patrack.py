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

"""PATrack family (trackers.md 3.5): release names and loading, trainable counts, adapters.

The release's key names and shapes are written out (``release_spec``) from trackers.md 1.9 / 1.5
(the OSTrack names, in the shared ``release_keys.ostrack_shapes``), 3.5 (modules adap_t /
adap2_t / highfuseadapter* / adapter_head, their layer sizes, written out here) and, where
trackers.md names only the module, from the release source
(ouha1998/Learning-Progressive-Adaptation-for-Multi-Modal-Tracking, read, not copied): the Mixer's
D_fc1 / high_mixer.{conv1,proj1,proj2} / conv_fuse / proj, the PSFM's down / up /
obj_fuse.{linear1..4, linearcat, gamma1, gamma2}, the blocks' norml1 / norml2 and the root norm1.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from rgbx_tracker_ros.models import create_model, get_family, list_variants, variant_args
from rgbx_tracker_ros.models.layers.two_stream import TwoStreamBlock
from rgbx_tracker_ros.models.patrack import (GEFM, HighMixer, LowMixer, Mixer,
                                             default_psfm_blocks, spatial_attention)
from rgbx_tracker_ros.models.registry import trainable_names

from release_keys import LEFTOVERS, load_release, ostrack_shapes, random_state

# the reduced-width copy of patrack_b256 the loader test builds (names and shapes scale)
SMALL = dict(embed_dim=64, depth=4, num_heads=2, head_channels=32, template_size=64,
             search_size=128, psfm_blocks=(1, 3))


def release_spec(d=768, depth=12, patch=16, grid_z=8, grid_x=16, hc=256, psfm=192, head=192):
    """{key: shape} of a PATrack release's 'net' dict (every block has every adapter): the
    OSTrack part from ``release_keys.ostrack_shapes`` and the PATrack keys written out here."""
    spec = ostrack_shapes(d, depth, grid_z ** 2, grid_x ** 2, head=hc, patch=patch)
    spec.update({'norm1.weight': (d,), 'norm1.bias': (d,),
                 'adapter_head.adapter_down.weight': (head, d),
                 'adapter_head.adapter_down.bias': (head,),
                 'adapter_head.adapter_mid.weight': (head, head),
                 'adapter_head.adapter_mid.bias': (head,),
                 'adapter_head.adapter_up.weight': (d, head),
                 'adapter_head.adapter_up.bias': (d,)})
    for i in range(depth):
        b = f'backbone.blocks.{i}.'
        for norm in ('norml1', 'norml2'):
            spec.update({b + norm + '.weight': (d,), b + norm + '.bias': (d,)})
        for m in ('adap_t', 'adap2_t'):      # Mixer: Linear D->8, 4 high (2 conv + 2 pool) + 4 low
            spec.update({f'{b}{m}.D_fc1.weight': (8, d), f'{b}{m}.D_fc1.bias': (8,),
                         f'{b}{m}.high_mixer.conv1.weight': (4, 2, 1, 1),
                         f'{b}{m}.high_mixer.proj1.weight': (4, 1, 3, 3),
                         f'{b}{m}.high_mixer.proj2.weight': (4, 2, 1, 1),
                         f'{b}{m}.high_mixer.proj2.bias': (4,),
                         f'{b}{m}.conv_fuse.weight': (12, 1, 3, 3),
                         f'{b}{m}.proj.weight': (d, 12, 1, 1), f'{b}{m}.proj.bias': (d,)})
        for m in ('highfuseadapter1', 'highfuseadapter2'):   # PSFM D->192, GEFM, 192->D
            spec.update({f'{b}{m}.down.weight': (psfm, d, 1, 1),
                         f'{b}{m}.up.weight': (d, psfm, 1, 1),
                         f'{b}{m}.obj_fuse.gamma1': (1,), f'{b}{m}.obj_fuse.gamma2': (1,),
                         f'{b}{m}.obj_fuse.linearcat.weight': (psfm, 2 * psfm, 1, 1)})
            spec.update({f'{b}{m}.obj_fuse.linear{k}.weight': (psfm, psfm, 1, 1)
                         for k in range(1, 5)})
    return spec


def used_adapter_prefixes(depth, psfm_blocks):
    """Module prefixes of the adapters a forward pass runs (release: Mixers outside the PSFM
    blocks, PSFMs inside them, the head adapter)."""
    used = ['adapter_head.']
    for i in range(depth):
        if i in psfm_blocks:
            names = ('highfuseadapter1', 'highfuseadapter2')
        else:
            names = ('adap_t', 'adap2_t')
        used += [f'backbone.blocks.{i}.{n}.' for n in names]
    return used


def _used(name, prefixes):
    return name.startswith(tuple(prefixes)) and 'gamma' not in name   # gammas: never read


def test_registry_and_family():
    assert set(list_variants(family='patrack')) == {'patrack_b256', 'patrack_s14',
                                                    'test_patrack'}
    fam = get_family('patrack')
    assert fam.trainable == ('adap',) and fam.aux_weights == {} and fam.fix_bn
    b256, s14 = variant_args('patrack_b256'), variant_args('patrack_s14')
    assert b256['fuse'] == 'sum' and b256['release_layout'] and b256['psfm_blocks'] == (3, 6, 9)
    assert s14['fuse'] == 'mean' and not s14['release_layout'] and s14['psfm_blocks'] == (2, 4, 6)
    assert (s14['template_size'], s14['search_size'], s14['patch_size']) == (112, 224, 14)
    assert default_psfm_blocks(12) == (3, 6, 9) and default_psfm_blocks(8) == (2, 4, 6)


def test_full_b256_state_dict_is_the_release_name_set():
    with torch.device('meta'):
        model = create_model('patrack_b256')
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    release = release_spec()
    ignored = set(LEFTOVERS)                                   # report.ignored by the loader
    assert set(release) - set(ours) == ignored
    assert set(ours) - set(release) == set()
    assert all(ours[k] == release[k] for k in ours)


def test_b256_trainable_counts_instantiated_and_used():
    with torch.device('meta'):
        model = create_model('patrack_b256')
    fam = get_family('patrack')
    names = set(trainable_names(model, fam))
    # every trainable name lies in an adapter module; the frozen extra norms do not train
    modules = ('.adap_t.', '.adap2_t.', '.highfuseadapter1.', '.highfuseadapter2.')
    assert all(any(m in n for m in modules) or n.startswith('adapter_head.') for n in names)
    assert not any('norml' in n or n.startswith('norm1.') for n in names)
    params = dict(model.named_parameters())
    instantiated = sum(params[n].numel() for n in names)
    prefixes = used_adapter_prefixes(12, (3, 6, 9))
    used = sum(p.numel() for n, p in params.items() if _used(n, prefixes))
    # trackers.md 3.5: ≈13.1 M instantiated, ≈3.7 M used [computed]; ours 13,110,480 / 3,722,904
    assert abs(instantiated - 13.1e6) / 13.1e6 < 0.05
    assert abs(used - 3.7e6) / 3.7e6 < 0.05
    assert (instantiated, used) == (13_110_480, 3_722_904)


def test_used_adapter_rule_matches_gradient_flow():
    """The structural 'used' rule of the count test is what a forward pass really reaches
    (release layout, tiny width: unused PSFMs / Mixers and the gammas get no gradient)."""
    torch.manual_seed(0)
    model = create_model('test_patrack', release_layout=True, depth=4, psfm_blocks=(1, 3))
    z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    out = model(z, x, z.flip(-1), x.flip(-1))
    (out.score_map.sum() + out.size_map.sum() + out.offset_map.sum()).backward()
    adap = {n for n, p in model.named_parameters() if 'adap' in n}
    reached = {n for n, p in model.named_parameters()
               if 'adap' in n and p.grad is not None and p.grad.abs().sum() > 0}
    assert reached == {n for n in adap if _used(n, used_adapter_prefixes(4, (1, 3)))}


def test_release_loads_with_nothing_missing_or_unexpected(tmp_path):
    # reduced copy: width 64, 4 blocks (PSFMs at 1 and 3), head 32, crops 128/64 (grids 8/4)
    spec = release_spec(d=64, depth=4, grid_z=4, grid_x=8, hc=32)
    state = random_state(spec)
    model, report = load_release(tmp_path / 'patrack_release.pth.tar', state, 'patrack_b256',
                                 epoch=60, **SMALL)
    assert report.missing == [] and report.unexpected == []
    assert sorted(report.ignored) == ['backbone.cls_token', 'backbone.pos_embed']
    assert report.loaded == len(spec) - 2
    key = 'backbone.blocks.3.highfuseadapter2.obj_fuse.linearcat.weight'
    torch.testing.assert_close(model.state_dict()[key], state[key])
    z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        out = model(z, x, z, x)
    assert out.score_map.shape == (1, 1, 8, 8) and torch.isfinite(out.score_map).all()
    assert out.aux == {}


def test_forward_backward_only_trainable_rule_params_get_gradients():
    torch.manual_seed(0)
    model = create_model('test_patrack').train()
    fam = get_family('patrack')
    train = set(trainable_names(model, fam))
    for n, p in model.named_parameters():
        p.requires_grad_(n in train)
    z, x = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128)
    out = model(z, x, z.flip(-1), x.flip(-1), torch.ones(2), torch.tensor([1.0, 0.0]),
                modality=torch.tensor([1, 0]))
    assert out.aux == {}           # PATrack has no auxiliary losses
    (out.score_map.mean() + out.size_map.mean() + out.offset_map.mean()).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(grads[n] is not None and grads[n].abs().sum() > 0 for n in train)
    assert all(g is None for n, g in grads.items() if n not in train)
    # the tiny variant holds only what it uses: every adapter parameter is trainable
    assert {n for n in grads if 'adap' in n} == train
    assert len(train) > 0 and all('adap' in n for n in train)


def test_spatial_attention_hand_case():
    # C = 1, a 1x2 map: k = [1, 2], q = [0, ln 3], v = [10, 20]. Output cell j weighs cells i by
    # softmax_i(k_j q_i):  j=0: softmax([0, ln3]) = [1/4, 3/4] -> 10/4 + 60/4 = 17.5
    #                      j=1: softmax([0, 2 ln3]) = [1/10, 9/10] -> 1 + 18 = 19.
    # (Textbook attention softmax_j(q_i k_j) would give [15, 17.5].)
    q = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)
    k = torch.tensor([1.0, 2.0]).view(1, 1, 1, 2)
    v = torch.tensor([10.0, 20.0]).view(1, 1, 1, 2)
    torch.testing.assert_close(spatial_attention(q, k, v), torch.tensor([[[[17.5, 19.0]]]]))


def test_gefm_refined_maps_take_the_other_modality_as_residual():
    gefm = GEFM(3)
    r, t = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    torch.nn.init.zeros_(gefm.linear2.weight)     # RGB values
    torch.nn.init.zeros_(gefm.linear4.weight)     # X values
    r_out, t_out = gefm(r, t)
    torch.testing.assert_close(r_out, t)          # RGB refine = 0 + X
    torch.testing.assert_close(t_out, r)          # X refine = 0 + RGB


def test_mixer_pooling_split_hand_cases():
    # low branch: AvgPool 2 then nearest x2 -> each 2x2 cell becomes its mean
    low = LowMixer()(torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8]]).view(1, 1, 2, 4))
    torch.testing.assert_close(low, torch.tensor([[3.5, 3.5, 5.5, 5.5]] * 2).view(1, 1, 2, 4))
    # high branch: channels 0-1 -> conv path (out 0-3), channels 2-3 -> max-pool path (out 4-7)
    high = HighMixer(4)
    with torch.no_grad():
        high.proj2.weight.zero_()
        high.proj2.bias.zero_()
        high.proj2.weight[0, 0] = 1.0             # out channel 4 = GELU(maxpool(in channel 2))
    feat = torch.zeros(1, 4, 3, 3)
    feat[0, 2] = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 0, 5]])
    out = high(feat)
    # MaxPool 3x3, stride 1, pad 1 of that map: [[1,1,0],[1,5,5],[0,5,5]]
    pooled = torch.tensor([[1.0, 1, 0], [1, 5, 5], [0, 5, 5]])
    torch.testing.assert_close(out[0, 4], F.gelu(pooled))
    other = feat.clone()
    other[:, :2] = torch.randn(1, 2, 3, 3)        # conv-path inputs do not reach the pool path
    torch.testing.assert_close(high(other)[:, 4:], out[:, 4:])
    other = feat.clone()
    other[:, 2:] = torch.randn(1, 2, 3, 3)        # and pool-path inputs not the conv path
    torch.testing.assert_close(high(other)[:, :4], out[:, :4])
    # the Mixer: channels 0-3 of its 8-wide bottleneck -> high mixer, 4-7 -> low mixer
    mixer, seen = Mixer(16, 8), {}
    mixer.high_mixer.register_forward_hook(lambda m, i, o: seen.update(high=i[0]))
    mixer.low_mixer.register_forward_hook(lambda m, i, o: seen.update(low=i[0]))
    bottleneck = torch.randn(1, 8, 4, 4)
    assert mixer.mix(bottleneck).shape == (1, 16, 4, 4)
    torch.testing.assert_close(seen['high'], bottleneck[:, :4])
    torch.testing.assert_close(seen['low'], bottleneck[:, 4:])


def test_mixer_runs_template_and_search_maps_separately():
    mixer = Mixer(16, 8)
    z, x = torch.randn(1, 4, 16), torch.randn(1, 16, 16)     # 2x2 template, 4x4 search
    both = mixer(torch.cat([z, x], 1), 2, 4)
    alone = mixer(torch.cat([z, torch.randn(1, 16, 16)], 1), 2, 4)
    torch.testing.assert_close(both[:, :4], alone[:, :4])      # search does not leak into z
    with pytest.raises(ValueError, match='even'):
        mixer(torch.randn(1, 9 + 16, 16), 3, 4)


def test_head_adapter_has_no_residual():
    torch.manual_seed(0)
    model = create_model('test_patrack').eval()
    head = model.adapter_head
    t = torch.randn(1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.head_tokens(t),
                                   head.adapter_up(head.adapter_mid(head.adapter_down(t))))
        head.adapter_up.weight.zero_()
        head.adapter_up.bias.zero_()
        assert model.head_tokens(t).abs().max() == 0      # not t: nothing is added back
        # the head then sees zeros whatever the input: the same maps for different crops
        a = model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128))
        b = model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128))
    torch.testing.assert_close(a.score_map, b.score_map)


def test_blocks_add_their_adapters_to_the_frozen_block():
    """Mixer output 0 => the plain shared block; PSFM output 0 and zero norm biases => the
    same (a zero PSFM output alone still adds the frozen norms' biases: not an identity init)."""
    torch.manual_seed(0)
    model = create_model('test_patrack').eval()
    ctx = model.context()
    x, xi = torch.randn(2, 80, 64), torch.randn(2, 80, 64)
    mixer_block, psfm_block = model.backbone.blocks[0], model.backbone.blocks[1]
    assert not mixer_block.entangled and psfm_block.entangled
    with torch.no_grad():
        for m in (mixer_block.adap_t, mixer_block.adap2_t):
            m.proj.weight.zero_()
            m.proj.bias.zero_()
        for p in (psfm_block.highfuseadapter1, psfm_block.highfuseadapter2):
            p.up.weight.zero_()
        with_bias = psfm_block.forward_pair(x, xi, ctx)
        for n in (psfm_block.norm1, psfm_block.norm2):
            n.bias.normal_()
        assert not torch.allclose(psfm_block.forward_pair(x, xi, ctx)[0], with_bias[0])
        for n in (psfm_block.norm1, psfm_block.norm2):
            n.bias.zero_()
        for block in (mixer_block, psfm_block):
            got = block.forward_pair(x, xi, ctx)
            want = TwoStreamBlock.forward_pair(block, x, xi, ctx)
            torch.testing.assert_close(got[0], want[0])
            torch.testing.assert_close(got[1], want[1])


def test_missing_x_and_cached_template_paths():
    torch.manual_seed(0)
    model = create_model('test_patrack').eval()
    z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    zx, xx = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        none = model(z, x)
        rgb_as_x = model(z, x, z, x)
        masked = model(z, x, zx, xx, torch.zeros(1), torch.zeros(1))
        crops = model(z, x, zx, xx)
        cached = model(None, x, search_x=xx, template_tokens=model.encode_template(z, zx))
    torch.testing.assert_close(none.score_map, rgb_as_x.score_map)
    torch.testing.assert_close(none.score_map, masked.score_map)
    torch.testing.assert_close(crops.score_map, cached.score_map)
    assert not torch.allclose(none.score_map, crops.score_map)


def test_s14_variant_grids_and_layer_scale_forward():
    # our DINOv2 base at 2 blocks (PSFM in block 1): grids 8 / 16 (even), layer scale kept
    model = create_model('patrack_s14', depth=2, psfm_blocks=(1,)).eval()
    assert model.backbone.grid_z == 8 and model.backbone.grid_x == 16
    assert model.backbone.blocks[0].ls1.gamma.shape == (384,)
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 112, 112), torch.rand(1, 3, 224, 224))
    assert out.score_map.shape == (1, 1, 16, 16) and torch.isfinite(out.score_map).all()


def test_constructor_errors():
    with pytest.raises(ValueError, match='even template grid'):
        create_model('test_patrack', template_size=48)
    with pytest.raises(ValueError, match='outside'):
        create_model('test_patrack', psfm_blocks=(3,))
    with pytest.raises(ValueError, match='multiple of 4'):
        create_model('test_patrack', mixer_dim=6)
    # all blocks entangled: no Mixer runs, so odd grids are fine
    model = create_model('test_patrack', template_size=48, psfm_blocks=(0, 1, 2))
    assert model.backbone.grid_z == 3
