"""WebFinger, NodeInfo and host-meta against a real instance over loopback HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import jsonschema
import pytest
from harness import Instance

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "nodeinfo-2.1.schema.json").read_text())


@pytest.fixture
async def populated(instance: Instance) -> Instance:
    actors = instance.runtime.actors
    await actors.create_person("alice", "correct horse battery", display_name="Alice")
    await actors.create_group("water", owner="alice", title="Waterbeheer", themes=["water"])
    return instance


@pytest.mark.parametrize(("name", "path"), [("alice", "/users/alice"), ("water", "/groups/water")])
async def test_webfinger_acct(
    populated: Instance, http: aiohttp.ClientSession, name: str, path: str
) -> None:
    resource = f"acct:{name}@{populated.domain}"
    async with http.get(
        populated.url("/.well-known/webfinger"), params={"resource": resource}
    ) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/jrd+json")
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        jrd = await r.json(content_type=None)
    assert jrd["subject"] == resource
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link == {
        "rel": "self",
        "type": "application/activity+json",
        "href": populated.url(path),
    }


async def test_webfinger_by_actor_url_and_case(
    populated: Instance, http: aiohttp.ClientSession
) -> None:
    for resource in (populated.url("/users/alice"), f"acct:ALICE@{populated.domain}"):
        async with http.get(
            populated.url("/.well-known/webfinger"), params={"resource": resource}
        ) as r:
            assert r.status == 200
            assert (await r.json(content_type=None))["subject"] == f"acct:alice@{populated.domain}"


async def test_webfinger_instance_actor(populated: Instance, http: aiohttp.ClientSession) -> None:
    resource = f"acct:{populated.domain}@{populated.domain}"
    async with http.get(
        populated.url("/.well-known/webfinger"), params={"resource": resource}
    ) as r:
        assert r.status == 200
        assert (await r.json(content_type=None))["aliases"] == [populated.url("/actor")]


@pytest.mark.parametrize(
    "resource",
    [
        None,
        "",
        "alice",
        "acct:",
        "acct:alice",
        "acct:@host",
        "acct:a@b@c",
        "mailto:x@y",
        "acct:a b@c",
    ],
)
async def test_webfinger_malformed_is_400(
    populated: Instance, http: aiohttp.ClientSession, resource: str | None
) -> None:
    params = {} if resource is None else {"resource": resource}
    async with http.get(populated.url("/.well-known/webfinger"), params=params) as r:
        assert r.status == 400
        assert "error" in await r.json()


@pytest.mark.parametrize(
    "resource",
    [
        "acct:nobody@{domain}",
        "acct:alice@other.example",
        "acct:../etc@{domain}",
        "https://other.example/users/alice",
        "{base}/users/nobody",
    ],
)
async def test_webfinger_unknown_is_404(
    populated: Instance, http: aiohttp.ClientSession, resource: str
) -> None:
    resource = resource.format(domain=populated.domain, base=populated.base_url)
    async with http.get(
        populated.url("/.well-known/webfinger"), params={"resource": resource}
    ) as r:
        assert r.status == 404


async def test_nodeinfo_matches_published_schema(
    populated: Instance, http: aiohttp.ClientSession
) -> None:
    async with http.get(populated.url("/.well-known/nodeinfo")) as r:
        links = (await r.json())["links"]
    href = next(link["href"] for link in links if link["rel"].endswith("/schema/2.1"))
    assert any(link["href"] == populated.url("/actor") for link in links)  # FEP-2677
    async with http.get(href) as r:
        assert r.status == 200
        document = await r.json(content_type=None)
    jsonschema.validate(document, SCHEMA)
    assert document["software"]["name"] == "federatie"
    assert document["usage"]["users"]["total"] == 1  # groups and the organisation are no users
    assert document["openRegistrations"] is False


async def test_host_meta(populated: Instance, http: aiohttp.ClientSession) -> None:
    async with http.get(populated.url("/.well-known/host-meta")) as r:
        assert r.status == 200
        assert "/.well-known/webfinger?resource={uri}" in await r.text()


async def test_health_probes(instance: Instance, http: aiohttp.ClientSession) -> None:
    for path in ("/healthz", "/readyz"):
        async with http.get(instance.url(path)) as r:
            assert r.status == 200, path
