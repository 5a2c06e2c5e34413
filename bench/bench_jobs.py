"""What the job queue costs, against the plainest SQL that does the same work, in one run.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory and migrates it. Then:

- enqueue: `JobQueue.enqueue_many` in fan-out sized batches (one transaction each), against a
  raw single-statement INSERT of the same rows (no dedupe, no notify, no RETURNING) as ceiling;
- run: jobs claimed, run by a no-op handler and completed by `Worker.run`, with one worker at
  concurrency 1 and with two workers (own pools) at concurrency 8, against a raw
  claim-and-delete loop (`DELETE … SKIP LOCKED … RETURNING`, at most once, one round trip per
  batch) with the same number of connections and batch size as ceiling.

Output lines:

    jobs_enqueue_per_s 40000 ceiling 60000 ratio 0.67
    jobs_run_per_s_c1 1500 ceiling 4000 ratio 0.38
    jobs_run_per_s_2w 5000 ceiling 9000 ratio 0.55

Usage: python bench/bench_jobs.py [--jobs N] [--batch B] [--repeat R] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from common import write_json

from federatie.jobs import Job, JobQueue, Worker
from federatie.storage.embedded import start_embedded_postgres
from federatie.storage.migrate import migrate
from federatie.storage.pool import Pool, create_pool

KIND = "bench.noop"

_RAW_INSERT = """INSERT INTO jobs (kind, payload, queue)
                 SELECT $1, p, 'default' FROM jsonb_array_elements($2::text::jsonb) p"""

_RAW_DEQUEUE = """DELETE FROM jobs WHERE id = ANY(ARRAY(
                      SELECT id FROM jobs
                      WHERE state = 'queued' AND queue = 'default' AND run_at <= now()
                      ORDER BY priority DESC, run_at LIMIT $1 FOR UPDATE SKIP LOCKED))
                  RETURNING id, kind, payload"""


def payloads(n: int) -> list[dict[str, Any]]:
    """Delivery-like payloads: a host and an activity, about 60 bytes of JSON each."""
    return [{"host": f"host{i % 997}.example.org", "activity_id": 10_000 + i} for i in range(n)]


async def reset(pool: Pool) -> None:
    await pool.execute("TRUNCATE jobs")
    await pool.execute("VACUUM ANALYZE jobs")


async def enqueue_ours(pool: Pool, rows: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await JobQueue.enqueue_many(conn, KIND, rows[i : i + batch])
    return time.perf_counter() - started


async def enqueue_raw(pool: Pool, rows: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.execute(_RAW_INSERT, KIND, orjson.dumps(rows[i : i + batch]).decode())
    return time.perf_counter() - started


async def run_workers(pools: list[Pool], n: int, concurrency: int) -> float:
    """Time for `Worker.run` on each pool to run all n queued jobs."""
    done = asyncio.Event()
    count = 0

    async def handle(job: Job) -> None:
        nonlocal count
        count += 1
        if count >= n:
            done.set()

    workers = [
        Worker(p, JobQueue(p), {KIND: handle}, concurrency=concurrency, poll_interval=1.0)
        for p in pools
    ]
    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    await done.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    return elapsed


async def dequeue_raw(pools: list[Pool], n: int, batch: int) -> float:
    """Time for one claim-and-delete loop per pool to empty the table."""
    taken = 0

    async def drain(pool: Pool) -> None:
        nonlocal taken
        async with pool.acquire() as conn:
            while taken < n:
                rows = await conn.fetch(_RAW_DEQUEUE, batch)
                if not rows:
                    return
                taken += len(rows)

    started = time.perf_counter()
    await asyncio.gather(*(drain(p) for p in pools))
    return time.perf_counter() - started


async def fill(pool: Pool, n: int) -> None:
    async with pool.acquire() as conn:
        await JobQueue.enqueue_many(conn, KIND, payloads(n))
    await pool.execute("VACUUM ANALYZE jobs")


async def run(dsn: str, jobs: int, batch: int, repeat: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(dsn, max_size=12)
    second = await create_pool(dsn, max_size=12)
    # Each figure is the best of `repeat` rounds, ours and the ceiling taken in turn, so that
    # other load on the machine does not favour one side.
    best: dict[str, float] = {}

    def record(name: str, seconds: float) -> None:
        best[name] = max(best.get(name, 0.0), jobs / seconds)

    try:
        rows = payloads(jobs)
        # Warm both paths (plans, caches) on a small set.
        await enqueue_raw(pool, rows[: batch * 2], batch)
        await enqueue_ours(pool, rows[: batch * 2], batch)
        for _ in range(repeat):
            await reset(pool)
            record("ceiling_enqueue_per_s", await enqueue_raw(pool, rows, batch))
            await reset(pool)
            record("jobs_enqueue_per_s", await enqueue_ours(pool, rows, batch))
            for name, pools, concurrency in (("c1", [pool], 1), ("2w", [pool, second], 8)):
                await reset(pool)
                await fill(pool, jobs)
                record(f"jobs_run_per_s_{name}", await run_workers(pools, jobs, concurrency))
                await reset(pool)
                await fill(pool, jobs)
                record(f"ceiling_run_per_s_{name}", await dequeue_raw(pools, jobs, concurrency))
    finally:
        await pool.close()
        await second.close()
    figures: dict[str, Any] = {"jobs": jobs, "batch": batch, "repeat": repeat, **best}
    figures["enqueue_ratio"] = best["jobs_enqueue_per_s"] / best["ceiling_enqueue_per_s"]
    for name in ("c1", "2w"):
        figures[f"run_ratio_{name}"] = (
            best[f"jobs_run_per_s_{name}"] / best[f"ceiling_run_per_s_{name}"]
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per measurement")
    parser.add_argument("--batch", type=int, default=500, help="jobs per enqueue_many (fan-out)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    directory = Path(tempfile.mkdtemp(prefix="federatie-bench-jobs-"))
    server = None
    try:
        server, dsn = start_embedded_postgres(directory)
        r = asyncio.run(run(dsn, args.jobs, args.batch, args.repeat))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)

    print(
        f"jobs_enqueue_per_s {r['jobs_enqueue_per_s']:.0f} "
        f"ceiling {r['ceiling_enqueue_per_s']:.0f} ratio {r['enqueue_ratio']:.2f}"
    )
    for name in ("c1", "2w"):
        print(
            f"jobs_run_per_s_{name} {r[f'jobs_run_per_s_{name}']:.0f} "
            f"ceiling {r[f'ceiling_run_per_s_{name}']:.0f} ratio {r[f'run_ratio_{name}']:.2f}"
        )
    write_json(args.json, r)


if __name__ == "__main__":
    main()
