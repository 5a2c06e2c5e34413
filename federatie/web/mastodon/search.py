"""Search (https://docs.joinmastodon.org/methods/search/): accounts by name or handle, a post
or an account by its URL, hashtags by their start. With `resolve=true` and a signed-in
caller, what is not known yet is asked for: `@name@host` through WebFinger, a URL by fetching
it; what comes back is kept like every remote actor and post."""

from __future__ import annotations

import logging
import re
from typing import Any

from quart import Blueprint, Response

from federatie.activitypub.statuses import tag_url
from federatie.errors import FederatieError
from federatie.federation.handlers.content import store_remote_object
from federatie.federation.remote_actors import ACTOR_TYPES
from federatie.runtime import current_runtime
from federatie.storage import mastodon_accounts as sql
from federatie.storage import statuses as statuses_sql
from federatie.web.mastodon.auth import ApiCaller, api_caller, optional_caller
from federatie.web.mastodon.entities.account import account_entity, load_accounts
from federatie.web.mastodon.entities.status import render_statuses
from federatie.web.mastodon.errors import validation_failed
from federatie.web.mastodon.params import flag, number, params, text
from federatie.web.responses import json_response

log = logging.getLogger(__name__)

blueprint = Blueprint("mastodon_search", __name__)

_TAG = re.compile(r"^\w{1,100}$")
_HANDLE = re.compile(r"^@?([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+(?::\d{1,5})?)$")
SEARCH_TYPES = ("accounts", "statuses", "hashtags")


async def find_accounts(
    caller: ApiCaller | None,
    query: str,
    *,
    resolve: bool,
    following: bool,
    offset: int,
    limit: int,
) -> list[int]:
    """Actor ids for a search; only a signed-in caller may make us ask other servers."""
    runtime = current_runtime()
    query = query.strip()
    resolve = resolve and caller is not None
    handle = _HANDLE.match(query)
    if query.startswith(("https://", "http://")) or handle:
        if offset > 0:
            return []
        async with runtime.pool.acquire() as conn:
            if handle:
                name, host = handle.group(1), handle.group(2).lower()
                found = await sql.select_account_id_by_acct(conn, name, host)
            else:
                found = await sql.select_account_id_by_uri(conn, query)
        if found is None and resolve and not (handle and host == runtime.config.domain):
            found = await _resolve(query)
        return [found] if found is not None else []
    async with runtime.pool.acquire() as conn:
        return await sql.search_account_ids(
            conn,
            query.removeprefix("@"),
            following_of=caller.person.id if following and caller else None,
            offset=offset,
            limit=limit,
        )


async def _resolve(query: str) -> int | None:
    """A remote actor fetched by handle or URL; None when it cannot be had (as Mastodon
    answers a search it cannot resolve: with no result, not an error)."""
    try:
        actor = await current_runtime().lookup(query)
    except FederatieError as exc:
        log.info("search.unresolved", extra={"query": query, "error": exc.message})
        return None
    return actor.id


@blueprint.get("/api/v2/search")
async def search() -> Response:
    caller = await optional_caller()
    if caller is not None:
        await api_caller("read:search")
    values = await params()
    query = (text(values, "q", required=True) or "").strip()
    kind = text(values, "type")
    if kind is not None and kind not in SEARCH_TYPES:
        raise validation_failed("type must be accounts, statuses or hashtags")
    limit = number(values, "limit", 20, minimum=1, maximum=40)
    offset = number(values, "offset", 0)
    resolve = flag(values, "resolve") and caller is not None
    runtime = current_runtime()
    base = runtime.config.base_url
    viewer_id = caller.person.id if caller else None
    actor_ids: list[int] = []
    object_id: int | None = None
    is_link = query.startswith(("https://", "http://"))
    if is_link and offset == 0:
        async with runtime.pool.acquire() as conn:
            found_actor = await sql.select_account_id_by_uri(conn, query)
            object_id = await sql.select_object_id_by_link(conn, query)
        if found_actor is None and object_id is None and resolve:
            found_actor, object_id = await _resolve_link(query)
        actor_ids = [found_actor] if found_actor is not None else []
    elif kind in (None, "accounts"):
        actor_ids = await find_accounts(
            caller,
            query,
            resolve=resolve,
            following=flag(values, "following"),
            offset=offset,
            limit=limit,
        )
    async with runtime.pool.acquire() as conn:
        rows = await load_accounts(conn, actor_ids) if kind in (None, "accounts") else {}
        statuses: list[dict[str, Any]] = []
        if object_id is not None and kind in (None, "statuses"):
            status_id = await statuses_sql.select_object_status_id(conn, object_id, 0)
            entry = (
                await statuses_sql.select_entry(conn, status_id, viewer_id)
                if status_id is not None
                else None
            )
            if entry is not None:
                statuses = await render_statuses(conn, [entry], viewer_id, base)
        tags: list[str] = []
        word = query.removeprefix("#")
        if kind in (None, "hashtags") and not is_link and _TAG.match(word) and offset == 0:
            tags = await sql.search_hashtags(conn, word, limit)
    return json_response(
        {
            "accounts": [account_entity(rows[i], base) for i in actor_ids if i in rows],
            "statuses": statuses,
            "hashtags": [{"name": t, "url": tag_url(base, t), "history": []} for t in tags],
        }
    )


async def _resolve_link(url: str) -> tuple[int | None, int | None]:
    """(actor id, object id) of what a URL on another server is, fetched and kept; neither
    when it cannot be had."""
    runtime = current_runtime()
    try:
        document = await runtime.fetch_object(url)
        if document.get("type") in ACTOR_TYPES:
            return (await runtime.remote.get(document["id"])).id, None
        await store_remote_object(runtime, document, expected_actor=None)
    except FederatieError as exc:
        log.info("search.unresolved", extra={"query": url, "error": exc.message})
        return None, None
    async with runtime.pool.acquire() as conn:
        return None, await sql.select_object_id_by_link(conn, document["id"])
