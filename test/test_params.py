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

"""The node parameter schema (core.params) is the one place defaults, ranges and flags live:
config/tracker.yaml, the rig loader and the launch configuration agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rgbx_tracker_ros.core import params as P
from rgbx_tracker_ros import bringup
from rgbx_tracker_ros.core import rig as rig_mod

REPO = Path(__file__).resolve().parents[1]


def test_tracker_yaml_lists_every_parameter_with_the_schema_default() -> None:
    doc = yaml.safe_load((REPO / 'config' / 'tracker.yaml').read_text())
    values = doc['tracker_node']['ros__parameters']
    assert list(values) != [] and set(values) == set(P.PARAMETER_NAMES)
    for name, default in P.defaults().items():
        got = values[name]
        if name in ('initial_box', 'x_homography'):
            assert got == [] and default is None
        else:
            assert got == default, name
    # and the file validates as a whole
    assert P.validate_parameters({k: v for k, v in values.items()}) == P.NodeParams()


def test_rig_defaults_come_from_the_schema(tmp_path: Path) -> None:
    rig_file = tmp_path / 'minimal.yaml'
    rig_file.write_text('modality: thermal\ntopics: {rgb: /c/rgb, x: /c/x}\n'
                        'compute: {cpu: {variant: test_s14, checkpoint: none, device: cpu}}\n')
    rig = rig_mod.load_rig(rig_file)
    d = P.defaults()
    assert (rig.slop, rig.x_timeout, rig.x_grace, rig.rgb_timeout) == (
        d['slop'], d['x_timeout'], d['x_grace'], d['rgb_timeout'])
    assert (rig.qos_reliability, rig.qos_depth, rig.score_threshold) == (
        d['qos_reliability'], d['qos_depth'], d['score_threshold'])
    specs = P.parameter_specs()
    bad = tmp_path / 'bad.yaml'
    bad.write_text(rig_file.read_text() + f'sync: {{slop: {specs["slop"][1].hi + 0.5}}}\n')
    with pytest.raises(rig_mod.RigError, match='sync.slop'):
        rig_mod.load_rig(bad)


@pytest.mark.parametrize('name', rig_mod.list_rigs())
def test_every_rig_gives_the_node_valid_parameters(name: str) -> None:
    cfg = bringup.node_configuration(rig_mod.load_rig(name))
    node_params = {k: v for k, v in cfg.parameters.items() if k != 'use_sim_time'}
    assert set(node_params) <= set(P.PARAMETER_NAMES)
    validated = P.validate_parameters(node_params)
    assert validated.slop == cfg.parameters['slop']
    assert validated.modality == cfg.parameters['modality']


def test_runtime_flags_and_read_only_split() -> None:
    specs = P.parameter_specs()
    assert 'slop' in P.RUNTIME_PARAMETERS and 'time_jump_threshold' in P.RUNTIME_PARAMETERS
    for name in ('variant', 'checkpoint', 'device', 'modality', 'qos_depth', 'initial_box'):
        assert not specs[name][1].runtime, name
    assert set(P.RUNTIME_PARAMETERS) < set(P.PARAMETER_NAMES)


@pytest.mark.parametrize('values, fragment', [
    ({'slop': 'abc'}, "slop='abc': expected a number in [0, 1]"),
    ({'slop': 0.5}, 'need 0 <= slop < x_timeout'),
    ({'qos_depth': 2.5}, 'qos_depth=2.5: expected an integer'),
    ({'qos_depth': 0}, 'qos_depth=0'),
    ({'modality': 'sonar'}, 'expected one of rgb'),
    ({'device': 'gpu'}, 'auto, cpu, cuda or cuda:N'),
    ({'device': 'cpu', 'precision': 'fp16'}, 'needs a CUDA device'),
    ({'backend': 'tflite'}, "backend='tflite': expected one of torch, onnxruntime, openvino"),
    ({'device': 'cpu', 'backend': 'tensorrt'}, "backend='tensorrt' needs a CUDA device"),
    ({'device': 'cuda', 'backend': 'openvino'}, "backend='openvino' runs on the CPU"),
    ({'initial_box': [1, 2, 0, 3]}, 'w > 0 and h > 0'),
    ({'initial_box': 'left'}, "initial_box='left'"),
    ({'x_timeout': float('nan')}, 'x_timeout=nan'),
    ({'no_such': 1}, 'unknown parameter(s) no_such'),
])
def test_invalid_values_get_one_line_errors(values: dict, fragment: str) -> None:
    with pytest.raises(P.ParameterError) as info:
        P.validate_parameters(values)
    text = str(info.value)
    assert fragment in text and '\n' not in text


def test_integers_for_floats_and_normalised_strings() -> None:
    got = P.validate_parameters({'slop': 0, 'x_timeout': 1, 'precision': 'BF16',
                                 'qos_reliability': 'Best-Effort', 'camera_info': '',
                                 'initial_box': [1, 2, 3, 4]})
    assert got.slop == 0.0 and isinstance(got.slop, float) and got.x_timeout == 1.0
    assert (got.precision, got.qos_reliability, got.camera_info) == ('bf16', 'best_effort',
                                                                     'none')
    assert got.initial_box == (1.0, 2.0, 3.0, 4.0)
    assert got.replace(slop=0.1).slop == 0.1
    with pytest.raises(P.ParameterError):
        got.replace(slop=2.0)
