"""Training in several processes: the context ``torchrun`` hands each one, and the few collectives
the training loops need.

``torchrun --nproc_per_node=N -m ganprint train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and the rendezvous address) in their environment.
:func:`init_from_env` reads them once, joins the process group (gloo on CPUs, nccl on CUDA, one
GPU per process: ``cuda:LOCAL_RANK``) and returns a :class:`DistContext` that the command passes
down explicitly. Without ``WORLD_SIZE`` (or with 1) it returns :data:`SINGLE`: no process group is
created, and every helper below is a no-op that returns its input, so that library code has one
path for both.

Importing this module does nothing; ``torch.distributed`` is touched only by a context whose
``world_size`` is above 1.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

BACKENDS = {"cpu": "gloo", "cuda": "nccl"}
"""The process-group backend of each device type."""

TIMEOUT = datetime.timedelta(hours=2)
"""How long a collective waits for the other processes. Long: rank 0 alone runs work the others
wait for (a quality monitor, writing a model), and a slow one must not be taken for a dead one."""


@dataclass(frozen=True)
class DistContext:
    """Where this process stands among the training processes.

    ``rank`` is its index among all ``world_size`` processes, ``local_rank`` its index on this
    machine (the GPU it drives), ``backend`` the process group's (None for a single process) and
    ``device`` the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in a world of {self.world_size} processes")

    @property
    def distributed(self) -> bool:
        """Whether there are other processes to talk to."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, prints and draws progress bars."""
        return self.rank == 0

    # -- collectives (each a no-op in a single process) -------------------------------------------
    def barrier(self) -> None:
        """Wait until every process is here (e.g. until rank 0 has written a checkpoint)."""
        if self.distributed:
            torch.distributed.barrier()

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``values`` over all processes (a new tensor; the input is kept)."""
        if not self.distributed:
            return values
        out = values.detach().clone().to(self._wire_device())
        torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
        return out.to(values.device)

    def all_reduce_mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of float ``values`` over all processes."""
        return self.all_reduce_sum(values) / self.world_size if self.distributed else values

    def broadcast(self, values: torch.Tensor, src: int = 0) -> torch.Tensor:
        """Rank ``src``'s ``values`` on every process (a new tensor of the same shape and dtype):
        how rank 0's decisions (stop, keep these weights, this candidate) become everyone's."""
        if not self.distributed:
            return values
        out = values.detach().clone().to(self._wire_device())
        torch.distributed.broadcast(out, src=src)
        return out.to(values.device)

    def broadcast_floats(self, *values: float) -> list[float]:
        """Rank 0's numbers on every process (float64 on the wire: exact for ints below 2**53)."""
        if not self.distributed:
            return list(values)
        return self.broadcast(torch.tensor(values, dtype=torch.float64)).tolist()

    def all_gather_rows(self, rows: torch.Tensor, total: int) -> torch.Tensor:
        """Every process's rows, in rank order, trimmed to ``total``: the inverse of
        :func:`shard_range`. Shards may differ by one row; they are padded on the wire."""
        if not self.distributed:
            return rows
        width = -(-total // self.world_size)
        padded = rows.new_zeros((width, *rows.shape[1:]))
        padded[:len(rows)] = rows
        padded = padded.to(self._wire_device())
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, padded)
        sizes = [len(range(*shard_range(total, r, self.world_size))) for r in range(self.world_size)]
        return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)]).to(rows.device)

    def broadcast_module(self, module: nn.Module, *, buffers_only: bool = False) -> None:
        """Copy rank 0's parameters (unless ``buffers_only``) and buffers into ``module`` on every process."""
        if not self.distributed:
            return
        tensors = [*([] if buffers_only else module.parameters()), *module.buffers()]
        with torch.no_grad():
            for t in tensors:
                t.copy_(self.broadcast(t))

    def average_gradients(self, parameters: list[nn.Parameter] | tuple[nn.Parameter, ...]) -> None:
        """Replace each parameter's gradient with its mean over all processes, in one flat
        all-reduce: the synchronisation DistributedDataParallel performs, for training steps that
        its reducer does not follow (a GAN freezes its discriminator during the generator's step
        and takes gradients of gradients for its penalties)."""
        if not self.distributed:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        flat = self.all_reduce_sum(flat).div_(self.world_size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def agree(self, flag: bool, what: str) -> bool:
        """``flag``, checked to be the same on every process (e.g. "a checkpoint exists"): when
        processes on several machines see different files, the output folder is not on a
        filesystem they share, and going on would train them apart."""
        if not self.distributed:
            return flag
        count = int(self.all_reduce_sum(torch.tensor([int(flag)], dtype=torch.int64)).item())
        if 0 < count < self.world_size:
            raise ValueError(f"{count} of {self.world_size} processes see {what}: the output folder must be on a "
                             "filesystem every process shares")
        return flag

    def destroy(self) -> None:
        """Leave the process group (no-op in a single process)."""
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def _wire_device(self) -> torch.device:
        """nccl moves CUDA tensors only; gloo moves CPU tensors."""
        return self.device if self.backend == "nccl" else torch.device("cpu")


SINGLE = DistContext()
"""The context of a run in one process."""


def shard_range(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous ``[start, stop)`` of ``total`` rows that ``rank`` scores (equal shards of
    ``ceil(total / world_size)`` rows, the last ones shorter)."""
    width = -(-total // world_size)
    return min(total, rank * width), min(total, (rank + 1) * width)


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer") from None


def context_from_env(device: torch.device | str, env: Mapping[str, str] | None = None) -> DistContext:
    """The context ``torchrun``'s environment describes, without joining anything (see
    :func:`init_from_env`): a single-process context when ``WORLD_SIZE`` is unset or 1."""
    env = os.environ if env is None else env
    device = torch.device(device)
    world = _env_int(env, "WORLD_SIZE", 1)
    if world <= 1:
        return DistContext(device=device)
    rank, local = _env_int(env, "RANK", 0), _env_int(env, "LOCAL_RANK", 0)
    if device.type not in BACKENDS:
        raise ValueError(f"training in several processes runs on CPUs or CUDA GPUs, not on {device.type!r}")
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(f"process {rank} wants GPU {local}, but this machine has {torch.cuda.device_count()}; "
                             "start at most one process per GPU (--nproc_per_node)")
        device = torch.device("cuda", local)
    return DistContext(rank=rank, world_size=world, local_rank=local, backend=BACKENDS[device.type], device=device)


def init_from_env(device: torch.device | str, env: Mapping[str, str] | None = None) -> DistContext:
    """Read the torchrun environment and, when there are several processes, join the process
    group (``env://`` rendezvous: ``MASTER_ADDR``/``MASTER_PORT``, set by torchrun). Call
    :meth:`DistContext.destroy` when done."""
    ctx = context_from_env(device, env)
    if ctx.distributed and not torch.distributed.is_initialized():
        if ctx.device.type == "cuda":
            torch.cuda.set_device(ctx.device)
        kwargs = {"device_id": ctx.device} if ctx.device.type == "cuda" else {}
        torch.distributed.init_process_group(ctx.backend, rank=ctx.rank, world_size=ctx.world_size,
                                             timeout=TIMEOUT, **kwargs)
    return ctx
