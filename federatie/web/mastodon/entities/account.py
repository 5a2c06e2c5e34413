"""The Account entity (https://docs.joinmastodon.org/entities/Account/).

Local people, local groups and cached remote actors are all accounts; their id is the actor's
row id. Groups carry `"group": true`, which is how Mastodon apps tell a community apart.

Use: `rows = await load_accounts(conn, [actor ids])` once for a whole list (one query), then
`account_entity(rows[id], base_url)` for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from federatie.activitypub.actors import avatar_url, text_html
from federatie.activitypub.html import sanitize_html
from federatie.storage import mastodon_accounts as sql
from federatie.storage.mastodon_accounts import AccountRow
from federatie.storage.pool import Connection

DEFAULT_AVATAR = "/static/avatar.png"
DEFAULT_HEADER = "/static/header.png"


def iso_time(moment: datetime) -> str:
    """Mastodon's timestamp: UTC with milliseconds, `2016-03-16T14:34:26.392Z`."""
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


async def load_accounts(conn: Connection, actor_ids: Sequence[int]) -> dict[int, AccountRow]:
    """Rows for the Account entities of these actors, in one query."""
    return await sql.select_accounts(conn, actor_ids)


async def load_account(conn: Connection, actor_id: int) -> AccountRow | None:
    return await sql.select_account(conn, actor_id)


def account_entity(row: AccountRow, base_url: str) -> dict[str, Any]:
    """The Account entity of one actor; `base_url` is this instance's (config.base_url)."""
    document = row.document or {}
    avatar = _local_avatar(row) or _image_url(document.get("icon")) or base_url + DEFAULT_AVATAR
    header = _image_url(document.get("image")) or base_url + DEFAULT_HEADER
    return {
        "id": str(row.id),
        "username": row.username,
        "acct": row.username if row.local else f"{row.username}@{row.host}",
        "display_name": row.name or "",
        "locked": row.manually_approves_followers,
        "bot": row.type in ("Service", "Application"),
        "discoverable": True if row.local else document.get("discoverable") is True,
        "indexable": False,
        "group": row.type == "Group",
        "created_at": iso_time(row.created_at),
        "note": _note(row),
        "url": row.url or row.uri,
        "uri": row.uri,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": row.followers_count,
        "following_count": row.following_count,
        "statuses_count": row.statuses_count,
        "last_status_at": row.last_status_at.date().isoformat() if row.last_status_at else None,
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def credential_account_entity(
    row: AccountRow, base_url: str, *, follow_requests: int
) -> dict[str, Any]:
    """The signed-in person's own account, with `source` (what their settings hold)."""
    entity = account_entity(row, base_url)
    entity["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": "",
        "note": row.summary or "",
        "fields": [],
        "follow_requests_count": follow_requests,
        "hide_collections": False,
        "discoverable": True,
        "indexable": False,
    }
    entity["role"] = {
        "id": "-99",
        "name": "",
        "permissions": "0",
        "color": "",
        "highlighted": False,
    }
    return entity


def _note(row: AccountRow) -> str:
    """The biography as HTML: ours are plain text, other servers' are sanitised HTML."""
    if not row.summary:
        return ""
    return text_html(row.summary) if row.local else sanitize_html(row.summary)


def _local_avatar(row: AccountRow) -> str | None:
    """Where we serve a local person's avatar (the URL changes with the image)."""
    return avatar_url(row.uri, row.avatar) if row.local and row.avatar else None


def _image_url(value: Any) -> str | None:
    """The URL of an actor's `icon` or `image` in the normalised document, if http(s)."""
    for item in value if isinstance(value, list) else [value]:
        url = item.get("url") if isinstance(item, dict) else item
        if isinstance(url, dict):
            url = url.get("href")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return None
