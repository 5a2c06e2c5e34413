"""Media (https://docs.joinmastodon.org/methods/media/): upload (v2, and v1 for older apps),
read and describe; and the bytes at `/media/<key>` (with a thumbnail at `…/small`).

Uploads take bodies up to FEDERATIE_MAX_UPLOAD_BYTES (web/files.py gives these paths the
upload cap) and are read as the file routes read them: streamed into a staged file.
"""

from __future__ import annotations

from quart import Blueprint, Response

from federatie.errors import NotFound
from federatie.runtime import current_runtime
from federatie.services import media as service
from federatie.storage import media as sql
from federatie.web.files import read_upload, serve_blob
from federatie.web.mastodon.auth import api_caller
from federatie.web.mastodon.entities.media import media_entity
from federatie.web.mastodon.errors import record_not_found
from federatie.web.mastodon.params import params, text
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_media", __name__)


@blueprint.post("/api/v1/media")
@blueprint.post("/api/v2/media")
async def upload() -> Response:
    """multipart: `file`, optional `description`; processed at once, so 200 (never 202)."""
    caller = await api_caller("write:media")
    runtime = current_runtime()
    form = await read_upload(runtime)
    try:
        media = await service.upload(
            runtime, caller.person, form.file, form.fields.get("description")
        )
    finally:
        form.file.discard()  # a no-op once stored
    return json_response(media_entity(media, runtime.config.base_url))


@blueprint.get("/api/v1/media/<raw_id>")
async def get_media(raw_id: str) -> Response:
    caller = await api_caller("write:media")
    runtime = current_runtime()
    media = await service.own_media(runtime, caller.person, _media_id(raw_id))
    return json_response(media_entity(media, runtime.config.base_url))


@blueprint.put("/api/v1/media/<raw_id>")
async def update_media(raw_id: str) -> Response:
    caller = await api_caller("write:media")
    runtime = current_runtime()
    description = text(await params(), "description")
    media = await service.describe(runtime, caller.person, _media_id(raw_id), description)
    return json_response(media_entity(media, runtime.config.base_url))


def _media_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise record_not_found()
    return int(raw)


@blueprint.get("/media/<key>")
async def original(key: str) -> Response:
    runtime = current_runtime()
    media = await _media(key)
    return await serve_blob(
        runtime,
        digest=media.sha256,
        size=media.size,
        media_type=media.media_type,
        name=key,
        modified=media.created_at,
        immutable=True,
        public=True,
    )


@blueprint.get("/media/<key>/small")
async def small(key: str) -> Response:
    runtime = current_runtime()
    media = await _media(key)
    if not media.thumbnail_sha256 or not media.thumbnail_media_type:
        raise NotFound("this media has no thumbnail")
    blob = await runtime.files.blobs.open(media.thumbnail_sha256)
    return await serve_blob(
        runtime,
        digest=media.thumbnail_sha256,
        size=blob.size,
        media_type=media.thumbnail_media_type,
        name=f"small-{key}",
        modified=media.created_at,
        immutable=True,
        public=True,
    )


async def _media(key: str) -> sql.Media:
    if len(key) > 64:
        raise NotFound("no such media")
    async with current_runtime().pool.acquire() as conn:
        media = await sql.select_media_by_key(conn, key)
    if media is None:
        raise NotFound("no such media")
    return media
