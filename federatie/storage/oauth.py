"""SQL for OAuth 2: apps, authorization codes, and the bearer tokens issued to apps.

Every secret (client secret, code, access and refresh token) is stored as its SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from federatie.storage.pool import Connection


@dataclass(frozen=True)
class OAuthApp:
    id: int
    client_id: str
    client_secret_sha256: bytes
    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: str
    created_at: datetime


_APP_COLUMNS = """id, client_id, client_secret_sha256, name, website, redirect_uris, scopes,
                  created_at"""


def _app(row: Any) -> OAuthApp:
    return OAuthApp(**{key: row[key] for key in OAuthApp.__dataclass_fields__})


async def insert_app(
    conn: Connection,
    *,
    client_id: str,
    client_secret_sha256: bytes,
    name: str,
    website: str | None,
    redirect_uris: list[str],
    scopes: str,
) -> OAuthApp:
    row = await conn.fetchrow(
        f"""INSERT INTO oauth_apps (client_id, client_secret_sha256, name, website,
                                    redirect_uris, scopes)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_APP_COLUMNS}""",
        client_id,
        client_secret_sha256,
        name,
        website,
        redirect_uris,
        scopes,
    )
    return _app(row)


async def select_app(conn: Connection, client_id: str) -> OAuthApp | None:
    row = await conn.fetchrow(
        f"SELECT {_APP_COLUMNS} FROM oauth_apps WHERE client_id = $1", client_id
    )
    return _app(row) if row else None


async def insert_code(
    conn: Connection,
    *,
    code_sha256: bytes,
    app_id: int,
    person_id: int,
    redirect_uri: str,
    scopes: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
    lifetime: timedelta,
) -> None:
    await conn.execute(
        """INSERT INTO oauth_codes (code_sha256, app_id, person_id, redirect_uri, scopes,
                                    code_challenge, code_challenge_method, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)""",
        code_sha256,
        app_id,
        person_id,
        redirect_uri,
        scopes,
        code_challenge,
        code_challenge_method,
        lifetime,
    )


@dataclass(frozen=True)
class AuthorizationCode:
    person_id: int
    redirect_uri: str
    scopes: str
    code_challenge: str | None
    code_challenge_method: str | None


async def take_code(conn: Connection, code_sha256: bytes, app_id: int) -> AuthorizationCode | None:
    """Delete and return an unexpired code of this app: a code works once, even when two
    requests race. Expired codes are swept on the way."""
    await conn.execute("DELETE FROM oauth_codes WHERE expires_at < now()")
    row = await conn.fetchrow(
        """DELETE FROM oauth_codes WHERE code_sha256 = $1 AND app_id = $2
           RETURNING person_id, redirect_uri, scopes, code_challenge, code_challenge_method""",
        code_sha256,
        app_id,
    )
    return AuthorizationCode(**dict(row)) if row else None


async def insert_app_token(
    conn: Connection,
    *,
    token_sha256: bytes,
    refresh_sha256: bytes | None,
    app_id: int,
    person_id: int | None,
    scopes: str,
) -> None:
    await conn.execute(
        """INSERT INTO api_tokens (token_sha256, refresh_sha256, app_id, actor_id, scopes)
           VALUES ($1, $2, $3, $4, $5)""",
        token_sha256,
        refresh_sha256,
        app_id,
        person_id,
        scopes,
    )


@dataclass(frozen=True)
class IssuedToken:
    id: int
    app_id: int | None
    person_id: int | None
    scopes: str
    created_at: datetime


_TOKEN_COLUMNS = "t.id, t.app_id, t.actor_id AS person_id, t.scopes, t.created_at"  # noqa: S105


async def select_live_token(
    conn: Connection, *, access_sha256: bytes | None = None, refresh_sha256: bytes | None = None
) -> IssuedToken | None:
    """An unrevoked token by its access or its refresh token; one whose person is suspended
    counts as dead."""
    row = await conn.fetchrow(
        f"""SELECT {_TOKEN_COLUMNS} FROM api_tokens t LEFT JOIN actors a ON a.id = t.actor_id
            WHERE (t.token_sha256 = $1 OR t.refresh_sha256 = $2) AND t.revoked_at IS NULL
              AND (t.actor_id IS NULL OR a.suspended_at IS NULL)""",
        access_sha256,
        refresh_sha256,
    )
    return IssuedToken(**dict(row)) if row else None


async def revoke_token(conn: Connection, token_id: int) -> None:
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )


async def select_token_app(conn: Connection, token_sha256: bytes) -> OAuthApp | None:
    """The app that a live bearer token was issued to."""
    row = await conn.fetchrow(
        f"""SELECT {", ".join("o." + c.strip() for c in _APP_COLUMNS.split(","))}
            FROM api_tokens t JOIN oauth_apps o ON o.id = t.app_id
            WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL""",
        token_sha256,
    )
    return _app(row) if row else None
