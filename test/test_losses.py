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

"""Every training loss on a case worked out by hand (the numbers are in the comments)."""

import math

import pytest
import torch

from rgbx_tracker_ros.core.model_api import TrackerOutput
from rgbx_tracker_ros.models.onetracker.moe import (cos2_dissimilarity, router_cluster_loss,
                                                    switch_balance, top_k_gates)
from rgbx_tracker_ros.train.losses import focal_loss, giou_loss, tracking_loss


def test_focal_loss_hand_computed():
    # 1 x 1 x 1 x 2 map: one positive (target 1, pred 0.8), one negative (target 0.5, pred 0.2)
    pred = torch.tensor([[[[0.8, 0.2]]]])
    target = torch.tensor([[[[1.0, 0.5]]]])
    # pos: -log(0.8) * (1 - 0.8)^2 = 0.22314 * 0.04 = 0.0089257
    # neg: -log(1 - 0.2) * 0.2^2 * (1 - 0.5)^4 = 0.22314 * 0.04 * 0.0625 = 0.00055786
    expected = (-math.log(0.8) * 0.04) + (-math.log(0.8) * 0.04 * 0.0625)
    assert float(focal_loss(pred, target)) == pytest.approx(expected, rel=1e-5)


def test_giou_loss_hand_computed():
    # pred [0,0,2,2] (area 4), gt [1,1,3,3] (area 4): inter 1, union 7, IoU 1/7;
    # hull [0,0,3,3] area 9, GIoU = 1/7 - (9 - 7) / 9 = 0.142857 - 0.222222 = -0.079365
    loss, iou = giou_loss(torch.tensor([[0., 0., 2., 2.]]), torch.tensor([[1., 1., 3., 3.]]))
    assert float(iou) == pytest.approx(1 / 7)
    assert float(loss) == pytest.approx(1 - (1 / 7 - 2 / 9))
    same, iou_same = giou_loss(torch.tensor([[0., 0., 2., 2.]]), torch.tensor([[0., 0., 2., 2.]]))
    assert float(same) == pytest.approx(0.0, abs=1e-6) and float(iou_same) == pytest.approx(1.0)


def _output(size_wh, offset_xy, side=4):
    score = torch.full((1, 1, side, side), 0.5)
    size = torch.zeros(1, 2, side, side)
    offset = torch.zeros(1, 2, side, side)
    size[0, :, 2, 2] = torch.tensor(size_wh)
    offset[0, :, 2, 2] = torch.tensor(offset_xy)
    return TrackerOutput(score, size, offset, {})


def test_l1_and_giou_read_at_the_label_centre_cell():
    # label box centre (0.6, 0.6) on a 4-cell map -> cell (2, 2); size 0.5 x 0.5
    label = torch.tensor([[0.6, 0.6, 0.5, 0.5]])
    # prediction: offset (0.4, 0.4) cells -> centre (2.4 / 4) = 0.6, size 0.5: exact
    exact = tracking_loss(_output([0.5, 0.5], [0.4, 0.4]), label)
    assert exact.terms['l1'] == pytest.approx(0.0, abs=1e-6)
    assert exact.terms['iou'] == pytest.approx(1.0, abs=1e-5)
    # size 0.7 x 0.5 instead: x1, x2 move by -0.1 / +0.1, y unchanged -> L1 = 0.2 / 4 = 0.05
    wide = tracking_loss(_output([0.7, 0.5], [0.4, 0.4]), label)
    assert wide.terms['l1'] == pytest.approx(0.05, abs=1e-6)
    # IoU = 0.25 / 0.35 (the label lies inside the wider box; hull = union -> GIoU = IoU)
    assert wide.terms['giou'] == pytest.approx(1 - 0.25 / 0.35, abs=1e-5)
    # total = focal + 2 GIoU + 5 L1
    assert float(wide.total) == pytest.approx(wide.terms['focal'] + 2 * wide.terms['giou']
                                              + 5 * 0.05, rel=1e-5)


def test_aux_terms_are_weighted_and_unknown_terms_refused():
    label = torch.tensor([[0.6, 0.6, 0.5, 0.5]])
    out = _output([0.5, 0.5], [0.4, 0.4])
    base = float(tracking_loss(out, label).total)
    out.aux = {'balance': torch.tensor(3.0)}
    with_aux = tracking_loss(out, label, weights={'balance': 0.5})
    assert float(with_aux.total) == pytest.approx(base + 1.5, rel=1e-5)
    assert with_aux.terms['balance'] == 3.0
    out.aux = {'mystery': torch.tensor(1.0)}
    with pytest.raises(ValueError, match="'mystery'"):
        tracking_loss(out, label)


def test_cos2_dissimilarity_hand_computed():
    # token 1: parallel (cos 1), token 2: orthogonal (cos 0), token 3: 45 degrees (cos^2 0.5)
    y_t = torch.tensor([[[1., 0.], [1., 0.], [1., 0.]]])
    y_m = torch.tensor([[[2., 0.], [0., 3.], [1., 1.]]])
    assert float(cos2_dissimilarity(y_t, y_m)) == pytest.approx((1 + 0 + 0.5) / 3, rel=1e-5)


def test_top_k_gates_renormalise():
    # softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6]; top-2 = [0, 2/6, 3/6] renormalised -> [0, .4, .6]
    probs, gates = top_k_gates(torch.log(torch.tensor([[[1., 2., 3.]]])), 2)
    assert probs[0, 0].tolist() == pytest.approx([1 / 6, 2 / 6, 3 / 6], rel=1e-5)
    assert gates[0, 0].tolist() == pytest.approx([0.0, 0.4, 0.6], rel=1e-5)


def test_switch_balance_hand_computed():
    # 2 tokens, 2 experts; probs [[.75, .25], [.75, .25]], both tokens routed to expert 0:
    # f = [1, 0], P = [.75, .25] -> E * sum f P = 2 * 0.75 = 1.5; balanced routing gives 1.0
    probs = torch.tensor([[[0.75, 0.25], [0.75, 0.25]]])
    gates = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    assert float(switch_balance(probs, gates)) == pytest.approx(1.5)
    even = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]])
    split = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    assert float(switch_balance(even, split)) == pytest.approx(1.0)


def test_router_cluster_loss_hand_computed():
    # K = 2, margin 0.1: same-modality pairs need S >= 0.6, different ones S <= 0.4.
    # samples: a=[1,0] (thermal), b=[1,0] (thermal), c=[.5,.5] (depth)
    # same pairs (a,b),(b,a): S=1 -> hinge 0.  different pairs (a,c),(b,c) x2: S=0.5 -> 0.1 each
    route = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    modality = torch.tensor([1, 1, 2])
    assert float(router_cluster_loss(route, modality)) == pytest.approx(0.1, rel=1e-5)
    # a lone modality pair with S = 0.5 < 0.6: same-modality hinge 0.1, no different pairs
    pair = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    assert float(router_cluster_loss(pair, torch.tensor([3, 3]))) == pytest.approx(0.1,
                                                                                   rel=1e-5)


def test_router_cluster_is_per_block():
    """Two blocks whose routings cluster with opposite expert indices must both score 0: the
    loss is computed on each block's routing, never on routings averaged across blocks."""
    from rgbx_tracker_ros.models import create_model
    model = create_model('test_tiny').train()
    modality = torch.tensor([1, 1, 2, 2])
    blocks = model.backbone.blocks
    blocks[0].mlp.aux = {'dis': torch.tensor(0.), 'balance': torch.tensor(0.),
                         'm_route': torch.tensor([[1., 0.], [1., 0.], [0., 1.], [0., 1.]])}
    blocks[1].mlp.aux = {'dis': torch.tensor(0.), 'balance': torch.tensor(0.),
                         'm_route': torch.tensor([[0., 1.], [0., 1.], [1., 0.], [1., 0.]])}
    terms = model._collect_aux(modality)
    assert float(terms['cluster']) == pytest.approx(0.0, abs=1e-6)
    # averaged across blocks the routings would be uniform and cost 0.1 + 0.1
    mean_route = (blocks[0].mlp.aux['m_route'] + blocks[1].mlp.aux['m_route']) / 2
    assert float(router_cluster_loss(mean_route, modality)) == pytest.approx(0.2, rel=1e-5)
