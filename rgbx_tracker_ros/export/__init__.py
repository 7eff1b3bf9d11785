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

"""Inference backends: a tracker model exported as two fixed-shape graphs and run outside torch.

- :mod:`.graphs` (torch): the template encoder and the per-frame network as two graphs,
  written as ONNX (then OpenVINO IR or a TensorRT engine) with a JSON manifest beside them;
- :mod:`.engines`: :class:`~rgbx_tracker_ros.core.model_api.TrackerModel` adapters that run those
  graphs with onnxruntime, OpenVINO or TensorRT, so :class:`~rgbx_tracker_ros.core.tracker.
  RgbxTracker` tracks with them unchanged;
- :mod:`.check`: an export compared with the torch model on real crops (score maps, boxes).

``rgbx-export`` (``cli/export.py``) is the command line; ``models.factory.load_tracker(...,
backend=...)`` exports on first use into a cache and loads the engine (node parameter
``backend``). No ROS imports here.
"""

from .engines import BACKENDS, BackendUnavailable, EngineError, open_engine  # noqa: F401
