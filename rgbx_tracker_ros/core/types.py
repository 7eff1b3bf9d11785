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

"""Shared enums and small records of the ROS-free core."""

from __future__ import annotations

import enum


class Modality(str, enum.Enum):
    """The second modality X paired with RGB.

    Values are the strings used in YAML files and ROS parameters; parse them once with
    :func:`parse_modality`.
    """

    RGB = 'rgb'          # RGB only (no X sensor): the tracker always runs the RGB-only path
    THERMAL = 'thermal'  # LWIR, mono8 / mono16
    DEPTH = 'depth'      # 16UC1 millimetres / 32FC1 metres
    EVENT = 'event'      # rendered event frames or raw (t, x, y, p) events


def parse_modality(name: str) -> Modality:
    """Return the :class:`Modality` for ``name`` ('rgb', 'thermal', 'depth', 'event').

    Raises:
        ValueError: if ``name`` is not a known modality; the message lists the valid ones.
    """
    try:
        return Modality(str(name).strip().lower())
    except ValueError:
        valid = ', '.join(m.value for m in Modality)
        raise ValueError(f'unknown modality {name!r}; expected one of: {valid}') from None


#: Network precisions a tracker accepts (see ``core.tracker.resolve_precision``): 'auto' picks
#: bfloat16 where the hardware runs it natively, else float32; 'fp16' is for CUDA only.
PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
#: Inference backends (see ``rgbx_tracker_ros.export``): 'torch' runs the model itself; the
#: others run its exported graphs (onnxruntime: CPU or CUDA / TensorRT providers; openvino: CPU;
#: tensorrt: CUDA GPU).
BACKENDS = ('torch', 'onnxruntime', 'openvino', 'tensorrt')


class BackendUnavailable(RuntimeError):
    """An inference backend cannot run here: its Python package is not installed (the message
    names the pip package), or it needs a CUDA GPU that is not visible."""
