"""The job queue against a real PostgreSQL: transactions, dedupe, leases, retries, workers."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from harness import PostgresCluster

from federatie.jobs import (
    NOTIFY_CHANNEL,
    Job,
    JobQueue,
    PermanentFailure,
    RetryLater,
    RetryPolicy,
    Worker,
    backoff_delay,
)
from federatie.storage.pool import Pool, create_pool

# Retries due at once, so that drain() runs every attempt without waiting.
IMMEDIATE = RetryPolicy(base=timedelta(0), cap=timedelta(0))


@pytest.fixture(scope="module")
def jobs_database(postgres: PostgresCluster) -> str:
    """One migrated database for this module, emptied before each test: cloning a database
    per test (`database_url`) would cost more than all these tests together."""
    return asyncio.run(postgres.new_database("jobs"))


@pytest.fixture
async def pool(jobs_database: str) -> AsyncIterator[Pool]:
    pool = await create_pool(jobs_database, max_size=12)
    await pool.execute("TRUNCATE jobs RESTART IDENTITY")
    yield pool
    await close(pool)


async def close(pool: Pool) -> None:
    """Close, or terminate if a connection was left acquired (a failed test must not hang)."""
    try:
        await asyncio.wait_for(pool.close(), 5)
    except TimeoutError:
        pool.terminate()
        raise


@pytest.fixture
def queue(pool: Pool) -> JobQueue:
    return JobQueue(pool)


async def job_row(pool: Pool, job_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)


async def enqueue(pool: Pool, kind: str, payload: dict[str, Any], **options: Any) -> int:
    async with pool.acquire() as conn:
        job_id = await JobQueue.enqueue(conn, kind, payload, **options)
    assert job_id is not None
    return job_id


async def noop(job: Job) -> None:
    return None


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_delay_is_deterministic_jittered_and_capped() -> None:
    base, cap = timedelta(seconds=30), timedelta(hours=6)
    first = [backoff_delay(n, base=base, cap=cap, rng=random.Random(7)) for n in range(1, 25)]
    again = [backoff_delay(n, base=base, cap=cap, rng=random.Random(7)) for n in range(1, 25)]
    assert first == again
    for attempt, delay in enumerate(first, start=1):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        assert timedelta(0) <= delay <= ceiling
    # Full jitter spreads over the whole range: many draws of one attempt reach near both ends.
    rng = random.Random(1)
    draws = [backoff_delay(3, base=base, cap=cap, rng=rng).total_seconds() for _ in range(500)]
    assert min(draws) < 5 and max(draws) > 115
    # Huge attempt numbers are capped, not an overflow.
    assert backoff_delay(10_000, base=base, cap=cap, rng=random.Random(3)) <= cap
    with pytest.raises(ValueError):
        backoff_delay(0, base=base, cap=cap)


# -- enqueue ---------------------------------------------------------------------------------


async def test_enqueue_in_rolled_back_transaction_leaves_no_job(pool: Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await JobQueue.enqueue(conn, "test.noop", {"n": 1}) is not None
                raise RuntimeError("the service's own insert failed")
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_notification_is_sent_on_commit_only(pool: Pool) -> None:
    received: asyncio.Queue[object] = asyncio.Queue()

    def on_notify(conn: object, pid: int, channel: str, payload: object) -> None:
        received.put_nowait(payload)

    listener = await pool.acquire()
    await listener.add_listener(NOTIFY_CHANNEL, on_notify)
    try:
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await JobQueue.enqueue(conn, "test.noop", {}, queue="rolled_back")
                    raise RuntimeError
            async with conn.transaction():
                await JobQueue.enqueue(conn, "test.noop", {}, queue="delivery")
        # Notifications arrive in commit order: the rolled-back one would have come first.
        assert await asyncio.wait_for(received.get(), 5) == "delivery"
    finally:
        await listener.remove_listener(NOTIFY_CHANNEL, on_notify)
        await pool.release(listener)


async def test_dedupe_key_stores_pending_work_once(pool: Pool, queue: JobQueue) -> None:
    async with pool.acquire() as conn:
        first = await JobQueue.enqueue(conn, "actor.refresh", {"v": 1}, dedupe_key="alice")
        assert first is not None
        assert await JobQueue.enqueue(conn, "actor.refresh", {"v": 2}, dedupe_key="alice") is None
        # Keys are per kind.
        assert await JobQueue.enqueue(conn, "other.kind", {}, dedupe_key="alice") is not None
        # Duplicates within one enqueue_many are stored once too.
        ids = await JobQueue.enqueue_many(
            conn, "actor.refresh", [{}, {}, {}], dedupe_keys=["bob", "bob", None]
        )
        assert len(ids) == 2
    payload = await pool.fetchval("SELECT payload FROM jobs WHERE id = $1", first)
    assert payload == {"v": 1}

    # Once the pending job is dead (or done) the same work can be enqueued again.
    claimed = {job.id for job in await queue.claim("w", limit=10)}
    assert first in claimed
    assert await queue.kill(first, "w", "gone")
    assert await enqueue(pool, "actor.refresh", {"v": 3}, dedupe_key="alice") != first


async def test_enqueue_many_is_one_statement(pool: Pool) -> None:
    queries: list[str] = []

    def log_query(logged: Any) -> None:
        queries.append(logged.query)

    payloads = [{"inbox": f"https://host{i}.example/inbox"} for i in range(600)]
    async with pool.acquire() as conn:
        conn.add_query_logger(log_query)
        try:
            async with conn.transaction():
                ids = await JobQueue.enqueue_many(conn, "delivery.send", payloads, queue="delivery")
        finally:
            conn.remove_query_logger(log_query)
    enqueue_queries = [q for q in queries if "INSERT INTO jobs" in q]
    assert len(enqueue_queries) == 1
    assert len(ids) == 600 == len(set(ids))
    stored = await pool.fetch("SELECT payload FROM jobs WHERE queue = 'delivery' ORDER BY id")
    assert [row["payload"] for row in stored] == payloads
    async with pool.acquire() as conn:
        assert await JobQueue.enqueue_many(conn, "delivery.send", []) == []


async def test_delay_and_run_at(pool: Pool) -> None:
    job_id = await enqueue(pool, "test.noop", {}, delay=timedelta(hours=1))
    now = await pool.fetchval("SELECT now()")
    row = await job_row(pool, job_id)
    assert row is not None
    assert timedelta(minutes=59) < row["run_at"] - now <= timedelta(hours=1)
    later = now + timedelta(days=2)
    assert (await job_row(pool, await enqueue(pool, "test.noop", {}, run_at=later)))[
        "run_at"
    ] == later
    async with pool.acquire() as conn:
        with pytest.raises(ValueError):
            await JobQueue.enqueue(conn, "test.noop", {}, run_at=later, delay=timedelta(1))


# -- claiming and leases ---------------------------------------------------------------------


async def test_claim_orders_by_priority_then_age_and_respects_queues(
    pool: Pool, queue: JobQueue
) -> None:
    low = await enqueue(pool, "k", {}, priority=0)
    high = await enqueue(pool, "k", {}, priority=5)
    low2 = await enqueue(pool, "k", {}, priority=0)
    elsewhere = await enqueue(pool, "k", {}, queue="inbox")
    jobs = await queue.claim("w", queues=["default"], limit=10)
    assert [j.id for j in jobs] == [high, low, low2]
    assert all(j.attempts == 1 and j.queue == "default" for j in jobs)
    # Leased jobs are not claimed again while the lease runs.
    assert await queue.claim("w2", queues=["default"], limit=10) == []
    assert [j.id for j in await queue.claim("w2", queues=["inbox"], limit=10)] == [elsewhere]


async def test_expired_lease_is_reclaimed_and_stale_worker_cannot_complete(
    pool: Pool, queue: JobQueue
) -> None:
    job_id = await enqueue(pool, "test.slow", {})
    [stale] = await queue.claim("worker-a", limit=1)
    # Worker A hangs; its lease runs out (moved into the past rather than waited for).
    await pool.execute("UPDATE jobs SET locked_until = now() - interval '1 second'")
    [fresh] = await queue.claim("worker-b", limit=1)
    assert fresh.id == stale.id == job_id
    assert fresh.attempts == 2
    # A wakes up: none of its verdicts may touch B's run.
    assert not await queue.complete(job_id, "worker-a")
    assert not await queue.retry(job_id, "worker-a", error="x", delay=timedelta(0))
    assert not await queue.kill(job_id, "worker-a", "x")
    # The attempt number fences a worker off its own earlier run, too.
    assert not await queue.complete(job_id, "worker-b", attempt=1)
    row = await job_row(pool, job_id)
    assert row is not None and row["locked_by"] == "worker-b" and row["state"] == "queued"
    assert await queue.complete(job_id, "worker-b", attempt=2)
    assert await job_row(pool, job_id) is None


async def test_extend_and_release_lease(pool: Pool, queue: JobQueue) -> None:
    job_id = await enqueue(pool, "k", {})
    [job] = await queue.claim("w", limit=1, lease=timedelta(seconds=10))
    assert await queue.extend_lease([job.id], "other", timedelta(hours=1)) == []
    assert await queue.extend_lease([job.id], "w", timedelta(hours=1)) == [job_id]
    remaining = await pool.fetchval("SELECT locked_until - now() FROM jobs")
    assert remaining > timedelta(minutes=59)
    # A job handed back unstarted gets its attempt back and is due at once.
    assert await queue.release([job_id], "w", started=False) == [job_id]
    [again] = await queue.claim("w2", limit=1)
    assert again.attempts == 1


class RenewalCountingQueue(JobQueue):
    """Signals each lease renewal, so that the test waits for renewals, not for time."""

    def __init__(self, pool: Pool, renewals_wanted: int) -> None:
        super().__init__(pool)
        self.renewals = 0
        self.renewed_enough = asyncio.Event()
        self._wanted = renewals_wanted

    async def extend_lease(
        self, job_ids: Iterable[int], worker_id: str, lease: timedelta
    ) -> list[int]:
        held = await super().extend_lease(job_ids, worker_id, lease)
        if held:
            self.renewals += 1
            if self.renewals >= self._wanted:
                self.renewed_enough.set()
        return held


async def test_running_jobs_keep_their_lease(pool: Pool) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def long(job: Job) -> None:
        started.set()
        await release.wait()

    job_id = await enqueue(pool, "long", {})
    # A 0.3 s lease renewed every 0.1 s: after 5 renewals the job has outlived its first lease
    # and is still not claimable by anyone else.
    queue = RenewalCountingQueue(pool, renewals_wanted=5)
    worker = Worker(pool, queue, {"long": long}, lease=timedelta(seconds=0.3))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(started.wait(), 5)
        first = await pool.fetchval("SELECT locked_until FROM jobs WHERE id = $1", job_id)
        await asyncio.wait_for(queue.renewed_enough.wait(), 5)
        assert await pool.fetchval("SELECT locked_until FROM jobs") > first
        assert await queue.claim("other", limit=1) == []
    finally:
        release.set()
        stop.set()
        await task
    assert await job_row(pool, job_id) is None


# -- running jobs ----------------------------------------------------------------------------


async def test_two_workers_run_a_thousand_jobs_each_exactly_once(
    pool: Pool, jobs_database: str
) -> None:
    pool_a = pool
    pool_b = await create_pool(jobs_database, max_size=10)
    runs: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()
    all_ran = asyncio.Event()

    def handler_for(name: str) -> Any:
        async def handle(job: Job) -> None:
            await asyncio.sleep(0)  # let the other jobs of this worker interleave
            runs[job.payload["n"]] += 1
            by_worker[name] += 1
            if sum(runs.values()) >= 1000:
                all_ran.set()

        return handle

    try:
        async with pool_a.acquire() as conn:
            await JobQueue.enqueue_many(conn, "test.count", [{"n": n} for n in range(1000)])
        workers = [
            Worker(pool, JobQueue(pool), {"test.count": handler_for(name)}, worker_id=name)
            for name, pool in (("a", pool_a), ("b", pool_b))
        ]
        stop = asyncio.Event()
        running = [asyncio.create_task(w.run(stop)) for w in workers]
        await asyncio.wait_for(all_ran.wait(), 15)
        stop.set()
        await asyncio.gather(*running)
        assert sorted(runs) == list(range(1000))
        assert max(runs.values()) == 1, [n for n, c in runs.items() if c > 1]
        assert by_worker["a"] > 0 and by_worker["b"] > 0
        assert await pool_a.fetchval("SELECT count(*) FROM jobs") == 0
    finally:
        await close(pool_b)


async def test_retry_later_sets_run_at_and_logs_one_line(
    pool: Pool, queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    async def rate_limited(job: Job) -> None:
        raise RetryLater(timedelta(hours=1), "429 Too Many Requests, Retry-After: 3600")

    job_id = await enqueue(pool, "delivery.send", {})
    worker = Worker(pool, queue, {"delivery.send": rate_limited})
    with caplog.at_level(logging.WARNING, logger="federatie.jobs.worker"):
        before = await pool.fetchval("SELECT now()")
        assert await worker.drain() == 1
        after = await pool.fetchval("SELECT now()")
    row = await job_row(pool, job_id)
    assert row is not None
    assert before + timedelta(hours=1) <= row["run_at"] <= after + timedelta(hours=1)
    assert row["state"] == "queued" and row["attempts"] == 1
    assert row["locked_by"] is None and row["locked_until"] is None
    assert "Retry-After" in row["last_error"]
    [record] = [r for r in caplog.records if r.getMessage() == "job.failed"]
    assert record.job_id == job_id  # type: ignore[attr-defined]
    assert record.kind == "delivery.send"  # type: ignore[attr-defined]
    assert record.attempt == 1  # type: ignore[attr-defined]
    assert record.outcome == "retry"  # type: ignore[attr-defined]
    assert "429" in record.error  # type: ignore[attr-defined]
    # Not due: a second drain runs nothing.
    assert await worker.drain() == 0


async def test_transient_failure_uses_the_kinds_backoff(pool: Pool, queue: JobQueue) -> None:
    async def flaky(job: Job) -> None:
        raise ConnectionResetError("peer reset")

    job_id = await enqueue(pool, "flaky", {})
    policy = RetryPolicy(base=timedelta(minutes=10), cap=timedelta(minutes=10))
    worker = Worker(pool, queue, {"flaky": flaky}, retry_policies={"flaky": policy})
    before = await pool.fetchval("SELECT now()")
    assert await worker.drain() == 1
    row = await job_row(pool, job_id)
    assert row is not None and row["state"] == "queued"
    assert before <= row["run_at"] <= before + timedelta(minutes=10, seconds=5)
    assert row["last_error"] == "ConnectionResetError: peer reset"


async def test_permanent_failure_kills_at_once(pool: Pool, queue: JobQueue) -> None:
    async def gone(job: Job) -> None:
        raise PermanentFailure("410 Gone")

    job_id = await enqueue(pool, "delivery.send", {})
    assert await Worker(pool, queue, {"delivery.send": gone}).drain() == 1
    row = await job_row(pool, job_id)
    assert row is not None
    assert row["state"] == "dead" and row["last_error"] == "410 Gone" and row["attempts"] == 1
    assert row["died_at"] is not None and row["locked_by"] is None


async def test_exhausted_attempts_make_the_job_dead(pool: Pool, queue: JobQueue) -> None:
    calls = 0

    async def broken(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"bug on attempt {job.attempts}")

    job_id = await enqueue(pool, "broken", {}, max_attempts=3)
    worker = Worker(pool, queue, {"broken": broken}, retry_policies={"broken": IMMEDIATE})
    assert await worker.drain() == 3
    assert calls == 3
    row = await job_row(pool, job_id)
    assert row is not None and row["state"] == "dead" and row["attempts"] == 3
    assert row["last_error"] == "gave up after 3 attempts: ValueError: bug on attempt 3"


async def test_lease_expired_on_last_attempt_dies_without_running(
    pool: Pool, queue: JobQueue
) -> None:
    job_id = await enqueue(pool, "k", {}, max_attempts=1)
    await queue.claim("crashed", limit=1)
    await pool.execute("UPDATE jobs SET locked_until = now() - interval '1 second'")
    ran: list[Job] = []

    async def handle(job: Job) -> None:
        ran.append(job)

    assert await Worker(pool, queue, {"k": handle}).drain() == 1
    assert ran == []
    row = await job_row(pool, job_id)
    assert row is not None and row["state"] == "dead" and "lease" in row["last_error"]


async def test_unknown_kind_dies_with_a_clear_error(pool: Pool, queue: JobQueue) -> None:
    job_id = await enqueue(pool, "no.such.kind", {})
    assert await Worker(pool, queue, {"known": noop}).drain() == 1
    row = await job_row(pool, job_id)
    assert row is not None and row["state"] == "dead"
    assert "unknown job kind 'no.such.kind'" in row["last_error"]
    assert "known" in row["last_error"]


async def test_drain_counts_runs_and_leaves_future_jobs(pool: Pool, queue: JobQueue) -> None:
    async with pool.acquire() as conn:
        await JobQueue.enqueue_many(conn, "test.noop", [{"n": n} for n in range(20)])
        await JobQueue.enqueue(conn, "test.noop", {"later": True}, delay=timedelta(hours=1))
    worker = Worker(pool, queue, {"test.noop": noop}, concurrency=4)
    assert await worker.drain() == 20
    assert await worker.drain() == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1


async def test_notify_wakes_an_idle_worker(pool: Pool, queue: JobQueue) -> None:
    ran = asyncio.Event()

    async def handle(job: Job) -> None:
        ran.set()

    worker = Worker(pool, queue, {"wake": handle}, queues=["inbox"], poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.idle.wait(), 5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with pool.acquire() as conn, conn.transaction():
            await JobQueue.enqueue(conn, "wake", {}, queue="inbox")
        await asyncio.wait_for(ran.wait(), 2)
        assert loop.time() - started < 2
    finally:
        stop.set()
        await task
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_worker_survives_losing_its_listening_connection(pool: Pool, queue: JobQueue) -> None:
    ran: asyncio.Queue[int] = asyncio.Queue()

    async def handle(job: Job) -> None:
        ran.put_nowait(job.payload["n"])

    worker = Worker(pool, queue, {"k": handle}, poll_interval=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.idle.wait(), 5)
        # The database drops the connection the worker listens (and claims) on.
        lost = worker._listener
        assert lost is not None
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", lost.get_server_pid())
        # Polling carries on, and at the next poll the worker listens on a new connection.
        await enqueue(pool, "k", {"n": 1})
        assert await asyncio.wait_for(ran.get(), 5) == 1
        async with asyncio.timeout(5):
            while worker._listener is None or worker._listener is lost:
                worker.idle.clear()
                await worker.idle.wait()
        assert not worker._listener.is_closed()
        await enqueue(pool, "k", {"n": 2})
        assert await asyncio.wait_for(ran.get(), 5) == 2
    finally:
        stop.set()
        await task


async def test_stop_waits_for_the_running_job(pool: Pool, queue: JobQueue) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def slow(job: Job) -> None:
        started.set()
        await release.wait()
        finished.append(job.id)

    job_id = await enqueue(pool, "slow", {})
    worker = Worker(pool, queue, {"slow": slow})
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    # run() stays in its shutdown while the job runs; nothing else gets claimed meanwhile.
    await enqueue(pool, "slow", {"second": True})
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert not done
    release.set()
    await asyncio.wait_for(task, 5)
    assert finished == [job_id]
    assert await job_row(pool, job_id) is None
    rows = await pool.fetch("SELECT attempts, locked_by FROM jobs")
    assert [(r["attempts"], r["locked_by"]) for r in rows] == [(0, None)]


async def test_shutdown_bound_cancels_and_hands_the_lease_back(pool: Pool, queue: JobQueue) -> None:
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    job_id = await enqueue(pool, "stuck", {})
    worker = Worker(pool, queue, {"stuck": stuck}, shutdown_timeout=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    row = await job_row(pool, job_id)
    assert row is not None
    assert row["locked_by"] is None and row["locked_until"] is None
    assert row["attempts"] == 1 and row["state"] == "queued"


async def test_job_timeout_is_a_transient_failure(pool: Pool, queue: JobQueue) -> None:
    async def hangs(job: Job) -> None:
        await asyncio.Event().wait()

    job_id = await enqueue(pool, "hangs", {})
    worker = Worker(pool, queue, {"hangs": hangs}, job_timeout=0.05)
    assert await worker.drain() == 1
    row = await job_row(pool, job_id)
    assert row is not None and row["state"] == "queued"
    assert row["last_error"] == "timed out after 0.05 s"


async def test_stats_counts_per_queue_and_kind(pool: Pool, queue: JobQueue) -> None:
    async with pool.acquire() as conn:
        await JobQueue.enqueue_many(conn, "delivery.send", [{}, {}, {}], queue="delivery")
        await JobQueue.enqueue(conn, "delivery.send", {}, queue="delivery", delay=timedelta(1))
        await JobQueue.enqueue(conn, "inbox.process", {}, queue="inbox")
    [claimed] = await queue.claim("w", queues=["delivery"], limit=1)
    [dying] = await queue.claim("w", queues=["inbox"], limit=1)
    await queue.kill(dying.id, "w", "bad")
    stats = {(s.queue, s.kind): s for s in await queue.stats()}
    delivery = stats["delivery", "delivery.send"]
    assert (delivery.queued, delivery.due, delivery.leased, delivery.dead) == (4, 2, 1, 0)
    assert delivery.oldest_due_seconds >= 0
    inbox = stats["inbox", "inbox.process"]
    assert (inbox.queued, inbox.due, inbox.leased, inbox.dead) == (0, 0, 0, 1)
    assert claimed.kind == "delivery.send"
