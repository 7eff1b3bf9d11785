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

"""RgbxTracker: the two-call tracking protocol over a TrackerModel (OSTrack-style inference).

``initialize(rgb, x, box)`` crops the template (factor 2) once from the first frame;
``track(rgb, x)`` crops the search region (factor 4) around the previous box, runs the network,
takes the peak of the Hanning-windowed score map, reads size and offset there, maps the box back to
image pixels and clips it (trackers.md 1.1, 1.2, 1.6). There is no template update.

``x=None`` in ``track`` is the missing-modality path: the Meta Merger runs on RGB alone.
Images are (H, W, 3) uint8 in RGB channel order; X must already be encoded to 3 channels by
:mod:`rgbx_tracker_ros.core.modality`.
"""

from __future__ import annotations

import logging
import math
import platform
from contextlib import nullcontext
from pathlib import Path
from typing import Optional, Tuple, Union

import cv2
import numpy as np
import torch

from .boxes import validate_box_xywh
from .crop import clip_box, crop_square, crop_window, hann2d, map_box_back
from .model_api import TrackerModel, decode_boxes
from .types import PRECISIONS

_logger = logging.getLogger(__name__)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TEMPLATE_FACTOR = 2.0
SEARCH_FACTOR = 4.0


def resolve_device(device: str = 'auto') -> torch.device:
    """'auto' -> CUDA when available else CPU; 'cpu' / 'cuda' / 'cuda:N' as given.

    Raises:
        ValueError: if CUDA is asked for but not available, or the name is not a device.
    """
    name = (device or 'auto').strip().lower()
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f'unknown device {device!r}; use auto, cpu, cuda or cuda:N') from exc
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {device!r} asked for but CUDA is not available here; '
                         'use device auto or cpu')
    return dev


_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def cpu_has_native_bf16(cpuinfo: Optional[str] = None) -> bool:
    """True if this CPU runs bfloat16 matrix products natively (x86 AVX512-BF16 or AMX-BF16,
    Arm BF16), read from ``/proc/cpuinfo`` (Linux; elsewhere False).

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (for tests); read from the file when None.
    """
    if cpuinfo is None:
        try:
            with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip().lower() in ('flags', 'features'):
            flags.update(value.split())
    arm = platform.machine().lower() in ('aarch64', 'arm64')
    return bool({'avx512_bf16', 'amx_bf16'} & flags) or (arm and 'bf16' in flags)


def resolve_precision(precision: str, device: torch.device,
                      cpuinfo: Optional[str] = None) -> Optional[torch.dtype]:
    """Inference precision -> the autocast dtype, or None for plain float32.

    'auto' picks bfloat16 on CPUs with native bfloat16 (:func:`cpu_has_native_bf16`): there
    autocast runs t224 1.2-1.6x and the wider variants 2-3x faster, score maps within 0.003 of
    float32. Everywhere else, CUDA included, it picks float32: at batch 1 a GPU is bound by kernel
    launches, and on an H100 every variant ran fastest in float32 (the casts of autocast cost
    more than they save; BENCHMARKS.md). 'fp32', 'bf16' and 'fp16' force one (fp16 on CPU is
    slow: CUDA only).

    Raises:
        ValueError: an unknown precision name, or fp16 asked for on a CPU.
    """
    name = (precision or 'auto').strip().lower()
    if name not in PRECISIONS:
        raise ValueError(f'unknown precision {precision!r}; use one of {", ".join(PRECISIONS)}')
    if name == 'fp32':
        return None
    if name == 'auto':
        return torch.bfloat16 if device.type == 'cpu' and cpu_has_native_bf16(cpuinfo) else None
    if name == 'fp16' and device.type != 'cuda':
        raise ValueError('precision fp16 needs a CUDA device; on a CPU use bf16 or fp32')
    return _DTYPES[name]


def precision_name(dtype: Optional[torch.dtype]) -> str:
    """An autocast dtype from :func:`resolve_precision` -> 'fp32' (None), 'bf16' or 'fp16'."""
    return 'fp32' if dtype is None else next(k for k, v in _DTYPES.items() if v == dtype)


#: ``(v / 255 - mean) / std`` as one multiply-add per channel: ``v * _SCALE + _SHIFT``
_SCALE = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
_SHIFT = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)


def normalize_crops(crops, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 RGB crops -> contiguous (B, 3, H, W) float32 tensor, ImageNet mean/std
    (trackers.md 1.2): ``(v / 255 - mean) / std``.

    Each channel plane is split out of the interleaved crop (``cv2.split``) and scaled straight
    into its place in the planar output, one multiply-add per pixel with no float HWC
    intermediate: about a tenth of the time of the array-wide form, and within 1e-6 of it.

    Raises:
        ValueError: a crop that is not (H, W, 3), or crops of different sizes.
    """
    crops = list(crops)
    if not crops:
        raise ValueError('normalize_crops needs at least one crop')
    shape = crops[0].shape
    if len(shape) != 3 or shape[2] != 3 or any(c.shape != shape for c in crops):
        raise ValueError('normalize_crops takes (H, W, 3) crops of one size, got '
                         + ', '.join(str(c.shape) for c in crops))
    out = np.empty((len(crops), 3, shape[0], shape[1]), dtype=np.float32)
    for b, crop in enumerate(crops):
        for k, plane in enumerate(cv2.split(np.ascontiguousarray(crop))):
            np.multiply(plane, _SCALE[k], out=out[b, k])
            out[b, k] += _SHIFT[k]
    return torch.from_numpy(out).to(device)


class RgbxTracker:
    """Single-object RGB-X tracker.

    Args:
        model: a :class:`~rgbx_tracker_ros.core.model_api.TrackerModel` (any family; built by
            ``rgbx_tracker_ros.models.factory.load_tracker`` from a checkpoint).
        variant: the variant name, for reporting.
        device: torch device to run on (see :func:`resolve_device`).
        use_window: multiply the score map by a Hanning window before taking the peak.
        precision: 'auto', 'fp32', 'bf16' or 'fp16': the autocast dtype of the network (see
            :func:`resolve_precision`); crops, windows and boxes stay float32/float64.
        redetect_threshold: re-detection (global search) when the local score-map peak falls
            below this value (0 = off, the plain OSTrack tracker): the whole frame is covered by
            search regions of the usual size (the last box's scale), run as one batch, and the
            region with the highest raw peak wins if that peak is itself a confident detection
            (at least ``redetect_threshold``) and beats the local one; otherwise the local result
            stands. This is how a
            local tracker survives a target that jumps out of its search region (a cut, a
            dropped stretch of frames, a fast motion), the long-term trackers' global search.
        redetect_max_tiles: most search regions one global search may use; on a large frame
            the regions then overlap less (stride up to their side) or, past that, grow.
        redetect_tiles_per_frame: bound on the cost of re-detection per frame (real time): a
            low-score frame searches only the next this-many regions of the tiling, round
            robin, so the whole frame is covered over ``ceil(regions / n)`` consecutive
            low-score frames and a frame costs at most ``1 + n`` search regions instead of
            ``1 + regions``. 0 (default) = every region on every low-score frame, as offline
            evaluation runs it.
        size_lr: size update rate: the box takes the predicted centre, but its width and height
            move only this fraction of the way from the last box to the predicted ones (the
            smoothed size update of the SiamRPN / NanoTrack trackers; 1 = OSTrack, the size is
            taken as predicted). A box found by a global search takes its predicted size.

    Raises:
        ValueError: an unknown device or precision, or re-detection settings out of range.
    """

    def __init__(self, model: TrackerModel, variant: str = '',
                 device: Union[str, torch.device] = 'auto', use_window: bool = True,
                 precision: str = 'fp32', redetect_threshold: float = 0.0,
                 redetect_max_tiles: int = 24, size_lr: float = 1.0,
                 redetect_tiles_per_frame: int = 0) -> None:
        if not 0.0 < size_lr <= 1.0:
            raise ValueError(f'size_lr must be in (0, 1], got {size_lr}')
        self.size_lr = float(size_lr)
        if not 0.0 <= redetect_threshold < 1.0:
            raise ValueError(f'redetect_threshold must be in [0, 1), got {redetect_threshold}')
        if redetect_max_tiles < 1:
            raise ValueError(f'redetect_max_tiles must be >= 1, got {redetect_max_tiles}')
        if redetect_tiles_per_frame < 0:
            raise ValueError(f'redetect_tiles_per_frame must be >= 0 (0 = all regions), got '
                             f'{redetect_tiles_per_frame}')
        self.redetect_threshold = float(redetect_threshold)
        self.redetect_max_tiles = int(redetect_max_tiles)
        self.redetect_tiles_per_frame = int(redetect_tiles_per_frame)
        # a bounded global search in progress: its regions (fixed at its first frame) and the
        # next one to search
        self._scan: Optional[tuple] = None
        self._scan_cursor = 0
        #: frames on which a global search ran, and on which it moved the box
        self.redetections = 0
        self.redetections_moved = 0
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.autocast_dtype = resolve_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        self.variant = variant
        self.template_size = int(model.template_size)
        self.search_size = int(model.search_size)
        side = int(model.feat_size)
        self._window = torch.from_numpy(hann2d(side).astype(np.float32)).to(self.device) \
            if use_window else None
        self._template_tokens: Optional[torch.Tensor] = None
        self._box: Optional[np.ndarray] = None
        self.last_score = 0.0
        #: the checkpoint file the weights came from (set by models.factory.load_tracker;
        #: None = random weights or a model passed in directly).
        self.checkpoint: Optional[Path] = None
        #: where the network runs: 'torch', or an exported engine's 'backend (provider)'
        #: (set by models.factory.load_tracker).
        self.backend = 'torch'

    @property
    def initialized(self) -> bool:
        """True once :meth:`initialize` has set a target."""
        return self._box is not None

    @property
    def box_xywh(self) -> Optional[np.ndarray]:
        """The current target box (x, y, w, h) in pixels, or None."""
        return None if self._box is None else self._box.copy()

    def reset(self) -> None:
        """Drop the target; :meth:`track` raises until :meth:`initialize` is called again."""
        self._box = self._template_tokens = None

    @property
    def precision(self) -> str:
        """The network's precision in use: 'fp32', 'bf16' or 'fp16'."""
        return precision_name(self.autocast_dtype)

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def initialize(self, rgb: np.ndarray, x: Optional[np.ndarray], box_xywh) -> None:
        """Set the target from its box in the first frame.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
            x: (H, W, 3) uint8 encoded X frame of the same size, or None (X missing).
            box_xywh: target box (x, y, w, h), pixels, top-left origin.

        Raises:
            ValueError: bad image shapes or a box that is degenerate or outside the frame.
        """
        _check_images(rgb, x)
        box = validate_box_xywh(box_xywh, rgb.shape)
        images = [rgb] if x is None else [rgb, x]
        crops, _ = crop_square(images, box, TEMPLATE_FACTOR, self.template_size)
        template_rgb = normalize_crops(crops[:1], self.device)
        template_x = None if x is None else normalize_crops(crops[1:], self.device)
        # The template's embedding, merger and positions are fixed per target: computed once.
        with torch.inference_mode(), self._autocast():
            self._template_tokens = self.model.encode_template(template_rgb, template_x)
        self._box = box
        self._scan_cursor = 0

    @torch.inference_mode()
    def track(self, rgb: np.ndarray, x: Optional[np.ndarray] = None) -> Tuple[np.ndarray, float]:
        """Locate the target in a new frame.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
            x: (H, W, 3) uint8 encoded X frame, or None to track on RGB alone.

        Returns:
            (box_xywh, score): (4,) float64 box in pixels (x, y, w, h, top-left) and the score-map
            peak in [0, 1].

        Raises:
            RuntimeError: if no target was initialised.
            ValueError: bad image shapes.
        """
        if self._box is None:
            raise RuntimeError('track() called before initialize(); set a target box first')
        _check_images(rgb, x)
        images = [rgb] if x is None else [rgb, x]
        crops, resize_factor = crop_square(images, self._box, SEARCH_FACTOR, self.search_size)
        search_rgb = normalize_crops(crops[:1], self.device)
        search_x = None if x is None else normalize_crops(crops[1:], self.device)
        # Template and search region each merge whatever X they had: either may be RGB-only.
        with self._autocast():
            out = self.model(None, search_rgb, None, search_x,
                             template_tokens=self._template_tokens)
        boxes, scores = decode_boxes(out.score_map.float(), out.size_map.float(),
                                     out.offset_map.float(), self._window)
        box = map_box_back(boxes[0].float().cpu().numpy(), self._box, self.search_size,
                           resize_factor)
        score = float(scores[0])
        if self.size_lr < 1.0:
            center = box[:2] + box[2:] / 2
            size = self._box[2:] + self.size_lr * (box[2:] - self._box[2:])
            box = np.concatenate([center - size / 2, size])
        if score < self.redetect_threshold:
            found = self._global_search(images, score)
            if found is not None:
                box, score = found
        else:
            self._scan_cursor = 0
        self._box = clip_box(box, rgb.shape[0], rgb.shape[1])
        self.last_score = score
        return self._box.copy(), self.last_score

    def tile_centers(self, height: int, width: int) -> Tuple[np.ndarray, float]:
        """Centres (K, 2) (x, y) pixels of the search regions covering a frame, and their side.

        Regions have the side of the current search region (``crop_window`` of the last box
        with the search factor) and overlap by a quarter; when that needs more than
        ``redetect_max_tiles`` regions, the stride grows to the side and then the side grows.
        """
        def grid(side: float, stride: float) -> list:
            return [max(1, math.ceil(max(d - side, 0) / stride) + 1) for d in (width, height)]

        side = float(crop_window(self._box, SEARCH_FACTOR)[2])
        n = grid(side, 0.75 * side)
        if n[0] * n[1] > self.redetect_max_tiles:
            n = grid(side, side)
        while n[0] * n[1] > self.redetect_max_tiles:    # grow the regions until the cap is met
            side *= 1.25
            n = grid(side, side)
        xs = np.linspace(side / 2, max(width - side / 2, side / 2), n[0])
        ys = np.linspace(side / 2, max(height - side / 2, side / 2), n[1])
        return np.array([(x, y) for y in ys for x in xs]), side

    def _global_search(self, images: list, local_score: float):
        """Search the whole frame; (box, score) of the best region if it beats the local peak."""
        h, w = images[0].shape[:2]
        per_frame = self.redetect_tiles_per_frame
        if per_frame and self._scan is not None and self._scan_cursor > 0:
            centers, side, (bw, bh), scale = self._scan     # a scan in progress keeps its grid
        else:
            centers, side = self.tile_centers(h, w)
            bw, bh = self._box[2:]
            scale = side / crop_window(self._box, SEARCH_FACTOR)[2]
            self._scan, self._scan_cursor = (centers, side, (bw, bh), scale), 0
        if 0 < per_frame < len(centers):
            start = self._scan_cursor % len(centers)
            centers = centers[(start + np.arange(per_frame)) % len(centers)]
            self._scan_cursor = start + per_frame
        boxes_in, crops_rgb, crops_x, factors = [], [], [], []
        for cx, cy in centers:
            pseudo = np.array([cx - bw * scale / 2, cy - bh * scale / 2, bw * scale, bh * scale])
            crops, factor = crop_square(images, pseudo, SEARCH_FACTOR, self.search_size)
            boxes_in.append(pseudo)
            crops_rgb.append(crops[0])
            factors.append(factor)
            if len(crops) > 1:
                crops_x.append(crops[1])
        search_rgb = normalize_crops(crops_rgb, self.device)
        search_x = normalize_crops(crops_x, self.device) if crops_x else None
        tokens = self._template_tokens.expand(len(centers), -1, -1)
        with self._autocast():
            out = self.model(None, search_rgb, None, search_x, template_tokens=tokens)
        boxes, scores = decode_boxes(out.score_map.float(), out.size_map.float(),
                                     out.offset_map.float())
        self.redetections += 1
        best = int(scores.argmax())
        if float(scores[best]) <= max(local_score, self.redetect_threshold):
            return None
        self.redetections_moved += 1
        box = map_box_back(boxes[best].float().cpu().numpy(), boxes_in[best], self.search_size,
                           factors[best])
        return box, float(scores[best])


def _check_images(rgb: np.ndarray, x: Optional[np.ndarray]) -> None:
    for name, im in (('rgb', rgb), ('x', x)):
        if im is None:
            continue
        if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 \
                or im.shape[2] != 3:
            got = (f'{type(im).__name__} {getattr(im, "dtype", "")} '
                   f'{getattr(im, "shape", "")}')
            raise ValueError(f'{name} must be an (H, W, 3) uint8 image, got {got}; encode it '
                             'with rgbx_tracker_ros.core.modality first')
    if x is not None and x.shape[:2] != rgb.shape[:2]:
        raise ValueError(f'x frame {x.shape[:2]} and rgb frame {rgb.shape[:2]} differ in size; '
                         'X must be registered (aligned and resized) to the RGB image')
