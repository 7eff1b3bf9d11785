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

"""sensor_msgs/Image <-> ndarray, stamps and Detection2DArray conversions (ros/conversions.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from rgbx_tracker_ros.ros import conversions as conv

pytestmark = pytest.mark.ros

_RNG = np.random.default_rng(7)


def _sample(encoding: str, h: int = 5, w: int = 7) -> np.ndarray:
    dtype, channels = conv.IMAGE_ENCODINGS[encoding]
    shape = (h, w, channels) if channels > 1 else (h, w)
    if dtype == np.float32:
        return _RNG.normal(1.5, 2.0, shape).astype(np.float32)
    return _RNG.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@pytest.mark.parametrize('encoding', list(conv.IMAGE_ENCODINGS))
def test_round_trip_per_encoding(encoding: str) -> None:
    arr = _sample(encoding)
    msg = conv.array_to_image(arr, encoding, stamp_ns=3_000_000_123, frame_id='cam')
    assert msg.encoding == encoding and msg.height == 5 and msg.width == 7
    assert msg.step == 7 * arr.itemsize * (arr.shape[2] if arr.ndim == 3 else 1)
    assert conv.stamp_to_ns(msg.header.stamp) == 3_000_000_123
    assert msg.header.frame_id == 'cam'
    back = conv.image_to_array(msg)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize('encoding', list(conv.IMAGE_ENCODINGS))
def test_row_padding_is_skipped(encoding: str) -> None:
    arr = _sample(encoding, 4, 3)
    row = arr.reshape(4, -1).view(np.uint8).reshape(4, -1)  # little-endian rows as bytes
    pad = 5
    padded = np.concatenate([row, np.full((4, pad), 0xAB, np.uint8)], axis=1)
    msg = Image(height=4, width=3, encoding=encoding, is_bigendian=0,
                step=row.shape[1] + pad, data=padded.tobytes())
    np.testing.assert_array_equal(conv.image_to_array(msg), arr)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', '32FC1'])
def test_big_endian_multibyte(encoding: str) -> None:
    arr = _sample(encoding, 3, 4)
    big = arr.astype(arr.dtype.newbyteorder('>'))
    msg = Image(height=3, width=4, encoding=encoding, is_bigendian=1, step=4 * arr.itemsize,
                data=big.tobytes())
    back = conv.image_to_array(msg)
    np.testing.assert_array_equal(back, arr)
    assert back.dtype.isnative
    # the same bytes read as little-endian give different values (the flag matters)
    msg.is_bigendian = 0
    assert not np.array_equal(conv.image_to_array(msg), arr)


def test_errors_are_clear() -> None:
    ok = conv.array_to_image(_sample('mono8'), 'mono8')
    with pytest.raises(conv.ImageConversionError, match='nv12.*supported'):
        conv.image_to_array(Image(height=2, width=2, encoding='nv12', step=4, data=bytes(8)))
    truncated = Image(height=ok.height, width=ok.width, encoding='mono8', step=ok.step,
                      data=bytes(ok.data)[:-3])
    with pytest.raises(conv.ImageConversionError, match='truncated'):
        conv.image_to_array(truncated)
    with pytest.raises(conv.ImageConversionError, match='shorter than one row'):
        conv.image_to_array(Image(height=2, width=4, encoding='mono16', step=6, data=bytes(12)))
    with pytest.raises(conv.ImageConversionError, match='dtype'):
        conv.array_to_image(np.zeros((2, 2), np.float64), 'mono16')
    with pytest.raises(conv.ImageConversionError, match=r'\(H, W, 3\)'):
        conv.array_to_image(np.zeros((2, 2), np.uint8), 'rgb8')
    with pytest.raises(ValueError, match='negative'):
        conv.ns_to_stamp(-1)
    assert issubclass(conv.ImageConversionError, ValueError)


def test_stamp_round_trip() -> None:
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        assert conv.stamp_to_ns(conv.ns_to_stamp(ns)) == ns


def test_detections_round_trip_and_empty() -> None:
    header = Header(stamp=conv.ns_to_stamp(5_500_000_000), frame_id='rgb')
    msg = conv.result_to_detections(header, np.array([10.0, 20.0, 30.0, 40.0]), 0.75)
    assert len(msg.detections) == 1
    det = msg.detections[0]
    assert det.id == 'target'
    assert det.results[0].hypothesis.class_id == 'target'
    assert det.results[0].hypothesis.score == pytest.approx(0.75)
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (25.0, 40.0)
    assert (det.bbox.size_x, det.bbox.size_y) == (30.0, 40.0)
    assert conv.stamp_to_ns(msg.header.stamp) == 5_500_000_000
    assert conv.stamp_to_ns(det.header.stamp) == 5_500_000_000
    np.testing.assert_allclose(conv.detection_to_box_xywh(det), [10, 20, 30, 40])
    box, score = conv.detections_to_result(msg)
    np.testing.assert_allclose(box, [10, 20, 30, 40])
    assert score == pytest.approx(0.75)

    empty = conv.result_to_detections(header, None, None)
    assert len(empty.detections) == 0 and empty.header.frame_id == 'rgb'
    assert conv.detections_to_result(empty) == (None, None)
    with pytest.raises(ValueError, match='finite'):
        conv.result_to_detections(header, [np.nan, 0, 1, 1], 0.5)


def test_image_error_reasons_for_diagnostics() -> None:
    with pytest.raises(conv.ImageConversionError) as err:
        conv.image_to_array(Image(height=2, width=2, encoding='nv12', step=4, data=bytes(8)))
    assert err.value.reason == 'encoding'
    with pytest.raises(conv.ImageConversionError) as err:
        conv.image_to_array(Image(height=2, width=2, encoding='mono8', step=2, data=bytes(3)))
    assert err.value.reason == 'size_mismatch'


def test_event_pointcloud_round_trip_and_foreign_layouts() -> None:
    from sensor_msgs.msg import PointCloud2, PointField

    from rgbx_tracker_ros.core.modality import EVENT_DTYPE

    ev = np.zeros(50, dtype=EVENT_DTYPE)
    ev['t'] = 1_700_000_000_000_000 + np.arange(50) * 7    # absolute microseconds
    ev['x'] = _RNG.integers(0, 1280, 50)
    ev['y'] = _RNG.integers(0, 720, 50)
    ev['p'] = _RNG.integers(0, 2, 50)
    msg = conv.events_to_pointcloud(ev, 1_700_000_000_000_400_000, 'evk4')
    assert msg.width == 50 and msg.height == 1 and conv.stamp_to_ns(msg.header.stamp) > 0
    np.testing.assert_array_equal(conv.pointcloud_to_events(msg), ev)

    # another driver's layout: big-endian, int32 t, int8 polarity -1/1, 3 padding bytes
    dt = np.dtype({'names': ['t', 'x', 'y', 'p'], 'formats': ['>i4', '>i2', '>i2', 'i1'],
                   'offsets': [0, 4, 6, 8], 'itemsize': 12})
    raw = np.zeros(4, dtype=dt)
    raw['t'], raw['x'], raw['y'], raw['p'] = [10, 20, 30, 40], [1, 2, 3, 4], [5, 6, 7, 8], \
        [-1, 1, -1, 1]
    foreign = PointCloud2(height=1, width=4, is_bigendian=True, point_step=12, row_step=48,
                          data=raw.tobytes(), fields=[
                              PointField(name='t', offset=0, datatype=PointField.INT32, count=1),
                              PointField(name='x', offset=4, datatype=PointField.INT16, count=1),
                              PointField(name='y', offset=6, datatype=PointField.INT16, count=1),
                              PointField(name='p', offset=8, datatype=PointField.INT8, count=1)])
    got = conv.pointcloud_to_events(foreign)
    assert got['t'].tolist() == [10, 20, 30, 40] and got['x'].tolist() == [1, 2, 3, 4]
    assert got['p'].tolist() == [0, 1, 0, 1]
    foreign.fields = foreign.fields[:3]
    with pytest.raises(conv.ImageConversionError, match=r"\['p'\]"):
        conv.pointcloud_to_events(foreign)
    msg.data = bytes(msg.data)[:-1]
    with pytest.raises(conv.ImageConversionError, match='row_step'):
        conv.pointcloud_to_events(msg)
