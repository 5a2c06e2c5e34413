"""The Status entity (https://docs.joinmastodon.org/entities/Status/).

A Note is a status as it is. A blog Article (and a Lemmy Page) shows as Mastodon shows one:
its title in bold, its summary, and a link to its page. A boost is a status whose `reblog`
is the post; a group's post reached through a group one joined is the group's boost of it
(FEP-1b12 groups relay their members' posts with Announce), which is how Mastodon apps show
posts of communities.

Use: `await render_statuses(conn, entries, viewer_id, base_url)` once for a whole list: a
handful of queries, however long the list.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from federatie.activitypub.articles import plain_text
from federatie.activitypub.statuses import tag_url, visibility_of
from federatie.errors import NotFound
from federatie.storage import media as media_sql
from federatie.storage import statuses as sql
from federatie.storage.mastodon_accounts import AccountRow
from federatie.storage.media import Media
from federatie.storage.pool import Connection
from federatie.storage.statuses import ActorBrief, Entry, Post
from federatie.web.mastodon.entities.account import account_entity, iso_time, load_accounts
from federatie.web.mastodon.entities.media import media_entity, remote_media_entity


async def render_statuses(
    conn: Connection,
    entries: Sequence[Entry],
    viewer_id: int | None,
    base_url: str,
    *,
    with_source: bool = False,
) -> list[dict[str, Any]]:
    """Status entities of these entries, in order (those of suspended accounts left out)."""
    pairs = await render_entries(conn, entries, viewer_id, base_url, with_source=with_source)
    return [status for _, status in pairs]


async def render_entries(
    conn: Connection,
    entries: Sequence[Entry],
    viewer_id: int | None,
    base_url: str,
    *,
    with_source: bool = False,
) -> list[tuple[Entry, dict[str, Any]]]:
    """(entry, Status entity) in order, for the entries that can still be shown."""
    posts = await sql.select_posts(conn, [e.object_id for e in entries], viewer_id)
    mentions = await sql.select_actors_by_uri(
        conn, [uri for post in posts.values() for uri in _mention_uris(post.document)]
    )
    account_ids = [p.author_id for p in posts.values()]
    account_ids += [e.booster_id for e in entries if e.booster_id is not None]
    accounts = await load_accounts(conn, account_ids)
    media = await media_sql.select_attached(conn, [p.id for p in posts.values() if p.local])
    rendered = []
    for entry in entries:
        post = posts.get(entry.object_id)
        if post is None or post.author_id not in accounts:
            continue
        status = _status(post, accounts[post.author_id], mentions, media.get(post.id), base_url)
        if with_source:
            source = post.document.get("source")
            status["text"] = (
                source["content"]
                if isinstance(source, dict) and isinstance(source.get("content"), str)
                else plain_text(status["content"])
            )
        if entry.kind != sql.POST:
            booster = accounts.get(entry.booster_id or 0)
            if booster is None:
                continue
            status = _boost(entry, status, booster, base_url)
        rendered.append((entry, status))
    return rendered


async def render_status(
    conn: Connection,
    entry: Entry,
    viewer_id: int | None,
    base_url: str,
    *,
    with_source: bool = False,
) -> dict[str, Any]:
    found = await render_statuses(conn, [entry], viewer_id, base_url, with_source=with_source)
    if not found:
        raise NotFound("Record not found")
    return found[0]


def _status(
    post: Post,
    author: AccountRow,
    actors: dict[str, ActorBrief],
    media: list[Media] | None,
    base_url: str,
) -> dict[str, Any]:
    document = post.document
    spoiler = ""
    if post.type in ("Article", "Page"):
        content = _titled(post)
    else:
        content = _text(document, "content")
        spoiler = plain_text(_text(document, "summary"))
    return {
        "id": str(post.status_id),
        "uri": post.uri,
        "url": document.get("url") if isinstance(document.get("url"), str) else post.uri,
        "created_at": iso_time(post.published),
        "edited_at": iso_time(post.updated) if post.updated else None,
        "account": account_entity(author, base_url),
        "content": content,
        "visibility": visibility_of(document).value,
        "sensitive": document.get("sensitive") is True or bool(spoiler),
        "spoiler_text": spoiler,
        "media_attachments": _media(post, media, base_url),
        "application": None,
        "mentions": _mentions(document, actors),
        "tags": _tags(document, base_url),
        "emojis": [],
        "reblogs_count": post.reblogs,
        "favourites_count": post.favourites,
        "replies_count": post.replies,
        "in_reply_to_id": str(post.parent_status_id) if post.parent_status_id else None,
        "in_reply_to_account_id": str(post.parent_author_id) if post.parent_author_id else None,
        "reblog": None,
        "poll": None,
        "card": None,
        "language": _language(document),
        "text": None,
        "favourited": post.favourited,
        "reblogged": post.reblogged,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "filtered": [],
    }


def _boost(
    entry: Entry, post: dict[str, Any], booster: AccountRow, base_url: str
) -> dict[str, Any]:
    """A boost: Mastodon's shape, a status of the booster whose `reblog` is the post."""
    when = iso_time(entry.boosted_at) if entry.boosted_at else post["created_at"]
    return {
        **post,
        "id": str(entry.status_id),
        "uri": post["uri"] if entry.kind == sql.GROUP_RELAY else f"{post['uri']}#boost",
        "url": post["url"],
        "created_at": when,
        "edited_at": None,
        "account": account_entity(booster, base_url),
        "content": "",
        "spoiler_text": "",
        "sensitive": False,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "language": None,
        "text": None,
        "reblog": post,
    }


def _text(document: dict[str, Any], field: str) -> str:
    value = document.get(field)
    if isinstance(value, str):
        return value
    language_map = document.get(f"{field}Map")
    if isinstance(language_map, dict):
        return next((v for v in language_map.values() if isinstance(v, str)), "")
    return ""


def _titled(post: Post) -> str:
    """An Article as Mastodon shows one: title, summary and a link to the page."""
    document = post.document
    title = html.escape(plain_text(_text(document, "name")), quote=False)
    url = document.get("url") if isinstance(document.get("url"), str) else post.uri
    parts = [f"<p><strong>{title}</strong></p>"] if title else []
    if post.type == "Article":
        summary = _text(document, "summary")
        if summary:
            parts.append(f"<p>{summary}</p>")
        link = html.escape(str(url))
        parts.append(f'<p><a href="{link}" rel="nofollow noopener noreferrer">{link}</a></p>')
    else:
        parts.append(_text(document, "content"))
    return "".join(parts)


def _language(document: dict[str, Any]) -> str | None:
    languages = document.get("contentMap")
    if isinstance(languages, dict):
        return next((lang for lang in languages if lang != "und"), None)
    return None


def _nodes(document: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = document.get(field)
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _mention_uris(document: dict[str, Any]) -> list[str]:
    return [
        str(tag["href"])
        for tag in _nodes(document, "tag")
        if tag.get("type") == "Mention" and isinstance(tag.get("href"), str)
    ]


def _mentions(document: dict[str, Any], actors: dict[str, ActorBrief]) -> list[dict[str, str]]:
    found = []
    for uri in dict.fromkeys(_mention_uris(document)):
        actor = actors.get(uri)
        if actor is not None:
            found.append(
                {
                    "id": str(actor.id),
                    "username": actor.username,
                    "url": actor.url or actor.uri,
                    "acct": actor.acct,
                }
            )
    return found


def _tags(document: dict[str, Any], base_url: str) -> list[dict[str, str]]:
    names = []
    for tag in _nodes(document, "tag"):
        name = tag.get("name")
        if tag.get("type") == "Hashtag" and isinstance(name, str) and name.lstrip("#"):
            names.append(name.lstrip("#").lower())
    return [{"name": name, "url": tag_url(base_url, name)} for name in dict.fromkeys(names)]


def _media(post: Post, media: list[Media] | None, base_url: str) -> list[dict[str, Any]]:
    if media:
        return [media_entity(m, base_url) for m in media]
    found = []
    for index, node in enumerate(_nodes(post.document, "attachment")):
        entity = remote_media_entity(node, (post.id << 8) | index)
        if entity is not None:
            found.append(entity)
    return found
