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

"""Training samples: template / search-region pairs with joint RGB-X geometry and labels.

Sources (mixed at random, each yielding a :class:`PairSample`):

- :class:`StaticPairSource`: real images from ``../shared/data/train``. Template and search region
  are two differently augmented views of the same still image (shift, scale, blur, brightness,
  noise), the way OSTrack and SUTrack train on COCO. Registered RGB-T pairs give real thermal
  appearance (targets are warm blobs found in the LWIR image); box-labelled RGB images give real
  object targets (RGB only, teaching the missing-X path); RGB-D pairs give real depth appearance.
- :class:`SyntheticSource`: two frames of one generated RGB-X sequence
  (:mod:`rgbx_tracker_ros.data.synthetic`): motion, distractors, occlusion, dark RGB.
- :class:`VideoPairSource`: two frames of one real RGB video (OTB / VOT folders).
- :class:`UnlabelledVideoSource`: two frames of one real sequence without boxes (TNO's RGB-T
  Fire_sequence, the TUM-style RGB-D sequence, the ECD APS frames): distillation only, the
  teacher's response being the target (``labelled=False``).
- :class:`~rgbx_tracker_ros.train.datasets.SequencePairSource`: the benchmark training sets
  (LasHeR, DepthTrack, VisEvent, GOT-10k, LaSOT, COCO, ...), mixed by a recipe
  (:mod:`rgbx_tracker_ros.train.recipe`). Pair sampling (:func:`pick_frame_pair`) and the joint
  flip (:func:`hflip_pair`) are shared by the video sources.

Crops follow the tracker's geometry (template factor 2, search factor 4) around a jittered box
(OSTrack: search centre jitter 3, scale jitter 0.25); the label is the true box inside the search
crop.
X is dropped at random (template, search or both) so the Meta Merger's RGB-only path is trained.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.crop import crop_square, crop_window
from ..core.modality import encode_x
from ..core.types import Modality
from ..data.readers.base import natural_key

_logger = logging.getLogger(__name__)

MODALITY_LABEL = {Modality.RGB: 0, Modality.THERMAL: 1, Modality.DEPTH: 2, Modality.EVENT: 3}
_MAX_SIDE = 640


@dataclass
class PairSample:
    """One training example.

    Attributes:
        template_rgb, search_rgb: (S, S, 3) uint8 RGB crops (S = template / search size).
        template_x, search_x: encoded X crops or None (X missing).
        box_cxcywh: (4,) float32 target box in the search crop, normalised to [0, 1].
        modality: label of MODALITY_LABEL (0 when the search region has no X).
        labelled: False for a pair of unlabelled frames (:class:`UnlabelledVideoSource`): the
            search crop's target is unknown, ``box_cxcywh`` is only where the template's box
            would be if nothing moved, and distillation trains such samples on the teacher's
            response alone.
    """

    template_rgb: np.ndarray
    template_x: Optional[np.ndarray]
    search_rgb: np.ndarray
    search_x: Optional[np.ndarray]
    box_cxcywh: np.ndarray
    modality: int
    labelled: bool = True


@dataclass
class Geometry:
    """Crop sizes and jitter: template/search sizes (pixels), factors, OSTrack-style jitter."""

    template_size: int = 112
    search_size: int = 224
    template_factor: float = 2.0
    search_factor: float = 4.0
    center_jitter: float = 3.0
    scale_jitter: float = 0.25
    template_jitter: float = 0.1


def jitter_box(box_xywh: np.ndarray, rng: np.random.Generator, center_jitter: float,
               scale_jitter: float) -> np.ndarray:
    """OSTrack-style jitter: size * exp(N(0, scale)), centre + sqrt(area) * jitter * U(-0.5,
    0.5)."""
    x, y, w, h = box_xywh
    size = np.array([w, h]) * np.exp(rng.normal(0, scale_jitter, 2))
    offset = math.sqrt(size[0] * size[1]) * center_jitter * (rng.random(2) - 0.5)
    cx, cy = x + w / 2 + offset[0], y + h / 2 + offset[1]
    return np.array([cx - size[0] / 2, cy - size[1] / 2, size[0], size[1]])


def box_in_crop(box_xywh: np.ndarray, crop_box_xywh: np.ndarray, factor: float,
                output_size: int) -> np.ndarray:
    """Normalised (cx, cy, w, h) of ``box_xywh`` inside the crop made around ``crop_box_xywh``.

    Uses the crop window of :func:`~rgbx_tracker_ros.core.crop.crop_square`.
    """
    x1, y1, side = crop_window(crop_box_xywh, factor)
    scale = output_size / side
    x, y, w, h = box_xywh
    out = np.array([(x + w / 2 - x1) * scale, (y + h / 2 - y1) * scale, w * scale, h * scale])
    return (out / output_size).astype(np.float32)


def make_pair(template_imgs: Sequence[np.ndarray], template_box: np.ndarray,
              search_imgs: Sequence[np.ndarray], search_box: np.ndarray, geo: Geometry,
              rng: np.random.Generator) -> Tuple[list, list, np.ndarray]:
    """Crop template (around a lightly jittered box) and search region (jittered) from frames.

    Returns (template crops, search crops, normalised label box in the search crop).
    """
    t_box = jitter_box(template_box, rng, geo.template_jitter, geo.template_jitter / 2)
    s_box = jitter_box(search_box, rng, geo.center_jitter, geo.scale_jitter)
    t_crops, _ = crop_square(template_imgs, t_box, geo.template_factor, geo.template_size)
    s_crops, _ = crop_square(search_imgs, s_box, geo.search_factor, geo.search_size)
    return t_crops, s_crops, box_in_crop(search_box, s_box, geo.search_factor, geo.search_size)


def pick_frame_pair(visible: np.ndarray, max_gap: int,
                    rng: np.random.Generator) -> Tuple[int, int]:
    """Template and search frame indices of one video (OSTrack-style pair sampling).

    The template frame is drawn uniformly from ``visible``; the search frame uniformly from the
    visible frames at most ``max_gap`` frames away from it (either direction; it may be the
    template frame itself).

    Args:
        visible: (K,) int indices of the frames where the target is visible, K >= 1.
        max_gap: largest frame distance between the two frames (>= 0).
        rng: random generator.

    Returns:
        (template index, search index).

    Raises:
        ValueError: ``visible`` is empty (no frame shows the target).
    """
    visible = np.asarray(visible)
    if visible.size == 0:
        raise ValueError('cannot sample a frame pair: no frame has the target visible')
    i = int(rng.choice(visible))
    near = visible[np.abs(visible - i) <= max_gap]
    return i, int(rng.choice(near))


def hflip_pair(template_crops: List[np.ndarray], search_crops: List[np.ndarray],
               label: np.ndarray, rng: np.random.Generator, p: float = 0.5
               ) -> Tuple[List[np.ndarray], List[np.ndarray], np.ndarray]:
    """With probability ``p``, mirror every template and search crop left-right (RGB and X
    alike) and the normalised (cx, cy, w, h) label with them (cx -> 1 - cx).

    Returns new lists (the crops are copied when flipped) and the label (a copy when flipped).
    """
    if rng.random() >= p:
        return template_crops, search_crops, label
    label = label.copy()
    label[0] = 1.0 - label[0]
    return ([c[:, ::-1].copy() for c in template_crops],
            [c[:, ::-1].copy() for c in search_crops], label)


def photometric(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random brightness/contrast, blur and noise on a uint8 image (a new array)."""
    out = img.astype(np.float32)
    out = out * rng.uniform(1 - 0.3 * strength, 1 + 0.3 * strength) \
        + rng.uniform(-25, 25) * strength
    if rng.random() < 0.3 * strength:
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if rng.random() < 0.3 * strength:
        out = out + rng.normal(0, rng.uniform(2, 10), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot read training image {path}')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _read_gray3(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f'cannot read training image {path}')
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


def _read_depth_x(path: Path) -> Optional[np.ndarray]:
    """A 16-bit depth PNG (millimetres) encoded as X (core.modality.encode_x), or None when the
    file is missing, unreadable or not uint16."""
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if depth is None or depth.dtype != np.uint16:
        return None
    return encode_x(depth, '16UC1', Modality.DEPTH)


def _shrink(images: List[np.ndarray]) -> Tuple[List[np.ndarray], float]:
    h, w = images[0].shape[:2]
    scale = min(1.0, _MAX_SIDE / max(h, w))
    if scale < 1.0:
        size = (round(w * scale), round(h * scale))
        images = [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]
    return images, scale


def warm_blob_boxes(thermal: np.ndarray, max_boxes: int = 6) -> List[np.ndarray]:
    """Boxes (x, y, w, h) of warm connected regions in an (H, W) or (H, W, 3) LWIR image.

    Threshold at the 97th percentile (at least mean + 1.5 std), keep components of 0.05 % .. 15 %
    of the image, largest first. Used to pick targets in unlabelled RGB-T pairs.
    """
    gray = thermal if thermal.ndim == 2 else thermal[..., 0]
    thr = max(np.percentile(gray, 97), gray.mean() + 1.5 * gray.std())
    mask = (gray >= thr).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    area_img = gray.shape[0] * gray.shape[1]
    boxes = []
    for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1:
        x, y, w, h, area = stats[i]
        if 0.0005 * area_img <= area <= 0.15 * area_img and w >= 6 and h >= 6 \
                and max(w / h, h / w) < 6:
            boxes.append(np.array([x, y, w, h], dtype=np.float64))
        if len(boxes) >= max_boxes:
            break
    return boxes


def random_box(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random box of 2 %..20 % of the image side range, fully inside the image."""
    bw = rng.uniform(0.06, 0.3) * w
    bh = float(np.clip(bw * np.exp(rng.normal(0, 0.4)), 0.05 * h, 0.4 * h))
    return np.array([rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh])


@dataclass
class _Still:
    rgb: np.ndarray
    x: Optional[np.ndarray]
    boxes: List[np.ndarray]
    modality: Modality


class StaticPairSource:
    """Template/search pairs from still images of ``data/train`` (see module docstring).

    Args:
        root: the ``data/train`` folder (``../shared/data/train`` from the repo root).
        geo: crop geometry.
        kinds: which sub-corpora to use ('rgbt', 'rgb_boxes', 'rgbd').
        split: 'all' (every image), 'train' (all but every ``holdout``-th image) or 'val' (every
            ``holdout``-th image): held-out stills for choosing checkpoints.
        holdout: the held-out stride of the 'train' / 'val' splits.

    Raises:
        FileNotFoundError: if ``root`` does not exist or holds no usable image.
    """

    def __init__(self, root: Path, geo: Geometry, kinds=('rgbt', 'rgb_boxes', 'rgbd'),
                 split: str = 'all', holdout: int = 10) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f'training data folder {self.root} does not exist')
        self.geo = geo
        self.items: List[_Still] = []
        loaders = {'rgbt': self._load_rgbt, 'rgb_boxes': self._load_rgb_boxes,
                   'rgbd': self._load_rgbd}
        for kind in kinds:
            loaders[kind]()
        if split not in ('all', 'train', 'val'):
            raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
        if split != 'all':
            keep_val = split == 'val'
            self.items = [it for i, it in enumerate(self.items) if (i % holdout == 0) == keep_val]
        if not self.items:
            raise FileNotFoundError(f'no usable training images under {self.root}')
        counts = {m.value: sum(it.modality == m for it in self.items) for m in Modality}
        _logger.info('static training images: %s', counts)

    # -- loading -------------------------------------------------------------------------------
    def _add(self, rgb: np.ndarray, x: Optional[np.ndarray], boxes, modality: Modality,
             scale_boxes: bool = True) -> None:
        images, scale = _shrink([rgb] if x is None else [rgb, x])
        boxes = [b * scale for b in boxes] if scale_boxes else boxes
        self.items.append(_Still(images[0], None if x is None else images[1], boxes, modality))

    def _rgbt_pairs(self) -> List[Tuple[Path, Path]]:
        base = self.root / 'rgbt'
        pairs = []
        for vis_dir, ir_dir in (('roadscene/crop_LR_visible', 'roadscene/cropinfrared'),
                                ('llvip_sample/train/vi', 'llvip_sample/train/ir'),
                                ('llvip_sample/test/vi', 'llvip_sample/test/ir'),
                                ('msrs_sample/vi', 'msrs_sample/ir'),
                                ('m3fd_sample/vi', 'm3fd_sample/ir'), ('vifb/VI', 'vifb/IR')):
            for vis in sorted((base / vis_dir).glob('*')):
                ir = base / ir_dir / vis.name
                if ir.is_file():
                    pairs.append((vis, ir))
        table = base / 'tno' / 'modalities.csv'
        if table.is_file():
            scenes: dict = {}
            for line in table.read_text().splitlines()[1:]:
                scene, name, guess = line.split(',', 2)
                scenes.setdefault(scene, {}).setdefault(guess.split('_')[0], []).append(name)
            for scene, groups in scenes.items():
                if 'thermal' in groups and ('visual' in groups or 'NIR' in groups):
                    vis = (groups.get('visual') or groups['NIR'])[0]
                    pairs.append((base / 'tno' / scene / vis,
                                  base / 'tno' / scene / groups['thermal'][0]))
        return pairs

    def _load_rgbt(self) -> None:
        for vis, ir in self._rgbt_pairs():
            rgb, x = _read_rgb(vis), _read_gray3(ir)
            if rgb.shape[:2] != x.shape[:2]:
                rgb = cv2.resize(rgb, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
            self._add(rgb, x, warm_blob_boxes(x), Modality.THERMAL)

    def _load_rgb_boxes(self) -> None:
        base = self.root / 'rgb_boxes'
        for xml in sorted(base.glob('*/*/*.xml')):
            img_dir = [d for d in xml.parent.parent.iterdir()
                       if d.is_dir() and d.name.lower() in ('images', 'jpegimages')]
            if not img_dir:
                continue
            boxes, fname = _parse_voc(xml)
            img_path = img_dir[0] / fname
            if not img_path.is_file():
                candidates = list(img_dir[0].glob(xml.stem + '.*'))
                if not candidates:
                    continue
                img_path = candidates[0]
            img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
            if img is None or not boxes:
                continue
            self._add(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), None, boxes, Modality.RGB)

    def _load_rgbd(self) -> None:
        base = self.root / 'rgbd'
        for color in sorted((base / 'open3d_testdata' / 'color').glob('*.jpg')):
            depth = base / 'open3d_testdata' / 'depth' / (color.stem + '.png')
            self._add_rgbd(color, depth)
        tum = base / 'tum2klg_fr1xyz_like'
        rgbs = sorted((tum / 'rgb').glob('*.png'))
        depths = sorted((tum / 'depth').glob('*.png'))
        for color, depth in zip(rgbs, depths):
            self._add_rgbd(color, depth)

    def _add_rgbd(self, color: Path, depth_path: Path) -> None:
        x = _read_depth_x(depth_path)
        rgb = cv2.imread(str(color), cv2.IMREAD_COLOR) if x is not None else None
        if rgb is None:
            return
        if x.shape[:2] != rgb.shape[:2]:
            x = cv2.resize(x, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        self._add(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), x, [], Modality.DEPTH)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> PairSample:
        """One augmented template/search pair from a random still image."""
        item = self.items[rng.integers(len(self.items))]
        h, w = item.rgb.shape[:2]
        box = item.boxes[rng.integers(len(item.boxes))] if item.boxes and rng.random() < 0.85 \
            else random_box(h, w, rng)
        images = [item.rgb] if item.x is None else [item.rgb, item.x]
        t, s, label = make_pair(images, box, images, box, self.geo, rng)
        t = [photometric(t[0], rng)] + [photometric(c, rng, 0.5) for c in t[1:]]
        s = [photometric(s[0], rng)] + [photometric(c, rng, 0.5) for c in s[1:]]
        if item.x is None:
            return PairSample(t[0], None, s[0], None, label, MODALITY_LABEL[Modality.RGB])
        if item.modality == Modality.THERMAL and rng.random() < 0.3:
            s[0] = (s[0] * rng.uniform(0.05, 0.3)).astype(np.uint8)   # night: RGB goes dark
        return PairSample(t[0], t[1], s[0], s[1], label, MODALITY_LABEL[item.modality])


def _parse_voc(xml: Path) -> Tuple[List[np.ndarray], str]:
    root = ET.parse(xml).getroot()
    boxes = []
    for obj in root.iter('object'):
        bb = obj.find('bndbox')
        if bb is None:
            continue
        x1, y1, x2, y2 = (float(bb.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        if x2 - x1 >= 8 and y2 - y1 >= 8:
            boxes.append(np.array([x1, y1, x2 - x1, y2 - y1]))
    name = root.findtext('filename') or (xml.stem + '.jpg')
    return boxes, name


class SyntheticSource:
    """Template/search pairs from generated RGB-X sequences (a pool refreshed over time).

    Args:
        geo: crop geometry.
        modalities: X modalities to generate.
        pool_size: sequences kept at once; one is replaced every ``refresh_every`` samples.
        num_frames: frames per generated sequence.
        max_gap: largest frame distance between template and search frame.
        seed: base seed.
    """

    def __init__(self, geo: Geometry, modalities=(Modality.THERMAL, Modality.DEPTH,
                                                  Modality.EVENT),
                 pool_size: int = 24, num_frames: int = 40, max_gap: int = 15,
                 seed: int = 0, refresh_every: int = 64) -> None:
        self.geo, self.modalities = geo, list(modalities)
        self.num_frames, self.max_gap, self.refresh_every = num_frames, max_gap, refresh_every
        self._next_seed = seed
        self._count = 0
        self.pool = [self._generate() for _ in range(pool_size)]

    def _generate(self):
        from ..data.synthetic import encode_sequence_x, generate_sequence
        modality = self.modalities[self._next_seed % len(self.modalities)]
        rng = np.random.default_rng(self._next_seed)
        seq = generate_sequence(modality, self.num_frames, width=int(rng.integers(240, 400)),
                                height=int(rng.integers(192, 320)), seed=self._next_seed)
        self._next_seed += 1
        return seq, encode_sequence_x(seq)

    def sample(self, rng: np.random.Generator) -> PairSample:
        """Two visible frames of one pooled sequence, at most ``max_gap`` apart."""
        self._count += 1
        if self._count % self.refresh_every == 0:
            self.pool[rng.integers(len(self.pool))] = self._generate()
        seq, xs = self.pool[rng.integers(len(self.pool))]
        i, j = pick_frame_pair(np.flatnonzero(np.asarray(seq.visible)), self.max_gap, rng)
        boxes = np.asarray(seq.boxes_xywh, dtype=np.float64)
        t, s, label = make_pair([seq.rgb[i], xs[i]], boxes[i], [seq.rgb[j], xs[j]], boxes[j],
                                self.geo, rng)
        return PairSample(t[0], t[1], s[0], s[1], label, MODALITY_LABEL[seq.modality])


def drop_x(sample: PairSample, rng: np.random.Generator, p_both: float = 0.1,
           p_search: float = 0.15, p_template: float = 0.05) -> PairSample:
    """Randomly remove X from the search region, the template or both (missing-X training)."""
    if sample.search_x is None:
        return sample
    r = rng.random()
    if r < p_both:
        return replace(sample, template_x=None, search_x=None,
                       modality=MODALITY_LABEL[Modality.RGB])
    if r < p_both + p_search:
        return replace(sample, search_x=None, modality=MODALITY_LABEL[Modality.RGB])
    if r < p_both + p_search + p_template:
        return replace(sample, template_x=None)
    return sample


def read_video_boxes(folder: Path) -> Tuple[List[Path], np.ndarray]:
    """Frames and (T, 4) 0-based (x, y, w, h) pixel boxes of a training video folder.

    Layouts: OTB (``img/`` + ``groundtruth_rect.txt``, 1-based, via
    :func:`~rgbx_tracker_ros.data.sequences.read_otb`) and VOT (``img/`` or the folder itself +
    ``groundtruth_polygon.txt``: 8-value polygons, or 4-value boxes, 0-based; a polygon becomes its
    axis-aligned bounds).

    Raises:
        FileNotFoundError: no frames or no ground-truth file.
        ValueError: ground-truth rows that do not match the frames.
    """
    from ..data.sequences import _list_frames, read_boxes, read_otb
    folder = Path(folder)
    poly = folder / 'groundtruth_polygon.txt'
    if not poly.is_file():
        if not (folder / 'groundtruth_rect.txt').is_file():
            raise FileNotFoundError(f'{folder}: no groundtruth_rect.txt (OTB) or '
                                    'groundtruth_polygon.txt (VOT)')
        seq = read_otb(folder)
        boxes = seq.gt_xywh.copy()
        boxes[seq.absent] = np.nan
        return list(seq.rgb_paths), boxes
    frames = _list_frames(folder / 'img' if (folder / 'img').is_dir() else folder, 'frames')
    rows = read_boxes(poly, (4, 8))
    if len(rows) != len(frames):
        raise ValueError(f'{poly}: {len(rows)} rows for {len(frames)} frames')
    if rows.shape[1] == 8:
        xs, ys = rows[:, 0::2], rows[:, 1::2]
        rows = np.stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)], 1)
    rows = rows.astype(np.float64)
    rows[~np.all(np.isfinite(rows), 1) | (rows[:, 2] <= 0) | (rows[:, 3] <= 0)] = np.nan
    return frames, rows


class VideoPairSource:
    """Template / search pairs from real tracking videos (OSTrack's sampling).

    The template frame and the search frame come from the same video, at most ``max_gap`` frames
    apart, both with the target visible; crops and jitter as for the still images. RGB only: the
    videos have no X, so these samples teach the RGB path (and, with the Meta Merger, the
    missing-X path).

    Args:
        root: folder of video folders (``../shared/data/train/videos``), each in the OTB or VOT
            layout (:func:`read_video_boxes`).
        geo: crop geometry.
        max_gap: largest frame distance between template and search frame (OSTrack: 200 for
            GOT-10k at 10 fps; short OTB videos: 100).
        split: ``'train'`` (the first ``train_fraction`` of each video) or ``'val'`` (the rest):
            the validation split for choosing checkpoints.
        train_fraction: share of each video's frames in the training split.

    Raises:
        FileNotFoundError: ``root`` missing or without any video.
    """

    def __init__(self, root: Path, geo: Geometry, max_gap: int = 100, split: str = 'train',
                 train_fraction: float = 0.8) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f'training video folder {root} does not exist')
        if split not in ('train', 'val'):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.geo, self.max_gap = geo, max_gap
        self.videos: List[Tuple[str, List[np.ndarray], np.ndarray]] = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            frames, boxes = read_video_boxes(folder)
            cut = int(round(len(frames) * train_fraction))
            keep = slice(0, cut) if split == 'train' else slice(cut, len(frames))
            frames, boxes = frames[keep], boxes[keep]
            images, scales = [], []
            for path in frames:
                img, scale = _shrink([_read_rgb(path)])
                images.append(img[0])
                scales.append(scale)
            self.videos.append((folder.name, images, boxes * np.asarray(scales)[:, None]))
        self.videos = [v for v in self.videos if np.isfinite(v[2][:, 0]).sum() >= 2]
        if not self.videos:
            raise FileNotFoundError(f'no usable video (frames + boxes) under {root}')
        _logger.info('training videos (%s split): %s', split,
                     {name: len(imgs) for name, imgs, _ in self.videos})

    def sample(self, rng: np.random.Generator) -> PairSample:
        """A template frame and a search frame of one video, at most ``max_gap`` apart."""
        _, images, boxes = self.videos[rng.integers(len(self.videos))]
        i, j = pick_frame_pair(np.flatnonzero(np.isfinite(boxes[:, 0])), self.max_gap, rng)
        t, s, label = make_pair([images[i]], boxes[i], [images[j]], boxes[j], self.geo, rng)
        t, s = [photometric(t[0], rng, 0.5)], [photometric(s[0], rng, 0.5)]
        t, s, label = hflip_pair(t, s, label, rng)
        return PairSample(t[0], None, s[0], None, label, MODALITY_LABEL[Modality.RGB])


#: unlabelled frame sequences of ``data/train`` (SOURCES.md): (name, RGB glob, X glob or None,
#: modality of X). Frames of one sequence pair up by sorted order.
UNLABELLED_SEQUENCES = (
    ('tno_fire_part_1', 'rgbt/tno/DHV_images/Fire_sequence/part_1/dhv/*.png',
     'rgbt/tno/DHV_images/Fire_sequence/part_1/thermal/*.png', Modality.THERMAL),
    ('tno_fire_part_2', 'rgbt/tno/DHV_images/Fire_sequence/part_2/dhv/*.png',
     'rgbt/tno/DHV_images/Fire_sequence/part_2/rad/*.png', Modality.THERMAL),
    ('tno_fire_part_3', 'rgbt/tno/DHV_images/Fire_sequence/part_3/dhv/*.png',
     'rgbt/tno/DHV_images/Fire_sequence/part_3/rad/*.png', Modality.THERMAL),
    ('tum_rgbd', 'rgbd/tum2klg_fr1xyz_like/rgb/*.png', 'rgbd/tum2klg_fr1xyz_like/depth/*.png',
     Modality.DEPTH),
    ('ecd_aps', 'event/ecd_slider_depth_aps_only/images/*.png', None, Modality.RGB),
)


class UnlabelledVideoSource:
    """Template / search pairs from real frame sequences that have no boxes (distillation).

    A template frame ``i`` and a search frame ``j`` at most ``max_gap`` frames apart are drawn
    from one sequence; the template box is a warm blob of the thermal frame (RGB-T) or a random
    box (:func:`random_box`), and the search crop is cut around the same box jittered as in
    training (OSTrack's centre / scale jitter). Where the target is in frame ``j`` is unknown:
    the sample has ``labelled=False``, and :func:`~rgbx_tracker_ros.train.distill.distill_loss`
    trains it on the teacher's response and features only ("unlabelled frames where only the
    teacher's response is the target", the real-time issue). ``box_cxcywh`` is the template
    box's place in the search crop, used by nothing but the shapes.

    Args:
        root: the ``data/train`` folder.
        geo: crop geometry.
        sequences: entries of :data:`UNLABELLED_SEQUENCES` to use (default all found).
        max_gap: largest frame distance between template and search frame.

    Raises:
        FileNotFoundError: ``root`` missing or none of the sequences found (each missing one is
            named in the message, with the globs it was looked for under).
        ValueError: a sequence whose RGB and X frame counts differ, or an unreadable depth frame.
    """

    def __init__(self, root: Path, geo: Geometry, sequences=UNLABELLED_SEQUENCES,
                 max_gap: int = 10) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f'training data folder {root} does not exist')
        self.geo, self.max_gap = geo, int(max_gap)
        self.sequences: List[Tuple[str, List[np.ndarray], Optional[List[np.ndarray]],
                                   Modality]] = []
        missing = []
        for name, rgb_glob, x_glob, modality in sequences:
            rgbs = sorted(root.glob(rgb_glob), key=natural_key)
            xs = sorted(root.glob(x_glob), key=natural_key) if x_glob else []
            if len(rgbs) < 2 or (x_glob and not xs):
                missing.append(f'{name} ({rgb_glob}' + (f', {x_glob})' if x_glob else ')'))
                continue
            if x_glob and len(xs) != len(rgbs):
                raise ValueError(f'unlabelled sequence {name}: {len(rgbs)} RGB frames but '
                                 f'{len(xs)} X frames under {root}; they must pair one to one')
            rgb_imgs, x_imgs = [], [] if x_glob else None
            for k, path in enumerate(rgbs):
                rgb = _read_rgb(path)
                if x_glob:
                    x = self._read_x(xs[k], modality)
                    if x.shape[:2] != rgb.shape[:2]:
                        rgb = cv2.resize(rgb, (x.shape[1], x.shape[0]),
                                         interpolation=cv2.INTER_AREA)
                    images, _ = _shrink([rgb, x])
                    x_imgs.append(images[1])
                else:
                    images, _ = _shrink([rgb])
                rgb_imgs.append(images[0])
            self.sequences.append((name, rgb_imgs, x_imgs, modality))
        if not self.sequences:
            raise FileNotFoundError(f'no unlabelled frame sequence under {root}; looked for '
                                    + '; '.join(missing))
        if missing:
            _logger.warning('unlabelled sequences not found under %s: %s', root,
                            '; '.join(missing))
        _logger.info('unlabelled sequences: %s',
                     {name: len(r) for name, r, _, _ in self.sequences})

    @staticmethod
    def _read_x(path: Path, modality: Modality) -> np.ndarray:
        if modality != Modality.DEPTH:
            return _read_gray3(path)
        x = _read_depth_x(path)
        if x is None:
            raise ValueError(f'cannot read 16-bit depth frame {path}')
        return x

    def sample(self, rng: np.random.Generator) -> PairSample:
        """A template frame and a search frame of one sequence (``labelled=False``)."""
        _, rgbs, xs, modality = self.sequences[rng.integers(len(self.sequences))]
        i, j = pick_frame_pair(np.arange(len(rgbs)), self.max_gap, rng)
        h, w = rgbs[i].shape[:2]
        blobs = warm_blob_boxes(xs[i]) if xs is not None and modality == Modality.THERMAL \
            else []
        box = blobs[rng.integers(len(blobs))] if blobs and rng.random() < 0.7 \
            else random_box(h, w, rng)
        t_imgs = [rgbs[i]] if xs is None else [rgbs[i], xs[i]]
        s_imgs = [rgbs[j]] if xs is None else [rgbs[j], xs[j]]
        t, s, label = make_pair(t_imgs, box, s_imgs, box, self.geo, rng)
        t = [photometric(t[0], rng, 0.5)] + [photometric(c, rng, 0.3) for c in t[1:]]
        s = [photometric(s[0], rng, 0.5)] + [photometric(c, rng, 0.3) for c in s[1:]]
        t, s, label = hflip_pair(t, s, label, rng)
        if xs is None:
            return PairSample(t[0], None, s[0], None, label, MODALITY_LABEL[Modality.RGB],
                              labelled=False)
        return PairSample(t[0], t[1], s[0], s[1], label, MODALITY_LABEL[modality],
                          labelled=False)
