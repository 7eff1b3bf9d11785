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

``rig:NAME`` is the tracker the node runs on rig NAME (``config/rigs/NAME.yaml``, found as
:func:`rgbx_tracker_ros.core.rig.resolve_rig` finds it: the installed share folder, then the
source tree; or a path to a rig .yaml file) with its default compute profile;
``rig:NAME@cpu`` / ``rig:NAME@gpu`` pick the profile. The model comes from
:func:`rgbx_tracker_ros.bringup.node_configuration` through
:func:`rgbx_tracker_ros.core.node_model.node_model` and
:func:`~rgbx_tracker_ros.models.factory.build_node_tracker`, the functions the node itself uses:
the same variant, checkpoint file ('' = the packaged checkpoints/s14_224_d8_rgbx.pt, a bare file
name = the package's checkpoints/<name>), device and precision (the rig's, not ``--device`` /
``--precision``). It tracks on RGB + X when the rig has an X modality (and then only on
sequences of that modality) and on RGB alone for an RGB-only rig such as ``rig:rgb_only``;
``rig-rgb:NAME[@PROFILE]`` is the same model on RGB alone (like ``t224-rgb:CKPT``). Labels are
``NAME.PROFILE`` and ``NAME.PROFILE-rgb`` (e.g. ``rgbt_flir_boson.cpu``). A profile whose
checkpoint file is missing (``b224_rgbt.pt`` is not shipped: train it with ``rgbx-train``) is a
:class:`PeerError` that says so.
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
from rgbx_tracker_ros.core.node_model import NodeModel

_logger = logging.getLogger(__name__)

#: OpenCV peers and the factory functions that create them.
OPENCV_FACTORIES: dict[str, str] = {
    'csrt': 'TrackerCSRT_create',
    'kcf': 'TrackerKCF_create',
    'mil': 'TrackerMIL_create',
}
PEER_NAMES = ('csrt', 'kcf', 'mil', 'nano')
PEER_SOURCES = ('rgb', 'x')
#: ours: RGB + X, RGB alone (the model's RGB-only path), RGB alone with the RGB crop fed as X
#: (OneTrackerV2's way of running RGB-only input, the model option ``missing_x='rgb'``)
OURS_SOURCES = ('rgbx', 'rgb', 'rgbasx')
#: Spec prefix of the tracker a rig's compute profile runs in the node (``rig:NAME[@PROFILE]``).
RIG_PREFIX = 'rig'
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
    """A tracker named on a command line: ``[LABEL=]NAME[-SOURCE][:CHECKPOINT]`` or
    ``[LABEL=]rig[-rgb]:RIG[@PROFILE]``.

    Attributes:
        label: display / cache name (e.g. 'csrt-x', 't224-rgb', 'rgbt_flir_boson.cpu').
        name: registry name ('csrt', 'kcf', 'mil', 'nano', a model variant such as 't224', or
            'rig' for a rig's node model).
        source: 'rgb' or 'x' for peers; 'rgbx' (RGB + X) or 'rgb' (RGB only) for ours.
        checkpoint: checkpoint path for ours (None = random weights, only via ':random' or a
            rig profile with checkpoint 'none').
        family: 'opencv' or 'ours'.
        rig: rig name (file stem) of a ``rig:`` spec, else None.
        profile: its compute profile ('cpu' / 'gpu'), else None.
        rig_path: the rig file, else None.
        modality: the rig's X modality value ('thermal', 'depth', 'event' or 'rgb'), else None.
        model: the node's model for that rig and profile
            (:class:`rgbx_tracker_ros.core.node_model.NodeModel`: variant, checkpoint, device,
            precision), else None.
        x_homography: the node's ``x_homography`` on that rig (9 numbers, X -> RGB pixels, from
            the rig's ``registration:``), or None without one.
    """

    label: str
    name: str
    source: str
    checkpoint: Optional[Path]
    family: str
    rig: Optional[str] = None
    profile: Optional[str] = None
    rig_path: Optional[Path] = None
    modality: Optional[str] = None
    model: Optional[NodeModel] = None
    x_homography: Optional[tuple] = None

    @property
    def variant(self) -> Optional[str]:
        """Model variant of our trackers ('t224', ...), None for peers."""
        if self.family != 'ours':
            return None
        return self.model.variant if self.model is not None else self.name

    @property
    def device(self) -> Optional[str]:
        """The device a rig spec runs on (the rig profile's); None = the caller's choice."""
        return None if self.model is None else self.model.device

    @property
    def precision(self) -> Optional[str]:
        """The precision a rig spec runs at (the node's); None = the caller's choice."""
        return None if self.model is None else self.model.precision

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
        if self.model is not None:
            info.update(rig=self.rig, profile=self.profile, variant=self.model.variant,
                        device=self.model.device, precision=self.model.precision)
            if self.model.backend != 'torch':
                info['backend'] = self.model.backend
        return info


def _file_stamp(path: Path) -> dict:
    st = Path(path).stat()
    return {'path': str(Path(path).resolve()), 'size': st.st_size, 'mtime_ns': st.st_mtime_ns}


def _variants() -> list[str]:
    from rgbx_tracker_ros.models import list_variants
    return list_variants()


def _build_ours(spec: TrackerSpec, device: str = 'auto', precision: str = 'fp32',
                backend: str = 'torch', model_options: Optional[dict] = None, **_: Any):
    from rgbx_tracker_ros.models.factory import load_tracker
    overrides = dict(model_options or {})
    if spec.source == 'rgbasx':
        overrides['missing_x'] = 'rgb'
    return load_tracker(spec.checkpoint, variant=spec.name, device=device,
                        precision=precision, model_overrides=overrides, backend=backend)


def _build_rig(spec: TrackerSpec, **_: Any):
    """The node's tracker of the rig spec: its own device and precision, not the caller's."""
    from rgbx_tracker_ros.models.factory import build_node_tracker
    if spec.model is None:
        raise PeerError(f'tracker {spec.label!r}: a rig spec without its node model; create it '
                        f'with parse_tracker_spec("rig:NAME")')
    return build_node_tracker(spec.model)


def _build_peer(spec: TrackerSpec, nano_dir: str | Path | None = None, **_: Any):
    return OpenCVPeer(spec.name, spec.source, nano_dir=nano_dir)


def tracker_registry() -> dict[str, Callable[..., Any]]:
    """Registry name -> factory ``f(spec, device=..., nano_dir=...) -> tracker``.

    'csrt', 'kcf', 'mil', 'nano' (OpenCV peers), every registered model variant of
    :func:`rgbx_tracker_ros.models.list_variants` ('t224', 's224', 'b224', ...) and 'rig' (the
    node's model of a rig, ``rig:NAME``; it ignores ``device`` / ``precision``).
    """
    registry: dict[str, Callable[..., Any]] = {name: _build_peer for name in PEER_NAMES}
    registry.update({name: _build_ours for name in _variants()})
    registry[RIG_PREFIX] = _build_rig
    return registry


def valid_tracker_names() -> str:
    """Human-readable list of accepted tracker specs (for error messages and --help)."""
    ours = ', '.join(v for v in _variants())
    return (f'OpenCV peers {", ".join(PEER_NAMES)} with -rgb or -x (e.g. csrt-rgb, nano-x; '
            f'default -rgb); our variants {ours} as NAME:CHECKPOINT (RGB + X) or '
            f'NAME-rgb:CHECKPOINT (RGB only), NAME-rgbasx:CHECKPOINT (RGB only, fed as X; '
            f'onetracker variants), CHECKPOINT = a file or "random"; the model the '
            f'tracker node runs on a rig as rig:RIG (its default compute profile), '
            f'rig:RIG@cpu or rig:RIG@gpu (RGB + X as the rig has, on the rig\'s device and '
            f'precision), rig-rgb:RIG[@PROFILE] (RGB only), RIG = a config/rigs name '
            f'({", ".join(_rig_names())}) or a rig .yaml file; optional LABEL=SPEC to rename')


def _rig_names() -> list[str]:
    from rgbx_tracker_ros.core.rig import list_rigs
    return list_rigs()


_LABEL_OK = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]*$')


def parse_tracker_spec(text: str) -> TrackerSpec:
    """Parse ``[LABEL=]NAME[-SOURCE][:CHECKPOINT]`` or ``[LABEL=]rig[-rgb]:RIG[@PROFILE]``.

    Examples: ``csrt-rgb``, ``nano-x``, ``kcf`` (= kcf-rgb), ``t224:checkpoints/t224_demo.pt``
    (RGB + X), ``t224-rgb:checkpoints/t224_demo.pt`` (RGB only), ``t224:random`` (untrained),
    ``demo=t224:ckpt.pt`` (label 'demo'); ``rig:rgbt_flir_boson`` (the model the node runs on
    that rig with its default compute profile, RGB + thermal; label 'rgbt_flir_boson.cpu'),
    ``rig:rgbt_flir_boson@gpu`` (its gpu profile), ``rig-rgb:rgbt_flir_boson`` (the same model
    on RGB alone; label 'rgbt_flir_boson.cpu-rgb'), ``rig:rgb_only`` (RGB: that rig has no X).

    Raises:
        PeerError: unknown name or source, missing checkpoint, checkpoint given for a peer, or a
            label with characters other than letters, digits and ``._+-``; the message lists
            the valid names. For ``rig:`` specs: an unknown rig (the message lists the known
            rigs), an invalid rig file, a profile the rig lacks, or a profile whose checkpoint
            file is missing (the message names the rig, the profile, the file and how to make
            it).
    """
    raw = str(text).strip()
    label = None
    if '=' in raw.split(':', 1)[0]:
        label, raw = raw.split('=', 1)
        label = label.strip()
    head, _, ckpt = raw.partition(':')
    head = head.strip().lower()
    if head == RIG_PREFIX or head.startswith(RIG_PREFIX + '-'):
        return _parse_rig_spec(str(text).strip(), label, head[len(RIG_PREFIX) + 1:] or None,
                               ckpt.strip())
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
            raise PeerError(f'tracker {text!r}: our trackers run as NAME (RGB + X), NAME-rgb '
                            f'(RGB only) or NAME-rgbasx (RGB only, RGB fed as X), not -{source}')
        if source == 'rgbasx':
            from rgbx_tracker_ros.models import variant_args
            if 'missing_x' not in variant_args(name):
                raise PeerError(f'tracker {text!r}: -rgbasx is an option of the onetracker '
                                f'family (missing_x); {name} has no such option (two-stream '
                                f'families always feed RGB as X on RGB-only input)')
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
            label = name if source == 'rgbx' else f'{name}-{source}'
            if checkpoint is None:
                label += '-random'
    if not _LABEL_OK.match(label):
        raise PeerError(f'tracker label {label!r} may only use letters, digits and ._+-')
    return TrackerSpec(label=label, name=name, source=source, checkpoint=checkpoint,
                       family=family)


def _parse_rig_spec(text: str, label: Optional[str], source: Optional[str],
                    rest: str) -> TrackerSpec:
    """``rig[-rgb]:RIG[@PROFILE]`` -> the spec of the model the node runs on that rig."""
    from rgbx_tracker_ros.core.node_model import node_model
    from rgbx_tracker_ros.bringup import node_configuration
    from rgbx_tracker_ros.core.rig import COMPUTE_PROFILES, list_rigs, load_rig, RigError
    from rgbx_tracker_ros.core.types import Modality

    usage = (f'{RIG_PREFIX}:RIG[@{"|@".join(COMPUTE_PROFILES)}] (RGB + X as the node runs it) '
             f'or {RIG_PREFIX}-rgb:RIG[@PROFILE] (RGB only)')
    if source not in (None, 'rgb'):
        raise PeerError(f'tracker {text!r}: rig trackers run as {usage}, not '
                        f'{RIG_PREFIX}-{source}')
    if not rest:
        raise PeerError(f'tracker {text!r} needs a rig: {usage}; known rigs: '
                        f'{", ".join(list_rigs())}')
    name, profile = rest, None
    at = rest.rfind('@')
    if at > 0 and '/' not in rest[at:] and os.sep not in rest[at:]:
        name, profile = rest[:at].strip(), rest[at + 1:].strip().lower()
        if profile not in COMPUTE_PROFILES:
            raise PeerError(f'tracker {text!r}: unknown compute profile {profile!r}; use '
                            f'{" or ".join("@" + p for p in COMPUTE_PROFILES)} (none = the '
                            f"rig's default profile)")
    try:
        rig = load_rig(name)
    except RigError as err:
        if err.key == 'rig' and err.path == name:       # not a file: an unknown rig name
            raise PeerError(f'tracker {text!r}: unknown rig {name!r}; known rigs: '
                            f'{", ".join(list_rigs())} (config/rigs/*.yaml), or give a path to '
                            f'a rig .yaml file') from None
        raise PeerError(f'tracker {text!r}: {err}') from None
    profile = profile or rig.default_compute
    if profile not in rig.compute:
        raise PeerError(f'tracker {text!r}: rig {rig.name} ({rig.path}) has no {profile!r} '
                        f'compute profile; its profiles: {", ".join(rig.compute)}')
    try:
        params = node_configuration(rig, overrides={'compute': profile}).parameters
    except RigError as err:
        raise PeerError(f'tracker {text!r}: {err}') from None
    try:
        model = node_model(params)
    except FileNotFoundError:
        raise PeerError(_missing_checkpoint_message(text, name, rig, profile, params)) \
            from None
    rgb_asked = source == 'rgb'
    source = 'rgb' if rgb_asked or rig.modality is Modality.RGB else 'rgbx'
    if label is None:
        label = f'{rig.name}.{profile}' + ('-rgb' if rgb_asked else '')
    if not _LABEL_OK.match(label):
        raise PeerError(f'tracker label {label!r} may only use letters, digits and ._+- '
                        f'(rename it with LABEL={text})')
    return TrackerSpec(label=label, name=RIG_PREFIX, source=source, checkpoint=model.checkpoint,
                       family='ours', rig=rig.name, profile=profile, rig_path=rig.path,
                       modality=rig.modality.value, model=model,
                       x_homography=tuple(params['x_homography'])
                       if params.get('x_homography') else None)


def _missing_checkpoint_message(text: str, rig_arg: str, rig: Any, profile: str,
                                params: dict) -> str:
    """What to do when a rig profile's checkpoint file is not there (the node would not start)."""
    from rgbx_tracker_ros.core.node_model import DEFAULT_CHECKPOINT_NAME
    from rgbx_tracker_ros.core.rig import checkpoint_dirs
    configured = rig.compute[profile].checkpoint
    variant = params['variant']
    file_name = Path(configured).name if configured else DEFAULT_CHECKPOINT_NAME
    if not configured or (os.sep not in configured and not configured.startswith('~')):
        where = f'looked for {file_name} in {", ".join(str(d) for d in checkpoint_dirs())}'
        target = checkpoint_dirs()[-1] / file_name
        put = "a bare file name is looked up in the package's checkpoints/ folder"
    else:
        target = Path(configured).expanduser()
        where = f'{target} does not exist'
        put = 'the path the rig names'
    others = [p for p in rig.compute if p != profile]
    other = (f', or evaluate its {others[0]} profile: {RIG_PREFIX}:{rig_arg}@{others[0]}'
             if others else '')
    return (f'tracker {text!r}: the {profile} compute profile of rig {rig.name} ({rig.path}) '
            f'runs variant {variant} from checkpoint {configured or file_name!r}, which is '
            f'missing ({where}), so the tracker node would not start on it either. Train it '
            f'with rgbx-train --variant {variant} --out {target} ({put}), or set '
            f'compute.{profile}.checkpoint in the rig file to an existing .pt file{other}')


def build_tracker(spec: TrackerSpec | str, device: str = 'auto',
                  nano_dir: str | Path | None = None, precision: str = 'fp32',
                  backend: str = 'torch', model_options: Optional[dict] = None):
    """Create the tracker of ``spec`` (a :class:`TrackerSpec` or its text form).

    Args:
        spec: the tracker.
        device: torch device for our trackers ('auto', 'cpu', 'cuda'); ``rig:`` specs ignore
            it and run on their rig profile's device, as the node does.
        nano_dir: folder of the NanoTrack v2 files.
        precision: network precision of our trackers ('auto', 'fp32', 'bf16', 'fp16'; see
            ``core.tracker.resolve_precision``); peers ignore it, and so do ``rig:`` specs (they
            run at the node's precision).
        backend: inference backend of our trackers (``core.types.BACKENDS``; exported on first
            use); ``rig:`` specs run the rig profile's backend.
        model_options: constructor overrides of our trackers (token-budget options such as
            ``{'ce_keep_ratio': 0.7, 'ce_loc': (3, 6)}``; see
            ``models.factory.parse_model_options``); ``rig:`` specs ignore them.

    Raises:
        PeerError: see :func:`parse_tracker_spec` and :class:`OpenCVPeer`.
        rgbx_tracker_ros.export.BackendUnavailable: the backend's package is not installed.
        rgbx_tracker_ros.models.checkpoint.CheckpointError: unusable checkpoint.
    """
    if isinstance(spec, str):
        spec = parse_tracker_spec(spec)
    return tracker_registry()[spec.name](spec, device=device, nano_dir=nano_dir,
                                         precision=precision, backend=backend,
                                         model_options=model_options)
