"""RgbxTracker: crop / peak / back-mapping with a scripted network, errors, missing-X path."""

import numpy as np
import pytest
import torch

from rgbx_tracker_ros.core.crop import hann2d
from rgbx_tracker_ros.core.tracker import RgbxTracker, resolve_device
from rgbx_tracker_ros.models.rgbx_vit import TrackerOutput


class ScriptedNet(torch.nn.Module):
    """Puts the score peak at a chosen cell with a chosen box size; records what X it got."""

    template_size, search_size, feat_size = 64, 128, 8

    def __init__(self, cell=(4, 4), size=(0.25, 0.25), offset=(0.5, 0.5)):
        super().__init__()
        self.cell, self.size, self.offset = cell, size, offset
        self.calls = []

    def forward(self, z, x, zx=None, xx=None):
        self.calls.append((zx is not None, xx is not None))
        score = torch.full((1, 1, 8, 8), 0.1)
        score[0, 0, self.cell[1], self.cell[0]] = 0.9
        size = torch.tensor(self.size).view(1, 2, 1, 1).expand(1, 2, 8, 8)
        offset = torch.tensor(self.offset).view(1, 2, 1, 1).expand(1, 2, 8, 8)
        return TrackerOutput(score, size.clone(), offset.clone(), {})


def _frame(h=120, w=160):
    return np.zeros((h, w, 3), np.uint8)


def test_peak_at_centre_keeps_the_box():
    # search side = ceil(sqrt(16*16) * 4) = 64 px -> 128 px crop (factor 2); cell 4 + 0.5 offset is
    # 4.5 / 8 of the crop, i.e. the centre; size 0.25 * 128 / 2 = 16 px.
    net = ScriptedNet(cell=(3, 3), offset=(1.0, 1.0))
    trk = RgbxTracker(net, 'scripted', 'cpu', use_window=False)
    trk.initialize(_frame(), _frame(), (60, 40, 16, 16))
    box, score = trk.track(_frame(), _frame())
    np.testing.assert_allclose(box, [60, 40, 16, 16], atol=1e-6)
    assert score == pytest.approx(0.9)


def test_peak_shift_moves_the_box_by_crop_pixels():
    net = ScriptedNet(cell=(5, 3), offset=(1.0, 1.0))       # one... two cells right of centre
    trk = RgbxTracker(net, 'scripted', 'cpu', use_window=False)
    trk.initialize(_frame(), None, (60, 40, 16, 16))
    box, _ = trk.track(_frame(), None)
    # 2 cells of 8 over a 64 px search region = 16 px to the right.
    np.testing.assert_allclose(box, [76, 40, 16, 16], atol=1e-6)
    assert net.calls[-1] == (False, False)                   # RGB-only path all the way


def test_hanning_window_prefers_the_peak_near_the_centre():
    net = ScriptedNet(cell=(0, 0))
    trk = RgbxTracker(net, 'scripted', 'cpu', use_window=True)
    # With the window a corner peak of 0.9 loses to centre cells: 0.1 * hann(centre) vs
    # 0.9 * hann(corner).
    w = hann2d(8)
    assert 0.9 * w[0, 0] < 0.1 * w.max()
    trk.initialize(_frame(), None, (60, 40, 16, 16))
    box, score = trk.track(_frame(), None)
    assert abs(box[0] - 60) <= 8 and score == pytest.approx(0.1)


def test_box_is_clipped_into_the_image():
    net = ScriptedNet(cell=(7, 7), size=(1.0, 1.0), offset=(1.0, 1.0))
    trk = RgbxTracker(net, 'scripted', 'cpu', use_window=False)
    trk.initialize(_frame(), None, (140, 100, 16, 16))
    box, _ = trk.track(_frame(), None)
    assert box[0] >= 0 and box[1] >= 0
    assert box[0] + box[2] <= 160 and box[1] + box[3] <= 120


def test_x_missing_mid_run_uses_the_rgb_only_search_path():
    net = ScriptedNet()
    trk = RgbxTracker(net, 'scripted', 'cpu')
    trk.initialize(_frame(), _frame(), (60, 40, 16, 16))
    trk.track(_frame(), _frame())
    trk.track(_frame(), None)
    assert net.calls == [(True, True), (True, False)]


def test_errors():
    trk = RgbxTracker(ScriptedNet(), 'scripted', 'cpu')
    with pytest.raises(RuntimeError, match='before initialize'):
        trk.track(_frame())
    with pytest.raises(ValueError, match='w > 0'):
        trk.initialize(_frame(), None, (1, 1, 0, 5))
    with pytest.raises(ValueError, match='outside'):
        trk.initialize(_frame(), None, (500, 1, 10, 5))
    with pytest.raises(ValueError, match='uint8'):
        trk.initialize(np.zeros((10, 10), np.float32), None, (1, 1, 5, 5))
    with pytest.raises(ValueError, match='differ in size'):
        trk.initialize(_frame(), _frame(60, 80), (1, 1, 5, 5))
    trk.initialize(_frame(), None, (60, 40, 16, 16))
    trk.reset()
    assert not trk.initialized


def test_resolve_device():
    assert resolve_device('cpu').type == 'cpu'
    assert resolve_device('auto').type in ('cpu', 'cuda')
    with pytest.raises(ValueError):
        resolve_device('tpu9')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            resolve_device('cuda')


def test_random_weight_tracker_runs_end_to_end_on_a_synthetic_sequence():
    from rgbx_tracker_ros.data.synthetic import encode_sequence_x, generate_sequence
    from rgbx_tracker_ros.core.types import Modality
    seq = generate_sequence(Modality.THERMAL, 6, width=160, height=128, seed=3)
    xs = encode_sequence_x(seq)
    trk = RgbxTracker.from_checkpoint(None, 'test_tiny', 'cpu')
    trk.initialize(seq.rgb[0], xs[0], seq.boxes_xywh[0])
    for i in range(1, 6):
        box, score = trk.track(seq.rgb[i], xs[i] if i < 3 else None)
        assert np.all(np.isfinite(box)) and 0.0 <= score <= 1.0
        assert box[2] >= 10 and box[3] >= 10
