"""Files across real instances: a group's files reach its members' servers, are verified
against their digest, cached, served while the origin is down, updated and deleted.

The group lives on B; alice on A is a member; C hosts a person who is in no group. Jobs are
drained with `settle`, never slept on.
"""

from __future__ import annotations

import io
import os
from typing import Any

import aiohttp
import pytest
from files_support import PASSWORD, digest_of, get, key_of, sha256, token, upload
from harness import Instance, settle

from federatie.activitypub.files import digest_multibase
from federatie.domain.actors import GroupKind
from federatie.errors import NotFound
from federatie.federation.http import HttpStatusError

AP = "application/activity+json"


async def value(instance: Instance, query: str, *args: Any) -> Any:
    async with instance.runtime.pool.acquire() as conn:
        return await conn.fetchval(query, *args)


async def lookup(instance: Instance, object_id: str, who: str | None = None) -> Any:
    tok = await token(instance, who) if who else None
    return await get(instance.url(f"/files/remote?object={object_id}"), tok)


async def test_a_group_file_reaches_members_servers_and_survives_its_origin(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await b.runtime.actors.create_person("owner", PASSWORD)
    await b.runtime.actors.create_group("water", owner="owner", title="Waterbeheer")
    group = b.url("/groups/water")
    await a.publish("alice", {"type": "Follow", "object": group})
    await settle(a, b)

    owner = await token(b, "owner")
    big = os.urandom(5 * 1000 * 1000)
    report = (await upload(b.url("/groups/water/files"), owner, big, "meetdata.bin")).json()
    notes = (await upload(b.url("/groups/water/files"), owner, b"versie 1\n", "plan.txt")).json()
    await settle(a, b)

    # A keeps the metadata and the bytes, checked against the digest B published.
    found = await lookup(a, report["id"])
    assert found.status == 200, found.body
    info = found.json()
    assert info["cached"] is True
    assert info["size"] == len(big)
    assert info["digestMultibase"] == report["digestMultibase"]
    assert info["origin"] == report["url"]["href"]
    copy = await get(info["id"])
    assert copy.status == 200
    assert copy.body == big and sha256(copy.body) == digest_of(report)
    assert copy.headers["ETag"] == f'"{sha256(big)}"'
    assert copy.headers["X-Content-Type-Options"] == "nosniff"
    ranged = await get(info["id"], Range="bytes=1000-1999")
    assert ranged.status == 206 and ranged.body == big[1000:2000]
    on_a = await value(a, "SELECT group_id FROM objects WHERE uri = $1", report["id"])
    assert on_a == await value(a, "SELECT id FROM actors WHERE uri = $1", group)
    notes_on_a = (await lookup(a, notes["id"])).json()

    # B goes down: A still serves its copy.
    await b.stop()
    while_down = await get(info["id"])
    assert while_down.status == 200 and while_down.body == big
    assert (await get(notes_on_a["id"])).body == b"versie 1\n"

    b = await start_instance(like=b)
    # A new version is an Update: A fetches and verifies the new bytes, drops the old ones.
    second = await upload(b.url(f"/files/{key_of(notes)}"), owner, b"versie 2\n", "plan.txt")
    assert second.status == 201, second.body
    await settle(a, b)
    updated = (await lookup(a, notes["id"])).json()
    assert updated["version"] == 2 and updated["cached"] is True
    assert (await get(updated["id"])).body == b"versie 2\n"
    assert not await a.runtime.files.blobs.exists(sha256(b"versie 1\n"))

    # Deleted on B: gone on A, bytes and all.
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            b.url(f"/files/{key_of(report)}"), headers={"Authorization": f"Bearer {owner}"}
        ) as r,
    ):
        assert r.status == 204
    await settle(a, b)
    assert (await lookup(a, report["id"])).status == 404
    assert (await get(info["id"])).status == 404
    assert not await a.runtime.files.blobs.exists(sha256(big))
    deleted = await value(a, "SELECT deleted_at FROM objects WHERE uri = $1", report["id"])
    assert deleted is not None
    assert (await get(updated["id"])).status == 200  # the other file stays


async def test_a_persons_file_reaches_their_followers(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await b.runtime.actors.create_person("bob", PASSWORD)
    await b.publish("bob", {"type": "Follow", "object": a.url("/users/alice")})
    await settle(a, b)
    data = os.urandom(3000)
    reply = await upload(a.url("/users/alice/files"), await token(a, "alice"), data, "x.bin")
    document = reply.json()
    await settle(a, b)
    info = (await lookup(b, document["id"])).json()
    assert info["cached"] is True and info["name"] == "x.bin"
    assert (await get(info["id"])).body == data
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            a.url(f"/files/{key_of(document)}"),
            headers={"Authorization": f"Bearer {await token(a, 'alice')}"},
        ) as r,
    ):
        assert r.status == 204
    await settle(a, b)
    assert (await get(info["id"])).status == 404
    assert b.runtime.files.blobs.count() == 0  # type: ignore[attr-defined]


async def test_files_over_the_cache_limit_are_kept_as_metadata_and_redirected(
    start_instance: Any,
) -> None:
    a = await start_instance("a", FEDERATIE_CACHE_REMOTE_FILES_BYTES="1000")
    b = await start_instance("b")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await b.runtime.actors.create_person("owner", PASSWORD)
    await b.runtime.actors.create_group("water", owner="owner")
    await a.publish("alice", {"type": "Follow", "object": b.url("/groups/water")})
    await settle(a, b)
    owner = await token(b, "owner")
    document = (
        await upload(b.url("/groups/water/files"), owner, os.urandom(5000), "groot.bin")
    ).json()
    await settle(a, b)
    info = (await lookup(a, document["id"])).json()
    assert info["cached"] is False and a.runtime.files.blobs.count() == 0  # type: ignore[attr-defined]
    redirected = await get(info["id"])
    assert redirected.status == 302
    assert redirected.headers["Location"] == document["url"]["href"]


async def test_a_tampered_copy_is_not_kept(start_instance: Any) -> None:
    """A's copy must match the digest in the Document: here the bytes change on B's disk
    after publication (as a compromised or broken store would), and A keeps nothing."""
    a = await start_instance("a")
    b = await start_instance("b")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await b.runtime.actors.create_person("owner", PASSWORD)
    await b.runtime.actors.create_group("water", owner="owner")
    await a.publish("alice", {"type": "Follow", "object": b.url("/groups/water")})
    await settle(a, b)
    owner = await token(b, "owner")
    data = b"de echte inhoud\n"
    document = (await upload(b.url("/groups/water/files"), owner, data, "echt.txt")).json()
    path = b.runtime.files.blobs.path(sha256(data))  # type: ignore[attr-defined]
    path.write_bytes(b"de valse inhoud\n")
    await settle(a, b)
    info = (await lookup(a, document["id"])).json()
    assert info["cached"] is False
    assert a.runtime.files.blobs.count() == 0  # type: ignore[attr-defined]
    assert a.runtime.files.staging.pending() == []


async def test_members_only_files_are_refused_to_everyone_else(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    c = await start_instance("c")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await a.runtime.actors.create_person("dave", PASSWORD)  # on a member's server, no member
    await b.runtime.actors.create_person("owner", PASSWORD)
    await b.runtime.actors.create_person("bystander", PASSWORD)
    await c.runtime.actors.create_person("carol", PASSWORD)
    await b.runtime.actors.create_group("dossier", owner="owner", kind=GroupKind.MEMBERS_ONLY)
    group = b.url("/groups/dossier")
    await a.publish("alice", {"type": "Follow", "object": group})
    await settle(a, b, c)
    await b.runtime.groups.decide("owner", "dossier", a.url("/users/alice"), accept=True)
    await settle(a, b, c)

    owner = await token(b, "owner")
    secret = b"vertrouwelijk: de onderhandelingsruimte is 4 miljoen\n"
    document = (await upload(b.url("/groups/dossier/files"), owner, secret, "ruimte.txt")).json()
    public = "https://www.w3.org/ns/activitystreams#Public"
    assert public not in document["to"] + document["cc"]
    await settle(a, b, c)

    # A, which hosts a member, fetched the bytes with a signed request and keeps them.
    info = (await lookup(a, document["id"], "alice")).json()
    assert info["cached"] is True
    assert (await get(info["id"], await token(a, "alice"))).body == secret

    file_url = b.url(f"/files/{key_of(document)}")
    # On B: unsigned, a local non-member's token, and C's signed fetch are all refused.
    for attempt in (
        await get(file_url),
        await get(document["url"]["href"]),
        await get(file_url, await token(b, "bystander")),
        await get(b.url("/groups/dossier/files?page=true"), Accept=AP),
    ):
        assert attempt.status in (401, 404), attempt.status
        assert secret not in attempt.body
    c_key = await c.runtime.keys.signing_key(c.runtime.instance_actor.id)
    sink = io.BytesIO()
    with pytest.raises(HttpStatusError) as refused:
        await c.runtime.transport.download(file_url, sink, c_key, max_bytes=10_000)
    assert refused.value.upstream_status == 404 and sink.getvalue() == b""
    with pytest.raises(NotFound):  # the Document itself, too
        await c.runtime.fetch_object(document["id"])
    # A's instance signs too: that is exactly what may read it.
    a_key = await a.runtime.keys.signing_key(a.runtime.instance_actor.id)
    allowed = io.BytesIO()
    await a.runtime.transport.download(file_url, allowed, a_key, max_bytes=10_000)
    assert allowed.getvalue() == secret

    # On A: only the member; not dave, not anonymous.
    for who in (None, "dave"):
        assert (await lookup(a, document["id"], who)).status == 404, who
        refused_copy = await get(info["id"], await token(a, who) if who else None)
        assert refused_copy.status == 404 and secret not in refused_copy.body, who
    # C never received anything of it.
    assert await value(c, "SELECT count(*) FROM objects") == 0
    assert await value(c, "SELECT count(*) FROM files") == 0

    # A refused upload stores nothing: not a member.
    files_before = await value(b, "SELECT count(*) FROM files")
    blobs_before = b.runtime.files.blobs.count()  # type: ignore[attr-defined]
    refused_upload = await upload(
        b.url("/groups/dossier/files"), await token(b, "bystander"), b"ongevraagd", "x.txt"
    )
    assert refused_upload.status == 403
    assert await value(b, "SELECT count(*) FROM files") == files_before
    assert b.runtime.files.blobs.count() == blobs_before  # type: ignore[attr-defined]
    assert b.runtime.files.staging.pending() == []


async def test_another_softwares_file_object_and_its_authors_deletion(
    start_instance: Any, foreign: Any
) -> None:
    """A FEP-1311 Image from another server: kept as metadata; its URL answers 404, so
    nothing is cached; when the author's account is deleted, the file goes."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", PASSWORD)
    await a.runtime.actors.create_person("dave", PASSWORD)
    alice = a.url("/users/alice")
    mastodon = await foreign("mastodon")
    mallory = mastodon.add_actor("mallory")
    image = {
        "id": mastodon.url("/users/mallory/files/1"),
        "type": "Image",
        "name": "kaart.png",
        "mediaType": "image/png",
        "url": mastodon.url("/system/media/kaart.png"),
        "digestMultibase": digest_multibase(sha256(b"pixels")),
        "size": 6,
        "attributedTo": mallory.id,
        "to": [alice],
    }
    create = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": mastodon.url("/users/mallory/files/1/activity"),
        "type": "Create",
        "actor": mallory.id,
        "object": image,
        "to": [alice],
    }
    status, _ = await mastodon.deliver(mallory, a.url("/inbox"), create)
    assert status == 202
    await settle(a)
    info = await lookup(a, image["id"], "alice")  # addressed to her
    assert info.status == 200, info.body
    assert info.json()["cached"] is False and info.json()["mediaType"] == "image/png"
    assert any(f.path == "/system/media/kaart.png" for f in mastodon.fetches)
    assert (await lookup(a, image["id"], "dave")).status == 404
    assert (await lookup(a, image["id"])).status == 404

    status, _ = await mastodon.deliver(
        mallory, a.url("/inbox"), mastodon.delete(mallory, mallory.id)
    )
    assert status == 202
    await settle(a)
    assert await value(a, "SELECT count(*) FROM files") == 0
