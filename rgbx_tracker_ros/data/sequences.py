"""Benchmark sequences on disk: a :class:`Sequence` record and one reader per folder layout.

Layouts (``LAYOUTS``; :func:`load_sequence` detects them from the folder contents):

============  ======================  ===============================================  ========
layout        frames                  ground truth                                     X
============  ======================  ===============================================  ========
rgbt234       visible/ infrared/      visible.txt + infrared.txt (or init.txt), xywh   thermal
              (RGBT234, RGBT210, our TNO sample; names like 00001v.jpg / 00001i.jpg)
lasher        visible/ infrared/      visible.txt / infrared.txt (or init.txt), xywh   thermal
              (names like v000001.jpg / i000001.jpg)
gtot          v/ i/                   groundTruth_v.txt / groundTruth_i.txt,           thermal
                                      x1 y1 x2 y2 -> w = x2 - x1, h = y2 - y1
vtuav         rgb/ ir/                rgb.txt / ir.txt, xywh, one row per frame or one thermal
                                      row every 10 frames (frames 0, 10, 20, ...)
depthtrack    color/ depth/           groundtruth.txt, xywh (8 numbers = polygon ->   depth
                                      its bounding box), NaN row = target absent
visevent      vis_imgs/ event_imgs/   groundtruth.txt xywh + absent_label.txt (1 =     event
                                      absent)
otb           img/                    groundtruth_rect.txt, xywh with a 1-based pixel  none
                                      origin -> converted to 0-based (x - 1, y - 1)
============  ======================  ===============================================  ========

GT files may use commas, spaces, tabs or semicolons. All boxes in a :class:`Sequence` are float64
(x, y, w, h), pixels, top-left origin, 0-based (the pixel (0, 0) is the top-left pixel); only OTB
is shifted, every other dataset is used as stored, which is how their toolkits score it.
A row is *absent* when it has a NaN, or w <= 0 or h <= 0 (e.g. LasHeR / TNO ``0,0,0,0``), or is
flagged in ``absent_label.txt``; absent rows keep their stored values in ``gt_xywh`` (NaN where the
file has NaN) so that each benchmark's protocol in :mod:`rgbx_tracker_ros.eval.metrics` sees them
as its toolkit does.

Readers validate the folder and raise :class:`SequenceError` (a ValueError) naming the folder,
the file and what is wrong: a missing folder or GT file, no frames, RGB / X frame counts that
differ, gaps in the frame numbering, GT rows that do not match the frame count, unparsable GT
lines, or a first / last frame that cannot be decoded.
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

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.pgm', '.ppm', '.tif', '.tiff')
#: VTUAV annotates one frame in ten.
VTUAV_ANNOTATION_STEP = 10


class SequenceError(ValueError):
    """A sequence folder is missing something or is inconsistent; the message says what/where."""


@dataclass
class Sequence:
    """One tracking sequence: frame paths, ground truth and how to decode the images.

    Attributes:
        name: sequence name (the folder name).
        layout: reader that produced it (a key of ``LAYOUTS``).
        modality: :class:`Modality` of X (``Modality.RGB`` when there is no X stream).
        rgb_paths: T paths of the RGB frames, in frame order.
        x_paths: T paths of the X frames, or None for RGB-only sequences.
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

    def __post_init__(self) -> None:
        n = len(self.rgb_paths)
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
        return len(self.rgb_paths)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return len(self.rgb_paths)

    @property
    def has_x(self) -> bool:
        """True when the sequence has an X stream."""
        return self.x_paths is not None

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
        path = self.rgb_paths[_check_index(index, len(self))]
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
        if self.x_paths is None:
            raise SequenceError(f'{self.name}: sequence has no X stream (layout {self.layout})')
        path = self.x_paths[_check_index(index, len(self))]
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


def _natural_key(path: Path) -> list:
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
                     if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)
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
           extra: dict[str, Any] | None = None) -> Sequence:
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
                    attributes=attributes, rgb_encoding=rgb_encoding, x_encoding=x_encoding)


# --------------------------------------------------------------------------- readers

def _read_visible_infrared(root: Path, layout: str) -> Sequence:
    rgb = _list_frames(root / 'visible', 'visible')
    x = _list_frames(root / 'infrared', 'infrared')
    _pair_frames(rgb, x, root)
    gt_path = _first_existing(root, ('visible.txt', 'init.txt', 'infrared.txt'))
    if gt_path is None:
        raise SequenceError(f'{root}: no ground truth; expected visible.txt (+ infrared.txt) or '
                            f'init.txt')
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    gt_x = None
    if gt_path.name == 'visible.txt' and (root / 'infrared.txt').is_file():
        gt_x = read_boxes(root / 'infrared.txt', (4,))
        _check_gt_count(gt_x, len(rgb), root / 'infrared.txt')
    return _build(root, layout, Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x)


def read_rgbt234(root: str | Path) -> Sequence:
    """RGBT234 / RGBT210 layout (also our TNO sample): visible/, infrared/, visible.txt +
    infrared.txt, or init.txt. GT is (x, y, w, h) as stored; ``gt_x_xywh`` = infrared.txt.

    Raises:
        SequenceError: see the module docstring.
    """
    return _read_visible_infrared(Path(root), 'rgbt234')


def read_lasher(root: str | Path) -> Sequence:
    """LasHeR layout: visible/, infrared/, visible.txt / infrared.txt (or init.txt), xywh.

    Raises:
        SequenceError: see the module docstring.
    """
    return _read_visible_infrared(Path(root), 'lasher')


def _corners_to_xywh(corners: np.ndarray) -> np.ndarray:
    x1 = np.minimum(corners[:, 0], corners[:, 2])
    x2 = np.maximum(corners[:, 0], corners[:, 2])
    y1 = np.minimum(corners[:, 1], corners[:, 3])
    y2 = np.maximum(corners[:, 1], corners[:, 3])
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def read_gtot(root: str | Path) -> Sequence:
    """GTOT layout: v/, i/, groundTruth_v.txt / groundTruth_i.txt with x1 y1 x2 y2 per line.

    Corners are converted with w = x2 - x1 and h = y2 - y1 (min/max taken first, in case a row
    lists the corners the other way round), the conversion the GTOT evaluation uses.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'v', 'visible (v)')
    x = _list_frames(root / 'i', 'infrared (i)')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundTruth_v.txt'
    gt = _corners_to_xywh(read_boxes(gt_path, (4,)))
    _check_gt_count(gt, len(rgb), gt_path)
    gt_x = None
    if (root / 'groundTruth_i.txt').is_file():
        gt_x = _corners_to_xywh(read_boxes(root / 'groundTruth_i.txt', (4,)))
        _check_gt_count(gt_x, len(rgb), root / 'groundTruth_i.txt')
    return _build(root, 'gtot', Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x,
                  extra={'gt_source_format': 'x1 y1 x2 y2'})


def _expand_sparse(gt: np.ndarray, n_frames: int, step: int) -> np.ndarray:
    full = np.full((n_frames, 4), np.nan)
    full[::step] = gt
    return full


def read_vtuav(root: str | Path) -> Sequence:
    """VTUAV layout: rgb/, ir/, rgb.txt / ir.txt (xywh).

    VTUAV annotates every 10th frame: a GT file with ceil(T / 10) rows is placed at frames
    0, 10, 20, ... and the other frames get NaN rows with ``annotated=False``; a GT file with T
    rows is used as is.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'rgb', 'rgb')
    x = _list_frames(root / 'ir', 'ir')
    _pair_frames(rgb, x, root)
    n = len(rgb)
    sparse_rows = math.ceil(n / VTUAV_ANNOTATION_STEP)

    def load(path: Path) -> tuple[np.ndarray, bool]:
        boxes = read_boxes(path, (4,))
        if len(boxes) == n:
            return boxes, False
        if len(boxes) == sparse_rows:
            return _expand_sparse(boxes, n, VTUAV_ANNOTATION_STEP), True
        raise SequenceError(f'{path} has {len(boxes)} boxes for {n} frames; expected {n} (every '
                            f'frame) or {sparse_rows} (every {VTUAV_ANNOTATION_STEP}th frame)')

    gt_path = root / 'rgb.txt'
    gt, sparse = load(gt_path)
    gt_x = load(root / 'ir.txt')[0] if (root / 'ir.txt').is_file() else None
    annotated = None
    if sparse:
        annotated = np.zeros(n, dtype=bool)
        annotated[::VTUAV_ANNOTATION_STEP] = True
    return _build(root, 'vtuav', Modality.THERMAL, rgb, x, gt, gt_path, gt_x=gt_x,
                  annotated=annotated,
                  extra={'annotation_step': VTUAV_ANNOTATION_STEP if sparse else 1})


def read_depthtrack(root: str | Path) -> Sequence:
    """DepthTrack / VOT-RGBD layout: color/, depth/ (16-bit PNG, millimetres), groundtruth.txt.

    GT rows are x, y, w, h (8 numbers = a polygon, turned into its bounding box); a NaN row marks
    the target as absent.

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'color', 'color')
    x = _list_frames(root / 'depth', 'depth')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundtruth.txt'
    gt = read_boxes(gt_path)
    _check_gt_count(gt, len(rgb), gt_path)
    return _build(root, 'depthtrack', Modality.DEPTH, rgb, x, gt, gt_path,
                  extra={'depth_unit': 'mm'})


def read_visevent(root: str | Path) -> Sequence:
    """VisEvent layout: vis_imgs/, event_imgs/ (rendered event frames), groundtruth.txt (xywh),
    absent_label.txt (one 0/1 per frame, 1 = target absent).

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'vis_imgs', 'vis_imgs')
    x = _list_frames(root / 'event_imgs', 'event_imgs')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundtruth.txt'
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    flags = _read_flags(root / 'absent_label.txt')
    if len(flags) != len(rgb):
        raise SequenceError(f'{root / "absent_label.txt"} has {len(flags)} labels for '
                            f'{len(rgb)} frames')
    return _build(root, 'visevent', Modality.EVENT, rgb, x, gt, gt_path, absent=flags,
                  extra={'absent_file': 'absent_label.txt'})


def read_otb(root: str | Path) -> Sequence:
    """OTB layout: img/ + groundtruth_rect.txt (any delimiter), RGB only.

    OTB boxes use a 1-based pixel origin (MATLAB); they are converted to our 0-based origin by
    x - 1, y - 1 for rows with w > 0 and h > 0 (0,0,0,0 / NaN rows are kept, meaning absent).

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'img', 'img')
    gt_path = root / 'groundtruth_rect.txt'
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    present = ~box_is_empty(gt)
    gt = gt.copy()
    gt[present, :2] -= 1.0
    return _build(root, 'otb', Modality.RGB, rgb, None, gt, gt_path,
                  extra={'gt_origin_in_file': 1})


#: Readers by layout name; ``rgbt210`` is an alias of ``rgbt234``.
LAYOUTS: dict[str, Callable[[Path], Sequence]] = {
    'rgbt234': read_rgbt234,
    'rgbt210': read_rgbt234,
    'lasher': read_lasher,
    'gtot': read_gtot,
    'vtuav': read_vtuav,
    'depthtrack': read_depthtrack,
    'visevent': read_visevent,
    'otb': read_otb,
}

_LASHER_NAME = re.compile(r'^v\d+$')


def detect_layout(path: str | Path) -> str:
    """Name of the layout of folder ``path`` from its sub-folders (see the module table).

    Raises:
        SequenceError: the folder does not exist or matches no known layout.
    """
    root = Path(path)
    if not root.is_dir():
        raise SequenceError(f'sequence folder {root} does not exist')
    has = {p.name for p in root.iterdir()}
    if {'vis_imgs', 'event_imgs'} <= has:
        return 'visevent'
    if {'color', 'depth'} <= has:
        return 'depthtrack'
    if {'v', 'i'} <= has:
        return 'gtot'
    if {'rgb', 'ir'} <= has:
        return 'vtuav'
    if {'visible', 'infrared'} <= has:
        first = next((p for p in sorted((root / 'visible').iterdir())
                      if p.suffix.lower() in IMAGE_EXTENSIONS), None)
        return 'lasher' if first is not None and _LASHER_NAME.match(first.stem) else 'rgbt234'
    if 'img' in has:
        return 'otb'
    raise SequenceError(
        f'{root}: unknown sequence layout (found {sorted(has)[:10]}); expected one of: '
        'visible/ + infrared/ (rgbt234, lasher), v/ + i/ (gtot), rgb/ + ir/ (vtuav), '
        'color/ + depth/ (depthtrack), vis_imgs/ + event_imgs/ (visevent), img/ (otb)')


def load_sequence(path: str | Path, layout: str | None = None) -> Sequence:
    """Load and validate the sequence in folder ``path``.

    Args:
        path: the sequence folder.
        layout: a key of ``LAYOUTS``; None detects it with :func:`detect_layout`.

    Raises:
        SequenceError: unknown layout name, or the folder fails validation.
    """
    if layout is None:
        layout = detect_layout(path)
    key = str(layout).strip().lower()
    if key not in LAYOUTS:
        raise SequenceError(f'unknown layout {layout!r}; known: {", ".join(sorted(LAYOUTS))}')
    if not Path(path).is_dir():
        raise SequenceError(f'sequence folder {path} does not exist')
    return LAYOUTS[key](Path(path))


def load_sequences(root: str | Path, layout: str | None = None) -> list[Sequence]:
    """Load every sequence in the sub-folders of a dataset folder (sorted by name).

    Sub-folders that are not sequences (no known layout) are skipped with a log message; a
    folder that looks like a sequence but fails validation raises.

    Raises:
        SequenceError: ``root`` is missing, holds no sequence, or a sequence is broken.
    """
    root = Path(root)
    if not root.is_dir():
        raise SequenceError(f'dataset folder {root} does not exist')
    sequences = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            found = layout or detect_layout(sub)
        except SequenceError as err:
            _logger.info('skipping %s: %s', sub, err)
            continue
        sequences.append(load_sequence(sub, found))
    if not sequences:
        raise SequenceError(f'no sequence folders found in {root}')
    return sequences
