"""The home page of a signed-in person: what happens in their groups, on this instance and on
others, and what the people they follow write, newest first, paged by keyset."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import Response, request

from federatie.activitypub.articles import plain_text, shorten
from federatie.activitypub.html import sanitize_html
from federatie.errors import BadRequest
from federatie.runtime import current_runtime
from federatie.storage.timelines import TimelineItem, select_home_timeline
from federatie.web.ui.pages import render_page
from federatie.web.ui.profiles import actor_path
from federatie.web.ui.session import require_viewer, ui_blueprint

blueprint = ui_blueprint("home", __name__)

PAGE_SIZE = 20
_ARTICLE_TYPES = frozenset({"Article", "Page"})
_FILE_TYPES = frozenset({"Document", "Image", "Audio", "Video"})


@blueprint.get("/home")
async def home() -> Response:
    viewer = await require_viewer()
    max_id, min_id = _cursor("max_id"), _cursor("min_id")
    async with current_runtime().pool.acquire() as conn:
        items = await select_home_timeline(
            conn, viewer.person.id, max_id=max_id, limit=PAGE_SIZE, min_id=min_id
        )
    older = newer = None
    if items:
        upward = min_id is not None and max_id is None  # a page of newer items
        if upward or len(items) == PAGE_SIZE:
            older = f"/home?max_id={items[-1].id}"
        if (upward and len(items) == PAGE_SIZE) or (not upward and max_id is not None):
            newer = f"/home?min_id={items[0].id}"
    return await render_page(
        "home/home.html",
        items=[_view(item) for item in items],
        older=older,
        newer=newer,
        paged=max_id is not None or min_id is not None,
    )


def _cursor(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc


def _view(item: TimelineItem) -> dict[str, Any]:
    """What the page shows of one object: kind, title, safe HTML, links."""
    doc = item.document
    name = _text(doc.get("name")) or None
    if item.type in _ARTICLE_TYPES:
        kind = "article"
    elif item.type in _FILE_TYPES:
        kind = "file"
    elif item.in_reply_to:
        kind = "reply"
    else:
        kind = "post"
    content = _text(doc.get("content"))
    summary = _text(doc.get("summary"))
    if kind == "article":
        excerpt = shorten(plain_text(summary or content))
        body = None
    else:
        excerpt = None
        body = sanitize_html(content) if content else None
    return {
        "id": item.id,
        "kind": kind,
        "title": name,
        "body": body,
        "excerpt": excerpt,
        "url": _link(item),
        "published": item.published,
        "author": item.author_name or item.author_username,
        "author_handle": f"@{item.author_username}@{item.author_host}",
        "author_path": actor_path(item.author_uri, item.author_username, item.author_local),
        "group": (item.group_name or item.group_username) if item.group_uri else None,
        "group_path": actor_path(
            item.group_uri, item.group_username or "", bool(item.group_local), is_group=True
        )
        if item.group_uri
        else None,
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _link(item: TimelineItem) -> str | None:
    """Where to read the whole thing: the article's page, the file, the original post's page
    (not the object's id, which serves JSON-LD to signed requests only)."""
    if item.type in _FILE_TYPES and not item.author_local:
        return "/files/remote?object=" + quote(item.uri, safe="")
    url = item.document.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href")
    if isinstance(url, str) and url != item.uri and url.startswith(("https://", "http://")):
        return url
    return None
