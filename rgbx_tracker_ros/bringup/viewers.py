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

"""The viewers' files for the tracker node: the packaged rviz2 config rewritten for the node a rig
and namespace put somewhere (``rviz:=true``, ``rgbx-launch --rviz``) and the Foxglove layout
(``config/foxglove/tracker_layout.json``). ROS-free.
"""

from __future__ import annotations

from pathlib import Path

from rgbx_tracker_ros.bringup.config import NODE_NAME
from rgbx_tracker_ros.core.rig import package_share_dir, source_root


#: The node path the packaged config/rviz/tracker.rviz names (the RealSense rig's namespace).
RVIZ_TEMPLATE_NODE = '/camera/camera/' + NODE_NAME


def packaged_file(relative: str) -> Path:
    """A file the package installs under its share folder (``config/...``): the installed copy
    first, else the source tree's.

    Raises:
        FileNotFoundError: neither exists (a broken install).
    """
    share = package_share_dir()
    for base in ([share] if share is not None else []) + [source_root()]:
        path = base / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f'{relative} is missing from the package share folder and the '
                            f'source tree; reinstall rgbx_tracker_ros')


def rviz_template_path() -> Path:
    """The packaged rviz2 config, ``config/rviz/tracker.rviz`` (see :func:`packaged_file`)."""
    return packaged_file('config/rviz/tracker.rviz')


def rviz_config(node_fqn: str, template: str | None = None) -> str:
    """The packaged rviz2 config with its topics moved to the tracker node at ``node_fqn``.

    Every topic under :data:`RVIZ_TEMPLATE_NODE` (``~/debug_image``, ``~/target_marker``) is
    renamed to the same topic under ``node_fqn``, so rviz shows the node a rig's namespace
    (or ``namespace:=``) put elsewhere; everything else is kept.

    Args:
        node_fqn: fully qualified node name, e.g. '/rig/tracker_node' or '/tracker_node'
            (:attr:`NodeConfig.fully_qualified_name`).
        template: the rviz YAML text; None = read :func:`rviz_template_path`.

    Raises:
        ValueError: ``node_fqn`` is not an absolute ROS name, or the template names no topic of
            the node (it was edited: nothing would be shown).
    """
    fqn = str(node_fqn).rstrip('/')
    if not fqn.startswith('/') or '//' in fqn or len(fqn) < 2:
        raise ValueError(f'node name {node_fqn!r}: expected an absolute name like '
                         f'/namespace/{NODE_NAME}')
    text = rviz_template_path().read_text() if template is None else template
    prefix = RVIZ_TEMPLATE_NODE + '/'
    if prefix not in text:
        raise ValueError(f'the rviz template names no topic under {RVIZ_TEMPLATE_NODE}/; '
                         f'restore config/rviz/tracker.rviz')
    return text.replace(prefix, fqn + '/')


def write_rviz_config(node_fqn: str, out_dir: str | Path) -> Path:
    """Write :func:`rviz_config` for ``node_fqn`` to ``out_dir/tracker_<name>.rviz`` and return
    the path (launch files pass it to ``rviz2 -d``).

    Raises:
        ValueError: see :func:`rviz_config`.
        OSError: ``out_dir`` cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = 'tracker' + str(node_fqn).rstrip('/').replace('/', '_') + '.rviz'
    path = out / name
    path.write_text(rviz_config(node_fqn))
    return path


def rviz_launch_kwargs(node_fqn: str, use_sim_time: bool) -> dict:
    """``launch_ros.actions.Node`` keyword arguments of rviz2 on ``node_fqn``'s topics: the
    packaged config rewritten for that node (:func:`write_rviz_config`, into a fresh temporary
    folder) and ``use_sim_time`` (true for a bag replay). The launch files add the condition.

    Raises:
        ValueError / OSError: see :func:`write_rviz_config`.
    """
    import tempfile

    rviz_file = write_rviz_config(node_fqn, tempfile.mkdtemp(prefix='rgbx_rviz_'))
    return {'package': 'rviz2', 'executable': 'rviz2', 'name': 'rviz2',
            'arguments': ['-d', str(rviz_file)], 'parameters': [{'use_sim_time': use_sim_time}],
            'output': 'screen'}


def foxglove_layout_path() -> Path:
    """The packaged Foxglove layout, ``config/foxglove/tracker_layout.json`` (see
    :func:`packaged_file`): the RGB image with the node's ``~/annotations``, the X image,
    diagnostics, detections and the debug image, for the node at the root namespace."""
    return packaged_file('config/foxglove/tracker_layout.json')
