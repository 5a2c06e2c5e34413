"""The Mastodon client API (/api/v1, /api/v2) and OAuth 2, for existing fediverse apps.

`register(app)` registers every module's `blueprint` listed in `BLUEPRINTS` and counts API
calls against the rate limit (`limits`). Add a module by appending it to `BLUEPRINTS`.
"""

from __future__ import annotations

from quart import Quart, Response, request

from federatie.web.mastodon import (
    accounts,
    authorize,
    instance,
    limits,
    media,
    notifications,
    oauth,
    search,
    statuses,
    streaming,
    timelines,
)

BLUEPRINTS = (
    oauth,
    authorize,
    instance,
    accounts,
    search,
    statuses,
    timelines,
    notifications,
    media,
    streaming,
)

# Browser apps (Elk, Phanpy) call from their own origin with a bearer token, never cookies.
_CORS_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/oauth-")


def register(app: Quart) -> None:
    limits.install(app)
    app.after_request(_cors)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)


async def _cors(response: Response) -> Response:
    if request.path.startswith(_CORS_PREFIXES):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, Idempotency-Key"
        )
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
        response.headers["Access-Control-Expose-Headers"] = (
            "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
        )
    return response
