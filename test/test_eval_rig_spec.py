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

"""rgbx-eval's ``rig:NAME`` tracker specs: exactly the model, checkpoint file, device and precision
the tracker node runs on that rig and compute profile (bringup.node_configuration ->
core.node_model), clear errors for a missing checkpoint or an unknown rig, cache keys that follow
the rig's checkpoint, and an end-to-end rgbx-eval run."""

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from rgbx_tracker_ros.cli import evaluate as ev
from rgbx_tracker_ros.core import rig as rig_mod
from rgbx_tracker_ros.core.node_model import NodeModel, node_model, resolve_checkpoint
from rgbx_tracker_ros.bringup import node_configuration
from rgbx_tracker_ros.core.rig import load_rig
from rgbx_tracker_ros.core.tracker import RgbxTracker, precision_name, resolve_precision
from rgbx_tracker_ros.eval import peers
from rgbx_tracker_ros.models.factory import load_tracker

DEMO = rig_mod.source_root() / 'checkpoints' / 's14_224_d8_rgbx.pt'   # the cpu profiles' model
H, W, N = 96, 128, 6


def node_parameters(rig: str, profile: str) -> dict:
    return node_configuration(load_rig(rig), overrides={'compute': profile}).parameters


@pytest.mark.parametrize('rig, source', [('rgbt_flir_boson', 'rgbx'), ('rgb_only', 'rgb')])
def test_rig_spec_builds_the_tracker_the_node_runs(rig, source):
    params = node_parameters(rig, 'cpu')
    assert params['device'] == 'cpu' and params['checkpoint'] == ''   # the shipped cpu profiles
    assert DEMO.is_file()

    spec = peers.parse_tracker_spec(f'rig:{rig}')
    assert (spec.label, spec.name, spec.family, spec.rig, spec.profile) == \
        (f'{rig}.cpu', 'rig', 'ours', rig, 'cpu')
    assert spec.source == source and spec.use_x == (source == 'rgbx')
    assert spec.modality == load_rig(rig).modality.value
    assert spec.model == node_model(params)
    assert spec.checkpoint.resolve() == resolve_checkpoint(params['checkpoint']).resolve() \
        == DEMO.resolve()
    # '@cpu' is the plain spec (the rigs' default profile is cpu): same tracker, label, cache key
    at_cpu = peers.parse_tracker_spec(f'rig:{rig}@cpu')
    assert at_cpu == spec and at_cpu.fingerprint() == spec.fingerprint()

    # device / precision passed by the caller are ignored: the rig's own are used, as the node
    tracker = peers.build_tracker(spec, device='cuda:7', precision='fp16')
    assert isinstance(tracker, RgbxTracker)
    assert tracker.variant == params['variant'] == 's14_224_d8'
    assert tracker.checkpoint.resolve() == DEMO.resolve()
    assert tracker.device == torch.device(params['device'])
    expected_precision = precision_name(resolve_precision(
        params.get('precision', 'auto'), torch.device(params['device'])))
    assert tracker.precision == expected_precision

    # the very weights of the checkpoint the node loads
    reference = load_tracker(DEMO, variant='s14_224_d8', device='cpu')
    ours, ref = tracker.model.state_dict(), reference.model.state_dict()
    assert ours.keys() == ref.keys()
    assert all(torch.equal(ours[k], ref[k]) for k in ref)


def test_rig_rgb_spec_is_the_same_model_on_rgb_alone():
    rgbx = peers.parse_tracker_spec('rig:rgbt_flir_boson')
    rgb = peers.parse_tracker_spec('rig-rgb:rgbt_flir_boson')
    assert rgb.label == 'rgbt_flir_boson.cpu-rgb' and rgb.source == 'rgb' and not rgb.use_x
    assert rgbx.source == 'rgbx' and rgbx.use_x
    assert rgb.model == rgbx.model and rgb.fingerprint() != rgbx.fingerprint()
    named = peers.parse_tracker_spec('boson=rig:rgbt_flir_boson')
    assert named.label == 'boson' and named.model == rgbx.model
    with pytest.raises(peers.PeerError, match='rig-rgb:RIG'):
        peers.parse_tracker_spec('rig-x:rgbt_flir_boson')
    with pytest.raises(peers.PeerError, match="unknown compute profile 'tpu'"):
        peers.parse_tracker_spec('rig:rgbt_flir_boson@tpu')


def test_gpu_profile_resolves_its_checkpoint_like_the_node(tmp_path, monkeypatch):
    """The gpu profile's bare checkpoint name is looked up in the package's checkpoints/."""
    ckpts = tmp_path / 'checkpoints'
    ckpts.mkdir()
    shutil.copy(DEMO, ckpts / 'b224_rgbt.pt')
    monkeypatch.setattr(rig_mod, 'checkpoint_dirs', lambda: [ckpts])
    monkeypatch.chdir(tmp_path)
    params = node_parameters('rgbt_flir_boson', 'gpu')
    assert params['checkpoint'] == str(ckpts / 'b224_rgbt.pt')
    spec = peers.parse_tracker_spec('rig:rgbt_flir_boson@gpu')
    assert spec.label == 'rgbt_flir_boson.gpu' and spec.profile == 'gpu'
    assert spec.model == node_model(params) == NodeModel(
        variant='b224', checkpoint=ckpts / 'b224_rgbt.pt', device='cuda',
        precision=params.get('precision', 'auto'))
    assert spec.fingerprint()['device'] == 'cuda'


def test_missing_gpu_checkpoint_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rig_mod, 'checkpoint_dirs', lambda: [tmp_path / 'checkpoints'])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(peers.PeerError) as info:
        peers.parse_tracker_spec('rig:rgbt_flir_boson@gpu')
    msg = str(info.value)
    for part in ('rig rgbt_flir_boson', 'gpu compute profile', "'b224_rgbt.pt'", 'missing',
                 'rgbx-train --variant b224', str(tmp_path / 'checkpoints' / 'b224_rgbt.pt'),
                 "package's checkpoints/ folder", 'rig:rgbt_flir_boson@cpu'):
        assert part in msg, (part, msg)

    assert ev.main([str(tmp_path), '--trackers', 'rig:rgbt_flir_boson@gpu', '--out',
                    str(tmp_path / 'out'), '--no-progress']) == 2
    err = capsys.readouterr().err
    assert err.startswith('rgbx-eval: error: ') and 'b224_rgbt.pt' in err
    assert 'Traceback' not in err


def test_unknown_rig_lists_the_known_rigs(tmp_path, capsys):
    with pytest.raises(peers.PeerError) as info:
        peers.parse_tracker_spec('rig:no_such_rig')
    msg = str(info.value)
    assert "unknown rig 'no_such_rig'" in msg
    assert all(name in msg for name in rig_mod.list_rigs())
    assert {'rgb_only', 'rgbt_flir_boson'} <= set(rig_mod.list_rigs())
    assert ev.main([str(tmp_path), '--trackers', 'rig:no_such_rig', '--out',
                    str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert "unknown rig 'no_such_rig'" in err and 'rgbt_flir_boson' in err
    with pytest.raises(peers.PeerError, match='needs a rig'):
        peers.parse_tracker_spec('rig:')
    assert 'rig:RIG' in peers.valid_tracker_names() and 'rig-rgb:RIG' in \
        peers.valid_tracker_names()


def test_cache_key_follows_the_rigs_checkpoint_file(tmp_path):
    ckpt = tmp_path / 'mine.pt'
    shutil.copy(DEMO, ckpt)
    data = yaml.safe_load((rig_mod.source_root() / 'config' / 'rigs' /
                           'rgb_only.yaml').read_text())
    data['compute']['cpu']['checkpoint'] = str(ckpt)
    rig_file = tmp_path / 'myrig.yaml'
    rig_file.write_text(yaml.safe_dump(data))
    spec = peers.parse_tracker_spec(f'rig:{rig_file}')
    assert spec.label == 'myrig.cpu' and spec.checkpoint == ckpt
    before = spec.fingerprint()
    assert before['checkpoint']['path'] == str(ckpt.resolve())
    assert (before['variant'], before['device']) == ('s14_224_d8', 'cpu')
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # a retrained file
    assert peers.parse_tracker_spec(f'rig:{rig_file}').fingerprint() != before
    data['compute']['cpu']['checkpoint'] = ''                      # the packaged default
    rig_file.write_text(yaml.safe_dump(data))
    other = peers.parse_tracker_spec(f'rig:{rig_file}').fingerprint()
    assert other['checkpoint']['path'] == str(DEMO.resolve()) and other != before


def make_thermal_sequence(root: Path) -> None:
    """RGBT234 layout: a warm square moving 3 px / frame."""
    (root / 'visible').mkdir(parents=True)
    (root / 'infrared').mkdir()
    texture = np.random.default_rng(3).integers(60, 120, (H, W, 3), dtype=np.uint8)
    gt = []
    for i in range(N):
        x = 20 + 3 * i
        vis = texture.copy()
        vis[30:54, x:x + 24] = (200, 60, 40)
        ir = np.full((H, W), 25, np.uint8)
        ir[30:54, x:x + 24] = 230
        cv2.imwrite(str(root / 'visible' / f'{i + 1:05d}v.png'), vis)
        cv2.imwrite(str(root / 'infrared' / f'{i + 1:05d}i.png'), ir)
        gt.append(f'{x},30,24,24')
    (root / 'visible.txt').write_text('\n'.join(gt) + '\n')
    (root / 'infrared.txt').write_text('\n'.join(gt) + '\n')


def test_rgbx_eval_runs_rig_specs_end_to_end(tmp_path, capsys):
    seq = tmp_path / 'walk'
    make_thermal_sequence(seq)
    out = tmp_path / 'out'
    argv = [str(seq), '--trackers', 'rig:rgb_only', 'rig:rgbt_flir_boson', '--out', str(out),
            '--no-progress', '--no-video', '--max-frames', '4', '--threads', '1']
    assert ev.main(argv) == 0
    assert '2 run(s) computed, 0 from the cache' in capsys.readouterr().out

    summary = (out / 'summary.md').read_text()
    assert '| rgb_only.cpu |' in summary and '| rgbt_flir_boson.cpu |' in summary
    rows = {r['tracker']: r for r in ev_csv(out / 'per_sequence.csv')}
    assert set(rows) == {'rgb_only.cpu', 'rgbt_flir_boson.cpu'}
    assert all(r['frames'] == '4' and r['sequence'] == 'walk' for r in rows.values())
    assert all(0.0 <= float(r['SR']) <= 1.0 for r in rows.values())

    params = node_parameters('rgb_only', 'cpu')
    expected_precision = precision_name(resolve_precision(params.get('precision', 'auto'),
                                                          torch.device('cpu')))
    runs = {r['tracker']: r for r in json.loads((out / 'runs.json').read_text())}
    for label, rig, use_x in (('rgb_only.cpu', 'rgb_only', False),
                              ('rgbt_flir_boson.cpu', 'rgbt_flir_boson', True)):
        run = runs[label]
        assert (run['rig'], run['profile'], run['variant'], run['use_x']) == \
            (rig, 'cpu', 's14_224_d8', use_x)
        assert Path(run['checkpoint']).resolve() == DEMO.resolve()
        assert (run['device'], run['precision']) == ('cpu', expected_precision)
        assert run['status'] == 'computed' and run['frames'] == 4
    cached = np.load(runs['rgb_only.cpu']['cache_file'])
    assert not cached['x_used'].any()
    assert np.load(runs['rgbt_flir_boson.cpu']['cache_file'])['x_used'].all()

    # a rerun (also with @cpu spelled out) reads everything from the cache
    argv[2:4] = ['rig:rgb_only@cpu', 'rig:rgbt_flir_boson@cpu']
    assert ev.main(argv) == 0
    assert '0 run(s) computed, 2 from the cache' in capsys.readouterr().out

    # the node on a depth rig never sees thermal frames
    assert ev.main([str(seq), '--trackers', 'rig:rgbd_realsense_d435', '--out', str(out),
                    '--no-progress', '--no-video', '--max-frames', '4']) == 2
    err = capsys.readouterr().err
    assert 'rig rgbd_realsense_d435' in err and 'walk (thermal)' in err
    assert 'rig-rgb:rgbd_realsense_d435' in err


def ev_csv(path: Path) -> list[dict]:
    import csv
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_a_rigs_registration_reaches_the_offline_run(tmp_path):
    """rgbx-eval warps X like the node does on a rig with ``registration:``: the homography is
    in the run's cache key and the runner gets the registration."""
    data = yaml.safe_load((rig_mod.source_root() / 'config' / 'rigs' /
                           'rgbt_flir_boson.yaml').read_text())
    data['registration'] = {'homography': [[1, 0, 12], [0, 1, -5], [0, 0, 1]]}
    path = tmp_path / 'shifted_rig.yaml'
    path.write_text(yaml.safe_dump(data))
    spec = peers.parse_tracker_spec(f'rig:{path}')
    settings = ev._rig_run_settings(spec)
    assert settings['x_homography'] == [1, 0, 12, 0, 1, -5, 0, 0, 1]
    reg = ev._registration(settings)
    x = np.zeros((40, 60, 3), np.uint8)
    x[10, 20] = 255
    warped = reg.warp(x, (40, 60))
    assert warped[5, 32].max() == 255 and warped[10, 20].max() == 0
    plain = peers.parse_tracker_spec('rig:rgbt_flir_boson')
    assert 'x_homography' not in ev._rig_run_settings(plain)
    assert ev._registration(ev._rig_run_settings(plain)) is None
