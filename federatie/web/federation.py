"""Server-to-server and client-to-server ActivityPub endpoints: inboxes, outboxes, objects."""

from __future__ import annotations

import orjson
from quart import Blueprint, Response, request

from federatie.domain.actors import ActorType, LocalActor
from federatie.errors import BadRequest, Gone, NotFound, UnsupportedMediaType
from federatie.federation.delivery import addressees
from federatie.federation.verify import Signer
from federatie.runtime import current_runtime
from federatie.storage import activities as sql
from federatie.storage.pool import Connection
from federatie.web.auth import authorized_fetch, raw_target, request_headers, require_owner
from federatie.web.collections import paged_collection
from federatie.web.public_cache import public_cache
from federatie.web.responses import activity_media_type, activity_response, json_response

blueprint = Blueprint("federation", __name__)

_TYPES = {"users": ActorType.PERSON, "groups": ActorType.GROUP}
_JSON_TYPES = ("application/activity+json", "application/ld+json", "application/json")


async def _local(segment: str, name: str) -> LocalActor:
    return await current_runtime().actors.get(name, _TYPES[segment])


async def _receive(recipient: LocalActor | None) -> Response:
    runtime = current_runtime()
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    await runtime.inbox.accept(
        recipient,
        method=request.method,
        path_and_query=raw_target(),
        headers=request_headers(),
        body=body,
    )
    return json_response({"status": "accepted"}, 202)


@blueprint.post("/inbox")
async def shared_inbox() -> Response:
    return await _receive(None)


@blueprint.post("/actor/inbox")
async def instance_inbox() -> Response:
    return await _receive(current_runtime().instance_actor)


@blueprint.post("/<any(users, groups):segment>/<name>/inbox")
async def actor_inbox(segment: str, name: str) -> Response:
    return await _receive(await _local(segment, name))


@blueprint.get("/users/<name>/inbox")
async def read_inbox(name: str) -> Response:
    """The owner reads what they received, newest first (ActivityPub section 5.2)."""
    runtime = current_runtime()
    person = await require_owner(await _local("users", name))
    return await paged_collection(
        runtime.iris.inbox(person.uri),
        lambda conn: sql.count_inbox(conn, person.id),
        lambda conn, page: sql.select_inbox_page(
            conn, person.id, max_id=page.max_id, min_id=page.min_id, limit=page.limit
        ),
    )


@blueprint.get("/<any(users, groups):segment>/<name>/outbox")
async def read_outbox(segment: str, name: str) -> Response:
    await authorized_fetch()

    async def render() -> Response:
        actor = await _local(segment, name)
        return await paged_collection(
            current_runtime().iris.outbox(actor.uri),
            lambda conn: sql.count_outbox(conn, actor.id),
            lambda conn, page: sql.select_outbox_page(
                conn, actor.id, max_id=page.max_id, min_id=page.min_id, limit=page.limit
            ),
        )

    # Public activities only: the same answer for every reader allowed to fetch.
    return await public_cache().answer(
        ("outbox", request.path, request.query_string, activity_media_type()), render
    )


@blueprint.post("/users/<name>/outbox")
async def post_outbox(name: str) -> Response:
    """Client-to-server publishing with a bearer token: 201 with the new activity's id."""
    runtime = current_runtime()
    person = await require_owner(await _local("users", name))
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType("post ActivityStreams JSON (application/activity+json)")
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    submitted = parse_activity_or_object(body)
    activity = await runtime.publisher.publish(person, submitted)
    response = activity_response(activity.document, 201)
    response.headers["Location"] = activity.uri
    return response


def parse_activity_or_object(body: bytes) -> dict[str, object]:
    """C2S takes an activity or a bare object; the server assigns ids and the actor."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("the body is not a JSON object")
    return document


async def readable(
    conn: Connection, public: bool, recipients: list[str], signer: Signer | None
) -> bool:
    """Public things to anyone allowed to fetch; others only to a signer among the
    addressees, or to a server hosting an accepted follower of an addressed local
    followers collection (a person's followers, or a group's members)."""
    if public:
        return True
    if signer is None:
        return False
    if signer.actor in recipients:
        return True
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM actors owner
               JOIN follows f ON f.followed_id = owner.id AND f.state = 'accepted'
               JOIN actors member ON member.id = f.follower_id
               WHERE owner.local AND owner.followers = ANY($1::text[]) AND member.host = $2
               LIMIT 1""",
            recipients,
            signer.host,
        )
    )


async def readable_local_object(
    conn: Connection, key: str, signer: Signer | None
) -> sql.StoredObject:
    """A local object this signer may read; NotFound (never a hint) otherwise."""
    stored = await sql.select_object(conn, current_runtime().iris.object(key))
    if stored is None or not stored.local:
        raise NotFound("no such object")
    if not await readable(conn, stored.public, addressees(stored.document), signer):
        raise NotFound("no such object")
    return stored


@blueprint.get("/objects/<key>")
async def read_object(key: str) -> Response:
    signer = await authorized_fetch()
    async with current_runtime().pool.acquire() as conn:
        stored = await readable_local_object(conn, key, signer)
    if stored.deleted_at is not None:
        return activity_response(stored.document, 410)
    return activity_response(stored.document)


@blueprint.get("/activities/<key>")
async def read_activity(key: str) -> Response:
    runtime = current_runtime()
    signer = await authorized_fetch()
    async with runtime.pool.acquire() as conn:
        stored = await sql.select_activity(conn, runtime.iris.activity(key))
        if stored is None or not stored.local:
            raise NotFound("no such activity")
        if not await readable(conn, stored.public, addressees(stored.document), signer):
            raise NotFound("no such activity")
    if stored.undone_at is not None:
        raise Gone("this activity was undone")
    return activity_response(stored.document)
