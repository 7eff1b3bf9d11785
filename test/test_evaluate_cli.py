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

"""rgbx-eval end to end on a tiny generated RGBT234-style dataset: tables, plots, videos,
attribute splits, the result cache, bag input and bad-input errors."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.cli import evaluate as ev
from rgbx_tracker_ros.eval import peers

H, W, N, SIDE = 96, 128, 10, 24


def make_sequence(root: Path, start_x: int, tags: dict | None = None) -> None:
    """A warm square moving 3 px / frame: clear in infrared, barely visible in the visual band."""
    (root / 'visible').mkdir(parents=True)
    (root / 'infrared').mkdir()
    texture = np.random.default_rng(start_x).integers(60, 120, (H, W), dtype=np.uint8)
    gt = []
    for i in range(N):
        x = start_x + 3 * i
        vis = texture.copy()
        vis[30:30 + SIDE, x:x + SIDE] += 4
        ir = np.full((H, W), 25, np.uint8)
        ir[30:30 + SIDE, x:x + SIDE] = 230
        ir[36:48, x + 6:x + 18] = 140
        cv2.imwrite(str(root / 'visible' / f'{i + 1:05d}v.png'), vis)
        cv2.imwrite(str(root / 'infrared' / f'{i + 1:05d}i.png'), ir)
        gt.append(f'{x},30,{SIDE},{SIDE}')
    (root / 'visible.txt').write_text('\n'.join(gt) + '\n')
    (root / 'infrared.txt').write_text('\n'.join(gt) + '\n')
    for name, flags in (tags or {}).items():
        (root / f'{name}.tag').write_text('\n'.join(str(f) for f in flags) + '\n')


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / 'tiny_rgbt'
    make_sequence(root / 'walk_a', 10, tags={'TC': [0] * 5 + [1] * 5, 'LI': [0] * N})
    make_sequence(root / 'walk_b', 40)
    return root


def read_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def count_frames(video: Path) -> tuple[int, tuple]:
    cap = cv2.VideoCapture(str(video))
    frames, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        shape = frame.shape
    cap.release()
    return frames, shape


def test_rgbx_eval_writes_report_and_second_run_hits_cache(dataset, tmp_path, monkeypatch,
                                                           capsys):
    out = tmp_path / 'out'
    argv = [str(dataset), '--trackers', 'kcf-rgb', 'csrt-x', '--out', str(out),
            '--no-progress', '--video-frames', '6', '--threads', '1']
    assert ev.main(argv) == 0
    printed = capsys.readouterr().out
    assert '4 run(s) computed, 0 from the cache' in printed

    for name in ('summary.md', 'report.md', 'overall.csv', 'per_sequence.csv',
                 'attributes.csv', 'runs.json', 'precision.png', 'success.png'):
        assert (out / name).is_file(), name
    for name in ('precision.png', 'success.png'):
        image = cv2.imread(str(out / name))
        assert image.shape[0] > 100 and image.std() > 5
    # one figure holds both trackers: the legends name them
    report = (out / 'report.md').read_text()
    assert 'kcf-rgb' in report and 'csrt-x' in report

    rows = read_csv(out / 'per_sequence.csv')
    assert {(r['tracker'], r['sequence']) for r in rows} == {
        (t, s) for t in ('kcf-rgb', 'csrt-x') for s in ('walk_a', 'walk_b')}
    by = {(r['tracker'], r['sequence']): r for r in rows}
    # the thermal target is easy for CSRT on the X frames: every frame within 20 px
    assert float(by[('csrt-x', 'walk_a')]['PR']) == pytest.approx(1.0)
    assert float(by[('csrt-x', 'walk_b')]['SR']) > 0.6
    assert all(float(r['FPS']) > 0 for r in rows)
    overall = {r['tracker']: r for r in read_csv(out / 'overall.csv')}
    mean_sr = np.mean([float(by[('csrt-x', s)]['SR']) for s in ('walk_a', 'walk_b')])
    assert float(overall['csrt-x']['SR']) == pytest.approx(mean_sr)
    # attribute split: only walk_a has a flagged TC frame; LI is all zeros -> no such row
    attrs = read_csv(out / 'attributes.csv')
    assert {a['attribute'] for a in attrs} == {'TC'}
    tc = {a['tracker']: a for a in attrs}
    assert tc['csrt-x']['sequences'] == '1'
    assert float(tc['csrt-x']['SR']) == pytest.approx(float(by[('csrt-x', 'walk_a')]['SR']))
    summary = (out / 'summary.md').read_text()
    assert '## Attribute splits' in summary and '| TC | csrt-x | 1 |' in summary

    for seq in ('walk_a', 'walk_b'):
        sub = out / 'sequences' / seq
        assert (sub / 'report.md').is_file() and (sub / 'precision.png').is_file()
        videos = list(sub.glob(f'{seq}_tracks.*'))
        assert len(videos) == 1
        frames, shape = count_frames(videos[0])
        assert frames == 6 and shape[:2] == (H, 2 * W)   # capped; RGB + X panels
    first = json.loads((out / 'runs.json').read_text())
    assert [r['status'] for r in first] == ['computed'] * 4
    cache_files = sorted(p.relative_to(out) for p in (out / 'cache').rglob('*.npz'))
    assert len(cache_files) == 4
    stamps = {p: (out / p).stat().st_mtime_ns for p in cache_files}

    # Second run: nothing may be tracked again. Any call into a peer would raise.
    def boom(*_args, **_kwargs):
        raise AssertionError('a cached run was recomputed')

    monkeypatch.setattr(peers.OpenCVPeer, 'track', boom)
    monkeypatch.setattr(peers.OpenCVPeer, 'initialize', boom)
    assert ev.main(argv) == 0
    assert '0 run(s) computed, 4 from the cache' in capsys.readouterr().out
    second = json.loads((out / 'runs.json').read_text())
    assert [r['status'] for r in second] == ['cached'] * 4
    assert {p: (out / p).stat().st_mtime_ns for p in cache_files} == stamps
    assert read_csv(out / 'per_sequence.csv')[0]['PR'] == rows[0]['PR']
    monkeypatch.undo()

    # Changing the options of a run (re-initialisation) computes exactly those runs again.
    assert ev.main(argv + ['--reinit-frames', 'walk_b:5']) == 0
    third = {(r['tracker'], r['sequence']): r['status']
             for r in json.loads((out / 'runs.json').read_text())}
    assert third == {('kcf-rgb', 'walk_a'): 'cached', ('csrt-x', 'walk_a'): 'cached',
                     ('kcf-rgb', 'walk_b'): 'computed', ('csrt-x', 'walk_b'): 'computed'}


def test_rgbx_eval_reads_a_replay_bag_like_the_folder(dataset, tmp_path):
    bag_io = pytest.importorskip('rgbx_tracker_ros.ros.bag_io')
    bag = tmp_path / 'walk_a_bag'
    bag_io.write_bag(bag_io.sequence_source(dataset / 'walk_a'), bag)
    seq = ev.collect_sequences([str(bag)])[0]
    folder = ev.collect_sequences([str(dataset / 'walk_a')])[0]
    assert seq.layout == 'bag' and seq.num_frames == N and seq.has_x
    np.testing.assert_allclose(seq.gt_xywh, folder.gt_xywh)
    out_bag = ev.evaluate([seq], [peers.parse_tracker_spec('csrt-x')], tmp_path / 'o1',
                          video=False, progress=False)
    out_dir = ev.evaluate([folder], [peers.parse_tracker_spec('csrt-x')], tmp_path / 'o2',
                          video=False, progress=False)
    np.testing.assert_allclose(out_bag.runs['csrt-x'][seq.name].boxes_xywh,
                               out_dir.runs['csrt-x']['walk_a'].boxes_xywh)


def test_rgbx_eval_bad_inputs(dataset, tmp_path, capsys):
    out = str(tmp_path / 'bad')
    assert ev.main([str(tmp_path / 'missing'), '--trackers', 'kcf-rgb', '--out', out]) == 2
    assert 'does not exist' in capsys.readouterr().err

    assert ev.main([str(dataset), '--trackers', 'kcf-rgb', 'siamfc', '--out', out]) == 2
    err = capsys.readouterr().err
    assert "unknown tracker 'siamfc'" in err and 'csrt, kcf, mil, nano' in err and 't224' in err

    empty = tmp_path / 'empty'
    empty.mkdir()
    assert ev.main([str(empty), '--trackers', 'kcf-rgb', '--out', out]) == 2
    assert 'neither a sequence folder nor a dataset' in capsys.readouterr().err

    otb = tmp_path / 'rgb_only' / 'img'
    otb.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(otb / f'{i + 1:04d}.jpg'), np.full((H, W, 3), 90, np.uint8))
    (otb.parent / 'groundtruth_rect.txt').write_text('11\t11\t20\t20\n' * 3)
    assert ev.main([str(otb.parent), '--trackers', 'csrt-x', '--out', out]) == 2
    assert 'have no X stream' in capsys.readouterr().err

    (dataset / 'walk_b' / 'visible.txt').write_text('40,30,24,24\n')   # 1 row for 10 frames
    assert ev.main([str(dataset), '--trackers', 'kcf-rgb', '--out', out]) == 2
    err = capsys.readouterr().err
    assert 'visible.txt has 1 boxes but the sequence has 10 frames' in err

    assert ev.main([str(dataset / 'walk_a'), '--trackers', 'kcf-rgb', 'kcf-rgb',
                    '--out', out, '--no-progress']) == 2
    assert 'labels must be unique' in capsys.readouterr().err
    assert ev.main([str(dataset / 'walk_a'), '--trackers', 'kcf-rgb', '--out', out,
                    '--reinit-frames', 'nope:3']) == 2
    assert "no sequence 'nope'" in capsys.readouterr().err


def test_attribute_files_of_the_rgbt234_and_lasher_toolkits(tmp_path):
    """Sequence-level attributes from attr_txt/ (RGBT234 / RGBT210) and AttriSeqsTxt/ (LasHeR)."""
    from rgbx_tracker_ros.eval import report as rep

    root = tmp_path / 'ds'
    make_sequence(root / 'walk_a', 10)
    make_sequence(root / 'walk_b', 40, tags={'FM': [1] + [0] * (N - 1)})
    (root / 'attr_txt').mkdir()
    (root / 'attr_txt' / 'SequencesName.txt').write_text('walk_b\nwalk_a\n')
    (root / 'attr_txt' / 'BC.txt').write_text('0\n1\n')       # walk_a only
    (root / 'attr_txt' / 'LI.txt').write_text('1\n1\n')       # both
    (root / 'AttriSeqsTxt').mkdir()
    (root / 'Attributes_order.txt').write_text('NO, PO, TO')
    (root / 'AttriSeqsTxt' / 'walk_b.txt').write_text('0,1,0')
    seqs = {s.name: s for s in ev.collect_sequences([str(root)])}
    assert rep.sequence_attributes(seqs['walk_a']) == {'BC', 'LI'}
    assert rep.sequence_attributes(seqs['walk_b']) == {'FM', 'LI', 'PO'}

    gt = {n: s.gt_xywh for n, s in seqs.items()}
    shifted = {n: g + np.array([30.0, 0, 0, 0]) for n, g in gt.items()}
    result = rep.evaluate_runs(list(seqs.values()), {'perfect': gt, 'shifted': shifted})
    rows = rep.attribute_splits(result, {n: rep.sequence_attributes(s)
                                         for n, s in seqs.items()})
    by = {(r.attribute, r.run): r for r in rows}
    assert sorted({r.attribute for r in rows}) == ['BC', 'FM', 'LI', 'PO']
    assert by[('LI', 'perfect')].sequences == ['walk_a', 'walk_b']
    assert by[('BC', 'perfect')].sequences == ['walk_a']
    assert by[('BC', 'perfect')].sr == pytest.approx(20 / 21)   # frame 1 := GT, all hits
    assert by[('PO', 'shifted')].sr == pytest.approx(
        next(r.sr for r in result.rows if r.run == 'shifted' and r.sequence == 'walk_b'))

    (root / 'AttriSeqsTxt' / 'walk_b.txt').write_text('0,1')   # 2 flags for 3 names
    with pytest.raises(rep.ReportError, match='2 flags for 3 attributes'):
        rep.sequence_attributes(seqs['walk_b'])
    (root / 'walk_a' / 'OCC.tag').write_text('1\n0\n')           # 2 flags for 10 frames
    with pytest.raises(rep.ReportError, match='OCC.tag has 2 flags for 10 frames'):
        rep.sequence_attributes(seqs['walk_a'])


def test_rgbx_eval_precision_is_part_of_our_cache_key(dataset, tmp_path, capsys):
    """--precision reruns our tracker (not the peers) and fp16 on a CPU is refused."""
    out = tmp_path / 'prec'
    base = [str(dataset / 'walk_a'), '--trackers', 'test_tiny:random', 'kcf-rgb', '--out',
            str(out), '--no-progress', '--no-video', '--threads', '1', '--device', 'cpu']

    def statuses():
        return {r['tracker']: r['status'] for r in json.loads((out / 'runs.json').read_text())}

    assert ev.main(base) == 0
    assert statuses() == {'test_tiny-random': 'computed', 'kcf-rgb': 'computed'}
    assert ev.main(base + ['--precision', 'bf16']) == 0
    assert statuses() == {'test_tiny-random': 'computed', 'kcf-rgb': 'cached'}
    assert ev.main(base + ['--precision', 'bf16']) == 0
    assert statuses() == {'test_tiny-random': 'cached', 'kcf-rgb': 'cached'}
    capsys.readouterr()
    assert ev.main(base + ['--precision', 'fp16']) == 2
    assert 'fp16 needs a CUDA device' in capsys.readouterr().err
