"""The blog pages over real HTTP (no browser): writing with a preview, drafts, publishing,
editing and deleting, a group's blog, comments and likes; bad input, permissions and CSRF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from harness import Instance, people, rows, settle, value
from web_client import WebClient

from federatie.domain.actors import GroupKind

HOSTILE = (
    "Plan **vet** en *schuin*.\n\n"
    "<script>alert('x')</script>\n\n"
    '<img src="x" onerror="alert(1)">\n\n'
    '[klik](javascript:alert(1)) <a href="#" onclick="steal()">hier</a>'
)


@pytest.fixture
async def web(instance: Instance) -> AsyncIterator[WebClient]:
    await people(instance, "anna", "bob")
    client = WebClient(instance)
    await client.sign_in("anna")
    yield client
    await client.close()


@pytest.fixture
async def bob(instance: Instance) -> AsyncIterator[WebClient]:
    client = WebClient(instance)
    await client.sign_in("bob")
    yield client
    await client.close()


def post_form(**fields: str) -> dict[str, str]:
    return {"title": "", "summary": "", "content": "", "themes": "", "format": "markdown", **fields}


def section(html: str, ident: str) -> str:
    """The element with `id="ident"` up to the end of its section."""
    start = html.index(f'id="{ident}"')
    return html[start : html.index("</section>", start)]


def key_of(url: str) -> str:
    match = re.search(r"/blog/([0-9a-f]{24})", url)
    assert match, url
    return match.group(1)


async def write(web: WebClient, action: str, **fields: str) -> tuple[int, str, str]:
    return await web.post(
        "/blog/new", {**post_form(**fields), "action": action}, form_page="/blog/new"
    )


class _Threads(HTMLParser):
    """Which comment (an `article` with `data-id`) each comment sits in on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.parent: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            ident = dict(attrs).get("data-id")
            if ident is not None:
                self.parent[ident] = next((s for s in reversed(self.stack) if s), None)
            self.stack.append(ident)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.stack.pop()


# ----------------------------------------------------------------------------- writing


async def test_preview_draft_publish_edit_and_delete(
    instance: Instance, web: WebClient, bob: WebClient
) -> None:
    status, html = await web.get("/users/anna/blog")
    assert status == 200 and 'href="/blog/new"' in html and "Write a post" in html
    status, html = await web.get("/blog/new")
    assert status == 200 and "<h1>Write a post</h1>" in html

    # The preview is the sanitised HTML the Article will carry; nothing is stored yet.
    status, html, _ = await write(
        web, "preview", title="Waterplan", content=HOSTILE, themes="water, #Klimaat"
    )
    assert status == 200
    preview = section(html, "preview")
    assert "<strong>vet</strong>" in preview and "<em>schuin</em>" in preview
    for hostile in ("<script", "onerror", 'href="javascript:', "onclick"):
        assert hostile not in preview, hostile
    assert "&lt;script&gt;" in html  # the source stays in the textarea, escaped
    assert await value(instance, "SELECT count(*) FROM blog_posts") == 0

    status, html, url = await write(
        web, "draft", title="Waterplan", content=HOSTILE, themes="water, #Klimaat"
    )
    assert status == 200 and "Your draft was saved." in html and "Draft" in html
    key = key_of(url)
    assert await value(instance, "SELECT count(*) FROM objects") == 0  # a draft stays here
    assert (await bob.get(f"/blog/{key}"))[0] == 404
    status, html = await web.get("/users/anna/blog/drafts")
    assert status == 200 and f'href="/blog/{key}"' in html
    assert (await bob.get("/users/anna/blog/drafts"))[0] == 403

    status, html, _ = await web.post(f"/blog/{key}/publish-draft", {}, form_page=f"/blog/{key}")
    assert status == 200 and "Your post was published." in html
    assert "Waterplan" in html and "<script" not in html and "onerror" not in html
    assert 'href="' + instance.url("/groups?theme=klimaat") + '"' in html
    status, html = await bob.get(f"/blog/{key}")
    assert status == 200 and "Waterplan" in html and "Draft" not in html
    status, html = await bob.get("/users/anna/blog")
    assert "Waterplan" in html and "Write a post" not in html

    status, html = await web.get(f"/blog/{key}/edit")
    assert status == 200 and 'value="Waterplan"' in html and "water, klimaat" in html
    status, html, _ = await web.post(
        f"/blog/{key}/edit",
        {**post_form(title="Waterplan 2026", content="Nieuw **plan**."), "action": "save"},
        form_page=f"/blog/{key}/edit",
    )
    assert status == 200 and "Your changes were saved." in html
    assert "Waterplan 2026" in html and "<strong>plan</strong>" in html
    assert await value(instance, "SELECT count(*) FROM activities WHERE type = 'Update'") == 1

    status, html = await web.get(f"/blog/{key}/delete")
    assert status == 200 and "Delete “Waterplan 2026”?" in html
    status, html, url = await web.post(f"/blog/{key}/delete", {}, form_page=f"/blog/{key}")
    assert status == 200 and url == instance.url("/users/anna/blog")
    assert "The post was deleted." in html and "Waterplan" not in html
    status, html = await bob.get(f"/blog/{key}")
    assert status == 410 and "This post was deleted." in html
    assert await value(instance, "SELECT count(*) FROM activities WHERE type = 'Delete'") == 1


async def test_bad_input_is_refused_with_labelled_messages(
    instance: Instance, web: WebClient
) -> None:
    cases = [
        (post_form(title="  ", content="Tekst"), "title", "Enter a title."),
        (post_form(title="x" * 201, content="Tekst"), "title", "at most 200 characters"),
        (post_form(title="Goed", summary="s" * 1001), "summary", "at most 1000 characters"),
        (post_form(title="Goed", themes="water, kl!maat"), "themes", "letters, digits"),
        (post_form(title="Goed", themes=" ".join(f"t{i}" for i in range(11))), "themes", "10"),
    ]
    for fields, field, text in cases:
        for action in ("preview", "draft", "publish"):
            status, html, _ = await write(web, action, **{k: v for k, v in fields.items()})
            assert status == 422, (fields, action)
            assert f'id="{field}-error"' in html and text in html, (field, html[:3000])
            assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html, re.S) or re.search(
                rf'aria-invalid="true"[^>]*id="{field}"', html, re.S
            )
            assert f'{field}-error"' in html and 'role="alert"' in html
    # A draft may be empty; publishing needs the text.
    status, html, _ = await write(web, "publish", title="Leeg")
    assert status == 422 and 'id="content-error"' in html
    assert "Write the text of the post before you publish it." in html
    assert await value(instance, "SELECT count(*) FROM blog_posts") == 0

    status, html, url = await write(web, "draft", title="Leeg")
    key = key_of(url)
    status, html, _ = await web.post(f"/blog/{key}/publish-draft", {}, form_page=f"/blog/{key}")
    assert status == 422 and 'id="content-error"' in html
    assert await value(instance, "SELECT count(*) FROM objects") == 0

    # An unknown group in the form's choice.
    status, html, _ = await write(
        web, "draft", title="Ergens", content="x", group="https://nowhere.example/groups/x"
    )
    assert status == 422 and 'id="group-error"' in html

    # An empty comment.
    status, html, url = await write(web, "publish", title="Open", content="Reageer maar.")
    key = key_of(url)
    status, html, _ = await web.post(
        f"/blog/{key}/comments", {"comment": "   "}, form_page=f"/blog/{key}"
    )
    assert status == 422 and 'id="comment-error"' in html and "Write your comment." in html


async def test_permissions(instance: Instance, web: WebClient, bob: WebClient) -> None:
    status, _, url = await write(web, "publish", title="Van Anna", content="Tekst.")
    published = key_of(url)
    status, _, url = await write(web, "draft", title="Geheim concept", content="Tekst.")
    draft = key_of(url)

    # Someone else's published post: 403; someone else's draft does not exist for them.
    for path in (f"/blog/{published}/edit", f"/blog/{published}/delete"):
        assert (await bob.get(path))[0] == 403
        status, _, _ = await bob.post(
            path, {**post_form(title="Overgenomen", content="x"), "action": "save"}
        )
        assert status == 403
    assert (await bob.post(f"/blog/{published}/publish-draft", {}))[0] == 403
    for path in (f"/blog/{draft}/edit", f"/blog/{draft}/delete", f"/blog/{draft}"):
        assert (await bob.get(path))[0] == 404
    assert (await bob.post(f"/blog/{draft}/publish-draft", {}))[0] == 404
    assert await value(instance, "SELECT title FROM blog_posts WHERE key = $1", published) == (
        "Van Anna"
    )

    # Writing into a group one is not a member of.
    group = await instance.runtime.actors.create_group("water", owner="anna", title="Water")
    status, html = await bob.get("/groups/water/blog")
    assert status == 200 and "Write a post" not in html
    status, _, _ = await bob.post(
        "/blog/new",
        {**post_form(title="Indringer", content="x"), "group": group.uri, "action": "publish"},
    )
    assert status == 403
    assert await value(instance, "SELECT count(*) FROM blog_posts WHERE group_id IS NOT NULL") == 0

    # Signed out: the writing pages send to the sign-in page.
    anonymous = WebClient(instance)
    try:
        async with anonymous.session.get(
            instance.url("/blog/new"), allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith("/login?next=")
        status, html = await anonymous.get(f"/blog/{published}")
        assert status == 200 and "Sign in to comment" in html and "/like" not in html
    finally:
        await anonymous.close()


async def test_forms_without_the_csrf_token_are_refused(instance: Instance, web: WebClient) -> None:
    _, _, url = await write(web, "publish", title="Doel", content="Tekst.")
    key = key_of(url)
    forged = [
        ("/blog/new", {**post_form(title="Vals", content="x"), "action": "publish"}),
        (f"/blog/{key}/edit", {**post_form(title="Vals", content="x"), "action": "save"}),
        (f"/blog/{key}/delete", {}),
        (f"/blog/{key}/comments", {"comment": "vals"}),
        (f"/blog/{key}/like", {}),
    ]
    for path, data in forged:
        for token in (None, "x" * 43):
            fields = dict(data) if token is None else {**data, "csrf_token": token}
            async with web.session.post(
                instance.url(path), data=fields, allow_redirects=False
            ) as response:
                assert response.status == 403, path
    # A same-looking form sent from another site.
    async with web.session.post(
        instance.url(f"/blog/{key}/like"),
        data={"csrf_token": await web.csrf(f"/blog/{key}")},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    assert await value(instance, "SELECT count(*) FROM blog_posts") == 1
    assert await value(instance, "SELECT title FROM blog_posts") == "Doel"
    assert await value(instance, "SELECT count(*) FROM activities WHERE type = 'Like'") == 0
    assert await value(instance, "SELECT count(*) FROM objects WHERE type = 'Note'") == 0


# ----------------------------------------------------------------------------- a group's blog


async def test_group_blog_comments_and_likes(
    instance: Instance, web: WebClient, bob: WebClient
) -> None:
    await people(instance, "owner")
    group = await instance.runtime.actors.create_group("water", owner="owner", title="Waterbeheer")
    await instance.publish("anna", {"type": "Follow", "object": group.uri})
    await settle(instance)

    status, html = await web.get("/groups/water/blog")
    assert status == 200 and "Blog of Waterbeheer" in html and "No posts yet." in html
    assert "/blog/new?in=" in html
    status, html = await web.get("/blog/new?in=" + group.uri)
    assert re.search(rf'<option value="{re.escape(group.uri)}" selected>Waterbeheer', html)

    status, html, url = await write(
        web,
        "publish",
        title="Dijken",
        content="# Plan\n\nVersterken.",
        themes="water",
        group=group.uri,
    )
    assert status == 200 and "Your post was published." in html
    key = key_of(url)
    assert "<h2>Plan</h2>" in html and ">Waterbeheer</a>" in html
    await settle(instance)
    status, html = await bob.get("/groups/water/blog")
    assert "Dijken" in html and "By anna" in html

    # Comments: anyone signed in, threaded by what they answer; Markdown, sanitised.
    status, html, _ = await bob.post(
        f"/blog/{key}/comments",
        {"comment": "Goed **plan** <script>alert(1)</script>"},
        form_page=f"/blog/{key}",
    )
    assert status == 200 and "Your comment was posted." in html
    assert "<strong>plan</strong>" in html and "<script>alert" not in html
    first = await value(instance, "SELECT uri FROM objects WHERE type = 'Note'")
    status, html = await web.get(f"/blog/{key}?reply_to={first}")
    assert f'name="in_reply_to" value="{first}"' in html and "Reply to bob" in html
    status, html, _ = await web.post(
        f"/blog/{key}/comments",
        {"comment": "Dank je, Bob.", "in_reply_to": first},
        form_page=f"/blog/{key}",
    )
    assert status == 200
    reply = await value(
        instance, "SELECT uri FROM objects WHERE type = 'Note' AND uri <> $1", first
    )
    threads = _Threads()
    threads.feed(html)
    assert threads.parent == {first: None, reply: first}
    assert "Comments (2)" in html
    note = (await rows(instance, "SELECT document FROM objects WHERE uri = $1", reply))[0][0]
    assert note["inReplyTo"] == first and group.uri in note["cc"]
    # A comment made elsewhere (here: through the API) links only to web addresses.
    await instance.publish(
        "bob",
        {
            "type": "Note",
            "content": "<p>Kijk hier</p>",
            "url": "javascript:alert(document.cookie)",
            "inReplyTo": instance.runtime.iris.object(key),
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    )
    status, html = await web.get(f"/blog/{key}")
    assert "Kijk hier" in html and "javascript:" not in html

    # Likes: one per person, undone by pressing again; counted from every instance.
    status, html, _ = await bob.post(f"/blog/{key}/like", {}, form_page=f"/blog/{key}")
    assert status == 200 and "You like this post." in html and "Likes: 1" in html
    assert 'aria-pressed="true"' in html
    status, html = await web.get(f"/blog/{key}")
    assert "Likes: 1" in html and 'aria-pressed="false"' in html
    status, html, _ = await bob.post(f"/blog/{key}/like", {}, form_page=f"/blog/{key}")
    assert "You no longer like this post." in html and "Likes: 0" in html
    await settle(instance)
    assert await value(instance, "SELECT count(*) FROM activities WHERE type = 'Undo'") == 1


async def test_members_only_group_blog_is_read_by_its_members_only(
    instance: Instance, web: WebClient, bob: WebClient
) -> None:
    """A post in a members-only group and its comments are addressed to the group alone:
    its members read them on the blog pages; others, signed in or not, see nothing."""
    await people(instance, "owner", "carla")
    group = await instance.runtime.actors.create_group(
        "geheim", owner="owner", title="Geheim overleg", kind=GroupKind.MEMBERS_ONLY
    )
    for name in ("anna", "bob"):  # members, accepted by the owner
        await instance.publish(name, {"type": "Follow", "object": group.uri})
    await settle(instance)
    await instance.runtime.pool.execute(
        "UPDATE follows SET state = 'accepted' WHERE followed_id = $1", group.id
    )
    status, html, url = await write(
        web, "publish", title="Begroting", content="Alleen voor leden.", group=group.uri
    )
    assert status == 200 and "Your post was published." in html
    key = key_of(url)
    await settle(instance)
    status, html, _ = await bob.post(
        f"/blog/{key}/comments", {"comment": "Eens, vertrouwelijk."}, form_page=f"/blog/{key}"
    )
    assert status == 200 and "Eens, vertrouwelijk." in html
    comment = await value(instance, "SELECT document FROM objects WHERE type = 'Note'")
    assert comment["to"] == [group.uri]  # not public
    await settle(instance)

    status, html = await bob.get("/groups/geheim/blog")
    assert status == 200 and "Begroting" in html
    status, html = await bob.get(f"/blog/{key}")
    assert status == 200 and "Alleen voor leden." in html and "Eens, vertrouwelijk." in html
    status, html = await web.get(f"/blog/{key}")  # the author sees the member's comment
    assert "Eens, vertrouwelijk." in html

    carla = WebClient(instance)
    guest = WebClient(instance)
    try:
        await carla.sign_in("carla")
        for client in (carla, guest):
            status, html = await client.get("/groups/geheim/blog")
            assert status == 200 and "Begroting" not in html
            status, html = await client.get(f"/blog/{key}")
            assert status == 404 and "Alleen voor leden." not in html
    finally:
        await carla.close()
        await guest.close()
