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

"""Training with DataLoader sample workers (``rgbx-train --workers N``), on the CPU.

The data is generated: a tiny ``data/train``-layout folder of box-labelled RGB images (VOC xml) in
a temporary folder, so each worker starts at once (no synthetic pool) and the test stays fast.
Checked: the worker stream is reproducible and differs between workers and between start steps
(so a resumed run does not replay samples), worker batches normalise exactly like the in-process
path, a 2-worker run writes its checkpoint and log and resumes (with data echoing), ``max_minutes``
stops a run cleanly, and bad settings are refused.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rgbx_tracker_ros.cli.train import build_parser
from rgbx_tracker_ros.models.checkpoint import read_checkpoint
from rgbx_tracker_ros.train.data import Geometry, StaticPairSource
from rgbx_tracker_ros.train.trainer import (
    TrainConfig, batch_to_device, collate, draw_samples, stack_samples, train, worker_batches,
    worker_seed)


@pytest.fixture(scope='module')
def data_root(voc_train_root) -> Path:
    """The generated VOC folder of conftest.py."""
    return voc_train_root


def small_cfg(data_root: Path, out: Path, **kw) -> TrainConfig:
    base = dict(variant='test_tiny', out=str(out), iterations=4, batch_size=3, warmup=1,
                data_root=str(data_root), synthetic_ratio=0.0, checkpoint_every=2, seed=3,
                threads=1, workers=2)
    base.update(kw)
    return TrainConfig(**base)


def read_log(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def first_batches(cfg: TrainConfig, static, start: int, n: int = 4) -> list:
    it = worker_batches(cfg, static.geo, static, start, torch.device('cpu'))
    batches = [next(it) for _ in range(n)]
    del it
    return batches


def test_worker_stream_is_reproducible_and_new_per_worker_and_start(data_root, tmp_path):
    cfg = small_cfg(data_root, tmp_path / 'm.pt')
    static = StaticPairSource(data_root, Geometry(template_size=64, search_size=128))
    a = first_batches(cfg, static, start=0)
    b = first_batches(cfg, static, start=0)
    c = first_batches(cfg, static, start=2)
    assert a[0]['search_rgb'].shape == (3, 128, 128, 3) and a[0]['search_rgb'].dtype == torch.uint8
    assert a[0]['template_rgb'].shape == (3, 64, 64, 3)
    for x, y in zip(a, b):
        assert all(torch.equal(x[k], y[k]) for k in x)
    # batches alternate between worker 0 and worker 1: their streams must differ
    assert not torch.equal(a[0]['search_rgb'], a[1]['search_rgb'])
    # a run resumed at step 2 draws other samples than a fresh run
    assert not torch.equal(a[0]['search_rgb'], c[0]['search_rgb'])
    assert len({worker_seed(3, w, s) for w in range(4) for s in (0, 2)}) == 8


def test_worker_batches_normalise_like_the_in_process_path(data_root, tmp_path):
    cfg = small_cfg(data_root, tmp_path / 'm.pt')
    static = StaticPairSource(data_root, Geometry(template_size=64, search_size=128))
    samples = draw_samples(static, None, np.random.default_rng(0), cfg)
    ref = collate(samples, torch.device('cpu'))
    got = batch_to_device(stack_samples(samples), torch.device('cpu'))
    assert set(got) == set(ref)
    for key in ref:
        assert got[key].shape == ref[key].shape, key
        assert torch.allclose(got[key].float(), ref[key].float(), atol=1e-5), key


def test_two_worker_run_writes_checkpoint_log_and_resumes(data_root, tmp_path):
    out = tmp_path / 'tiny.pt'
    train(small_cfg(data_root, out, iterations=2))
    train(small_cfg(data_root, out, iterations=4, resume=True, echo=2))
    records = read_log(out.with_name('tiny.log.jsonl'))
    assert [r['step'] for r in records] == [2, 4]
    assert all(np.isfinite(r['giou']) and np.isfinite(r['focal']) for r in records)
    ckpt = read_checkpoint(out)
    assert ckpt['meta']['step'] == 4
    assert ckpt['meta']['train_config']['workers'] == 2
    assert torch.load(out.with_name('tiny.state.pt'), weights_only=False)['step'] == 4


def test_max_minutes_stops_cleanly_with_a_checkpoint(data_root, tmp_path):
    out = tmp_path / 'timed.pt'
    train(small_cfg(data_root, out, iterations=50, checkpoint_every=25, max_minutes=1e-6,
                    workers=0))
    records = read_log(out.with_name('timed.log.jsonl'))
    assert [r['step'] for r in records] == [1]
    assert records[0]['stopped'].startswith('max_minutes')
    assert read_checkpoint(out)['meta']['step'] == 1


def test_cli_flags_for_workers_amp_and_time_budget():
    args = build_parser().parse_args(['--workers', '14', '--amp', '--max-minutes', '8.5',
                                      '--echo', '2'])
    assert (args.workers, args.amp, args.max_minutes, args.echo) == (14, True, 8.5, 2)
    defaults = build_parser().parse_args([])
    assert (defaults.workers, defaults.amp, defaults.max_minutes, defaults.echo) == \
        (0, False, 0.0, 1)


def test_bad_worker_and_echo_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match='workers'):
        train(TrainConfig(variant='test_tiny', out=str(tmp_path / 'x.pt'), workers=-1))
    with pytest.raises(ValueError, match='echo'):
        train(TrainConfig(variant='test_tiny', out=str(tmp_path / 'x.pt'), echo=0))
