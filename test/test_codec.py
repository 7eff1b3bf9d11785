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

"""Image transport: CompressedImage decoding (core/codec.py), the added raw encodings
(ros/conversions.py + core/modality.py), compressed replay bags (bag_io, rgbx-make-bag
--compressed), the ``transport`` parameter and rig key, and the node on compressed topics.

Real frames from ../shared/data/real: Kinect colour + 16-bit depth (rgbd_slambook2), the TNO
Nato_camp visible / LWIR pairs (mono8), OTB Crossing (colour JPEG)."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core import codec
from rgbx_tracker_ros.core.modality import EncodingError, RGB_ENCODINGS, check_rgb, encode_rgb
from rgbx_tracker_ros.ros.conversions import (
    IMAGE_ENCODINGS, ImageConversionError, decode_image_buffer, encode_image_fields)

REAL = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'real'
if not REAL.is_dir():
    REAL = Path('/work/shared/data/real')
KINECT = REAL / 'rgbd_slambook2' / 'kinect_pair'
TNO = REAL / 'tno_nato_camp'

needs_data = pytest.mark.skipif(not KINECT.is_dir() or not TNO.is_dir(),
                                reason='../shared/data/real is not available')


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


@pytest.fixture(scope='module')
def kinect_rgb() -> np.ndarray:
    """(480, 640, 3) uint8 RGB Kinect colour frame."""
    return cv2.cvtColor(_read(KINECT / 'color_1.png'), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope='module')
def kinect_depth() -> np.ndarray:
    """(480, 640) uint16 Kinect depth, 5000 per metre, 0 = hole."""
    return _read(KINECT / 'depth_1.png')


@pytest.fixture(scope='module')
def tno_pair() -> tuple[np.ndarray, np.ndarray]:
    """(visible, infrared) (270, 360) uint8 frames of TNO Nato_camp."""
    return _read(TNO / 'visible' / '00005v.png'), _read(TNO / 'infrared' / '00005i.png')


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


# --------------------------------------------------------------------- compressed formats
@needs_data
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
@pytest.mark.parametrize('fmt_codec', ['jpeg', 'png'])
def test_colour_round_trip_on_a_real_frame(kinect_rgb, encoding, fmt_codec) -> None:
    src = kinect_rgb if encoding == 'rgb8' else np.ascontiguousarray(kinect_rgb[:, :, ::-1])
    fmt, data = codec.encode_compressed(src, encoding, fmt_codec)
    assert fmt == f'{encoding}; {fmt_codec} compressed bgr8'     # as image_transport writes it
    arr, enc = codec.decode_compressed(fmt, data)
    assert enc == 'bgr8' and arr.shape == (480, 640, 3) and arr.dtype == np.uint8
    rgb = encode_rgb(arr, enc)
    if fmt_codec == 'png':
        np.testing.assert_array_equal(rgb, kinect_rgb)
    else:
        assert _mae(rgb, kinect_rgb) < 6.0                       # quality 90
        assert len(data) < kinect_rgb.nbytes / 5


@needs_data
def test_mono_and_16_bit_round_trips(tno_pair, kinect_depth) -> None:
    visible, infrared = tno_pair
    fmt, data = codec.encode_compressed(infrared, 'mono8', 'png')
    assert fmt.startswith('mono8; png compressed')
    arr, enc = codec.decode_compressed(fmt, data)
    assert enc == 'mono8'
    np.testing.assert_array_equal(arr, infrared)
    arr, enc = codec.decode_compressed(*codec.encode_compressed(visible, 'mono8', 'jpeg'))
    assert enc == 'mono8' and arr.shape == visible.shape and _mae(arr, visible) < 3.0
    for encoding in ('mono16', '16UC1'):
        fmt, data = codec.encode_compressed(kinect_depth, encoding, 'png')
        assert fmt.strip() == f'{encoding}; png compressed'
        arr, enc = codec.decode_compressed(fmt, data)
        assert enc == encoding and arr.dtype == np.uint16
        np.testing.assert_array_equal(arr, kinect_depth)
    with pytest.raises(codec.CodecError, match='8-bit'):
        codec.encode_compressed(kinect_depth, 'mono16', 'jpeg')


@needs_data
def test_format_strings_as_publishers_write_them(kinect_rgb, kinect_depth) -> None:
    bgr = np.ascontiguousarray(kinect_rgb[:, :, ::-1])
    jpeg = cv2.imencode('.jpg', bgr)[1].tobytes()
    png = cv2.imencode('.png', bgr)[1].tobytes()
    # old publishers: just the codec; the channel count decides
    for fmt, data in (('jpeg', jpeg), ('jpg', jpeg), ('png', png), ('', png),
                      ('rgb8; jpeg compressed bgr8', jpeg), ('bgr8; png compressed bgr8', png)):
        arr, enc = codec.decode_compressed(fmt, data)
        assert enc == 'bgr8', fmt
        assert _mae(encode_rgb(arr, enc), kinect_rgb) < 6.0, fmt
    # a payload that stores RGB order ('compressed rgb8')
    arr, enc = codec.decode_compressed('rgb8; png compressed rgb8',
                                       cv2.imencode('.png', kinect_rgb)[1].tobytes())
    assert enc == 'rgb8'
    np.testing.assert_array_equal(encode_rgb(arr, enc), kinect_rgb)
    # 16-bit grey with a bare format
    arr, enc = codec.decode_compressed('png', cv2.imencode('.png', kinect_depth)[1].tobytes())
    assert enc == 'mono16'
    np.testing.assert_array_equal(arr, kinect_depth)
    # BGRA PNG: alpha dropped
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    bgra[:, :, 3] = 7
    arr, enc = codec.decode_compressed('bgra8; png compressed bgr8',
                                       cv2.imencode('.png', bgra)[1].tobytes())
    assert enc == 'bgr8' and arr.shape == bgr.shape
    np.testing.assert_array_equal(arr, bgr)
    # 16-bit colour: scaled to 8 bit like cv_bridge (255 / 65535)
    bgr16 = bgr.astype(np.uint16) * 257
    arr, enc = codec.decode_compressed('bgr16; png compressed bgr16',
                                       cv2.imencode('.png', bgr16)[1].tobytes())
    assert enc == 'bgr8'
    np.testing.assert_array_equal(arr, bgr)
    # a Bayer mosaic stays a mosaic, with its encoding
    mosaic = kinect_rgb[:, :, 1].copy()
    arr, enc = codec.decode_compressed('bayer_rggb8; png compressed ',
                                       cv2.imencode('.png', mosaic)[1].tobytes())
    assert enc == 'bayer_rggb8'
    np.testing.assert_array_equal(arr, mosaic)


def test_parse_format() -> None:
    p = codec.parse_format('rgb8; jpeg compressed bgr8')
    assert (p.encoding, p.codec, p.depth, p.stored_order) == ('rgb8', 'jpeg', False, 'bgr')
    p = codec.parse_format('mono16; png compressed ')
    assert (p.encoding, p.codec, p.stored_order) == ('mono16', 'png', '')
    for fmt, enc, c in (('16UC1; compressedDepth', '16UC1', 'png'),
                        ('32FC1; compressedDepth png', '32FC1', 'png'),
                        ('16UC1; compressedDepth rvl', '16UC1', 'rvl'),
                        ('32FC1', '32FC1', 'png')):
        p = codec.parse_format(fmt)
        assert (p.encoding, p.codec, p.depth) == (enc, c, True), fmt
    for bad in ('tiff', 'rgb8; tiff compressed bgr8', 'rgb8;', '16UC1; compressedDepth zip'):
        with pytest.raises(codec.CodecError) as info:
            codec.parse_format(bad)
        assert info.value.reason == 'unknown_format' and repr(bad) in str(info.value)


# ------------------------------------------------------------------------ compressedDepth
@needs_data
@pytest.mark.parametrize('encoding', ['16UC1', 'mono16'])
def test_compressed_depth_16_bit_is_exact_on_real_depth(kinect_depth, encoding) -> None:
    fmt, data = codec.encode_compressed_depth(kinect_depth, encoding)
    assert fmt == f'{encoding}; compressedDepth png'
    header = codec.COMPRESSED_DEPTH_HEADER.unpack(data[:12])
    assert header[0] == 0                                       # INV_DEPTH
    assert data[12:20] == b'\x89PNG\r\n\x1a\n'
    arr, enc = codec.decode_compressed(fmt, data)
    assert enc == encoding and arr.dtype == np.uint16
    np.testing.assert_array_equal(arr, kinect_depth)
    # the publisher's max-depth filter (depth_max 5 m on millimetres) zeroes what is beyond
    arr, _ = codec.decode_compressed(*codec.encode_compressed_depth(kinect_depth, encoding, 5.0))
    np.testing.assert_array_equal(arr, np.where(kinect_depth > 5000, 0, kinect_depth))


def _depth_payload(quant_a: float, quant_b: float, png: np.ndarray) -> bytes:
    """A compressedDepth payload built from the spec: ConfigHeader (int32 format = 0,
    float32 depthQuantA, float32 depthQuantB, little-endian) + PNG."""
    return struct.pack('<iff', 0, quant_a, quant_b) + cv2.imencode('.png', png)[1].tobytes()


def test_compressed_depth_known_values() -> None:
    # 16UC1: the PNG holds the depth itself
    depth = np.array([[0, 1, 1000], [4500, 65535, 7]], np.uint16)
    arr, enc = codec.decode_compressed('16UC1; compressedDepth',
                                       _depth_payload(0.0, 0.0, depth))
    assert enc == '16UC1'
    np.testing.assert_array_equal(arr, depth)
    # 32FC1: quantised inverse depth, depth = A / (v - B), v = 0 -> NaN; the plugin's defaults
    # (depth_quantization q = 100, depth_max 10 m): A = q (q + 1) = 10100, B = 1 - A / 10
    quant_a, quant_b = 10100.0, -1009.0
    v = np.array([[0, 9091, 4041], [1, 2, 65535]], np.uint16)
    arr, enc = codec.decode_compressed('32FC1; compressedDepth png',
                                       _depth_payload(quant_a, quant_b, v))
    assert enc == '32FC1' and arr.dtype == np.float32 and arr.shape == (2, 3)
    assert np.isnan(arr[0, 0]) and np.isfinite(arr.ravel()[1:]).all()
    np.testing.assert_allclose(arr.ravel()[1:], [1.0, 2.0, 10.0, 10100.0 / 1011.0,
                                                 10100.0 / 66544.0], rtol=1e-6)


@needs_data
def test_compressed_depth_32fc1_round_trip_on_real_depth(kinect_depth) -> None:
    metres = kinect_depth.astype(np.float32) / 5000.0
    metres[kinect_depth == 0] = np.nan
    fmt, data = codec.encode_compressed_depth(metres, '32FC1')      # depth_max 10 m, q 100
    assert fmt == '32FC1; compressedDepth png'
    arr, enc = codec.decode_compressed(fmt, data)
    assert enc == '32FC1' and arr.dtype == np.float32
    valid = np.isfinite(metres)
    np.testing.assert_array_equal(np.isnan(arr), ~valid)
    # quantisation step of inverse depth: about d^2 / A at depth d
    bound = metres[valid] ** 2 / 10100.0 + 1e-4
    assert np.all(np.abs(arr[valid] - metres[valid]) <= bound)


# ------------------------------------------------------------------------------- failures
@needs_data
def test_truncated_and_garbage_payloads_name_the_reason(kinect_rgb, kinect_depth) -> None:
    fmt, jpeg = codec.encode_compressed(kinect_rgb, 'rgb8', 'jpeg')
    _, png = codec.encode_compressed(kinect_rgb, 'rgb8', 'png')
    dfmt, dpng = codec.encode_compressed_depth(kinect_depth, '16UC1')
    cases = [
        (fmt, jpeg[:len(jpeg) // 2], 'truncated', 'no EOI marker'),
        ('bgr8; png compressed bgr8', png[:-40], 'truncated', 'no IEND chunk'),
        (fmt, b'', 'truncated', 'empty payload'),
        (dfmt, dpng[:12], 'truncated', '12-byte compressedDepth header'),
        (dfmt, dpng[:5000], 'truncated', 'IEND'),
        (fmt, b'GIF89a' + bytes(200), 'decode_failed', 'neither JPEG nor PNG'),
        (fmt, b'\xff\xd8\xff' + bytes(range(256)) * 4 + b'\xff\xd9', 'decode_failed',
         'cannot decode'),
        (dfmt, dpng[:12] + jpeg, 'decode_failed', 'single-channel 16-bit'),
        ('rgb8; tiff compressed bgr8', jpeg, 'unknown_format', 'unknown codec'),
        ('16UC1; compressedDepth rvl', dpng, 'unknown_format', 'rvl'),
        ('8UC3; compressedDepth', dpng, 'unknown_format', 'compressedDepth of encoding'),
    ]
    for fmt_, data, reason, text in cases:
        with pytest.raises(codec.CodecError) as info:
            codec.decode_compressed(fmt_, data)
        assert isinstance(info.value, ValueError)
        assert info.value.reason == reason, (fmt_, str(info.value))
        assert text in str(info.value), str(info.value)


def test_payload_types_and_topics() -> None:
    img = np.arange(48, dtype=np.uint8).reshape(6, 8)
    fmt, data = codec.encode_compressed(img, 'mono8', 'png')
    for payload in (data, bytearray(data), memoryview(data), list(data),
                    np.frombuffer(data, np.uint8)):
        np.testing.assert_array_equal(codec.decode_compressed(fmt, payload)[0], img)
    assert codec.transport_topic('/cam/image_raw', 'raw') == '/cam/image_raw'
    assert codec.transport_topic('/cam/image_raw', 'compressed') == '/cam/image_raw/compressed'
    assert codec.transport_topic('/d/image', 'compressed', depth=True) == \
        '/d/image/compressedDepth'
    with pytest.raises(ValueError, match='theora'):
        codec.transport_topic('/cam', 'theora')


# ------------------------------------------------------------------- raw encodings (RGB)
def _raw(arr: np.ndarray, encoding: str) -> np.ndarray:
    """Through the wire: encode_image_fields -> bytes -> decode_image_buffer (with padding)."""
    f = encode_image_fields(arr, encoding)
    pad = 3
    rows = np.frombuffer(f['data'], np.uint8).reshape(f['height'], f['step'])
    padded = np.concatenate([rows, np.zeros((f['height'], pad), np.uint8)], axis=1)
    return decode_image_buffer(f['height'], f['width'], encoding, f['step'] + pad, 0,
                               padded.tobytes())


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Bayer mosaic of ``rgb`` with ``pattern`` (e.g. 'RGGB': the top-left 2x2 cell)."""
    out = np.zeros(rgb.shape[:2], np.uint8)
    for (dy, dx), colour in zip([(0, 0), (0, 1), (1, 0), (1, 1)], pattern):
        out[dy::2, dx::2] = rgb[dy::2, dx::2, 'RGB'.index(colour)]
    return out


@needs_data
def test_every_raw_rgb_encoding_decodes_to_the_real_frame(kinect_rgb, kinect_depth) -> None:
    rgb = kinect_rgb
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    alpha = np.full(rgb.shape[:2] + (1,), 200, np.uint8)
    exact = {'rgb8': rgb, 'bgr8': bgr, 'rgba8': np.concatenate([rgb, alpha], axis=2),
             'bgra8': np.concatenate([bgr, alpha], axis=2)}
    for enc, wire in exact.items():
        assert check_rgb(_raw(wire, enc), enc) == (480, 640)
        np.testing.assert_array_equal(encode_rgb(_raw(wire, enc), enc), rgb, err_msg=enc)
    # YUV 4:2:2 (chroma shared by pixel pairs): close to the source
    for encs, code in ((('yuv422', 'uyvy'), cv2.COLOR_RGB2YUV_UYVY),
                       (('yuv422_yuy2', 'yuyv'), cv2.COLOR_RGB2YUV_YUY2)):
        wire = cv2.cvtColor(rgb, code)
        assert wire.shape == (480, 640, 2)
        for enc in encs:
            out = encode_rgb(_raw(wire, enc), enc)
            assert out.shape == rgb.shape and _mae(out, rgb) < 4.0, enc
        # the other byte order is clearly wrong (the test can tell them apart)
        other = 'yuyv' if encs[0] == 'yuv422' else 'uyvy'
        assert _mae(encode_rgb(_raw(wire, other), other), rgb) > 20.0
    # Bayer: demosaiced, with ROS's pattern names (OpenCV's are offset by one pixel)
    for enc in ('bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8'):
        mosaic = _mosaic(rgb, enc[6:10].upper())
        errors = {e: _mae(encode_rgb(_raw(mosaic, e), e), rgb)
                  for e in ('bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8')}
        assert errors[enc] < 4.0, (enc, errors)
        assert all(errors[e] > 3 * errors[enc] for e in errors if e != enc), (enc, errors)
    # mono16: scaled to 8 bit by 255/65535 (cv_bridge), replicated
    grey16 = (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    out = encode_rgb(_raw(grey16, 'mono16'), 'mono16')
    np.testing.assert_array_equal(out, np.repeat((grey16 // 257).astype(np.uint8)[:, :, None],
                                                 3, axis=2))
    out = encode_rgb(kinect_depth, 'mono16')
    np.testing.assert_array_equal(out[:, :, 0], np.rint(kinect_depth * (255.0 / 65535.0)))


def test_new_raw_encodings_are_listed_and_checked() -> None:
    for enc in ('bgra8', 'rgba8', 'yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv', 'bayer_rggb8',
                'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8', 'mono16'):
        assert enc in RGB_ENCODINGS and enc in IMAGE_ENCODINGS, enc
    # a YUV 4:2:2 row of odd width is cut short on the wire, not silently misread
    with pytest.raises(ImageConversionError, match='shorter than one row'):
        decode_image_buffer(2, 4, 'uyvy', 6, 0, bytes(12))
    with pytest.raises(EncodingError, match='even width'):
        check_rgb(np.zeros((4, 5, 2), np.uint8), 'yuv422')


@pytest.mark.parametrize('array, encoding', [
    (np.zeros((4, 4, 4), np.uint8), 'rgba8'),
    (np.zeros((4, 4, 3), np.uint8), 'bgra8'),
    (np.zeros((4, 4, 2), np.uint8), 'uyvy'),
    (np.zeros((4, 5, 2), np.uint8), 'yuyv'),
    (np.zeros((4, 4), np.uint8), 'yuv422'),
    (np.zeros((4, 4), np.uint8), 'bayer_rggb8'),
    (np.zeros((1, 4), np.uint8), 'bayer_gbrg8'),
    (np.zeros((4, 4), np.uint16), 'bayer_grbg8'),
    (np.zeros((4, 4), np.uint16), 'mono16'),
    (np.zeros((4, 4), np.uint8), 'mono16'),
    (np.zeros((4, 4, 3), np.uint8), 'rgb16'),
    (np.zeros((4, 4, 3), np.uint8), 'rgb8'),
    (np.zeros((4, 4), np.uint8), 'mono8'),
])
def test_rgb_arrival_check_agrees_with_the_encoder(array, encoding) -> None:
    try:
        out = encode_rgb(array, encoding)
        encoded = True
    except EncodingError as exc:
        encoded, message = False, str(exc)
    if encoded:
        assert out.shape == array.shape[:2] + (3,) and out.dtype == np.uint8
        assert check_rgb(array, encoding) == array.shape[:2]
    else:
        with pytest.raises(EncodingError) as info:
            check_rgb(array, encoding)
        assert str(info.value) == message


# ------------------------------------------------------------------------------ parameters
def test_transport_parameter_and_rig_key(tmp_path: Path) -> None:
    from rgbx_tracker_ros.core import params as P
    from rgbx_tracker_ros import bringup
    from rgbx_tracker_ros.core import rig as rig_mod

    assert P.NodeParams().transport == 'raw'
    assert P.validate_parameters({'transport': 'Compressed'}).transport == 'compressed'
    with pytest.raises(P.ParameterError, match='transport'):
        P.validate_parameters({'transport': 'theora'})
    base = ('modality: thermal\ntopics: {rgb: /c/rgb, x: /c/x}\n'
            'compute: {cpu: {variant: test_s14, checkpoint: none, device: cpu}}\n')
    (tmp_path / 'raw.yaml').write_text(base)
    (tmp_path / 'jpeg.yaml').write_text(base + 'transport: compressed\n')
    (tmp_path / 'bad.yaml').write_text(base + 'transport: zstd\n')
    assert bringup.node_configuration(rig_mod.load_rig(tmp_path / 'raw.yaml')) \
        .parameters['transport'] == 'raw'
    cfg = bringup.node_configuration(rig_mod.load_rig(tmp_path / 'jpeg.yaml'))
    assert cfg.parameters['transport'] == 'compressed'
    assert P.validate_parameters({k: v for k, v in cfg.parameters.items()
                                  if k != 'use_sim_time'}).transport == 'compressed'
    with pytest.raises(rig_mod.RigError, match='transport'):
        rig_mod.load_rig(tmp_path / 'bad.yaml')
    # rgbx-player publishes raw images: a replay of a compressed rig subscribes raw topics
    replay = bringup.replay_configuration(rig_mod.load_rig(tmp_path / 'jpeg.yaml'),
                                          tmp_path / 'some.bag', tmp_path / 'out')
    assert replay.node.parameters['transport'] == 'raw'


# ---------------------------------------------------------------------------------- bags
@pytest.fixture(scope='module')
def tno_bags(tmp_path_factory) -> tuple[Path, Path]:
    """(raw, compressed) bags of tno_nato_camp written by rgbx-make-bag."""
    if not TNO.is_dir():
        pytest.skip('../shared/data/real is not available')
    from rgbx_tracker_ros.cli import make_bag

    out = tmp_path_factory.mktemp('bags')
    assert make_bag.main([str(TNO), str(out / 'raw.bag')]) == 0
    assert make_bag.main([str(TNO), str(out / 'jpeg.bag'), '--compressed']) == 0
    return out / 'raw.bag', out / 'jpeg.bag'


@pytest.mark.ros
def test_compressed_bag_reads_back_frame_for_frame(tno_bags) -> None:
    from rgbx_tracker_ros.ros import bag_io

    raw_bag, jpeg_bag = tno_bags
    _, report = bag_io.read_bag_messages(jpeg_bag)
    assert set(report.topics) >= {'/rgb/image_raw/compressed', '/x/image_raw/compressed'}
    assert not {'/rgb/image_raw', '/x/image_raw'} & set(report.topics)
    raw = list(bag_io.iter_bag_images(raw_bag))
    comp = list(bag_io.iter_bag_images(jpeg_bag))
    assert len(comp) == len(raw) == 32
    for (f, rgb, rgb_enc, x, x_enc), (g, rgb_c, rgb_enc_c, x_c, x_enc_c) in zip(raw, comp):
        assert g.stamp_ns == f.stamp_ns and g.gt_present == f.gt_present
        np.testing.assert_array_equal(g.gt_xywh, f.gt_xywh)
        assert g.rgb_type == g.x_type == bag_io.COMPRESSED_TYPE
        assert (rgb_enc, rgb_enc_c, x_enc, x_enc_c) == ('mono8', 'mono8', 'mono8', 'mono8')
        assert rgb_c.shape == rgb.shape and _mae(rgb_c, rgb) < 3.0        # JPEG q90
        np.testing.assert_array_equal(x_c, x)                              # PNG: exact
        # without the type (as rgbx-eval / rgbx-select call it) the Image / CompressedImage
        # fallback decodes it too
        np.testing.assert_array_equal(bag_io.decode_bag_image(g.rgb_raw)[0], rgb_c)
    assert sum(len(g.rgb_raw) for g, *_ in comp) < sum(len(f.rgb_raw) for f, *_ in raw) / 2
    # rgbx-eval reads the compressed bag as a sequence
    from rgbx_tracker_ros.cli.evaluate import load_bag_sequence

    seq = load_bag_sequence(jpeg_bag)
    assert seq.num_frames == 32 and seq.rgb_encoding == 'mono8' and seq.x_encoding == 'mono8'
    np.testing.assert_array_equal(seq.read_rgb(7), comp[7][1])
    np.testing.assert_array_equal(seq.read_x(7), raw[7][3])


@pytest.mark.ros
@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_compressed_depth_bag_is_exact(tmp_path: Path, storage: str) -> None:
    from rgbx_tracker_ros.data.synthetic import generate_sequence
    from rgbx_tracker_ros.ros import bag_io

    seq = generate_sequence('depth', 5, 96, 64, seed=2)
    source = bag_io.synthetic_source(seq)
    assert source.x_modality == 'depth' and source.x_encoding == '16UC1'
    bag_io.write_bag(source, tmp_path / 'd.bag', storage=storage, compressed=True)
    _, report = bag_io.read_bag_messages(tmp_path / 'd.bag')
    assert '/x/image_raw/compressedDepth' in report.topics
    frames = list(bag_io.iter_bag_images(tmp_path / 'd.bag'))
    assert len(frames) == 5
    for k, (f, rgb, rgb_enc, x, x_enc) in enumerate(frames):
        assert x_enc == '16UC1'
        np.testing.assert_array_equal(x, seq.x_raw[k])
        assert rgb_enc == 'bgr8' and _mae(rgb[:, :, ::-1], seq.rgb[k]) < 8.0


@pytest.mark.ros
def test_raw_topic_wins_over_its_compressed_copy(tmp_path: Path) -> None:
    from rosbags.rosbag2 import Writer

    from rgbx_tracker_ros.ros import bag_io

    store = bag_io.make_typestore()
    img = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    with Writer(tmp_path / 'both.bag', version=9) as writer:
        c_raw = writer.add_connection(bag_io.TOPIC_RGB, bag_io.IMAGE_TYPE, typestore=store)
        c_comp = writer.add_connection(bag_io.TOPIC_RGB + '/compressed', bag_io.COMPRESSED_TYPE,
                                       typestore=store)
        for k in range(3):
            t = bag_io.DEFAULT_START_NS + k * 100_000_000
            writer.write(c_raw, t, store.serialize_cdr(
                bag_io._image_msg(store, img + k, 'mono8', t, 'rgb'), bag_io.IMAGE_TYPE))
            writer.write(c_comp, t, store.serialize_cdr(
                bag_io._compressed_msg(store, img, 'mono8', t, 'rgb', 'png'),
                bag_io.COMPRESSED_TYPE))
    frames = list(bag_io.iter_bag_images(tmp_path / 'both.bag'))
    assert len(frames) == 3
    for k, (f, rgb, *_rest) in enumerate(frames):
        assert f.rgb_type == bag_io.IMAGE_TYPE
        np.testing.assert_array_equal(rgb, img + k)


# ------------------------------------------------------------------------------------ node
@pytest.mark.ros
def test_node_tracks_compressed_topics_and_counts_bad_payloads() -> None:
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from rgbx_tracker_ros.data.synthetic import generate_sequence
    from rgbx_tracker_ros.ros.conversions import (
        array_to_compressed, detections_to_result, stamp_to_ns)
    from rgbx_tracker_ros.ros.tracker_node import TrackerNode

    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    seq = generate_sequence('depth', 6, 160, 128, seed=3, num_occlusions=0)
    box = [float(v) for v in seq.boxes_xywh[0]]
    overrides = [Parameter('variant', value='test_tiny'), Parameter('checkpoint', value='none'),
                 Parameter('device', value='cpu'), Parameter('modality', value='depth'),
                 Parameter('transport', value='compressed'),
                 Parameter('initial_box', value=box)]
    n = TrackerNode(start_worker=False, context=ctx, parameter_overrides=overrides,
                    cli_args=['--ros-args', '-r', 'rgb/image_raw:=/cam/color/image_raw'])
    try:
        published = []
        n.detections_pub.publish = published.append
        assert n.input_topics['rgb'] == '/cam/color/image_raw/compressed'
        assert n.input_topics['x'] == '/x/image_raw/compressedDepth'
        t0, dt = 5_000_000_000, 100_000_000
        for k in range(4):
            stamp = t0 + k * dt
            n._on_x(array_to_compressed(seq.x_raw[k], '16UC1', 'compressedDepth', stamp, 'x'))
            n._on_rgb(array_to_compressed(seq.rgb[k], 'rgb8', 'jpeg', stamp, 'rgb'))
            n.step()
        assert [stamp_to_ns(m.header.stamp) for m in published] == \
            [t0 + k * dt for k in range(4)]
        assert all(detections_to_result(m)[0] is not None for m in published)
        # a truncated JPEG and an unknown format: counted bad frames with their reasons
        bad = array_to_compressed(seq.rgb[4], 'rgb8', 'jpeg', t0 + 4 * dt, 'rgb')
        bad.data = bytes(bad.data)[:100]
        n._on_rgb(bad)
        odd = array_to_compressed(seq.rgb[5], 'rgb8', 'png', t0 + 5 * dt, 'rgb')
        odd.format = 'rgb8; webp compressed bgr8'
        n._on_rgb(odd)
        counts = n.pipeline.health._counts
        assert counts[('bad', 'rgb', 'truncated')] == 1
        assert counts[('bad', 'rgb', 'unknown_format')] == 1
        # and over DDS: CompressedImage publishers on the names image_transport uses
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import CompressedImage

        pub_node = rclpy.create_node('compressed_camera', context=ctx)
        rgb_pub = pub_node.create_publisher(CompressedImage, '/cam/color/image_raw/compressed', 5)
        x_pub = pub_node.create_publisher(CompressedImage, '/x/image_raw/compressedDepth', 5)
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(n)
        executor.add_node(pub_node)
        stamp = t0 + 10 * dt
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not any(
                stamp_to_ns(m.header.stamp) == stamp for m in published):
            if rgb_pub.get_subscription_count() and x_pub.get_subscription_count():
                x_pub.publish(array_to_compressed(seq.x_raw[5], '16UC1', 'compressedDepth',
                                                  stamp, 'x'))
                rgb_pub.publish(array_to_compressed(seq.rgb[5], 'rgb8', 'jpeg', stamp, 'rgb'))
            for _ in range(20):
                executor.spin_once(timeout_sec=0.01)
            n.step()
        assert any(stamp_to_ns(m.header.stamp) == stamp and detections_to_result(m)[0] is not None
                   for m in published)
        executor.shutdown()
        pub_node.destroy_node()
    finally:
        n.destroy_node()
        rclpy.shutdown(context=ctx)
