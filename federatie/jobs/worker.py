"""The worker loop: claim due jobs, run their handlers, record the outcome.

A handler is `async def handle(job: Job) -> None`, registered by job kind. It finishes
normally (the job is deleted), raises `RetryLater` (run again later: a 429 with Retry-After),
raises `PermanentFailure` (never run again: a 410 Gone), or raises anything else (a transient
failure, retried with the kind's backoff until `max_attempts`). Handlers must be idempotent:
a job whose worker died, or whose outcome could not be recorded, runs again.

The loop LISTENs on `federatie_jobs` with one connection of the pool, so an enqueue anywhere
wakes an idle worker as soon as its transaction commits; it polls every `poll_interval` all the
same, for jobs that become due by time (retries, delayed jobs) and in case notifications are
lost. It claims as many jobs as it has free slots, and deletes the jobs that finished since, in
one statement: a busy worker makes one round trip and one commit per batch, not two per job.
It renews the leases of running jobs every third of a lease, so a lease can be short (a crashed
worker's jobs come back quickly) while a job may run longer than one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from federatie.errors import FederatieError
from federatie.jobs.queue import NOTIFY_CHANNEL, Job, JobQueue, RetryPolicy
from federatie.storage.pool import Pool

log = logging.getLogger(__name__)

# `async def handle(job: Job) -> None`; must be idempotent (a job can run more than once).
Handler = Callable[[Job], Awaitable[None]]

# What a lost or broken database connection raises; the loop survives these and retries.
_DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class RetryLater(Exception):
    """Run the job again after `delay` (None: the kind's backoff). Counts as an attempt."""

    def __init__(self, delay: timedelta | None = None, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class PermanentFailure(Exception):
    """Retrying cannot help (the target is gone, the payload is invalid): the job dies now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def default_worker_id() -> str:
    """host:pid:random, so that the admin pages can tell which process holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(conn: PoolConnectionProxy[asyncpg.Record] | None) -> bool:
    """Whether a held pool connection still works. When the server drops it, asyncpg closes
    it and detaches the proxy, whose methods then raise InterfaceError."""
    if conn is None:
        return False
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """Runs the handlers of `queues` with up to `concurrency` jobs at a time.

    `run` holds one pool connection for its whole life (it LISTENs and claims on it); size the
    pool for that, plus what `concurrency` handlers use at once, plus one per failing job while
    its retry is recorded. One worker runs either `run` or `drain` at a time.
    """

    def __init__(
        self,
        pool: Pool,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        *,
        queues: Sequence[str] = ("default",),
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=5),
        poll_interval: float = 5.0,
        worker_id: str | None = None,
        retry_policies: Mapping[str, RetryPolicy] | None = None,
        job_timeout: float | None = None,
        shutdown_timeout: float = 30.0,
        rng: random.Random | None = None,
        startup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`startup` runs once when `run` begins (to schedule recurring jobs)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        self.pool = pool
        self.queue = queue
        self.handlers = dict(handlers)
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.worker_id = worker_id or default_worker_id()
        self.retry_policies = dict(retry_policies or {})
        self.job_timeout = job_timeout
        self.shutdown_timeout = shutdown_timeout
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._startup = startup
        self._default_policy = RetryPolicy()
        # Set while `run` waits with nothing running and nothing due (tests, health checks).
        self.idle = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], Job] = {}
        # Something changed (a notification, a job finished, stop): the loop re-evaluates.
        self._wake = asyncio.Event()
        self._notified = False
        # (id, attempt) of jobs that finished and are not yet deleted.
        self._done: list[tuple[int, int]] = []
        # The LISTENing connection while `run` runs; the loop also claims on it.
        self._listener: PoolConnectionProxy[asyncpg.Record] | None = None

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then stop claiming, let running jobs finish (at most
        `shutdown_timeout` seconds, then cancel them) and hand every lease back."""
        watcher = asyncio.create_task(self._wake_when(stop))
        try:
            self._listener = await self._listen()
            if self._startup is not None:
                await self._startup()
            # Leases stay renewed through the shutdown too, while running jobs finish.
            async with self._renewing_leases():
                try:
                    await self._loop(stop)
                finally:
                    self.idle.clear()
                    await self._shutdown()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self._unlisten(self._listener)
            self._listener = None

    async def _loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_poll = loop.time()  # claim at once on start
        more = False  # the last claim filled every free slot: more may be due
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._tasks)
            polling = loop.time() >= next_poll
            if polling and not _alive(self._listener):
                # Lost (a database restart): poll meanwhile, and listen again.
                await self._unlisten(self._listener)
                self._listener = await self._listen()
            if self._done or (free > 0 and (more or self._notified or polling)):
                # Finished jobs are deleted in the same round trip as the next claim.
                self._notified = False
                self.idle.clear()
                jobs = await self._complete_and_claim(free, self._listener)
                next_poll = loop.time() + self.poll_interval
                if jobs is None:  # the database is unreachable: wait, then retry
                    more = False
                    await self._wait(self.poll_interval)
                    continue
                if stop.is_set():
                    await self._release(jobs, started=False)
                    return
                for job in jobs:
                    self._start(job)
                more = len(jobs) == free
                continue
            if not self._tasks and not more:
                self.idle.set()
            # With free slots, sleep until the next poll; when full, until a job ends.
            await self._wait(max(0.0, next_poll - loop.time()) if free > 0 else None)

    async def drain(self, *, timeout: float = 30) -> int:  # noqa: ASYNC109 (a bound for tests)
        """Run jobs until none is due (jobs scheduled for later are left); how many ran.

        For tests and one-off commands: a test enqueues, drains, and looks at the outcome,
        instead of sleeping while a background worker gets round to it.
        """
        ran = 0
        async with asyncio.timeout(timeout), self._renewing_leases():
            while True:
                done, self._done = self._done, []
                deleted, jobs = await self.queue.complete_and_claim(
                    self.worker_id,
                    done,
                    queues=self.queues,
                    limit=self.concurrency,
                    lease=self.lease,
                )
                self._check_completed(done, deleted)
                if not jobs:
                    return ran
                tasks = [self._start(job) for job in jobs]
                try:
                    await asyncio.wait(tasks)
                except asyncio.CancelledError:
                    await self._cancel(tasks)
                    raise
                ran += len(jobs)

    # -- running one job --------------------------------------------------------------------

    def _start(self, job: Job) -> asyncio.Task[None]:
        task = asyncio.create_task(self._execute(job), name=f"job-{job.id}-{job.kind}")
        self._tasks[task] = job
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._wake.set()

    async def _execute(self, job: Job) -> None:
        """Run the handler and record the outcome. Never raises, except when cancelled."""
        handler = self.handlers.get(job.kind)
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            await self._failed(
                job,
                f"unknown job kind {job.kind!r}: this worker has no handler for it "
                f"(it handles: {known})",
                permanent=True,
            )
            return
        if job.attempts > job.max_attempts:
            # Claimed again after the lease of its last attempt expired: that run crashed its
            # worker or outlived its lease, and there are no attempts left.
            await self._failed(
                job,
                "attempts exhausted: the lease of the last attempt expired before it finished",
                permanent=True,
            )
            return
        timer = asyncio.timeout(self.job_timeout)
        try:
            async with timer:
                await handler(job)
        except RetryLater as exc:
            await self._failed(job, exc.reason, delay=exc.delay)
        except PermanentFailure as exc:
            await self._failed(job, exc.reason, permanent=True)
        except Exception as exc:
            if timer.expired():
                await self._failed(job, f"timed out after {self.job_timeout} s")
            else:
                await self._failed(job, _describe(exc), exc=exc)
        else:
            # Deleted with the next claim (one round trip per batch, not one per job).
            self._done.append((job.id, job.attempts))

    async def _failed(
        self,
        job: Job,
        error: str,
        *,
        permanent: bool = False,
        delay: timedelta | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Retry or kill, and log one line about it."""
        retry_in: timedelta | None = None
        if permanent:
            outcome = self.queue.kill(job.id, self.worker_id, error, attempt=job.attempts)
        elif job.attempts >= job.max_attempts:
            error = f"gave up after {job.attempts} attempts: {error}"
            outcome = self.queue.kill(job.id, self.worker_id, error, attempt=job.attempts)
        else:
            if delay is None:
                policy = self.retry_policies.get(job.kind, self._default_policy)
                delay = policy.delay(job.attempts, self._rng)
            retry_in = max(delay, timedelta(0))
            outcome = self.queue.retry(
                job.id, self.worker_id, error=error, delay=retry_in, attempt=job.attempts
            )
        # A traceback only for what looks like a bug, not for expected failures (a remote
        # host down) that would otherwise flood the log during an outage.
        show_traceback = exc is not None and not isinstance(exc, FederatieError)
        log.warning(
            "job.failed",
            extra={
                "job_id": job.id,
                "kind": job.kind,
                "queue": job.queue,
                "attempt": job.attempts,
                "max_attempts": job.max_attempts,
                "error": error,
                "outcome": "dead" if retry_in is None else "retry",
                "retry_in_s": None if retry_in is None else round(retry_in.total_seconds(), 3),
            },
            exc_info=exc if show_traceback else None,
        )
        await self._record(job, outcome)

    async def _record(self, job: Job, outcome: Awaitable[bool]) -> None:
        """Await a complete/retry/kill. If it fails or the lease was lost, the job's next run
        decides; that is why handlers must be idempotent."""
        try:
            if not await outcome:
                log.warning(
                    "job.lease_lost",
                    extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts},
                )
        except _DATABASE_ERRORS as exc:
            log.warning(
                "job.outcome_not_recorded",
                extra={"job_id": job.id, "kind": job.kind, "error": _describe(exc)},
            )

    # -- claiming, leases, shutdown ---------------------------------------------------------

    async def _complete_and_claim(
        self, limit: int, conn: PoolConnectionProxy[asyncpg.Record] | None = None
    ) -> list[Job] | None:
        """Flush finished jobs and claim up to `limit`; None if the database failed.

        Only the loop itself uses `conn` (the listening connection), never the job tasks, so
        that no two statements meet on it.
        """
        if not _alive(conn):
            conn = None
        done, self._done = self._done, []
        try:
            deleted, jobs = await self.queue.complete_and_claim(
                self.worker_id, done, queues=self.queues, limit=limit, lease=self.lease, conn=conn
            )
        except _DATABASE_ERRORS as exc:
            log.warning("jobs.claim_failed", extra={"error": _describe(exc)})
            # Try again with the next call; until then the jobs stay leased to us.
            self._done[:0] = done
            return None
        self._check_completed(done, deleted)
        return jobs

    def _check_completed(self, done: list[tuple[int, int]], deleted: list[int]) -> None:
        if len(deleted) == len(done):
            return
        for job_id in {job_id for job_id, _ in done} - set(deleted):
            # Its lease expired and another run took over; that run decides.
            log.warning("job.lease_lost", extra={"job_id": job_id})

    async def _release(self, jobs: Iterable[Job], *, started: bool) -> None:
        ids = [job.id for job in jobs]
        if not ids:
            return
        try:
            await self.queue.release(ids, self.worker_id, started=started)
        except _DATABASE_ERRORS as exc:
            # The leases expire by themselves; the jobs are only late.
            log.warning("jobs.release_failed", extra={"job_ids": ids, "error": _describe(exc)})

    async def _cancel(self, tasks: Iterable[asyncio.Task[None]]) -> None:
        """Cancel running jobs and hand their leases back, so they run again soon."""
        pending = {task: self._tasks.get(task) for task in tasks if not task.done()}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._release([job for job in pending.values() if job is not None], started=True)

    async def _shutdown(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=self.shutdown_timeout)
            if pending:
                log.warning(
                    "jobs.shutdown_timeout",
                    extra={"job_ids": [self._tasks[t].id for t in pending if t in self._tasks]},
                )
                await self._cancel(pending)
        if self._done:
            await self._complete_and_claim(0)

    @contextlib.asynccontextmanager
    async def _renewing_leases(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._renew_leases())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew_leases(self) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            running = {job.id: job for job in self._tasks.values()}
            if not running:
                continue
            try:
                held = set(await self.queue.extend_lease(running, self.worker_id, self.lease))
            except _DATABASE_ERRORS as exc:
                log.warning("jobs.renew_failed", extra={"error": _describe(exc)})
                continue
            still_running = {job.id for job in self._tasks.values()}
            for job_id in (running.keys() - held) & still_running:
                job = running[job_id]
                log.warning("job.lease_lost", extra={"job_id": job_id, "kind": job.kind})

    # -- waking up --------------------------------------------------------------------------

    async def _wait(self, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        if payload in self.queues:
            self._notified = True
            self._wake.set()

    async def _listen(self) -> PoolConnectionProxy[asyncpg.Record] | None:
        """A pool connection that LISTENs, or None (the loop then polls and tries again)."""
        conn: PoolConnectionProxy[asyncpg.Record] | None = None
        try:
            conn = await self.pool.acquire()
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except _DATABASE_ERRORS as exc:
            log.warning("jobs.listen_failed", extra={"error": _describe(exc)})
            if conn is not None:
                with contextlib.suppress(*_DATABASE_ERRORS):
                    await self.pool.release(conn)
            return None
        return conn

    async def _unlisten(self, conn: PoolConnectionProxy[asyncpg.Record] | None) -> None:
        if conn is None:
            return
        with contextlib.suppress(*_DATABASE_ERRORS):
            if _alive(conn):
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await self.pool.release(conn)
                return
            # A lost connection cannot UNLISTEN, and asyncpg warns that it still has our
            # listener when it goes back to the pool (which replaces it): expected here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", asyncpg.InterfaceWarning)
                await self.pool.release(conn)
