"""The directory of this instance's groups (JSON and a page), and moderation for group staff."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response, request

from federatie.activitypub.collections import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from federatie.errors import BadRequest, Unprocessable
from federatie.runtime import current_runtime
from federatie.storage import actors as sql
from federatie.web.auth import bearer_person
from federatie.web.responses import json_response, wants_activitypub
from federatie.web.ui.groups import directory_page
from federatie.web.ui.pages import alike_for_visitors

blueprint = Blueprint("groups", __name__)


@blueprint.get("/groups")
async def directory() -> Response:
    """`?q=` searches title, name and description; `?theme=` filters; `?after=` pages."""
    if wants_activitypub() or request.accept_mimetypes.best == "application/json":
        items, next_url = await _directory_listing()
        return json_response({"items": items, "next": next_url})

    async def render() -> Response:
        items, next_url = await _directory_listing()
        return await directory_page(
            items, query=_query(), theme=_theme(), more=next_url is not None
        )

    return await alike_for_visitors(render)


def _query() -> str | None:
    return (request.args.get("q") or "").strip() or None


def _theme() -> str | None:
    return (request.args.get("theme") or "").strip().lstrip("#").lower() or None


async def _directory_listing() -> tuple[list[dict[str, Any]], str | None]:
    """The directory's groups as the request asks for them, and the next page's URL."""
    runtime = current_runtime()
    query = _query()
    after = request.args.get("after") or None
    try:
        limit = min(int(request.args.get("limit", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    except ValueError as exc:
        raise BadRequest("limit must be a whole number") from exc
    if limit < 1 or (query is not None and len(query) > 200):
        raise BadRequest("limit must be positive and q at most 200 characters")
    async with runtime.pool.acquire() as conn:
        groups = await sql.select_group_directory(
            conn, query=query, theme=_theme(), after=after, limit=limit
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
    return items, next_url


# --------------------------------------------------------------------------- moderation
# A small JSON API for a group's staff (owner, admins, moderators), with a bearer token; the
# web pages use the same GroupService calls.


async def _json_body() -> dict[str, Any]:
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Unprocessable(f"{key!r} must be a non-empty string")
    return value


@blueprint.get("/groups/<name>/requests")
async def join_requests(name: str) -> Response:
    """The actors waiting for a moderator's decision, oldest first."""
    moderator = await bearer_person()
    pending = await current_runtime().groups.pending(moderator.username, name)
    return json_response({"pending": pending})


@blueprint.post("/groups/<name>/requests")
async def decide_request(name: str) -> Response:
    """`{"actor": uri, "accept": true|false}`: approve or refuse a request to join."""
    moderator = await bearer_person()
    data = await _json_body()
    accept = data.get("accept")
    if not isinstance(accept, bool):
        raise Unprocessable("'accept' must be true or false")
    await current_runtime().groups.decide(
        moderator.username, name, _text(data, "actor"), accept=accept
    )
    return json_response({"actor": data["actor"], "accepted": accept})


@blueprint.post("/groups/<name>/bans")
async def ban_member(name: str) -> Response:
    """`{"actor": uri, "delete_posts": bool, "reason": str?}`: ban, and tell the member."""
    moderator = await bearer_person()
    data = await _json_body()
    delete_posts = data.get("delete_posts", False)
    reason = data.get("reason")
    if not isinstance(delete_posts, bool) or not isinstance(reason, str | None):
        raise Unprocessable("'delete_posts' must be a boolean and 'reason' a string")
    deleted = await current_runtime().groups.ban(
        moderator.username,
        name,
        _text(data, "actor"),
        delete_posts=delete_posts,
        reason=reason,
    )
    return json_response({"actor": data["actor"], "deleted_posts": deleted})


@blueprint.post("/groups/<name>/removals")
async def remove_post(name: str) -> Response:
    """`{"object": uri}`: remove a post from the group, on every member's instance."""
    moderator = await bearer_person()
    data = await _json_body()
    await current_runtime().groups.delete_post(moderator.username, name, _text(data, "object"))
    return json_response({"object": data["object"], "removed": True})
