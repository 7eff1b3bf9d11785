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

"""Training readers (train/datasets.py) on tiny generated folders in each benchmark layout, the
pair sources that sample from them, and the YAML training recipes (train/recipe.py)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbx_tracker_ros.core.types import Modality
from rgbx_tracker_ros.train.data import MODALITY_LABEL, Geometry, PairSample, pick_frame_pair
from rgbx_tracker_ros.train.datasets import (DATASETS, DatasetError, MixedSource,
                                             SequencePairSource, list_datasets, open_dataset)
from rgbx_tracker_ros.train.recipe import (RecipeError, apply_recipe, explicit_flags,
                                           load_recipe, recipe_files)

GEO = Geometry(template_size=32, search_size=64)
W, H = 80, 60
BOXES = [(20, 15, 16, 12), (22, 16, 16, 12), (24, 17, 16, 12), (26, 18, 16, 12),
         (28, 19, 16, 12), (30, 20, 16, 12)]


def _frame(k: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(k)
    img = rng.integers(0, 80, (H, W, channels), dtype=np.uint8)
    x, y, w, h = BOXES[k % len(BOXES)]
    img[y:y + h, x:x + w] = 220
    return img if channels == 3 else img[..., 0]


def _write_boxes(path: Path, rows, sep: str = ',') -> None:
    path.write_text('\n'.join(sep.join(str(v) for v in row) for row in rows) + '\n')


def _two_stream(folder: Path, rgb_dir: str, x_dir: str, rgb_name, x_name, n: int = 6,
                x_kind: str = 'jpg3') -> None:
    (folder / rgb_dir).mkdir(parents=True)
    (folder / x_dir).mkdir(parents=True)
    for k in range(n):
        cv2.imwrite(str(folder / rgb_dir / rgb_name(k)), _frame(k))
        if x_kind == 'depth':
            depth = np.full((H, W), 3000, np.uint16)
            x, y, w, h = BOXES[k % len(BOXES)]
            depth[y:y + h, x:x + w] = 1200
            cv2.imwrite(str(folder / x_dir / x_name(k)), depth)
        else:
            cv2.imwrite(str(folder / x_dir / x_name(k)), 255 - _frame(k))


# --------------------------------------------------------------------------- layouts

def make_lasher(root: Path) -> Path:
    names = ['boy1', 'car2']
    for s in names:
        seq = root / 'trainingset' / s
        _two_stream(seq, 'visible', 'infrared', lambda k: f'v{k:06d}.jpg',
                    lambda k: f'i{k:06d}.jpg')
        rows = [list(b) for b in BOXES]
        rows[2] = [0, 0, 0, 0]                      # LasHeR's absent row
        _write_boxes(seq / 'visible.txt', rows)
        _write_boxes(seq / 'infrared.txt', rows)
    (root / 'trainingsetList.txt').write_text('\n'.join(names) + '\n')
    return root


def make_rgbt234(root: Path) -> Path:
    for s in ('afterrain', 'baby'):
        seq = root / s
        _two_stream(seq, 'visible', 'infrared', lambda k: f'{k + 1:05d}v.jpg',
                    lambda k: f'{k + 1:05d}i.jpg')
        _write_boxes(seq / 'visible.txt', BOXES, ' ')
        _write_boxes(seq / 'infrared.txt', [(x + 1, y, w, h) for x, y, w, h in BOXES], ' ')
    (root / 'readme.txt').write_text('not a sequence\n')
    return root


def make_vtuav(root: Path) -> Path:
    for s in ('animal_001', 'bike_002'):
        seq = root / 'train' / s
        _two_stream(seq, 'rgb', 'ir', lambda k: f'{k:06d}.jpg', lambda k: f'{k:06d}.jpg', n=12)
        _write_boxes(seq / 'rgb.txt', [BOXES[0], BOXES[4]], ' ')   # frames 0 and 10
    return root


def make_depthtrack(root: Path) -> Path:
    for s in ('adapter01_indoor', 'bag01_indoor'):
        seq = root / 'train' / s
        _two_stream(seq, 'color', 'depth', lambda k: f'{k + 1:08d}.jpg',
                    lambda k: f'{k + 1:08d}.png', x_kind='depth')
        rows = [list(map(str, b)) for b in BOXES]
        rows[1] = ['nan'] * 4                        # absent
        rows[3] = ['26', '18', '8', '12']            # too small for DepthTrack (w > 10)
        _write_boxes(seq / 'groundtruth.txt', rows)
    return root


def make_visevent(root: Path) -> Path:
    names = ['00141_tank_outdoor2', 'dvSave-2021_02_04']
    for s in names:
        seq = root / 'train' / s
        _two_stream(seq, 'vis_imgs', 'event_imgs', lambda k: f'frame{k:04d}.bmp',
                    lambda k: f'frame{k:04d}.bmp')
        _write_boxes(seq / 'groundtruth.txt', BOXES)
        (seq / 'absent_label.txt').write_text('0\n0\n0\n0\n1\n0\n')
    (root / 'trainlist.txt').write_text('\n'.join(names) + '\n')
    return root


def make_got10k(root: Path) -> Path:
    names = ['GOT-10k_Train_000001', 'GOT-10k_Train_000002']
    for s in names:
        seq = root / 'train' / s
        seq.mkdir(parents=True)
        for k in range(6):
            cv2.imwrite(str(seq / f'{k + 1:08d}.jpg'), _frame(k))
        _write_boxes(seq / 'groundtruth.txt', BOXES)
        (seq / 'absence.label').write_text('0\n1\n0\n0\n0\n0\n')
        (seq / 'cover.label').write_text('8\n0\n8\n0\n8\n8\n')
    (root / 'train' / 'list.txt').write_text('\n'.join(names) + '\n')
    return root


def make_lasot(root: Path) -> Path:
    for cls, n in (('airplane', 1), ('airplane', 3), ('bear', 2)):
        seq = root / cls / f'{cls}-{n}'
        (seq / 'img').mkdir(parents=True)
        for k in range(6):
            cv2.imwrite(str(seq / 'img' / f'{k + 1:08d}.jpg'), _frame(k))
        _write_boxes(seq / 'groundtruth.txt', BOXES)
        (seq / 'full_occlusion.txt').write_text('0,0,1,0,0,0')
        (seq / 'out_of_view.txt').write_text('0,0,0,0,0,1')
        (seq / 'nlp.txt').write_text('white airplane\n')
    return root


def make_coco(root: Path) -> Path:
    (root / 'train2017').mkdir(parents=True)
    (root / 'annotations').mkdir()
    images = []
    for k in range(2):
        name = f'{k + 1:012d}.jpg'
        cv2.imwrite(str(root / 'train2017' / name), _frame(k))
        images.append({'id': k + 1, 'file_name': name, 'width': W, 'height': H})
    annotations = [
        {'id': 10, 'image_id': 1, 'bbox': [20.0, 15.0, 16.0, 12.0], 'iscrowd': 0},
        {'id': 11, 'image_id': 1, 'bbox': [5.0, 5.0, 30.0, 30.0], 'iscrowd': 1},   # crowd
        {'id': 12, 'image_id': 2, 'bbox': [22.0, 16.0, 16.0, 12.0], 'iscrowd': 0},
        {'id': 13, 'image_id': 2, 'bbox': [50.0, 40.0, 3.0, 20.0], 'iscrowd': 0},  # tiny
    ]
    (root / 'annotations' / 'instances_train2017.json').write_text(
        json.dumps({'images': images, 'annotations': annotations, 'categories': []}))
    return root


MAKERS = {'lasher': make_lasher, 'rgbt234': make_rgbt234, 'vtuav': make_vtuav,
          'depthtrack': make_depthtrack, 'visevent': make_visevent, 'got10k': make_got10k,
          'lasot': make_lasot, 'coco': make_coco}

#: per reader: (number of sequences, visible frames of sequence 0, modality, has X)
EXPECTED = {
    'lasher': (2, [0, 1, 3, 4, 5], Modality.THERMAL, True),
    'rgbt234': (2, [0, 1, 2, 3, 4, 5], Modality.THERMAL, True),
    'vtuav': (2, [0, 10], Modality.THERMAL, True),
    'depthtrack': (2, [0, 2, 4, 5], Modality.DEPTH, True),
    'visevent': (2, [0, 1, 2, 3, 5], Modality.EVENT, True),
    'got10k': (2, [0, 2, 4, 5], Modality.RGB, False),
    'lasot': (3, [0, 1, 3, 4], Modality.RGB, False),
    'coco': (2, [0], Modality.RGB, False),
}


def test_registry_lists_every_reader() -> None:
    assert list_datasets() == sorted(MAKERS)
    assert set(DATASETS) == set(EXPECTED)
    with pytest.raises(DatasetError, match='unknown training dataset'):
        open_dataset('trackingnet', '.')


@pytest.mark.parametrize('name', sorted(MAKERS))
def test_reader_parses_layout_and_samples_pairs(name: str, tmp_path: Path) -> None:
    root = MAKERS[name](tmp_path / name)
    ds = open_dataset(name, root)
    count, visible, modality, has_x = EXPECTED[name]
    assert len(ds) == count and ds.modality is modality
    assert not ds._cache, 'no sequence may be loaded at construction'
    seq = ds.sequence(0)
    assert seq.has_x is has_x
    assert np.flatnonzero(ds.visible(seq)).tolist() == visible
    first = visible[0]
    np.testing.assert_allclose(seq.gt_xywh[first], BOXES[first % len(BOXES)]
                               if name != 'vtuav' else BOXES[0])
    source = SequencePairSource(ds, GEO, max_gap=3)
    rng = np.random.default_rng(0)
    for _ in range(4):
        sample = source.sample(rng)
        assert isinstance(sample, PairSample)
        assert sample.template_rgb.shape == (32, 32, 3) and sample.search_rgb.shape == (64, 64, 3)
        assert sample.template_rgb.dtype == np.uint8
        if has_x:
            assert sample.template_x.shape == (32, 32, 3)
            assert sample.search_x.shape == (64, 64, 3)
            assert sample.modality == MODALITY_LABEL[modality]
        else:
            assert sample.template_x is None and sample.search_x is None
            assert sample.modality == MODALITY_LABEL[Modality.RGB]
        cx, cy, w, h = sample.box_cxcywh
        assert 0.0 <= cx <= 1.0 and 0.0 <= cy <= 1.0 and 0.0 < w <= 1.0 and 0.0 < h <= 1.0


def test_pairs_stay_within_max_gap_and_on_visible_frames(tmp_path: Path) -> None:
    ds = open_dataset('lasher', make_lasher(tmp_path / 'lasher'))
    visible = np.flatnonzero(ds.visible(ds.sequence(0)))
    rng = np.random.default_rng(1)
    for _ in range(200):
        i, j = pick_frame_pair(visible, 1, rng)
        assert i in visible and j in visible and abs(i - j) <= 1
    with pytest.raises(ValueError, match='no frame has the target visible'):
        pick_frame_pair(np.array([], dtype=int), 5, rng)


def test_depth_x_is_colour_mapped_and_event_as_stored(tmp_path: Path) -> None:
    ds = open_dataset('depthtrack', make_depthtrack(tmp_path / 'd'))
    sample = SequencePairSource(ds, GEO, photometric_strength=0).sample(np.random.default_rng(3))
    assert sample.search_x.dtype == np.uint8 and sample.search_x.std() > 0


def test_split_files_and_lists(tmp_path: Path) -> None:
    lasot = make_lasot(tmp_path / 'lasot')
    split = tmp_path / 'lasot_train.txt'
    split.write_text('airplane-3\nbear-2\n')
    ds = open_dataset('lasot', lasot, split_file=split)
    assert ds.names == ['airplane/airplane-3', 'bear/bear-2']
    assert open_dataset('lasot', lasot).names[:2] == ['airplane/airplane-1',
                                                      'airplane/airplane-3']
    got = make_got10k(tmp_path / 'got')
    vot = tmp_path / 'got10k_vot_train_split.txt'
    vot.write_text('1\n')                            # indices into train/list.txt
    assert open_dataset('got10k', got, split_file=vot).names == ['GOT-10k_Train_000002']
    vot.write_text('7\n')
    with pytest.raises(DatasetError, match='out of range'):
        open_dataset('got10k', got, split_file=vot)
    with pytest.raises(DatasetError, match='split file .*missing.txt'):
        open_dataset('lasot', lasot, split_file=tmp_path / 'missing.txt')
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        open_dataset('lasher', make_lasher(tmp_path / 'lasher'), split='val')
    rgbt = make_rgbt234(tmp_path / 'rgbt')
    assert open_dataset('rgbt234', rgbt).names == ['afterrain', 'baby']
    with pytest.raises(DatasetError, match='no named splits'):
        open_dataset('rgbt234', rgbt, split='train')


MISSING = [
    ('lasher', 'trainingsetList.txt', 'trainingsetList.txt'),
    ('lasher', 'trainingset/boy1/visible.txt+trainingset/boy1/infrared.txt', 'visible.txt'),
    ('lasher', 'trainingset', 'trainingset'),
    ('rgbt234', 'baby/visible.txt+baby/infrared.txt', 'visible.txt'),
    ('vtuav', 'train/bike_002/rgb.txt', 'rgb.txt'),
    ('vtuav', 'train', 'train'),
    ('depthtrack', 'train/bag01_indoor/groundtruth.txt', 'groundtruth.txt'),
    ('visevent', 'train/dvSave-2021_02_04/absent_label.txt', 'absent_label.txt'),
    ('visevent', 'train/dvSave-2021_02_04', 'dvSave-2021_02_04'),
    ('got10k', 'train/list.txt', 'list.txt'),
    ('got10k', 'train/GOT-10k_Train_000002/absence.label', 'absence.label'),
    ('got10k', 'train/GOT-10k_Train_000001/groundtruth.txt', 'groundtruth.txt'),
    ('lasot', 'bear/bear-2/out_of_view.txt', 'out_of_view.txt'),
    ('lasot', 'airplane/airplane-1/full_occlusion.txt', 'full_occlusion.txt'),
    ('coco', 'annotations/instances_train2017.json', 'instances_train2017.json'),
    ('coco', 'train2017', 'train2017'),
]


@pytest.mark.parametrize('name,remove,named', MISSING)
def test_missing_file_is_named(name: str, remove: str, named: str, tmp_path: Path) -> None:
    root = MAKERS[name](tmp_path / name)
    for part in remove.split('+'):
        target = root / part
        if target.is_dir():
            for p in sorted(target.rglob('*'), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
            target.rmdir()
        else:
            target.unlink()
    with pytest.raises(DatasetError, match=named.replace('.', r'\.')) as err:
        open_dataset(name, root)
    assert 'expected' in str(err.value) or 'does not exist' in str(err.value)


def test_missing_root_and_broken_sequence(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match='does not exist.*trainingset'):
        open_dataset('lasher', tmp_path / 'nowhere')
    root = make_depthtrack(tmp_path / 'd')
    _write_boxes(root / 'train' / 'bag01_indoor' / 'groundtruth.txt', BOXES[:4])
    ds = open_dataset('depthtrack', root)           # indexing does not parse the GT
    with pytest.raises(DatasetError, match='bag01_indoor.*4 boxes'):
        ds.sequence(1)
    coco = make_coco(tmp_path / 'coco')
    (coco / 'train2017' / '000000000002.jpg').unlink()
    ds = open_dataset('coco', coco)
    with pytest.raises(DatasetError, match='missing image .*000000000002.jpg'):
        ds.sequence(1)


def test_coco_drops_crowd_and_tiny_boxes(tmp_path: Path) -> None:
    ds = open_dataset('coco', make_coco(tmp_path / 'coco'))
    assert ds.names == ['000000000001.jpg#10', '000000000002.jpg#12']
    assert ds.static and ds.sequence(1).num_frames == 1


def test_sequence_cache_is_bounded(tmp_path: Path) -> None:
    ds = open_dataset('lasot', make_lasot(tmp_path / 'lasot'), cache_size=2)
    for k in (0, 1, 2, 0):
        ds.sequence(k)
    assert list(ds._cache) == [2, 0]


class _Const:
    def __init__(self, name: str) -> None:
        self.name = name

    def sample(self, rng):
        return self.name


def test_mixed_source_follows_ratios() -> None:
    mix = MixedSource([_Const('a'), _Const('b'), _Const('c')], [1, 2, 1])
    rng = np.random.default_rng(123)
    draws = [mix.sample(rng) for _ in range(4000)]
    shares = [draws.count(n) / len(draws) for n in 'abc']
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=0.03)
    assert mix.counts == [draws.count(n) for n in 'abc']
    for ratios in ([1, 0, 1], [1, -1, 1], [1, float('nan'), 1], [1, 1]):
        with pytest.raises(ValueError, match='ratio'):
            MixedSource([_Const('a'), _Const('b'), _Const('c')], ratios)


# --------------------------------------------------------------------------- recipes

RECIPE = """\
name: tiny_rgbx
paper: test
variant: test_xtrack
datasets:
  - {name: lasher, root: '${LASHER_ROOT}', split: train, ratio: 1}
  - {name: depthtrack, root: '$DEPTHTRACK_ROOT', ratio: 1, max_gap: 2}
  - {name: coco, root: '${COCO_ROOT}', ratio: 2}
epochs: 4
samples_per_epoch: 64
batch_size: 8
optimizer: {lr: 4e-4, backbone_lr_scale: 0.1, weight_decay: 1e-4, grad_clip: 0.1}
schedule: {kind: step, decay_epoch: 3, gamma: 0.1, warmup: 2}
sampling: {max_gap: 50, center_jitter: 3.5, scale_jitter: 0.5}
"""


def _recipe(tmp_path: Path, text: str = RECIPE) -> Path:
    path = tmp_path / 'recipe.yaml'
    path.write_text(text)
    return path


def test_recipe_loads_maps_and_builds(tmp_path: Path) -> None:
    from rgbx_tracker_ros.train.trainer import TrainConfig
    recipe = load_recipe(_recipe(tmp_path))
    assert recipe.iterations == 32 and recipe.lr == pytest.approx(4e-4)
    assert recipe.decay_steps() == [24]
    assert recipe.lr_at(0) == pytest.approx(2e-4) and recipe.lr_at(5) == pytest.approx(4e-4)
    assert recipe.lr_at(24) == pytest.approx(4e-5)
    over = recipe.to_train_overrides()
    assert set(over) <= {f.name for f in fields(TrainConfig)}
    assert over['iterations'] == 32 and over['min_lr_ratio'] == pytest.approx(0.1)
    assert over['extra']['recipe']['schedule']['decay_steps'] == [24]
    env = {'LASHER_ROOT': str(make_lasher(tmp_path / 'lasher')),
           'DEPTHTRACK_ROOT': str(make_depthtrack(tmp_path / 'depth')),
           'COCO_ROOT': str(make_coco(tmp_path / 'coco'))}
    mix = recipe.build_source(GEO, env=env)
    assert mix.names == ['lasher', 'depthtrack', 'coco']
    np.testing.assert_allclose(mix.probabilities, [0.25, 0.25, 0.5])
    assert mix.sources[1].max_gap == 2 and mix.sources[0].max_gap == 50
    assert mix.sources[0].geo.center_jitter == 3.5 and mix.sources[0].geo.search_size == 64
    rng = np.random.default_rng(0)
    samples = [mix.sample(rng) for _ in range(6)]
    assert all(s.search_rgb.shape == (64, 64, 3) for s in samples)
    from rgbx_tracker_ros.train.trainer import stack_samples
    batch = stack_samples(samples)                  # what the trainer's workers hand over
    assert batch['search_rgb'].shape == (6, 64, 64, 3) and batch['boxes'].shape == (6, 4)
    with pytest.raises(RecipeError, match='COCO_ROOT is not set'):
        recipe.build_source(GEO, env={k: v for k, v in env.items() if k != 'COCO_ROOT'})


@pytest.mark.parametrize('edit,message', [
    (('epochs: 4', 'epochs: 4\nlearning_rate: 1'), 'learning_rate: unknown key'),
    (('name: lasher', 'name: trackingnet'), r'datasets\[0\].name: unknown dataset'),
    (('ratio: 2', 'ratio: 0'), r'datasets\[2\].ratio: must be > 0'),
    (('ratio: 2', 'ratio: -1'), r'datasets\[2\].ratio: must be > 0'),
    (('variant: test_xtrack', 'variant: xtrack_b224'), "variant: unknown model variant"),
    (('batch_size: 8\n', ''), 'batch_size: required key is missing'),
    (('kind: step', 'kind: exponential'), 'schedule.kind: unknown schedule'),
    (('decay_epoch: 3, ', ''), "schedule.decay_epoch: required for kind 'step'"),
    (('grad_clip: 0.1', 'momentum: 0.9'), 'optimizer.momentum: unknown key'),
    (('max_gap: 2', 'gap: 2'), r'datasets\[1\].gap: unknown key'),
    (('epochs: 4', 'epochs: four'), 'epochs: expected a number'),
    (('warmup: 2', 'warmup: 40'), 'schedule.warmup: 40 warm-up steps'),
])
def test_recipe_validation_names_key_and_file(edit, message: str, tmp_path: Path) -> None:
    old, new = edit
    assert old in RECIPE
    path = _recipe(tmp_path, RECIPE.replace(old, new, 1))
    with pytest.raises(RecipeError, match=message) as err:
        load_recipe(path)
    assert str(path) in str(err.value)


def test_recipe_file_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match='does not exist'):
        load_recipe(tmp_path / 'none.yaml')
    with pytest.raises(RecipeError, match='not valid YAML'):
        load_recipe(_recipe(tmp_path, 'name: [unclosed\n'))


def test_apply_recipe_lets_typed_flags_win(tmp_path: Path) -> None:
    from dataclasses import asdict

    from rgbx_tracker_ros.train.trainer import TrainConfig
    recipe = load_recipe(_recipe(tmp_path))
    parser = argparse.ArgumentParser()
    parser.add_argument('--lr', type=float, default=5e-4)
    parser.add_argument('--batch-size', dest='batch_size', type=int, default=16)
    parser.add_argument('--amp', action='store_true')
    given = explicit_flags(parser, ['--lr', '1e-3', '--amp'])
    assert given == {'lr', 'amp'}
    base = {**asdict(TrainConfig()), 'lr': 1e-3, 'amp': True, 'extra': {'note': 1}}
    merged = apply_recipe(base, recipe, given)
    assert merged['lr'] == 1e-3 and merged['batch_size'] == 8 and merged['amp'] is True
    assert merged['variant'] == 'test_xtrack' and merged['iterations'] == 32
    assert merged['extra']['note'] == 1 and merged['extra']['recipe']['name'] == 'tiny_rgbx'
    TrainConfig(**merged)                           # every key is a TrainConfig field


def test_constant_and_cosine_schedules(tmp_path: Path) -> None:
    const = load_recipe(_recipe(tmp_path, RECIPE.replace(
        '{kind: step, decay_epoch: 3, gamma: 0.1, warmup: 2}', '{kind: constant}')))
    assert const.lr_at(31) == pytest.approx(4e-4)
    assert const.to_train_overrides()['min_lr_ratio'] == 1.0
    cos = load_recipe(_recipe(tmp_path, RECIPE.replace(
        '{kind: step, decay_epoch: 3, gamma: 0.1, warmup: 2}',
        '{kind: cosine, min_lr_ratio: 0.0}')))
    assert cos.lr_at(0) == pytest.approx(4e-4) and cos.lr_at(32) == pytest.approx(0.0)


SHIPPED = recipe_files()


def test_recipes_are_shipped() -> None:
    names = {p.stem for p in SHIPPED}
    assert {'ostrack_b224', 'xtrack_rgbt', 'vipt_rgbt', 'seatrack_rgbt'} <= names
    assert load_recipe('xtrack_rgbt').path == SHIPPED[[p.stem for p in SHIPPED].index(
        'xtrack_rgbt')]                              # a bare name finds the shipped file
    xtrack = load_recipe('xtrack_rgbt')              # trackers.md 3.3: 1:1:1, 65 x 60k, 1e-4
    assert [(d.name, d.ratio) for d in xtrack.datasets] == [
        ('lasher', 1.0), ('depthtrack', 1.0), ('visevent', 1.0)]
    assert (xtrack.epochs, xtrack.samples_per_epoch, xtrack.batch_size) == (65, 60000, 32)
    assert xtrack.lr == pytest.approx(1e-4) and xtrack.decay_epochs == (48.0,)


@pytest.mark.parametrize('path', SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_recipe_is_valid(path: Path) -> None:
    from rgbx_tracker_ros.models import registry
    from rgbx_tracker_ros.train.trainer import TrainConfig
    recipe = load_recipe(path)
    assert recipe.variant in registry.list_variants()
    assert all(d.name in DATASETS for d in recipe.datasets)
    assert recipe.name == path.stem
    assert 'trackers.md' in path.read_text() or 'seeds/' in path.read_text()
    TrainConfig(**recipe.to_train_overrides())


# ---------------------------------------------------------------------- a recipe, trained

RUN_RECIPE = """\
name: tiny_run
paper: test
variant: test_tiny
datasets:
  - {name: lasher, root: '${LASHER_ROOT}', split: train, ratio: 1}
  - {name: got10k, root: '${GOT10K_ROOT}', ratio: 1}
epochs: 2
samples_per_epoch: 8
batch_size: 4
optimizer: {lr: 2e-4, weight_decay: 1e-4}
schedule: {kind: step, decay_epoch: 1, gamma: 0.1, warmup: 1}
"""


def test_rgbx_train_runs_a_recipe_on_its_datasets(tmp_path: Path, monkeypatch) -> None:
    """rgbx-train --recipe: the recipe's variant, iterations (epochs x samples / batch), batch
    and step schedule are used, every sample comes from its datasets (never the synthetic
    generator), and a typed flag wins over the recipe."""
    from rgbx_tracker_ros.cli import train as train_cli
    from rgbx_tracker_ros.models.checkpoint import load_checkpoint
    from rgbx_tracker_ros.train import trainer

    monkeypatch.setenv('LASHER_ROOT', str(make_lasher(tmp_path / 'lasher')))
    monkeypatch.setenv('GOT10K_ROOT', str(make_got10k(tmp_path / 'got')))
    recipe = _recipe(tmp_path, RUN_RECIPE)

    class NoSynthetic:
        def __init__(self, *a, **k):
            raise AssertionError('a recipe run must not use the synthetic generator')
    monkeypatch.setattr(trainer, 'SyntheticSource', NoSynthetic)
    drawn = []
    real_sample = MixedSource.sample
    monkeypatch.setattr(MixedSource, 'sample',
                        lambda self, rng: drawn.append(1) or real_sample(self, rng))
    out = tmp_path / 'run.pt'
    assert train_cli.main(['--recipe', str(recipe), '--out', str(out), '--threads', '1',
                           '--checkpoint-every', '1', '--x-dropout', '0.5']) == 0
    records = [json.loads(line) for line in (tmp_path / 'run.log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in records] == [1, 2, 3, 4]          # 2 epochs x 8 samples / 4
    np.testing.assert_allclose([r['lr'] for r in records], [2e-4, 2e-4, 2e-5, 2e-5])
    assert len(drawn) == 16                                       # 4 steps x batch 4
    _, report = load_checkpoint(out)
    cfg = report.meta['train_config']
    assert cfg['variant'] == 'test_tiny' and cfg['batch_size'] == 4
    assert cfg['recipe'] == str(recipe) and cfg['x_dropout'] == 0.5     # typed flag kept
    assert cfg['synthetic_ratio'] == 0.0 and cfg['video_ratio'] == 0.0
    assert cfg['extra']['recipe']['name'] == 'tiny_run'
