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

"""``rgbx-models``: list every registered model variant with its family, base and sizes.

Usage::

    rgbx-models [--family NAME] [--pattern GLOB] [--format table|csv|json]

For each variant: the family (OneTrackerV2, XTrack, SEATrack, PATrack, ViPT, MMMP), the base
network it builds on (OSTrack ViT-B/16 at 256, our DINOv2 ViT-S/14, ...), template / search crop
sides (pixels), total parameters, the parameters its family trains in the parameter-efficient
recipe (the family's name rule; 'all' for a family without one) and the checkpoint formats it
loads. Models are built on PyTorch's ``meta`` device, so listing ViT-L variants allocates no
memory and takes seconds.

Exit status: 0, or 2 for a family or pattern that matches nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Dict, List

import torch


def describe(name: str) -> Dict[str, object]:
    """One row of the listing for variant ``name`` (built on the meta device).

    Raises:
        KeyError: unknown variant.
    """
    from ..models import create_model, family_of, variant_info
    from ..models.registry import trainable_names
    info, family = variant_info(name), family_of(name)
    with torch.device('meta'):
        model = create_model(name)
    sizes = dict(model.named_parameters())
    total = sum(p.numel() for p in sizes.values())
    trainable = sum(sizes[n].numel() for n in trainable_names(model, family))
    return {'variant': name, 'family': family.name, 'method': family.title,
            'base': info.base, 'template': int(model.template_size),
            'search': int(model.search_size), 'params_M': round(total / 1e6, 3),
            'trainable_M': round(trainable / 1e6, 3) if family.trainable else 'all',
            'trainable_rule': ','.join(family.trainable) or '-',
            'loads': 'ours; ' + family.release_format if family.release_format else 'ours'}


def rows(family: str = '', pattern: str = '*') -> List[Dict[str, object]]:
    """Rows for every variant matching ``pattern`` (and ``family`` when given)."""
    from ..models import list_variants
    return [describe(n) for n in list_variants(pattern, family or None)]


def format_table(table: List[Dict[str, object]]) -> str:
    """Markdown table of :func:`rows`."""
    cols = list(table[0])
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    lines += ['| ' + ' | '.join(str(r[c]) for c in cols) + ' |' for r in table]
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog='rgbx-models', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--family', default='', help='only this family (e.g. xtrack)')
    parser.add_argument('--pattern', default='*', help='shell-style variant name pattern')
    parser.add_argument('--format', choices=('table', 'csv', 'json'), default='table')
    args = parser.parse_args(argv)
    from ..models import list_families
    if args.family and args.family not in list_families():
        print(f'rgbx-models: error: unknown family {args.family!r}; known: '
              f'{", ".join(list_families())}', file=sys.stderr)
        return 2
    table = rows(args.family, args.pattern)
    if not table:
        print(f'rgbx-models: error: no variant matches {args.pattern!r}', file=sys.stderr)
        return 2
    if args.format == 'json':
        print(json.dumps(table, indent=1))
    elif args.format == 'csv':
        writer = csv.DictWriter(sys.stdout, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    else:
        print(format_table(table))
    return 0


if __name__ == '__main__':
    sys.exit(main())
