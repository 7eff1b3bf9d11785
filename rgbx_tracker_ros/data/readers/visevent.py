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

"""VisEvent: ``vis_imgs/`` + ``event_imgs/`` (rendered event frames), ``groundtruth.txt`` +
``absent_label.txt``; scored with the VisEvent toolkit rules (``protocol = 'visevent'``)."""

from __future__ import annotations

from pathlib import Path

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.readers.base import (
    _build, _check_gt_count, _list_frames, _pair_frames, read_boxes, _read_flags, Reader,
    Sequence, SequenceError)


def read_visevent(root: str | Path) -> Sequence:
    """VisEvent layout: vis_imgs/, event_imgs/ (rendered event frames), groundtruth.txt (xywh),
    absent_label.txt (one 0/1 per frame, 1 = target absent).

    Raises:
        SequenceError: see the module docstring.
    """
    root = Path(root)
    rgb = _list_frames(root / 'vis_imgs', 'vis_imgs')
    x = _list_frames(root / 'event_imgs', 'event_imgs')
    _pair_frames(rgb, x, root)
    gt_path = root / 'groundtruth.txt'
    gt = read_boxes(gt_path, (4,))
    _check_gt_count(gt, len(rgb), gt_path)
    flags = _read_flags(root / 'absent_label.txt')
    if len(flags) != len(rgb):
        raise SequenceError(f'{root / "absent_label.txt"} has {len(flags)} labels for '
                            f'{len(rgb)} frames')
    return _build(root, 'visevent', Modality.EVENT, rgb, x, gt, gt_path, absent=flags,
                  extra={'absent_file': 'absent_label.txt'}, protocol='visevent')


VISEVENT = Reader('visevent', read_visevent,
                  lambda root, names: {'vis_imgs', 'event_imgs'} <= names,
                  protocol='visevent', description='vis_imgs/ + event_imgs/ (visevent)')
