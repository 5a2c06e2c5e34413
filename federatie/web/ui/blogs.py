"""Blog pages: a person's and a group's blog, writing with a preview, drafts, and a post's page
with its threaded comments and likes.

The lists (`/users/<name>/blog`, `/groups/<name>/blog`) and a post's page (`/blog/<key>`)
answer at the URLs where web/blogs.py serves JSON; their HTML branches call `blog_list_page`,
`post_page` and `gone_page` here. Every form posts to a route of this blueprint and calls what
the JSON API calls: BlogService for writing (drafts stay here until published), the publisher
(client-to-server) for comments and likes. The preview renders the Markdown exactly as the
published Article will have it (`render_content`), so what the author sees is what others get.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from quart import Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.activitypub.articles import page_url, plain_text, render_content, shorten
from federatie.activitypub.collections import MAX_PAGE_SIZE
from federatie.activitypub.html import sanitize_html
from federatie.activitypub.iris import AS_PUBLIC
from federatie.domain.actors import ActorType, LocalActor
from federatie.domain.blogs import (
    MARKDOWN,
    MAX_SUMMARY,
    MAX_THEMES,
    MAX_TITLE,
    PostFields,
    apply_changes,
)
from federatie.errors import Conflict, Forbidden, Gone, NotFound, PayloadTooLarge, Unprocessable
from federatie.federation.delivery import addressees
from federatie.runtime import current_runtime
from federatie.services.blogs import BlogService
from federatie.storage.blogs import BlogPost, Comment, JoinedGroup
from federatie.web.ui.i18n import gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.session import current_viewer, require_viewer, ui_blueprint

blueprint = ui_blueprint("blog_pages", __name__)

MAX_COMMENT = 20_000
_FIELDS = ("title", "summary", "content", "themes", "format")
_BLANK = PostFields(title="-", content="")
_THEME_SEPARATORS = re.compile(r"[\s,]+")
_WEB = ("https://", "http://")


def _service() -> BlogService:
    return BlogService(current_runtime())


def _html(response: Response) -> Response:
    response.headers["Vary"] = "Accept"  # the same URLs serve JSON
    return response


# --------------------------------------------------------------------------- lists


async def blog_list_page(
    owner: LocalActor, posts: list[BlogPost], next_url: str | None
) -> Response:
    """A person's or a group's blog, newest first, with "Write a post" for who may."""
    viewer = await current_viewer()
    person = viewer.person if viewer else None
    is_group = owner.type is ActorType.GROUP
    if person is None:
        may_write = False
    elif is_group:
        joined = await _service().joined_groups(person)
        may_write = any(group.uri == owner.uri for group in joined)
    else:
        may_write = person.id == owner.id
    base = current_runtime().config.base_url
    items = [
        {
            "title": post.fields.title,
            "url": page_url(base, post.key),
            "published": when(post.published_at),
            "datetime": post.published_at.isoformat() if post.published_at else None,
            "summary": post.fields.summary
            or shorten(plain_text(render_content(post.fields.content, post.fields.source_type))),
            "author": post.author_name or post.author_username,
            "author_uri": post.author_uri,
        }
        for post in posts
    ]
    write_url = "/blog/new?" + urlencode({"in": owner.uri}) if is_group else "/blog/new"
    return _html(
        await render_page(
            "blogs/list.html",
            owner=owner,
            group=owner if is_group else None,
            is_group=is_group,
            posts=items,
            next_url=next_url,
            may_write=may_write,
            write_url=write_url,
            own_blog=not is_group and may_write,
        )
    )


@blueprint.get("/users/<name>/blog/drafts")
async def drafts(name: str) -> Response:
    viewer = await require_viewer()
    if viewer.person.username != name.lower():
        raise Forbidden("only its author sees a draft")
    posts = await _service().list_drafts(viewer.person, limit=MAX_PAGE_SIZE)
    return await render_page("blogs/drafts.html", posts=posts)


# --------------------------------------------------------------------------- a post


async def post_page(
    key: str,
    fallback: LocalActor | None = None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    comment: str = "",
) -> Response:
    """The post's page: the article, its likes and threaded comments, and a comment form.

    `fallback` is a person the API's bearer token names when no one is signed in."""
    viewer = await current_viewer()
    person = viewer.person if viewer else fallback
    service = _service()
    try:
        page = await service.page(key, person)
    except Gone:
        return await gone_page()
    post, article = page.post, page.article
    likes, own_like = (0, None) if post.draft else await service.likes(post, person)
    comments = _thread(post.uri, page.comments)
    reply_to = request.args.get("reply_to")
    replying = next((c for c in page.comments if c.uri == reply_to and not c.deleted), None)
    return _html(
        await render_page(
            "blogs/post.html",
            status=status,
            post=post,
            draft=post.draft,
            title=article.get("name") or post.fields.title,
            content=sanitize_html(str(article.get("content") or "")),
            published=when(article.get("published")),
            updated=when(article.get("updated")),
            tags=[t for t in article.get("tag") or [] if isinstance(t, dict)],
            attachments=[a for a in article.get("attachment") or [] if isinstance(a, dict)],
            comments=comments,
            comment_count=sum(1 for c in page.comments if not c.deleted),
            url=page_url(current_runtime().config.base_url, key),
            is_author=person is not None and person.id == post.author_id,
            signed_in=viewer is not None,
            likes=likes,
            liked=own_like is not None,
            replying=replying,
            errors=errors or {},
            comment=comment,
        )
    )


async def gone_page() -> Response:
    return _html(
        await render_page(
            "error.html", status=410, status_code=410, message=gettext("This post was deleted.")
        )
    )


@blueprint.post("/blog/<key>/comments")
async def comment_on(key: str) -> Response | WerkzeugResponse:
    """A comment: a Note in reply to the post or to a comment, published by the viewer."""
    viewer = await require_viewer()
    runtime = current_runtime()
    page = await _service().page(key, viewer.person)
    if page.post.draft:
        raise Conflict("a draft has no comments; publish it first")
    form = await request.form
    text = form.get("comment", "")
    parent = form.get("in_reply_to") or page.post.uri
    errors: dict[str, str] = {}
    if not text.strip():
        errors["comment"] = gettext("Write your comment.")
    elif len(text) > MAX_COMMENT:
        errors["comment"] = gettext("Use at most %(n)s characters.", n=MAX_COMMENT)
    if errors:
        return await post_page(key, status=422, errors=errors, comment=text)
    parent_author = page.post.author_uri
    if parent != page.post.uri:
        found = next((c for c in page.comments if c.uri == parent and not c.deleted), None)
        if found is None:
            raise NotFound("no such comment on this post")
        parent_author = found.author_uri
    recipients = [page.post.author_uri, parent_author]
    if AS_PUBLIC in addressees(page.article):
        addressing: dict[str, Any] = {"to": [AS_PUBLIC], "cc": recipients}
    else:  # a members-only group's post: its comments stay with the group
        addressing = {"to": [page.post.group_uri or page.post.author_uri], "cc": recipients}
    if page.post.group_uri:
        addressing["cc"].append(page.post.group_uri)  # so that the group relays it
        addressing["audience"] = page.post.group_uri
    addressing["cc"] = list(dict.fromkeys(addressing["cc"]))
    note = {
        "type": "Note",
        "content": render_content(text, MARKDOWN),
        "inReplyTo": parent,
        **addressing,
    }
    await runtime.publisher.publish(viewer.person, note)
    return redirect_with_notice(f"/blog/{key}#comments", gettext("Your comment was posted."))


@blueprint.post("/blog/<key>/like")
async def like(key: str) -> WerkzeugResponse:
    """Like the post, or undo one's Like of it."""
    viewer = await require_viewer()
    service = _service()
    page = await service.page(key, viewer.person)
    if page.post.draft:
        raise Conflict("a draft cannot be liked; publish it first")
    _, own = await service.likes(page.post, viewer.person)
    publisher = current_runtime().publisher
    if own is not None:
        await publisher.publish(viewer.person, {"type": "Undo", "object": own})
        notice = gettext("You no longer like this post.")
    else:
        activity: dict[str, Any] = {
            "type": "Like",
            "object": page.post.uri,
            "to": [page.post.author_uri],
        }
        if page.post.group_uri:
            activity["cc"] = [page.post.group_uri]
        await publisher.publish(viewer.person, activity)
        notice = gettext("You like this post.")
    return redirect_with_notice(f"/blog/{key}#likes", notice)


# --------------------------------------------------------------------------- writing


@blueprint.get("/blog/new")
async def new_post_form() -> Response:
    viewer = await require_viewer()
    groups = await _service().joined_groups(viewer.person)
    chosen = request.args.get("in", "")
    values = {"group": chosen if any(g.uri == chosen for g in groups) else "", "format": "markdown"}
    return await _form(values=values, groups=groups)


@blueprint.post("/blog/new")
async def new_post() -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    service = _service()
    form = await request.form
    values, body = _submitted(form)
    values["group"] = form.get("group", "")
    groups = await service.joined_groups(viewer.person)
    errors = _field_errors(body)
    group = None
    if values["group"]:
        try:
            group = await service.group(values["group"])
        except NotFound:
            errors["group"] = gettext("Choose your own blog or one of your groups.")
    action = form.get("action", "preview")
    if errors or action == "preview":
        return await _form_again(values, body, errors, groups=groups)
    try:
        post = await service.create(
            viewer.person, {**body, "publish": action == "publish"}, group=group
        )
    except (Unprocessable, PayloadTooLarge) as exc:
        errors = _error_for("content", exc)
        return await _form(values=values, groups=groups, errors=errors, status=422)
    if post.draft:
        return redirect_with_notice(f"/blog/{post.key}", gettext("Your draft was saved."))
    return redirect_with_notice(f"/blog/{post.key}", gettext("Your post was published."))


@blueprint.get("/blog/<key>/edit")
async def edit_form(key: str) -> Response:
    viewer = await require_viewer()
    post = await _service().get(viewer.person, key)
    return await _form(values=_values_of(post), post=post)


@blueprint.post("/blog/<key>/edit")
async def edit(key: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    service = _service()
    post = await service.get(viewer.person, key)
    form = await request.form
    values, body = _submitted(form)
    errors = _field_errors(body)
    action = form.get("action", "preview")
    if errors or action == "preview":
        return await _form_again(values, body, errors, post=post)
    try:
        await service.edit(viewer.person, key, body, replace_all=False)
        if action == "publish" and post.draft:
            await service.publish(viewer.person, key)
            return redirect_with_notice(f"/blog/{key}", gettext("Your post was published."))
    except (Unprocessable, PayloadTooLarge) as exc:
        post = await service.get(viewer.person, key)
        errors = _error_for("content", exc)
        return await _form(values=values, post=post, errors=errors, status=422)
    return redirect_with_notice(f"/blog/{key}", gettext("Your changes were saved."))


@blueprint.post("/blog/<key>/publish-draft")
async def publish_draft(key: str) -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    service = _service()
    try:
        await service.publish(viewer.person, key)
    except Unprocessable as exc:
        post = await service.get(viewer.person, key)
        return await _form(
            values=_values_of(post), post=post, errors=_error_for("content", exc), status=422
        )
    return redirect_with_notice(f"/blog/{key}", gettext("Your post was published."))


@blueprint.post("/blog/preview")
async def live_preview() -> Response:
    """The rendered HTML of a text being written, for the script's live preview."""
    await require_viewer()
    form = await request.form
    _, body = _submitted(form)
    errors = _field_errors({"content": body["content"], "format": body["format"]})
    if errors:
        raise Unprocessable(next(iter(errors.values())))
    return Response(_preview(body), content_type="text/html; charset=utf-8")


@blueprint.get("/blog/<key>/delete")
async def delete_form(key: str) -> Response:
    viewer = await require_viewer()
    post = await _service().get(viewer.person, key)
    return await render_page("blogs/delete.html", post=post)


@blueprint.post("/blog/<key>/delete")
async def delete(key: str) -> WerkzeugResponse:
    viewer = await require_viewer()
    service = _service()
    post = await service.get(viewer.person, key)
    await service.delete(viewer.person, key)
    return redirect_with_notice(_blog_path(post), gettext("The post was deleted."))


# --------------------------------------------------------------------------- helpers


def _values_of(post: BlogPost) -> dict[str, str]:
    """A post's fields as its edit form shows them."""
    fields = post.fields
    return {
        "title": fields.title,
        "summary": fields.summary or "",
        "content": fields.content,
        "themes": ", ".join(fields.themes),
        "format": "markdown" if fields.source_type == MARKDOWN else "html",
    }


def _blog_path(post: BlogPost) -> str:
    """The blog a post belongs to here: its group's, when the group is ours, else its author's."""
    iris = current_runtime().iris
    if post.group_username and post.group_uri == iris.actor_uri_of_group(post.group_username):
        return f"/groups/{post.group_username}/blog"
    return f"/users/{post.author_username}/blog"


def _submitted(form: MultiDict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The form as typed (to show it again) and as the blog API's body."""
    values = {name: form.get(name, "") for name in _FIELDS}
    values["format"] = values["format"] or "markdown"
    body: dict[str, Any] = {
        "title": values["title"],
        "summary": values["summary"],
        "content": values["content"],
        "themes": [theme for theme in _THEME_SEPARATORS.split(values["themes"]) if theme],
        "format": values["format"],
    }
    return values, body


def _field_errors(body: dict[str, Any]) -> dict[str, str]:
    """Every field's complaint at once, by the same rules the service applies."""
    errors: dict[str, str] = {}
    for name, value in body.items():
        try:
            apply_changes(_BLANK, {name: value}, replace_all=False)
        except (Unprocessable, PayloadTooLarge) as exc:
            errors.update(_error_for(name, exc))
    return errors


def _error_for(field: str, exc: Unprocessable | PayloadTooLarge) -> dict[str, str]:
    """The domain's English complaint about a field, as the form's translated message."""
    message = exc.message
    if isinstance(exc, PayloadTooLarge):
        return {"content": gettext("The text is larger than 100 KB. Make it shorter.")}
    if field == "title":
        if "longer" in message:
            return {"title": gettext("Use at most %(n)s characters for the title.", n=MAX_TITLE)}
        if "empty" in message:
            return {"title": gettext("Enter a title.")}
        return {"title": gettext("The title contains characters that are not allowed.")}
    if field == "summary":
        if "longer" in message:
            return {
                "summary": gettext("Use at most %(n)s characters for the summary.", n=MAX_SUMMARY)
            }
        return {"summary": gettext("The summary contains characters that are not allowed.")}
    if field == "themes":
        if message.startswith("at most"):
            return {"themes": gettext("Give at most %(n)s themes.", n=MAX_THEMES)}
        return {"themes": gettext("Themes contain only letters, digits, - and _.")}
    if field == "format":
        return {"content": gettext("Write the text in Markdown.")}
    if "needs content" in message:
        return {"content": gettext("Write the text of the post before you publish it.")}
    return {"content": gettext("The text contains characters that are not allowed.")}


def _preview(body: dict[str, Any]) -> str:
    """The sanitised HTML the post will have: the service's own Markdown-to-HTML path."""
    fields = apply_changes(
        _BLANK, {"content": body["content"], "format": body["format"]}, replace_all=False
    )
    return render_content(fields.content, fields.source_type)


async def _form_again(
    values: dict[str, str],
    body: dict[str, Any],
    errors: dict[str, str],
    *,
    post: BlogPost | None = None,
    groups: list[JoinedGroup] | None = None,
) -> Response:
    """The form once more: with its errors (422), or else with the preview asked for."""
    return await _form(
        values=values,
        post=post,
        groups=groups,
        errors=errors,
        preview=None if errors else _preview(body),
        status=422 if errors else 200,
    )


async def _form(
    *,
    values: dict[str, str],
    post: BlogPost | None = None,
    groups: list[JoinedGroup] | None = None,
    errors: dict[str, str] | None = None,
    preview: str | None = None,
    status: int = 200,
) -> Response:
    return await render_page(
        "blogs/form.html",
        status=status,
        values=values,
        post=post,
        group_options=[
            (group.uri, group.name or group.username)
            if group.local
            else (group.uri, f"{group.name or group.username} (@{group.username}@{group.host})")
            for group in groups or []
        ],
        errors=errors or {},
        preview=preview,
        action=f"/blog/{post.key}/edit" if post else "/blog/new",
    )


@blueprint.app_template_filter("when")
def when(value: Any) -> str | None:
    """A date for people: `2025-03-12 14:03 UTC`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _thread(root: str, comments: list[Comment]) -> list[dict[str, Any]]:
    """The comments as a tree under `root`, each level oldest first."""
    nodes: dict[str, dict[str, Any]] = {}
    for comment in comments:
        document = comment.document
        url = document.get("url")
        nodes[comment.uri] = {
            "uri": comment.uri,
            # Another server says where its comment's page is: only a web address, no script.
            "url": url if isinstance(url, str) and url.startswith(_WEB) else comment.uri,
            "deleted": comment.deleted,
            "author": comment.author_name or comment.author_handle,
            "author_uri": comment.author_uri,
            "handle": comment.author_handle,
            "published": when(comment.published),
            "datetime": comment.published.isoformat(),
            "content": "" if comment.deleted else sanitize_html(str(document.get("content") or "")),
            "children": [],
        }
    top: list[dict[str, Any]] = []
    for comment in comments:
        node = nodes[comment.uri]
        if comment.in_reply_to == root:
            top.append(node)
        elif comment.in_reply_to in nodes:
            nodes[comment.in_reply_to]["children"].append(node)
    return top
