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

"""Replay a bag through the tracker node, record its outputs and score them.

    ros2 launch rgbx_tracker_ros replay.launch.py bag:=demo_out/tno_nato_camp.bag \
        out:=replay_out rig:=rgbt_flir_boson

Starts the tracker node (the rig's model and sync settings from
rgbx_tracker_ros.bringup.replay_configuration, on sim time, listening on the bag's topics),
rgbx-player (publishes the bag in lockstep with the node's answers and /clock, writes
results.csv) and rgbx-record (the node's detections, markers and diagnostics into
<out>/recorded). The recorder stops once the player has written <out>/summary.json; then
rgbx-eval-run (a plain process, not a ROS node: ExecuteProcess) scores the recording against
the bag's ground truth (<out>/evaluation/report.md) and the launch shuts down.
rgbx-launch --rig RIG --replay BAG --out DIR runs the same set.
rviz:=true also starts rviz2 on the node's debug image (config rewritten for its namespace).

A bag recorded by someone else: rgb_topic:=/cam/color/image_raw x_topic:=/cam/thermal/image_raw
(their /compressed and /compressedDepth sub-topics are found too), gt_topic:= or gt_file:=
(one x,y,w,h row per RGB frame, pixels). transport:=compressed publishes the stored
CompressedImage frames and the node decodes them itself, as on the robot.
"""

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, ExecuteProcess, OpaqueFunction, RegisterEventHandler)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage

ARGUMENTS = (
    ('bag', '', 'replay bag folder (rgbx-make-bag layout, with /ground_truth)'),
    ('out', 'replay_out', 'output folder (results, recording, evaluation)'),
    ('rig', 'rgbt_flir_boson', 'rig whose model and sync settings the node uses'),
    ('namespace', '/', "node namespace; '/' = root (the bag's topics), '' = the rig's"),
    ('use_sim_time', 'true', "the node's clock: true = the player's /clock (the bag's stamps)"),
    ('compute', '', "compute profile: cpu or gpu; '' = the rig's default"),
    ('variant', '', "model variant override; '' = the rig's"),
    ('checkpoint', '', "checkpoint override; '' = the rig's"),
    ('device', '', "device override; '' = the rig's"),
    ('backend', '', "inference backend override (torch, onnxruntime, openvino, tensorrt); '' = "
                    "the rig's"),
    ('withhold_x', '', "frames 'A:B' (1-based) the player withholds X for; '' = none"),
    ('withhold_rgb', '', "frames 'A:B' (1-based) the player withholds RGB for; '' = none"),
    ('reinit_at', '', "frames 'N,N' (1-based) re-initialised from the ground truth"),
    ('rviz', 'false', "true: also start rviz2 showing the node's debug image"),
    ('rgb_topic', '', "RGB image topic in the bag; '' = /rgb/image_raw"),
    ('x_topic', '', "X image topic in the bag; '' = /x/image_raw"),
    ('gt_topic', '', "ground-truth Detection2DArray topic in the bag; '' = /ground_truth"),
    ('gt_file', '', "ground-truth file (x,y,w,h pixels per RGB frame) instead of a topic"),
    ('initial_box', '', "a bag without ground truth: the target 'x,y,w,h' (pixels) on its first "
                        "RGB frame; the run is recorded (tracks, video, timing), not scored"),
    ('transport', 'raw', 'raw: the player publishes decoded Image; compressed: the stored '
                         'CompressedImage, decoded by the node'),
    ('autostart', 'true', 'true: the lifecycle node configures and activates itself'),
    ('params_file', '', "a YAML parameter file applied over the rig's parameters; '' = none"),
    ('log_level', 'info', 'node log level: debug, info, warn, error, fatal'),
)


def _replay_nodes(context, *args, **kwargs):
    from rgbx_tracker_ros.bringup import BagTopics, replay_configuration, rviz_launch_kwargs
    from rgbx_tracker_ros.core.rig import load_rig

    def arg(name):
        return LaunchConfiguration(name).perform(context)

    rig = load_rig(arg('rig'))
    cfg = replay_configuration(
        rig, arg('bag'), arg('out'), namespace=arg('namespace'),
        overrides={'compute': arg('compute'), 'variant': arg('variant'),
                   'checkpoint': arg('checkpoint'), 'device': arg('device'),
                   'backend': arg('backend'), 'autostart': arg('autostart'),
                   'use_sim_time': arg('use_sim_time'), 'params_file': arg('params_file'),
                   'log_level': arg('log_level'), 'initial_box': arg('initial_box')},
        withhold_x=arg('withhold_x'), reinit_at=arg('reinit_at'),
        withhold_rgb=arg('withhold_rgb'),
        topics=BagTopics(rgb=arg('rgb_topic'), x=arg('x_topic'), gt_topic=arg('gt_topic'),
                         gt_file=arg('gt_file')),
        transport=arg('transport'))
    node = Node(**cfg.node.launch_kwargs(), output='screen')
    recorder = Node(**cfg.recorder.launch_kwargs(), output='screen')
    player = Node(**cfg.player.launch_kwargs(), output='screen')
    evaluator = ExecuteProcess(
        cmd=[ExecutableInPackage(cfg.evaluator.executable, cfg.evaluator.package),
             *cfg.evaluator.arguments], name='rgbx_eval_run', output='screen')
    rviz = Node(**rviz_launch_kwargs(cfg.node.fully_qualified_name, True),
                condition=IfCondition(LaunchConfiguration('rviz')))
    return [
        node, recorder, player, rviz,
        RegisterEventHandler(OnProcessExit(target_action=recorder, on_exit=[evaluator])),
        RegisterEventHandler(OnProcessExit(
            target_action=evaluator,
            on_exit=[EmitEvent(event=Shutdown(reason='replay evaluated'))])),
    ]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=_replay_nodes)])
