"""SQL for notifications of local people (the Mastodon API's follow, follow_request, mention,
favourite, reblog and status). Inserting twice is harmless: one row per (kind, from, object)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from federatie.storage.mastodon_accounts import STATUS_TYPES
from federatie.storage.pool import Connection

TYPES = ("mention", "status", "reblog", "follow", "follow_request", "favourite")

# Tags of a stored document as rows (normalised remote documents and ours both keep a list).
_TAGS = """jsonb_array_elements(CASE jsonb_typeof(o.document->'tag')
                                WHEN 'array' THEN o.document->'tag' ELSE '[]' END)"""


async def insert_for_post(conn: Connection, object_uri: str) -> None:
    """A post arrived: `mention` for the local people it tags, `status` for local followers
    who asked to hear of the author's posts."""
    await conn.execute(
        f"""INSERT INTO notifications (recipient_id, type, from_id, object_id)
            SELECT DISTINCT a.id, 'mention', o.author_id, o.id
            FROM objects o CROSS JOIN LATERAL {_TAGS} t
            JOIN actors a ON a.uri = t->>'href' AND a.local AND a.type = 'Person'
            WHERE o.uri = $1 AND o.deleted_at IS NULL AND o.type = ANY($2::text[])
              AND t->>'type' = 'Mention' AND a.id <> o.author_id
            UNION
            SELECT f.follower_id, 'status', o.author_id, o.id
            FROM objects o JOIN follows f ON f.followed_id = o.author_id
            JOIN actors a ON a.id = f.follower_id AND a.local
            WHERE o.uri = $1 AND o.deleted_at IS NULL AND o.type = ANY($2::text[])
              AND o.in_reply_to IS NULL AND f.state = 'accepted' AND f.notify
            ON CONFLICT DO NOTHING""",
        object_uri,
        list(STATUS_TYPES),
    )


async def insert_for_reaction(conn: Connection, kind: str, actor_uri: str, object_uri: str) -> None:
    """A Like (`favourite`) or a person's Announce (`reblog`) of a local person's post."""
    await conn.execute(
        """INSERT INTO notifications (recipient_id, type, from_id, object_id)
           SELECT o.author_id, $1, r.id, o.id FROM objects o
           JOIN actors author ON author.id = o.author_id AND author.local
                              AND author.type = 'Person'
           JOIN actors r ON r.uri = $2 AND r.type <> 'Group'
           WHERE o.uri = $3 AND o.deleted_at IS NULL AND r.id <> o.author_id
           ON CONFLICT DO NOTHING""",
        kind,
        actor_uri,
        object_uri,
    )


async def insert_for_follow(
    conn: Connection, follower_id: int, followed_id: int, pending: bool
) -> None:
    """Someone follows (or asks to follow) a local person."""
    await conn.execute(
        """INSERT INTO notifications (recipient_id, type, from_id)
           SELECT a.id, $3, $2 FROM actors a
           WHERE a.id = $1 AND a.local AND a.type = 'Person'
           ON CONFLICT DO NOTHING""",
        followed_id,
        follower_id,
        "follow_request" if pending else "follow",
    )


async def set_notify(conn: Connection, follower_id: int, followed_id: int, notify: bool) -> None:
    """Mastodon's follow option `notify`: hear of every post of the followed account."""
    await conn.execute(
        "UPDATE follows SET notify = $3 WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
        notify,
    )


@dataclass(frozen=True)
class Notification:
    id: int
    type: str
    from_id: int
    object_id: int | None
    created_at: datetime


_COLUMNS = "n.id, n.type, n.from_id, n.object_id, n.created_at"


async def select_page(
    conn: Connection,
    recipient_id: int,
    *,
    types: Sequence[str],
    account_id: int | None,
    before: int | None,
    after: int | None,
    ascending: bool,
    limit: int,
) -> list[Notification]:
    """A page of a person's notifications of `types` (from `account_id`), newest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM notifications n JOIN actors f ON f.id = n.from_id
            WHERE n.recipient_id = $1 AND n.type = ANY($2::text[])
              AND ($3::bigint IS NULL OR n.from_id = $3) AND f.suspended_at IS NULL
              AND ($4::bigint IS NULL OR n.id < $4) AND ($5::bigint IS NULL OR n.id > $5)
              AND NOT EXISTS (SELECT 1 FROM objects o
                              WHERE o.id = n.object_id AND o.deleted_at IS NOT NULL)
            ORDER BY n.id {"ASC" if ascending else "DESC"} LIMIT $6""",
        recipient_id,
        list(types),
        account_id,
        before,
        after,
        limit,
    )
    found = [Notification(**dict(row)) for row in rows]
    return found[::-1] if ascending else found


async def select_one(
    conn: Connection, recipient_id: int, notification_id: int
) -> Notification | None:
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM notifications n
            WHERE n.recipient_id = $1 AND n.id = $2""",
        recipient_id,
        notification_id,
    )
    return Notification(**dict(row)) if row else None


async def select_by_id(conn: Connection, notification_id: int) -> tuple[int, Notification] | None:
    """(recipient id, notification): for the streaming API."""
    row = await conn.fetchrow(
        f"SELECT n.recipient_id, {_COLUMNS} FROM notifications n WHERE n.id = $1",
        notification_id,
    )
    if row is None:
        return None
    values = dict(row)
    return values.pop("recipient_id"), Notification(**values)


async def count_unread(conn: Connection, recipient_id: int, types: Sequence[str]) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE recipient_id = $1 AND type = ANY($2::text[])",
        recipient_id,
        list(types),
    )
    return count


async def delete_one(conn: Connection, recipient_id: int, notification_id: int) -> bool:
    result = await conn.execute(
        "DELETE FROM notifications WHERE recipient_id = $1 AND id = $2",
        recipient_id,
        notification_id,
    )
    return result.endswith(" 1")


async def delete_all(conn: Connection, recipient_id: int) -> None:
    await conn.execute("DELETE FROM notifications WHERE recipient_id = $1", recipient_id)
