"""Hourly clean-up as a job: expired web sessions, old rate-limit windows, and media uploaded
through the client API that no status took within a day (as Mastodon removes them).

A job rather than a timer in each process, so that one of any number of workers does it. Each
run schedules the next under the key of its hour; a worker that starts schedules a run under
the current hour's key, which the queue drops when that hour's run is still pending, so there
is one chain however often workers restart.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from federatie.jobs.queue import Job, JobQueue
from federatie.storage import media as media_sql
from federatie.storage import rate_limits
from federatie.storage import sessions as sessions_sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime

HOUSEKEEPING = "housekeeping"
INTERVAL = timedelta(hours=1)
# Rate-limit windows are at most this long; older rows count for nothing.
OLDEST_WINDOW = timedelta(days=1)
# An upload becomes a status's attachment within minutes; after a day it never will.
UNATTACHED_MEDIA_AGE = timedelta(days=1)

log = logging.getLogger(__name__)


def _hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


class Housekeeping:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def schedule(self) -> None:
        async with self._rt.pool.acquire() as conn:
            await JobQueue.enqueue(
                conn, HOUSEKEEPING, {}, dedupe_key=_hour_key(datetime.now(UTC))
            )

    async def run(self, job: Job) -> None:
        now = datetime.now(UTC)
        async with self._rt.pool.acquire() as conn, conn.transaction():
            sessions = await sessions_sql.delete_expired_sessions(conn)
            windows = await rate_limits.delete_older_than(conn, OLDEST_WINDOW)
            digests = await media_sql.delete_unattached_before(conn, now - UNATTACHED_MEDIA_AGE)
            next_run = now + INTERVAL
            await JobQueue.enqueue(
                conn, HOUSEKEEPING, {}, run_at=next_run, dedupe_key=_hour_key(next_run)
            )
        # After the commit: a blob left by a crash here is harmless, a blob deleted before a
        # rollback would not be.
        await self._rt.files.collect(digests)
        log.info(
            "housekeeping.done",
            extra={"sessions": sessions, "rate_windows": windows, "media_blobs": len(digests)},
        )
