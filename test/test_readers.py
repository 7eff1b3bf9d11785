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

"""The reader registry of ``data/readers``: every registered reader detects its own generated
layout (and no other reader does), and attaches its protocol and attribute formats, which the
scoring reads instead of branching on a layout's name; ``data.sequences`` still re-exports all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rgbx_tracker_ros.data import readers, sequences
from rgbx_tracker_ros.data.readers import READERS, detect_layout, load_sequence
from rgbx_tracker_ros.eval import scoring
from test_sequences import _bgr, _gt_lines, _mono, _write, make_rgbt234

N = 4


def make_lasher(root: Path) -> Path:
    _write(root / 'visible', [f'v{i:06d}.png' for i in range(N)], [_bgr(i) for i in range(N)])
    _write(root / 'infrared', [f'i{i:06d}.png' for i in range(N)], [_mono(i) for i in range(N)])
    (root / 'visible.txt').write_text(_gt_lines(N))
    return root


def make_gtot(root: Path) -> Path:
    _write(root / 'v', [f'{i:05d}v.png' for i in range(1, N + 1)], [_mono(i) for i in range(N)])
    _write(root / 'i', [f'{i:05d}i.png' for i in range(1, N + 1)], [_mono(i) for i in range(N)])
    (root / 'groundTruth_v.txt').write_text('1 2 6 8\n' * N)
    return root


def make_vtuav(root: Path) -> Path:
    _write(root / 'rgb', [f'{i:06d}.jpg' for i in range(N)], [_bgr(i) for i in range(N)])
    _write(root / 'ir', [f'{i:06d}.jpg' for i in range(N)], [_mono(i) for i in range(N)])
    (root / 'rgb.txt').write_text(_gt_lines(N, sep=' '))
    return root


def make_depthtrack(root: Path) -> Path:
    _write(root / 'color', [f'{i:08d}.jpg' for i in range(1, N + 1)], [_bgr(i) for i in range(N)])
    _write(root / 'depth', [f'{i:08d}.png' for i in range(1, N + 1)],
           [np.full((24, 32), 1500, np.uint16)] * N)
    (root / 'groundtruth.txt').write_text(_gt_lines(N))
    return root


def make_visevent(root: Path) -> Path:
    _write(root / 'vis_imgs', [f'frame{i:04d}.bmp' for i in range(N)], [_bgr(i) for i in range(N)])
    _write(root / 'event_imgs', [f'frame{i:04d}.bmp' for i in range(N)],
           [_bgr(i) for i in range(N)])
    (root / 'groundtruth.txt').write_text(_gt_lines(N))
    (root / 'absent_label.txt').write_text('0\n' * N)
    return root


def make_otb(root: Path) -> Path:
    _write(root / 'img', [f'{i:04d}.jpg' for i in range(1, N + 1)], [_bgr(i) for i in range(N)])
    (root / 'groundtruth_rect.txt').write_text(_gt_lines(N, sep='\t'))
    return root


MAKERS = {'rgbt234': make_rgbt234, 'lasher': make_lasher, 'gtot': make_gtot,
          'vtuav': make_vtuav, 'depthtrack': make_depthtrack, 'visevent': make_visevent,
          'otb': make_otb}


def test_every_registered_reader_has_a_generated_layout():
    assert sorted(READERS) == sorted(MAKERS)
    assert set(sequences.LAYOUTS) == set(READERS) | {'rgbt210'}


@pytest.mark.parametrize('name', sorted(MAKERS))
def test_reader_detects_its_layout_and_attaches_protocol_and_attributes(name, tmp_path):
    root = MAKERS[name](tmp_path / 'data' / f'seq_{name}')
    names = {p.name for p in root.iterdir()}
    assert [n for n, r in READERS.items() if r.detect(root, names)] == [name]
    assert detect_layout(root) == name
    reader = READERS[name]
    seq = load_sequence(root)
    assert seq.layout == name and len(seq) == N
    assert seq.protocol == reader.protocol == ('visevent' if name == 'visevent' else 'lasher')
    assert seq.attribute_formats == reader.attribute_formats
    # the direct read function of the reader module attaches the same protocol
    assert reader.read(root).protocol == reader.protocol
    # 'auto' scores with the attached protocol; the attribute files named by the reader count
    assert scoring.evaluate_runs(seq, {'gt': seq.gt_xywh}).protocols == {seq.name: seq.protocol}
    (root / 'OCC.tag').write_text('0\n' * (N - 1) + '1\n')
    assert scoring.sequence_attributes(seq) == {'OCC'}


def test_scoring_follows_the_attached_protocol_not_the_layout_name(tmp_path):
    seq = load_sequence(make_otb(tmp_path / 'plain'))
    (tmp_path / 'plain' / 'OCC.tag').write_text('1\n' * N)
    seq.protocol = 'visevent'
    assert scoring._protocol_for(seq, 'auto') == 'visevent'
    assert scoring.score_sequence(seq, seq.gt_xywh).protocol == 'visevent'
    seq.attribute_formats = ()
    assert scoring.sequence_attributes(seq) == set()
    seq.attribute_formats = ('attr_txt',)       # no attr_txt/ folder: the .tag is not read
    assert scoring.sequence_attributes(seq) == set()


def test_register_a_reader_ahead_of_the_others(tmp_path):
    root = make_otb(tmp_path / 'custom')
    (root / 'custom.flag').write_text('')

    def read(path: Path):
        seq = readers.read_otb(path)
        seq.layout = 'custom'
        return seq

    custom = readers.Reader('custom', read, lambda _root, names: 'custom.flag' in names,
                            protocol='otb', attribute_formats=())
    saved = dict(READERS)
    try:
        readers.register(custom, before='visevent')
        assert list(READERS)[0] == 'custom' and detect_layout(root) == 'custom'
        seq = load_sequence(root)
        assert (seq.layout, seq.protocol, seq.attribute_formats) == ('custom', 'otb', ())
    finally:
        READERS.clear()
        READERS.update(saved)
        readers.LAYOUTS.pop('custom', None)
    assert detect_layout(root) == 'otb'
