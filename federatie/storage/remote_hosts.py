"""SQL for what we know of remote hosts: their signature scheme and delivery health."""

from __future__ import annotations

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
