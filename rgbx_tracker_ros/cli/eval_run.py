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
    args = parser.parse_args(strip_ros_args(list(sys.argv[1:] if argv is None else argv)))

    from rgbx_tracker_ros.cli.evaluate import load_bag_sequence
    from rgbx_tracker_ros.data.sequences import SequenceError
    from rgbx_tracker_ros.eval.report import format_table, ReportError, write_report
    from rgbx_tracker_ros.ros.bag_io import read_bag_frames

    try:
        answers = read_recorded_detections(args.recorded, args.node)
        frames = read_bag_frames(args.bag)
        seq = load_bag_sequence(args.bag)
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
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / 'recorded_results.csv', 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['frame', 'stamp_ns', 'answered', 'x', 'y', 'w', 'h', 'score'])
        for k, f in enumerate(frames):
            w.writerow([k + 1, f.stamp_ns, int(answered[k]), *(f'{v:.3f}' for v in boxes[k]),
                        '' if np.isnan(scores[k]) else f'{scores[k]:.4f}'])
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


if __name__ == '__main__':
    sys.exit(main())
