"""People's profiles: editing one's own, the avatar, the people directory, following.

An edit changes the actor, so other servers are told: the new actor document goes out as an
`Update` to the person's followers (as Mastodon does), stored and queued in the same
transaction as the change. The avatar is the uploaded image re-encoded at most 320 pixels
wide and high by `blobs.images` (the thumbnail it makes carries no metadata at all: no EXIF
position, no camera serial), kept in the `avatars` table and served at a URL that changes
with the image, so anyone may cache it for good.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import TYPE_CHECKING, Any

from PIL import Image

from federatie.activitypub.actors import ACTOR_CONTEXT, actor_document
from federatie.activitypub.iris import AS_PUBLIC
from federatie.blobs import StagedFile
from federatie.blobs.images import process_image
from federatie.blobs.sniff import sniff_file
from federatie.domain.actors import ActorType, LocalActor
from federatie.domain.profiles import (
    AVATAR_MAX_BYTES,
    AVATAR_UPLOAD_TYPES,
    Avatar,
    Profile,
    ProfileFieldError,
    ProfileFields,
)
from federatie.errors import NotFound, PayloadTooLarge, Unprocessable
from federatie.federation.delivery import enqueue_fanout
from federatie.storage import actors as actors_sql
from federatie.storage import profiles as sql
from federatie.storage.pool import Connection
from federatie.storage.profiles import GroupLink, PersonCard

if TYPE_CHECKING:
    from federatie.runtime import Runtime

DIRECTORY_PAGE = 24
MAX_SEARCH_WORDS = 8


class ProfileService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def profile(self, person: LocalActor) -> Profile:
        async with self._rt.pool.acquire() as conn:
            return await self._load(conn, person)

    async def document(self, person: LocalActor) -> dict[str, Any]:
        """The person's actor document, with their profile."""
        return actor_document(person, self._rt.iris, await self.profile(person))

    async def update(self, person: LocalActor, fields: ProfileFields) -> Profile:
        async with self._rt.pool.acquire() as conn, conn.transaction():
            await sql.update_profile(conn, person.id, fields)
            return await self._federate(conn, person)

    async def set_avatar(self, person: LocalActor, staged: StagedFile) -> Avatar:
        """Make an uploaded image the person's avatar. Consumes `staged`."""
        try:
            if staged.size > AVATAR_MAX_BYTES:
                raise PayloadTooLarge(f"the image is larger than {AVATAR_MAX_BYTES} bytes")
            if staged.size == 0:
                raise ProfileFieldError("avatar", "choose an image")
            await asyncio.to_thread(staged.finish)
            media_type = await asyncio.to_thread(sniff_file, staged.path)
            if media_type not in AVATAR_UPLOAD_TYPES:
                raise ProfileFieldError("avatar", f"{media_type} is not a JPEG, PNG, WebP or GIF")
            try:
                processed = await asyncio.to_thread(process_image, staged.path, media_type)
            except Unprocessable as exc:
                raise ProfileFieldError("avatar", exc.message) from exc
        finally:
            staged.discard()
        if processed is None or processed.thumbnail is None:
            raise ProfileFieldError("avatar", "the image cannot be read")
        data, thumbnail_type = processed.thumbnail, processed.thumbnail_media_type
        width, height = await asyncio.to_thread(_size, data)
        avatar = Avatar(hashlib.sha256(data).hexdigest(), str(thumbnail_type), width, height)
        async with self._rt.pool.acquire() as conn, conn.transaction():
            await sql.upsert_avatar(conn, person.id, avatar, data)
            await self._federate(conn, person)
        return avatar

    async def remove_avatar(self, person: LocalActor) -> None:
        async with self._rt.pool.acquire() as conn, conn.transaction():
            if await sql.delete_avatar(conn, person.id):
                await self._federate(conn, person)

    async def avatar(self, username: str) -> tuple[Avatar, bytes]:
        async with self._rt.pool.acquire() as conn:
            found = await sql.select_avatar_data(conn, username.lower())
        if found is None:
            raise NotFound("no such avatar")
        return found

    async def directory(
        self,
        *,
        query: str,
        organisation: str | None,
        theme: str | None,
        expertise: str | None,
        after: str | None,
        limit: int = DIRECTORY_PAGE,
    ) -> list[PersonCard]:
        """People found by words (anywhere in their profile) and exact filters."""
        words = list(dict.fromkeys(query.split()))[:MAX_SEARCH_WORDS]
        async with self._rt.pool.acquire() as conn:
            return await sql.select_directory(
                conn,
                words=words,
                organisation=organisation or None,
                theme=(theme or "").strip().lstrip("#").lower() or None,
                expertise=expertise or None,
                after=after.lower() if after else None,
                limit=limit,
            )

    async def organisations(self) -> list[str]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_organisations(conn)

    async def groups_of(self, person: LocalActor, viewer: LocalActor | None) -> list[GroupLink]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_groups_of(conn, person.id, viewer.id if viewer else None)

    # ------------------------------------------------------------------ following people

    async def follow_state(self, follower: LocalActor, person: LocalActor) -> str | None:
        """`pending`, `accepted` or None."""
        async with self._rt.pool.acquire() as conn:
            found = await sql.select_follow(conn, follower.id, person.id)
        return found[0] if found else None

    async def follow(self, follower: LocalActor, person: LocalActor) -> None:
        if await self.follow_state(follower, person) is None:
            await self._rt.publisher.publish(follower, {"type": "Follow", "object": person.uri})

    async def unfollow(self, follower: LocalActor, person: LocalActor) -> None:
        async with self._rt.pool.acquire() as conn:
            found = await sql.select_follow(conn, follower.id, person.id)
        if found is not None and found[1] is not None:
            await self._rt.publisher.publish(follower, {"type": "Undo", "object": found[1]})

    # ------------------------------------------------------------------ helpers

    async def _load(self, conn: Connection, person: LocalActor) -> Profile:
        if person.type is not ActorType.PERSON:
            raise NotFound("only people have profiles")
        fields, avatar = await sql.select_profile(conn, person.id)
        return Profile(fields, avatar)

    async def _federate(self, conn: Connection, person: LocalActor) -> Profile:
        """Send the changed actor to the person's followers (in the caller's transaction)."""
        current = await actors_sql.select_local_actor(conn, person.username, ActorType.PERSON)
        if current is None:
            raise NotFound("no such person")
        profile = await self._load(conn, current)
        document = actor_document(current, self._rt.iris, profile)
        del document["@context"]
        update = await self._rt.publisher.store(
            conn,
            current,
            {
                "@context": ACTOR_CONTEXT,
                "type": "Update",
                "object": document,
                "to": [AS_PUBLIC],
                "cc": [self._rt.iris.followers(current.uri)],
            },
        )
        await enqueue_fanout(conn, update.id)
        return profile


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return width, height
