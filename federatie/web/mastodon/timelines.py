"""Timelines (https://docs.joinmastodon.org/methods/timelines/): home, public (local, remote,
federated) and hashtag, and an account's statuses (for the accounts routes). Newest first,
paged with `max_id`, `since_id`, `min_id` and a `Link` header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response

from federatie.runtime import current_runtime
from federatie.storage import mastodon_timelines as sql
from federatie.storage.pool import Connection
from federatie.storage.statuses import Entry
from federatie.web.mastodon.auth import api_caller, optional_caller
from federatie.web.mastodon.entities.status import render_statuses
from federatie.web.mastodon.paging import Page, paged_response, parse_page
from federatie.web.mastodon.params import flag, params

blueprint = Blueprint("mastodon_timelines", __name__)

Select = Callable[[Connection, Page], Awaitable[list[Entry]]]


async def timeline_response(viewer_id: int | None, select: Select) -> Response:
    """A page of a timeline as Status entities, with its Link header."""
    runtime = current_runtime()
    page = parse_page()
    async with runtime.pool.acquire() as conn:
        found = await select(conn, page)
        statuses = await render_statuses(conn, found, viewer_id, runtime.config.base_url)
    # The cursors are the entries' ids, also of any left out (so paging never stalls).
    return paged_response(statuses, [e.status_id for e in found], page)


@blueprint.get("/api/v1/timelines/home")
async def home() -> Response:
    caller = await api_caller("read:statuses")
    person_id = caller.person.id
    return await timeline_response(
        person_id, lambda conn, page: sql.select_home(conn, person_id, page)
    )


@blueprint.get("/api/v1/timelines/public")
async def public() -> Response:
    values = await params()
    return await _public(
        local=True if flag(values, "local") else False if flag(values, "remote") else None,
        tag=None,
    )


@blueprint.get("/api/v1/timelines/tag/<hashtag>")
async def tag(hashtag: str) -> Response:
    values = await params()
    return await _public(
        local=True if flag(values, "local") else False if flag(values, "remote") else None,
        tag=hashtag.lstrip("#").lower(),
    )


async def _public(*, local: bool | None, tag: str | None) -> Response:
    caller = await optional_caller()
    viewer_id = caller.person.id if caller else None
    only_media = flag(await params(), "only_media")
    return await timeline_response(
        viewer_id,
        lambda conn, page: sql.select_public(
            conn, viewer_id, page, local=local, only_media=only_media, tag=tag
        ),
    )


async def account_statuses(account_id: int) -> Response:
    """GET /api/v1/accounts/:id/statuses (routed by the accounts module): the account's posts
    and boosts; a group's are the posts it relayed. Pinned statuses: none."""
    caller = await optional_caller()
    viewer_id = caller.person.id if caller else None
    values = await params()
    if flag(values, "pinned"):
        return paged_response([], [], parse_page())
    return await timeline_response(
        viewer_id,
        lambda conn, page: sql.select_account_statuses(
            conn,
            viewer_id,
            account_id,
            page,
            only_media=flag(values, "only_media"),
            exclude_replies=flag(values, "exclude_replies"),
            exclude_reblogs=flag(values, "exclude_reblogs"),
        ),
    )
