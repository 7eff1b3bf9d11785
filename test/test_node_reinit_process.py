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

"""Cross-process: `rgbx-launch` starts tracker_node for a generated rig file (own namespace and
topics, initial_box); this test's rclpy client feeds frames and drives the init flow:
initial_box -> tracking -> ~/reset (empty detections) -> ~/init_from_detections (class pick)
-> ~/reset -> ~/init (Detection2D) -> rgbx-select --bag --box (bag frame stamp); then SIGINT to
rgbx-launch stops everything cleanly. Tiny test variant, random weights (plumbing only)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from rgbx_tracker_ros.cli.demo import ros_env, stop_process
from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.bag_io import synthetic_source, write_bag
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, box_to_detection, detections_to_result, ns_to_stamp, stamp_to_ns)

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
N = 16
NS = '/itest'
NODE = f'{NS}/tracker_node'


def _rig(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        'description': 'test rig: generated thermal sequence',
        'modality': 'thermal', 'namespace': 'ignored_by_override',
        'topics': {'rgb': 'front/color', 'x': 'front/lwir'},
        'encodings': {'rgb': 'rgb8', 'x': 'mono16'},
        'rates_hz': {'rgb': 10.0, 'x': 10.0},
        'sync': {'slop': 0.02, 'x_timeout': 2.0, 'x_grace': 0.03},
        'qos': {'reliability': 'reliable', 'depth': 10},
        'tracking': {'score_threshold': 0.0, 'init_class_id': 'person'},
        'compute': {'cpu': {'variant': 'test_tiny', 'checkpoint': 'none', 'device': 'cpu'}},
    }))
    return path


class Client:
    """The test's rclpy side: frame publishers, answer / debug-image subscribers, init
    publishers and the ~/reset client."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = rclpy.create_node('itest_client', context=self.ctx)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                         reliability=ReliabilityPolicy.RELIABLE)
        n = self.node
        self.rgb = n.create_publisher(Image, f'{NS}/front/color', qos)
        self.x = n.create_publisher(Image, f'{NS}/front/lwir', qos)
        self.init = n.create_publisher(Detection2D, f'{NODE}/init', qos)
        self.init_dets = n.create_publisher(Detection2DArray, f'{NODE}/init_from_detections',
                                            qos)
        self.reset = n.create_client(Trigger, f'{NODE}/reset')
        self.answers: dict[int, Detection2DArray] = {}
        self.debug: list[Image] = []
        self.det_sub = n.create_subscription(
            Detection2DArray, f'{NODE}/detections',
            lambda m: self.answers.__setitem__(stamp_to_ns(m.header.stamp), m), qos)
        self.dbg_sub = n.create_subscription(Image, f'{NODE}/debug_image', self.debug.append,
                                             qos)

    def spin_until(self, cond, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > end:
                return False
            self.ex.spin_once(timeout_sec=0.02)
        return True

    def close(self) -> None:
        self.ex.remove_node(self.node)
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('reinit')
    seq = generate_sequence('thermal', N, 160, 128, seed=9, num_occlusions=0)
    info = write_bag(synthetic_source(seq), tmp / 'seq.bag', rate_hz=10.0)
    domain = random.SystemRandom().randint(1, 100)
    env = ros_env(domain)
    env['OMP_NUM_THREADS'] = '1'
    box0 = ','.join(f'{v:.2f}' for v in seq.boxes_xywh[0])
    log = open(tmp / 'launch.log', 'w')
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.launch', '--rig',
         str(_rig(tmp / 'itest_rig.yaml')), '--namespace', NS, '--initial-box', box0],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    # the client's participant must use the node's transports (ros_env: LARGE_DATA)
    mp = pytest.MonkeyPatch()
    mp.setenv('FASTDDS_BUILTIN_TRANSPORTS', env['FASTDDS_BUILTIN_TRANSPORTS'])
    mp.delenv('ROS_AUTOMATIC_DISCOVERY_RANGE', raising=False)
    client = Client(domain)
    mp.undo()
    yield {'seq': seq, 'stamps': info.stamps_ns, 'bag': info.path, 'env': env,
           'launcher': launcher, 'client': client, 'log': tmp / 'launch.log'}
    client.close()
    stop_process(launcher)
    log.close()


def _send(c: Client, seq, stamps, k: int) -> tuple[np.ndarray | None, float | None]:
    stamp = int(stamps[k])
    c.x.publish(array_to_image(seq.x_raw[k], 'mono16', stamp, 'lwir'))
    c.rgb.publish(array_to_image(seq.rgb[k], 'rgb8', stamp, 'color'))
    assert c.spin_until(lambda: stamp in c.answers, 20.0), f'no answer for frame {k}'
    return detections_to_result(c.answers[stamp])


def _run_cli(cmd: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, str]:
    """Run a CLI; on a hang, SIGABRT it so that faulthandler prints where it hangs."""
    env = {**env, 'PYTHONFAULTHANDLER': '1'}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out = proc.communicate(timeout=timeout_s)[0]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out = 'TIMED OUT\n' + proc.communicate()[0]
    return proc.returncode, out


def _reset(c: Client) -> str:
    assert c.reset.wait_for_service(timeout_sec=10.0)
    fut = c.reset.call_async(Trigger.Request())
    assert c.spin_until(fut.done, 10.0)
    assert fut.result().success
    return fut.result().message


def test_init_reset_and_reinit_across_processes(setup) -> None:
    c, seq, stamps = setup['client'], setup['seq'], setup['stamps']
    gt = seq.boxes_xywh
    ready = c.spin_until(lambda: c.rgb.get_subscription_count() > 0
                         and c.x.get_subscription_count() > 0
                         and c.det_sub.get_publisher_count() > 0
                         and c.init_dets.get_subscription_count() > 0, 120.0)
    assert ready, setup['log'].read_text()[-3000:]
    c.spin_until(lambda: False, 0.3)

    box, score = _send(c, seq, stamps, 0)                # initial_box on the first frame
    np.testing.assert_allclose(box, gt[0], atol=0.01)
    assert score == pytest.approx(1.0)
    for k in (1, 2):
        assert _send(c, seq, stamps, k)[0] is not None
    assert 'target dropped' in _reset(c)
    for k in (3, 4):
        assert _send(c, seq, stamps, k) == (None, None)  # empty arrays until re-init

    # a detector's output: the rig's init_class_id 'person' wins over a better 'car'
    arr = Detection2DArray(header=Header(stamp=ns_to_stamp(int(stamps[5]))))
    for box_, cls, sc in (([5.0, 5.0, 30.0, 20.0], 'car', 0.95), (gt[5], 'person', 0.7),
                          ([100.0, 90.0, 12.0, 12.0], 'person', 0.4)):
        d = box_to_detection(box_, sc)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = cls, sc
        d.results = [hyp]
        arr.detections.append(d)
    c.init_dets.publish(arr)
    c.spin_until(lambda: False, 0.3)
    box, score = _send(c, seq, stamps, 5)
    np.testing.assert_allclose(box, gt[5], atol=1e-3)
    assert score == pytest.approx(1.0)
    assert _send(c, seq, stamps, 6)[0] is not None

    _reset(c)
    assert _send(c, seq, stamps, 7) == (None, None)
    # a Detection2D on ~/init with stamp 0: the next frame
    c.init.publish(box_to_detection(gt[8], 1.0, Header(stamp=ns_to_stamp(0))))
    c.spin_until(lambda: False, 0.3)
    np.testing.assert_allclose(_send(c, seq, stamps, 8)[0], gt[8], atol=1e-3)
    assert _send(c, seq, stamps, 9)[0] is not None

    # rgbx-select (headless: --box) on bag frame 11 = index 10: the box for that frame's stamp
    box_txt = ','.join(f'{v:.3f}' for v in gt[10])
    code, out = _run_cli([sys.executable, '-m', 'rgbx_tracker_ros.cli.select', '--node', NODE,
                          '--bag', str(setup['bag']), '--frame', '11', '--box', box_txt],
                         setup['env'], 60.0)
    assert code == 0, out
    assert f'frame stamp {int(stamps[10])}' in out
    box, score = _send(c, seq, stamps, 10)
    np.testing.assert_allclose(box, gt[10], atol=1e-2)
    assert score == pytest.approx(1.0)

    # rgbx-select --from-debug-image: grabs the node's debug image while frames flow and sends
    # the box with that image's stamp (a frame the node has processed: re-init on it, or on
    # the next frame if newer ones came meanwhile)
    sel = subprocess.Popen(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.select', '--node', NODE,
         '--from-debug-image', '--box', '20,30,25,35', '--timeout', '30'],
        cwd=REPO, env=setup['env'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    k = 11
    while sel.poll() is None and k < N - 1:
        _send(c, seq, stamps, k)
        c.spin_until(lambda: sel.poll() is not None, 1.5)
        k += 1
    out = sel.communicate(timeout=30)[0]
    assert sel.returncode == 0, out
    grabbed = int(out.split('frame stamp ')[1].split()[0])
    assert grabbed in [int(s) for s in stamps[11:k]]
    c.spin_until(lambda: False, 0.5)
    box, _ = _send(c, seq, stamps, k)
    got = [detections_to_result(c.answers[s])[0] for s in (grabbed, int(stamps[k]))]
    assert any(g is not None and np.allclose(g, [20, 30, 25, 35]) for g in got), got

    # every answer and debug image carries the RGB frame's header
    assert sorted(c.answers) == [int(s) for s in stamps[:k + 1]]
    assert all(c.answers[s].header.frame_id == 'color' for s in c.answers)
    assert c.spin_until(lambda: len(c.debug) >= 1, 5.0)
    assert {stamp_to_ns(m.header.stamp) for m in c.debug} <= set(c.answers)
    assert (c.debug[-1].height, c.debug[-1].width, c.debug[-1].encoding) == (128, 160, 'rgb8')

    # SIGINT to rgbx-launch reaches the node: both exit cleanly
    launcher = setup['launcher']
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=30) == 0, setup['log'].read_text()[-3000:]
    log = setup['log'].read_text()
    assert '[rgbx-launch] starting tracker_node' in log
    assert '~/reset: target dropped' in log
    assert 'picked' in log and "class person" in log
