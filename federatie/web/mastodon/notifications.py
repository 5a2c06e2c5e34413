"""Notifications (https://docs.joinmastodon.org/methods/notifications/): list, get, dismiss,
clear. They are made where activities are processed (services/notifications.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quart import Blueprint, Response

from federatie.runtime import current_runtime
from federatie.storage import notifications as sql
from federatie.storage.notifications import Notification
from federatie.storage.pool import Connection
from federatie.storage.statuses import POST, Entry
from federatie.web.mastodon.auth import api_caller
from federatie.web.mastodon.entities.account import account_entity, iso_time, load_accounts
from federatie.web.mastodon.entities.status import render_entries
from federatie.web.mastodon.errors import record_not_found
from federatie.web.mastodon.paging import paged_response, parse_page
from federatie.web.mastodon.params import id_value, params, strings
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_notifications", __name__)

_WITH_STATUS = frozenset({"mention", "status", "reblog", "favourite"})


async def render_notifications(
    conn: Connection, found: Sequence[Notification], recipient_id: int, base_url: str
) -> list[dict[str, Any]]:
    """Notification entities (those whose account or status is gone are left out)."""
    accounts = await load_accounts(conn, [n.from_id for n in found])
    posts = {n.object_id for n in found if n.type in _WITH_STATUS and n.object_id is not None}
    pairs = await render_entries(
        conn, [Entry(0, POST, object_id, None, None) for object_id in posts], recipient_id, base_url
    )
    by_object = {entry.object_id: status for entry, status in pairs}
    rendered = []
    for notification in found:
        account = accounts.get(notification.from_id)
        if account is None:
            continue
        entity: dict[str, Any] = {
            "id": str(notification.id),
            "type": notification.type,
            "created_at": iso_time(notification.created_at),
            "group_key": f"ungrouped-{notification.id}",
            "account": account_entity(account, base_url),
        }
        if notification.type in _WITH_STATUS:
            status = by_object.get(notification.object_id or 0)
            if status is None:
                continue
            entity["status"] = status
        rendered.append(entity)
    return rendered


def _types(values: dict[str, Any]) -> list[str]:
    wanted = strings(values, "types") or list(sql.TYPES)
    excluded = set(strings(values, "exclude_types"))
    return [t for t in wanted if t in sql.TYPES and t not in excluded]


@blueprint.get("/api/v1/notifications")
async def notifications() -> Response:
    caller = await api_caller("read:notifications")
    values = await params()
    account = values.get("account_id")
    page = parse_page(default_limit=40, max_limit=80)
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        found = await sql.select_page(
            conn,
            caller.person.id,
            types=_types(values),
            account_id=id_value(account, "account_id") if account else None,
            before=page.before,
            after=page.after,
            ascending=page.ascending,
            limit=page.limit,
        )
        rendered = await render_notifications(
            conn, found, caller.person.id, runtime.config.base_url
        )
    return paged_response(rendered, [n.id for n in found], page)


@blueprint.get("/api/v1/notifications/unread_count")
async def unread_count() -> Response:
    caller = await api_caller("read:notifications")
    async with current_runtime().pool.acquire() as conn:
        count = await sql.count_unread(conn, caller.person.id, _types(await params()))
    return json_response({"count": count})


@blueprint.get("/api/v1/notifications/<raw_id>")
async def notification(raw_id: str) -> Response:
    caller = await api_caller("read:notifications")
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        found = await sql.select_one(conn, caller.person.id, _notification_id(raw_id))
        rendered = await render_notifications(
            conn, [found] if found else [], caller.person.id, runtime.config.base_url
        )
    if not rendered:
        raise record_not_found()
    return json_response(rendered[0])


@blueprint.post("/api/v1/notifications/<raw_id>/dismiss")
async def dismiss(raw_id: str) -> Response:
    caller = await api_caller("write:notifications")
    async with current_runtime().pool.acquire() as conn:
        if not await sql.delete_one(conn, caller.person.id, _notification_id(raw_id)):
            raise record_not_found()
    return json_response({})


@blueprint.post("/api/v1/notifications/clear")
async def clear() -> Response:
    caller = await api_caller("write:notifications")
    async with current_runtime().pool.acquire() as conn:
        await sql.delete_all(conn, caller.person.id)
    return json_response({})


def _notification_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise record_not_found()
    return int(raw)
