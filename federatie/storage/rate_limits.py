"""Fixed-window counters in PostgreSQL, shared by every web process.

A bucket is a string such as `signin:user:alice`; its window starts at its first hit and the
count starts again once the window has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from federatie.storage.pool import Connection


@dataclass(frozen=True)
class Window:
    hits: int
    resets_at: datetime


async def hit(conn: Connection, bucket: str, window: timedelta) -> Window:
    """Count one hit in `bucket`, atomically; the window after counting it."""
    row = await conn.fetchrow(
        """INSERT INTO rate_limits AS r (bucket, window_started_at, hits) VALUES ($1, now(), 1)
           ON CONFLICT (bucket) DO UPDATE SET
             hits = CASE WHEN r.window_started_at <= now() - $2::interval THEN 1
                         ELSE r.hits + 1 END,
             window_started_at = CASE WHEN r.window_started_at <= now() - $2::interval
                                      THEN now() ELSE r.window_started_at END
           RETURNING hits, window_started_at + $2::interval AS resets_at""",
        bucket,
        window,
    )
    assert row is not None
    return Window(row["hits"], row["resets_at"])


async def current(conn: Connection, bucket: str, window: timedelta) -> Window | None:
    """The bucket's open window without counting a hit; None when it has none."""
    row = await conn.fetchrow(
        """SELECT hits, window_started_at + $2::interval AS resets_at FROM rate_limits
           WHERE bucket = $1 AND window_started_at > now() - $2::interval""",
        bucket,
        window,
    )
    return Window(row["hits"], row["resets_at"]) if row else None


async def clear(conn: Connection, bucket: str) -> None:
    await conn.execute("DELETE FROM rate_limits WHERE bucket = $1", bucket)


async def delete_older_than(conn: Connection, age: timedelta) -> int:
    status = await conn.execute(
        "DELETE FROM rate_limits WHERE window_started_at < now() - $1::interval", age
    )
    return int(status.split()[-1])
