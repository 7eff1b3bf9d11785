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

"""Unlabelled frame sequences as a distillation source (the real-time issue's student)."""

import functools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rgbx_tracker_ros.models import create_model, variant_args
from rgbx_tracker_ros.models.checkpoint import save_checkpoint
from rgbx_tracker_ros.train import trainer
from rgbx_tracker_ros.train.data import (Geometry, SyntheticSource, UnlabelledVideoSource,
                                         UNLABELLED_SEQUENCES)
from rgbx_tracker_ros.train.trainer import (TrainConfig, collate, draw_samples, stack_samples,
                                            train)

SHARED_TRAIN = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'train'
GEO = Geometry(template_size=64, search_size=128)


def _write_sequences(root: Path, frames: int = 6, x_frames: int = 6) -> Path:
    """A generated RGB-T part (a warm square moving right) and a gray APS sequence."""
    rng = np.random.default_rng(0)
    dhv = root / 'rgbt/tno/DHV_images/Fire_sequence/part_1/dhv'
    ir = root / 'rgbt/tno/DHV_images/Fire_sequence/part_1/thermal'
    aps = root / 'event/ecd_slider_depth_aps_only/images'
    for d in (dhv, ir, aps):
        d.mkdir(parents=True)
    for i in range(frames):
        rgb = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        cv2.imwrite(str(dhv / f'DHV{10 + i}.png'), rgb)
        cv2.imwrite(str(aps / f'frame_{i:08d}.png'), rgb[..., 0])
    for i in range(x_frames):
        thermal = np.full((120, 160), 40, np.uint8)
        thermal[50:70, 30 + 8 * i:50 + 8 * i] = 230
        cv2.imwrite(str(ir / f'RAD{10 + i}.png'), thermal)
    return root


def test_pairs_of_unlabelled_frames(tmp_path, caplog):
    source = UnlabelledVideoSource(_write_sequences(tmp_path), GEO)
    names = [name for name, *_ in source.sequences]
    assert names == ['tno_fire_part_1', 'ecd_aps']
    assert 'tum_rgbd' in caplog.text                  # the missing ones are named
    rng = np.random.default_rng(1)
    samples = [source.sample(rng) for _ in range(40)]
    assert not any(s.labelled for s in samples)
    with_x = [s for s in samples if s.search_x is not None]
    assert with_x and len(with_x) < len(samples)     # RGB-T part and gray APS frames
    for s in samples:
        assert s.template_rgb.shape == (64, 64, 3) and s.search_rgb.shape == (128, 128, 3)
        assert s.modality == (1 if s.search_x is not None else 0)
    # warm blobs are picked as targets: the thermal template crops are centred on a warm one
    centres = [s.template_x[24:40, 24:40, 0].mean() for s in with_x]
    assert np.median(centres) > 150


def test_unlabelled_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='Fire_sequence/part_1/dhv'):
        UnlabelledVideoSource(tmp_path, GEO)
    with pytest.raises(ValueError, match='6 RGB frames but 4 X frames'):
        UnlabelledVideoSource(_write_sequences(tmp_path / 'bad', x_frames=4), GEO)
    with pytest.raises(ValueError, match='needs distill_from'):
        trainer._unlabelled_source(TrainConfig(unlabelled_ratio=0.5, data_root=str(tmp_path)),
                                   GEO)


def test_batches_carry_the_labelled_flag(tmp_path):
    source = UnlabelledVideoSource(_write_sequences(tmp_path), GEO)
    cfg = TrainConfig(batch_size=6, unlabelled_ratio=0.5, synthetic_ratio=1.0)
    rng = np.random.default_rng(0)
    syn = SyntheticSource(GEO, pool_size=2, num_frames=12)
    samples = draw_samples(None, syn, rng, cfg, unlabelled=source, count=40)
    flags = [s.labelled for s in samples]
    assert 5 < flags.count(False) < 35 and flags.count(True) > 5
    batch = collate(samples, torch.device('cpu'))
    assert batch['labelled'].tolist() == [float(f) for f in flags]
    assert stack_samples(samples)['labelled'].tolist() == [float(f) for f in flags]


def test_distillation_on_unlabelled_frames_only(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, 'SyntheticSource',
                        functools.partial(SyntheticSource, pool_size=2, num_frames=12))
    root = _write_sequences(tmp_path / 'data')
    monkeypatch.setattr(trainer, '_unlabelled_source',
                        lambda cfg, geo: UnlabelledVideoSource(root, geo))
    torch.manual_seed(0)
    teacher = create_model('test_tiny', depth=4)
    path = save_checkpoint(tmp_path / 'teacher.pt', teacher, 'test_tiny',
                           dict(variant_args('test_tiny'), depth=4))
    cfg = TrainConfig(variant='test_tiny', out=str(tmp_path / 'student.pt'),
                      distill_from=str(path), iterations=2, batch_size=3, warmup=1,
                      checkpoint_every=2, unlabelled_ratio=1.0, synthetic_ratio=1.0, seed=0)
    out = train(cfg)
    log = [json.loads(line) for line in out.with_name('student.log.jsonl').read_text()
           .splitlines()]
    # every sample unlabelled: no ground-truth term, the teacher's response and features only
    assert 'focal' not in log[-1] and 'giou' not in log[-1]
    assert log[-1]['resp_kd'] > 0 and log[-1]['feat_kd'] > 0


def test_the_shared_training_data_has_every_unlabelled_sequence():
    source = UnlabelledVideoSource(SHARED_TRAIN, Geometry())
    counts = {name: len(rgbs) for name, rgbs, _, _ in source.sequences}
    assert set(counts) == {name for name, *_ in UNLABELLED_SEQUENCES}
    assert counts['tno_fire_part_1'] == 28 and counts['ecd_aps'] == 87
    sample = source.sample(np.random.default_rng(0))
    assert not sample.labelled
