#!/usr/bin/env python3

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

"""Make a compact copy of the real-image training corpus (``../shared/data/train``) for machines
it cannot travel to in full (the GPU device takes at most 64 MiB of working tree).

Only what :class:`rgbx_tracker_ros.train.data.StaticPairSource` reads is copied, in the same
layout, so ``--data-root <compact copy>`` is a drop-in replacement:

- ``rgbt``: the registered visible/LWIR pairs that ``StaticPairSource`` pairs up (RoadScene LR
  visible + infrared, LLVIP, MSRS, M3FD, VIFB, one visible-or-NIR and one thermal image per TNO
  scene) and ``tno/modalities.csv`` restricted to the copied files;
- ``rgb_boxes``: every VOC ``.xml`` the loader globs and its image, with the boxes, ``filename``
  and ``size`` rewritten for the resized image;
- ``rgbd``: the Open3D test-data and TUM-like colour/depth pairs.

Not copied (the loader never reads them): ``event/``, RoadScene ``crop_HR_visible/``, Open3D
``other_formats/``, CSV box tables, unpaired TNO bands.

Images whose longer side exceeds ``--max-side`` (default: the loader's own limit, 640 pixels) are
resized with ``cv2.INTER_AREA`` to ``(round(w * s), round(h * s))``, ``s = max_side / max(h, w)``,
exactly as the loader shrinks them on reading, so the training images the loader ends up with keep
their size. Box corners are scaled by ``new_w / w`` and ``new_h / h`` (pixels, VOC x1 y1 x2 y2).
Colour and LWIR images are written as JPEG (``--quality``; images whose three channels are equal
are stored as one-channel JPEG); a JPEG that needs no resize is re-encoded only when that saves at
least 5 % of its bytes, else copied byte for byte. Depth maps
(uint16 millimetres) stay lossless PNG, and so do TUM colour frames (the loader globs ``*.png``
there). Renamed files (``.png`` -> ``.jpg``) keep their stem, so visible/infrared pairs still share
a name. A ``COMPACT.md`` in the output lists the settings and counts.

Usage (from the repo root; the output folder is ignored through ``.git/info/exclude``)::

    python scripts/compact_train_data.py --src ../shared/data/train --dst .traindata
    python scripts/compact_train_data.py --src ../shared/data/train --dst .traindata --verify

``--verify`` loads both folders with ``StaticPairSource`` and prints how the loaded images and
boxes compare; ``--overlay-dir DIR`` also writes side-by-side images of boxes drawn on both.

Raises (as exit status 2 with a message): a missing ``--src``, a non-empty ``--dst`` without
``--force``, two source files that would land on the same output name.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbx_tracker_ros.train.data import (  # noqa: E402
    _MAX_SIDE, Geometry, StaticPairSource)


class CompactError(ValueError):
    """The compact copy cannot be made as asked (message says what to change)."""


class Compactor:
    """Copies and shrinks files from ``src`` to ``dst``, recording sizes and renames.

    Args:
        src: the original ``data/train`` folder.
        dst: the output folder (created).
        max_side: longest image side kept, in pixels.
        quality: JPEG quality (0-100) of re-encoded images.
    """

    #: a JPEG that keeps its size is re-encoded when that makes it smaller than this fraction
    reencode_below = 0.95

    def __init__(self, src: Path, dst: Path, max_side: int, quality: int) -> None:
        self.src, self.dst = src, dst
        self.max_side, self.quality = max_side, quality
        self.written: Dict[Path, Path] = {}     # output path -> source path
        self.counts = {'copied': 0, 'reencoded': 0, 'resized': 0, 'png_kept': 0}

    def _target(self, src_file: Path, suffix: str) -> Path:
        rel = src_file.relative_to(self.src)
        out = (self.dst / rel).with_suffix(suffix)
        previous = self.written.get(out)
        if previous is not None and previous != src_file:
            raise CompactError(f'{src_file} and {previous} would both be written to {out}; '
                               'rename one of them in a copy of the corpus')
        self.written[out] = src_file
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    def _new_size(self, h: int, w: int) -> Tuple[int, int]:
        scale = min(1.0, self.max_side / max(h, w))
        return (w, h) if scale >= 1.0 else (round(w * scale), round(h * scale))

    def image(self, src_file: Path, keep_png: bool = False,
              flags: int = cv2.IMREAD_COLOR) -> Tuple[Path, float, float]:
        """Write ``src_file`` (8-bit) shrunk/re-encoded, read with the loader's ``flags``.

        Reading as the loader reads (``IMREAD_COLOR`` applies EXIF orientation) keeps the stored
        pixels, and so the boxes, in the frame the loader sees.
        Returns (output path, x scale, y scale): new width / old width and new height / old height.
        """
        img = cv2.imread(str(src_file), flags)
        if img is None:
            raise CompactError(f'cannot read {src_file}')
        h, w = img.shape[:2]
        new_w, new_h = self._new_size(h, w)
        if (new_w, new_h) == (w, h) and src_file.suffix.lower() in ('.jpg', '.jpeg'):
            ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            out = self._target(src_file, src_file.suffix)
            if ok and len(buf) < self.reencode_below * src_file.stat().st_size:
                out.write_bytes(buf.tobytes())
                self.counts['reencoded'] += 1
            else:
                shutil.copyfile(src_file, out)
                self.counts['copied'] += 1
            return out, 1.0, 1.0
        if (new_w, new_h) != (w, h):
            img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA)
            self.counts['resized'] += 1
        if keep_png:
            out = self._target(src_file, '.png')
            cv2.imwrite(str(out), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            self.counts['png_kept'] += 1
            return out, new_w / w, new_h / h
        if img.dtype != np.uint8:
            raise CompactError(f'{src_file}: expected an 8-bit image, got {img.dtype}')
        if img.ndim == 3 and np.array_equal(img[..., 0], img[..., 1]) \
                and np.array_equal(img[..., 0], img[..., 2]):
            img = img[..., 0]
        out = self._target(src_file, '.jpg')
        cv2.imwrite(str(out), img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        self.counts['reencoded'] += 1
        return out, new_w / w, new_h / h

    def lossless(self, src_file: Path) -> Path:
        """Copy a depth map (or any PNG that must stay exact), re-compressed losslessly."""
        img = cv2.imread(str(src_file), cv2.IMREAD_UNCHANGED)
        out = self._target(src_file, src_file.suffix)
        if img is None or src_file.suffix.lower() != '.png':
            shutil.copyfile(src_file, out)
        else:
            cv2.imwrite(str(out), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        self.counts['png_kept'] += 1
        return out

    def text(self, src_file: Path) -> None:
        """Copy a small text file (README, licence) unchanged."""
        shutil.copyfile(src_file, self._target(src_file, src_file.suffix))


def compact_rgbt(c: Compactor) -> int:
    """Copy the visible/LWIR pairs the loader uses; returns the number of pairs."""
    pairs = StaticPairSource._rgbt_pairs(SimpleNamespace(root=c.src))
    renamed: Dict[Path, Path] = {}
    for vis, ir in pairs:
        for path, flags in ((vis, cv2.IMREAD_COLOR), (ir, cv2.IMREAD_GRAYSCALE)):
            if path not in renamed:
                renamed[path] = c.image(path, flags=flags)[0]
    table = c.src / 'rgbt' / 'tno' / 'modalities.csv'
    if table.is_file():
        lines = table.read_text().splitlines()
        keep = [lines[0]]
        for line in lines[1:]:
            scene, name, guess = line.split(',', 2)
            path = c.src / 'rgbt' / 'tno' / scene / name
            if path in renamed:
                keep.append(','.join([scene, renamed[path].name, guess]))
        out = c.dst / 'rgbt' / 'tno' / 'modalities.csv'
        out.write_text('\n'.join(keep) + '\n')
    return len(pairs)


def compact_rgb_boxes(c: Compactor) -> Tuple[int, int]:
    """Copy VOC-annotated images with rescaled boxes; returns (images, boxes)."""
    n_img = n_box = 0
    base = c.src / 'rgb_boxes'
    for xml in sorted(base.glob('*/*/*.xml')):      # the loader's glob
        img_dirs = [d for d in xml.parent.parent.iterdir()
                    if d.is_dir() and d.name.lower() in ('images', 'jpegimages')]
        if not img_dirs:
            continue
        tree = ET.parse(xml)
        root = tree.getroot()
        img_path = img_dirs[0] / (root.findtext('filename') or (xml.stem + '.jpg'))
        if not img_path.is_file():
            candidates = sorted(img_dirs[0].glob(xml.stem + '.*'))
            if not candidates:
                continue
            img_path = candidates[0]
        out, sx, sy = c.image(img_path)
        fn = root.find('filename')
        if fn is None:
            fn = ET.SubElement(root, 'filename')
        fn.text = out.name
        size = root.find('size')
        if size is not None:
            for key, s in (('width', sx), ('height', sy)):
                node = size.find(key)
                if node is not None and node.text:
                    node.text = str(round(float(node.text) * s))
        for bb in root.iter('bndbox'):
            for key, s in (('xmin', sx), ('xmax', sx), ('ymin', sy), ('ymax', sy)):
                node = bb.find(key)
                if node is not None and node.text:
                    node.text = f'{float(node.text) * s:.2f}'
            n_box += 1
        xml_out = c._target(xml, '.xml')
        tree.write(xml_out, encoding='utf-8')
        n_img += 1
    return n_img, n_box


def compact_rgbd(c: Compactor) -> int:
    """Copy the colour/depth pairs; returns the number of pairs."""
    base = c.src / 'rgbd'
    n = 0
    for color in sorted((base / 'open3d_testdata' / 'color').glob('*.jpg')):
        depth = base / 'open3d_testdata' / 'depth' / (color.stem + '.png')
        if depth.is_file():
            c.image(color)
            c.lossless(depth)
            n += 1
    tum = base / 'tum2klg_fr1xyz_like'
    for color, depth in zip(sorted((tum / 'rgb').glob('*.png')),
                            sorted((tum / 'depth').glob('*.png'))):
        c.image(color, keep_png=True)
        c.lossless(depth)
        n += 1
    return n


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder`` (bytes)."""
    return sum(p.stat().st_size for p in folder.rglob('*') if p.is_file())


def make_compact(src: Path, dst: Path, max_side: int = _MAX_SIDE, quality: int = 75,
                 force: bool = False) -> dict:
    """Build the compact copy; returns a summary dict (counts and sizes in bytes).

    Raises:
        CompactError: missing ``src``, non-empty ``dst`` without ``force``, name collisions.
    """
    if not (src / 'SOURCES.md').is_file():
        raise CompactError(f'{src} does not look like data/train (no SOURCES.md); '
                           'pass --src ../shared/data/train')
    if dst.exists() and any(dst.iterdir()):
        if not force:
            raise CompactError(f'{dst} is not empty; pass --force to rebuild it')
        shutil.rmtree(dst)
    dst.mkdir(parents=True, exist_ok=True)
    c = Compactor(src, dst, max_side, quality)
    for doc in [src / 'SOURCES.md'] + sorted(src.glob('*/*/README.txt')) \
            + sorted(src.glob('*/*/LICENSE')):
        if not doc.parts[-3:-2] == ('event',):
            c.text(doc)
    summary = {'rgbt_pairs': compact_rgbt(c)}
    summary['rgb_images'], summary['rgb_boxes'] = compact_rgb_boxes(c)
    summary['rgbd_pairs'] = compact_rgbd(c)
    summary.update(c.counts)
    summary['src_bytes'] = folder_bytes(src)
    note = dst / 'COMPACT.md'
    note.write_text(
        '# Compact copy of data/train\n\n'
        f'Made by scripts/compact_train_data.py from {src} (max side {max_side} px, JPEG quality '
        f'{quality}). Only the files StaticPairSource reads; boxes in rgb_boxes/*.xml rescaled to '
        'the resized images. SOURCES.md (the original manifest, licences and terms) applies.\n\n'
        + '\n'.join(f'- {k}: {v}' for k, v in summary.items()) + '\n')
    summary['dst_bytes'] = folder_bytes(dst)
    return summary


def verify(src: Path, dst: Path, overlay_dir: Optional[Path] = None, overlays: int = 6) -> bool:
    """Load both folders with ``StaticPairSource`` and compare images and boxes item by item.

    Box-labelled RGB items must keep their size (within 1 pixel) and boxes (within 1.5 pixels);
    thermal blob boxes are recomputed from the re-encoded LWIR, so only their counts are reported.
    Returns True when the labelled boxes agree.
    """
    geo = Geometry()
    a, b = StaticPairSource(src, geo), StaticPairSource(dst, geo)
    print(f'items: original {len(a.items)}, compact {len(b.items)}')
    ok = len(a.items) == len(b.items)
    worst, shape_bad, box_count_bad, blob_diff = 0.0, 0, 0, 0
    labelled: List[int] = []
    pixel_err: List[float] = []
    for i, (ia, ib) in enumerate(zip(a.items, b.items)):
        if ia.modality != ib.modality:
            ok = False
            print(f'item {i}: modality {ia.modality} vs {ib.modality}')
            continue
        if max(abs(ia.rgb.shape[0] - ib.rgb.shape[0]), abs(ia.rgb.shape[1] - ib.rgb.shape[1])) > 1:
            shape_bad += 1
        elif ia.rgb.shape == ib.rgb.shape:
            pixel_err.append(float(np.abs(ia.rgb.astype(np.int16) - ib.rgb).mean()))
        if ia.modality.value != 'rgb':
            blob_diff += len(ia.boxes) != len(ib.boxes)
            continue
        if len(ia.boxes) != len(ib.boxes):
            box_count_bad += 1
            continue
        labelled.append(i)
        for ba, bb in zip(ia.boxes, ib.boxes):
            worst = max(worst, float(np.abs(np.asarray(ba) - np.asarray(bb)).max()))
    print(f'image size off by > 1 px: {shape_bad}; labelled items with a different box count: '
          f'{box_count_bad}; largest box corner difference: {worst:.2f} px; thermal items whose '
          f'blob count changed: {blob_diff}')
    print(f'mean absolute RGB difference (0-255) per same-size item: median '
          f'{np.median(pixel_err):.2f}, max {np.max(pixel_err):.2f} over {len(pixel_err)} items')
    ok = ok and shape_bad == 0 and worst <= 1.5 and max(pixel_err) < 12
    if overlay_dir is not None:
        overlay_dir.mkdir(parents=True, exist_ok=True)
        picks = [labelled[k] for k in np.linspace(0, len(labelled) - 1, overlays).astype(int)]
        for i in picks:
            panels = []
            for item in (a.items[i], b.items[i]):
                img = cv2.cvtColor(item.rgb, cv2.COLOR_RGB2BGR)
                for x, y, w, h in item.boxes:
                    cv2.rectangle(img, (round(x), round(y)), (round(x + w), round(y + h)),
                                  (0, 255, 0), 2)
                panels.append(img)
            h = max(p.shape[0] for p in panels)
            panels = [cv2.copyMakeBorder(p, 0, h - p.shape[0], 0, 8, cv2.BORDER_CONSTANT)
                      for p in panels]
            cv2.imwrite(str(overlay_dir / f'item{i:04d}.jpg'), np.hstack(panels))
        print(f'overlays (left: original, right: compact) in {overlay_dir}')
    return ok


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 1 verification failed, 2 bad arguments)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--src', type=Path, default=REPO.parent / 'shared' / 'data' / 'train')
    parser.add_argument('--dst', type=Path, default=REPO / '.traindata')
    parser.add_argument('--max-side', type=int, default=_MAX_SIDE)
    parser.add_argument('--quality', type=int, default=75)
    parser.add_argument('--force', action='store_true', help='rebuild a non-empty --dst')
    parser.add_argument('--verify', action='store_true', help='compare what the loader reads')
    parser.add_argument('--verify-only', action='store_true', help='skip building')
    parser.add_argument('--overlay-dir', type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if not args.verify_only:
            summary = make_compact(args.src, args.dst, args.max_side, args.quality, args.force)
            for k, v in summary.items():
                print(f'{k}: {v}')
            print(f'size: {summary["src_bytes"] / 1e6:.1f} MB -> '
                  f'{summary["dst_bytes"] / 1e6:.1f} MB')
    except CompactError as err:
        print(f'compact_train_data: error: {err}', file=sys.stderr)
        return 2
    if args.verify or args.verify_only:
        return 0 if verify(args.src, args.dst, args.overlay_dir) else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
