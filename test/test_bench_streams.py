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

"""The generated streams the node benchmarks feed are what they claim to be."""

import importlib.util
import itertools
from pathlib import Path

from rgbx_tracker_ros.core.modality import check_x_signal, encode_x

REPO = Path(__file__).resolve().parents[1]


def _node_latency():
    spec = importlib.util.spec_from_file_location('node_latency',
                                                  REPO / 'bench' / 'node_latency.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_node_latency_thermal_is_a_live_signal_with_a_warm_target():
    """bench/node_latency.py measures RGB + thermal: its thermal must pass the node's X health
    check (a flat background would put the node on RGB alone), with the square warmer than the
    rest after the node's encoding."""
    for rgb, thermal in itertools.islice(_node_latency().frames(4), 4):
        assert rgb.shape == (512, 640, 3) and thermal.shape == (512, 640)
        check = check_x_signal(thermal, 'mono16', 'thermal')
        assert check.ok, check.detail
        encoded = encode_x(thermal, 'mono16', 'thermal')
        warm = thermal >= 32000
        assert warm.sum() == 60 * 40
        assert encoded[warm].mean() > encoded[~warm].mean() + 100
