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

"""tracker_node + rgbx-player as separate processes on a small generated thermal bag.

One replay (module fixture, own random ROS_DOMAIN_ID, tiny test variant with random weights: this
checks plumbing, not tracking quality) of 30 frames at 160x128 with X withheld on frames 10-17
(the node tracks on RGB alone), RGB withheld on frames 20-22 (a dead RGB camera: the node tracks
on X alone after rgb_timeout) and frame 26's RGB sent with a wrong encoding (a 32FC1 depth image
on the RGB topic: counted as a bad frame, and that frame is answered on X alone).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from rgbx_tracker_ros.cli.demo import read_results, replay_bag, stop_process
from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.bag_io import synthetic_source, write_bag

pytestmark = pytest.mark.ros

N_FRAMES = 30
WITHHELD = (10, 17)          # 1-based, inclusive
RGB_WITHHELD = (20, 22)      # 1-based, inclusive
BAD_FRAME = 26               # 1-based


@pytest.fixture(scope='module')
def replay(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp('node_replay')
    seq = generate_sequence('thermal', N_FRAMES, 160, 128, seed=5, num_occlusions=0)
    source = synthetic_source(seq)
    good_rgb = source.rgb
    source.rgb = lambda k: ((np.ones((128, 160), np.float32), '32FC1') if k == BAD_FRAME - 1
                            else good_rgb(k))
    info = write_bag(source, tmp / 'synth.bag', rate_hz=10.0)
    run = tmp / 'run'
    params = {'variant': 'test_tiny', 'checkpoint': 'none', 'device': 'cpu',
              'modality': 'thermal', 'qos_reliability': 'reliable', 'x_timeout': 0.4,
              'rgb_timeout': 0.3, 'diagnostics_period': 0.5, 'use_sim_time': True}
    summary, node = replay_bag(tmp / 'synth.bag', run, params,
                               withhold_x=f'{WITHHELD[0]}:{WITHHELD[1]}', answer_timeout_s=2.0,
                               wait_s=120.0, domain_id=random.SystemRandom().randint(1, 100),
                               keep_node=True,
                               withhold_rgb=f'{RGB_WITHHELD[0]}:{RGB_WITHHELD[1]}')
    alive_after_replay = node.poll() is None
    code = stop_process(node)
    diags = [json.loads(line) for line in (run / 'diagnostics.jsonl').read_text().splitlines()]
    return {'seq': seq, 'stamps': info.stamps_ns, 'summary': summary,
            'results': read_results(run / 'results.csv'), 'diagnostics': diags,
            'alive': alive_after_replay, 'exit_code': code,
            'node_log': (run / 'node.log').read_text()}


def _statuses(diags: list[dict], name: str) -> list[dict]:
    """The node's statuses called ``name`` ('input rgb', 'input x', 'sync', 'tracker')."""
    return [d for d in diags if d['name'].endswith(f': {name}')]


def _frames(mask: np.ndarray) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def test_every_frame_is_answered_with_its_stamp(replay) -> None:
    res = replay['results']
    np.testing.assert_array_equal(res['stamps_ns'], replay['stamps'])
    # answered = a Detection2DArray whose header stamp equals the frame's (RGB, or X while RGB
    # is withheld or rejected) arrived
    assert _frames(~res['answered']) == []
    assert replay['summary']['missed'] == 0 and replay['summary']['answered'] == N_FRAMES
    # the player sent the GT of frame 1 on ~/init: frame 1's answer is that box, score 1
    np.testing.assert_allclose(res['boxes'][0], replay['seq'].boxes_xywh[0], atol=1e-6)
    assert res['scores'][0] == pytest.approx(1.0)
    # every answered frame carries one finite box (tiny random model: no quality claim)
    assert np.all(np.isfinite(res['boxes'][res['answered']]))
    assert _frames(~res['x_published']) == list(range(WITHHELD[0], WITHHELD[1] + 1))
    assert _frames(~res['rgb_published']) == list(range(RGB_WITHHELD[0], RGB_WITHHELD[1] + 1))


def test_x_withheld_stretch_falls_back_to_rgb_and_recovers(replay) -> None:
    state = replay['results']['x_state']
    withheld = list(range(WITHHELD[0], WITHHELD[1] + 1))
    assert [state[f - 1] for f in withheld] == ['RGB only'] * len(withheld)
    # frame 1 may be RGB-only (X cannot be expected before the first X frame arrives)
    x_alone = [*range(RGB_WITHHELD[0], RGB_WITHHELD[1] + 1), BAD_FRAME]
    for f in [*range(2, WITHHELD[0]), *range(WITHHELD[1] + 1, N_FRAMES + 1)]:
        want = 'X only' if f in x_alone else 'RGB-X'
        assert state[f - 1] == want, f'frame {f}: {state[f - 1]!r}'
    diags = _statuses(replay['diagnostics'], 'sync')
    warn = [d for d in diags if d['values']['x_state'] == 'RGB only']
    assert warn and all(d['level'] == 1 for d in warn)
    assert 'RGB alone' in warn[0]['message']
    assert int(warn[0]['values']['x_state_since_stamp_ns']) == replay['stamps'][WITHHELD[0] - 1]
    # logged once per change, not per frame: X is lost in the withheld stretch (and maybe at
    # the end, when the player stops)
    log = replay['node_log']
    assert log.count('X resumed') == 1
    assert 1 <= log.count('X lost') <= 2


def test_rgb_withheld_stretch_falls_back_to_x_and_recovers(replay) -> None:
    diags = _statuses(replay['diagnostics'], 'sync')
    warn = [d for d in diags if d['values']['x_state'] == 'X only']
    assert warn and all(d['level'] == 1 for d in warn)
    assert 'tracking on X alone' in warn[0]['message']
    assert int(warn[0]['values']['x_state_since_stamp_ns']) == \
        replay['stamps'][RGB_WITHHELD[0] - 1]
    # the withheld stretch and the rejected frame: RGB lost twice, resumed twice
    log = replay['node_log']
    assert log.count('RGB lost') == 2 and log.count('RGB resumed') == 2


def test_diagnostics_count_pairs_drops_and_the_bad_frame(replay) -> None:
    diags = replay['diagnostics']
    sync = _statuses(diags, 'sync')[-1]['values']
    tracker = _statuses(diags, 'tracker')[-1]['values']
    rgb = _statuses(diags, 'input rgb')[-1]['values']
    x = _statuses(diags, 'input x')[-1]['values']
    n_only = len(range(WITHHELD[0], WITHHELD[1] + 1))
    n_x_alone = len(range(RGB_WITHHELD[0], RGB_WITHHELD[1] + 1)) + 1     # + the bad frame
    processed = N_FRAMES
    assert int(tracker['frames_processed']) == processed
    assert int(sync['rgb_alone_total']) in (n_only, n_only + 1)
    assert int(sync['x_alone_total']) == n_x_alone
    assert int(sync['pairs_total']) == processed - int(sync['rgb_alone_total']) - n_x_alone
    assert int(rgb['frames_in_total']) == N_FRAMES - (n_x_alone - 1)    # the bad one arrived
    assert int(x['frames_in_total']) == N_FRAMES - n_only
    # the bad RGB frame is the only RGB frame not answered: counted, with its reason
    assert int(rgb['bad_frames_total']) == 1 and int(rgb['dropped_total']) == 1
    assert int(tracker.get('bad_frames.rgb.encoding', rgb['bad_frames_total'])) == 1
    assert int(sync['dropped_total']) == sum(int(v) for k, v in sync.items()
                                             if k.startswith('dropped_total.'))
    assert tracker['device'] == 'cpu' and tracker['precision'] in ('fp32', 'bf16')
    assert float(tracker['latency_ms_mean_total']) > 0
    assert max(float(d['values']['rate_hz']) for d in _statuses(diags, 'input rgb')) > 0
    assert any('bad frame' in d['message'] for d in _statuses(diags, 'input rgb'))
    assert 'bad frame #1 on rgb (encoding)' in replay['node_log']


def test_node_keeps_running_and_exits_cleanly(replay) -> None:
    assert replay['alive'], 'tracker_node died during the replay'
    assert replay['exit_code'] == 0
