"""SQL for the administration pages: accounts, reports received, and what needs attention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from federatie.storage.actors import _like_escaped
from federatie.storage.pool import Connection

UserFilter = Literal["all", "pending", "suspended", "admins"]
ReportState = Literal["open", "resolved"]


# ---------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class Account:
    username: str
    name: str | None
    organisation: str | None
    created_at: datetime
    is_admin: bool
    approved: bool
    suspended: bool
    deleted: bool


async def select_accounts(
    conn: Connection,
    *,
    status: UserFilter,
    query: str | None,
    after: str | None,
    limit: int,
    deleted_mark: str,
) -> list[Account]:
    """Local people by name, filtered by status and by a text in their name."""
    rows = await conn.fetch(
        """SELECT a.username, a.name, p.organisation, a.created_at, p.is_admin,
                  p.approved_at IS NOT NULL AS approved, a.suspended_at IS NOT NULL AS suspended,
                  p.password_hash = $5 AS deleted
           FROM actors a JOIN people p ON p.actor_id = a.id
           WHERE a.local
             AND CASE $1::text
                 WHEN 'pending' THEN p.approved_at IS NULL AND a.suspended_at IS NULL
                 WHEN 'suspended' THEN a.suspended_at IS NOT NULL
                 WHEN 'admins' THEN p.is_admin
                 ELSE true END
             AND ($2::text IS NULL OR a.username ILIKE '%' || $2 || '%' ESCAPE '\\'
                  OR a.name ILIKE '%' || $2 || '%' ESCAPE '\\')
             AND ($3::text IS NULL OR a.username > $3)
           ORDER BY a.username LIMIT $4""",
        status,
        _like_escaped(query),
        after,
        limit,
        deleted_mark,
    )
    return [Account(**dict(row)) for row in rows]


async def approve_account(conn: Connection, username: str) -> bool:
    """A pending sign-up may now sign in; False when there was none by that name."""
    status = await conn.execute(
        """UPDATE people SET approved_at = now()
           WHERE approved_at IS NULL
             AND actor_id = (SELECT id FROM actors WHERE local AND username = $1)""",
        username,
    )
    return status.endswith(" 1")


async def delete_pending_account(conn: Connection, username: str) -> bool:
    """A refused sign-up goes entirely: it never signed in, so it made nothing."""
    status = await conn.execute(
        """DELETE FROM actors WHERE id = (
               SELECT a.id FROM actors a JOIN people p ON p.actor_id = a.id
               WHERE a.local AND a.username = $1 AND p.approved_at IS NULL)""",
        username,
    )
    return status.endswith(" 1")


async def update_admin(conn: Connection, username: str, is_admin: bool) -> bool:
    status = await conn.execute(
        """UPDATE people SET is_admin = $2
           WHERE actor_id = (SELECT id FROM actors WHERE local AND username = $1)""",
        username,
        is_admin,
    )
    return status.endswith(" 1")


# ---------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ReportedThing:
    """What a report points at, as far as it is known here."""

    uri: str
    kind: str  # an object type, "actor", or "unknown"
    author_uri: str | None
    author_username: str | None
    author_host: str | None
    author_local: bool
    deleted: bool
    document: dict[str, Any] | None


@dataclass(frozen=True)
class Report:
    id: int
    activity_uri: str | None
    content: str | None
    created_at: datetime
    resolved_at: datetime | None
    reporter_uri: str | None
    reporter_username: str | None
    reporter_host: str | None
    reporter_local: bool
    things: list[ReportedThing]


async def select_reports(
    conn: Connection, *, state: ReportState, before: int | None, limit: int
) -> list[Report]:
    """Reports newest first, with what each points at."""
    rows = await conn.fetch(
        """SELECT r.id, r.activity_uri, r.content, r.created_at, r.resolved_at, r.object_uris,
                  a.uri AS reporter_uri, a.username AS reporter_username,
                  a.host AS reporter_host, coalesce(a.local, false) AS reporter_local
           FROM reports r LEFT JOIN actors a ON a.id = r.reporter_id
           WHERE (r.resolved_at IS NULL) = ($1::text = 'open')
             AND ($2::bigint IS NULL OR r.id < $2)
           ORDER BY r.id DESC LIMIT $3""",
        state,
        before,
        limit,
    )
    uris = sorted({uri for row in rows for uri in row["object_uris"]})
    things = await _reported_things(conn, uris)
    return [
        Report(
            id=row["id"],
            activity_uri=row["activity_uri"],
            content=row["content"],
            created_at=row["created_at"],
            resolved_at=row["resolved_at"],
            reporter_uri=row["reporter_uri"],
            reporter_username=row["reporter_username"],
            reporter_host=row["reporter_host"],
            reporter_local=row["reporter_local"],
            things=[
                things.get(uri)
                or ReportedThing(uri, "unknown", None, None, None, False, False, None)
                for uri in row["object_uris"]
            ],
        )
        for row in rows
    ]


async def _reported_things(conn: Connection, uris: list[str]) -> dict[str, ReportedThing]:
    rows = await conn.fetch(
        """SELECT o.uri, o.type AS kind, a.uri AS author_uri, a.username AS author_username,
                  a.host AS author_host, a.local AS author_local,
                  o.deleted_at IS NOT NULL AS deleted, o.document
           FROM objects o JOIN actors a ON a.id = o.author_id WHERE o.uri = ANY($1::text[])
           UNION ALL
           SELECT a.uri, 'actor', a.uri, a.username, a.host, a.local,
                  a.suspended_at IS NOT NULL, NULL
           FROM actors a WHERE a.uri = ANY($1::text[])""",
        uris,
    )
    return {row["uri"]: ReportedThing(**dict(row)) for row in rows}


async def resolve_report(conn: Connection, report_id: int) -> bool:
    status = await conn.execute(
        "UPDATE reports SET resolved_at = now() WHERE id = $1 AND resolved_at IS NULL", report_id
    )
    return status.endswith(" 1")


# ---------------------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class Counts:
    people: int
    pending: int
    suspended: int
    groups: int
    open_reports: int


async def select_counts(conn: Connection) -> Counts:
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM actors a JOIN people p ON p.actor_id = a.id
              WHERE a.local AND a.suspended_at IS NULL AND p.approved_at IS NOT NULL) AS people,
             (SELECT count(*) FROM actors a JOIN people p ON p.actor_id = a.id
              WHERE a.local AND a.suspended_at IS NULL AND p.approved_at IS NULL) AS pending,
             (SELECT count(*) FROM actors a JOIN people p ON p.actor_id = a.id
              WHERE a.local AND a.suspended_at IS NOT NULL) AS suspended,
             (SELECT count(*) FROM actors a JOIN groups g ON g.actor_id = a.id
              WHERE a.local AND a.suspended_at IS NULL) AS groups,
             (SELECT count(*) FROM reports WHERE resolved_at IS NULL) AS open_reports"""
    )
    assert row is not None
    return Counts(**dict(row))


@dataclass(frozen=True)
class FailedJob:
    id: int
    queue: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    last_error: str
    when: datetime  # when it died, or when it runs again


async def select_failed_jobs(conn: Connection, limit: int) -> list[FailedJob]:
    """Jobs whose last run failed (retrying or dead), most recent first."""
    rows = await conn.fetch(
        """SELECT id, queue, kind, payload, state, attempts, max_attempts, last_error,
                  coalesce(died_at, run_at) AS when
           FROM jobs WHERE last_error IS NOT NULL
           ORDER BY coalesce(died_at, run_at) DESC LIMIT $1""",
        limit,
    )
    return [FailedJob(**dict(row)) for row in rows]
