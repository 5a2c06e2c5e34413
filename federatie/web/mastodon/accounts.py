"""Accounts (https://docs.joinmastodon.org/methods/accounts/) and follow requests.

Accounts are local people, local groups and the remote actors we have cached; following a
Group account is joining the group (a Follow, through the same publisher as every other
client). Follow requests are the pending followers of a person who approves followers by
hand; those of a group are its moderators' business (group moderation), not listed here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quart import Blueprint, Response

from federatie.domain.profiles import parse_profile
from federatie.domain.scopes import grants
from federatie.errors import Forbidden, Unauthorized, Unprocessable
from federatie.runtime import current_runtime
from federatie.services.profiles import ProfileService
from federatie.storage import mastodon_accounts as sql
from federatie.storage import notifications as notifications_sql
from federatie.storage.pool import Connection
from federatie.web.mastodon.auth import ApiCaller, api_caller, optional_caller, person_caller
from federatie.web.mastodon.entities.account import (
    account_entity,
    credential_account_entity,
    load_account,
    load_accounts,
)
from federatie.web.mastodon.errors import record_not_found, validation_failed
from federatie.web.mastodon.paging import paged_response, parse_page
from federatie.web.mastodon.params import flag, id_value, ids, number, params, text
from federatie.web.mastodon.search import find_accounts
from federatie.web.mastodon.timelines import account_statuses
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_accounts", __name__)


def _base() -> str:
    return current_runtime().config.base_url


async def entities(conn: Connection, actor_ids: list[int]) -> list[dict[str, Any]]:
    """Account entities in the order of `actor_ids` (those no longer there left out)."""
    rows = await load_accounts(conn, actor_ids)
    return [account_entity(rows[i], _base()) for i in actor_ids if i in rows]


async def _account_id(raw: str) -> int:
    """A path's account id that names an account we know; 404 otherwise."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise record_not_found()
    async with current_runtime().pool.acquire() as conn:
        if await load_account(conn, int(raw)) is None:
            raise record_not_found()
    return int(raw)


async def _own_account(caller: ApiCaller) -> Response:
    async with current_runtime().pool.acquire() as conn:
        row = await load_account(conn, caller.person.id)
        pending = await sql.count_pending_followers(conn, caller.person.id)
    if row is None:
        raise Unauthorized("The access token is invalid")
    return json_response(credential_account_entity(row, _base(), follow_requests=pending))


@blueprint.get("/api/v1/accounts/verify_credentials")
async def verify_credentials() -> Response:
    caller = await person_caller()
    if not (grants(caller.scopes, "read:accounts") or "profile" in caller.scopes):
        raise Forbidden("This action is outside the authorized scopes")
    return await _own_account(caller)


@blueprint.patch("/api/v1/accounts/update_credentials")
async def update_credentials() -> Response:
    """Display name and biography (`note`); the rest of the profile stays as it is."""
    caller = await api_caller("write:accounts")
    values = await params()
    service = ProfileService(current_runtime())
    current = (await service.profile(caller.person)).fields
    display_name = text(values, "display_name")
    note = text(values, "note")
    try:
        fields = parse_profile(
            display_name=current.display_name if display_name is None else display_name,
            bio=(current.bio or "") if note is None else note,
            organisation=current.organisation or "",
            job_title=current.job_title or "",
            expertise=current.expertise,
            themes=current.themes,
        )
    except Unprocessable as exc:
        raise validation_failed(exc.message) from exc
    await service.update(caller.person, fields)
    return await _own_account(caller)


@blueprint.get("/api/v1/accounts/lookup")
async def lookup() -> Response:
    """An account by `acct` (`name` here, `name@host` anywhere), without asking its server."""
    acct = (text(await params(), "acct", required=True) or "").strip().removeprefix("@")
    name, _, host = acct.partition("@")
    config = current_runtime().config
    async with current_runtime().pool.acquire() as conn:
        actor_id = await sql.select_account_id_by_acct(conn, name, host or config.domain)
        found = await entities(conn, [actor_id] if actor_id is not None else [])
    if not found:
        raise record_not_found()
    return json_response(found[0])


@blueprint.get("/api/v1/accounts/search")
async def search_accounts() -> Response:
    caller = await api_caller("read:accounts")
    values = await params()
    query = text(values, "q", required=True) or ""
    actor_ids = await find_accounts(
        caller,
        query,
        resolve=flag(values, "resolve"),
        following=flag(values, "following"),
        offset=number(values, "offset", 0),
        limit=number(values, "limit", 40, minimum=1, maximum=80),
    )
    async with current_runtime().pool.acquire() as conn:
        return json_response(await entities(conn, actor_ids))


@blueprint.get("/api/v1/accounts/relationships")
async def relationships() -> Response:
    caller = await api_caller("read:follows")
    wanted = ids(await params(), "id")
    async with current_runtime().pool.acquire() as conn:
        found = await sql.select_relationships(conn, caller.person.id, wanted)
    return json_response([_relationship(found[i]) for i in dict.fromkeys(wanted)])


@blueprint.get("/api/v1/accounts/familiar_followers")
async def familiar_followers() -> Response:
    await api_caller("read:follows")
    wanted = ids(await params(), "id")
    return json_response([{"id": str(i), "accounts": []} for i in dict.fromkeys(wanted)])


@blueprint.get("/api/v1/accounts/<account_id>")
async def get_account(account_id: str) -> Response:
    await optional_caller()  # a bad token is refused even here
    actor_id = await _account_id(account_id)
    async with current_runtime().pool.acquire() as conn:
        return json_response((await entities(conn, [actor_id]))[0])


async def _follow_list(account_id: str, *, followers: bool) -> Response:
    await optional_caller()
    return await _follow_accounts(await _account_id(account_id), followers, "accepted")


async def _follow_accounts(actor_id: int, followers: bool, state: str) -> Response:
    """A page of the accounts that follow (`followers`) or are followed by the actor, by the
    follow's `state`; paged on the follows, so an account left out (suspended) moves no
    cursor."""
    page = parse_page(default_limit=40, max_limit=80)
    async with current_runtime().pool.acquire() as conn:
        pairs = page.arrange(
            await sql.select_follow_page(
                conn,
                actor_id,
                followers=followers,
                state=state,
                before=page.before,
                after=page.after,
                order=page.order,
                limit=page.limit,
            )
        )
        found = await load_accounts(conn, [other for _, other in pairs])
    return paged_response(
        [account_entity(found[other], _base()) for _, other in pairs if other in found],
        [cursor for cursor, _ in pairs],
        page,
    )


@blueprint.get("/api/v1/accounts/<account_id>/followers")
async def followers(account_id: str) -> Response:
    return await _follow_list(account_id, followers=True)


@blueprint.get("/api/v1/accounts/<account_id>/following")
async def following(account_id: str) -> Response:
    return await _follow_list(account_id, followers=False)


@blueprint.get("/api/v1/accounts/<account_id>/statuses")
async def statuses(account_id: str) -> Response:
    return await account_statuses(await _account_id(account_id))


@blueprint.get("/api/v1/accounts/<account_id>/featured_tags")
async def featured_tags(account_id: str) -> Response:
    await _account_id(account_id)
    return json_response([])


@blueprint.get("/api/v1/accounts/<account_id>/lists")
async def account_lists(account_id: str) -> Response:
    await api_caller("read:lists")
    await _account_id(account_id)
    return json_response([])


@blueprint.post("/api/v1/accounts/<account_id>/follow")
async def follow(account_id: str) -> Response:
    """Follow a person, or join a group (a Follow of the Group actor); again is a no-op."""
    caller = await api_caller("write:follows")
    actor_id = await _account_id(account_id)
    if actor_id == caller.person.id:
        raise validation_failed("you cannot follow yourself")
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        existing = await sql.select_follow_activity(conn, caller.person.id, actor_id)
        target = await sql.select_actor_uri(conn, actor_id)
    if existing is None and target is not None:
        await runtime.publisher.publish(caller.person, {"type": "Follow", "object": target})
    values = await params()
    if "notify" in values:  # hear of each of their posts: `status` notifications
        async with runtime.pool.acquire() as conn:
            await notifications_sql.set_notify(
                conn, caller.person.id, actor_id, flag(values, "notify")
            )
    return await _relationship_response(caller, actor_id)


@blueprint.post("/api/v1/accounts/<account_id>/unfollow")
async def unfollow(account_id: str) -> Response:
    """Stop following (or leave a group, or withdraw a request): an Undo of our Follow."""
    caller = await api_caller("write:follows")
    actor_id = await _account_id(account_id)
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        follow_uri = await sql.select_follow_activity(conn, caller.person.id, actor_id)
    if follow_uri is not None:
        await runtime.publisher.publish(caller.person, {"type": "Undo", "object": follow_uri})
    return await _relationship_response(caller, actor_id)


async def _relationship_response(caller: ApiCaller, actor_id: int) -> Response:
    async with current_runtime().pool.acquire() as conn:
        found = await sql.select_relationships(conn, caller.person.id, [actor_id])
    return json_response(_relationship(found[actor_id]))


def _relationship(found: sql.Relationship) -> dict[str, Any]:
    """Mastodon's Relationship; blocks, mutes, notes and endorsements we do not keep."""
    entity = asdict(found)
    entity["id"] = str(found.id)
    entity.update(
        showing_reblogs=found.following,
        notifying=False,
        languages=None,
        blocking=False,
        blocked_by=False,
        muting=False,
        muting_notifications=False,
        domain_blocking=False,
        endorsed=False,
        note="",
    )
    return entity


# --------------------------------------------------------------------------- follow requests


@blueprint.get("/api/v1/follow_requests")
async def follow_requests() -> Response:
    caller = await api_caller("read:follows")
    return await _follow_accounts(caller.person.id, True, "pending")


async def _answer_request(account_id: str, *, accept: bool) -> Response:
    caller = await api_caller("write:follows")
    requester = id_value(account_id, "id")
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        found = await sql.select_relationships(conn, caller.person.id, [requester])
        follow_uri = await sql.select_follow_activity(conn, requester, caller.person.id)
    if not found[requester].requested_by or follow_uri is None:
        raise record_not_found()
    kind = "Accept" if accept else "Reject"
    await runtime.publisher.publish(caller.person, {"type": kind, "object": follow_uri})
    return await _relationship_response(caller, requester)


@blueprint.post("/api/v1/follow_requests/<account_id>/authorize")
async def authorize_request(account_id: str) -> Response:
    return await _answer_request(account_id, accept=True)


@blueprint.post("/api/v1/follow_requests/<account_id>/reject")
async def reject_request(account_id: str) -> Response:
    return await _answer_request(account_id, accept=False)
