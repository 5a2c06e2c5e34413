"""Who is asking: a person by bearer token, or a server by HTTP signature (authorized fetch)."""

from __future__ import annotations

import hashlib

from quart import request

from federatie.domain.actors import LocalActor
from federatie.errors import Forbidden, Unauthorized
from federatie.federation.verify import Signer
from federatie.runtime import current_runtime
from federatie.storage import actors as sql


async def bearer_person() -> LocalActor:
    """The person whose bearer token authorises this request; 401 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required")
    runtime = current_runtime()
    digest = hashlib.sha256(token.strip().encode()).digest()
    async with runtime.pool.acquire() as conn:
        holder = await sql.select_token_holder(conn, digest)
    if holder is None:
        raise Unauthorized("the token is invalid or revoked")
    return holder[0]


async def require_owner(actor: LocalActor) -> LocalActor:
    """The token's person must be `actor` itself."""
    person = await bearer_person()
    if person.id != actor.id:
        raise Forbidden("only the owner may do this")
    return person


async def request_signer() -> Signer | None:
    """The verified signer of this GET, or None when it is unsigned; 401 when badly signed."""
    has_signature = any(
        name in request.headers for name in ("Signature", "Signature-Input")
    ) or request.headers.get("Authorization", "").lower().startswith("signature ")
    if not has_signature:
        return None
    runtime = current_runtime()
    path = raw_target()
    return await runtime.verifier.verify(
        request.method, path, runtime.config.base_url + path, request_headers(), None
    )


def request_headers() -> dict[str, str]:
    """The request's headers as a plain mapping, repeated fields joined (RFC 9110 5.3)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def raw_target() -> str:
    """The request target exactly as sent (signatures cover it byte for byte)."""
    raw_path: bytes = request.scope.get("raw_path") or request.path.encode()
    target = raw_path.decode("latin-1")
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return target


async def authorized_fetch() -> Signer | None:
    """With authorized fetch on (the default), a GET must be signed by a server we accept."""
    signer = await request_signer()
    if signer is None and current_runtime().config.authorized_fetch:
        raise Unauthorized("this server requires signed fetches (authorized fetch)")
    return signer
