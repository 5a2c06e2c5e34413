"""Pages for actors of other instances, as this instance knows them: groups and people.

`/remote?uri=...` shows a remote Group (its description, the posts filed under it here, a
Join button that sends a Follow, and its discussions) or a remote Person (the profile from
their actor document). `/remote/lookup?q=` finds one by `@name@host` or URL. Only signed-in
people make this instance fetch an actor it does not know yet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from quart import Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.activitypub.html import sanitize_html
from federatie.errors import BadRequest, FederatieError, NotFound
from federatie.federation.remote_actors import RemoteActor
from federatie.runtime import current_runtime
from federatie.services.discussions import PAGE_SIZE, GroupRef
from federatie.services.people import Viewer
from federatie.storage import groups as groups_sql
from federatie.storage import remote_actors as remote_sql
from federatie.web.ui.groups import children_of, form_int, int_arg, leave_group, post_errors
from federatie.web.ui.i18n import gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.session import current_viewer, require_viewer, ui_blueprint

blueprint = ui_blueprint("remote_pages", __name__)


def remote_actor_path(uri: str) -> str:
    """The local page of a remote actor (a person's profile, a group and its posts here)."""
    return "/remote?uri=" + quote(uri, safe="")


def _local_path(uri: str) -> str | None:
    """Our own actor's page for a URL or handle that names one, else None."""
    domain = current_runtime().config.domain
    if uri.startswith(("https://", "http://")):
        parts = urlsplit(uri)
        if parts.netloc.lower() == domain and parts.path.startswith(("/users/", "/groups/")):
            return parts.path
        return None
    name, _, host = uri.strip().removeprefix("@").partition("@")
    if host.lower() == domain and name:
        return f"/groups/{quote(name.lower())}"  # groups and people share one name space
    return None


# --------------------------------------------------------------------------- look-up


@blueprint.get("/remote/lookup")
async def lookup() -> Response | WerkzeugResponse:
    await require_viewer()
    query = (request.args.get("q") or "").strip()
    error = None
    if not query:
        error = gettext("Enter a handle like @name@host or an address starting with https://.")
    elif (local := _local_path(query)) is not None:
        return await _local_redirect(local)
    else:
        try:
            actor = await current_runtime().lookup(query)
        except BadRequest:
            error = gettext("Enter a handle like @name@host or an address starting with https://.")
        except NotFound:
            error = gettext("Nobody with that handle or address was found.")
        except FederatieError:
            error = gettext("That instance cannot be reached or does not federate with us.")
        else:
            return redirect(remote_actor_path(actor.uri), 303)
    return await render_page("remote/lookup.html", status=422, query=query, errors={"q": error})


async def _local_redirect(path: str) -> WerkzeugResponse:
    """A handle of ours: to the person's page when the name is a person's."""
    name = path.rsplit("/", 1)[-1]
    try:
        actor = await current_runtime().actors.get(name)
    except NotFound:
        return redirect(path, 303)
    segment = "groups" if actor.type.value == "Group" else "users"
    return redirect(f"/{segment}/{actor.username}", 303)


# --------------------------------------------------------------------------- actor pages


async def _remote_actor(uri: str, viewer: Viewer | None) -> RemoteActor:
    """The actor as cached here; fetched first for a signed-in person when unknown."""
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        actor = await remote_sql.select_remote_actor(conn, uri)
    if actor is None and viewer is not None and uri.startswith(("https://", "http://")):
        try:
            actor = await runtime.remote.get(uri)
        except FederatieError as exc:
            raise NotFound(f"{uri} cannot be found") from exc
    if actor is None:
        raise NotFound(f"{uri} is not known here")
    return actor


def _group_ref(actor: RemoteActor) -> GroupRef:
    return GroupRef(actor.id, actor.uri, False, actor.manually_approves_followers, False)


def _profile(actor: RemoteActor) -> dict[str, Any]:
    """What the actor document says about itself, safe to show."""
    doc = actor.document or {}
    summary = doc.get("summary")
    icon = next(
        (
            i.get("url")
            for i in doc.get("icon") or []
            if isinstance(i, dict) and isinstance(i.get("url"), str)
        ),
        None,
    )
    fields = [
        (item["name"], sanitize_html(item["value"]))
        for item in doc.get("attachment") or []
        if isinstance(item, dict)
        and item.get("type") == "PropertyValue"
        and isinstance(item.get("name"), str)
        and isinstance(item.get("value"), str)
    ]
    url = doc.get("url")
    if not isinstance(url, str):
        url = actor.uri
    return {
        "actor": actor,
        "handle": f"@{actor.username}@{actor.host}",
        "summary": sanitize_html(summary) if isinstance(summary, str) else "",
        "icon": icon if icon and icon.startswith(("https://", "http://")) else None,
        "fields": fields,
        "profile_url": url if url.startswith(("https://", "http://")) else actor.uri,
        "page_path": remote_actor_path(actor.uri),
    }


@blueprint.get("/remote")
async def remote_actor() -> Response | WerkzeugResponse:
    uri = (request.args.get("uri") or "").strip()
    if not uri:
        raise NotFound("which actor? give ?uri=")
    if (local := _local_path(uri)) is not None:
        return redirect(local, 303)
    viewer = await current_viewer()
    actor = await _remote_actor(uri, viewer)
    if actor.type != "Group":
        return await render_page("remote/person.html", **_profile(actor))
    return await _group_page(actor, viewer)


async def _group_page(
    actor: RemoteActor,
    viewer: Viewer | None,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    runtime = current_runtime()
    ref = _group_ref(actor)
    standing = await runtime.discussions.standing(ref, viewer.person if viewer else None)
    before = int_arg("before")
    posts = await runtime.discussions.discussions(ref, standing, before=before)
    return await render_page(
        "remote/group.html",
        status=status,
        ref=ref,
        standing=standing,
        posts=posts,
        older=posts[-1].id if len(posts) == PAGE_SIZE else None,
        paged=before is not None,
        values=values or {},
        errors=errors or {},
        base="/remote",
        **_profile(actor),
    )


async def _group_of_form() -> tuple[Viewer, RemoteActor, Any]:
    viewer = await require_viewer()
    form = await request.form
    actor = await _remote_actor(form.get("uri", ""), viewer)
    if actor.type != "Group":
        raise NotFound("that actor is not a group")
    return viewer, actor, form


@blueprint.post("/remote/join")
async def join() -> WerkzeugResponse:
    viewer, actor, _ = await _group_of_form()
    await current_runtime().publisher.publish(
        viewer.person, {"type": "Follow", "object": actor.uri}
    )
    return redirect_with_notice(
        remote_actor_path(actor.uri), gettext("Your request to join was sent to the group.")
    )


@blueprint.post("/remote/leave")
async def leave() -> WerkzeugResponse:
    viewer, actor, _ = await _group_of_form()
    await leave_group(viewer, _group_ref(actor))
    return redirect_with_notice(remote_actor_path(actor.uri), gettext("You left the group."))


@blueprint.post("/remote/discussions")
async def start_discussion() -> Response | WerkzeugResponse:
    viewer, actor, form = await _group_of_form()
    values = {"title": form.get("title", ""), "content": form.get("content", "")}
    errors = post_errors(values["title"], values["content"])
    if errors:
        return await _group_page(actor, viewer, status=422, values=values, errors=errors)
    post_id = await current_runtime().discussions.start(
        viewer.person, _group_ref(actor), values["title"], values["content"]
    )
    return redirect_with_notice(
        f"/remote/discussions/{post_id}", gettext("Your message was posted.")
    )


# --------------------------------------------------------------------------- a discussion


async def _group_of_post(post_id: int) -> RemoteActor:
    """The remote group a post is filed under."""
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        group_uri = await groups_sql.select_post_group_uri(conn, post_id)
        actor = await remote_sql.select_remote_actor(conn, group_uri) if group_uri else None
    if actor is None or actor.type != "Group":
        raise NotFound("no such discussion")
    return actor


async def _thread_page(
    post_id: int,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    runtime = current_runtime()
    actor = await _group_of_post(post_id)
    viewer = await current_viewer()
    ref = _group_ref(actor)
    standing = await runtime.discussions.standing(ref, viewer.person if viewer else None)
    posts = await runtime.discussions.thread(ref, standing, post_id)
    return await render_page(
        "groups/thread.html",
        status=status,
        ref=ref,
        standing=standing,
        root=posts[0],
        children=children_of(posts),
        reply_to=int_arg("reply_to"),
        values=values or {},
        errors=errors or {},
        base="/remote",
        **_profile(actor),
    )


@blueprint.get("/remote/discussions/<int:post_id>")
async def discussion(post_id: int) -> Response:
    return await _thread_page(post_id)


@blueprint.post("/remote/discussions/<int:post_id>")
async def reply(post_id: int) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    actor = await _group_of_post(post_id)
    form = await request.form
    values = {"content": form.get("content", "")}
    errors = post_errors(None, values["content"])
    if errors:
        return await _thread_page(post_id, status=422, values=values, errors=errors)
    parent = form_int(form, "in_reply_to") if form.get("in_reply_to") else post_id
    root = await current_runtime().discussions.reply(
        viewer.person, _group_ref(actor), parent, values["content"]
    )
    return redirect_with_notice(f"/remote/discussions/{root}", gettext("Your reply was posted."))


@blueprint.post("/remote/posts/<int:post_id>/delete")
async def delete_own_post(post_id: int) -> WerkzeugResponse:
    """Authors delete their own posts in a group elsewhere; the group relays the Delete."""
    viewer = await require_viewer()
    actor = await _group_of_post(post_id)
    async with current_runtime().pool.acquire() as conn:
        post = await groups_sql.select_group_post(conn, actor.id, post_id)
    if post is None:
        raise NotFound("no such post in this group")
    await current_runtime().publisher.publish(viewer.person, {"type": "Delete", "object": post.uri})
    return redirect_with_notice(remote_actor_path(actor.uri), gettext("The post was deleted."))
