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

"""Compressed and foreign bags: rgbx-player republishes (decoded by default, or compressed with
``--transport compressed``) and rgbx-eval reads bags with other topic names (``--rgb-topic`` /
``--x-topic``), ground truth from ``--gt-file`` or none at all (``--init-box``: tracks only)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from rgbx_tracker_ros.cli import evaluate as ev
from rgbx_tracker_ros.cli import make_bag
from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros import bag_io
from rgbx_tracker_ros.ros.bag_io import synthetic_source, write_bag

REPO = Path(__file__).resolve().parents[1]
TNO = REPO.parent / 'shared' / 'data' / 'real' / 'tno_nato_camp'
N = 12
FOREIGN_RGB = '/cam/visible/image_raw'
FOREIGN_X = '/cam/lwir/image_raw'


def rename_topics(src: Path, dst: Path, mapping: dict[str, str], storage: str = 'sqlite3',
                  drop: tuple[str, ...] = ()) -> Path:
    """Copy bag ``src`` to ``dst`` (``storage``) with topics renamed by ``mapping`` (messages
    byte for byte) and the topics in ``drop`` left out: a bag 'recorded by someone else'."""
    msgs, report = bag_io.read_bag_messages(src)
    assert not report.problems
    store = bag_io.make_typestore()
    plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
    with Writer(dst, version=9, storage_plugin=plugin) as writer:
        conns = {}
        for m in msgs:
            if m.topic in drop:
                continue
            topic = mapping.get(m.topic, m.topic)
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, m.msgtype, typestore=store)
            writer.write(conns[topic], m.log_time_ns, m.raw)
    return dst


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('any_bag')
    seq = generate_sequence('thermal', N, 160, 128, seed=5, num_occlusions=0)
    raw = write_bag(synthetic_source(seq), tmp / 'raw.bag').path
    comp = write_bag(synthetic_source(seq), tmp / 'comp.bag', compressed=True).path
    foreign = rename_topics(comp, tmp / 'foreign.bag',
                            {'/rgb/image_raw/compressed': FOREIGN_RGB + '/compressed',
                             '/x/image_raw/compressed': FOREIGN_X + '/compressed'},
                            drop=('/ground_truth',))
    gt = synthetic_source(seq).gt_xywh
    gt_file = tmp / 'gt.txt'
    gt_file.write_text(''.join(','.join(f'{v:g}' for v in row) + '\n' for row in gt))
    return {'seq': seq, 'gt_xywh': gt, 'raw': raw, 'comp': comp, 'foreign': foreign,
            'gt': gt_file, 'tmp': tmp}


# ----------------------------------------------------------------------------- reading

def test_foreign_bag_reads_with_topic_names_and_gt_file(bags) -> None:
    frames, report = bag_io.read_bag_checked(bags['foreign'])
    assert report.fatal and FOREIGN_RGB in report.fatal     # default topics are not there
    frames, report = bag_io.read_bag_checked(bags['foreign'], FOREIGN_RGB, FOREIGN_X)
    assert not report.fatal and len(frames) == N
    assert all(f.rgb_type == bag_io.COMPRESSED_TYPE and f.x_raw is not None for f in frames)
    assert not any(f.gt_present for f in frames)
    bag_io.apply_gt_file(frames, bags['gt'])
    np.testing.assert_allclose([f.gt_xywh for f in frames], bags['gt_xywh'])
    with pytest.raises(bag_io.BagError, match='5 boxes for 12 RGB frames'):
        short = bags['tmp'] / 'short.txt'
        short.write_text('1,2,3,4\n' * 5)
        bag_io.load_gt_file(short, N)


# ----------------------------------------------------------------------------- player

FAKE_NODE = textwrap.dedent('''
    import hashlib, json, sys
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image
    from vision_msgs.msg import Detection2D, Detection2DArray
    from rgbx_tracker_ros.ros.conversions import box_to_detection, stamp_to_ns

    compressed = sys.argv[1] == 'compressed'
    rclpy.init()
    node = Node('tracker_node')
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                     reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Detection2DArray, '/tracker_node/detections', qos)

    def record(kind, msg):
        info = {'kind': kind, 'stamp': stamp_to_ns(msg.header.stamp),
                'md5': hashlib.md5(bytes(msg.data)).hexdigest()}
        info.update({'format': msg.format} if compressed else
                    {'encoding': msg.encoding, 'w': msg.width, 'h': msg.height})
        print('MSG ' + json.dumps(info), flush=True)

    def on_rgb(msg):
        record('rgb', msg)
        pub.publish(Detection2DArray(header=msg.header,
                                     detections=[box_to_detection([5, 6, 7, 8], 0.9, msg.header)]))

    typ, suffix = (CompressedImage, '/compressed') if compressed else (Image, '')
    subs = [node.create_subscription(typ, '/rgb/image_raw' + suffix, on_rgb, qos),
            node.create_subscription(typ, '/x/image_raw' + suffix,
                                     lambda m: record('x', m), qos),
            node.create_subscription(Detection2D, '/tracker_node/init', lambda m: None, qos)]
    rclpy.spin(node)
''')


def _replay(bag: Path, out: Path, node_transport: str, args: list[str]) -> tuple[dict, list]:
    from rgbx_tracker_ros.cli.demo import ros_env

    env = ros_env(random.SystemRandom().randint(101, 200))
    node = subprocess.Popen([sys.executable, '-c', FAKE_NODE, node_transport], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        proc = subprocess.run([sys.executable, '-m', 'rgbx_tracker_ros.ros.player', str(bag),
                               '--out', str(out), '--wait', '60', '--timeout', '5', *args],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    finally:
        node.terminate()
        node_out = node.communicate(timeout=20)[0]
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:] + node_out[-2000:]
    assert 'Traceback' not in log
    got = [json.loads(ln[4:]) for ln in node_out.splitlines() if ln.startswith('MSG ')]
    return json.loads((out / 'summary.json').read_text()), got


def _md5(data) -> str:
    return hashlib.md5(bytes(data)).hexdigest()


@pytest.mark.ros
def test_player_decodes_a_foreign_compressed_bag_by_default(bags, tmp_path) -> None:
    frames, _ = bag_io.read_bag_checked(bags['foreign'], FOREIGN_RGB, FOREIGN_X)
    summary, got = _replay(bags['foreign'], tmp_path / 'out', 'raw',
                           ['--rgb-topic', FOREIGN_RGB, '--x-topic', FOREIGN_X,
                            '--gt-file', str(bags['gt'])])
    assert summary['frames'] == summary['answered'] == N and summary['missed'] == 0
    assert summary['transport'] == 'raw' and summary['topics']['rgb'] == '/rgb/image_raw'
    assert summary['init_frame'] == 1          # the GT of --gt-file was sent on ~/init
    stamps = [f.stamp_ns for f in frames]
    rgb = [g for g in got if g['kind'] == 'rgb']
    x = [g for g in got if g['kind'] == 'x']
    assert [g['stamp'] for g in rgb] == [g['stamp'] for g in x] == stamps
    assert {g['encoding'] for g in rgb} == {'bgr8'}      # a JPEG of rgb8 decodes to bgr8
    assert {(g['encoding'], g['w'], g['h']) for g in x} == {('mono16', 160, 128)}
    for f, g in zip(frames, x):                           # PNG: lossless
        assert g['md5'] == _md5(bag_io.decode_bag_image(f.x_raw, f.x_type)[0].tobytes())
    rows = list(csv.DictReader(open(tmp_path / 'out' / 'results.csv')))
    assert len(rows) == N and all(r['answered'] == '1' for r in rows)
    np.testing.assert_allclose([[float(r[k]) for k in ('gt_x', 'gt_y', 'gt_w', 'gt_h')]
                                for r in rows], bags['gt_xywh'], atol=1e-3)


@pytest.mark.ros
def test_player_republishes_compressed_frames_as_recorded(bags, tmp_path) -> None:
    frames = bag_io.read_bag_frames(bags['comp'])
    store = bag_io.make_typestore()
    summary, got = _replay(bags['comp'], tmp_path / 'out', 'compressed',
                           ['--transport', 'compressed'])
    assert summary['frames'] == summary['answered'] == N
    assert summary['topics'] == {'rgb': '/rgb/image_raw/compressed',
                                 'x': '/x/image_raw/compressed'}
    for kind, attr in (('rgb', 'rgb_raw'), ('x', 'x_raw')):
        mine = [g for g in got if g['kind'] == kind]
        stored = [store.deserialize_cdr(getattr(f, attr), bag_io.COMPRESSED_TYPE)
                  for f in frames]
        assert [g['md5'] for g in mine] == [_md5(m.data) for m in stored]
        assert [g['format'] for g in mine] == [m.format for m in stored]


@pytest.mark.ros
def test_player_raw_bag_unchanged(bags, tmp_path) -> None:
    frames = bag_io.read_bag_frames(bags['raw'])
    store = bag_io.make_typestore()
    summary, got = _replay(bags['raw'], tmp_path / 'out', 'raw', [])
    assert summary['frames'] == summary['answered'] == N
    rgb = [g for g in got if g['kind'] == 'rgb']
    want = [store.deserialize_cdr(f.rgb_raw, bag_io.IMAGE_TYPE) for f in frames]
    assert [g['md5'] for g in rgb] == [_md5(m.data) for m in want]
    assert {g['encoding'] for g in rgb} == {'rgb8'}


def test_image_for_transport_passes_stored_form_through(bags) -> None:
    from rgbx_tracker_ros.ros import player

    f = bag_io.read_bag_frames(bags['comp'])[0]
    assert player.image_for_transport(f.rgb_raw, f.rgb_type, 'compressed') is f.rgb_raw
    r = bag_io.read_bag_frames(bags['raw'])[0]
    assert player.image_for_transport(r.rgb_raw, r.rgb_type, 'raw') is r.rgb_raw
    assert not player.x_is_depth([f]) and not player.x_is_depth([r])


# ----------------------------------------------------------------------------- rgbx-eval

def test_eval_foreign_bag_with_gt_file_scores(bags, tmp_path, capsys) -> None:
    out = tmp_path / 'eval'
    rc = ev.main([str(bags['foreign']), '--rgb-topic', FOREIGN_RGB, '--x-topic', FOREIGN_X,
                  '--gt-file', str(bags['gt']), '--trackers', 'csrt-rgb', '--out', str(out),
                  '--no-video', '--no-progress', '-q'])
    assert rc == 0, capsys.readouterr().err
    (row,) = list(csv.DictReader(open(out / 'overall.csv')))
    assert row['tracker'] == 'csrt-rgb' and int(row['frames']) == N
    assert 0.0 <= float(row['SR']) <= 1.0


def test_eval_reads_ground_truth_from_a_named_topic(bags, tmp_path, capsys) -> None:
    renamed = rename_topics(bags['raw'], tmp_path / 'gt_renamed.bag',
                            {'/ground_truth': '/labels/person'})
    base = [str(renamed), '--trackers', 'csrt-rgb', '--no-video', '--no-progress', '-q']
    assert ev.main([*base, '--out', str(tmp_path / 'default')]) == 2
    assert 'no ground-truth detections' in capsys.readouterr().err
    out = tmp_path / 'named'
    assert ev.main([*base, '--out', str(out), '--gt-topic', '/labels/person']) == 0
    seq = ev.load_bag_sequence(renamed, gt_topic='/labels/person')
    np.testing.assert_allclose(seq.gt_xywh, bags['gt_xywh'])
    assert (out / 'overall.csv').is_file()


def test_eval_foreign_bag_without_gt_writes_tracks(bags, tmp_path, capsys) -> None:
    base = [str(bags['foreign']), '--rgb-topic', FOREIGN_RGB, '--x-topic', FOREIGN_X,
            '--trackers', 'csrt-rgb', '--no-video', '--no-progress', '-q']
    assert ev.main([*base, '--out', str(tmp_path / 'none')]) == 2
    err = capsys.readouterr().err
    assert 'no ground-truth detections' in err and '--init-box' in err and '--gt-file' in err
    box = ','.join(f'{v:g}' for v in bags['gt_xywh'][0])
    out = tmp_path / 'tracks'
    assert ev.main([*base, '--out', str(out), '--init-box', box]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(open(out / 'tracks' / 'csrt-rgb' / 'foreign.bag.csv')))
    assert len(rows) == N and [int(r['frame']) for r in rows] == list(range(1, N + 1))
    np.testing.assert_allclose([float(rows[0][k]) for k in 'xywh'], bags['gt_xywh'][0],
                               atol=1e-3)
    assert all(r['x'] != '' and float(r['track_ms']) > 0 for r in rows[1:])
    assert 'Not scored' in (out / 'summary.md').read_text()
    assert not (out / 'overall.csv').exists()
    # with video: every tracker's box on the frames
    video_out = tmp_path / 'tracks_video'
    assert ev.main([*[a for a in base if a != '--no-video'], '--out', str(video_out),
                    '--init-box', box]) == 0
    videos = list((video_out / 'sequences').glob('*/*_tracks.*'))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
    runs = json.loads((out / 'runs.json').read_text())
    assert runs[0]['frames'] == N and runs[0]['fps'] > 0
    # a bag without GT cannot be mixed with scored inputs
    unscored = ev.load_bag_sequence(bags['foreign'], None, FOREIGN_RGB, FOREIGN_X,
                                    init_box=tuple(bags['gt_xywh'][0]))
    assert unscored.attributes['ground_truth'] == 'none'
    scored = ev.load_bag_sequence(bags['comp'])
    with pytest.raises(ev.EvaluateError, match='evaluate them in a separate call'):
        ev.evaluate([unscored, scored], [ev.parse_tracker_spec('csrt-rgb')], tmp_path / 'mix',
                    video=False, progress=False)


def test_compressed_bag_scores_close_to_raw(tmp_path, capsys) -> None:
    """JPEG loss on the real tno_nato_camp frames costs < 2 SR points with t224_demo."""
    sr = {}
    for kind, extra in (('raw', []), ('compressed', ['--compressed'])):
        bag = tmp_path / f'tno_{kind}'
        assert make_bag.main([str(TNO), str(bag), '--rate', '10', *extra]) == 0
        out = tmp_path / f'eval_{kind}'
        rc = ev.main([str(bag), '--trackers', 't224:checkpoints/t224_demo.pt', '--out', str(out),
                      '--device', 'cpu', '--no-video', '--no-progress', '-q'])
        assert rc == 0, capsys.readouterr().err
        (row,) = list(csv.DictReader(open(out / 'overall.csv')))
        sr[kind] = float(row['SR']) * 100.0
    frames = bag_io.read_bag_frames(tmp_path / 'tno_compressed')
    assert frames[0].rgb_type == bag_io.COMPRESSED_TYPE
    print(f'SR raw {sr["raw"]:.2f} compressed {sr["compressed"]:.2f}')
    assert abs(sr['raw'] - sr['compressed']) < 2.0, sr


@pytest.mark.ros
def test_replay_launch_on_a_compressed_bag(bags) -> None:
    """rgbx-launch --replay (node with transport raw) works on a compressed bag: the player
    decodes the frames."""
    from rgbx_tracker_ros.cli.demo import read_results, ros_env

    out = bags['tmp'] / 'replay'
    env = ros_env(random.SystemRandom().randint(101, 200))
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.launch', '--rig', 'rgbt_flir_boson',
         '--replay', str(bags['comp']), '--out', str(out), '--variant', 'test_tiny',
         '--checkpoint', 'none'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    res = read_results(out / 'results.csv')
    assert res['answered'].all() and len(res['answered']) == N and res['x_published'].all()
    assert f'{N}/{N}' in proc.stdout


@pytest.mark.ros
def test_replay_launch_on_a_foreign_bag_without_ground_truth(bags) -> None:
    """rgbx-launch --replay on someone else's bag: its own topic names, compressed images
    decoded by the node (--transport compressed), no ground truth (--initial-box): the run is
    recorded and reported (tracks, video, round-trip times), not scored."""
    from rgbx_tracker_ros.cli.demo import ros_env

    out = bags['tmp'] / 'replay_foreign'
    env = ros_env(random.SystemRandom().randint(101, 200))
    env['OMP_NUM_THREADS'] = '1'
    box = ','.join(f'{v:g}' for v in bags['gt_xywh'][0])
    proc = subprocess.run(
        [sys.executable, '-m', 'rgbx_tracker_ros.cli.launch', '--rig', 'rgbt_flir_boson',
         '--replay', str(bags['foreign']), '--out', str(out), '--variant', 'test_tiny',
         '--checkpoint', 'none', '--rgb-topic', FOREIGN_RGB, '--x-topic', FOREIGN_X,
         '--transport', 'compressed', '--initial-box', box],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert '--no-init' in log and "transport:='compressed'" in log
    rows = list(csv.DictReader(open(out / 'evaluation' / 'recorded_results.csv')))
    assert len(rows) == N and all(r['answered'] == '1' for r in rows)
    np.testing.assert_allclose([float(rows[0][k]) for k in 'xywh'], bags['gt_xywh'][0],
                               atol=1e-3)
    summary = (out / 'evaluation' / 'summary.md').read_text()
    assert 'not scored' in summary and f'{N} / {N}' in summary and 'round trip' in summary
    assert not (out / 'evaluation' / 'report.md').exists()
    videos = list((out / 'evaluation').glob('tracks.*'))
    assert videos and videos[0].stat().st_size > 1000
