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

"""config/rviz/tracker.rviz parses as rviz2 YAML and names only topics the tracker node (RGB-D
rig, its default namespace) publishes, with the matching message types; rewritten for another
rig or namespace (bringup.rviz_config), it names that node's topics."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.parameter import Parameter

from rgbx_tracker_ros.bringup import node_configuration, rviz_config
from rgbx_tracker_ros.core.rig import load_rig

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
RVIZ = REPO / 'config' / 'rviz' / 'tracker.rviz'
DISPLAY_TYPES = {'rviz_default_plugins/Image': 'sensor_msgs/msg/Image',
                 'rviz_default_plugins/MarkerArray': 'visualization_msgs/msg/MarkerArray'}


def _topic_displays(displays: list[dict]) -> list[tuple[str, str]]:
    out = []
    for d in displays:
        topic = d.get('Topic')
        if isinstance(topic, dict):
            out.append((d['Class'], topic['Value']))
        elif isinstance(topic, str):
            out.append((d['Class'], topic))
        out += _topic_displays(d.get('Displays', []))       # display groups
    return out


def test_rviz_topics_are_published_by_the_node() -> None:
    cfg = yaml.safe_load(RVIZ.read_text())
    manager = cfg['Visualization Manager']
    displays = _topic_displays(manager['Displays'])
    classes = {c for c, _ in displays}
    assert classes == set(DISPLAY_TYPES), classes          # debug image + 3D marker
    rig = load_rig('rgbd_realsense_d435')
    conf = node_configuration(rig, overrides={'variant': 'test_tiny', 'checkpoint': 'none'})
    assert manager['Global Options']['Fixed Frame'] == 'camera_color_optical_frame'

    published = _published(conf)
    for cls, topic in displays:
        assert topic in published, f'rviz names {topic}; the node publishes {published}'
        msg = published[topic]
        assert f'{msg.__module__.split(".")[0]}/msg/{msg.__name__}' == DISPLAY_TYPES[cls]


def _published(conf) -> dict:
    """topic -> message type of a TrackerNode started with ``conf`` (test model, CPU)."""
    from rgbx_tracker_ros.ros.tracker_node import TrackerNode

    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    params = {**conf.parameters, 'device': 'cpu'}
    node = TrackerNode(context=ctx, namespace=conf.namespace, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items() if k != 'use_sim_time'])
    try:
        return {pub.topic_name: pub.msg_type for pub in node.publishers}
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)


@pytest.mark.parametrize('rig,namespace', [('rgbt_flir_boson', None), ('rgb_only', None),
                                           ('rgbd_realsense_d435', 'robot/front'),
                                           ('rgbt_flir_boson', '/')])
def test_rewritten_rviz_config_names_that_nodes_topics(rig: str, namespace) -> None:
    conf = node_configuration(load_rig(rig), namespace,
                              overrides={'variant': 'test_tiny', 'checkpoint': 'none'})
    text = rviz_config(conf.fully_qualified_name)
    displays = _topic_displays(yaml.safe_load(text)['Visualization Manager']['Displays'])
    published = _published(conf)
    image = [t for c, t in displays if c == 'rviz_default_plugins/Image']
    assert image == [conf.fully_qualified_name + '/debug_image']
    assert image[0] in published          # every rig publishes the debug image
    # the 3D marker exists on RGB-D rigs only; where published its type matches the display
    for cls, topic in displays:
        assert topic.startswith(conf.fully_qualified_name + '/')
        if topic in published:
            msg = published[topic]
            assert f'{msg.__module__.split(".")[0]}/msg/{msg.__name__}' == DISPLAY_TYPES[cls]


def test_rviz_config_errors() -> None:
    with pytest.raises(ValueError, match='absolute name'):
        rviz_config('tracker_node')
    with pytest.raises(ValueError, match='names no topic'):
        rviz_config('/a/tracker_node', template='Panels: []\n')


def _layout_topics(value) -> set[str]:
    """Every topic a Foxglove layout names (imageTopic, annotation keys, topicPath, ...)."""
    out = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ('imageTopic', 'topicPath', 'topicToRender') and isinstance(item, str):
                out.add(item)
            elif key == 'annotations' and isinstance(item, dict):
                out.update(item)
            else:
                out |= _layout_topics(item)
    elif isinstance(value, list):
        for item in value:
            out |= _layout_topics(item)
    return out


def test_foxglove_layout_names_the_nodes_topics_and_its_panels_exist() -> None:
    import json
    from rgbx_tracker_ros.bringup import foxglove_layout_path
    # the installed copy (share folder) first, else the source tree's: the same file
    source = REPO / 'config' / 'foxglove' / 'tracker_layout.json'
    assert foxglove_layout_path().read_bytes() == source.read_bytes()
    layout = json.loads(foxglove_layout_path().read_text())
    rig = load_rig('rgbt_flir_boson')
    conf = node_configuration(rig, namespace='/',
                              overrides={'variant': 'test_tiny', 'checkpoint': 'none'})
    published = _published(conf)
    inputs = {'/rgb/image_raw', '/x/image_raw'}          # the node's inputs (before remapping)
    names = _layout_topics(layout['configById'])
    assert '/tracker_node/annotations' in names
    assert published['/tracker_node/annotations'].__name__ == 'ImageAnnotations'
    assert names - inputs <= set(published), (names, set(published))

    def panels(tree) -> set[str]:
        return {tree} if isinstance(tree, str) else panels(tree['first']) | panels(tree['second'])
    assert panels(layout['layout']) == set(layout['configById'])
