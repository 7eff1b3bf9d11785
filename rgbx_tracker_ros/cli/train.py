r"""``rgbx-train``: train a model variant on synthetic RGB-X sequences and real training images.

Example (the committed demo checkpoint; see README for the exact command and log)::

    rgbx-train --variant t224 --out checkpoints/t224_demo.pt \
        --data-root ../shared/data/train --iterations 2000 --batch-size 16

Distributed data parallel (``--batch-size`` per process and micro-batch; see README)::

    torchrun --nproc_per_node=4 -m rgbx_tracker_ros.cli.train --variant t224 --batch-size 16 ...
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

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


def main(argv=None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    rank = os.environ.get('RANK', '0')
    main_rank = rank in ('', '0')          # under torchrun only rank 0 logs and reports
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s' if main_rank else
                        f'[rank {rank}] %(levelname)s %(name)s: %(message)s')
    cfg = TrainConfig(**{k: v for k, v in vars(args).items()})
    try:
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
