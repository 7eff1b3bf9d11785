"""Encodings of core/modality.py on the real recordings in ../shared/data/real."""

from __future__ import annotations

import logging
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
    (np.zeros((4, 4, 3), np.uint8), 'yuv422', 'rgb8, bgr8, mono8'),
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
