"""Peer trackers for comparisons, behind the same two-call protocol as ``RgbxTracker``.

Every tracker here offers ``initialize(rgb, x, box_xywh)`` and ``track(rgb, x) -> (box, score)``
with (H, W, 3) uint8 RGB-order frames, X already encoded to 3 channels by
:mod:`rgbx_tracker_ros.core.modality` (or None), and boxes (x, y, w, h) in float pixels with a
top-left origin, so :func:`rgbx_tracker_ros.eval.runner.run_sequence` runs any of them.

Peers (OpenCV, the one ``opencv-contrib-python-headless`` build of the project):

=======  ==========================================================================  ========
name     tracker                                                                     score
=======  ==========================================================================  ========
csrt     ``cv2.TrackerCSRT`` (discriminative correlation filter, channel/spatial     1 / 0
         reliability; Lukezic et al., CVPR 2017)
kcf      ``cv2.TrackerKCF`` (kernelized correlation filter; Henriques et al. 2015)   1 / 0
mil      ``cv2.TrackerMIL`` (multiple-instance learning; Babenko et al. 2009)        1 / 0
nano     ``cv2.TrackerNano`` with the NanoTrack v2 ONNX backbone + head              learned
=======  ==========================================================================  ========

Each peer runs on one stream, chosen by ``source``: 'rgb' (the RGB frame) or 'x' (the encoded X
frame: thermal, depth colormap or event frame); OpenCV gets it converted to BGR. CSRT, KCF and
MIL have no confidence output (``getTrackingScore`` returns -1), so their score is 1.0 when
``update`` succeeds. A failed update (``ok == False``, an OpenCV exception, or an empty box) keeps
the last box and gives score 0.0 and is counted in ``failures``. Boxes are clipped to the image,
as ``RgbxTracker`` does.

Our own trackers are specified the same way (:func:`parse_tracker_spec`): ``t224:CKPT`` is the
RGB-X tracker from a checkpoint, ``t224-rgb:CKPT`` the same weights on RGB alone (the
missing-modality path), so one list of specs drives the evaluation CLI and the benchmarks.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

import cv2
import numpy as np

from rgbx_tracker_ros.core.boxes import validate_box_xywh

_logger = logging.getLogger(__name__)

#: OpenCV peers and the factory functions that create them.
OPENCV_FACTORIES: dict[str, str] = {
    'csrt': 'TrackerCSRT_create',
    'kcf': 'TrackerKCF_create',
    'mil': 'TrackerMIL_create',
}
PEER_NAMES = ('csrt', 'kcf', 'mil', 'nano')
PEER_SOURCES = ('rgb', 'x')
OURS_SOURCES = ('rgbx', 'rgb')
NANO_FILES = ('nanotrack_backbone_sim.onnx', 'nanotrack_head_sim.onnx')
#: Environment variable overriding the folder of the NanoTrack v2 ONNX files.
NANO_DIR_ENV = 'RGBX_NANOTRACK_DIR'


class PeerError(ValueError):
    """A peer cannot be built or used (unknown name, missing model files, missing X frame)."""


def default_nano_dir() -> Path:
    """Folder of the NanoTrack v2 files: ``$RGBX_NANOTRACK_DIR`` or ``<repo>/../shared/peers/
    nanotrack_v2`` (the project's shared data folder next to the repository)."""
    env = os.environ.get(NANO_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / 'shared' / 'peers' / 'nanotrack_v2'


def nano_files(nano_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(backbone, head) ONNX paths of NanoTrack v2.

    Raises:
        PeerError: a file is missing; the message names it and how to point at another folder.
    """
    folder = Path(nano_dir) if nano_dir is not None else default_nano_dir()
    paths = tuple(folder / name for name in NANO_FILES)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise PeerError(f'TrackerNano needs the NanoTrack v2 ONNX files {", ".join(NANO_FILES)}; '
                        f'missing: {", ".join(missing)}. Put them there, pass nano_dir=... '
                        f'(rgbx-eval --nano-dir DIR) or set ${NANO_DIR_ENV}')
    return paths[0], paths[1]


def _as_bgr(image: Any, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) \
            or (image.ndim == 3 and image.shape[2] != 3):
        got = f'{type(image).__name__} {getattr(image, "dtype", "")} {getattr(image, "shape", "")}'
        raise PeerError(f'{what} must be an (H, W, 3) uint8 RGB-order image (or (H, W) mono8), '
                        f'got {got}; encode it with rgbx_tracker_ros.core.modality first')
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _clip(box: np.ndarray, height: int, width: int) -> np.ndarray:
    x1 = float(np.clip(box[0], 0.0, width - 1.0))
    y1 = float(np.clip(box[1], 0.0, height - 1.0))
    x2 = float(np.clip(box[0] + box[2], x1 + 1.0, float(width)))
    y2 = float(np.clip(box[1] + box[3], y1 + 1.0, float(height)))
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64)


class OpenCVPeer:
    """An OpenCV tracker (CSRT, KCF, MIL or NanoTrack) on the RGB or the X stream.

    Args:
        name: 'csrt', 'kcf', 'mil' or 'nano'.
        source: 'rgb' (track on the RGB frame) or 'x' (track on the encoded X frame).
        nano_dir: folder with the NanoTrack v2 ONNX files (``name='nano'`` only; default
            :func:`default_nano_dir`).

    Attributes:
        name, source: as given; ``label`` is ``'<name>-<source>'``.
        failures: number of failed updates since the last :meth:`initialize`.
        initialized: True once a target is set.

    Raises:
        PeerError: unknown name or source, or missing NanoTrack files.
    """

    def __init__(self, name: str, source: str = 'rgb',
                 nano_dir: str | Path | None = None) -> None:
        name = str(name).strip().lower()
        if name not in PEER_NAMES:
            raise PeerError(f'unknown OpenCV peer {name!r}; known: {", ".join(PEER_NAMES)}')
        if source not in PEER_SOURCES:
            raise PeerError(f'peer source must be one of {PEER_SOURCES}, got {source!r}')
        self.name = name
        self.source = source
        self.label = f'{name}-{source}'
        self._nano_paths = nano_files(nano_dir) if name == 'nano' else None
        self._tracker = None
        self._box: Optional[np.ndarray] = None
        self.failures = 0
        self.variant = self.label
        self.device = 'cpu'
        # Build one now so a broken ONNX file or OpenCV build fails at construction.
        self._tracker = self._create()

    def _create(self):
        if self.name == 'nano':
            params = cv2.TrackerNano_Params()
            params.backbone = str(self._nano_paths[0])
            params.neckhead = str(self._nano_paths[1])
            # OpenCV's DNN warns on every creation that the new graph engine ignores the
            # preferred target (it runs on the CPU either way); keep the console readable.
            cv_log = getattr(getattr(cv2, 'utils', None), 'logging', None)
            level = cv_log.getLogLevel() if cv_log else None
            if cv_log:
                cv_log.setLogLevel(cv_log.LOG_LEVEL_ERROR)
            try:
                return cv2.TrackerNano_create(params)
            except cv2.error as err:
                raise PeerError(f'cv2.TrackerNano cannot load {self._nano_paths[0]} / '
                                f'{self._nano_paths[1]}: {err}') from err
            finally:
                if cv_log:
                    cv_log.setLogLevel(level)
        return getattr(cv2, OPENCV_FACTORIES[self.name])()

    @property
    def initialized(self) -> bool:
        """True once :meth:`initialize` has set a target."""
        return self._box is not None

    def _frame(self, rgb: np.ndarray, x: Optional[np.ndarray]) -> np.ndarray:
        if self.source == 'x':
            if x is None:
                raise PeerError(f'peer {self.label} tracks on the X frame but got x=None; run it '
                                'on sequences with an X stream (or use the -rgb peer)')
            return _as_bgr(x, 'x')
        return _as_bgr(rgb, 'rgb')

    def initialize(self, rgb: np.ndarray, x: Optional[np.ndarray], box_xywh) -> None:
        """Set the target.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
            x: (H, W, 3) uint8 encoded X frame or None (needed when ``source == 'x'``).
            box_xywh: target box (x, y, w, h), pixels, top-left origin; rounded to whole pixels
                (OpenCV takes an integer rectangle) and clipped to the image.

        Raises:
            PeerError: bad image, or no X frame for an X peer.
            ValueError: degenerate box or a box outside the image.
        """
        frame = self._frame(rgb, x)
        h, w = frame.shape[:2]
        box = _clip(validate_box_xywh(box_xywh, frame.shape), h, w)
        rect = tuple(int(v) for v in np.round(box))
        rect = (rect[0], rect[1], max(1, min(rect[2], w - rect[0])),
                max(1, min(rect[3], h - rect[1])))
        self._tracker = self._create()
        self._tracker.init(frame, rect)
        self._box = box
        self.failures = 0

    def track(self, rgb: np.ndarray, x: Optional[np.ndarray] = None) -> Tuple[np.ndarray, float]:
        """Update on a new frame.

        Returns:
            (box_xywh (4,) float64 pixels, score in [0, 1]); on a failed update the previous box
            and score 0.0.

        Raises:
            RuntimeError: called before :meth:`initialize`.
            PeerError: bad image, or no X frame for an X peer.
        """
        if self._box is None:
            raise RuntimeError('track() called before initialize(); set a target box first')
        frame = self._frame(rgb, x)
        try:
            ok, rect = self._tracker.update(frame)
        except cv2.error as err:
            _logger.debug('%s update raised %s', self.label, err)
            ok, rect = False, None
        box = None
        if ok:
            box = np.asarray(rect, dtype=np.float64).reshape(-1)
            if box.size != 4 or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
                box = None
        if box is None:
            self.failures += 1
            return self._box.copy(), 0.0
        self._box = _clip(box, frame.shape[0], frame.shape[1])
        score = 1.0
        if self.name == 'nano':
            score = float(np.clip(self._tracker.getTrackingScore(), 0.0, 1.0))
        return self._box.copy(), score


# --------------------------------------------------------------------------- specs / registry

@dataclass(frozen=True)
class TrackerSpec:
    """A tracker named on a command line: ``[LABEL=]NAME[-SOURCE][:CHECKPOINT]``.

    Attributes:
        label: display / cache name (e.g. 'csrt-x', 't224-rgb').
        name: registry name ('csrt', 'kcf', 'mil', 'nano' or a model variant such as 't224').
        source: 'rgb' or 'x' for peers; 'rgbx' (RGB + X) or 'rgb' (RGB only) for ours.
        checkpoint: checkpoint path for ours (None = random weights, only via ':random').
        family: 'opencv' or 'ours'.
    """

    label: str
    name: str
    source: str
    checkpoint: Optional[Path]
    family: str

    @property
    def use_x(self) -> bool:
        """Whether the runner must decode and pass X frames."""
        return self.source in ('x', 'rgbx')

    @property
    def needs_x(self) -> bool:
        """Whether the tracker cannot run at all without an X stream (X-only peers)."""
        return self.family == 'opencv' and self.source == 'x'

    def fingerprint(self, nano_dir: str | Path | None = None) -> dict:
        """What identifies this tracker's results (for the result cache): name, source, the
        checkpoint's absolute path, size and mtime, and the OpenCV / NanoTrack file versions."""
        info: dict[str, Any] = {'name': self.name, 'source': self.source,
                                'family': self.family}
        if self.family == 'opencv':
            info['opencv'] = cv2.__version__
            if self.name == 'nano':
                info['nano'] = [_file_stamp(p) for p in nano_files(nano_dir)]
        else:
            info['checkpoint'] = None if self.checkpoint is None else _file_stamp(self.checkpoint)
        return info


def _file_stamp(path: Path) -> dict:
    st = Path(path).stat()
    return {'path': str(Path(path).resolve()), 'size': st.st_size, 'mtime_ns': st.st_mtime_ns}


def _variants() -> list[str]:
    from rgbx_tracker_ros.models import list_variants
    return list_variants()


def _build_ours(spec: TrackerSpec, device: str = 'auto', precision: str = 'fp32', **_: Any):
    from rgbx_tracker_ros.core.tracker import RgbxTracker
    return RgbxTracker.from_checkpoint(spec.checkpoint, variant=spec.name, device=device,
                                       precision=precision)


def _build_peer(spec: TrackerSpec, nano_dir: str | Path | None = None, **_: Any):
    return OpenCVPeer(spec.name, spec.source, nano_dir=nano_dir)


def tracker_registry() -> dict[str, Callable[..., Any]]:
    """Registry name -> factory ``f(spec, device=..., nano_dir=...) -> tracker``.

    'csrt', 'kcf', 'mil', 'nano' (OpenCV peers) and every registered model variant of
    :func:`rgbx_tracker_ros.models.list_variants` ('t224', 's224', 'b224', ...).
    """
    registry: dict[str, Callable[..., Any]] = {name: _build_peer for name in PEER_NAMES}
    registry.update({name: _build_ours for name in _variants()})
    return registry


def valid_tracker_names() -> str:
    """Human-readable list of accepted tracker specs (for error messages and --help)."""
    ours = ', '.join(v for v in _variants())
    return (f'OpenCV peers {", ".join(PEER_NAMES)} with -rgb or -x (e.g. csrt-rgb, nano-x; '
            f'default -rgb); our variants {ours} as NAME:CHECKPOINT (RGB + X) or '
            f'NAME-rgb:CHECKPOINT (RGB only), CHECKPOINT = a file or "random"; optional '
            f'LABEL=SPEC to rename')


_LABEL_OK = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]*$')


def parse_tracker_spec(text: str) -> TrackerSpec:
    """Parse ``[LABEL=]NAME[-SOURCE][:CHECKPOINT]``.

    Examples: ``csrt-rgb``, ``nano-x``, ``kcf`` (= kcf-rgb), ``t224:checkpoints/t224_demo.pt``
    (RGB + X), ``t224-rgb:checkpoints/t224_demo.pt`` (RGB only), ``t224:random`` (untrained),
    ``demo=t224:ckpt.pt`` (label 'demo').

    Raises:
        PeerError: unknown name or source, missing checkpoint, checkpoint given for a peer, or a
            label with characters other than letters, digits and ``._+-``; the message lists
            the valid names.
    """
    raw = str(text).strip()
    label = None
    if '=' in raw.split(':', 1)[0]:
        label, raw = raw.split('=', 1)
        label = label.strip()
    head, _, ckpt = raw.partition(':')
    head = head.strip().lower()
    registry = tracker_registry()
    name, source = head, None
    if head not in registry and '-' in head:
        name, source = head.rsplit('-', 1)
    if name not in registry:
        raise PeerError(f'unknown tracker {text!r}; valid: {valid_tracker_names()}')
    family = 'opencv' if name in PEER_NAMES else 'ours'
    if family == 'opencv':
        source = source or 'rgb'
        if source not in PEER_SOURCES:
            raise PeerError(f'tracker {text!r}: OpenCV peers run on -rgb or -x, not -{source}')
        if ckpt:
            raise PeerError(f'tracker {text!r}: OpenCV peers take no checkpoint')
        checkpoint = None
    else:
        source = source or 'rgbx'
        if source not in OURS_SOURCES:
            raise PeerError(f'tracker {text!r}: our trackers run as NAME (RGB + X) or NAME-rgb '
                            f'(RGB only), not -{source}')
        if not ckpt:
            raise PeerError(f'tracker {text!r} needs a checkpoint: {name}:PATH (or '
                            f'{name}:random for untrained weights)')
        if ckpt.strip().lower() == 'random':
            checkpoint = None
        else:
            checkpoint = Path(ckpt).expanduser()
            if not checkpoint.is_file():
                raise PeerError(f'tracker {text!r}: checkpoint {checkpoint} does not exist')
    if label is None:
        if family == 'opencv':
            label = f'{name}-{source}'
        else:
            label = name if source == 'rgbx' else f'{name}-rgb'
            if checkpoint is None:
                label += '-random'
    if not _LABEL_OK.match(label):
        raise PeerError(f'tracker label {label!r} may only use letters, digits and ._+-')
    return TrackerSpec(label=label, name=name, source=source, checkpoint=checkpoint,
                       family=family)


def build_tracker(spec: TrackerSpec | str, device: str = 'auto',
                  nano_dir: str | Path | None = None, precision: str = 'fp32'):
    """Create the tracker of ``spec`` (a :class:`TrackerSpec` or its text form).

    Args:
        spec: the tracker.
        device: torch device for our trackers ('auto', 'cpu', 'cuda').
        nano_dir: folder of the NanoTrack v2 files.
        precision: network precision of our trackers ('auto', 'fp32', 'bf16', 'fp16'; see
            ``core.tracker.resolve_precision``); peers ignore it.

    Raises:
        PeerError: see :func:`parse_tracker_spec` and :class:`OpenCVPeer`.
        rgbx_tracker_ros.models.checkpoint.CheckpointError: unusable checkpoint.
    """
    if isinstance(spec, str):
        spec = parse_tracker_spec(spec)
    return tracker_registry()[spec.name](spec, device=device, nano_dir=nano_dir,
                                         precision=precision)

