#!/usr/bin/env python3

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

"""Write docs/debug_image_tno.png: tracker_node's ``~/debug_image`` on the real TNO night sequence.

The node runs in this process with the committed checkpoint (its worker thread stopped; frames
are fed through its own image callbacks in order, X first, then one worker step each, as a
lockstep replay does), initialised from the ground truth on the first annotated frame and
re-initialised at the footage cuts (1-based frames 10 and 20, ../shared/data/real/SOURCES.md).
The debug image of ``--frame`` (1-based) is saved as PNG.

Usage (from the repository root, in the venv with AMENT_PREFIX_PATH set)::

    python scripts/make_debug_image.py [--frame 30] [--out docs/debug_image_tno.png]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from std_msgs.msg import Header

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.data.sequences import load_sequence  # noqa: E402
from rgbx_tracker_ros.ros.conversions import (  # noqa: E402
    array_to_image, box_to_detection, image_to_array, ns_to_stamp)
from rgbx_tracker_ros.ros.tracker_node import TrackerNode  # noqa: E402

TNO = REPO.parent / 'shared' / 'data' / 'real' / 'tno_nato_camp'
CUTS = (10, 20)          # 1-based frames re-initialised from the ground truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frame', type=int, default=30, help='1-based frame to save')
    parser.add_argument('--out', type=Path, default=REPO / 'docs' / 'debug_image_tno.png')
    args = parser.parse_args()
    seq = load_sequence(TNO)
    if not 1 <= args.frame <= seq.num_frames:
        parser.error(f'--frame must be in 1..{seq.num_frames}')
    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    node = TrackerNode(context=ctx, parameter_overrides=[
        Parameter('modality', value='thermal'), Parameter('device', value='cpu')])
    node._stop.set()
    node._wake.set()
    node._worker.join(timeout=5)
    images = []
    node._dbg_pub.get_subscription_count = lambda: 1   # draw as if rviz were watching
    node._dbg_pub.publish = images.append
    try:
        first = int(np.flatnonzero(~seq.absent)[0])
        for k in range(args.frame):
            stamp = 1_000_000_000 + k * 100_000_000
            if k == first or (k + 1 in CUTS and not seq.absent[k]):
                header = Header(stamp=ns_to_stamp(stamp))
                node._on_init(box_to_detection(seq.gt_xywh[k], 1.0, header))
            node._on_x(array_to_image(seq.read_x(k), seq.x_encoding, stamp, 'thermal'))
            node._on_rgb(array_to_image(seq.read_rgb(k), seq.rgb_encoding, stamp, 'camera'))
            node._worker_step()
        picture = image_to_array(images[-1])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        print(f'debug image of frame {args.frame} ({picture.shape[1]}x{picture.shape[0]}, '
              f'{len(images)} drawn) -> {args.out}')
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    return 0


if __name__ == '__main__':
    sys.exit(main())
