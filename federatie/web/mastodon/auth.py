"""Who calls the Mastodon client API, and with which OAuth scopes.

Tokens are the rows of `api_tokens` (only a SHA-256 is kept); a token's `scopes` is a space-
separated list as Mastodon writes it. A top-level scope grants its sub-scopes (`read` grants
`read:statuses`); `follow` is the legacy union of the follow-related read and write scopes.
Errors use Mastodon's wording, which apps show to people as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from quart import g, request

from federatie.domain.actors import LocalActor
from federatie.errors import Forbidden, Unauthorized
from federatie.runtime import current_runtime
from federatie.storage import actors as sql

# Mastodon: `follow` stands for these (deprecated since 3.5, still requested by apps).
_FOLLOW_SCOPES = frozenset(
    {
        "read:follows",
        "read:blocks",
        "read:mutes",
        "write:follows",
        "write:blocks",
        "write:mutes",
    }
)


@dataclass(frozen=True)
class ApiCaller:
    person: LocalActor
    scopes: frozenset[str]


def grants(scopes: frozenset[str], needed: str) -> bool:
    """Whether a token with `scopes` may do what needs scope `needed`."""
    if needed in scopes:
        return True
    top, _, _ = needed.partition(":")
    if top in scopes:
        return True
    return "follow" in scopes and needed in _FOLLOW_SCOPES


async def optional_caller() -> ApiCaller | None:
    """The token's person when a bearer token is given (401 when it is bad), else None."""
    if "api_caller" in g:
        cached: ApiCaller | None = g.api_caller
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    caller = None
    if scheme.lower() == "bearer" and token.strip():
        digest = hashlib.sha256(token.strip().encode()).digest()
        async with current_runtime().pool.acquire() as conn:
            found = await sql.select_token_holder(conn, digest)
        if found is None:
            raise Unauthorized("The access token is invalid")
        person, scopes = found
        caller = ApiCaller(person, frozenset(scopes.split()))
    elif header:
        raise Unauthorized("The access token is invalid")
    g.api_caller = caller
    return caller


async def api_caller(scope: str) -> ApiCaller:
    """The caller, who must hold `scope`: 401 without a valid token, 403 without the scope."""
    caller = await optional_caller()
    if caller is None:
        raise Unauthorized("The access token is invalid")
    if not grants(caller.scopes, scope):
        raise Forbidden("This action is outside the authorized scopes")
    return caller
