"""Micro-batching: concurrent requests share one model call.

A request first takes a slot (:meth:`MicroBatcher.admit`; no slot left is :class:`QueueFull`, the
service's 503), reads its body, then submits its images and awaits their records. One batcher task
takes the waiting requests in arrival order until ``max_batch`` images are gathered and, as soon as
one of the model replicas is free, runs them through that replica's ``run_batch`` in its own worker
thread; each request gets its own records. With N replicas up to N batches are in flight at once.

Waiting for company costs latency, so the batcher only waits when it has a reason to: it first lets
the event loop take in requests whose bytes have already arrived (a few loop turns, microseconds),
then waits up to ``max_wait_s`` only while other admitted requests are still being received. A lone
request on an idle service is scored at once. While another replica is busy (so no CPU idles), a
batch that is not a multiple of ``quantum`` items waits for more until it is, or until that
replica is done. Under load no waiting is needed either: requests
pile up while the replicas are busy, and the next batch takes them (in multiples of ``quantum``
items when more are waiting: the scorer's cost grows in steps of 16 rows).
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
    """Gathers the items of concurrent requests into batches, each run by one of several replicas.

    Args:
        replicas: One ``(run_batch, executor)`` pair per model replica: ``run_batch`` is called in
            its ``executor`` (that replica's one worker thread) with a list of items and returns one
            result per item, in order. Up to ``len(replicas)`` batches are in flight at once; a
            batch is formed as soon as a replica is free and a request is waiting.
        max_batch: Most items per call (a single request with more runs alone).
        max_wait_s: Longest wait for more requests once one is waiting (see the module doc).
        capacity: Most requests admitted at once.
        quantum: The model's cost grows in steps of this many items (the scorer's fixed-shape
            calls): a batch of more than ``quantum`` items that is not a multiple of it leaves its
            last requests waiting for the next batch when that rounds it down to a multiple.
        on_batch: Called on the event loop with each batch's size, after it ran (metrics).
    """

    def __init__(self, replicas: Sequence[tuple[Callable[[list[Item]], list[Any]], Executor]], *, max_batch: int,
                 max_wait_s: float, capacity: int, quantum: int = 1,
                 on_batch: Callable[[int, bool], None] | None = None) -> None:
        if not replicas:
            raise ValueError("MicroBatcher needs at least one replica")
        self.replicas = list(replicas)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.capacity = capacity
        self.quantum = max(1, quantum)
        self.on_batch = on_batch
        self.admitted = 0
        self._receiving = 0
        self._jobs: deque[_Job] = deque()
        self._free: deque[int] = deque(range(len(self.replicas)))
        self._running: set[asyncio.Task] = set()
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
        running, self._running = list(self._running), set()
        for t in (task, *running):
            if t is not None:
                t.cancel()
        for t in (task, *running):
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the service is shutting down"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not (self._jobs and self._free):
                self._wakeup.clear()
                await self._wakeup.wait()
            batch: list[_Job] = []
            try:
                await self._gather(loop, batch)
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("the service is shutting down"))
                raise
            task = loop.create_task(self._execute(self._free.popleft(), batch), name="ganprint-batch")
            self._running.add(task)

    async def _execute(self, replica: int, batch: list[_Job]) -> None:
        """Run ``batch`` on ``replica`` and answer its requests; the replica is free again after."""
        loop = asyncio.get_running_loop()
        run_batch, executor = self.replicas[replica]
        items = [item for job in batch for item in job.items]
        try:
            results = await loop.run_in_executor(executor, run_batch, items)
            if len(results) != len(items):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
        except asyncio.CancelledError:
            _fail(batch, RuntimeError("the service is shutting down"))
            raise
        except Exception as exc:  # a bug or a broken model: those requests fail, the service goes on
            _fail(batch, exc)
            if self.on_batch:
                self.on_batch(len(items), False)
            return
        finally:
            self._free.append(replica)
            self._running.discard(asyncio.current_task())  # type: ignore[arg-type]
            self._wakeup.set()
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
            self._wakeup.clear()
            if size % self.quantum and len(self._free) < len(self.replicas):
                # another replica is busy, so no CPU idles while this batch waits for more items up
                # to the quantum (they cost nothing): until they come or that replica is done
                await self._wakeup.wait()
                continue
            remaining = deadline - loop.time()
            if self._receiving == 0 or remaining <= 0:  # nothing else worth waiting for
                break
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                break
        # 17 items cost as much as 32: the requests past the last multiple of quantum wait for the
        # next batch (first in line), which the ones arriving meanwhile fill up
        target = size - size % self.quantum
        while len(batch) > 1 and size > target >= self.quantum and size - len(batch[-1].items) >= target:
            job = batch.pop()
            size -= len(job.items)
            self._jobs.appendleft(job)


def _fail(batch: list[_Job], exc: BaseException) -> None:
    for job in batch:
        if not job.future.done():
            job.future.set_exception(exc)
