"""Files on one real instance: upload, serving, limits, names, metadata stripping, access.

Every request goes over real HTTP to a real Federatie on 127.0.0.1; bytes land in the real
blob store under the instance's data directory, rows in its PostgreSQL database.
"""

from __future__ import annotations

import io
import os
from email.utils import format_datetime
from typing import Any

import aiohttp
import orjson
import pytest
from files_support import (
    PASSWORD,
    Part,
    digest_of,
    get,
    jpeg_with_gps,
    key_of,
    multipart,
    png_with_text,
    sha256,
    token,
    upload,
)
from harness import Instance, settle
from PIL import Image

from federatie.domain.actors import GroupKind
from federatie.storage import files as files_sql

AP = "application/activity+json"


async def value(instance: Instance, query: str, *args: Any) -> Any:
    async with instance.runtime.pool.acquire() as conn:
        return await conn.fetchval(query, *args)


async def group_instance(
    start_instance: Any, kind: GroupKind = GroupKind.OPEN, **settings: str
) -> tuple[Instance, dict[str, str]]:
    """An instance with a group `water` owned by `owner`, joined by `member`; `stranger` and
    `other` are people who are not in it. Returns the instance and everyone's tokens."""
    a: Instance = await start_instance("a", FEDERATIE_AUTHORIZED_FETCH="false", **settings)
    for name in ("owner", "member", "stranger", "other"):
        await a.runtime.actors.create_person(name, PASSWORD)
    await a.runtime.actors.create_group("water", owner="owner", kind=kind)
    await a.publish("member", {"type": "Follow", "object": a.url("/groups/water")})
    await settle(a)
    if kind is not GroupKind.OPEN:
        await a.runtime.groups.decide("owner", "water", a.url("/users/member"), accept=True)
        await settle(a)
    tokens = {name: await token(a, name) for name in ("owner", "member", "stranger", "other")}
    return a, tokens


async def stored_nothing(a: Instance, files_before: int, blobs_before: int) -> None:
    assert await value(a, "SELECT count(*) FROM files") == files_before
    assert a.runtime.files.blobs.count() == blobs_before  # type: ignore[attr-defined]
    assert a.runtime.files.staging.pending() == []


# ----------------------------------------------------------------------------- upload, serve


async def test_upload_to_a_group_and_serve_with_safe_headers(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    text = b"Notulen van de vergadering\nAanwezig: iedereen\n"
    reply = await upload(
        a.url("/groups/water/files"), tokens["member"], text, "notulen.txt", claimed_type="x/y"
    )
    assert reply.status == 201, reply.body
    document = reply.json()
    assert reply.headers["Location"] == document["id"]
    assert document["type"] == "Document"
    assert document["mediaType"] == "text/plain"
    assert document["name"] == "notulen.txt"
    assert document["size"] == len(text)
    assert digest_of(document) == sha256(text)
    assert document["digestMultibase"].startswith("zQm")
    assert document["attributedTo"] == a.url("/users/member")
    assert document["audience"] == a.url("/groups/water")
    assert a.url("/groups/water") in document["to"]
    assert document["url"]["href"] == a.url(f"/files/{key_of(document)}/versions/1")

    served = await get(a.url(f"/files/{key_of(document)}"))
    assert served.status == 200
    assert served.body == text
    assert served.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert served.headers["ETag"] == f'"{sha256(text)}"'
    assert served.headers["Last-Modified"].endswith("GMT")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.headers["Content-Disposition"].startswith('inline; filename="notulen.txt"')
    assert served.headers["Accept-Ranges"] == "bytes"
    versioned = await get(document["url"]["href"])
    assert versioned.body == text
    assert "immutable" in versioned.headers["Cache-Control"]

    # The Document is an object like any other, and the group relayed the uploader's Create.
    async with (
        aiohttp.ClientSession() as http,
        http.get(document["id"], headers={"Accept": AP}) as r,
    ):
        assert r.status == 200
        assert (await r.json(content_type=None))["digestMultibase"] == document["digestMultibase"]
    create = await value(
        a,
        "SELECT document FROM activities WHERE type = 'Create' AND object_uri = $1",
        document["id"],
    )
    assert create["actor"] == a.url("/users/member")
    announced = await value(
        a,
        """SELECT count(*) FROM activities WHERE type = 'Announce' AND actor_id =
           (SELECT id FROM actors WHERE uri = $1) AND document->'object'->>'id' = $2""",
        a.url("/groups/water"),
        create["id"],
    )
    assert announced == 1
    await settle(a)  # the Announce reaches the member here without looping


async def test_uploads_take_50_mib_while_the_inbox_keeps_1_mib(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    big = os.urandom(5 * 1024 * 1024)
    reply = await upload(a.url("/groups/water/files"), tokens["member"], big, "data.bin")
    assert reply.status == 201, reply.body
    assert reply.json()["mediaType"] == "application/octet-stream"
    served = await get(a.url(f"/files/{key_of(reply.json())}"))
    assert served.body == big
    assert served.headers["Content-Disposition"].startswith("attachment")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            a.url("/inbox"),
            data=io.BytesIO(b"{" + b" " * (2 * 1024 * 1024) + b"}"),
            headers={"Content-Type": AP},
        ) as r,
    ):
        assert r.status == 413


async def test_range_requests_and_revalidation(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    data = bytes(range(256)) * 40  # 10240 bytes
    document = (await upload(a.url("/groups/water/files"), tokens["member"], data)).json()
    url = a.url(f"/files/{key_of(document)}")
    etag = f'"{sha256(data)}"'

    first = await get(url, Range="bytes=0-99")
    assert first.status == 206
    assert first.body == data[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(data)}"
    assert first.headers["Content-Length"] == "100"
    middle = await get(url, Range="bytes=5000-5009")
    assert middle.status == 206 and middle.body == data[5000:5010]
    tail = await get(url, Range="bytes=-16")
    assert tail.status == 206 and tail.body == data[-16:]
    open_ended = await get(url, Range="bytes=10000-")
    assert open_ended.status == 206 and open_ended.body == data[10000:]
    beyond = await get(url, Range=f"bytes={len(data)}-")
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    several = await get(url, Range="bytes=0-1,5-6")  # multipart/byteranges: we send it all
    assert several.status == 200 and several.body == data
    # If-Range: a range only while the file is still the one the client has.
    assert (await get(url, Range="bytes=0-9", If_Range=etag)).status == 206
    stale = await get(url, Range="bytes=0-9", If_Range='"0000"')
    assert stale.status == 200 and stale.body == data

    full = await get(url)
    assert full.headers["ETag"] == etag
    not_modified = await get(url, If_None_Match=etag)
    assert not_modified.status == 304 and not_modified.body == b""
    assert not_modified.headers["ETag"] == etag
    assert (await get(url, If_None_Match='"other", ' + etag)).status == 304
    assert (await get(url, If_None_Match='"other"')).status == 200
    since = await get(url, If_Modified_Since=full.headers["Last-Modified"])
    assert since.status == 304
    earlier = format_datetime(
        (await value(a, "SELECT min(created_at) FROM file_versions")).replace(year=2001),
        usegmt=True,
    )
    assert (await get(url, If_Modified_Since=earlier)).status == 200


# ----------------------------------------------------------------------------- limits


async def test_size_limit_and_group_quota_refuse_with_413_and_store_nothing(
    start_instance: Any,
) -> None:
    a, tokens = await group_instance(
        start_instance, FEDERATIE_MAX_UPLOAD_BYTES="1000", FEDERATIE_GROUP_QUOTA_BYTES="2500"
    )
    url = a.url("/groups/water/files")
    too_big = await upload(url, tokens["member"], os.urandom(1001))
    assert too_big.status == 413, too_big.body
    await stored_nothing(a, 0, 0)
    # A body far beyond the cap (declared Content-Length) is refused before it is read.
    huge = await upload(url, tokens["member"], os.urandom(2 * 1024 * 1024))
    assert huge.status == 413
    await stored_nothing(a, 0, 0)

    for _ in range(2):
        assert (await upload(url, tokens["member"], os.urandom(1000))).status == 201
    blobs = a.runtime.files.blobs.count()  # type: ignore[attr-defined]
    over_quota = await upload(url, tokens["member"], os.urandom(1000))
    assert over_quota.status == 413
    assert "2000 of 2500" in over_quota.json()["error"]
    await stored_nothing(a, 2, blobs)
    # A person's own space has no group quota.
    assert (
        await upload(a.url("/users/member/files"), tokens["member"], os.urandom(1000))
    ).status == 201


# ----------------------------------------------------------------------------- what a file is


@pytest.mark.parametrize(
    ("content", "name", "served_as"),
    [
        (b"<html><script>alert(document.cookie)</script></html>", "kat.png", "text/html"),
        (b"\n\n  <!DOCTYPE html><p>hoi</p>", "foto.jpg", "text/html"),
        (b"Gewone tekst met <script>alert(1)</script> erin", "leesmij.txt", "text/html"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "a.png",
            "image/svg+xml",
        ),
        (b"<svg onload=alert(1)>", "logo.gif", "image/svg+xml"),
        (b'<?xml version="1.0"?><root/>', "data.pdf", "application/xml"),
    ],
)
async def test_disguised_markup_is_an_attachment_never_an_image(
    start_instance: Any, content: bytes, name: str, served_as: str
) -> None:
    a, tokens = await group_instance(start_instance)
    reply = await upload(
        a.url("/groups/water/files"), tokens["member"], content, name, claimed_type="image/png"
    )
    assert reply.status == 201
    assert reply.json()["mediaType"] == served_as
    served = await get(a.url(f"/files/{key_of(reply.json())}"))
    assert served.headers["Content-Type"].split(";")[0] == served_as
    assert "image/png" not in served.headers["Content-Type"]
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


async def test_file_names_are_sanitised_and_never_reach_the_disk(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    url = a.url("/groups/water/files")
    cases = {
        "../../etc/passwd": "passwd",
        "..\\..\\windows\\system32\\cmd.exe": "cmd.exe",
        "evil\x00name\n.txt": "evilname .txt",
        "rapport\u202eexe.pdf": "rapportexe.pdf",  # a right-to-left override hides the type
        "  ..verborgen  ": "verborgen",
        'a<b>c:"d"|e?.txt': "a_b_c__d__e_.txt",
        "/": "file",
        "x" * 300 + ".docx": "x" * 195 + ".docx",
    }
    for sent, expected in cases.items():
        reply = await upload(url, tokens["member"], sent.encode("utf-8", "replace"), sent)
        assert reply.status == 201, (sent, reply.body)
        assert reply.json()["name"] == expected, sent
        served = await get(a.url(f"/files/{key_of(reply.json())}"))
        disposition = served.headers["Content-Disposition"]
        assert f'filename="{expected}"' in disposition
        assert "\n" not in disposition and "\x00" not in disposition
    # A name given in the `name` field goes through the same rules.
    named = await upload(
        url, tokens["member"], b"x", "x.bin", fields={"name": "../verslag\r\nSet-Cookie: a=b"}
    )
    assert named.json()["name"] == "verslag Set-Cookie_ a=b"
    # On disk there are only digests.
    root = a.config.data_dir / "files" / "sha256"
    names = [p.name for p in root.rglob("*") if p.is_file()]
    assert names and all(len(n) == 64 and int(n, 16) >= 0 for n in names)


async def test_exif_and_other_metadata_are_stripped_from_images(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    original = jpeg_with_gps()
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(0x8825)[2] == (52.0, 5.0, 24.0)  # the GPS position is there
    assert b"Spycam" in original and b"geheim" in original
    reply = await upload(a.url("/groups/water/files"), tokens["member"], original, "vakantie.jpg")
    assert reply.status == 201
    document = reply.json()
    assert document["type"] == "Image" and document["mediaType"] == "image/jpeg"
    assert (document["width"], document["height"]) == (64, 48)
    served = await get(a.url(f"/files/{key_of(document)}"))
    stripped = served.body
    assert served.headers["Content-Disposition"].startswith("inline;")
    assert sha256(stripped) == digest_of(document) != sha256(original)  # what is stored
    after = Image.open(io.BytesIO(stripped))
    assert after.format == "JPEG" and after.size == (64, 48)
    assert dict(after.getexif()) == {}
    assert after.getexif().get_ifd(0x8825) == {}
    for marker in (b"Exif", b"Spycam", b"Firmware", b"geheim"):
        assert marker not in stripped
    # The pixels are still the picture.
    assert after.convert("RGB").getpixel((40, 30))[0] > 150
    thumb = await get(document["preview"]["href"])
    assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.body)).size) <= 320

    # A rotated photo is turned upright before its orientation tag goes.
    rotated = await upload(
        a.url("/groups/water/files"), tokens["member"], jpeg_with_gps(orientation=6), "r.jpg"
    )
    upright = Image.open(io.BytesIO((await get(a.url(f"/files/{key_of(rotated.json())}"))).body))
    assert upright.size == (48, 64) and dict(upright.getexif()) == {}

    png = png_with_text()
    assert b"Location" in png and b"eXIf" in png
    reply = await upload(a.url("/groups/water/files"), tokens["member"], png, "kaart.png")
    served = (await get(a.url(f"/files/{key_of(reply.json())}"))).body
    assert b"Location" not in served and b"eXIf" not in served and b"Spycam" not in served
    assert Image.open(io.BytesIO(served)).mode == "RGBA"


async def test_a_broken_image_is_refused_rather_than_stored_with_its_metadata(
    start_instance: Any,
) -> None:
    a, tokens = await group_instance(start_instance)
    broken = jpeg_with_gps()[:200]  # the header and the EXIF, then nothing
    reply = await upload(a.url("/groups/water/files"), tokens["member"], broken, "kapot.jpg")
    assert reply.status == 422
    await stored_nothing(a, 0, 0)


# ----------------------------------------------------------------------------- who may


async def test_members_only_group_files_only_for_members(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance, GroupKind.MEMBERS_ONLY)
    url = a.url("/groups/water/files")
    secret = b"vertrouwelijk: begroting 2026\n"
    reply = await upload(url, tokens["member"], secret, "begroting.txt")
    assert reply.status == 201
    document = reply.json()
    assert "https://www.w3.org/ns/activitystreams#Public" not in document["to"] + document["cc"]
    file_url = a.url(f"/files/{key_of(document)}")
    for who in (None, "stranger"):
        refused = await get(file_url, tokens[who] if who else None)
        assert refused.status == 404 and secret not in refused.body, who
        assert (await get(document["url"]["href"], tokens[who] if who else None)).status == 404
        listing = await get(url, tokens[who] if who else None, Accept=AP)
        assert listing.status == 404, who
    for who in ("member", "owner"):
        allowed = await get(file_url, tokens[who])
        assert allowed.status == 200 and allowed.body == secret, who
    listing = await get(url + "?page=true", tokens["member"], Accept=AP)
    assert [d["id"] for d in listing.json()["orderedItems"]] == [document["id"]]

    # Refused uploads store nothing: a stranger, no token, a bad token, another's space.
    blobs = a.runtime.files.blobs.count()  # type: ignore[attr-defined]
    for who in ("stranger", None, "nonsense"):
        sent = tokens.get(who or "", who)
        refused_upload = await upload(url, sent, b"ongevraagd", "x.txt")
        assert refused_upload.status in (401, 403), who
    other_space = await upload(a.url("/users/member/files"), tokens["other"], b"x", "x.txt")
    assert other_space.status == 403
    await stored_nothing(a, 1, blobs)
    # Staff need not be members (followers) to add files.
    assert (await upload(url, tokens["owner"], b"agenda", "agenda.txt")).status == 201


# ----------------------------------------------------------------------------- versions, folders


async def test_versions_folders_and_the_files_collection(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            a.url("/groups/water/folders"),
            json={"name": "Notulen/2026"},
            headers={"Authorization": f"Bearer {tokens['member']}"},
        ) as r,
    ):
        assert r.status == 201
        folder = await r.json(content_type=None)
    assert folder["name"] == "2026" and folder["type"] == "OrderedCollection"
    folder_key = folder["id"].rsplit("/", 1)[-1]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            a.url("/groups/water/folders"),
            json={"name": "2026"},
            headers={"Authorization": f"Bearer {tokens['owner']}"},
        ) as r,
    ):
        assert r.status == 409

    url = a.url("/groups/water/files")
    in_folder = (
        await upload(url, tokens["member"], b"versie 1", "plan.txt", fields={"folder": folder_key})
    ).json()
    at_root = (await upload(url, tokens["member"], b"los", "los.txt")).json()
    missing = await upload(url, tokens["member"], b"x", "x.txt", fields={"folder": "nope"})
    assert missing.status == 404

    page = (await get(folder["id"] + "?page=true", Accept=AP)).json()
    assert [d["id"] for d in page["orderedItems"]] == [in_folder["id"]]
    root = (await get(a.url("/groups/water/folders/root?page=true"), Accept=AP)).json()
    assert [d["id"] for d in root["orderedItems"]] == [at_root["id"]]
    everything = (await get(url, Accept=AP)).json()
    assert everything["type"] == "OrderedCollection" and everything["totalItems"] == 2
    listed = (await get(a.url("/groups/water/folders"), Accept=AP)).json()
    assert [(f["name"], f["totalItems"]) for f in listed["orderedItems"]] == [("2026", 1)]

    # A new upload to the same file is its next version, federated as an Update.
    key = key_of(in_folder)
    second = await upload(a.url(f"/files/{key}"), tokens["member"], b"versie 2", "plan-v2.txt")
    assert second.status == 201, second.body
    updated = second.json()
    assert updated["id"] == in_folder["id"]
    assert updated["url"]["href"].endswith(f"/files/{key}/versions/2")
    assert updated["name"] == "plan-v2.txt" and "updated" in updated
    assert (await get(a.url(f"/files/{key}"))).body == b"versie 2"
    assert (await get(a.url(f"/files/{key}/versions/1"))).body == b"versie 1"
    assert (await get(a.url(f"/files/{key}/versions/3"))).status == 404
    update = await value(
        a,
        "SELECT count(*) FROM activities WHERE type = 'Update' AND object_uri = $1",
        updated["id"],
    )
    assert update == 1
    # Only the uploader adds versions (other servers take an Update only from the author).
    assert (await upload(a.url(f"/files/{key}"), tokens["owner"], b"v3", "v3.txt")).status == 403
    async with a.runtime.pool.acquire() as conn:
        file = await files_sql.select_file(conn, key, local=True)
        assert file is not None and file.name == "plan-v2.txt"
    await settle(a)


async def test_identical_bytes_are_stored_once_and_deletion_collects_them(
    start_instance: Any,
) -> None:
    a, tokens = await group_instance(start_instance)
    url = a.url("/groups/water/files")
    data = os.urandom(4096)
    first = (await upload(url, tokens["member"], data, "a.bin")).json()
    second = (await upload(url, tokens["owner"], data, "b.bin")).json()
    store = a.runtime.files.blobs
    assert store.count() == 1  # type: ignore[attr-defined]
    assert await store.exists(sha256(data))

    # Someone else's file: a plain member may not remove it, the group's staff may.
    async with aiohttp.ClientSession() as http:
        async with http.delete(
            a.url(f"/files/{key_of(second)}"),
            headers={"Authorization": f"Bearer {tokens['member']}"},
        ) as r:
            assert r.status == 403
        async with http.delete(
            a.url(f"/files/{key_of(first)}"),
            headers={"Authorization": f"Bearer {tokens['member']}"},
        ) as r:
            assert r.status == 204
    assert await store.exists(sha256(data))  # the other file still uses the bytes
    assert (await get(a.url(f"/files/{key_of(first)}"))).status == 404
    async with aiohttp.ClientSession() as http, http.get(first["id"], headers={"Accept": AP}) as r:
        assert r.status == 410
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            a.url(f"/files/{key_of(second)}"),
            headers={"Authorization": f"Bearer {tokens['owner']}"},
        ) as r,
    ):
        assert r.status == 204
    assert not await store.exists(sha256(data))
    assert store.count() == 0  # type: ignore[attr-defined]

    # The group's staff remove a member's file: that is the group's own Delete.
    third = (await upload(url, tokens["member"], b"weg ermee", "c.txt")).json()
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            a.url(f"/files/{key_of(third)}"), headers={"Authorization": f"Bearer {tokens['owner']}"}
        ) as r,
    ):
        assert r.status == 204
    assert store.count() == 0  # type: ignore[attr-defined]
    by_group = await value(
        a,
        """SELECT count(*) FROM activities x JOIN actors g ON g.id = x.actor_id
           WHERE x.type = 'Delete' AND g.uri = $1 AND x.object_uri = $2""",
        a.url("/groups/water"),
        third["id"],
    )
    assert by_group == 1  # a moderator's removal is the group's own Delete
    await settle(a)


async def test_upload_media_endpoint_of_activitypub(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    async with (
        aiohttp.ClientSession() as http,
        http.get(a.url("/users/member"), headers={"Accept": AP}) as r,
    ):
        endpoint = (await r.json(content_type=None))["endpoints"]["uploadMedia"]
    assert endpoint == a.url("/users/member/files")
    described = orjson.dumps(
        {"type": "Image", "name": "Kaart van de dijk", "audience": a.url("/groups/water")}
    ).decode()
    reply = await upload(
        endpoint, tokens["member"], png_with_text(), "kaart.png", fields={"object": described}
    )
    assert reply.status == 201
    document = reply.json()
    assert reply.headers["Location"] == document["id"]
    assert document["type"] == "Image" and document["name"] == "Kaart van de dijk"
    assert document["audience"] == a.url("/groups/water")  # into the group's file space
    own = (await upload(endpoint, tokens["member"], b"eigen", "eigen.txt")).json()
    assert "audience" not in own
    assert "https://www.w3.org/ns/activitystreams#Public" in own["to"]
    assert own["cc"] == [a.url("/users/member/followers")]
    bad = await upload(endpoint, tokens["member"], b"x", "x.txt", fields={"object": "[1]"})
    assert bad.status == 400
    await stored_nothing(a, 2, a.runtime.files.blobs.count())  # type: ignore[attr-defined]


async def test_one_file_per_upload_and_head_requests(start_instance: Any) -> None:
    a, tokens = await group_instance(start_instance)
    body, content_type = multipart([Part("file", b"een", "1.txt"), Part("extra", b"twee", "2.txt")])
    async with aiohttp.ClientSession() as http:
        async with http.post(
            a.url("/groups/water/files"),
            data=io.BytesIO(body),
            headers={"Content-Type": content_type, "Authorization": f"Bearer {tokens['member']}"},
        ) as r:
            assert r.status == 400
        async with http.post(
            a.url("/groups/water/files"),
            json={"file": "not multipart"},
            headers={"Authorization": f"Bearer {tokens['member']}"},
        ) as r:
            assert r.status == 415
    await stored_nothing(a, 0, 0)
    document = (await upload(a.url("/groups/water/files"), tokens["member"], b"hoofd")).json()
    async with aiohttp.ClientSession() as http, http.head(a.url(f"/files/{key_of(document)}")) as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == "5"
        assert r.headers["ETag"] == f'"{sha256(b"hoofd")}"'
        assert await r.read() == b""
