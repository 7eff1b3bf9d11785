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

"""An evaluation experiment: run trackers over sequences through the result cache, then report.

The got10k-toolkit shape::

    from rgbx_tracker_ros.eval import experiment
    runs = experiment.run(specs, seqs, 'out/')          # compute what the cache lacks
    out = experiment.report(runs, seqs, 'out/')         # score, tables, plots, videos

:func:`run` orders the (tracker, sequence) pairs tracker-major (as given), keys each by the
tracker fingerprint, the sequence fingerprint and the run options
(:func:`rgbx_tracker_ros.eval.cache.run_key`), serves the pairs whose key is in
``out_dir/cache`` and computes the rest: in this process (``jobs=1``), in ``jobs`` worker
processes (:func:`rgbx_tracker_ros.eval.parallel.run_pool`), and under ``torchrun`` sharded by
rank (:class:`rgbx_tracker_ros.eval.parallel.DistContext`). Every mode writes the same cache
files and reads the runs back the same way, so boxes, scores and every number of the report
except the timings (FPS) are identical whatever the mode.

:func:`report` scores the runs (:mod:`rgbx_tracker_ros.eval.scoring`), writes the report of
all sequences and one per sequence (:func:`rgbx_tracker_ros.eval.report.write_report`: plots,
videos) and the tables (:mod:`rgbx_tracker_ros.eval.tables`).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rgbx_tracker_ros.data.sequences import Sequence
from rgbx_tracker_ros.eval import parallel
from rgbx_tracker_ros.eval import report as rep
from rgbx_tracker_ros.eval.cache import RunCache, run_key, safe_name, sequence_fingerprint
from rgbx_tracker_ros.eval.peers import TrackerSpec, valid_tracker_names
from rgbx_tracker_ros.eval.runner import TrackRun
from rgbx_tracker_ros.eval.parallel import registration_of  # noqa: F401 - re-exported
from rgbx_tracker_ros.eval.tables import fps_of, write_tables, write_tracks_only

_logger = logging.getLogger('rgbx-eval')


class EvaluateError(ValueError):
    """Bad input of an evaluation (the message says what and how to fix it)."""


# --------------------------------------------------------------------------- results

@dataclass
class RunSet:
    """What :func:`run` produced.

    Attributes:
        runs: tracker label -> sequence name -> :class:`TrackRun` (empty on ranks other than 0).
        computed: (label, sequence) pairs computed in this call (by any rank or worker).
        cached: (label, sequence) pairs read from the cache.
        log: the rows of ``runs.json``.
        is_main: False on torchrun ranks other than 0, which report nothing.
        max_frames: the frame cap the runs were made with (None = whole sequences).
    """

    runs: dict[str, dict[str, TrackRun]]
    computed: list[tuple[str, str]]
    cached: list[tuple[str, str]]
    log: list[dict[str, Any]] = field(default_factory=list)
    is_main: bool = True
    max_frames: Optional[int] = None


@dataclass
class EvaluationOutput:
    """What :func:`report` produced (for callers such as the benchmarks and tests).

    Attributes:
        result: the :class:`report.ReportResult` over all sequences (None when the inputs
            have no ground truth and only their tracks were written, and on torchrun ranks
            other than 0).
        runs: tracker label -> sequence -> :class:`TrackRun`.
        computed: (label, sequence) pairs computed in this call.
        cached: (label, sequence) pairs read from the cache.
        attributes: attribute split rows (may be empty).
        paths: name -> written file.
        is_main: False on torchrun ranks other than 0 (nothing was written by them).
    """

    result: Optional[rep.ReportResult]
    runs: dict[str, dict[str, TrackRun]]
    computed: list[tuple[str, str]]
    cached: list[tuple[str, str]]
    attributes: list[rep.AttributeScore]
    paths: dict[str, Path]
    is_main: bool = True

    def fps(self, label: str, sequence: Optional[str] = None) -> float:
        """Tracked frames per second of ``track`` calls (all sequences when None)."""
        runs = self.runs[label]
        secs = [runs[sequence].seconds] if sequence else [r.seconds for r in runs.values()]
        return fps_of(np.concatenate(secs))


# --------------------------------------------------------------------------- helpers

class _Progress:
    """Wraps a tracker so that every initialize / track call advances a tqdm bar."""

    def __init__(self, tracker: Any, bar: Any) -> None:
        self._tracker = tracker
        self._bar = bar

    def initialize(self, rgb, x, box) -> None:
        self._tracker.initialize(rgb, x, box)
        self._bar.update(1)

    def track(self, rgb, x=None):
        out = self._tracker.track(rgb, x)
        self._bar.update(1)
        return out


def resolve_precision(precision: str, device: str) -> str:
    """'auto' -> the precision our trackers will actually run ('fp32' / 'bf16' / 'fp16'), so
    that cached runs are keyed by what ran.

    Raises:
        EvaluateError: an unknown precision, fp16 on a CPU, or an unusable device.
    """
    from rgbx_tracker_ros.core.tracker import precision_name, resolve_device
    from rgbx_tracker_ros.core.tracker import resolve_precision as _resolve
    try:
        return precision_name(_resolve(precision, resolve_device(device)))
    except ValueError as exc:
        raise EvaluateError(str(exc)) from exc


def rig_run_settings(spec: TrackerSpec) -> dict[str, Any]:
    """What a ``rig:`` spec will run on here: {'device': resolved torch device, 'precision':
    resolved precision [, 'x_homography': 9 numbers]}, for the cache key.

    Raises:
        EvaluateError: the rig profile's device is not available here (e.g. cuda without a GPU)
            or its precision cannot run on it; the message names the rig and the profile.
    """
    from rgbx_tracker_ros.core.tracker import precision_name, resolve_device
    from rgbx_tracker_ros.core.tracker import resolve_precision as _resolve
    try:
        dev = resolve_device(spec.device)
        prec = precision_name(_resolve(spec.precision, dev))
    except ValueError as exc:
        raise EvaluateError(
            f'tracker {spec.label}: the {spec.profile} compute profile of rig {spec.rig} '
            f'({spec.rig_path}) runs on device {spec.device!r} at precision '
            f'{spec.precision!r}, which cannot run here: {exc}. Run rgbx-eval on a machine '
            f'like the one this profile is for, or evaluate another profile (e.g. '
            f'rig:{spec.rig}@cpu)') from exc
    settings: dict[str, Any] = {'device': str(dev), 'precision': prec}
    if spec.x_homography is not None:
        settings['x_homography'] = list(spec.x_homography)
    return settings


def truncate(seq: Sequence, max_frames: Optional[int]) -> Sequence:
    """The first ``max_frames`` frames of ``seq`` (the sequence itself when no cap applies)."""
    return seq.head(max_frames)


def check_inputs(specs: list[TrackerSpec], seqs: list[Sequence]) -> None:
    """Validate the trackers against the sequences before anything runs.

    Raises:
        EvaluateError: no trackers / sequences, duplicate labels, scored and unscored inputs
            mixed, an X-only peer on a sequence without X, or a ``rig:`` spec with X on
            sequences of another X modality.
    """
    labels = [s.label for s in specs]
    dup = sorted({n for n in labels if labels.count(n) > 1})
    if dup:
        raise EvaluateError(f'tracker labels must be unique; repeated: {dup} (rename one with '
                            'LABEL=SPEC)')
    if not specs:
        raise EvaluateError(f'no trackers given; valid: {valid_tracker_names()}')
    if not seqs:
        raise EvaluateError('no sequences given')
    unscored = [s.name for s in seqs if s.attributes.get('ground_truth') == 'none']
    if unscored and len(unscored) != len(seqs):
        raise EvaluateError(f'bag(s) {", ".join(unscored)} have no ground truth (only '
                            '--init-box) and are not scored; evaluate them in a separate call')
    no_x = [s.name for s in seqs if not s.has_x]
    for spec in specs:
        if spec.needs_x and no_x:
            raise EvaluateError(f'tracker {spec.label} tracks on X frames but sequence(s) '
                                f'{", ".join(no_x)} have no X stream; drop the tracker or those '
                                'sequences (the -rgb peers and our trackers run without X)')
        if spec.model is not None and spec.use_x:
            other = sorted(f'{s.name} ({s.modality.value})' for s in seqs
                           if s.has_x and s.modality.value != spec.modality)
            if other:
                raise EvaluateError(
                    f'tracker {spec.label} is the node on rig {spec.rig}, whose X is '
                    f'{spec.modality}, but sequence(s) {", ".join(other)} have another X '
                    f'modality: that node never sees such frames. Use a rig of that modality, '
                    f'rig-rgb:{spec.rig} (its model on RGB alone), or drop those sequences '
                    f'(for a bag whose X modality was guessed wrong pass --modality)')


# --------------------------------------------------------------------------- run

def run(specs: list[TrackerSpec], seqs: list[Sequence], out_dir: str | Path,
        reinit: Optional[dict[str, list[int]]] = None, max_frames: Optional[int] = None,
        device: str = 'auto', nano_dir: Optional[str | Path] = None, precision: str = 'fp32',
        backend: str = 'torch', model_options: Optional[dict] = None, recompute: bool = False,
        progress: bool = True, jobs: int = 1, threads: Optional[int] = None,
        dist: Optional[parallel.DistContext] = None) -> RunSet:
    """Run (or load from the cache) every tracker on every sequence; write ``runs.json``.

    Args:
        specs: trackers (unique labels).
        seqs: sequences (unique names).
        out_dir: output folder (created); the cache is ``out_dir/cache``.
        reinit: sequence -> 0-based frames where trackers are re-initialised from GT.
        max_frames: run only the first N frames of each sequence.
        device, precision, backend, model_options, nano_dir: how our trackers and the peers
            are built (see ``rgbx_tracker_ros.cli.evaluate.evaluate``); ``rig:`` specs run on
            their rig profile's settings.
        recompute: ignore cached results (and overwrite them).
        progress: show tqdm progress bars (stderr).
        jobs: worker processes on this machine (1 = in this process).
        threads: torch threads of each worker (None: cores // jobs); with ``jobs=1`` the
            caller's settings apply.
        dist: the torchrun context (None: from the environment; one process without
            torchrun).

    Returns:
        :class:`RunSet`; on torchrun ranks other than 0 ``is_main`` is False and ``runs`` is
        empty (rank 0 merges).

    Raises:
        EvaluateError: bad inputs (:func:`check_inputs`), ``jobs < 1``, or a run missing from
            the cache after the workers finished.
        PeerError, CheckpointError, SequenceError, BackendUnavailable: from building a tracker
            or reading a sequence, in this process or in a worker / on another rank (the first
            failing run in the tracker-major order is reported, on every rank).
    """
    from tqdm import tqdm

    if int(jobs) < 1:
        raise EvaluateError(f'--jobs must be >= 1, got {jobs}')
    check_inputs(specs, seqs)
    dist = dist or parallel.DistContext.from_env()
    out_dir = Path(out_dir)
    resolved_precision = resolve_precision(precision, device) \
        if any(s.family == 'ours' and s.model is None for s in specs) else None
    rig_settings = {s.label: rig_run_settings(s) for s in specs if s.model is not None}
    out_dir.mkdir(parents=True, exist_ok=True)
    reinit = reinit or {}
    cache = RunCache(out_dir / 'cache')
    seq_prints = {s.name: sequence_fingerprint(s) for s in seqs}

    # Every (tracker, sequence) pair in the order of the sequential loop, with its cache key.
    tasks: list[parallel.Task] = []
    for spec in specs:
        fingerprint = spec.fingerprint(nano_dir)
        for seq in seqs:
            n = seq.num_frames if max_frames is None else min(seq.num_frames, max_frames)
            options: dict[str, Any] = {'use_x': spec.use_x, 'reinit': reinit.get(seq.name, []),
                                       'max_frames': n}
            if spec.label in rig_settings:      # the node's device and precision
                options.update(rig_settings[spec.label])
            elif spec.family == 'ours':
                options['precision'] = resolved_precision
                if backend != 'torch':
                    options['backend'] = backend
                if model_options:
                    options['model_options'] = {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in sorted(model_options.items())}
            key = run_key(fingerprint, seq_prints[seq.name], options)
            meta = {'tracker': fingerprint, 'label': spec.label,
                    'sequence': seq_prints[seq.name], 'options': options}
            tasks.append(parallel.Task(len(tasks), spec, seq, key, options, meta))

    found: dict[int, TrackRun] = {}
    if not recompute:
        for task in tasks:
            hit = cache.load(task.spec.label, task.sequence.name, task.key)
            if hit is not None:
                found[task.index] = hit
    pending = [t for t in tasks if t.index not in found]
    if dist.distributed:
        # every rank has filtered the same cache before any rank writes to it
        dist.barrier(timeout_s=parallel.DIST_START_TIMEOUT_S)
    mine = dist.shard(pending) if dist.distributed else pending
    build = parallel.BuildOptions(device=device,
                                  nano_dir=None if nano_dir is None else str(nano_dir),
                                  precision=precision, backend=backend,
                                  model_options=model_options)
    if dist.distributed and dist.local_rank is not None:
        import torch
        if torch.cuda.is_available():
            torch.cuda.set_device(dist.local_rank % torch.cuda.device_count())

    computed_runs: dict[int, TrackRun] = {}
    timing: dict[int, float] = {}
    error: Optional[tuple[int, BaseException]] = None
    bar = tqdm(total=len(mine), desc='runs' if not dist.distributed else f'runs (rank '
               f'{dist.rank})', unit='run', disable=not progress, file=sys.stderr)
    try:
        if int(jobs) == 1:
            trackers: dict[str, Any] = {}
            for task in mine:
                n = task.options['max_frames']
                bar.set_postfix_str(f'{task.spec.label} on {task.sequence.name}')
                try:
                    with tqdm(total=max(0, n - task.sequence.first_valid_frame()),
                              desc=f'{task.spec.label}/{task.sequence.name}', unit='frame',
                              leave=False, disable=not progress, file=sys.stderr) as fbar:
                        computed_runs[task.index], timing[task.index] = parallel.execute_task(
                            task, build, cache, trackers,
                            progress=lambda tr, b=fbar: _Progress(tr, b))
                except Exception as exc:  # noqa: BLE001 - reported below / across ranks
                    if not dist.distributed:
                        raise
                    error = (task.index, exc)
                    break
                bar.update(1)
        else:
            outcomes = parallel.run_pool(mine, int(jobs), build, str(cache.root),
                                         threads=threads, local_rank=dist.local_rank,
                                         on_done=lambda _out: bar.update(1))
            for out in outcomes:
                if out.error is not None:
                    if error is None or out.index < error[0]:
                        error = (out.index, out.error)
                else:
                    timing[out.index] = out.seconds
    finally:
        bar.close()

    if dist.distributed:
        errors = [e for e in dist.gather(error) if e is not None]
        if errors:
            dist.close()
            raise min(errors, key=lambda e: e[0])[1]
        if not dist.is_main:
            dist.close()
            return RunSet(runs={}, computed=[], cached=[], is_main=False,
                          max_frames=max_frames)
    elif error is not None:
        raise error[1]

    runs: dict[str, dict[str, TrackRun]] = {s.label: {} for s in specs}
    computed: list[tuple[str, str]] = []
    cached: list[tuple[str, str]] = []
    log: list[dict[str, Any]] = []
    for task in tasks:
        spec, seq = task.spec, task.sequence
        hit = task.index in found
        result = found[task.index] if hit else computed_runs.get(task.index)
        if result is None:      # computed by a worker or another rank: read it back
            result = cache.load(spec.label, seq.name, task.key)
            if result is None:
                raise EvaluateError(f'the run of {spec.label} on {seq.name} is missing from '
                                    f'the cache ({cache.path(spec.label, seq.name)}) after the '
                                    'workers finished; is the cache folder shared by every '
                                    'rank?')
        if not hit:
            where = f', {timing[task.index]:.1f} s' if task.index in timing else ', other rank'
            _logger.info('computed %s on %s (%d frames%s)', spec.label, seq.name,
                         task.options['max_frames'], where)
        if hit:
            cache.hits += 1
            cached.append((spec.label, seq.name))
            _logger.info('cached %s on %s', spec.label, seq.name)
        else:
            cache.misses += 1
            computed.append((spec.label, seq.name))
        runs[spec.label][seq.name] = result
        log.append({'tracker': spec.label, 'sequence': seq.name,
                    'status': 'cached' if hit else 'computed',
                    'frames': task.options['max_frames'],
                    'fps': result.fps if math.isfinite(result.fps) else None,
                    'reinit_frames': task.options['reinit'],
                    'use_x': spec.use_x,
                    'cache_file': str(cache.path(spec.label, seq.name))})
        if spec.model is not None:     # what the node runs on that rig
            log[-1].update(rig=spec.rig, profile=spec.profile, variant=spec.model.variant,
                           checkpoint=None if spec.checkpoint is None
                           else str(spec.checkpoint),
                           **rig_settings[spec.label])
    (out_dir / 'runs.json').write_text(json.dumps(log, indent=2, default=str) + '\n',
                                       encoding='utf-8')
    dist.close()
    return RunSet(runs=runs, computed=computed, cached=cached, log=log,
                  max_frames=max_frames)


# --------------------------------------------------------------------------- report

def report(runs: RunSet, seqs: list[Sequence], out_dir: str | Path, protocol: str = 'auto',
           video: bool = True, video_frames: int = 150,
           video_fps: float = 10.0) -> EvaluationOutput:
    """Score ``runs`` on ``seqs`` and write the report, the per-sequence reports and tables.

    With a frame cap (``runs.max_frames``) the sequences are cut to the frames that ran. For
    inputs without ground truth only their tracks and a timing summary are written. On torchrun
    ranks other than 0 nothing is written.

    Raises:
        EvaluateError: unknown protocol.
        ReportError: runs and sequences do not match, or a video cannot be written.
    """
    out_dir = Path(out_dir)
    if protocol not in rep.PROTOCOLS:
        raise EvaluateError(f'unknown protocol {protocol!r}; known: {", ".join(rep.PROTOCOLS)}')
    if not runs.is_main:
        return EvaluationOutput(result=None, runs={}, computed=[], cached=[], attributes=[],
                                paths={}, is_main=False)
    if any(s.attributes.get('ground_truth') == 'none' for s in seqs):
        paths = write_tracks_only(out_dir, seqs, runs.runs)
        for seq in seqs if video else []:     # every tracker's box on the frames
            cut = truncate(seq, runs.max_frames)
            paths[f'video:{seq.name}'] = rep.write_video(
                cut, {label: per_seq[seq.name].boxes_xywh[:cut.num_frames]
                      for label, per_seq in runs.runs.items()},
                out_dir / 'sequences' / safe_name(seq.name) / f'{safe_name(seq.name)}_tracks',
                fps=video_fps, max_frames=video_frames)
        return EvaluationOutput(result=None, runs=runs.runs, computed=runs.computed,
                                cached=runs.cached, attributes=[], paths=paths)

    # With max_frames only the first N frames are run and scored (the sequence is cut).
    scored = [truncate(s, runs.max_frames) for s in seqs]
    report_runs = {label: {s.name: rep.SequenceRun(per_seq[s.name].boxes_xywh,
                                                   per_seq[s.name].scores) for s in scored}
                   for label, per_seq in runs.runs.items()}
    title = 'rgbx-eval: ' + ', '.join(s.name for s in scored[:3]) + \
        (f' ... ({len(scored)} sequences)' if len(scored) > 3 else '')
    result = rep.write_report(out_dir, scored, report_runs, protocol=protocol, video=False,
                              title=title)
    paths: dict[str, Path] = {k: v for k, v in result.paths.items() if v is not None}
    paths['runs'] = out_dir / 'runs.json'
    for seq in scored:
        sub = out_dir / 'sequences' / safe_name(seq.name)
        one = rep.write_report(sub, seq, {k: v[seq.name] for k, v in report_runs.items()},
                               protocol=protocol, video=video, fps=video_fps,
                               video_max_frames=video_frames,
                               title=f'rgbx-eval: {seq.name}')
        paths[f'report:{seq.name}'] = one.paths['report']
        if one.paths.get('video') is not None:
            paths[f'video:{seq.name}'] = one.paths['video']
    attrs = {s.name: rep.sequence_attributes(s) for s in scored}
    splits = rep.attribute_splits(result, attrs) if any(attrs.values()) else []
    output = EvaluationOutput(result=result, runs=runs.runs, computed=runs.computed,
                              cached=runs.cached, attributes=splits, paths=paths)
    write_tables(output, scored, out_dir, protocol)
    return output
