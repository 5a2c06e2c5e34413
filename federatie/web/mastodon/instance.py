"""The instance and what apps ask for at start-up (https://docs.joinmastodon.org/methods/instance/).

Apps call these before they show anything, and many give up on a 404; features we do not
have (filters, lists, announcements, followed tags, trends, custom emojis …) answer with an
empty list rather than an error.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from federatie import __version__
from federatie.config import RegistrationMode
from federatie.runtime import current_runtime
from federatie.storage import mastodon_accounts as sql
from federatie.web.mastodon.auth import api_caller
from federatie.web.mastodon.entities.account import DEFAULT_AVATAR, iso_time
from federatie.web.mastodon.errors import validation_failed
from federatie.web.mastodon.params import params, strings
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_instance", __name__)

# The Mastodon API version we follow, with our own after it (as GoToSocial and others do), so
# that apps that check the version enable what 4.3 offers.
MASTODON_VERSION = f"4.3.0 (compatible; Federatie {__version__})"
MAX_CHARACTERS = 5000
MAX_MEDIA_ATTACHMENTS = 4
LANGUAGES = ["nl", "en"]
IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
TIMELINES = ("home", "notifications")


def _limits() -> dict[str, Any]:
    max_bytes = current_runtime().config.max_upload_bytes
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
        "statuses": {
            "max_characters": MAX_CHARACTERS,
            "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": IMAGE_TYPES,
            "image_size_limit": max_bytes,
            "image_matrix_limit": 16777216,
            "video_size_limit": max_bytes,
            "video_frame_rate_limit": 60,
            "video_matrix_limit": 2304000,
        },
        "polls": {
            "max_options": 4,
            "max_characters_per_option": 50,
            "min_expiration": 300,
            "max_expiration": 2629746,
        },
    }


async def _facts() -> dict[str, Any]:
    runtime = current_runtime()
    settings = await runtime.instance_settings.current()
    async with runtime.pool.acquire() as conn:
        users, statuses, domains = await sql.count_instance(conn)
    config = runtime.config
    return {
        "domain": config.domain,
        "title": settings.instance_name,
        "description": (
            f"{settings.instance_name}: federated collaboration of {settings.organisation_name}"
        ),
        "streaming": ("ws" if config.development else "wss") + "://" + config.domain,
        "thumbnail": config.base_url + DEFAULT_AVATAR,
        "registrations": settings.registration is not RegistrationMode.CLOSED,
        "approval_required": settings.registration is RegistrationMode.APPROVAL,
        "users": users,
        "statuses": statuses,
        "domains": domains,
    }


@blueprint.get("/api/v1/instance")
@blueprint.get("/api/v1/instance/")  # Mastodon.py asks here (Rails ignores the slash)
async def instance_v1() -> Response:
    facts = await _facts()
    return json_response(
        {
            "uri": facts["domain"],
            "title": facts["title"],
            "short_description": facts["description"],
            "description": facts["description"],
            "email": "",
            "version": MASTODON_VERSION,
            "urls": {"streaming_api": facts["streaming"]},
            "stats": {
                "user_count": facts["users"],
                "status_count": facts["statuses"],
                "domain_count": facts["domains"],
            },
            "thumbnail": facts["thumbnail"],
            "languages": LANGUAGES,
            "registrations": facts["registrations"],
            "approval_required": facts["approval_required"],
            "invites_enabled": False,
            "configuration": _limits(),
            "contact_account": None,
            "rules": [],
        }
    )


@blueprint.get("/api/v2/instance")
@blueprint.get("/api/v2/instance/")
async def instance_v2() -> Response:
    facts = await _facts()
    return json_response(
        {
            "domain": facts["domain"],
            "title": facts["title"],
            "version": MASTODON_VERSION,
            "source_url": current_runtime().config.base_url + "/",
            "description": facts["description"],
            "usage": {"users": {"active_month": facts["users"]}},
            "thumbnail": {"url": facts["thumbnail"]},
            "icon": [],
            "languages": LANGUAGES,
            "configuration": {
                "urls": {"streaming": facts["streaming"], "status": None},
                "vapid": {"public_key": ""},
                **_limits(),
                "translation": {"enabled": False},
            },
            "registrations": {
                "enabled": facts["registrations"],
                "approval_required": facts["approval_required"],
                "message": None,
                "url": None,
            },
            "api_versions": {"mastodon": 2},
            "contact": {"email": "", "account": None},
            "rules": [],
        }
    )


@blueprint.get("/api/v1/instance/peers")
async def peers() -> Response:
    async with current_runtime().pool.acquire() as conn:
        return json_response(await sql.select_peers(conn))


@blueprint.get("/api/v1/instance/extended_description")
async def extended_description() -> Response:
    facts = await _facts()
    return json_response({"updated_at": None, "content": f"<p>{facts['description']}</p>"})


@blueprint.get("/api/v1/instance/translation_languages")
async def translation_languages() -> Response:
    return json_response({})


# Start-up calls for what we do not have: an empty list, never a 404. The public ones first.
_EMPTY_PUBLIC = (
    "/api/v1/instance/rules",
    "/api/v1/instance/activity",
    "/api/v1/instance/domain_blocks",
    "/api/v1/custom_emojis",
    "/api/v1/announcements",
    "/api/v1/trends",
    "/api/v1/trends/tags",
    "/api/v1/trends/statuses",
    "/api/v1/trends/links",
)
_EMPTY_WITH_SCOPE = {
    "/api/v1/filters": "read:filters",
    "/api/v2/filters": "read:filters",
    "/api/v1/lists": "read:lists",
    "/api/v1/followed_tags": "read:follows",
    "/api/v1/blocks": "read:blocks",
    "/api/v1/mutes": "read:mutes",
    "/api/v1/domain_blocks": "read:blocks",
    "/api/v1/bookmarks": "read:bookmarks",
    "/api/v1/conversations": "read:statuses",
    "/api/v1/conversations/": "read:statuses",  # Mastodon.py's spelling
    "/api/v1/scheduled_statuses": "read:statuses",
    "/api/v1/featured_tags": "read:accounts",
    "/api/v1/featured_tags/suggestions": "read:accounts",
    "/api/v1/suggestions": "read",
    "/api/v2/suggestions": "read",
    "/api/v1/endorsements": "read:accounts",
}


async def _empty_public() -> Response:
    return json_response([])


for _path in _EMPTY_PUBLIC:
    blueprint.add_url_rule(_path, "empty" + _path.replace("/", "_"), _empty_public)


def _empty_for(scope: str) -> Any:
    async def empty() -> Response:
        await api_caller(scope)
        return json_response([])

    return empty


for _path, _scope in _EMPTY_WITH_SCOPE.items():
    blueprint.add_url_rule(_path, "empty" + _path.replace("/", "_"), _empty_for(_scope))


@blueprint.get("/api/v1/preferences")
async def preferences() -> Response:
    await api_caller("read:accounts")
    return json_response(
        {
            "posting:default:visibility": "public",
            "posting:default:sensitive": False,
            "posting:default:language": None,
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
        }
    )


@blueprint.get("/api/v1/markers")
async def markers() -> Response:
    caller = await api_caller("read:statuses")
    asked = [t for t in strings(await params(), "timeline") if t in TIMELINES] or list(TIMELINES)
    async with current_runtime().pool.acquire() as conn:
        found = await sql.select_markers(conn, caller.person.id, asked)
    return json_response({m.timeline: _marker(m) for m in found})


@blueprint.post("/api/v1/markers")
async def save_markers() -> Response:
    caller = await api_caller("write:statuses")
    values = await params()
    given: dict[str, str] = {}
    for timeline in TIMELINES:
        nested = values.get(timeline)
        raw = nested.get("last_read_id") if isinstance(nested, dict) else None
        raw = raw if raw is not None else values.get(f"{timeline}[last_read_id]")
        if raw is None:
            continue
        if not isinstance(raw, str | int) or not (str(raw).isascii() and str(raw).isdigit()):
            raise validation_failed(f"{timeline}[last_read_id] must be an id")
        given[timeline] = str(raw)
    if not given:
        raise validation_failed("give home[last_read_id] or notifications[last_read_id]")
    async with current_runtime().pool.acquire() as conn, conn.transaction():
        for timeline, last_read_id in given.items():
            await sql.upsert_marker(conn, caller.person.id, timeline, last_read_id)
        found = await sql.select_markers(conn, caller.person.id, list(given))
    return json_response({m.timeline: _marker(m) for m in found})


def _marker(marker: sql.Marker) -> dict[str, Any]:
    return {
        "last_read_id": marker.last_read_id,
        "version": marker.version,
        "updated_at": iso_time(marker.updated_at),
    }
