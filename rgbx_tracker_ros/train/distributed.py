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

"""Distributed data-parallel training helpers (``torchrun ... rgbx-train``).

Every use of :mod:`torch.distributed` by the trainer goes through this module. A process started
by ``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous variables ``MASTER_ADDR`` / ``MASTER_PORT``) with ``WORLD_SIZE > 1`` joins a process
group: NCCL when CUDA is available (one GPU per process, ``cuda:LOCAL_RANK``), gloo on CPUs.
Without those variables (or with ``WORLD_SIZE=1``) :func:`setup` returns a single-process
:class:`DistContext` and every helper below is a no-op, so the single-process path runs exactly
as before.

Gradients: the model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`
(:func:`wrap_model`), which averages the gradients over the ranks during ``backward``; tensors
trained outside the wrapped model (distillation's feature projections) are averaged by
:func:`all_reduce_grads`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ContextManager, Dict, Iterable, List, Optional

import torch
import torch.distributed as dist

from ..core.torchrun import Ranks, torchrun_env

__all__ = ['DistContext', 'all_gather_objects', 'all_reduce_grads', 'all_reduce_mean',
           'barrier', 'broadcast_bool', 'broadcast_tensors', 'cleanup', 'current', 'env_world',
           'no_sync', 'setup', 'sync_batchnorm', 'wrap_model']


@dataclass
class DistContext(Ranks):
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        rank: global rank in [0, world_size).
        world_size: number of training processes (1 = not distributed).
        local_rank: rank on this node (selects the GPU).
        device: the device this process trains on.
        backend: 'nccl', 'gloo', or '' when not distributed.
        owns_group: the process group was created by :func:`setup` (and is destroyed by
            :func:`cleanup`).
    """

    local_rank: int = 0
    device: torch.device = torch.device('cpu')
    backend: str = ''
    owns_group: bool = False


def env_world() -> tuple:
    """``(rank, world_size, local_rank)`` from the torchrun environment
    (:func:`~rgbx_tracker_ros.core.torchrun.torchrun_env`): ``(0, 1, 0)`` when unset;
    ``LOCAL_RANK`` defaults to the rank.

    Raises:
        ValueError: a variable is not an integer, or rank / local rank is out of range.
    """
    rank, world, local = torchrun_env()
    return rank, world, (rank if world > 1 else 0) if local is None else local


def setup() -> DistContext:
    """Join the process group described by the environment (see the module docstring).

    Single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``): no group, device ``cuda`` when
    available else ``cpu`` (as the trainer always used). Distributed: NCCL with device
    ``cuda:LOCAL_RANK`` (made the current CUDA device) when CUDA is available, else gloo on the
    CPU. A process group that is already initialised (by the caller) is used as it is.

    Raises:
        ValueError: a bad environment, no torch.distributed in this build, or fewer GPUs on
            this node than ``LOCAL_RANK`` needs.
    """
    rank, world, local = env_world()
    cuda = torch.cuda.is_available()
    if world == 1 and not (dist.is_available() and dist.is_initialized()):
        return DistContext(device=torch.device('cuda' if cuda else 'cpu'))
    if not dist.is_available():
        raise ValueError(f'WORLD_SIZE={world} asks for distributed training, but this torch '
                         'build has no torch.distributed: train in one process (without torchrun)')
    if cuda:
        if local >= torch.cuda.device_count():
            raise ValueError(f'LOCAL_RANK {local} needs GPU {local}, but this node has '
                             f'{torch.cuda.device_count()}: start at most that many processes '
                             'per node (torchrun --nproc_per_node)')
        device = torch.device('cuda', local)
        torch.cuda.set_device(device)
    else:
        device = torch.device('cpu')
    owns = False
    if not dist.is_initialized():
        backend = 'nccl' if cuda else 'gloo'
        kwargs = {'device_id': device} if cuda else {}
        dist.init_process_group(backend=backend, **kwargs)
        owns = True
    rank, world = dist.get_rank(), dist.get_world_size()
    return DistContext(rank=rank, world_size=world, local_rank=local, device=device,
                       backend=str(dist.get_backend()), owns_group=owns)


def current(device: torch.device) -> DistContext:
    """The context of an already initialised process group (or a single process) training on
    ``device``, for code that did not call :func:`setup` itself; it never owns the group."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext(device=device)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=(device.index or 0) if device.type == 'cuda' else 0,
                       device=device, backend=str(dist.get_backend()))


def cleanup(ctx: DistContext) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in one process)."""
    if ctx.distributed:
        if ctx.backend == 'nccl':
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def broadcast_bool(ctx: DistContext, value: bool) -> bool:
    """Rank 0's ``value`` on every rank (e.g. the ``max_minutes`` stop decision)."""
    if not ctx.distributed:
        return bool(value)
    flag = torch.tensor([1 if value else 0], dtype=torch.int32, device=_comm_device(ctx))
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def broadcast_tensors(ctx: DistContext, tensors: Iterable[torch.Tensor]) -> None:
    """Copy rank 0's values of ``tensors`` (same shapes on every rank) to every rank, in place."""
    if not ctx.distributed:
        return
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=0)


def all_gather_objects(ctx: DistContext, obj: Any) -> List[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (picklable objects; ``[obj]`` in one
    process)."""
    if not ctx.distributed:
        return [obj]
    out: List[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(ctx: DistContext, values: Dict[str, float]) -> Dict[str, float]:
    """Mean over the ranks of a dict of floats (e.g. logged loss terms); a key missing on some
    ranks is averaged over the ranks that have it. Returned unchanged in one process."""
    if not ctx.distributed:
        return values
    gathered = all_gather_objects(ctx, {k: float(v) for k, v in values.items()})
    keys = dict.fromkeys(k for d in gathered for k in d)
    return {k: sum(d[k] for d in gathered if k in d) / sum(k in d for d in gathered)
            for k in keys}


def all_reduce_grads(ctx: DistContext, tensors: Iterable[torch.Tensor]) -> None:
    """Average ``.grad`` of ``tensors`` over the ranks, in place (a missing gradient counts as
    zeros; it stays None only when no rank has one). For tensors not covered by DDP."""
    if not ctx.distributed:
        return
    tensors = [t for t in tensors if t.requires_grad]
    if not tensors:
        return
    has = torch.tensor([float(t.grad is not None) for t in tensors], device=_comm_device(ctx))
    dist.all_reduce(has)
    buckets: Dict[tuple, List[torch.Tensor]] = {}
    for t, n in zip(tensors, has.tolist()):
        if n == 0:
            continue
        if t.grad is None:
            t.grad = torch.zeros_like(t)
        buckets.setdefault((t.grad.device, t.grad.dtype), []).append(t.grad)
    for grads in buckets.values():       # one all-reduce per device and dtype
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(ctx.world_size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def wrap_model(ctx: DistContext, model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` (``model`` itself in one
    process).

    ``find_unused_parameters=True``: the routed-expert families (OneTracker's top-k experts,
    SEATrack's mixture) leave some trainable experts without a gradient in a step, which plain
    DDP reports as an error; the price is one walk over the autograd graph per forward pass,
    small next to a ViT forward. Frozen parameters (``requires_grad=False``) are not reduced.
    The parameters and buffers of rank 0 are copied to every rank when wrapping.
    """
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel
    ids = [ctx.device.index] if ctx.device.type == 'cuda' else None
    return DistributedDataParallel(model, device_ids=ids, output_device=ids[0] if ids else None,
                                   find_unused_parameters=True)


class _SumOverRanks(torch.autograd.Function):
    """Sum of a tensor over the ranks, differentiable: the gradient of every rank's input is the
    sum over the ranks of the output's gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


class _SyncedBatchNorm:
    """Mixin of :func:`sync_batchnorm`: train-mode batch statistics over every rank's batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        all_reduce = _SumOverRanks.apply
        self._check_input_dim(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
        xf = x.float()
        local = torch.cat([xf.sum(dims), xf.new_tensor([xf.numel() / x.shape[1]])])
        total = all_reduce(local)                  # differentiable: sums over the ranks
        count = total[-1].detach()
        mean = total[:-1] / count
        centred = xf - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count      # biased, two-pass
        if self.track_running_stats and self.running_mean is not None:
            factor = self.momentum
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if factor is None:
                    factor = 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(unbiased.detach(), alpha=factor)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


_SYNCED: Dict[type, type] = {}


def sync_batchnorm(model: torch.nn.Module) -> int:
    """Make every BatchNorm layer of ``model`` (in place) normalise with the batch statistics of
    all ranks together in training mode, so a step of ``world_size`` ranks with batch ``B``
    normalises like one process with batch ``world_size * B``; works with gloo (CPU) and NCCL,
    unlike :class:`torch.nn.SyncBatchNorm` (GPU only). Two small all-reduces per layer and
    forward pass; gradients flow back through them. Eval mode, and one process, use the layer's
    own forward. Parameters, buffers and state-dict keys are unchanged (checkpoints load into
    plain models); a layer's other attributes (e.g. FIX_BN's eval-only ``train``) are kept.

    Returns:
        the number of layers made synchronous.
    """
    count = 0
    for module in model.modules():
        cls = type(module)
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and \
                not isinstance(module, (_SyncedBatchNorm, torch.nn.SyncBatchNorm)):
            if cls not in _SYNCED:
                _SYNCED[cls] = type('Synced' + cls.__name__, (_SyncedBatchNorm, cls), {})
            module.__class__ = _SYNCED[cls]
            count += 1
    return count


def no_sync(net: Optional[torch.nn.Module], sync: bool) -> ContextManager:
    """The context that skips DDP's gradient all-reduce, when ``net`` is a DDP wrapper and
    ``sync`` is False (a micro-batch that is not the last of its optimiser step: gradients
    accumulate locally); else a null context."""
    if not sync and net is not None and hasattr(net, 'no_sync'):
        return net.no_sync()
    return nullcontext()


def _comm_device(ctx: DistContext) -> torch.device:
    return ctx.device if ctx.backend == 'nccl' else torch.device('cpu')
