"""The federation policy service: read on every inbound request and outbound send, changed by
administrators at run time, every change logged.

The snapshot is cached for one second per process: cheap enough for the inbox hot path, and
another process (several web and worker processes share one database) sees a change within
that second. The process that makes a change sees it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from federatie.config import FederationMode
from federatie.domain.policy import DomainList, PolicySnapshot, normalise_domain
from federatie.errors import Forbidden, NotFound
from federatie.storage import policy as sql
from federatie.storage.pool import Pool

log = logging.getLogger(__name__)

_TTL_SECONDS = 1.0


class FederationPolicy:
    def __init__(self, pool: Pool, default_mode: FederationMode) -> None:
        self._pool = pool
        self._default_mode = default_mode
        self._snapshot: PolicySnapshot | None = None
        self._loaded_at = 0.0
        self._reloading = asyncio.Lock()
        self._changes = 0  # changes made by this process: a reload begun before one is stale

    def _fresh(self) -> PolicySnapshot | None:
        if self._snapshot is None or time.monotonic() - self._loaded_at > _TTL_SECONDS:
            return None
        return self._snapshot

    async def snapshot(self) -> PolicySnapshot:
        """The cached policy; when stale, one caller reloads it and the others wait for that
        (every caller reloading made ~150 reloads a second under inbox load, each taking a
        pool connection, often nested inside another)."""
        snapshot = self._fresh()
        if snapshot is not None:
            return snapshot
        async with self._reloading:
            snapshot = self._fresh()
            if snapshot is None:
                changes = self._changes
                async with self._pool.acquire() as conn:
                    stored_mode = await sql.select_mode(conn)
                    domains = await sql.select_domains(conn)
                snapshot = PolicySnapshot(
                    mode=FederationMode(stored_mode) if stored_mode else self._default_mode,
                    allowed=frozenset(d.domain for d in domains if d.list is DomainList.ALLOW),
                    blocked=frozenset(d.domain for d in domains if d.list is DomainList.BLOCK),
                )
                if changes == self._changes:
                    self._snapshot, self._loaded_at = snapshot, time.monotonic()
            return snapshot

    async def allows(self, host: str) -> bool:
        return (await self.snapshot()).allows(host)

    async def check(self, host: str) -> None:
        """Raise Forbidden when this instance does not federate with `host`."""
        if not await self.allows(host):
            raise Forbidden(f"this instance does not federate with {host}")

    async def set_mode(self, mode: FederationMode, *, by: str) -> None:
        async with self._pool.acquire() as conn:
            await sql.upsert_mode(conn, mode.value)
        log.warning("federation.mode_changed", extra={"mode": mode.value, "by": by})
        self._forget()

    async def list_domain(self, raw: str, domain_list: DomainList, *, by: str) -> str:
        domain = normalise_domain(raw)
        async with self._pool.acquire() as conn:
            await sql.upsert_domain(conn, domain, domain_list, by)
        log.warning(
            "federation.domain_listed",
            extra={"domain": domain, "list": domain_list.value, "by": by},
        )
        self._forget()
        return domain

    async def remove_domain(self, raw: str, *, by: str) -> str:
        domain = normalise_domain(raw)
        async with self._pool.acquire() as conn:
            removed = await sql.delete_domain(conn, domain)
        if not removed:
            raise NotFound(f"{domain} is not listed")
        log.warning("federation.domain_removed", extra={"domain": domain, "by": by})
        self._forget()
        return domain

    def _forget(self) -> None:
        """After a change made here: the next caller reloads."""
        self._snapshot = None
        self._changes += 1

    async def domains(self) -> list[sql.ListedDomain]:
        async with self._pool.acquire() as conn:
            return await sql.select_domains(conn)
