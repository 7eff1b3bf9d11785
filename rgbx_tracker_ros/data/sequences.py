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

"""Benchmark sequences on disk: a :class:`Sequence` record and one reader per folder layout.

Layouts (``LAYOUTS``; :func:`load_sequence` detects them from the folder contents):

============  ======================  ===============================================  ========
layout        frames                  ground truth                                     X
============  ======================  ===============================================  ========
rgbt234       visible/ infrared/      visible.txt + infrared.txt (or init.txt), xywh   thermal
              (RGBT234, RGBT210, our TNO sample; names like 00001v.jpg / 00001i.jpg)
lasher        visible/ infrared/      visible.txt / infrared.txt (or init.txt), xywh   thermal
              (names like v000001.jpg / i000001.jpg)
gtot          v/ i/                   groundTruth_v.txt / groundTruth_i.txt,           thermal
                                      x1 y1 x2 y2 -> w = x2 - x1, h = y2 - y1
vtuav         rgb/ ir/                rgb.txt / ir.txt, xywh, one row per frame or one thermal
                                      row every 10 frames (frames 0, 10, 20, ...)
depthtrack    color/ depth/           groundtruth.txt, xywh (8 numbers = polygon ->   depth
                                      its bounding box), NaN row = target absent
visevent      vis_imgs/ event_imgs/   groundtruth.txt xywh + absent_label.txt (1 =     event
                                      absent)
otb           img/                    groundtruth_rect.txt, xywh with a 1-based pixel  none
                                      origin -> converted to 0-based (x - 1, y - 1)
============  ======================  ===============================================  ========

GT files may use commas, spaces, tabs or semicolons. All boxes in a :class:`Sequence` are float64
(x, y, w, h), pixels, top-left origin, 0-based (the pixel (0, 0) is the top-left pixel); only OTB
is shifted, every other dataset is used as stored, which is how their toolkits score it.
A row is *absent* when it has a NaN, or w <= 0 or h <= 0 (e.g. LasHeR / TNO ``0,0,0,0``), or is
flagged in ``absent_label.txt``; absent rows keep their stored values in ``gt_xywh`` (NaN where the
file has NaN) so that each benchmark's protocol in :mod:`rgbx_tracker_ros.eval.metrics` sees them
as its toolkit does.

Readers validate the folder and raise :class:`SequenceError` (a ValueError) naming the folder,
the file and what is wrong: a missing folder or GT file, no frames, RGB / X frame counts that
differ, gaps in the frame numbering, GT rows that do not match the frame count, unparsable GT
lines, or a first / last frame that cannot be decoded.

The code lives in :mod:`rgbx_tracker_ros.data.readers` (one module per layout family, the
:data:`~rgbx_tracker_ros.data.readers.READERS` registry, :class:`Sequence` in
:mod:`rgbx_tracker_ros.data.readers.base`); this module re-exports every name it had.
"""

from __future__ import annotations

from rgbx_tracker_ros.data.readers import (  # noqa: F401 - re-exported
    ALIASES, LAYOUTS, READERS, detect_layout, load_sequence, load_sequences, register)
from rgbx_tracker_ros.data.readers.base import (  # noqa: F401 - re-exported
    _NUMBER, _SPLIT, ATTRIBUTE_FORMATS, IMAGE_EXTENSIONS, VTUAV_ANNOTATION_STEP, FrameSource,
    Reader,
    Sequence, SequenceError, _bgr_to_rgb, _build, _check_gt_count, _check_index,
    _first_existing, _frame_number, _imread, _list_frames, _pair_frames, _probe,
    _read_flags, _rgb_encoding_of, _squeeze_mono, _to_rgb_encoding, _to_x_encoding,
    _x_encoding_of, box_is_empty, natural_key, natural_key as _natural_key, read_boxes)
from rgbx_tracker_ros.data.readers.depthtrack import read_depthtrack  # noqa: F401
from rgbx_tracker_ros.data.readers.gtot import _corners_to_xywh, read_gtot  # noqa: F401
from rgbx_tracker_ros.data.readers.otb import read_otb  # noqa: F401
from rgbx_tracker_ros.data.readers.visevent import read_visevent  # noqa: F401
from rgbx_tracker_ros.data.readers.visible_infrared import (  # noqa: F401
    _LASHER_NAME, _read_visible_infrared, read_lasher, read_rgbt234)
from rgbx_tracker_ros.data.readers.vtuav import _expand_sparse, read_vtuav  # noqa: F401
