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

"""ROS message <-> numpy conversions: images, stamps and tracking results (no cv_bridge).

Images follow ``sensor_msgs/Image`` (REP 104 / ``sensor_msgs/image_encodings``): rows of ``step``
bytes (``step`` may exceed ``width * bytes_per_pixel``: row padding), multi-byte pixels in the byte
order given by ``is_bigendian``. Boxes are (x, y, w, h) in pixels with a top-left origin; a
``vision_msgs/BoundingBox2D`` stores the box centre and size (``center.position.x = x + w / 2``).

The decoding functions work on any object with the ``sensor_msgs/Image`` fields (rclpy messages
and ``rosbags`` messages alike); message classes are imported where messages are built, so the
pure-numpy part is usable where only ``rosbags`` is installed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_U8, _U16 = np.dtype(np.uint8), np.dtype(np.uint16)
#: encoding -> (numpy dtype (native, unsized byte order), channels per pixel), as
#: ``sensor_msgs/image_encodings`` defines them. Decoding only unpacks the layout (cv_bridge's
#: ``toCvCopy`` without a target encoding); colour conversion (alpha dropped, YUV 4:2:2 and
#: Bayer to RGB, mono16 to 8 bit) is ``core.modality.encode_rgb``'s. 'yuv422' = 'uyvy' (bytes
#: U Y0 V Y1 per pixel pair) and 'yuv422_yuy2' = 'yuyv' (Y0 U Y1 V) are 2 bytes per pixel;
#: 'bayer_*8' are the raw mosaic (1 byte per pixel, pattern of the top-left 2x2 cell).
IMAGE_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    'rgb8': (_U8, 3),
    'bgr8': (_U8, 3),
    'rgba8': (_U8, 4),
    'bgra8': (_U8, 4),
    'mono8': (_U8, 1),
    '8UC1': (_U8, 1),
    'mono16': (_U16, 1),
    '16UC1': (_U16, 1),
    '32FC1': (np.dtype(np.float32), 1),
    'yuv422': (_U8, 2),
    'uyvy': (_U8, 2),
    'yuv422_yuy2': (_U8, 2),
    'yuyv': (_U8, 2),
    'bayer_rggb8': (_U8, 1),
    'bayer_bggr8': (_U8, 1),
    'bayer_gbrg8': (_U8, 1),
    'bayer_grbg8': (_U8, 1),
}

TARGET_CLASS_ID = 'target'
TARGET_ID = 'target'


class ImageConversionError(ValueError):
    """An image message (or array) cannot be converted: unknown encoding, bad size or shape.

    Attributes:
        reason: 'encoding' (unsupported encoding), 'size_mismatch' (data / step / size fields
            disagree) or 'shape' (an array that does not fit the encoding); used as the
            bad-frame reason in diagnostics.
    """

    def __init__(self, message: str, reason: str = 'encoding') -> None:
        super().__init__(message)
        self.reason = reason


def _valid_encodings() -> str:
    return ', '.join(IMAGE_ENCODINGS)


def decode_image_buffer(height: int, width: int, encoding: str, step: int,
                        is_bigendian: int | bool, data: Any) -> np.ndarray:
    """Decode raw ``sensor_msgs/Image`` fields to a native-endian, contiguous numpy array.

    Args:
        height: rows (pixels).
        width: columns (pixels).
        encoding: one of :data:`IMAGE_ENCODINGS` ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8',
            '8UC1', 'mono16', '16UC1', '32FC1', 'yuv422' / 'uyvy', 'yuv422_yuy2' / 'yuyv',
            'bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8').
        step: bytes per row, >= width * bytes per pixel (extra bytes are row padding).
        is_bigendian: byte order of multi-byte pixels.
        data: the pixel bytes (bytes, array.array, memoryview or uint8 ndarray) of length
            ``step * height``.

    Returns:
        (H, W, C) for C-channel encodings (C = 3 or 4, channel order as in ``encoding``; C = 2
        for the YUV 4:2:2 ones, the byte pairs as sent), (H, W) for 1-channel ones (Bayer: the
        mosaic); dtype uint8 / uint16 / float32. The array owns its memory.

    Raises:
        ImageConversionError: for an unknown encoding, a step shorter than a row, or a data
            length different from ``step * height``.
    """
    if encoding not in IMAGE_ENCODINGS:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: {_valid_encodings()}')
    dtype, channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(height), int(width), int(step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f'{encoding} image has an empty size {width}x{height}',
                                   'size_mismatch')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f'{encoding} image {width}x{height}: step {step} bytes is shorter than one row '
            f'({row_bytes} bytes = width * {channels * dtype.itemsize}); fix the publisher',
            'size_mismatch')
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != step * height:
        raise ImageConversionError(
            f'{encoding} image {width}x{height}: data has {buf.size} bytes but step * height = '
            f'{step} * {height} = {step * height}; the message is truncated or its size fields '
            f'are wrong', 'size_mismatch')
    rows = buf.reshape(height, step)[:, :row_bytes]
    wire = dtype.newbyteorder('>' if is_bigendian else '<') if dtype.itemsize > 1 else dtype
    # one copy: rows (a view that skips any row padding) -> native byte order, C order, owning
    # its memory (the message buffer is not kept alive)
    arr = rows.view(wire).reshape(height, width, channels).astype(dtype, order='C', copy=True)
    return arr[:, :, 0] if channels == 1 else arr


def image_to_array(msg: Any) -> np.ndarray:
    """``sensor_msgs/Image`` (rclpy or rosbags message) -> numpy array.

    See :func:`decode_image_buffer` for shapes, dtypes and errors.
    """
    return decode_image_buffer(msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian,
                               msg.data)


def encode_image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """Numpy array -> ``sensor_msgs/Image`` fields (little-endian, no row padding).

    Args:
        array: (H, W, C) for the C-channel encodings ('rgb8'/'bgr8' C = 3, 'rgba8'/'bgra8'
            C = 4, the YUV 4:2:2 ones C = 2), (H, W) or (H, W, 1) for the 1-channel encodings;
            dtype must match the encoding (uint8, uint16 for 'mono16' and '16UC1', float32 for
            '32FC1').
        encoding: one of :data:`IMAGE_ENCODINGS`.

    Returns:
        dict with height, width, encoding, is_bigendian (0), step (bytes) and data (bytes, built
        with ``ndarray.tobytes()``, the fast path for rclpy).

    Raises:
        ImageConversionError: for an unknown encoding or an array whose shape/dtype does not fit.
    """
    if encoding not in IMAGE_ENCODINGS:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: {_valid_encodings()}')
    dtype, channels = IMAGE_ENCODINGS[encoding]
    arr = np.asarray(array)
    if channels == 1 and arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    want_ndim = 3 if channels > 1 else 2
    if arr.ndim != want_ndim or (channels > 1 and arr.shape[2] != channels):
        shape = f'(H, W, {channels})' if channels > 1 else '(H, W)'
        raise ImageConversionError(f'{encoding} needs a {shape} array, got shape {arr.shape}',
                                   'shape')
    if arr.dtype != dtype:
        raise ImageConversionError(f'{encoding} needs dtype {dtype}, got {arr.dtype}; convert '
                                   f'the array first (e.g. arr.astype(np.{dtype}))', 'shape')
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageConversionError(f'{encoding} image has an empty shape {arr.shape}', 'shape')
    wire = arr.astype(dtype.newbyteorder('<'), copy=False) if dtype.itemsize > 1 else arr
    height, width = arr.shape[:2]
    return {
        'height': int(height),
        'width': int(width),
        'encoding': encoding,
        'is_bigendian': 0,
        'step': int(width * channels * dtype.itemsize),
        'data': np.ascontiguousarray(wire).tobytes(),
    }


def array_to_image(array: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = '',
                   header: Any = None) -> Any:
    """Numpy array -> rclpy ``sensor_msgs/msg/Image``.

    Args:
        array: see :func:`encode_image_fields`.
        encoding: one of :data:`IMAGE_ENCODINGS`.
        stamp_ns: header stamp in nanoseconds (ignored when ``header`` is given).
        frame_id: header frame id (ignored when ``header`` is given).
        header: a ``std_msgs/msg/Header`` to copy into the message.

    Raises:
        ImageConversionError: see :func:`encode_image_fields`.
    """
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    fields = encode_image_fields(array, encoding)
    msg = Image()
    msg.header = header if header is not None else Header(stamp=ns_to_stamp(stamp_ns),
                                                          frame_id=frame_id)
    msg.height = fields['height']
    msg.width = fields['width']
    msg.encoding = fields['encoding']
    msg.is_bigendian = fields['is_bigendian']
    msg.step = fields['step']
    msg.data = fields['data']
    return msg


def compressed_to_array(msg: Any) -> tuple[np.ndarray, str]:
    """``sensor_msgs/CompressedImage`` (rclpy or rosbags message) -> (array, encoding).

    Decoded with :func:`rgbx_tracker_ros.core.codec.decode_compressed` (``format`` as
    image_transport's compressed / compressedDepth plugins write it); see there for shapes and
    encodings.

    Raises:
        rgbx_tracker_ros.core.codec.CodecError: a ValueError with ``reason`` 'truncated',
            'unknown_format' or 'decode_failed'.
    """
    from rgbx_tracker_ros.core.codec import decode_compressed

    return decode_compressed(msg.format, msg.data)


def array_to_compressed(array: np.ndarray, encoding: str, codec: str = 'jpeg',
                        stamp_ns: int = 0, frame_id: str = '', header: Any = None,
                        jpeg_quality: int = 90) -> Any:
    """Numpy array -> rclpy ``sensor_msgs/msg/CompressedImage`` as image_transport writes it.

    Args:
        array: see :func:`rgbx_tracker_ros.core.codec.encode_compressed` (codec 'jpeg' /
            'png') or :func:`~rgbx_tracker_ros.core.codec.encode_compressed_depth` (codec
            'compressedDepth': (H, W) uint16 '16UC1' / 'mono16' or float '32FC1' metres).
        encoding: the raw encoding of ``array``.
        codec: 'jpeg', 'png' or 'compressedDepth'.
        stamp_ns / frame_id / header: as :func:`array_to_image`.
        jpeg_quality: 1..100.

    Raises:
        rgbx_tracker_ros.core.codec.CodecError: an array or encoding the codec cannot store.
    """
    from sensor_msgs.msg import CompressedImage
    from std_msgs.msg import Header

    from rgbx_tracker_ros.core.codec import encode_compressed, encode_compressed_depth

    if codec == 'compressedDepth':
        fmt, data = encode_compressed_depth(array, encoding)
    else:
        fmt, data = encode_compressed(array, encoding, codec, jpeg_quality=jpeg_quality)
    msg = CompressedImage()
    msg.header = header if header is not None else Header(stamp=ns_to_stamp(stamp_ns),
                                                          frame_id=frame_id)
    msg.format = fmt
    msg.data = data
    return msg


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int) -> Any:
    """Integer nanoseconds (>= 0) -> rclpy ``builtin_interfaces/msg/Time``.

    Raises:
        ValueError: for a negative stamp.
    """
    from builtin_interfaces.msg import Time

    stamp_ns = int(stamp_ns)
    if stamp_ns < 0:
        raise ValueError(f'a ROS time stamp cannot be negative, got {stamp_ns} ns')
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def box_to_detection(box_xywh: Any, score: float, header: Any = None) -> Any:
    """(x, y, w, h) pixel box -> ``vision_msgs/msg/Detection2D`` (class id and id 'target').

    Args:
        box_xywh: 4 finite numbers, pixels, top-left origin.
        score: confidence in [0, 1] stored in ``results[0].hypothesis.score``.
        header: optional ``std_msgs/msg/Header`` copied into the detection.

    Raises:
        ValueError: if the box is not 4 finite numbers.
    """
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)):
        raise ValueError(f'a detection box must be 4 finite numbers (x, y, w, h), '
                         f'got {box_xywh!r}')
    det = Detection2D()
    if header is not None:
        det.header = header
    det.id = TARGET_ID
    det.bbox.center.position.x = float(box[0] + box[2] / 2.0)
    det.bbox.center.position.y = float(box[1] + box[3] / 2.0)
    det.bbox.center.theta = 0.0
    det.bbox.size_x = float(box[2])
    det.bbox.size_y = float(box[3])
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id = TARGET_CLASS_ID
    hyp.hypothesis.score = float(score)
    hyp.pose.pose.position.x = det.bbox.center.position.x
    hyp.pose.pose.position.y = det.bbox.center.position.y
    det.results = [hyp]
    return det


def result_to_detections(header: Any, box_xywh: Any | None, score: float | None) -> Any:
    """Tracker result -> ``vision_msgs/msg/Detection2DArray`` with ``header`` (the RGB frame's).

    Args:
        header: ``std_msgs/msg/Header`` of the RGB frame answered (copied to the array and the
            detection).
        box_xywh: (x, y, w, h) pixels, or None when there is no target (then the array is empty).
        score: confidence in [0, 1] (ignored when ``box_xywh`` is None).

    Raises:
        ValueError: if ``box_xywh`` is given but not 4 finite numbers.
    """
    from vision_msgs.msg import Detection2DArray

    msg = Detection2DArray()
    msg.header = header
    if box_xywh is not None:
        msg.detections = [box_to_detection(box_xywh, 0.0 if score is None else score, header)]
    return msg


def result_to_annotations(stamp: Any, shapes: Any) -> Any:
    """:class:`~rgbx_tracker_ros.core.vis.TrackShapes` -> ``foxglove_msgs/msg/ImageAnnotations``
    (the box as a LINE_LOOP, the trail as a LINE_STRIP, the score at the box and the state in the
    top-left corner), every annotation stamped ``stamp`` (the RGB frame's header stamp, so
    Foxglove draws it on that image).

    Raises:
        ImportError: foxglove_msgs is not installed (the node then does not publish
            ``~/annotations``).
    """
    from foxglove_msgs.msg import Color, ImageAnnotations, Point2, PointsAnnotation
    from foxglove_msgs.msg import TextAnnotation

    colour = Color(r=float(shapes.colour[0]), g=float(shapes.colour[1]),
                   b=float(shapes.colour[2]), a=1.0)
    clear = Color(r=0.0, g=0.0, b=0.0, a=0.0)
    black = Color(r=0.0, g=0.0, b=0.0, a=0.7)

    def points(kind: int, pts) -> Any:
        return PointsAnnotation(
            timestamp=stamp, type=kind, outline_color=colour, fill_color=clear, thickness=2.0,
            points=[Point2(x=float(px), y=float(py)) for px, py in pts])

    msg = ImageAnnotations()
    if shapes.box is not None:
        msg.points.append(points(PointsAnnotation.LINE_LOOP, shapes.box))
    if len(shapes.trail) >= 2:
        msg.points.append(points(PointsAnnotation.LINE_STRIP, shapes.trail))
    texts = [(shapes.label, shapes.label_at), (shapes.status, (4.0, 16.0))]
    msg.texts = [TextAnnotation(timestamp=stamp, position=Point2(x=float(at[0]), y=float(at[1])),
                                text=text, font_size=14.0, text_color=colour,
                                background_color=black)
                 for text, at in texts if text]
    return msg


def detection_to_box_xywh(det: Any) -> np.ndarray:
    """``vision_msgs/Detection2D`` (rclpy or rosbags) -> (4,) float64 (x, y, w, h) pixels."""
    cx = float(det.bbox.center.position.x)
    cy = float(det.bbox.center.position.y)
    w = float(det.bbox.size_x)
    h = float(det.bbox.size_y)
    return np.array([cx - w / 2.0, cy - h / 2.0, w, h], dtype=np.float64)


def detection_score(det: Any) -> float:
    """Score of a ``vision_msgs/Detection2D``: ``results[0].hypothesis.score``, NaN if none."""
    if len(det.results) == 0:
        return float('nan')
    return float(det.results[0].hypothesis.score)


def detections_to_result(msg: Any) -> tuple[np.ndarray | None, float | None]:
    """``vision_msgs/Detection2DArray`` -> (box_xywh (4,) or None, score or None).

    Takes the detection whose id is 'target' (else the first one); an empty array gives
    (None, None).
    """
    if len(msg.detections) == 0:
        return None, None
    det = next((d for d in msg.detections if d.id == TARGET_ID), msg.detections[0])
    return detection_to_box_xywh(det), detection_score(det)


def select_detection(msg: Any, class_id: str = '') -> Any | None:
    """Pick the target from a detector's ``vision_msgs/Detection2DArray``.

    Args:
        msg: the array (rclpy or rosbags message).
        class_id: keep only detections with a hypothesis of this class id (compared as
            stripped strings, so COCO ids work as '0' or 0); '' = any class.

    Returns:
        the detection with the highest matching hypothesis score (ties: the first), or None
        when no detection matches or a detection's box is not finite and positive in size.
    """
    want = str(class_id).strip()
    best, best_score = None, -math.inf
    for det in msg.detections:
        box = detection_to_box_xywh(det)
        if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
            continue
        hyps = [h for h in det.results
                if not want or str(h.hypothesis.class_id).strip() == want]
        if want and not hyps:
            continue
        score = max((float(h.hypothesis.score) for h in hyps), default=0.0)
        if not math.isfinite(score):
            score = 0.0
        if best is None or score > best_score:
            best, best_score = det, score
    return best


# ------------------------------------------------------------------------------- raw events
# sensor_msgs/PointField datatypes -> numpy
_POINTFIELD_DTYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4', 7: 'f4', 8: 'f8'}
#: Wire layout of :func:`events_to_pointcloud` (16 bytes per event, little-endian).
EVENT_CLOUD_DTYPE = np.dtype({'names': ['x', 'y', 'p', 't'],
                              'formats': ['<u2', '<u2', 'u1', '<f8'],
                              'offsets': [0, 2, 4, 8], 'itemsize': 16})


def events_to_pointcloud(events: np.ndarray, stamp_ns: int, frame_id: str = '') -> Any:
    """Raw events -> rclpy ``sensor_msgs/msg/PointCloud2`` (one row of events).

    Fields: x, y (UINT16, pixels), p (UINT8, 1 = ON), t (FLOAT64, microseconds on the clock of
    the header stamps, i.e. ``stamp_ns / 1000``; float64 holds such integers exactly). The header
    stamp should be the end of the time window the message covers: the node renders an RGB
    frame's window once an event message stamped at or after that frame has arrived.

    Args:
        events: (N,) structured array with fields t (int microseconds), x, y, p.
        stamp_ns: header stamp, ns.
        frame_id: header frame id.
    """
    from sensor_msgs.msg import PointCloud2, PointField
    from std_msgs.msg import Header

    ev = np.asarray(events)
    wire = np.zeros(ev.shape[0], dtype=EVENT_CLOUD_DTYPE)
    wire['x'], wire['y'] = ev['x'], ev['y']
    wire['p'] = (ev['p'] > 0).astype(np.uint8)
    wire['t'] = ev['t'].astype(np.float64)
    msg = PointCloud2()
    msg.header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)
    msg.height, msg.width = 1, int(wire.shape[0])
    msg.fields = [PointField(name='x', offset=0, datatype=PointField.UINT16, count=1),
                  PointField(name='y', offset=2, datatype=PointField.UINT16, count=1),
                  PointField(name='p', offset=4, datatype=PointField.UINT8, count=1),
                  PointField(name='t', offset=8, datatype=PointField.FLOAT64, count=1)]
    msg.is_bigendian = False
    msg.point_step = EVENT_CLOUD_DTYPE.itemsize
    msg.row_step = msg.point_step * msg.width
    msg.is_dense = True
    msg.data = wire.tobytes()
    return msg


def pointcloud_to_events(msg: Any) -> np.ndarray:
    """``sensor_msgs/PointCloud2`` with fields x, y, t, p -> (N,) ``core.modality.EVENT_DTYPE``.

    Any PointField numeric type is accepted for each field (t in microseconds; a float t is
    rounded), in either byte order, with any point_step / row_step padding. Polarity p > 0 is ON
    (1), anything else OFF (0), so both the 0/1 and the -1/1 conventions work.

    Raises:
        ImageConversionError: a field is missing or of an unknown type ('encoding'), or the
            data length does not match row_step * height ('size_mismatch').
    """
    from rgbx_tracker_ros.core.modality import EVENT_DTYPE

    fields = {f.name: f for f in msg.fields}
    missing = [n for n in ('x', 'y', 't', 'p') if n not in fields]
    if missing:
        raise ImageConversionError(
            f'event PointCloud2 lacks field(s) {missing}; it needs x, y, t (microseconds), p '
            f'(got {sorted(fields)})', 'encoding')
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for name in ('x', 'y', 't', 'p'):
        f = fields[name]
        if f.datatype not in _POINTFIELD_DTYPES:
            raise ImageConversionError(f'event field {name!r} has unknown PointField datatype '
                                       f'{f.datatype}', 'encoding')
        names.append(name)
        formats.append(order + _POINTFIELD_DTYPES[f.datatype])
        offsets.append(int(f.offset))
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                      'itemsize': point_step})
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if point_step < dtype.itemsize or row_step < width * point_step \
            or buf.size != row_step * height:
        raise ImageConversionError(
            f'event PointCloud2 {width}x{height}: data has {buf.size} bytes, row_step '
            f'{row_step}, point_step {point_step}; expected row_step * height bytes with '
            f'row_step >= width * point_step', 'size_mismatch')
    rows = np.ascontiguousarray(buf.reshape(height, row_step)[:, :width * point_step])
    pts = rows.reshape(-1).view(dtype)
    out = np.empty(pts.shape[0], dtype=EVENT_DTYPE)
    t = pts['t']
    out['t'] = np.rint(t).astype(np.int64) if t.dtype.kind == 'f' else t.astype(np.int64)
    out['x'] = pts['x']
    out['y'] = pts['y']
    out['p'] = (pts['p'] > 0).astype(np.uint8)
    return out
