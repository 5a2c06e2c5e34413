"""SQL for the group pages: membership, discussions filed under a group, members, bans, reports.

A group here is any Group actor row: one of ours, or another instance's group whose posts
reached us through its Announces (filed under it in `objects.group_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from federatie.storage.pool import Connection

# Posts that open a discussion (Lemmy's are Pages); Articles are the group's blog.
DISCUSSION_TYPES = ["Note", "Page", "Question"]
MAX_THREAD_POSTS = 500


@dataclass(frozen=True)
class ActorCard:
    """Who someone is, enough to name them and link to them."""

    id: int
    uri: str
    username: str
    host: str
    name: str | None
    local: bool
    type: str

    @property
    def handle(self) -> str:
        return f"@{self.username}@{self.host}"


_CARD = "a.id, a.uri, a.username, a.host, a.name, a.local, a.type"


def _card(row: asyncpg.Record, prefix: str = "") -> ActorCard:
    return ActorCard(
        id=row[f"{prefix}id"],
        uri=row[f"{prefix}uri"],
        username=row[f"{prefix}username"],
        host=row[f"{prefix}host"],
        name=row[f"{prefix}name"],
        local=row[f"{prefix}local"],
        type=row[f"{prefix}type"],
    )


@dataclass(frozen=True)
class Membership:
    """One actor's standing in one group."""

    state: str | None  # 'accepted', 'pending' or None
    role: str | None  # 'owner', 'admin', 'moderator' or None
    banned: bool
    follow_uri: str | None  # the Follow to undo when leaving

    @property
    def is_member(self) -> bool:
        return self.state == "accepted" or self.role is not None


async def select_group_role(conn: Connection, group_id: int, actor_id: int) -> str | None:
    """`owner`, `admin`, `moderator`, or None for anyone else."""
    role: str | None = await conn.fetchval(
        "SELECT role FROM group_roles WHERE group_id = $1 AND actor_id = $2", group_id, actor_id
    )
    return role


async def select_membership(conn: Connection, group_id: int, actor_id: int) -> Membership:
    row = await conn.fetchrow(
        """SELECT (SELECT state FROM follows WHERE follower_id = $2 AND followed_id = $1) AS state,
                  (SELECT activity_uri FROM follows
                   WHERE follower_id = $2 AND followed_id = $1) AS follow_uri,
                  (SELECT role FROM group_roles WHERE group_id = $1 AND actor_id = $2) AS role,
                  EXISTS (SELECT 1 FROM group_bans
                          WHERE group_id = $1 AND actor_id = $2) AS banned""",
        group_id,
        actor_id,
    )
    assert row is not None
    return Membership(row["state"], row["role"], row["banned"], row["follow_uri"])


# ---------------------------------------------------------------------------- discussions


@dataclass(frozen=True)
class Post:
    id: int
    uri: str
    type: str
    in_reply_to: str | None
    public: bool
    local: bool
    published: datetime
    document: dict[str, Any]
    author: ActorCard
    replies: int

    @property
    def title(self) -> str | None:
        name = self.document.get("name")
        return name if isinstance(name, str) and name.strip() else None

    @property
    def content(self) -> str:
        """Sanitised HTML: ours by the publisher, others' by the inbox (clean_object)."""
        content = self.document.get("content")
        return content if isinstance(content, str) else ""


_POST = f"""o.id AS post_id, o.uri AS post_uri, o.type AS post_type, o.in_reply_to, o.public,
            o.local AS post_local, o.published, o.document, {_CARD}"""


def _post(row: asyncpg.Record) -> Post:
    return Post(
        id=row["post_id"],
        uri=row["post_uri"],
        type=row["post_type"],
        in_reply_to=row["in_reply_to"],
        public=row["public"],
        local=row["post_local"],
        published=row["published"],
        document=row["document"],
        author=_card(row),
        replies=row.get("replies", 0),
    )


async def select_discussions(
    conn: Connection, group_id: int, *, with_private: bool, before: int | None, limit: int
) -> list[Post]:
    """Posts that open a discussion in the group, newest first, each with its reply count
    (replies at any depth filed under the group); keyset-paged on the row id."""
    rows = await conn.fetch(
        f"""SELECT {_POST},
                   (WITH RECURSIVE thread(uri) AS (
                        SELECT r.uri FROM objects r
                        WHERE r.in_reply_to = o.uri AND r.group_id = $1
                          AND r.deleted_at IS NULL
                        UNION
                        SELECT r.uri FROM objects r JOIN thread t ON r.in_reply_to = t.uri
                        WHERE r.group_id = $1 AND r.deleted_at IS NULL)
                    SELECT count(*) FROM thread) AS replies
            FROM objects o JOIN actors a ON a.id = o.author_id
            WHERE o.group_id = $1 AND o.in_reply_to IS NULL AND o.deleted_at IS NULL
              AND o.type = ANY($2::text[]) AND ($3 OR o.public)
              AND ($4::bigint IS NULL OR o.id < $4)
            ORDER BY o.id DESC LIMIT $5""",
        group_id,
        DISCUSSION_TYPES,
        with_private,
        before,
        limit,
    )
    return [_post(row) for row in rows]


async def select_thread(
    conn: Connection, group_id: int, root_id: int, *, with_private: bool
) -> list[Post]:
    """A discussion: its opening post first, then its replies at any depth, oldest first.
    Empty when the post is not an open discussion of this group that the reader may see."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE thread(id, uri) AS (
                SELECT o.id, o.uri FROM objects o
                WHERE o.id = $2 AND o.group_id = $1 AND o.in_reply_to IS NULL
                  AND o.type = ANY($5::text[]) AND o.deleted_at IS NULL AND ($3 OR o.public)
                UNION
                SELECT r.id, r.uri FROM objects r JOIN thread t ON r.in_reply_to = t.uri
                WHERE r.group_id = $1 AND r.deleted_at IS NULL AND ($3 OR r.public))
            SELECT {_POST} FROM thread t JOIN objects o ON o.id = t.id
            JOIN actors a ON a.id = o.author_id
            ORDER BY (o.id = $2) DESC, o.id LIMIT $4""",
        group_id,
        root_id,
        with_private,
        MAX_THREAD_POSTS,
        DISCUSSION_TYPES,
    )
    return [_post(row) for row in rows]


async def select_group_post(conn: Connection, group_id: int, post_id: int) -> Post | None:
    """One live post filed under the group, whatever its place in a thread."""
    row = await conn.fetchrow(
        f"""SELECT {_POST} FROM objects o JOIN actors a ON a.id = o.author_id
            WHERE o.id = $2 AND o.group_id = $1 AND o.deleted_at IS NULL""",
        group_id,
        post_id,
    )
    return _post(row) if row else None


async def select_post_group_uri(conn: Connection, post_id: int) -> str | None:
    """The uri of the group a live post is filed under."""
    uri: str | None = await conn.fetchval(
        """SELECT g.uri FROM objects o JOIN actors g ON g.id = o.group_id
           WHERE o.id = $1 AND o.deleted_at IS NULL""",
        post_id,
    )
    return uri


async def select_thread_root(conn: Connection, group_id: int, uri: str) -> int | None:
    """The row id of the discussion a post (filed under the group) belongs to."""
    root: int | None = await conn.fetchval(
        """WITH RECURSIVE up(id, uri, in_reply_to, depth) AS (
               SELECT id, uri, in_reply_to, 0 FROM objects WHERE uri = $2 AND group_id = $1
               UNION ALL
               SELECT o.id, o.uri, o.in_reply_to, up.depth + 1
               FROM objects o JOIN up ON o.uri = up.in_reply_to
               WHERE o.group_id = $1 AND up.depth < 100)
           SELECT id FROM up WHERE in_reply_to IS NULL""",
        group_id,
        uri,
    )
    return root


async def file_under_group(conn: Connection, object_uri: str, group_id: int) -> int:
    """File a post under a group (once); its row id."""
    object_id: int = await conn.fetchval(
        """UPDATE objects SET group_id = coalesce(group_id, $2) WHERE uri = $1 RETURNING id""",
        object_uri,
        group_id,
    )
    return object_id


# ---------------------------------------------------------------------------- people


async def select_actor_cards(conn: Connection, uris: list[str]) -> list[ActorCard]:
    """The actors we know among `uris`, in the order given."""
    rows = await conn.fetch(f"SELECT {_CARD} FROM actors a WHERE a.uri = ANY($1::text[])", uris)
    by_uri = {row["uri"]: _card(row) for row in rows}
    return [by_uri[uri] for uri in uris if uri in by_uri]


@dataclass(frozen=True)
class Member:
    actor: ActorCard
    role: str | None
    since: datetime


async def select_group_staff(conn: Connection, group_id: int) -> list[Member]:
    """Owner, admins and moderators, in that order."""
    rows = await conn.fetch(
        f"""SELECT {_CARD}, r.role, r.created_at FROM group_roles r
            JOIN actors a ON a.id = r.actor_id WHERE r.group_id = $1
            ORDER BY array_position(ARRAY['owner', 'admin', 'moderator'], r.role), a.username""",
        group_id,
    )
    return [Member(_card(row), row["role"], row["created_at"]) for row in rows]


async def select_group_members(
    conn: Connection, group_id: int, *, after: int | None, limit: int
) -> list[tuple[int, Member]]:
    """(follow id, member) of accepted members, oldest first, keyset-paged on the follow id."""
    rows = await conn.fetch(
        f"""SELECT f.id AS follow_id, {_CARD}, r.role, f.created_at FROM follows f
            JOIN actors a ON a.id = f.follower_id
            LEFT JOIN group_roles r ON r.group_id = f.followed_id AND r.actor_id = a.id
            WHERE f.followed_id = $1 AND f.state = 'accepted' AND a.suspended_at IS NULL
              AND ($2::bigint IS NULL OR f.id > $2)
            ORDER BY f.id LIMIT $3""",
        group_id,
        after,
        limit,
    )
    return [(row["follow_id"], Member(_card(row), row["role"], row["created_at"])) for row in rows]


async def set_group_role(conn: Connection, group_id: int, actor_id: int, role: str | None) -> None:
    """Give a role other than owner, or take it away (None); the owner's row is never touched."""
    if role is None:
        await conn.execute(
            "DELETE FROM group_roles WHERE group_id = $1 AND actor_id = $2 AND role <> 'owner'",
            group_id,
            actor_id,
        )
        return
    await conn.execute(
        """INSERT INTO group_roles (group_id, actor_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (group_id, actor_id) DO UPDATE SET role = EXCLUDED.role
           WHERE group_roles.role <> 'owner'""",
        group_id,
        actor_id,
        role,
    )


# ---------------------------------------------------------------------------- bans


@dataclass(frozen=True)
class Ban:
    actor: ActorCard
    reason: str | None
    banned_by: str | None
    created_at: datetime


async def select_group_bans(conn: Connection, group_id: int) -> list[Ban]:
    rows = await conn.fetch(
        f"""SELECT {_CARD}, b.reason, m.username AS banned_by, b.created_at
            FROM group_bans b JOIN actors a ON a.id = b.actor_id
            LEFT JOIN actors m ON m.id = b.banned_by
            WHERE b.group_id = $1 ORDER BY b.created_at DESC""",
        group_id,
    )
    return [Ban(_card(row), row["reason"], row["banned_by"], row["created_at"]) for row in rows]


async def delete_group_ban(conn: Connection, group_id: int, actor_uri: str) -> bool:
    result = await conn.execute(
        """DELETE FROM group_bans b USING actors a
           WHERE b.group_id = $1 AND b.actor_id = a.id AND a.uri = $2""",
        group_id,
        actor_uri,
    )
    return result.endswith(" 1")


# ---------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Report:
    id: int
    reporter: ActorCard | None
    content: str | None
    created_at: datetime
    posts: list[tuple[int, str]]  # (row id, uri) of the reported posts filed under the group
    about_group: bool  # the group itself was reported


async def select_group_reports(conn: Connection, group_id: int, group_uri: str) -> list[Report]:
    """Open reports (Flags) naming the group itself or posts filed under it, oldest first."""
    rows = await conn.fetch(
        f"""SELECT r.id AS report_id, r.content, r.created_at, {_CARD},
                   $2 = ANY(r.object_uris) AS about_group,
                   coalesce((SELECT array_agg(o.id ORDER BY o.id) FROM objects o
                             WHERE o.uri = ANY(r.object_uris) AND o.group_id = $1), '{{}}')
                       AS post_ids,
                   coalesce((SELECT array_agg(o.uri ORDER BY o.id) FROM objects o
                             WHERE o.uri = ANY(r.object_uris) AND o.group_id = $1), '{{}}')
                       AS post_uris
            FROM reports r LEFT JOIN actors a ON a.id = r.reporter_id
            WHERE r.resolved_at IS NULL
              AND ($2 = ANY(r.object_uris) OR EXISTS (
                   SELECT 1 FROM objects o WHERE o.uri = ANY(r.object_uris) AND o.group_id = $1))
            ORDER BY r.id""",
        group_id,
        group_uri,
    )
    return [
        Report(
            id=row["report_id"],
            reporter=_card(row) if row["id"] is not None else None,
            content=row["content"],
            created_at=row["created_at"],
            posts=list(zip(row["post_ids"], row["post_uris"], strict=True)),
            about_group=row["about_group"],
        )
        for row in rows
    ]


async def resolve_group_report(
    conn: Connection, group_id: int, group_uri: str, report_id: int
) -> bool:
    """Mark a report about the group (or its posts) as dealt with."""
    result = await conn.execute(
        """UPDATE reports r SET resolved_at = now()
           WHERE r.id = $3 AND r.resolved_at IS NULL
             AND ($2 = ANY(r.object_uris) OR EXISTS (
                  SELECT 1 FROM objects o WHERE o.uri = ANY(r.object_uris) AND o.group_id = $1))""",
        group_id,
        group_uri,
        report_id,
    )
    return result.endswith(" 1")
