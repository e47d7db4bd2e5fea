"""Decode files ahead of the model, in order, in worker processes when there are many.

Decoding a small PNG is mostly Python work (PIL's chunk parser, our checks), which holds the GIL:
threads cannot run it beside the main thread's own Python work, so a long job decodes in worker
processes and the main process only runs the model (whose kernels release the GIL) and writes
records. A short job (fewer files than :attr:`DecodePlan.min_files_for_processes`) decodes in
threads, which start instantly. Either way the results come back chunk by chunk in input order,
with a bounded number of chunks in flight, so memory stays flat however many files there are.

The function applied to each file must be picklable (a module-level function or a
:func:`functools.partial` of one) and must never raise: per-file failures are part of its result
(:func:`~ganprint.data.decode.decode_or_error`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain, islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["DecodePlan", "map_batches", "map_chunks", "map_in_processes"]


@dataclass(frozen=True)
class DecodePlan:
    """How to spread decoding.

    Attributes:
        workers: Worker processes (or threads for a short job); ``None``: one per CPU beyond the
            first, at least one, at most eight (the first CPU runs the model).
        chunk: Files per task sent to a worker (large enough to amortise the inter-process hop).
        min_files_for_processes: Below this many files, threads (no process start-up).
    """

    workers: int | None = None
    chunk: int = 256
    min_files_for_processes: int = 2048

    def resolved_workers(self) -> int:
        if self.workers is not None:
            return max(1, self.workers)
        return max(1, min(8, (os.cpu_count() or 1) - 1))


def _apply(func: Callable[[T], R], items: list[T]) -> list[R]:
    return [func(item) for item in items]


def _process_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver (POSIX) or spawn: never fork a process that may run PyTorch threads
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def map_chunks(func: Callable[[T], R], items: Iterable[T], plan: DecodePlan = DecodePlan()) -> Iterator[list[R]]:  # noqa: B008
    """Yield ``[func(x) for x in chunk]`` for consecutive chunks of ``items`` (``plan.chunk`` each),
    in order, computed ahead in a pool while the caller works on the previous chunk."""
    items = iter(items)
    return map_batches(func, iter(lambda: list(islice(items, plan.chunk)), []), plan)


def map_batches(func: Callable[[T], R], batches: Iterable[list[T]],
                plan: DecodePlan = DecodePlan()) -> Iterator[list[R]]:  # noqa: B008
    """Yield ``[func(x) for x in batch]`` for each of ``batches`` (lists, any sizes), in order,
    computed ahead in a pool while the caller works on the previous one.

    Processes are used once the first batches hold ``plan.min_files_for_processes`` items. A worker
    process that dies (killed, out of memory) does not lose files: its batch is computed again in
    this process and the pool is replaced.
    """
    batches = iter(batches)
    head: list[list[T]] = []
    while sum(map(len, head)) < plan.min_files_for_processes and (batch := next(batches, None)) is not None:
        head.append(batch)
    use_processes = sum(map(len, head)) >= plan.min_files_for_processes
    chunks = chain(head, batches)
    workers = plan.resolved_workers()
    pool: Executor = _process_pool(workers) if use_processes else ThreadPoolExecutor(max_workers=workers)
    in_flight: deque[tuple[list[T], Future[list[R]]]] = deque()

    def next_result() -> list[R]:
        nonlocal pool
        chunk, future = in_flight.popleft()
        try:
            return future.result()
        except BrokenProcessPool:  # a worker died: redo this batch here, the others in a new pool
            pool.shutdown(wait=False, cancel_futures=True)
            pool = _process_pool(workers)
            for k, (pending, _) in enumerate(in_flight):
                in_flight[k] = (pending, pool.submit(_apply, func, pending))
            return _apply(func, chunk)

    try:
        for chunk in chunks:
            in_flight.append((chunk, pool.submit(_apply, func, chunk)))
            if len(in_flight) > 2 * workers:
                yield next_result()
        while in_flight:
            yield next_result()
    finally:
        for _, future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def map_in_processes(func: Callable[[T], R], tasks: Iterable[T], workers: int, *,
                     initializer: Callable[..., object] | None = None, initargs: tuple = ()) -> Iterator[R]:
    """Yield ``func(task)`` for each task, in order, computed by ``workers`` processes that each ran
    ``initializer(*initargs)`` once (e.g. to load a model), with at most ``2 * workers`` tasks in
    flight. For work that is heavy per task and needs per-process state; a worker that dies stops
    the iteration with :class:`~concurrent.futures.process.BrokenProcessPool`."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer,
                             initargs=initargs) as pool:
        in_flight: deque[Future[R]] = deque()
        try:
            for task in tasks:
                in_flight.append(pool.submit(func, task))
                if len(in_flight) > 2 * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()
