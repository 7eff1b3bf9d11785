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

"""``make demo``: the ROS 2 tracker node follows the person in the real night RGB-T sequence.

Steps (``python -m rgbx_tracker_ros.cli.demo``, or ``rgbx-demo``):

1. convert ``../shared/data/real/tno_nato_camp`` (visual band: image-intensified grey; X: LWIR)
   to a rosbag2 MCAP in ``demo_out/`` (with no ``../shared``: a generated thermal sequence whose
   RGB goes dark for a stretch, written as an RGBT234-style folder first);
2. run ``tracker_node`` and ``rgbx-player`` as two separate processes (own ROS_DOMAIN_ID each
   run, FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA, lockstep replay, node on sim time from the
   player's /clock) three times: with both modalities ('rgbx'), with X withheld for a stretch of
   frames ('x_withheld_<a>_<b>': the node tracks on RGB alone), and with RGB withheld for a
   stretch ('rgb_withheld_<a>_<b>': a dead RGB camera, the node tracks on X alone);
3. score each run with the LasHeR conventions (PR@20px, NPR@0.20, SR) via ``eval.report``
   into ``demo_out/<run>/`` (report.md, precision.png, success.png, annotated video, the
   player's results.csv and diagnostics, node and player logs) plus ``demo_out/comparison/``
   (all runs in one table and plot), and print the metrics table.

The process helpers here (:func:`ros_env`, :func:`replay_bag`) are also used by the integration
tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rgbx_tracker_ros.bringup import player_options

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / 'shared'
TNO = SHARED / 'data' / 'real' / 'tno_nato_camp'
PARAMS_FILE = REPO_ROOT / 'config' / 'tracker.yaml'
# The TNO footage skips between frames 9->10 and 19->20 (1-based): the person jumps 95-135 px,
# beyond a local search region, so the replay re-initialises there (SOURCES.md: three segments).
TNO_CUTS = '10,20'


def default_params_file() -> Path | None:
    """config/tracker.yaml of the source tree, else of the installed package share dir."""
    if PARAMS_FILE.is_file():
        return PARAMS_FILE
    try:
        from ament_index_python.packages import get_package_share_directory
        share = Path(get_package_share_directory('rgbx_tracker_ros')) / 'config' / 'tracker.yaml'
        return share if share.is_file() else None
    except Exception:  # noqa: BLE001 - not in an ament index
        return None


class DemoError(RuntimeError):
    """A demo step failed (the message says which and where its log is)."""


# ------------------------------------------------------------------------- processes
def ros_env(domain_id: int | None = None) -> dict[str, str]:
    """Environment for a ROS 2 child process of this venv.

    Sets AMENT_PREFIX_PATH (this interpreter's prefix first, so the venv's message packages and
    vision_msgs are found), its own ROS_DOMAIN_ID (random 1..100 when None),
    FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (large images over DDS; ROS_AUTOMATIC_DISCOVERY_RANGE
    =LOCALHOST is removed, it does not combine with it), PYTHONPATH with the repo root and
    unbuffered output.
    """
    env = dict(os.environ)
    prefixes = [p for p in env.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if sys.prefix not in prefixes:
        prefixes.insert(0, sys.prefix)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(prefixes)
    env['ROS_DOMAIN_ID'] = str(domain_id if domain_id is not None
                               else random.SystemRandom().randint(1, 100))
    env['FASTDDS_BUILTIN_TRANSPORTS'] = 'LARGE_DATA'
    if env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '').upper() == 'LOCALHOST':
        del env['ROS_AUTOMATIC_DISCOVERY_RANGE']
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['PYTHONUNBUFFERED'] = '1'
    env.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')
    return env


def _ros_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_ros_value(v) for v in value) + ']'
    if isinstance(value, str) and value == '':
        return "''"
    return str(value)


def node_command(params: dict[str, Any], params_file: Path | None = PARAMS_FILE) -> list[str]:
    """``python -m rgbx_tracker_ros.ros.tracker_node --ros-args ...`` with parameter overrides."""
    cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    for key, value in params.items():
        cmd += ['-p', f'{key}:={_ros_value(value)}']
    return cmd


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> int:
    """SIGINT, then SIGTERM, then SIGKILL (each after ``timeout_s``); returns the exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if proc.poll() is not None:
            return proc.returncode
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    return proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return '(no log)'


def replay_bag(bag: Path, out_dir: Path, node_params: dict[str, Any],
               withhold_x: str | None = None, answer_timeout_s: float = 30.0,
               wait_s: float = 120.0, domain_id: int | None = None,
               params_file: Path | None = PARAMS_FILE,
               keep_node: bool = False,
               reinit_at: str = '',
               withhold_rgb: str | None = None) -> tuple[dict[str, Any], subprocess.Popen | None]:
    """Run the node and the lockstep player as two processes on ``bag``.

    Logs go to ``out_dir/node.log`` and ``out_dir/player.log``; the player writes results.csv,
    diagnostics.jsonl and summary.json into ``out_dir``.

    Args:
        bag: replay bag folder.
        out_dir: output folder (created).
        node_params: parameter overrides for the node (on top of ``params_file``).
        withhold_x: 'START:END' frames (1-based, inclusive) the player withholds X for.
        answer_timeout_s: player's wait per answer (lockstep, so generous: a slow CPU or a
            global search on a frame must not lose the answer).
        wait_s: player's wait for the node to come up.
        domain_id: ROS_DOMAIN_ID for both (random when None).
        params_file: the node's YAML parameters file.
        keep_node: leave the node running and return its Popen (the caller stops it).
        reinit_at: '10,20': 1-based frames where the player sends the GT box on ~/init again.
        withhold_rgb: 'START:END' frames (1-based, inclusive) the player withholds RGB for.

    Returns:
        (the player's summary dict, the node's Popen if ``keep_node`` else None).

    Raises:
        DemoError: the node exited early or the player failed (log tails in the message).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    env = ros_env(domain_id)
    node_log, player_log = out_dir / 'node.log', out_dir / 'player.log'
    player_cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.player', str(bag), '--out',
                  str(out_dir), '--timeout', str(answer_timeout_s), '--wait', str(wait_s),
                  *player_options(withhold_x, withhold_rgb, reinit_at)]
    with open(node_log, 'w') as nlog, open(player_log, 'w') as plog:
        node = subprocess.Popen(node_command(node_params, params_file), env=env, cwd=REPO_ROOT,
                                stdout=nlog, stderr=subprocess.STDOUT)
        player = subprocess.Popen(player_cmd, env=env, cwd=REPO_ROOT, stdout=plog,
                                  stderr=subprocess.STDOUT)
        try:
            while player.poll() is None:
                if node.poll() is not None:
                    stop_process(player, 5.0)
                    raise DemoError(f'tracker_node exited with code {node.returncode} before the '
                                    f'replay finished; {node_log}:\n{_tail(node_log)}')
                time.sleep(0.2)
        finally:
            if player.poll() is None:
                stop_process(player, 5.0)
            if not keep_node or player.returncode != 0:
                stop_process(node)
    if player.returncode != 0:
        raise DemoError(f'rgbx-player failed with code {player.returncode}; {player_log}:\n'
                        f'{_tail(player_log)}\n--- node log {node_log}:\n{_tail(node_log)}')
    summary = json.loads((out_dir / 'summary.json').read_text())
    summary['player_line'] = _tail(player_log, 1)
    return summary, (node if keep_node else None)


def read_results(path: Path) -> dict[str, np.ndarray]:
    """The player's results.csv -> arrays: boxes (T, 4) (NaN without a box), scores (T,),
    answered, x_published, rgb_published (bool), x_state (str), stamps_ns (int64),
    round_trip_ms (T,) (NaN where none was measured).

    Raises:
        OSError / KeyError / ValueError: the file cannot be read or is not a results.csv.
    """
    with open(path, newline='') as fh:
        rows = list(csv.DictReader(fh))
    boxes = np.array([[float(r[k]) for k in ('x', 'y', 'w', 'h')] if r['has_box'] == '1'
                      else [np.nan] * 4 for r in rows], dtype=np.float64).reshape(-1, 4)
    scores = np.array([float(r['score']) if r['score'] else np.nan for r in rows])
    return {'boxes': boxes, 'scores': scores,
            'answered': np.array([r['answered'] == '1' for r in rows]),
            'x_published': np.array([r['x_published'] == '1' for r in rows]),
            'rgb_published': np.array([r.get('rgb_published', '1') == '1' for r in rows]),
            'x_state': np.array([r['x_state'] for r in rows]),
            'stamps_ns': np.array([int(r['stamp_ns']) for r in rows], dtype=np.int64),
            'round_trip_ms': np.array([float(r['round_trip_ms']) if r.get('round_trip_ms')
                                       else np.nan for r in rows], dtype=np.float64)}


def _withheld(image: np.ndarray, label: str) -> np.ndarray:
    """A frame the player did not send: dimmed to a quarter, with ``label`` at the top left."""
    import cv2

    out = (image * 0.25).astype(np.uint8)
    cv2.putText(out, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 160, 0), 2,
                cv2.LINE_AA)
    return out


def write_node_view_video(seq: Any, res: dict[str, np.ndarray], path: Path,
                          fps: float = 10.0) -> Path:
    """The node's view of a replay as a video: the RGB frame drawn like ``~/debug_image``
    (box, score, 'RGB-X' / 'RGB only', trail, GT thin) next to the X frame the node received
    (each dimmed with 'X withheld' / 'RGB withheld' where the player did not send it).

    Args:
        seq: the ``data.sequences.Sequence`` replayed.
        res: :func:`read_results` of the run.
        path: output .mp4 (mp4v).

    Raises:
        DemoError: if OpenCV cannot open a video writer.
    """
    import cv2

    from rgbx_tracker_ros.core.modality import encode_rgb, encode_x
    from rgbx_tracker_ros.core.vis import box_centre, draw_track

    writer = None
    trail: list[tuple[float, float]] = []
    try:
        for i in range(seq.num_frames):
            rgb = encode_rgb(seq.read_rgb(i), seq.rgb_encoding)
            if not res['rgb_published'][i]:
                rgb = _withheld(rgb, 'RGB withheld')
            centre = box_centre(res['boxes'][i])
            if centre is not None:
                trail = (trail + [centre])[-20:]
            score = None if np.isnan(res['scores'][i]) else float(res['scores'][i])
            gt = None if seq.absent[i] else seq.gt_xywh[i]
            state = res['x_state'][i] or ('no answer' if not res['answered'][i] else '')
            panels = [draw_track(rgb, res['boxes'][i], score, state, trail, gt_xywh=gt)]
            if seq.has_x:
                x = encode_x(seq.read_x(i), seq.x_encoding, seq.modality)
                x = cv2.resize(x, (rgb.shape[1], rgb.shape[0]))
                if not res['x_published'][i]:
                    x = _withheld(x, 'X withheld')
                panels.append(x)
            frame = cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR)
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                         (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise DemoError(f'cv2.VideoWriter cannot write {path}')
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path


# ------------------------------------------------------------------------------ data
def write_synthetic_sequence(out_dir: Path, num_frames: int = 60, seed: int = 11,
                             size_wh: tuple[int, int] = (320, 256)) -> Path:
    """Generate a thermal sequence (RGB dark for the middle third) as an RGBT234-style folder:
    ``visible/NNNNNv.png`` (colour), ``infrared/NNNNNi.png`` (16-bit), ``visible.txt``."""
    import cv2

    from rgbx_tracker_ros.data.synthetic import generate_sequence

    seq = generate_sequence('thermal', num_frames, size_wh[0], size_wh[1], seed=seed,
                            dark_rgb=True, dark_span=(0.3, 0.6), fps=10.0)
    root = out_dir / f'synthetic_thermal_{seed}'
    if root.exists():
        shutil.rmtree(root)
    (root / 'visible').mkdir(parents=True)
    (root / 'infrared').mkdir()
    for k in range(num_frames):
        cv2.imwrite(str(root / 'visible' / f'{k + 1:05d}v.png'),
                    cv2.cvtColor(seq.rgb[k], cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / 'infrared' / f'{k + 1:05d}i.png'), seq.x_raw[k])
    gt = np.asarray(seq.boxes_xywh, dtype=np.float64).copy()
    gt[~np.asarray(seq.visible, dtype=bool)] = 0.0
    (root / 'visible.txt').write_text(
        ''.join(','.join(f'{v:.2f}' for v in row) + '\n' for row in gt))
    return root


# ------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make demo`` / ``rgbx-demo``."""
    parser = argparse.ArgumentParser(prog='rgbx-demo', description=__doc__.split('\n')[0])
    parser.add_argument('--sequence', type=Path, default=None,
                        help=f'sequence folder (default {TNO}, else a generated one)')
    parser.add_argument('--out', type=Path, default=REPO_ROOT / 'demo_out',
                        help='output folder (default demo_out/)')
    parser.add_argument('--checkpoint', default='',
                        help="node checkpoint ('' = checkpoints/s14_224_d8_rgbx.pt; "
                             "'none' = random)")
    parser.add_argument('--variant', default='s14_224_d8',
                        help='model variant (default s14_224_d8, the packaged model)')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda')
    parser.add_argument('--rate', type=float, default=10.0, help='bag frame rate in Hz')
    parser.add_argument('--withhold-x', default='12:22',
                        help='frames (1-based, inclusive) without X in the second run')
    parser.add_argument('--withhold-rgb', default='12:22',
                        help="frames (1-based, inclusive) without RGB in the third run ('' = no "
                             "third run)")
    parser.add_argument('--reinit-at', default=None, metavar='N[,N...]',
                        help='1-based frames where the tracker is re-initialised from GT; default '
                             f'{TNO_CUTS} for {TNO.name} (its footage skips there, see '
                             '../shared/data/real/SOURCES.md), none otherwise')
    parser.add_argument('--no-video', action='store_true', help='skip the annotated videos')
    args = parser.parse_args(argv)

    from rgbx_tracker_ros.data.sequences import load_sequence
    from rgbx_tracker_ros.eval.report import format_table, write_report
    from rgbx_tracker_ros.ros.bag_io import sequence_source, write_bag
    from rgbx_tracker_ros.ros.player import parse_span
    from rgbx_tracker_ros.ros.tracker_node import default_checkpoint

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    seq_dir = args.sequence
    if seq_dir is None:
        if TNO.is_dir():
            seq_dir = TNO
        else:
            print(f'rgbx-demo: {TNO} not found; generating a synthetic thermal sequence instead')
            seq_dir = write_synthetic_sequence(out)
    seq = load_sequence(seq_dir)
    reinit_at = args.reinit_at
    if reinit_at is None:
        reinit_at = TNO_CUTS if seq.name == TNO.name else ''
    span = parse_span(args.withhold_x)
    rgb_span = parse_span(args.withhold_rgb) if args.withhold_rgb else None
    for flag, sp in (('--withhold-x', span), ('--withhold-rgb', rgb_span)):
        if sp is not None and sp[1] > seq.num_frames:
            parser.error(f'{flag} {sp[0]}:{sp[1]}: {seq.name} has {seq.num_frames} frames')
    if not seq.has_x:
        rgb_span = None     # an RGB-only sequence has nothing to track on without RGB

    checkpoint = args.checkpoint
    if not checkpoint and default_checkpoint() is None:
        print('rgbx-demo: WARNING: checkpoints/s14_224_d8_rgbx.pt not found; the node runs with '
              'RANDOM weights, so the numbers below mean nothing (train with rgbx-train first)')
        checkpoint = 'none'

    bag = out / f'{seq.name}.bag'
    if bag.exists():
        shutil.rmtree(bag)
    info = write_bag(sequence_source(seq_dir), bag, args.rate)
    print(f'rgbx-demo: {seq.name}: {info.num_frames} frames {info.size_wh[0]}x{info.size_wh[1]} '
          f'(rgb {info.rgb_encoding}, x {info.x_encoding}) -> {bag}')

    node_params = {'variant': args.variant, 'checkpoint': checkpoint, 'device': args.device,
                   'modality': seq.modality.value if seq.has_x else 'rgb',
                   'qos_reliability': 'reliable', 'use_sim_time': True}
    runs = [('rgbx', None, None),
            (f'x_withheld_{span[0]}_{span[1]}', f'{span[0]}:{span[1]}', None)]
    if rgb_span is not None:
        runs.append((f'rgb_withheld_{rgb_span[0]}_{rgb_span[1]}', None,
                     f'{rgb_span[0]}:{rgb_span[1]}'))
    results: dict[str, Any] = {}
    for name, withhold, withhold_rgb in runs:
        run_dir = out / name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        what = ('RGB + X' if withhold is None and withhold_rgb is None else
                f'X withheld on frames {withhold}' if withhold else
                f'RGB withheld on frames {withhold_rgb}')
        if reinit_at:
            what += f'; re-initialised from GT at frames {reinit_at} (sequence cuts)'
        print(f'rgbx-demo: run {name!r} ({what}): tracker_node + rgbx-player ...', flush=True)
        try:
            summary, _ = replay_bag(bag, run_dir, node_params, withhold,
                                    params_file=default_params_file(), reinit_at=reinit_at,
                                    withhold_rgb=withhold_rgb)
        except DemoError as exc:
            print(f'rgbx-demo: {exc}', file=sys.stderr)
            return 1
        print(f'  {summary["player_line"]}')
        res = read_results(run_dir / 'results.csv')
        results[name] = res
        report = write_report(run_dir, seq, {name: (res['boxes'], res['scores'])},
                              video=not args.no_video,
                              title=f'{seq.name}: tracker_node replay, run {name} ({what})')
        if not args.no_video:
            write_node_view_video(seq, res, run_dir / 'node_view.mp4', fps=args.rate)
        statuses = summary.get('last_statuses') or {}
        (run_dir / 'node_diagnostics.txt').write_text(''.join(
            f'{name}/{k}: {v}\n' for name, st in statuses.items()
            for k, v in st.get('values', {}).items()))
        sync = statuses.get('sync', {}).get('values', {})
        trk = statuses.get('tracker', {}).get('values', {})
        rgb_in = statuses.get('input rgb', {}).get('values', {})
        print(f'  report: {report.paths["report"]}')
        only = int(np.sum(res['x_state'] == 'RGB only'))
        print(f'  node: {sync.get("pairs_total", "?")} synchronized pairs, '
              f'{sync.get("rgb_alone_total", "?")} frames on RGB alone ({only} per results.csv),'
              f' {sync.get("x_alone_total", "?")} on X alone,'
              f' {sync.get("dropped_total", "?")} dropped, {rgb_in.get("bad_frames_total", "?")}'
              f' bad, latency {trk.get("latency_ms_mean_total", "?")} ms mean, device '
              f'{trk.get("device", "?")} ({trk.get("precision", "?")})')

    comparison = write_report(out / 'comparison', seq,
                              {name: (r['boxes'], r['scores']) for name, r in results.items()},
                              video=False, title=f'{seq.name}: RGB-X vs X withheld (frames '
                                                 f'{args.withhold_x})' + (
                                                     f' vs RGB withheld (frames '
                                                     f'{args.withhold_rgb})' if rgb_span else ''))
    print()
    print(format_table(comparison))
    print()
    videos = '' if args.no_video else (f'{seq.name}_tracks.mp4 (GT vs run), node_view.mp4 '
                                       f'(what the node saw and drew), ')
    print(f'rgbx-demo: outputs in {out}/<run>/ for runs {", ".join(results)}: report.md, '
          f'precision.png, success.png, {videos}results.csv, diagnostics.jsonl, node.log; '
          f'all runs compared: {out / "comparison" / "report.md"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
