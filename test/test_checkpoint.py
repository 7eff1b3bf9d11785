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

"""Checkpoint save/load: our format, OSTrack-family 'net' dicts and timm ViT state dicts.

No published weights can be downloaded here, so the foreign layouts are files we create with the
key names and shapes of those releases (trackers.md 1.9).
"""

import argparse
import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from rgbx_tracker_ros.models import create_model
from rgbx_tracker_ros.models.checkpoint import (CheckpointError, load_checkpoint,
                                                read_checkpoint, save_checkpoint)

#: A committed real checkpoint (zip format), used to make truncated copies.
REAL_CHECKPOINT = Path(__file__).resolve().parents[1] / 'checkpoints' / 't224_demo.pt'

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
    with pytest.raises(CheckpointError, match='is not a PyTorch checkpoint'):
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


# ------------------------------------------------------------------ broken files (no unsafe hint)

def _real_prefix(n_bytes: int) -> bytes:
    with open(REAL_CHECKPOINT, 'rb') as fh:
        return fh.read(n_bytes)


def _write_garbage(kind: str, path: Path) -> None:
    size = REAL_CHECKPOINT.stat().st_size
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'random_bytes':
        path.write_bytes(os.urandom(4096))
    elif kind == 'text':
        path.write_text('<html><body>404 Not Found</body></html>\n')
    elif kind == 'truncated_half':
        path.write_bytes(_real_prefix(size // 2))
    elif kind == 'truncated_tail':                     # only the last 10 bytes missing
        path.write_bytes(_real_prefix(size - 10))
    elif kind == 'truncated_header':
        path.write_bytes(_real_prefix(100))
    elif kind == 'plain_pickle':                       # pickle.dump, not torch.save
        path.write_bytes(pickle.dumps({'net': [1.0, 2.0]}))
    elif kind == 'legacy_truncated':                   # legacy torch.save cut inside the pickles
        buf = io.BytesIO()
        torch.save({'w': torch.ones(100)}, buf, _use_new_zipfile_serialization=False)
        path.write_bytes(buf.getvalue()[:30])
    elif kind == 'other_zip':                          # a zip archive, but not torch's
        with zipfile.ZipFile(path, 'w') as archive:
            archive.writestr('README.txt', 'weights are in the release page')
    elif kind == 'zip_damaged_pickle':                 # a valid zip whose data.pkl is cut short
        out = io.BytesIO()
        with zipfile.ZipFile(REAL_CHECKPOINT) as src, zipfile.ZipFile(out, 'w') as dst:
            for name in src.namelist():
                data = src.read(name)
                dst.writestr(name, data[:len(data) // 2] if name.endswith('data.pkl') else data)
        path.write_bytes(out.getvalue())
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize('kind, reason', [
    ('empty', 'empty file'),
    ('random_bytes', 'unknown binary data'),
    ('text', 'a text file'),
    ('truncated_half', 'truncated or damaged zip archive'),
    ('truncated_tail', 'truncated or damaged zip archive'),
    ('truncated_header', 'truncated or damaged zip archive'),
    ('plain_pickle', 'a plain pickle, not written by torch.save'),
    ('legacy_truncated', 'damaged pickle data'),
    ('other_zip', 'zip archive without data.pkl'),
    ('zip_damaged_pickle', 'damaged pickle data'),
])
@pytest.mark.parametrize('trust_pickle', [False, True])
def test_garbage_file_is_not_a_checkpoint_without_unsafe_hint(tmp_path, kind, reason,
                                                              trust_pickle):
    path = tmp_path / f'{kind}.pt'
    _write_garbage(kind, path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path, trust_pickle=trust_pickle)
    msg = str(err.value)
    assert msg == (f'{path} is not a PyTorch checkpoint ({reason}): re-download it or train '
                   'one with rgbx-train')
    assert 'trust' not in msg.lower() and 'weights_only' not in msg and '\n' not in msg
    exc = err.value                                   # no torch text chained to the traceback
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    with pytest.raises(CheckpointError, match='is not a PyTorch checkpoint'):
        load_checkpoint(path, variant='test_tiny')


def test_real_checkpoint_still_reads(tmp_path):
    obj = read_checkpoint(REAL_CHECKPOINT)
    assert obj['format'] == 'rgbx_tracker_ros.checkpoint/1' and obj['state_dict']


def test_release_pickling_objects_keeps_the_trust_pickle_hint(tmp_path):
    """A well-formed file that pickles Python objects is a real checkpoint: the old message."""
    for name, legacy in (('zip.pt', False), ('legacy.pt', True)):
        path = tmp_path / name
        torch.save({'net': {'w': torch.ones(3)}, 'settings': argparse.Namespace(lr=1e-3)}, path,
                   _use_new_zipfile_serialization=not legacy)
        with pytest.raises(CheckpointError) as err:
            read_checkpoint(path)
        msg = str(err.value)
        assert msg.startswith(f'cannot read checkpoint {path}: ')
        assert 'trust_pickle=True' in msg and 'not a PyTorch checkpoint' not in msg
        obj = read_checkpoint(path, trust_pickle=True)
        assert obj['settings'].lr == 1e-3
