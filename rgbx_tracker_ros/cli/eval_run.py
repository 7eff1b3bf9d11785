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

"""``rgbx-eval-run``: score a recorded tracker_node run against the ground truth of its bag.

The evaluator step of ``launch/replay.launch.py`` / ``rgbx-launch --replay``: reads the ground
truth (``/ground_truth``) and frames of the replay bag, and the node's answers
(``<node>/detections``, ``vision_msgs/Detection2DArray``) from the bag ``rgbx-record`` wrote.
Answers are matched to frames by header stamp (the node answers with the RGB frame's header);
a frame without an answer, or with an empty array, counts as "no box". Writes into ``--out``:
``report.md``, ``precision.png``, ``success.png`` (LasHeR conventions: PR@20px, NPR@0.20, SR;
``eval.report``), an annotated video unless ``--no-video``, and ``recorded_results.csv``
(frame, stamp_ns, answered, x, y, w, h, score). Prints the metrics table.

Usage::

    rgbx-eval-run BAG --recorded RECORDED_BAG --out DIR [--node /tracker_node] [--no-video]
                  [--rgb-topic T] [--x-topic T] [--gt-topic T | --gt-file FILE]

``--rgb-topic`` / ``--x-topic`` / ``--gt-topic`` name the topics of a bag recorded by someone else
(as given to ``rgbx-player``); ``--gt-file`` gives its ground truth (one ``x,y,w,h`` row per RGB
frame, pixels, 0,0,0,0 = absent) in place of a ground-truth topic.

A bag without ground truth needs ``--init-box X,Y,W,H`` (the box the node was initialised with on
the first RGB frame, pixels): nothing is scored; ``recorded_results.csv`` (the tracks), the
annotated video and ``summary.md`` (frames answered, the round trip per frame from the player's
``--player-results`` results.csv: mean, median, p95, max in ms) are written.

Exit status 0 on success, 2 for bad input (unreadable bag, no ground truth, no detections
topic in the recording).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import numpy as np

_logger = logging.getLogger(__name__)


class EvalRunError(ValueError):
    """The bags cannot be scored (the message says which file and what is missing)."""


def strip_ros_args(argv: list[str]) -> list[str]:
    """Drop ``--ros-args ... [--]`` blocks (a launch Node appends them) from ``argv``."""
    out, skipping = [], False
    for a in argv:
        if a == '--ros-args':
            skipping = True
        elif skipping and a == '--':
            skipping = False
        elif not skipping:
            out.append(a)
    return out


def read_recorded_detections(recorded: str | Path, node: str = '/tracker_node'
                             ) -> dict[int, tuple[np.ndarray | None, float | None]]:
    """Header stamp (ns) -> (box (4,) xywh pixels or None, score or None) from a recording.

    Raises:
        EvalRunError: the recording cannot be read or has no ``<node>/detections`` topic.
    """
    from rosbags.rosbag2 import Reader

    from rgbx_tracker_ros.ros.bag_io import make_typestore
    from rgbx_tracker_ros.ros.conversions import detections_to_result

    topic = '/' + node.strip('/') + '/detections'
    store = make_typestore()
    out: dict[int, tuple[np.ndarray | None, float | None]] = {}
    try:
        with Reader(Path(recorded)) as reader:
            conns = [c for c in reader.connections if c.topic == topic]
            if not conns:
                raise EvalRunError(f'{recorded}: no {topic} topic (topics: '
                                   f'{sorted(c.topic for c in reader.connections)}); is --node '
                                   f'the recorded node?')
            for conn, _, raw in reader.messages(connections=conns):
                msg = store.deserialize_cdr(raw, conn.msgtype)
                stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
                out[stamp] = detections_to_result(msg)
    except EvalRunError:
        raise
    except Exception as exc:  # noqa: BLE001 - rosbags raises several types for bad bags
        raise EvalRunError(f'{recorded}: cannot read the recording: {exc}') from None
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rgbx-eval-run`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='rgbx-eval-run', description=__doc__.split('\n')[0])
    parser.add_argument('bag', type=Path, help='the replay bag (with /ground_truth)')
    parser.add_argument('--recorded', type=Path, required=True,
                        help="rgbx-record's bag of the node's outputs")
    parser.add_argument('--out', type=Path, required=True, help='report folder')
    parser.add_argument('--node', default='/tracker_node', help='fully qualified node name')
    parser.add_argument('--protocol', default='auto', help='eval.report protocol (auto)')
    parser.add_argument('--no-video', action='store_true', help='skip the annotated video')
    parser.add_argument('--rgb-topic', default=None, help='RGB image topic in the bag')
    parser.add_argument('--x-topic', default=None, help='X image topic in the bag')
    parser.add_argument('--gt-topic', default=None,
                        help='ground-truth vision_msgs/Detection2DArray topic in the bag')
    parser.add_argument('--gt-file', type=Path, default=None,
                        help='ground truth file (x,y,w,h pixels per RGB frame) instead of a topic')
    parser.add_argument('--init-box', default=None, metavar='X,Y,W,H',
                        help='a bag without ground truth: the initial box (pixels, first RGB '
                             'frame); the run is recorded, not scored')
    parser.add_argument('--player-results', type=Path, default=None, metavar='CSV',
                        help="the player's results.csv (round-trip times for the summary)")
    args = parser.parse_args(strip_ros_args(list(sys.argv[1:] if argv is None else argv)))

    from rgbx_tracker_ros.cli.demo import read_results
    from rgbx_tracker_ros.cli.evaluate import load_bag_sequence, parse_box
    from rgbx_tracker_ros.data.sequences import SequenceError
    from rgbx_tracker_ros.eval.report import format_table, ReportError, write_report
    from rgbx_tracker_ros.ros.bag_io import TOPIC_GT, TOPIC_RGB, TOPIC_X

    topics = {'rgb_topic': args.rgb_topic or TOPIC_RGB, 'x_topic': args.x_topic or TOPIC_X}
    try:
        init_box = parse_box(args.init_box) if args.init_box else None
        answers = read_recorded_detections(args.recorded, args.node)
        seq = load_bag_sequence(args.bag, gt_file=args.gt_file, init_box=init_box,
                                gt_topic=args.gt_topic or TOPIC_GT, **topics)
        frames = seq.frames
    except (EvalRunError, SequenceError, ValueError, OSError) as exc:
        print(f'rgbx-eval-run: {exc}', file=sys.stderr)
        return 2
    n = len(frames)
    boxes = np.full((n, 4), np.nan)
    scores = np.full(n, np.nan)
    answered = np.zeros(n, bool)
    for k, f in enumerate(frames):
        got = answers.get(f.stamp_ns)
        if got is None:
            continue
        answered[k] = True
        if got[0] is not None:
            boxes[k] = got[0]
            scores[k] = np.nan if got[1] is None else got[1]
    player, player_error = None, None     # the player's results.csv, read once
    if args.player_results is not None:
        try:
            player = read_results(args.player_results)
        except (OSError, KeyError, ValueError) as exc:
            player_error = f'{args.player_results}: not a player results.csv ({exc})'
    filled = _fill_from_player(player, frames, boxes, scores, answered)
    if filled:
        print(f'rgbx-eval-run: WARN: {filled} of {n} answers were not in the recording (the '
              f'recorder missed them); taken from {args.player_results}', file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / 'recorded_results.csv', 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['frame', 'stamp_ns', 'answered', 'x', 'y', 'w', 'h', 'score'])
        for k, f in enumerate(frames):
            w.writerow([k + 1, f.stamp_ns, int(answered[k]), *(f'{v:.3f}' for v in boxes[k]),
                        '' if np.isnan(scores[k]) else f'{scores[k]:.4f}'])
    if seq.attributes.get('ground_truth') == 'none':
        return _tracks_only(args, seq, boxes, scores, answered, player, player_error)
    try:
        result = write_report(args.out, seq, {'tracker_node': (boxes, scores)},
                              protocol=args.protocol, video=not args.no_video,
                              title=f'{seq.name}: recorded tracker_node run '
                                    f'({int(answered.sum())}/{n} frames answered)')
    except ReportError as exc:
        print(f'rgbx-eval-run: {exc}', file=sys.stderr)
        return 2
    print(format_table(result))
    print(f'rgbx-eval-run: {int(answered.sum())}/{n} frames answered, '
          f'{int(np.isfinite(boxes[:, 0]).sum())} with a box; report {result.paths["report"]}')
    return 0


def _fill_from_player(player: dict | None, frames, boxes: np.ndarray, scores: np.ndarray,
                      answered: np.ndarray) -> int:
    """Frames the recording lacks but the player's results (:func:`read_results`) have an
    answer for (a recorder that matched the node late): their box / score from the player, in
    place. Returns how many were filled (0 without results)."""
    if player is None:
        return 0
    row_of = {int(stamp): i for i, stamp in enumerate(player['stamps_ns'])}
    filled = 0
    for k, f in enumerate(frames):
        i = row_of.get(f.stamp_ns)
        if answered[k] or i is None or not player['answered'][i]:
            continue
        answered[k] = True
        filled += 1
        boxes[k] = player['boxes'][i]
        scores[k] = player['scores'][i]
    return filled


def round_trip_summary(player: dict | None) -> dict[str, float] | None:
    """Round-trip time (ms, frame published -> answer received) over the frames of the
    player's results (:func:`read_results`) that have one: mean, median, p95, max; None
    without results."""
    if player is None:
        return None
    ms = player['round_trip_ms'][np.isfinite(player['round_trip_ms'])]
    if ms.size == 0:
        return {'frames': 0}
    return {'frames': int(ms.size), 'mean': float(ms.mean()), 'median': float(np.median(ms)),
            'p95': float(np.percentile(ms, 95)), 'max': float(ms.max())}


def _tracks_only(args: argparse.Namespace, seq, boxes: np.ndarray, scores: np.ndarray,
                 answered: np.ndarray, player: dict | None, player_error: str | None) -> int:
    """No ground truth: the video and summary.md of the recorded run, nothing scored (an
    unreadable ``--player-results`` is an error here: the summary needs its timing)."""
    from rgbx_tracker_ros.eval.report import ReportError, write_video

    if player_error is not None:
        print(f'rgbx-eval-run: {player_error}', file=sys.stderr)
        return 2
    try:
        timing = round_trip_summary(player)
        video = None if args.no_video else write_video(
            seq, {'tracker_node': (boxes, scores)}, args.out / 'tracks')
    except ReportError as exc:
        print(f'rgbx-eval-run: {exc}', file=sys.stderr)
        return 2
    n, boxed = len(boxes), int(np.isfinite(boxes[:, 0]).sum())
    lines = [f'# {seq.name}: recorded tracker_node run (no ground truth: not scored)', '',
             f'- frames answered: {int(answered.sum())} / {n}, with a box: {boxed}',
             '- tracks: [recorded_results.csv](recorded_results.csv)']
    if video is not None:
        lines.append(f'- video: [{video.name}]({video.name})')
    if timing and timing.get('frames'):
        lines.append(f"- round trip (ms, {timing['frames']} frames): mean {timing['mean']:.1f}, "
                     f"median {timing['median']:.1f}, p95 {timing['p95']:.1f}, "
                     f"max {timing['max']:.1f}")
    (args.out / 'summary.md').write_text('\n'.join(lines) + '\n')
    print(f'rgbx-eval-run: {int(answered.sum())}/{n} frames answered, {boxed} with a box; no '
          f'ground truth, not scored; summary {args.out / "summary.md"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
