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

"""RgbxTracker: crop / peak / back-mapping with a scripted network, errors, missing-X path."""

from pathlib import Path

import numpy as np
import pytest
import torch

from rgbx_tracker_ros.core.crop import hann2d
from rgbx_tracker_ros.core.model_api import TrackerOutput
from rgbx_tracker_ros.core.tracker import (
    RgbxTracker, cpu_has_native_bf16, resolve_device, resolve_precision)
from rgbx_tracker_ros.data.synthetic import encode_sequence_x, generate_sequence
from rgbx_tracker_ros.models import create_model
from rgbx_tracker_ros.models.factory import load_tracker

CHECKPOINT = Path(__file__).resolve().parents[1] / 'checkpoints' / 't224_demo.pt'


class ScriptedNet(torch.nn.Module):
    """Puts the score peak at a chosen cell with a chosen box size; records what X it got."""

    template_size, search_size, feat_size = 64, 128, 8

    def __init__(self, cell=(4, 4), size=(0.25, 0.25), offset=(0.5, 0.5)):
        super().__init__()
        self.cell, self.size, self.offset = cell, size, offset
        self.calls = []

    def encode_template(self, z, zx=None):
        """Template 'tokens' that only record whether the template had X."""
        return torch.tensor([float(zx is not None)])

    def forward(self, z, x, zx=None, xx=None, template_tokens=None):
        template_had_x = bool(template_tokens[0]) if template_tokens is not None \
            else zx is not None
        self.calls.append((template_had_x, xx is not None))
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
    trk = load_tracker(None, 'test_tiny', 'cpu')
    trk.initialize(seq.rgb[0], xs[0], seq.boxes_xywh[0])
    for i in range(1, 6):
        box, score = trk.track(seq.rgb[i], xs[i] if i < 3 else None)
        assert np.all(np.isfinite(box)) and 0.0 <= score <= 1.0
        assert box[2] >= 10 and box[3] >= 10


# ------------------------------------------------------------------------------ precision

AVX512_BF16_CPUINFO = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n'
AVX2_CPUINFO = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n'


def test_cpu_bf16_detection_from_cpuinfo():
    assert cpu_has_native_bf16(AVX512_BF16_CPUINFO)
    assert cpu_has_native_bf16('flags : avx2 amx_bf16 amx_tile\n')
    assert not cpu_has_native_bf16(AVX2_CPUINFO)
    assert not cpu_has_native_bf16('')


def test_resolve_precision():
    cpu = torch.device('cpu')
    assert resolve_precision('auto', cpu, AVX512_BF16_CPUINFO) is torch.bfloat16
    assert resolve_precision('auto', cpu, AVX2_CPUINFO) is None
    # CUDA: fp32 (batch-1 tracking is launch-bound; the H100 ran every variant fastest in fp32)
    assert resolve_precision('auto', torch.device('cuda'), AVX512_BF16_CPUINFO) is None
    assert resolve_precision('fp32', cpu, AVX512_BF16_CPUINFO) is None
    assert resolve_precision('BF16', cpu, AVX2_CPUINFO) is torch.bfloat16
    with pytest.raises(ValueError, match='fp16 needs a CUDA device'):
        resolve_precision('fp16', cpu)
    with pytest.raises(ValueError, match='unknown precision'):
        resolve_precision('int8', cpu)


def test_cached_template_tokens_equal_the_full_forward():
    """encode_template once + template_tokens gives the output of the crops every frame."""
    torch.manual_seed(0)
    net = create_model('test_tiny').eval()
    tz, sx = torch.randn(2, 3, net.template_size, net.template_size), \
        torch.randn(2, 3, net.search_size, net.search_size)
    with torch.inference_mode():
        for zx, xx in ((tz * 0.5, sx * 0.5), (None, sx * 0.5), (tz * 0.5, None), (None, None)):
            full = net(tz, sx, zx, xx)
            cached = net(None, sx, None, xx, template_tokens=net.encode_template(tz, zx))
            for a, b in ((full.score_map, cached.score_map), (full.size_map, cached.size_map),
                         (full.offset_map, cached.offset_map)):
                torch.testing.assert_close(a, b)
        with pytest.raises(ValueError, match='template_tokens'):
            net(None, sx)


def test_bf16_tracks_like_fp32():
    """bfloat16 autocast finds the same box as float32, frame by frame, with the demo checkpoint
    on a generated thermal sequence (each step starts both from the true previous box, so the
    comparison does not compound); boxes stay float64 pixels."""
    seq = generate_sequence('thermal', 10, 320, 256, seed=5, num_occlusions=0)
    xs = encode_sequence_x(seq)
    trackers = {p: load_tracker(CHECKPOINT, device='cpu', precision=p)
                for p in ('fp32', 'bf16')}
    assert [t.precision for t in trackers.values()] == ['fp32', 'bf16']
    diffs = []
    for k in range(1, len(seq)):
        boxes = []
        for trk in trackers.values():
            trk.initialize(seq.rgb[k - 1], xs[k - 1], seq.boxes_xywh[k - 1])
            box, score = trk.track(seq.rgb[k], xs[k])
            assert box.dtype == np.float64 and 0.0 <= score <= 1.0
            boxes.append(box)
        diffs.append(np.abs(boxes[0] - boxes[1]).max())
    assert np.median(diffs) < 1.0 and max(diffs) < 4.0, diffs


class BlobNet(torch.nn.Module):
    """Scores each cell by the brightness of the search crop there: finds a bright blob."""

    template_size, search_size, feat_size = 64, 128, 8

    def encode_template(self, z, zx=None):
        return torch.zeros(1, 1)

    def forward(self, z, x, zx=None, xx=None, template_tokens=None):
        b = x.shape[0]
        cells = torch.nn.functional.avg_pool2d(x.mean(1, keepdim=True), 16)   # (B, 1, 8, 8)
        score = torch.sigmoid((cells - 1.0) * 4)                # bright (normalised > 1) -> ~1
        size = torch.full((b, 2, 8, 8), 0.125)
        offset = torch.full((b, 2, 8, 8), 0.5)
        return TrackerOutput(score, size, offset, {})


def _blob_frame(x, y, h=240, w=320):
    img = np.zeros((h, w, 3), np.uint8)
    img[y:y + 16, x:x + 16] = 255
    return img


def test_global_search_finds_a_target_that_jumped_out_of_the_search_region():
    """A cut: the blob jumps 200 px, far outside the 64 px search region. Without re-detection
    the tracker stays lost; with it, it is back on the target on the same frame."""
    results = {}
    for threshold in (0.0, 0.5):
        trk = RgbxTracker(BlobNet(), 'blob', 'cpu', use_window=True,
                          redetect_threshold=threshold)
        trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
        box, _ = trk.track(_blob_frame(44, 42), None)
        assert abs(box[0] - 44) < 6                              # local tracking works
        results[threshold] = trk.track(_blob_frame(250, 200), None), trk
    (box_off, score_off), _ = results[0.0]
    (box_on, score_on), trk_on = results[0.5]
    assert abs(box_off[0] - 250) > 100 and score_off < 0.5
    assert abs(box_on[0] + 8 - 258) < 10 and abs(box_on[1] + 8 - 208) < 10 and score_on > 0.5
    assert trk_on.redetections == 1 and trk_on.redetections_moved == 1


class CountingBlobNet(BlobNet):
    """BlobNet that records the batch size of every call."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, z, x, zx=None, xx=None, template_tokens=None):
        self.batches.append(x.shape[0])
        return super().forward(z, x, zx, xx, template_tokens)


def test_bounded_redetection_spreads_the_global_search_over_frames():
    """redetect_tiles_per_frame=2: each low-score frame searches two regions, round robin; the
    cut is found within ceil(regions / 2) frames, never with more than 1 + 2 regions a frame,
    and the unbounded tracker finds it at once with every region."""
    found_after = {}
    for per_frame in (0, 2):
        net = CountingBlobNet()
        trk = RgbxTracker(net, 'blob', 'cpu', use_window=True, redetect_threshold=0.5,
                          redetect_tiles_per_frame=per_frame)
        trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
        regions = len(trk.tile_centers(240, 320)[0])
        assert regions > 2
        for k in range(1, regions + 1):
            box, score = trk.track(_blob_frame(250, 200), None)
            if score > 0.5:
                break
        assert abs(box[0] + 8 - 258) < 10 and abs(box[1] + 8 - 208) < 10
        found_after[per_frame] = k
        searches = net.batches[1::2]           # [local, global, local, global, ...]
        if per_frame:
            assert max(searches) == 2 and k <= -(-regions // 2)
        else:
            assert searches == [regions] and k == 1
    assert found_after[2] > 1      # the bottom-right target is not among the first regions
    # a confident frame restarts the scan at the first region
    trk = RgbxTracker(CountingBlobNet(), 'blob', 'cpu', redetect_threshold=0.5,
                      redetect_tiles_per_frame=2)
    trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
    trk.track(np.zeros((240, 320, 3), np.uint8), None)
    assert trk._scan_cursor == 2
    trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
    assert trk._scan_cursor == 0
    with pytest.raises(ValueError, match='redetect_tiles_per_frame'):
        RgbxTracker(BlobNet(), 'blob', 'cpu', redetect_tiles_per_frame=-1)


def test_tiles_cover_the_frame_within_the_cap():
    trk = RgbxTracker(BlobNet(), 'blob', 'cpu', redetect_threshold=0.5, redetect_max_tiles=6)
    trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
    for h, w in ((240, 320), (480, 640), (64, 64)):
        centers, side = trk.tile_centers(h, w)
        assert 1 <= len(centers) <= 6
        # every pixel of the frame lies in some region
        ys, xs = np.mgrid[0:h:7, 0:w:7]
        covered = np.zeros(xs.shape, bool)
        for cx, cy in centers:
            covered |= (np.abs(xs - cx) <= side / 2 + 1) & (np.abs(ys - cy) <= side / 2 + 1)
        assert covered.all(), (h, w)
    with pytest.raises(ValueError, match='redetect_threshold'):
        RgbxTracker(BlobNet(), 'blob', 'cpu', redetect_threshold=1.5)


def test_global_search_keeps_the_local_box_when_nothing_confident_is_found():
    """Re-detection only moves to a confident detection: a dim blob elsewhere is not one."""
    trk = RgbxTracker(BlobNet(), 'blob', 'cpu', use_window=True, redetect_threshold=0.5)
    trk.initialize(_blob_frame(40, 40), None, (40, 40, 16, 16))
    dim = _blob_frame(250, 200) // 2                  # the only blob, at half brightness
    box, score = trk.track(dim, None)
    assert trk.redetections == 1 and trk.redetections_moved == 0
    assert abs(box[0] - 40) < 40 and score < 0.5


def test_size_lr_moves_the_size_part_of_the_way_and_keeps_the_centre():
    # Predicted size 0.5 * 128 / 2 = 32 px against the 16 px box; centre unchanged.
    for size_lr, side in ((1.0, 32.0), (0.25, 20.0)):
        net = ScriptedNet(cell=(3, 3), size=(0.5, 0.5), offset=(1.0, 1.0))
        trk = RgbxTracker(net, 'scripted', 'cpu', use_window=False, size_lr=size_lr)
        trk.initialize(_frame(), None, (60, 40, 16, 16))
        box, _ = trk.track(_frame(), None)
        np.testing.assert_allclose(box[2:], [side, side], atol=1e-6)
        np.testing.assert_allclose(box[:2] + box[2:] / 2, [68, 48], atol=1e-6)
    with pytest.raises(ValueError, match='size_lr'):
        RgbxTracker(ScriptedNet(), 'scripted', 'cpu', size_lr=0.0)
