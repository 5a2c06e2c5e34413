"""SQL for the Mastodon API's statuses: posts (objects) and boosts (Announce activities) by
status id, who may see them, their counts and context, and idempotency keys.

A status id is `status_id(time, row id, kind)` (migration 0011; for objects
`object_status_id`, whose time is when it was published, but never later than when it arrived
here): kind 0 is an object, 1 a
person's Announce of one, 2 an object as its group relayed it (shown as the group's boost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federatie.storage.mastodon_accounts import STATUS_TYPES
from federatie.storage.pool import Connection

POST, REBLOG, GROUP_RELAY = 0, 1, 2
CONTEXT_LIMIT = 60


def visible_to(alias: str, viewer: str) -> str:
    """SQL: object `alias` may be read by the person whose id is the parameter `viewer`
    (NULL: anyone): public, theirs, addressed to them, or to a followers collection or
    group they follow (a group's members read what is addressed to the group)."""
    return f"""({alias}.public OR ({viewer}::bigint IS NOT NULL AND (
        {alias}.author_id = {viewer}
        OR EXISTS (SELECT 1 FROM actors me WHERE me.id = {viewer}
                   AND me.uri = ANY({alias}.recipients))
        OR EXISTS (SELECT 1 FROM follows vf JOIN actors va ON va.id = vf.followed_id
                   WHERE vf.follower_id = {viewer} AND vf.state = 'accepted'
                     AND (va.followers = ANY({alias}.recipients)
                          OR va.uri = ANY({alias}.recipients))))))"""


@dataclass(frozen=True)
class Entry:
    """One status of a list: which object, as what kind, boosted by whom."""

    status_id: int
    kind: int
    object_id: int
    booster_id: int | None
    boosted_at: datetime | None


def entries(rows: Sequence[Any]) -> list[Entry]:
    return [
        Entry(r["sid"], r["kind"], r["object_id"], r["booster_id"], r["boosted_at"]) for r in rows
    ]


@dataclass(frozen=True)
class Post:
    """An object as a status needs it, with its counts and the viewer's own reactions."""

    id: int
    status_id: int
    uri: str
    type: str
    author_id: int
    local: bool
    public: bool
    in_reply_to: str | None
    group_id: int | None
    published: datetime
    updated: datetime | None
    deleted_at: datetime | None
    document: dict[str, Any]
    parent_status_id: int | None
    parent_author_id: int | None
    favourites: int
    reblogs: int
    replies: int
    favourited: bool
    reblogged: bool


async def select_posts(
    conn: Connection, object_ids: Sequence[int], viewer_id: int | None
) -> dict[int, Post]:
    """Objects by id with what their status shows; visibility is the caller's to check."""
    rows = await conn.fetch(
        """SELECT o.id, object_status_id(o.published, o.created_at, o.id, 0) AS status_id,
                  o.uri, o.type, o.author_id, o.local, o.public, o.in_reply_to, o.group_id,
                  o.published, o.updated, o.deleted_at, o.document,
                  object_status_id(p.published, p.created_at, p.id, 0) AS parent_status_id,
                  p.author_id AS parent_author_id,
                  (SELECT count(*) FROM activities l WHERE l.object_uri = o.uri
                     AND l.type = 'Like' AND l.undone_at IS NULL) AS favourites,
                  (SELECT count(*) FROM activities r JOIN actors ra ON ra.id = r.actor_id
                     WHERE r.object_uri = o.uri AND r.type = 'Announce'
                       AND r.undone_at IS NULL AND ra.type <> 'Group') AS reblogs,
                  (SELECT count(*) FROM objects c WHERE c.in_reply_to = o.uri
                     AND c.deleted_at IS NULL) AS replies,
                  EXISTS (SELECT 1 FROM activities l WHERE l.object_uri = o.uri
                            AND l.actor_id = $2 AND l.type = 'Like'
                            AND l.undone_at IS NULL) AS favourited,
                  EXISTS (SELECT 1 FROM activities r WHERE r.object_uri = o.uri
                            AND r.actor_id = $2 AND r.type = 'Announce'
                            AND r.undone_at IS NULL) AS reblogged
           FROM objects o LEFT JOIN objects p ON p.uri = o.in_reply_to
           WHERE o.id = ANY($1::bigint[])""",
        list(set(object_ids)),
        viewer_id,
    )
    return {row["id"]: Post(**dict(row)) for row in rows}


async def select_entry(conn: Connection, status_id: int, viewer_id: int | None) -> Entry | None:
    """The status with this id if the viewer may read it (a boost: and its post)."""
    kind = status_id & 3
    if kind == REBLOG:
        row = await conn.fetchrow(
            f"""SELECT status_id(a.published, a.id, 1) AS sid, 1 AS kind, o.id AS object_id,
                       a.actor_id AS booster_id, a.published AS boosted_at
                FROM activities a JOIN objects o ON o.uri = a.object_uri
                WHERE status_id(a.published, a.id, 1) = $1 AND a.type = 'Announce'
                  AND a.undone_at IS NULL AND o.deleted_at IS NULL
                  AND {visible_to("o", "$2")}""",
            status_id,
            viewer_id,
        )
    elif kind in (POST, GROUP_RELAY):
        row = await conn.fetchrow(
            f"""SELECT $1::bigint AS sid, $3::integer AS kind, o.id AS object_id,
                       CASE WHEN $3 = 2 THEN o.group_id END AS booster_id,
                       CASE WHEN $3 = 2 THEN o.published END AS boosted_at
                FROM objects o
                WHERE object_status_id(o.published, o.created_at, o.id, 0) = $1 - $3
                  AND o.deleted_at IS NULL
                  AND o.type = ANY($4::text[]) AND ($3 = 0 OR o.group_id IS NOT NULL)
                  AND {visible_to("o", "$2")}""",
            status_id,
            viewer_id,
            kind,
            list(STATUS_TYPES),
        )
    else:
        return None
    return entries([row])[0] if row else None


async def select_object_status_id(conn: Connection, object_id: int, kind: int) -> int | None:
    """The status id of an object (kind 0) or of its group's relay of it (kind 2)."""
    found: int | None = await conn.fetchval(
        "SELECT object_status_id(published, created_at, id, $2) FROM objects WHERE id = $1",
        object_id,
        kind,
    )
    return found


async def select_announce_status_id(conn: Connection, activity_id: int) -> int | None:
    found: int | None = await conn.fetchval(
        "SELECT status_id(published, id, 1) FROM activities WHERE id = $1", activity_id
    )
    return found


async def select_object_id_by_uri(conn: Connection, uri: str) -> int | None:
    found: int | None = await conn.fetchval("SELECT id FROM objects WHERE uri = $1", uri)
    return found


async def select_context(
    conn: Connection, object_id: int, viewer_id: int | None
) -> tuple[list[Entry], list[Entry]]:
    """(ancestors oldest first, descendants in thread order) that the viewer may read."""
    ancestors = await conn.fetch(
        f"""WITH RECURSIVE up(id, in_reply_to, depth) AS (
                SELECT o.id, o.in_reply_to, 0 FROM objects o WHERE o.id = $1
                UNION ALL
                SELECT p.id, p.in_reply_to, up.depth + 1 FROM up
                JOIN objects p ON p.uri = up.in_reply_to WHERE up.depth < $3
            )
            SELECT object_status_id(o.published, o.created_at, o.id, 0) AS sid, 0 AS kind,
                   o.id AS object_id, NULL::bigint AS booster_id,
                   NULL::timestamptz AS boosted_at
            FROM up JOIN objects o ON o.id = up.id
            WHERE up.depth > 0 AND o.deleted_at IS NULL AND {visible_to("o", "$2")}
            ORDER BY up.depth DESC""",
        object_id,
        viewer_id,
        CONTEXT_LIMIT,
    )
    descendants = await conn.fetch(
        f"""WITH RECURSIVE down(id, uri, path) AS (
                SELECT o.id, o.uri, ARRAY[]::bigint[] FROM objects o WHERE o.id = $1
                UNION ALL
                SELECT c.id, c.uri,
                       down.path || object_status_id(c.published, c.created_at, c.id, 0)
                FROM down
                JOIN objects c ON c.in_reply_to = down.uri
                WHERE cardinality(down.path) < $3
            )
            SELECT object_status_id(o.published, o.created_at, o.id, 0) AS sid, 0 AS kind,
                   o.id AS object_id, NULL::bigint AS booster_id,
                   NULL::timestamptz AS boosted_at
            FROM down JOIN objects o ON o.id = down.id
            WHERE cardinality(down.path) > 0 AND o.deleted_at IS NULL
              AND {visible_to("o", "$2")}
            ORDER BY down.path LIMIT $3""",
        object_id,
        viewer_id,
        CONTEXT_LIMIT,
    )
    return entries(ancestors), entries(descendants)


async def select_reactors(
    conn: Connection,
    object_id: int,
    kind: str,
    *,
    before: int | None,
    after: int | None,
    ascending: bool,
    limit: int,
) -> list[tuple[int, int]]:
    """(activity id, actor id) of the live Likes or Announces of an object (a page)."""
    rows = await conn.fetch(
        f"""SELECT a.id, a.actor_id FROM activities a JOIN actors r ON r.id = a.actor_id
            WHERE a.object_uri = (SELECT uri FROM objects WHERE id = $1) AND a.type = $2
              AND a.undone_at IS NULL
              AND r.type <> 'Group' AND r.suspended_at IS NULL
              AND ($3::bigint IS NULL OR a.id < $3) AND ($4::bigint IS NULL OR a.id > $4)
            ORDER BY a.id {"ASC" if ascending else "DESC"} LIMIT $5""",
        object_id,
        kind,
        before,
        after,
        limit,
    )
    return [(row["id"], row["actor_id"]) for row in rows]


async def select_own_reaction(
    conn: Connection, actor_id: int, object_uri: str, kind: str
) -> str | None:
    """The uri of the actor's live Like or Announce of an object, if any."""
    uri: str | None = await conn.fetchval(
        """SELECT uri FROM activities WHERE actor_id = $1 AND object_uri = $2 AND type = $3
             AND undone_at IS NULL ORDER BY id DESC LIMIT 1""",
        actor_id,
        object_uri,
        kind,
    )
    return uri


async def select_reblog_entry(conn: Connection, activity_uri: str) -> Entry | None:
    row = await conn.fetchrow(
        """SELECT status_id(a.published, a.id, 1) AS sid, 1 AS kind, o.id AS object_id,
                  a.actor_id AS booster_id, a.published AS boosted_at
           FROM activities a JOIN objects o ON o.uri = a.object_uri WHERE a.uri = $1""",
        activity_uri,
    )
    return entries([row])[0] if row else None


@dataclass(frozen=True)
class ActorBrief:
    """What a mention needs of an actor."""

    id: int
    uri: str
    url: str | None
    type: str
    username: str
    host: str
    local: bool

    @property
    def acct(self) -> str:
        return self.username if self.local else f"{self.username}@{self.host}"


_BRIEF = "SELECT id, uri, url, type, username, host, local FROM actors"


async def select_actors_by_uri(conn: Connection, uris: Sequence[str]) -> dict[str, ActorBrief]:
    rows = await conn.fetch(
        f"{_BRIEF} WHERE uri = ANY($1::text[]) AND suspended_at IS NULL", list(set(uris))
    )
    return {row["uri"]: ActorBrief(**dict(row)) for row in rows}


async def select_actor_by_id(conn: Connection, actor_id: int) -> ActorBrief | None:
    row = await conn.fetchrow(f"{_BRIEF} WHERE id = $1 AND suspended_at IS NULL", actor_id)
    return ActorBrief(**dict(row)) if row else None


async def is_member(conn: Connection, person_id: int, group_id: int) -> bool:
    """Whether a person is an accepted follower (a member) of a group."""
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM follows WHERE follower_id = $1 AND followed_id = $2
                 AND state = 'accepted'""",
            person_id,
            group_id,
        )
    )


# ---------------------------------------------------------------------------- idempotency


async def select_idempotent(conn: Connection, actor_id: int, key: str) -> int | None:
    """The object made under this Idempotency-Key within the last hour."""
    found: int | None = await conn.fetchval(
        """SELECT object_id FROM status_idempotency_keys
           WHERE actor_id = $1 AND key = $2 AND created_at > now() - interval '1 hour'""",
        actor_id,
        key,
    )
    return found


async def insert_idempotent(conn: Connection, actor_id: int, key: str, object_id: int) -> None:
    """Remember the key (and forget the actor's expired ones)."""
    await conn.execute(
        """DELETE FROM status_idempotency_keys
           WHERE actor_id = $1 AND created_at <= now() - interval '1 hour'""",
        actor_id,
    )
    await conn.execute(
        """INSERT INTO status_idempotency_keys (actor_id, key, object_id) VALUES ($1, $2, $3)
           ON CONFLICT (actor_id, key) DO UPDATE
           SET object_id = EXCLUDED.object_id, created_at = now()""",
        actor_id,
        key,
        object_id,
    )


async def lock_idempotency_key(conn: Connection, actor_id: int, key: str) -> None:
    """Serialise two requests with the same key (for the caller's transaction)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"idempotency:{actor_id}:{key}"
    )
