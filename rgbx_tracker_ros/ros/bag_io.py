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

"""Write and read the rosbag2 (MCAP) recordings used for replay evaluation, with ``rosbags``.

A bag holds, per frame k (stamp ``start_ns + k * round(1e9 / rate_hz)``, header stamp = bag time):

- ``rgb/image_raw`` (``sensor_msgs/msg/Image``, the sequence's own encoding, e.g. 'mono8' for the
  image-intensified visual band of tno_nato_camp, 'rgb8' for colour),
- ``x/image_raw`` (``sensor_msgs/msg/Image``, e.g. 'mono8' thermal, 'mono16', '16UC1' depth),
  or, for raw events, ``x/events`` (``sensor_msgs/msg/PointCloud2`` with fields x, y, p, t in
  microseconds: the events of ``[stamp_(k-1), stamp_k)``, header stamp = stamp_k),
- ``ground_truth`` (``vision_msgs/msg/Detection2DArray``: one Detection2D with the GT box in
  pixels, class id 'target', score 1; an empty array where the target is absent, i.e. GT
  0,0,0,0 in RGBT234 / LasHeR files).

With ``compressed=True`` the images are ``sensor_msgs/msg/CompressedImage`` as image_transport
publishes them (:mod:`rgbx_tracker_ros.core.codec`): ``rgb/image_raw/compressed`` (JPEG; PNG for
16-bit frames), ``x/image_raw/compressed`` (PNG, lossless) or, for depth,
``x/image_raw/compressedDepth`` (compressedDepth PNG). The readers take either form; where a bag
holds both the raw and a compressed topic of a camera, the raw one is used.

Reading (:func:`read_bag_checked`, :func:`read_bag_frames`) does not use rosbags' Reader: the
``.mcap`` files are read chunk by chunk with the ``mcap`` library and the ``.db3`` files with
sqlite3, so a truncated or partly overwritten bag, or one whose metadata.yaml is missing or wrong,
gives what is readable plus a :class:`BagReadReport` (messages read, where the readable part ends,
which MCAP chunks were skipped and why). MCAP chunk CRCs are checked by the ``mcap`` library
(``write_bag`` writes them; rosbags writes none), so a damaged chunk is skipped, never used.
sqlite3 has no checksums: damage there is found only where the database structure breaks, not
inside image data.

The ``vision_msgs`` types are not in rosbags' stock typestores; they are registered from the
project's interface definitions (``interfaces/vision_msgs/msg/*.msg`` in the source tree, or the
installed ``share/vision_msgs/msg`` of an ament prefix) with ``get_types_from_msg``. Nothing here
needs rclpy.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import sqlite3
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import yaml
from mcap.data_stream import ReadDataStream, RecordBuilder
from mcap.exceptions import McapError
from mcap.opcode import Opcode
from mcap.reader import FOOTER_SIZE, make_reader
from mcap.records import (Channel, Chunk, DataEnd, Footer, McapRecord, Message, MessageIndex,
                          Schema)
from mcap.stream_reader import (CRCValidationError, get_chunk_data_stream, MAGIC_SIZE,
                                read_magic, StreamReader)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

from rgbx_tracker_ros.core.codec import (
    decode_compressed, encode_compressed, encode_compressed_depth, transport_suffix)
from rgbx_tracker_ros.ros.conversions import (
    decode_image_buffer, encode_image_fields, TARGET_CLASS_ID, TARGET_ID)

_logger = logging.getLogger(__name__)

TOPIC_RGB = '/rgb/image_raw'
TOPIC_X = '/x/image_raw'
TOPIC_GT = '/ground_truth'
TOPIC_X_EVENTS = '/x/events'
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
POINTCLOUD_TYPE = 'sensor_msgs/msg/PointCloud2'
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'
DEFAULT_START_NS = 1_000_000_000
RGB_FRAME_ID = 'rgb_camera'
X_FRAME_ID = 'x_camera'


class BagError(ValueError):
    """A bag cannot be written or read as a replay bag (missing topics, bad arguments)."""


# ------------------------------------------------------------------------------- typestore
def vision_msgs_definition_dir() -> Path:
    """Folder with the ``vision_msgs`` ``*.msg`` files.

    Looks in the source tree (``interfaces/vision_msgs/msg``) first, then in
    ``share/vision_msgs/msg`` of every prefix in ``AMENT_PREFIX_PATH``.

    Raises:
        FileNotFoundError: when neither exists.
    """
    candidates = [Path(__file__).resolve().parents[2] / 'interfaces' / 'vision_msgs' / 'msg']
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / 'vision_msgs' / 'msg')
    for cand in candidates:
        if cand.is_dir() and any(cand.glob('*.msg')):
            return cand
    raise FileNotFoundError('vision_msgs message definitions not found in '
                            + ', '.join(str(c) for c in candidates)
                            + '; run from the source tree or set AMENT_PREFIX_PATH')


def make_typestore() -> Typestore:
    """ROS 2 Kilted typestore plus ``vision_msgs/msg/*`` (:func:`vision_msgs_definition_dir`)."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict = {}
    for path in sorted(vision_msgs_definition_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'vision_msgs/msg/{path.stem}'))
    store.register(types)
    return store


# ---------------------------------------------------------------------------------- frames
@dataclasses.dataclass
class FrameSource:
    """What :func:`write_bag` writes: T frames, read lazily through callables.

    Attributes:
        name: sequence name (stored in the bag's custom data).
        num_frames: T.
        rgb: k -> (H, W, 3) uint8 or (H, W) uint8 array, in ``rgb_encoding``; may also return
            (array, encoding) to give one frame its own encoding.
        rgb_encoding: 'rgb8', 'bgr8' or 'mono8'.
        x: k -> array in ``x_encoding``, or (array, encoding) (None: no X topic).
        x_encoding: e.g. 'mono8', 'mono16', '16UC1', '32FC1', 'rgb8'.
        gt_xywh: (T, 4) float boxes, pixels, (x, y, w, h) top-left; rows with any w or h <= 0 (or
            all zeros) mean 'target absent' and are written as an empty Detection2DArray.
        x_kind: 'image', or 'events' when ``x`` returns raw events ((N,) EVENT_DTYPE, t in
            microseconds) to be written as PointCloud2 on ``x/events``.
        x_modality: 'thermal', 'depth', 'event' or '' (unknown); a compressed bag writes depth
            as compressedDepth.
    """

    name: str
    num_frames: int
    rgb: Callable[[int], np.ndarray]
    rgb_encoding: str
    x: Callable[[int], np.ndarray] | None
    x_encoding: str
    gt_xywh: np.ndarray
    x_kind: str = 'image'
    x_modality: str = ''


@dataclasses.dataclass
class BagInfo:
    """Summary of a written bag: path, frame count, stamps (ns), topics and encodings."""

    path: Path
    num_frames: int
    stamps_ns: np.ndarray
    rgb_encoding: str
    x_encoding: str | None
    size_wh: tuple[int, int]
    transport: str = 'raw'


def _time(store: Typestore, stamp_ns: int) -> Any:
    Time = store.types['builtin_interfaces/msg/Time']
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def _header(store: Typestore, stamp_ns: int, frame_id: str) -> Any:
    return store.types['std_msgs/msg/Header'](stamp=_time(store, stamp_ns), frame_id=frame_id)


def _image_msg(store: Typestore, array: np.ndarray, encoding: str, stamp_ns: int,
               frame_id: str) -> Any:
    f = encode_image_fields(array, encoding)
    return store.types[IMAGE_TYPE](
        header=_header(store, stamp_ns, frame_id), height=f['height'], width=f['width'],
        encoding=f['encoding'], is_bigendian=f['is_bigendian'], step=f['step'],
        data=np.frombuffer(f['data'], dtype=np.uint8))


def _compressed_msg(store: Typestore, array: np.ndarray, encoding: str, stamp_ns: int,
                    frame_id: str, codec: str, jpeg_quality: int = 90) -> Any:
    """A rosbags CompressedImage: codec 'jpeg' / 'png' (16-bit frames always png) or
    'compressedDepth'."""
    if codec == 'compressedDepth':
        fmt, data = encode_compressed_depth(array, encoding)
    else:
        if codec == 'jpeg' and np.asarray(array).dtype != np.uint8:
            codec = 'png'
        fmt, data = encode_compressed(array, encoding, codec, jpeg_quality=jpeg_quality)
    return store.types[COMPRESSED_TYPE](header=_header(store, stamp_ns, frame_id), format=fmt,
                                        data=np.frombuffer(data, dtype=np.uint8))


def _events_msg(store: Typestore, events: np.ndarray, stamp_ns: int, frame_id: str) -> Any:
    from rgbx_tracker_ros.ros.conversions import EVENT_CLOUD_DTYPE

    t = store.types
    wire = np.zeros(len(events), dtype=EVENT_CLOUD_DTYPE)
    wire['x'], wire['y'] = events['x'], events['y']
    wire['p'] = (events['p'] > 0).astype(np.uint8)
    wire['t'] = events['t'].astype(np.float64)
    field = t['sensor_msgs/msg/PointField']
    fields = [field(name='x', offset=0, datatype=4, count=1),
              field(name='y', offset=2, datatype=4, count=1),
              field(name='p', offset=4, datatype=2, count=1),
              field(name='t', offset=8, datatype=8, count=1)]
    return t[POINTCLOUD_TYPE](
        header=_header(store, stamp_ns, frame_id), height=1, width=len(wire), fields=fields,
        is_bigendian=False, point_step=EVENT_CLOUD_DTYPE.itemsize,
        row_step=EVENT_CLOUD_DTYPE.itemsize * len(wire), data=wire.view(np.uint8).reshape(-1),
        is_dense=True)


def gt_detections_msg(store: Typestore, box_xywh: Sequence[float] | None, stamp_ns: int,
                      frame_id: str = RGB_FRAME_ID) -> Any:
    """A rosbags ``vision_msgs/msg/Detection2DArray`` with the GT box (or empty when absent)."""
    t = store.types
    header = _header(store, stamp_ns, frame_id)
    detections = []
    box = None if box_xywh is None else np.asarray(box_xywh, dtype=np.float64)
    if box is not None and np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0:
        cx, cy = float(box[0] + box[2] / 2.0), float(box[1] + box[3] / 2.0)
        pose = t['geometry_msgs/msg/PoseWithCovariance'](
            pose=t['geometry_msgs/msg/Pose'](
                position=t['geometry_msgs/msg/Point'](x=cx, y=cy, z=0.0),
                orientation=t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36, dtype=np.float64))
        hyp = t['vision_msgs/msg/ObjectHypothesisWithPose'](
            hypothesis=t['vision_msgs/msg/ObjectHypothesis'](class_id=TARGET_CLASS_ID, score=1.0),
            pose=pose)
        bbox = t['vision_msgs/msg/BoundingBox2D'](
            center=t['vision_msgs/msg/Pose2D'](
                position=t['vision_msgs/msg/Point2D'](x=cx, y=cy), theta=0.0),
            size_x=float(box[2]), size_y=float(box[3]))
        detections.append(t['vision_msgs/msg/Detection2D'](header=header, results=[hyp],
                                                           bbox=bbox, id=TARGET_ID))
    return t[DETECTIONS_TYPE](header=header, detections=detections)


def _with_encoding(value: Any, default: str) -> tuple[np.ndarray, str]:
    if isinstance(value, tuple):
        return np.asarray(value[0]), str(value[1])
    return np.asarray(value), default


def frame_stamps(num_frames: int, rate_hz: float, start_ns: int = DEFAULT_START_NS) -> np.ndarray:
    """(T,) int64 stamps ``start_ns + k * round(1e9 / rate_hz)``.

    Raises:
        BagError: for a non-positive rate or a start stamp <= 0 (stamp 0 means 'next frame' on
            the node's ~/init).
    """
    if not rate_hz > 0:
        raise BagError(f'rate must be > 0 Hz, got {rate_hz}')
    if start_ns <= 0:
        raise BagError(f'start stamp must be > 0 ns, got {start_ns}')
    return start_ns + np.arange(num_frames, dtype=np.int64) * int(round(1e9 / rate_hz))


def write_bag(source: FrameSource, out_path: str | Path, rate_hz: float = 10.0,
              start_ns: int = DEFAULT_START_NS, progress: bool = False,
              storage: str = 'mcap', compressed: bool = False,
              jpeg_quality: int = 90) -> BagInfo:
    """Write ``source`` as a rosbag2 folder ``out_path`` (must not exist).

    Per frame the X image is written before the RGB image, and the GT after them, all with the
    same stamp. MCAP chunks get their CRC-32 (rosbags writes 0, i.e. 'no CRC'; see
    :func:`add_mcap_chunk_crcs`), so a reader can tell a damaged chunk from a good one.

    Args:
        source: the frames (see :class:`FrameSource`).
        out_path: bag directory to create.
        rate_hz: frame rate that sets the stamps (Hz, > 0).
        start_ns: stamp of frame 0 (ns, > 0).
        progress: show a tqdm progress bar.
        storage: 'mcap' (default, ``<out>/<out name>.mcap``) or 'sqlite3' (``.db3``).
        compressed: write ``sensor_msgs/CompressedImage`` on ``<topic>/compressed`` (RGB JPEG
            of ``jpeg_quality``, 16-bit RGB PNG; X PNG) or, for X of ``x_modality`` 'depth',
            ``<topic>/compressedDepth`` (see the module docstring).
        jpeg_quality: 1..100, compressed RGB only.

    Raises:
        BagError: bad rate / start / storage, T < 1, GT with the wrong number of rows.
        rosbags.rosbag2.WriterError: if ``out_path`` exists.
        ImageConversionError: a frame that does not fit its encoding.
        rgbx_tracker_ros.core.codec.CodecError: (compressed) a frame the codec cannot store.
    """
    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise BagError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
    n = int(source.num_frames)
    if n < 1:
        raise BagError(f'sequence {source.name!r} has no frames')
    gt = np.asarray(source.gt_xywh, dtype=np.float64).reshape(-1, 4)
    if len(gt) != n:
        raise BagError(f'sequence {source.name!r}: {len(gt)} ground-truth rows for {n} frames')
    stamps = frame_stamps(n, rate_hz, start_ns)
    store = make_typestore()
    out_path = Path(out_path)
    writer = Writer(out_path, version=9, storage_plugin=plugins[storage])
    writer.set_custom_data('rgbx.sequence', str(source.name))
    writer.set_custom_data('rgbx.rate_hz', f'{rate_hz:g}')
    size_wh = (0, 0)
    indices: Any = range(n)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'bag {out_path.name}', unit='frame')
    x_depth = source.x_modality == 'depth'
    x_codec = 'compressedDepth' if x_depth else 'png'
    img_type = COMPRESSED_TYPE if compressed else IMAGE_TYPE
    topic_rgb = f'{TOPIC_RGB}/compressed' if compressed else TOPIC_RGB
    topic_x = f'{TOPIC_X}/{transport_suffix("compressed", x_depth)}' if compressed else TOPIC_X

    def image(array: np.ndarray, enc: str, stamp: int, frame_id: str, codec: str) -> bytes:
        if compressed:
            return store.serialize_cdr(_compressed_msg(store, array, enc, stamp, frame_id, codec,
                                                       jpeg_quality), COMPRESSED_TYPE)
        return store.serialize_cdr(_image_msg(store, array, enc, stamp, frame_id), IMAGE_TYPE)

    with writer:
        events = source.x_kind == 'events'
        c_x = None
        if source.x is not None:
            c_x = (writer.add_connection(TOPIC_X_EVENTS, POINTCLOUD_TYPE, typestore=store)
                   if events else writer.add_connection(topic_x, img_type, typestore=store))
        c_rgb = writer.add_connection(topic_rgb, img_type, typestore=store)
        c_gt = writer.add_connection(TOPIC_GT, DETECTIONS_TYPE, typestore=store)
        for k in indices:
            t = int(stamps[k])
            rgb, rgb_enc = _with_encoding(source.rgb(k), source.rgb_encoding)
            size_wh = (int(rgb.shape[1]), int(rgb.shape[0]))
            if c_x is not None and events:
                msg = _events_msg(store, source.x(k), t, X_FRAME_ID)
                writer.write(c_x, t, store.serialize_cdr(msg, POINTCLOUD_TYPE))
            elif c_x is not None:
                x, x_enc = _with_encoding(source.x(k), source.x_encoding)
                writer.write(c_x, t, image(x, x_enc, t, X_FRAME_ID, x_codec))
            writer.write(c_rgb, t, image(rgb, rgb_enc, t, RGB_FRAME_ID, 'jpeg'))
            writer.write(c_gt, t, store.serialize_cdr(gt_detections_msg(store, gt[k], t),
                                                      DETECTIONS_TYPE))
    if storage == 'mcap':
        for mcap_file in sorted(out_path.glob('*.mcap')):
            add_mcap_chunk_crcs(mcap_file)
    _logger.info('wrote %s: %d frames at %g Hz (%s)', out_path, n, rate_hz, source.name)
    return BagInfo(out_path, n, stamps, source.rgb_encoding,
                   source.x_encoding if source.x is not None else None, size_wh,
                   'compressed' if compressed else 'raw')


# ----------------------------------------------------------------------------- sources
def sequence_source(seq_dir: str | Path, layout: str | None = None) -> FrameSource:
    """A :class:`FrameSource` for a sequence folder read with ``data.sequences.load_sequence``.

    Any layout that reader knows works (``rgbt234`` as tno_nato_camp: ``visible/`` +
    ``infrared/`` + ``visible.txt``; ``otb``: ``img/`` + ``groundtruth_rect.txt``, then RGB only,
    boxes shifted to a 0-based origin by the reader; ...). Frames keep the encoding the reader
    gives ('mono8' for grey PNGs, 'rgb8' for colour, 'mono16' / '16UC1' for 16-bit X). Absent
    targets (GT 0,0,0,0 or NaN) become empty ground-truth messages.

    Args:
        seq_dir: the sequence folder.
        layout: a ``data.sequences.LAYOUTS`` key, or None to detect it.

    Raises:
        rgbx_tracker_ros.data.sequences.SequenceError: the folder is not a valid sequence.
    """
    from rgbx_tracker_ros.data.sequences import load_sequence

    seq = load_sequence(seq_dir, layout)
    gt = np.where(seq.absent[:, None], 0.0, np.nan_to_num(seq.gt_xywh, nan=0.0))
    return FrameSource(name=seq.name, num_frames=seq.num_frames, rgb=seq.read_rgb,
                       rgb_encoding=seq.rgb_encoding, x=seq.read_x if seq.has_x else None,
                       x_encoding=seq.x_encoding or '', gt_xywh=gt,
                       x_modality=seq.modality.value if seq.has_x else '')


def synthetic_source(seq: Any, name: str = 'synthetic', raw_events: bool = False) -> FrameSource:
    """A :class:`FrameSource` for a :class:`rgbx_tracker_ros.data.synthetic.SyntheticSequence`.

    RGB is written as 'rgb8'; X in the sequence's raw encoding ('mono16' / 'mono8' thermal,
    '16UC1' depth); events are rendered per frame with ``core.modality.events_to_frame`` over
    the frame's event window and written as 'rgb8' images, or with ``raw_events`` written raw as
    PointCloud2 on ``x/events``. Frames where the target is not visible get an empty ground
    truth.
    """
    gt = np.asarray(seq.boxes_xywh, dtype=np.float64).copy()
    gt[~np.asarray(seq.visible, dtype=bool)] = 0.0
    x = None
    x_enc = ''
    if seq.x_encoding == 'events' and raw_events:
        return FrameSource(name=name, num_frames=len(seq.rgb), rgb=seq.rgb.__getitem__,
                           rgb_encoding='rgb8', x=seq.x_raw.__getitem__, x_encoding='events',
                           gt_xywh=gt, x_kind='events')
    if seq.x_encoding == 'events':
        from rgbx_tracker_ros.core.modality import events_to_frame

        def x_frame(k: int) -> np.ndarray:
            t0, t1 = (int(v) for v in seq.event_windows_us[k])
            return events_to_frame(seq.x_raw[k], seq.height, seq.width, t0, t1)
        x = x_frame
        x_enc = 'rgb8'
    elif seq.x_encoding:
        x = seq.x_raw.__getitem__
        x_enc = seq.x_encoding
    modality = getattr(seq, 'modality', '')
    return FrameSource(name=name, num_frames=len(seq.rgb), rgb=seq.rgb.__getitem__,
                       rgb_encoding='rgb8', x=x, x_encoding=x_enc, gt_xywh=gt,
                       x_modality=str(getattr(modality, 'value', modality)) if x else '')


# -------------------------------------------------------------------------------- reading
@dataclasses.dataclass
class BagFrame:
    """One frame of a replay bag.

    Attributes:
        index: 0-based frame index (bag order of the RGB topic).
        stamp_ns: RGB header stamp.
        rgb_raw: serialized (CDR) ``sensor_msgs/Image`` (or ``CompressedImage``, see
            ``rgb_type``) as stored (publishable as is).
        x_raw: serialized X message with the same stamp (an Image, a CompressedImage, or a
            PointCloud2 of raw events), or None.
        x_type: 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage' or
            'sensor_msgs/msg/PointCloud2' ('' without X).
        rgb_type: 'sensor_msgs/msg/Image' or 'sensor_msgs/msg/CompressedImage'.
        gt_xywh: (4,) GT box, zeros when absent / no GT.
        gt_present: whether a GT detection exists for this frame.
    """

    index: int
    stamp_ns: int
    rgb_raw: bytes
    x_raw: bytes | None
    gt_xywh: np.ndarray
    gt_present: bool
    x_type: str = ''
    rgb_type: str = IMAGE_TYPE


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


# ------------------------------------------------------------------- damaged-bag reading
# The storage files are read here (not with rosbags' Reader, which refuses a bag without
# metadata.yaml or without an MCAP footer, and stops at the first damaged chunk), so that a
# truncated or partly overwritten bag gives what is readable plus a report of what is not.

#: Problem kinds that mean data was lost (as opposed to 'metadata' notes on an intact file).
DAMAGE_KINDS = ('truncated', 'corrupt_chunk', 'corrupt_data', 'unreadable_messages',
                'bad_message', 'unreadable')

_MCAP_MAGIC = b'\x89MCAP0\r\n'
_SQLITE_MAGIC = b'SQLite format 3\x00'
_ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


@dataclasses.dataclass
class BagProblem:
    """One thing found wrong while reading a bag.

    Attributes:
        kind: 'truncated' (the file ends early), 'corrupt_chunk' (an MCAP chunk that fails its
            CRC / decompression / record structure: skipped as a whole), 'corrupt_data' (bytes
            that are no MCAP record: skipped up to the next intact chunk), 'unreadable_messages'
            (sqlite3 rows the database cannot return), 'bad_message' (one message that does not
            deserialize), 'unreadable' (a file that cannot be opened or is not a bag file),
            'metadata' (metadata.yaml missing, unreadable or disagreeing with the file).
        file: storage file (or metadata.yaml) name.
        detail: what is wrong, in words.
        offset: byte offset in ``file`` where the damage starts (MCAP), if known.
        end_offset: byte offset where readable data starts again ('corrupt_data').
        message_index: number of messages of ``file`` read before the damage (= 0-based index of
            the first message not read), if known.
        chunk: 0-based MCAP chunk number ('corrupt_chunk').
        messages_lost: messages known to be lost because of this problem (None: unknown).
    """

    kind: str
    file: str
    detail: str
    offset: int | None = None
    end_offset: int | None = None
    message_index: int | None = None
    chunk: int | None = None
    messages_lost: int | None = None

    def describe(self) -> str:
        """One-clause description, e.g. 'b.mcap: skipped corrupt chunk 2 at byte 1049320 (48
        messages lost): CRC mismatch ...'."""
        lost = '' if self.messages_lost is None else f' ({self.messages_lost} messages lost)'
        after = '' if self.message_index is None else f' (after message {self.message_index})'
        if self.kind == 'truncated':
            where = (f'at byte {self.offset}' if self.offset is not None
                     else f'after message {self.message_index}')
            return (f'{self.file}: truncated, the readable part ends {where}'
                    f'{after if self.offset is not None else ""}{lost}: {self.detail}')
        if self.kind == 'corrupt_chunk':
            return (f'{self.file}: skipped corrupt chunk {self.chunk} at byte {self.offset}'
                    f'{lost}: {self.detail}')
        if self.kind == 'corrupt_data':
            return (f'{self.file}: skipped unreadable bytes {self.offset}..{self.end_offset}'
                    f'{after}{lost}: {self.detail}')
        if self.kind == 'unreadable_messages':
            return f'{self.file}: skipped unreadable messages{after}{lost}: {self.detail}'
        if self.kind == 'bad_message':
            return f'{self.file}: skipped message {self.message_index}: {self.detail}'
        if self.kind == 'unreadable':
            return f'{self.file}: cannot be read: {self.detail}'
        return f'{self.file}: {self.detail}'


@dataclasses.dataclass
class BagReadReport:
    """What :func:`read_bag_checked` read from a bag and what it found wrong.

    Attributes:
        path: the bag (folder or storage file) as given.
        storage: 'mcap', 'sqlite3' (or 'mcap+sqlite3'); '' when no storage file was found.
        files: the storage files read, in order.
        metadata: whether a readable metadata.yaml was used to find the files.
        topics: topic -> message type of every topic the readable part defines.
        messages_read: intact messages read (all topics).
        messages_expected: message count from metadata.yaml (else from the MCAP statistics or the
            sqlite3 ``metadata`` table); None when nothing says.
        frames: frames returned.
        frames_dropped: RGB frames read but dropped next to damage because their X image or GT,
            which the other frames have, was lost.
        chunks_read: intact MCAP chunks read.
        chunks_skipped: 0-based numbers of the MCAP chunks skipped as corrupt.
        chunks_without_crc: chunks read that carry no CRC (their content could not be checked).
        unverified_messages: messages taken from the incomplete last chunk of a truncated MCAP
            file (complete records, but the chunk's CRC could not be checked).
        truncated_at: byte offset where the readable part of a truncated file ends (MCAP).
        truncated_at_message: index of the first message not read in the truncated file.
        problems: everything found wrong, in reading order.
        fatal: non-empty when nothing usable was read: the one-line error (file, what is wrong,
            what to do).
    """

    path: Path
    storage: str = ''
    files: list[Path] = dataclasses.field(default_factory=list)
    metadata: bool = False
    topics: dict[str, str] = dataclasses.field(default_factory=dict)
    messages_read: int = 0
    messages_expected: int | None = None
    frames: int = 0
    frames_dropped: int = 0
    chunks_read: int = 0
    chunks_skipped: list[int] = dataclasses.field(default_factory=list)
    chunks_without_crc: int = 0
    unverified_messages: int = 0
    truncated_at: int | None = None
    truncated_at_message: int | None = None
    problems: list[BagProblem] = dataclasses.field(default_factory=list)
    fatal: str = ''

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems and not self.fatal

    @property
    def damaged(self) -> bool:
        """True when data was lost (a problem other than a metadata note)."""
        return any(p.kind in DAMAGE_KINDS for p in self.problems)

    @property
    def usable(self) -> bool:
        """True when at least one frame was read (and nothing was fatal)."""
        return self.frames > 0 and not self.fatal

    @property
    def messages_lost(self) -> int | None:
        """Expected minus read messages when the expected count is known, else the sum of the
        problems' known losses (None when none is known)."""
        if self.messages_expected is not None and self.messages_expected >= self.messages_read:
            return self.messages_expected - self.messages_read
        known = [p.messages_lost for p in self.problems if p.messages_lost is not None]
        return sum(known) if known else None

    def warning_line(self) -> str:
        """One line: bag, messages / frames read, and every problem (where, what is wrong)."""
        of = '' if self.messages_expected is None else f' of {self.messages_expected}'
        head = (f'bag {self.path}: read {self.messages_read}{of} messages '
                f'({_plural(self.frames, "frame")}')
        if self.frames_dropped:
            head += f', {_plural(self.frames_dropped, "incomplete frame")} dropped'
        head += ')'
        if self.unverified_messages:
            head += (f', {self.unverified_messages} of the messages from the incomplete last '
                     'chunk (complete records, chunk CRC not checkable)')
        if not self.problems:
            return head
        return head + '; ' + '; '.join(p.describe() for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for summary.json files)."""
        return {'path': str(self.path), 'storage': self.storage,
                'files': [str(f) for f in self.files], 'metadata': self.metadata,
                'messages_read': self.messages_read, 'messages_expected': self.messages_expected,
                'frames': self.frames, 'frames_dropped': self.frames_dropped,
                'chunks_read': self.chunks_read, 'chunks_skipped': list(self.chunks_skipped),
                'chunks_without_crc': self.chunks_without_crc,
                'unverified_messages': self.unverified_messages,
                'truncated_at': self.truncated_at,
                'truncated_at_message': self.truncated_at_message,
                'problems': [dataclasses.asdict(p) for p in self.problems],
                'fatal': self.fatal, 'ok': self.ok}


def _plural(n: int, word: str) -> str:
    return f'{n} {word}' + ('' if n == 1 else 's')


class BagReadError(BagError):
    """Nothing usable could be read from a bag; ``report`` says why (``str(err)`` is the
    one-line error)."""

    def __init__(self, message: str, report: BagReadReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclasses.dataclass
class BagMessage:
    """One message read from a storage file.

    Attributes:
        topic: topic name as stored.
        msgtype: e.g. 'sensor_msgs/msg/Image' ('' when the file does not say).
        log_time_ns: the bag (receive) time.
        raw: serialized message (CDR), decompressed when the bag compresses per message.
        file: storage file name.
        index: 0-based message number in ``file`` (all topics, reading order).
    """

    topic: str
    msgtype: str
    log_time_ns: int
    raw: bytes
    file: str
    index: int


def _zstd_module() -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef]
    return zstd


# MCAP files are read with the ``mcap`` library (records, chunk decompression, chunk CRCs). What it
# does not do, and is done here: go on after a record it cannot read (its readers stop at the first
# error), tell a truncated file from a damaged one, skip one bad chunk and report it (number,
# offset, messages lost, from the MessageIndex records after it), and take the complete messages
# of the incomplete chunk a truncated file ends in.
_MCAP_ERRORS = (McapError, ValueError, struct.error, OverflowError)
_OPCODES = frozenset(int(op) for op in Opcode)
_CHUNK_COMPRESSIONS = ('', 'zstd', 'lz4')
_RESYNC_BLOCK = 1 << 20
_PREFIX = 9      # every record starts with its opcode (1 byte) and its length (8 bytes)


def _op_name(op: int) -> str:
    if op >= 0x80:
        return 'user'
    try:
        return Opcode(op).name.title().replace('_', '')
    except ValueError:
        return f'opcode 0x{op:02x}'


def _records(stream: ReadDataStream,
             length: int) -> tuple[list[McapRecord], int, Exception | None]:
    """The records of a chunk's (uncompressed) record data: (complete records, bytes they span,
    the error that ended reading early or None).

    Each record is read by the library's record class from its own bytes, and must fill them
    exactly: the library's StreamReader / breakup_chunk do not check that, so a damaged length
    field inside a record would silently shift every record after it (this matters where no CRC
    vouches for the bytes: the incomplete last chunk of a truncated file, chunks without CRC).
    """
    records: list[McapRecord] = []
    end = 0
    try:
        while end < length:
            op, n = stream.read1(), stream.read8()
            if n > length - stream.count:
                raise ValueError(f'{_op_name(op)} record at {end} needs {n} bytes, '
                                 f'{length - stream.count} left')
            body = ReadDataStream(io.BytesIO(stream.read(n)))
            if op == Opcode.MESSAGE:
                rec: McapRecord = Message.read(body, n)
            elif op in (Opcode.SCHEMA, Opcode.CHANNEL):
                rec = (Schema if op == Opcode.SCHEMA else Channel).read(body)
            else:
                raise ValueError(f'{_op_name(op)} record cannot be in a chunk')
            if body.count != n:
                raise ValueError(f'{_op_name(op)} record at {end}: its fields take {body.count} '
                                 f'of its {n} bytes')
            records.append(rec)
            end = stream.count
    except _MCAP_ERRORS as exc:
        return records, end, exc
    return records, end, None


def add_mcap_chunk_crcs(path: str | Path) -> int:
    """Write the CRC-32 of every MCAP chunk of ``path`` whose CRC field is 0 ('no CRC', as
    rosbags writes it), in place. Returns the number of chunks changed.

    Readers that check CRCs (this module, the ``mcap`` library, rosbags) then detect a chunk whose
    bytes were damaged instead of using it. The chunk record is serialized again by the ``mcap``
    library with the CRC set (same length) and written over the old one.

    Raises:
        BagError: ``path`` is no MCAP file.
        mcap.exceptions.McapError: a record that does not read (a damaged file).
    """
    changed = 0
    with open(path, 'r+b') as fh:
        try:
            read_magic(ReadDataStream(fh))
        except _MCAP_ERRORS:
            raise BagError(f'{path}: not an MCAP file') from None
        pos = fh.tell()
        for record in StreamReader(fh, skip_magic=True, emit_chunks=True).records:
            start, pos = pos, fh.tell()
            if isinstance(record, (DataEnd, Footer)):
                break
            if (not isinstance(record, Chunk) or record.uncompressed_crc
                    or record.compression not in _CHUNK_COMPRESSIONS):
                continue
            data, size = get_chunk_data_stream(record)
            crc = zlib.crc32(data.read(size))
            builder = RecordBuilder()
            dataclasses.replace(record, uncompressed_crc=crc).write(builder)
            raw = builder.end()
            if crc and len(raw) == pos - start:      # (an empty chunk's CRC is 0 itself)
                fh.seek(start)
                fh.write(raw)
                fh.seek(pos)
                changed += 1
    return changed


@dataclasses.dataclass
class _PendingChunk:
    """A chunk read, waiting for the MessageIndex records that follow it."""

    number: int
    offset: int
    ok: bool
    reason: str = ''
    crc_checked: bool = False
    records: list[McapRecord] = dataclasses.field(default_factory=list)
    index: list[tuple[int, int]] | None = None     # (channel id, log time) of its index entries


class _McapScan:
    """Reads one MCAP file with the ``mcap`` library, chunk by chunk, checking chunk CRCs and going
    on after damage."""

    def __init__(self, fh: Any, size: int, label: str, report: BagReadReport,
                 sink: list[BagMessage]) -> None:
        self.fh, self.size, self.label, self.report, self.sink = fh, size, label, report, sink
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[int, str]] = {}
        self.chunk_offsets: list[int] = []
        self.expected: int | None = None
        self.count = 0          # messages of this file read
        self.chunks = 0
        self.pending: _PendingChunk | None = None
        self.unknown_channel_msgs = 0
        self.footer_ok = False

    # -- summary section (optional: intact files only)
    def read_summary(self) -> None:
        """Schemas, channels, chunk offsets and the message count from the summary section."""
        fh, size = self.fh, self.size
        footer_at = size - MAGIC_SIZE - FOOTER_SIZE
        if footer_at < MAGIC_SIZE:
            return
        try:
            fh.seek(size - MAGIC_SIZE)
            read_magic(ReadDataStream(fh))
            fh.seek(footer_at)
            footer = next(StreamReader(fh, skip_magic=True, record_size_limit=size).records)
        except (*_MCAP_ERRORS, StopIteration):
            return                              # no footer: a truncated file
        if not isinstance(footer, Footer):
            return
        self.footer_ok = True
        if not MAGIC_SIZE <= footer.summary_start <= footer_at:
            return
        try:
            if footer.summary_crc:      # the library does not check it: summary + footer fields
                fh.seek(footer.summary_start)
                covered = fh.read(footer_at + FOOTER_SIZE - 4 - footer.summary_start)
                actual = zlib.crc32(covered)
                if actual != footer.summary_crc:
                    raise ValueError(f'summary CRC mismatch (stored 0x{footer.summary_crc:08x}, '
                                     f'computed 0x{actual:08x})')
            fh.seek(0)
            summary = make_reader(fh).get_summary()
        except _MCAP_ERRORS as exc:
            self.report.problems.append(BagProblem(
                'metadata', self.label, f'the MCAP summary section is damaged ({exc}); '
                'read without it'))
            return
        if summary is None:
            return
        self.schemas.update({i: s.name for i, s in summary.schemas.items()})
        self.channels.update({i: (c.schema_id, c.topic) for i, c in summary.channels.items()})
        self.chunk_offsets = sorted(c.chunk_start_offset for c in summary.chunk_indexes)
        if summary.statistics is not None:
            self.expected = summary.statistics.message_count

    # -- helpers
    def _problem(self, kind: str, detail: str, **kw: Any) -> BagProblem:
        prob = BagProblem(kind, self.label, detail, **kw)
        self.report.problems.append(prob)
        return prob

    def _truncated(self, offset: int, detail: str) -> None:
        self._problem('truncated', detail, offset=offset, message_index=self.count)
        if self.report.truncated_at is None:
            self.report.truncated_at = offset
            self.report.truncated_at_message = self.count

    def _emit(self, msg: Message, schemas: dict[int, str],
              channels: dict[int, tuple[int, str]]) -> None:
        chan = channels.get(msg.channel_id)
        if chan is None:
            self.unknown_channel_msgs += 1
            return
        sid, topic = chan
        msgtype = schemas.get(sid, '')
        self.report.topics.setdefault(topic, msgtype)
        data = msg.data
        if data[:4] == _ZSTD_MAGIC:          # per-message compression (compression_mode: message)
            try:
                data = _zstd_module().decompress(data)
            except Exception as exc:  # noqa: BLE001 - zstd raises its own error type
                self._problem('bad_message', f'{topic}: zstd decompression failed ({exc})',
                              message_index=self.count)
                self.count += 1
                return
        self.sink.append(BagMessage(topic, msgtype, msg.log_time, data, self.label, self.count))
        self.count += 1
        self.report.messages_read += 1

    def _emit_records(self, records: list[McapRecord], schemas: dict[int, str],
                      channels: dict[int, tuple[int, str]]) -> int:
        """Register the schemas / channels and emit the messages of ``records``; returns the
        number of messages."""
        n = 0
        for rec in records:
            if isinstance(rec, Schema):
                schemas[rec.id] = rec.name
            elif isinstance(rec, Channel):
                channels[rec.id] = (rec.schema_id, rec.topic)
            elif isinstance(rec, Message):
                self._emit(rec, schemas, channels)
                n += 1
        return n

    def _chunk_at(self, offset: int) -> bool:
        """Whether an intact-looking Chunk record starts at ``offset``: the library reads its
        header and its fields fill exactly the record length (its CRC is checked later)."""
        self.fh.seek(offset)
        head = ReadDataStream(self.fh)
        try:
            if head.read1() != Opcode.CHUNK:
                return False
            length = head.read8()
            if offset + _PREFIX + length > self.size:
                return False
            body = ReadDataStream(io.BytesIO(self.fh.read(length)))
            chunk = Chunk.read(body)
        except _MCAP_ERRORS:
            return False
        return body.count == length and chunk.compression in _CHUNK_COMPRESSIONS

    def resync(self, start: int) -> int | None:
        """File offset of the next intact-looking Chunk record at or after ``start``: from the
        summary's ChunkIndex records, else the next Chunk opcode byte that starts one (the
        library has no way to find the next record after bytes it cannot read)."""
        for off in self.chunk_offsets:
            if off >= start and self._chunk_at(off):
                return off
        pos = start
        while pos < self.size:
            self.fh.seek(pos)
            buf = self.fh.read(_RESYNC_BLOCK)
            i = buf.find(bytes([Opcode.CHUNK]))
            while i >= 0:
                if self._chunk_at(pos + i):
                    return pos + i
                i = buf.find(bytes([Opcode.CHUNK]), i + 1)
            pos += len(buf)
        return None

    # -- chunks
    def _finish_pending(self) -> None:
        p, self.pending = self.pending, None
        if p is None:
            return
        if p.ok and not p.crc_checked and p.index is not None:
            got = sorted((m.channel_id, m.log_time) for m in p.records if isinstance(m, Message))
            if got != sorted(p.index):
                p.ok, p.reason = False, ('the chunk has no CRC and its messages disagree with '
                                         'its message index')
        if p.ok:
            self._emit_records(p.records, self.schemas, self.channels)
            self.report.chunks_read += 1
            if not p.crc_checked:
                self.report.chunks_without_crc += 1
            return
        lost = None if p.index is None else len(p.index)
        self._problem('corrupt_chunk', p.reason, offset=p.offset, chunk=p.number,
                      message_index=self.count, messages_lost=lost)
        self.report.chunks_skipped.append(p.number)

    def _chunk(self, offset: int, chunk: Chunk | None, reason: str = '') -> None:
        """Decompress and CRC-check ``chunk`` with the library (None: its record did not
        read, ``reason`` says why); it is used or reported when its message index has come."""
        number = self.chunks
        self.chunks += 1
        if chunk is not None and chunk.compression not in _CHUNK_COMPRESSIONS:
            chunk, reason = None, f'unsupported compression {chunk.compression!r}'
        if chunk is None:
            self.pending = _PendingChunk(number, offset, False, reason)
            return
        try:
            data, size = get_chunk_data_stream(chunk, validate_crc=True)
        except CRCValidationError as exc:
            reason = f'CRC mismatch (stored 0x{exc.expected:08x}, computed 0x{exc.actual:08x})'
        except Exception as exc:  # noqa: BLE001 - zstd / lz4 raise their own error types
            reason = f'{chunk.compression} decompression failed ({exc})'
        else:
            records, end, err = _records(data, size)
            if err is None:
                self.pending = _PendingChunk(number, offset, True,
                                             crc_checked=bool(chunk.uncompressed_crc),
                                             records=records)
                return
            reason = f'its records end at byte {end} of {size} ({type(err).__name__}: {err})'
        self.pending = _PendingChunk(number, offset, False, reason)

    def _message_index(self, rec: MessageIndex) -> None:
        if self.pending is not None:
            self.pending.index = ((self.pending.index or [])
                                  + [(rec.channel_id, t) for t, _ in rec.records])

    def _salvage(self, offset: int) -> None:
        """The complete messages of the incomplete chunk a truncated file ends in."""
        self.fh.seek(offset)
        stream = ReadDataStream(self.fh)
        try:
            stream.read1()
            stream.read8()
            chunk = Chunk.read(stream)       # its data: what is left of the file
        except _MCAP_ERRORS:      # (also a chunk with its header but none of its data)
            self._truncated(offset, f'the file ends inside the header of chunk {self.chunks} '
                                    f'at byte {offset}')
            return
        if chunk.compression:
            self._truncated(offset, f'the file ends inside {chunk.compression}-compressed chunk '
                                    f'{self.chunks} at byte {offset}; its messages are lost')
            return
        records, end, _ = _records(ReadDataStream(io.BytesIO(chunk.data)), len(chunk.data))
        self.report.unverified_messages += self._emit_records(records, dict(self.schemas),
                                                              dict(self.channels))
        self._truncated(offset + stream.count - len(chunk.data) + end,
                        f'the file ends at byte {self.size}, inside chunk {self.chunks} (starts '
                        f'at byte {offset})')
        self.chunks += 1

    # -- the scan
    def _stream(self, pos: int) -> tuple[bool, int, Exception | None]:
        """Read records from ``pos`` with the library until DataEnd / Footer (-> (True, _, None))
        or until it fails (-> (False, offset of the record that failed, the error))."""
        self.fh.seek(pos)
        end = pos
        try:
            for rec in StreamReader(self.fh, skip_magic=True, emit_chunks=True,
                                    record_size_limit=self.size).records:
                start, end = end, self.fh.tell()
                if not isinstance(rec, MessageIndex):
                    self._finish_pending()
                if isinstance(rec, (DataEnd, Footer)):
                    return True, end, None
                if isinstance(rec, Chunk):
                    self._chunk(start, rec)
                elif isinstance(rec, MessageIndex):
                    self._message_index(rec)
                else:
                    self._emit_records([rec], self.schemas, self.channels)
        except _MCAP_ERRORS as exc:
            return False, end, exc
        return False, end, None

    def run(self) -> None:
        pos = MAGIC_SIZE
        ended = False
        while True:
            ended, pos, exc = self._stream(pos)
            self._finish_pending()
            if ended:
                break
            if pos + _PREFIX > self.size:
                if pos < self.size:
                    self._truncated(pos, f'the file ends {self.size - pos} bytes into a record '
                                         'header')
                else:
                    self._truncated(pos, 'the file ends at a record boundary without the '
                                         'DataEnd / Footer records')
                break
            self.fh.seek(pos)
            head = ReadDataStream(self.fh)
            op, length = head.read1(), head.read8()
            end, name = pos + _PREFIX + length, _op_name(op)
            known = op in _OPCODES or op >= 0x80         # (0x80.. are user records)
            if op >= 0x80 and end <= self.size:  # the library skips these: it failed after it
                pos = end
                continue
            if known and end <= self.size:      # the library could not read a record that fits
                why = f'{type(exc).__name__}: {exc}'
                if op == Opcode.CHUNK:
                    self._chunk(pos, None, f'its header does not read ({why})')
                else:
                    self._problem('corrupt_data', f'bad {name} record ({why})', offset=pos,
                                  end_offset=end, message_index=self.count)
                pos = end
                continue
            nxt = self.resync(pos + 1)
            detail = (f'{name} record at {pos} claims {length} bytes, past the end of the file'
                      if known else f'bytes at {pos} are no MCAP record ({name})')
            if nxt is not None:                 # damaged bytes, not the end of the file
                self._problem('corrupt_data', detail, offset=pos, end_offset=nxt,
                              message_index=self.count)
                pos = nxt
                continue
            if self.footer_ok or not known:     # the file has its end: this record is damaged
                self._garbage_to_end(pos, detail)
            elif op == Opcode.CHUNK:
                self._salvage(pos)
            else:
                self._truncated(pos, f'the file ends at byte {self.size}, inside a {name} '
                                     f'record at byte {pos} that needs {length} bytes')
            break
        if self.unknown_channel_msgs:
            self._problem('corrupt_data', f'{self.unknown_channel_msgs} messages on channels '
                          'whose definition was in a lost part of the file were skipped',
                          messages_lost=self.unknown_channel_msgs)
        if ended and not self.footer_ok:
            self._problem('metadata', f'the file ends at byte {self.size} without an intact '
                          'footer after its data section (no messages lost)')

    def _garbage_to_end(self, pos: int, detail: str) -> None:
        """Report the bytes from ``pos`` to the end as unreadable (no intact chunk follows)."""
        self._problem('corrupt_data', detail + '; no intact chunk follows', offset=pos,
                      end_offset=self.size, message_index=self.count)
        if self.report.truncated_at is None:
            self.report.truncated_at = pos
            self.report.truncated_at_message = self.count


def _read_mcap_file(path: Path, label: str, report: BagReadReport,
                    sink: list[BagMessage]) -> int | None:
    """Read one MCAP file into ``sink``; returns the message count its statistics record
    gives (None without an intact summary)."""
    size = path.stat().st_size
    with open(path, 'rb') as fh:
        try:
            read_magic(ReadDataStream(fh))
        except _MCAP_ERRORS:
            what = 'the file is empty' if not size else 'no MCAP magic bytes at byte 0'
            report.problems.append(BagProblem('unreadable', label, f'not an MCAP file ({what})',
                                              offset=0))
            return None
        scan = _McapScan(fh, size, label, report, sink)
        scan.read_summary()
        scan.run()
        return scan.expected


def _read_sqlite_file(path: Path, label: str, report: BagReadReport,
                      sink: list[BagMessage]) -> int | None:
    """Read one rosbag2 sqlite3 file into ``sink``, row by row, skipping rows the database
    cannot return; returns the message count of its ``metadata`` table (None if unknown)."""
    with open(path, 'rb') as fh:
        header = fh.read(100)
    if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
        what = 'the file is empty' if not header else 'no SQLite header at byte 0'
        report.problems.append(BagProblem('unreadable', label, f'not a sqlite3 file ({what})',
                                          offset=0))
        return None
    page_size = int.from_bytes(header[16:18], 'big')
    page_size = 65536 if page_size == 1 else page_size
    declared = page_size * int.from_bytes(header[28:32], 'big')
    size = path.stat().st_size
    short = (f'the file has {size} bytes, its header says {declared}'
             if declared and size < declared else '')
    uri = f'{path.resolve().as_uri()}?mode=ro'
    # immutable: no locking and no journal recovery on a file nobody writes; not when a -wal
    # file beside it holds the last transactions (a recorder that used WAL and did not close).
    wal = path.with_name(path.name + '-wal')

    def connect(immutable: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(uri + ('&immutable=1' if immutable else ''), uri=True)
        if short:
            # SQLite refuses a file shorter than its header says ('malformed') unless the schema
            # is writable; on this read-only connection that only lifts the size check.
            conn.execute('PRAGMA writable_schema=ON')
        return conn

    try:
        con = connect(not wal.is_file())
        if wal.is_file():
            try:
                con.execute('SELECT 1 FROM sqlite_master LIMIT 1').fetchall()
            except sqlite3.Error as exc:
                con.close()
                report.problems.append(BagProblem(
                    'metadata', label, f'{wal.name} cannot be used ({exc}); the transactions in '
                    'it are not read'))
                con = connect(True)
    except sqlite3.Error as exc:
        report.problems.append(BagProblem('unreadable', label, f'sqlite3 cannot open it ({exc})'))
        return None
    try:
        try:
            topics = {int(i): (str(n), str(t)) for i, n, t in
                      con.execute('SELECT id, name, type FROM topics')}
        except sqlite3.Error as exc:
            report.problems.append(BagProblem(
                'unreadable', label, f'its topics table cannot be read ({exc})'
                + (f'; {short}' if short else '')))
            return None
        for name, msgtype in topics.values():
            report.topics.setdefault(name, msgtype)
        expected = _sqlite_expected(con)
        count, last, prob = 0, 0, None
        errors = 0
        while errors < 100_000:
            try:
                for rid, tid, stamp, data in con.execute(
                        'SELECT id, topic_id, timestamp, data FROM messages WHERE id > ? '
                        'ORDER BY id', (last,)):
                    last = int(rid)
                    prob = None
                    topic = topics.get(int(tid))
                    if topic is None:
                        continue
                    data = bytes(data)
                    if data[:4] == _ZSTD_MAGIC:
                        data = _zstd_module().decompress(data)
                    sink.append(BagMessage(topic[0], topic[1], int(stamp), data, label, count))
                    count += 1
                    report.messages_read += 1
                break
            except sqlite3.DatabaseError as exc:
                errors += 1
                nxt = _sqlite_next_id(con, last)
                if prob is None:
                    first = not any(q.file == label and q.kind in DAMAGE_KINDS
                                    for q in report.problems)
                    prob = BagProblem('truncated' if short and first else 'unreadable_messages',
                                      label, f'{short or "the database is damaged"} ({exc})',
                                      message_index=count, messages_lost=0)
                    report.problems.append(prob)
                    if prob.kind == 'truncated' and report.truncated_at_message is None:
                        report.truncated_at_message = count
                if nxt is None:
                    prob.messages_lost = None
                    break
                prob.messages_lost = (prob.messages_lost or 0) + (nxt - last)
                last = nxt                       # skip the row that failed
        if short and not any(p.file == label and p.kind in DAMAGE_KINDS
                             for p in report.problems):
            report.problems.append(BagProblem('truncated', label, short + ' (every row read)',
                                              message_index=count))
        return expected
    finally:
        con.close()


def _sqlite_next_id(con: sqlite3.Connection, last: int) -> int | None:
    """Id of the first message row after ``last`` the database can still find (None: none)."""
    jump = 0
    for _ in range(40):
        try:
            row = con.execute('SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT 1',
                              (last + jump,)).fetchone()
            return None if row is None else int(row[0])
        except sqlite3.DatabaseError:
            jump = max(1, jump * 2)
    return None


def _sqlite_expected(con: sqlite3.Connection) -> int | None:
    """message_count of the metadata.yaml copy rosbag2 keeps in the ``metadata`` table."""
    try:
        row = con.execute('SELECT metadata FROM metadata ORDER BY id DESC LIMIT 1').fetchone()
        info = yaml.safe_load(row[0]) if row else None
        if isinstance(info, dict):
            info = info.get('rosbag2_bagfile_information', info)
            return int(info['message_count'])
    except (sqlite3.Error, yaml.YAMLError, KeyError, TypeError, ValueError):
        pass
    return None


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', p.name)]


def _storage_of(p: Path) -> str:
    name = p.name.removesuffix('.zstd')
    if name.endswith('.mcap'):
        return 'mcap'
    if name.endswith('.db3'):
        return 'sqlite3'
    try:
        with open(p, 'rb') as fh:
            head = fh.read(16)
    except OSError:
        return ''
    return 'mcap' if head.startswith(_MCAP_MAGIC) else 'sqlite3' if head == _SQLITE_MAGIC else ''


def _bag_files(path: Path, report: BagReadReport) -> tuple[list[Path], int | None, bool]:
    """Storage files of a bag (folder or file) -> (files, message count of metadata.yaml,
    whether the files are compressed as a whole)."""
    bag_dir = path if path.is_dir() else path.parent
    meta_path = bag_dir / 'metadata.yaml'
    listed: list[Path] = []
    expected = None
    file_compressed = False
    if meta_path.is_file():
        try:
            info = yaml.safe_load(meta_path.read_text(encoding='utf-8'))
            info = info['rosbag2_bagfile_information']
            listed = [bag_dir / Path(str(r)).name for r in info.get('relative_file_paths') or []]
            expected = int(info['message_count']) if 'message_count' in info else None
            file_compressed = str(info.get('compression_mode') or '').lower() == 'file'
            report.metadata = True
        except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError,
                ValueError) as exc:
            report.problems.append(BagProblem(
                'metadata', 'metadata.yaml', f'{meta_path} cannot be used '
                f'({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ""}); '
                'read the storage file(s) directly'))
    elif path.is_dir():
        report.problems.append(BagProblem(
            'metadata', 'metadata.yaml', f'{meta_path} is missing; read the storage file(s) '
            'directly'))
    if path.is_file():
        if listed and path.resolve() not in {f.resolve() for f in listed}:
            expected = None
        return [path], (expected if len(listed) <= 1 else None), file_compressed
    files = [f for f in listed if f.is_file()]
    missing = [f.name for f in listed if not f.is_file()]
    if missing:
        report.problems.append(BagProblem(
            'unreadable', ', '.join(missing), 'listed in metadata.yaml but missing from '
            f'{bag_dir}'))
        expected = None if not files else expected
    if not files:
        files = sorted((p for p in bag_dir.iterdir() if p.is_file() and _storage_of(p)
                        and p.name != 'metadata.yaml'), key=_natural_key)
        file_compressed = file_compressed or any(p.name.endswith('.zstd') for p in files)
    return files, expected, file_compressed


def _decompress_file(src: Path, dst: Path, label: str, report: BagReadReport) -> None:
    """zstd file -> ``dst`` (what decompresses; a truncated / damaged stream is reported)."""
    dec = _zstd_module().ZstdDecompressor()
    offset = 0
    with open(src, 'rb') as fin, open(dst, 'wb') as fout:
        try:
            while block := fin.read(1 << 20):
                fout.write(dec.decompress(block))
                offset += len(block)
            if not dec.eof:
                raise ValueError('the zstd stream ends early')
        except Exception as exc:  # noqa: BLE001 - zstd raises its own error type
            report.problems.append(BagProblem(
                'truncated', label, f'zstd-compressed file damaged at about byte {offset} of '
                f'the compressed file ({exc}); reading what decompressed', offset=offset))


def read_bag_messages(path: str | Path,
                      topics: Sequence[str] | None = None) -> tuple[list[BagMessage],
                                                                    BagReadReport]:
    """All readable messages of a rosbag2 bag, in bag-time order, plus a :class:`BagReadReport`.

    ``path`` is a bag folder (metadata.yaml lists its storage files; without a usable
    metadata.yaml its ``*.mcap`` / ``*.db3`` files are read) or one storage file. MCAP files are
    read record by record: a chunk whose CRC, decompression or record structure fails is skipped
    as a whole and reading goes on with the next chunk; bytes that are no record are skipped to
    the next intact chunk; a truncated file gives its complete messages (those of the
    incomplete last chunk are counted as ``unverified_messages``). sqlite3 files are read row by
    row; rows the database cannot return are skipped. Never raises for damaged files: the
    report lists what was wrong.

    Args:
        path: the bag.
        topics: keep only these topics (with or without leading '/'); None keeps all (all are
            counted in ``messages_read`` either way).
    """
    path = Path(path)
    report = BagReadReport(path)
    msgs: list[BagMessage] = []
    if not path.exists():
        report.problems.append(BagProblem('unreadable', str(path), 'does not exist'))
        return msgs, report
    files, expected, file_compressed = _bag_files(path, report)
    report.files = files
    report.storage = '+'.join(sorted({s for s in (_storage_of(f) for f in files) if s}))
    found_expected: list[int | None] = []
    with tempfile.TemporaryDirectory(prefix='rgbx_bag_') as tmp:
        for f in files:
            label = f.name
            src = f
            try:
                if file_compressed or f.name.endswith('.zstd'):
                    src = Path(tmp) / f.name.removesuffix('.zstd')
                    _decompress_file(f, src, label, report)
                reader = _read_mcap_file if _storage_of(f) == 'mcap' else _read_sqlite_file
                found_expected.append(reader(src, label, report, msgs))
            except OSError as exc:
                report.problems.append(BagProblem('unreadable', label, str(exc)))
                found_expected.append(None)
            except Exception as exc:  # noqa: BLE001 - a reader bug must not end the command
                _logger.debug('reading %s failed', f, exc_info=True)
                report.problems.append(BagProblem(
                    'unreadable', label, f'unexpected {type(exc).__name__} while reading ({exc})'))
                found_expected.append(None)
    if not files:
        report.problems.append(BagProblem('unreadable', str(path), 'no .mcap or .db3 storage '
                                          'file found'))
    if expected is None and found_expected and all(e is not None for e in found_expected):
        expected = sum(int(e) for e in found_expected if e is not None)
    report.messages_expected = expected
    if expected is not None and expected != report.messages_read and not report.damaged:
        source = 'metadata.yaml' if report.metadata else 'the bag'
        report.problems.append(BagProblem(
            'metadata', 'metadata.yaml' if report.metadata else ', '.join(f.name for f in files),
            f'{source} says {expected} messages, the intact file(s) hold {report.messages_read}'))
    if topics is not None:
        keep = {t.lstrip('/') for t in topics}
        msgs = [m for m in msgs if m.topic.lstrip('/') in keep]
    msgs.sort(key=lambda m: m.log_time_ns)     # stable: file order among equal times
    return msgs, report


def _gt_box(msg: Any) -> tuple[np.ndarray, bool]:
    if len(msg.detections) == 0:
        return np.zeros(4, dtype=np.float64), False
    det = msg.detections[0]
    w, h = float(det.bbox.size_x), float(det.bbox.size_y)
    return np.array([det.bbox.center.position.x - w / 2.0,
                     det.bbox.center.position.y - h / 2.0, w, h], dtype=np.float64), True


def read_bag_checked(path: str | Path, rgb_topic: str = TOPIC_RGB, x_topic: str = TOPIC_X,
                     gt_topic: str = TOPIC_GT) -> tuple[list[BagFrame], BagReadReport]:
    """Read a replay bag into frames keyed by the RGB header stamps, plus what was wrong.

    Like :func:`read_bag_frames` but never raises for a damaged or unusable bag: it returns the
    frames that could be read and a :class:`BagReadReport`; ``report.fatal`` is the one-line
    error when nothing usable was read (no RGB topic, or no frame before the damage). Messages
    that do not deserialize (or images whose data is shorter than ``step * height``) are
    skipped and reported. When data was lost, RGB frames whose X image or GT was lost while the
    other frames have one are dropped (``report.frames_dropped``). ``BagFrame.index`` numbers
    the returned frames 0, 1, ... in bag order.
    """
    names = {TOPIC_X_EVENTS.lstrip('/'): 'x', rgb_topic.lstrip('/'): 'rgb',
             x_topic.lstrip('/'): 'x', gt_topic.lstrip('/'): 'gt'}
    # image_transport sub-topics; used only where the raw topic of that camera is absent
    compressed = {f'{rgb_topic.strip("/")}/compressed': 'rgb',
                  f'{x_topic.strip("/")}/compressed': 'x',
                  f'{x_topic.strip("/")}/compressedDepth': 'x'}
    msgs, report = read_bag_messages(path, [*names, *compressed])
    raw_kinds = {names[m.topic.lstrip('/')] for m in msgs if m.topic.lstrip('/') in names}
    msgs = [m for m in msgs if compressed.get(m.topic.lstrip('/')) not in raw_kinds]
    names.update(compressed)
    store = _shared_store()
    by_topic: dict[str, dict[int, tuple[bytes, Any]]] = {'rgb': {}, 'x': {}, 'gt': {}}
    order: list[int] = []
    x_type = ''
    rgb_type = IMAGE_TYPE
    for m in msgs:
        kind = names[m.topic.lstrip('/')]
        try:
            msg = store.deserialize_cdr(m.raw, m.msgtype)
            stamp = _stamp_ns(msg)
            if m.msgtype == IMAGE_TYPE and len(msg.data) < int(msg.step) * int(msg.height):
                raise ValueError(f'{len(msg.data)} data bytes for step {msg.step} x height '
                                 f'{msg.height}')
        except Exception as exc:  # noqa: BLE001 - the CDR deserializer raises many types
            report.problems.append(BagProblem(
                'bad_message', m.file, f'{m.topic} ({m.msgtype or "no type"}) at bag time '
                f'{m.log_time_ns} does not deserialize ({type(exc).__name__}: {exc})',
                message_index=m.index))
            continue
        by_topic[kind][stamp] = (m.raw, msg)
        if kind == 'x':
            x_type = m.msgtype
        if kind == 'rgb':
            rgb_type = m.msgtype or IMAGE_TYPE
            order.append(stamp)
    damaged = report.damaged
    has_x, has_gt = bool(by_topic['x']), bool(by_topic['gt'])
    frames: list[BagFrame] = []
    for stamp in order:
        x = by_topic['x'].get(stamp)
        gt = by_topic['gt'].get(stamp)
        if damaged and ((has_x and x is None) or (has_gt and gt is None)):
            report.frames_dropped += 1
            continue
        box, present = _gt_box(gt[1]) if gt is not None else (np.zeros(4, np.float64), False)
        frames.append(BagFrame(len(frames), stamp, by_topic['rgb'][stamp][0],
                               None if x is None else x[0], box, present,
                               x_type if x is not None else '', rgb_type))
    report.frames = len(frames)
    rgb_known = any(t.strip('/') in (rgb_topic.strip('/'), f'{rgb_topic.strip("/")}/compressed')
                    for t in report.topics)
    if not frames and report.damaged:
        report.fatal = (f'bag {path}: no usable frame could be read: '
                        + '; '.join(p.describe() for p in report.problems)
                        + '; the bag is damaged: copy or record it again')
    elif not rgb_known:
        report.fatal = (f'{path}: no {rgb_topic} topic; topics: {sorted(report.topics)}'
                        + ('; ' + '; '.join(p.describe() for p in report.problems)
                           if report.problems else ''))
    return frames, report


def read_bag_frames(path: str | Path, rgb_topic: str = TOPIC_RGB, x_topic: str = TOPIC_X,
                    gt_topic: str = TOPIC_GT) -> list[BagFrame]:
    """Read a replay bag into frames keyed by the RGB header stamps.

    X messages (``x_topic``, else raw events on ``/x/events``) and GT are matched to RGB frames
    by equal header stamp. Topic names are matched with or without a leading '/'. A damaged bag
    gives the frames that could be read and logs one WARNING line saying what was lost (see
    :func:`read_bag_checked` for the report itself).

    Raises:
        BagError: no RGB topic in the bag.
        BagReadError: (a BagError) nothing usable could be read; the message says why.
    """
    frames, report = read_bag_checked(path, rgb_topic, x_topic, gt_topic)
    if report.fatal:
        raise BagReadError(report.fatal, report)
    if report.problems:
        _logger.warning('WARN: %s', report.warning_line())
    return frames


def load_gt_file(path: str | Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth for a bag recorded without a ``ground_truth`` topic, from a text file.

    Args:
        path: one row per RGB frame of the bag (bag order), ``x,y,w,h`` in pixels (top-left
            corner, width, height; comma, tab or space separated, as RGBT234 / LasHeR
            ``*.txt``); ``0,0,0,0`` (or NaN) = target absent on that frame. Blank lines and
            lines starting with '#' are ignored.
        num_frames: the number of RGB frames read from the bag; the file must have as many rows.

    Returns:
        ((T, 4) float64 boxes, zeros where absent; (T,) bool present).

    Raises:
        BagError: unreadable file, a row that is not 4 numbers, or a row count != num_frames.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding='utf-8').splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BagError(f'--gt-file {path}: cannot read ({exc})') from None
    rows = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith('#'):
            continue
        parts = [v for v in re.split(r'[,\s]+', text) if v]
        try:
            row = [float(v) for v in parts]
        except ValueError:
            row = []
        if len(row) != 4:
            raise BagError(f'--gt-file {path} line {n}: expected x,y,w,h (4 numbers), got '
                           f'{text[:60]!r}')
        rows.append(row)
    if len(rows) != num_frames:
        raise BagError(f'--gt-file {path}: {len(rows)} boxes for {num_frames} RGB frames in the '
                       'bag; give one x,y,w,h row per RGB frame (0,0,0,0 where the target is '
                       'absent)')
    gt = np.array(rows, dtype=np.float64).reshape(-1, 4)
    present = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    gt[~present] = 0.0
    return gt, present


def apply_gt_file(frames: list[BagFrame], path: str | Path) -> list[BagFrame]:
    """``frames`` with ``gt_xywh`` / ``gt_present`` from :func:`load_gt_file` (replacing any
    ``ground_truth`` topic of the bag); the frames are changed in place and returned.

    Raises:
        BagError: see :func:`load_gt_file`.
    """
    gt, present = load_gt_file(path, len(frames))
    for f, box, ok in zip(frames, gt, present):
        f.gt_xywh, f.gt_present = box.copy(), bool(ok)
    return frames


def compressed_is_depth(raw: bytes) -> bool:
    """Whether a serialized ``sensor_msgs/CompressedImage`` is a ``compressedDepth`` payload
    (its ``format`` names compressedDepth, or is the bare '16UC1' / '32FC1' of old
    publishers), i.e. belongs on ``<topic>/compressedDepth`` rather than ``<topic>/compressed``.
    """
    fmt = str(_shared_store().deserialize_cdr(raw, COMPRESSED_TYPE).format)
    return 'compresseddepth' in fmt.lower() or fmt.strip() in ('16UC1', '32FC1')


def decode_bag_image(raw: bytes, msgtype: str | None = None) -> tuple[np.ndarray, str, int, str]:
    """Serialized ``sensor_msgs/Image`` or ``CompressedImage`` -> (array, encoding, stamp_ns,
    frame_id).

    Args:
        raw: the CDR bytes (``BagFrame.rgb_raw`` / ``x_raw``).
        msgtype: :data:`IMAGE_TYPE` or :data:`COMPRESSED_TYPE` (``BagFrame.rgb_type`` /
            ``x_type``); None = an Image, else (when that fails) a CompressedImage.

    Returns:
        the array and its encoding as ``ros.conversions.decode_image_buffer`` gives them (raw)
        or ``core.codec.decode_compressed`` (compressed: e.g. 'bgr8' for a JPEG of 'rgb8').

    Raises:
        ImageConversionError: for an encoding or size the converter does not support.
        rgbx_tracker_ros.core.codec.CodecError: a compressed payload that does not decode.
    """
    store = _shared_store()
    if msgtype == COMPRESSED_TYPE:
        msg = store.deserialize_cdr(raw, COMPRESSED_TYPE)
        arr, encoding = decode_compressed(msg.format, msg.data)
        return arr, encoding, _stamp_ns(msg), msg.header.frame_id
    try:
        msg = store.deserialize_cdr(raw, IMAGE_TYPE)
        arr = decode_image_buffer(msg.height, msg.width, msg.encoding, msg.step,
                                  msg.is_bigendian, msg.data)
    except Exception:  # noqa: BLE001 - the CDR deserializer raises many types
        if msgtype is not None:
            raise
        try:
            return decode_bag_image(raw, COMPRESSED_TYPE)
        except Exception:  # noqa: BLE001 - not a CompressedImage either: the Image error
            pass
        raise
    return arr, msg.encoding, _stamp_ns(msg), msg.header.frame_id


def decode_bag_events(raw: bytes) -> np.ndarray:
    """Serialized ``sensor_msgs/PointCloud2`` of raw events -> (N,) ``EVENT_DTYPE``."""
    from rgbx_tracker_ros.ros.conversions import pointcloud_to_events

    return pointcloud_to_events(_shared_store().deserialize_cdr(raw, POINTCLOUD_TYPE))


_STORE: Typestore | None = None


def _shared_store() -> Typestore:
    global _STORE
    if _STORE is None:
        _STORE = make_typestore()
    return _STORE


def iter_bag_images(path: str | Path) -> Iterator[tuple[BagFrame, np.ndarray, str,
                                                        np.ndarray | None, str | None]]:
    """Yield (frame, rgb array, rgb encoding, x array or None, x encoding or None) per frame.

    Raw-event bags give x = (N,) ``EVENT_DTYPE`` events with x encoding 'events'.
    """
    for frame in read_bag_frames(path):
        rgb, rgb_enc, _, _ = decode_bag_image(frame.rgb_raw, frame.rgb_type)
        if frame.x_raw is not None and frame.x_type == POINTCLOUD_TYPE:
            x, x_enc = decode_bag_events(frame.x_raw), 'events'
        elif frame.x_raw is not None:
            x, x_enc, _, _ = decode_bag_image(frame.x_raw, frame.x_type or None)
        else:
            x, x_enc = None, None
        yield frame, rgb, rgb_enc, x, x_enc
