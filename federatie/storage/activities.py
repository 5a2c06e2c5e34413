"""SQL for objects, activities, inbox arrivals, deliveries and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federatie.jobs.queue import enqueue_for_each
from federatie.storage.pool import Connection

# ---------------------------------------------------------------------------- actors by uri


async def select_actor_id(conn: Connection, uri: str) -> int | None:
    actor_id: int | None = await conn.fetchval("SELECT id FROM actors WHERE uri = $1", uri)
    return actor_id


@dataclass(frozen=True)
class ActorRef:
    id: int
    uri: str
    local: bool
    type: str
    inbox: str
    shared_inbox: str | None
    followers: str | None
    manually_approves_followers: bool


async def select_actor_ref(conn: Connection, uri: str) -> ActorRef | None:
    row = await conn.fetchrow(
        """SELECT id, uri, local, type, inbox, shared_inbox, followers,
                  manually_approves_followers
           FROM actors WHERE uri = $1 AND suspended_at IS NULL""",
        uri,
    )
    return ActorRef(**dict(row)) if row else None


# ---------------------------------------------------------------------------- inbox arrivals


# An arrival, its processing job and its place in the recipients' inboxes: one statement, the
# inbox's whole write (bench/README.md: each round trip of a request costs the event loop).
_STORE_ARRIVAL = """
WITH arrival AS (
    INSERT INTO inbox_activities (activity_uri, actor_uri, type, body)
    VALUES ($1, $2, $3, $4) ON CONFLICT (activity_uri) DO NOTHING RETURNING id
), job AS (
    {enqueue}
), filed AS (
    INSERT INTO inbox_items (actor_id, inbox_activity_id)
    SELECT unnest($5::bigint[]), id FROM arrival ON CONFLICT DO NOTHING
)
SELECT id FROM arrival
"""
# A duplicate: only filed for these recipients (it may have come through another inbox).
_FILE_DUPLICATE = """
WITH found AS (SELECT id FROM inbox_activities WHERE activity_uri = $1), filed AS (
    INSERT INTO inbox_items (actor_id, inbox_activity_id)
    SELECT unnest($2::bigint[]), id FROM found ON CONFLICT DO NOTHING
)
SELECT id FROM found
"""


@dataclass(frozen=True)
class Arrival:
    id: int
    duplicate: bool  # stored before: no new job


async def store_arrival(
    conn: Connection,
    activity_uri: str,
    actor_uri: str,
    type_: str,
    body: dict[str, Any],
    recipient_ids: list[int],
    *,
    job_kind: str,
    job_queue: str,
) -> Arrival:
    """Store an arrival with its processing job and file it in the recipients' inboxes; an
    activity id stored before is only filed for these recipients."""
    enqueue = enqueue_for_each(
        "arrival", "jsonb_build_object('id', arrival.id)", kind=job_kind, queue=job_queue
    )
    new_id: int | None = await conn.fetchval(
        _STORE_ARRIVAL.format(enqueue=enqueue),
        activity_uri,
        actor_uri,
        type_,
        body,
        recipient_ids,
    )
    if new_id is not None:
        return Arrival(new_id, duplicate=False)
    # ON CONFLICT waited for the other writer to commit; this statement sees its row.
    found: int | None = await conn.fetchval(_FILE_DUPLICATE, activity_uri, recipient_ids)
    assert found is not None
    return Arrival(found, duplicate=True)


@dataclass(frozen=True)
class InboxActivity:
    id: int
    activity_uri: str
    actor_uri: str
    body: dict[str, Any]
    processed_at: datetime | None


async def select_inbox_activity(conn: Connection, inbox_activity_id: int) -> InboxActivity | None:
    row = await conn.fetchrow(
        """SELECT id, activity_uri, actor_uri, body, processed_at
           FROM inbox_activities WHERE id = $1""",
        inbox_activity_id,
    )
    return InboxActivity(**dict(row)) if row else None


async def mark_processed(conn: Connection, inbox_activity_id: int, outcome: str) -> None:
    await conn.execute(
        "UPDATE inbox_activities SET processed_at = now(), outcome = $2 WHERE id = $1",
        inbox_activity_id,
        outcome[:500],
    )


async def select_inbox_page(
    conn: Connection, actor_id: int, *, max_id: int | None, min_id: int | None, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    order = "ASC" if min_id is not None and max_id is None else "DESC"
    rows = await conn.fetch(
        f"""SELECT i.id, a.body FROM inbox_items i
            JOIN inbox_activities a ON a.id = i.inbox_activity_id
            WHERE i.actor_id = $1 AND ($2::bigint IS NULL OR i.id < $2)
              AND ($3::bigint IS NULL OR i.id > $3)
            ORDER BY i.id {order} LIMIT $4""",
        actor_id,
        max_id,
        min_id,
        limit,
    )
    pairs = [(row["id"], row["body"]) for row in rows]
    return pairs if order == "DESC" else pairs[::-1]


async def count_inbox(conn: Connection, actor_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM inbox_items WHERE actor_id = $1", actor_id
    )
    return count


# ---------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class StoredObject:
    id: int
    uri: str
    type: str
    author_id: int
    author_uri: str
    local: bool
    public: bool
    deleted_at: datetime | None
    document: dict[str, Any]


_OBJECT_COLUMNS = """o.id, o.uri, o.type, o.author_id, a.uri AS author_uri, o.local, o.public,
                     o.deleted_at, o.document"""


async def select_object(conn: Connection, uri: str) -> StoredObject | None:
    row = await conn.fetchrow(
        f"SELECT {_OBJECT_COLUMNS} FROM objects o JOIN actors a ON a.id = o.author_id"
        " WHERE o.uri = $1",
        uri,
    )
    return StoredObject(**dict(row)) if row else None


async def insert_object(
    conn: Connection,
    *,
    uri: str,
    type_: str,
    author_id: int,
    local: bool,
    in_reply_to: str | None,
    group_id: int | None,
    public: bool,
    recipients: list[str],
    published: datetime | None,
    document: dict[str, Any],
) -> int | None:
    """Store a new object; None when the id exists (a Create never overwrites: CVE-2024-37903)."""
    new_id: int | None = await conn.fetchval(
        """INSERT INTO objects (uri, type, author_id, local, in_reply_to, group_id, public,
                                recipients, published, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10)
           ON CONFLICT (uri) DO NOTHING RETURNING id""",
        uri,
        type_,
        author_id,
        local,
        in_reply_to,
        group_id,
        public,
        recipients,
        published,
        document,
    )
    return new_id


async def update_object(conn: Connection, object_id: int, document: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE objects SET document = $2, updated = now() WHERE id = $1 AND deleted_at IS NULL",
        object_id,
        document,
    )


async def tombstone_object(conn: Connection, object_id: int, tombstone: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE objects SET deleted_at = now(), document = $2 WHERE id = $1", object_id, tombstone
    )


async def tombstone_objects_of(conn: Connection, author_id: int) -> int:
    """An actor was deleted: every object of theirs becomes a Tombstone."""
    result = await conn.execute(
        """UPDATE objects SET deleted_at = now(),
               document = jsonb_build_object('id', uri, 'type', 'Tombstone',
                                             'formerType', type, 'deleted', now())
           WHERE author_id = $1 AND deleted_at IS NULL""",
        author_id,
    )
    return int(result.split()[-1])


# ---------------------------------------------------------------------------- activities


@dataclass(frozen=True)
class StoredActivity:
    id: int
    uri: str
    type: str
    actor_id: int
    object_uri: str | None
    local: bool
    public: bool
    document: dict[str, Any]
    undone_at: datetime | None


_ACTIVITY_COLUMNS = "id, uri, type, actor_id, object_uri, local, public, document, undone_at"


async def insert_activity(
    conn: Connection,
    *,
    uri: str,
    type_: str,
    actor_id: int,
    object_uri: str | None,
    local: bool,
    public: bool,
    document: dict[str, Any],
) -> int | None:
    new_id: int | None = await conn.fetchval(
        """INSERT INTO activities (uri, type, actor_id, object_uri, local, public, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (uri) DO NOTHING RETURNING id""",
        uri,
        type_,
        actor_id,
        object_uri,
        local,
        public,
        document,
    )
    return new_id


async def select_activity(conn: Connection, uri: str) -> StoredActivity | None:
    row = await conn.fetchrow(f"SELECT {_ACTIVITY_COLUMNS} FROM activities WHERE uri = $1", uri)
    return StoredActivity(**dict(row)) if row else None


async def select_activity_by_id(conn: Connection, activity_id: int) -> StoredActivity | None:
    row = await conn.fetchrow(
        f"SELECT {_ACTIVITY_COLUMNS} FROM activities WHERE id = $1", activity_id
    )
    return StoredActivity(**dict(row)) if row else None


async def mark_undone(conn: Connection, activity_id: int) -> None:
    await conn.execute(
        "UPDATE activities SET undone_at = now() WHERE id = $1 AND undone_at IS NULL", activity_id
    )


async def select_outbox_page(
    conn: Connection, actor_id: int, *, max_id: int | None, min_id: int | None, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    order = "ASC" if min_id is not None and max_id is None else "DESC"
    rows = await conn.fetch(
        f"""SELECT id, document FROM activities
            WHERE actor_id = $1 AND local AND public AND undone_at IS NULL
              AND type IN ('Create', 'Announce', 'Update', 'Delete', 'Like')
              AND ($2::bigint IS NULL OR id < $2) AND ($3::bigint IS NULL OR id > $3)
            ORDER BY id {order} LIMIT $4""",
        actor_id,
        max_id,
        min_id,
        limit,
    )
    pairs = [(row["id"], row["document"]) for row in rows]
    return pairs if order == "DESC" else pairs[::-1]


async def count_outbox(conn: Connection, actor_id: int) -> int:
    count: int = await conn.fetchval(
        """SELECT count(*) FROM activities WHERE actor_id = $1 AND local AND public
           AND undone_at IS NULL AND type IN ('Create', 'Announce', 'Update', 'Delete', 'Like')""",
        actor_id,
    )
    return count


# ---------------------------------------------------------------------------- reports


async def insert_report(
    conn: Connection,
    activity_uri: str,
    reporter_id: int | None,
    object_uris: list[str],
    content: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO reports (activity_uri, reporter_id, object_uris, content)
           VALUES ($1, $2, $3, $4) ON CONFLICT (activity_uri) DO NOTHING""",
        activity_uri,
        reporter_id,
        object_uris,
        content,
    )
