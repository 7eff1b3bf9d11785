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

"""Synthetic RGB-X sequences (data/synthetic.py): determinism, geometry, and the modality cues."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rgbx_tracker_ros.core.modality import EVENT_DTYPE
from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.synthetic import (
    SyntheticOptions, SyntheticSequence, encode_sequence_x, generate_sequence)

T = 60


@pytest.fixture(scope='module')
def thermal_dark() -> SyntheticSequence:
    return generate_sequence(Modality.THERMAL, 100, seed=3, dark_rgb=True)


@pytest.fixture(scope='module')
def depth_seq() -> SyntheticSequence:
    return generate_sequence('depth', T, seed=5)


@pytest.fixture(scope='module')
def event_seq() -> SyntheticSequence:
    return generate_sequence(Modality.EVENT, T, seed=7, num_occlusions=0)


def _mask(shape, boxes, pad=0) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    for x, y, w, h in np.asarray(boxes).reshape(-1, 4).astype(int):
        m[max(y - pad, 0):max(y + h + pad, 0), max(x - pad, 0):max(x + w + pad, 0)] = True
    return m


def test_deterministic_per_seed():
    a = generate_sequence('thermal', 12, width=128, height=96, seed=11, dark_rgb=True)
    b = generate_sequence('thermal', 12, width=128, height=96, seed=11, dark_rgb=True)
    c = generate_sequence('thermal', 12, width=128, height=96, seed=12, dark_rgb=True)
    np.testing.assert_array_equal(a.boxes_xywh, b.boxes_xywh)
    for fa, fb in zip(a.rgb + a.x_raw, b.rgb + b.x_raw):
        np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a.boxes_xywh, c.boxes_xywh)
    assert not np.array_equal(a.rgb[0], c.rgb[0])
    e1 = generate_sequence('event', 8, width=96, height=64, seed=2)
    e2 = generate_sequence('event', 8, width=96, height=64, seed=2)
    for x1, x2 in zip(e1.x_raw, e2.x_raw):
        np.testing.assert_array_equal(x1, x2)


@pytest.mark.parametrize('modality, encoding, dtype', [
    ('thermal', 'mono16', np.uint16), ('depth', '16UC1', np.uint16), ('rgb', '', None)])
def test_shapes_dtypes_stamps(modality, encoding, dtype):
    seq = generate_sequence(modality, 10, width=160, height=128, seed=1, fps=20.0)
    assert len(seq) == 10 and (seq.height, seq.width) == (128, 160)
    assert seq.x_encoding == encoding and seq.modality is Modality(modality)
    for img in seq.rgb:
        assert img.shape == (128, 160, 3) and img.dtype == np.uint8
    if dtype is None:
        assert seq.x_raw == [] and encode_sequence_x(seq) == []
    else:
        assert len(seq.x_raw) == 10
        for x in seq.x_raw:
            assert x.shape == (128, 160) and x.dtype == dtype
        enc = encode_sequence_x(seq)
        assert len(enc) == 10 and all(e.shape == (128, 160, 3) and e.dtype == np.uint8
                                      for e in enc)
    assert seq.boxes_xywh.shape == (10, 4) and seq.boxes_xywh.dtype == np.float64
    assert seq.visible.shape == (10,) and seq.visible.dtype == bool
    assert seq.stamps_ns.dtype == np.int64
    np.testing.assert_array_equal(np.diff(seq.stamps_ns), 50_000_000)


def test_thermal_mono8_option():
    seq = generate_sequence('thermal', 4, width=96, height=80, seed=0, thermal_encoding='mono8')
    assert seq.x_encoding == 'mono8'
    assert all(x.dtype == np.uint8 and x.shape == (80, 96) for x in seq.x_raw)
    x, y, w, h = seq.boxes_xywh[0].astype(int)
    hot = seq.x_raw[0][y:y + h, x:x + w].mean()
    assert hot > seq.x_raw[0][~_mask((80, 96), seq.boxes_xywh[0], pad=2)].mean() + 50


def test_boxes_inside_image_and_moving(depth_seq):
    b = depth_seq.boxes_xywh
    assert np.all(b[:, 2:] >= 2)
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0)
    assert np.all(b[:, 0] + b[:, 2] <= depth_seq.width)
    assert np.all(b[:, 1] + b[:, 3] <= depth_seq.height)
    centres = b[:, :2] + b[:, 2:] / 2
    path = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert path.sum() > 40  # pixels travelled
    assert np.abs(np.diff(centres, axis=0)).max() < 20  # smooth: no jumps
    area = b[:, 2] * b[:, 3]
    assert area.max() / area.min() > 1.1  # scale changes
    assert 1 <= depth_seq.distractor_boxes_xywh.shape[1] <= 3


def test_occlusion_sets_visible_false(depth_seq):
    vis = depth_seq.visible
    assert vis[0], 'the target must be visible in the first frame'
    hidden = np.flatnonzero(~vis)
    assert 2 <= hidden.size < T // 2
    np.testing.assert_array_equal(vis, depth_seq.visible_fraction >= 0.3)
    # in the most hidden frame the raw depth inside the box is the occluder, nearer than target
    k = int(np.argmin(depth_seq.visible_fraction))
    assert depth_seq.visible_fraction[k] < 0.05
    x, y, w, h = depth_seq.boxes_xywh[k].astype(int)
    patch = depth_seq.x_raw[k][y:y + h, x:x + w]
    valid = patch[patch > 0]
    assert np.median(valid) < depth_seq.target_depth_mm[k] - 300
    # a visible frame shows the target's own depth there
    j = int(np.flatnonzero(vis)[0])
    x, y, w, h = depth_seq.boxes_xywh[j].astype(int)
    patch = depth_seq.x_raw[j][y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4]
    assert abs(np.median(patch[patch > 0]) - depth_seq.target_depth_mm[j]) < 150
    no_occ = generate_sequence('rgb', T, seed=5, num_occlusions=0)
    assert no_occ.visible.all()


def test_dark_rgb_while_target_stays_hot(thermal_dark):
    seq = thermal_dark
    assert 20 <= seq.dark.sum() <= 40 and not seq.dark[0]
    means = np.array([f.mean() for f in seq.rgb])
    assert means[seq.dark].max() < 20 and means[~seq.dark].min() > 50
    enc = encode_sequence_x(seq)
    compared = 0
    for k in np.flatnonzero(seq.dark & seq.visible):
        raw = seq.x_raw[k].astype(np.float64)
        x, y, w, h = seq.boxes_xywh[k].astype(int)
        occluded = _mask(raw.shape, seq.occluder_boxes_xywh[k])
        unseen = occluded[y:y + h, x:x + w]
        target = raw[y:y + h, x:x + w][~unseen]
        others = _mask(raw.shape, seq.distractor_boxes_xywh[k], pad=1)
        objects = others | occluded | _mask(raw.shape, seq.boxes_xywh[k], pad=2)
        assert target.mean() > raw[~objects].mean() + 800  # counts: hot against the background
        for dx, dy, dw, dh in seq.distractor_boxes_xywh[k].astype(int):
            shown = _mask(raw.shape, [[dx, dy, dw, dh]]) & ~occluded \
                & ~_mask(raw.shape, seq.boxes_xywh[k])
            if shown.sum() > 20:
                assert raw[shown].mean() < target.mean() - 300  # distractors are colder
                compared += 1
        # and the encoded thermal frame keeps the target bright although RGB is black
        assert enc[k][y:y + h, x:x + w][~unseen].mean() > enc[k][~objects].mean() + 60
        assert seq.rgb[k][y:y + h, x:x + w].mean() < 25
    assert compared > 5


def test_depth_holes_and_distinct_target_depth(depth_seq):
    zero = np.array([(d == 0).mean() for d in depth_seq.x_raw])
    assert np.all(zero > 0.005) and np.all(zero < 0.2)
    frac = generate_sequence('depth', 2, width=96, height=64, seed=1, depth_hole_fraction=0.0)
    k = 0
    x, y, w, h = depth_seq.boxes_xywh[k].astype(int)
    d = depth_seq.x_raw[k].astype(np.float64)
    target = np.median(d[y:y + h, x:x + w][d[y:y + h, x:x + w] > 0])
    background = np.median(d[~_mask(d.shape, np.concatenate(
        [depth_seq.boxes_xywh[k][None], depth_seq.distractor_boxes_xywh[k]]), pad=2)])
    assert target < background - 1500
    in_front = _mask(d.shape, np.concatenate([depth_seq.boxes_xywh[k][None],
                                              depth_seq.occluder_boxes_xywh[k]]), pad=1)
    for box in depth_seq.distractor_boxes_xywh[k]:
        region = _mask(d.shape, box) & ~in_front & (d > 0)
        if region.sum() > 20:
            assert np.median(d[region]) > target + 800
    # noise: a flat object is not a constant
    assert d[y + 2:y + h - 2, x + 2:x + w - 2].std() > 2
    # without speckle holes only depth-edge holes remain: far fewer
    assert (frac.x_raw[0] == 0).mean() < zero.min()


def test_events_concentrate_on_moving_edges(event_seq):
    seq = event_seq
    assert seq.x_encoding == 'events'
    h, w = seq.height, seq.width
    inside = total = 0
    areas = []
    for k, ev in enumerate(seq.x_raw):
        assert ev.dtype == EVENT_DTYPE
        t0, t1 = seq.event_windows_us[k]
        assert np.all((ev['t'] >= t0) & (ev['t'] < t1)) and np.all(np.diff(ev['t']) >= 0)
        assert np.all((ev['x'] >= 0) & (ev['x'] < w) & (ev['y'] >= 0) & (ev['y'] < h))
        if k == 0:
            continue
        boxes = np.concatenate([seq.boxes_xywh[k - 1:k + 1],
                                seq.distractor_boxes_xywh[k - 1:k + 1].reshape(-1, 4)])
        m = _mask((h, w), boxes, pad=1)
        inside += int(m[ev['y'], ev['x']].sum())
        total += ev.size
        areas.append(m.mean())
    assert total > 1000 and np.mean(areas) < 0.3
    assert inside / total > 0.9  # static background: events come from the moving objects
    assert len(seq.x_raw[0]) < 0.01 * h * w  # frame 0 has no predecessor: noise only
    np.testing.assert_array_equal(seq.event_windows_us[1:, 0], seq.event_windows_us[:-1, 1])
    frames = encode_sequence_x(seq)
    shift = np.abs(np.diff(seq.boxes_xywh[:, :2], axis=0)).sum(1)
    k = int(np.argmax(shift)) + 1  # the frame where the target moved most
    x, y, bw, bh = seq.boxes_xywh[k].astype(int)
    painted = np.any(frames[k] != 255, axis=2)
    moving = [seq.boxes_xywh[k - 1:k + 1], seq.distractor_boxes_xywh[k - 1:k + 1].reshape(-1, 4)]
    objects = _mask((h, w), np.concatenate(moving), pad=2)
    near_target = painted[max(y - 2, 0):y + bh + 2, max(x - 2, 0):x + bw + 2].mean()
    assert near_target > 0.1 and near_target > 10 * painted[~objects].mean()


def test_options_validation():
    with pytest.raises(ValueError, match='unknown synthetic option'):
        generate_sequence('thermal', 5, darkness=True)
    with pytest.raises(ValueError, match='thermal_encoding'):
        generate_sequence('thermal', 5, thermal_encoding='mono12')
    with pytest.raises(ValueError, match='dark_span'):
        generate_sequence('thermal', 5, dark_span=(0.8, 0.2))
    with pytest.raises(ValueError, match='64x64'):
        generate_sequence('depth', 5, width=32)
    with pytest.raises(ValueError, match='unknown modality'):
        generate_sequence('lidar', 5)
    assert SyntheticOptions().occlusion_length >= 2


def test_fast_enough():
    start = time.perf_counter()
    seq = generate_sequence('depth', 100, width=320, height=256, seed=0)
    encode_sequence_x(seq)
    assert time.perf_counter() - start < 8.0  # about 1 s on one loaded core
