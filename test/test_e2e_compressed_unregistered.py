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

"""End to end, as on a robot: a bag of CompressedImage topics whose thermal camera is not
pixel-registered to the RGB camera (a known homography) is replayed through the lifecycle
tracker node, which is driven to active by its lifecycle services (autostart false), decodes the
JPEG / PNG frames itself (transport compressed) and warps X into the RGB grid (x_homography).
Its boxes must match the run on the raw, registered bag of the same frames.

The frames are the shared real TNO RGB-T sequence (32 frames); the model is the packaged
trained ``t224_demo.pt`` (random weights would make the comparison meaningless)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core.boxes import iou_xywh

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
TNO = REPO.parent / 'shared' / 'data' / 'real' / 'tno_nato_camp'
CHECKPOINT = REPO / 'checkpoints' / 't224_demo.pt'
#: X pixels -> RGB pixels: 3 degrees of rotation, 0.92 scale, a shift (the thermal camera sits
#: beside the RGB camera and has a narrower field of view).
ANGLE, SCALE, SHIFT = np.deg2rad(3.0), 0.92, (14.0, -9.0)


def _homography(width: int, height: int) -> np.ndarray:
    """Rotation + scale about the image centre, then a shift (X -> RGB pixels)."""
    c, s = SCALE * np.cos(ANGLE), SCALE * np.sin(ANGLE)
    cx, cy = width / 2.0, height / 2.0
    a = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    to_c = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx + SHIFT[0]], [0.0, 1.0, cy + SHIFT[1]], [0.0, 0.0, 1.0]])
    return back @ a @ to_c


def _unregistered_copy(dst: Path) -> np.ndarray:
    """TNO with the infrared frames moved into an unregistered camera's view: X_unreg(p) =
    X(H p) (cv2.warpPerspective with H^-1), written lossless; returns H (X -> RGB)."""
    shutil.copytree(TNO / 'visible', dst / 'visible')
    for name in ('visible.txt', 'infrared.txt'):
        shutil.copy(TNO / name, dst / name)
    (dst / 'infrared').mkdir()
    frames = sorted((TNO / 'infrared').iterdir())
    h_img, w_img = cv2.imread(str(frames[0]), cv2.IMREAD_UNCHANGED).shape[:2]
    hom = _homography(w_img, h_img)
    for path in frames:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        moved = cv2.warpPerspective(img, np.linalg.inv(hom), (w_img, h_img),
                                    flags=cv2.INTER_LINEAR)
        cv2.imwrite(str(dst / 'infrared' / (path.stem + '.png')), moved)
    return hom


def _lifecycle(domain: int, node_name: str, transitions) -> list[str]:
    """Call ``node_name``'s change_state with each transition; returns the state labels seen
    (before, then after each transition)."""
    import rclpy
    from lifecycle_msgs.srv import ChangeState, GetState
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain)
    client_node = rclpy.create_node('e2e_lifecycle_client', context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(client_node)
    change = client_node.create_client(ChangeState, f'{node_name}/change_state')
    get = client_node.create_client(GetState, f'{node_name}/get_state')

    def call(client, request):
        assert client.wait_for_service(timeout_sec=120.0), f'{client.srv_name} missing'
        future = client.call_async(request)
        deadline = time.monotonic() + 120
        while not future.done() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert future.done(), f'{client.srv_name} did not answer'
        return future.result()

    try:
        labels = [call(get, GetState.Request()).current_state.label]
        for transition in transitions:
            req = ChangeState.Request()
            req.transition.id = transition
            assert call(change, req).success, f'transition {transition} failed'
            labels.append(call(get, GetState.Request()).current_state.label)
        return labels
    finally:
        executor.shutdown()
        client_node.destroy_node()
        rclpy.shutdown(context=ctx)


def _replay(bag: Path, out: Path, transport: str, homography: np.ndarray | None,
            lifecycle: bool) -> tuple[dict, list[str]]:
    """The node of ``bringup.replay_configuration`` (+ x_homography) and rgbx-player on
    ``bag``; with ``lifecycle`` the node starts unconfigured and is configured / activated by
    its services before the player starts. Returns (results.csv columns, lifecycle labels)."""
    from lifecycle_msgs.msg import Transition

    from rgbx_tracker_ros.bringup import replay_configuration
    from rgbx_tracker_ros.cli.demo import read_results, ros_env
    from rgbx_tracker_ros.core.rig import load_rig

    domain = random.SystemRandom().randint(1, 100)
    env = ros_env(domain)
    env['OMP_NUM_THREADS'] = '1'
    cfg = replay_configuration(
        load_rig('rgbt_flir_boson'), bag, out, '/',
        {'variant': 't224', 'checkpoint': str(CHECKPOINT), 'device': 'cpu',
         'autostart': 'false' if lifecycle else 'true'}, transport=transport)
    if homography is not None:
        cfg.node.parameters['x_homography'] = [float(v) for v in homography.ravel()]
    node = subprocess.Popen(cfg.node.command(sys.executable), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    labels: list[str] = []
    try:
        if lifecycle:
            labels = _lifecycle(domain, cfg.node.fully_qualified_name,
                                (Transition.TRANSITION_CONFIGURE,
                                 Transition.TRANSITION_ACTIVATE))
        cmd = cfg.player.command(sys.executable)
        at = cmd.index('--wait-for')           # no recorder in this test
        del cmd[at:at + 2]
        player = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=400)
        assert player.returncode == 0, player.stdout[-2000:] + player.stderr[-3000:]
    finally:
        node.terminate()
        log, _ = node.communicate(timeout=60)
    assert 'Traceback' not in log, log[-3000:]
    return read_results(out / 'results.csv'), labels


def test_compressed_unregistered_bag_through_lifecycle_node_matches_raw(tmp_path) -> None:
    from rgbx_tracker_ros.cli import make_bag

    assert TNO.is_dir() and CHECKPOINT.is_file()
    hom = _unregistered_copy(tmp_path / 'tno_unregistered')
    raw_bag, jpeg_bag = tmp_path / 'raw.bag', tmp_path / 'jpeg_unregistered.bag'
    assert make_bag.main([str(TNO), str(raw_bag), '--rate', '10']) == 0
    assert make_bag.main([str(tmp_path / 'tno_unregistered'), str(jpeg_bag), '--rate', '10',
                          '--layout', 'rgbt234', '--compressed']) == 0
    from rgbx_tracker_ros.ros.bag_io import read_bag_frames
    stored = read_bag_frames(jpeg_bag)
    assert {f.rgb_type for f in stored} == {'sensor_msgs/msg/CompressedImage'}
    assert {f.x_type for f in stored} == {'sensor_msgs/msg/CompressedImage'}

    raw, _ = _replay(raw_bag, tmp_path / 'raw_run', 'raw', None, lifecycle=False)
    got, labels = _replay(jpeg_bag, tmp_path / 'jpeg_run', 'compressed', hom, lifecycle=True)
    assert labels == ['unconfigured', 'inactive', 'active']
    n = len(stored)
    assert len(raw['answered']) == len(got['answered']) == n
    assert raw['answered'].all() and got['answered'].all()
    boxed = np.isfinite(raw['boxes'][:, 0])
    # the same frames have a box (TNO's person is out of sight for ten frames in both runs)
    np.testing.assert_array_equal(np.isfinite(got['boxes'][:, 0]), boxed)
    assert boxed.sum() >= n // 2
    ious = iou_xywh(raw['boxes'][boxed], got['boxes'][boxed])
    # JPEG loss and the border the warp leaves empty move the box a little, not off the target
    assert np.median(ious) > 0.8 and ious.min() > 0.5, ious
    # control: the same bag without the registration loses the target (so the warp is what
    # made the runs agree)
    unwarped, _ = _replay(jpeg_bag, tmp_path / 'jpeg_run_unwarped', 'compressed', None,
                          lifecycle=False)
    kept = np.isfinite(unwarped['boxes'][:, 0]) & boxed
    control = iou_xywh(raw['boxes'][kept], unwarped['boxes'][kept]) if kept.any() else np.zeros(1)
    assert kept.sum() < boxed.sum() or np.median(control) < 0.6, control
