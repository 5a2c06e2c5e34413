"""Actor documents and their collections, with an HTML page for browsers at the same URL."""

from __future__ import annotations

from quart import Blueprint, Response, render_template, request

from federatie.activitypub.actors import actor_document
from federatie.activitypub.collections import (
    ordered_collection,
)
from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.errors import NotFound
from federatie.runtime import current_runtime
from federatie.services.profiles import ProfileService
from federatie.storage import follows as follows_sql
from federatie.storage.follows import Direction
from federatie.web.auth import authorized_fetch
from federatie.web.collections import paged_collection
from federatie.web.federation import readable
from federatie.web.public_cache import public_cache
from federatie.web.responses import activity_media_type, activity_response, wants_activitypub
from federatie.web.ui.groups import group_page
from federatie.web.ui.pages import alike_for_visitors
from federatie.web.ui.profiles import profile_page

blueprint = Blueprint("actors", __name__)

_TYPES = {"users": ActorType.PERSON, "groups": ActorType.GROUP}


async def _actor_response(actor: LocalActor) -> Response:
    runtime = current_runtime()
    if wants_activitypub():
        if actor.type is ActorType.PERSON:
            return activity_response(await ProfileService(runtime).document(actor))
        return activity_response(actor_document(actor, runtime.iris))
    if actor.type is ActorType.PERSON:
        return await profile_page(actor)
    if actor.type is ActorType.GROUP:
        page = await group_page(actor)
        page.headers["Vary"] = "Accept"
        return page
    html = await render_template("actor.html", actor=actor, domain=runtime.config.domain)
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response


@blueprint.get("/actor")
async def instance_actor() -> Response | str:
    return await _actor_response(await current_runtime().actors.ensure_instance_actor())


@blueprint.get("/<any(users, groups):segment>/<name>")
async def actor(segment: str, name: str) -> Response:
    async def render() -> Response:
        return await _actor_response(await current_runtime().actors.get(name, _TYPES[segment]))

    if wants_activitypub():
        return await public_cache().answer(("actor", request.path, activity_media_type()), render)
    return await alike_for_visitors(render)


@blueprint.get("/<any(users, groups):segment>/<name>/<any(followers, following):direction>")
async def follow_collection(segment: str, name: str, direction: Direction) -> Response:
    runtime = current_runtime()
    subject = await runtime.actors.get(name, _TYPES[segment])
    signer = await authorized_fetch()
    uri = f"{subject.uri}/{direction}"
    if subject.group_kind is GroupKind.MEMBERS_ONLY:
        # Who belongs to a members-only group is itself members-only.
        async with runtime.pool.acquire() as conn:
            if not await readable(conn, False, [runtime.iris.followers(subject.uri)], signer):
                raise NotFound("no such collection")
    return await paged_collection(
        uri,
        lambda conn: follows_sql.count_follows(conn, subject.id, direction),
        lambda conn, page: follows_sql.select_follow_page(
            conn, subject.id, direction, max_id=page.max_id, min_id=page.min_id, limit=page.limit
        ),
    )


@blueprint.get("/groups/<name>/moderators")
async def moderators(name: str) -> Response:
    """Public, as Lemmy exposes it: who chairs the group is not a secret."""
    runtime = current_runtime()
    group = await runtime.actors.get(name, ActorType.GROUP)
    async with runtime.pool.acquire() as conn:
        staff = await follows_sql.select_group_staff(conn, group.id)
    uri = runtime.iris.moderators(group.uri)
    doc = ordered_collection(uri, len(staff))
    del doc["first"]
    doc["orderedItems"] = staff
    return activity_response(doc)
