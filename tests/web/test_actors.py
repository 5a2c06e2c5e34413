"""Actor documents, content negotiation and collection paging over real HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from harness import Instance

from federatie.domain.actors import GroupKind

AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}


@pytest.fixture
async def populated(start_instance: Any) -> Instance:
    # Authorized fetch off: these tests read collections without signing.
    instance: Instance = await start_instance("a", FEDERATIE_AUTHORIZED_FETCH="false")
    actors = instance.runtime.actors
    await actors.create_person("alice", "correct horse battery", display_name="Alice")
    await actors.create_group(
        "water",
        owner="alice",
        title="Waterbeheer",
        themes=["water", "klimaat"],
        description="Samen werken aan water.",
    )
    await actors.create_group("besloten", owner="alice", kind=GroupKind.CLOSED)
    return instance


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with http.get(url, headers=headers) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Vary"] == "Accept"
        doc: dict[str, Any] = await r.json(content_type=None)
        return doc


@pytest.mark.parametrize(
    ("path", "type_"),
    [("/users/alice", "Person"), ("/groups/water", "Group"), ("/actor", "Organization")],
)
async def test_actor_documents(
    populated: Instance, http: aiohttp.ClientSession, path: str, type_: str
) -> None:
    url = populated.url(path)
    doc = await _get(http, url, AP)
    assert doc["id"] == url
    assert doc["type"] == type_
    assert "https://www.w3.org/ns/activitystreams" in doc["@context"]
    assert "https://w3id.org/security/v1" in doc["@context"]
    for key in ("inbox", "outbox", "followers", "following"):
        assert doc[key].startswith(url + "/")
    assert doc["endpoints"]["sharedInbox"] == populated.url("/inbox")
    assert doc["publicKey"]["owner"] == url
    assert doc["publicKey"]["id"] == url + "#main-key"
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    method = doc["assertionMethod"][0]
    assert method["type"] == "Multikey" and method["controller"] == url
    assert method["publicKeyMultibase"].startswith("z6Mk")  # Ed25519 multikey prefix
    assert isinstance(doc["manuallyApprovesFollowers"], bool)
    assert doc["published"].endswith("Z")


async def test_group_document_shape(populated: Instance, http: aiohttp.ClientSession) -> None:
    doc = await _get(http, populated.url("/groups/water"), LD)
    moderators = populated.url("/groups/water/moderators")
    assert doc["attributedTo"] == moderators == doc["moderators"]
    assert doc["name"] == "Waterbeheer"
    assert doc["manuallyApprovesFollowers"] is False
    assert {t["name"] for t in doc["tag"]} == {"#water", "#klimaat"}
    closed = await _get(http, populated.url("/groups/besloten"), AP)
    assert closed["manuallyApprovesFollowers"] is True
    staff = await _get(http, moderators, AP)
    assert staff["orderedItems"] == [populated.url("/users/alice")]


async def test_ld_json_gets_ld_content_type(
    populated: Instance, http: aiohttp.ClientSession
) -> None:
    async with http.get(populated.url("/users/alice"), headers=LD) as r:
        assert r.headers["Content-Type"].startswith("application/ld+json")


async def test_browser_gets_html(populated: Instance, http: aiohttp.ClientSession) -> None:
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with http.get(populated.url("/groups/water"), headers=headers) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/html")
        body = await r.text()
    assert "<html lang=" in body and "Waterbeheer" in body


@pytest.mark.parametrize(
    "path",
    [
        "/users/nobody",
        "/groups/alice",
        "/users/water",
        "/users/ALICE%2F..",
        "/users/a%00b",
        "/users/" + "x" * 300,
    ],
)
async def test_unknown_or_invalid_actor_is_404(
    populated: Instance, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(populated.url(path), headers=AP) as r:
        assert r.status == 404
        assert "error" in await r.json()


async def test_followers_collection_paging(
    populated: Instance, http: aiohttp.ClientSession
) -> None:
    runtime = populated.runtime
    async with runtime.pool.acquire() as conn:
        group_id = await conn.fetchval("SELECT id FROM actors WHERE username = 'water'")
        for n in range(45):
            uri = f"https://remote.example/users/u{n}"
            actor_id = await conn.fetchval(
                """INSERT INTO actors (uri, type, local, username, host, inbox)
                   VALUES ($1, 'Person', false, $2, 'remote.example', $1 || '/inbox')
                   RETURNING id""",
                uri,
                f"u{n}",
            )
            await conn.execute(
                "INSERT INTO follows (follower_id, followed_id, state) VALUES ($1, $2, 'accepted')",
                actor_id,
                group_id,
            )
    url = populated.url("/groups/water/followers")
    collection = await _get(http, url, AP)
    assert collection["type"] == "OrderedCollection"
    assert collection["totalItems"] == 45
    seen: list[str] = []
    page_url = collection["first"]
    pages: list[dict[str, Any]] = []
    while page_url:
        page = await _get(http, page_url, AP)
        assert page["type"] == "OrderedCollectionPage" and page["partOf"] == url
        pages.append(page)
        seen.extend(page["orderedItems"])
        page_url = page.get("next")
    assert len(pages) == 3  # 20 + 20 + 5
    assert seen == [f"https://remote.example/users/u{n}" for n in reversed(range(45))]
    back = await _get(http, pages[1]["prev"], AP)
    assert back["orderedItems"] == pages[0]["orderedItems"]
    capped = await _get(http, url + "?page=true&limit=100000", AP)
    assert len(capped["orderedItems"]) == 45  # capped at 80, fewer exist


@pytest.mark.parametrize("query", ["?max_id=abc", "?limit=-1", "?min_id=1.5"])
async def test_bad_paging_parameters_are_400(
    populated: Instance, http: aiohttp.ClientSession, query: str
) -> None:
    async with http.get(populated.url("/users/alice/followers" + query), headers=AP) as r:
        assert r.status == 400


async def test_actor_documents_expand_offline_with_shipped_contexts(
    populated: Instance, http: aiohttp.ClientSession
) -> None:
    from federatie.activitypub import jsonld

    for path in ("/users/alice", "/groups/water", "/actor"):
        doc = await _get(http, populated.url(path), AP)
        expanded = jsonld.expand(doc)  # the offline loader: an unknown context would raise
        node = expanded[0]
        assert node["@id"] == populated.url(path)
        assert "https://w3id.org/security#publicKey" in node
        assert "https://w3id.org/security#assertionMethod" in node
