"""Profiles over real HTTP: the profile page, editing it (and the avatar), what the actor
document tells other servers, the Update that reaches a follower on another instance, the
people directory, and following people from their page."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from harness import Instance, follow_state, people, rows, settle, value
from PIL import Image
from web_client import WebClient

from federatie.domain.actors import GroupKind

AP = {"Accept": "application/activity+json"}
PROFILE = {
    "display_name": "Anna de Vries",
    "job_title": "Beleidsadviseur waterkwaliteit",
    "organisation": "Waterschap Rijn & IJssel",
    "expertise": "Omgevingswet, inkoop, omgevingswet",
    "themes": "#Water, klimaat",
    "bio": "Ik werk aan schoon water.\n\nVraag me naar <KRW> & normen.",
}


@pytest.fixture
async def web(instance: Instance) -> AsyncIterator[WebClient]:
    await people(instance, "anna", "bert")
    client = WebClient(instance)
    yield client
    await client.close()


async def _actor(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url, headers=AP) as response:
        assert response.status == 200
        doc: dict[str, Any] = await response.json(content_type=None)
        return doc


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (1200, 800), (20, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x8825] = {2: (52.0, 5.0, 0.0), 4: (5.0, 7.0, 0.0)}  # GPS position
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def _upload(web: WebClient, data: bytes, name: str, token: str | None = None) -> Any:
    form = aiohttp.FormData()
    form.add_field(
        "csrf_token", token if token is not None else await web.csrf("/settings/profile")
    )
    form.add_field("file", data, filename=name, content_type="image/jpeg")
    return await web.session.post(
        web.instance.url("/settings/profile/avatar"), data=form, allow_redirects=False
    )


async def test_edit_profile_then_page_and_actor_document_show_it(
    instance: Instance, web: WebClient, http: aiohttp.ClientSession
) -> None:
    await web.sign_in("anna")
    status, html = await web.get("/settings/profile")
    assert status == 200 and 'id="organisation"' in html and 'enctype="multipart/form-data"' in html
    status, html, url = await web.post("/settings/profile", PROFILE, form_page="/settings/profile")
    assert status == 200 and url == instance.url("/users/anna"), html
    assert "Your profile was saved." in html
    for text in ("Anna de Vries", "Beleidsadviseur waterkwaliteit", "Waterschap Rijn &amp; IJssel"):
        assert text in html
    assert html.count(">Omgevingswet<") == 1  # entered twice, kept once
    assert "#water" in html and "Vraag me naar &lt;KRW&gt; &amp; normen." in html
    assert 'href="/people?theme=klimaat"' in html and "Edit profile" in html

    doc = await _actor(http, instance.url("/users/anna"))
    assert doc["name"] == "Anna de Vries"
    assert doc["summary"] == (
        "<p>Ik werk aan schoon water.</p><p>Vraag me naar &lt;KRW&gt; &amp; normen.</p>"
    )
    assert doc["attachment"] == [
        {"type": "PropertyValue", "name": "Organisation", "value": "Waterschap Rijn &amp; IJssel"},
        {"type": "PropertyValue", "name": "Function", "value": "Beleidsadviseur waterkwaliteit"},
        {"type": "PropertyValue", "name": "Expertise", "value": "Omgevingswet, inkoop"},
    ]
    assert [t["name"] for t in doc["tag"]] == ["#water", "#klimaat"]
    terms = doc["@context"][-1]
    assert terms["PropertyValue"] == "schema:PropertyValue" and terms["value"] == "schema:value"
    assert "icon" not in doc
    # The edit was sent on as an Update of the actor, addressed to the followers.
    update = await value(
        instance,
        "SELECT document FROM activities WHERE type = 'Update' AND object_uri = $1",
        instance.url("/users/anna"),
    )
    assert update["object"]["type"] == "Person" and update["cc"] == [doc["followers"]]
    assert update["object"]["attachment"] == doc["attachment"]

    # Someone else sees the page without the edit button.
    other = WebClient(instance)
    try:
        await other.sign_in("bert")
        status, html = await other.get("/users/anna")
        assert status == 200 and "Edit profile" not in html and ">Follow<" in html
    finally:
        await other.close()


async def test_profile_form_rejects_bad_input_with_labelled_messages(web: WebClient) -> None:
    await web.sign_in("anna")
    cases = [
        ({**PROFILE, "display_name": " "}, "display_name", "Enter a name of at most 100"),
        ({**PROFILE, "themes": "water, schoon water!"}, "themes", "letters, digits"),
        ({**PROFILE, "expertise": ", ".join(f"onderwerp {n}" for n in range(11))}, "expertise", ""),
        ({**PROFILE, "bio": "x" * 2001}, "bio", "at most 2000"),
    ]
    for fields, field, text in cases:
        status, html, _ = await web.post("/settings/profile", fields, form_page="/settings/profile")
        assert status == 422, field
        assert f'id="{field}-error"' in html and text in html
        assert 'aria-invalid="true"' in html and 'role="alert"' in html
        assert f'href="#{field}"' in html  # the summary links to the field
    # Nothing was stored.
    status, html = await web.get("/users/anna")
    assert "Beleidsadviseur" not in html


async def test_forms_need_the_csrf_token_and_a_session(instance: Instance, web: WebClient) -> None:
    _, _, url = await web.post("/settings/profile", PROFILE, form_page="/login")
    assert url.startswith(instance.url("/login?next="))  # signed out: off to sign in
    await web.sign_in("anna")
    async with web.session.post(instance.url("/settings/profile"), data=PROFILE) as response:
        assert response.status == 403
    response = await _upload(web, _jpeg_with_gps(), "me.jpg", token="wrong" * 10)
    assert response.status == 403
    async with web.session.post(
        instance.url("/users/bert/follow"), data={"csrf_token": "forged" * 8}
    ) as response:
        assert response.status == 403


async def test_avatar_is_stripped_small_served_and_federated(
    instance: Instance, web: WebClient, http: aiohttp.ClientSession
) -> None:
    await web.sign_in("anna")
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the test image does carry EXIF
    response = await _upload(web, original, "holiday.jpg")
    assert response.status == 303, await response.text()

    doc = await _actor(http, instance.url("/users/anna"))
    icon = doc["icon"]
    assert icon["type"] == "Image" and icon["mediaType"] == "image/jpeg"
    assert (icon["width"], icon["height"]) == (320, 213)
    async with http.get(icon["url"]) as served:
        assert served.status == 200
        assert served.headers["Content-Type"] == "image/jpeg"
        assert "immutable" in served.headers["Cache-Control"]
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        data = await served.read()
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (320, 213)
        assert not image.getexif() and "exif" not in image.info
    assert b"Camera maker" not in data
    async with http.get(instance.url("/users/anna/avatar/0000000000000000")) as stale:
        assert stale.status == 404
    status, html = await web.get("/users/anna")
    assert f'src="{icon["url"].removeprefix(instance.base_url)}"' in html

    # Not an image: a labelled error, the avatar stays.
    response = await _upload(web, b"%PDF-1.4 not a photo", "cv.pdf")
    assert response.status == 422
    html = await response.text()
    assert 'id="file-error"' in html and "JPEG, PNG, WebP or GIF" in html
    assert (await _actor(http, instance.url("/users/anna")))["icon"] == icon
    # Removing it: the actor has no icon any more, the old URL answers 404.
    status, html, _ = await web.post(
        "/settings/profile/avatar/remove", {}, form_page="/settings/profile"
    )
    assert status == 200 and "Your photo was removed." in html
    assert "icon" not in await _actor(http, instance.url("/users/anna"))
    async with http.get(icon["url"]) as gone:
        assert gone.status == 404
    updates = await value(
        instance, "SELECT count(*) FROM activities WHERE type = 'Update' AND local"
    )
    assert updates == 2  # the new photo and its removal; the refused upload sent nothing


async def test_profile_update_reaches_followers_here_and_on_another_instance(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "anna", "carl")
    await people(b, "bob")
    anna = a.url("/users/anna")
    await b.publish("bob", {"type": "Follow", "object": anna})
    await a.publish("carl", {"type": "Follow", "object": anna})
    await settle(a, b)
    assert await follow_state(a, b.url("/users/bob"), anna) == "accepted"

    web = WebClient(a)
    try:
        await web.sign_in("anna")
        status, _, _ = await web.post("/settings/profile", PROFILE, form_page="/settings/profile")
        assert status == 200
    finally:
        await web.close()
    await settle(a, b)
    # B refetched Anna's actor when the Update arrived.
    cached = await value(b, "SELECT document FROM actors WHERE uri = $1", anna)
    assert cached["name"] == "Anna de Vries"
    assert any(f.get("name") == "Organisation" for f in cached["attachment"])
    # Carl, a local follower, got it too; it is no reason to fetch our own actor.
    outcomes = await rows(
        a, "SELECT outcome FROM inbox_activities WHERE type = 'Update' AND actor_uri = $1", anna
    )
    assert [r["outcome"] for r in outcomes] == ["ignored: a local actor"]
    assert await value(a, "SELECT count(*) FROM jobs WHERE last_error IS NOT NULL") == 0


async def test_people_directory_finds_colleagues(instance: Instance, web: WebClient) -> None:
    status, _ = await web.get("/people", allow_redirects=False)
    assert status == 303  # for colleagues only: sign in first
    await people(instance, "carla", "dirk", "pending_person")
    await _set(
        instance, "anna", "Anna de Vries", "Jurist", "Gemeente Utrecht", "Omgevingswet", "ruimte"
    )
    await _set(
        instance, "carla", "Carla Jansen", "Inkoper", "gemeente utrecht", "Aanbesteden", "inkoop"
    )
    await _set(
        instance, "dirk", "Dirk Smit", "Hydroloog", "Waterschap Vallei", "Grondwater", "water"
    )
    await value(
        instance,
        "UPDATE people SET approved_at = NULL WHERE actor_id = "
        "(SELECT id FROM actors WHERE username = 'pending_person')",
    )
    await web.sign_in("bert")
    names = ("Anna de Vries", "bert", "Carla Jansen", "Dirk Smit", "pending_person")

    async def found(query: str) -> list[str]:
        status, html = await web.get("/people" + query)
        assert status == 200, html
        return [name for name in names if f">{name}</a>" in html]

    assert await found("") == ["Anna de Vries", "bert", "Carla Jansen", "Dirk Smit"]
    assert await found("?q=omgevingswet") == ["Anna de Vries"]
    assert await found("?q=utrecht+jurist") == ["Anna de Vries"]
    assert await found("?q=grond") == ["Dirk Smit"]
    assert await found("?organisation=Gemeente+Utrecht") == ["Anna de Vries", "Carla Jansen"]
    assert await found("?theme=%23Water") == ["Dirk Smit"]
    assert await found("?expertise=aanbesteden") == ["Carla Jansen"]
    assert await found("?q=100%25") == []  # taken literally
    status, html = await web.get("/people")
    # One organisation, however it is capitalised.
    assert html.count(">Gemeente Utrecht</option>") + html.count(">gemeente utrecht</option>") == 1


async def _set(
    instance: Instance,
    name: str,
    display: str,
    job: str,
    organisation: str,
    expertise: str,
    themes: str,
) -> None:
    from federatie.domain.profiles import parse_profile
    from federatie.services.profiles import ProfileService

    runtime = instance.runtime
    person = await runtime.actors.get(name)
    fields = parse_profile(
        display_name=display,
        bio="",
        organisation=organisation,
        job_title=job,
        expertise=expertise,
        themes=themes,
    )
    await ProfileService(runtime).update(person, fields)


async def test_groups_on_a_profile_respect_members_only(instance: Instance, web: WebClient) -> None:
    actors = instance.runtime.actors
    await actors.create_group("water", owner="anna", title="Waterbeheer")
    await actors.create_group(
        "geheim", owner="anna", title="Geheim overleg", kind=GroupKind.MEMBERS_ONLY
    )
    await web.sign_in("bert")
    status, html = await web.get("/users/anna")
    assert status == 200
    assert 'href="/groups/water">Waterbeheer</a>' in html and "Geheim overleg" not in html
    own = WebClient(instance)
    try:
        await own.sign_in("anna")
        assert "Geheim overleg" in (await own.get("/users/anna"))[1]
    finally:
        await own.close()


async def test_follow_and_unfollow_from_the_profile_page(
    instance: Instance, web: WebClient
) -> None:
    await web.sign_in("bert")
    status, html, _ = await web.post("/users/anna/follow", {}, form_page="/users/anna")
    assert status == 200 and "You follow anna." in html
    await settle(instance)
    anna, bert = instance.url("/users/anna"), instance.url("/users/bert")
    assert await follow_state(instance, bert, anna) == "accepted"
    status, html = await web.get("/users/anna")
    assert "Stop following" in html
    status, html, _ = await web.post("/users/anna/unfollow", {}, form_page="/users/anna")
    assert status == 200 and "You no longer follow anna." in html
    await settle(instance)
    assert await follow_state(instance, bert, anna) is None
    status, _, _ = await web.post("/users/bert/follow", {}, form_page="/users/anna")
    assert status == 404  # not oneself
