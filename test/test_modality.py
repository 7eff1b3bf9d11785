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

"""Encodings of core/modality.py on the real recordings in ../shared/data/real."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core.modality import (
    EVENT_DTYPE, EVENT_NEGATIVE_RGB, EVENT_POSITIVE_RGB, EncodingError, encode_rgb, encode_x,
    events_to_frame, load_events_npy, normalize_thermal16, render_events)
from rgbx_tracker_ros.core.types import Modality

REAL = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'real'
KINECT_PAIR = REAL / 'rgbd_slambook2' / 'kinect_pair'
KINECT_CH5 = REAL / 'rgbd_slambook2' / 'kinect_ch5'
EVENTS_NPY = REAL / 'prophesee_evt3' / 'evt3_sample.npy'
TNO = REAL / 'tno_nato_camp'

JET_LUT = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0]


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f'cannot read {path}'
    return img


def _jet_index(colour_bgr: np.ndarray) -> np.ndarray:
    """Invert OpenCV's JET: (H, W, 3) BGR colours -> (H, W) colormap index, exact match only."""
    key = lambda c: (c[..., 0].astype(np.int64) << 16) | (c[..., 1].astype(np.int64) << 8) \
        | c[..., 2].astype(np.int64)  # noqa: E731
    lut_keys = key(JET_LUT)
    assert np.unique(lut_keys).size == 256  # JET colours are distinct, so inversion is exact
    order = np.argsort(lut_keys)
    k = key(colour_bgr)
    pos = np.clip(np.searchsorted(lut_keys[order], k), 0, 255)
    assert np.all(lut_keys[order][pos] == k), 'a pixel colour is not a JET colour'
    return order[pos]


def _kinect_pair_mm(name: str) -> np.ndarray:
    raw = _read(KINECT_PAIR / name)  # uint16, 5000 per metre
    assert raw.dtype == np.uint16
    return np.round(raw.astype(np.float64) / 5.0).astype(np.uint16)  # our 16UC1 is millimetres


# ---------------------------------------------------------------------------------------- RGB

def test_rgb_encodings_on_kinect_colour():
    bgr = _read(KINECT_PAIR / 'color_1.png')
    rgb = encode_rgb(bgr, 'bgr8')
    assert rgb.shape == bgr.shape and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, bgr[:, :, ::-1])
    np.testing.assert_array_equal(encode_rgb(rgb, 'rgb8'), rgb)


def test_mono8_visible_is_replicated():
    vis = _read(TNO / 'visible' / '00010v.png')
    assert vis.ndim == 2 and vis.dtype == np.uint8
    out = encode_rgb(vis, 'mono8')
    assert out.shape == vis.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], vis)
    np.testing.assert_array_equal(encode_rgb(vis[:, :, None], 'mono8'), out)


@pytest.mark.parametrize('image, encoding, fragment', [
    (np.zeros((4, 4), np.uint8), 'rgb8', '(H, W, 3) uint8'),
    (np.zeros((4, 4, 3), np.uint16), 'bgr8', 'dtype uint16'),
    (np.zeros((4, 4, 3), np.uint8), 'mono8', 'shape (4, 4, 3)'),
    (np.zeros((4, 4, 3), np.uint8), 'nv12', 'rgb8, bgr8, mono8'),
    ([[1, 2], [3, 4]], 'rgb8', 'list'),
])
def test_encode_rgb_rejects_bad_input(image, encoding, fragment):
    with pytest.raises(EncodingError) as err:
        encode_rgb(image, encoding)
    assert encoding in str(err.value) and fragment in str(err.value)


# -------------------------------------------------------------------------------------- depth

@pytest.mark.parametrize('name', ['depth_1.png', 'depth_2.png'])
def test_kinect_depth_follows_reference_clip_and_jet(name):
    mm = _kinect_pair_mm(name)
    out = encode_x(mm, '16UC1', Modality.DEPTH)
    assert out.shape == mm.shape + (3,) and out.dtype == np.uint8
    idx = _jet_index(out)
    holes = mm == 0
    assert holes.mean() > 0.2  # Kinect: about a third of the pixels have no depth
    # holes are 0 mm as in DepthTrack PNGs: bottom of the colormap
    assert np.all(idx[holes] == 0)
    np.testing.assert_array_equal(out[holes][0], JET_LUT[0])
    valid = ~holes
    clip = min(3 * np.median(mm[valid]), 10000)
    assert np.any(mm[valid] >= clip)
    # frame min is 0 (holes), max is the clip -> index = 255 * min(d, clip) / clip
    expected = 255 * np.minimum(mm[valid].astype(np.float64), clip) / clip
    assert np.abs(idx[valid] - expected).max() <= 1.0
    assert np.all(idx[valid][mm[valid] >= clip] == 255)
    # monotonic: nearer never gets a higher index than farther
    order = np.argsort(mm[valid], kind='stable')
    assert np.all(np.diff(idx[valid][order].astype(int)) >= 0)


def test_kinect_depth_32fc1_metres_matches_16uc1_millimetres():
    raw = _read(KINECT_PAIR / 'depth_2.png')
    metres = raw.astype(np.float32) / 5000.0
    metres[raw == 0] = np.nan  # float depth images mark holes as NaN
    mm = _kinect_pair_mm('depth_2.png')
    a = _jet_index(encode_x(mm, '16UC1', 'depth')).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # NaN handling must not warn
        b = _jet_index(encode_x(metres, '32FC1', 'depth')).astype(int)
    assert np.abs(a - b).max() <= 1
    assert np.all(b[raw == 0] == 0)


def test_32fc1_nan_inf_and_negative_are_holes():
    metres = np.full((6, 8), 2.0, np.float32)
    metres[:, 4:] = 4.0
    metres[0, 0], metres[1, 1], metres[2, 2], metres[3, 3] = np.nan, np.inf, -np.inf, -1.0
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        idx = _jet_index(encode_x(metres, '32FC1', Modality.DEPTH))
    assert idx[0, 0] == idx[1, 1] == idx[2, 2] == idx[3, 3] == 0
    # frame min 0 (holes); clip = min(3 * median, 10 m) = 10 m > 4 m, so 4 m -> 255, 2 m -> 128
    assert np.all(idx[:, 4:] == 255)
    assert idx[5, 0] == 128
    all_nan = np.full((5, 5), np.nan, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert np.all(_jet_index(encode_x(all_nan, '32FC1', Modality.DEPTH)) == 0)


@pytest.mark.parametrize('i', [1, 2, 4])
def test_kinect_ch5_pgm_millimetres(i):
    mm = _read(KINECT_CH5 / 'depth' / f'{i}.pgm')  # uint16, 1000 per metre = millimetres
    assert mm.dtype == np.uint16
    idx = _jet_index(encode_x(mm, '16UC1', Modality.DEPTH)).astype(int)
    valid = mm > 0
    clip = min(3 * np.median(mm[valid]), 10000)
    top = min(clip, mm.max())  # without clipped pixels the frame max is the farthest depth
    expected = 255 * np.minimum(mm[valid].astype(np.float64), clip) / top
    assert np.abs(idx[valid] - expected).max() <= 1.0
    assert np.all(idx[~valid] == 0)
    # the 'mono16' alias some depth drivers publish gives the same picture
    np.testing.assert_array_equal(encode_x(mm, 'mono16', 'depth'), encode_x(mm, '16UC1', 'depth'))


# ------------------------------------------------------------------------------------- events

@pytest.fixture(scope='module')
def prophesee():
    return load_events_npy(EVENTS_NPY)


def test_load_events_npy(prophesee):
    assert prophesee.dtype == EVENT_DTYPE
    assert prophesee.shape == (219596,)  # SOURCES.md
    raw = np.load(EVENTS_NPY)
    np.testing.assert_array_equal(prophesee['t'], raw['t'])
    np.testing.assert_array_equal(prophesee['x'], raw['x'])
    assert set(np.unique(prophesee['p'])) == {0, 1}


def test_load_events_npy_rejects_plain_arrays(tmp_path):
    path = tmp_path / 'plain.npy'
    np.save(path, np.zeros((5, 4), np.int64))
    with pytest.raises(EncodingError, match='structured array'):
        load_events_npy(path)
    signed = np.zeros(3, dtype=[('t', '<i8'), ('x', '<u2'), ('y', '<u2'), ('p', 'i1')])
    signed['p'] = [1, -1, 1]
    np.save(tmp_path / 'signed.npy', signed)
    np.testing.assert_array_equal(load_events_npy(tmp_path / 'signed.npy')['p'], [1, 0, 1])


def test_prophesee_events_to_frame_full(prophesee):
    frame = events_to_frame(prophesee, 720, 1280)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    painted = np.any(frame != 255, axis=2)
    xs, ys = prophesee['x'].astype(int), prophesee['y'].astype(int)
    flat = np.unique(ys * 1280 + xs)
    assert painted.sum() == flat.size  # one coloured pixel per distinct event pixel
    assert np.all(painted.ravel()[flat])
    colours = frame[painted]
    is_pos = np.all(colours == EVENT_POSITIVE_RGB, axis=1)
    is_neg = np.all(colours == EVENT_NEGATIVE_RGB, axis=1)
    assert np.all(is_pos | is_neg) and is_pos.any() and is_neg.any()


def test_prophesee_pixel_colour_is_latest_polarity(prophesee):
    frame = events_to_frame(prophesee, 720, 1280)
    rng = np.random.default_rng(0)
    for i in rng.choice(prophesee.size, 6, replace=False):
        x, y = int(prophesee['x'][i]), int(prophesee['y'][i])
        here = prophesee[(prophesee['x'] == x) & (prophesee['y'] == y)]
        latest = here[here['t'] == here['t'].max()][-1]  # file order breaks time ties
        want = EVENT_POSITIVE_RGB if latest['p'] == 1 else EVENT_NEGATIVE_RGB
        assert tuple(frame[y, x]) == want


def test_prophesee_time_window_and_empty_window(prophesee):
    t0 = int(prophesee['t'][0])
    t1 = t0 + 10_000  # first 10 ms
    frame, stats = render_events(prophesee, 720, 1280, t0, t1)
    sel = prophesee[(prophesee['t'] >= t0) & (prophesee['t'] < t1)]
    assert 0 < sel.size < prophesee.size
    assert stats.in_window == stats.rendered == sel.size and stats.out_of_bounds == 0
    painted = np.any(frame != 255, axis=2)
    assert painted.sum() == np.unique(sel['y'].astype(int) * 1280 + sel['x']).size == stats.pixels
    empty = events_to_frame(prophesee, 720, 1280, t0 - 5000, t0)
    assert np.all(empty == 255)
    assert np.all(events_to_frame(np.zeros(0, EVENT_DTYPE), 4, 5) == 255)


def test_prophesee_out_of_bounds_ignored_and_counted(prophesee, caplog):
    inside = (prophesee['x'] < 640) & (prophesee['y'] < 360)
    with caplog.at_level(logging.WARNING, logger='rgbx_tracker_ros.core.modality'):
        frame = events_to_frame(prophesee, 360, 640)
    _, stats = render_events(prophesee, 360, 640)
    assert stats.out_of_bounds == int((~inside).sum()) > 0
    assert stats.rendered == int(inside.sum())
    assert str(stats.out_of_bounds) in caplog.text
    sub = prophesee[inside]
    assert np.any(frame != 255, axis=2).sum() == np.unique(sub['y'].astype(int) * 640
                                                           + sub['x']).size


def test_events_to_frame_rejects_non_events():
    with pytest.raises(EncodingError, match='fields t'):
        events_to_frame(np.zeros((10, 4), np.int64), 10, 10)
    with pytest.raises(ValueError, match='reversed'):
        events_to_frame(np.zeros(0, EVENT_DTYPE), 10, 10, 5, 1)


# ------------------------------------------------------------------------------------ thermal

def _tno_boxes() -> np.ndarray:
    return np.loadtxt(TNO / 'infrared.txt', delimiter=',').reshape(-1, 4)


def test_tno_mono8_thermal_passes_through():
    ir = _read(TNO / 'infrared' / '00015i.png')
    out = encode_x(ir, 'mono8', Modality.THERMAL)
    assert out.shape == ir.shape + (3,) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], ir)


def test_tno_mono16_person_stays_brightest():
    boxes = _tno_boxes()
    for frame in range(2, 33):  # frame 1 has no person
        ir = _read(TNO / 'infrared' / f'{frame:05d}i.png')
        x, y, w, h = boxes[frame - 1].astype(int)
        assert w > 0 and h > 0
        raw16 = ir.astype(np.uint16) * 180 + 4000  # a 16-bit sensor's counts for the same scene
        clean = encode_x(raw16, 'mono16', 'thermal')
        raw16[5, 5] = 65535  # a hot and a cold dead pixel must not wash the frame out
        raw16[6, 6] = 0
        out = encode_x(raw16, 'mono16', 'thermal')
        assert out.dtype == np.uint8 and out.shape == ir.shape + (3,)
        assert np.array_equal(out[:, :, 0], out[:, :, 2])
        assert np.abs(out.astype(int) - clean.astype(int))[10:, 10:].max() <= 2
        grey = out[:, :, 0]
        assert grey.max() == 255 and grey.min() == 0  # full range used
        hottest = np.argwhere(grey[8:] == 255) + [8, 0]  # skip the planted dead pixels
        assert hottest.size > 0
        inside = (hottest[:, 1] >= x) & (hottest[:, 1] < x + w) \
            & (hottest[:, 0] >= y) & (hottest[:, 0] < y + h)
        assert inside.mean() >= 0.95, f'frame {frame}: the hottest pixels left the person box'
        assert grey[y:y + h, x:x + w].mean() > grey.mean() + 30
        # the stretch keeps the order of the mono8 picture
        corr = np.corrcoef(grey[10:, 10:].ravel(), ir[10:, 10:].astype(np.float32).ravel())[0, 1]
        assert corr > 0.98


def test_mono16_stretch_matches_numpy_percentiles():
    """The histogram percentiles and lookup table equal np.percentile + float arithmetic."""
    ir = _read(TNO / 'infrared' / '00015i.png')
    rng = np.random.default_rng(3)
    frames = [ir.astype(np.uint16) * 180 + 4000,
              rng.normal(21000, 2500, (512, 640)).clip(0, 65535).astype(np.uint16),
              rng.integers(0, 65536, (7, 9), dtype=np.uint16),
              np.array([[0, 65535]], np.uint16)]
    for raw16 in frames:
        for pct in ((1.0, 99.9), (0.0, 100.0), (2.5, 97.5)):
            lo, hi = np.percentile(raw16, pct)
            want = np.clip((raw16.astype(np.float32) - np.float32(lo))
                           * np.float32(255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
            np.testing.assert_array_equal(normalize_thermal16(raw16, pct), want)


def test_mono16_constant_frame_gives_zeros_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        out = encode_x(np.full((20, 30), 31000, np.uint16), 'mono16', Modality.THERMAL)
    assert out.shape == (20, 30, 3) and not out.any()


def test_thermal_prerendered_bgr8():
    ir = _read(TNO / 'infrared' / '00015i.png')
    bgr = cv2.applyColorMap(ir, cv2.COLORMAP_INFERNO)
    np.testing.assert_array_equal(encode_x(bgr, 'bgr8', 'thermal'), bgr[:, :, ::-1])


def test_event_rendered_frames_pass_through(prophesee):
    rendered = events_to_frame(prophesee, 720, 1280)
    np.testing.assert_array_equal(encode_x(rendered, 'rgb8', Modality.EVENT), rendered)
    np.testing.assert_array_equal(encode_x(rendered[:, :, ::-1].copy(), 'bgr8', 'event'),
                                  rendered)


# ------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize('modality, encoding', [
    (Modality.THERMAL, '32FC1'), (Modality.THERMAL, 'yuv422'), (Modality.DEPTH, 'mono8'),
    (Modality.DEPTH, 'rgb8'), (Modality.EVENT, 'mono16'), (Modality.EVENT, '16UC1'),
    (Modality.EVENT, 'events'), (Modality.RGB, 'rgb8'), (Modality.DEPTH, ''),
])
def test_encode_x_unknown_encoding_names_encoding_modality_and_valid(modality, encoding):
    with pytest.raises(EncodingError) as err:
        encode_x(np.zeros((4, 4), np.uint16), encoding, modality)
    msg = str(err.value)
    assert repr(encoding) in msg and modality.value in msg
    if modality is Modality.RGB:
        assert 'x=None' in msg
    else:
        assert 'valid encodings' in msg


@pytest.mark.parametrize('image, encoding, modality, fragment', [
    (np.zeros((4, 4), np.uint8), 'mono16', 'thermal', 'uint16'),
    (np.zeros((4, 4), np.uint16), 'mono8', 'thermal', 'uint8'),
    (np.zeros((4, 4, 3), np.uint16), '16UC1', 'depth', 'shape (4, 4, 3)'),
    (np.zeros((4, 4), np.float32), '16UC1', 'depth', 'float32'),
    (np.zeros((4, 4), np.uint16), '32FC1', 'depth', 'float32'),
    (np.zeros((4, 4), np.uint8), 'rgb8', 'event', '(H, W, 3)'),
    (np.zeros((0, 4), np.uint8), 'mono8', 'event', 'shape (0, 4)'),
])
def test_encode_x_wrong_array_for_encoding(image, encoding, modality, fragment):
    with pytest.raises(EncodingError) as err:
        encode_x(image, encoding, modality)
    assert repr(encoding) in str(err.value) and fragment in str(err.value)


def test_encoding_error_is_value_error_and_bad_modality():
    assert issubclass(EncodingError, ValueError)
    with pytest.raises(ValueError, match='unknown modality'):
        encode_x(np.zeros((4, 4), np.uint8), 'mono8', 'sonar')


# ------------------------------------------------------------------------------ signal checks

def _road_ir(name: str) -> np.ndarray:
    ir = _read(REAL / 'roadscene_pairs' / 'cropinfrared' / name)
    return ir if ir.ndim == 2 else ir[:, :, 0]   # grey JPEG; some decoders give 3 equal planes


def _real_thermal_frames() -> list[tuple[str, np.ndarray]]:
    tno = sorted((TNO / 'infrared').glob('*i.png'))
    road = sorted((REAL / 'roadscene_pairs' / 'cropinfrared').glob('*.jpg'))
    assert len(tno) == 32 and len(road) == 12  # SOURCES.md
    return [(p.name, _read(p)) for p in tno] + [(p.name, _road_ir(p.name)) for p in road]


def _flatten(ir: np.ndarray, how: str, rng) -> np.ndarray:
    """Remove the signal of a real frame, keeping its dtype, size and mean level."""
    mean = float(ir.mean())
    if how == 'mean':
        out = np.full(ir.shape, mean)
    elif how == 'noise':                           # +-0.5 count around the mean
        out = mean + rng.uniform(-0.5, 0.5, ir.shape)
    elif how == 'dead_pixels':                     # flat, 0.3 % stuck hot or cold pixels
        out = np.full(ir.shape, mean)
        bad = rng.random(ir.shape) < 0.003
        out[bad] = np.where(rng.random(int(bad.sum())) < 0.5, 0, np.iinfo(ir.dtype).max)
    else:
        raise AssertionError(how)
    return np.round(out).astype(ir.dtype)


def test_signal_thermal_real_frames_pass_with_wide_margin():
    from rgbx_tracker_ros.core.modality import THERMAL_MIN_SPREAD, check_x_signal
    spreads, bgr_spreads = [], []
    for name, ir in _real_thermal_frames():
        assert ir.dtype == np.uint8 and ir.ndim == 2, name
        p1, p99 = np.percentile(ir, [1, 99])
        spreads.append(p99 - p1)
        bgr = cv2.applyColorMap(ir, cv2.COLORMAP_INFERNO)
        bgr_spreads.append(max(np.subtract(*np.percentile(bgr[:, :, c], [99, 1]))
                               for c in range(3)))
        for image, enc in ((ir, 'mono8'), (ir[:, :, None], '8UC1'),
                           (cv2.applyColorMap(ir, cv2.COLORMAP_INFERNO), 'bgr8'),
                           (ir.astype(np.uint16) * 180 + 4000, 'mono16'),   # a 16-bit sensor
                           (ir.astype(np.uint16) + 4000, '16UC1')):         # 1 count per level
            check = check_x_signal(image, enc, Modality.THERMAL)
            assert check.ok and check.reason == 'ok', (name, enc, check)
            assert 'p99 - p1' in check.detail
    # the thresholds sit far below every real frame (measured: >= 125 levels, TNO; >= 156 road)
    assert min(spreads) >= 60 * THERMAL_MIN_SPREAD['mono8']
    assert min(spreads) >= 15 * THERMAL_MIN_SPREAD['mono16']
    assert min(bgr_spreads) >= 15 * THERMAL_MIN_SPREAD['bgr8']


@pytest.mark.parametrize('how', ['mean', 'noise', 'dead_pixels'])
@pytest.mark.parametrize('frame', ['00015i.png', 'FLIR_06992.jpg'])
def test_signal_thermal_flattened_real_frame_fails(frame, how):
    from rgbx_tracker_ros.core.modality import check_x_signal
    rng = np.random.default_rng(11)
    ir = _read(TNO / 'infrared' / frame) if frame.endswith('.png') else _road_ir(frame)
    assert check_x_signal(ir, 'mono8', 'thermal').ok
    ir16 = ir.astype(np.uint16) * 180 + 4000
    for image, enc in ((_flatten(ir, how, rng), 'mono8'), (_flatten(ir16, how, rng), 'mono16')):
        check = check_x_signal(image, enc, 'thermal')
        assert not check.ok and check.reason == 'flat_thermal', (enc, check)
        assert 'p99 - p1' in check.detail and 'flat' in check.detail
    flat_bgr = cv2.applyColorMap(_flatten(ir, how, rng), cv2.COLORMAP_INFERNO)
    assert check_x_signal(flat_bgr, 'bgr8', Modality.THERMAL).reason == 'flat_thermal'


def test_signal_thermal_threshold_parameter():
    from rgbx_tracker_ros.core.modality import check_x_signal
    ramp = np.tile(np.arange(100, 105, dtype=np.uint16), (40, 40))   # p99 - p1 = 4 counts
    assert check_x_signal(ramp, 'mono16', 'thermal').reason == 'flat_thermal'     # default 8
    assert check_x_signal(ramp, 'mono16', 'thermal', min_thermal_spread=4).ok
    assert check_x_signal(ramp.astype(np.uint8), 'mono8', 'thermal').ok           # default 2


@pytest.mark.parametrize('source', ['pair_1', 'pair_2', 'ch5_1', 'ch5_3', 'ch5_5', 'metres'])
def test_signal_depth_real_frames_pass(source):
    from rgbx_tracker_ros.core.modality import check_x_signal
    if source.startswith('pair'):
        image, enc = _kinect_pair_mm(f'depth_{source[-1]}.png'), '16UC1'
    elif source.startswith('ch5'):
        image, enc = _read(KINECT_CH5 / 'depth' / f'{source[-1]}.pgm'), 'mono16'
    else:
        raw = _read(KINECT_PAIR / 'depth_1.png')
        image = raw.astype(np.float32) / 5000.0
        image[raw == 0] = np.nan                   # float depth marks holes as NaN
        enc = '32FC1'
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        check = check_x_signal(image, enc, Modality.DEPTH)
    assert check.ok and check.reason == 'ok', check
    assert 'valid depth pixels' in check.detail


@pytest.mark.parametrize('kill', ['nan', 'zero', 'inf', '-inf', 'negative', 'mm_zero', 'sparse'])
def test_signal_depth_without_valid_pixels_fails(kill):
    from rgbx_tracker_ros.core.modality import check_x_signal
    raw = _read(KINECT_PAIR / 'depth_2.png')
    metres = raw.astype(np.float32) / 5000.0
    mm = _kinect_pair_mm('depth_2.png')
    assert check_x_signal(metres, '32FC1', 'depth').ok and check_x_signal(mm, '16UC1', 'depth').ok
    if kill == 'mm_zero':
        image, enc = np.zeros_like(mm), '16UC1'
    elif kill == 'sparse':                         # 2 % of the real pixels left valid
        keep = np.random.default_rng(5).random(mm.shape) < 0.02
        image, enc = np.where(keep, mm, 0).astype(np.uint16), '16UC1'
    else:
        value = {'nan': np.nan, 'zero': 0.0, 'inf': np.inf, '-inf': -np.inf, 'negative': -1.5}
        image, enc = np.full_like(metres, value[kill]), '32FC1'
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        check = check_x_signal(image, enc, 'depth')
    assert not check.ok and check.reason == 'no_valid_depth', check
    assert 'valid depth pixels' in check.detail and 'minimum 5.0%' in check.detail


def test_signal_depth_min_valid_ratio():
    from rgbx_tracker_ros.core.modality import check_x_signal
    mm = _kinect_pair_mm('depth_1.png')
    half = mm.copy()
    half[:, : mm.shape[1] * 3 // 4] = 0            # right quarter kept: about 17 % valid
    assert check_x_signal(half, '16UC1', 'depth').ok
    check = check_x_signal(half, '16UC1', 'depth', min_valid_ratio=0.5)
    assert check.reason == 'no_valid_depth' and 'minimum 50.0%' in check.detail


def test_signal_event_real_frames_pass_and_empty_fails(prophesee):
    from rgbx_tracker_ros.core.modality import check_x_signal
    t0 = int(prophesee['t'][0])
    for width_us in (100, 1000, 10_000):
        rgb = events_to_frame(prophesee, 720, 1280, t0, t0 + width_us)
        for image, enc in ((rgb, 'rgb8'), (rgb[:, :, ::-1].copy(), 'bgr8'),
                           (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 'mono8')):
            check = check_x_signal(image, enc, Modality.EVENT)
            assert check.ok and check.reason == 'ok', (width_us, enc, check)
    # a single real event is found (the whole frame is compared, not a subsample)
    one = events_to_frame(prophesee[:1], 720, 1280)
    assert check_x_signal(one, 'rgb8', 'event').ok
    empty = events_to_frame(prophesee, 720, 1280, t0 - 5000, t0)
    check = check_x_signal(empty, 'rgb8', 'event')
    assert not check.ok and check.reason == 'no_events'
    assert '(255, 255, 255)' in check.detail and 'background' in check.detail
    # another renderer's empty frame: one colour everywhere, e.g. black or mid grey
    assert check_x_signal(np.zeros((720, 1280, 3), np.uint8), 'bgr8', 'event').reason \
        == 'no_events'
    assert check_x_signal(np.full((720, 1280), 128, np.uint8), 'mono8', 'event').reason \
        == 'no_events'


def _event_frames(prophesee, n: int, width_us: int = 10_000) -> list[np.ndarray]:
    t0 = int(prophesee['t'][0])
    return [events_to_frame(prophesee, 720, 1280, t0 + i * width_us, t0 + (i + 1) * width_us)
            for i in range(n)]


def test_signal_monitor_event_timeout_and_recovery(prophesee):
    from rgbx_tracker_ros.core.modality import XSignalMonitor
    ms = 1_000_000
    mon = XSignalMonitor('event', no_event_timeout_s=0.5)
    frames = _event_frames(prophesee, 5)           # the 54 ms recording: 5 windows of 10 ms
    empty = np.full((720, 1280, 3), 255, np.uint8)
    for i, frame in enumerate(frames):
        check = mon.check(frame, 'rgb8', 1000 * ms + i * 10 * ms)
        assert check.ok and check.reason == 'ok' and not mon.dead
    last_event = 1000 * ms + 40 * ms
    # empty frames every 50 ms: alive until 0.5 s after the last frame with events
    stamp = last_event
    while True:
        stamp += 50 * ms
        check = mon.check(empty, 'rgb8', stamp)
        if stamp - last_event < 500 * ms:
            assert check.ok and check.reason == 'no_events_yet' and not mon.dead, stamp
        else:
            break
    assert stamp - last_event == 500 * ms
    assert not check.ok and check.reason == 'no_events' and mon.dead and mon.changed
    assert 'no events for 0.500 s (timeout 0.5 s)' in check.detail
    assert mon.dead_since_ns == stamp
    check = mon.check(empty, 'rgb8', stamp + 50 * ms)
    assert not check.ok and mon.dead and not mon.changed and mon.dead_frames == 2
    check = mon.check(frames[2], 'rgb8', stamp + 100 * ms)
    assert check.ok and check.reason == 'recovered' and not mon.dead and mon.changed
    assert 'signal back after 0.100 s' in check.detail
    assert mon.dead_since_ns is None and mon.frames == 5 + 10 + 1 + 1
    check = mon.check(empty, 'rgb8', stamp + 150 * ms)   # the clock restarted at the events
    assert check.ok and check.reason == 'no_events_yet' and not mon.changed


def test_signal_monitor_events_from_start_and_stamp_jumps():
    from rgbx_tracker_ros.core.modality import XSignalMonitor
    ms = 1_000_000
    empty = np.full((64, 80, 3), 255, np.uint8)
    mon = XSignalMonitor(Modality.EVENT, no_event_timeout_s=0.2)
    assert mon.check(empty, 'rgb8', 5000 * ms).reason == 'no_events_yet'   # clock starts here
    assert mon.check(empty, 'rgb8', 5150 * ms).ok
    # a bag replayed from the start: stamps jump back, the quiet time does not grow or reset
    assert mon.check(empty, 'rgb8', 100 * ms).ok
    assert mon.check(empty, 'rgb8', 140 * ms).ok            # 150 + 40 ms
    check = mon.check(empty, 'rgb8', 150 * ms)              # 150 + 50 ms = the timeout
    assert mon.dead and check.reason == 'no_events' and '0.200 s' in check.detail
    mon.reset()
    assert not mon.dead and mon.frames == 0 and mon.last is None


@pytest.mark.parametrize('modality', ['depth', 'thermal'])
def test_signal_monitor_depth_thermal_dead_and_recovered(modality):
    from rgbx_tracker_ros.core.modality import XSignalMonitor
    if modality == 'depth':
        good, enc = _kinect_pair_mm('depth_1.png'), '16UC1'
        bad = np.zeros_like(good)
        want = 'no_valid_depth'
    else:
        good, enc = _read(TNO / 'infrared' / '00015i.png'), 'mono8'
        bad = np.full_like(good, int(good.mean()))
        want = 'flat_thermal'
    mon = XSignalMonitor(modality)
    ms = 1_000_000
    assert mon.check(good, enc, 0).ok and not mon.changed
    check = mon.check(bad, enc, 33 * ms)                    # a frame decides: dead at once
    assert not check.ok and check.reason == want and mon.dead and mon.changed
    assert mon.check(bad, enc, 66 * ms).reason == want and not mon.changed
    assert mon.last.reason == want and mon.dead_since_ns == 33 * ms
    check = mon.check(good, enc, 99 * ms)
    assert check.ok and check.reason == 'recovered' and mon.changed and not mon.dead
    assert 'signal back after 0.066 s' in check.detail
    assert mon.check(good, enc, 132 * ms).reason == 'ok' and not mon.changed
    assert (mon.frames, mon.dead_frames) == (5, 2)


@pytest.mark.parametrize('image, encoding, modality, fragment', [
    (np.zeros((4, 4), np.float32), '32FC1', 'thermal', 'valid encodings'),
    (np.zeros((4, 4), np.uint8), 'rgb8', 'rgb', 'x=None'),
    (np.zeros((4, 4), np.uint8), 'mono16', 'thermal', 'uint16'),
    (np.zeros((4, 4), np.uint16), '32FC1', 'depth', 'float32'),
    (np.zeros((4, 4), np.uint8), 'rgb8', 'event', '(H, W, 3)'),
])
def test_signal_check_rejects_what_encode_x_rejects(image, encoding, modality, fragment):
    from rgbx_tracker_ros.core.modality import XSignalMonitor, check_x_signal
    with pytest.raises(EncodingError, match=re.escape(fragment)):
        check_x_signal(image, encoding, modality)
    with pytest.raises(EncodingError):
        encode_x(image, encoding, modality)
    if modality != 'rgb':
        with pytest.raises(EncodingError):
            XSignalMonitor(modality).check(image, encoding, 0)
    with pytest.raises(ValueError, match='no_event_timeout_s'):
        XSignalMonitor('event', no_event_timeout_s=0)
    with pytest.raises(ValueError, match='step'):
        check_x_signal(np.zeros((4, 4), np.uint8), 'mono8', 'thermal', step=0)
