"""Blogs across real instances: group and personal blog posts as Articles, drafts, comments.

The group lives on B and its blog post is written on B by a member; members on A and C
comment. Scripted Mastodon servers watch what goes over the wire. Jobs are drained with
`settle`, never slept on. The API is documented in `federatie/web/blogs.py`.
"""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from typing import Any

import aiohttp
from harness import Instance, people, rows, settle, value

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP = "application/activity+json"
JSON = "application/json"


# ----------------------------------------------------------------------------- helpers


async def stored(instance: Instance, uri: str) -> Any:
    found = await rows(
        instance,
        """SELECT o.in_reply_to, o.deleted_at, o.document, g.uri AS group_uri
           FROM objects o LEFT JOIN actors g ON g.id = o.group_id WHERE o.uri = $1""",
        uri,
    )
    return found[0] if found else None


async def token(instance: Instance, name: str) -> str:
    return await instance.runtime.actors.issue_token(name)


async def api(
    instance: Instance,
    method: str,
    path: str,
    bearer: str | None = None,
    body: Any = None,
    *,
    data: bytes | None = None,
    content_type: str = JSON,
    accept: str = JSON,
) -> tuple[int, Any]:
    """A call of the blog API; the status and the JSON answer (text when not JSON)."""
    headers = {"Accept": accept}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if body is not None or data is not None:
        headers["Content-Type"] = content_type
    raw = data if data is not None else (None if body is None else _dumps(body))
    payload = io.BytesIO(raw) if raw is not None else None
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, instance.url(path), data=payload, headers=headers) as response,
    ):
        text = await response.text()
        if response.content_type.endswith("json") and text:
            return response.status, await response.json(content_type=None)
        return response.status, text


def _dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


async def page(instance: Instance, path: str, bearer: str | None = None) -> tuple[int, str]:
    status, text = await api(instance, "GET", path, bearer, accept="text/html")
    return status, str(text)


def group_post(group: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Note",
        "content": content,
        "audience": group,
        "to": [PUBLIC],
        "cc": [group],
        **extra,
    }


async def join(instance: Instance, name: str, group: str) -> None:
    await instance.publish(name, {"type": "Follow", "object": group})


class _Threads(HTMLParser):
    """Which comment (`article` with `data-id`) each comment sits in on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.parent: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "article":
            return
        ident = dict(attrs).get("data-id")
        if ident is not None:
            self.parent[ident] = next((s for s in reversed(self.stack) if s), None)
        self.stack.append(ident)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.stack.pop()


def threads_on_page(html: str) -> dict[str, str | None]:
    parser = _Threads()
    parser.feed(html)
    return parser.parent


async def collection_items(fetcher: Instance, uri: str) -> list[str]:
    """All items of a collection, fetched with signed GETs by `fetcher`'s instance actor."""
    collection = await fetcher.runtime.fetch_object(uri)
    items: list[str] = []
    url: str | None = collection["first"]
    while url:
        current = await fetcher.runtime.fetch_object(url)
        items.extend(current["orderedItems"])
        url = current.get("next")
    assert len(items) == collection["totalItems"]
    return items


async def water_group(a: Instance, b: Instance, c: Instance | None = None) -> str:
    """Group `water` on B, with bob (B), alice (A) and carol (C) as members."""
    await people(a, "alice")
    await people(b, "owner", "bob")
    if c is not None:
        await people(c, "carol")
    await b.runtime.actors.create_group(
        "water", owner="owner", title="Waterbeheer", themes=["water"]
    )
    group = b.url("/groups/water")
    await join(b, "bob", group)
    await join(a, "alice", group)
    if c is not None:
        await join(c, "carol", group)
    await settle(*(i for i in (a, b, c) if i is not None))
    return group


# ----------------------------------------------------------------------------- group blog


async def test_group_blog_post_comments_thread_alike_and_edits_deletes_propagate(
    start_instance: Any,
) -> None:
    a, b, c = [await start_instance(n) for n in "abc"]
    group = await water_group(a, b, c)
    bob = await token(b, "bob")

    status, post = await api(
        b,
        "POST",
        "/groups/water/blog",
        bob,
        {
            "title": "Dijkversterking 2025",
            "content": "# Plan\n\nWe versterken **de dijk** bij Tiel.",
            "themes": ["water", "#Klimaat"],
            "publish": True,
        },
    )
    assert status == 201, post
    assert post["state"] == "published" and post["group"] == group
    article_id, key = post["id"], post["key"]
    await settle(a, b, c)
    for instance in (a, b, c):
        row = await stored(instance, article_id)
        assert row is not None and row["group_uri"] == group, instance.name
        assert row["document"]["type"] == "Article"
        assert row["document"]["name"] == "Dijkversterking 2025"
    # The group announced it once (the activity, and the bare Article for Mastodon), though
    # its member bob, on B too, receives that Announce: a local group's relay does not loop.
    relayed = await rows(
        b, "SELECT document->'object' AS object FROM activities WHERE type = 'Announce'"
    )
    assert len(relayed) == 2 and article_id in {str(r["object"]) for r in relayed}

    # Alice (A) comments on the article, carol (C) answers alice: both through the group.
    comment_a = (
        await a.publish("alice", group_post(group, "<p>Goed plan</p>", inReplyTo=article_id))
    )["object"]["id"]
    await settle(a, b, c)
    comment_c = (
        await c.publish("carol", group_post(group, "<p>Eens met Alice</p>", inReplyTo=comment_a))
    )["object"]["id"]
    await settle(a, b, c)
    thread = {article_id: None, comment_a: article_id, comment_c: comment_a}
    for instance in (a, b, c):
        for uri, parent in thread.items():
            row = await stored(instance, uri)
            assert row is not None, (instance.name, uri)
            assert row["in_reply_to"] == parent, (instance.name, uri)

    # The replies collections, fetched signed by the two other instances, agree.
    article_replies = (await stored(a, article_id))["document"]["replies"]
    assert article_replies == f"{article_id}/replies"
    assert await collection_items(a, article_replies) == [comment_a]
    assert await collection_items(c, article_replies) == [comment_a]
    assert await collection_items(b, f"{comment_a}/replies") == [comment_c]
    assert await collection_items(c, f"{comment_a}/replies") == [comment_c]
    assert await collection_items(a, f"{comment_c}/replies") == []

    # The page shows the post and the comments, threaded.
    status, html = await page(b, f"/blog/{key}")
    assert status == 200
    assert '<h1 id="titel">Dijkversterking 2025</h1>' in html
    assert "<h2>Plan</h2>" in html and "<strong>de dijk</strong>" in html
    assert "Goed plan" in html and "Eens met Alice" in html
    assert threads_on_page(html) == {comment_a: None, comment_c: comment_a}
    assert 'href="' + b.url("/groups?theme=klimaat") + '"' in html
    # The group's blog lists it, as HTML and as JSON.
    status, listing = await api(b, "GET", "/groups/water/blog")
    assert status == 200 and [item["id"] for item in listing["items"]] == [article_id]
    status, html = await page(b, "/groups/water/blog")
    assert status == 200 and "Dijkversterking 2025" in html

    # An edit reaches A and C, announced by the group.
    status, edited = await api(
        b,
        "PATCH",
        f"/blog/{key}",
        bob,
        {"title": "Dijkversterking 2026", "content": "Nieuwe *planning*."},
    )
    assert status == 200, edited
    await settle(a, b, c)
    for instance in (a, b, c):
        document = (await stored(instance, article_id))["document"]
        assert document["name"] == "Dijkversterking 2026", instance.name
        assert document["content"] == "<p>Nieuwe <em>planning</em>.</p>", instance.name
        assert document["updated"] and document["published"], instance.name
    # B's own copy keeps its shape: the Update coming back through the group did not
    # overwrite it with a normalised one.
    on_b = (await stored(b, article_id))["document"]
    assert on_b["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert on_b["source"] == {"content": "Nieuwe *planning*.", "mediaType": "text/markdown"}
    announced = await value(
        b,
        """SELECT count(*) FROM activities WHERE type = 'Announce' AND local
           AND document->'object'->>'type' = 'Update'""",
    )
    assert announced == 1

    # Only the author edits.
    await people(b, "eve")
    status, _ = await api(b, "PATCH", f"/blog/{key}", await token(b, "eve"), {"title": "Gekaapt"})
    assert status == 403

    # Deleting it: a Tombstone everywhere; the page answers 410.
    status, _ = await api(b, "DELETE", f"/blog/{key}", bob)
    assert status == 204
    await settle(a, b, c)
    for instance in (a, b, c):
        row = await stored(instance, article_id)
        assert row["deleted_at"] is not None, instance.name
        assert row["document"]["type"] == "Tombstone", instance.name
    assert (await page(b, f"/blog/{key}"))[0] == 410
    status, listing = await api(b, "GET", "/groups/water/blog")
    assert listing["items"] == []


# ----------------------------------------------------------------------------- drafts


async def test_a_draft_never_leaves_its_instance_and_only_its_author_reads_it(
    start_instance: Any, foreign: Any
) -> None:
    a, b = [await start_instance(n) for n in "ab"]
    group = await water_group(a, b)
    await people(b, "eve")
    await a.publish("alice", {"type": "Follow", "object": b.url("/users/bob")})
    mastodon = await foreign("mastodon")
    fan = mastodon.add_actor("fan")
    for target in (group, b.url("/users/bob")):
        await mastodon.deliver(fan, b.url("/inbox"), mastodon.follow(fan, target))
    await settle(a, b)
    assert await value(b, "SELECT count(*) FROM jobs") == 0
    activities_before = await value(b, "SELECT count(*) FROM activities")
    bob, eve = await token(b, "bob"), await token(b, "eve")

    secret = "zeekraal-vertrouwelijk"
    status, group_draft = await api(
        b, "POST", "/groups/water/blog", bob, {"title": "Concept", "content": secret}
    )
    assert status == 201 and group_draft["state"] == "draft"
    status, own_draft = await api(
        b, "POST", "/users/bob/blog", bob, {"title": "Eigen concept", "content": secret}
    )
    assert status == 201 and own_draft["state"] == "draft"
    status, _ = await api(b, "PATCH", f"/blog/{own_draft['key']}", bob, {"summary": secret})
    assert status == 200
    drafts = [group_draft, own_draft]

    # Nothing was queued, stored as an object or activity, or delivered.
    assert await value(b, "SELECT count(*) FROM jobs") == 0
    assert await value(b, "SELECT count(*) FROM deliveries") == 0
    assert await value(b, "SELECT count(*) FROM activities") == activities_before
    for draft in drafts:
        assert await stored(b, draft["id"]) is None
    await settle(a, b)
    assert (
        await value(
            a, "SELECT count(*) FROM inbox_activities WHERE body::text LIKE $1", "%zeekraal%"
        )
        == 0
    )
    assert (
        await value(a, "SELECT count(*) FROM objects WHERE document::text LIKE '%zeekraal%'") == 0
    )
    assert not any(secret in str(r.json) for r in mastodon.received)

    # Nobody but bob reads them: not as ActivityPub, not as a page, not through the API.
    for draft in drafts:
        key = draft["key"]
        status, body = await mastodon.signed_get(fan, draft["id"])
        assert status == 404 and secret not in str(body)
        status, body = await mastodon.signed_get(fan, f"{draft['id']}/replies")
        assert status == 404
        for bearer in (None, eve):
            status, html = await page(b, f"/blog/{key}", bearer)
            assert status == 404 and secret not in html
        status, body = await api(b, "GET", f"/blog/{key}")
        assert status == 401
        status, body = await api(b, "GET", f"/blog/{key}", eve)
        assert status == 404 and secret not in str(body)
        for method, path in (("PATCH", f"/blog/{key}"), ("POST", f"/blog/{key}/publish")):
            status, _ = await api(b, method, path, eve, {"title": "x"})
            assert status == 404, (method, path)
        assert (await api(b, "DELETE", f"/blog/{key}", eve))[0] == 404
        # Bob does.
        status, mine = await api(b, "GET", f"/blog/{key}", bob)
        assert status == 200 and mine["state"] == "draft" and mine["source"] == secret
        status, html = await page(b, f"/blog/{key}", bob)
        assert status == 200 and secret in html and "Concept" in html
    # Lists and outboxes show no draft, except bob's own list to bob.
    for path in ("/users/bob/blog", "/groups/water/blog"):
        for accept in (JSON, "text/html"):
            status, body = await api(b, "GET", path, accept=accept)
            assert status == 200 and secret not in str(body), (path, accept)
    status, listing = await api(b, "GET", "/users/bob/blog", bob)
    assert {item["key"] for item in listing["items"]} == {d["key"] for d in drafts}
    status, listing = await api(b, "GET", "/users/bob/blog", eve)
    assert listing["items"] == []
    for outbox in ("/users/bob/outbox", "/groups/water/outbox"):
        status, collection = await mastodon.signed_get(fan, b.url(outbox) + "?page=true")
        assert status == 200 and secret not in str(collection)

    # Published, the group draft federates like any post.
    status, published = await api(b, "POST", f"/blog/{group_draft['key']}/publish", bob)
    assert status == 200 and published["state"] == "published"
    status, _ = await api(b, "POST", f"/blog/{group_draft['key']}/publish", bob)
    assert status == 409
    await settle(a, b)
    assert (await stored(a, group_draft["id"]))["group_uri"] == group
    assert await stored(a, own_draft["id"]) is None
    # Deleting a draft leaves nothing behind and sends nothing.
    deliveries = await value(a, "SELECT count(*) FROM inbox_activities")
    assert (await api(b, "DELETE", f"/blog/{own_draft['key']}", bob))[0] == 204
    assert await value(b, "SELECT count(*) FROM jobs") == 0
    await settle(a, b)
    assert await value(a, "SELECT count(*) FROM inbox_activities") == deliveries
    assert await value(b, "SELECT count(*) FROM blog_posts WHERE key = $1", own_draft["key"]) == 0


# ----------------------------------------------------------------------------- content


async def test_markdown_is_rendered_hostile_html_removed_and_the_article_has_its_shape(
    start_instance: Any,
) -> None:
    a, b = [await start_instance(n) for n in "ab"]
    await people(a, "alice")
    await people(b, "bob")
    await a.publish("alice", {"type": "Follow", "object": b.url("/users/bob")})
    await settle(a, b)
    bob = await token(b, "bob")

    markdown = (
        "# Kop\n\nTekst met **nadruk** en [een link](https://example.org/x).\n\n"
        "- een\n- twee\n\n<script>alert('x')</script>\n\n"
        '<a href="javascript:alert(1)" onclick="steal()">klik</a> '
        "[slecht](javascript:alert(2))\n\n"
        '<img src="x" onerror="alert(3)"> <iframe src="https://evil.example"></iframe>\n\n'
        + "Nog meer woorden over het water. "
        * 40
    )
    status, post = await api(
        b,
        "POST",
        "/users/bob/blog",
        bob,
        {
            "title": "Het waterplan",
            "content": markdown,
            "themes": ["Water"],
            "attachment": [
                {
                    "url": "https://example.org/plan.pdf",
                    "mediaType": "application/pdf",
                    "name": "Plan",
                }
            ],
            "publish": True,
        },
    )
    assert status == 201, post
    await settle(a, b)
    article = await a.runtime.fetch_object(post["id"])  # signed, as A's instance actor
    content = article["content"]
    assert content.startswith("<h2>Kop</h2>\n<p>Tekst met <strong>nadruk</strong>")
    assert (
        '<a href="https://example.org/x" rel="nofollow noopener noreferrer">een link</a>' in content
    )
    assert "<ul>\n<li>een</li>" in content
    for hostile in (
        "<script",
        "alert('x')",
        "onclick",
        'href="javascript',
        "<img",
        "onerror",
        "<iframe",
    ):
        assert hostile not in content, hostile
    assert "klik" in content
    # The shape Mastodon and others read.
    assert article["type"] == "Article"
    assert article["id"] == post["id"] and article["attributedTo"] == b.url("/users/bob")
    assert article["name"] == "Het waterplan"
    assert article["mediaType"] == "text/html"
    assert article["source"] == {"content": markdown, "mediaType": "text/markdown"}
    summary = article["summary"]
    assert summary.startswith("Kop Tekst met nadruk en een link. een twee klik")
    assert len(summary) <= 300 and summary.endswith("…") and "<" not in summary
    assert article["url"] == b.url(f"/blog/{post['key']}") == post["url"]
    assert article["replies"] == f"{post['id']}/replies"
    assert article["tag"] == [
        {"type": "Hashtag", "name": "#water", "href": b.url("/groups?theme=water")}
    ]
    assert article["attachment"] == [
        {
            "type": "Document",
            "url": "https://example.org/plan.pdf",
            "mediaType": "application/pdf",
            "name": "Plan",
        }
    ]
    assert article["published"] and "updated" not in article
    assert article["to"] == [PUBLIC] and article["cc"] == [b.url("/users/bob/followers")]
    assert {"Hashtag": "as:Hashtag"} in article["@context"]
    on_a = (await stored(a, post["id"]))["document"]
    assert on_a["content"] == content and on_a["name"] == "Het waterplan"
    # The page: the sanitised content, nothing hostile.
    status, html = await page(b, f"/blog/{post['key']}")
    assert status == 200 and '<h1 id="titel">Het waterplan</h1>' in html
    assert "<strong>nadruk</strong>" in html and "Door <a href=" in html
    for hostile in ("<script", "onclick", 'href="javascript', "onerror", "<iframe"):
        assert hostile not in html, hostile
    # ActivityPub clients asking for the page are sent to the Article.
    async with (
        aiohttp.ClientSession() as session,
        session.get(article["url"], headers={"Accept": AP}, allow_redirects=False) as response,
    ):
        assert response.status == 302 and response.headers["Location"] == post["id"]

    # Written as HTML, with the author's own summary (plain text).
    status, html_post = await api(
        b,
        "POST",
        "/users/bob/blog",
        bob,
        {
            "title": "In HTML",
            "format": "html",
            "content": "<p onclick='x()'>Hallo <script>evil()</script>"
            "<a href='javascript:void(0)'>k</a> <a href='https://example.org'>goed</a></p>",
            "summary": "Eigen <b>samenvatting</b>",
            "publish": True,
        },
    )
    assert status == 201, html_post
    await settle(a, b)
    document = (await stored(a, html_post["id"]))["document"]
    assert document["content"] == (
        '<p>Hallo <a rel="nofollow noopener noreferrer">k</a> '
        '<a href="https://example.org" rel="nofollow noopener noreferrer">goed</a></p>'
    )
    assert document["summary"] == "Eigen &lt;b&gt;samenvatting&lt;/b&gt;"
    assert "source" not in (await stored(b, html_post["id"]))["document"]

    # An edit sets `updated` and keeps `published`; A has it.
    status, _ = await api(
        b, "PUT", f"/blog/{html_post['key']}", bob, {"title": "Nieuw", "content": "Kort."}
    )
    assert status == 200
    await settle(a, b)
    edited = (await stored(a, html_post["id"]))["document"]
    assert edited["name"] == "Nieuw" and edited["content"] == "<p>Kort.</p>"
    assert edited["published"] == document["published"] and edited["updated"]
    assert edited["summary"] == "Kort."  # PUT replaced the summary: derived again


# ----------------------------------------------------------------------------- Mastodon


async def test_a_mastodon_follower_of_the_group_gets_the_bare_article_and_can_read_it(
    start_instance: Any, foreign: Any
) -> None:
    a, b = [await start_instance(n) for n in "ab"]
    group = await water_group(a, b)
    mastodon = await foreign("mastodon")
    fan = mastodon.add_actor("fan")
    status, _ = await mastodon.deliver(
        fan, b.url("/groups/water/inbox"), mastodon.follow(fan, group)
    )
    assert status == 202
    await settle(a, b)
    status, post = await api(
        b,
        "POST",
        "/groups/water/blog",
        await token(b, "bob"),
        {"title": "Hoogwater", "content": "De rivier *stijgt*.", "publish": True},
    )
    assert status == 201, post
    await settle(a, b)
    bare = await mastodon.wait_for(
        lambda r: r.activity_type == "Announce" and r.json["object"] == post["id"]
    )
    assert bare.signature_ok is True, bare.signature_error
    assert bare.json["actor"] == group and PUBLIC in bare.json["to"]
    status, article = await mastodon.signed_get(fan, post["id"])
    assert status == 200 and isinstance(article, dict)
    assert article["type"] == "Article" and article["name"] == "Hoogwater"
    assert article["summary"] == "De rivier stijgt."
    assert article["url"] == b.url(f"/blog/{post['key']}")
    assert article["audience"] == group
    status, html = await page(b, f"/blog/{post['key']}")
    assert status == 200 and "Hoogwater" in html and "<em>stijgt</em>" in html


# ----------------------------------------------------------------------------- bad input


async def test_bad_input_is_refused_clearly_and_stores_nothing(start_instance: Any) -> None:
    b = await start_instance("b")
    await people(b, "owner", "bob", "eve")
    await b.runtime.actors.create_group("water", owner="owner")
    bob, eve = await token(b, "bob"), await token(b, "eve")
    good = {"title": "Titel", "content": "Tekst"}
    cases: list[tuple[str, str, str | None, dict[str, Any]]] = [
        ("no token", "/users/bob/blog", None, {"body": good}),
        ("bad token", "/users/bob/blog", "nonsense", {"body": good}),
        ("someone else's blog", "/users/bob/blog", eve, {"body": good}),
        ("not a member", "/groups/water/blog", bob, {"body": good}),
        ("missing title", "/users/bob/blog", bob, {"body": {"content": "Tekst"}}),
        ("empty title", "/users/bob/blog", bob, {"body": {"title": "  ", "content": "x"}}),
        ("missing content", "/users/bob/blog", bob, {"body": {"title": "Titel"}}),
        ("title too long", "/users/bob/blog", bob, {"body": {**good, "title": "x" * 201}}),
        ("content 100 KB+", "/users/bob/blog", bob, {"body": {**good, "content": "x" * 102_401}}),
        ("body over 1 MiB", "/users/bob/blog", bob, {"body": {**good, "content": "x" * 1_100_000}}),
        ("not JSON", "/users/bob/blog", bob, {"data": b"title=Titel&content=Tekst"}),
        ("not JSON typed", "/users/bob/blog", bob, {"data": b"{", "content_type": JSON}),
        (
            "form encoded",
            "/users/bob/blog",
            bob,
            {"data": b"title=x", "content_type": "application/x-www-form-urlencoded"},
        ),
        ("a list", "/users/bob/blog", bob, {"body": [good]}),
        ("unknown field", "/users/bob/blog", bob, {"body": {**good, "tittle": "x"}}),
        ("bad format", "/users/bob/blog", bob, {"body": {**good, "format": "rtf"}}),
        ("bad theme", "/users/bob/blog", bob, {"body": {**good, "themes": ["a b"]}}),
        (
            "bad attachment",
            "/users/bob/blog",
            bob,
            {"body": {**good, "attachment": [{"url": "javascript:x"}]}},
        ),
        ("publish not bool", "/users/bob/blog", bob, {"body": {**good, "publish": "yes"}}),
        ("NUL", "/users/bob/blog", bob, {"body": {**good, "content": "a\x00b"}}),
        (
            "empty publish",
            "/users/bob/blog",
            bob,
            {"body": {"title": "x", "content": " ", "publish": True}},
        ),
    ]
    expected = {
        "no token": 401,
        "bad token": 401,
        "someone else's blog": 403,
        "not a member": 403,
        "content 100 KB+": 413,
        "body over 1 MiB": 413,
        "not JSON": 415,
        "not JSON typed": 400,
        "form encoded": 415,
        "a list": 400,
    }
    for name, path, bearer, given in cases:
        options = {"content_type": "text/plain", **given} if "data" in given else given
        status, answer = await api(b, "POST", path, bearer, **options)
        assert status == expected.get(name, 422), (name, status, answer)
        if status != 413 or name != "body over 1 MiB":
            assert isinstance(answer, dict) and answer.get("error"), (name, answer)
    for table in ("blog_posts", "objects", "activities", "jobs"):
        assert await value(b, f"SELECT count(*) FROM {table}") == 0, table

    # Edits are checked the same way and change nothing when refused.
    status, draft = await api(b, "POST", "/users/bob/blog", bob, good)
    assert status == 201
    path = f"/blog/{draft['key']}"
    for body, code in (
        ({}, 422),
        ({"publish": True}, 422),
        ({"title": ""}, 422),
        ({"content": "x" * 102_401}, 413),
    ):
        status, answer = await api(b, "PATCH", path, bob, body)
        assert status == code, (body, answer)
    assert (await api(b, "PUT", path, bob, {"title": "Alleen titel"}))[0] == 422
    assert (await api(b, "PATCH", "/blog/doesnotexist", bob, {"title": "x"}))[0] == 404
    status, unchanged = await api(b, "GET", path, bob)
    assert unchanged["title"] == "Titel" and unchanged["source"] == "Tekst"
