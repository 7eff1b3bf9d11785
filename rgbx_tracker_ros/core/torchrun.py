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

"""This process's place in a ``torchrun`` launch, read from the environment torchrun sets
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``; torch.distributed's env:// convention), for the
trainer (:mod:`rgbx_tracker_ros.train.distributed`) and the evaluation shards
(:mod:`rgbx_tracker_ros.eval.parallel`) alike. No torch import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass
class Ranks:
    """A process's rank among ``world_size`` processes (1 = not distributed); the base of the
    trainer's and the evaluation's torchrun contexts."""

    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes (checkpoints, the merged report)."""
        return self.rank == 0


def _int(env: Mapping[str, str], name: str) -> Optional[int]:
    value = env.get(name, '')
    if value == '':
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f'environment variable {name}={value!r} is not an integer; torchrun '
                         'sets WORLD_SIZE / RANK / LOCAL_RANK (unset them to run in one '
                         'process)') from None


def torchrun_env(environ: Optional[Mapping[str, str]] = None) -> tuple[int, int, Optional[int]]:
    """``(rank, world_size, local_rank)`` of this process: ``(0, 1, None)`` without torchrun;
    ``local_rank`` is None when ``LOCAL_RANK`` is not set.

    Args:
        environ: the environment (default ``os.environ``).

    Raises:
        ValueError: a variable that is not an integer, a rank that is not in
            ``[0, WORLD_SIZE)``, or a negative ``LOCAL_RANK``.
    """
    env = os.environ if environ is None else environ
    world = _int(env, 'WORLD_SIZE')
    rank = _int(env, 'RANK')
    local = _int(env, 'LOCAL_RANK')
    world = 1 if world is None else world
    rank = 0 if rank is None else rank
    if world < 1 or not 0 <= rank < world or (local is not None and local < 0):
        raise ValueError(f'bad torchrun environment: RANK {rank} is not in [0, WORLD_SIZE='
                         f'{world}) or LOCAL_RANK {local} < 0')
    return rank, world, local
