"""The group pages: directory, a group's discussions, joining, members and moderation.

The directory (`/groups`) and a group's own page (`/groups/<name>`) answer at the URLs where
web/groups.py and web/actors.py serve JSON; their HTML branches call `directory_page` and
`group_page` here. Every form posts to a route of this blueprint and calls the services the
JSON routes call: joining and posting through the publisher (client-to-server), moderation
through GroupService.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from quart import Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.domain.actors import ActorType, GroupKind, GroupRole, LocalActor, normalise_name
from federatie.errors import Conflict, Forbidden, NotFound, Unprocessable
from federatie.runtime import current_runtime
from federatie.services.discussions import MAX_TEXT, MAX_TITLE, PAGE_SIZE, GroupRef
from federatie.services.people import Viewer
from federatie.storage import follows as follows_sql
from federatie.storage import groups as groups_sql
from federatie.web.ui.i18n import gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.session import current_viewer, require_viewer, ui_blueprint

blueprint = ui_blueprint("group_pages", __name__)

MEMBERS_PAGE_SIZE = 50
MAX_THEMES = 10
SUBJECT_LENGTH = 80


@blueprint.app_template_global()
async def group_role(group: LocalActor) -> str | None:
    """The viewer's staff role in `group` (owner, admin, moderator), or None; for the tabs."""
    viewer = await current_viewer()
    if viewer is None:
        return None
    async with current_runtime().pool.acquire() as conn:
        return await groups_sql.select_group_role(conn, group.id, viewer.person.id)


@blueprint.app_template_global()
def group_kind_label(kind: GroupKind | str | None) -> str:
    """How a kind of group is named on the pages (remote groups: None)."""
    labels = {
        GroupKind.OPEN: gettext("Open group"),
        GroupKind.CLOSED: gettext("Closed group: joining needs approval"),
        GroupKind.MEMBERS_ONLY: gettext("Members only"),
    }
    return labels.get(GroupKind(kind), "") if kind else ""


@blueprint.app_template_global()
def group_role_label(role: str) -> str:
    labels = {
        GroupRole.OWNER: gettext("Owner"),
        GroupRole.ADMIN: gettext("Administrator"),
        GroupRole.MODERATOR: gettext("Moderator"),
    }
    return labels.get(GroupRole(role), role)


@blueprint.app_template_global()
def post_subject(post: groups_sql.Post) -> str:
    """A discussion's subject, or the start of its text when it has none (Mastodon posts)."""
    if post.title:
        return post.title
    # Only to strip the tags of HTML the publisher or the inbox sanitised; never rendered.
    text = " ".join(Markup(post.content).striptags().split())  # noqa: S704
    if len(text) > SUBJECT_LENGTH:
        text = text[: SUBJECT_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return text or gettext("(no text)")


def int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def form_int(form: Any, name: str) -> int:
    raw = form.get(name, "")
    if not raw.isdigit() or len(raw) >= 19:
        raise NotFound(f"no such {name}")
    return int(raw)


async def _group(name: str) -> LocalActor:
    return await current_runtime().actors.get(name, ActorType.GROUP)


async def _context(group: LocalActor, viewer: Viewer | None) -> dict[str, Any]:
    """What every page of a group shows in its header: who it is and where the viewer stands."""
    runtime = current_runtime()
    ref = GroupRef.of_local(group)
    standing = await runtime.discussions.standing(ref, viewer.person if viewer else None)
    async with runtime.pool.acquire() as conn:
        members = await follows_sql.count_follows(conn, group.id, "followers")
    return {
        "group": group,
        "ref": ref,
        "standing": standing,
        "handle": f"@{group.username}@{runtime.config.domain}",
        "member_count": members,
        "can_read": runtime.discussions.can_read(ref, standing),
        "base": f"/groups/{group.username}",
    }


# --------------------------------------------------------------------------- directory


async def directory_page(
    items: list[dict[str, Any]], *, query: str | None, theme: str | None, more: bool
) -> Response:
    """The HTML branch of `/groups`: search, cards, and the next page keeping the search."""
    next_url = None
    if more and items:
        args = {k: v for k, v in (("q", query), ("theme", theme)) if v}
        next_url = "/groups?" + urlencode({**args, "after": items[-1]["name"]})
    return await render_page(
        "groups/directory.html", groups=items, query=query, theme=theme, next_url=next_url
    )


def _new_group_values(form: Any) -> dict[str, str]:
    return {key: form.get(key, "") for key in ("title", "name", "description", "kind", "themes")}


@blueprint.get("/groups/new")
async def new_group_form() -> Response:
    await require_viewer()
    return await render_page("groups/new.html", values={"kind": GroupKind.OPEN.value}, errors={})


@blueprint.post("/groups/new")
async def create_group() -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    values = _new_group_values(await request.form)
    errors: dict[str, str] = {}
    title = " ".join(values["title"].split())
    description = values["description"].strip()
    themes = [t for t in values["themes"].replace(",", " ").split() if t]
    if not title:
        errors["title"] = gettext("Give the group a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = gettext("Use at most 200 characters.")
    if not values["name"].strip():
        errors["name"] = gettext("Choose a name for the group's address.")
    else:
        try:
            normalise_name(values["name"])
        except Unprocessable as exc:
            errors["name"] = _name_error(exc.message)
    if len(description) > 5000:
        errors["description"] = gettext("Use at most 5000 characters.")
    if values["kind"] not in {kind.value for kind in GroupKind}:
        errors["kind"] = gettext("Choose one of the kinds of group.")
    if len(themes) > MAX_THEMES:
        errors["themes"] = gettext("Give at most 10 themes.")
    if not errors:
        try:
            group = await current_runtime().actors.create_group(
                values["name"],
                owner=viewer.person.username,
                title=title,
                description=description or None,
                kind=GroupKind(values["kind"]),
                themes=themes,
            )
        except Conflict:
            errors["name"] = gettext("This name is taken. Choose another.")
        except Unprocessable as exc:
            if exc.message.startswith("invalid theme"):
                errors["themes"] = gettext(
                    "Themes are single words of letters, digits, - and _, separated by commas."
                )
            else:
                errors["name"] = _name_error(exc.message)
        else:
            return redirect_with_notice(
                f"/groups/{group.username}", gettext("The group was made. You are its owner.")
            )
    return await render_page("groups/new.html", status=422, values=values, errors=errors)


def _name_error(message: str) -> str:
    if "is reserved" in message:
        return gettext("This name is reserved. Choose another.")
    return gettext("Use 1 to 30 letters, digits or underscores.")


# --------------------------------------------------------------------------- overview


async def group_page(
    group: LocalActor,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The HTML branch of `/groups/<name>`: the header and the discussions, newest first."""
    viewer = await current_viewer()
    context = await _context(group, viewer)
    before = int_arg("before")
    posts = await current_runtime().discussions.discussions(
        context["ref"], context["standing"], before=before
    )
    older = posts[-1].id if len(posts) == PAGE_SIZE else None
    return await render_page(
        "groups/group.html",
        status=status,
        posts=posts,
        older=older,
        paged=before is not None,
        values=values or {},
        errors=errors or {},
        **context,
    )


def post_errors(title: str | None, text: str) -> dict[str, str]:
    """The form's complaints about a new discussion (title None: a reply)."""
    errors: dict[str, str] = {}
    if title is not None:
        title = " ".join(title.split())
        if not title:
            errors["title"] = gettext("Give the discussion a subject.")
        elif len(title) > MAX_TITLE:
            errors["title"] = gettext("Use at most 200 characters.")
    if not text.strip():
        errors["content"] = gettext("Write a message.")
    elif len(text) > MAX_TEXT:
        errors["content"] = gettext("Use at most 20000 characters.")
    return errors


@blueprint.post("/groups/<name>/discussions")
async def start_discussion(name: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    values = {"title": form.get("title", ""), "content": form.get("content", "")}
    errors = post_errors(values["title"], values["content"])
    if errors:
        return await group_page(group, status=422, values=values, errors=errors)
    post_id = await current_runtime().discussions.start(
        viewer.person, GroupRef.of_local(group), values["title"], values["content"]
    )
    return redirect_with_notice(
        f"/groups/{group.username}/discussions/{post_id}", gettext("Your message was posted.")
    )


# --------------------------------------------------------------------------- a discussion


async def _thread_page(
    group: LocalActor,
    post_id: int,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    viewer = await current_viewer()
    context = await _context(group, viewer)
    posts = await current_runtime().discussions.thread(context["ref"], context["standing"], post_id)
    return await render_page(
        "groups/thread.html",
        status=status,
        root=posts[0],
        children=children_of(posts),
        reply_to=int_arg("reply_to"),
        values=values or {},
        errors=errors or {},
        **context,
    )


def children_of(posts: list[groups_sql.Post]) -> dict[str, list[groups_sql.Post]]:
    """Replies by the uri they answer, oldest first: the thread as a tree for the template."""
    tree: dict[str, list[groups_sql.Post]] = {}
    for post in posts[1:]:
        tree.setdefault(post.in_reply_to or "", []).append(post)
    return tree


@blueprint.get("/groups/<name>/discussions/<int:post_id>")
async def discussion(name: str, post_id: int) -> Response:
    return await _thread_page(await _group(name), post_id)


@blueprint.post("/groups/<name>/discussions/<int:post_id>")
async def reply(name: str, post_id: int) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    values = {"content": form.get("content", "")}
    errors = post_errors(None, values["content"])
    if errors:
        return await _thread_page(group, post_id, status=422, values=values, errors=errors)
    parent = form_int(form, "in_reply_to") if form.get("in_reply_to") else post_id
    root = await current_runtime().discussions.reply(
        viewer.person, GroupRef.of_local(group), parent, values["content"]
    )
    return redirect_with_notice(
        f"/groups/{group.username}/discussions/{root}", gettext("Your reply was posted.")
    )


@blueprint.get("/groups/<name>/posts/<int:post_id>")
async def post_in_thread(name: str, post_id: int) -> WerkzeugResponse:
    """A post (a reply, say, that a report names) shown in its discussion."""
    group = await _group(name)
    async with current_runtime().pool.acquire() as conn:
        post = await groups_sql.select_group_post(conn, group.id, post_id)
        root = await groups_sql.select_thread_root(conn, group.id, post.uri) if post else None
    if root is None:
        raise NotFound("no such post in this group")
    return redirect(f"/groups/{group.username}/discussions/{root}#post-{post_id}", 303)


@blueprint.post("/groups/<name>/posts/<int:post_id>/delete")
async def delete_post(name: str, post_id: int) -> WerkzeugResponse:
    """Staff remove any post (announced to every member); authors may delete their own."""
    viewer = await require_viewer()
    group = await _group(name)
    runtime = current_runtime()
    async with runtime.pool.acquire() as conn:
        post = await groups_sql.select_group_post(conn, group.id, post_id)
        role = await groups_sql.select_group_role(conn, group.id, viewer.person.id)
    if post is None:
        raise NotFound("no such post in this group")
    if role is not None:
        await runtime.groups.delete_post(viewer.person.username, group.username, post.uri)
    else:
        # Only its author may delete it: the publisher refuses anyone else.
        await runtime.publisher.publish(viewer.person, {"type": "Delete", "object": post.uri})
    form = await request.form
    back = form.get("back", "")
    target = f"/groups/{group.username}"
    if back.startswith(f"{target}/") and not (post.in_reply_to is None and "/discussions/" in back):
        target = back  # not the discussion that just went away with its opening post
    return redirect_with_notice(target, gettext("The post was deleted."))


# --------------------------------------------------------------------------- join and leave


@blueprint.post("/groups/<name>/join")
async def join(name: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    await current_runtime().publisher.publish(
        viewer.person, {"type": "Follow", "object": group.uri}
    )
    notice = (
        gettext("You joined the group.")
        if group.group_kind is GroupKind.OPEN
        else gettext("Your request to join was sent to the group's moderators.")
    )
    return redirect_with_notice(f"/groups/{group.username}", notice)


@blueprint.post("/groups/<name>/leave")
async def leave(name: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    await leave_group(viewer, GroupRef.of_local(group))
    return redirect_with_notice(f"/groups/{group.username}", gettext("You left the group."))


async def leave_group(viewer: Viewer, group: GroupRef) -> None:
    """Undo the person's Follow of the group (leaving, or withdrawing a request)."""
    runtime = current_runtime()
    standing = await runtime.discussions.standing(group, viewer.person)
    follow = standing.membership.follow_uri if standing.membership else None
    if follow is None:
        raise NotFound("you are not a member of this group")
    await runtime.publisher.publish(viewer.person, {"type": "Undo", "object": follow})


# --------------------------------------------------------------------------- members


@blueprint.get("/groups/<name>/members")
async def members(name: str) -> Response:
    group = await _group(name)
    viewer = await current_viewer()
    if group.group_kind is GroupKind.MEMBERS_ONLY and viewer is None:
        viewer = await require_viewer()
    context = await _context(group, viewer)
    if not context["can_read"]:
        raise Forbidden("only members see who belongs to this group")
    after = int_arg("after")
    async with current_runtime().pool.acquire() as conn:
        staff = await groups_sql.select_group_staff(conn, group.id)
        page = await groups_sql.select_group_members(
            conn, group.id, after=after, limit=MEMBERS_PAGE_SIZE
        )
    more = page[-1][0] if len(page) == MEMBERS_PAGE_SIZE else None
    return await render_page(
        "groups/members.html",
        staff=staff,
        members=[member for _, member in page],
        more=more,
        **context,
    )


# --------------------------------------------------------------------------- moderation


async def _moderation_page(
    group: LocalActor, viewer: Viewer, *, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    runtime = current_runtime()
    name = viewer.person.username
    pending_uris = await runtime.groups.pending(name, group.username)  # Forbidden for others
    bans = await runtime.groups.bans(name, group.username)
    reports = await runtime.groups.reports(name, group.username)
    async with runtime.pool.acquire() as conn:
        pending = await groups_sql.select_actor_cards(conn, pending_uris)
        staff = await groups_sql.select_group_staff(conn, group.id)
        page = await groups_sql.select_group_members(conn, group.id, after=None, limit=1000)
        role = await groups_sql.select_group_role(conn, group.id, viewer.person.id)
    context = await _context(group, viewer)
    return await render_page(
        "groups/moderation.html",
        status=status,
        pending=pending,
        staff=staff,
        members=[member for _, member in page],
        bans=bans,
        reports=reports,
        is_owner=role == GroupRole.OWNER.value,
        errors=errors or {},
        **context,
    )


@blueprint.get("/groups/<name>/moderation")
async def moderation(name: str) -> Response:
    viewer = await require_viewer()
    return await _moderation_page(await _group(name), viewer)


def _back_to_moderation(group: LocalActor, notice: str) -> WerkzeugResponse:
    return redirect_with_notice(f"/groups/{group.username}/moderation", notice)


@blueprint.post("/groups/<name>/moderation/requests")
async def decide_request(name: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    decision = form.get("decision")
    if decision not in ("approve", "refuse") or not form.get("member"):
        return await _moderation_page(
            group, viewer, status=422, errors={"requests": gettext("Choose approve or refuse.")}
        )
    accept = decision == "approve"
    await current_runtime().groups.decide(
        viewer.person.username, group.username, form["member"], accept=accept
    )
    notice = gettext("The request was approved.") if accept else gettext("The request was refused.")
    return _back_to_moderation(group, notice)


@blueprint.post("/groups/<name>/moderation/roles")
async def change_role(name: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    member, role = form.get("role_member", ""), form.get("role", "")
    errors: dict[str, str] = {}
    if not member:
        errors["role_member"] = gettext("Choose a member.")
    if role not in ("admin", "moderator", "member"):
        errors["role"] = gettext("Choose a role.")
    if not errors:
        try:
            await current_runtime().groups.set_role(
                viewer.person.username,
                group.username,
                member,
                None if role == "member" else GroupRole(role),
            )
        except Unprocessable:
            errors["role_member"] = gettext("Only members of the group can get a role.")
        except NotFound:
            errors["role_member"] = gettext("Only people of this instance can get a role.")
        else:
            return _back_to_moderation(group, gettext("The role was changed."))
    return await _moderation_page(group, viewer, status=422, errors=errors)


@blueprint.post("/groups/<name>/moderation/bans")
async def ban(name: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    member = form.get("ban_member", "")
    reason = " ".join(form.get("reason", "").split())
    errors: dict[str, str] = {}
    if not member:
        errors["ban_member"] = gettext("Choose a member.")
    if len(reason) > 500:
        errors["reason"] = gettext("Use at most 500 characters.")
    if not errors:
        try:
            deleted = await current_runtime().groups.ban(
                viewer.person.username,
                group.username,
                member,
                delete_posts=form.get("delete_posts") == "1",
                reason=reason or None,
            )
        except NotFound:
            errors["ban_member"] = gettext("Choose a member.")
        else:
            return _back_to_moderation(
                group, gettext("The member was banned; %(n)s posts deleted.", n=deleted)
            )
    return await _moderation_page(group, viewer, status=422, errors=errors)


@blueprint.post("/groups/<name>/moderation/unban")
async def unban(name: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    form = await request.form
    await current_runtime().groups.unban(
        viewer.person.username, group.username, form.get("member", "")
    )
    return _back_to_moderation(group, gettext("The ban was lifted."))


@blueprint.post("/groups/<name>/moderation/reports/<int:report_id>/resolve")
async def resolve_report(name: str, report_id: int) -> WerkzeugResponse:
    viewer = await require_viewer()
    group = await _group(name)
    await current_runtime().groups.resolve_report(viewer.person.username, group.username, report_id)
    return _back_to_moderation(group, gettext("The report was marked as dealt with."))
