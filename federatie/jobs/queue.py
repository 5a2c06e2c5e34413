"""The `jobs` table as a durable queue: enqueue in the caller's transaction, claim with leases.

Why PostgreSQL and not a separate broker: a service stores its rows and enqueues the follow-up
work in one transaction, so a crash can never leave a stored post without its deliveries, or
deliveries for a post that was rolled back. `pg_notify` is sent in that same transaction and
delivered on commit, which wakes idle workers at once.

Claiming is `UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED))`: concurrent
workers skip each other's rows instead of queueing on them. The same statement deletes the
jobs the worker finished since its last claim, so a busy worker needs one round trip per batch.
A claim is a lease (`locked_until`), not a state change; a worker that dies mid-job simply
stops renewing it, and once it expires the job is claimable again. Delivery is therefore at
least once, and every handler must be idempotent. `complete`, `retry` and `kill` act only while
`locked_by` (and, when given, the attempt number) still match, so a worker whose lease expired
and whose job was re-claimed by another worker cannot delete or reschedule the other worker's run.

Finished jobs are deleted, which keeps the table and its claim index small. Dead jobs (a
permanent failure, an unknown kind, or attempts exhausted) stay with state 'dead' and their
last error for the admin pages.

Retry schedule. After failed attempt n a job waits `backoff_delay(n)`: a uniformly random
delay between 0 and min(cap, base * 2**(n - 1)) ("full jitter", so that the 600 deliveries of
one post to a host that is down do not all come back at the same second). With the defaults
(base 30 s, cap 6 h, `max_attempts` 20, so at most 19 waits):

    after attempt  1    2     3     4     5      6      7      8     9     10    11 … 19
    wait at most   30s  1m    2m    4m    8m     16m    32m    64m   128m  256m  6h each
    total at most  30s  1.5m  3.5m  7.5m  15.5m  31.5m  63.5m  2.1h  4.3h  8.5h  14.5h … 62.5h

The expected wait is half the ceiling, so a job that keeps failing is given up after about
31 hours on average (at most 62.5 hours, 2.6 days) and 20 attempts. For comparison, Mastodon's
ActivityPub::DeliveryWorker retries 16 times on Sidekiq's (n**4 + 15 + jitter) schedule,
about 50 hours in all. A host that is down for a day is thus still reached when it returns.
`RetryPolicy` changes base and cap per job kind; `max_attempts` is set per job at enqueue.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from federatie.storage.pool import Connection, Pool

NOTIFY_CHANNEL = "federatie_jobs"
_NAME = re.compile(r"[a-z][a-z0-9_.]*")
DEFAULT_QUEUE = "default"
DEFAULT_MAX_ATTEMPTS = 20
# Error texts are for people reading the admin pages, not for storing whole tracebacks.
_MAX_ERROR_LENGTH = 4000
# 2**62 seconds is beyond any cap; clamping the exponent keeps float arithmetic finite.
_MAX_EXPONENT = 62


@dataclass(frozen=True)
class Job:
    """One claimed job, as a handler sees it. `attempts` counts this run (1 on the first)."""

    id: int
    kind: str
    payload: dict[str, Any]
    queue: str
    attempts: int
    max_attempts: int
    created_at: datetime
    run_at: datetime


@dataclass(frozen=True)
class JobStats:
    """Counts for one (queue, kind): for admin pages and metrics.

    `queued` is every pending job (due, scheduled for later, or running); `due` those a worker
    could claim now; `leased` those running; `dead` those given up. `oldest_due_seconds` is how
    long the oldest due job has waited: the queue's lag, the figure to alert on.
    """

    queue: str
    kind: str
    queued: int
    due: int
    leased: int
    dead: int
    oldest_due_seconds: float


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters of one job kind (see the module docstring for the schedule)."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        return backoff_delay(attempt, base=self.base, cap=self.cap, rng=rng)


def backoff_delay(
    attempt: int, *, base: timedelta, cap: timedelta, rng: random.Random | None = None
) -> timedelta:
    """How long to wait after failed attempt `attempt` (1-based): exponential, full jitter.

    Uniform in [0, min(cap, base * 2**(attempt - 1))]. Pure given `rng`, so tests pass a
    seeded `random.Random`.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    exponent = min(attempt - 1, _MAX_EXPONENT)
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0**exponent)
    return timedelta(seconds=(rng or random).uniform(0.0, max(ceiling, 0.0)))


def _error_text(error: str) -> str:
    return error if len(error) <= _MAX_ERROR_LENGTH else error[: _MAX_ERROR_LENGTH - 1] + "…"


def enqueue_for_each(rows: str, payload: str, *, kind: str, queue: str = DEFAULT_QUEUE) -> str:
    """An INSERT of one job of `kind` for each row of `rows` (a CTE or table of the enclosing
    statement), its payload the SQL expression `payload` over that row, for use as a CTE: a
    write and the job that processes it in one statement, atomic without BEGIN and COMMIT
    (each a round trip). Workers on `queue` are woken as `enqueue` wakes them (PostgreSQL
    sends one notification per channel and payload per transaction). `kind` and `queue` are
    names from code, never input."""
    for name in (kind, queue):
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a job kind or queue name: {name!r}")
    return f"""INSERT INTO jobs (kind, payload, queue)
        SELECT '{kind}', {payload}, '{queue}' FROM {rows}
        RETURNING id, pg_notify('{NOTIFY_CHANNEL}', '{queue}')"""


# One statement for one job or many: the payloads travel as one JSON array, and the
# notification is sent once, only if something was stored. With dedupe keys, ROWS FROM pairs
# each payload with its key and ON CONFLICT skips the pending duplicates; without (a fan-out),
# the plain INSERT spares every row the speculative insertion ON CONFLICT needs (about a
# third of the cost in bench/bench_jobs.py).
_ENQUEUE = """
WITH inserted AS (
    INSERT INTO jobs (kind, payload, queue, priority, run_at, max_attempts, dedupe_key)
    SELECT $1, p.payload, $3, $4,
           coalesce($5::timestamptz, now() + coalesce($6::interval, interval '0')),
           $7, {dedupe_key}
    FROM {source}
    {on_conflict}
    RETURNING id
)
SELECT coalesce(array_agg(id ORDER BY id), '{{}}') AS ids,
       CASE WHEN count(*) > 0 THEN pg_notify('{channel}', $3) END AS notified
FROM inserted
"""
_ENQUEUE_PLAIN = _ENQUEUE.format(
    dedupe_key="NULL",
    source="jsonb_array_elements($2::text::jsonb) AS p(payload)",
    on_conflict="",
    channel=NOTIFY_CHANNEL,
)
_ENQUEUE_DEDUPED = _ENQUEUE.format(
    dedupe_key="p.dedupe_key",
    source="ROWS FROM (jsonb_array_elements($2::text::jsonb), unnest($8::text[]))\n"
    "         AS p(payload, dedupe_key)",
    on_conflict="ON CONFLICT (kind, dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL"
    "\n    DO NOTHING",
    channel=NOTIFY_CHANNEL,
)

# Claim and complete in one statement, so that a busy worker makes one round trip (and one
# commit) per batch: `done` deletes the jobs this worker finished since its last call,
# `claimed` leases new ones. The claim takes each queue separately (LATERAL), so that the
# equality on `queue` lets the jobs_claim index deliver rows already in priority order and the
# scan stops after `$4` rows, however long the backlog; `= ANY(queues)` would sort the whole
# backlog on every claim. A finished job is leased to us, so `claimed` cannot pick it up again.
_COMPLETE_AND_CLAIM = """
WITH done AS (
    DELETE FROM jobs j
    USING unnest($5::bigint[], $6::integer[]) AS d(id, attempts)
    WHERE j.id = d.id AND j.attempts = d.attempts AND j.locked_by = $1
    RETURNING j.id
), claimed AS (
    UPDATE jobs
    SET locked_by = $1, locked_until = now() + $2::interval, attempts = attempts + 1
    WHERE id = ANY(ARRAY(
        SELECT c.id
        FROM unnest($3::text[]) AS q(name)
        CROSS JOIN LATERAL (
            SELECT id, priority, run_at FROM jobs
            WHERE state = 'queued' AND queue = q.name AND run_at <= now()
              AND (locked_until IS NULL OR locked_until < now())
            ORDER BY priority DESC, run_at
            LIMIT $4
            FOR UPDATE SKIP LOCKED
        ) AS c
        ORDER BY c.priority DESC, c.run_at
        LIMIT $4))
    RETURNING id, kind, payload, queue, attempts, max_attempts, created_at, run_at, priority
)
SELECT true AS claimed, * FROM claimed
UNION ALL
SELECT false, id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM done
"""

# `$3` is the attempt the caller ran, or NULL to match any: a fencing token that tells this
# run of the job from a later run by the same worker after its own lease expired.
_MINE = "id = $1 AND locked_by = $2 AND ($3::integer IS NULL OR attempts = $3)"


class JobQueue:
    """Enqueue (on the caller's connection) and claim/complete (on the pool's connections)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @staticmethod
    async def enqueue(
        conn: Connection,
        kind: str,
        payload: dict[str, Any],
        *,
        queue: str = DEFAULT_QUEUE,
        run_at: datetime | None = None,
        delay: timedelta | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        dedupe_key: str | None = None,
    ) -> int | None:
        """Store one job in the caller's transaction; its id, or None if deduplicated.

        A job with a `dedupe_key` is not stored when a pending job of the same kind has the
        same key. A job that is running counts as pending: if the work must happen again after
        a running job has read its input, put a version into the key.
        """
        ids = await JobQueue.enqueue_many(
            conn,
            kind,
            [payload],
            queue=queue,
            run_at=run_at,
            delay=delay,
            priority=priority,
            max_attempts=max_attempts,
            dedupe_keys=None if dedupe_key is None else [dedupe_key],
        )
        return ids[0] if ids else None

    @staticmethod
    async def enqueue_many(
        conn: Connection,
        kind: str,
        payloads: Sequence[dict[str, Any]],
        *,
        queue: str = DEFAULT_QUEUE,
        run_at: datetime | None = None,
        delay: timedelta | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        dedupe_keys: Sequence[str | None] | None = None,
    ) -> list[int]:
        """Store many jobs of one kind in one statement (a fan-out to 600 inboxes is one round
        trip); the ids stored, deduplicated ones left out."""
        if not payloads:
            return []
        if dedupe_keys is not None and len(dedupe_keys) != len(payloads):
            raise ValueError("dedupe_keys must have one entry per payload")
        if run_at is not None and delay is not None:
            raise ValueError("give run_at or delay, not both")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        # Encoded here rather than by the connection's codec, so that any connection will do.
        args: list[Any] = [
            kind,
            orjson.dumps(payloads).decode(),
            queue,
            priority,
            run_at,
            delay,
            max_attempts,
        ]
        if dedupe_keys is None or all(key is None for key in dedupe_keys):
            row = await conn.fetchrow(_ENQUEUE_PLAIN, *args)
        else:
            row = await conn.fetchrow(_ENQUEUE_DEDUPED, *args, list(dedupe_keys))
        assert row is not None
        ids: list[int] = row["ids"]
        return ids

    async def claim(
        self,
        worker_id: str,
        *,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        limit: int = 1,
        lease: timedelta = timedelta(minutes=5),
    ) -> list[Job]:
        """Lease up to `limit` due jobs to `worker_id`, highest priority and oldest first.

        Each claim counts an attempt. Jobs whose lease has expired are claimable again.
        """
        _, jobs = await self.complete_and_claim(
            worker_id, (), queues=queues, limit=limit, lease=lease
        )
        return jobs

    async def complete_and_claim(
        self,
        worker_id: str,
        completed: Iterable[tuple[int, int]],
        *,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        limit: int = 1,
        lease: timedelta = timedelta(minutes=5),
        conn: Connection | None = None,
    ) -> tuple[list[int], list[Job]]:
        """Delete the finished jobs `completed` ((id, attempt) pairs) and claim up to `limit`
        more, in one statement; the ids actually deleted (those whose lease was still ours)
        and the jobs claimed, highest priority and oldest first.

        `conn`: a connection the caller holds (the worker's listening one), which saves the
        pool's acquire and reset round trip on the hot path; by default one from the pool.
        """
        done = list(completed)
        args = (
            worker_id,
            lease,
            list(queues),
            limit,
            [job_id for job_id, _ in done],
            [attempt for _, attempt in done],
        )
        if conn is not None:
            rows = await conn.fetch(_COMPLETE_AND_CLAIM, *args)
        else:
            async with self.pool.acquire() as pooled:
                rows = await pooled.fetch(_COMPLETE_AND_CLAIM, *args)
        deleted = [row["id"] for row in rows if not row["claimed"]]
        claimed = sorted(
            (row for row in rows if row["claimed"]),
            key=lambda row: (-row["priority"], row["run_at"], row["id"]),
        )
        jobs = [
            Job(
                id=row["id"],
                kind=row["kind"],
                payload=row["payload"],
                queue=row["queue"],
                attempts=row["attempts"],
                max_attempts=row["max_attempts"],
                created_at=row["created_at"],
                run_at=row["run_at"],
            )
            for row in claimed
        ]
        return deleted, jobs

    async def complete(self, job_id: int, worker_id: str, *, attempt: int | None = None) -> bool:
        """Delete a finished job; False (and nothing done) if the lease is no longer ours."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                f"DELETE FROM jobs WHERE {_MINE}", job_id, worker_id, attempt
            )
        return status == "DELETE 1"

    async def retry(
        self,
        job_id: int,
        worker_id: str,
        *,
        error: str,
        at: datetime | None = None,
        delay: timedelta | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Give the job back, due at `at` (or `delay` from the database's now), with `error`.

        `delay` is measured on the database clock, the one the claim query compares with.
        """
        if (at is None) == (delay is None):
            raise ValueError("give exactly one of at and delay")
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                f"""UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_error = $4,
                           run_at = coalesce($5::timestamptz, now() + $6::interval)
                    WHERE {_MINE}""",
                job_id,
                worker_id,
                attempt,
                _error_text(error),
                at,
                delay,
            )
        return status == "UPDATE 1"

    async def kill(
        self, job_id: int, worker_id: str, error: str, *, attempt: int | None = None
    ) -> bool:
        """Give up on the job: it stays as 'dead' with `error` for the admin pages."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                f"""UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL,
                           last_error = $4, died_at = now()
                    WHERE {_MINE}""",
                job_id,
                worker_id,
                attempt,
                _error_text(error),
            )
        return status == "UPDATE 1"

    async def extend_lease(
        self, job_ids: Iterable[int], worker_id: str, lease: timedelta
    ) -> list[int]:
        """Renew the leases of running jobs to now + `lease`; the ids that are still ours."""
        ids = list(job_ids)
        if not ids:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE jobs SET locked_until = now() + $3::interval
                   WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'queued'
                   RETURNING id""",
                ids,
                worker_id,
                lease,
            )
        return [row["id"] for row in rows]

    async def release(self, job_ids: Iterable[int], worker_id: str, *, started: bool) -> list[int]:
        """Hand leased jobs back without a verdict, due at once (a worker shutting down).

        A job that was never `started` gets its attempt back.
        """
        ids = list(job_ids)
        if not ids:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE jobs SET locked_by = NULL, locked_until = NULL,
                           attempts = attempts - CASE WHEN $3 THEN 0 ELSE 1 END
                   WHERE id = ANY($1::bigint[]) AND locked_by = $2 AND state = 'queued'
                   RETURNING id""",
                ids,
                worker_id,
                started,
            )
        return [row["id"] for row in rows]

    async def stats(self) -> list[JobStats]:
        """Counts per (queue, kind), for admin pages and metrics."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT queue, kind,
                       count(*) FILTER (WHERE state = 'queued') AS queued,
                       count(*) FILTER (WHERE state = 'queued' AND run_at <= now()
                           AND (locked_until IS NULL OR locked_until < now())) AS due,
                       count(*) FILTER (WHERE state = 'queued' AND locked_until >= now())
                           AS leased,
                       count(*) FILTER (WHERE state = 'dead') AS dead,
                       coalesce(extract(epoch FROM now() - min(run_at) FILTER (
                           WHERE state = 'queued' AND run_at <= now()
                             AND (locked_until IS NULL OR locked_until < now()))), 0)::float8
                           AS oldest_due_seconds
                   FROM jobs GROUP BY queue, kind ORDER BY queue, kind"""
            )
        return [
            JobStats(
                queue=row["queue"],
                kind=row["kind"],
                queued=row["queued"],
                due=row["due"],
                leased=row["leased"],
                dead=row["dead"],
                oldest_due_seconds=row["oldest_due_seconds"],
            )
            for row in rows
        ]
