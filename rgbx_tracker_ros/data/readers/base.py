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

"""The :class:`Sequence` record and what every reader of :mod:`rgbx_tracker_ros.data.readers`
shares: frame listing and decoding, GT parsing, validation, and the :class:`Reader` entry of
the registry.

Conventions (all readers): boxes are float64 (x, y, w, h), pixels, top-left origin, 0-based; a
row is *absent* when it has a NaN, w <= 0 or h <= 0, or is flagged by the dataset; readers raise
:class:`SequenceError` (a ValueError) naming the folder, the file and what is wrong.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from rgbx_tracker_ros.core.types import Modality

_logger = logging.getLogger(__name__)

#: Challenge-attribute file formats (``eval.scoring.sequence_attributes``): 'tag' =
#: ``<sequence>/<NAME>.tag`` per-frame 0/1 (VOT / DepthTrack / RGBT234), 'attr_txt' =
#: ``<dataset>/attr_txt/`` (RGBT234 / RGBT210 toolkit), 'attriseqs' = ``<dataset>/AttriSeqsTxt/``
#: (LasHeR toolkit).
ATTRIBUTE_FORMATS = ('tag', 'attr_txt', 'attriseqs')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.pgm', '.ppm', '.tif', '.tiff')
#: VTUAV annotates one frame in ten.
VTUAV_ANNOTATION_STEP = 10


class SequenceError(ValueError):
    """A sequence folder is missing something or is inconsistent; the message says what/where."""


class FrameSource:
    """Frames that are not image files (e.g. the messages of a replay bag,
    :class:`rgbx_tracker_ros.data.bag.BagFrames`): what a :class:`Sequence` reads in place of
    ``rgb_paths`` / ``x_paths``.

    Subclasses implement ``__len__`` (T), :attr:`has_x`, :meth:`read_rgb` / :meth:`read_x`
    (arrays in the sequence's ``rgb_encoding`` / ``x_encoding``), :meth:`head` and
    :meth:`fingerprint`; they must pickle (a worker process may re-open the source instead of
    receiving its frames).
    """

    has_x: bool = False

    def __len__(self) -> int:
        raise NotImplementedError

    def read_rgb(self, index: int) -> np.ndarray:
        """RGB frame ``index`` (0-based, checked by the caller)."""
        raise NotImplementedError

    def read_x(self, index: int) -> np.ndarray:
        """X frame ``index`` (0-based, checked by the caller); only when :attr:`has_x`."""
        raise NotImplementedError

    def head(self, n: int) -> 'FrameSource':
        """The first ``n`` frames as a source."""
        raise NotImplementedError

    def fingerprint(self) -> dict:
        """JSON-able identity of the frames for the result cache (cheap: no pixel hashing)."""
        raise NotImplementedError


@dataclass
class Sequence:
    """One tracking sequence: frames (image files or a :class:`FrameSource`), ground truth and
    how to decode the images.

    Attributes:
        name: sequence name (the folder name).
        layout: reader that produced it (a key of ``LAYOUTS``).
        modality: :class:`Modality` of X (``Modality.RGB`` when there is no X stream).
        rgb_paths: T paths of the RGB frames, in frame order ([] when ``source`` is given).
        x_paths: T paths of the X frames, or None for RGB-only sequences (and with ``source``).
        gt_xywh: (T, 4) float64 GT boxes, pixels, top-left origin (see module docstring).
        gt_x_xywh: (T, 4) second GT annotated on the X frames (RGBT234 / GTOT / VTUAV infrared),
            or None.
        absent: (T,) bool, True where the target is absent.
        annotated: (T,) bool, True where the frame has a GT row (False only for VTUAV's
            unannotated frames, whose ``gt_xywh`` rows are NaN); score only these frames.
        attributes: free-form metadata (root folder, GT file names, image sizes, ...).
        rgb_encoding: encoding of :meth:`read_rgb` images for ``core.modality.encode_rgb``:
            'mono8' (H, W) uint8 or 'rgb8' (H, W, 3) uint8 in RGB order.
        x_encoding: encoding of :meth:`read_x` images for ``core.modality.encode_x``: 'mono8',
            'rgb8', 'mono16' (16-bit thermal) or '16UC1' (depth, millimetres); None without X.
        protocol: the scoring protocol its dataset's toolkit uses, attached by the reader
            ('visevent' for VisEvent, 'lasher' for the others: what ``protocol='auto'`` of
            :mod:`rgbx_tracker_ros.eval.scoring` scores it with).
        attribute_formats: the challenge-attribute files that apply to it, attached by the
            reader (:data:`ATTRIBUTE_FORMATS`; read by ``eval.scoring.sequence_attributes``
            when asked); () = none.
        source: the frames when they are not files (:class:`FrameSource`), else None; then
            T = ``len(source)`` and :attr:`has_x` = ``source.has_x``.
    """

    name: str
    layout: str
    modality: Modality
    rgb_paths: list[Path]
    x_paths: list[Path] | None
    gt_xywh: np.ndarray
    gt_x_xywh: np.ndarray | None = None
    absent: np.ndarray | None = None
    annotated: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    rgb_encoding: str = 'rgb8'
    x_encoding: str | None = None
    protocol: str = 'lasher'
    attribute_formats: tuple[str, ...] = ('tag', 'attr_txt', 'attriseqs')
    source: FrameSource | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.source is not None and (self.rgb_paths or self.x_paths is not None):
            raise SequenceError(f'{self.name}: give frame paths or a frame source, not both')
        n = len(self)
        self.gt_xywh = np.asarray(self.gt_xywh, dtype=np.float64).reshape(-1, 4)
        if len(self.gt_xywh) != n:
            raise SequenceError(f'{self.name}: {len(self.gt_xywh)} GT rows for {n} frames')
        if self.x_paths is not None and len(self.x_paths) != n:
            raise SequenceError(f'{self.name}: {len(self.x_paths)} X frames for {n} RGB frames')
        if self.gt_x_xywh is not None:
            self.gt_x_xywh = np.asarray(self.gt_x_xywh, dtype=np.float64).reshape(-1, 4)
            if len(self.gt_x_xywh) != n:
                raise SequenceError(f'{self.name}: {len(self.gt_x_xywh)} X GT rows for {n} '
                                    f'frames')
        if self.annotated is None:
            self.annotated = np.ones(n, dtype=bool)
        self.annotated = np.asarray(self.annotated, dtype=bool).reshape(-1)
        flagged = (np.zeros(n, dtype=bool) if self.absent is None
                   else np.asarray(self.absent, dtype=bool).reshape(-1))
        if len(flagged) != n or len(self.annotated) != n:
            raise SequenceError(f'{self.name}: absent / annotated masks must have {n} entries')
        self.absent = (flagged | box_is_empty(self.gt_xywh)) & self.annotated

    def __len__(self) -> int:
        return len(self.source) if self.source is not None else len(self.rgb_paths)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return len(self)

    @property
    def has_x(self) -> bool:
        """True when the sequence has an X stream."""
        if self.source is not None:
            return bool(self.source.has_x)
        return self.x_paths is not None

    def head(self, n: int | None) -> 'Sequence':
        """The first ``n`` frames of the sequence (itself when ``n`` is None or >= T): the same
        type and fields, frames, GT and masks cut."""
        if n is None or n >= len(self):
            return self
        import dataclasses
        n = int(n)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(rgb_paths=self.rgb_paths[:n],
                      x_paths=None if self.x_paths is None else self.x_paths[:n],
                      gt_xywh=self.gt_xywh[:n],
                      gt_x_xywh=None if self.gt_x_xywh is None else self.gt_x_xywh[:n],
                      absent=self.absent[:n], annotated=self.annotated[:n],
                      source=None if self.source is None else self.source.head(n))
        return type(self)(**fields)

    def first_valid_frame(self) -> int:
        """Index of the first annotated frame with the target present (where to initialise).

        Raises:
            SequenceError: if no frame has a usable GT box.
        """
        ok = np.flatnonzero(self.annotated & ~self.absent)
        if len(ok) == 0:
            raise SequenceError(f'{self.name}: no frame has a usable GT box (all absent)')
        return int(ok[0])

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame ``index`` of the RGB stream as stored, in :attr:`rgb_encoding`.

        Colour files are converted from OpenCV's BGR(A) to RGB order; single-channel files stay
        (H, W) uint8 ('mono8'). If a sequence mixes both, frames are converted to the encoding
        of its first frame (gray replicated to RGB, or RGB converted to gray).

        Raises:
            IndexError: index out of range.
            SequenceError: the file cannot be decoded or is not 8-bit.
        """
        index = _check_index(index, len(self))
        if self.source is not None:
            return self.source.read_rgb(index)
        path = self.rgb_paths[index]
        return _to_rgb_encoding(_imread(path), self.rgb_encoding, path)

    def read_x(self, index: int) -> np.ndarray:
        """Frame ``index`` of the X stream as stored, in :attr:`x_encoding`.

        'mono8' (H, W) uint8 thermal / event; 'rgb8' (H, W, 3) uint8 pre-rendered thermal or
        event frames (converted from BGR); 'mono16' (H, W) uint16 thermal; '16UC1' (H, W) uint16
        depth in millimetres.

        Raises:
            IndexError: index out of range.
            SequenceError: no X stream, or the file cannot be decoded / has another format.
        """
        if not self.has_x:
            raise SequenceError(f'{self.name}: sequence has no X stream (layout {self.layout})')
        index = _check_index(index, len(self))
        if self.source is not None:
            return self.source.read_x(index)
        path = self.x_paths[index]
        return _to_x_encoding(_imread(path), self.x_encoding, path)


# --------------------------------------------------------------------------- helpers

def box_is_empty(boxes_xywh: np.ndarray) -> np.ndarray:
    """(T,) True where a (T, 4) box row has a NaN or w <= 0 or h <= 0 (target absent)."""
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    with np.errstate(invalid='ignore'):
        return np.any(np.isnan(b), axis=1) | ~(b[:, 2] > 0) | ~(b[:, 3] > 0)


def _check_index(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f'frame index {index} out of range for {length} frames')
    return index % length


def _imread(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise SequenceError(f'cannot decode image {path} (missing, empty or not an image)')
    return image


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _squeeze_mono(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return image


def _rgb_encoding_of(image: np.ndarray, path: Path) -> str:
    image = _squeeze_mono(image)
    if image.dtype != np.uint8:
        raise SequenceError(f'RGB frame {path} is {image.dtype}; expected 8-bit images')
    return 'mono8' if image.ndim == 2 else 'rgb8'


def _to_rgb_encoding(image: np.ndarray, encoding: str, path: Path) -> np.ndarray:
    image = _squeeze_mono(image)
    if image.dtype != np.uint8:
        raise SequenceError(f'RGB frame {path} is {image.dtype}; expected 8-bit images')
    if encoding == 'mono8':
        return image if image.ndim == 2 else cv2.cvtColor(_bgr_to_rgb(image), cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else _bgr_to_rgb(image)


def _x_encoding_of(image: np.ndarray, modality: Modality, path: Path) -> str:
    image = _squeeze_mono(image)
    if modality is Modality.DEPTH:
        if image.ndim != 2 or image.dtype != np.uint16:
            raise SequenceError(f'depth frame {path} is {image.dtype} with shape {image.shape}; '
                                f'expected a single-channel 16-bit image in millimetres')
        return '16UC1'
    if image.dtype == np.uint16 and image.ndim == 2:
        if modality is Modality.THERMAL:
            return 'mono16'
        raise SequenceError(f'{modality.value} frame {path} is 16-bit; expected 8-bit frames')
    if image.dtype != np.uint8:
        raise SequenceError(f'{modality.value} frame {path} is {image.dtype}; expected uint8')
    return 'mono8' if image.ndim == 2 else 'rgb8'


def _to_x_encoding(image: np.ndarray, encoding: str | None, path: Path) -> np.ndarray:
    image = _squeeze_mono(image)
    if encoding in ('16UC1', 'mono16'):
        if image.ndim != 2 or image.dtype != np.uint16:
            raise SequenceError(f'X frame {path} is {image.dtype} {image.shape}; expected '
                                f'single-channel uint16 like the first frame ({encoding})')
        return image
    if image.dtype != np.uint8:
        raise SequenceError(f'X frame {path} is {image.dtype}; expected uint8 like the first '
                            f'frame ({encoding})')
    if encoding == 'mono8':
        return image if image.ndim == 2 else cv2.cvtColor(_bgr_to_rgb(image), cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else _bgr_to_rgb(image)


_NUMBER = re.compile(r'(\d+)')


def natural_key(path: Path) -> list:
    """Sort key of a file name in natural order, case-insensitive (frame2 < frame10)."""
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(path.name)]


def _frame_number(path: Path) -> int | None:
    """The last run of digits in the file stem (00012v.png -> 12, v000012.jpg -> 12)."""
    found = _NUMBER.findall(path.stem)
    return int(found[-1]) if found else None


def _list_frames(folder: Path, what: str) -> list[Path]:
    """Sorted image files of ``folder``; checks the numbering has no gaps or repeats."""
    if not folder.is_dir():
        raise SequenceError(f'missing {what} folder {folder}')
    frames = sorted((p for p in folder.iterdir()
                     if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)
    if not frames:
        raise SequenceError(f'no {what} frames ({", ".join(IMAGE_EXTENSIONS)}) in {folder}')
    numbers = [_frame_number(p) for p in frames]
    if all(n is not None for n in numbers):
        if len(set(numbers)) != len(numbers):
            dup = sorted({n for n in numbers if numbers.count(n) > 1})[:5]
            raise SequenceError(f'{what} frames in {folder} repeat frame numbers {dup}')
        gaps = sorted(set(range(min(numbers), max(numbers) + 1)) - set(numbers))
        if gaps:
            raise SequenceError(f'{what} frames in {folder} are not consecutive: missing frame '
                                f'numbers {gaps[:10]}{" ..." if len(gaps) > 10 else ""} '
                                f'(between {min(numbers)} and {max(numbers)})')
        if sorted(numbers) != numbers:
            raise SequenceError(f'{what} frame names in {folder} do not sort in frame-number '
                                f'order (e.g. {frames[0].name}, {frames[-1].name})')
    return frames


def _pair_frames(rgb: list[Path], x: list[Path], root: Path) -> None:
    if len(rgb) != len(x):
        raise SequenceError(f'{root}: {len(rgb)} RGB frames ({rgb[0].parent.name}/) but {len(x)} '
                            f'X frames ({x[0].parent.name}/); every RGB frame needs its X frame')


_SPLIT = re.compile(r'[,;\s]+')


def read_boxes(path: Path, allowed_columns: tuple[int, ...] = (4, 8)) -> np.ndarray:
    """Read a GT text file: one box per line, any of comma / space / tab / semicolon.

    Rows of 4 numbers are returned as they are; rows of 8 numbers (VOT polygons x1 y1 .. x4 y4)
    become their axis-aligned bounding box (x, y, w, h). 'nan' entries are kept as NaN; blank
    lines at the end are ignored.

    Returns:
        (N, 4) float64.

    Raises:
        SequenceError: missing file, or a line that does not parse (file and line number named).
    """
    path = Path(path)
    if not path.is_file():
        raise SequenceError(f'missing ground-truth file {path}')
    lines = path.read_text(encoding='utf-8', errors='replace').splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for number, line in enumerate(lines, start=1):
        parts = [p for p in _SPLIT.split(line.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise SequenceError(f'{path}, line {number}: cannot parse {line.strip()!r} as '
                                f'numbers') from None
        if len(values) not in allowed_columns:
            raise SequenceError(f'{path}, line {number}: {len(values)} numbers ({line.strip()!r});'
                                f' expected {" or ".join(map(str, allowed_columns))}')
        if len(values) == 8:
            xs, ys = values[0::2], values[1::2]
            if any(math.isnan(v) for v in values):
                values = [math.nan] * 4
            else:
                values = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        rows.append(values)
    if not rows:
        raise SequenceError(f'ground-truth file {path} is empty')
    return np.asarray(rows, dtype=np.float64)


def _read_flags(path: Path) -> np.ndarray:
    if not path.is_file():
        raise SequenceError(f'missing absent-label file {path}')
    values = []
    for number, line in enumerate(path.read_text().split(), start=1):
        try:
            values.append(int(float(line)))
        except ValueError:
            raise SequenceError(f'{path}, entry {number}: {line!r} is not 0 or 1') from None
    return np.asarray(values, dtype=bool)


def _check_gt_count(gt: np.ndarray, n_frames: int, gt_path: Path) -> None:
    if len(gt) != n_frames:
        raise SequenceError(f'{gt_path} has {len(gt)} boxes but the sequence has {n_frames} '
                            f'frames; the GT needs exactly one row per frame')


def _probe(paths: list[Path], what: str) -> np.ndarray:
    """Decode the first and last frame (cheap integrity check); return the first."""
    first = _imread(paths[0])
    if len(paths) > 1:
        _imread(paths[-1])
    _logger.debug('%s: %d frames, first %s %s', what, len(paths), first.shape, first.dtype)
    return first


def _first_existing(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def _build(root: Path, layout: str, modality: Modality, rgb: list[Path], x: list[Path] | None,
           gt: np.ndarray, gt_path: Path, gt_x: np.ndarray | None = None,
           absent: np.ndarray | None = None, annotated: np.ndarray | None = None,
           extra: dict[str, Any] | None = None, protocol: str = 'lasher',
           attribute_formats: tuple[str, ...] = ATTRIBUTE_FORMATS) -> Sequence:
    """Probe the first / last frames and assemble the :class:`Sequence` (see its fields)."""
    first_rgb = _probe(rgb, 'rgb')
    rgb_encoding = _rgb_encoding_of(first_rgb, rgb[0])
    attributes: dict[str, Any] = {
        'root': str(root), 'gt_file': gt_path.name,
        'image_size_wh': (int(first_rgb.shape[1]), int(first_rgb.shape[0])),
    }
    x_encoding = None
    if x is not None:
        first_x = _probe(x, 'x')
        x_encoding = _x_encoding_of(first_x, modality, x[0])
        attributes['x_image_size_wh'] = (int(first_x.shape[1]), int(first_x.shape[0]))
    attributes.update(extra or {})
    return Sequence(name=root.name, layout=layout, modality=modality, rgb_paths=rgb, x_paths=x,
                    gt_xywh=gt, gt_x_xywh=gt_x, absent=absent, annotated=annotated,
                    attributes=attributes, rgb_encoding=rgb_encoding, x_encoding=x_encoding,
                    protocol=protocol, attribute_formats=tuple(attribute_formats))


# --------------------------------------------------------------------------- registry entry

@dataclass(frozen=True)
class Reader:
    """One entry of :data:`rgbx_tracker_ros.data.readers.READERS`.

    Attributes:
        name: layout name (``Sequence.layout`` of what it reads).
        read: ``read(path) -> Sequence``; validates and raises :class:`SequenceError`.
        detect: ``detect(path, names) -> bool``: whether folder ``path`` (holding the entries
            ``names``) has this layout; the registry asks the readers in its order.
        protocol: ``Sequence.protocol`` of its sequences.
        attribute_formats: ``Sequence.attribute_formats`` of its sequences.
        description: the folder layout in one line (error messages).
    """

    name: str
    read: Callable[[Path], Sequence]
    detect: Callable[[Path, set], bool]
    protocol: str = 'lasher'
    attribute_formats: tuple[str, ...] = ATTRIBUTE_FORMATS
    description: str = ''
