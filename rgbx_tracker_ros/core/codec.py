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

"""Compressed image payloads (``sensor_msgs/CompressedImage``) <-> numpy arrays (ROS-free).

Decodes what ``image_transport``'s two stock compressing plugins publish, with OpenCV
(``cv2.imdecode`` / ``cv2.imencode``), so the tracker node (and the bag tools) can take a
``<topic>/compressed`` or ``<topic>/compressedDepth`` stream instead of the raw image topic.

``format`` strings understood (as ``image_transport_plugins`` writes them, case-sensitive
encoding, free spacing):

* ``compressed`` plugin: ``'<encoding>; <jpeg|png> compressed [<bgr8|rgb8|bgr16|...>]'``, e.g.
  ``'rgb8; jpeg compressed bgr8'``, ``'bgr8; png compressed bgr8'``, ``'mono8; jpeg compressed '``,
  ``'mono16; png compressed'``; and the bare ``'jpeg'`` / ``'jpg'`` / ``'png'`` (or ``''``) of
  old publishers, where the channel count decides (1 -> mono, 3 -> bgr8).
* ``compressedDepth`` plugin: ``'<16UC1|32FC1|mono16>; compressedDepth [png]'`` (and the plain
  ``'16UC1'`` / ``'32FC1'`` of old versions). The payload is a 12-byte ``ConfigHeader`` (int32
  format, float32 ``depthQuantA``, float32 ``depthQuantB``, little-endian) followed by a PNG.
  For 16UC1 the PNG holds the uint16 depth itself; for 32FC1 it holds quantised inverse depth
  ``v`` and ``depth = depthQuantA / (v - depthQuantB)`` metres for ``v != 0``, ``v == 0`` ->
  NaN (invalid). The header's format field is not needed to decode (the encoding before ';'
  decides, as in the plugin's subscriber). The ``rvl`` variant is not supported (a clear error
  says so).

Decoding returns ``(array, encoding)`` in an encoding :mod:`rgbx_tracker_ros.core.modality`
reads: 'bgr8' / 'rgb8' (H, W, 3) uint8 (channel order as stored; alpha dropped; 16-bit colour
scaled to 8 bit by 255/65535 like cv_bridge), 'mono8' (H, W) uint8 (or the 'bayer_*8' of the
format, still a mosaic), 'mono16' / '16UC1' (H, W) uint16, '32FC1' (H, W) float32 metres.

Every failure raises :class:`CodecError` (a ``ValueError``) whose ``reason`` is the bad-frame
reason the node counts: 'truncated' (payload shorter than its container says), 'unknown_format'
(a format string or codec this module does not decode) or 'decode_failed' (not a JPEG / PNG, a
corrupt one, or an image that does not fit the format).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import cv2
import numpy as np

__all__ = [
    'CodecError',
    'CompressedFormat',
    'COMPRESSED_DEPTH_HEADER',
    'DEPTH_ENCODINGS',
    'TRANSPORTS',
    'decode_compressed',
    'encode_compressed',
    'encode_compressed_depth',
    'parse_format',
    'transport_suffix',
    'transport_topic',
]

#: Values of the node parameter ``transport``.
TRANSPORTS = ('raw', 'compressed')
#: Encodings a ``compressedDepth`` payload can carry.
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
#: ``struct`` layout of compressed_depth_image_transport's ConfigHeader (12 bytes).
COMPRESSED_DEPTH_HEADER = struct.Struct('<iff')
#: ConfigHeader.format written by the encoder (compressed_depth_image_transport's INV_DEPTH).
_INV_DEPTH = 0

_JPEG_MAGIC = b'\xff\xd8\xff'
_JPEG_EOI = b'\xff\xd9'
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'IEND\xaeB`\x82'
_CODECS = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}
_U16_TO_U8 = 255.0 / 65535.0


class CodecError(ValueError):
    """A compressed image payload that cannot be decoded (or an array that cannot be encoded).

    Attributes:
        reason: 'truncated', 'unknown_format' or 'decode_failed' (see the module docstring);
            the node counts the frame as ``bad_frames.<topic>.<reason>``.
    """

    def __init__(self, message: str, reason: str = 'decode_failed') -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class CompressedFormat:
    """A parsed ``CompressedImage.format``.

    Attributes:
        encoding: the original raw encoding before ';' ('' when the format does not say).
        codec: 'jpeg', 'png' or 'rvl' (compressedDepth only).
        depth: a compressedDepth payload (ConfigHeader + image).
        stored_order: 'bgr' / 'rgb' for colour payloads ('compressed bgr8'), '' when not said.
    """

    encoding: str
    codec: str
    depth: bool = False
    stored_order: str = ''


def _bad_format(fmt: str, why: str) -> CodecError:
    return CodecError(f'CompressedImage format {fmt!r}: {why}; supported: "jpeg", "png", '
                      f'"<encoding>; jpeg|png compressed [bgr8|rgb8]", "<16UC1|32FC1>; '
                      f'compressedDepth [png]"', 'unknown_format')


def parse_format(fmt: str) -> CompressedFormat:
    """Parse a ``sensor_msgs/CompressedImage`` format string (see the module docstring).

    Raises:
        CodecError: reason 'unknown_format' for a codec or layout this module does not decode.
    """
    text = str(fmt).strip()
    if ';' not in text:
        low = text.lower()
        if low in _CODECS:
            return CompressedFormat('', _CODECS[low])
        if low == '':
            return CompressedFormat('', '')            # sniffed from the payload
        if text in ('16UC1', '32FC1'):                  # old compressedDepth: encoding only
            return CompressedFormat(text, 'png', depth=True)
        raise _bad_format(fmt, 'unknown codec')
    encoding, rest = (part.strip() for part in text.split(';', 1))
    words = rest.split()
    if 'compressedDepth' in words:
        after = words[words.index('compressedDepth') + 1:]
        codec = after[0].lower() if after else 'png'
        if codec not in ('png', 'rvl'):
            raise _bad_format(fmt, f'unknown compressedDepth codec {codec!r}')
        return CompressedFormat(encoding, codec, depth=True)
    if not words or words[0].lower() not in _CODECS:
        raise _bad_format(fmt, f'unknown codec {words[0] if words else "(none)"!r}')
    order = ''
    if 'compressed' in words[1:]:
        after = words[words.index('compressed') + 1:]
        if after and after[0].lower().startswith(('bgr', 'rgb')):
            order = after[0].lower()[:3]
    return CompressedFormat(encoding, _CODECS[words[0].lower()], stored_order=order)


def _payload(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data.reshape(-1)).view(np.uint8)
    return np.frombuffer(bytes(data) if isinstance(data, (list, tuple)) else data,
                         dtype=np.uint8)


def _imdecode(buf: np.ndarray, what: str) -> np.ndarray:
    """JPEG or PNG bytes -> array as stored (OpenCV channel order), checking the container."""
    head = buf[:8].tobytes()
    if buf.size == 0:
        raise CodecError(f'{what}: empty payload (0 bytes)', 'truncated')
    if head.startswith(_JPEG_MAGIC):
        kind = 'JPEG'
        # a JPEG ends with the EOI marker (some encoders pad a few bytes after it)
        complete = _JPEG_EOI in buf[-16:].tobytes()
    elif head == _PNG_MAGIC:
        kind = 'PNG'
        complete = _PNG_IEND in buf[-16:].tobytes()
    else:
        raise CodecError(f'{what}: {buf.size} bytes that are neither JPEG nor PNG (starts with '
                         f'{head[:4].hex()}); check the publisher\'s format', 'decode_failed')
    if not complete:
        end = 'EOI marker' if kind == 'JPEG' else 'IEND chunk'
        raise CodecError(f'{what}: {kind} payload of {buf.size} bytes has no {end} at its end: '
                         f'the message is truncated', 'truncated')
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise CodecError(f'{what}: OpenCV cannot decode the {kind} payload ({buf.size} bytes): '
                         f'{str(exc).strip()}', 'decode_failed') from None
    if img is None or img.size == 0:
        raise CodecError(f'{what}: OpenCV cannot decode the {kind} payload ({buf.size} bytes): '
                         f'corrupt data', 'decode_failed')
    if img.dtype not in (np.uint8, np.uint16):
        raise CodecError(f'{what}: decoded {kind} has dtype {img.dtype}; expected 8 or 16 bit',
                         'decode_failed')
    return img


def _to8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    return cv2.convertScaleAbs(img, alpha=_U16_TO_U8)   # rounds and saturates, like convertTo


def _decode_image(fmt: CompressedFormat, buf: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    img = _imdecode(buf, what)
    channels = 1 if img.ndim == 2 else img.shape[2]
    enc = fmt.encoding
    if channels == 1:
        mono = img.reshape(img.shape[0], img.shape[1])
        if mono.dtype == np.uint16:
            if enc.startswith('bayer_'):
                raise CodecError(f'{what}: 16-bit Bayer ({enc}) is not supported; publish '
                                 f'bayer_*8 or a demosaiced image', 'unknown_format')
            return np.ascontiguousarray(mono), '16UC1' if enc == '16UC1' else 'mono16'
        if enc.startswith('bayer_') and enc.endswith('8'):
            return np.ascontiguousarray(mono), enc
        return np.ascontiguousarray(mono), 'mono8'
    if channels not in (3, 4):
        raise CodecError(f'{what}: decoded image has {channels} channels; expected 1, 3 or 4',
                         'decode_failed')
    colour = np.ascontiguousarray(img[:, :, :3])          # drop alpha (BGRA -> BGR as stored)
    order = 'rgb' if fmt.stored_order == 'rgb' else 'bgr'
    return _to8(colour), f'{order}8'


def _decode_depth(fmt: CompressedFormat, buf: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    enc = fmt.encoding or '16UC1'
    if enc not in DEPTH_ENCODINGS:
        raise CodecError(f'{what}: compressedDepth of encoding {enc!r}; expected one of '
                         f'{", ".join(DEPTH_ENCODINGS)}', 'unknown_format')
    if fmt.codec != 'png':
        raise CodecError(f'{what}: compressedDepth codec {fmt.codec!r} is not supported (only '
                         f'png); set the publisher\'s format parameter to png',
                         'unknown_format')
    size = COMPRESSED_DEPTH_HEADER.size
    if buf.size <= size:
        raise CodecError(f'{what}: {buf.size} bytes, not more than the {size}-byte '
                         f'compressedDepth header: the message is truncated', 'truncated')
    _, quant_a, quant_b = COMPRESSED_DEPTH_HEADER.unpack(buf[:size].tobytes())
    img = _imdecode(buf[size:], what)
    if img.ndim != 2 or img.dtype != np.uint16:
        raise CodecError(f'{what}: compressedDepth PNG holds shape {img.shape} {img.dtype}; '
                         f'expected a single-channel 16-bit image', 'decode_failed')
    if enc != '32FC1':
        return img, enc
    if not (np.isfinite(quant_a) and np.isfinite(quant_b)):
        raise CodecError(f'{what}: compressedDepth header has non-finite quantisation '
                         f'parameters A={quant_a} B={quant_b}', 'decode_failed')
    inv = img.astype(np.float32)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (inv - np.float32(quant_b))
    depth[img == 0] = np.nan
    return depth.astype(np.float32, copy=False), '32FC1'


def decode_compressed(fmt: str, data: Any) -> tuple[np.ndarray, str]:
    """Decode a ``sensor_msgs/CompressedImage`` (its ``format`` and ``data`` fields).

    Args:
        fmt: the format string (see the module docstring).
        data: the payload: bytes, bytearray, memoryview, array.array, a list of ints or a uint8
            numpy array (rclpy and rosbags messages alike).

    Returns:
        (array, encoding): (H, W, 3) uint8 'bgr8' / 'rgb8' (the order the payload stores),
        (H, W) uint8 'mono8' (or the format's 'bayer_*8'), (H, W) uint16 'mono16' / '16UC1',
        or (H, W) float32 '32FC1' metres with NaN for invalid depth. The array owns its memory.

    Raises:
        CodecError: reason 'truncated', 'unknown_format' or 'decode_failed'; the message says
            what was wrong.
    """
    parsed = parse_format(fmt)
    buf = _payload(data)
    what = f'CompressedImage {str(fmt).strip()!r}'
    if parsed.depth:
        return _decode_depth(parsed, buf, what)
    return _decode_image(parsed, buf, what)


# ----------------------------------------------------------------------------- encoding
def _imencode(ext: str, image: np.ndarray, params: list[int]) -> bytes:
    ok, out = cv2.imencode(ext, image, params)
    if not ok:
        raise CodecError(f'OpenCV could not encode a {image.shape} {image.dtype} image as '
                         f'{ext[1:]}', 'decode_failed')
    return out.tobytes()


def encode_compressed(image: np.ndarray, encoding: str, codec: str = 'jpeg',
                      jpeg_quality: int = 90, png_level: int = 3) -> tuple[str, bytes]:
    """Encode an image as image_transport's ``compressed`` plugin does: (format, data).

    Colour is stored in BGR order (format ``'<encoding>; <codec> compressed bgr8'``), grey and
    16-bit images as they are (``'<encoding>; <codec> compressed '``).

    Args:
        image: (H, W, 3) uint8 for 'rgb8' / 'bgr8'; (H, W) uint8 for 'mono8' / '8UC1' /
            'bayer_*8'; (H, W) uint16 for 'mono16' / '16UC1' (png only).
        encoding: the raw encoding of ``image``.
        codec: 'jpeg' (lossy, 8-bit only) or 'png' (lossless).
        jpeg_quality: 1..100; png_level: 0..9.

    Raises:
        CodecError: reason 'unknown_format' for an unknown codec, an encoding the codec cannot
            store (16-bit or float JPEG, 32FC1: use :func:`encode_compressed_depth`), or an
            array that does not fit the encoding.
    """
    name = _CODECS.get(str(codec).lower(), '')
    if not name:
        raise CodecError(f'unknown codec {codec!r}; use jpeg or png', 'unknown_format')
    codec = name
    arr = np.asarray(image)
    colour = encoding in ('rgb8', 'bgr8')
    mono8 = encoding in ('mono8', '8UC1') or (encoding.startswith('bayer_')
                                              and encoding.endswith('8'))
    mono16 = encoding in ('mono16', '16UC1')
    want = ((3, np.uint8) if colour else (2, np.uint8) if mono8 else (2, np.uint16)
            if mono16 else None)
    if want is None:
        raise CodecError(f'encoding {encoding!r} cannot be stored by the compressed transport; '
                         f'use rgb8, bgr8, mono8, mono16 or 16UC1 (32FC1 depth: '
                         f'compressedDepth)', 'unknown_format')
    if arr.ndim == 3 and arr.shape[2] == 1 and want[0] == 2:
        arr = arr[:, :, 0]
    if arr.ndim != want[0] or arr.dtype != want[1] or (colour and arr.shape[2] != 3):
        raise CodecError(f'{encoding} needs a {"(H, W, 3)" if colour else "(H, W)"} '
                         f'{np.dtype(want[1]).name} array, got {arr.shape} {arr.dtype}',
                         'unknown_format')
    if mono16 and codec == 'jpeg':
        raise CodecError(f'JPEG stores 8-bit images only; {encoding} needs png',
                         'unknown_format')
    if encoding == 'rgb8':
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
    arr = np.ascontiguousarray(arr)
    if codec == 'jpeg':
        data = _imencode('.jpg', arr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    else:
        data = _imencode('.png', arr, [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)])
    return f'{encoding}; {codec} compressed {"bgr8" if colour else ""}', data


def encode_compressed_depth(depth: np.ndarray, encoding: str, depth_max_m: float | None = None,
                            depth_quantization: float = 100.0,
                            png_level: int = 3) -> tuple[str, bytes]:
    """Encode depth as compressed_depth_image_transport does (png): (format, data).

    Args:
        depth: (H, W) uint16 for '16UC1' / 'mono16' (any unit, usually mm), or (H, W) float
            metres for '32FC1' (NaN / <= 0 = invalid).
        encoding: '16UC1', 'mono16' or '32FC1'.
        depth_max_m: 16-bit: values above ``depth_max_m * 1000`` are written as 0 (the plugin's
            max-depth filter); None = no filter (lossless). 32FC1: depths at or beyond it are
            written as invalid; None = 10 m (the plugin's default).
        depth_quantization: 32FC1 only: the plugin's ``depth_quantization`` (default 100);
            quantisation ``A = q * (q + 1)``, ``B = 1 - A / depth_max_m``, stored
            ``v = A / depth + B``.
        png_level: 0..9.

    Raises:
        CodecError: reason 'unknown_format' for another encoding or an array that does not fit.
    """
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if encoding not in DEPTH_ENCODINGS or arr.ndim != 2:
        raise CodecError(f'compressedDepth stores (H, W) 16UC1 / mono16 / 32FC1 depth, got '
                         f'{encoding!r} {arr.shape}', 'unknown_format')
    params = [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)]
    if encoding == '32FC1':
        if arr.dtype.kind != 'f':
            raise CodecError(f'32FC1 needs a float array, got {arr.dtype}', 'unknown_format')
        dmax = 10.0 if depth_max_m is None else float(depth_max_m)
        quant_a = np.float32(depth_quantization * (depth_quantization + 1.0))
        quant_b = np.float32(1.0 - quant_a / np.float32(dmax))
        d = arr.astype(np.float32)
        valid = np.isfinite(d) & (d > 0) & (d < np.float32(dmax))
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            v = np.where(valid, quant_a / d + quant_b, 0.0)
        inv = np.clip(v, 0, 65535).astype(np.uint16)       # truncation, as the C++ cast
        header = COMPRESSED_DEPTH_HEADER.pack(_INV_DEPTH, float(quant_a), float(quant_b))
        return '32FC1; compressedDepth png', header + _imencode('.png', inv, params)
    if arr.dtype != np.uint16:
        raise CodecError(f'{encoding} needs a uint16 array, got {arr.dtype}', 'unknown_format')
    raw = np.ascontiguousarray(arr)
    if depth_max_m is not None:
        raw = np.where(raw > np.uint16(min(65535, int(depth_max_m * 1000.0))), 0, raw)
        raw = raw.astype(np.uint16)
    header = COMPRESSED_DEPTH_HEADER.pack(_INV_DEPTH, 0.0, 0.0)
    return f'{encoding}; compressedDepth png', header + _imencode('.png', raw, params)


# ----------------------------------------------------------------------------- topics
def transport_suffix(transport: str, depth: bool = False) -> str:
    """Sub-topic of ``transport`` below the raw image topic: '' (raw), 'compressed', or
    'compressedDepth' for a depth camera with ``transport='compressed'`` (where
    image_transport's depth plugin publishes).

    Raises:
        ValueError: unknown transport.
    """
    if transport == 'raw':
        return ''
    if transport == 'compressed':
        return 'compressedDepth' if depth else 'compressed'
    raise ValueError(f'unknown image transport {transport!r}; valid: {", ".join(TRANSPORTS)}')


def transport_topic(base: str, transport: str, depth: bool = False) -> str:
    """``base`` (the raw image topic) for ``transport``: ``base``, ``base/compressed`` or
    ``base/compressedDepth`` (see :func:`transport_suffix`)."""
    suffix = transport_suffix(transport, depth)
    return f'{base.rstrip("/")}/{suffix}' if suffix else base
