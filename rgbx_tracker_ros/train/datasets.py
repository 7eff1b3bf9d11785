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

"""Training readers for the benchmark layouts, and the pair sources that sample from them.

A registry (:data:`DATASETS`, :func:`open_dataset`) of training-set readers keyed by name. Each
reader indexes its split cheaply at construction (list files and per-sequence file checks only,
no image is decoded; COCO parses its annotation JSON) and loads a sequence on demand as a
:class:`~rgbx_tracker_ros.data.sequences.Sequence` (boxes (x, y, w, h), pixels, top-left,
0-based), with the eval readers of :mod:`rgbx_tracker_ros.data.sequences` doing the per-sequence
parsing where the benchmark has one.

==========  ==============================================  ===========================  =======
name        layout under ``root`` (default split)           ground truth per sequence    X
==========  ==============================================  ===========================  =======
lasher      ``trainingset/<seq>/`` + ``trainingsetList.txt``  visible.txt (or init.txt)  thermal
            (``testingset/`` + ``testingsetList.txt`` for      :func:`read_lasher`
            split 'test')
rgbt234     ``<seq>/`` (no official split: every sequence,    visible.txt + infrared.txt thermal
            or the names of ``split_file``)                   :func:`read_rgbt234`
vtuav       ``train/<seq>/`` (split = the sub-folder)         rgb.txt (every 10th frame) thermal
                                                              :func:`read_vtuav`
depthtrack  ``train/<seq>/`` or ``depthtrack_train/<seq>/``,  groundtruth.txt             depth
            optional ``list.txt`` in it                       :func:`read_depthtrack`
visevent    ``train/<seq>/`` or ``train_subset/<seq>/``,      groundtruth.txt +           event
            optional ``trainlist.txt``                        absent_label.txt
got10k      ``train/list.txt`` + ``train/<seq>/*.jpg``        groundtruth.txt +           none
                                                              absence.label (+ cover.label)
lasot       ``<class>/<class>-<n>/img/*.jpg``; every          groundtruth.txt +           none
            sequence found, or the names of ``split_file``    full_occlusion.txt +
            (the 1120-sequence training list of the           out_of_view.txt
            toolkit)
coco        ``annotations/instances_train2017.json`` +        one box per annotation      none
            ``train2017/`` images                              (static pairs)
==========  ==============================================  ===========================  =======

A frame is used for training where the target is *visible*: annotated, not flagged absent and
with a box larger than the dataset's minimum (the public training loaders' filters: LasHeR /
RGBT234 / VTUAV / GOT-10k / LaSOT w > 0 and h > 0, DepthTrack w > 10 and h > 10, VisEvent w > 5
and h > 5 plus ``absent_label``; GOT-10k also ``absence.label`` and ``cover.label`` > 0, LaSOT
``full_occlusion`` and ``out_of_view``).

Every missing root, split folder, list file or ground-truth file raises :class:`DatasetError`
(a ValueError) naming the file and the expected layout. A sequence that exists but is broken
(frame count vs GT rows, undecodable image) is found when it is first loaded and raises
:class:`DatasetError` then.

Pair sources (``sample(rng) -> PairSample``, the interface of :mod:`.data`):

- :class:`SequencePairSource`: template and search frame from one sequence, at most ``max_gap``
  frames apart, both with the target visible (OSTrack's sampling); X crops where the dataset has
  X. COCO's one-frame "sequences" give static pairs: template and search region from the same
  image with different jitter, as OSTrack uses COCO.
- :class:`MixedSource`: picks one of several sources by ratio per sample (the dataset mix of a
  recipe, e.g. XTrack's LasHeR : DepthTrack : VisEvent = 1 : 1 : 1).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence as Seq, Tuple

import cv2
import numpy as np

from ..core.modality import encode_x
from ..core.types import Modality
from ..data.sequences import (IMAGE_EXTENSIONS, Sequence, SequenceError, natural_key,
                              read_boxes, read_depthtrack, read_lasher, read_rgbt234,
                              read_visevent, read_vtuav)
from .data import (MODALITY_LABEL, Geometry, PairSample, hflip_pair, make_pair, photometric,
                   pick_frame_pair)

_logger = logging.getLogger(__name__)

__all__ = ['DATASETS', 'DatasetError', 'MixedSource', 'SequencePairSource', 'TrainDataset',
           'list_datasets', 'open_dataset']


class DatasetError(ValueError):
    """A training dataset folder is missing something or is inconsistent; the message names the
    file or folder and the layout that was expected."""


def _frames_in(folder: Path) -> List[Path]:
    """Image files of ``folder`` in natural (frame-number) order."""
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)


def _read_names(path: Path) -> List[str]:
    """Non-empty, stripped lines of a list file (sequence names), in file order."""
    names = []
    for line in path.read_text(encoding='utf-8', errors='replace').splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            names.append(line.rstrip('/'))
    return names


def _read_flag_values(path: Path) -> np.ndarray:
    """Integers of a flag file: one per line (GOT-10k) or comma-separated on one line (LaSOT)."""
    text = path.read_text(encoding='utf-8', errors='replace')
    values = []
    for number, token in enumerate((t for t in re.split(r'[,;\s]+', text) if t), start=1):
        try:
            values.append(int(float(token)))
        except ValueError:
            raise DatasetError(f'{path}, entry {number}: {token!r} is not an integer flag') \
                from None
    return np.asarray(values, dtype=np.int64)


class TrainDataset:
    """Base of the training readers: an index of sequences, loaded lazily.

    Subclasses set :attr:`name`, :attr:`modality`, :attr:`layout_help` and implement
    :meth:`_load` (and usually :meth:`_visible`).

    Attributes:
        name: registry key ('lasher', ...).
        modality: :class:`Modality` of X (``Modality.RGB`` when the dataset has no X).
        root: the dataset folder given by the caller.
        static: True for still-image datasets (COCO): every sequence has one frame.
        cache_size: loaded sequences kept in memory (least recently used are dropped).
    """

    name = ''
    modality = Modality.RGB
    static = False
    layout_help = ''
    #: minimum box width and height (pixels, strict >) for a frame to be used
    min_side = 0.0

    def __init__(self, root: str | Path, cache_size: int = 32) -> None:
        self.root = Path(root).expanduser()
        if not str(root).strip():
            raise DatasetError(f'{self.name}: empty dataset root; expected {self.layout_help}')
        if not self.root.is_dir():
            raise DatasetError(f'{self.name}: dataset root {self.root} does not exist; expected '
                               f'{self.layout_help}')
        self.cache_size = max(1, int(cache_size))
        self._cache: 'OrderedDict[int, Sequence]' = OrderedDict()

    # -- index -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    @property
    def names(self) -> List[str]:
        """Sequence names of the split, in index order."""
        raise NotImplementedError

    def sequence(self, index: int) -> Sequence:
        """Load (or fetch from the cache) sequence ``index`` of the split.

        Raises:
            IndexError: index out of range.
            DatasetError: the sequence's files are inconsistent (the message names them).
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'{self.name}: sequence index {index} out of range for {n}')
        index %= n
        seq = self._cache.get(index)
        if seq is not None:
            self._cache.move_to_end(index)
            return seq
        try:
            seq = self._load(index)
        except SequenceError as err:
            raise DatasetError(f'{self.name} sequence {self.names[index]!r}: {err}') from err
        self._cache[index] = seq
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return seq

    def visible(self, seq: Sequence) -> np.ndarray:
        """(T,) bool: frames usable for training (target annotated, present, box large enough)."""
        ok = seq.annotated & ~seq.absent
        with np.errstate(invalid='ignore'):
            ok &= (seq.gt_xywh[:, 2] > self.min_side) & (seq.gt_xywh[:, 3] > self.min_side)
        return ok

    def _load(self, index: int) -> Sequence:
        raise NotImplementedError

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state['_cache'] = OrderedDict()      # workers start with an empty cache
        return state

    def __repr__(self) -> str:
        return f'{type(self).__name__}(root={str(self.root)!r}, sequences={len(self)})'


class _FolderDataset(TrainDataset):
    """Sequences as sub-folders of a split folder, validated by their GT files, parsed by an eval
    reader of :mod:`rgbx_tracker_ros.data.sequences`.

    Class attributes configure the layout: ``splits`` maps a split name to (sub-folder
    candidates, list-file candidates relative to the root and to the split folder, list file
    required); ``gt_files``: per-sequence files of which at least one must exist (any of each
    inner tuple); ``reader``: the eval reader.
    """

    splits: Dict[Optional[str], Tuple[Tuple[str, ...], Tuple[str, ...], bool]] = {}
    default_split: Optional[str] = 'train'
    gt_files: Tuple[Tuple[str, ...], ...] = ()
    seq_dirs: Tuple[str, ...] = ()
    reader: Optional[Callable[[Path], Sequence]] = None

    def __init__(self, root: str | Path, split: Optional[str] = 'default',
                 split_file: str | Path | None = None, cache_size: int = 32) -> None:
        super().__init__(root, cache_size)
        split = self.default_split if split == 'default' else split
        self.split = split
        self.seq_root, names = self._resolve_split(split)
        if split_file is not None and str(split_file).strip():
            split_path = Path(split_file).expanduser()
            if not split_path.is_file():
                raise DatasetError(f'{self.name}: split file {split_path} does not exist '
                                   f'(one sequence name per line)')
            names = self._names_from_split_file(split_path, names)
        if names is None:
            names = sorted((p.name for p in self.seq_root.iterdir()
                            if p.is_dir() and all((p / d).is_dir() for d in self.seq_dirs)),
                           key=lambda s: natural_key(Path(s)))
        if not names:
            raise DatasetError(f'{self.name}: no sequence folders in {self.seq_root}; expected '
                               f'{self.layout_help}')
        self._names = list(names)
        for name in self._names:
            self._check_sequence(name)
        _logger.info('%s (%s): %d sequences under %s', self.name, split, len(self._names),
                     self.seq_root)

    @property
    def names(self) -> List[str]:
        return self._names

    def _resolve_split(self, split: Optional[str]) -> Tuple[Path, Optional[List[str]]]:
        if split is None:
            return self.root, None
        if not self.splits:
            raise DatasetError(f'{self.name}: has no named splits (got split={split!r}); use '
                               f'split None (root is the folder of sequences) and a split_file '
                               f'for a subset')
        if split not in self.splits:
            known = ', '.join(repr(k) for k in self.splits if k is not None)
            raise DatasetError(f'{self.name}: unknown split {split!r}; known: {known} or None '
                               f'(root is the folder of sequences)')
        folders, lists, required = self.splits[split]
        seq_root = next((self.root / f for f in folders if (self.root / f).is_dir()), None)
        if seq_root is None:
            expected = ' or '.join(f'{self.root / f}/' for f in folders)
            raise DatasetError(f'{self.name}: missing split folder {expected} for split '
                               f'{split!r}; expected {self.layout_help}')
        candidates = [self.root / name for name in lists] + [seq_root / name for name in lists]
        list_path = next((p for p in candidates if p.is_file()), None)
        if list_path is None:
            if required:
                raise DatasetError(f'{self.name}: missing sequence list file '
                                   f'{candidates[0]} for split {split!r}; expected '
                                   f'{self.layout_help}')
            return seq_root, None
        names = _read_names(list_path)
        if not names:
            raise DatasetError(f'{self.name}: sequence list file {list_path} is empty')
        return seq_root, names

    def _names_from_split_file(self, path: Path, listed: Optional[List[str]]) -> List[str]:
        return _read_names(path)

    def _check_sequence(self, name: str) -> None:
        folder = self.seq_root / name
        if not folder.is_dir():
            raise DatasetError(f'{self.name}: sequence folder {folder} (listed) does not exist; '
                               f'expected {self.layout_help}')
        for options in self.gt_files:
            if not any((folder / f).is_file() for f in options):
                raise DatasetError(f'{self.name}: missing ground-truth file '
                                   f'{folder / options[0]}'
                                   + (f' (or {", ".join(options[1:])})' if options[1:] else '')
                                   + f'; expected {self.layout_help}')

    def _load(self, index: int) -> Sequence:
        return type(self).reader(self.seq_root / self._names[index])


class LasHeRDataset(_FolderDataset):
    """LasHeR training (or testing) set: ``<root>/trainingset/<seq>/{visible,infrared}/`` with
    ``visible.txt`` (or ``init.txt``) per sequence and the split list ``trainingsetList.txt``
    (in ``root`` or in ``trainingset/``); split 'test' reads ``testingset/`` +
    ``testingsetList.txt``. Sequences via :func:`~rgbx_tracker_ros.data.sequences.read_lasher`.

    Raises:
        DatasetError: missing root / split folder / list file / sequence folder / GT file.
    """

    name = 'lasher'
    modality = Modality.THERMAL
    layout_help = ('<root>/trainingset/<seq>/visible/, infrared/, visible.txt (or init.txt) and '
                   '<root>/trainingsetList.txt (split "test": testingset/ + testingsetList.txt)')
    splits = {'train': (('trainingset', 'TrainingSet/trainingset'), ('trainingsetList.txt',),
                        True),
              'test': (('testingset', 'TestingSet/testingset'), ('testingsetList.txt',), True)}
    gt_files = (('visible.txt', 'init.txt', 'infrared.txt'),)
    seq_dirs = ('visible', 'infrared')
    reader = staticmethod(read_lasher)


class RGBT234Dataset(_FolderDataset):
    """RGBT234 / RGBT210: ``<root>/<seq>/{visible,infrared}/`` + ``visible.txt`` (or
    ``init.txt``). There is no official train split (RGBT234 is commonly the training set for
    LasHeR-free recipes): every sequence folder, or the names of ``split_file``. Sequences via
    :func:`~rgbx_tracker_ros.data.sequences.read_rgbt234`.

    Raises:
        DatasetError: missing root / sequence folder / GT file / split file.
    """

    name = 'rgbt234'
    modality = Modality.THERMAL
    layout_help = '<root>/<seq>/visible/, infrared/, visible.txt + infrared.txt (or init.txt)'
    splits = {}
    default_split = None
    gt_files = (('visible.txt', 'init.txt', 'infrared.txt'),)
    seq_dirs = ('visible', 'infrared')
    reader = staticmethod(read_rgbt234)


class VTUAVDataset(_FolderDataset):
    """VTUAV: ``<root>/<split>/<seq>/{rgb,ir}/`` + ``rgb.txt`` (one row per frame or one every
    10 frames; unannotated frames are never sampled). ``split`` names the sub-folder ('train'
    by default); None = ``root`` is the folder of sequences. Sequences via
    :func:`~rgbx_tracker_ros.data.sequences.read_vtuav`.

    Raises:
        DatasetError: missing root / split folder / sequence folder / GT file.
    """

    name = 'vtuav'
    modality = Modality.THERMAL
    layout_help = '<root>/train/<seq>/rgb/, ir/, rgb.txt (+ ir.txt)'
    splits = {'train': (('train',), ('train.txt', 'trainlist.txt', 'list.txt'), False),
              'test': (('test',), ('test.txt', 'testlist.txt', 'list.txt'), False)}
    gt_files = (('rgb.txt',),)
    seq_dirs = ('rgb', 'ir')
    reader = staticmethod(read_vtuav)


class DepthTrackDataset(_FolderDataset):
    """DepthTrack training set: ``<root>/train/<seq>/{color,depth}/`` (or
    ``depthtrack_train/``) + ``groundtruth.txt``; a VOT-style ``list.txt`` in the split folder is
    used when present. Frames need w > 10 and h > 10 (the public DepthTrack training loader).
    Sequences via :func:`~rgbx_tracker_ros.data.sequences.read_depthtrack`.

    Raises:
        DatasetError: missing root / split folder / sequence folder / GT file.
    """

    name = 'depthtrack'
    modality = Modality.DEPTH
    min_side = 10.0
    layout_help = '<root>/train/<seq>/color/, depth/ (16-bit PNG, mm), groundtruth.txt'
    splits = {'train': (('train', 'depthtrack_train'), ('list.txt',), False),
              'test': (('test', 'depthtrack_test'), ('list.txt',), False)}
    gt_files = (('groundtruth.txt',),)
    seq_dirs = ('color', 'depth')
    reader = staticmethod(read_depthtrack)


class VisEventDataset(_FolderDataset):
    """VisEvent training set: ``<root>/train/<seq>/{vis_imgs,event_imgs}/`` (or
    ``train_subset/``) + ``groundtruth.txt`` + ``absent_label.txt``; ``trainlist.txt`` (in
    ``root`` or the split folder) is used when present. Frames need w > 5, h > 5 and not absent
    (the public VisEvent training loader). Sequences via
    :func:`~rgbx_tracker_ros.data.sequences.read_visevent`.

    Raises:
        DatasetError: missing root / split folder / sequence folder / GT or absent-label file.
    """

    name = 'visevent'
    modality = Modality.EVENT
    min_side = 5.0
    layout_help = ('<root>/train/<seq>/vis_imgs/, event_imgs/, groundtruth.txt, '
                   'absent_label.txt (optional <root>/trainlist.txt)')
    splits = {'train': (('train', 'train_subset'), ('trainlist.txt',), False),
              'test': (('test', 'test_subset'), ('testlist.txt',), False)}
    gt_files = (('groundtruth.txt',), ('absent_label.txt',))
    seq_dirs = ('vis_imgs', 'event_imgs')
    reader = staticmethod(read_visevent)


def _rgb_sequence(name: str, layout: str, frames: List[Path], gt: np.ndarray, gt_path: Path,
                  absent: np.ndarray, folder: Path) -> Sequence:
    if len(gt) != len(frames):
        raise DatasetError(f'{gt_path} has {len(gt)} boxes but {folder} has {len(frames)} '
                           f'frames; the GT needs one row per frame')
    return Sequence(name=name, layout=layout, modality=Modality.RGB, rgb_paths=frames,
                    x_paths=None, gt_xywh=gt, absent=absent,
                    attributes={'root': str(folder), 'gt_file': gt_path.name})


class GOT10kDataset(_FolderDataset):
    """GOT-10k: ``<root>/train/list.txt`` naming the sequences,
    ``<root>/train/<seq>/00000001.jpg ...`` + ``groundtruth.txt`` (x, y, w, h per frame) +
    ``absence.label`` (1 = target absent) and, when present, ``cover.label`` (0 = fully
    occluded). Split 'val' reads ``val/``. ``split_file`` restricts to a subset: sequence names,
    or integers = 0-based indices into ``list.txt`` (the format of the toolkit's "vottrain"
    split list). RGB only.

    Raises:
        DatasetError: missing root / split folder / list.txt / sequence folder / groundtruth.txt
            / absence.label.
    """

    name = 'got10k'
    layout_help = ('<root>/train/list.txt and <root>/train/<seq>/*.jpg, groundtruth.txt, '
                   'absence.label')
    splits = {'train': (('train',), ('list.txt',), True), 'val': (('val',), ('list.txt',), True)}
    gt_files = (('groundtruth.txt',), ('absence.label',))

    def _names_from_split_file(self, path: Path, listed: Optional[List[str]]) -> List[str]:
        entries = _read_names(path)
        if listed is not None and entries and all(e.isdigit() for e in entries):
            bad = [e for e in entries if int(e) >= len(listed)]
            if bad:
                raise DatasetError(f'{path}: indices {bad[:5]} out of range for the '
                                   f'{len(listed)} sequences of list.txt')
            return [listed[int(e)] for e in entries]
        return entries

    def _load(self, index: int) -> Sequence:
        folder = self.seq_root / self._names[index]
        frames = _frames_in(folder)
        if not frames:
            raise DatasetError(f'{self.name}: no frames in {folder}; expected {self.layout_help}')
        gt_path = folder / 'groundtruth.txt'
        gt = read_boxes(gt_path, (4,))
        absence = _read_flag_values(folder / 'absence.label').astype(bool)
        if len(absence) != len(gt):
            raise DatasetError(f'{folder / "absence.label"} has {len(absence)} entries for '
                               f'{len(gt)} GT rows')
        cover_path = folder / 'cover.label'
        if cover_path.is_file():
            cover = _read_flag_values(cover_path)
            if len(cover) != len(gt):
                raise DatasetError(f'{cover_path} has {len(cover)} entries for {len(gt)} GT rows')
            absence = absence | (cover <= 0)
        return _rgb_sequence(folder.name, 'got10k', frames, gt, gt_path, absence, folder)


class LaSOTDataset(_FolderDataset):
    """LaSOT: ``<root>/<class>/<class>-<n>/img/00000001.jpg ...`` + ``groundtruth.txt`` (x, y,
    w, h, comma-separated) + ``full_occlusion.txt`` and ``out_of_view.txt`` (0/1 per frame,
    comma-separated on one line). Every sequence found, or the names (``airplane-1`` ...) of
    ``split_file`` — e.g. the toolkit's 1120-sequence training list. A frame is visible when it
    is neither fully occluded nor out of view. RGB only.

    Raises:
        DatasetError: missing root / sequence folder / groundtruth.txt / full_occlusion.txt /
            out_of_view.txt / split file.
    """

    name = 'lasot'
    layout_help = ('<root>/<class>/<class>-<n>/img/*.jpg, groundtruth.txt, full_occlusion.txt, '
                   'out_of_view.txt')
    splits = {}
    default_split = None
    gt_files = (('groundtruth.txt',), ('full_occlusion.txt',), ('out_of_view.txt',))

    def __init__(self, root: str | Path, split: Optional[str] = 'default',
                 split_file: str | Path | None = None, cache_size: int = 32) -> None:
        super().__init__(root, split, split_file, cache_size)

    def _resolve_split(self, split: Optional[str]) -> Tuple[Path, Optional[List[str]]]:
        if split is not None:
            raise DatasetError(f'{self.name}: splits are given as split_file (e.g. the '
                               f'1120-sequence training list), not split={split!r}')
        names = []
        for class_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            names += [f'{class_dir.name}/{s.name}' for s in class_dir.iterdir()
                      if s.is_dir() and s.name.startswith(class_dir.name + '-')
                      and (s / 'img').is_dir()]
        return self.root, sorted(names, key=lambda s: natural_key(Path(s.replace('/', '_'))))

    def _names_from_split_file(self, path: Path, listed: Optional[List[str]]) -> List[str]:
        out = []
        for entry in _read_names(path):
            entry = entry.replace('\\', '/')
            if '/' not in entry:
                if '-' not in entry:
                    raise DatasetError(f'{path}: {entry!r} is not a LaSOT sequence name '
                                       f'(<class>-<n>, e.g. airplane-1)')
                entry = f'{entry.rsplit("-", 1)[0]}/{entry}'
            out.append(entry)
        return out

    def _load(self, index: int) -> Sequence:
        folder = self.seq_root / self._names[index]
        img = folder / 'img'
        if not img.is_dir():
            raise DatasetError(f'{self.name}: missing frame folder {img}; expected '
                               f'{self.layout_help}')
        frames = _frames_in(img)
        gt_path = folder / 'groundtruth.txt'
        gt = read_boxes(gt_path, (4,))
        absent = np.zeros(len(gt), dtype=bool)
        for flag in ('full_occlusion.txt', 'out_of_view.txt'):
            values = _read_flag_values(folder / flag).astype(bool)
            if len(values) != len(gt):
                raise DatasetError(f'{folder / flag} has {len(values)} entries for {len(gt)} GT '
                                   f'rows')
            absent |= values
        return _rgb_sequence(folder.name, 'lasot', frames, gt, gt_path, absent, folder)


class COCODataset(TrainDataset):
    """COCO detection boxes as static tracking pairs (OSTrack / SUTrack train on COCO 2017).

    Layout: ``<root>/annotations/instances_<split>.json`` + ``<root>/<split>/<file_name>``
    (split 'train2017' by default). Each kept annotation is a one-frame "sequence" with its
    box (x, y, w, h), pixels as stored in COCO. Annotations with ``iscrowd`` = 1 and boxes with
    width or height below ``min_box_side`` pixels are dropped. The JSON is parsed once at
    construction (about 20 s for train2017); images are only opened when sampled.

    Args:
        root: COCO folder.
        split: image set name ('train2017', 'val2017', ...).
        min_box_side: smallest box width and height kept, pixels (our choice: 8 px, below
            which a 4x search crop is mostly context).
        split_file: unused (COCO has its own split folders); must be None.

    Raises:
        DatasetError: missing root / annotation JSON / image folder, a JSON without
            'images' / 'annotations', or no annotation left after filtering.
    """

    name = 'coco'
    static = True
    layout_help = '<root>/annotations/instances_train2017.json and <root>/train2017/*.jpg'

    def __init__(self, root: str | Path, split: Optional[str] = 'default',
                 split_file: str | Path | None = None, min_box_side: float = 8.0,
                 cache_size: int = 32) -> None:
        super().__init__(root, cache_size)
        if split_file is not None and str(split_file).strip():
            raise DatasetError('coco: split_file is not supported; choose the image set with '
                               "split (e.g. 'train2017')")
        split = 'train2017' if split in ('default', None, 'train') else split
        self.split = split
        ann_path = self.root / 'annotations' / f'instances_{split}.json'
        if not ann_path.is_file():
            raise DatasetError(f'coco: missing annotation file {ann_path}; expected '
                               f'{self.layout_help}')
        self.image_dir = self.root / split
        if not self.image_dir.is_dir():
            raise DatasetError(f'coco: missing image folder {self.image_dir}/; expected '
                               f'{self.layout_help}')
        try:
            data = json.loads(ann_path.read_text(encoding='utf-8'))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f'coco: {ann_path} is not valid JSON ({err})') from None
        if not isinstance(data, dict) or 'images' not in data or 'annotations' not in data:
            raise DatasetError(f"coco: {ann_path} has no 'images' / 'annotations' lists "
                               f'(not a COCO instances file)')
        files = {int(im['id']): str(im['file_name']) for im in data['images']}
        self._files: List[str] = []
        file_index: Dict[str, int] = {}
        image_of, boxes, ids = [], [], []
        for ann in data['annotations']:
            if int(ann.get('iscrowd', 0)):
                continue
            bbox = ann.get('bbox')
            if bbox is None or len(bbox) != 4:
                continue
            x, y, w, h = (float(v) for v in bbox)
            if not (w >= min_box_side and h >= min_box_side) or not math.isfinite(x + y):
                continue
            fname = files.get(int(ann['image_id']))
            if fname is None:
                raise DatasetError(f"coco: {ann_path}: annotation {ann.get('id')} refers to "
                                   f"image_id {ann['image_id']} that is not in 'images'")
            if fname not in file_index:
                file_index[fname] = len(self._files)
                self._files.append(fname)
            image_of.append(file_index[fname])
            boxes.append((x, y, w, h))
            ids.append(int(ann.get('id', len(ids))))
        if not boxes:
            raise DatasetError(f'coco: no usable annotation in {ann_path} (all crowd or smaller '
                               f'than {min_box_side} px)')
        self._image_of = np.asarray(image_of, dtype=np.int64)
        self._boxes = np.asarray(boxes, dtype=np.float64)
        self._ids = np.asarray(ids, dtype=np.int64)
        _logger.info('coco (%s): %d annotations on %d images', split, len(boxes),
                     len(self._files))

    def __len__(self) -> int:
        return len(self._boxes)

    @property
    def names(self) -> List[str]:
        """Annotation names ``<file_name>#<annotation id>``, in index order."""
        return [f'{self._files[i]}#{a}' for i, a in zip(self._image_of, self._ids)]

    def _load(self, index: int) -> Sequence:
        path = self.image_dir / self._files[self._image_of[index]]
        if not path.is_file():
            raise DatasetError(f'coco: missing image {path} (annotated in '
                               f'instances_{self.split}.json)')
        return Sequence(name=f'{path.name}#{self._ids[index]}', layout='coco',
                        modality=Modality.RGB, rgb_paths=[path], x_paths=None,
                        gt_xywh=self._boxes[index:index + 1].copy(),
                        attributes={'root': str(self.root)})


#: Training readers by name.
DATASETS: Dict[str, type] = {
    'lasher': LasHeRDataset,
    'rgbt234': RGBT234Dataset,
    'vtuav': VTUAVDataset,
    'depthtrack': DepthTrackDataset,
    'visevent': VisEventDataset,
    'got10k': GOT10kDataset,
    'lasot': LaSOTDataset,
    'coco': COCODataset,
}


def list_datasets() -> List[str]:
    """Names of the registered training readers, sorted."""
    return sorted(DATASETS)


def open_dataset(name: str, root: str | Path, split: Optional[str] = 'default',
                 split_file: str | Path | None = None, **kwargs) -> TrainDataset:
    """Open training dataset ``name`` at ``root``.

    Args:
        name: a key of :data:`DATASETS` (case-insensitive).
        root: the dataset folder (layout in the module docstring).
        split: 'default' = the reader's default ('train' where the benchmark has one); None =
            ``root`` itself is the folder of sequences; otherwise a split of the reader.
        split_file: optional file of sequence names restricting the split.
        **kwargs: reader options (``cache_size``; COCO ``min_box_side``).

    Raises:
        DatasetError: unknown name (the message lists the known ones) or a layout problem.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise DatasetError(f'unknown training dataset {name!r}; known: '
                           f'{", ".join(list_datasets())}')
    return DATASETS[key](root, split=split, split_file=split_file, **kwargs)


# --------------------------------------------------------------------------- pair sources

def _rgb3(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image


class SequencePairSource:
    """Template / search pairs from a :class:`TrainDataset` (OSTrack's sampling).

    Per sample: a sequence uniformly at random (sequences without a visible frame are
    redrawn), a template frame among its visible frames and a search frame among the visible
    frames at most ``max_gap`` frames away (:func:`~.data.pick_frame_pair`); crops and jitter
    per ``geo`` (:func:`~.data.make_pair`, the X frame cropped with the same window),
    photometric jitter on the RGB crops, a joint horizontal flip. One-frame sequences (COCO)
    give static pairs: the same image with independent template and search jitter. X is
    encoded with :func:`~rgbx_tracker_ros.core.modality.encode_x` (thermal replicated to 3
    channels, depth clipped + JET, event frames as stored) and resized to the RGB frame when its
    size differs. X dropout is left to the trainer (:func:`~.data.drop_x`).

    Args:
        dataset: the training reader.
        geo: crop geometry (template / search size and factor, jitter).
        max_gap: largest frame distance between template and search frame (OSTrack: 200).
        modality: modality label of the samples; None = the dataset's
            (:data:`~.data.MODALITY_LABEL`: thermal 1, depth 2, event 3, RGB 0).
        photometric_strength: strength of :func:`~.data.photometric` on the RGB crops (0 = off).
        flip: probability of the joint horizontal flip.
        max_tries: sequences drawn before giving up when none has a visible frame.

    Raises:
        DatasetError: an empty dataset; :meth:`sample` when ``max_tries`` sequences in a row have
            no visible frame, or a sequence's files are broken.
        ValueError: ``max_gap`` < 0.
    """

    def __init__(self, dataset: TrainDataset, geo: Geometry, max_gap: int = 200,
                 modality: Optional[Modality] = None, photometric_strength: float = 0.5,
                 flip: float = 0.5, max_tries: int = 20) -> None:
        if len(dataset) == 0:
            raise DatasetError(f'{dataset.name}: the dataset has no sequence')
        if int(max_gap) < 0:
            raise ValueError(f'max_gap must be >= 0 frames, got {max_gap}')
        self.dataset, self.geo, self.max_gap = dataset, geo, int(max_gap)
        self.modality = dataset.modality if modality is None else Modality(modality)
        self.photometric_strength, self.flip = float(photometric_strength), float(flip)
        self.max_tries = int(max_tries)

    @property
    def name(self) -> str:
        """The dataset's registry name."""
        return self.dataset.name

    def _frames(self, seq: Sequence, index: int) -> List[np.ndarray]:
        rgb = _rgb3(seq.read_rgb(index))
        if not seq.has_x:
            return [rgb]
        x = encode_x(seq.read_x(index), seq.x_encoding, seq.modality)
        if x.shape[:2] != rgb.shape[:2]:
            x = cv2.resize(x, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        return [rgb, x]

    def sample(self, rng: np.random.Generator) -> PairSample:
        """One augmented template / search pair (crops (S, S, 3) uint8, label normalised
        (cx, cy, w, h) in the search crop).

        Raises:
            DatasetError: see the class docstring.
        """
        for _ in range(self.max_tries):
            seq = self.dataset.sequence(int(rng.integers(len(self.dataset))))
            visible = np.flatnonzero(self.dataset.visible(seq))
            if visible.size:
                break
        else:
            raise DatasetError(f'{self.dataset.name}: {self.max_tries} sequences in a row had '
                               f'no visible target (check the ground truth under '
                               f'{self.dataset.root})')
        i, j = pick_frame_pair(visible, self.max_gap, rng)
        try:
            t_imgs = self._frames(seq, i)
            s_imgs = t_imgs if j == i else self._frames(seq, j)
        except SequenceError as err:
            raise DatasetError(f'{self.dataset.name} sequence {seq.name!r}: {err}') from err
        boxes = seq.gt_xywh
        t, s, label = make_pair(t_imgs, boxes[i], s_imgs, boxes[j], self.geo, rng)
        t, s = list(t), list(s)
        if self.photometric_strength > 0:
            t[0] = photometric(t[0], rng, self.photometric_strength)
            s[0] = photometric(s[0], rng, self.photometric_strength)
        t, s, label = hflip_pair(t, s, label, rng, self.flip)
        if len(t) == 1:
            return PairSample(t[0], None, s[0], None, label, MODALITY_LABEL[Modality.RGB])
        return PairSample(t[0], t[1], s[0], s[1], label, MODALITY_LABEL[self.modality])

    def __repr__(self) -> str:
        return f'SequencePairSource({self.dataset!r}, max_gap={self.max_gap})'


class MixedSource:
    """Draws each sample from one of ``sources``, chosen with probability ratio / sum(ratios).

    Args:
        sources: objects with ``sample(rng) -> PairSample``.
        ratios: one positive weight per source (e.g. 1, 1, 1 for XTrack's rgbt mix).
        names: optional labels for logs (default: the sources' ``name``).

    Attributes:
        counts: (len(sources),) samples drawn from each source so far.

    Raises:
        ValueError: empty ``sources``, a length mismatch, or a ratio that is not finite and > 0.
    """

    def __init__(self, sources: Seq, ratios: Seq[float],
                 names: Optional[Seq[str]] = None) -> None:
        sources, ratios = list(sources), [float(r) for r in ratios]
        if not sources:
            raise ValueError('MixedSource needs at least one source')
        if len(ratios) != len(sources):
            raise ValueError(f'MixedSource: {len(ratios)} ratios for {len(sources)} sources')
        bad = [r for r in ratios if not (math.isfinite(r) and r > 0)]
        if bad:
            raise ValueError(f'MixedSource: ratios must be finite and > 0, got {ratios}')
        self.sources = sources
        self.probabilities = np.asarray(ratios) / sum(ratios)
        self.names = list(names) if names is not None else [
            getattr(s, 'name', f'source{k}') for k, s in enumerate(sources)]
        self.counts = [0] * len(sources)

    def sample(self, rng: np.random.Generator) -> PairSample:
        """A sample of a source chosen by ratio."""
        k = int(rng.choice(len(self.sources), p=self.probabilities))
        self.counts[k] += 1
        return self.sources[k].sample(rng)
