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

"""``rgbx-make-bag``: write a replay bag (rosbag2 MCAP) from a sequence folder or a generator.

Examples::

    rgbx-make-bag ../shared/data/real/tno_nato_camp demo_out/tno.bag --rate 10
    rgbx-make-bag ../shared/data/real/otb_crossing out/crossing.bag --layout otb
    rgbx-make-bag synthetic:thermal out/synth.bag --frames 60 --size 320x256 --seed 3
    rgbx-make-bag synthetic:event out/events.bag --raw-events
    rgbx-make-bag ../shared/data/real/tno_nato_camp out/tno_jpeg.bag --compressed

Topics: ``/rgb/image_raw``, ``/x/image_raw`` (sensor_msgs/Image, the sequence's own encodings;
``/x/events`` PointCloud2 with --raw-events) and
``/ground_truth`` (vision_msgs/Detection2DArray); see :mod:`rgbx_tracker_ros.ros.bag_io`.
With ``--compressed`` the images are sensor_msgs/CompressedImage as image_transport publishes
them: ``/rgb/image_raw/compressed`` (JPEG of ``--jpeg-quality``; PNG for 16-bit frames),
``/x/image_raw/compressed`` (PNG, lossless) or, for depth, ``/x/image_raw/compressedDepth``
(compressedDepth PNG, 16-bit depth exact). Play them to a node with ``transport: compressed``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rgbx_tracker_ros.ros.bag_io import DEFAULT_START_NS, sequence_source, synthetic_source, \
    write_bag

SYNTHETIC_PREFIX = 'synthetic:'


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--size expects WIDTHxHEIGHT pixels, got {text!r}')
    return w, h


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (also used by the docs)."""
    p = argparse.ArgumentParser(prog='rgbx-make-bag', description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('source', help="sequence folder, or 'synthetic:<thermal|depth|event|rgb>'")
    p.add_argument('out', type=Path, help='bag folder to create (must not exist)')
    p.add_argument('--rate', type=float, default=10.0, help='frame rate in Hz (default 10)')
    p.add_argument('--layout', default=None,
                   help='sequence layout (rgbt234, lasher, gtot, vtuav, depthtrack, visevent, '
                        'otb); default: detected from the folder')
    p.add_argument('--start-ns', type=int, default=DEFAULT_START_NS,
                   help='stamp of the first frame in ns (> 0)')
    g = p.add_argument_group('synthetic sequences')
    g.add_argument('--frames', type=int, default=60, help='number of frames (default 60)')
    g.add_argument('--size', type=_size, default=(320, 256), help='WIDTHxHEIGHT (320x256)')
    g.add_argument('--seed', type=int, default=0, help='generator seed (default 0)')
    g.add_argument('--raw-events', action='store_true',
                   help='synthetic:event: write raw events (PointCloud2 on /x/events) instead '
                        'of rendered event frames')
    c = p.add_argument_group('image transport')
    c.add_argument('--compressed', action='store_true',
                   help='write sensor_msgs/CompressedImage on <topic>/compressed (RGB JPEG, X '
                        'PNG; depth as compressedDepth on <topic>/compressedDepth) instead of '
                        'raw images')
    c.add_argument('--jpeg-quality', type=int, default=90,
                   help='JPEG quality 1-100 of the compressed RGB frames (default 90)')
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-make-bag``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.jpeg_quality <= 100:
        parser.error(f'--jpeg-quality must be in 1..100, got {args.jpeg_quality}')
    try:
        if args.source.startswith(SYNTHETIC_PREFIX):
            from rgbx_tracker_ros.data.synthetic import generate_sequence

            modality = args.source[len(SYNTHETIC_PREFIX):]
            w, h = args.size
            seq = generate_sequence(modality, args.frames, w, h, seed=args.seed,
                                    fps=args.rate)
            source = synthetic_source(seq, name=f'synthetic_{modality}_{args.seed}',
                                      raw_events=args.raw_events)
        else:
            source = sequence_source(args.source, args.layout)
        info = write_bag(source, args.out, args.rate, args.start_ns, progress=True,
                         compressed=args.compressed, jpeg_quality=args.jpeg_quality)
    except (ValueError, OSError) as exc:
        print(f'rgbx-make-bag: {exc}', file=sys.stderr)
        return 2
    print(f'rgbx-make-bag: wrote {info.num_frames} frames ({info.size_wh[0]}x{info.size_wh[1]}, '
          f'rgb {info.rgb_encoding}, x {info.x_encoding or "none"}, {info.transport} images) at '
          f'{args.rate:g} Hz to {info.path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
