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

"""The trainer's family rules: trainable-parameter rule, FIX_BN, loss weights, compact checkpoints
on a base file, and the RGB-as-X option of the OneTrackerV2 family."""

from pathlib import Path

import pytest
import torch

from rgbx_tracker_ros.models import create_model, get_family
from rgbx_tracker_ros.models.checkpoint import load_checkpoint, read_checkpoint
from rgbx_tracker_ros.models.registry import Family
from rgbx_tracker_ros.train.trainer import (TrainConfig, fix_frozen_bn, freeze_policy,
                                            loss_weights, train, trainable_rule)

XT = Family(name='x', title='x', trainable=('MeME',), aux_weights={'balance': 1.0,
                                                                   'modality': 0.01})


def test_trainable_rule_auto_all_and_explicit():
    assert trainable_rule(TrainConfig(init='base.pt'), XT) == ('MeME',)
    assert trainable_rule(TrainConfig(init=''), XT) is None        # nothing frozen to adapt
    assert trainable_rule(TrainConfig(init='base.pt', trainable='all'), XT) is None
    assert trainable_rule(TrainConfig(trainable='lora, moe'), XT) == ('lora', 'moe')
    assert trainable_rule(TrainConfig(init='b.pt'), get_family('onetracker')) is None
    with pytest.raises(ValueError, match='trainable'):
        trainable_rule(TrainConfig(trainable=' , '), XT)


def test_loss_weights_merge_family_and_overrides():
    w = loss_weights(TrainConfig(loss_weights='modality=0.5, focal=2'), XT)
    assert w == {'focal': 2.0, 'giou': 2.0, 'l1': 5.0, 'balance': 1.0, 'modality': 0.5}
    for bad in ('modality', 'modality=abc', '=3'):
        with pytest.raises(ValueError, match='name=value'):
            loss_weights(TrainConfig(loss_weights=bad), XT)


def test_freeze_policy_rule_and_fix_bn_survives_train():
    model = create_model('test_tiny')
    freeze_policy(model, set(), False, None, rule=('t_experts',))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all('t_experts' in n for n in trainable)
    fixed = fix_frozen_bn(model)
    assert fixed and all(n.startswith('box_head.') for n in fixed)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    before = bns[0].running_mean.clone()
    model(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 128, 128))
    assert torch.equal(bns[0].running_mean, before)      # statistics of the base stay
    assert model.backbone.training                       # the rest does train


def test_adapter_training_stores_only_what_it_trained(voc_train_root, tmp_path):
    """A run initialised from our checkpoint (the base) with a name rule saves only the trained
    tensors plus the base file's sha256, and loads back to the same network."""
    common = dict(variant='test_tiny', iterations=2, batch_size=2, warmup=1,
                  data_root=str(voc_train_root), synthetic_ratio=0.0, checkpoint_every=2,
                  seed=1, threads=1)
    base = train(TrainConfig(out=str(tmp_path / 'base.pt'), **common))
    adapted = train(TrainConfig(out=str(tmp_path / 'adapted.pt'), init=str(base),
                                trainable='m_experts', **common))
    obj = read_checkpoint(adapted)
    stored = set(obj['state_dict'])
    assert obj['base']['file'] == str(base) and len(obj['base']['sha256']) == 64
    # onetracker does not fix BN (fix_bn False): the head's running statistics change and stay
    bn_stat = ('running_mean', 'running_var', 'num_batches_tracked')
    assert all('m_experts' in k or 'pos_embed' in k or k.endswith(bn_stat) for k in stored)
    assert any('m_experts' in k for k in stored)
    assert len(stored) < len(create_model('test_tiny').state_dict()) / 2
    assert obj['meta']['freeze']['trainable_rule'] == ['m_experts']
    model, report = load_checkpoint(adapted)
    assert report.missing == [] and report.unexpected == []
    ref, _ = load_checkpoint(base)
    full = model.state_dict()
    for key, value in ref.state_dict().items():
        if 'm_experts' not in key and not key.endswith(bn_stat):
            assert torch.equal(full[key], value), key     # frozen: exactly the base
    assert any(not torch.equal(full[k], v) for k, v in ref.state_dict().items()
               if 'm_experts' in k)
    # the base found beside the checkpoint when the recorded path is gone
    moved = tmp_path / 'moved'
    moved.mkdir()
    Path(base).rename(moved / 'base.pt')
    Path(adapted).rename(moved / 'adapted.pt')
    again, _ = load_checkpoint(moved / 'adapted.pt')
    assert all(torch.equal(again.state_dict()[k], v) for k, v in full.items())


def test_rgb_as_x_option_differs_from_masked_path_only_without_x():
    torch.manual_seed(0)
    masked = create_model('test_tiny').eval()
    rgb_as_x = create_model('test_tiny', missing_x='rgb').eval()
    rgb_as_x.load_state_dict(masked.state_dict())
    with torch.no_grad():   # a trained-looking merger: its X branch must matter
        for p in masked.backbone.merger.conv_out.parameters():
            p.normal_(0, 0.05)
        rgb_as_x.load_state_dict(masked.state_dict())
        z, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
        zx, xx = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)
        with_x = [m(z, x, zx, xx).score_map for m in (masked, rgb_as_x)]
        assert torch.equal(with_x[0], with_x[1])           # X present: the same network
        no_x = [m(z, x).score_map for m in (masked, rgb_as_x)]
        assert not torch.allclose(no_x[0], no_x[1])
        fed = masked(z, x, z, x).score_map                  # 'rgb' = RGB given as X
        assert torch.allclose(no_x[1], fed, atol=1e-6)
    with pytest.raises(ValueError, match='missing_x'):
        create_model('test_tiny', missing_x='zeros')


def test_rgbasx_tracker_spec_builds_the_rgb_as_x_model():
    from rgbx_tracker_ros.eval.peers import PeerError, build_tracker, parse_tracker_spec
    spec = parse_tracker_spec('test_tiny-rgbasx:random')
    assert (spec.label, spec.source, spec.use_x) == ('test_tiny-rgbasx-random', 'rgbasx', False)
    tracker = build_tracker(spec, device='cpu')
    assert tracker.model.backbone.missing_x == 'rgb'
    plain = build_tracker(parse_tracker_spec('test_tiny-rgb:random'), device='cpu')
    assert plain.model.backbone.missing_x == 'mask'
    with pytest.raises(PeerError, match='-rgbasx'):
        parse_tracker_spec('test_tiny-depth:random')


def test_validation_keeps_the_best_step_and_the_last(voc_train_root, tmp_path):
    import json
    out = tmp_path / 'v.pt'
    train(TrainConfig(variant='test_tiny', out=str(out), iterations=4, batch_size=2, warmup=1,
                      data_root=str(voc_train_root), synthetic_ratio=0.0, checkpoint_every=2,
                      seed=2, threads=1, val_samples=3))
    log = [json.loads(line) for line in (tmp_path / 'v.log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log] == [2, 4] and all(0 <= r['val_iou'] <= 1 for r in log)
    best = max(log, key=lambda r: r['val_iou'])
    meta = read_checkpoint(out)['meta']
    assert meta['step'] == best['step'] and meta['val_iou'] == pytest.approx(best['val_iou'])
    assert 'redetect_threshold' in meta['tracking']
    assert read_checkpoint(tmp_path / 'v.last.pt')['meta']['step'] == 4
