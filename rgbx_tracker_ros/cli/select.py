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

"""``rgbx-select``: draw the target box on a frame and send it to the tracker node's ``~/init``.

The frame comes from the running node's ``~/debug_image`` (default) or from a replay bag
(``--bag BAG --frame K``, 1-based); the box is drawn with OpenCV's ``cv2.selectROI`` (drag,
then ENTER or SPACE; c or ESC cancels) or given with ``--box X,Y,W,H`` (pixels, top-left
origin; no window: for scripts, tests and headless machines). The box goes out as a
``vision_msgs/Detection2D`` whose header stamp is the frame's stamp, so the node initialises on
exactly that frame (or, if it is older than the node's last frame, on the next one; see
``tracker_node``). With ``--box`` and neither ``--bag`` nor ``--from-debug-image`` the stamp is
``--stamp`` (default 0: the node's next frame).

Usage::

    rgbx-select [--node /rgbt/tracker_node]                  # draw on the live debug image
    rgbx-select --bag demo_out/tno_nato_camp.bag --frame 1   # draw on a bag frame
    rgbx-select --box 310,200,40,90 [--stamp NS]             # headless
    rgbx-select --bag BAG --frame 5 --box 310,200,40,90 --dry-run   # print, send nothing

Drawing needs an OpenCV build with GUI support (the venv pins opencv-contrib-python-headless,
which has none): without it, rgbx-select says so and asks for ``--box`` or a GUI OpenCV.
Exit status: 0 sent (or printed), 1 selection cancelled, 2 bad input / no GUI / node not found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

WINDOW = 'rgbx-select: drag a box around the target, ENTER to send, c to cancel'


class SelectError(ValueError):
    """Bad input for rgbx-select (box, frame index, bag) or no GUI to draw with."""


def parse_box(text: str) -> np.ndarray:
    """'X,Y,W,H' (pixels; commas or spaces) -> (4,) float64.

    Raises:
        SelectError: not 4 finite numbers with W, H > 0.
    """
    try:
        vals = np.array([float(v) for v in text.replace(',', ' ').split()], dtype=np.float64)
    except ValueError:
        vals = np.zeros(0)
    if vals.size != 4 or not np.all(np.isfinite(vals)) or vals[2] <= 0 or vals[3] <= 0:
        raise SelectError(f'--box {text!r}: expected X,Y,W,H in pixels with W, H > 0, e.g. '
                          f'--box 310,200,40,90')
    return vals


def check_box_in_image(box: np.ndarray, width: int, height: int) -> None:
    """Raise :class:`SelectError` unless the box overlaps the (width x height) image."""
    x, y, w, h = box
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise SelectError(f'box {box.tolist()} lies outside the {width}x{height} frame')


def gui_problem() -> str | None:
    """Why ``cv2.selectROI`` cannot open a window here, or None when it can."""
    import cv2

    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                 or os.environ.get('WAYLAND_DISPLAY')):
        return 'no display (DISPLAY / WAYLAND_DISPLAY unset)'
    info = cv2.getBuildInformation()
    gui_line = next((line for line in info.splitlines() if line.strip().startswith('GUI:')), '')
    if gui_line and gui_line.split(':', 1)[1].strip().upper() in ('NONE', 'NO', ''):
        return f'this OpenCV build has no GUI support ({" ".join(gui_line.split())})'
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        cv2.destroyWindow(WINDOW)
    except cv2.error as exc:
        return f'OpenCV cannot open a window: {str(exc).strip().splitlines()[-1]}'
    return None


def _no_gui_message(problem: str) -> str:
    return (f'cannot draw a box: {problem}. Pass the box instead with --box X,Y,W,H (pixels), '
            f'or install an OpenCV with GUI support (e.g. pip install opencv-contrib-python in '
            f'place of opencv-contrib-python-headless, or the system python3-opencv) and run '
            f'with a display')


def select_box_interactive(rgb: np.ndarray) -> np.ndarray | None:
    """Let a person draw a box on ``rgb`` ((H, W, 3) uint8 RGB) with ``cv2.selectROI``.

    Returns:
        (4,) (x, y, w, h) pixels, or None when the selection was cancelled (empty box).

    Raises:
        SelectError: when no window can be opened (headless OpenCV or no display); the
            message says to pass --box or install a GUI OpenCV.
    """
    import cv2

    problem = gui_problem()
    if problem is not None:
        raise SelectError(_no_gui_message(problem))
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    x, y, w, h = cv2.selectROI(WINDOW, bgr, showCrosshair=True, fromCenter=False)
    cv2.destroyWindow(WINDOW)
    if w <= 0 or h <= 0:
        return None
    return np.array([x, y, w, h], dtype=np.float64)


def bag_frame(bag: Path, frame: int) -> tuple[np.ndarray, int, str]:
    """Frame ``frame`` (1-based) of a replay bag -> ((H, W, 3) uint8 RGB, stamp ns, frame_id).

    Raises:
        SelectError: unreadable bag or frame out of range.
    """
    from rgbx_tracker_ros.core.modality import encode_rgb
    from rgbx_tracker_ros.ros.bag_io import decode_bag_image, read_bag_frames

    try:
        frames = read_bag_frames(bag)
    except Exception as exc:  # noqa: BLE001 - rosbags raises several types for bad bags
        raise SelectError(f'--bag {bag}: cannot read: {exc}') from None
    if not 1 <= frame <= len(frames):
        raise SelectError(f'--frame {frame}: {bag} has frames 1..{len(frames)}')
    arr, enc, stamp, frame_id = decode_bag_image(frames[frame - 1].rgb_raw)
    return encode_rgb(arr, enc), stamp, frame_id


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-select`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='rgbx-select', description=__doc__.split('\n')[0])
    parser.add_argument('--node', default='/tracker_node',
                        help='fully qualified tracker node name (default /tracker_node)')
    parser.add_argument('--bag', type=Path, default=None, help='take the frame from this bag')
    parser.add_argument('--frame', type=int, default=1, help='1-based frame of --bag')
    parser.add_argument('--box', default=None, metavar='X,Y,W,H',
                        help='send this box without opening a window')
    parser.add_argument('--from-debug-image', action='store_true',
                        help='with --box: still grab a debug image for its stamp')
    parser.add_argument('--stamp', type=int, default=0,
                        help='with --box only: frame stamp in ns (0 = the next frame)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds to wait for the node / its debug image')
    parser.add_argument('--dry-run', action='store_true',
                        help='print what would be sent (JSON) instead of sending')
    args = parser.parse_args(argv)

    try:
        box = parse_box(args.box) if args.box is not None else None
        if box is None:
            problem = gui_problem()          # say so before waiting for any frame
            if problem is not None:
                raise SelectError(_no_gui_message(problem))
        image, stamp, frame_id = None, int(args.stamp), ''
        if args.bag is not None:
            image, stamp, frame_id = bag_frame(args.bag, args.frame)
        elif box is None or args.from_debug_image:
            from rgbx_tracker_ros.ros.init_client import InitClient, InitClientError
            try:
                with InitClient(args.node) as client:
                    image, stamp, frame_id = client.grab_debug_frame(args.timeout)
            except InitClientError as exc:
                raise SelectError(str(exc)) from None
        if box is None:
            box = select_box_interactive(image)
            if box is None:
                print('rgbx-select: selection cancelled; nothing sent')
                return 1
        if image is not None:
            check_box_in_image(box, image.shape[1], image.shape[0])
    except SelectError as exc:
        print(f'rgbx-select: {exc}', file=sys.stderr)
        return 2

    what: dict[str, Any] = {'node': '/' + args.node.strip('/'), 'topic':
                            '/' + args.node.strip('/') + '/init', 'box_xywh': box.tolist(),
                            'stamp_ns': stamp, 'frame_id': frame_id}
    if args.dry_run:
        print(json.dumps(what))
        return 0
    from rgbx_tracker_ros.ros.init_client import InitClient, InitClientError
    try:
        with InitClient(args.node) as client:
            client.send_init(box, stamp, frame_id, wait_s=args.timeout)
    except InitClientError as exc:
        print(f'rgbx-select: {exc}', file=sys.stderr)
        return 2
    when = 'the next frame' if stamp == 0 else f'frame stamp {stamp}'
    print(f'rgbx-select: sent box {np.round(box, 1).tolist()} for {when} on {what["topic"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
