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

"""Running evaluation tasks in parallel: a local worker pool (``--jobs N``) and rank sharding
under ``torchrun`` (``torch.distributed``, gloo backend).

A *task* is one (tracker spec, sequence) pair that is not in the result cache. Every task is
independent: the tracker is initialised from the sequence's GT, so a run does not depend on
which runs came before it in the same process, and the per-sequence results are the same
whether the tasks run in one process, in N worker processes or on several machines, as long
as torch runs with the same number of threads (``--threads``): torch's CPU kernels split their
reductions by thread count, so our trackers' boxes at another thread count can differ in the
last bits (~1e-5 px measured on t224); OpenCV peers are identical at any thread count.

Local pool (:func:`run_pool`)
    ``concurrent.futures.ProcessPoolExecutor`` with the ``'spawn'`` start method: each worker
    is a fresh interpreter, so no torch / OpenCV / OpenMP thread pool of the parent is
    inherited half-initialised (forking a process whose thread pools exist can deadlock).
    Each worker sets ``torch.set_num_threads(T)`` and ``cv2.setNumThreads(1)`` in its
    initializer, with ``T = max(1, cores // N)`` (``cores`` = the CPUs this process may run on)
    unless ``--threads`` gives T, so N workers do not fight over the cores. The tasks of a
    tracker are grouped into chunks (:func:`chunk_tasks`) so that few workers build the same
    tracker; a worker keeps each tracker it built, runs its tasks, writes each cache file itself
    (atomic: temporary file + ``os.replace``) and returns small summaries; the parent then reads
    the runs back from the cache.

Rank sharding (:class:`DistContext`)
    With ``WORLD_SIZE > 1`` in the environment (as ``torchrun`` sets it, with ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), every rank computes the same ordered task
    list and the same cache filter, waits for all ranks (so none has written yet), and runs the
    tasks ``i`` with ``i % WORLD_SIZE == RANK``; then the ranks exchange their outcome
    (``all_gather_object``, which is also the barrier). Rank 0 alone reads all runs from the
    cache and writes the report; the other ranks return. The cache folder must be on a
    filesystem every rank sees (one machine, or NFS / a shared mount across machines).
"""

from __future__ import annotations

import datetime
import logging
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from rgbx_tracker_ros.core.torchrun import Ranks, torchrun_env

_logger = logging.getLogger('rgbx-eval')

#: Start method of the worker processes (see the module docstring).
START_METHOD = 'spawn'
#: Seconds ranks wait for each other (``RGBX_EVAL_DIST_TIMEOUT_S``); the slowest rank's share
#: of the runs must finish within it.
DIST_TIMEOUT_S = float(os.environ.get('RGBX_EVAL_DIST_TIMEOUT_S', 7 * 24 * 3600))
#: Seconds ranks wait for each other before any run starts (``RGBX_EVAL_DIST_START_TIMEOUT_S``):
#: loading the inputs and filtering the cache.
DIST_START_TIMEOUT_S = float(os.environ.get('RGBX_EVAL_DIST_START_TIMEOUT_S', 1800))


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(jobs: int, threads: Optional[int] = None,
                       cores: Optional[int] = None) -> int:
    """torch threads of each of ``jobs`` workers: ``threads`` if given, else
    ``max(1, cores // jobs)`` (``cores`` default :func:`available_cores`)."""
    if threads is not None:
        return max(1, int(threads))
    return max(1, (cores or available_cores()) // max(1, int(jobs)))


@dataclass
class Task:
    """One (tracker, sequence) run to compute.

    Attributes:
        index: position in the ordered task list of the whole evaluation (tracker-major, then
            sequence, as the sequential loop runs them); fixes the order of logs and errors.
        spec: the :class:`~rgbx_tracker_ros.eval.peers.TrackerSpec`.
        sequence: the :class:`~rgbx_tracker_ros.data.sequences.Sequence` (pickled to the worker;
            a bag sequence re-opens its bag there instead of shipping its frames).
        key: cache key of the run.
        options: run options (``use_x``, ``reinit``, ``max_frames`` ...; see ``experiment``).
        meta: what the cache file records next to the arrays.
    """

    index: int
    spec: Any
    sequence: Any
    key: str
    options: dict
    meta: dict


@dataclass
class BuildOptions:
    """How trackers are built (arguments of :func:`rgbx_tracker_ros.eval.peers.build_tracker`)."""

    device: str = 'auto'
    nano_dir: Optional[str] = None
    precision: str = 'fp32'
    backend: str = 'torch'
    model_options: Optional[dict] = None


@dataclass
class TaskOutcome:
    """What a worker sends back for one task: where the run went, or the error.

    Attributes:
        index: :attr:`Task.index`.
        frames: frames run.
        seconds: wall time of running the sequence in the worker (tracker build excluded).
        error: the exception raised (the original object when it can be pickled, else a
            :class:`WorkerError` with the same message), or None.
    """

    index: int
    frames: int = 0
    seconds: float = 0.0
    error: Optional[BaseException] = None


class WorkerError(ValueError):
    """An error in a worker whose exception object could not be sent back (same message)."""


# --------------------------------------------------------------------------- worker side

_TRACKERS: dict[str, Any] = {}          # spec label -> built tracker (per worker process)
_BUILD: Optional[BuildOptions] = None
_CACHE_ROOT: Optional[str] = None


def _init_worker(threads: int, build: BuildOptions, cache_root: str,
                 local_rank: Optional[int], log_level: int) -> None:
    """Worker initializer: thread counts, CUDA device of the rank, logging, build options."""
    global _BUILD, _CACHE_ROOT
    os.environ['OMP_NUM_THREADS'] = str(threads)
    os.environ['MKL_NUM_THREADS'] = str(threads)
    import cv2
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:            # already set, or parallel work already ran
        pass
    cv2.setNumThreads(1)
    if local_rank is not None and torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    logging.basicConfig(level=logging.WARNING, format='rgbx-eval: %(message)s')
    logging.getLogger('rgbx-eval').setLevel(log_level)
    _BUILD = build
    _CACHE_ROOT = cache_root


def _portable_error(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure: send the message instead
        return WorkerError(str(exc))


def registration_of(options: dict):
    """The X -> RGB registration a run's options name (a rig's ``x_homography``: 9 numbers, X
    pixels -> RGB pixels), or None."""
    if not options.get('x_homography'):
        return None
    from rgbx_tracker_ros.core.registration import Registration
    return Registration.from_homography(options['x_homography'])


def execute_task(task: Task, build: BuildOptions, cache: Any,
                 trackers: dict[str, Any], progress: Optional[Callable[[Any], Any]] = None
                 ) -> Any:
    """Run one task and save it in ``cache`` (a :class:`~rgbx_tracker_ros.eval.cache.RunCache`).

    The one code path of every mode (sequential, pool worker, rank): build the tracker (once
    per spec label, kept in ``trackers``), :func:`~rgbx_tracker_ros.eval.runner.run_sequence`,
    :meth:`RunCache.save`.

    Args:
        progress: optional wrapper ``progress(tracker) -> tracker`` (progress bars).

    Returns:
        (run, seconds): the :class:`~rgbx_tracker_ros.eval.runner.TrackRun` and the wall time
        of running the sequence (tracker build excluded).

    Raises:
        whatever building the tracker or reading the sequence raises (PeerError,
        CheckpointError, SequenceError, BackendUnavailable ...).
    """
    from rgbx_tracker_ros.eval.peers import build_tracker
    from rgbx_tracker_ros.eval.runner import run_sequence
    spec, seq, options = task.spec, task.sequence, task.options
    tracker = trackers.get(spec.label)
    if tracker is None:
        tracker = build_tracker(spec, device=build.device, nano_dir=build.nano_dir,
                                precision=build.precision, backend=build.backend,
                                model_options=build.model_options)
        trackers[spec.label] = tracker
    registration = registration_of(options)
    t0 = time.perf_counter()
    run = run_sequence(progress(tracker) if progress else tracker, seq, use_x=spec.use_x,
                       reinit_frames=options.get('reinit', ()),
                       max_frames=options.get('max_frames'), registration=registration)
    seconds = time.perf_counter() - t0
    cache.save(spec.label, seq.name, task.key, run, meta=task.meta)
    return run, seconds


def _worker_run(chunk: list[Task]) -> list[TaskOutcome]:
    """Pool entry point: run the tasks of ``chunk`` in this worker (each writes its cache file),
    stopping at the first failure; one outcome per task run."""
    from rgbx_tracker_ros.eval.cache import RunCache
    cache = RunCache(_CACHE_ROOT)
    out: list[TaskOutcome] = []
    for task in chunk:
        try:
            run, seconds = execute_task(task, _BUILD, cache, _TRACKERS)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
            out.append(TaskOutcome(task.index, error=_portable_error(exc)))
            break
        out.append(TaskOutcome(task.index, frames=len(run.scores), seconds=seconds))
    return out


def chunk_tasks(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """Group ``tasks`` into pool jobs so that few workers build the same tracker.

    Building a tracker can cost more than running it on a short sequence (loading a checkpoint,
    a warm-up pass), and a worker keeps what it built. So the tasks of one tracker are split
    into ``ceil(jobs / trackers)`` chunks (at most one per task), interleaved (task k of the
    tracker goes to chunk k % chunks, balancing long and short sequences); chunks are ordered
    tracker by tracker. Which worker runs which chunk never changes a result.
    """
    by_spec: dict[str, list[Task]] = {}
    for task in tasks:
        by_spec.setdefault(task.spec.label, []).append(task)
    per_spec = max(1, -(-int(jobs) // max(1, len(by_spec))))
    chunks: list[list[Task]] = []
    for group in by_spec.values():
        n = min(len(group), per_spec)
        chunks.extend(group[k::n] for k in range(n))
    return chunks


def run_pool(tasks: list[Task], jobs: int, build: BuildOptions, cache_root: str,
             threads: Optional[int] = None, local_rank: Optional[int] = None,
             on_done: Optional[Callable[[TaskOutcome], None]] = None) -> list[TaskOutcome]:
    """Run ``tasks`` in ``jobs`` worker processes (see the module docstring).

    Args:
        tasks: the tasks, in order.
        jobs: worker processes (at most one per chunk of :func:`chunk_tasks` is started).
        build: how to build trackers.
        cache_root: the cache folder the workers write to.
        threads: torch threads per worker (None: :func:`threads_per_worker`).
        local_rank: this rank's local index under torchrun (its CUDA device), or None.
        on_done: called in the parent for every finished task as its chunk completes.

    Returns:
        One :class:`TaskOutcome` per task that ran, in the order of ``tasks``. Failed tasks
        carry their error; after the first failure no further chunk is started.
    """
    if not tasks:
        return []
    import multiprocessing
    chunks = chunk_tasks(tasks, jobs)
    workers = max(1, min(int(jobs), len(chunks)))
    per_worker = threads_per_worker(jobs, threads)
    ctx = multiprocessing.get_context(START_METHOD)
    level = logging.getLogger('rgbx-eval').getEffectiveLevel()
    outcomes: dict[int, TaskOutcome] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(per_worker, build, str(cache_root), local_rank,
                                       level)) as pool:
        futures = {pool.submit(_worker_run, c): c for c in chunks}
        failed = False
        for fut in as_completed(futures):
            chunk = futures[fut]
            if fut.cancelled():
                continue
            try:
                results = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (BrokenProcessPool ...)
                results = [TaskOutcome(chunk[0].index, error=WorkerError(
                    f'a worker process died running tracker {chunk[0].spec.label} on '
                    f'sequence(s) {", ".join(t.sequence.name for t in chunk)}: {exc!r}'))]
            for out in results:
                outcomes[out.index] = out
                if out.error is not None and not failed:
                    failed = True
                    for other in futures:
                        other.cancel()
                if on_done is not None:
                    on_done(out)
    return [outcomes[t.index] for t in tasks if t.index in outcomes]


# --------------------------------------------------------------------------- torchrun

@dataclass
class DistContext(Ranks):
    """This process's place in a ``torchrun`` launch (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``).

    ``world_size == 1`` (the default, no torchrun) makes every method a no-op.
    """

    local_rank: Optional[int] = None
    _initialised: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, environ: Optional[dict] = None) -> 'DistContext':
        """Read ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK`` (absent: one process, rank 0).

        Raises:
            ValueError: values that are not integers, or a rank outside ``[0, WORLD_SIZE)``.
        """
        rank, world, local_rank = torchrun_env(environ)
        return cls(world_size=world, rank=rank, local_rank=local_rank)

    def shard(self, items: list) -> list:
        """The items of this rank: ``items[rank::world_size]``."""
        return list(items[self.rank::self.world_size])

    def init(self) -> None:
        """Join the process group (gloo, ``env://``) once; no-op for one process."""
        if not self.distributed or self._initialised:
            return
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group('gloo', init_method='env://', world_size=self.world_size,
                                    rank=self.rank,
                                    timeout=datetime.timedelta(seconds=DIST_TIMEOUT_S))
        self._initialised = True

    def barrier(self, timeout_s: Optional[float] = None) -> None:
        """Wait until every rank gets here; with ``timeout_s`` a rank missing after that long
        is an error naming it (gloo's ``monitored_barrier``), else the group's timeout."""
        if self.distributed:
            self.init()
            import torch.distributed as dist
            if timeout_s is None:
                dist.barrier()
            else:
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=timeout_s))

    def gather(self, obj: Any) -> list:
        """Every rank's ``obj`` (picklable), in rank order, on every rank; also a barrier."""
        if not self.distributed:
            return [obj]
        self.init()
        import torch.distributed as dist
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        """Leave the process group (when :meth:`init` joined it)."""
        if self._initialised:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
            self._initialised = False
