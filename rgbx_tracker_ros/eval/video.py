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

"""Annotated videos of a sequence: GT (green) and every run's box, with a legend; the X frame
(encoded by ``core.modality.encode_x``) to the right when the sequence has one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval.scoring import ReportError, SequenceRun, _as_run

_logger = logging.getLogger(__name__)

# BGR colours for the video, GT first.
_GT_BGR = (0, 220, 0)
_RUN_BGR = ((0, 0, 255), (255, 128, 0), (0, 200, 255), (255, 0, 255), (255, 255, 0),
            (128, 0, 255), (0, 128, 255), (200, 200, 200))


def _open_writer(stem: Path, fps: float, size_wh: tuple[int, int]) -> tuple[Any, Path]:
    """mp4v .mp4, or MJPG .avi if that cannot be opened."""
    for suffix, fourcc in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        path = stem.with_name(stem.name + suffix)   # a name may hold dots (tno.bag)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps),
                                 size_wh)
        if writer.isOpened():
            return writer, path
        writer.release()
        _logger.warning('cv2.VideoWriter cannot open %s with %s', path, fourcc)
    raise ReportError(f'cv2.VideoWriter cannot write {stem}.mp4 (mp4v) nor {stem}.avi (MJPG)')


def _draw_box(image: np.ndarray, box, colour, thickness: int, scale_x: float = 1.0) -> None:
    b = np.asarray(box, dtype=np.float64)
    if not np.all(np.isfinite(b)) or b[2] <= 0 or b[3] <= 0:
        return
    p1 = (int(round(b[0] * scale_x)), int(round(b[1] * scale_x)))
    p2 = (int(round((b[0] + b[2]) * scale_x)), int(round((b[1] + b[3]) * scale_x)))
    cv2.rectangle(image, p1, p2, colour, thickness, cv2.LINE_AA)


def _to_bgr(image: np.ndarray, encoding: str) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if encoding == 'rgb8' else image.copy()


def _x_panel(seq: Sequence, index: int, height: int) -> np.ndarray | None:
    try:
        from rgbx_tracker_ros.core.modality import encode_x
        x = encode_x(seq.read_x(index), seq.x_encoding, seq.modality)
    except (ValueError, ImportError) as err:
        _logger.warning('no X panel in the video: %s', err)
        return None
    bgr = cv2.cvtColor(x, cv2.COLOR_RGB2BGR)
    if bgr.shape[0] != height:
        width = int(round(bgr.shape[1] * height / bgr.shape[0]))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    return bgr


def write_video(seq: Sequence, runs: Mapping[str, SequenceRun], stem: str | Path,
                fps: float = 10.0, max_frames: int | None = None,
                show_x: bool = True) -> Path:
    """Write an annotated video of ``seq``: GT (green) and every run's box, with a legend.

    When the sequence has X and ``show_x`` is set, the X frame (encoded by
    ``core.modality.encode_x``) is shown to the right with the same boxes.

    Args:
        seq: the sequence.
        runs: run name -> :class:`SequenceRun` (or (T, 4) boxes).
        stem: output path without suffix; '.mp4' (mp4v) is tried first, then '.avi' (MJPG).
        fps: frames per second of the video.
        max_frames: write at most this many frames (None = all).
        show_x: add the X panel.

    Returns:
        The path written.

    Raises:
        ReportError: no writer could be opened, or bad run boxes.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    runs = {k: _as_run(v, seq, k) for k, v in runs.items()}
    n = seq.num_frames if max_frames is None else min(seq.num_frames, int(max_frames))
    writer = None
    path = stem.with_name(stem.name + '.mp4')
    try:
        for i in range(n):
            frame = _to_bgr(seq.read_rgb(i), seq.rgb_encoding)
            h, w = frame.shape[:2]
            panels = [frame]
            x_scale = 1.0
            if show_x and seq.has_x:
                xp = _x_panel(seq, i, h)
                if xp is not None:
                    x_w = seq.attributes.get('x_image_size_wh', (w, h))
                    x_scale = h / float(x_w[1])
                    panels.append(xp)
            for p_idx, panel in enumerate(panels):
                scale = 1.0 if p_idx == 0 else x_scale
                gt_box = seq.gt_x_xywh[i] if (p_idx and seq.gt_x_xywh is not None) \
                    else seq.gt_xywh[i]
                if seq.annotated[i] and not seq.absent[i]:
                    _draw_box(panel, gt_box, _GT_BGR, 2, scale)
                for k, run in enumerate(runs.values()):
                    _draw_box(panel, run.pred_xywh[i], _RUN_BGR[k % len(_RUN_BGR)], 2, scale)
            canvas = np.concatenate(panels, axis=1) if len(panels) > 1 else frame
            legend = [('GT', _GT_BGR)] + [(name, _RUN_BGR[k % len(_RUN_BGR)])
                                          for k, name in enumerate(runs)]
            box_w = 24 + 8 * max(len(f'{seq.name} #{n}'), *(len(lab) for lab, _ in legend))
            roi = canvas[0:22 + 16 * len(legend), 0:min(box_w, canvas.shape[1])]
            roi[:] = (roi * 0.35).astype(np.uint8)          # darken behind the legend
            y = 16
            cv2.putText(canvas, f'{seq.name} #{i + 1}', (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (255, 255, 255), 1, cv2.LINE_AA)
            for label, colour in legend:
                y += 16
                cv2.rectangle(canvas, (6, y - 9), (18, y + 1), colour, -1)
                cv2.putText(canvas, label, (24, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                            cv2.LINE_AA)
            if writer is None:
                size = (canvas.shape[1], canvas.shape[0])
                writer, path = _open_writer(stem, fps, size)
            writer.write(np.ascontiguousarray(canvas))
    finally:
        if writer is not None:
            writer.release()
    return path
