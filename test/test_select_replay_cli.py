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

"""rgbx-select without a GUI and with --dry-run; rgbx-launch --replay end to end (tracker node,
lockstep player, rgbx-record, then rgbx-eval-run) on a generated thermal bag."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rgbx_tracker_ros.cli import select as rgbx_select
from rgbx_tracker_ros.cli.demo import read_results, ros_env
from rgbx_tracker_ros.cli.eval_run import read_recorded_detections, strip_ros_args
from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.bag_io import synthetic_source, write_bag

REPO = Path(__file__).resolve().parents[1]
N = 20


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('sel_replay')
    seq = generate_sequence('thermal', N, 160, 128, seed=12, num_occlusions=0)
    info = write_bag(synthetic_source(seq), tmp / 'synth.bag', rate_hz=10.0)
    return {'seq': seq, 'info': info, 'tmp': tmp}


def test_select_without_gui_asks_for_box(bag, monkeypatch, capsys) -> None:
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    frame = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(rgbx_select.SelectError, match=r'--box X,Y,W,H .* GUI support'):
        rgbx_select.select_box_interactive(frame)
    assert rgbx_select.main(['--bag', str(bag['info'].path), '--frame', '2']) == 2
    err = capsys.readouterr().err
    assert 'no display' in err and '--box' in err
    # with a display set, the pinned headless OpenCV build is the reason
    monkeypatch.setenv('DISPLAY', ':99')
    assert 'no GUI support' in rgbx_select.gui_problem()


def test_select_dry_run_uses_the_bag_frame_stamp(bag, capsys) -> None:
    path = str(bag['info'].path)
    assert rgbx_select.main(['--bag', path, '--frame', '3', '--box', '10,20,30,40',
                             '--dry-run', '--node', 'rgbt/tracker_node']) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent['stamp_ns'] == int(bag['info'].stamps_ns[2])
    assert sent['box_xywh'] == [10.0, 20.0, 30.0, 40.0]
    assert sent['topic'] == '/rgbt/tracker_node/init'
    assert rgbx_select.main(['--bag', path, '--frame', str(N + 1), '--box', '1,1,2,2']) == 2
    assert 'has frames 1..20' in capsys.readouterr().err
    assert rgbx_select.main(['--bag', path, '--frame', '1', '--box', '500,10,5,5']) == 2
    assert 'outside the 160x128 frame' in capsys.readouterr().err
    assert rgbx_select.main(['--box', '1,2,-3,4']) == 2
    assert 'W, H > 0' in capsys.readouterr().err


def test_strip_ros_args() -> None:
    assert strip_ros_args(['a', '--ros-args', '-r', '__node:=x', '--', 'b']) == ['a', 'b']
    assert strip_ros_args(['a', '--ros-args', '-r', '__node:=x']) == ['a']


@pytest.mark.ros
def test_replay_launch_records_and_evaluates(bag) -> None:
    out = bag['tmp'] / 'replay'
    env = ros_env(random.SystemRandom().randint(1, 100))
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.launch', '--rig', 'rgbt_flir_boson',
         '--replay', str(bag['info'].path), '--out', str(out), '--variant', 'test_tiny',
         '--checkpoint', 'none', '--withhold-x', '5:8'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    for name in ('tracker_node', 'rgbx_recorder', 'rgbx_player', 'rgbx-eval-run'):
        assert f'starting {name}' in log, name
    # the player's own record and the recorder's bag hold the same answers
    res = read_results(out / 'results.csv')
    assert res['answered'].all() and len(res['answered']) == N
    assert not res['x_published'][4:8].any() and res['x_published'][8:].all()
    recorded = read_recorded_detections(out / 'recorded', '/tracker_node')
    stamps = [int(s) for s in bag['info'].stamps_ns]
    assert set(stamps) <= set(recorded)
    for k, stamp in enumerate(stamps):
        box, score = recorded[stamp]      # None: an empty array (score below the rig's 0.25)
        box = np.full(4, np.nan) if box is None else box
        np.testing.assert_allclose(box, res['boxes'][k], atol=1e-3)
    np.testing.assert_allclose(recorded[stamps[0]][0], bag['seq'].boxes_xywh[0], atol=1e-3)
    # the evaluator scored the recording against the bag's ground truth
    report = (out / 'evaluation' / 'report.md').read_text()
    assert 'tracker_node' in report and 'synth' in report
    with open(out / 'evaluation' / 'recorded_results.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N and all(r['answered'] == '1' for r in rows)
    assert (out / 'evaluation' / 'success.png').stat().st_size > 1000
    assert 'frames answered' in proc.stdout and f'{N}/{N}' in proc.stdout
