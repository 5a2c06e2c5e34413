"""Who calls the Mastodon client API, and with which OAuth scopes.

Tokens are the rows of `api_tokens` (only a SHA-256 is kept); a token's `scopes` is a space-
separated list as Mastodon writes it, checked by `domain.scopes.grants`.
Errors use Mastodon's wording, which apps show to people as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from quart import g, request

from federatie.domain.actors import LocalActor
from federatie.domain.scopes import grants
from federatie.errors import Forbidden, Unauthorized, Unprocessable
from federatie.runtime import current_runtime
from federatie.storage import actors as sql
from federatie.storage import oauth as oauth_sql


@dataclass(frozen=True)
class ApiCaller:
    person: LocalActor
    scopes: frozenset[str]


async def optional_caller() -> ApiCaller | None:
    """The token's person when a bearer token is given (401 when it is bad), else None."""
    if "api_caller" in g:
        cached: ApiCaller | None = g.api_caller
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    caller = None
    if scheme.lower() == "bearer" and token.strip():
        caller = await token_caller(token)
        if caller is None and not await _is_app_token(token):
            raise Unauthorized("The access token is invalid")
    elif header:
        raise Unauthorized("The access token is invalid")
    g.api_caller = caller
    return caller


async def token_caller(token: str) -> ApiCaller | None:
    """The holder of a live token, however it came (the streaming API takes it from the
    query or the WebSocket protocol header too)."""
    digest = hashlib.sha256(token.strip().encode()).digest()
    async with current_runtime().pool.acquire() as conn:
        found = await sql.select_token_holder(conn, digest)
    if found is None:
        return None
    person, scopes = found
    return ApiCaller(person, frozenset(scopes.split()))


async def _is_app_token(token: str) -> bool:
    """A live token of an app itself (client_credentials): anonymous, but not invalid."""
    digest = hashlib.sha256(token.strip().encode()).digest()
    async with current_runtime().pool.acquire() as conn:
        found = await oauth_sql.select_live_token(conn, access_sha256=digest)
    g.api_app_token = found is not None and found.person_id is None
    return bool(g.api_app_token)


async def person_caller() -> ApiCaller:
    """The caller's person: 401 without a valid token; 422 for an app's own token, as
    Mastodon answers it."""
    caller = await optional_caller()
    if caller is None:
        if g.get("api_app_token"):
            raise Unprocessable("This method requires an authenticated user")
        raise Unauthorized("The access token is invalid")
    return caller


async def api_caller(scope: str) -> ApiCaller:
    """The caller, who must hold `scope`: 401 without a valid token, 403 without the scope."""
    caller = await person_caller()
    if not grants(caller.scopes, scope):
        raise Forbidden("This action is outside the authorized scopes")
    return caller
