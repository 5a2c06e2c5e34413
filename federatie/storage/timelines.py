"""SQL for timelines: what a person sees of their groups and of the people they follow.

The home timeline is computed when read, not kept per person (no fan-out on write): for each
actor the person follows (a group they joined, a person), an index scan takes the newest
`limit` objects filed under that group (`objects_group`) or written by that person
(`objects_author`), and the union of those short lists is cut to `limit`. The work is
bounded by (follows x limit) index entries, however large `objects` grows. Order and paging
are by object row id (`max_id` / `min_id`): newest to arrive here first, so a page never
repeats or skips an object that arrives meanwhile, and a remote server cannot pin a post to
the top with a `published` date in the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federatie.storage.pool import Connection


@dataclass(frozen=True)
class TimelineItem:
    """One object in a timeline, with its author and group (None: filed under no group)."""

    id: int  # the row id: the paging cursor
    uri: str
    type: str
    public: bool
    in_reply_to: str | None
    published: datetime
    author_id: int
    author_uri: str
    author_username: str
    author_host: str
    author_name: str | None
    author_local: bool
    group_id: int | None
    group_uri: str | None
    group_username: str | None
    group_name: str | None
    group_local: bool | None
    document: dict[str, Any]


# Each candidate list in its own lateral subquery, so that each is one index scan that stops
# after `limit` rows; only the `limit` best candidates are joined to their rows. {cursor} and
# {order} are constant fragments.
_HOME = """
WITH me AS (SELECT id, uri FROM actors WHERE id = $1),
followed AS (
    SELECT a.id, a.type, a.followers FROM follows f JOIN actors a ON a.id = f.followed_id
    WHERE f.follower_id = $1 AND f.state = 'accepted' AND a.suspended_at IS NULL
),
candidates AS (
    -- Everything filed under a group the person belongs to (members see it all).
    SELECT x.id FROM followed g CROSS JOIN LATERAL (
        SELECT o.id FROM objects o JOIN actors au ON au.id = o.author_id
        WHERE o.group_id = g.id AND o.deleted_at IS NULL AND au.suspended_at IS NULL {cursor}
        ORDER BY o.id {order} LIMIT $4) x
    WHERE g.type = 'Group'
    UNION
    -- What the people they follow wrote, if public or addressed to them or to the followers.
    SELECT x.id FROM followed p CROSS JOIN me CROSS JOIN LATERAL (
        SELECT o.id FROM objects o
        WHERE o.author_id = p.id AND o.deleted_at IS NULL {cursor}
          AND (o.public OR o.recipients && ARRAY[me.uri, p.followers])
        ORDER BY o.id {order} LIMIT $4) x
    UNION
    -- Their own.
    (SELECT o.id FROM objects o WHERE o.author_id = $1 AND o.deleted_at IS NULL {cursor}
     ORDER BY o.id {order} LIMIT $4)
)
SELECT o.id, o.uri, o.type, o.public, o.in_reply_to, o.published, o.document,
       au.id AS author_id, au.uri AS author_uri, au.username AS author_username,
       au.host AS author_host, au.name AS author_name, au.local AS author_local,
       g.id AS group_id, g.uri AS group_uri, g.username AS group_username,
       g.name AS group_name, g.local AS group_local
FROM (SELECT id FROM candidates ORDER BY id {order} LIMIT $4) c
JOIN objects o ON o.id = c.id
JOIN actors au ON au.id = o.author_id
LEFT JOIN actors g ON g.id = o.group_id
ORDER BY o.id {order} LIMIT $4
"""
# Ranges the (group_id, id) and (author_id, id) indexes can seek to, with or without a cursor
# (an `$2 IS NULL OR id < $2` would make the planner walk the primary key and filter).
_CURSOR = "AND o.id < coalesce($2::bigint, 9223372036854775807) AND o.id > coalesce($3::bigint, 0)"


async def select_home_timeline(
    conn: Connection,
    person_id: int,
    *,
    max_id: int | None,
    limit: int,
    min_id: int | None = None,
) -> list[TimelineItem]:
    """Newest first: objects in the person's groups (local and remote), by the people they
    follow (as far as addressed to them), and their own; older than `max_id`, newer than
    `min_id` (with only `min_id`: the page just above it, as Mastodon's `min_id`)."""
    order = "ASC" if min_id is not None and max_id is None else "DESC"
    rows = await conn.fetch(
        _HOME.format(cursor=_CURSOR, order=order), person_id, max_id, min_id, limit
    )
    items = [TimelineItem(**dict(row)) for row in rows]
    return items if order == "DESC" else items[::-1]
