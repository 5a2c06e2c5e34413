"""Files over HTTP: uploads (multipart, and ActivityPub's uploadMedia), folders, the files
collections, and serving bytes safely.

Upload routes take bodies up to FEDERATIE_MAX_UPLOAD_BYTES; every other route keeps the app's
MAX_CONTENT_LENGTH (the inbox's 1 MiB). Quart fixes a request body's cap when the request is
created, before any view runs, so `request_class` picks it from the method and path there;
the views also set `request.max_content_length`. A multipart file part goes straight into a
staged file (hashed, capped: 413 the moment it grows too large), never into memory.

Serving: the sniffed Content-Type, ETag (the SHA-256), Last-Modified, single byte ranges (206,
416), If-None-Match / If-Modified-Since (304), If-Range; `Content-Disposition: attachment` for
everything but images, PDF and plain text, and on every file response
`X-Content-Type-Options: nosniff` and `Content-Security-Policy: default-src 'none'; sandbox`.
Members-only files follow the groups rule: a member's bearer token, or a signed fetch from a
server hosting a member (`readable`); everyone else gets 404, as if there were no file.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

import orjson
from quart import Blueprint, Response, request
from quart.formparser import FormDataParser
from quart.wrappers import Request
from werkzeug.datastructures import MultiDict

from federatie.activitypub.collections import (
    ordered_collection,
    ordered_collection_page,
    parse_page_request,
)
from federatie.activitypub.files import FILE_CONTEXT, digest_multibase
from federatie.blobs import StagedFile
from federatie.config import Config
from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.domain.files import (
    FILE_SECURITY_HEADERS,
    content_disposition,
    content_type_header,
)
from federatie.errors import BadRequest, Forbidden, NotFound, UnsupportedMediaType
from federatie.runtime import Runtime, current_runtime
from federatie.storage.files import FileRow, FolderFilter
from federatie.web.auth import authorized_fetch, bearer_person, request_signer
from federatie.web.federation import readable
from federatie.web.responses import activity_response, json_response, wants_html

blueprint = Blueprint("files", __name__)

_TYPES = {"users": ActorType.PERSON, "groups": ActorType.GROUP}
# Room for the multipart framing and the small fields around the file.
FORM_OVERHEAD = 1024 * 1024
_FIELD_BYTES = 64 * 1024
_FORM_PARTS = 16
_UPLOAD_SECONDS = 600
_UPLOAD_PATH = re.compile(
    r"^/(?:users|groups)/[^/]+/files(?:/upload)?/?$|^/files/[0-9a-f]{24}(?:/upload)?/?$"
    r"|^/settings/profile/avatar$"
    r"|^/api/v[12]/media/?$"  # the Mastodon API's media uploads (web/mastodon/media.py)
)
_YEAR = 365 * 24 * 3600


def request_class(config: Config) -> type[Request]:
    """The app's request class: upload routes get the upload cap on their body."""
    upload_cap = config.max_upload_bytes + FORM_OVERHEAD

    class FederatieRequest(Request):
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
            if method == "POST" and _UPLOAD_PATH.match(path):
                kwargs["max_content_length"] = upload_cap
            super().__init__(method, scheme, path, *args, **kwargs)

    return FederatieRequest


# ----------------------------------------------------------------------------- uploads


@dataclass(frozen=True)
class UploadForm:
    fields: MultiDict[str, str]
    file: StagedFile
    filename: str | None


async def read_upload(runtime: Runtime) -> UploadForm:
    """Parse a multipart upload: the one file part, `file`, into a staged file; the other
    parts (`name`, `folder`, uploadMedia's `object`) as small text fields."""
    limit = runtime.config.max_upload_bytes
    request.max_content_length = limit + FORM_OVERHEAD
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("upload files as multipart/form-data with a `file` part")
    created: list[StagedFile] = []

    def stream_factory(
        total_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if created:  # one file per upload: the body cap then bounds what reaches the disk
            raise BadRequest("send one file per upload")
        staged = runtime.files.staging.new(max_bytes=limit)
        created.append(staged)
        return cast(IO[bytes], staged)

    parser = FormDataParser(
        max_content_length=limit + FORM_OVERHEAD,
        max_form_memory_size=_FIELD_BYTES,
        max_form_parts=_FORM_PARTS,
        silent=False,
        stream_factory=stream_factory,
    )
    try:
        async with asyncio.timeout(_UPLOAD_SECONDS):
            fields, files = await parser.parse(
                request.body, request.mimetype, request.content_length, request.mimetype_params
            )
    except ValueError as exc:
        for staged in created:
            staged.discard()
        raise BadRequest(f"malformed multipart body: {exc}") from None
    except BaseException:
        for staged in created:
            staged.discard()
        raise
    upload = files.get("file")
    chosen = next((s for s in created if upload is not None and upload.stream is s), None)
    if upload is None or chosen is None:
        for staged in created:
            staged.discard()
        raise BadRequest("the upload has no `file` part")
    return UploadForm(fields, chosen, upload.filename)


def _object_part(form: UploadForm) -> dict[str, Any]:
    """uploadMedia's `object` part: an ActivityStreams object describing the upload."""
    raw = form.fields.get("object")
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the `object` part is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("the `object` part is not a JSON object")
    return value


@blueprint.post("/<any(users, groups):segment>/<name>/files")
async def upload(segment: str, name: str) -> Response:
    """A new file in a person's or a group's space (multipart: `file`, optional `name`,
    `folder`, and `object` as ActivityPub's uploadMedia has it); 201 with the Document."""
    runtime = current_runtime()
    person = await bearer_person()
    space = await runtime.actors.get(name, _TYPES[segment])
    await runtime.files.check_can_upload(person, space)  # before a byte is read
    form = await read_upload(runtime)
    try:
        described = _object_part(form)
        if described and space.type is ActorType.PERSON:
            # uploadMedia with the object addressed to one of our groups: the group's space.
            async with runtime.pool.acquire() as conn:
                space = await runtime.groups.addressed_local_group(conn, described) or space
        title = form.fields.get("name") or _text(described.get("name"))
        document = await runtime.files.upload(
            person,
            space,
            form.file,
            filename=form.filename,
            title=title,
            folder_key=form.fields.get("folder") or None,
        )
    finally:
        form.file.discard()  # a no-op once stored: the store took the file
    return _created(document)


@blueprint.post("/files/<key>")
async def add_version(key: str) -> Response:
    """An upload to an existing file: its next version (multipart `file`, optional `name`)."""
    runtime = current_runtime()
    person = await bearer_person()
    file, _ = await runtime.files.find(key, local=True)
    if file.uploader_id != person.id:  # refused before a byte of the body is read
        if not file.public and not await runtime.files.may_read(person, file):
            raise NotFound("no such file")
        raise Forbidden("only the file's uploader adds versions")
    form = await read_upload(runtime)
    try:
        document = await runtime.files.add_version(
            person, key, form.file, filename=form.filename, title=form.fields.get("name")
        )
    finally:
        form.file.discard()
    return _created(document)


@blueprint.delete("/files/<key>")
async def delete_file(key: str) -> Response:
    runtime = current_runtime()
    person = await bearer_person()
    await runtime.files.delete(person, key)
    return Response(status=204)


def _created(document: dict[str, Any]) -> Response:
    response = activity_response({"@context": FILE_CONTEXT, **document}, 201)
    response.headers["Location"] = document["id"]
    return response


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# ----------------------------------------------------------------------------- folders


@blueprint.post("/<any(users, groups):segment>/<name>/folders")
async def create_folder(segment: str, name: str) -> Response:
    """`{"name": "Notulen"}` with a bearer token; 201 with the folder."""
    runtime = current_runtime()
    person = await bearer_person()
    space = await runtime.actors.get(name, _TYPES[segment])
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    try:
        submitted = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(submitted, dict) or not isinstance(submitted.get("name"), str):
        raise BadRequest('send {"name": "..."}')
    folder = await runtime.files.create_folder(person, space, submitted["name"])
    document = _folder_document(space, folder.key, folder.name, 0)
    response = activity_response(document, 201)
    response.headers["Location"] = document["id"]
    return response


@blueprint.get("/<any(users, groups):segment>/<name>/folders")
async def folders(segment: str, name: str) -> Response:
    runtime = current_runtime()
    space = await runtime.actors.get(name, _TYPES[segment])
    await _authorize_space(runtime, space)
    found = await runtime.files.folders(space)
    items = [_folder_document(space, f.key, f.name, f.files) for f in found]
    document = ordered_collection(f"{space.uri}/folders", len(items))
    del document["first"]
    document["orderedItems"] = [{k: v for k, v in i.items() if k != "@context"} for i in items]
    return activity_response(document)


def _folder_document(space: LocalActor, key: str, name: str, total: int) -> dict[str, Any]:
    document = ordered_collection(f"{space.uri}/folders/{key}", total)
    document["name"] = name
    document["attributedTo"] = space.uri
    return document


# ----------------------------------------------------------------------------- collections


@blueprint.get("/<any(users, groups):segment>/<name>/files")
async def files_collection(segment: str, name: str) -> Response:
    """Every file of the space as an OrderedCollection of Documents, newest first; browsers
    get the folder browser."""
    if wants_html():
        return await _space_page(segment, name, None)
    return await _documents(segment, name, "all", None)


@blueprint.get("/<any(users, groups):segment>/<name>/folders/<key>")
async def folder_collection(segment: str, name: str, key: str) -> Response:
    """The files in one folder; `root` is the files in no folder."""
    if wants_html():
        return await _space_page(segment, name, None if key == "root" else key)
    return await _documents(segment, name, "root" if key == "root" else None, key)


async def _space_page(segment: str, name: str, folder_key: str | None) -> Response:
    # Imported here: the web pages import this module (read_upload), and it is loaded first.
    from federatie.web.ui.files import space_page

    space = await current_runtime().actors.get(name, _TYPES[segment])
    return await space_page(space, folder_key)


async def _documents(
    segment: str, name: str, folder: FolderFilter | None, key: str | None
) -> Response:
    runtime = current_runtime()
    space = await runtime.actors.get(name, _TYPES[segment])
    await _authorize_space(runtime, space)
    title = None
    if folder is None:
        assert key is not None
        found = await runtime.files.folder(space, key)
        folder, title = found.id, found.name
    uri = f"{space.uri}/files" if key is None else f"{space.uri}/folders/{key}"
    page = parse_page_request(request.args)
    total, items = await runtime.files.documents(space, folder, page)
    if page is None:
        document = ordered_collection(uri, total)
        if title is not None:
            document["name"] = title
        document["attributedTo"] = space.uri
        return activity_response(document)
    document = ordered_collection_page(uri, total, page, items)
    document["@context"] = FILE_CONTEXT
    return activity_response(document)


async def _authorize_space(runtime: Runtime, space: LocalActor) -> None:
    """Lists follow the actor's rules: authorized fetch (or a local person's token), and a
    members-only group's only for its members and servers hosting one."""
    person = await _optional_bearer()
    signer = None if person is not None else await authorized_fetch()
    if space.group_kind is not GroupKind.MEMBERS_ONLY:
        return
    async with runtime.pool.acquire() as conn:
        if person is not None:
            allowed = person.id == space.id or bool(
                await conn.fetchval(
                    """SELECT EXISTS (SELECT 1 FROM group_roles
                                      WHERE group_id = $1 AND actor_id = $2)
                           OR EXISTS (SELECT 1 FROM follows WHERE followed_id = $1
                                      AND follower_id = $2 AND state = 'accepted')""",
                    space.id,
                    person.id,
                )
            )
        else:
            allowed = await readable(conn, False, [runtime.iris.followers(space.uri)], signer)
    if not allowed:
        raise NotFound("no such collection")


# ----------------------------------------------------------------------------- serving


@blueprint.get("/files/<key>")
@blueprint.get("/files/<key>/versions/<int:number>")
async def download(key: str, number: int | None = None) -> Response:
    runtime = current_runtime()
    file, version = await runtime.files.find(key, local=True, version=number)
    await _authorize_file(runtime, file)
    return await serve_blob(
        runtime,
        digest=version.sha256,
        size=version.size,
        media_type=version.media_type,
        name=version.name,
        modified=version.created_at,
        immutable=number is not None,
        public=file.public,
    )


@blueprint.get("/files/<key>/thumbnail")
@blueprint.get("/files/<key>/versions/<int:number>/thumbnail")
async def thumbnail(key: str, number: int | None = None) -> Response:
    runtime = current_runtime()
    file, version = await runtime.files.find(key, local=True, version=number)
    await _authorize_file(runtime, file)
    return await _serve_thumbnail(runtime, file, version, immutable=number is not None)


@blueprint.get("/files/remote")
async def remote_lookup() -> Response:
    """`?object=<Document id>`: our copy of another instance's file, as JSON."""
    runtime = current_runtime()
    uri = request.args.get("object", "")
    if not uri:
        raise BadRequest("give ?object= with the file's ActivityStreams id")
    file, version = await runtime.files.find_remote(uri)
    await _authorize_file(runtime, file)
    base = f"{runtime.config.base_url}/files/remote/{file.key}"
    return json_response(
        {
            "id": base,
            "object": file.object_uri,
            "name": file.name,
            "mediaType": version.media_type,
            "size": version.size,
            "digestMultibase": digest_multibase(version.sha256),
            "version": version.version,
            "cached": version.stored,
            "origin": version.url,
            "thumbnail": f"{base}/thumbnail" if version.thumbnail_sha256 else None,
        }
    )


@blueprint.get("/files/remote/<key>")
async def remote_download(key: str) -> Response:
    """Our verified copy of another instance's file (its current version); a public file we
    did not cache is a redirect to its origin."""
    runtime = current_runtime()
    file, version = await runtime.files.find(key, local=False)
    await _authorize_file(runtime, file)
    if not version.stored:
        if file.public and version.url:
            response = Response(status=302)
            response.headers["Location"] = version.url
            return response
        raise NotFound("this file is not cached here")
    return await serve_blob(
        runtime,
        digest=version.sha256,
        size=version.size,
        media_type=version.media_type,
        name=version.name,
        modified=version.created_at,
        immutable=False,
        public=file.public,
    )


@blueprint.get("/files/remote/<key>/thumbnail")
async def remote_thumbnail(key: str) -> Response:
    runtime = current_runtime()
    file, version = await runtime.files.find(key, local=False)
    await _authorize_file(runtime, file)
    return await _serve_thumbnail(runtime, file, version, immutable=False)


async def _serve_thumbnail(
    runtime: Runtime, file: FileRow, version: Any, *, immutable: bool
) -> Response:
    if not version.thumbnail_sha256 or not version.thumbnail_media_type:
        raise NotFound("this file has no thumbnail")
    blob = await runtime.files.blobs.open(version.thumbnail_sha256)
    return await serve_blob(
        runtime,
        digest=version.thumbnail_sha256,
        size=blob.size,
        media_type=version.thumbnail_media_type,
        name=f"thumbnail-{version.name}",
        modified=version.created_at,
        immutable=immutable,
        public=file.public,
    )


async def _optional_bearer() -> LocalActor | None:
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return await bearer_person()
    return None


async def _authorize_file(runtime: Runtime, file: FileRow) -> None:
    """Public files to anyone; others to a person allowed by the file service (members,
    staff, the uploader) by bearer token or by the web session, or for our own files to a
    signed fetch that `readable` admits."""
    if file.public:
        return
    person = await _optional_bearer()
    if person is None:
        from federatie.web.ui.session import current_viewer  # as above: loaded after this

        viewer = await current_viewer()
        person = viewer.person if viewer else None
    if person is not None:
        if await runtime.files.may_read(person, file):
            return
        raise NotFound("no such file")
    signer = await request_signer()
    if signer is not None and file.local and file.space_followers:
        async with runtime.pool.acquire() as conn:
            if await readable(conn, False, [file.space_followers], signer):
                return
    raise NotFound("no such file")


async def serve_blob(
    runtime: Runtime,
    *,
    digest: str,
    size: int,
    media_type: str,
    name: str,
    modified: datetime,
    immutable: bool,
    public: bool,
) -> Response:
    last_modified = modified.replace(microsecond=0)
    scope = "public" if public else "private"
    headers = {
        **FILE_SECURITY_HEADERS,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(media_type, name),
        "Cache-Control": f"{scope}, max-age={_YEAR}, immutable"
        if immutable
        else f"{scope}, no-cache",
    }

    def finish(response: Response) -> Response:
        response.headers.update(headers)
        response.set_etag(digest)
        response.last_modified = last_modified
        return response

    if _not_modified(digest, last_modified):
        return finish(Response(status=304))
    start, stop, status = 0, size, 200
    ranges = request.range
    single = ranges is not None and ranges.units == "bytes" and len(ranges.ranges) == 1
    if ranges is not None and single and _if_range_holds(digest, last_modified):
        bounds = ranges.range_for_length(size)
        if bounds is None:
            response = finish(Response(status=416))
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        start, stop, status = bounds[0], bounds[1], 206
    blob = await runtime.files.blobs.open(digest)
    response = finish(
        Response(
            blob.chunks(start, stop), status=status, content_type=content_type_header(media_type)
        )
    )
    response.content_length = stop - start
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response


def _not_modified(digest: str, last_modified: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(digest)
    since = request.if_modified_since
    return since is not None and last_modified <= since


def _if_range_holds(digest: str, last_modified: datetime) -> bool:
    """No If-Range, or one naming this representation (strong ETag, or an exact date)."""
    if_range = request.if_range
    if if_range.etag is None and if_range.date is None:
        return True
    if if_range.etag is not None:
        return if_range.etag == digest
    return if_range.date is not None and last_modified <= if_range.date
