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

"""Two-stream -> one-stream distillation (train/distill.py): the loss terms on hand-computed
cases, the layer matching, labelled-only ground-truth terms and a 3-step run from a teacher."""

import functools
import json
import math

import pytest
import torch

from rgbx_tracker_ros.core.model_api import TrackerOutput
from rgbx_tracker_ros.models import create_model, variant_args
from rgbx_tracker_ros.models.checkpoint import load_checkpoint, save_checkpoint
from rgbx_tracker_ros.train import trainer
from rgbx_tracker_ros.train.data import SyntheticSource
from rgbx_tracker_ros.train.distill import (FeatureDistiller, distill_loss, layer_pairs,
                                            response_kd_loss)
from rgbx_tracker_ros.train.losses import tracking_loss
from rgbx_tracker_ros.train.trainer import TrainConfig, train


def test_response_kd_hand_computed():
    # teacher 0.8 / 0.2: logit = +-ln 4, / tau 2 = +-ln 2 -> soft targets t = 2/3, 1/3.
    # student 0.5 / 0.5: logit 0 -> s = 1/2. Each cell: |t - s|^2 * BCE(1/2, t) = (1/36) * ln 2
    # (BCE(1/2, t) = -(t + 1 - t) ln(1/2) = ln 2); two cells, B = 1 -> ln 2 / 18.
    teacher = torch.tensor([0.8, 0.2]).view(1, 1, 1, 2)
    student = torch.full((1, 1, 1, 2), 0.5, requires_grad=True)
    loss = response_kd_loss(student, teacher, tau=2.0).detach()
    assert float(loss) == pytest.approx(math.log(2) / 18, rel=1e-5)
    # the loss is per sample: the same pair twice gives the same value
    twice = response_kd_loss(student.detach().repeat(2, 1, 1, 1), teacher.repeat(2, 1, 1, 1))
    assert float(twice) == pytest.approx(math.log(2) / 18, rel=1e-5)
    # s = t: zero loss and zero gradient (the minimum)
    same = torch.tensor([0.8, 0.2]).view(1, 1, 1, 2).requires_grad_(True)
    value = response_kd_loss(same, teacher)
    value.backward()
    assert float(value.detach()) == pytest.approx(0.0, abs=1e-9)
    assert float(same.grad.abs().max()) < 1e-6
    # a teacher map of another grid is resampled (logit scale): a constant 0.8 on 4x4 against
    # 0.5 on 2x2 -> 4 cells of ln 2 / 36 = ln 2 / 9
    resampled = response_kd_loss(torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 4, 4), 0.8))
    assert float(resampled) == pytest.approx(math.log(2) / 9, rel=1e-5)


def test_layer_pairs():
    assert layer_pairs(6, 12) == [(j, 2 * j + 1) for j in range(6)]    # even 1-based layers
    assert layer_pairs(12, 12) == [(j, j) for j in range(12)]
    assert layer_pairs(12, 12, every=2) == [(j, j) for j in range(1, 12, 2)]  # the paper's
    assert layer_pairs(2, 3) == [(0, 1), (1, 2)]        # 1.5 rounds up
    assert layer_pairs(2, 4) == [(0, 1), (1, 3)]
    assert layer_pairs(3, 2) == [(0, 0), (1, 0), (2, 1)]
    assert layer_pairs(4, 1) == [(1, 0), (2, 0), (3, 0)]  # round(1/4) - 1 < 0 is dropped
    with pytest.raises(ValueError):
        layer_pairs(0, 4)


def test_feature_kd_hand_computed():
    # features are [template | search]; only the search tokens (the last grid^2) count.
    # pairs (0 -> 1), (1 -> 3); same width, no projection. Student search tokens 0; teacher
    # block 1 search = 1 (MSE 1), block 3 search = 2 (MSE 4); depth weights k + 1 = 2, 4:
    # (2 * 1 + 4 * 4) / 6 = 3.
    fd = FeatureDistiller([(0, 1), (1, 3)], 2, 2, student_grid=1, teacher_grid=1)
    assert fd.proj is None
    s = [torch.tensor([[[100.0, -100.0], [0.0, 0.0]]])] * 2
    t = [torch.full((1, 2, 2), 50.0), torch.tensor([[[9.0, 9.0], [1.0, 1.0]]]),
         torch.full((1, 2, 2), 50.0), torch.tensor([[[9.0, 9.0], [2.0, 2.0]]])]
    assert float(fd(s, t)) == pytest.approx(3.0)
    # widths differ: a learned Linear(1 -> 2) per pair; weight (1, 2)^T, no bias: student 3 ->
    # (3, 6) against the teacher's (3, 4): MSE (0 + 4) / 2 = 2
    fp = FeatureDistiller([(0, 0)], 1, 2, student_grid=1, teacher_grid=1)
    with torch.no_grad():
        fp.proj[0].weight.copy_(torch.tensor([[1.0], [2.0]]))
        fp.proj[0].bias.zero_()
    value = fp([torch.tensor([[[3.0]]])], [torch.tensor([[[3.0, 4.0]]])]).detach()
    assert float(value) == pytest.approx(2.0)
    # teacher grid 2x2 -> student 1x1: bilinear by 2 = the mean of (0, 1, 2, 3) = 1.5 against
    # the student's 0: MSE 2.25 (the one template token in front is ignored)
    fg = FeatureDistiller([(0, 0)], 1, 1, student_grid=1, teacher_grid=2)
    teacher = torch.tensor([[[7.0], [0.0], [1.0], [2.0], [3.0]]])
    assert float(fg([torch.zeros(1, 2, 1)], [teacher])) == pytest.approx(2.25)


def _outputs(b: int, seed: int, features=None) -> TrackerOutput:
    g = torch.Generator().manual_seed(seed)
    score = torch.rand(b, 1, 4, 4, generator=g).clamp(0.05, 0.95)
    return TrackerOutput(score, torch.rand(b, 2, 4, 4, generator=g) * 0.5 + 0.1,
                         torch.rand(b, 2, 4, 4, generator=g), {}, features)


def test_labelled_flag_switches_off_the_ground_truth_terms():
    student, teacher = _outputs(2, 0), _outputs(2, 1)
    boxes = torch.tensor([[0.5, 0.5, 0.3, 0.3], [0.4, 0.6, 0.2, 0.4]])
    w = {'focal': 1.0, 'giou': 2.0, 'l1': 5.0, 'resp_kd': 0.5}
    resp = float(response_kd_loss(student.score_map, teacher.score_map))
    full = distill_loss(student, teacher, boxes, w)
    ref = tracking_loss(student, boxes, weights=w)
    assert full.terms['focal'] == pytest.approx(ref.terms['focal'])
    assert float(full.total) == pytest.approx(float(ref.total) + 0.5 * resp, rel=1e-6)
    assert 'feat_kd' not in full.terms          # no distiller: no feature term
    part = distill_loss(student, teacher, boxes, w, labelled=torch.tensor([0.0, 1.0]))
    one = TrackerOutput(student.score_map[1:], student.size_map[1:], student.offset_map[1:], {})
    assert part.terms['giou'] == pytest.approx(tracking_loss(one, boxes[1:]).terms['giou'])
    assert part.terms['resp_kd'] == pytest.approx(resp)   # distillation over all samples
    none = distill_loss(student, teacher, boxes, w, labelled=torch.zeros(2))
    assert 'focal' not in none.terms and float(none.total) == pytest.approx(0.5 * resp)


def _save_teacher(tmp_path, name='teacher.pt', **overrides):
    torch.manual_seed(0)
    teacher = create_model('test_mmmp', **overrides)
    for n, p in teacher.named_parameters():      # a "trained" teacher: non-zero prompts
        if 'prompt.up' in n:
            torch.nn.init.normal_(p, std=0.05)
    return save_checkpoint(tmp_path / name, teacher, 'test_mmmp',
                           dict(variant_args('test_mmmp'), **overrides))


def _cfg(tmp_path, teacher, **kw):
    return TrainConfig(**dict(dict(variant='test_tiny', out=str(tmp_path / 'student.pt'),
                                   distill_from=str(teacher), iterations=3, batch_size=2,
                                   synthetic_ratio=1.0, warmup=1, checkpoint_every=3,
                                   seed=0), **kw))


def test_three_step_distillation_run(tmp_path, monkeypatch):
    # a small synthetic pool keeps the start fast; the data are synthetic only
    monkeypatch.setattr(trainer, 'SyntheticSource',
                        functools.partial(SyntheticSource, pool_size=2, num_frames=12))
    # teacher: width 48 (student 64: projections), 4 blocks (student 2: blocks 1 and 3)
    teacher = _save_teacher(tmp_path, embed_dim=48, depth=4)
    before = create_model('test_tiny').state_dict()
    out = train(_cfg(tmp_path, teacher))
    log = [json.loads(line) for line in out.with_name('student.log.jsonl').read_text()
           .splitlines()]
    assert [r['step'] for r in log] == [3]
    for key in ('feat_kd', 'resp_kd', 'focal', 'giou', 'l1', 'loss'):
        assert math.isfinite(log[0][key]), key
    assert log[0]['feat_kd'] > 0 and log[0]['resp_kd'] > 0
    student, report = load_checkpoint(out)
    assert report.variant == 'test_tiny' and report.missing == [] and report.unexpected == []
    assert report.meta['distill']['pairs'] == [(0, 1), (1, 3)]
    assert report.meta['distill']['teacher_variant'] == 'test_mmmp'
    assert student.keep_features is False
    changed = [k for k, v in student.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed                                  # the student was trained
    # the projections are training-only: in the resume state, not in the student checkpoint
    state = torch.load(out.with_name('student.state.pt'), weights_only=False)
    assert state['distiller']['proj.0.weight'].shape == (48, 64)
    stored = torch.load(out, weights_only=False)['state_dict']
    assert set(stored) == set(create_model('test_tiny').state_dict())


def test_teacher_with_other_crop_sizes_is_refused(tmp_path):
    teacher = _save_teacher(tmp_path, template_size=80, search_size=160)
    with pytest.raises(ValueError, match='crop sizes must match') as err:
        train(_cfg(tmp_path, teacher))
    assert '80/160' in str(err.value) and '64/128' in str(err.value)


def test_teacher_options_put_the_teacher_on_the_student_crop(tmp_path):
    from rgbx_tracker_ros.train.distill import load_teacher
    teacher = save_checkpoint(tmp_path / 'teacher.pt', create_model('test_tiny', depth=4),
                              'test_tiny', dict(variant_args('test_tiny'), depth=4))  # 64 / 128
    student = create_model('test_tiny', search_size=96)
    with pytest.raises(ValueError, match='crop sizes must match'):
        load_teacher(str(teacher), student, torch.device('cpu'))
    loaded = load_teacher(str(teacher), student, torch.device('cpu'), 'search_size=96')
    assert loaded.search_size == 96 and not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(ValueError, match='not options of variant'):
        load_teacher(str(teacher), student, torch.device('cpu'), 'no_such_option=1')
    cfg = _cfg(tmp_path, '')
    cfg.teacher_options = 'search_size=96'
    with pytest.raises(ValueError, match='need distill_from'):
        train(cfg)


def test_cached_prefix_recipe_is_refused(tmp_path):
    teacher = _save_teacher(tmp_path)
    with pytest.raises(ValueError, match='cache_samples'):
        train(_cfg(tmp_path, teacher, cache_samples=4))


def test_deep_to_shallow_init_copies_the_matched_teacher_blocks():
    from rgbx_tracker_ros.train.distill import init_from_teacher
    torch.manual_seed(0)
    teacher = create_model('test_tiny', depth=4)
    student = create_model('test_tiny', depth=2)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    report = init_from_teacher(student, teacher, 'teacher')
    assert report['blocks'] == [[0, 1], [1, 3]] and report['kept'] == []
    t, s = teacher.state_dict(), student.state_dict()
    for key in s:
        src = key.replace('blocks.0.', 'blocks.1.').replace('blocks.1.', 'blocks.3.') \
            if key.startswith('backbone.blocks.1.') else key.replace('blocks.0.', 'blocks.1.')
        assert torch.equal(s[key], t[src]), key
    assert any(not torch.equal(before[k], s[k]) for k in s)
    # an explicit list, and a narrower student whose tensors do not fit (left as they were)
    init_from_teacher(student, teacher, 'teacher:0,2')
    assert torch.equal(student.state_dict()['backbone.blocks.1.attn.qkv.weight'],
                       t['backbone.blocks.2.attn.qkv.weight'])
    wide = create_model('test_tiny', depth=2, embed_dim=96, num_heads=2)
    kept = init_from_teacher(wide, teacher)['kept']     # wider than the teacher: kept
    assert 'backbone.blocks.0.attn.qkv.weight' in kept
    for bad in ('teacher:0', 'teacher:0,9', 'student', 'teacher:a,b'):
        with pytest.raises(ValueError, match='student_init'):
            init_from_teacher(student, teacher, bad)


def test_weight_selection_cuts_a_narrower_student_consistently():
    from rgbx_tracker_ros.train.distill import init_from_teacher, select_weights
    torch.manual_seed(0)
    # teacher: width 64, 2 heads of 32, patch 16; student: width 32, 1 head of 32, patch 8
    teacher = create_model('test_tiny', depth=4, init_values=0.1, moe=False)
    student = create_model('test_tiny', depth=2, embed_dim=32, num_heads=1, patch_size=8,
                           init_values=0.1, moe=False)
    report = init_from_teacher(student, teacher, 'teacher:0,1')
    assert report['kept'] == [] and report['selected'] > 0
    t, s = teacher.state_dict(), student.state_dict()
    # fused qkv: q, k and v are each cut to their first 32 rows (head 0 whole), 32 columns
    tq = t['backbone.blocks.1.attn.qkv.weight'].reshape(3, 64, 64)
    sq = s['backbone.blocks.1.attn.qkv.weight'].reshape(3, 32, 32)
    for i in range(3):
        assert torch.equal(sq[i], tq[i, :32, :32])
    tb = t['backbone.blocks.1.attn.qkv.bias'].reshape(3, 64)
    assert torch.equal(s['backbone.blocks.1.attn.qkv.bias'].reshape(3, 32), tb[:, :32])
    # the same residual channels in every tensor: norms, layer scale, FFN
    assert torch.equal(s['backbone.blocks.0.norm1.weight'],
                       t['backbone.blocks.0.norm1.weight'][:32])
    assert torch.equal(s['backbone.blocks.0.ls2.gamma'], t['backbone.blocks.0.ls2.gamma'][:32])
    assert torch.equal(s['backbone.blocks.1.mlp.fc2.weight'],
                       t['backbone.blocks.1.mlp.fc2.weight'][:32, :128])
    # patch 16 -> 8: the kernel is resampled (FlexiViT); positions: 8x8 grid -> 16x16
    assert s['backbone.patch_embed.proj.weight'].shape == (32, 3, 8, 8)
    assert not torch.equal(s['backbone.patch_embed.proj.weight'],
                           t['backbone.patch_embed.proj.weight'][:32, :, :8, :8])
    pos_t = t['backbone.pos_embed_x'][..., :32].reshape(1, 8, 8, 32)
    pos_s = s['backbone.pos_embed_x'].reshape(1, 16, 16, 32)
    assert pos_s.shape == (1, 16, 16, 32)
    assert torch.allclose(pos_s.mean((1, 2)), pos_t.mean((1, 2)), atol=0.02)
    # what cannot be cut: another rank, or a wider tensor
    assert select_weights('x.weight', torch.ones(4, 4), torch.Size([4])) is None
    assert select_weights('x.weight', torch.ones(4, 4), torch.Size([8, 4])) is None


def test_dense_student_variant_has_no_router_terms():
    model = create_model('t224_student')
    assert model.backbone.patch_size == 16 and len(model.backbone.blocks) == 4
    assert not any('router' in n or 'experts' in n for n, _ in model.named_parameters())
    model.train()
    out = model(torch.rand(2, 3, 112, 112), torch.rand(2, 3, 224, 224),
                torch.rand(2, 3, 112, 112), torch.rand(2, 3, 224, 224),
                modality=torch.zeros(2, dtype=torch.long))
    assert out.score_map.shape == (2, 1, 14, 14)
    assert out.aux == {}
    moe = create_model('t224_student', moe=True).train()
    assert set(moe(torch.rand(2, 3, 112, 112), torch.rand(2, 3, 224, 224),
                   modality=torch.zeros(2, dtype=torch.long)).aux) == {'dis', 'balance',
                                                                       'cluster'}


def test_three_block_student_starts_from_the_four_block_one(tmp_path):
    """``make train-student3``'s ``--init checkpoints/t224_student.pt``: blocks 0-2 and every
    tensor outside the blocks come from the 4-block student; only block 3 is left over."""
    from rgbx_tracker_ros.models.checkpoint import init_from
    four = create_model('t224_student')
    path = tmp_path / 'four.pt'
    save_checkpoint(path, four, 't224_student')
    three = create_model('t224_student3')
    assert len(three.backbone.blocks) == 3 and three.backbone.embed_dim == 192
    report = init_from(three, path)
    assert report.missing == []
    assert report.unexpected and all(k.startswith('backbone.blocks.3.')
                                     for k in report.unexpected)
    s3, s4 = three.state_dict(), four.state_dict()
    assert all(torch.equal(s3[k], s4[k]) for k in s3)
    three.eval()
    out = three(torch.rand(1, 3, 112, 112), torch.rand(1, 3, 224, 224),
                torch.rand(1, 3, 112, 112), torch.rand(1, 3, 224, 224))
    assert out.score_map.shape == (1, 1, 14, 14)


def test_student_init_needs_a_teacher(tmp_path):
    cfg = _cfg(tmp_path, '')
    cfg.student_init = 'teacher'
    with pytest.raises(ValueError, match='needs distill_from'):
        train(cfg)
