"""SQL for the Mastodon API's timelines: home, public (local, remote, federated), hashtag, and
an account's statuses. Each returns status entries (see storage.statuses) newest first.

Home is read at request time (no fan-out on write): the posts of the person and of those
they follow, the boosts of those they follow, and the posts of the groups they joined as the
group's boosts (FEP-1b12: the group relays them), unless the post already shows as such.
Unlike the web's home (storage/timelines.py: posts only, by row id), Mastodon's lists boosts
beside posts, so everything here is ordered by status id (posts and boosts share that space).
"""

from __future__ import annotations

from typing import Protocol

from federatie.activitypub.iris import AS_PUBLIC
from federatie.storage.mastodon_accounts import STATUS_TYPES
from federatie.storage.pool import Connection
from federatie.storage.statuses import Entry, entries, visible_to


class Window(Protocol):
    """Which part of a timeline (the API's page): ids below `before`, above `after`, `limit`
    of them from the newest, or from the oldest when `ascending` (a `min_id` walk)."""

    @property
    def before(self) -> int | None: ...
    @property
    def after(self) -> int | None: ...
    @property
    def ascending(self) -> bool: ...
    @property
    def limit(self) -> int: ...


_ENTRY = """SELECT sid, kind, object_id, booster_id, boosted_at"""
_POST = """object_status_id(o.published, o.created_at, o.id, 0) AS sid, 0 AS kind,
           o.id AS object_id, NULL::bigint AS booster_id, NULL::timestamptz AS boosted_at"""
_RELAY = """object_status_id(o.published, o.created_at, o.id, 2) AS sid, 2 AS kind,
            o.id AS object_id, o.group_id AS booster_id, o.published AS boosted_at"""
_REBLOG = """status_id(a.published, a.id, 1) AS sid, 1 AS kind, o.id AS object_id,
             a.actor_id AS booster_id, a.published AS boosted_at"""
# $1 viewer, $2 before, $3 after, $4 limit, $5 status types; more from $6.
_WINDOW = "WHERE ($2::bigint IS NULL OR sid < $2) AND ($3::bigint IS NULL OR sid > $3)"
_LIVE = "o.deleted_at IS NULL AND o.type = ANY($5::text[])"
# A group's Announces are its relays (FEP-1b12), shown as the _RELAY kind; reading them as
# boosts only to filter every one out walked all of a large group's Announces (35,000 rows,
# 480 ms of a home timeline at Pleio scale).
_IS_GROUP = "EXISTS (SELECT 1 FROM actors g WHERE g.id = {id} AND g.type = 'Group')"


async def _select(
    conn: Connection, sql: str, window: Window, viewer: int | None, *args: object
) -> list[Entry]:
    order = "ASC" if window.ascending else "DESC"
    rows = await conn.fetch(
        f"{_ENTRY} FROM ({sql}) t {_WINDOW} ORDER BY sid {order} LIMIT $4",
        viewer,
        window.before,
        window.after,
        window.limit,
        list(STATUS_TYPES),
        *args,
    )
    found = entries(rows)
    return found[::-1] if window.ascending else found


async def select_home(conn: Connection, viewer_id: int, window: Window) -> list[Entry]:
    """The person's and their followed people's posts and boosts, and (as the groups' boosts)
    the posts of groups they joined. Each account followed costs one short index scan, cut at
    the page's size, whatever the number of posts (as storage/timelines.py reads the web's
    home), on the (author or group or booster, status id) indexes of migration 0011."""
    order = "ASC" if window.ascending else "DESC"
    # Bounds the indexes can seek to; a group's relay has the post's status id + 2.
    bounds = """AND {sid} < coalesce($2::bigint - {shift}, 9223372036854775807)
                AND {sid} > coalesce($3::bigint - {shift}, 0)"""
    post_sid = "object_status_id(o.published, o.created_at, o.id, 0)"
    reblog_sid = "status_id(a.published, a.id, 1)"
    sql = f"""
        WITH followed AS (
            SELECT a.id, a.type FROM follows f JOIN actors a ON a.id = f.followed_id
            WHERE f.follower_id = $1 AND f.state = 'accepted' AND a.suspended_at IS NULL
        ), accounts AS (SELECT id, type FROM followed UNION ALL SELECT $1::bigint, 'Person')
        SELECT x.* FROM accounts p CROSS JOIN LATERAL (
            SELECT {_POST} FROM objects o
            WHERE o.author_id = p.id AND {_LIVE} {bounds.format(sid=post_sid, shift=0)}
              AND {visible_to("o", "$1")}
            ORDER BY {post_sid} {order} LIMIT $4) x
        UNION ALL
        SELECT x.* FROM accounts p CROSS JOIN LATERAL (
            SELECT {_REBLOG} FROM activities a JOIN objects o ON o.uri = a.object_uri
            WHERE a.actor_id = p.id AND a.type = 'Announce' AND a.undone_at IS NULL
              {bounds.format(sid=reblog_sid, shift=0)}
              AND o.group_id IS DISTINCT FROM a.actor_id AND {_LIVE}
              AND {visible_to("o", "$1")}
            ORDER BY {reblog_sid} {order} LIMIT $4) x
        WHERE p.type <> 'Group'
        UNION ALL
        SELECT x.* FROM followed g CROSS JOIN LATERAL (
            SELECT {_RELAY} FROM objects o
            WHERE o.group_id = g.id {bounds.format(sid=post_sid, shift=2)}
              AND o.author_id NOT IN (SELECT id FROM accounts) AND {_LIVE}
              AND {visible_to("o", "$1")}
            ORDER BY {post_sid} {order} LIMIT $4) x
        WHERE g.type = 'Group'"""
    return await _select(conn, sql, window, viewer_id)


async def select_public(
    conn: Connection,
    viewer_id: int | None,
    window: Window,
    *,
    local: bool | None,
    only_media: bool,
    tag: str | None = None,
) -> list[Entry]:
    """Public top-level posts (public in `to`, not unlisted), optionally only local or only
    remote ones, with media, or with a hashtag (`tag`, lower-case, without `#`)."""
    sql = f"""
        SELECT {_POST} FROM objects o
        WHERE o.public AND o.document->'to' @> to_jsonb($6::text) AND {_LIVE}
          AND o.in_reply_to IS NULL AND ($7::boolean IS NULL OR o.local = $7)
          AND (NOT $8 OR jsonb_array_length(CASE jsonb_typeof(o.document->'attachment')
                                            WHEN 'array' THEN o.document->'attachment'
                                            ELSE '[]' END) > 0)
          AND ($9::text IS NULL OR EXISTS (
              SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(o.document->'tag')
                                                 WHEN 'array' THEN o.document->'tag'
                                                 ELSE '[]' END) t
              WHERE t->>'type' = 'Hashtag' AND lower(ltrim(t->>'name', '#')) = $9))
          AND {visible_to("o", "$1")}"""
    return await _select(conn, sql, window, viewer_id, AS_PUBLIC, local, only_media, tag)


async def select_account_statuses(
    conn: Connection,
    viewer_id: int | None,
    account_id: int,
    window: Window,
    *,
    only_media: bool,
    exclude_replies: bool,
    exclude_reblogs: bool,
) -> list[Entry]:
    """An account's posts and boosts; a group's are the posts it relayed, as its boosts."""
    media = """(NOT $7 OR jsonb_array_length(CASE jsonb_typeof(o.document->'attachment')
                                            WHEN 'array' THEN o.document->'attachment'
                                            ELSE '[]' END) > 0)"""
    replies = "(NOT $8 OR o.in_reply_to IS NULL)"
    sql = f"""
        SELECT {_POST} FROM objects o
        WHERE o.author_id = $6 AND {_LIVE} AND {media} AND {replies}
          AND {visible_to("o", "$1")}
        UNION ALL
        SELECT {_REBLOG} FROM activities a JOIN objects o ON o.uri = a.object_uri
        WHERE NOT $9 AND NOT $7 AND NOT {_IS_GROUP.format(id="$6")}
          AND a.actor_id = $6 AND a.type = 'Announce'
          AND a.undone_at IS NULL AND o.group_id IS DISTINCT FROM a.actor_id AND {_LIVE}
          AND {visible_to("o", "$1")}
        UNION ALL
        SELECT {_RELAY} FROM objects o
        WHERE NOT $9 AND o.group_id = $6 AND o.author_id <> $6 AND {_LIVE} AND {media}
          AND {replies} AND {visible_to("o", "$1")}"""
    return await _select(
        conn,
        sql,
        window,
        viewer_id,
        account_id,
        only_media,
        exclude_replies,
        exclude_reblogs,
    )
