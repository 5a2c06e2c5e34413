"""SQL for cached remote actors and their public keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from federatie.storage.pool import Connection


@dataclass(frozen=True)
class RemoteActorRow:
    id: int
    uri: str
    type: str
    username: str
    host: str
    name: str | None
    inbox: str
    shared_inbox: str | None
    followers: str | None
    manually_approves_followers: bool
    fetched_at: datetime | None
    document: dict[str, Any] | None


@dataclass(frozen=True)
class RemoteKeyRow:
    key_id: str
    owner: str
    kind: str
    material: str
    fetched_at: datetime
    refetched_at: datetime | None


_ACTOR_COLUMNS = """id, uri, type, username, host, name, inbox, shared_inbox, followers,
                   manually_approves_followers, fetched_at, document"""


def _actor(row: Any) -> RemoteActorRow:
    return RemoteActorRow(**{key: row[key] for key in RemoteActorRow.__dataclass_fields__})


async def select_remote_actor(conn: Connection, uri: str) -> RemoteActorRow | None:
    row = await conn.fetchrow(
        f"SELECT {_ACTOR_COLUMNS} FROM actors WHERE uri = $1 AND NOT local", uri
    )
    return _actor(row) if row else None


async def upsert_remote_actor(
    conn: Connection,
    *,
    uri: str,
    type: str,
    username: str,
    host: str,
    name: str | None,
    summary: str | None,
    url: str | None,
    inbox: str,
    shared_inbox: str | None,
    outbox: str | None,
    followers: str | None,
    following: str | None,
    manually_approves_followers: bool,
    document: dict[str, Any],
) -> RemoteActorRow:
    """Insert or refresh; never touches a local actor (their uris are on our host)."""
    row = await conn.fetchrow(
        f"""INSERT INTO actors (uri, type, local, username, host, name, summary, url, inbox,
                               shared_inbox, outbox, followers, following,
                               manually_approves_followers, document, fetched_at)
            VALUES ($1, $2, false, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
            ON CONFLICT (uri) DO UPDATE SET
                type = EXCLUDED.type, username = EXCLUDED.username, name = EXCLUDED.name,
                summary = EXCLUDED.summary, url = EXCLUDED.url, inbox = EXCLUDED.inbox,
                shared_inbox = EXCLUDED.shared_inbox, outbox = EXCLUDED.outbox,
                followers = EXCLUDED.followers, following = EXCLUDED.following,
                manually_approves_followers = EXCLUDED.manually_approves_followers,
                document = EXCLUDED.document, fetched_at = now()
            WHERE NOT actors.local
            RETURNING {_ACTOR_COLUMNS}""",
        uri,
        type,
        username,
        host,
        name,
        summary,
        url,
        inbox,
        shared_inbox,
        outbox,
        followers,
        following,
        manually_approves_followers,
        document,
    )
    if row is None:
        raise ValueError(f"{uri} is a local actor")
    return _actor(row)


async def replace_remote_keys(
    conn: Connection, actor_id: int, keys: list[tuple[str, str, str]]
) -> None:
    """Set an actor's keys to exactly `keys` (key id, kind, material): rotation drops old ones."""
    await conn.execute(
        "DELETE FROM remote_keys WHERE actor_id = $1 AND NOT (key_id = ANY($2::text[]))",
        actor_id,
        [key_id for key_id, _, _ in keys],
    )
    await conn.executemany(
        """INSERT INTO remote_keys (key_id, actor_id, kind, material, fetched_at)
           VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (key_id) DO UPDATE SET actor_id = EXCLUDED.actor_id,
               kind = EXCLUDED.kind, material = EXCLUDED.material, fetched_at = now()""",
        [(key_id, actor_id, kind, material) for key_id, kind, material in keys],
    )


async def select_remote_key(conn: Connection, key_id: str) -> RemoteKeyRow | None:
    row = await conn.fetchrow(
        """SELECT k.key_id, a.uri AS owner, k.kind, k.material, k.fetched_at, k.refetched_at
           FROM remote_keys k JOIN actors a ON a.id = k.actor_id WHERE k.key_id = $1""",
        key_id,
    )
    return RemoteKeyRow(**dict(row)) if row else None


async def claim_key_refetch(conn: Connection, key_id: str, interval: timedelta) -> bool:
    """Whether this key may be refetched now; if so, record it (shared by all processes)."""
    claimed = await conn.fetchval(
        """UPDATE remote_keys SET refetched_at = now()
           WHERE key_id = $1 AND (refetched_at IS NULL OR refetched_at < now() - $2::interval)
           RETURNING true""",
        key_id,
        interval,
    )
    return bool(claimed)
