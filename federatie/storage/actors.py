"""SQL for actors, people, groups, keys and tokens. Plain SQL, explicit columns, typed results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from federatie.domain.actors import ActorType, GroupKind, GroupRole, LocalActor
from federatie.storage.pool import Connection

LOCAL_ACTOR_COLUMNS = """
    a.id, a.type, a.username, a.uri, a.name, a.summary, a.manually_approves_followers,
    a.public_key_pem, k.ed25519_multibase, a.created_at, g.kind, g.themes
"""


def local_actor(row: asyncpg.Record) -> LocalActor:
    created: datetime = row["created_at"]
    return LocalActor(
        id=row["id"],
        type=ActorType(row["type"]),
        username=row["username"],
        uri=row["uri"],
        name=row["name"],
        summary=row["summary"],
        manually_approves_followers=row["manually_approves_followers"],
        public_key_pem=row["public_key_pem"],
        ed25519_multibase=row["ed25519_multibase"],
        published=created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        group_kind=GroupKind(row["kind"]) if row["kind"] else None,
        themes=tuple(row["themes"] or ()),
    )


async def select_local_actor(
    conn: Connection, username: str, actor_type: ActorType | None = None
) -> LocalActor | None:
    row = await conn.fetchrow(
        f"""SELECT {LOCAL_ACTOR_COLUMNS}
            FROM actors a JOIN actor_keys k ON k.actor_id = a.id
            LEFT JOIN groups g ON g.actor_id = a.id
            WHERE a.local AND a.username = $1 AND ($2::text IS NULL OR a.type = $2)
              AND a.suspended_at IS NULL""",
        username,
        actor_type.value if actor_type else None,
    )
    return local_actor(row) if row else None


async def select_local_actor_by_uri(conn: Connection, uri: str) -> LocalActor | None:
    row = await conn.fetchrow(
        f"""SELECT {LOCAL_ACTOR_COLUMNS}
            FROM actors a JOIN actor_keys k ON k.actor_id = a.id
            LEFT JOIN groups g ON g.actor_id = a.id
            WHERE a.local AND a.uri = $1 AND a.suspended_at IS NULL""",
        uri,
    )
    return local_actor(row) if row else None


async def insert_local_actor(
    conn: Connection,
    *,
    actor_type: ActorType,
    username: str,
    uri: str,
    host: str,
    name: str | None,
    summary: str | None,
    inbox: str,
    shared_inbox: str,
    outbox: str,
    followers: str,
    following: str,
    key_id: str,
    public_key_pem: str,
    manually_approves_followers: bool,
) -> int | None:
    """Insert; None when the name is taken (one name space for people and groups)."""
    actor_id: int | None = await conn.fetchval(
        """INSERT INTO actors (uri, type, local, username, host, name, summary, url, inbox,
                               shared_inbox, outbox, followers, following, key_id,
                               public_key_pem, manually_approves_followers)
           VALUES ($1, $2, true, $3, $4, $5, $6, $1, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT DO NOTHING
           RETURNING id""",
        uri,
        actor_type.value,
        username,
        host,
        name,
        summary,
        inbox,
        shared_inbox,
        outbox,
        followers,
        following,
        key_id,
        public_key_pem,
        manually_approves_followers,
    )
    return actor_id


async def insert_actor_keys(
    conn: Connection,
    actor_id: int,
    rsa_private_pem: str,
    ed25519_private_pem: str,
    ed25519_multibase: str,
) -> None:
    await conn.execute(
        """INSERT INTO actor_keys (actor_id, rsa_private_pem, ed25519_private_pem,
                                   ed25519_multibase)
           VALUES ($1, $2, $3, $4)""",
        actor_id,
        rsa_private_pem,
        ed25519_private_pem,
        ed25519_multibase,
    )


@dataclass(frozen=True)
class PrivateKeys:
    key_id: str
    rsa_private_pem: str
    ed25519_private_pem: str


async def select_private_keys(conn: Connection, actor_id: int) -> PrivateKeys | None:
    row = await conn.fetchrow(
        """SELECT a.key_id, k.rsa_private_pem, k.ed25519_private_pem
           FROM actor_keys k JOIN actors a ON a.id = k.actor_id WHERE k.actor_id = $1""",
        actor_id,
    )
    return (
        PrivateKeys(row["key_id"], row["rsa_private_pem"], row["ed25519_private_pem"])
        if row
        else None
    )


async def insert_person(
    conn: Connection, actor_id: int, password_hash: str, is_admin: bool, approved: bool = True
) -> None:
    await conn.execute(
        """INSERT INTO people (actor_id, password_hash, is_admin, approved_at)
           VALUES ($1, $2, $3, CASE WHEN $4 THEN now() END)""",
        actor_id,
        password_hash,
        is_admin,
        approved,
    )


async def insert_group(conn: Connection, actor_id: int, kind: GroupKind, themes: list[str]) -> None:
    await conn.execute(
        "INSERT INTO groups (actor_id, kind, themes) VALUES ($1, $2, $3)",
        actor_id,
        kind.value,
        themes,
    )


async def insert_group_role(
    conn: Connection, group_id: int, actor_id: int, role: GroupRole
) -> None:
    await conn.execute(
        """INSERT INTO group_roles (group_id, actor_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (group_id, actor_id) DO UPDATE SET role = EXCLUDED.role""",
        group_id,
        actor_id,
        role.value,
    )


@dataclass(frozen=True)
class PersonSummary:
    username: str
    name: str | None
    is_admin: bool
    created_at: datetime


async def select_people(conn: Connection) -> list[PersonSummary]:
    rows = await conn.fetch(
        """SELECT a.username, a.name, p.is_admin, a.created_at
           FROM actors a JOIN people p ON p.actor_id = a.id ORDER BY a.username"""
    )
    return [PersonSummary(r["username"], r["name"], r["is_admin"], r["created_at"]) for r in rows]


@dataclass(frozen=True)
class GroupSummary:
    username: str
    title: str | None
    kind: GroupKind
    themes: tuple[str, ...]
    owner: str | None
    members: int


async def select_groups(conn: Connection) -> list[GroupSummary]:
    """Every local group, by name (for the command line)."""
    return await select_group_directory(conn, query=None, theme=None, after=None, limit=None)


async def select_person_id(conn: Connection, username: str) -> int | None:
    person_id: int | None = await conn.fetchval(
        """SELECT a.id FROM actors a JOIN people p ON p.actor_id = a.id
           WHERE a.local AND a.username = $1""",
        username,
    )
    return person_id


async def insert_token(conn: Connection, actor_id: int, token_sha256: bytes, scopes: str) -> None:
    await conn.execute(
        "INSERT INTO api_tokens (actor_id, token_sha256, scopes) VALUES ($1, $2, $3)",
        actor_id,
        token_sha256,
        scopes,
    )


async def count_local_usage(conn: Connection) -> tuple[int, int]:
    """(people, people active in the last 180 days) for NodeInfo; groups are not users."""
    row = await conn.fetchrow(
        """SELECT count(*) AS total,
                  count(*) FILTER (WHERE a.created_at > now() - interval '180 days') AS recent
           FROM actors a JOIN people p ON p.actor_id = a.id
           WHERE a.local AND a.suspended_at IS NULL"""
    )
    assert row is not None
    return row["total"], row["recent"]


async def select_token_holder(
    conn: Connection, token_sha256: bytes
) -> tuple[LocalActor, str] | None:
    """The person holding a live token, and the token's scopes."""
    row = await conn.fetchrow(
        f"""SELECT {LOCAL_ACTOR_COLUMNS}, t.scopes
            FROM api_tokens t JOIN actors a ON a.id = t.actor_id
            JOIN actor_keys k ON k.actor_id = a.id LEFT JOIN groups g ON g.actor_id = a.id
            WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND a.suspended_at IS NULL""",
        token_sha256,
    )
    return (local_actor(row), row["scopes"]) if row else None


async def select_group_directory(
    conn: Connection,
    *,
    query: str | None,
    theme: str | None,
    after: str | None,
    limit: int | None,
) -> list[GroupSummary]:
    """Local groups by name, filtered by a text in title or description and by theme."""
    rows = await conn.fetch(
        """SELECT a.username, a.name, g.kind, g.themes,
                  (SELECT o.username FROM group_roles r JOIN actors o ON o.id = r.actor_id
                   WHERE r.group_id = a.id AND r.role = 'owner') AS owner,
                  (SELECT s.followers FROM actor_stats s WHERE s.actor_id = a.id) AS members
           FROM actors a JOIN groups g ON g.actor_id = a.id
           -- `type` is implied by the join, but said so that actors_local_groups serves it.
           WHERE a.local AND a.type = 'Group' AND a.suspended_at IS NULL
             AND ($1::text IS NULL OR a.name ILIKE '%' || $1 || '%' ESCAPE '\\'
                  OR a.summary ILIKE '%' || $1 || '%' ESCAPE '\\'
                  OR a.username ILIKE '%' || $1 || '%' ESCAPE '\\')
             AND ($2::text IS NULL OR $2 = ANY(g.themes))
             AND ($3::text IS NULL OR a.username > $3)
           ORDER BY a.username LIMIT $4""",
        _like_escaped(query),
        theme,
        after,
        limit,
    )
    return [
        GroupSummary(
            r["username"],
            r["name"],
            GroupKind(r["kind"]),
            tuple(r["themes"]),
            r["owner"],
            r["members"],
        )
        for r in rows
    ]


def _like_escaped(text: str | None) -> str | None:
    """Search text taken literally by ILIKE: its own `%`, `_` and backslash are escaped."""
    if text is None:
        return None
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
