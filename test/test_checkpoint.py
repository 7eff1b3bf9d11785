"""Checkpoint save/load: our format, OSTrack-family 'net' dicts and timm ViT state dicts.

No published weights can be downloaded here, so the foreign layouts are files we create with the
key names and shapes of those releases (trackers.md 1.9).
"""

import pytest
import torch

from rgbx_tracker_ros.models import create_model
from rgbx_tracker_ros.models.checkpoint import (CheckpointError, load_checkpoint,
                                                save_checkpoint)

SMALL = dict(depth=2, template_size=32, search_size=64)


def test_own_format_round_trip_is_exact(tmp_path):
    model = create_model('test_tiny')
    path = save_checkpoint(tmp_path / 'm.pt', model, 'test_tiny', meta={'step': 7})
    loaded, report = load_checkpoint(path)
    assert report.variant == 'test_tiny' and report.meta == {'step': 7}
    assert report.missing == [] and report.unexpected == []
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)
    assert not loaded.training


def test_own_format_rejects_other_variant(tmp_path):
    path = save_checkpoint(tmp_path / 'm.pt', create_model('test_tiny'), 'test_tiny')
    with pytest.raises(CheckpointError, match="holds variant 'test_tiny'"):
        load_checkpoint(path, variant='t224')


def _ostrack_state(model, grid_z=8, grid_x=16):
    """An OSTrack-256-like 'net' dict: ViT + head names, 8x8 / 16x16 position tables, extras."""
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith('backbone.merger') or '_experts' in k or '_router' in k:
            continue                                   # OSTrack has no merger / routed experts
        state[k] = torch.randn_like(v) if v.dtype.is_floating_point else v
    dim = model.backbone.pos_embed_x.shape[-1]
    state['backbone.pos_embed_z'] = torch.randn(1, grid_z ** 2, dim)
    state['backbone.pos_embed_x'] = torch.randn(1, grid_x ** 2, dim)
    state['backbone.cls_token'] = torch.randn(1, 1, dim)
    state['backbone.prompt_blocks.0.conv0_0.weight'] = torch.randn(8, dim, 1, 1)   # ViPT extra
    return {'module.' + k: v for k, v in state.items()}


def test_ostrack_family_release_loads_with_resized_position_tables(tmp_path):
    model = create_model('t224', **SMALL)
    net = _ostrack_state(model)
    torch.save({'net': net, 'epoch': 300}, tmp_path / 'OSTrack_ep0300.pth.tar')
    loaded, report = load_checkpoint(tmp_path / 'OSTrack_ep0300.pth.tar', variant='t224', **SMALL)
    assert report.source_format == 'ostrack'
    assert set(report.resized) == {'backbone.pos_embed_z', 'backbone.pos_embed_x'}
    assert report.unexpected == ['backbone.prompt_blocks.0.conv0_0.weight']
    assert any(k.startswith('backbone.merger') for k in report.missing)
    qkv = 'backbone.blocks.1.attn.qkv.weight'
    torch.testing.assert_close(loaded.state_dict()[qkv], net['module.' + qkv])
    fc1 = 'backbone.blocks.0.mlp.fc1.weight'                 # ViT FFN -> Dual MoE shared expert
    torch.testing.assert_close(loaded.state_dict()[fc1], net['module.' + fc1])
    head = 'box_head.conv1_ctr.0.weight'
    torch.testing.assert_close(loaded.state_dict()[head], net['module.' + head])
    assert loaded.state_dict()['backbone.pos_embed_x'].shape == (1, 16, 192)


def test_timm_vit_weights_initialise_the_backbone(tmp_path):
    model = create_model('t224', **SMALL)
    vit = {k[len('backbone.'):]: torch.randn_like(v) for k, v in model.state_dict().items()
           if k.startswith(('backbone.blocks', 'backbone.patch_embed', 'backbone.norm'))}
    vit['pos_embed'] = torch.randn(1, 1 + 14 * 14, 192)     # ViT-Ti/16 at 224 with a cls entry
    vit['cls_token'] = torch.randn(1, 1, 192)
    torch.save(vit, tmp_path / 'vit_tiny.pth')
    loaded, report = load_checkpoint(tmp_path / 'vit_tiny.pth', variant='t224', **SMALL)
    assert report.source_format == 'timm_vit'
    assert 'backbone.pos_embed_z' in report.resized
    key = 'backbone.blocks.0.attn.proj.weight'
    torch.testing.assert_close(loaded.state_dict()[key], vit['blocks.0.attn.proj.weight'])
    assert 'box_head.conv5_ctr.weight' in report.missing


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'missing.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError, match='cannot read'):
        load_checkpoint(tmp_path / 'junk.pt')
    torch.save({'weights': {}}, tmp_path / 'odd.pt')
    with pytest.raises(CheckpointError, match='say which variant'):
        load_checkpoint(tmp_path / 'odd.pt')
    with pytest.raises(CheckpointError, match='unknown checkpoint layout'):
        load_checkpoint(tmp_path / 'odd.pt', variant='test_tiny')
    model = create_model('test_tiny')
    torch.save({'net': {'backbone.norm.weight': torch.ones(5)}}, tmp_path / 'wide.pt')
    with pytest.raises(CheckpointError, match='does not fit'):
        load_checkpoint(tmp_path / 'wide.pt', variant='test_tiny')
    del model
