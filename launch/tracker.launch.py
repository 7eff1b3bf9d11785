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

"""Launch the RGB-X tracker node for one sensor rig.

    ros2 launch rgbx_tracker_ros tracker.launch.py rig:=rgbt_flir_boson
    ros2 launch rgbx_tracker_ros tracker.launch.py rig:=rgbd_realsense_d435 namespace:=camera \
        compute:=gpu use_sim_time:=true
    ros2 launch rgbx_tracker_ros tracker.launch.py rig:=rgbt_flir_boson rviz:=true

The rig (a name under share/rgbx_tracker_ros/config/rigs/ or a path to a rig .yaml) is loaded
and validated by rgbx_tracker_ros.core.rig; rgbx_tracker_ros.bringup.node_configuration() gives
the node's name, namespace, parameters and remappings. rgbx-launch calls the same function,
so both start the same node. Empty launch arguments keep the rig's values; params_file:=FILE
applies a parameter YAML over them (any node parameter), log_level:=debug sets the node's log
level, autostart:=false leaves the lifecycle node unconfigured for its lifecycle services.
``rviz:=true`` (an IfCondition) also starts rviz2 with config/rviz/tracker.rviz rewritten for
the node's namespace (bringup.rviz_launch_kwargs).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGUMENTS = (
    ('rig', 'rgbt_flir_boson', 'rig name (config/rigs/<rig>.yaml) or path to a rig .yaml'),
    ('namespace', '', "node namespace; '' = the rig's, '/' = the root namespace"),
    ('use_sim_time', 'false', 'use /clock (true when replaying a bag)'),
    ('compute', '', "compute profile of the rig: cpu or gpu; '' = the rig's default"),
    ('variant', '', "model variant override; '' = the rig's"),
    ('checkpoint', '', "checkpoint override; '' = the rig's, 'none' = random weights"),
    ('device', '', "device override (auto, cpu, cuda, cuda:N); '' = the rig's"),
    ('backend', '', "inference backend override (torch, onnxruntime, openvino, tensorrt); '' = "
                    "the rig's"),
    ('initial_box', '', "target box 'x,y,w,h' in pixels in the first frame; '' = wait for "
                        "~/init or ~/init_from_detections"),
    ('rviz', 'false', "true: also start rviz2 showing this node's debug image (and 3D marker)"),
    ('autostart', 'true', 'true: the lifecycle node configures and activates itself; false: it '
                          'waits for ros2 lifecycle set <node> configure / activate'),
    ('params_file', '', "a YAML parameter file applied over the rig's parameters (any node "
                        "parameter, e.g. slop, score_threshold); '' = none"),
    ('log_level', 'info', 'node log level: debug, info, warn, error, fatal'),
)


def _tracker_nodes(context, *args, **kwargs):
    from rgbx_tracker_ros.bringup import node_configuration, rviz_launch_kwargs
    from rgbx_tracker_ros.core.rig import load_rig

    def arg(name):
        return LaunchConfiguration(name).perform(context)

    rig = load_rig(arg('rig'))
    cfg = node_configuration(rig, namespace=arg('namespace'), overrides={
        'use_sim_time': arg('use_sim_time'), 'compute': arg('compute'),
        'variant': arg('variant'), 'checkpoint': arg('checkpoint'), 'device': arg('device'),
        'backend': arg('backend'), 'autostart': arg('autostart'),
        'initial_box': arg('initial_box'), 'params_file': arg('params_file'),
        'log_level': arg('log_level')})
    node = Node(**cfg.launch_kwargs(), output='screen', emulate_tty=True)
    rviz = Node(**rviz_launch_kwargs(cfg.fully_qualified_name, cfg.parameters['use_sim_time']),
                condition=IfCondition(LaunchConfiguration('rviz')))
    return [node, rviz]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=_tracker_nodes)])
