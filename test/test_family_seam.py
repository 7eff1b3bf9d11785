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

"""The model-family seam end to end: every family is registered and listed by rgbx-models, a rig
file selects any family's variant and checkpoint for the node, rgbx-eval takes family variants by
name, and the tracker runs any family through the TrackerModel protocol alone."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rgbx_tracker_ros.cli import models as models_cli
from rgbx_tracker_ros.core import rig as rig_mod
from rgbx_tracker_ros.core.model_api import TrackerModel
from rgbx_tracker_ros.bringup import node_configuration
from rgbx_tracker_ros.core.rig import load_rig
from rgbx_tracker_ros.core.tracker import RgbxTracker
from rgbx_tracker_ros.eval import peers
from rgbx_tracker_ros.models import create_model, list_families, list_variants
from rgbx_tracker_ros.models.checkpoint import save_checkpoint

FAMILIES = ['onetracker', 'xtrack', 'seatrack', 'patrack', 'vipt', 'mmmp']


def test_every_family_registers_both_bases_and_a_test_variant():
    assert list_families() == FAMILIES
    for family in FAMILIES[1:]:
        names = list_variants(family=family)
        assert {f'{family}_b256', f'{family}_s14', f'test_{family}'} <= set(names), family


def test_rgbx_models_lists_every_variant_with_family_base_and_counts(capsys):
    assert models_cli.main(['--format', 'json']) == 0
    import json
    rows = {r['variant']: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(list_variants())
    assert rows['xtrack_b256']['family'] == 'xtrack'
    assert rows['xtrack_b256']['base'] == 'OSTrack ViT-B/16 @256'
    assert rows['xtrack_b256']['trainable_rule'] == 'MeME'
    assert abs(rows['xtrack_b256']['trainable_M'] - 5.8) / 5.8 < 0.05
    assert abs(rows['seatrack_b256']['trainable_M'] - 0.636) / 0.636 < 0.05
    assert abs(rows['vipt_b256']['trainable_M'] - 0.84) / 0.84 < 0.05
    assert rows['t224']['trainable_M'] == 'all'
    assert rows['s14_224_d8']['base'].startswith('DINOv2 ViT-S/14')
    assert "'net'" in rows['seatrack_b256']['loads']
    assert models_cli.main(['--family', 'nosuch']) == 2
    assert models_cli.main(['--pattern', 'zzz*']) == 2


@pytest.mark.parametrize('variant', [f'test_{f}' for f in FAMILIES[1:]])
def test_tracker_runs_any_family_through_the_protocol(variant):
    torch.manual_seed(0)
    model = create_model(variant).eval()
    assert isinstance(model, TrackerModel)
    tracker = RgbxTracker(model, variant, 'cpu')
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    x = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker.initialize(rgb, x, (60, 40, 30, 30))
    for frame_x in (x, None):              # RGB + X, then X missing
        box, score = tracker.track(rgb, frame_x)
        assert box.shape == (4,) and 0.0 <= score <= 1.0
        assert 0 <= box[0] and box[0] + box[2] <= 160 + 1e-6


def test_a_rig_selects_any_family_variant_and_checkpoint(tmp_path):
    ckpt = save_checkpoint(tmp_path / 'xt.pt', create_model('test_xtrack'), 'test_xtrack')
    data = yaml.safe_load((rig_mod.source_root() / 'config' / 'rigs' /
                           'rgbt_flir_boson.yaml').read_text())
    data['compute'] = {'default': 'cpu', 'cpu': {'variant': 'test_xtrack',
                                                 'checkpoint': str(ckpt), 'device': 'cpu'}}
    rig_file = tmp_path / 'rgbt_xtrack.yaml'
    rig_file.write_text(yaml.safe_dump(data))
    params = node_configuration(load_rig(rig_file)).parameters
    assert params['variant'] == 'test_xtrack' and Path(params['checkpoint']) == ckpt
    tracker = peers.build_tracker(peers.parse_tracker_spec(f'rig:{rig_file}'))
    assert tracker.model.family == 'xtrack' and tracker.checkpoint == ckpt
    # and by name in rgbx-eval
    spec = peers.parse_tracker_spec(f'test_xtrack:{ckpt}')
    assert peers.build_tracker(spec, device='cpu').model.family == 'xtrack'
    data['compute']['cpu']['variant'] = 'xtrack_nosuch'
    rig_file.write_text(yaml.safe_dump(data))
    with pytest.raises(rig_mod.RigError, match='xtrack_nosuch'):
        load_rig(rig_file)
