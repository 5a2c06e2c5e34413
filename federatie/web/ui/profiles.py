"""Profiles and the people directory: a person's page (the HTML at `/users/<name>`), editing
one's own profile and avatar, following people, and finding colleagues by expertise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_datetime
from quart import Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.activitypub.articles import page_url
from federatie.domain.actors import ActorType, LocalActor
from federatie.domain.files import FILE_SECURITY_HEADERS
from federatie.domain.profiles import (
    AVATAR_MAX_BYTES,
    MAX_BIO,
    MAX_EXPERTISE,
    MAX_EXPERTISE_LENGTH,
    MAX_JOB_TITLE,
    MAX_NAME,
    MAX_ORGANISATION,
    MAX_THEMES,
    Avatar,
    ProfileFieldError,
    parse_profile,
)
from federatie.errors import NotFound, PayloadTooLarge
from federatie.runtime import current_runtime
from federatie.services.blogs import BlogService
from federatie.services.profiles import DIRECTORY_PAGE, ProfileService
from federatie.storage.profiles import GroupLink
from federatie.web.files import read_upload
from federatie.web.ui.i18n import current_locale, gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.remote import remote_actor_path
from federatie.web.ui.session import (
    CSRF_FIELD,
    current_viewer,
    require_viewer,
    ui_blueprint,
    verify_csrf,
)

blueprint = ui_blueprint("profiles", __name__)

PROFILE_POSTS = 5
_FORM_FIELDS = ("display_name", "bio", "organisation", "job_title", "expertise", "themes")


def _service() -> ProfileService:
    return ProfileService(current_runtime())


@blueprint.app_template_filter("moment")
def moment(value: datetime | None) -> str:
    """A time for people, in the page's language: `12 Mar 2025, 14:03 UTC`."""
    if value is None:
        return ""
    text: str = format_datetime(value, "d MMM y, HH:mm", tzinfo=UTC, locale=current_locale())
    return f"{text} UTC"


@blueprint.app_template_global()
def avatar_src(username: str, avatar: Avatar | None) -> str | None:
    """The path of a local person's avatar image, or None."""
    return f"/users/{username}/avatar/{avatar.sha256[:16]}" if avatar else None


@blueprint.app_template_global()
def actor_path(uri: str, username: str, local: bool, is_group: bool = False) -> str:
    """Where an actor's page is here: a local profile or group, or the remote actor page."""
    if local:
        return f"/{'groups' if is_group else 'users'}/{username}"
    return remote_actor_path(uri)


# ---------------------------------------------------------------------------- the profile


async def profile_page(person: LocalActor) -> Response:
    """The HTML of `/users/<name>` (web.actors negotiates; this is the browser's branch)."""
    runtime = current_runtime()
    service = _service()
    viewer = await current_viewer()
    viewer_person = viewer.person if viewer else None
    profile = await service.profile(person)
    groups = await service.groups_of(person, viewer_person)
    posts = await BlogService(runtime).list_person(person, None, max_id=None, limit=PROFILE_POSTS)
    follow_state = None
    if viewer_person is not None and viewer_person.id != person.id:
        follow_state = await service.follow_state(viewer_person, person) or "none"
    response = await render_page(
        "profiles/profile.html",
        person=person,
        profile=profile,
        fields=profile.fields,
        handle=f"@{person.username}@{runtime.config.domain}",
        groups=[_group_view(group) for group in groups],
        posts=[
            {
                "title": post.fields.title,
                "url": page_url(runtime.config.base_url, post.key),
                "published": post.published_at,
            }
            for post in posts
        ],
        more_posts=len(posts) == PROFILE_POSTS,
        own=viewer_person is not None and viewer_person.id == person.id,
        follow_state=follow_state,
    )
    response.headers["Vary"] = "Accept"
    return response


def _group_view(group: GroupLink) -> dict[str, Any]:
    return {
        "name": group.name or group.username,
        "handle": f"@{group.username}@{group.host}",
        "path": actor_path(group.uri, group.username, group.local, is_group=True),
        "local": group.local,
    }


@blueprint.get("/users/<name>/avatar/<version>")
async def avatar(name: str, version: str) -> Response:
    found, data = await _service().avatar(name)
    if found.sha256[:16] != version:
        raise NotFound("this avatar was replaced")
    response = Response(data, content_type=found.media_type)
    response.headers.update(FILE_SECURITY_HEADERS)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["ETag"] = f'"{found.sha256}"'
    return response


@blueprint.post("/users/<name>/follow")
async def follow(name: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    person = await current_runtime().actors.get(name, ActorType.PERSON)
    if person.id == viewer.person.id:
        raise NotFound("one cannot follow oneself")
    await _service().follow(viewer.person, person)
    return redirect_with_notice(
        f"/users/{person.username}",
        gettext("You follow %(name)s.", name=person.name or person.username),
    )


@blueprint.post("/users/<name>/unfollow")
async def unfollow(name: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    person = await current_runtime().actors.get(name, ActorType.PERSON)
    await _service().unfollow(viewer.person, person)
    return redirect_with_notice(
        f"/users/{person.username}",
        gettext("You no longer follow %(name)s.", name=person.name or person.username),
    )


# ---------------------------------------------------------------------------- editing


@blueprint.get("/settings/profile")
async def edit_form() -> Response:
    viewer = await require_viewer()
    return await _edit_page(viewer.person)


@blueprint.post("/settings/profile")
async def edit() -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    form = await request.form
    values = {key: form.get(key, "") for key in _FORM_FIELDS}
    try:
        fields = parse_profile(**values)
    except ProfileFieldError as exc:
        return await _edit_page(viewer.person, values, {exc.field: _message(exc.field)}, 422)
    await _service().update(viewer.person, fields)
    return redirect_with_notice(
        f"/users/{viewer.person.username}", gettext("Your profile was saved.")
    )


@blueprint.post("/settings/profile/avatar")
async def upload_avatar() -> Response | WerkzeugResponse:
    """A multipart form with the image as `file`, parsed as file uploads are (staged on disk,
    capped); its CSRF field is checked once the body is read."""
    upload = await read_upload(current_runtime())
    try:
        verify_csrf(upload.fields.get(CSRF_FIELD))
        viewer = await require_viewer()
    except BaseException:
        upload.file.discard()
        raise
    status = 422
    try:
        await _service().set_avatar(viewer.person, upload.file)
    except PayloadTooLarge:
        status = 413
        error = gettext("The image is larger than %(size)s MB.", size=AVATAR_MAX_BYTES >> 20)
    except ProfileFieldError:
        error = _message("avatar")
    else:
        return redirect_with_notice("/settings/profile", gettext("Your photo was saved."))
    return await _edit_page(viewer.person, None, {"file": error}, status)


@blueprint.post("/settings/profile/avatar/remove")
async def remove_avatar() -> WerkzeugResponse:
    viewer = await require_viewer()
    await _service().remove_avatar(viewer.person)
    return redirect_with_notice("/settings/profile", gettext("Your photo was removed."))


async def _edit_page(
    person: LocalActor,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The form, filled with `values` as sent, or else with the stored profile."""
    profile = await _service().profile(person)
    if values is None:
        fields = profile.fields
        values = {
            "display_name": fields.display_name,
            "bio": fields.bio or "",
            "organisation": fields.organisation or "",
            "job_title": fields.job_title or "",
            "expertise": ", ".join(fields.expertise),
            "themes": ", ".join(fields.themes),
        }
    return await render_page(
        "profiles/edit.html", status=status, values=values, errors=errors or {}, profile=profile
    )


def _message(field: str) -> str:
    """The form's own words for what is wrong with a field."""
    if field == "display_name":
        return gettext("Enter a name of at most %(n)s characters.", n=MAX_NAME)
    if field == "bio":
        return gettext("Use at most %(n)s characters.", n=MAX_BIO)
    if field == "organisation":
        return gettext("Use at most %(n)s characters.", n=MAX_ORGANISATION)
    if field == "job_title":
        return gettext("Use at most %(n)s characters.", n=MAX_JOB_TITLE)
    if field == "expertise":
        return gettext(
            "Give at most %(n)s areas of expertise, each at most %(length)s characters.",
            n=MAX_EXPERTISE,
            length=MAX_EXPERTISE_LENGTH,
        )
    if field == "themes":
        return gettext("Give at most %(n)s themes, made of letters, digits, - and _.", n=MAX_THEMES)
    return gettext("Choose a JPEG, PNG, WebP or GIF image.")


# ---------------------------------------------------------------------------- the directory


@blueprint.get("/people")
async def directory() -> Response:
    """Find colleagues by name, organisation, function, expertise or theme (signed in)."""
    await require_viewer()
    args = request.args
    query = args.get("q", "").strip()[:200]
    organisation = args.get("organisation", "").strip() or None
    theme = args.get("theme", "").strip() or None
    expertise = args.get("expertise", "").strip() or None
    service = _service()
    people = await service.directory(
        query=query,
        organisation=organisation,
        theme=theme,
        expertise=expertise,
        after=args.get("after") or None,
    )
    filters = {
        key: value
        for key, value in (
            ("q", query),
            ("organisation", organisation),
            ("theme", theme),
            ("expertise", expertise),
        )
        if value
    }
    next_url = None
    if len(people) == DIRECTORY_PAGE:
        next_url = "/people?" + urlencode({**filters, "after": people[-1].username})
    options = [("", gettext("All organisations"))]
    options += [(name, name) for name in await service.organisations()]
    return await render_page(
        "profiles/directory.html",
        people=people,
        organisation_options=options,
        filters=filters,
        next_url=next_url,
    )
