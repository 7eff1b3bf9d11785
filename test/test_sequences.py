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

"""Sequence readers: every layout on a generated folder, every validation error, the real data."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.data.sequences import (LAYOUTS, SequenceError, detect_layout,
                                             load_sequence, load_sequences, read_boxes)

REAL = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'real'
H, W = 24, 32


def _mono(k: int) -> np.ndarray:
    img = np.full((H, W), 10 * k, np.uint8)
    img[2:6, 3:9] = 200
    return img


def _bgr(k: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 255                 # blue in OpenCV's BGR order
    img[..., 2] = k
    return img


def _write(folder: Path, names, images) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, images):
        assert cv2.imwrite(str(folder / name), image)


def _gt_lines(n: int, sep: str = ',', start: int = 1) -> str:
    return '\n'.join(sep.join(str(v) for v in (start + i, 2, 5, 6)) for i in range(n)) + '\n'


def make_rgbt234(root: Path, n: int = 4) -> Path:
    _write(root / 'visible', [f'{i:05d}v.png' for i in range(1, n + 1)],
           [_mono(i) for i in range(n)])
    _write(root / 'infrared', [f'{i:05d}i.png' for i in range(1, n + 1)],
           [_mono(i + 1) for i in range(n)])
    (root / 'visible.txt').write_text('0,0,0,0\n' + _gt_lines(n - 1))
    (root / 'infrared.txt').write_text('0,0,0,0\n' + _gt_lines(n - 1, start=2))
    return root


def test_rgbt234_layout(tmp_path):
    seq = load_sequence(make_rgbt234(tmp_path / 'seqA'))
    assert seq.layout == 'rgbt234' and seq.name == 'seqA' and len(seq) == 4
    assert seq.modality is Modality.THERMAL
    assert seq.rgb_encoding == 'mono8' and seq.x_encoding == 'mono8'
    np.testing.assert_array_equal(seq.gt_xywh[1], [1, 2, 5, 6])
    np.testing.assert_array_equal(seq.gt_x_xywh[1], [2, 2, 5, 6])
    assert seq.absent.tolist() == [True, False, False, False]
    assert seq.first_valid_frame() == 1
    np.testing.assert_array_equal(seq.read_rgb(2), _mono(2))
    np.testing.assert_array_equal(seq.read_x(-1), _mono(4))
    assert seq.attributes['image_size_wh'] == (W, H)
    with pytest.raises(IndexError):
        seq.read_rgb(4)


def test_rgbt210_init_txt_and_16bit_thermal(tmp_path):
    root = tmp_path / 'seq210'
    _write(root / 'visible', [f'{i:05d}v.jpg' for i in (1, 2, 3)], [_bgr(i) for i in range(3)])
    hot = np.full((H, W), 30000, np.uint16)
    _write(root / 'infrared', [f'{i:05d}i.png' for i in (1, 2, 3)], [hot] * 3)
    (root / 'init.txt').write_text(_gt_lines(3, sep=' '))
    seq = load_sequence(root, layout='rgbt210')
    assert seq.layout == 'rgbt234' and seq.gt_x_xywh is None
    assert seq.x_encoding == 'mono16' and seq.read_x(0).dtype == np.uint16
    assert seq.rgb_encoding == 'rgb8' and seq.attributes['gt_file'] == 'init.txt'


def test_lasher_layout_colour_frames_come_back_in_rgb_order(tmp_path):
    root = tmp_path / 'lasherSeq'
    _write(root / 'visible', [f'v{i:06d}.png' for i in range(3)], [_bgr(i) for i in range(3)])
    _write(root / 'infrared', [f'i{i:06d}.png' for i in range(3)], [_bgr(i) for i in range(3)])
    (root / 'visible.txt').write_text(_gt_lines(3))
    (root / 'infrared.txt').write_text(_gt_lines(3))
    assert detect_layout(root) == 'lasher'
    seq = load_sequence(root)
    assert seq.rgb_encoding == 'rgb8' and seq.x_encoding == 'rgb8'
    rgb = seq.read_rgb(2)
    assert rgb.shape == (H, W, 3)
    assert rgb[0, 0].tolist() == [2, 0, 255]      # R = k, B = 255 after BGR -> RGB
    assert seq.read_x(1)[0, 0].tolist() == [1, 0, 255]


def test_gtot_corner_ground_truth_becomes_xywh(tmp_path):
    root = tmp_path / 'BlackCar'
    _write(root / 'v', [f'{i:05d}v.png' for i in (1, 2)], [_mono(1), _mono(2)])
    _write(root / 'i', [f'{i:05d}i.bmp' for i in (1, 2)], [_mono(1), _mono(2)])
    (root / 'groundTruth_v.txt').write_text('10 20 30 50\n32 22 12 20\n')   # 2nd row reversed
    (root / 'groundTruth_i.txt').write_text('11 20 31 50\n12 20 32 22\n')
    seq = load_sequence(root)
    assert seq.layout == 'gtot'
    np.testing.assert_array_equal(seq.gt_xywh, [[10, 20, 20, 30], [12, 20, 20, 2]])
    np.testing.assert_array_equal(seq.gt_x_xywh[0], [11, 20, 20, 30])


def test_vtuav_sparse_annotation_every_tenth_frame(tmp_path):
    root = tmp_path / 'animal_001'
    n = 25
    _write(root / 'rgb', [f'{i:06d}.jpg' for i in range(n)], [_bgr(i) for i in range(n)])
    _write(root / 'ir', [f'{i:06d}.jpg' for i in range(n)], [_mono(i) for i in range(n)])
    (root / 'rgb.txt').write_text('1 2 5 6\n11 2 5 6\n21 2 5 6\n')
    (root / 'ir.txt').write_text('1 3 5 6\n11 3 5 6\n21 3 5 6\n')
    seq = load_sequence(root)
    assert seq.layout == 'vtuav' and len(seq) == n
    assert np.flatnonzero(seq.annotated).tolist() == [0, 10, 20]
    np.testing.assert_array_equal(seq.gt_xywh[10], [11, 2, 5, 6])
    assert np.isnan(seq.gt_xywh[5]).all() and not seq.absent.any()
    np.testing.assert_array_equal(seq.gt_x_xywh[20], [21, 3, 5, 6])
    (root / 'rgb.txt').write_text('1 2 5 6\n11 2 5 6\n')
    with pytest.raises(SequenceError, match=r'rgb.txt has 2 boxes for 25 frames; expected 25'):
        load_sequence(root)


def test_depthtrack_nan_rows_polygons_and_16bit_depth(tmp_path):
    root = tmp_path / 'adapter01_indoor'
    _write(root / 'color', [f'{i:08d}.jpg' for i in (1, 2, 3)], [_bgr(i) for i in range(3)])
    depth = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 7)
    _write(root / 'depth', [f'{i:08d}.png' for i in (1, 2, 3)], [depth] * 3)
    (root / 'groundtruth.txt').write_text('1,2,5,6\nnan,nan,nan,nan\n'
                                          '2,3,12,3,12,9,2,9\n')
    seq = load_sequence(root)
    assert seq.layout == 'depthtrack' and seq.modality is Modality.DEPTH
    assert seq.x_encoding == '16UC1'
    np.testing.assert_array_equal(seq.read_x(0), depth)
    assert seq.absent.tolist() == [False, True, False]
    np.testing.assert_array_equal(seq.gt_xywh[2], [2, 3, 10, 6])
    # an 8-bit depth map is not a depth map in millimetres
    _write(root / 'depth', ['00000001.png'], [_mono(0)])
    with pytest.raises(SequenceError, match='16-bit'):
        load_sequence(root)


def test_visevent_absent_labels(tmp_path):
    root = tmp_path / 'dvSave-2021_02_06'
    _write(root / 'vis_imgs', [f'frame{i:04d}.bmp' for i in range(4)], [_bgr(i) for i in range(4)])
    _write(root / 'event_imgs', [f'frame{i:04d}.bmp' for i in range(4)],
           [_bgr(i) for i in range(4)])
    (root / 'groundtruth.txt').write_text(_gt_lines(4))
    (root / 'absent_label.txt').write_text('0\n0\n1\n0\n')
    seq = load_sequence(root)
    assert seq.layout == 'visevent' and seq.modality is Modality.EVENT
    assert seq.absent.tolist() == [False, False, True, False]
    assert seq.x_encoding == 'rgb8'
    (root / 'absent_label.txt').write_text('0\n0\n1\n')
    with pytest.raises(SequenceError, match='3 labels for 4 frames'):
        load_sequence(root)


def test_otb_one_based_ground_truth_is_shifted(tmp_path):
    root = tmp_path / 'Crossing'
    _write(root / 'img', [f'{i:04d}.jpg' for i in (1, 2)], [_bgr(1), _bgr(2)])
    (root / 'groundtruth_rect.txt').write_text('205\t151\t17\t50\n0\t0\t0\t0\n')
    seq = load_sequence(root)
    assert seq.layout == 'otb' and seq.x_paths is None and seq.modality is Modality.RGB
    np.testing.assert_array_equal(seq.gt_xywh, [[204, 150, 17, 50], [0, 0, 0, 0]])
    assert seq.absent.tolist() == [False, True]
    with pytest.raises(SequenceError, match='no X stream'):
        seq.read_x(0)


def test_read_boxes_delimiters_and_errors(tmp_path):
    f = tmp_path / 'gt.txt'
    f.write_text('1,2,3,4\n5 6 7 8\n9\t10\t11\t12\n13;14;15;16\n\n')
    np.testing.assert_array_equal(read_boxes(f)[:, 0], [1, 5, 9, 13])
    f.write_text('1,2,3,4\n1,2,x,4\n')
    with pytest.raises(SequenceError, match=r'gt.txt, line 2: cannot parse'):
        read_boxes(f)
    f.write_text('1,2,3\n')
    with pytest.raises(SequenceError, match=r'line 1: 3 numbers'):
        read_boxes(f)
    f.write_text('\n')
    with pytest.raises(SequenceError, match='empty'):
        read_boxes(f)


def test_validation_missing_frame_number(tmp_path):
    root = make_rgbt234(tmp_path / 'gap', n=5)
    (root / 'visible' / '00003v.png').unlink()
    with pytest.raises(SequenceError, match=r'visible frames in .*gap/visible are not '
                                            r'consecutive: missing frame numbers \[3\]'):
        load_sequence(root)


def test_validation_rgb_and_x_counts_differ(tmp_path):
    root = make_rgbt234(tmp_path / 'short_ir')
    (root / 'infrared' / '00004i.png').unlink()
    with pytest.raises(SequenceError, match=r'4 RGB frames \(visible/\) but 3 X frames'):
        load_sequence(root)


def test_validation_gt_count_mismatch(tmp_path):
    root = make_rgbt234(tmp_path / 'long_gt')
    (root / 'visible.txt').write_text('0,0,0,0\n' + _gt_lines(4))
    with pytest.raises(SequenceError, match=r'visible.txt has 5 boxes but the sequence has 4'):
        load_sequence(root)


def test_validation_unreadable_last_frame(tmp_path):
    root = make_rgbt234(tmp_path / 'broken')
    (root / 'infrared' / '00004i.png').write_bytes(b'not a png at all')
    with pytest.raises(SequenceError, match=r'cannot decode image .*00004i.png'):
        load_sequence(root)


def test_validation_missing_pieces_and_unknown_layouts(tmp_path):
    root = make_rgbt234(tmp_path / 'nogt')
    (root / 'visible.txt').unlink()
    (root / 'infrared.txt').unlink()
    with pytest.raises(SequenceError, match='no ground truth; expected visible.txt'):
        load_sequence(root)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SequenceError, match='unknown sequence layout'):
        load_sequence(tmp_path / 'empty')
    with pytest.raises(SequenceError, match='does not exist'):
        load_sequence(tmp_path / 'nope')
    with pytest.raises(SequenceError, match="unknown layout 'kitti'; known: "):
        load_sequence(root, layout='kitti')
    (tmp_path / 'no_frames' / 'img').mkdir(parents=True)
    with pytest.raises(SequenceError, match='no img frames'):
        load_sequence(tmp_path / 'no_frames')
    assert set(LAYOUTS) >= {'rgbt234', 'lasher', 'gtot', 'vtuav', 'depthtrack', 'visevent',
                            'otb'}
    assert issubclass(SequenceError, ValueError)


def test_load_sequences_skips_non_sequences(tmp_path):
    make_rgbt234(tmp_path / 'data' / 'b')
    make_rgbt234(tmp_path / 'data' / 'a')
    (tmp_path / 'data' / 'notes').mkdir()
    seqs = load_sequences(tmp_path / 'data')
    assert [s.name for s in seqs] == ['a', 'b']


def test_real_tno_nato_camp():
    seq = load_sequence(REAL / 'tno_nato_camp')
    assert seq.layout == 'rgbt234' and len(seq) == 32
    assert seq.rgb_encoding == 'mono8' and seq.x_encoding == 'mono8'
    assert seq.gt_xywh.shape == (32, 4)
    np.testing.assert_array_equal(seq.gt_xywh[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(seq.gt_xywh[1], [115, 108, 19, 40])
    np.testing.assert_array_equal(seq.gt_x_xywh, seq.gt_xywh)    # infrared.txt = visible.txt
    assert seq.absent.sum() == 1 and seq.absent[0] and seq.first_valid_frame() == 1
    assert seq.read_rgb(0).shape == (270, 360) and seq.read_x(31).shape == (270, 360)
    # the hot target is brighter than its surroundings in LWIR at the GT box of frame 2
    x, y, w, h = seq.gt_xywh[1].astype(int)
    ir = seq.read_x(1).astype(float)
    assert ir[y:y + h, x:x + w].mean() > ir.mean() + 20


def test_real_otb_crossing():
    seq = load_sequence(REAL / 'otb_crossing')
    assert seq.layout == 'otb' and len(seq) == 120 and not seq.has_x
    np.testing.assert_array_equal(seq.gt_xywh[0], [204, 150, 17, 50])   # file: 205 151 17 50
    np.testing.assert_array_equal(seq.gt_xywh[-1], [55, 92, 14, 36])    # file: 56 93 14 36
    assert not seq.absent.any()
    assert seq.rgb_encoding == 'rgb8' and seq.read_rgb(119).shape == (240, 360, 3)


def test_real_rgbd_folder_without_ground_truth_is_rejected():
    with pytest.raises(SequenceError, match='kinect_ch5/groundtruth.txt'):
        load_sequence(REAL / 'rgbd_slambook2' / 'kinect_ch5')
