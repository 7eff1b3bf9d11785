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

"""Rig files: every config/rigs/*.yaml loads and validates; generated invalid rigs give errors
naming the file and the key; node_configuration maps rigs and overrides to the node."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rgbx_tracker_ros.core.modality import RGB_ENCODINGS, X_ENCODINGS
from rgbx_tracker_ros.bringup import node_configuration, ros_param_value
from rgbx_tracker_ros.core.rig import list_rigs, load_rig, resolve_rig, RigError
from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.models import list_variants

REPO = Path(__file__).resolve().parents[1]
RIG_DIR = REPO / 'config' / 'rigs'
EXPECTED_RIGS = {'rgbt_flir_boson', 'rgbd_realsense_d435', 'rgbe_prophesee_frames',
                 'rgbe_prophesee_raw', 'rgb_only'}


def test_every_rig_file_loads_and_is_consistent() -> None:
    files = sorted(RIG_DIR.glob('*.yaml'))
    assert {f.stem for f in files} == EXPECTED_RIGS
    assert EXPECTED_RIGS <= set(list_rigs())
    variants = set(list_variants())
    for f in files:
        rig = load_rig(f)
        assert rig.name == f.stem and rig.description
        assert rig.rgb_encoding in RGB_ENCODINGS
        assert {'cpu', 'gpu'} <= set(rig.compute), f'{f.name}: needs cpu and gpu profiles'
        assert rig.compute['cpu'].device == 'cpu'
        assert rig.compute['gpu'].device.startswith('cuda')
        assert all(p.variant in variants for p in rig.compute.values())
        assert 0 <= rig.slop < rig.x_timeout and rig.rate_rgb_hz > 0
        if rig.modality is Modality.RGB:
            assert not rig.topics.x and rig.rate_x_hz == 0
        elif rig.event_input == 'raw':
            assert rig.x_encoding == 'events'
        else:
            assert rig.x_encoding in X_ENCODINGS[rig.modality]
        cfg = node_configuration(rig)
        assert cfg.executable == 'tracker_node' and cfg.name == 'tracker_node'
        assert cfg.parameters['modality'] == rig.modality.value
        assert ('rgb/image_raw', rig.topics.rgb) in cfg.remappings
        assert cfg.parameters['variant'] == rig.compute[rig.default_compute].variant


def test_rig_specifics_reach_the_node() -> None:
    boson = node_configuration(load_rig('rgbt_flir_boson'))
    assert boson.parameters['modality'] == 'thermal'
    assert ('x/image_raw', 'boson/image_raw') in boson.remappings
    assert boson.namespace == '/rgbt'
    d435 = node_configuration(load_rig('rgbd_realsense_d435'))
    assert d435.parameters['camera_info'] == 'x'
    assert ('x/camera_info', 'aligned_depth_to_color/camera_info') in d435.remappings
    raw = node_configuration(load_rig('rgbe_prophesee_raw'))
    assert raw.parameters['event_input'] == 'raw'
    assert ('x/events', 'event_camera/events') in raw.remappings
    assert not any(src == 'x/image_raw' for src, _ in raw.remappings)
    frames = node_configuration(load_rig('rgbe_prophesee_frames'))
    assert ('x/image_raw', 'event_camera/image_raw') in frames.remappings
    rgb = node_configuration(load_rig('rgb_only'))
    assert [src for src, _ in rgb.remappings] == ['rgb/image_raw']
    assert rgb.parameters['modality'] == 'rgb'
    # tracking on X alone when RGB dies: on for the frame rigs, off where X needs RGB frames
    assert boson.parameters['rgb_timeout'] == 0.5 and d435.parameters['rgb_timeout'] == 0.5
    assert raw.parameters['rgb_timeout'] == 0.0 and rgb.parameters['rgb_timeout'] == 0.0


def test_overrides_namespace_and_compute_profile() -> None:
    rig = load_rig('rgbt_flir_boson')
    cfg = node_configuration(rig, namespace='robot1/front', overrides={
        'variant': 'test_tiny', 'checkpoint': 'none', 'use_sim_time': 'true', 'device': '',
        'initial_box': '10,20,30,40'})
    assert cfg.namespace == '/robot1/front'
    assert cfg.fully_qualified_name == '/robot1/front/tracker_node'
    assert cfg.parameters['variant'] == 'test_tiny' and cfg.parameters['checkpoint'] == 'none'
    assert cfg.parameters['device'] == 'cpu'                  # '' = keep the profile's
    assert cfg.parameters['use_sim_time'] is True
    assert cfg.parameters['initial_box'] == [10.0, 20.0, 30.0, 40.0]
    gpu = node_configuration(rig, overrides={'compute': 'gpu'})
    assert gpu.parameters['variant'] == 'b224' and gpu.parameters['device'] == 'cuda'
    assert node_configuration(rig, namespace='/').namespace == ''
    with pytest.raises(RigError, match='variant.*unknown model variant .no_such'):
        node_configuration(rig, overrides={'variant': 'no_such'})
    with pytest.raises(RigError, match="compute: profile 'tpu'"):
        node_configuration(rig, overrides={'compute': 'tpu'})
    with pytest.raises(RigError, match='unknown override'):
        node_configuration(rig, overrides={'slop': 0.1})
    with pytest.raises(RigError, match='initial_box'):
        node_configuration(rig, overrides={'initial_box': '1,2,3'})


def test_ros_args_quote_strings_and_format_values() -> None:
    assert ros_param_value('true') == "'true'"
    assert ros_param_value("it's") == "'it''s'"
    assert ros_param_value(True) == 'true'
    assert ros_param_value(0.5) == '0.5' and ros_param_value(3) == '3'
    assert ros_param_value([1.0, 2.0]) == '[1.0,2.0]'
    cfg = node_configuration(load_rig('rgb_only'), namespace='cam')
    args = cfg.ros_args()
    assert args[:5] == ['--ros-args', '-r', '__node:=tracker_node', '-r', '__ns:=/cam']
    assert "modality:='rgb'" in args and 'rgb/image_raw:=image_raw' in args


def test_unknown_rig_name_lists_known_rigs() -> None:
    with pytest.raises(RigError, match='known rigs: .*rgbt_flir_boson'):
        resolve_rig('no_such_rig')
    with pytest.raises(RigError, match='no such file'):
        resolve_rig('/nonexistent/rig.yaml')
    assert resolve_rig('rgb_only').name == 'rgb_only.yaml'


# ------------------------------------------------------------------------- invalid rig files
def _base() -> dict:
    return yaml.safe_load((RIG_DIR / 'rgbt_flir_boson.yaml').read_text())


def _edit(path: list[str], value=None, delete: bool = False):
    def f(d: dict) -> dict:
        node = d
        for k in path[:-1]:
            node = node[k]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return d
    return f


BAD_RIGS = {
    'unknown_top_key': (_edit(['frame_rate'], 30), r'frame_rate: unknown key'),
    'unknown_nested_key': (_edit(['sync', 'slopp'], 0.1), r'sync\.slopp: unknown key'),
    'missing_rgb_topic': (_edit(['topics', 'rgb'], delete=True), r'topics\.rgb: missing'),
    'missing_x_topic': (_edit(['topics', 'x'], delete=True),
                        r'topics\.x: missing \(required for modality thermal'),
    'missing_topics': (_edit(['topics'], delete=True), r'topics: missing'),
    'unknown_variant': (_edit(['compute', 'gpu', 'variant'], 'vit_huge'),
                        r'compute\.gpu\.variant: unknown model variant .vit_huge.*t224'),
    'bad_x_encoding': (_edit(['encodings', 'x'], '32FC1'),
                       r"encodings\.x: '32FC1' is not valid for modality thermal"),
    'bad_rgb_encoding': (_edit(['encodings', 'rgb'], 'nv12'), r'encodings\.rgb: .nv12'),
    'negative_slop': (_edit(['sync', 'slop'], -0.1), r'sync\.slop: -0\.1 is out of range'),
    'negative_rgb_timeout': (_edit(['sync', 'rgb_timeout'], -1.0),
                             r'sync\.rgb_timeout: -1\.0 is out of range'),
    'text_number': (_edit(['rates_hz', 'rgb'], 'fast'), r'rates_hz\.rgb: expected a number'),
    'bool_number': (_edit(['qos', 'depth'], True), r'qos\.depth: expected an integer'),
    'timeout_below_slop': (_edit(['sync', 'x_timeout'], 0.01),
                           r'sync\.x_timeout: 0\.01 must be greater than sync\.slop'),
    'bad_reliability': (_edit(['qos', 'reliability'], 'sometimes'), r'qos\.reliability'),
    'event_input_on_thermal': (_edit(['event_input'], 'raw'), r'event_input: only for modality'),
    'camera_info_on_thermal': (_edit(['topics', 'x_camera_info'], 'boson/camera_info'),
                               r'topics\.x_camera_info: camera_info is used for the RGB-D'),
    'bad_modality': (_edit(['modality'], 'sonar'), r"modality: 'sonar' is not one of"),
    'bad_default_profile': (_edit(['compute', 'default'], 'tpu'), r'compute\.default: .tpu'),
    'cuda_in_cpu_profile': (_edit(['compute', 'cpu', 'device'], 'cuda'),
                            r'compute\.cpu\.device'),
    'bad_device': (_edit(['compute', 'gpu', 'device'], 'gpu0'), r'compute\.gpu\.device'),
    'no_compute': (_edit(['compute'], delete=True), r'compute: missing'),
    'bad_backend': (_edit(['compute', 'gpu', 'backend'], 'tflite'),
                    r'compute\.gpu\.backend: .tflite.*onnxruntime'),
    'tensorrt_in_cpu_profile': (_edit(['compute', 'cpu', 'backend'], 'tensorrt'),
                                r'compute\.cpu\.backend: .tensorrt. in the cpu profile'),
    'topic_with_space': (_edit(['topics', 'x'], 'boson image'), r'topics\.x: .* not a valid'),
}


@pytest.mark.parametrize('case', sorted(BAD_RIGS))
def test_invalid_rig_files_name_file_and_key(tmp_path, case: str) -> None:
    edit, pattern = BAD_RIGS[case]
    path = tmp_path / f'{case}.yaml'
    path.write_text(yaml.safe_dump(edit(_base())))
    with pytest.raises(RigError, match=pattern) as info:
        load_rig(path)
    assert str(path) in str(info.value)


def test_syntax_errors_and_empty_files(tmp_path) -> None:
    bad = tmp_path / 'broken.yaml'
    bad.write_text('modality: thermal\ntopics: [rgb: a\n')
    with pytest.raises(RigError, match=r'broken\.yaml: <file>: not valid YAML'):
        load_rig(bad)
    empty = tmp_path / 'empty.yaml'
    empty.write_text('')
    with pytest.raises(RigError, match='empty file'):
        load_rig(empty)
    rgb_with_x = yaml.safe_load((RIG_DIR / 'rgb_only.yaml').read_text())
    rgb_with_x['topics']['x'] = 'thermal/image_raw'
    p = tmp_path / 'rgb_x.yaml'
    p.write_text(yaml.safe_dump(rgb_with_x))
    with pytest.raises(RigError, match=r'topics\.x: modality rgb has no X topic'):
        load_rig(p)
    raw = yaml.safe_load((RIG_DIR / 'rgbe_prophesee_raw.yaml').read_text())
    raw['encodings']['x'] = 'bgr8'
    p = tmp_path / 'raw.yaml'
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(RigError, match=r"encodings\.x: 'bgr8' .* raw events; valid: events"):
        load_rig(p)


def test_backend_from_the_profile_and_overrides(tmp_path) -> None:
    path = tmp_path / 'ov.yaml'
    path.write_text(yaml.safe_dump(_edit(['compute', 'cpu', 'backend'], 'OpenVINO')(_base())))
    rig = load_rig(path)
    assert rig.compute['cpu'].backend == 'openvino' and rig.compute['gpu'].backend == 'torch'
    assert node_configuration(rig).parameters['backend'] == 'openvino'
    cfg = node_configuration(rig, overrides={'backend': 'onnxruntime'})
    assert cfg.parameters['backend'] == 'onnxruntime'
    assert node_configuration(rig, overrides={'backend': ''}).parameters['backend'] == 'openvino'
    with pytest.raises(RigError, match=r"backend: 'tflite'"):
        node_configuration(rig, overrides={'backend': 'tflite'})
