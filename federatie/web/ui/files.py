"""File pages: a person's or a group's file space with its folders, a file with its versions,
uploading (with progress when scripts run), new versions, new folders and deleting.

The space pages answer at the URLs where web/files.py serves the ActivityStreams collections
(`/users|groups/<name>/files`, `…/folders/<key>`); their HTML branches call `space_page`.
Uploads are multipart forms to this blueprint, read by web/files.py's streaming `read_upload`
(never whole into memory; `request_class` gives these paths the upload cap). The blueprint's
CSRF check cannot read a multipart body, so an upload is checked here: by the `X-CSRF-Token`
header the progress script sends (then before a byte is read), else by the form's field once
the body is parsed, and always before anything is stored. Who may do what is the file
service's rule: owners and group members upload, uploaders add versions, uploaders and group
staff delete, members-only spaces are shown to their members only.
"""

from __future__ import annotations

from babel.numbers import format_decimal
from quart import Response, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from federatie.runtime import current_runtime
from federatie.services.people import Viewer
from federatie.storage import actors as actors_sql
from federatie.storage import follows as follows_sql
from federatie.storage.files import FileRow, Folder
from federatie.web.files import UploadForm, read_upload
from federatie.web.ui.i18n import current_locale, gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.session import (
    CSRF_FIELD,
    current_viewer,
    require_viewer,
    ui_blueprint,
    verify_csrf,
)

blueprint = ui_blueprint("file_pages", __name__)

SPACE_TYPES = {"users": ActorType.PERSON, "groups": ActorType.GROUP}
PAGE_SIZE = 50
_UNITS = ("B", "KB", "MB", "GB", "TB")


@blueprint.app_template_filter("file_size")
def file_size(size: int) -> str:
    """`1,5 MB` in Dutch, `1.5 MB` in English (powers of 1024)."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    pattern = "#,##0" if unit == 0 else "#,##0.#"
    number = format_decimal(value, format=pattern, locale=current_locale())
    return f"{number} {_UNITS[unit]}"


def space_path(space: LocalActor, folder_key: str | None = None) -> str:
    segment = "groups" if space.type is ActorType.GROUP else "users"
    base = f"/{segment}/{space.username}"
    return f"{base}/folders/{folder_key}" if folder_key else f"{base}/files"


# --------------------------------------------------------------------------- who may


async def _may_upload(person: LocalActor | None, space: LocalActor) -> bool:
    if person is None:
        return False
    try:
        await current_runtime().files.check_can_upload(person, space)
    except (Forbidden, NotFound):
        return False
    return True


async def _check_space_readable(space: LocalActor, person: LocalActor | None) -> bool:
    """Whether `person` may add files; NotFound when the space is not theirs to see (a
    members-only group's files are for its members)."""
    may_upload = await _may_upload(person, space)
    if space.group_kind is GroupKind.MEMBERS_ONLY and not may_upload:
        raise NotFound("no such file space")
    return may_upload


async def _readable_file(key: str, viewer: Viewer | None) -> tuple[FileRow, LocalActor]:
    """One of our files and its space, when the viewer may see it (else NotFound)."""
    runtime = current_runtime()
    file, _ = await runtime.files.find(key, local=True)
    if not file.public and (
        viewer is None or not await runtime.files.may_read(viewer.person, file)
    ):
        raise NotFound("no such file")
    async with runtime.pool.acquire() as conn:
        space = await actors_sql.select_local_actor_by_uri(conn, file.space_uri)
    if space is None:
        raise NotFound("no such file")
    return file, space


async def _is_staff(space: LocalActor, person: LocalActor) -> bool:
    if space.type is not ActorType.GROUP:
        return False
    async with current_runtime().pool.acquire() as conn:
        return person.uri in await follows_sql.select_group_staff(conn, space.id)


# --------------------------------------------------------------------------- a space


async def space_page(
    space: LocalActor,
    folder_key: str | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The folder browser: the space's folders (at its top) and the files in one folder."""
    runtime = current_runtime()
    viewer = await current_viewer()
    may_upload = await _check_space_readable(space, viewer.person if viewer else None)
    folder: Folder | None = None
    if folder_key is not None:
        folder = await runtime.files.folder(space, folder_key)
    folders = await runtime.files.folders(space)
    max_id = request.args.get("max_id", "")
    files = await runtime.files.listing(
        space,
        folder.id if folder else "root",
        max_id=int(max_id) if max_id.isdigit() and len(max_id) < 19 else None,
        limit=PAGE_SIZE,
    )
    here = space_path(space, folder.key if folder else None)
    next_url = f"{here}?max_id={files[-1].id}" if len(files) == PAGE_SIZE else None
    response = await render_page(
        "files/space.html",
        status=status,
        space=space,
        group=space if space.type is ActorType.GROUP else None,
        folder=folder,
        folders=[]
        if folder
        else [
            {"name": item.name, "path": space_path(space, item.key), "files": item.files}
            for item in folders
        ],
        folder_options=[("", gettext("No folder")), *((item.key, item.name) for item in folders)],
        files=files,
        next_url=next_url,
        here=here,
        files_path=space_path(space),
        may_upload=may_upload,
        max_upload=runtime.config.max_upload_bytes,
        errors=errors or {},
        values=values or {"folder": folder.key if folder else ""},
    )
    response.headers["Vary"] = "Accept"  # the same URLs serve ActivityStreams collections
    return response


@blueprint.post("/<any(users, groups):segment>/<name>/files/upload")
async def upload(segment: str, name: str) -> Response | WerkzeugResponse:
    """A new file in the space, from the upload form (multipart: `file`, `name`, `folder`)."""
    runtime = current_runtime()
    space = await runtime.actors.get(name, SPACE_TYPES[segment])
    if g.get("csrf_checked"):  # the script's header: refuse before reading the body
        viewer = await require_viewer()
        await runtime.files.check_can_upload(viewer.person, space)
    form = await _read_upload()
    try:
        viewer = await _checked_viewer(form)
        values = {"name": form.fields.get("name", ""), "folder": form.fields.get("folder", "")}
        if not form.filename:
            return await _space_form_error(space, values, gettext("Choose a file to upload."), 422)
        document = await runtime.files.upload(
            viewer.person,
            space,
            form.file,
            filename=form.filename,
            title=values["name"].strip() or None,
            folder_key=values["folder"] or None,
        )
    except PayloadTooLarge as exc:
        return await _space_form_error(space, values, _quota_message(exc), 413)
    except Unprocessable:
        message = gettext("This file cannot be read. Is it damaged?")
        return await _space_form_error(space, values, message, 422)
    finally:
        form.file.discard()  # a no-op once stored
    return redirect_with_notice(
        space_path(space, values["folder"] or None),
        gettext("“%(name)s” was uploaded.", name=document["name"]),
    )


async def _space_form_error(
    space: LocalActor, values: dict[str, str], message: str, status: int
) -> Response:
    return await space_page(
        space, values.get("folder") or None, status=status, errors={"file": message}, values=values
    )


@blueprint.post("/<any(users, groups):segment>/<name>/files/folders")
async def new_folder(segment: str, name: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    runtime = current_runtime()
    space = await runtime.actors.get(name, SPACE_TYPES[segment])
    form = await request.form
    folder_name = form.get("folder_name", "")
    try:
        folder = await runtime.files.create_folder(viewer.person, space, folder_name)
    except (Unprocessable, Conflict) as exc:
        message = (
            gettext("There is already a folder with this name.")
            if isinstance(exc, Conflict)
            else gettext("Enter a name for the folder.")
        )
        return await space_page(
            space,
            None,
            status=422,
            errors={"folder_name": message},
            values={"folder_name": folder_name, "folder": ""},
        )
    return redirect_with_notice(
        space_path(space, folder.key), gettext("The folder “%(name)s” was made.", name=folder.name)
    )


# --------------------------------------------------------------------------- a file


@blueprint.get("/files/<key>/details")
async def file_page(key: str) -> Response:
    return await _file_page(key)


async def _file_page(
    key: str, *, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    runtime = current_runtime()
    viewer = await current_viewer()
    file, space = await _readable_file(key, viewer)
    versions = await runtime.files.versions(file)
    folder = await runtime.files.folder(space, file.folder_key) if file.folder_key else None
    person = viewer.person if viewer else None
    is_uploader = person is not None and person.id == file.uploader_id
    return await render_page(
        "files/file.html",
        status=status,
        file=file,
        current=versions[0],
        versions=versions,
        space=space,
        group=space if space.type is ActorType.GROUP else None,
        folder=folder,
        back=space_path(space, file.folder_key),
        files_path=space_path(space),
        may_replace=is_uploader,
        may_delete=is_uploader or (person is not None and await _is_staff(space, person)),
        max_upload=runtime.config.max_upload_bytes,
        errors=errors or {},
    )


@blueprint.post("/files/<key>/upload")
async def new_version(key: str) -> Response | WerkzeugResponse:
    """The file's next version, from the form on its page (multipart: `file`, `name`)."""
    runtime = current_runtime()
    if g.get("csrf_checked"):  # the script's header: refuse before reading the body
        viewer = await require_viewer()
        file, _ = await _readable_file(key, viewer)
        if file.uploader_id != viewer.person.id:
            raise Forbidden("only the file's uploader adds versions")
    form = await _read_upload()
    try:
        viewer = await _checked_viewer(form)
        await _readable_file(key, viewer)
        if not form.filename:
            message = gettext("Choose a file to upload.")
            return await _file_page(key, status=422, errors={"file": message})
        document = await runtime.files.add_version(
            viewer.person,
            key,
            form.file,
            filename=form.filename,
            title=form.fields.get("name", "").strip() or None,
        )
    except PayloadTooLarge as exc:
        return await _file_page(key, status=413, errors={"file": _quota_message(exc)})
    except Unprocessable:
        message = gettext("This file cannot be read. Is it damaged?")
        return await _file_page(key, status=422, errors={"file": message})
    finally:
        form.file.discard()
    return redirect_with_notice(
        f"/files/{key}/details",
        gettext("A new version of “%(name)s” was uploaded.", name=document["name"]),
    )


@blueprint.get("/files/<key>/delete")
async def delete_form(key: str) -> Response:
    viewer = await require_viewer()
    file, _ = await _readable_file(key, viewer)
    return await render_page("files/delete.html", file=file, back=f"/files/{key}/details")


@blueprint.post("/files/<key>/delete")
async def delete(key: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    file, space = await _readable_file(key, viewer)
    await current_runtime().files.delete(viewer.person, key)
    return redirect_with_notice(
        space_path(space, file.folder_key), gettext("“%(name)s” was deleted.", name=file.name)
    )


# --------------------------------------------------------------------------- helpers


async def _read_upload() -> UploadForm:
    """The streamed upload. A body too large to read has no CSRF token we could check yet,
    so it gets the error page (the script checks the size before it sends)."""
    try:
        return await read_upload(current_runtime())
    except PayloadTooLarge:
        raise PayloadTooLarge(_too_large()) from None


async def _checked_viewer(form: UploadForm) -> Viewer:
    """After the body is parsed: the form's CSRF token (unless the header had it), then who."""
    if not g.get("csrf_checked"):
        verify_csrf(form.fields.get(CSRF_FIELD))
    return await require_viewer()


def _too_large() -> str:
    limit = file_size(current_runtime().config.max_upload_bytes)
    return gettext("The file is larger than %(size)s.", size=limit)


def _quota_message(exc: PayloadTooLarge) -> str:
    if "file space" in exc.message:
        return gettext("The group's file space is full. Remove files to make room.")
    return _too_large()
