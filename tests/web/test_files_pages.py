"""The file pages over real HTTP (no browser): the folder browser, uploading (multipart, with
the CSRF token in the form or in the script's header), folders, new versions, deleting, image
previews; bad input, permissions, CSRF and the upload cap."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from files_support import Part, multipart, png_with_text
from harness import Instance, people, settle, value
from web_client import WebClient

from federatie.domain.actors import GroupKind

NOTES = b"Notulen van de vergadering\nAanwezig: iedereen\n"


@pytest.fixture
async def instance(start_instance: Any) -> Instance:
    """Group `water` (open) owned by `owner` and joined by `member`; `stranger` is not in it."""
    a: Instance = await start_instance("a")
    await people(a, "owner", "member", "stranger")
    await a.runtime.actors.create_group("water", owner="owner", title="Waterbeheer")
    await a.publish("member", {"type": "Follow", "object": a.url("/groups/water")})
    await settle(a)
    return a


@pytest.fixture
async def clients(instance: Instance) -> AsyncIterator[dict[str, WebClient]]:
    made = {name: WebClient(instance) for name in ("owner", "member", "stranger")}
    for name, client in made.items():
        await client.sign_in(name)
    made["anonymous"] = WebClient(instance)
    yield made
    for client in made.values():
        await client.close()


async def send(
    client: WebClient,
    path: str,
    data: bytes | None,
    filename: str = "notulen.txt",
    *,
    fields: dict[str, str] | None = None,
    csrf: str | None = "form",
    header: str | None = None,
    form_page: str = "/groups/water/files",
) -> tuple[int, str, str]:
    """A multipart upload as the page's form sends it: (status, body, final URL).
    `csrf="form"` puts the page's token in the form; `header` sends one as the script does."""
    token = await client.csrf(form_page)
    parts = [Part(k, v.encode()) for k, v in (fields or {}).items()]
    if csrf is not None:
        parts.insert(0, Part("csrf_token", (token if csrf == "form" else csrf).encode()))
    if data is not None:
        parts.append(Part("file", data, filename, "application/octet-stream"))
    body, content_type = multipart(parts)
    if filename == "":  # no file chosen: a browser sends an empty part with `filename=""`
        body = body.replace(b"filename*=UTF-8''", b'filename=""')
    headers = {"Content-Type": content_type}
    if header is not None:
        headers["X-CSRF-Token"] = token if header == "page" else header
    async with client.session.post(
        client.instance.url(path), data=io.BytesIO(body), headers=headers
    ) as response:
        return response.status, await response.text(), str(response.url)


async def file_key(instance: Instance, name: str) -> str:
    key: str = await value(instance, "SELECT key FROM files WHERE name = $1", name)
    return key


def labelled(html: str, field: str, text: str) -> bool:
    return (
        f'id="{field}-error"' in html
        and text in html
        and 'role="alert"' in html
        and re.search(rf'<(?:input|select|textarea) id="{field}"[^>]*aria-invalid="true"', html)
        is not None
    )


# ----------------------------------------------------------------------------- happy paths


async def test_browse_upload_folders_versions_previews_and_delete(
    instance: Instance, clients: dict[str, WebClient]
) -> None:
    member, anonymous = clients["member"], clients["anonymous"]
    status, html = await anonymous.get("/groups/water/files")
    assert status == 200 and "Files of Waterbeheer" in html and "No files yet." in html
    assert "Upload a file" not in html  # not for people outside the group
    status, html = await member.get("/groups/water/files")
    assert "Upload a file" in html and 'enctype="multipart/form-data"' in html
    assert 'action="/groups/water/files/upload"' in html and "<progress" in html

    status, html, url = await send(member, "/groups/water/files/upload", NOTES)
    assert status == 200 and url == instance.url("/groups/water/files"), html[:2000]
    assert "“notulen.txt” was uploaded." in html
    row = re.search(r"<tr>.*?notulen\.txt.*?</tr>", html, re.S)
    assert row, html
    assert "text/plain" in row.group(0) and f"{len(NOTES)} B" in row.group(0)
    assert ">member</a>" in row.group(0)
    key = await file_key(instance, "notulen.txt")
    async with anonymous.session.get(instance.url(f"/files/{key}")) as response:
        assert response.status == 200 and await response.read() == NOTES

    # A folder, and an image uploaded into it under a name of one's choosing: its preview.
    status, html, url = await member.post(
        "/groups/water/files/folders",
        {"folder_name": "Foto's 2025"},
        form_page="/groups/water/files",
    )
    assert status == 200 and "The folder “Foto&#39;s 2025” was made." in html
    folder = await value(instance, "SELECT key FROM file_folders")
    assert url == instance.url(f"/groups/water/folders/{folder}")
    assert "This folder is empty." in html
    image = png_with_text(400, 300)
    status, html, url = await send(
        member,
        "/groups/water/files/upload",
        image,
        "IMG_0001.png",
        fields={"name": "dijk.png", "folder": folder},
    )
    assert status == 200 and url == instance.url(f"/groups/water/folders/{folder}")
    photo = await file_key(instance, "dijk.png")
    assert f'src="/files/{photo}/thumbnail"' in html
    async with anonymous.session.get(instance.url(f"/files/{photo}/thumbnail")) as response:
        assert response.status == 200 and response.content_type.startswith("image/")
    status, html = await member.get("/groups/water/files")
    assert f'href="/groups/water/folders/{folder}"' in html and "dijk.png" not in html

    # The file's page: facts, preview, versions; its uploader sends a new version.
    status, html = await anonymous.get(f"/files/{photo}/details")
    assert status == 200 and "<h1>dijk.png</h1>" in html and "Preview of dijk.png" in html
    assert "Upload a new version" not in html and f"/files/{photo}/delete" not in html
    status, html = await member.get(f"/files/{photo}/details")
    assert "Upload a new version" in html and f'action="/files/{photo}/upload"' in html
    status, html, url = await send(
        member,
        f"/files/{photo}/upload",
        png_with_text(200, 100),
        "dijk-v2.png",
        form_page=f"/files/{photo}/details",
    )
    assert status == 200 and url == instance.url(f"/files/{photo}/details")
    assert "A new version of “dijk-v2.png” was uploaded." in html
    assert (
        f'href="/files/{photo}/versions/1"' in html and f'href="/files/{photo}/versions/2"' in html
    )
    await settle(instance)
    assert await value(instance, "SELECT count(*) FROM activities WHERE type = 'Update'") == 1

    # Delete, after a confirmation page.
    status, html = await member.get(f"/files/{photo}/delete")
    assert status == 200 and "Delete “dijk-v2.png”?" in html
    status, html, url = await member.post(
        f"/files/{photo}/delete", {}, form_page=f"/files/{photo}/delete"
    )
    assert status == 200 and url == instance.url(f"/groups/water/folders/{folder}")
    assert "“dijk-v2.png” was deleted." in html and "This folder is empty." in html
    async with anonymous.session.get(instance.url(f"/files/{photo}")) as response:
        assert response.status == 404


async def test_a_personal_file_space_and_the_upload_cap(start_instance: Any) -> None:
    """The page's upload routes take bodies up to the upload cap (not the 1 MiB of other
    routes), and no more."""
    a: Instance = await start_instance("a", FEDERATIE_MAX_UPLOAD_BYTES="2000000")
    await people(a, "anna", "bob")
    anna, bob = WebClient(a), WebClient(a)
    try:
        await anna.sign_in("anna")
        await bob.sign_in("bob")
        status, html = await anna.get("/users/anna/files")
        assert status == 200 and "Files of anna" in html and "At most 1.9 MB." in html
        big = b"\x00\x01" * 750_000  # 1.5 MB: more than the app's 1 MiB body cap
        status, html, _ = await send(
            anna, "/users/anna/files/upload", big, "groot.bin", form_page="/users/anna/files"
        )
        assert status == 200 and "“groot.bin” was uploaded." in html and "1.4 MB" in html
        too_big = b"x" * 2_100_000
        status, html, _ = await send(
            anna, "/users/anna/files/upload", too_big, "te-groot.bin", form_page="/users/anna/files"
        )
        assert status == 413 and "The file is larger than 1.9 MB." in html
        assert await value(a, "SELECT count(*) FROM files") == 1
        # Someone else's personal space: no upload form, and the route refuses.
        status, html = await bob.get("/users/anna/files")
        assert status == 200 and "groot.bin" in html and "Upload a file" not in html
        status, _, _ = await send(
            bob, "/users/anna/files/upload", NOTES, form_page="/users/anna/files"
        )
        assert status == 403
        # In Dutch, sizes have a decimal comma.
        status, html = await anna.get("/users/anna/files", headers={"Accept-Language": "nl"})
        assert "Bestanden van anna" in html and "1,4 MB" in html
    finally:
        await anna.close()
        await bob.close()


# ----------------------------------------------------------------------------- refusals


async def test_bad_input_is_refused_with_labelled_messages(
    instance: Instance, clients: dict[str, WebClient]
) -> None:
    member = clients["member"]
    status, html, _ = await send(member, "/groups/water/files/upload", b"", filename="")
    assert status == 422 and labelled(html, "file", "Choose a file to upload."), html[:3000]
    status, html, _ = await member.post(
        "/groups/water/files/folders", {"folder_name": "Notulen"}, form_page="/groups/water/files"
    )
    assert status == 200
    for name, text in (
        ("  ", "Enter a name for the folder."),
        ("notulen", "There is already a folder with this name."),
    ):
        status, html, _ = await member.post(
            "/groups/water/files/folders", {"folder_name": name}, form_page="/groups/water/files"
        )
        assert status == 422 and labelled(html, "folder_name", text), html[:3000]
    status, html, _ = await send(member, "/groups/water/files/upload", NOTES)
    key = await file_key(instance, "notulen.txt")
    status, html, _ = await send(
        member, f"/files/{key}/upload", b"", filename="", form_page=f"/files/{key}/details"
    )
    assert status == 422 and labelled(html, "file", "Choose a file to upload.")
    assert await value(instance, "SELECT count(*) FROM file_versions") == 1


async def test_permissions(start_instance: Any) -> None:
    a: Instance = await start_instance("a")
    await people(a, "owner", "member", "stranger")
    await a.runtime.actors.create_group("raad", owner="owner", kind=GroupKind.MEMBERS_ONLY)
    await a.publish("member", {"type": "Follow", "object": a.url("/groups/raad")})
    await settle(a)
    await a.runtime.groups.decide("owner", "raad", a.url("/users/member"), accept=True)
    await settle(a)
    made = {name: WebClient(a) for name in ("owner", "member", "stranger", "anonymous")}
    try:
        for name in ("owner", "member", "stranger"):
            await made[name].sign_in(name)
        member, owner, stranger = made["member"], made["owner"], made["stranger"]
        status, _, _ = await send(
            member, "/groups/raad/files/upload", NOTES, form_page="/groups/raad/files"
        )
        assert status == 200
        key = await file_key(a, "notulen.txt")
        # A members-only group's files are for its members: others do not see they exist.
        for client in (stranger, made["anonymous"]):
            for path in ("/groups/raad/files", f"/files/{key}/details", f"/files/{key}"):
                assert (await client.get(path))[0] == 404, path
        status, _, _ = await send(
            stranger, "/groups/raad/files/upload", NOTES, form_page="/users/stranger/files"
        )
        assert status == 403
        status, _, _ = await stranger.post(
            "/groups/raad/files/folders", {"folder_name": "x"}, form_page="/users/stranger/files"
        )
        assert status == 403
        # Members download with their session.
        async with member.session.get(a.url(f"/files/{key}")) as response:
            assert response.status == 200 and await response.read() == NOTES
        # Only the uploader adds versions; the group's staff may delete, others not.
        status, html = await owner.get(f"/files/{key}/details")
        assert status == 200 and "Upload a new version" not in html
        assert f'href="/files/{key}/delete"' in html
        status, _, _ = await send(
            owner, f"/files/{key}/upload", b"v2", form_page=f"/files/{key}/details"
        )
        assert status == 403
        status, _, _ = await stranger.post(f"/files/{key}/delete", {})
        assert status == 404
        await a.publish("stranger", {"type": "Follow", "object": a.url("/groups/raad")})
        await settle(a)
        await a.runtime.groups.decide("owner", "raad", a.url("/users/stranger"), accept=True)
        await settle(a)
        status, html = await stranger.get(f"/files/{key}/details")
        assert status == 200 and f"/files/{key}/delete" not in html
        status, _, _ = await stranger.post(f"/files/{key}/delete", {})
        assert status == 403
        assert await value(a, "SELECT count(*) FROM files") == 1
        status, _, url = await owner.post(f"/files/{key}/delete", {})
        assert status == 200 and url == a.url("/groups/raad/files")
        assert await value(a, "SELECT count(*) FROM files") == 0
    finally:
        for client in made.values():
            await client.close()


async def test_uploads_without_the_csrf_token_are_refused(
    instance: Instance, clients: dict[str, WebClient]
) -> None:
    member = clients["member"]
    for csrf, header in ((None, None), ("x" * 43, None), (None, "y" * 43)):
        status, _, _ = await send(
            member, "/groups/water/files/upload", NOTES, csrf=csrf, header=header
        )
        assert status == 403, (csrf, header)
    assert await value(instance, "SELECT count(*) FROM files") == 0
    assert instance.runtime.files.staging.pending() == []  # type: ignore[attr-defined]
    # The script's header alone is enough (the form's field is then not needed).
    status, html, _ = await send(
        member, "/groups/water/files/upload", NOTES, csrf=None, header="page"
    )
    assert status == 200 and "was uploaded" in html
    key = await file_key(instance, "notulen.txt")
    status, _, _ = await send(
        member, f"/files/{key}/upload", b"tweede", csrf=None, form_page=f"/files/{key}/details"
    )
    assert status == 403
    async with member.session.post(
        instance.url(f"/files/{key}/delete"), data={}, allow_redirects=False
    ) as response:
        assert response.status == 403
    async with member.session.post(
        instance.url("/groups/water/files/folders"),
        data={"folder_name": "x", "csrf_token": "z" * 43},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    assert await value(instance, "SELECT count(*) FROM file_versions") == 1
    assert await value(instance, "SELECT count(*) FROM file_folders") == 0
