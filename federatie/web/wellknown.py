"""/.well-known: WebFinger, NodeInfo and host-meta. Always open, so others can find us."""

from __future__ import annotations

from quart import Blueprint, Response, request

from federatie import __version__
from federatie.activitypub import nodeinfo as ni
from federatie.activitypub.webfinger import jrd, parse_resource
from federatie.config import RegistrationMode
from federatie.errors import NotFound
from federatie.runtime import current_runtime
from federatie.storage import actors as sql
from federatie.web.public_cache import public_cache
from federatie.web.responses import json_response

blueprint = Blueprint("wellknown", __name__)


@blueprint.get("/.well-known/webfinger")
async def webfinger() -> Response:
    return await public_cache().answer(
        ("webfinger", request.args.get("resource")), _webfinger_answer
    )


async def _webfinger_answer() -> Response:
    runtime = current_runtime()
    config = runtime.config
    query = parse_resource(request.args.get("resource"), config.domain, config.base_url)
    if query is None:
        raise NotFound("that resource is not on this server")
    if query.username is not None:
        actor = await runtime.actors.get(query.username)
    else:
        assert query.actor_url is not None
        async with runtime.pool.acquire() as conn:
            found = await sql.select_local_actor_by_uri(conn, query.actor_url)
        if found is None:
            raise NotFound("no actor at that URL")
        actor = found
    subject = f"acct:{actor.username}@{config.domain}"
    response = json_response(
        jrd(subject, actor.uri, actor.uri), content_type="application/jrd+json"
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/.well-known/nodeinfo")
async def nodeinfo_discovery() -> Response:
    runtime = current_runtime()
    response = json_response(ni.discovery(runtime.config.base_url, runtime.iris.instance_actor()))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/nodeinfo/2.1")
async def nodeinfo() -> Response:
    runtime = current_runtime()
    settings = await runtime.instance_settings.current()
    async with runtime.pool.acquire() as conn:
        total, recent = await sql.count_local_usage(conn)
    document = ni.nodeinfo(
        version=__version__,
        open_registrations=settings.registration is RegistrationMode.OPEN,
        usage=ni.Usage(total, recent, 0),
        instance_name=settings.instance_name,
        organisation_name=settings.organisation_name,
    )
    response = json_response(
        document, content_type=f'application/json; profile="{ni.NODEINFO_21_PROFILE}"'
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/.well-known/host-meta")
async def host_meta() -> Response:
    base_url = current_runtime().config.base_url
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base_url}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )
    return Response(xml, content_type="application/xrd+xml; charset=utf-8")
