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

"""Report writer: metrics table, plots and annotated video on a tiny generated sequence."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.data.sequences import load_sequence
from rgbx_tracker_ros.eval import metrics
from rgbx_tracker_ros.eval import report as rep

H, W, N = 48, 64, 6


def make_sequence(root: Path, n: int = N):
    (root / 'visible').mkdir(parents=True)
    (root / 'infrared').mkdir()
    gt = ['0,0,0,0']                                   # frame 1: target absent
    for i in range(1, n + 1):
        vis = np.full((H, W), 40, np.uint8)
        ir = np.full((H, W), 20, np.uint8)
        x = 5 + 4 * i
        ir[10:30, x:x + 10] = 230
        cv2.imwrite(str(root / 'visible' / f'{i:05d}v.png'), vis)
        cv2.imwrite(str(root / 'infrared' / f'{i:05d}i.png'), ir)
        if i > 1:
            gt.append(f'{x},10,10,20')
    (root / 'visible.txt').write_text('\n'.join(gt) + '\n')
    (root / 'infrared.txt').write_text('\n'.join(gt) + '\n')
    return load_sequence(root)


@pytest.fixture()
def seq(tmp_path):
    return make_sequence(tmp_path / 'walker')


def test_write_report_writes_every_file(seq, tmp_path):
    perfect = seq.gt_xywh.copy()
    perfect[0] = np.nan                                # not initialised on the absent frame
    shifted = seq.gt_xywh + np.array([30, 0, 0, 0])    # 30 px off: PR miss, IoU 0
    scores = np.linspace(1.0, 0.5, N)
    out = tmp_path / 'report'
    result = rep.write_report(out, seq, {'perfect': (perfect, scores), 'shifted': shifted},
                              fps=5)

    # numbers: LasHeR rules; frame 1 has GT 0,0,0,0 -> -1: PR hit, SR miss
    s = result.summary
    assert s['perfect']['PR'] == pytest.approx(1.0)
    assert s['perfect']['SR'] == pytest.approx(20 * (N - 1) / N / 21)
    assert s['shifted']['PR'] == pytest.approx(1 / N)  # only the masked frame counts
    assert s['shifted']['SR'] == pytest.approx(0.0)
    expect = metrics.lasher_sequence(shifted, seq.gt_xywh)
    assert s['shifted']['NPR'] == pytest.approx(expect.npr)
    # scores were given for 'perfect' only -> VOT long-term numbers for it alone
    assert set(result.vot_lt) == {'perfect'} and s['perfect']['F'] == pytest.approx(1.0)

    md = result.paths['report'].read_text()
    assert '| perfect | walker | lasher | 100.0 | 100.0 | 79.4 |' in md
    assert '| shifted | walker | lasher | 16.7 |' in md
    assert 'How the numbers were computed' in md and 'frame 1 := GT' in md

    for key in ('precision_plot', 'success_plot'):
        image = cv2.imread(str(result.paths[key]))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 5                          # not a blank canvas
    video = result.paths['video']
    assert video.suffix in ('.mp4', '.avi') and video.stat().st_size > 0
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == N
    assert frames[0].shape[:2] == (H, 2 * W)           # RGB panel + X panel side by side
    # the GT box (green) is drawn on frame 3 around x = 17 .. 27, y = 10 .. 30
    f = frames[2].astype(int)
    green = (f[..., 1] > 150) & (f[..., 2] < 100) & (f[..., 0] < 100)
    assert green[5:35, 12:32].sum() > 20

    table = rep.format_table(result)
    assert 'perfect' in table and 'shifted' in table and 'PR@20' in table
    assert '79.4' in table and 'VOT long-term' in table


def test_several_sequences_dict_runs_and_other_protocols(tmp_path):
    a = make_sequence(tmp_path / 'a')
    b = make_sequence(tmp_path / 'b', n=4)
    runs = {'gt': {'a': a.gt_xywh, 'b': rep.SequenceRun(b.gt_xywh)}}
    result = rep.evaluate_runs([a, b], runs)
    assert result.overall['gt'].num_sequences == 2
    sr_a, sr_b = 20 * (5 / 6) / 21, 20 * (3 / 4) / 21
    assert result.summary['gt']['SR'] == pytest.approx((sr_a + sr_b) / 2)
    assert 'ALL (mean)' in rep.format_table(result)
    otb = rep.evaluate_runs([a, b], runs, protocol='rgbt234')
    assert np.isnan(otb.summary['gt']['NPR']) and otb.rows[0].protocol == 'rgbt234'
    with pytest.raises(rep.ReportError, match="no result for sequence"):
        rep.evaluate_runs([a, b], {'gt': {'a': a.gt_xywh}})
    with pytest.raises(rep.ReportError, match=r'5 boxes for 6 frames'):
        rep.evaluate_runs(a, {'bad': a.gt_xywh[:5]})
    with pytest.raises(rep.ReportError, match='unknown protocol'):
        rep.evaluate_runs(a, {'gt': a.gt_xywh}, protocol='vot2099')
    with pytest.raises(rep.ReportError, match='give a {sequence name: boxes} dict'):
        rep.evaluate_runs([a, b], {'gt': a.gt_xywh})


def test_video_name_keeps_the_dots_of_a_bag_name(seq, tmp_path):
    """'tno.bag_tracks' -> 'tno.bag_tracks.mp4' (with_suffix would write 'tno.mp4')."""
    path = rep.write_video(seq, {'gt': seq.gt_xywh}, tmp_path / 'tno.bag_tracks', max_frames=2)
    assert path.name == 'tno.bag_tracks.mp4' and path.stat().st_size > 0


def test_video_falls_back_to_mjpg_avi(seq, tmp_path, monkeypatch):
    real_writer = cv2.VideoWriter
    mp4v = cv2.VideoWriter_fourcc(*'mp4v')

    class NoMp4Writer:
        def __init__(self, path, fourcc, fps, size):
            self._inner = None if fourcc == mp4v else real_writer(path, fourcc, fps, size)

        def isOpened(self):
            return self._inner is not None and self._inner.isOpened()

        def write(self, frame):
            self._inner.write(frame)

        def release(self):
            if self._inner is not None:
                self._inner.release()

    monkeypatch.setattr(rep.cv2, 'VideoWriter', NoMp4Writer)
    path = rep.write_video(seq, {'gt': seq.gt_xywh}, tmp_path / 'vid' / 'clip', max_frames=3)
    assert path.suffix == '.avi' and path.stat().st_size > 0
    monkeypatch.undo()
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 3
