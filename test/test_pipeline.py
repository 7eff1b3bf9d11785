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

"""core.pipeline.NodePipeline without ROS: real frames in, answers and diagnostics out. A scripted
tracker stands in for the model; time is scripted (no sleeping)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core.params import NodeParams
from rgbx_tracker_ros.core.pipeline import NodePipeline

REAL = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'real'
MS = 1_000_000


class Tracker:
    device = 'cpu'
    precision = 'fp32'

    def __init__(self) -> None:
        self.initialized = False
        self.seen_x: list[bool] = []

    def initialize(self, rgb, x, box):
        self.initialized = True

    def track(self, rgb, x):
        self.seen_x.append(x is not None)
        return np.array([10.0, 10.0, 20.0, 20.0]), 0.8

    def reset(self):
        self.initialized = False


def _tno_pair():
    """One real TNO RGB-T pair (the night sequence), as (rgb8 (H, W, 3), mono8 thermal)."""
    seq = REAL / 'tno_nato_camp'
    rgb = cv2.imread(str(sorted((seq / 'visible').glob('*'))[0]), cv2.IMREAD_COLOR)
    x = cv2.imread(str(sorted((seq / 'infrared').glob('*'))[0]), cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(rgb[:, :, ::-1]), x


def _pipeline(**params) -> tuple[NodePipeline, Tracker]:
    tracker = Tracker()
    p = NodePipeline(NodeParams(initial_box=(10.0, 10.0, 20.0, 20.0), **params), tracker)
    return p, tracker


def test_real_pairs_are_answered_with_x_and_counted() -> None:
    rgb, x = _tno_pair()
    p, tracker = _pipeline()
    t = 10**12
    for k in range(10):
        stamp = t + k * 40 * MS
        p.on_x(stamp, 'ir', x, 'mono8', now_ns=stamp + 1 * MS)
        p.on_rgb(stamp, 'cam', rgb, 'rgb8', now_ns=stamp + 2 * MS)
        answers = p.poll(now_ns=stamp + 3 * MS)
        assert [a.stamp_ns for a in answers] == [stamp]
        assert p.published(answers[0], now_ns=stamp + 5 * MS) is (k == 0)
    assert tracker.seen_x == [True] * 9
    acc = p.pairer.accounting()
    assert acc['rgb_in'] == 10 and acc['rgb_released'] == 10 and acc['rgb_unaccounted'] == 0
    reports = {r.name: r for r in p.reports(now_ns=t + 400 * MS)}
    assert reports['tracker'].values['frames_processed'] == '10'
    assert max(r.level for r in reports.values()) == 0, {n: r.message for n, r in reports.items()}


def test_dead_thermal_is_counted_warned_and_tracked_on_rgb_alone() -> None:
    rgb, x = _tno_pair()
    flat = np.full_like(x, int(x.mean()))
    p, tracker = _pipeline()
    t = 10**12
    for k in range(30):
        stamp = t + k * 40 * MS
        p.on_x(stamp, 'ir', flat if k >= 10 else x, 'mono8', now_ns=stamp + 1 * MS)
        p.on_rgb(stamp, 'cam', rgb, 'rgb8', now_ns=stamp + 2 * MS)
        for a in p.poll(now_ns=stamp + 35 * MS):
            p.published(a, now_ns=stamp + 36 * MS)
    assert tracker.seen_x[:9] == [True] * 9
    assert not any(tracker.seen_x[-15:])           # flat X is treated as missing
    reports = {r.name: r for r in p.reports(now_ns=t + 30 * 40 * MS)}
    assert reports['input x'].level == 1 and 'flat_thermal' in reports['input x'].message
    assert p.pairer.stats['x_unusable'] >= 15
    logs = [line.text for line in p.drain_log()]
    assert any('no usable signal' in text for text in logs)


def test_frames_arriving_together_are_all_answered_and_a_backlog_is_stale() -> None:
    rgb, x = _tno_pair()
    p, _ = _pipeline(x_grace=0.0, modality='rgb')
    t = 10**12
    for k in range(5):                              # establishes the 40 ms RGB period
        p.on_rgb(t + k * 40 * MS, 'cam', rgb, 'rgb8', now_ns=t + k * 40 * MS)
        p.poll(now_ns=t + k * 40 * MS + 1)
    # two frames delivered swapped, 1 ms apart: both answered, oldest stamp first
    a, b = t + 200 * MS, t + 240 * MS
    p.on_rgb(b, 'cam', rgb, 'rgb8', now_ns=t + 241 * MS)
    p.on_rgb(a, 'cam', rgb, 'rgb8', now_ns=t + 242 * MS)
    assert [q.stamp_ns for q in p.poll(now_ns=t + 243 * MS)] == [a, b]
    # a backlog (the worker was busy for 3 frame periods): only the newest is answered
    for k in range(3):
        s = t + (280 + 40 * k) * MS
        p.on_rgb(s, 'cam', rgb, 'rgb8', now_ns=s + MS)
    got = p.poll(now_ns=t + 400 * MS)
    assert [q.stamp_ns for q in got] == [t + 360 * MS]
    values = {r.name: r for r in p.reports(now_ns=t + 401 * MS)}['input rgb'].values
    assert values['dropped_window.stale'] == '2'


@pytest.mark.parametrize('bad, reason', [
    (np.ones((4, 4), np.float32), 'encoding'),
])
def test_bad_rgb_is_counted_with_its_reason(bad, reason) -> None:
    p, _ = _pipeline()
    p.on_rgb(1, 'cam', bad, '32FC1', now_ns=1)
    assert p.health.snapshot(2).values[f'bad_frames.rgb.{reason}'] == '1'
    assert any('bad frame #1 on rgb' in line.text for line in p.drain_log())


def test_only_tracked_frames_are_encoded(monkeypatch) -> None:
    # a backlog: three frames wait, only the newest is tracked; the stale ones are never
    # encoded (the thermal stretch runs once, for the tracked frame), and what the tracker gets
    # is exactly encode_x / encode_rgb of the raw arrays
    import rgbx_tracker_ros.core.pipeline as pipeline_mod
    from rgbx_tracker_ros.core.modality import encode_x
    calls = []
    real = pipeline_mod.encode_x
    monkeypatch.setattr(pipeline_mod, 'encode_x',
                        lambda *a: calls.append(a[0].shape) or real(*a))
    rgb, x8 = _tno_pair()
    x16 = (x8.astype(np.uint16) * 200 + 1000)
    p, tracker = _pipeline(x_grace=0.0)
    got = []
    tracker.track = lambda r, x: got.append((r, x)) or (np.array([10.0, 10.0, 20.0, 20.0]), 0.8)
    t = 10**12
    for k in range(5):                              # the RGB period, and the target set
        s = t + k * 40 * MS
        p.on_x(s, 'ir', x16, 'mono16', now_ns=s)
        p.on_rgb(s, 'cam', rgb, 'rgb8', now_ns=s)
        p.poll(now_ns=s + 1)
    calls.clear()
    got.clear()
    for k in range(5, 8):
        s = t + k * 40 * MS
        p.on_x(s, 'ir', x16, 'mono16', now_ns=s)
        p.on_rgb(s, 'cam', rgb, 'rgb8', now_ns=s + MS)
    answers = p.poll(now_ns=t + 7 * 40 * MS + 2 * MS)
    assert [a.stamp_ns for a in answers] == [t + 7 * 40 * MS]
    assert len(calls) == 1 and len(got) == 1
    assert np.array_equal(got[0][1], encode_x(x16, 'mono16', 'thermal'))
    assert np.array_equal(got[0][0], rgb)


@pytest.mark.parametrize('modality, array, encoding', [
    ('thermal', np.zeros((4, 4), np.float32), 'mono16'),
    ('thermal', np.zeros((4, 4, 3), np.uint16), 'rgb8'),
    ('thermal', np.zeros((4, 4), np.uint8), '32FC1'),
    ('depth', np.zeros((4, 4), np.uint8), '16UC1'),
    ('depth', np.zeros((4, 4, 2), np.float32), '32FC1'),
    ('event', np.zeros((0, 4), np.uint8), 'mono8'),
    ('thermal', np.zeros((4, 4), np.uint16), 'mono16'),
    ('depth', np.ones((4, 4), np.float32), '32FC1'),
    ('event', np.zeros((4, 4, 3), np.uint8), 'bgr8'),
])
def test_arrival_check_agrees_with_the_encoder(modality, array, encoding) -> None:
    from rgbx_tracker_ros.core.modality import EncodingError, check_x, encode_x
    try:
        encode_x(array, encoding, modality)
        encoded = True
    except EncodingError as exc:
        encoded, message = False, str(exc)
    if encoded:
        assert check_x(array, encoding, modality) == array.shape[:2]
    else:
        with pytest.raises(EncodingError) as info:
            check_x(array, encoding, modality)
        assert str(info.value) == message
