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

r"""``rgbx-train``: train a model variant on synthetic RGB-X sequences and real training images.

Example (the committed demo checkpoint; see README for the exact command and log)::

    rgbx-train --variant t224 --out checkpoints/t224_demo.pt \
        --data-root ../shared/data/train --iterations 2000 --batch-size 16

Distributed data parallel (``--batch-size`` per process and micro-batch; see README)::

    torchrun --nproc_per_node=4 -m rgbx_tracker_ros.cli.train --variant t224 --batch-size 16 ...

A paper's recipe (``config/train/*.yaml``: datasets and their ratios, epochs x samples per epoch,
batch, learning rates and schedule; dataset roots from environment variables such as
``LASHER_ROOT``); flags typed on the command line override the recipe's values. The recipe's
batch is the global one (all processes and accumulation steps together)::

    LASHER_ROOT=/data/LasHeR DEPTHTRACK_ROOT=... VISEVENT_ROOT=... \
        torchrun --nproc_per_node=4 -m rgbx_tracker_ros.cli.train --recipe xtrack_rgbt \
        --init /weights/OSTrack_ep0300.pth.tar --out checkpoints/xtrack_rgbt.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from ..core.torchrun import torchrun_env
from ..train.trainer import TrainConfig, train


def build_parser() -> argparse.ArgumentParser:
    """Argument parser whose flags mirror :class:`TrainConfig` fields."""
    parser = argparse.ArgumentParser(prog='rgbx-train', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(TrainConfig):
        if f.name == 'extra':
            continue
        flag = '--' + f.name.replace('_', '-')
        if f.type in ('bool', bool):
            parser.add_argument(flag, action='store_true', help=f'(default {f.default})')
        else:
            kind = {'int': int, 'float': float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=f.default, help=f'(default {f.default})')
    return parser


def with_recipe(values: dict, parser: argparse.ArgumentParser, argv=None) -> dict:
    """``values`` (parsed flags) with the recipe of ``--recipe`` applied
    (:func:`~rgbx_tracker_ros.train.recipe.apply_recipe`: flags typed on the command line win).
    The recipe's batch is the global batch: ``batch_size`` becomes it divided by the number of
    processes (``WORLD_SIZE``) and ``--accum`` unless ``--batch-size`` is given.

    Raises:
        ValueError (RecipeError): the recipe is invalid, or its batch does not split evenly.
    """
    if not values.get('recipe'):
        return values
    from ..train.recipe import apply_recipe, explicit_flags, load_recipe

    recipe = load_recipe(values['recipe'])
    typed = explicit_flags(parser, argv)
    out = apply_recipe(values, recipe, typed)
    out['recipe'] = str(recipe.path or values['recipe'])
    if 'batch_size' not in typed:
        split = torchrun_env()[1] * max(1, int(out.get('accum', 1)))
        if recipe.batch_size % split:
            raise ValueError(f'recipe {recipe.name}: batch {recipe.batch_size} does not split '
                             f'over {split} processes x accumulation steps; give --batch-size '
                             '(per process and step) or change --nproc_per_node / --accum')
        out['batch_size'] = recipe.batch_size // split
    return out


def main(argv=None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    rank = os.environ.get('RANK', '0')
    main_rank = rank in ('', '0')          # under torchrun only rank 0 logs and reports
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s' if main_rank else
                        f'[rank {rank}] %(levelname)s %(name)s: %(message)s')
    try:
        cfg = TrainConfig(**with_recipe(vars(args), parser, argv))
        path = train(cfg)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        where = '' if main_rank else f' (rank {rank})'
        print(f'rgbx-train: error{where}: {exc}', file=sys.stderr)
        return 2
    if main_rank:
        print(f'checkpoint written to {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
