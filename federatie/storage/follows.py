"""SQL for follow relations: followers and following collections, group membership."""

from __future__ import annotations

from typing import Literal

from federatie.storage.pool import Connection

Direction = Literal["followers", "following"]


async def count_follows(conn: Connection, actor_id: int, direction: Direction) -> int:
    """Accepted follows of (followers) or by (following) the actor, as actor_stats keeps
    them (migration 0012)."""
    count: int | None = await conn.fetchval(
        f"SELECT {direction} FROM actor_stats WHERE actor_id = $1", actor_id
    )
    return count or 0


async def select_follow_page(
    conn: Connection,
    actor_id: int,
    direction: Direction,
    *,
    max_id: int | None,
    min_id: int | None,
    limit: int,
) -> list[tuple[int, str]]:
    """(follow id, other actor's uri), newest first, keyset-paged on the follow id."""
    mine, other = (
        ("followed_id", "follower_id")
        if direction == "followers"
        else ("follower_id", "followed_id")
    )
    order = "ASC" if min_id is not None and max_id is None else "DESC"
    rows = await conn.fetch(
        f"""SELECT f.id, a.uri FROM follows f JOIN actors a ON a.id = f.{other}
            WHERE f.{mine} = $1 AND f.state = 'accepted'
              AND ($2::bigint IS NULL OR f.id < $2) AND ($3::bigint IS NULL OR f.id > $3)
            ORDER BY f.id {order} LIMIT $4""",
        actor_id,
        max_id,
        min_id,
        limit,
    )
    pairs = [(row["id"], row["uri"]) for row in rows]
    return pairs if order == "DESC" else pairs[::-1]


async def select_group_staff(conn: Connection, group_id: int) -> list[str]:
    """The uris of a group's owner, admins and moderators: its moderators collection."""
    rows = await conn.fetch(
        """SELECT a.uri FROM group_roles r JOIN actors a ON a.id = r.actor_id
           WHERE r.group_id = $1 ORDER BY r.created_at, a.uri""",
        group_id,
    )
    return [row["uri"] for row in rows]


async def upsert_follow(
    conn: Connection, follower_id: int, followed_id: int, state: str, activity_uri: str
) -> None:
    """Record a Follow; a repeated Follow refreshes the activity id (its Accept refers to it)."""
    await conn.execute(
        """INSERT INTO follows (follower_id, followed_id, state, activity_uri)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (follower_id, followed_id) DO UPDATE
           SET activity_uri = EXCLUDED.activity_uri,
               state = CASE WHEN follows.state = 'accepted' THEN 'accepted'
                            ELSE EXCLUDED.state END""",
        follower_id,
        followed_id,
        state,
        activity_uri,
    )


async def select_follow_state(conn: Connection, follower_id: int, followed_id: int) -> str | None:
    state: str | None = await conn.fetchval(
        "SELECT state FROM follows WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
    )
    return state


async def set_follow_state(
    conn: Connection, follower_id: int, followed_id: int, state: str
) -> bool:
    result = await conn.execute(
        "UPDATE follows SET state = $3 WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
        state,
    )
    return result.endswith(" 1")


async def delete_follow(conn: Connection, follower_id: int, followed_id: int) -> bool:
    result = await conn.execute(
        "DELETE FROM follows WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
    )
    return result.endswith(" 1")


async def delete_follows_of(conn: Connection, actor_id: int) -> None:
    """An actor was deleted: it follows no one and no one follows it."""
    await conn.execute("DELETE FROM follows WHERE follower_id = $1 OR followed_id = $1", actor_id)


async def select_follower_targets(
    conn: Connection, actor_id: int
) -> list[tuple[int, bool, str | None]]:
    """(actor id, local, delivery inbox) of accepted followers; the shared inbox when known."""
    rows = await conn.fetch(
        """SELECT a.id, a.local, coalesce(a.shared_inbox, a.inbox) AS inbox
           FROM follows f JOIN actors a ON a.id = f.follower_id
           WHERE f.followed_id = $1 AND f.state = 'accepted' AND a.suspended_at IS NULL""",
        actor_id,
    )
    return [(row["id"], row["local"], row["inbox"]) for row in rows]
