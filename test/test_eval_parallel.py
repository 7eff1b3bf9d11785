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

"""rgbx-eval at scale: ``--jobs N`` worker processes and ``torchrun`` rank sharding give the same
boxes, scores and table numbers (all but FPS) as the sequential run; worker errors exit 2 with the
sequential message; a bag sequence travels to a worker by re-opening its bag."""

from __future__ import annotations

import csv
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.cli import evaluate as ev
from rgbx_tracker_ros.eval import parallel

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / 'shared' / 'data' / 'real'
SEQS = [str(REAL / 'tno_nato_camp'), str(REAL / 'otb_crossing')]
OURS = f't224-rgb:{REPO / "checkpoints" / "t224_demo.pt"}'
TRACKERS = ['csrt-rgb', OURS]
FRAMES = 8
# The same torch thread count in every mode: torch's CPU kernels split reductions by thread
# count, so only runs at equal --threads can be bit-identical (OpenCV peers always are).
COMMON = ['--trackers', *TRACKERS, '--max-frames', str(FRAMES), '--no-video', '--no-progress',
          '--threads', '1']
TIMES: dict[str, float] = {}


def read_rows(path: Path) -> list[dict]:
    """CSV rows without the timing column (FPS), which differs from run to run."""
    with path.open() as fh:
        return [{k: v for k, v in row.items() if k != 'FPS'} for row in csv.DictReader(fh)]


def cached_arrays(out: Path) -> dict[str, dict[str, np.ndarray]]:
    found = {}
    for path in sorted((out / 'cache').rglob('*.npz')):
        with np.load(path) as data:
            found[str(path.relative_to(out / 'cache'))] = {
                k: data[k] for k in ('boxes_xywh', 'scores', 'x_used', 'key')}
    return found


def assert_same_results(a: Path, b: Path) -> None:
    for name in ('per_sequence.csv', 'overall.csv'):
        assert read_rows(a / name) == read_rows(b / name), name
    ca, cb = cached_arrays(a), cached_arrays(b)
    assert sorted(ca) == sorted(cb) and len(ca) == len(TRACKERS) * len(SEQS)
    for name in ca:
        for key in ('boxes_xywh', 'scores', 'x_used'):
            np.testing.assert_array_equal(ca[name][key], cb[name][key], err_msg=f'{name} {key}')
        assert str(ca[name]['key']) == str(cb[name]['key'])


@pytest.fixture(scope='module')
def sequential(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('jobs1') / 'out'
    t0 = time.perf_counter()
    assert ev.main(SEQS + COMMON + ['--out', str(out), '-q']) == 0
    TIMES['jobs1'] = time.perf_counter() - t0
    return out


def test_jobs_2_gives_the_sequential_results(sequential, tmp_path, capsys, caplog):
    out = tmp_path / 'out'
    t0 = time.perf_counter()
    with caplog.at_level('INFO', logger='rgbx-eval'):
        assert ev.main(SEQS + COMMON + ['--out', str(out), '--jobs', '2']) == 0
    TIMES['jobs2'] = time.perf_counter() - t0
    printed = capsys.readouterr()
    assert '4 run(s) computed, 0 from the cache' in printed.out
    assert_same_results(sequential, out)
    # the log lines come in the sequential (tracker-major) order whatever finished first
    computed = [r.getMessage() for r in caplog.records if r.getMessage().startswith('computed')]
    assert [line.split(' (')[0] for line in computed] == [
        f'computed {t.split(":")[0]} on {Path(s).name}' for t in TRACKERS for s in SEQS]
    # a rerun with workers serves everything from the cache the workers wrote
    assert ev.main(SEQS + COMMON + ['--out', str(out), '--jobs', '2']) == 0
    assert '0 run(s) computed, 4 from the cache' in capsys.readouterr().out
    print(f'\nwall time: --jobs 1 {TIMES["jobs1"]:.1f} s, --jobs 2 {TIMES["jobs2"]:.1f} s')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_torchrun_two_ranks_shard_and_rank_0_reports(sequential, tmp_path):
    out = tmp_path / 'out'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_addr=127.0.0.1', f'--master_port={free_port()}',
           '-m', 'rgbx_tracker_ros.cli.evaluate', *SEQS, *COMMON, '--out', str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_results(sequential, out)
    # only rank 0 merged and printed the summary; half the runs were computed on rank 1
    assert proc.stdout.count('# rgbx-eval summary') == 1
    assert proc.stdout.count('4 run(s) computed, 0 from the cache') == 1
    assert proc.stderr.count('other rank)') == 2


def test_torchrun_error_on_one_rank_is_reported_by_every_rank(tmp_path):
    broken = make_otb(tmp_path / 'broken_mid', broken=3)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_addr=127.0.0.1', f'--master_port={free_port()}',
           '-m', 'rgbx_tracker_ros.cli.evaluate', str(broken), str(REAL / 'otb_crossing'),
           '--trackers', 'csrt-rgb', '--max-frames', '5', '--no-video', '--no-progress',
           '--out', str(tmp_path / 'out')]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode != 0
    message = 'cannot decode image ' + str(broken / 'img' / '0004.jpg')
    # rank 0 ran the broken sequence; both ranks report it after exchanging their outcome
    assert f'rgbx-eval: error: {message}' in proc.stderr
    assert f'rgbx-eval: error (rank 1): {message}' in proc.stderr
    assert 'exitcode: 2' in proc.stderr
    assert not (tmp_path / 'out' / 'summary.md').exists()


def make_otb(root: Path, frames: int = 6, broken: int | None = None) -> Path:
    """An OTB-layout RGB sequence (img/ + groundtruth_rect.txt); frame ``broken`` is garbage."""
    (root / 'img').mkdir(parents=True)
    rng = np.random.default_rng(3)
    texture = rng.integers(40, 120, (72, 96, 3), dtype=np.uint8)
    rows = []
    for i in range(frames):
        img = texture.copy()
        img[20:40, 10 + 3 * i:30 + 3 * i] = 230
        cv2.imwrite(str(root / 'img' / f'{i + 1:04d}.jpg'), img)
        rows.append(f'{11 + 3 * i},21,20,20')
    if broken is not None:
        (root / 'img' / f'{broken + 1:04d}.jpg').write_text('not an image')
    (root / 'groundtruth_rect.txt').write_text('\n'.join(rows) + '\n')
    return root


def test_worker_error_exits_2_with_the_sequential_message(tmp_path, capsys):
    seq = make_otb(tmp_path / 'broken_mid', broken=3)      # readers check first / last only
    argv = [str(seq), '--trackers', 'csrt-rgb', 'kcf-rgb', '--no-video', '--no-progress']
    assert ev.main(argv + ['--out', str(tmp_path / 'o1')]) == 2
    err1 = capsys.readouterr().err
    assert ev.main(argv + ['--out', str(tmp_path / 'o2'), '--jobs', '2']) == 2
    err2 = capsys.readouterr().err
    assert 'cannot decode image' in err1 and '0004.jpg' in err1
    assert err2.strip().splitlines()[-1] == err1.strip().splitlines()[-1]
    assert not (tmp_path / 'o2' / 'summary.md').exists()
    assert ev.main(argv + ['--out', str(tmp_path / 'o3'), '--jobs', '0']) == 2
    assert '--jobs must be >= 1' in capsys.readouterr().err


def test_threads_per_worker_and_rank_sharding():
    assert parallel.threads_per_worker(2, cores=16) == 8
    assert parallel.threads_per_worker(3, cores=2) == 1
    assert parallel.threads_per_worker(4, threads=3, cores=2) == 3
    ctx = parallel.DistContext.from_env({'WORLD_SIZE': '3', 'RANK': '1', 'LOCAL_RANK': '1'})
    assert ctx.distributed and not ctx.is_main and ctx.local_rank == 1
    assert ctx.shard(list(range(8))) == [1, 4, 7]
    one = parallel.DistContext.from_env({})
    assert not one.distributed and one.is_main and one.shard([1, 2]) == [1, 2]
    assert one.gather('x') == ['x']
    with pytest.raises(ValueError, match='not in'):
        parallel.DistContext.from_env({'WORLD_SIZE': '2', 'RANK': '2'})


def test_tasks_of_a_tracker_are_chunked_so_few_workers_build_it():
    class Spec:
        def __init__(self, label):
            self.label = label

    specs = [Spec('a'), Spec('b')]
    tasks = [parallel.Task(i, specs[i // 5], f'seq{i % 5}', '', {}, {}) for i in range(10)]
    index = [[t.index for t in c] for c in parallel.chunk_tasks(tasks, 2)]
    assert index == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]          # one build per tracker
    index = [[t.index for t in c] for c in parallel.chunk_tasks(tasks, 4)]
    assert index == [[0, 2, 4], [1, 3], [5, 7, 9], [6, 8]]
    assert len(parallel.chunk_tasks(tasks[:1], 8)) == 1


def test_bag_sequence_is_a_frame_source_that_reopens_in_a_worker(tmp_path, capsys):
    bag_io = pytest.importorskip('rgbx_tracker_ros.ros.bag_io')
    folder = make_otb(tmp_path / 'walk', frames=6)
    bag = tmp_path / 'walk_bag'
    bag_io.write_bag(bag_io.sequence_source(folder), bag)
    seq = ev.collect_sequences([str(bag)])[0]
    assert seq.layout == 'bag' and seq.rgb_paths == [] and seq.x_paths is None
    assert len(seq) == 6 and not seq.has_x and len(seq.frames) == 6
    again = pickle.loads(pickle.dumps(seq))          # re-reads the bag, ships no frames
    assert len(pickle.dumps(seq.source)) < 1000
    np.testing.assert_array_equal(again.read_rgb(4), seq.read_rgb(4))
    np.testing.assert_array_equal(again.gt_xywh, seq.gt_xywh)
    cut = pickle.loads(pickle.dumps(seq.head(3)))
    assert len(cut) == 3 and len(cut.source) == 3
    argv = [str(bag), '--trackers', 'csrt-rgb', 'kcf-rgb', '--no-video', '--no-progress',
            '--threads', '1', '-q']
    assert ev.main(argv + ['--out', str(tmp_path / 'o1')]) == 0
    assert ev.main(argv + ['--out', str(tmp_path / 'o2'), '--jobs', '2']) == 0
    for name in ('per_sequence.csv', 'overall.csv'):
        assert read_rows(tmp_path / 'o1' / name) == read_rows(tmp_path / 'o2' / name)
    a, b = cached_arrays(tmp_path / 'o1'), cached_arrays(tmp_path / 'o2')
    assert sorted(a) == sorted(b) and len(a) == 2
    for name in a:
        np.testing.assert_array_equal(a[name]['boxes_xywh'], b[name]['boxes_xywh'])
