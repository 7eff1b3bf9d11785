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

"""Registration of X to RGB (core.registration), the rig key ``registration:`` -> node parameter
``x_homography`` -> TrackingSession, and ``rgbx-calibrate`` (point pairs, chessboards).

The warp is checked on REAL registered RGB-thermal pairs (RoadScene): a known homography makes
the thermal image unregistered, the inverse registers it again."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from rgbx_tracker_ros.cli import calibrate as cal
from rgbx_tracker_ros.core import params as P
from rgbx_tracker_ros.core.registration import (
    Registration, RegistrationError, plane_homography)
from rgbx_tracker_ros.bringup import node_configuration
from rgbx_tracker_ros.core.rig import RigError, load_rig
from rgbx_tracker_ros.core.session import Frame, Intrinsics, TrackingSession
from rgbx_tracker_ros.core.sync import FramePair

ROADSCENE = Path('/work/shared/data/real/roadscene_pairs')
PAIRS = sorted(p.name for p in (ROADSCENE / 'cropinfrared').glob('*.jpg')) \
    if ROADSCENE.is_dir() else []
BASE_RIG = ('modality: thermal\ntopics: {rgb: /c/rgb, x: /c/x}\n'
            'compute: {cpu: {variant: test_s14, checkpoint: none, device: cpu}}\n')


def _unregister() -> np.ndarray:
    """RGB pixels -> X pixels of a made-up second camera: 3 degrees roll, 6 % zoom, a shift and
    a little keystone."""
    c, s = np.cos(np.radians(3.0)), np.sin(np.radians(3.0))
    return np.array([[1.06 * c, -1.06 * s, 12.0], [1.06 * s, 1.06 * c, -7.0],
                     [2e-5, -3e-5, 1.0]])


def _edges(gray: np.ndarray) -> np.ndarray:
    g = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 2.0)
    return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    a, b = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


# ------------------------------------------------------------------ the warp, on real pairs
@pytest.mark.skipif(not PAIRS, reason='roadscene_pairs not available')
@pytest.mark.parametrize('name', PAIRS)
def test_registering_an_unregistered_real_thermal_image_gives_it_back(name: str) -> None:
    thermal = cv2.imread(str(ROADSCENE / 'cropinfrared' / name), cv2.IMREAD_GRAYSCALE)
    rgb = cv2.imread(str(ROADSCENE / 'crop_LR_visible' / name))
    h, w = rgb.shape[:2]
    assert thermal.shape == (h, w)
    to_x = _unregister()
    x_unreg = cv2.warpPerspective(thermal, to_x, (w, h))          # what a side camera sees
    reg = Registration.from_homography(np.linalg.inv(to_x))       # X pixels -> RGB pixels
    back = reg.warp(x_unreg, (h, w))
    assert back.shape == (h, w) and back.dtype == np.uint8
    valid = reg.valid_mask(x_unreg.shape, (h, w))
    assert 0.8 < valid.mean() < 0.95
    rim = cv2.dilate(valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.all(back[~rim] == 0) and reg.coverage(x_unreg.shape, (h, w)) == valid.mean()
    inner = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    err = np.abs(back.astype(np.float64) - thermal)[inner]
    before = np.abs(x_unreg.astype(np.float64) - thermal)[inner]
    assert err.mean() < 4.0 and np.percentile(err, 99) < 30, (err.mean(), before.mean())
    assert before.mean() > 5 * err.mean()
    # cross-modal: thermal edges line up with the colour image's edges again
    e_rgb = _edges(cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY))
    ncc_reg, ncc_unreg = _ncc(e_rgb, _edges(back), inner), _ncc(e_rgb, _edges(x_unreg), inner)
    ncc_true = _ncc(e_rgb, _edges(thermal), inner)
    assert ncc_reg > ncc_unreg + 0.05 and abs(ncc_reg - ncc_true) < 0.08


@pytest.mark.skipif(not PAIRS, reason='roadscene_pairs not available')
def test_calibration_from_real_feature_matches_recovers_the_registration() -> None:
    """ORB matches between the unregistered and the registered real thermal image (with their
    natural outliers) -> RANSAC -> the known registration within a pixel over the image."""
    name = PAIRS[0]
    thermal = cv2.imread(str(ROADSCENE / 'cropinfrared' / name), cv2.IMREAD_GRAYSCALE)
    h, w = thermal.shape
    to_x = _unregister()
    x_unreg = cv2.warpPerspective(thermal, to_x, (w, h))
    orb = cv2.ORB_create(2000)
    kx, dx = orb.detectAndCompute(x_unreg, None)
    kr, dr = orb.detectAndCompute(thermal, None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(dx, dr)
    assert len(matches) > 50
    px = np.array([kx[m.queryIdx].pt for m in matches])
    pr = np.array([kr[m.trainIdx].pt for m in matches])
    hom, inliers, stats = cal.fit_homography(px, pr, ransac_px=2.0)
    assert stats['inliers'] >= 30 and stats['rms_px'] < 1.5
    grid = np.stack(np.meshgrid(np.linspace(20, w - 20, 7), np.linspace(20, h - 20, 5)),
                    -1).reshape(-1, 2)
    got = Registration(hom).map_points(grid)
    want = Registration(np.linalg.inv(to_x)).map_points(grid)
    assert np.abs(got - want).max() < 1.0


def test_warp_conventions_sizes_dtypes_and_nearest_for_depth() -> None:
    # a pure shift (+5, +3): the X pixel (x, y) lands on the RGB pixel (x + 5, y + 3)
    reg = Registration.from_homography([1, 0, 5, 0, 1, 3, 0, 0, 1])
    img = np.zeros((20, 30), np.uint8)
    img[4, 7] = 200                                   # row 4 (y), column 7 (x)
    out = reg.warp(img, (40, 50))
    assert out.shape == (40, 50) and out[7, 12] == 200 and out.sum() == 200
    assert reg.map_points([[7, 4]]).tolist() == [[12.0, 7.0]]
    # scaled by 2: bilinear blends, nearest keeps the original values only (depth)
    depth = np.full((10, 10), 2.0, np.float32)
    depth[:, 5:] = 8.0
    half = Registration.from_homography(np.diag([2.0, 2.0, 1.0]))
    lin = half.warp(depth, (20, 20), 'linear')
    near = half.warp(depth, (20, 20), 'nearest')
    assert set(np.unique(near[:19, :19]).tolist()) == {2.0, 8.0}
    assert len(np.unique(lin[:19, :19])) > 2
    colour = np.zeros((10, 10, 3), np.uint8)
    colour[..., 2] = 255
    assert half.warp(colour, (20, 20)).shape == (20, 20, 3)
    assert half.warp(colour[..., :1], (20, 20)).shape == (20, 20, 1)
    assert half.inverse().map_points([[10, 4]]).tolist() == [[5.0, 2.0]]
    assert half.rgb_box_to_x([4, 4, 8, 6]).tolist() == [2.0, 2.0, 4.0, 3.0]
    assert Registration(np.eye(3) * 4.0).as_list() == np.eye(3).reshape(-1).tolist()


@pytest.mark.parametrize('value, fragment', [
    ([[1, 2, 3], [2, 4, 6], [0, 0, 1]], 'singular'),
    (np.zeros((3, 3)), 'singular'),
    ([1, 0, 0, 0, 1, 0], 'expected 3x3 numbers'),
    ([[1, 0], [0, 1]], 'expected 3x3 numbers'),
    ('identity', 'expected 3x3 numbers'),
    ([[1, 0, 0], [0, np.inf, 0], [0, 0, 1]], 'non-finite'),
])
def test_bad_homographies_are_rejected_with_reasons(value, fragment: str) -> None:
    with pytest.raises(RegistrationError, match=fragment):
        Registration.from_homography(value)


def test_bad_warp_inputs_are_rejected() -> None:
    reg = Registration(np.eye(3))
    with pytest.raises(RegistrationError, match='rgb_hw'):
        reg.warp(np.zeros((4, 4), np.uint8), (0, 4))
    with pytest.raises(RegistrationError, match='rgb_hw'):
        reg.warp(np.zeros((4, 4), np.uint8), (4.5, 4))
    with pytest.raises(RegistrationError, match='shape'):
        reg.warp(np.zeros((4, 4, 5), np.uint8), (4, 4))
    with pytest.raises(RegistrationError, match='shape'):
        reg.warp(np.zeros((0, 4), np.uint8), (4, 4))
    with pytest.raises(RegistrationError, match='dtype bool'):
        reg.warp(np.zeros((4, 4), bool), (4, 4))
    with pytest.raises(RegistrationError, match='interpolation'):
        reg.warp(np.zeros((4, 4), np.uint8), (4, 4), 'cubic')


# ------------------------------------------------------------------ intrinsics + extrinsics
K_RGB = [[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]]
K_X = [[400.0, 0.0, 160.0], [0.0, 400.0, 128.0], [0.0, 0.0, 1.0]]


def test_plane_homography_against_a_hand_computed_one() -> None:
    # X camera 5 cm to the right of the RGB camera (its centre at x = +0.05 m in RGB
    # coordinates), same orientation, plane at 10 m:
    # K_x^-1 = [[1/400, 0, -0.4], [0, 1/400, -0.32], [0, 0, 1]],
    # I + t n^T / d = [[1, 0, 0.005], [0, 1, 0], [0, 0, 1]],
    # H = K_rgb (I + t n^T / d) K_x^-1 = [[1.5, 0, 600 * -0.395 + 320], [0, 1.5, 600 * -0.32
    # + 240], [0, 0, 1]] = [[1.5, 0, 83], [0, 1.5, 48], [0, 0, 1]]: the X image centre lands
    # f * b / d = 600 * 0.05 / 10 = 3 px right of the RGB centre.
    reg = Registration.from_calibration(K_RGB, K_X, np.eye(3), [0.05, 0.0, 0.0], 10.0)
    np.testing.assert_allclose(reg.homography, [[1.5, 0, 83], [0, 1.5, 48], [0, 0, 1]],
                               atol=1e-12)
    np.testing.assert_allclose(reg.map_points([[160, 128]]), [[323.0, 240.0]], atol=1e-9)


def test_plane_homography_maps_projections_of_points_on_the_plane() -> None:
    rvec = np.array([0.02, -0.05, 0.01])
    rot, _ = cv2.Rodrigues(rvec)
    t = np.array([-0.12, 0.03, 0.02])
    d = 4.0
    hom = plane_homography(K_RGB, K_X, rot, t, d)
    rng = np.random.default_rng(3)
    pts_x = np.column_stack([rng.uniform(-2, 2, 20), rng.uniform(-1.5, 1.5, 20),
                             np.full(20, d)])             # on the plane z_x = d
    uv_x = (np.asarray(K_X) @ pts_x.T).T
    uv_x = uv_x[:, :2] / uv_x[:, 2:]
    pts_rgb = (rot @ pts_x.T).T + t                       # P_rgb = R P_x + t
    uv_rgb = (np.asarray(K_RGB) @ pts_rgb.T).T
    uv_rgb = uv_rgb[:, :2] / uv_rgb[:, 2:]
    np.testing.assert_allclose(Registration(hom).map_points(uv_x), uv_rgb, atol=1e-8)
    # far away, only the rotation matters (the infinite homography)
    far = plane_homography(K_RGB, K_X, rot, t, 1e9)
    inf = np.asarray(K_RGB) @ rot @ np.linalg.inv(K_X)
    np.testing.assert_allclose(far, inf / inf[2, 2], atol=1e-7)


@pytest.mark.parametrize('change, fragment', [
    ({'depth_m': 0.0}, r'depth: expected a distance in metres > 0'),
    ({'depth_m': -2.0}, r'depth: expected'),
    ({'depth_m': float('nan')}, r'depth: expected'),
    ({'rotation': np.diag([1.0, 1.0, 2.0])}, r'rotation: expected a rotation matrix'),
    ({'rotation': np.diag([1.0, 1.0, -1.0])}, r'rotation: expected a rotation matrix'),
    ({'translation': [0.1, 0.0]}, r'translation: expected 3 numbers'),
    ({'k_x': [[400, 0, 160], [0, 0, 128], [0, 0, 1]]}, r'k_x: expected pinhole intrinsics'),
    ({'k_rgb': np.eye(2)}, r'k_rgb: expected 3x3 numbers'),
])
def test_bad_calibrations_are_rejected(change: dict, fragment: str) -> None:
    args = {'k_rgb': K_RGB, 'k_x': K_X, 'rotation': np.eye(3), 'translation': [0.05, 0, 0],
            'depth_m': 5.0}
    args.update(change)
    with pytest.raises(RegistrationError, match=fragment):
        plane_homography(**args)


# ------------------------------------------------------------------ rig key -> node parameter
def test_rig_homography_round_trips_to_the_node_parameter(tmp_path: Path) -> None:
    hom = [[1.02, 0.01, -12.5], [-0.01, 1.02, 4.0], [1e-5, 0.0, 1.0]]
    rig_file = tmp_path / 'reg.yaml'
    rig_file.write_text(BASE_RIG + yaml.safe_dump({'registration': {'homography': hom}}))
    rig = load_rig(rig_file)
    np.testing.assert_allclose(rig.registration.homography, hom)
    cfg = node_configuration(rig)
    assert cfg.parameters['x_homography'] == pytest.approx(np.ravel(hom).tolist())
    args = cfg.ros_args()
    assert any(a.startswith('x_homography:=[1.02,0.01,-12.5,') for a in args)
    params = P.validate_parameters({k: v for k, v in cfg.parameters.items()
                                    if k != 'use_sim_time'})
    assert params.x_homography == pytest.approx(tuple(np.ravel(hom)))
    session = TrackingSession(_Recorder(), params)
    np.testing.assert_allclose(session.registration.homography, hom)
    # no registration: no parameter, no warp
    plain = tmp_path / 'plain.yaml'
    plain.write_text(BASE_RIG)
    cfg = node_configuration(load_rig(plain))
    assert 'x_homography' not in cfg.parameters
    assert TrackingSession(_Recorder(), P.NodeParams()).registration is None


def test_rig_intrinsics_and_extrinsics_become_the_plane_homography(tmp_path: Path) -> None:
    section = {'registration': {'k_rgb': K_RGB, 'k_x': K_X,
                                'rotation': np.eye(3).tolist(), 'translation': [0.05, 0, 0],
                                'depth': 10}}
    rig_file = tmp_path / 'plane.yaml'
    rig_file.write_text(BASE_RIG + yaml.safe_dump(section))
    cfg = node_configuration(load_rig(rig_file))
    np.testing.assert_allclose(cfg.parameters['x_homography'], [1.5, 0, 83, 0, 1.5, 48, 0, 0, 1],
                               atol=1e-12)


GOOD_PLANE = {'k_rgb': K_RGB, 'k_x': K_X, 'rotation': np.eye(3).tolist(),
              'translation': [0.05, 0.0, 0.0], 'depth': 10.0}
BAD_REGISTRATIONS = {
    'singular': ({'homography': [[1, 2, 3], [2, 4, 6], [0, 0, 1]]},
                 r'registration\.homography: .*singular'),
    'short_homography': ({'homography': [[1, 0, 0], [0, 1, 0]]},
                         r'registration\.homography: .*3x3'),
    'text_homography': ({'homography': 'identity'}, r'registration\.homography'),
    'unknown_key': ({'homograpy': np.eye(3).tolist()}, r'registration\.homograpy: unknown key'),
    'not_a_mapping': ([1, 2, 3], r'registration: expected a mapping'),
    'both': ({'homography': np.eye(3).tolist(), 'depth': 3.0},
             r'registration\.depth: give homography, or'),
    'missing_translation': ({k: v for k, v in GOOD_PLANE.items() if k != 'translation'},
                            r'registration\.translation: missing'),
    'zero_depth': ({**GOOD_PLANE, 'depth': 0}, r'registration\.depth: 0: expected the working'),
    'text_depth': ({**GOOD_PLANE, 'depth': 'far'}, r'registration\.depth'),
    'bad_rotation': ({**GOOD_PLANE, 'rotation': np.diag([1, 1, 3]).tolist()},
                     r'registration\.rotation: expected a rotation matrix'),
    'bad_k_x': ({**GOOD_PLANE, 'k_x': [1, 2, 3]}, r'registration\.k_x: expected 3x3'),
}


@pytest.mark.parametrize('case', sorted(BAD_REGISTRATIONS))
def test_bad_rig_registrations_name_file_and_key(tmp_path: Path, case: str) -> None:
    section, pattern = BAD_REGISTRATIONS[case]
    path = tmp_path / f'{case}.yaml'
    path.write_text(BASE_RIG + yaml.safe_dump({'registration': section}))
    with pytest.raises(RigError, match=pattern) as info:
        load_rig(path)
    assert str(path) in str(info.value)


def test_rgb_only_rigs_have_nothing_to_register(tmp_path: Path) -> None:
    path = tmp_path / 'rgb.yaml'
    path.write_text('modality: rgb\ntopics: {rgb: /c/rgb}\n'
                    'compute: {cpu: {variant: test_s14, checkpoint: none, device: cpu}}\n'
                    + yaml.safe_dump({'registration': {'homography': np.eye(3).tolist()}}))
    with pytest.raises(RigError, match=r'rgb\.yaml: registration: modality rgb has no X'):
        load_rig(path)


@pytest.mark.parametrize('value, fragment', [
    ([1.0] * 8, 'x_homography=[1.0, 1.0'),
    ([0.0] * 9, 'singular'),
    ('1,0,0,0,1,0,0,0,1', "x_homography='1,0,0"),
    ([1, 0, 0, 0, 1, 0, 0, 0, float('nan')], 'x_homography='),
])
def test_bad_x_homography_parameters_get_one_line_errors(value, fragment: str) -> None:
    with pytest.raises(P.ParameterError) as info:
        P.validate_parameters({'x_homography': value})
    assert fragment in str(info.value) and '\n' not in str(info.value)


def test_x_homography_parameter_schema() -> None:
    default, spec = P.parameter_specs()['x_homography']
    assert default is None and spec.kind == 'box' and not spec.runtime
    assert P.validate_parameters({'x_homography': []}).x_homography is None
    assert P.validate_parameters({'x_homography': [2, 0, 0, 0, 2, 0, 0, 0, 1]}).x_homography \
        == (2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0)


# ------------------------------------------------------------------ the session warps X
class _Recorder:
    """A tracker that records the X image it is given."""

    def __init__(self) -> None:
        self.initialized = False
        self.x_seen: list = []

    def initialize(self, rgb, x, box):
        self.x_seen.append(x)
        self.initialized = True

    def track(self, rgb, x):
        self.x_seen.append(x)
        return np.array([10.0, 10.0, 8.0, 8.0]), 0.9

    def reset(self):
        self.initialized = False


def _x_pair(stamp: int, x_img: np.ndarray, rgb_hw=(48, 64), depth_m=None) -> FramePair:
    rgb = Frame(stamp, 'rgb', np.full((*rgb_hw, 3), 100, np.uint8), arrival_ns=stamp)
    x = Frame(stamp, 'x', x_img, arrival_ns=stamp, depth_m=depth_m)
    return FramePair(stamp, rgb, x, stamp, False)


def test_the_session_warps_x_into_the_rgb_grid_before_tracking() -> None:
    # X: 24x40 (another aspect ratio than the 48x64 RGB), a bright square at x 5..9, y 4..7
    x_img = np.zeros((24, 40, 3), np.uint8)
    x_img[4:8, 5:10] = 255
    hom = (1.5, 0.0, 3.0, 0.0, 1.5, 2.0, 0.0, 0.0, 1.0)   # X px -> RGB px
    problems: list = []
    tracker = _Recorder()
    session = TrackingSession(tracker, P.NodeParams(initial_box=(1.0, 1.0, 10.0, 10.0),
                                                    x_homography=hom),
                              problem=lambda *a: problems.append(a))
    session.process(_x_pair(1, x_img))
    session.process(_x_pair(2, x_img))
    assert problems == []                                  # no aspect mismatch: registered
    assert len(tracker.x_seen) == 2
    for seen in tracker.x_seen:
        assert seen.shape == (48, 64, 3) and seen.dtype == np.uint8
        want = cv2.warpPerspective(x_img, np.reshape(hom, (3, 3)), (64, 48),
                                   flags=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(seen, want)
        ys, xs = np.nonzero(seen[..., 0] > 128)
        # square corners (5, 4) and (9, 7) -> (10.5, 8) and (16.5, 12.5) in RGB pixels
        assert 10 <= xs.min() <= 11 and 16 <= xs.max() <= 17
        assert 8 <= ys.min() <= 9 and 12 <= ys.max() <= 13
    # without a registration the same X frame is a counted aspect mismatch
    plain = TrackingSession(_Recorder(), P.NodeParams(initial_box=(1.0, 1.0, 10.0, 10.0)),
                            problem=lambda *a: problems.append(a))
    plain.process(_x_pair(1, x_img))
    assert problems and problems[-1][:2] == ('x', 'aspect_mismatch')


def test_depth_rigs_warp_with_nearest_neighbour_and_mark_on_the_depth_grid() -> None:
    x_img = np.zeros((24, 32, 3), np.uint8)
    x_img[:, 16:] = (0, 0, 200)
    hom = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0)    # depth at half the RGB resolution
    depth = np.full((24, 32), 2.0, np.float32)
    k = np.array([[200.0, 0, 16], [0, 200.0, 12], [0, 0, 1]])
    problems: list = []
    positions = []
    for reg in (hom, None):
        tracker = _Recorder()
        session = TrackingSession(tracker, P.NodeParams(modality='depth', x_homography=reg,
                                                        initial_box=(20.0, 8.0, 16.0, 12.0),
                                                        x_resize='stretch'),
                                  problem=lambda *a: problems.append(a))
        session.intrinsics = Intrinsics(k, (32, 24), 'depth_frame')
        answer = session.process(_x_pair(1, x_img, depth_m=depth))
        positions.append(answer.position)
        if reg is not None:
            seen = tracker.x_seen[0]
            assert seen.shape == (48, 64, 3)
            assert set(np.unique(seen[..., 2]).tolist()) <= {0, 200}   # no blended values
    assert problems == []
    # a pure 2x registration and the plain 2x resize read the same depth box: same marker
    assert positions[0] is not None and positions[1] is not None
    np.testing.assert_allclose(positions[0].xyz, positions[1].xyz, atol=1e-6)
    assert positions[0].depth_m == pytest.approx(2.0)


TNO = Path('/work/shared/data/real/tno_nato_camp')


@pytest.mark.skipif(not TNO.is_dir(), reason='tno_nato_camp not available')
def test_the_offline_runner_warps_x_with_a_registration() -> None:
    from rgbx_tracker_ros.core.modality import encode_x
    from rgbx_tracker_ros.data.sequences import load_sequence
    from rgbx_tracker_ros.eval.runner import run_sequence

    seq = load_sequence(TNO)
    shift = Registration.from_homography([1, 0, 6, 0, 1, -4, 0, 0, 1])
    plain, warped = _Recorder(), _Recorder()
    run_sequence(plain, seq, max_frames=4)
    run_sequence(warped, seq, max_frames=4, registration=shift)
    assert len(plain.x_seen) == len(warped.x_seen) == 4 - seq.first_valid_frame()
    i = seq.first_valid_frame()
    raw = encode_x(seq.read_x(i), seq.x_encoding, seq.modality)
    np.testing.assert_array_equal(plain.x_seen[0], raw)
    h, w = warped.x_seen[0].shape[:2]
    np.testing.assert_array_equal(warped.x_seen[0][:h - 4, 6:], raw[4:, :w - 6])
    assert np.all(warped.x_seen[0][:, :6] == 0)


# ------------------------------------------------------------------ rgbx-calibrate
H_TRUE = np.array([[1.1, 0.04, 25.0], [-0.03, 1.05, -12.0], [1.5e-4, -8e-5, 1.0]])


def test_ransac_recovers_a_known_homography_from_noisy_pairs_with_outliers() -> None:
    rng = np.random.default_rng(11)
    px = np.column_stack([rng.uniform(0, 320, 40), rng.uniform(0, 256, 40)])
    pr = Registration(H_TRUE).map_points(px) + rng.normal(0, 0.3, (40, 2))
    pr[3] += (60.0, -45.0)                                 # two gross outliers
    pr[17] += (-30.0, 80.0)
    hom, inliers, stats = cal.fit_homography(px, pr, ransac_px=2.0)
    assert not inliers[3] and not inliers[17] and inliers.sum() >= 36
    assert stats['rms_px'] < 0.6 and stats['rms_all_px'] > 5
    corners = np.array([[0, 0], [320, 0], [320, 256], [0, 256], [160, 128]], float)
    err = Registration(hom).map_points(corners) - Registration(H_TRUE).map_points(corners)
    assert np.abs(err).max() < 1.0
    # exactly 4 points (no redundancy) still give the exact answer
    hom4, _, stats4 = cal.fit_homography(px[:4], Registration(H_TRUE).map_points(px[:4]))
    np.testing.assert_allclose(hom4, H_TRUE, rtol=1e-5, atol=1e-6)


def test_too_few_or_degenerate_points_fail_clearly() -> None:
    with pytest.raises(cal.CalibrationError, match='too few point pairs: 3'):
        cal.fit_homography(np.zeros((3, 2)), np.zeros((3, 2)))
    line = np.column_stack([np.arange(6.0), np.arange(6.0)])
    with pytest.raises(cal.CalibrationError):
        cal.fit_homography(line, line * 2)
    with pytest.raises(cal.InputError, match='same shape'):
        cal.fit_homography(np.zeros((5, 2)), np.zeros((4, 2)))


def _write_pairs_csv(path: Path, n: int = 12, header: bool = True) -> None:
    rng = np.random.default_rng(5)
    px = np.column_stack([rng.uniform(0, 320, n), rng.uniform(0, 256, n)])
    pr = Registration(H_TRUE).map_points(px)
    lines = (['x_x,y_x,x_rgb,y_rgb  # pixels'] if header else []) + \
        [','.join(f'{v:.6f}' for v in (*a, *b)) for a, b in zip(px, pr)]
    path.write_text('\n'.join(lines) + '\n')


def test_cli_points_writes_a_rig_snippet_that_loads(tmp_path: Path, capsys) -> None:
    pairs = tmp_path / 'pairs.csv'
    _write_pairs_csv(pairs)
    assert cal.main(['points', str(pairs)]) == 0
    out, err = capsys.readouterr()
    assert 'reprojection error RMS' in err and ' px' in err
    snippet = yaml.safe_load(out)
    np.testing.assert_allclose(snippet['registration']['homography'], H_TRUE, rtol=1e-5,
                               atol=1e-7)
    # --out, and the file appended to a rig gives the node parameter
    out_file = tmp_path / 'reg' / 'registration.yaml'
    assert cal.main(['points', str(pairs), '--out', str(out_file)]) == 0
    rig_file = tmp_path / 'rig.yaml'
    rig_file.write_text(BASE_RIG + out_file.read_text())
    cfg = node_configuration(load_rig(rig_file))
    np.testing.assert_allclose(cfg.parameters['x_homography'], H_TRUE.reshape(-1), rtol=1e-5,
                               atol=1e-7)
    # YAML point files too
    yaml_pairs = tmp_path / 'pairs.yaml'
    px, pr = cal.read_point_pairs(pairs)
    yaml_pairs.write_text(yaml.safe_dump({'points': np.hstack([px, pr]).tolist()}))
    assert cal.main(['points', str(yaml_pairs)]) == 0


def test_cli_exit_codes(tmp_path: Path, capsys) -> None:
    few = tmp_path / 'few.csv'
    few.write_text('1,2,3,4\n5,6,7,8\n9,10,11,13\n')
    assert cal.main(['points', str(few)]) == 1
    assert 'too few point pairs: 3' in capsys.readouterr().err
    bad = tmp_path / 'bad.csv'
    bad.write_text('1,2,3,4\n5,6,seven,8\n')
    assert cal.main(['points', str(bad)]) == 2
    assert 'bad.csv: line 2: expected 4 numbers' in capsys.readouterr().err
    assert cal.main(['points', str(tmp_path / 'missing.csv')]) == 2
    assert 'cannot read' in capsys.readouterr().err
    assert cal.main(['chessboard', '--rgb', 'a.png', '--pattern', '9x6']) == 2
    assert cal.main(['chessboard', '--rgb', 'a.png', '--x', 'b.png', '--pattern', 'nine']) == 2
    with pytest.raises(SystemExit) as info:
        cal.main(['points'])
    assert info.value.code == 2


# chessboard: 10 x 7 squares of 24 px (9 x 6 inner corners) on a white margin
SQUARE, PATTERN = 24, (9, 6)


def _board() -> np.ndarray:
    cols, rows = PATTERN[0] + 1, PATTERN[1] + 1
    margin = 2 * SQUARE
    img = np.full((rows * SQUARE + 2 * margin, cols * SQUARE + 2 * margin), 255, np.uint8)
    for r in range(rows):
        for c in range(cols):
            if (r + c) % 2 == 0:
                y, x = margin + r * SQUARE, margin + c * SQUARE
                img[y:y + SQUARE, x:x + SQUARE] = 0
    return img


def _views() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB view (480, 640, 3) uint8, thermal view (256, 320) uint16 of a heated board
    (inverted contrast, a few hundred counts), the true X -> RGB homography)."""
    board = _board()
    board_to_rgb = np.array([[1.2, 0.1, 90.0], [-0.05, 1.15, 70.0], [1e-4, 5e-5, 1.0]])
    board_to_x = np.array([[0.65, 0.02, 40.0], [-0.01, 0.62, 30.0], [6e-5, 2e-5, 1.0]])
    rgb = cv2.warpPerspective(board, board_to_rgb, (640, 480), flags=cv2.INTER_AREA,
                              borderValue=160)
    rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR)
    x8 = cv2.warpPerspective(board, board_to_x, (320, 256), flags=cv2.INTER_LINEAR,
                             borderValue=160)
    x8 = cv2.GaussianBlur(x8, (3, 3), 0)                   # a thermal lens is soft
    rng = np.random.default_rng(2)
    thermal = (7400.0 + (255.0 - x8) * 1.5 + rng.normal(0, 2.0, x8.shape)).astype(np.uint16)
    return rgb, thermal, board_to_rgb @ np.linalg.inv(board_to_x)


def _grid_error(hom: np.ndarray, truth: np.ndarray) -> float:
    grid = np.stack(np.meshgrid(np.linspace(40, 280, 7), np.linspace(30, 220, 5)),
                    -1).reshape(-1, 2)
    return float(np.abs(Registration(hom).map_points(grid)
                        - Registration(truth).map_points(grid)).max())


def test_chessboard_calibration_on_a_rendered_pair(tmp_path: Path, capsys) -> None:
    rgb, thermal, truth = _views()
    px, pr = cal.chessboard_pairs([(rgb, thermal, 'rendered')], PATTERN)
    assert px.shape == pr.shape == (PATTERN[0] * PATTERN[1], 2)
    hom, _, stats = cal.fit_homography(px, pr)
    assert stats['rms_px'] < 0.5 and _grid_error(hom, truth) < 1.0
    # OpenCV may number the corners of the inverted (heated) board from the other end: either
    # order of the X corners gives the same pairs
    np.testing.assert_array_equal(cal._consistent_order(px[::-1].copy(), pr, PATTERN), px)
    # the same through the CLI, from image files (a 16-bit PNG for the thermal camera)
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb)
    cv2.imwrite(str(tmp_path / 'thermal.png'), thermal)
    assert cv2.imread(str(tmp_path / 'thermal.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    code = cal.main(['chessboard', '--rgb', str(tmp_path / 'rgb.png'), '--x',
                     str(tmp_path / 'thermal.png'), '--pattern', '9x6'])
    out, err = capsys.readouterr()
    assert code == 0, err
    got = np.asarray(yaml.safe_load(out)['registration']['homography'])
    assert _grid_error(got, truth) < 1.0


def test_chessboard_not_found_is_exit_status_1(tmp_path: Path, capsys) -> None:
    rgb, thermal, _ = _views()
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb)
    cv2.imwrite(str(tmp_path / 'flat.png'), np.full((256, 320), 7400, np.uint16))
    code = cal.main(['chessboard', '--rgb', str(tmp_path / 'rgb.png'), '--x',
                     str(tmp_path / 'flat.png'), '--pattern', '9x6'])
    assert code == 1
    assert 'no 9x6 chessboard found in the X image' in capsys.readouterr().err
    code = cal.main(['chessboard', '--rgb', str(tmp_path / 'rgb.png'), '--x',
                     str(tmp_path / 'flat.png'), '--pattern', '7x4'])
    assert code == 1
    assert 'no 7x4 chessboard found in the RGB image' in capsys.readouterr().err


def test_the_node_declares_and_reads_x_homography() -> None:
    """The parameter reaches a real TrackerNode (declared from the schema, read-only)."""
    import random

    rclpy = pytest.importorskip('rclpy')
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from rgbx_tracker_ros.ros.tracker_node import TrackerNode

    hom = [1.5, 0.0, 3.0, 0.0, 1.5, 2.0, 0.0, 0.0, 1.0]
    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(101, 200))
    try:
        overrides = [Parameter('variant', value='test_tiny'),
                     Parameter('checkpoint', value='none'), Parameter('device', value='cpu'),
                     Parameter('x_homography', value=hom)]
        node = TrackerNode(start_worker=False, context=ctx, parameter_overrides=overrides)
        try:
            assert node.params.x_homography == tuple(hom)
            assert node.describe_parameter('x_homography').read_only
            np.testing.assert_allclose(node.pipeline.session.registration.homography,
                                       np.reshape(hom, (3, 3)))
        finally:
            node.destroy_node()
        plain = TrackerNode(start_worker=False, context=ctx, parameter_overrides=overrides[:3])
        try:
            assert plain.params.x_homography is None
            assert plain.pipeline.session.registration is None
        finally:
            plain.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_chessboard_calibration_from_the_frames_of_a_bag(tmp_path: Path, capsys) -> None:
    from rgbx_tracker_ros.ros.bag_io import FrameSource, write_bag

    rgb, thermal, truth = _views()
    source = FrameSource(name='board', num_frames=2, rgb=lambda k: rgb, rgb_encoding='bgr8',
                         x=lambda k: thermal, x_encoding='mono16',
                         gt_xywh=np.zeros((2, 4)), x_modality='thermal')
    write_bag(source, tmp_path / 'bag')
    out_file = tmp_path / 'reg.yaml'
    code = cal.main(['chessboard', '--bag', str(tmp_path / 'bag'), '--frame', '2',
                     '--pattern', '9x6', '--out', str(out_file)])
    assert code == 0, capsys.readouterr().err
    got = np.asarray(yaml.safe_load(out_file.read_text())['registration']['homography'])
    assert _grid_error(got, truth) < 1.0
    assert cal.main(['chessboard', '--bag', str(tmp_path / 'bag'), '--frame', '3',
                     '--pattern', '9x6']) == 2
    assert 'has frames 1..2' in capsys.readouterr().err
