"""SQL for web sign-in sessions. The token itself is never stored, only its SHA-256."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from federatie.domain.actors import LocalActor
from federatie.storage.actors import LOCAL_ACTOR_COLUMNS, local_actor
from federatie.storage.pool import Connection

# A session's last_seen_at (and its sliding expiry) is written at most this often.
TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class SessionPerson:
    person: LocalActor
    is_admin: bool
    needs_touch: bool


async def insert_session(
    conn: Connection,
    token_sha256: bytes,
    person_id: int,
    lifetime: timedelta,
    user_agent: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO web_sessions (token_sha256, person_id, expires_at, user_agent)
           VALUES ($1, $2, now() + $3::interval, $4)""",
        token_sha256,
        person_id,
        lifetime,
        user_agent,
    )


async def select_session_person(conn: Connection, token_sha256: bytes) -> SessionPerson | None:
    """The signed-in person of a live session; suspended or unapproved people have none."""
    row = await conn.fetchrow(
        f"""SELECT {LOCAL_ACTOR_COLUMNS}, p.is_admin,
                   s.last_seen_at < now() - $2::interval AS needs_touch
            FROM web_sessions s JOIN actors a ON a.id = s.person_id
            JOIN people p ON p.actor_id = a.id
            JOIN actor_keys k ON k.actor_id = a.id LEFT JOIN groups g ON g.actor_id = a.id
            WHERE s.token_sha256 = $1 AND s.expires_at > now()
              AND a.suspended_at IS NULL AND p.approved_at IS NOT NULL""",
        token_sha256,
        TOUCH_INTERVAL,
    )
    if row is None:
        return None
    return SessionPerson(local_actor(row), row["is_admin"], row["needs_touch"])


async def touch_session(conn: Connection, token_sha256: bytes, lifetime: timedelta) -> None:
    await conn.execute(
        """UPDATE web_sessions SET last_seen_at = now(), expires_at = now() + $2::interval
           WHERE token_sha256 = $1""",
        token_sha256,
        lifetime,
    )


async def delete_session(conn: Connection, token_sha256: bytes) -> None:
    await conn.execute("DELETE FROM web_sessions WHERE token_sha256 = $1", token_sha256)


async def delete_other_sessions(conn: Connection, person_id: int, keep: bytes | None) -> None:
    """After a password change: every session of the person but the one in use ends."""
    await conn.execute(
        "DELETE FROM web_sessions WHERE person_id = $1 AND token_sha256 IS DISTINCT FROM $2",
        person_id,
        keep,
    )


async def delete_expired_sessions(conn: Connection) -> int:
    status = await conn.execute("DELETE FROM web_sessions WHERE expires_at <= now()")
    return int(status.split()[-1])


@dataclass(frozen=True)
class Credentials:
    person_id: int
    password_hash: str
    approved: bool


async def select_credentials(conn: Connection, username: str) -> Credentials | None:
    """What signing in checks; suspended people have none."""
    row = await conn.fetchrow(
        """SELECT a.id, p.password_hash, p.approved_at IS NOT NULL AS approved
           FROM actors a JOIN people p ON p.actor_id = a.id
           WHERE a.local AND a.username = $1 AND a.suspended_at IS NULL""",
        username,
    )
    return Credentials(row["id"], row["password_hash"], row["approved"]) if row else None


async def select_password_hash(conn: Connection, person_id: int) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT password_hash FROM people WHERE actor_id = $1", person_id
    )
    return value


async def update_password_hash(conn: Connection, person_id: int, password_hash: str) -> None:
    await conn.execute(
        "UPDATE people SET password_hash = $2 WHERE actor_id = $1", person_id, password_hash
    )
