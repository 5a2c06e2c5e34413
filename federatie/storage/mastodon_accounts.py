"""SQL for the Mastodon API's accounts: actors (local and cached remote) with their counts,
relationships, follow lists and requests, and account search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federatie.domain.profiles import Avatar
from federatie.storage.pool import Connection

# Objects that show as statuses (a blog Article too); replies and group posts count as well.
# The SQL function counts_as_status (migration 0012) holds the same list.
STATUS_TYPES = ("Note", "Article", "Page", "Question")


@dataclass(frozen=True)
class AccountRow:
    """An actor as the Account entity needs it."""

    id: int
    uri: str
    url: str | None
    type: str
    local: bool
    username: str
    host: str
    name: str | None
    summary: str | None
    manually_approves_followers: bool
    created_at: datetime
    document: dict[str, Any] | None
    followers_count: int
    following_count: int
    statuses_count: int
    last_status_at: datetime | None
    avatar: Avatar | None  # a local person's uploaded avatar


_ACCOUNT_SELECT = """
    SELECT a.id, a.uri, a.url, a.type, a.local, a.username, a.host, a.name, a.summary,
           a.manually_approves_followers, a.created_at, a.document,
           coalesce(s.followers, 0) AS followers_count,
           coalesce(s.following, 0) AS following_count,
           coalesce(s.statuses, 0) AS statuses_count, s.last_status_at,
           v.sha256 AS avatar_sha256, v.media_type AS avatar_media_type,
           v.width AS avatar_width, v.height AS avatar_height
    FROM actors a LEFT JOIN avatars v ON v.person_id = a.id
    LEFT JOIN actor_stats s ON s.actor_id = a.id
"""


def _account(row: Any) -> AccountRow:
    avatar = (
        Avatar(
            row["avatar_sha256"],
            row["avatar_media_type"],
            row["avatar_width"],
            row["avatar_height"],
        )
        if row["avatar_sha256"]
        else None
    )
    fields = {key: row[key] for key in AccountRow.__dataclass_fields__ if key != "avatar"}
    return AccountRow(**fields, avatar=avatar)


async def select_accounts(conn: Connection, actor_ids: Sequence[int]) -> dict[int, AccountRow]:
    """Accounts by actor id (suspended ones are left out), for entities in bulk."""
    rows = await conn.fetch(
        _ACCOUNT_SELECT
        + """ WHERE a.id = ANY($1::bigint[]) AND a.suspended_at IS NULL
              AND a.type <> 'Organization'""",
        list(set(actor_ids)),
    )
    return {row["id"]: _account(row) for row in rows}


async def select_account(conn: Connection, actor_id: int) -> AccountRow | None:
    return (await select_accounts(conn, [actor_id])).get(actor_id)


async def select_account_id_by_acct(conn: Connection, username: str, host: str) -> int | None:
    """The actor id of `username@host` as far as we know it (local or cached remote)."""
    found: int | None = await conn.fetchval(
        """SELECT id FROM actors WHERE lower(username) = lower($1) AND host = $2
             AND suspended_at IS NULL AND type <> 'Organization'
           ORDER BY local DESC, id LIMIT 1""",
        username,
        host,
    )
    return found


async def select_account_id_by_uri(conn: Connection, uri: str) -> int | None:
    """An actor by its id or its profile URL (what people paste into a search)."""
    found: int | None = await conn.fetchval(
        """SELECT id FROM actors WHERE (uri = $1 OR url = $1) AND suspended_at IS NULL
             AND type <> 'Organization' ORDER BY (uri = $1) DESC LIMIT 1""",
        uri,
    )
    return found


async def search_account_ids(
    conn: Connection, text: str, *, following_of: int | None, offset: int, limit: int
) -> list[int]:
    """Actors whose name or handle starts with `text` (words in the display name too); local
    ones first. `following_of`: only those this person follows."""
    pattern = _like_prefix(text)
    rows = await conn.fetch(
        """SELECT a.id FROM actors a
           WHERE a.suspended_at IS NULL AND a.type IN ('Person', 'Group', 'Service')
             AND (a.username ILIKE $1 ESCAPE '\\' OR a.name ILIKE $1 ESCAPE '\\'
                  OR a.name ILIKE '% ' || $1 ESCAPE '\\')
             AND ($2::bigint IS NULL OR EXISTS (
                  SELECT 1 FROM follows f WHERE f.follower_id = $2 AND f.followed_id = a.id
                    AND f.state = 'accepted'))
           ORDER BY a.local DESC, a.username, a.id OFFSET $3 LIMIT $4""",
        pattern,
        following_of,
        offset,
        limit,
    )
    return [row["id"] for row in rows]


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# ------------------------------------------------------------------ follow lists and requests


async def select_follow_page(
    conn: Connection,
    actor_id: int,
    *,
    followers: bool,
    state: str,
    before: int | None,
    after: int | None,
    order: str,
    limit: int,
) -> list[tuple[int, int]]:
    """(follow id, other actor id) of an actor's followers or followings in `state`."""
    mine, other = ("followed_id", "follower_id") if followers else ("follower_id", "followed_id")
    direction = "ASC" if order == "ASC" else "DESC"
    rows = await conn.fetch(
        f"""SELECT f.id, f.{other} AS other FROM follows f JOIN actors a ON a.id = f.{other}
            WHERE f.{mine} = $1 AND f.state = $2 AND a.suspended_at IS NULL
              AND ($3::bigint IS NULL OR f.id < $3) AND ($4::bigint IS NULL OR f.id > $4)
            ORDER BY f.id {direction} LIMIT $5""",
        actor_id,
        state,
        before,
        after,
        limit,
    )
    return [(row["id"], row["other"]) for row in rows]


async def count_pending_followers(conn: Connection, actor_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM follows WHERE followed_id = $1 AND state = 'pending'", actor_id
    )
    return count


@dataclass(frozen=True)
class Relationship:
    id: int
    following: bool
    requested: bool
    followed_by: bool
    requested_by: bool


async def select_relationships(
    conn: Connection, person_id: int, actor_ids: Sequence[int]
) -> dict[int, Relationship]:
    """How `person_id` and each of `actor_ids` follow one another."""
    rows = await conn.fetch(
        """SELECT t.id,
                  (SELECT state FROM follows WHERE follower_id = $1 AND followed_id = t.id)
                    AS outgoing,
                  (SELECT state FROM follows WHERE follower_id = t.id AND followed_id = $1)
                    AS incoming
           FROM unnest($2::bigint[]) AS t(id)""",
        person_id,
        list(actor_ids),
    )
    return {
        row["id"]: Relationship(
            id=row["id"],
            following=row["outgoing"] == "accepted",
            requested=row["outgoing"] == "pending",
            followed_by=row["incoming"] == "accepted",
            requested_by=row["incoming"] == "pending",
        )
        for row in rows
    }


async def select_actor_uri(conn: Connection, actor_id: int) -> str | None:
    uri: str | None = await conn.fetchval(
        "SELECT uri FROM actors WHERE id = $1 AND suspended_at IS NULL", actor_id
    )
    return uri


async def select_follow_activity(
    conn: Connection, follower_id: int, followed_id: int
) -> str | None:
    """The id of the Follow activity behind a follow (to Undo ours, or answer theirs)."""
    uri: str | None = await conn.fetchval(
        "SELECT activity_uri FROM follows WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
    )
    return uri


# ------------------------------------------------------------------ instance figures, markers


async def count_instance(conn: Connection) -> tuple[int, int, int]:
    """(local people, local statuses, other domains known) for the instance entity."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM actors a JOIN people p ON p.actor_id = a.id
                   WHERE a.local AND a.suspended_at IS NULL) AS users,
                  (SELECT count(*) FROM objects WHERE local AND deleted_at IS NULL
                   AND type = ANY($1::text[])) AS statuses,
                  (SELECT count(DISTINCT host) FROM actors WHERE NOT local) AS domains""",
        list(STATUS_TYPES),
    )
    assert row is not None
    return row["users"], row["statuses"], row["domains"]


async def select_peers(conn: Connection) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT host FROM actors WHERE NOT local ORDER BY host")
    return [row["host"] for row in rows]


@dataclass(frozen=True)
class Marker:
    timeline: str
    last_read_id: str
    version: int
    updated_at: datetime


async def select_markers(conn: Connection, person_id: int, timelines: list[str]) -> list[Marker]:
    rows = await conn.fetch(
        """SELECT timeline, last_read_id, version, updated_at FROM api_markers
           WHERE person_id = $1 AND timeline = ANY($2::text[])""",
        person_id,
        timelines,
    )
    return [Marker(**dict(row)) for row in rows]


async def upsert_marker(conn: Connection, person_id: int, timeline: str, last_read_id: str) -> None:
    await conn.execute(
        """INSERT INTO api_markers (person_id, timeline, last_read_id) VALUES ($1, $2, $3)
           ON CONFLICT (person_id, timeline) DO UPDATE SET last_read_id = EXCLUDED.last_read_id,
               version = api_markers.version + 1, updated_at = now()""",
        person_id,
        timeline,
        last_read_id,
    )


# ------------------------------------------------------------------ search: posts and hashtags


async def select_object_id_by_link(conn: Connection, link: str) -> int | None:
    """A post by its id or by the page URL people paste (Mastodon's `/@name/123`)."""
    found: int | None = await conn.fetchval(
        """SELECT id FROM objects WHERE (uri = $1 OR document->>'url' = $1)
             AND deleted_at IS NULL ORDER BY (uri = $1) DESC LIMIT 1""",
        link,
    )
    return found


async def search_hashtags(conn: Connection, prefix: str, limit: int) -> list[str]:
    """Hashtags (lower-case, without `#`) on public posts that start with `prefix`."""
    rows = await conn.fetch(
        """SELECT DISTINCT lower(ltrim(t->>'name', '#')) AS name
           FROM objects o, jsonb_array_elements(CASE jsonb_typeof(o.document->'tag')
                                                WHEN 'array' THEN o.document->'tag'
                                                ELSE '[]'::jsonb END) t
           WHERE o.public AND o.deleted_at IS NULL AND t->>'type' = 'Hashtag'
             AND lower(ltrim(t->>'name', '#')) LIKE $1 ESCAPE '\\'
           ORDER BY name LIMIT $2""",
        _like_prefix(prefix.lower()),
        limit,
    )
    return [row["name"] for row in rows]
