"""Client-to-server publishing (ActivityPub section 6) and the inbox's handling of bad input."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from harness import Instance, settle

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP = "application/activity+json"


async def _people(*pairs: tuple[Instance, str]) -> None:
    for instance, name in pairs:
        await instance.runtime.actors.create_person(name, "correct horse battery")


async def _count(instance: Instance, query: str, *args: Any) -> int:
    async with instance.runtime.pool.acquire() as conn:
        count: int = await conn.fetchval(query, *args)
        return count


async def test_like_announce_and_undo_reach_the_author(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await _people((a, "alice"), (b, "bob"))
    await a.publish("alice", {"type": "Follow", "object": b.url("/users/bob")})
    await settle(a, b)
    note = {"type": "Note", "content": "<p>lees dit</p>", "to": [PUBLIC]}
    post = await b.publish("bob", {**note, "cc": [b.url("/users/bob/followers")]})
    await settle(a, b)
    object_id = post["object"]["id"]
    like = await a.publish("alice", {"type": "Like", "object": object_id})
    boost = await a.publish("alice", {"type": "Announce", "object": object_id})
    assert like["to"] == [b.url("/users/bob")]
    assert PUBLIC in boost["to"]
    await settle(a, b)
    kept = "SELECT count(*) FROM activities WHERE uri = $1 AND undone_at IS NULL"
    assert await _count(b, kept, like["id"]) == 1
    assert await _count(b, kept, boost["id"]) == 1
    await a.publish("alice", {"type": "Undo", "object": like["id"]})
    await settle(a, b)
    assert await _count(b, kept, like["id"]) == 0


async def test_outbox_assigns_ids_and_sanitises(
    instance: Instance, http: aiohttp.ClientSession
) -> None:
    await _people((instance, "alice"))
    created = await instance.publish(
        "alice",
        {
            "type": "Note",
            "id": "https://evil.example/forged",
            "attributedTo": "https://evil.example/users/mallory",
            "content": '<p onclick="x()">hoi<script>alert(1)</script></p>',
            "to": [PUBLIC],
        },
    )
    obj = created["object"]
    assert obj["id"].startswith(instance.url("/objects/"))
    assert obj["attributedTo"] == instance.url("/users/alice")
    assert obj["content"] == "<p>hoi</p>"
    # The public outbox lists it, newest first (authorized fetch off would not be needed:
    # the owner is not special here, so sign nothing and expect 401 under authorized fetch).
    async with http.get(instance.url("/users/alice/outbox"), headers={"Accept": AP}) as r:
        assert r.status == 401


async def test_the_owner_reads_the_inbox(start_instance: Any, http: aiohttp.ClientSession) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await _people((a, "alice"), (b, "bob"))
    await b.publish("bob", {"type": "Follow", "object": a.url("/users/alice")})
    await settle(a, b)
    token = await a.runtime.actors.issue_token("alice")
    async with http.get(
        a.url("/users/alice/inbox?page=true"),
        headers={"Accept": AP, "Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 200
        page = await r.json(content_type=None)
    assert [item["type"] for item in page["orderedItems"]] == ["Follow"]
    async with http.get(a.url("/users/alice/inbox"), headers={"Accept": AP}) as r:
        assert r.status == 401


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, b'{"type": "Note"}', 401),  # no token
        ({"Authorization": "Bearer wrong"}, b'{"type": "Note"}', 401),
        ("other", b'{"type": "Note"}', 403),  # someone else's token
        ("own", b"{not json", 400),
        ("own", b"[1, 2]", 400),
        ("own", b'{"type": "Flag", "object": "x"}', 422),
        ("own", b'{"content": "no type"}', 400),
        ("own", b'{"type": "Create", "object": "https://x.example/1"}', 422),
        ("own", b'{"type": "Delete", "object": "https://x.example/not-ours"}', 404),
        ("own", b'{"type": "Undo", "object": "https://x.example/not-ours"}', 404),
    ],
)
async def test_bad_outbox_requests_are_refused_and_store_nothing(
    instance: Instance,
    http: aiohttp.ClientSession,
    headers: dict[str, str] | str,
    body: bytes,
    status: int,
) -> None:
    await _people((instance, "alice"), (instance, "bob"))
    if headers == "own":
        headers = {"Authorization": f"Bearer {await instance.runtime.actors.issue_token('alice')}"}
    elif headers == "other":
        headers = {"Authorization": f"Bearer {await instance.runtime.actors.issue_token('bob')}"}
    assert isinstance(headers, dict)
    async with http.post(
        instance.url("/users/alice/outbox"), data=body, headers={**headers, "Content-Type": AP}
    ) as r:
        assert r.status == status, await r.text()
        assert "error" in await r.json()
    assert await _count(instance, "SELECT count(*) FROM activities") == 0
    assert await _count(instance, "SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'"a string"', 400),
        (b'{"type": "Create"}', 400),  # no id, no actor
        (b'{"id": "x", "type": "Create", "actor": "https://remote.example/u"}', 401),  # unsigned
        (b"x" * (1024 * 1024 + 1), 413),
    ],
)
async def test_bad_inbox_posts_get_a_clear_4xx_and_store_nothing(
    instance: Instance, http: aiohttp.ClientSession, body: bytes, status: int
) -> None:
    async with http.post(
        instance.url("/inbox"), data=io.BytesIO(body), headers={"Content-Type": AP}
    ) as r:
        assert r.status == status
    assert await _count(instance, "SELECT count(*) FROM inbox_activities") == 0
