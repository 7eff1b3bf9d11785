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

"""Sensor rigs: ``config/rigs/<rig>.yaml`` -> a validated :class:`Rig` (ROS-free, no torch).

A rig file names the two cameras' topics, the X modality, the encodings they publish, their
expected rates, the synchroniser's ``slop`` / ``x_timeout``, the image QoS, an optional X -> RGB
registration and, per compute profile (``cpu`` for a laptop CPU, ``gpu`` for a CUDA machine),
the model variant, checkpoint, device and backend. Example (every key; only ``modality``,
``topics`` and ``compute`` are required)::
    description: FLIR Boson 640 (radiometric, mono16) beside a colour camera
    modality: thermal            # thermal | depth | event | rgb
    namespace: rig               # default namespace of the node (--namespace overrides it)
    event_input: frame           # modality event only: frame | raw
    transport: raw               # raw (sensor_msgs/Image) | compressed (<topic>/compressed)
    topics:                      # relative names resolve inside the namespace
      rgb: color/image_raw
      x: boson/image_raw         # not for modality rgb
      x_camera_info: ...         # or rgb_camera_info: intrinsics for the RGB-D 3D marker
    encodings: {rgb: bgr8, x: mono16}
    rates_hz: {rgb: 30.0, x: 30.0}
    sync: {slop: 0.02, x_timeout: 0.5, x_grace: 0.03, rgb_timeout: 0.5}
    qos: {reliability: best_effort, depth: 5}
    tracking: {score_threshold: 0.25, init_class_id: person}
    registration:                # optional: warp X into the RGB grid (core.registration)
      homography: [[1.02, 0.0, -12.5], [0.0, 1.02, 4.0], [0.0, 0.0, 1.0]]   # X px -> RGB px
    compute:
      default: cpu
      cpu: {variant: t224, checkpoint: '', device: cpu}
      gpu: {variant: b224, checkpoint: b224_rgbx.pt, device: cuda, backend: torch}

``registration`` is either ``{homography: 3x3}`` (X pixels -> RGB pixels, e.g. from
``rgbx-calibrate``) or ``{k_rgb: 3x3, k_x: 3x3, rotation: 3x3, translation: [tx, ty, tz],
depth: d}`` (pinhole intrinsics in pixels, the X -> RGB camera transform ``P_rgb = R P_x + t``
in metres, and the working distance in metres: the homography of the plane at that depth,
:func:`rgbx_tracker_ros.core.registration.plane_homography`). It reaches the node as the
parameter ``x_homography``. Depth rigs normally publish depth aligned to colour and need none.

Validation is strict: an unknown key, a missing topic, a variant that is not registered
(``rgbx_tracker_ros.models.list_variants``, checked whenever ``rgbx_tracker_ros.models`` is
imported in the process, as ``rgbx-launch`` and ``rgbx-eval`` do; this module itself never imports
models or torch, and the node checks its variant when it builds the model), an encoding the
modality cannot use (``core.modality.RGB_ENCODINGS`` / ``X_ENCODINGS``; raw events use ``events``)
or a bad number is a :class:`RigError` naming the file and the key.

This module is the schema and its validation (and where rigs and checkpoints are found: the
installed share folder, then the source tree). Turning a rig into the node's configuration,
the replay processes and the rviz / Foxglove files is bringup: :mod:`rgbx_tracker_ros.bringup`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from rgbx_tracker_ros.core.modality import RGB_ENCODINGS, X_ENCODINGS
from rgbx_tracker_ros.core.params import parameter_specs
from rgbx_tracker_ros.core.registration import Registration, RegistrationError
from rgbx_tracker_ros.core.types import Modality

_logger = logging.getLogger(__name__)

#: The ROS package name (share folder, ament index).
PACKAGE = 'rgbx_tracker_ros'

#: X encoding name of raw events in a rig (``event_input: raw``).
RAW_EVENTS_ENCODING = 'events'
COMPUTE_PROFILES = ('cpu', 'gpu')


class RigError(ValueError):
    """A rig file (or a launch override) is invalid: the message names the file and the key."""

    def __init__(self, path: str | Path, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        super().__init__(f'rig {self.path}: {key}: {problem}')


@dataclasses.dataclass(frozen=True)
class RigTopics:
    """Input topics (relative names resolve in the node's namespace; '' = none)."""

    rgb: str
    x: str = ''
    rgb_camera_info: str = ''
    x_camera_info: str = ''


@dataclasses.dataclass(frozen=True)
class ComputeProfile:
    """Model for one kind of machine: registered variant, checkpoint ('' = the package's demo
    checkpoint, 'none' = random weights, a file name = under the package's checkpoints/, or a
    path), torch device ('auto', 'cpu', 'cuda', 'cuda:N') and inference backend ('torch',
    'onnxruntime', 'openvino', 'tensorrt'; node parameter ``backend``)."""

    variant: str
    checkpoint: str = ''
    device: str = 'auto'
    backend: str = 'torch'


@dataclasses.dataclass(frozen=True)
class Rig:
    """A validated rig (see the module docstring for the file format).

    Attributes:
        name: the file stem.
        path: the file it was loaded from.
        description: free text.
        modality: the X modality.
        namespace: default node namespace ('' = root).
        event_input: 'frame' or 'raw' (modality event), else 'frame'.
        transport: image transport of the camera topics, 'raw' or 'compressed' (node parameter
            ``transport``: ``<topic>/compressed``, ``<topic>/compressedDepth`` for depth).
        topics: see :class:`RigTopics`.
        rgb_encoding / x_encoding: what the cameras publish ('' = no X).
        rate_rgb_hz / rate_x_hz: expected input rates, Hz (0 = no X).
        slop / x_timeout / x_grace / rgb_timeout: synchroniser settings, seconds (rgb_timeout:
            no RGB for this long while X arrives -> track on X alone; 0 = never).
        qos_reliability: 'best_effort' or 'reliable'; qos_depth: history depth.
        score_threshold: [0, 1]; init_class_id: detector class picked on ~/init_from_detections.
        compute: profile name -> :class:`ComputeProfile`; default_compute: profile used by default.
        registration: X -> RGB :class:`~rgbx_tracker_ros.core.registration.Registration` of
            the ``registration:`` key, or None (X only resized to the RGB size).
    """

    name: str
    path: Path
    description: str
    modality: Modality
    namespace: str
    event_input: str
    topics: RigTopics
    rgb_encoding: str
    x_encoding: str
    rate_rgb_hz: float
    rate_x_hz: float
    slop: float
    x_timeout: float
    x_grace: float
    qos_reliability: str
    qos_depth: int
    score_threshold: float
    init_class_id: str
    compute: dict[str, ComputeProfile]
    default_compute: str
    rgb_timeout: float = 0.5
    transport: str = 'raw'
    registration: Registration | None = None


# ------------------------------------------------------------------------------ locating rigs
def package_share_dir() -> Path | None:
    """The installed share/rgbx_tracker_ros (ament index), or None when not installed."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # noqa: BLE001 - ament_index missing or package not in an ament prefix
        return None


def source_root() -> Path:
    """The source tree root (parent of the ``rgbx_tracker_ros`` package folder)."""
    return Path(__file__).resolve().parents[2]


def rigs_dirs() -> list[Path]:
    """Folders searched for rig names: share/rgbx_tracker_ros/config/rigs, then the source
    tree's config/rigs (existing folders only)."""
    dirs = []
    share = package_share_dir()
    if share is not None:
        dirs.append(share / 'config' / 'rigs')
    dirs.append(source_root() / 'config' / 'rigs')
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and all(d.resolve() != o.resolve() for o in out):
            out.append(d)
    return out


def list_rigs() -> list[str]:
    """Sorted rig names found in :func:`rigs_dirs`."""
    return sorted({p.stem for d in rigs_dirs() for p in d.glob('*.yaml')})


def resolve_rig(name_or_path: str | Path) -> Path:
    """A rig name ('rgbt_flir_boson') or a path to a rig YAML file -> the file.

    Raises:
        RigError: no such file / rig name (the message lists the known rigs).
    """
    text = str(name_or_path).strip()
    if not text:
        raise RigError('<none>', 'rig', f'no rig given; known rigs: {", ".join(list_rigs())}')
    path = Path(text).expanduser()
    if path.suffix in ('.yaml', '.yml') or os.sep in text:
        if path.is_file():
            return path
        raise RigError(path, 'rig', 'no such file')
    for d in rigs_dirs():
        cand = d / f'{text}.yaml'
        if cand.is_file():
            return cand
    raise RigError(text, 'rig', f'unknown rig name; known rigs: {", ".join(list_rigs())} '
                                f'(searched {", ".join(str(d) for d in rigs_dirs())}), or give '
                                f'a path to a .yaml file')


# --------------------------------------------------------------------------------- validation
_TOP_KEYS = ('description', 'modality', 'namespace', 'event_input', 'transport', 'topics',
             'encodings',
             'rates_hz', 'sync', 'qos', 'tracking', 'compute', 'registration')
_SECTION_KEYS = {
    'topics': ('rgb', 'x', 'rgb_camera_info', 'x_camera_info'),
    'encodings': ('rgb', 'x'),
    'rates_hz': ('rgb', 'x'),
    'sync': ('slop', 'x_timeout', 'x_grace', 'rgb_timeout'),
    'qos': ('reliability', 'depth'),
    'tracking': ('score_threshold', 'init_class_id'),
    'registration': ('homography', 'k_rgb', 'k_x', 'rotation', 'translation', 'depth'),
}
_PLANE_KEYS = ('k_rgb', 'k_x', 'rotation', 'translation', 'depth')
_PROFILE_KEYS = ('variant', 'checkpoint', 'device', 'backend')


def _schema(name: str) -> tuple:
    """(default, lo, hi) of a node parameter from the one schema (core.params)."""
    default, spec = parameter_specs()[name]
    return default, spec.lo, spec.hi


def schema_choice(name: str) -> tuple:
    """(default, choices) of a node parameter from the one schema (core.params)."""
    default, spec = parameter_specs()[name]
    return default, spec.choices


class _Checker:
    """Typed accessors that raise :class:`RigError` naming the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> RigError:
        return RigError(self.path, key, problem)

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f'expected a mapping with keys {", ".join(allowed)}, got '
                                 f'{type(value).__name__} {value!r}')
        for k in value:
            if k not in allowed:
                where = f'{key}.{k}' if key else str(k)
                raise self.fail(where, f'unknown key; valid keys here: {", ".join(allowed)}')
        return dict(value)

    def string(self, value: Any, key: str, default: str | None = None) -> str:
        if value is None:
            if default is None:
                raise self.fail(key, 'missing (required)')
            return default
        if not isinstance(value, str):
            raise self.fail(key, f'expected a string, got {type(value).__name__} {value!r}')
        return value.strip()

    def number(self, value: Any, key: str, default: float, lo: float, hi: float,
               lo_open: bool = False) -> float:
        if value is None:
            return float(default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f'expected a number, got {type(value).__name__} {value!r}')
        v = float(value)
        ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            lo_txt = f'> {lo}' if lo_open else f'>= {lo}'
            raise self.fail(key, f'{value!r} is out of range: need {lo_txt} and <= {hi}')
        return v

    def integer(self, value: Any, key: str, default: int, lo: int, hi: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f'expected an integer, got {type(value).__name__} {value!r}')
        if not lo <= value <= hi:
            raise self.fail(key, f'{value} is out of range [{lo}, {hi}]')
        return int(value)

    def choice(self, value: Any, key: str, default: str, valid: tuple[str, ...]) -> str:
        v = self.string(value, key, default).lower()
        if v not in valid:
            raise self.fail(key, f'{value!r} is not one of {", ".join(valid)}')
        return v


_variant_catalogue: Callable[[], list[str]] | None = None


def set_variant_catalogue(names: Callable[[], list[str]] | None) -> None:
    """Install the function that lists the registered model variants (``rgbx_tracker_ros.models``
    installs its ``list_variants`` when it is imported; ``core`` never imports ``models``)."""
    global _variant_catalogue
    _variant_catalogue = names


def known_variants() -> list[str] | None:
    """Registered model variants, or None when no catalogue is installed (``models`` not
    imported in this process: then variant names are checked when the model is built)."""
    return None if _variant_catalogue is None else list(_variant_catalogue())


def check_variant(variant: str, path: str | Path, key: str) -> str:
    """Return ``variant`` if registered.

    Raises:
        RigError: naming ``path`` and ``key`` and listing the registered variants.
    """
    variants = known_variants()
    if variants is not None and variant not in variants:
        raise RigError(path, key, f'unknown model variant {variant!r}; registered variants: '
                                  f'{", ".join(variants)}')
    return variant


def check_device(device: str, path: str | Path, key: str) -> str:
    """Return the lower-cased device if it is auto, cpu, cuda or cuda:N.

    Raises:
        RigError: otherwise.
    """
    d = str(device).strip().lower()
    if d in ('auto', 'cpu', 'cuda') or (d.startswith('cuda:') and d[5:].isdigit()):
        return d
    raise RigError(path, key, f'device {device!r}: expected auto, cpu, cuda or cuda:N')


def rig_from_dict(data: Any, path: str | Path) -> Rig:
    """Validate a parsed rig mapping (see :func:`load_rig`).

    Raises:
        RigError: naming ``path`` and the offending key.
    """
    path = Path(path)
    c = _Checker(path)
    top = c.mapping(data, '', _TOP_KEYS)
    if 'modality' not in top:
        raise c.fail('modality', 'missing (required): thermal, depth, event or rgb')
    try:
        modality = Modality(c.string(top['modality'], 'modality').lower())
    except ValueError:
        raise c.fail('modality', f'{top["modality"]!r} is not one of '
                                 f'{", ".join(m.value for m in Modality)}') from None
    has_x = modality is not Modality.RGB
    event_input = c.choice(top.get('event_input'), 'event_input', 'frame', ('frame', 'raw'))
    if 'event_input' in top and modality is not Modality.EVENT:
        raise c.fail('event_input', f'only for modality event (this rig is {modality.value})')
    raw_events = modality is Modality.EVENT and event_input == 'raw'
    transport = c.choice(top.get('transport'), 'transport', *schema_choice('transport'))

    if 'topics' not in top:
        raise c.fail('topics', 'missing (required): a mapping with rgb (and x) topic names')
    topics_d = c.mapping(top['topics'], 'topics', _SECTION_KEYS['topics'])
    rgb_topic = c.string(topics_d.get('rgb'), 'topics.rgb')
    if not rgb_topic:
        raise c.fail('topics.rgb', 'missing (required): the colour image topic')
    x_topic = c.string(topics_d.get('x'), 'topics.x', '')
    if has_x and not x_topic:
        raise c.fail('topics.x', f'missing (required for modality {modality.value}): the X '
                                 + ('events (sensor_msgs/PointCloud2)' if raw_events else
                                    'image') + ' topic')
    if not has_x and x_topic:
        raise c.fail('topics.x', 'modality rgb has no X topic; remove it or set the modality')
    rgb_info = c.string(topics_d.get('rgb_camera_info'), 'topics.rgb_camera_info', '')
    x_info = c.string(topics_d.get('x_camera_info'), 'topics.x_camera_info', '')
    if rgb_info and x_info:
        raise c.fail('topics.x_camera_info', 'give rgb_camera_info or x_camera_info, not both')
    if (rgb_info or x_info) and modality is not Modality.DEPTH:
        key = 'topics.rgb_camera_info' if rgb_info else 'topics.x_camera_info'
        raise c.fail(key, f'camera_info is used for the RGB-D 3D marker only (modality depth, '
                          f'this rig is {modality.value})')
    if x_info and not has_x:
        raise c.fail('topics.x_camera_info', 'no X camera on an RGB-only rig')
    for key, value in (('topics.rgb', rgb_topic), ('topics.x', x_topic),
                       ('topics.rgb_camera_info', rgb_info), ('topics.x_camera_info', x_info)):
        if value and (any(ch.isspace() for ch in value) or '//' in value
                      or value.endswith('/')):
            raise c.fail(key, f'{value!r} is not a valid ROS topic name')

    enc = c.mapping(top.get('encodings'), 'encodings', _SECTION_KEYS['encodings'])
    rgb_enc = c.string(enc.get('rgb'), 'encodings.rgb', 'rgb8')
    if rgb_enc not in RGB_ENCODINGS:
        raise c.fail('encodings.rgb', f'{rgb_enc!r} is not an RGB encoding the tracker reads; '
                                      f'valid: {", ".join(RGB_ENCODINGS)}')
    if has_x:
        valid_x = (RAW_EVENTS_ENCODING,) if raw_events else tuple(X_ENCODINGS[modality])
        x_enc = c.string(enc.get('x'), 'encodings.x', valid_x[0])
        if x_enc not in valid_x:
            raise c.fail('encodings.x', f'{x_enc!r} is not valid for modality {modality.value}'
                                        + (' with raw events' if raw_events else '')
                                        + f'; valid: {", ".join(valid_x)}')
    else:
        if enc.get('x'):
            raise c.fail('encodings.x', 'modality rgb has no X encoding')
        x_enc = ''

    rates = c.mapping(top.get('rates_hz'), 'rates_hz', _SECTION_KEYS['rates_hz'])
    rate_rgb = c.number(rates.get('rgb'), 'rates_hz.rgb', 30.0, 0.0, 10000.0, lo_open=True)
    if not has_x and rates.get('x') is not None:
        raise c.fail('rates_hz.x', 'modality rgb has no X camera')
    rate_x = c.number(rates.get('x'), 'rates_hz.x', rate_rgb, 0.0, 1e6, lo_open=True) \
        if has_x else 0.0

    sync = c.mapping(top.get('sync'), 'sync', _SECTION_KEYS['sync'])
    slop = c.number(sync.get('slop'), 'sync.slop', *_schema('slop'))
    x_timeout = c.number(sync.get('x_timeout'), 'sync.x_timeout', *_schema('x_timeout'))
    if not x_timeout > slop:
        raise c.fail('sync.x_timeout', f'{x_timeout} must be greater than sync.slop ({slop})')
    x_grace = c.number(sync.get('x_grace'), 'sync.x_grace', *_schema('x_grace'))
    rgb_timeout = c.number(sync.get('rgb_timeout'), 'sync.rgb_timeout', *_schema('rgb_timeout'))

    qos = c.mapping(top.get('qos'), 'qos', _SECTION_KEYS['qos'])
    reliability = c.choice(qos.get('reliability'), 'qos.reliability',
                           *schema_choice('qos_reliability'))
    depth = c.integer(qos.get('depth'), 'qos.depth', *_schema('qos_depth'))

    tracking = c.mapping(top.get('tracking'), 'tracking', _SECTION_KEYS['tracking'])
    score_threshold = c.number(tracking.get('score_threshold'), 'tracking.score_threshold',
                               *_schema('score_threshold'))
    init_class_id = tracking.get('init_class_id', '')
    if isinstance(init_class_id, (int, float)) and not isinstance(init_class_id, bool):
        init_class_id = str(init_class_id)   # COCO ids given as numbers
    init_class_id = c.string(init_class_id, 'tracking.init_class_id', '')

    if 'compute' not in top:
        raise c.fail('compute', f'missing (required): profiles {", ".join(COMPUTE_PROFILES)} '
                                f'with variant, checkpoint, device')
    compute_d = c.mapping(top['compute'], 'compute', (*COMPUTE_PROFILES, 'default'))
    profiles: dict[str, ComputeProfile] = {}
    for prof in COMPUTE_PROFILES:
        if prof not in compute_d:
            continue
        key = f'compute.{prof}'
        pd = c.mapping(compute_d[prof], key, _PROFILE_KEYS)
        variant = check_variant(c.string(pd.get('variant'), f'{key}.variant'), path,
                                f'{key}.variant')
        ckpt = c.string(pd.get('checkpoint'), f'{key}.checkpoint', '')
        device = check_device(c.string(pd.get('device'), f'{key}.device', 'auto'), path,
                              f'{key}.device')
        if prof == 'cpu' and device.startswith('cuda'):
            raise c.fail(f'{key}.device', f'{device!r} in the cpu profile; use cpu or auto')
        backend = c.choice(pd.get('backend'), f'{key}.backend', *schema_choice('backend'))
        if prof == 'cpu' and backend == 'tensorrt':
            raise c.fail(f'{key}.backend', "'tensorrt' in the cpu profile; TensorRT needs a CUDA "
                                           'GPU (use torch, onnxruntime or openvino)')
        profiles[prof] = ComputeProfile(variant, ckpt, device, backend)
    if not profiles:
        raise c.fail('compute', f'needs at least one profile: {", ".join(COMPUTE_PROFILES)}')
    default = c.string(compute_d.get('default'), 'compute.default', next(iter(profiles)))
    if default not in profiles:
        raise c.fail('compute.default', f'{default!r} is not a profile of this rig '
                                        f'({", ".join(profiles)})')
    namespace = c.string(top.get('namespace'), 'namespace', '')
    if namespace and (any(ch.isspace() for ch in namespace) or '//' in namespace):
        raise c.fail('namespace', f'{namespace!r} is not a valid ROS namespace')
    registration = _parse_registration(c, top.get('registration'), has_x) \
        if 'registration' in top else None

    return Rig(name=path.stem, path=path,
               description=c.string(top.get('description'), 'description', ''),
               modality=modality, namespace=namespace, event_input=event_input,
               topics=RigTopics(rgb_topic, x_topic, rgb_info, x_info),
               rgb_encoding=rgb_enc, x_encoding=x_enc, rate_rgb_hz=rate_rgb, rate_x_hz=rate_x,
               slop=slop, x_timeout=x_timeout, x_grace=x_grace, rgb_timeout=rgb_timeout,
               qos_reliability=reliability,
               qos_depth=depth, score_threshold=score_threshold, init_class_id=init_class_id,
               compute=profiles, default_compute=default, transport=transport,
               registration=registration)


def _parse_registration(c: _Checker, value: Any, has_x: bool) -> Registration:
    """The ``registration:`` section -> :class:`Registration` (errors name the file and the
    dotted key, e.g. ``registration.homography``)."""
    if not has_x:
        raise c.fail('registration', 'modality rgb has no X camera to register')
    section = c.mapping(value, 'registration', _SECTION_KEYS['registration'])
    plane = [k for k in _PLANE_KEYS if k in section]
    if 'homography' in section:
        if plane:
            raise c.fail(f'registration.{plane[0]}',
                         'give homography, or k_rgb, k_x, rotation, translation and depth, '
                         'not both')
        try:
            return Registration.from_homography(section['homography'])
        except RegistrationError as exc:
            raise c.fail('registration.homography', f'{exc} (expected 3x3 numbers, X pixels -> '
                                                    f'RGB pixels)') from None
    missing = [k for k in _PLANE_KEYS if k not in section]
    if missing:
        raise c.fail(f'registration.{missing[0]}',
                     'missing: give homography (3x3, X pixels -> RGB pixels), or all of k_rgb, '
                     'k_x, rotation, translation (m) and depth (m)')
    depth = section['depth']
    if isinstance(depth, bool) or not isinstance(depth, (int, float)) \
            or not math.isfinite(depth) or depth <= 0:
        raise c.fail('registration.depth', f'{depth!r}: expected the working distance in '
                                           f'metres, > 0')
    try:
        return Registration.from_calibration(section['k_rgb'], section['k_x'],
                                             section['rotation'], section['translation'], depth)
    except RegistrationError as exc:
        text = str(exc)
        key = next((k for k in _PLANE_KEYS if text.startswith(k + ':')), None)
        if key is not None:
            raise c.fail(f'registration.{key}', text[len(key) + 1:].strip()) from None
        raise c.fail('registration', text) from None


def load_rig(path: str | Path) -> Rig:
    """Load and validate a rig YAML file.

    Args:
        path: a rig file, or a rig name resolved with :func:`resolve_rig`.

    Returns:
        the validated :class:`Rig`.

    Raises:
        RigError: unreadable file, YAML syntax error, unknown key, missing topic, unknown model
            variant, invalid encoding for the modality, out-of-range number; the message names
            the file and the key.
    """
    file = resolve_rig(path)
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise RigError(file, '<file>', f'cannot read: {exc}') from None
    except yaml.YAMLError as exc:
        raise RigError(file, '<file>', f'not valid YAML: {exc}') from None
    if data is None:
        raise RigError(file, '<file>', 'empty file')
    return rig_from_dict(data, file)


def checkpoint_dirs() -> list[Path]:
    """Folders a bare checkpoint file name is looked up in, in order: the installed
    share/rgbx_tracker_ros/checkpoints (when installed), then the source tree's checkpoints/
    (whether they exist or not)."""
    share = package_share_dir()
    return [base / 'checkpoints' for base in ((share,) if share is not None else ())
            + (source_root(),)]
