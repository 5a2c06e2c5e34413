"""Blogs over HTTP: a JSON API for authors (bearer tokens), HTML pages, and replies.

A post is identified by its key: its Article's id is `/objects/<key>`, its page `/blog/<key>`.
Authors authenticate with `Authorization: Bearer <token>` (`federatie admin token NAME`).
Bodies are JSON (`Content-Type: application/json`); answers are JSON, errors
`{"error": ..., "code": ...}`.

Routes (who may call them, in brackets):

- `POST /users/<name>/blog` (that person): a new post in their blog; 201 with the post's
  JSON and `Location` (its page).
- `POST /groups/<name>/blog` (a member of the group): a new post in the group's blog,
  published by its author and addressed to the group, which relays it to its members.
- `GET /users/<name>/blog` (anyone): the published public posts, newest first, as HTML, or
  JSON (`{"items", "next"}`) with `Accept: application/json`; with the person's own token the
  JSON also lists every draft of theirs (their group posts' drafts too). Paged with
  `?max_id=` and `limit`.
- `GET /groups/<name>/blog` (anyone): the group's published public posts, HTML or JSON.
- `GET /blog/<key>` (anyone): the post's page: title, author, group, dates, content,
  attachments, themes and the comments, threaded. A draft or a non-public post only for its
  author (bearer token). `Accept: application/json` gives the author the post's JSON;
  ActivityPub media types are redirected (302) to the Article at `/objects/<key>`.
  A deleted post answers 410.
- `PATCH /blog/<key>` (the author): change the fields given; a published post federates an
  `Update` (announced by the group for group posts).
- `PUT /blog/<key>` (the author): replace the post (`title` and `content` required).
- `POST /blog/<key>/publish` (the author): publish a draft, which federates a `Create`
  (409 when it is published already).
- `DELETE /blog/<key>` (the author): 204. A draft is gone; a published post becomes a
  Tombstone and a `Delete` federates.
- `GET /objects/<key>/replies` (whoever may read the object): the replies to a local object
  (the Article's `replies`), an `OrderedCollection` of reply ids, newest first, paged
  (`?page=true`, then `max_id`/`min_id`); each reply is listed only to those who may read it.

Fields of a post (create, PATCH, PUT):

- `title` (required; plain text, at most 200 characters): the Article's `name`.
- `content` (required; at most 100 KB, else 413): Markdown, or HTML with `format: "html"`.
  Always sanitised; Markdown is rendered and kept as the Article's `source`.
- `format`: `markdown` (default) or `html`.
- `summary`: plain text shown by Mastodon under the title; derived from the content if absent.
- `themes`: list of themes (`water`, `#klimaat`), sent as `Hashtag` tags.
- `attachment`: list of `{"url", "type"?, "mediaType"?, "name"?}`, type `Document` (default),
  `Image`, `Audio` or `Video`.
- `publish` (create only): `true` publishes at once; default `false`, a draft.

The JSON of a post: `key`, `id` (the Article id), `url` (the page), `state` (`draft` or
`published`), `title`, `summary` (as given, or null), `format`, `source`, `content` (the
sanitised HTML), `themes`, `attachment`, `author`, `group` (or null), `created`, `updated`,
`published`, `deleted`. Bad input is a 4xx and stores nothing: 400 (not JSON), 413 (too
large), 415 (not `application/json`), 422 (missing or invalid field), 403 (not a member of the
group, not the author), 404 (no such post, or someone else's draft).
"""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.activitypub.articles import page_url
from federatie.activitypub.collections import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
)
from federatie.domain.actors import ActorType, LocalActor
from federatie.errors import BadRequest, Gone, UnsupportedMediaType
from federatie.runtime import current_runtime
from federatie.services.blogs import BlogService
from federatie.storage import blogs as blogs_sql
from federatie.storage.blogs import BlogPost
from federatie.web.auth import authorized_fetch, bearer_person, require_owner
from federatie.web.collections import paged_collection
from federatie.web.federation import readable_local_object
from federatie.web.responses import json_response, wants_activitypub
from federatie.web.ui import blogs as blog_pages
from federatie.web.ui.pages import alike_for_visitors
from federatie.web.ui.session import current_viewer

blueprint = Blueprint("blogs", __name__)

_AP_TYPES = ("application/activity+json", "application/ld+json")


def _service() -> BlogService:
    return BlogService(current_runtime())


async def _json_body() -> dict[str, Any]:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType("send the post as JSON (Content-Type: application/json)")
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("the body is not a JSON object")
    return document


async def _optional_person() -> LocalActor | None:
    """The person of a bearer token when one is sent (401 when it is bad), else None."""
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    return await bearer_person()


def _created(post: BlogPost) -> Response:
    response = json_response(_service().view(post), 201)
    response.headers["Location"] = page_url(current_runtime().config.base_url, post.key)
    return response


def _wants_json() -> bool:
    """JSON for `application/json` (and ActivityPub types); HTML for browsers."""
    return wants_activitypub()


def _wants_activitypub_document() -> bool:
    accept = request.headers.get("Accept", "").lower()
    return any(media_type in accept for media_type in _AP_TYPES)


# ---------------------------------------------------------------------------- writing


@blueprint.post("/users/<name>/blog")
async def create_in_person_blog(name: str) -> Response:
    runtime = current_runtime()
    person = await require_owner(await runtime.actors.get(name, ActorType.PERSON))
    body = await _json_body()
    return _created(await _service().create(person, body))


@blueprint.post("/groups/<name>/blog")
async def create_in_group_blog(name: str) -> Response:
    runtime = current_runtime()
    group = await runtime.actors.get(name, ActorType.GROUP)
    person = await bearer_person()
    body = await _json_body()
    return _created(await _service().create(person, body, group=group))


@blueprint.route("/blog/<key>", methods=["PATCH", "PUT"])
async def edit_post(key: str) -> Response:
    person = await bearer_person()
    body = await _json_body()
    service = _service()
    post = await service.edit(person, key, body, replace_all=request.method == "PUT")
    return json_response(service.view(post))


@blueprint.post("/blog/<key>/publish")
async def publish_post(key: str) -> Response:
    person = await bearer_person()
    service = _service()
    return json_response(service.view(await service.publish(person, key)))


@blueprint.delete("/blog/<key>")
async def delete_post(key: str) -> Response:
    person = await bearer_person()
    await _service().delete(person, key)
    return Response(status=204)


# ---------------------------------------------------------------------------- reading


@blueprint.get("/blog/<key>")
async def read_post(key: str) -> Response | WerkzeugResponse:
    runtime = current_runtime()
    if _wants_activitypub_document():
        return redirect(runtime.iris.object(key), 302)
    service = _service()
    if _wants_json():
        return json_response(service.view(await service.get(await bearer_person(), key)))
    if request.headers.get("Authorization"):
        return await blog_pages.post_page(key, await _optional_person())
    return await alike_for_visitors(lambda: blog_pages.post_page(key, None))


@blueprint.get("/users/<name>/blog")
async def person_blog(name: str) -> Response:
    runtime = current_runtime()
    person = await runtime.actors.get(name, ActorType.PERSON)
    max_id, limit = _list_args()
    service = _service()
    if _wants_json():
        viewer = await _optional_person()
        posts = await service.list_person(person, viewer, max_id=max_id, limit=limit)
        return _list_json(posts, f"/users/{person.username}/blog", limit)
    return await alike_for_visitors(
        lambda: _person_blog_html(service, person, max_id=max_id, limit=limit)
    )


async def _person_blog_html(
    service: BlogService, person: LocalActor, *, max_id: int | None, limit: int
) -> Response:
    posts = await service.list_person(person, None, max_id=max_id, limit=limit)
    return await _list_html(posts, person, f"/users/{person.username}/blog", limit)


@blueprint.get("/groups/<name>/blog")
async def group_blog(name: str) -> Response:
    runtime = current_runtime()
    group = await runtime.actors.get(name, ActorType.GROUP)
    max_id, limit = _list_args()
    path = f"/groups/{group.username}/blog"
    if _wants_json():
        viewer = await _optional_person()
        posts = await _service().list_group(group, viewer, max_id=max_id, limit=limit)
        return _list_json(posts, path, limit)
    signed_in = await current_viewer()
    person = signed_in.person if signed_in else None

    async def render() -> Response:
        posts = await _service().list_group(group, person, max_id=max_id, limit=limit)
        return await _list_html(posts, group, path, limit)

    return await alike_for_visitors(render)


@blueprint.get("/objects/<key>/replies")
async def replies(key: str) -> Response:
    """The replies to a local object, readable to whoever may read the object itself."""
    runtime = current_runtime()
    signer = await authorized_fetch()
    async with runtime.pool.acquire() as conn:
        parent = await readable_local_object(conn, key, signer)
        if parent.deleted_at is not None:
            raise Gone("this object was deleted")
    who = (signer.actor, signer.host) if signer else (None, None)
    return await paged_collection(
        f"{parent.uri}/replies",
        lambda conn: blogs_sql.count_replies(conn, parent.uri, *who),
        lambda conn, page: blogs_sql.select_replies_page(
            conn, parent.uri, *who, max_id=page.max_id, min_id=page.min_id, limit=page.limit
        ),
    )


# ---------------------------------------------------------------------------- helpers


def _list_args() -> tuple[int | None, int]:
    try:
        max_id = int(request.args["max_id"]) if "max_id" in request.args else None
        limit = int(request.args.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError as exc:
        raise BadRequest("max_id and limit must be whole numbers") from exc
    if limit < 1:
        raise BadRequest("limit must be positive")
    return max_id, min(limit, MAX_PAGE_SIZE)


def _next_url(posts: list[BlogPost], path: str, limit: int) -> str | None:
    if len(posts) < limit:
        return None
    return f"{current_runtime().config.base_url}{path}?max_id={posts[-1].id}&limit={limit}"


def _list_json(posts: list[BlogPost], path: str, limit: int) -> Response:
    service = _service()
    items = [service.view(post) for post in posts]
    return json_response({"items": items, "next": _next_url(posts, path, limit)})


async def _list_html(posts: list[BlogPost], owner: LocalActor, path: str, limit: int) -> Response:
    return await blog_pages.blog_list_page(owner, posts, _next_url(posts, path, limit))
