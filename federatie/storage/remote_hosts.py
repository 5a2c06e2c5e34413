"""SQL for what we know of remote hosts: their signature scheme and delivery health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from federatie.storage.pool import Connection


async def select_signature_scheme(conn: Connection, host: str) -> str | None:
    scheme: str | None = await conn.fetchval(
        "SELECT signature_scheme FROM remote_hosts WHERE host = $1", host
    )
    return scheme


async def upsert_signature_scheme(conn: Connection, host: str, scheme: str) -> None:
    await conn.execute(
        """INSERT INTO remote_hosts (host, signature_scheme) VALUES ($1, $2)
           ON CONFLICT (host) DO UPDATE SET signature_scheme = EXCLUDED.signature_scheme""",
        host,
        scheme,
    )


@dataclass(frozen=True)
class FailingHost:
    host: str
    failures: int
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    retry_at: datetime | None
    unreachable_since: datetime | None
    pending: int  # deliveries waiting for the host


async def select_failing_hosts(conn: Connection, limit: int) -> list[FailingHost]:
    """Hosts whose deliveries fail, longest failing first (for administrators)."""
    rows = await conn.fetch(
        """SELECT h.host, h.failures, h.first_failure_at, h.last_failure_at, h.retry_at,
                  h.unreachable_since,
                  (SELECT count(*) FROM deliveries d WHERE d.host = h.host) AS pending
           FROM remote_hosts h WHERE h.failures > 0
           ORDER BY h.first_failure_at NULLS LAST, h.host LIMIT $1""",
        limit,
    )
    return [FailingHost(**dict(row)) for row in rows]
