"""The directory of this instance's groups, as JSON and as a page."""

from __future__ import annotations

from quart import Blueprint, Response, render_template, request

from federatie.activitypub.collections import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from federatie.errors import BadRequest
from federatie.runtime import current_runtime
from federatie.storage import actors as sql
from federatie.web.responses import json_response, wants_activitypub

blueprint = Blueprint("groups", __name__)


@blueprint.get("/groups")
async def directory() -> Response:
    """`?q=` searches title, name and description; `?theme=` filters; `?after=` pages."""
    runtime = current_runtime()
    query = (request.args.get("q") or "").strip() or None
    theme = (request.args.get("theme") or "").strip().lstrip("#").lower() or None
    after = request.args.get("after") or None
    try:
        limit = min(int(request.args.get("limit", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    except ValueError as exc:
        raise BadRequest("limit must be a whole number") from exc
    if limit < 1 or (query is not None and len(query) > 200):
        raise BadRequest("limit must be positive and q at most 200 characters")
    async with runtime.pool.acquire() as conn:
        groups = await sql.select_group_directory(
            conn, query=query, theme=theme, after=after, limit=limit
        )
    items = [
        {
            "id": runtime.iris.actor_uri_of_group(group.username),
            "name": group.username,
            "handle": f"@{group.username}@{runtime.config.domain}",
            "title": group.title,
            "themes": list(group.themes),
            "kind": group.kind.value,
            "members": group.members,
        }
        for group in groups
    ]
    next_url = None
    if len(groups) == limit:
        next_url = f"{runtime.config.base_url}/groups?after={groups[-1].username}&limit={limit}"
    if wants_activitypub() or request.accept_mimetypes.best == "application/json":
        return json_response({"items": items, "next": next_url})
    html = await render_template(
        "groups.html", groups=items, next_url=next_url, query=query, theme=theme
    )
    return Response(html, content_type="text/html; charset=utf-8")
