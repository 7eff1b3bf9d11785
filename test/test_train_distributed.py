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

"""Distributed data-parallel training (``torchrun ... rgbx_tracker_ros.cli.train``, gloo on this
CPU) and gradient accumulation (``--accum``).

The ranks and the one-process references train ``test_tiny`` on the generated VOC folder of
conftest.py for a few steps, with the whole schedule inside the warm-up (so a run stopped at step
2 of 2 and resumed to 4 follows the lr of an uninterrupted 4-step run). Checked:

- 2 processes x batch 2 (``--shard global --sync-bn``: each rank its half of the one-process
  stream, BatchNorm over both ranks), stopped after 2 steps and resumed to 4, log the loss curve
  of one process with batch 4; one process with batch 2 (the samples a duplicated split would
  use) is far outside that tolerance.
- 2 processes x batch 2 x ``accum`` 2 (per-rank BatchNorm, DDP ``no_sync``) equal one process
  with batch 2 x ``accum`` 4; a model without batch coupling (BatchNorm in eval mode) gives the
  same curve with ``accum`` 2 x batch 2 as with batch 4.
- rank 0 alone reports and writes; every rank's RNG state is in the state file; bad settings are
  refused.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rgbx_tracker_ros.cli.train import build_parser
from rgbx_tracker_ros.models.checkpoint import read_checkpoint
from rgbx_tracker_ros.train import distributed, trainer
from rgbx_tracker_ros.train.trainer import TrainConfig, rank_seed, train

REPO = Path(__file__).resolve().parents[1]
TERMS = ('focal', 'giou', 'l1')


def common(data_root: Path, **kw) -> dict:
    args = dict(variant='test_tiny', iterations=4, warmup=4, data_root=str(data_root),
                synthetic_ratio=0.0, checkpoint_every=1, seed=3, threads=1)
    args.update(kw)
    return args


def flags(args: dict) -> list:
    out = []
    for key, value in args.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            out.append(flag)
        elif value is not False:
            out += [flag, str(value)]
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def torchrun(args: dict, cwd: Path) -> subprocess.CompletedProcess:
    """``rgbx-train`` in 2 gloo processes; fails the test with the output if it fails."""
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        env.pop(name, None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_addr', '127.0.0.1', '--master_port', str(free_port()),
           '-m', 'rgbx_tracker_ros.cli.train', *flags(args)]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def curve(out: Path) -> list:
    return [json.loads(line) for line in out.with_name(out.stem + '.log.jsonl').read_text()
            .splitlines()]


def rel_gap(a: list, b: list, steps: slice = slice(None)) -> float:
    """Largest relative difference of the focal / GIoU / L1 terms over the steps."""
    return max(abs(x[k] - y[k]) / abs(y[k]) for x, y in zip(a[steps], b[steps]) for k in TERMS)


def in_process(data_root: Path, out: Path, **kw) -> list:
    train(TrainConfig(out=str(out), **common(data_root, **kw)))
    return curve(out)


def test_two_processes_give_the_doubled_batch_curve_and_resume(voc_train_root, tmp_path):
    ref = in_process(voc_train_root, tmp_path / 'ref.pt', batch_size=4)
    half = in_process(voc_train_root, tmp_path / 'half.pt', batch_size=2, iterations=1)
    out = tmp_path / 'ddp.pt'
    ddp = common(voc_train_root, batch_size=2, shard='global', sync_bn=True, out=str(out))
    first = torchrun(dict(ddp, iterations=2), tmp_path)
    assert first.stdout.count('checkpoint written to') == 1          # rank 0 only
    state = torch.load(out.with_name('ddp.state.pt'), weights_only=False)
    assert state['step'] == 2 and state['world_size'] == 2 and len(state['rng_ranks']) == 2
    second = torchrun(dict(ddp, resume=True), tmp_path)
    assert 'resumed from' in second.stderr and 'at step 2' in second.stderr
    assert second.stderr.count('resumed from') == 1                  # rank 0 logs
    got = curve(out)
    assert [r['step'] for r in got] == [1, 2, 3, 4]
    # same samples, BatchNorm over the global batch: the one-process curve up to float noise
    # (steps 1-2) and its small amplification by Adam and the top-1 expert routing (3-4)
    assert rel_gap(got, ref, slice(0, 2)) < 1e-4
    assert rel_gap(got, ref) < 1e-2
    # a split that trained on only half of the samples is far outside that tolerance
    assert rel_gap(half, ref, slice(0, 1)) > 5e-2
    meta = read_checkpoint(out)['meta']
    assert meta['step'] == 4
    assert meta['distributed'] == {'world_size': 2, 'accum': 1, 'shard': 'global',
                                   'backend': 'gloo', 'global_batch': 4}


def test_accumulation_under_ddp_equals_one_process_accumulating(voc_train_root, tmp_path):
    """Per-rank BatchNorm and ``no_sync``: 2 ranks x accum 2 x batch 2 = 1 process x accum 4."""
    ref = in_process(voc_train_root, tmp_path / 'ref.pt', batch_size=2, accum=4,
                     iterations=2)
    out = tmp_path / 'ddp.pt'
    torchrun(common(voc_train_root, batch_size=2, accum=2, iterations=2, shard='global',
                    out=str(out)), tmp_path)
    got = curve(out)
    assert [r['step'] for r in got] == [1, 2]
    assert rel_gap(got, ref) < 1e-4
    assert read_checkpoint(out)['meta']['distributed']['global_batch'] == 8


def test_accumulation_equals_the_doubled_batch_without_batch_coupling(voc_train_root, tmp_path,
                                                                      monkeypatch):
    """With BatchNorm in eval mode (no statistics over the batch), 2 micro-batches of 2 give the
    step of one batch of 4; with BatchNorm in training mode they differ (statistics over 2)."""
    coupled = in_process(voc_train_root, tmp_path / 'coupled.pt', batch_size=2, accum=2,
                         iterations=2)
    real_create = trainer.create_model

    def create_without_batch_stats(name):
        model = real_create(name)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.train = trainer._eval_only.__get__(module)
                module.eval()
        return model

    monkeypatch.setattr(trainer, 'create_model', create_without_batch_stats)
    big = in_process(voc_train_root, tmp_path / 'big.pt', batch_size=4, iterations=2)
    acc = in_process(voc_train_root, tmp_path / 'acc.pt', batch_size=2, accum=2, iterations=2)
    assert rel_gap(acc, big) < 1e-4
    assert rel_gap(coupled, big) > 1e-2
    assert read_checkpoint(tmp_path / 'acc.pt')['meta']['distributed']['global_batch'] == 4


def test_rank_streams_and_resume_states():
    assert rank_seed(5, 0) == 5
    assert len({rank_seed(5, r) for r in range(8)}) == 8
    two = distributed.DistContext(rank=1, world_size=2)
    state = {'rng': 'r0', 'rng_ranks': ['r0', 'r1']}
    rank_cfg, global_cfg = TrainConfig(), TrainConfig(shard='global')
    assert trainer._rank_rng_state(state, rank_cfg, two, 2) == 'r1'
    assert trainer._rank_rng_state(state, global_cfg, two, 2) == 'r0'     # the shared stream
    assert trainer._rank_rng_state(state, rank_cfg, distributed.DistContext(), 2) == 'r0'
    # another world size (or a one-process state file): ranks > 0 start new streams
    three = distributed.DistContext(rank=2, world_size=3)
    assert trainer._rank_rng_state(state, rank_cfg, three, 2) is None
    assert trainer._rank_rng_state({'rng': 'r0'}, rank_cfg, two, 2) is None


def test_single_process_context_and_helpers(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    ctx = distributed.setup()
    assert (ctx.rank, ctx.world_size, ctx.distributed, ctx.is_main) == (0, 1, False, True)
    assert distributed.all_reduce_mean(ctx, {'a': 1.5}) == {'a': 1.5}
    assert distributed.broadcast_bool(ctx, True) is True
    assert distributed.all_gather_objects(ctx, 'x') == ['x']
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(ctx, model) is model
    monkeypatch.setenv('WORLD_SIZE', 'two')
    with pytest.raises(ValueError, match='WORLD_SIZE'):
        distributed.setup()
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '2')
    with pytest.raises(ValueError, match='RANK'):
        distributed.env_world()


def test_synced_batchnorm_in_one_process_is_plain_batchnorm():
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    synced = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    synced.load_state_dict(plain.state_dict())
    assert distributed.sync_batchnorm(synced) == 1
    assert isinstance(synced[1], torch.nn.BatchNorm2d)
    assert list(synced.state_dict()) == list(plain.state_dict())
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(plain(x), synced(x))
    assert torch.equal(plain[1].running_var, synced[1].running_var)


def test_cli_flags_and_bad_settings(voc_train_root, tmp_path):
    args = build_parser().parse_args(['--accum', '4', '--shard', 'global', '--sync-bn'])
    assert (args.accum, args.shard, args.sync_bn) == (4, 'global', True)
    defaults = build_parser().parse_args([])
    assert (defaults.accum, defaults.shard, defaults.sync_bn) == (1, 'rank', False)
    out = str(tmp_path / 'x.pt')
    with pytest.raises(ValueError, match='accum'):
        train(TrainConfig(variant='test_tiny', out=out, accum=0))
    with pytest.raises(ValueError, match='shard'):
        train(TrainConfig(variant='test_tiny', out=out, shard='node'))
    with pytest.raises(ValueError, match='workers=0'):
        train(TrainConfig(variant='test_tiny', out=out, shard='global', workers=2))
    # the cached-prefix recipe stays single-process (refused before any collective)
    cfg = TrainConfig(**common(voc_train_root, out=out, cache_samples=4, batch_size=2))
    with pytest.raises(ValueError, match='one process'):
        trainer._train(cfg, distributed.DistContext(rank=0, world_size=2), time.time())
