"""Micro-batching: concurrent requests share one model call.

A request first takes a slot (:meth:`MicroBatcher.admit`; no slot left is :class:`QueueFull`, the
service's 503), reads its body, then submits its images and awaits their records. One batcher task
takes the waiting requests in arrival order until ``max_batch`` images are gathered, runs them
through ``run_batch`` in the model's worker thread and hands each request its own records.

Waiting for company costs latency, so the batcher only waits when it has a reason to: it first lets
the event loop take in requests whose bytes have already arrived (a few loop turns, microseconds),
then waits up to ``max_wait_s`` only while other admitted requests are still being received. A lone
request on an idle service is scored at once. Under load no waiting is needed either: requests
pile up while the previous batch runs, and the next batch takes them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["MicroBatcher", "QueueFull", "Ticket"]

Item = TypeVar("Item")
EAGER_TURNS = 3
"""Event-loop turns the batcher yields to let already-received requests join a batch."""


class QueueFull(Exception):
    """Every slot is taken: the service answers 503 rather than queueing without bound."""


@dataclass
class _Job(Generic[Item]):
    items: Sequence[Item]
    future: asyncio.Future


class Ticket(Generic[Item]):
    """An admitted request's slot; :meth:`submit` its items once its body is read."""

    def __init__(self, batcher: MicroBatcher) -> None:
        self._batcher = batcher
        self._receiving = True

    async def submit(self, items: Sequence[Item]) -> list[Any]:
        """The results of ``items``, in order (``run_batch``'s outputs for them)."""
        batcher = self._batcher
        self.received()
        if not items:
            return []
        job = _Job(items, asyncio.get_running_loop().create_future())
        batcher._jobs.append(job)
        batcher._wakeup.set()
        return await job.future

    def received(self) -> None:
        """Say the body is read: the batcher stops waiting for this request to join a batch."""
        if self._receiving:
            self._receiving = False
            self._batcher._receiving -= 1
            self._batcher._wakeup.set()


class MicroBatcher(Generic[Item]):
    """Gathers the items of concurrent requests into batches for ``run_batch``.

    Args:
        run_batch: Called in ``executor`` with a list of items; returns one result per item, in order.
        executor: Where ``run_batch`` runs (the model's single worker thread).
        max_batch: Most items per call (a single request with more runs alone).
        max_wait_s: Longest wait for more requests once one is waiting (see the module doc).
        capacity: Most requests admitted at once.
        on_batch: Called on the event loop with each batch's size, after it ran (metrics).
    """

    def __init__(self, run_batch: Callable[[list[Item]], list[Any]], executor: Executor, *, max_batch: int,
                 max_wait_s: float, capacity: int, on_batch: Callable[[int, bool], None] | None = None) -> None:
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.capacity = capacity
        self.on_batch = on_batch
        self.admitted = 0
        self._receiving = 0
        self._jobs: deque[_Job] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- requests --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def admit(self):
        """A :class:`Ticket` for one request, its slot held until the block ends; :class:`QueueFull`
        when ``capacity`` requests are already admitted."""
        if self.admitted >= self.capacity:
            raise QueueFull
        self.admitted += 1
        self._receiving += 1
        ticket: Ticket = Ticket(self)
        try:
            yield ticket
        finally:
            ticket.received()
            self.admitted -= 1

    # -- the batcher task ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ganprint-batcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the service is shutting down"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch: list[_Job] = []
            try:
                await self._gather(loop, batch)
                items = [item for job in batch for item in job.items]
                results = await loop.run_in_executor(self.executor, self.run_batch, items)
                if len(results) != len(items):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
            except asyncio.CancelledError:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(RuntimeError("the service is shutting down"))
                raise
            except Exception as exc:  # a bug or a broken model: those requests fail, the service goes on
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                if self.on_batch:
                    self.on_batch(sum(len(job.items) for job in batch), False)
                continue
            start = 0
            for job in batch:
                if not job.future.done():  # a client that went away leaves a cancelled future
                    job.future.set_result(results[start:start + len(job.items)])
                start += len(job.items)
            if self.on_batch:
                self.on_batch(len(items), True)

    async def _gather(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        """Move jobs into ``batch`` in arrival order, up to ``max_batch`` items (at least one job);
        the caller holds ``batch``, so a cancellation meanwhile leaves no job unanswered."""
        batch.append(self._jobs.popleft())
        size = len(batch[0].items)
        deadline = loop.time() + self.max_wait_s
        turns = 0
        while size < self.max_batch:
            if self._jobs:
                if size + len(self._jobs[0].items) > self.max_batch:
                    break
                job = self._jobs.popleft()
                batch.append(job)
                size += len(job.items)
                continue
            if turns < EAGER_TURNS:  # let requests already in the socket buffers reach submit()
                turns += 1
                await asyncio.sleep(0)
                continue
            remaining = deadline - loop.time()
            if self._receiving == 0 or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                break
