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

"""The tracker node's model: the node parameters that choose it (``variant``, ``checkpoint``,
``device``, ``precision``, ``backend``, ``engine_cache``) -> the
:class:`~rgbx_tracker_ros.core.tracker.RgbxTracker` it runs.

ROS-free and model-free. ``ros/tracker_node.py`` builds its tracker with :func:`node_model` and
``rgbx_tracker_ros.models.factory.build_node_tracker``; ``rgbx-eval``'s ``rig:NAME`` tracker specs
(:mod:`rgbx_tracker_ros.eval.peers`) call the same two functions on the parameters that
:func:`rgbx_tracker_ros.bringup.node_configuration` gives the rig, so an evaluation runs exactly
the model, checkpoint file, device and precision the node runs, and the two cannot drift.

Values of the ``checkpoint`` parameter (as the node reads them):

- ``''``: the package's ``checkpoints/s14_224_d8_rgbx.pt`` (:func:`default_checkpoint`: the
  installed share folder first, then the source tree);
- ``'none'``: random weights (tests only);
- anything else: a checkpoint file. (A bare file name in a rig's compute profile has already been
  turned into the package's ``checkpoints/<name>`` by ``node_configuration`` when it is there.)

Parameters not given take the node's defaults, :data:`MODEL_PARAMETER_DEFAULTS` (the values
``tracker_node`` declares and ``config/tracker.yaml`` sets).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Optional

from rgbx_tracker_ros.core import params as _params
from rgbx_tracker_ros.core import rig as _rig

#: File name of the committed demo checkpoint (checkpoint parameter '').
DEFAULT_CHECKPOINT_NAME = 's14_224_d8_rgbx.pt'
#: checkpoint parameter value for random weights.
RANDOM_WEIGHTS = 'none'
#: The node's defaults of the parameters that choose its model and how the tracker runs it.
MODEL_PARAMETER_DEFAULTS: dict[str, str] = {
    name: _params.defaults()[name]
    for name in ('variant', 'checkpoint', 'device', 'precision', 'backend', 'engine_cache',
                 'redetect_tiles_per_frame')}
MODEL_PARAMETERS = tuple(MODEL_PARAMETER_DEFAULTS)


def default_checkpoint() -> Path | None:
    """The package's committed default checkpoint (``checkpoints/s14_224_d8_rgbx.pt`` in
    :func:`rgbx_tracker_ros.core.rig.checkpoint_dirs`: install share dir first, then the source
    tree), or None when neither has it."""
    return next((c for c in (d / DEFAULT_CHECKPOINT_NAME for d in _rig.checkpoint_dirs())
                 if c.is_file()), None)


def resolve_checkpoint(value: str) -> Path | None:
    """checkpoint parameter value -> checkpoint path, or None for random weights ('none').

    Raises:
        FileNotFoundError: when the named (or the default) checkpoint does not exist.
    """
    value = str(value).strip()
    if value.lower() == RANDOM_WEIGHTS:
        return None
    if not value:
        found = default_checkpoint()
        if found is None:
            raise FileNotFoundError(
                f'no checkpoint given and the default checkpoints/{DEFAULT_CHECKPOINT_NAME} was '
                f"not found; set the checkpoint parameter to a .pt file (or '{RANDOM_WEIGHTS}' "
                f'for random weights)')
        return found
    path = Path(value).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f'parameter checkpoint={value!r}: no such file')
    return path


@dataclasses.dataclass(frozen=True)
class NodeModel:
    """The model a tracker node runs.

    Attributes:
        variant: registered model variant (a checkpoint's own variant must match it).
        checkpoint: the resolved checkpoint file, or None for random weights.
        device: torch device as configured ('auto', 'cpu', 'cuda', 'cuda:N').
        precision: network precision as configured ('auto', 'fp32', 'bf16', 'fp16'; see
            ``core.tracker.resolve_precision``).
        backend: inference backend (``core.types.BACKENDS``; 'torch' = the model itself).
        engine_cache: cache folder of exported graphs ('' = the default).
        redetect_tiles_per_frame: bound on re-detection's search regions per frame
            (``core.tracker.RgbxTracker``; 0 = all of them).
    """

    variant: str
    checkpoint: Optional[Path]
    device: str
    precision: str
    backend: str = 'torch'
    engine_cache: str = ''
    redetect_tiles_per_frame: int = 0


def node_model(parameters: Mapping[str, Any]) -> NodeModel:
    """The node's model from its parameters (name -> value; only :data:`MODEL_PARAMETERS` are
    read, missing ones take :data:`MODEL_PARAMETER_DEFAULTS`).

    Raises:
        FileNotFoundError: the checkpoint (or the default one) does not exist (see
            :func:`resolve_checkpoint`).
    """
    values = {k: parameters.get(k, d) for k, d in MODEL_PARAMETER_DEFAULTS.items()}
    return NodeModel(variant=str(values['variant']).strip(),
                     checkpoint=resolve_checkpoint(str(values['checkpoint'])),
                     device=str(values['device']).strip().lower(),
                     precision=str(values['precision']).strip().lower(),
                     backend=str(values['backend']).strip().lower(),
                     engine_cache=str(values['engine_cache']).strip(),
                     redetect_tiles_per_frame=int(values['redetect_tiles_per_frame']))
