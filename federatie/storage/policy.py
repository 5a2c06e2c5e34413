"""SQL for the federation policy: the mode (an instance setting) and the listed domains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from federatie.domain.policy import DomainList
from federatie.storage.pool import Connection

MODE_KEY = "federation_mode"


@dataclass(frozen=True)
class ListedDomain:
    domain: str
    list: DomainList
    created_at: datetime
    created_by: str | None


async def select_mode(conn: Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT value #>> '{}' FROM instance_settings WHERE key = $1", MODE_KEY
    )
    return value


async def upsert_mode(conn: Connection, mode: str) -> None:
    await conn.execute(
        """INSERT INTO instance_settings (key, value) VALUES ($1, to_jsonb($2::text))
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        MODE_KEY,
        mode,
    )


async def select_domains(conn: Connection) -> list[ListedDomain]:
    rows = await conn.fetch(
        "SELECT domain, list, created_at, created_by FROM federation_domains ORDER BY domain"
    )
    return [
        ListedDomain(r["domain"], DomainList(r["list"]), r["created_at"], r["created_by"])
        for r in rows
    ]


async def upsert_domain(
    conn: Connection, domain: str, domain_list: DomainList, created_by: str
) -> None:
    await conn.execute(
        """INSERT INTO federation_domains (domain, list, created_by) VALUES ($1, $2, $3)
           ON CONFLICT (domain) DO UPDATE
           SET list = EXCLUDED.list, created_by = EXCLUDED.created_by, created_at = now()""",
        domain,
        domain_list.value,
        created_by,
    )


async def delete_domain(conn: Connection, domain: str) -> bool:
    result = await conn.execute("DELETE FROM federation_domains WHERE domain = $1", domain)
    return result.endswith(" 1")
