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

"""OpenCV peer trackers (CSRT, KCF, MIL, NanoTrack v2) and tracker specs, on generated frames.

The target is a 40 x 40 two-colour square moving 3 px per frame to the right over a fixed random
texture for 40 frames (117 px in all). A tracker that loses it and stays where it was ends about
117 px away; the bound of 10 px (a quarter of the target side) leaves room for the one-to-three
pixel jitter and the slightly different box sizes these trackers report (measured: CSRT 1.4,
KCF 3.0, MIL 2.2, Nano 3.5 px) while failing anything that drifted off the target.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.data.sequences import load_sequence
from rgbx_tracker_ros.eval import peers
from rgbx_tracker_ros.eval.report import score_sequence
from rgbx_tracker_ros.eval.runner import run_sequence

SHARED = Path(__file__).resolve().parents[1].parent / 'shared'
NANO_DIR = SHARED / 'peers' / 'nanotrack_v2'
H, W, N, SIDE, STEP, X0, Y0 = 240, 320, 40, 40, 3, 60, 100
BOUND_PX = SIDE / 4


def _background() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


def _frame(i: int, background: np.ndarray) -> np.ndarray:
    frame = background.copy()
    x = X0 + STEP * i
    frame[Y0:Y0 + SIDE, x:x + SIDE] = (255, 0, 0)
    frame[Y0 + 10:Y0 + 30, x + 10:x + 30] = (0, 255, 255)
    return frame


def _centre_error(box, i: int) -> float:
    cx, cy = X0 + STEP * i + SIDE / 2, Y0 + SIDE / 2
    return float(np.hypot(box[0] + box[2] / 2 - cx, box[1] + box[3] / 2 - cy))


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(old)


@pytest.mark.parametrize('name', ['csrt', 'kcf', 'mil', 'nano'])
def test_peer_follows_moving_square_on_rgb(name):
    bg = _background()
    tracker = peers.OpenCVPeer(name, 'rgb', nano_dir=NANO_DIR)
    tracker.initialize(_frame(0, bg), None, (X0, Y0, SIDE, SIDE))
    assert tracker.initialized
    for i in range(1, N):
        box, score = tracker.track(_frame(i, bg))
        assert box.shape == (4,) and box.dtype == np.float64
        assert 0.0 <= score <= 1.0
    assert _centre_error(box, N - 1) < BOUND_PX, (name, box)
    assert tracker.failures == 0
    if name == 'nano':
        assert score > 0.5          # NanoTrack's own confidence on an easy target
    else:
        assert score == 1.0         # no confidence output: 1 on a successful update


def test_x_source_tracks_the_x_frame_and_rgb_source_does_not():
    """Target visible only in X: the -x peer follows it, the -rgb peer (blank texture) stays."""
    bg = _background()
    rgb = bg.copy()                                       # no target in RGB at all
    results = {}
    for source in ('x', 'rgb'):
        tracker = peers.OpenCVPeer('csrt', source)
        tracker.initialize(rgb, _frame(0, bg), (X0, Y0, SIDE, SIDE))
        for i in range(1, N):
            box, _ = tracker.track(rgb, _frame(i, bg))
        results[source] = _centre_error(box, N - 1)
    assert results['x'] < BOUND_PX
    assert results['rgb'] > 5 * BOUND_PX                  # lost: the target moved 117 px


def test_x_peer_on_generated_rgbt_sequence_via_runner(tmp_path):
    """run_sequence + score_sequence with a peer on an RGBT234-style folder (thermal target)."""
    root = tmp_path / 'hot_square'
    (root / 'visible').mkdir(parents=True)
    (root / 'infrared').mkdir()
    bg = _background()[:, :, 0]
    gt = []
    for i in range(12):
        x = X0 + STEP * i
        ir = np.full((H, W), 30, np.uint8)
        ir[Y0:Y0 + SIDE, x:x + SIDE] = 220
        ir[Y0 + 10:Y0 + 30, x + 10:x + 30] = 120
        cv2.imwrite(str(root / 'visible' / f'{i + 1:05d}v.png'), bg)
        cv2.imwrite(str(root / 'infrared' / f'{i + 1:05d}i.png'), ir)
        gt.append(f'{x},{Y0},{SIDE},{SIDE}')
    (root / 'visible.txt').write_text('\n'.join(gt) + '\n')
    seq = load_sequence(root)
    for source, expect_pr in (('x', 1.0), ('rgb', None)):
        spec = peers.parse_tracker_spec(f'kcf-{source}')
        run = run_sequence(peers.build_tracker(spec), seq, use_x=spec.use_x)
        score = score_sequence(seq, run.boxes_xywh)
        if expect_pr is not None:
            assert score.pr == pytest.approx(expect_pr)
            assert score.sr > 0.7
        else:
            assert score.sr < 0.5                         # RGB has no target to follow
    assert run.x_used.sum() == 0                          # the -rgb peer never decoded X


@pytest.mark.parametrize('name', ['csrt', 'kcf'])
def test_failed_update_keeps_last_box_with_score_zero(name):
    bg = _background()
    tracker = peers.OpenCVPeer(name)
    tracker.initialize(_frame(0, bg), None, (X0, Y0, SIDE, SIDE))
    last, _ = tracker.track(_frame(1, bg))
    box, score = tracker.track(np.zeros_like(bg))          # target (and everything) gone
    assert score == 0.0 and tracker.failures == 1
    np.testing.assert_array_equal(box, last)


def test_nano_loads_the_real_onnx_files_and_reports_missing_ones(tmp_path, monkeypatch):
    backbone, head = peers.nano_files(NANO_DIR)
    assert backbone.stat().st_size > 100_000 and head.stat().st_size > 100_000
    peers.OpenCVPeer('nano', nano_dir=NANO_DIR)           # loads in cv2.TrackerNano
    with pytest.raises(peers.PeerError, match='nanotrack_backbone_sim.onnx'):
        peers.OpenCVPeer('nano', nano_dir=tmp_path)
    monkeypatch.setenv(peers.NANO_DIR_ENV, str(tmp_path / 'nowhere'))
    with pytest.raises(peers.PeerError, match='nowhere'):
        peers.OpenCVPeer('nano')
    (tmp_path / 'nanotrack_backbone_sim.onnx').write_bytes(b'not an onnx file')
    (tmp_path / 'nanotrack_head_sim.onnx').write_bytes(b'not an onnx file')
    with pytest.raises(peers.PeerError, match='cannot load'):
        peers.OpenCVPeer('nano', nano_dir=tmp_path)


def test_peer_input_errors():
    bg = _background()
    tracker = peers.OpenCVPeer('kcf', 'x')
    with pytest.raises(RuntimeError, match='before initialize'):
        tracker.track(bg, bg)
    with pytest.raises(peers.PeerError, match='x=None'):
        tracker.initialize(bg, None, (X0, Y0, SIDE, SIDE))
    with pytest.raises(peers.PeerError, match='uint8'):
        tracker.initialize(bg, bg.astype(np.float32), (X0, Y0, SIDE, SIDE))
    with pytest.raises(ValueError, match='w > 0'):
        tracker.initialize(bg, bg, (X0, Y0, 0, SIDE))
    with pytest.raises(ValueError, match='outside'):
        tracker.initialize(bg, bg, (W + 5, Y0, SIDE, SIDE))
    with pytest.raises(peers.PeerError, match='unknown OpenCV peer'):
        peers.OpenCVPeer('boosting')
    with pytest.raises(peers.PeerError, match='source'):
        peers.OpenCVPeer('kcf', 'depth')


def test_tracker_specs_and_registry(tmp_path):
    registry = peers.tracker_registry()
    assert {'csrt', 'kcf', 'mil', 'nano', 't224', 's224', 'b224'} <= set(registry)
    spec = peers.parse_tracker_spec('csrt-x')
    assert (spec.label, spec.name, spec.source, spec.family) == ('csrt-x', 'csrt', 'x', 'opencv')
    assert spec.use_x and spec.needs_x
    assert peers.parse_tracker_spec('kcf').label == 'kcf-rgb'
    ckpt = tmp_path / 'm.pt'
    ckpt.write_bytes(b'x')
    ours = peers.parse_tracker_spec(f't224:{ckpt}')
    assert (ours.label, ours.source, ours.checkpoint) == ('t224', 'rgbx', ckpt)
    assert ours.use_x and not ours.needs_x
    rgb_only = peers.parse_tracker_spec(f'demo=t224-rgb:{ckpt}')
    assert (rgb_only.label, rgb_only.source, rgb_only.use_x) == ('demo', 'rgb', False)
    assert peers.parse_tracker_spec('test_tiny:random').checkpoint is None
    # the cache fingerprint follows the checkpoint file
    before = ours.fingerprint()
    ckpt.write_bytes(b'xy')
    assert ours.fingerprint() != before
    with pytest.raises(peers.PeerError, match='valid: OpenCV peers csrt, kcf, mil, nano'):
        peers.parse_tracker_spec('goturn-rgb')
    with pytest.raises(peers.PeerError, match='needs a checkpoint'):
        peers.parse_tracker_spec('t224')
    with pytest.raises(peers.PeerError, match='does not exist'):
        peers.parse_tracker_spec(f't224:{tmp_path / "missing.pt"}')
    with pytest.raises(peers.PeerError, match='no checkpoint'):
        peers.parse_tracker_spec(f'csrt-rgb:{ckpt}')
    with pytest.raises(peers.PeerError, match='-rgb or -x'):
        peers.parse_tracker_spec('csrt-rgbx')


def test_our_tracker_builds_from_the_same_registry():
    tracker = peers.build_tracker('test_tiny-rgb:random', device='cpu')
    bg = _background()
    tracker.initialize(_frame(0, bg), None, (X0, Y0, SIDE, SIDE))
    box, score = tracker.track(_frame(1, bg), None)
    assert box.shape == (4,) and np.all(np.isfinite(box)) and 0.0 <= score <= 1.0
