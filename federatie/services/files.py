"""Files: upload into a group's or a person's file space, versions, folders, deletion; and the
files of other instances that reach us (metadata always, verified bytes up to a size).

Upload. The bytes are staged (hashed and capped while they arrive), their media type sniffed
from the bytes, images stripped of their metadata and thumbnailed; then, in one transaction
holding the space's lock, the quota is checked, the blobs are stored (by digest, so identical
files are stored once), the rows written, and the Document published. Anything refused
before that transaction stores nothing; a transaction that fails after storing a blob has the
blob collected again.

Publishing a group file is a `Create(Document)` by the uploader addressed to the group, which
the group relays with its `Announce` (FEP-1b12), exactly what the group does for a member's
post. The group is local here, so it relays at once in the same transaction instead of
receiving the Create through its inbox; that also lets the group's staff publish, who need
not be followers. A new version is an `Update` (by the uploader only: other servers accept an
Update only from an object's author), removal a `Delete` by the uploader, or by the group when
a moderator removes someone else's file. A personal file is a `Create` to the person's
followers.

Other instances' files. When a Document with a sha2-256 `digestMultibase` arrives (in the
Create a group relays), its metadata is kept and, when it is no larger than
FEDERATIE_CACHE_REMOTE_FILES_BYTES and served from the object's own origin, a job fetches the
bytes with a signed GET by our instance actor (the origin serves members-only files only to
servers hosting a member), verifies them against the digest and stores them, so they are
served from here while the origin is down. An Update adds a version (only the current one's
bytes are kept); a Delete removes the file and, when no version uses them any more, its blobs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federatie.activitypub.collections import PageRequest
from federatie.activitypub.files import FILE_CONTEXT, FileFields, file_document, parse_file_object
from federatie.activitypub.iris import AS_PUBLIC
from federatie.activitypub.uris import same_origin
from federatie.blobs import BlobStore, StagedFile, Staging, open_blob_store
from federatie.blobs.images import process_image
from federatie.blobs.sniff import OCTET_STREAM, sniff_file
from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.domain.files import sanitise_name
from federatie.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from federatie.federation.delivery import addressees, enqueue_fanout
from federatie.federation.http import HttpStatusError
from federatie.jobs.queue import DEFAULT_QUEUE, Job, JobQueue
from federatie.services.publishing import now_iso
from federatie.storage import activities as activities_sql
from federatie.storage import actors as actors_sql
from federatie.storage import files as sql
from federatie.storage.pool import Connection

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)

FETCH_REMOTE_FILE = "files.fetch"
_DOWNLOAD_SECONDS = 300.0
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


@dataclass
class Prepared:
    """An upload made ready to store: final bytes (stripped, for images), type, thumbnail."""

    staged: StagedFile
    media_type: str
    width: int | None = None
    height: int | None = None
    thumbnail: StagedFile | None = None
    thumbnail_media_type: str | None = None

    def digests(self) -> list[str]:
        found = [self.staged.digest]
        if self.thumbnail is not None:
            found.append(self.thumbnail.digest)
        return found

    def discard(self) -> None:
        self.staged.discard()
        if self.thumbnail is not None:
            self.thumbnail.discard()


class FileService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self.blobs: BlobStore = open_blob_store(runtime.config)
        # Staged uploads are local either way (beside a local store, so storing is a rename).
        self.staging = Staging(runtime.config.data_dir / "files" / "tmp")

    # ------------------------------------------------------------------ who may do what

    async def check_can_upload(self, person: LocalActor, space: LocalActor) -> None:
        """A person's own space: only they. A group's: its members (accepted, not banned) and
        its staff. Checked before anything is read from the request."""
        if space.type is ActorType.PERSON:
            if person.id != space.id:
                raise Forbidden("only its owner adds files to a personal file space")
            return
        if space.type is not ActorType.GROUP:
            raise NotFound("no such file space")
        async with self._rt.pool.acquire() as conn:
            if not await _member_or_staff(conn, space.id, person.id):
                raise Forbidden(f"{person.username} is not a member of {space.username}")

    async def may_read(self, person: LocalActor, file: sql.FileRow) -> bool:
        """Whether a local person may read a file that is not public."""
        if person.id in (file.uploader_id, file.space_id):
            return True
        async with self._rt.pool.acquire() as conn:
            if file.local:
                return await _member_or_staff(conn, file.space_id, person.id)
            # Another instance's file: people here who follow its space (joined its group),
            # and those it was addressed to.
            return bool(
                await conn.fetchval(
                    """SELECT EXISTS (SELECT 1 FROM follows WHERE follower_id = $1
                                      AND followed_id = $2 AND state = 'accepted')
                           OR EXISTS (SELECT 1 FROM objects WHERE uri = $3
                                      AND $4 = ANY(recipients))""",
                    person.id,
                    file.space_id,
                    file.object_uri,
                    person.uri,
                )
            )

    # ------------------------------------------------------------------ uploads

    async def upload(
        self,
        uploader: LocalActor,
        space: LocalActor,
        staged: StagedFile,
        *,
        filename: str | None,
        title: str | None = None,
        folder_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a new file and publish it; its Document. Consumes `staged`."""
        try:
            await self.check_can_upload(uploader, space)
            prepared = await self.prepare(staged)
        except BaseException:
            staged.discard()
            raise
        name = sanitise_name(title or filename)
        key = secrets.token_hex(12)
        uri = self._rt.iris.object(key)
        try:
            async with self._rt.pool.acquire() as conn, conn.transaction():
                folder_id = await self._folder_id(conn, space, folder_key)
                await self._check_quota(conn, space, prepared.staged.size)
                await self.store_blobs(conn, prepared)
                file_id = await sql.insert_file(
                    conn,
                    key=key,
                    local=True,
                    object_uri=uri,
                    space_id=space.id,
                    folder_id=folder_id,
                    uploader_id=uploader.id,
                    name=name,
                    public=self._public(space),
                )
                assert file_id is not None
                version = await self._insert_version(conn, file_id, name, prepared, uploader)
                document = self._document(key, version, uploader, space, now_iso(), None)
                await activities_sql.insert_object(
                    conn,
                    uri=uri,
                    type_=document["type"],
                    author_id=uploader.id,
                    local=True,
                    in_reply_to=None,
                    group_id=space.id if space.type is ActorType.GROUP else None,
                    public=self._public(space),
                    recipients=addressees(document),
                    published=None,
                    document={"@context": FILE_CONTEXT, **document},
                )
                await self._publish(conn, uploader, space, "Create", document)
        except BaseException:
            prepared.discard()
            await self.collect_after_failure(prepared.digests())
            raise
        return document

    async def add_version(
        self,
        uploader: LocalActor,
        key: str,
        staged: StagedFile,
        *,
        filename: str | None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """An upload to an existing file: its next version, federated as an Update."""
        try:
            async with self._rt.pool.acquire() as conn:
                file = await sql.select_file(conn, key, local=True)
                space = await self._space_of(conn, file)
            assert file is not None
            if file.uploader_id != uploader.id:
                # Other servers accept an Update only from the object's author.
                raise Forbidden("only the file's uploader adds versions")
            await self.check_can_upload(uploader, space)
            prepared = await self.prepare(staged)
        except BaseException:
            staged.discard()
            raise
        name = sanitise_name(title or filename, fallback=file.name)
        try:
            async with self._rt.pool.acquire() as conn, conn.transaction():
                await self._check_quota(conn, space, prepared.staged.size)
                await self.store_blobs(conn, prepared)
                version = await self._insert_version(conn, file.id, name, prepared, uploader)
                await sql.rename_file(conn, file.id, name)
                stored = await activities_sql.select_object(conn, file.object_uri)
                assert stored is not None
                published = str(stored.document.get("published") or now_iso())
                document = self._document(key, version, uploader, space, published, now_iso())
                await activities_sql.update_object(
                    conn, stored.id, {"@context": FILE_CONTEXT, **document}
                )
                await self._publish(conn, uploader, space, "Update", document)
        except BaseException:
            prepared.discard()
            await self.collect_after_failure(prepared.digests())
            raise
        return document

    async def delete(self, person: LocalActor, key: str) -> None:
        """Remove a file everywhere: by its uploader, or by the staff of its group."""
        rt = self._rt
        async with rt.pool.acquire() as conn, conn.transaction():
            file = await sql.select_file(conn, key, local=True)
            space = await self._space_of(conn, file)
            assert file is not None
            is_uploader = person.id == file.uploader_id
            if not is_uploader and not (
                space.type is ActorType.GROUP and await _is_staff(conn, space.id, person.id)
            ):
                if not file.public and not await _member_or_staff(conn, space.id, person.id):
                    raise NotFound("no such file")
                raise Forbidden("only the uploader or the group's moderators remove a file")
            stored = await activities_sql.select_object(conn, file.object_uri)
            assert stored is not None
            tombstone = {
                "id": stored.uri,
                "type": "Tombstone",
                "formerType": stored.type,
                "deleted": now_iso(),
            }
            await activities_sql.tombstone_object(conn, stored.id, tombstone)
            digests = await sql.delete_file(conn, file.id)
            if is_uploader:
                await self._publish(conn, person, space, "Delete", tombstone)
            else:
                # A moderator's removal: the group's own Delete, which members' servers accept
                # for objects filed under the group (as for posts).
                delete = await rt.publisher.store(
                    conn,
                    space,
                    {
                        "type": "Delete",
                        "object": stored.uri,
                        "to": [rt.iris.followers(space.uri)],
                        "cc": [file.uploader_uri],
                    },
                )
                await enqueue_fanout(conn, delete.id)
        await self.collect(digests)

    # ------------------------------------------------------------------ folders and lists

    async def create_folder(self, person: LocalActor, space: LocalActor, name: str) -> sql.Folder:
        await self.check_can_upload(person, space)
        clean = sanitise_name(name, fallback="")
        if not clean:
            raise Unprocessable("a folder needs a name")
        async with self._rt.pool.acquire() as conn:
            folder = await sql.insert_folder(conn, secrets.token_hex(8), space.id, clean, person.id)
        if folder is None:
            raise Conflict(f"there is already a folder named {clean!r}")
        return folder

    async def folders(self, space: LocalActor) -> list[sql.Folder]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_folders(conn, space.id)

    async def folder(self, space: LocalActor, key: str) -> sql.Folder:
        async with self._rt.pool.acquire() as conn:
            folder = await sql.select_folder(conn, space.id, key)
        if folder is None:
            raise NotFound("no such folder")
        return folder

    async def documents(
        self, space: LocalActor, folder: sql.FolderFilter, page: PageRequest | None
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """(total, page of (cursor, Document)) of the space's files, newest first."""
        async with self._rt.pool.acquire() as conn:
            total = await sql.count_documents(conn, space.id, folder)
            if page is None:
                return total, []
            items = await sql.select_documents_page(
                conn, space.id, folder, max_id=page.max_id, min_id=page.min_id, limit=page.limit
            )
        return total, items

    async def listing(
        self, space: LocalActor, folder: sql.FolderFilter, *, max_id: int | None, limit: int
    ) -> list[sql.ListedFile]:
        """The space's files as the folder pages list them, newest first."""
        async with self._rt.pool.acquire() as conn:
            return await sql.select_listing(conn, space.id, folder, max_id=max_id, limit=limit)

    async def versions(self, file: sql.FileRow) -> list[sql.ListedFile]:
        async with self._rt.pool.acquire() as conn:
            return await sql.select_versions(conn, file.id)

    async def find(
        self, key: str, *, local: bool, version: int | None = None
    ) -> tuple[sql.FileRow, sql.Version]:
        """A file and one of its versions (the current one by default); NotFound otherwise."""
        async with self._rt.pool.acquire() as conn:
            file = await sql.select_file(conn, key, local=local)
            found = await sql.select_version(conn, file.id, version) if file else None
        if file is None or found is None:
            raise NotFound("no such file")
        return file, found

    async def find_remote(self, object_uri: str) -> tuple[sql.FileRow, sql.Version]:
        async with self._rt.pool.acquire() as conn:
            file = await sql.select_file_by_object(conn, object_uri)
            found = await sql.select_version(conn, file.id, None) if file else None
        if file is None or file.local or found is None:
            raise NotFound("no such file here")
        return file, found

    # ------------------------------------------------------------------ other instances' files

    async def remember_remote(self, raw: dict[str, Any]) -> str | None:
        """Keep what a remote file object says (a Create or an Update was accepted for it):
        a new file, or a new version when its digest or URL changed. Queues the fetch of its
        bytes when they may be cached. None when `raw` is not a file we keep."""
        fields = parse_file_object(raw)
        if fields is None:
            return None
        rt = self._rt
        old: list[str] = []
        async with rt.pool.acquire() as conn, conn.transaction():
            stored = await activities_sql.select_object(conn, fields.id)
            if stored is None or stored.local or stored.deleted_at is not None:
                return None
            name = sanitise_name(fields.name or fields.href.rsplit("/", 1)[-1])
            file = await sql.select_file_by_object(conn, fields.id)
            if file is None:
                space_id = await _remote_group(conn, fields.audience) or stored.author_id
                file_id = await sql.insert_file(
                    conn,
                    key=secrets.token_hex(12),
                    local=False,
                    object_uri=fields.id,
                    space_id=space_id,
                    folder_id=None,
                    uploader_id=stored.author_id,
                    name=name,
                    public=stored.public,
                )
                if file_id is None:
                    return "duplicate"
            else:
                file_id = file.id
                current = await sql.select_version(conn, file.id, None)
                if file.name != name:
                    await sql.rename_file(conn, file.id, name)
                if current and current.sha256 == fields.sha256 and current.url == fields.href:
                    return "unchanged"
            version = await sql.insert_version(
                conn,
                file_id=file_id,
                name=name,
                size=fields.size or 0,
                media_type=_declared_type(fields.media_type),
                sha256=fields.sha256,
                stored=False,
                url=fields.href,
                width=fields.width,
                height=fields.height,
                thumbnail_sha256=None,
                thumbnail_media_type=None,
                uploader_id=stored.author_id,
            )
            old = await sql.unstore_older_versions(conn, file_id, version.version)
            limit = rt.config.cache_remote_files_bytes
            cacheable = (
                limit > 0
                and (fields.size is None or fields.size <= limit)
                and same_origin(fields.href, fields.id)
            )
            if cacheable:
                await JobQueue.enqueue(
                    conn, FETCH_REMOTE_FILE, {"version_id": version.id}, queue=DEFAULT_QUEUE
                )
        await self.collect(old)
        return f"file version {version.version}" + (" (fetching)" if cacheable else "")

    async def forget_remote(self, uri: str) -> int:
        """After a Delete: cached files whose object (or uploader) `uri` is deleted go, and
        their blobs when nothing else uses them. How many digests were released."""
        async with self._rt.pool.acquire() as conn, conn.transaction():
            digests = await sql.delete_remote_files_of_deleted_objects(conn, uri)
        await self.collect(digests)
        return len(digests)

    async def fetch_remote(self, job: Job) -> None:
        """The `files.fetch` job: fetch a remote version's bytes, verify, store."""
        rt = self._rt
        async with rt.pool.acquire() as conn:
            version = await sql.select_version_by_id(conn, job.payload["version_id"])
        if version is None or version.stored or version.url is None:
            return
        limit = rt.config.cache_remote_files_bytes
        staged = self.staging.new(max_bytes=limit)
        prepared: Prepared | None = None
        try:
            key = await rt.keys.signing_key(rt.instance_actor.id)
            await rt.transport.download(
                version.url, staged, key, max_bytes=limit, time_limit=_DOWNLOAD_SECONDS
            )
            digest = await asyncio.to_thread(staged.finish)
            if digest != version.sha256:
                log.warning(
                    "files.digest_mismatch",
                    extra={"url": version.url, "expected": version.sha256, "got": digest},
                )
                return
            prepared = await self.prepare(staged, strip=False)
            async with rt.pool.acquire() as conn, conn.transaction():
                await self.store_blobs(conn, prepared)
                marked = await sql.mark_stored(
                    conn,
                    version.id,
                    size=prepared.staged.size,
                    media_type=prepared.media_type,
                    width=prepared.width,
                    height=prepared.height,
                    thumbnail_sha256=prepared.thumbnail.digest if prepared.thumbnail else None,
                    thumbnail_media_type=prepared.thumbnail_media_type,
                )
            if not marked:  # deleted or replaced meanwhile
                await self.collect(prepared.digests())
        except PayloadTooLarge:
            log.info("files.too_large_to_cache", extra={"url": version.url})
        except Unprocessable as exc:
            log.info("files.not_cached", extra={"url": version.url, "error": exc.message})
        except HttpStatusError as exc:
            if 400 <= exc.upstream_status < 500 and exc.upstream_status not in (408, 429):
                log.info("files.fetch_refused", extra={"url": version.url, "error": exc.message})
                return
            raise
        finally:
            staged.discard()
            if prepared is not None:
                prepared.discard()

    # ------------------------------------------------------------------ blobs

    async def collect(self, digests: Iterable[str]) -> None:
        """Delete the blobs no version uses any more (under each digest's lock, so that an
        upload storing the same bytes right now is never robbed of its blob)."""
        for digest in dict.fromkeys(digests):
            async with self._rt.pool.acquire() as conn, conn.transaction():
                await sql.lock_blob(conn, digest)
                if not await sql.digest_in_use(conn, digest):
                    await self.blobs.delete(digest)

    async def collect_after_failure(self, digests: list[str]) -> None:
        try:
            await self.collect(digests)
        except Exception:  # the original error matters more; a stray blob is harmless
            log.exception("files.collect_failed")

    async def store_blobs(self, conn: Connection, prepared: Prepared) -> None:
        for staged in (prepared.staged, prepared.thumbnail):
            if staged is not None:
                await sql.lock_blob(conn, staged.digest)
                await self.blobs.put(staged)

    # ------------------------------------------------------------------ helpers

    async def prepare(self, staged: StagedFile, *, strip: bool = True) -> Prepared:
        """Sniff the type; for images strip metadata (when `strip`) and make a thumbnail."""
        await asyncio.to_thread(staged.finish)
        media_type = await asyncio.to_thread(sniff_file, staged.path)
        prepared = Prepared(staged, media_type)
        if not media_type.startswith("image/"):
            return prepared
        try:
            processed = await asyncio.to_thread(process_image, staged.path, media_type, strip=strip)
        except Unprocessable:
            if strip:
                raise
            return prepared  # another instance's image we cannot read: kept, not previewed
        if processed is None:
            return prepared
        try:
            if processed.data is not None:
                prepared.staged = await asyncio.to_thread(self.staging.from_bytes, processed.data)
                staged.discard()
            prepared.width, prepared.height = processed.width, processed.height
            if processed.thumbnail is not None:
                prepared.thumbnail = await asyncio.to_thread(
                    self.staging.from_bytes, processed.thumbnail
                )
                prepared.thumbnail_media_type = processed.thumbnail_media_type
        except BaseException:
            prepared.discard()
            raise
        return prepared

    async def _insert_version(
        self,
        conn: Connection,
        file_id: int,
        name: str,
        prepared: Prepared,
        uploader: LocalActor,
    ) -> sql.Version:
        return await sql.insert_version(
            conn,
            file_id=file_id,
            name=name,
            size=prepared.staged.size,
            media_type=prepared.media_type,
            sha256=prepared.staged.digest,
            stored=True,
            url=None,
            width=prepared.width,
            height=prepared.height,
            thumbnail_sha256=prepared.thumbnail.digest if prepared.thumbnail else None,
            thumbnail_media_type=prepared.thumbnail_media_type,
            uploader_id=uploader.id,
        )

    async def _check_quota(self, conn: Connection, space: LocalActor, size: int) -> None:
        await sql.lock_space(conn, space.id)
        if space.type is not ActorType.GROUP:
            return
        quota = self._rt.config.group_quota_bytes
        used = await sql.space_usage(conn, space.id)
        if used + size > quota:
            raise PayloadTooLarge(
                f"the group's file space holds {used} of {quota} bytes; {size} more do not fit"
            )

    async def _folder_id(
        self, conn: Connection, space: LocalActor, folder_key: str | None
    ) -> int | None:
        if not folder_key:
            return None
        folder = await sql.select_folder(conn, space.id, folder_key)
        if folder is None:
            raise NotFound(f"no folder {folder_key!r} in this file space")
        return folder.id

    async def _space_of(self, conn: Connection, file: sql.FileRow | None) -> LocalActor:
        space = await actors_sql.select_local_actor_by_uri(conn, file.space_uri) if file else None
        if file is None or space is None:
            raise NotFound("no such file")
        return space

    @staticmethod
    def _public(space: LocalActor) -> bool:
        return space.group_kind is not GroupKind.MEMBERS_ONLY

    def _addressing(self, space: LocalActor) -> dict[str, Any]:
        followers = self._rt.iris.followers(space.uri)
        if space.type is not ActorType.GROUP:
            return {"to": [AS_PUBLIC], "cc": [followers]}
        to = [space.uri] if space.group_kind is GroupKind.MEMBERS_ONLY else [space.uri, AS_PUBLIC]
        return {"to": to, "cc": [followers], "audience": space.uri}

    def _document(
        self,
        key: str,
        version: sql.Version,
        uploader: LocalActor,
        space: LocalActor,
        published: str,
        updated: str | None,
    ) -> dict[str, Any]:
        base = f"{self._rt.config.base_url}/files/{key}/versions/{version.version}"
        addressing = self._addressing(space)
        return file_document(
            FileFields(
                id=self._rt.iris.object(key),
                name=version.name,
                media_type=version.media_type,
                size=version.size,
                sha256=version.sha256,
                href=base,
                attributed_to=uploader.uri,
                to=addressing["to"],
                cc=addressing["cc"],
                audience=addressing.get("audience"),
                published=published,
                updated=updated,
                width=version.width,
                height=version.height,
                preview=f"{base}/thumbnail" if version.thumbnail_sha256 else None,
                preview_media_type=version.thumbnail_media_type,
            )
        )

    async def _publish(
        self,
        conn: Connection,
        actor: LocalActor,
        space: LocalActor,
        kind: str,
        obj: dict[str, Any],
    ) -> None:
        """The uploader's activity; in a group relayed at once by the group's Announce (the
        Create is not sent by itself: the group's members' servers get it through the group,
        as FEP-1b12 has it), for a person sent to their followers."""
        publisher = self._rt.publisher
        activity = await publisher.store(
            conn,
            actor,
            {"@context": FILE_CONTEXT, "type": kind, "object": obj, **self._addressing(space)},
        )
        if space.type is not ActorType.GROUP:
            await enqueue_fanout(conn, activity.id)
            return
        followers = self._rt.iris.followers(space.uri)
        members_only = space.group_kind is GroupKind.MEMBERS_ONLY
        inner = {k: v for k, v in activity.document.items() if k != "@context"}
        announce = await publisher.store(
            conn,
            space,
            {
                "@context": FILE_CONTEXT,
                "type": "Announce",
                "object": inner,
                "to": [followers] if members_only else [AS_PUBLIC],
                "cc": [] if members_only else [followers],
            },
        )
        await enqueue_fanout(conn, announce.id)


async def _member_or_staff(conn: Connection, group_id: int, actor_id: int) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM group_roles WHERE group_id = $1 AND actor_id = $2)
                   OR (EXISTS (SELECT 1 FROM follows WHERE followed_id = $1
                               AND follower_id = $2 AND state = 'accepted')
                       AND NOT EXISTS (SELECT 1 FROM group_bans
                                       WHERE group_id = $1 AND actor_id = $2))""",
            group_id,
            actor_id,
        )
    )


async def _is_staff(conn: Connection, group_id: int, actor_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM group_roles WHERE group_id = $1 AND actor_id = $2", group_id, actor_id
        )
    )


async def _remote_group(conn: Connection, audience: list[str]) -> int | None:
    for uri in audience:
        ref = await activities_sql.select_actor_ref(conn, uri)
        if ref is not None and ref.type == "Group":
            return ref.id
    return None


def _declared_type(value: str | None) -> str:
    """What another server says a file is: kept for display only, until we sniff the bytes."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else OCTET_STREAM
