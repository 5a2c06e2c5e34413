"""Rate limits of the Mastodon client API, with Mastodon's `X-RateLimit-*` headers.

Every call under /api/ counts in a fixed window of five minutes in PostgreSQL (shared by all
web processes): per token when the call carries one (by the token's digest, never the token),
else per address. Above FEDERATIE_API_RATE_LIMIT the answer is 429, as Mastodon's is.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from quart import Quart, Response, g, request

from federatie.errors import TooManyRequests
from federatie.runtime import current_runtime
from federatie.storage import rate_limits
from federatie.web.mastodon.entities.account import iso_time

WINDOW = timedelta(minutes=5)
API_PREFIXES = ("/api/v1/", "/api/v2/")


def _bucket() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "api:token:" + hashlib.sha256(token.strip().encode()).hexdigest()
    return f"api:address:{request.remote_addr or ''}"


async def _count() -> None:
    if not request.path.startswith(API_PREFIXES) or request.method == "OPTIONS":
        return
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        window = await rate_limits.hit(conn, _bucket(), WINDOW)
    g.api_rate_window = window
    if window.hits > runtime.config.api_rate_limit:
        raise TooManyRequests("Too many requests")


async def _headers(response: Response) -> Response:
    window = g.get("api_rate_window")
    if window is not None:
        limit = current_runtime().config.api_rate_limit
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(max(0, limit - window.hits))
        response.headers["X-RateLimit-Reset"] = iso_time(window.resets_at)
    return response


def install(app: Quart) -> None:
    app.before_request(_count)
    app.after_request(_headers)
