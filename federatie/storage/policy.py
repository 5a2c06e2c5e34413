"""SQL for the federation policy: the mode (an instance setting) and the listed domains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from federatie.domain.policy import DomainList
from federatie.storage.pool import Connection
from federatie.storage.settings import select_settings, upsert_setting

MODE_KEY = "federation_mode"


@dataclass(frozen=True)
class ListedDomain:
    domain: str
    list: DomainList
    created_at: datetime
    created_by: str | None


async def select_mode(conn: Connection) -> str | None:
    mode: str | None = (await select_settings(conn, MODE_KEY)).get(MODE_KEY)
    return mode


async def upsert_mode(conn: Connection, mode: str) -> None:
    await upsert_setting(conn, MODE_KEY, mode)


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
