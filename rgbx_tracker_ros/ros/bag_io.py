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

The ``vision_msgs`` types are not in rosbags' stock typestores; they are registered from the
project's interface definitions (``interfaces/vision_msgs/msg/*.msg`` in the source tree, or the
installed ``share/vision_msgs/msg`` of an ament prefix) with ``get_types_from_msg``. Nothing here
needs rclpy.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

from rgbx_tracker_ros.ros.conversions import (
    decode_image_buffer, encode_image_fields, TARGET_CLASS_ID, TARGET_ID)

_logger = logging.getLogger(__name__)

TOPIC_RGB = '/rgb/image_raw'
TOPIC_X = '/x/image_raw'
TOPIC_GT = '/ground_truth'
TOPIC_X_EVENTS = '/x/events'
IMAGE_TYPE = 'sensor_msgs/msg/Image'
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
    """

    name: str
    num_frames: int
    rgb: Callable[[int], np.ndarray]
    rgb_encoding: str
    x: Callable[[int], np.ndarray] | None
    x_encoding: str
    gt_xywh: np.ndarray
    x_kind: str = 'image'


@dataclasses.dataclass
class BagInfo:
    """Summary of a written bag: path, frame count, stamps (ns), topics and encodings."""

    path: Path
    num_frames: int
    stamps_ns: np.ndarray
    rgb_encoding: str
    x_encoding: str | None
    size_wh: tuple[int, int]


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
              start_ns: int = DEFAULT_START_NS, progress: bool = False) -> BagInfo:
    """Write ``source`` as a rosbag2 MCAP folder ``out_path`` (must not exist).

    Per frame the X image is written before the RGB image, and the GT after them, all with the
    same stamp.

    Args:
        source: the frames (see :class:`FrameSource`).
        out_path: bag directory to create.
        rate_hz: frame rate that sets the stamps (Hz, > 0).
        start_ns: stamp of frame 0 (ns, > 0).
        progress: show a tqdm progress bar.

    Raises:
        BagError: bad rate / start, T < 1, GT with the wrong number of rows.
        rosbags.rosbag2.WriterError: if ``out_path`` exists.
        ImageConversionError: a frame that does not fit its encoding.
    """
    n = int(source.num_frames)
    if n < 1:
        raise BagError(f'sequence {source.name!r} has no frames')
    gt = np.asarray(source.gt_xywh, dtype=np.float64).reshape(-1, 4)
    if len(gt) != n:
        raise BagError(f'sequence {source.name!r}: {len(gt)} ground-truth rows for {n} frames')
    stamps = frame_stamps(n, rate_hz, start_ns)
    store = make_typestore()
    out_path = Path(out_path)
    writer = Writer(out_path, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.set_custom_data('rgbx.sequence', str(source.name))
    writer.set_custom_data('rgbx.rate_hz', f'{rate_hz:g}')
    size_wh = (0, 0)
    indices: Any = range(n)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'bag {out_path.name}', unit='frame')
    with writer:
        events = source.x_kind == 'events'
        c_x = None
        if source.x is not None:
            c_x = (writer.add_connection(TOPIC_X_EVENTS, POINTCLOUD_TYPE, typestore=store)
                   if events else writer.add_connection(TOPIC_X, IMAGE_TYPE, typestore=store))
        c_rgb = writer.add_connection(TOPIC_RGB, IMAGE_TYPE, typestore=store)
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
                msg = _image_msg(store, x, x_enc, t, X_FRAME_ID)
                writer.write(c_x, t, store.serialize_cdr(msg, IMAGE_TYPE))
            msg = _image_msg(store, rgb, rgb_enc, t, RGB_FRAME_ID)
            writer.write(c_rgb, t, store.serialize_cdr(msg, IMAGE_TYPE))
            writer.write(c_gt, t, store.serialize_cdr(gt_detections_msg(store, gt[k], t),
                                                      DETECTIONS_TYPE))
    _logger.info('wrote %s: %d frames at %g Hz (%s)', out_path, n, rate_hz, source.name)
    return BagInfo(out_path, n, stamps, source.rgb_encoding,
                   source.x_encoding if source.x is not None else None, size_wh)


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
                       x_encoding=seq.x_encoding or '', gt_xywh=gt)


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

        def x(k: int) -> np.ndarray:
            t0, t1 = (int(v) for v in seq.event_windows_us[k])
            return events_to_frame(seq.x_raw[k], seq.height, seq.width, t0, t1)
        x_enc = 'rgb8'
    elif seq.x_encoding:
        x = seq.x_raw.__getitem__
        x_enc = seq.x_encoding
    return FrameSource(name=name, num_frames=len(seq.rgb), rgb=seq.rgb.__getitem__,
                       rgb_encoding='rgb8', x=x, x_encoding=x_enc, gt_xywh=gt)


# -------------------------------------------------------------------------------- reading
@dataclasses.dataclass
class BagFrame:
    """One frame of a replay bag.

    Attributes:
        index: 0-based frame index (bag order of the RGB topic).
        stamp_ns: RGB header stamp.
        rgb_raw: serialized (CDR) ``sensor_msgs/Image`` as stored (publishable as is).
        x_raw: serialized X message with the same stamp (an Image, or a PointCloud2 of raw
            events), or None.
        x_type: 'sensor_msgs/msg/Image' or 'sensor_msgs/msg/PointCloud2' ('' without X).
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


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def read_bag_frames(path: str | Path, rgb_topic: str = TOPIC_RGB, x_topic: str = TOPIC_X,
                    gt_topic: str = TOPIC_GT) -> list[BagFrame]:
    """Read a replay bag into frames keyed by the RGB header stamps.

    X messages (``x_topic``, else raw events on ``/x/events``) and GT are matched to RGB frames
    by equal header stamp. Topic names are matched with or without a leading '/'.

    Raises:
        BagError: no RGB topic in the bag.
    """
    store = make_typestore()
    by_topic: dict[str, dict[int, tuple[bytes, Any]]] = {'rgb': {}, 'x': {}, 'gt': {}}
    order: list[int] = []
    names = {TOPIC_X_EVENTS.lstrip('/'): 'x', rgb_topic.lstrip('/'): 'rgb',
             x_topic.lstrip('/'): 'x', gt_topic.lstrip('/'): 'gt'}
    x_type = ''
    with Reader(Path(path)) as reader:
        conns = [c for c in reader.connections if c.topic.lstrip('/') in names]
        if not any(names[c.topic.lstrip('/')] == 'rgb' for c in conns):
            raise BagError(f'{path}: no {rgb_topic} topic; topics: '
                           f'{sorted(c.topic for c in reader.connections)}')
        for conn, _, raw in reader.messages(connections=conns):
            kind = names[conn.topic.lstrip('/')]
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = _stamp_ns(msg)
            by_topic[kind][stamp] = (bytes(raw), msg)
            if kind == 'x':
                x_type = conn.msgtype
            if kind == 'rgb':
                order.append(stamp)
    frames = []
    for k, stamp in enumerate(order):
        x = by_topic['x'].get(stamp)
        gt = by_topic['gt'].get(stamp)
        box = np.zeros(4, dtype=np.float64)
        present = False
        if gt is not None and len(gt[1].detections) > 0:
            det = gt[1].detections[0]
            w, h = float(det.bbox.size_x), float(det.bbox.size_y)
            box = np.array([det.bbox.center.position.x - w / 2.0,
                            det.bbox.center.position.y - h / 2.0, w, h], dtype=np.float64)
            present = True
        frames.append(BagFrame(k, stamp, by_topic['rgb'][stamp][0],
                               None if x is None else x[0], box, present,
                               x_type if x is not None else ''))
    return frames


def decode_bag_image(raw: bytes) -> tuple[np.ndarray, str, int, str]:
    """Serialized ``sensor_msgs/Image`` -> (array, encoding, stamp_ns, frame_id).

    Raises:
        ImageConversionError: for an encoding or size the converter does not support.
    """
    store = _shared_store()
    msg = store.deserialize_cdr(raw, IMAGE_TYPE)
    arr = decode_image_buffer(msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian,
                              msg.data)
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
        rgb, rgb_enc, _, _ = decode_bag_image(frame.rgb_raw)
        if frame.x_raw is not None and frame.x_type == POINTCLOUD_TYPE:
            x, x_enc = decode_bag_events(frame.x_raw), 'events'
        elif frame.x_raw is not None:
            x, x_enc, _, _ = decode_bag_image(frame.x_raw)
        else:
            x, x_enc = None, None
        yield frame, rgb, rgb_enc, x, x_enc
