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

"""tracker_node as a lifecycle node: autostart walks it to active in the constructor (as every
other node test relies on); with autostart false it waits unconfigured, configure loads the
model and creates the outputs, activate subscribes the cameras and answers frames, deactivate
unsubscribes, cleanup frees the model; a configure that fails leaves it unconfigured; in a
process, the lifecycle services drive it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.conversions import array_to_image
from rgbx_tracker_ros.ros.tracker_node import TrackerNode

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
TINY = {'variant': 'test_tiny', 'checkpoint': 'none', 'device': 'cpu',
        'initial_box': [40.0, 30.0, 30.0, 30.0]}


def _node(**extra):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    params = dict(TINY, **extra)
    node = TrackerNode(start_worker=False, context=ctx,
                       parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    node.ctx = ctx
    return node


def _close(node) -> None:
    node.destroy_node()
    rclpy.shutdown(context=node.ctx)


def _subscribed(node) -> set[str]:
    return {s.topic_name for s in node.subscriptions}


def test_transitions_load_subscribe_unsubscribe_and_free() -> None:
    node = _node(autostart=False)
    try:
        assert node.lifecycle_state == 'unconfigured' and node.pipeline is None
        assert '/rgb/image_raw' not in _subscribed(node)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == 'inactive' and node.pipeline is not None
        assert '/tracker_node/init' in _subscribed(node)
        assert '/rgb/image_raw' not in _subscribed(node)        # not before activate
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert {'/rgb/image_raw', '/x/image_raw'} <= _subscribed(node)
        published = []
        node.detections_pub.publish = published.append
        seq = generate_sequence('thermal', 3, 160, 128, seed=1)
        for k in range(3):
            stamp = 10**9 + k * 10**8
            node._on_x(array_to_image(seq.x_raw[k], 'mono16', stamp, 'x'))
            node._on_rgb(array_to_image(seq.rgb[k], 'rgb8', stamp, 'rgb'))
            node.step()
        assert len(published) == 3
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == 'inactive'
        assert '/rgb/image_raw' not in _subscribed(node) and node.pipeline is not None
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS   # and back
        assert '/rgb/image_raw' in _subscribed(node)
        node.trigger_deactivate()
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == 'unconfigured' and node.pipeline is None
        assert '/tracker_node/init' not in _subscribed(node)
        assert node.step() == []
    finally:
        _close(node)


def test_failed_configure_stays_unconfigured_and_autostart_raises(tmp_path) -> None:
    node = _node(autostart=False, checkpoint=str(tmp_path / 'missing.pt'))
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.lifecycle_state == 'unconfigured' and node.pipeline is None
    finally:
        _close(node)
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        _node(checkpoint=str(tmp_path / 'missing.pt'))


def test_lifecycle_services_drive_the_node_process() -> None:
    domain = random.SystemRandom().randint(101, 200)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED='1')
    args = [f'{k}:={v}' for k, v in TINY.items() if k != 'initial_box'] + ['autostart:=false']
    cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args']
    for a in args:
        cmd += ['-p', a]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain)
    client_node = rclpy.create_node('lifecycle_client', context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(client_node)
    try:
        change = client_node.create_client(ChangeState, '/tracker_node/change_state')
        get = client_node.create_client(GetState, '/tracker_node/get_state')

        def call(client, request):
            assert client.wait_for_service(timeout_sec=60.0), 'lifecycle service missing'
            future = client.call_async(request)
            deadline = time.monotonic() + 60
            while not future.done() and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.1)
            return future.result()

        assert call(get, GetState.Request()).current_state.label == 'unconfigured'
        for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            req = ChangeState.Request()
            req.transition.id = transition
            assert call(change, req).success
        assert call(get, GetState.Request()).current_state.label == 'active'
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                not client_node.get_publishers_info_by_topic('/tracker_node/detections'):
            executor.spin_once(timeout_sec=0.1)
        assert client_node.get_subscriptions_info_by_topic('/rgb/image_raw')
    finally:
        executor.shutdown()
        client_node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert 'Traceback' not in out, out[-3000:]


def test_qos_overrides_per_input_the_image_pipeline_way() -> None:
    from rclpy.qos import ReliabilityPolicy
    node = _node(**{'qos_overrides./rgb/image_raw.subscription.reliability': 'reliable',
                    'qos_overrides./rgb/image_raw.subscription.depth': 7})
    try:
        subs = {s.topic_name: s for s in node.subscriptions}
        rgb, x = subs['/rgb/image_raw'].qos_profile, subs['/x/image_raw'].qos_profile
        assert (rgb.reliability, rgb.depth) == (ReliabilityPolicy.RELIABLE, 7)
        assert (x.reliability, x.depth) == (ReliabilityPolicy.BEST_EFFORT, 5)   # the defaults
        desc = node.describe_parameter('qos_overrides./x/image_raw.subscription.reliability')
        assert desc.read_only
        # re-activating re-creates the subscriptions with the same overrides
        node.trigger_deactivate()
        node.trigger_activate()
        subs = {s.topic_name: s for s in node.subscriptions}
        assert subs['/rgb/image_raw'].qos_profile.depth == 7
    finally:
        _close(node)
