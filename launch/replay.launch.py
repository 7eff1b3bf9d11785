"""Replay a bag through the tracker node, record its outputs and score them.

    ros2 launch rgbx_tracker_ros replay.launch.py bag:=demo_out/tno_nato_camp.bag \
        out:=replay_out rig:=rgbt_flir_boson

Starts the tracker node (the rig's model and sync settings from
rgbx_tracker_ros.bringup.replay_configuration, on sim time, listening on the bag's topics),
rgbx-player (publishes the bag in lockstep with the node's answers and /clock, writes
results.csv) and rgbx-record (the node's detections, markers and diagnostics into
<out>/recorded). The recorder stops once the player has written <out>/summary.json; then
rgbx-eval-run scores the recording against the bag's ground truth (<out>/evaluation/report.md)
and the launch shuts down. rgbx-launch --rig RIG --replay BAG --out DIR runs the same set.
rviz:=true also starts rviz2 on the node's debug image (config rewritten for its namespace).
"""

import tempfile

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGUMENTS = (
    ('bag', '', 'replay bag folder (rgbx-make-bag layout, with /ground_truth)'),
    ('out', 'replay_out', 'output folder (results, recording, evaluation)'),
    ('rig', 'rgbt_flir_boson', 'rig whose model and sync settings the node uses'),
    ('namespace', '/', "node namespace; '/' = root (the bag's topics), '' = the rig's"),
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
)


def _kwargs(cfg):
    kw = {'package': cfg.package, 'executable': cfg.executable, 'output': 'screen'}
    if cfg.name:
        kw['name'] = cfg.name
    if cfg.namespace:
        kw['namespace'] = cfg.namespace
    if cfg.parameters:
        kw['parameters'] = [cfg.parameters]
    if cfg.remappings:
        kw['remappings'] = cfg.remappings
    if cfg.arguments:
        kw['arguments'] = cfg.arguments
    return kw


def _replay_nodes(context, *args, **kwargs):
    from rgbx_tracker_ros.bringup import replay_configuration, write_rviz_config
    from rgbx_tracker_ros.core.rig import load_rig

    def arg(name):
        return LaunchConfiguration(name).perform(context)

    rig = load_rig(arg('rig'))
    cfg = replay_configuration(
        rig, arg('bag'), arg('out'), namespace=arg('namespace'),
        overrides={'compute': arg('compute'), 'variant': arg('variant'),
                   'checkpoint': arg('checkpoint'), 'device': arg('device'),
                   'backend': arg('backend')},
        withhold_x=arg('withhold_x'), reinit_at=arg('reinit_at'),
        withhold_rgb=arg('withhold_rgb'))
    node = Node(**_kwargs(cfg.node))
    recorder = Node(**_kwargs(cfg.recorder))
    player = Node(**_kwargs(cfg.player))
    evaluator = Node(**_kwargs(cfg.evaluator))
    extra = []
    if arg('rviz').strip().lower() in ('true', '1', 'yes', 'on'):
        rviz_file = write_rviz_config(cfg.node.fully_qualified_name,
                                      tempfile.mkdtemp(prefix='rgbx_rviz_'))
        extra.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                          arguments=['-d', str(rviz_file)],
                          parameters=[{'use_sim_time': True}], output='screen'))
    return [
        node, recorder, player, *extra,
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
