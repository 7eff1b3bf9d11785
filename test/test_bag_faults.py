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

"""Damaged replay bags (ros/bag_io.py read_bag_checked, rgbx-player, rgbx-eval, rgbx-make-bag).

Bags are generated here (MCAP and sqlite3, 60 frames of 128x96 rgb8 + mono16, about 3.7 MB, so
the MCAP file has 4 chunks of rosbags' 1 MiB) with frame-dependent pixels, then truncated,
overwritten with random bytes or stripped of metadata.yaml; every frame a reader returns must
hold exactly the pixels, stamp and ground truth written for it.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from rgbx_tracker_ros.cli import evaluate as ev
from rgbx_tracker_ros.cli import make_bag
from rgbx_tracker_ros.ros import bag_io

REPO = Path(__file__).resolve().parents[1]
N, H, W = 60, 96, 128
START_NS, STEP_NS = 1_000_000_000, 100_000_000
STORAGES = ('mcap', 'sqlite3')


def rgb_of(k: int) -> np.ndarray:
    img = np.empty((H, W, 3), np.uint8)
    img[..., 0] = k
    img[..., 1] = (np.arange(W)[None, :] + 3 * k) % 256
    img[..., 2] = (np.arange(H)[:, None] * 2 + k) % 256
    return img


def x_of(k: int) -> np.ndarray:
    return (1000 + 37 * k + np.arange(H * W, dtype=np.uint16).reshape(H, W) % 97).astype(np.uint16)


GT = np.array([[10.0 + k, 12.0, 20.0, 18.0] for k in range(N)])


def source(n: int = N) -> bag_io.FrameSource:
    return bag_io.FrameSource('faults', n, rgb_of, 'rgb8', x_of, 'mono16', GT[:n])


@pytest.fixture(scope='module')
def bags(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('fault_bags')
    return {s: bag_io.write_bag(source(), root / f'good_{s}', storage=s).path for s in STORAGES}


def storage_file(bag: Path) -> Path:
    (f,) = [p for p in bag.iterdir() if p.suffix in ('.mcap', '.db3')]
    return f


def copy_bag(bag: Path, dst: Path) -> tuple[Path, Path]:
    shutil.copytree(bag, dst)
    return dst, storage_file(dst)


def truncate(path: Path, frac: float) -> int:
    cut = int(path.stat().st_size * frac)
    with open(path, 'r+b') as fh:
        fh.truncate(cut)
    return cut


def frame_numbers(frames) -> list[int]:
    """Frame numbers k from the stamps (asserting they are on the written grid)."""
    ks = []
    for f in frames:
        k, rem = divmod(f.stamp_ns - START_NS, STEP_NS)
        assert rem == 0 and 0 <= k < N, f.stamp_ns
        ks.append(int(k))
    return ks


def assert_frames_exact(frames) -> list[int]:
    """Every frame holds the pixels / stamps / GT written for its stamp; returns the ks."""
    ks = frame_numbers(frames)
    assert len(set(ks)) == len(ks)
    for pos, (f, k) in enumerate(zip(frames, ks)):
        assert f.index == pos
        rgb, enc, stamp, _ = bag_io.decode_bag_image(f.rgb_raw)
        assert enc == 'rgb8' and stamp == f.stamp_ns
        np.testing.assert_array_equal(rgb, rgb_of(k))
        x, x_enc, x_stamp, _ = bag_io.decode_bag_image(f.x_raw)
        assert x_enc == 'mono16' and x_stamp == f.stamp_ns
        np.testing.assert_array_equal(x, x_of(k))
        assert f.gt_present
        np.testing.assert_allclose(f.gt_xywh, GT[k])
    return ks


# ------------------------------------------------------------------------------ reading
@pytest.mark.parametrize('storage', STORAGES)
def test_intact_bag_reads_clean(bags, storage) -> None:
    frames, report = bag_io.read_bag_checked(bags[storage])
    assert assert_frames_exact(frames) == list(range(N))
    assert report.ok and not report.damaged and report.fatal == ''
    assert (report.messages_read, report.messages_expected, report.frames) == (3 * N, 3 * N, N)
    assert report.storage == storage and report.metadata
    if storage == 'mcap':
        # several chunks, all with a CRC written by write_bag
        assert report.chunks_read == 4 and report.chunks_without_crc == 0
    # rosbags still reads what write_bag wrote (CRCs included) the same way
    with Reader(bags[storage]) as reader:
        assert reader.message_count == 3 * N
        stamps = [t for c, t, _ in reader.messages() if c.topic == bag_io.TOPIC_RGB]
    assert stamps == [f.stamp_ns for f in frames]


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('frac', [0.5, 0.9])
def test_truncated_bag_gives_the_frames_before_the_cut(bags, storage, frac, tmp_path,
                                                       caplog) -> None:
    bag, data = copy_bag(bags[storage], tmp_path / 'cut')
    full = data.stat().st_size
    cut = truncate(data, frac)
    frames, report = bag_io.read_bag_checked(bag)
    ks = assert_frames_exact(frames)
    assert ks == list(range(len(ks)))                      # exactly a prefix, nothing invented
    assert abs(len(ks) - frac * N) <= 2, (len(ks), frac)
    assert report.usable and report.damaged and not report.fatal
    assert report.messages_expected == 3 * N
    assert 3 * len(ks) <= report.messages_read <= 3 * len(ks) + 2
    assert report.messages_lost == 3 * N - report.messages_read
    (prob,) = [p for p in report.problems if p.kind == 'truncated']
    assert prob.file == data.name and prob.message_index == report.messages_read
    assert report.truncated_at_message == report.messages_read
    line = report.warning_line()
    assert f'read {report.messages_read} of {3 * N} messages' in line and data.name in line
    assert 'truncated' in line and '\n' not in line
    if storage == 'mcap':
        # the readable part ends inside the last frame's bytes before the cut
        assert cut - full / N <= report.truncated_at <= cut
        assert f'byte {report.truncated_at}' in line
    else:
        assert f'the file has {cut} bytes, its header says {full}' in prob.detail
    # the list API returns the same frames and logs the one WARN line
    with caplog.at_level('WARNING', logger='rgbx_tracker_ros.ros.bag_io'):
        legacy = bag_io.read_bag_frames(bag)
    assert [f.stamp_ns for f in legacy] == [f.stamp_ns for f in frames]
    warns = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
    assert len(warns) == 1 and warns[0] == 'WARN: ' + line
    # and so does iter_bag_images (decoded)
    decoded = list(bag_io.iter_bag_images(bag))
    assert len(decoded) == len(ks)
    np.testing.assert_array_equal(decoded[-1][1], rgb_of(ks[-1]))


def test_garbage_in_an_mcap_chunk_is_reported_and_skipped(bags, tmp_path) -> None:
    bag, data = copy_bag(bags['mcap'], tmp_path / 'garbage')
    size = data.stat().st_size
    start = size // 2
    noise = np.random.default_rng(7).integers(0, 256, 65536, dtype=np.uint8).tobytes()
    with open(data, 'r+b') as fh:
        fh.seek(start)
        fh.write(noise)
    frames, report = bag_io.read_bag_checked(bag)
    ks = assert_frames_exact(frames)                      # no garbage pixels returned
    (prob,) = [p for p in report.problems if p.kind == 'corrupt_chunk']
    assert report.chunks_skipped == [prob.chunk] and report.chunks_read == 3
    assert prob.offset <= start and 'CRC mismatch' in prob.detail
    assert prob.messages_lost == report.messages_lost and prob.messages_lost > 20
    assert report.messages_read + prob.messages_lost == 3 * N
    # the frames of the skipped chunk are missing as one block; reading went on after it
    missing = sorted(set(range(N)) - set(ks))
    assert missing == list(range(missing[0], missing[-1] + 1))
    assert ks[0] == 0 and ks[-1] == N - 1
    assert len(missing) <= prob.messages_lost // 3 + 2
    line = report.warning_line()
    assert (f'skipped corrupt chunk {prob.chunk} at byte {prob.offset} '
            f'({prob.messages_lost} messages lost)') in line
    # rosbags itself stops at the damaged chunk (CRC now present) instead of returning garbage
    with Reader(bag) as reader, pytest.raises(Exception, match='checksum'):
        for _ in reader.messages():
            pass


def test_a_rosbags_mcap_without_crcs_gets_them(tmp_path) -> None:
    store = bag_io.make_typestore()
    bag = tmp_path / 'nocrc'
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(bag_io.TOPIC_RGB, bag_io.IMAGE_TYPE, typestore=store)
        for k in range(3):
            msg = bag_io._image_msg(store, rgb_of(k), 'rgb8', START_NS + k * STEP_NS, 'c')
            writer.write(conn, START_NS + k * STEP_NS, store.serialize_cdr(msg, bag_io.IMAGE_TYPE))
    frames, report = bag_io.read_bag_checked(bag)
    assert len(frames) == 3 and report.ok and report.chunks_without_crc == 1
    assert bag_io.add_mcap_chunk_crcs(storage_file(bag)) == 1
    assert bag_io.add_mcap_chunk_crcs(storage_file(bag)) == 0      # already there
    frames, report = bag_io.read_bag_checked(bag)
    assert report.ok and report.chunks_without_crc == 0 and report.chunks_read == 1
    np.testing.assert_array_equal(bag_io.decode_bag_image(frames[2].rgb_raw)[0], rgb_of(2))
    with Reader(bag) as reader:
        assert sum(1 for _ in reader.messages()) == 3


@pytest.mark.parametrize('storage', STORAGES)
def test_missing_metadata_yaml_reads_the_storage_file(bags, storage, tmp_path) -> None:
    bag, data = copy_bag(bags[storage], tmp_path / 'nometa')
    (bag / 'metadata.yaml').unlink()
    with pytest.raises(Exception):                        # rosbags refuses such a folder
        Reader(bag).open()
    frames, report = bag_io.read_bag_checked(bag)
    assert assert_frames_exact(frames) == list(range(N))
    assert not report.metadata and not report.damaged and report.files == [data]
    # the count comes from the file itself (MCAP statistics / the db3 metadata table)
    assert (report.messages_read, report.messages_expected) == (3 * N, 3 * N)
    (prob,) = report.problems
    assert prob.kind == 'metadata' and 'metadata.yaml is missing' in prob.detail
    # the storage file alone works too
    frames, _ = bag_io.read_bag_checked(data)
    assert len(frames) == N
    # both faults at once: no metadata.yaml and a truncated file
    truncate(data, 0.5)
    frames, report = bag_io.read_bag_checked(bag)
    ks = assert_frames_exact(frames)
    assert ks == list(range(len(ks))) and abs(len(ks) - N / 2) <= 2
    assert [p.kind for p in report.problems] == ['metadata', 'truncated']


@pytest.mark.parametrize('storage', STORAGES)
def test_metadata_that_lies_about_the_count(bags, storage, tmp_path) -> None:
    bag, _ = copy_bag(bags[storage], tmp_path / 'lies')
    meta = bag / 'metadata.yaml'
    text = meta.read_text()
    assert f'message_count: {3 * N}\n' in text
    meta.write_text(text.replace(f'message_count: {3 * N}\n', 'message_count: 999\n'))
    frames, report = bag_io.read_bag_checked(bag)
    assert assert_frames_exact(frames) == list(range(N))
    assert report.messages_expected == 999 and report.messages_read == 3 * N
    (prob,) = report.problems
    assert prob.kind == 'metadata' and 'says 999 messages' in prob.detail
    assert str(3 * N) in prob.detail and not report.damaged
    # an unparseable metadata.yaml: read the files directly
    meta.write_text('rosbag2_bagfile_information: [unclosed\n')
    frames, report = bag_io.read_bag_checked(bag)
    assert len(frames) == N and 'cannot be used' in report.problems[0].detail


@pytest.mark.parametrize('storage', STORAGES)
def test_nothing_readable_is_one_clear_error(bags, storage, tmp_path) -> None:
    bag, data = copy_bag(bags[storage], tmp_path / 'dead')
    truncate(data, 0.01)
    frames, report = bag_io.read_bag_checked(bag)
    assert frames == [] and not report.usable and report.messages_read < 3
    assert report.fatal.startswith(f'bag {bag}: no usable frame could be read')
    assert data.name in report.fatal and 'copy or record it again' in report.fatal
    assert '\n' not in report.fatal
    with pytest.raises(bag_io.BagReadError, match='no usable frame') as err:
        bag_io.read_bag_frames(bag)
    assert err.value.report is not None and isinstance(err.value, ValueError)
    data.write_bytes(b'')                                 # an empty file
    _, report = bag_io.read_bag_checked(bag)
    assert 'the file is empty' in report.fatal


# --------------------------------------------------------------------------- commands
def test_make_bag_writes_crc_checked_chunks(tmp_path) -> None:
    out = tmp_path / 'synth.bag'
    assert make_bag.main(['synthetic:thermal', str(out), '--frames', '3', '--size', '64x64']) == 0
    frames, report = bag_io.read_bag_checked(out)
    assert len(frames) == 3 and report.ok
    assert report.chunks_read == 1 and report.chunks_without_crc == 0


@pytest.mark.parametrize('storage', STORAGES)
def test_rgbx_eval_scores_the_readable_part(bags, storage, tmp_path, capsys, caplog) -> None:
    bag, _ = copy_bag(bags[storage], tmp_path / f'part_{storage}')
    truncate(storage_file(bag), 0.5)
    out = tmp_path / 'eval'
    with caplog.at_level('WARNING', logger='rgbx-eval'):
        rc = ev.main([str(bag), '--trackers', 'kcf-rgb', '--out', str(out), '--no-video',
                      '--no-progress', '-q'])
    err = capsys.readouterr().err + caplog.text
    assert rc == 0, err
    assert 'Traceback' not in err
    warns = [r.getMessage() for r in caplog.records if r.name == 'rgbx-eval']
    (warn,) = [w for w in warns if w.startswith('WARN: ')]
    assert f'bag {bag}: read ' in warn and 'truncated' in warn
    runs = json.loads((out / 'runs.json').read_text())
    assert len(runs) == 1 and abs(runs[0]['frames'] - N / 2) <= 2


@pytest.mark.parametrize('storage', STORAGES)
def test_rgbx_eval_on_an_unreadable_bag_exits_2(bags, storage, tmp_path, capsys) -> None:
    bag, data = copy_bag(bags[storage], tmp_path / f'dead_{storage}')
    truncate(data, 0.01)
    rc = ev.main([str(bag), '--trackers', 'kcf-rgb', '--out', str(tmp_path / 'eval'),
                  '--no-video', '--no-progress'])
    err = capsys.readouterr().err
    assert rc == 2
    assert 'Traceback' not in err and err.count('\n') == 1
    assert err.startswith(f'rgbx-eval: error: bag {bag}: no usable frame could be read')
    assert data.name in err


def test_rgbx_eval_takes_a_bag_folder_without_metadata(bags, tmp_path, capsys) -> None:
    bag, _ = copy_bag(bags['mcap'], tmp_path / 'nometa')
    (bag / 'metadata.yaml').unlink()
    assert ev.is_bag(bag)
    (seq,) = ev.collect_sequences([str(bag)])
    assert seq.num_frames == N and seq.has_x
    np.testing.assert_array_equal(seq.read_rgb(7), rgb_of(7))
    np.testing.assert_allclose(seq.gt_xywh, GT)


def _player(args: list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run([sys.executable, '-m', 'rgbx_tracker_ros.ros.player', *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_rgbx_player_on_an_unreadable_bag_exits_2(bags, tmp_path) -> None:
    from rgbx_tracker_ros.cli.demo import ros_env

    bag, data = copy_bag(bags['mcap'], tmp_path / 'dead')
    truncate(data, 0.01)
    proc = _player([str(bag), '--out', str(tmp_path / 'out'), '--wait', '1'], ros_env())
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f'rgbx-player: error: bag {bag}: no usable frame could be read')
    assert 'truncated' in lines[0] and data.name in lines[0]


FAKE_NODE = textwrap.dedent('''
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2D, Detection2DArray
    from rgbx_tracker_ros.ros.conversions import box_to_detection

    rclpy.init()
    node = Node('tracker_node')
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                     reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Detection2DArray, '/tracker_node/detections', qos)

    def on_rgb(msg):
        pub.publish(Detection2DArray(header=msg.header,
                                     detections=[box_to_detection([5, 6, 7, 8], 0.9, msg.header)]))

    subs = [node.create_subscription(Image, '/rgb/image_raw', on_rgb, qos),
            node.create_subscription(Image, '/x/image_raw', lambda m: None, qos),
            node.create_subscription(Detection2D, '/tracker_node/init', lambda m: None, qos)]
    rclpy.spin(node)
''')


@pytest.mark.ros
def test_rgbx_player_replays_the_readable_part(bags, tmp_path) -> None:
    from rgbx_tracker_ros.cli.demo import ros_env

    bag, data = copy_bag(bags['mcap'], tmp_path / 'part')
    truncate(data, 0.5)
    expected, _ = bag_io.read_bag_checked(bag)
    env = ros_env(random.SystemRandom().randint(101, 200))
    node = subprocess.Popen([sys.executable, '-c', FAKE_NODE], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = tmp_path / 'out'
        proc = _player([str(bag), '--out', str(out), '--wait', '60', '--timeout', '3'], env)
    finally:
        node.terminate()
        node.wait(timeout=20)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Traceback' not in log
    (warn,) = [ln for ln in proc.stderr.splitlines() if ln.startswith('rgbx-player: WARN: ')]
    assert f'bag {bag}: read {3 * len(expected)}' in warn and 'truncated' in warn
    assert data.name in warn
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['frames'] == summary['answered'] == len(expected)
    assert summary['bag_read']['truncated_at'] is not None
    assert summary['bag_read']['frames'] == len(expected)
    rows = (out / 'results.csv').read_text().splitlines()[1:]
    assert [int(r.split(',')[1]) for r in rows] == [f.stamp_ns for f in expected]
