"""What administrators do from the web pages: accounts (approve, refuse, suspend, make admin),
reports received from other servers, and the operator's view of delivery and the database.

Suspending and lifting a suspension go through `AccountService`, as `federatie admin user`
does. Every change is logged with the administrator who made it. An administrator cannot
suspend themself or take their own rights away, so that an instance never locks out its last
administrator by a slip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from federatie import __version__
from federatie.domain.actors import LocalActor
from federatie.errors import Conflict, NotFound
from federatie.jobs.queue import JobStats
from federatie.services.accounts import DELETED_MARK, AccountService
from federatie.storage import admin as sql
from federatie.storage.admin import Account, Counts, FailedJob, Report, ReportState, UserFilter
from federatie.storage.remote_hosts import FailingHost, select_failing_hosts

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)

USERS_PAGE = 50
REPORTS_PAGE = 25
DASHBOARD_ROWS = 20


@dataclass(frozen=True)
class PoolUse:
    size: int
    idle: int
    max: int

    @property
    def in_use(self) -> int:
        return self.size - self.idle


@dataclass(frozen=True)
class Dashboard:
    version: str
    counts: Counts
    queues: list[JobStats]
    failing_hosts: list[FailingHost]
    failed_jobs: list[FailedJob]
    pool: PoolUse


class AdminService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._accounts = AccountService(runtime.pool, runtime.iris, runtime.files.blobs)

    # ------------------------------------------------------------------ accounts

    async def accounts(
        self, status: UserFilter, query: str | None, after: str | None
    ) -> list[Account]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_accounts(
                conn,
                status=status,
                query=query,
                after=after,
                limit=USERS_PAGE,
                deleted_mark=DELETED_MARK,
            )

    async def approve(self, admin: LocalActor, name: str) -> None:
        async with self._rt.pool.acquire() as conn:
            if not await sql.approve_account(conn, name.lower()):
                raise NotFound(f"no sign-up of {name!r} awaits approval")
        self._log("admin.account_approved", admin, name)

    async def refuse(self, admin: LocalActor, name: str) -> None:
        async with self._rt.pool.acquire() as conn:
            if not await sql.delete_pending_account(conn, name.lower()):
                raise NotFound(f"no sign-up of {name!r} awaits approval")
        self._log("admin.account_refused", admin, name)

    async def suspend(self, admin: LocalActor, name: str) -> None:
        self._not_self(admin, name, "suspend")
        await self._accounts.suspend(name)
        self._log("admin.account_suspended", admin, name)

    async def unsuspend(self, admin: LocalActor, name: str) -> None:
        await self._accounts.unsuspend(name)
        self._log("admin.account_unsuspended", admin, name)

    async def set_admin(self, admin: LocalActor, name: str, *, is_admin: bool) -> None:
        if not is_admin:
            self._not_self(admin, name, "revoke the rights of")
        async with self._rt.pool.acquire() as conn:
            if not await sql.update_admin(conn, name.lower(), is_admin):
                raise NotFound(f"no local person named {name!r}")
        self._log("admin.rights_granted" if is_admin else "admin.rights_revoked", admin, name)

    def _not_self(self, admin: LocalActor, name: str, verb: str) -> None:
        if name.lower() == admin.username:
            raise Conflict(f"administrators cannot {verb} themselves")

    def _log(self, event: str, admin: LocalActor, name: str) -> None:
        log.warning(event, extra={"account": name.lower(), "by": f"web:{admin.username}"})

    # ------------------------------------------------------------------ reports

    async def reports(self, state: ReportState, before: int | None) -> list[Report]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_reports(conn, state=state, before=before, limit=REPORTS_PAGE)

    async def resolve(self, admin: LocalActor, report_id: int) -> None:
        async with self._rt.pool.acquire() as conn:
            if not await sql.resolve_report(conn, report_id):
                raise NotFound("no open report with that number")
        log.warning("admin.report_resolved", extra={"report": report_id, "by": admin.username})

    # ------------------------------------------------------------------ the dashboard

    async def dashboard(self) -> Dashboard:
        rt = self._rt
        async with rt.pool.acquire() as conn:
            counts = await sql.select_counts(conn)
            hosts = await select_failing_hosts(conn, DASHBOARD_ROWS)
            failed = await sql.select_failed_jobs(conn, DASHBOARD_ROWS)
        pool = rt.pool
        return Dashboard(
            version=__version__,
            counts=counts,
            queues=await rt.queue.stats(),
            failing_hosts=hosts,
            failed_jobs=failed,
            pool=PoolUse(pool.get_size(), pool.get_idle_size(), pool.get_max_size()),
        )
