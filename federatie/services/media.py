"""Media for statuses: uploaded first (the Mastodon API's POST /api/v2/media), attached when
the status is posted.

Uploads go through the file service's preparation: the media type is sniffed from the
bytes, images are stripped of their metadata and get a thumbnail, and the blobs land in the
same content-addressed store as files. Only images, video and audio are accepted, as in
Mastodon. A medium is served at an unguessable URL (`/media/<key>`), as Mastodon serves its
media, since the posts that carry it go to other servers that show it to their people.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from federatie.blobs import StagedFile
from federatie.domain.actors import LocalActor
from federatie.errors import NotFound, Unprocessable
from federatie.storage import media as sql
from federatie.storage.media import Media

if TYPE_CHECKING:
    from federatie.runtime import Runtime

MAX_DESCRIPTION = 1500
_KINDS = ("image/", "video/", "audio/")


def check_description(description: str | None) -> str | None:
    if description is None or not description.strip():
        return None
    if len(description) > MAX_DESCRIPTION:
        raise Unprocessable(
            f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)"
        )
    return description.strip()


async def upload(
    rt: Runtime, owner: LocalActor, staged: StagedFile, description: str | None
) -> Media:
    """Store an upload as an unattached medium of `owner`. Consumes `staged`."""
    try:
        description = check_description(description)
        prepared = await rt.files.prepare(staged)
    except BaseException:
        staged.discard()
        raise
    try:
        if not prepared.media_type.startswith(_KINDS):
            raise Unprocessable("Validation failed: File content type is invalid")
        async with rt.pool.acquire() as conn, conn.transaction():
            await rt.files.store_blobs(conn, prepared)
            return await sql.insert_media(
                conn,
                key=secrets.token_hex(16),
                owner_id=owner.id,
                media_type=prepared.media_type,
                size=prepared.staged.size,
                sha256=prepared.staged.digest,
                width=prepared.width,
                height=prepared.height,
                thumbnail_sha256=prepared.thumbnail.digest if prepared.thumbnail else None,
                thumbnail_media_type=prepared.thumbnail_media_type,
                description=description,
            )
    except BaseException:
        prepared.discard()
        await rt.files.collect_after_failure(prepared.digests())
        raise


async def own_media(rt: Runtime, owner: LocalActor, media_id: int) -> Media:
    async with rt.pool.acquire() as conn:
        found = await sql.select_media(conn, media_id)
    if found is None or found.owner_id != owner.id:
        raise NotFound("Record not found")
    return found


async def describe(rt: Runtime, owner: LocalActor, media_id: int, description: str | None) -> Media:
    """A new description, while the medium is not posted yet."""
    await own_media(rt, owner, media_id)
    async with rt.pool.acquire() as conn:
        updated = await sql.update_description(
            conn, media_id, owner.id, check_description(description)
        )
    if updated is None:
        raise Unprocessable("Validation failed: the media is already attached to a status")
    return updated


def media_url(base_url: str, media: Media) -> str:
    return f"{base_url}/media/{media.key}"


def attachment(base_url: str, media: Media) -> dict[str, Any]:
    """The medium as it goes out in a post's `attachment`, as Mastodon sends it."""
    document: dict[str, Any] = {
        "type": "Document",
        "mediaType": media.media_type,
        "url": media_url(base_url, media),
        "name": media.description,
    }
    if media.width and media.height:
        document["width"], document["height"] = media.width, media.height
    return document
