"""Statuses (https://docs.joinmastodon.org/methods/statuses/): post, read, delete, context,
favourite, boost, and who favourited or boosted. The rules are in services/statuses.py."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from federatie.activitypub.statuses import parse_visibility
from federatie.errors import NotFound
from federatie.runtime import current_runtime
from federatie.services.statuses import NewStatus, StatusService
from federatie.storage import statuses as sql
from federatie.storage.statuses import Entry
from federatie.web.mastodon.auth import api_caller, optional_caller
from federatie.web.mastodon.entities.account import account_entity, load_accounts
from federatie.web.mastodon.entities.status import render_status, render_statuses
from federatie.web.mastodon.errors import record_not_found, validation_failed
from federatie.web.mastodon.paging import paged_response, parse_page
from federatie.web.mastodon.params import flag, ids, params, text
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_statuses", __name__)

MAX_IDEMPOTENCY_KEY = 200


def status_id(raw: str) -> int:
    """A path's status id; 404 for anything that cannot be one."""
    if not raw.isdigit() or len(raw) > 18:
        raise record_not_found()
    return int(raw)


async def status_response(entry: Entry, viewer_id: int | None, **options: Any) -> Response:
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        status = await render_status(conn, entry, viewer_id, runtime.config.base_url, **options)
    return json_response(status)


async def statuses_response(entries: list[Entry], viewer_id: int | None) -> list[dict[str, Any]]:
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        return await render_statuses(conn, entries, viewer_id, runtime.config.base_url)


@blueprint.post("/api/v1/statuses")
async def create() -> Response:
    caller = await api_caller("write:statuses")
    values = await params()
    if values.get("poll"):
        raise validation_failed("polls are not supported here")
    if values.get("scheduled_at"):
        raise validation_failed("scheduled statuses are not supported here")
    reply_to = ids(values, "in_reply_to_id")
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise validation_failed("Idempotency-Key is too long")
    new = NewStatus(
        text=text(values, "status") or "",
        visibility=parse_visibility(text(values, "visibility")),
        in_reply_to_id=reply_to[0] if reply_to else None,
        media_ids=ids(values, "media_ids"),
        sensitive=flag(values, "sensitive"),
        spoiler_text=text(values, "spoiler_text") or "",
        language=_language(text(values, "language")),
        idempotency_key=key,
    )
    runtime = current_runtime()
    entry = await StatusService(runtime).create(caller.person, new)
    return await status_response(entry, caller.person.id)


def _language(value: str | None) -> str | None:
    """An ISO 639 code as apps send it (`nl`, `en`, `pt-BR`); anything else is refused."""
    if not value:
        return None
    code = value.strip()
    if not (2 <= len(code) <= 10) or not code.replace("-", "").isalnum():
        raise validation_failed(f"language {value!r} is not a language code")
    return code.lower()


@blueprint.get("/api/v1/statuses")
async def get_many() -> Response:
    """Several statuses at once (`id[]`); unknown or hidden ones are left out."""
    caller = await optional_caller()
    viewer = caller.person if caller else None
    service = StatusService(current_runtime())
    found = []
    for wanted in ids(await params(), "id")[:40]:
        try:
            found.append(await service.entry(wanted, viewer))
        except NotFound:
            continue
    return json_response(await statuses_response(found, viewer.id if viewer else None))


@blueprint.get("/api/v1/statuses/<raw_id>")
async def get_status(raw_id: str) -> Response:
    caller = await optional_caller()
    viewer = caller.person if caller else None
    entry = await StatusService(current_runtime()).entry(status_id(raw_id), viewer)
    return await status_response(entry, viewer.id if viewer else None)


@blueprint.delete("/api/v1/statuses/<raw_id>")
async def delete(raw_id: str) -> Response:
    """Delete one's status; the answer carries its `text`, for "delete and redraft"."""
    caller = await api_caller("write:statuses")
    service = StatusService(current_runtime())
    entry = await service.entry(status_id(raw_id), caller.person)
    response = await status_response(entry, caller.person.id, with_source=True)
    await service.delete(caller.person, entry.status_id)
    return response


@blueprint.get("/api/v1/statuses/<raw_id>/context")
async def context(raw_id: str) -> Response:
    caller = await optional_caller()
    viewer_id = caller.person.id if caller else None
    runtime = current_runtime()
    entry = await StatusService(runtime).entry(status_id(raw_id), caller.person if caller else None)
    async with runtime.pool.acquire() as conn:
        ancestors, descendants = await sql.select_context(conn, entry.object_id, viewer_id)
        base_url = runtime.config.base_url
        return json_response(
            {
                "ancestors": await render_statuses(conn, ancestors, viewer_id, base_url),
                "descendants": await render_statuses(conn, descendants, viewer_id, base_url),
            }
        )


@blueprint.post("/api/v1/statuses/<raw_id>/favourite")
async def favourite(raw_id: str) -> Response:
    caller = await api_caller("write:favourites")
    entry = await StatusService(current_runtime()).favourite(caller.person, status_id(raw_id))
    return await status_response(entry, caller.person.id)


@blueprint.post("/api/v1/statuses/<raw_id>/unfavourite")
async def unfavourite(raw_id: str) -> Response:
    caller = await api_caller("write:favourites")
    entry = await StatusService(current_runtime()).unfavourite(caller.person, status_id(raw_id))
    return await status_response(entry, caller.person.id)


@blueprint.post("/api/v1/statuses/<raw_id>/reblog")
async def reblog(raw_id: str) -> Response:
    caller = await api_caller("write:statuses")
    entry = await StatusService(current_runtime()).reblog(caller.person, status_id(raw_id))
    return await status_response(entry, caller.person.id)


@blueprint.post("/api/v1/statuses/<raw_id>/unreblog")
async def unreblog(raw_id: str) -> Response:
    caller = await api_caller("write:statuses")
    entry = await StatusService(current_runtime()).unreblog(caller.person, status_id(raw_id))
    return await status_response(entry, caller.person.id)


@blueprint.get("/api/v1/statuses/<raw_id>/favourited_by")
async def favourited_by(raw_id: str) -> Response:
    return await _reactors(raw_id, "Like")


@blueprint.get("/api/v1/statuses/<raw_id>/reblogged_by")
async def reblogged_by(raw_id: str) -> Response:
    return await _reactors(raw_id, "Announce")


async def _reactors(raw_id: str, kind: str) -> Response:
    """Who reacted, newest first; paged by the reaction (Mastodon pages these by its id)."""
    caller = await optional_caller()
    runtime = current_runtime()
    entry = await StatusService(runtime).entry(status_id(raw_id), caller.person if caller else None)
    page = parse_page(default_limit=40, max_limit=80)
    async with runtime.pool.acquire() as conn:
        found = page.arrange(
            await sql.select_reactors(
                conn,
                entry.object_id,
                kind,
                before=page.before,
                after=page.after,
                ascending=page.ascending,
                limit=page.limit,
            )
        )
        accounts = await load_accounts(conn, [actor for _, actor in found])
    kept = [(cursor, accounts[actor]) for cursor, actor in found if actor in accounts]
    return paged_response(
        [account_entity(row, runtime.config.base_url) for _, row in kept],
        [cursor for cursor, _ in found],
        page,
    )
