"""The trust layer end to end: who may speak to our inboxes, who may read our objects, and
with whom we federate at all.

Real Federatie instances and scripted foreign servers (tests/foreign.py) talk real HTTP with
real signatures on 127.0.0.1. Every refusal is shown to store nothing. An autouse guard on the
event loop records every outbound connection and name lookup (and fails any that would leave
loopback in the test process itself), so refusals that must happen before any I/O can be
shown to do so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import re
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from foreign import AS, PUBLIC, ForeignActor, ForeignServer, PreparedRequest, Received
from harness import Instance, settle
from multidict import CIMultiDict
from yarl import URL

from federatie.activitypub.signatures import SigningKey, sign_cavage
from federatie.config import FederationMode
from federatie.domain.policy import DomainList
from federatie.errors import FetchRefused, Forbidden

Start = Callable[..., Awaitable[Instance]]
Foreign = Callable[..., Awaitable[ForeignServer]]
AP_JSON = "application/activity+json"
AP = {"Accept": AP_JSON}


# --------------------------------------------------------------------------- network guard


class NetLog:
    """TCP connects and name lookups the test's event loop was asked to make."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.lookups: list[str] = []

    def mark(self) -> tuple[int, int]:
        return len(self.connects), len(self.lookups)

    def since(self, mark: tuple[int, int]) -> tuple[list[tuple[str, int]], list[str]]:
        return self.connects[mark[0] :], self.lookups[mark[1] :]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
async def net(monkeypatch: pytest.MonkeyPatch) -> NetLog:
    """Record every TCP connect and lookup in this loop; refuse any that would leave loopback.

    Instances, foreign servers and the test's own clients all run in this one loop, so this
    sees every connection any of them tries (PostgreSQL's unix socket is let through).
    """
    loop = asyncio.get_running_loop()
    log = NetLog()
    real_connect = loop.sock_connect
    real_getaddrinfo = loop.getaddrinfo

    async def sock_connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            log.connects.append((str(address[0]), int(address[1])))
            if not _is_loopback(str(address[0])):
                raise ConnectionRefusedError(f"test guard: refused non-loopback {address}")
        await real_connect(sock, address)

    async def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        log.lookups.append(str(host))
        if host not in ("127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no DNS for {host!r}")
        return await real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return log


# --------------------------------------------------------------------------- helpers


async def arrivals(instance: Instance) -> list[str]:
    """Activity ids stored in the instance's `inbox_activities`, oldest first."""
    async with instance.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT activity_uri FROM inbox_activities ORDER BY id")
    return [row["activity_uri"] for row in rows]


async def count_arrivals(instance: Instance, activity_id: str) -> int:
    async with instance.runtime.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM inbox_activities WHERE activity_uri = $1", activity_id
        )
    return count


def fetches_of(server: ForeignServer, url: str) -> list[Received]:
    """The GETs `server` answered for the document at `url` (fragment ignored)."""
    path = URL(url.split("#", 1)[0]).path
    return [r for r in server.fetches if r.path == path]


def public_note(server: ForeignServer, actor: ForeignActor, text: str = "hallo") -> dict[str, Any]:
    return server.note(actor, text, to=[PUBLIC], cc=[actor.followers] if actor.followers else [])


def create(actor: str, activity_id: str | None = None, text: str = "hallo") -> dict[str, Any]:
    """A hand-made Create(Note) by `actor` (any URL, however odd), public."""
    return {
        "@context": AS,
        "id": activity_id or f"{actor}/statuses/{uuid.uuid4().hex}/activity",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "object": {
            "id": f"{actor}/statuses/{uuid.uuid4().hex}",
            "type": "Note",
            "attributedTo": actor,
            "to": [PUBLIC],
            "content": f"<p>{text}</p>",
        },
    }


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def error_of(body: bytes) -> tuple[str, str]:
    doc = orjson.loads(body)
    return doc.get("code", ""), doc.get("error", "")


async def publish(
    http: aiohttp.ClientSession, instance: Instance, username: str, note: dict[str, Any]
) -> dict[str, Any]:
    """Client-to-server: POST `note` to the person's outbox; the created activity."""
    token = await instance.runtime.actors.issue_token(username)
    async with http.post(
        instance.url(f"/users/{username}/outbox"),
        data=orjson.dumps(note),
        headers={"Authorization": f"Bearer {token}", "Content-Type": AP_JSON},
    ) as response:
        assert response.status == 201, await response.text()
        activity: dict[str, Any] = await response.json(content_type=None)
        assert response.headers["Location"] == activity["id"]
    return activity


def cavage_post(
    url: str,
    body: bytes,
    key: SigningKey,
    *,
    algorithm: str | None = "rsa-sha256",
    when: datetime | None = None,
) -> PreparedRequest:
    """A POST signed with `key` by our own signer (Mastodon's shape) at `when`, with the
    `algorithm` label replaced (it is not part of what is signed) or left out."""
    headers: CIMultiDict[str] = CIMultiDict(sign_cavage("POST", url, {}, body, key, when))
    headers["Content-Type"] = AP_JSON
    label = f'algorithm="{algorithm}",' if algorithm is not None else ""
    headers["Signature"] = re.sub(r'algorithm="[^"]*",', label, headers["Signature"])
    return PreparedRequest("POST", url, headers, body)


async def get_status(http: aiohttp.ClientSession, url: str, **headers: str) -> int:
    async with http.get(url, headers={**AP, **headers}) as response:
        return response.status


# --------------------------------------------------------------------------- accepted


async def test_signed_posts_from_another_federatie_instance_are_accepted(
    start_instance: Start, http: aiohttp.ClientSession
) -> None:
    """Federatie to Federatie: the whole pipeline (C2S, fan-out, signed POST, inbox), once
    with draft-cavage (the default) and once with RFC 9421 remembered for the host."""
    a = await start_instance("a")
    b = await start_instance("b")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    await b.runtime.actors.create_person("bob", "correct horse battery")
    alice = a.url("/users/alice")

    follow = await publish(http, b, "bob", {"type": "Follow", "object": alice})
    await settle(a, b)
    assert await count_arrivals(a, follow["id"]) == 1
    async with b.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM deliveries") == 0
        state = await conn.fetchval("SELECT state FROM follows")
        scheme = await conn.fetchval(
            "SELECT signature_scheme FROM remote_hosts WHERE host = $1", a.domain
        )
    assert state == "accepted"  # a's Accept came back: b accepted a's signature too
    assert scheme in (None, "cavage")  # the first knock (cavage) was accepted

    # RFC 9421: make b believe a speaks it; a 401 would make b fall back to cavage and
    # remember that instead, so the stored scheme staying rfc9421 shows a accepted it.
    async with b.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO remote_hosts (host, signature_scheme) VALUES ($1, 'rfc9421')
               ON CONFLICT (host) DO UPDATE SET signature_scheme = 'rfc9421'""",
            a.domain,
        )
    b.runtime.transport._schemes.clear()  # its in-process memory of the scheme
    key = await b.runtime.keys.signing_key((await b.runtime.actors.get("bob")).id)
    note_id = b.url(f"/activities/{uuid.uuid4().hex}")
    body = orjson.dumps(
        {
            "@context": AS,
            "id": note_id,
            "type": "Create",
            "actor": b.url("/users/bob"),
            "to": [alice],
            "object": {
                "id": b.url(f"/objects/{uuid.uuid4().hex}"),
                "type": "Note",
                "attributedTo": b.url("/users/bob"),
                "to": [alice],
                "content": "<p>over RFC 9421</p>",
            },
        }
    )
    inbox = a.url("/users/alice/inbox")
    response = await b.runtime.transport.post(inbox, body, key)
    assert response.status == 202
    async with b.runtime.pool.acquire() as conn:
        scheme = await conn.fetchval(
            "SELECT signature_scheme FROM remote_hosts WHERE host = $1", a.domain
        )
    assert scheme == "rfc9421"
    assert await count_arrivals(a, note_id) == 1
    # The same activity again, to the shared inbox: a duplicate, answered 202, stored once.
    response = await b.runtime.transport.post(a.url("/inbox"), body, key)
    assert response.status == 202
    assert await count_arrivals(a, note_id) == 1

    # Bob's key under the other draft-cavage labels (the label is not signed; the key
    # decides the algorithm): hs2019 and no label at all.
    for algorithm in ("hs2019", None):
        activity = create(b.url("/users/bob"), b.url(f"/activities/{uuid.uuid4().hex}"))
        prepared = cavage_post(inbox, orjson.dumps(activity), key, algorithm=algorithm)
        async with http.post(inbox, data=prepared.body, headers=prepared.headers) as response:
            assert response.status == 202, (algorithm, await response.text())
        assert await count_arrivals(a, activity["id"]) == 1


# (scheme, algorithm label, signer, actor key)
SIGNATURE_VARIANTS = [
    ("cavage", "rsa-sha256", "httpsig", "rsa"),
    ("cavage", "hs2019", "httpsig", "rsa"),
    ("cavage", None, "httpsig", "rsa"),
    ("cavage", "hs2019", "ours", "ed25519"),
    ("rfc9421", None, "ours", "rsa"),
    ("rfc9421", None, "ours", "ed25519"),
]


@pytest.mark.parametrize("software", ["mastodon", "gotosocial", "lemmy"])
async def test_signed_posts_from_foreign_servers_are_accepted(
    start_instance: Start, foreign: Foreign, software: str
) -> None:
    """Every signature shape the fediverse sends, on a Create and a Follow, in each
    software's own document shapes, to personal and shared inboxes: 202, stored once."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    alice = a.url("/users/alice")
    server = await foreign(software)
    for number, (scheme, algorithm, sign_with, key) in enumerate(SIGNATURE_VARIANTS):
        case = f"{software} {scheme} {algorithm} {key}"
        actor = server.add_actor(f"user{number}", key=key)
        note = server.note(actor, f"hallo {case}", to=[alice], mention=[alice])
        follow = server.follow(actor, alice)
        for activity, inbox in ((note, a.url("/users/alice/inbox")), (follow, a.url("/inbox"))):
            status, answer = await server.deliver(
                actor, inbox, activity, scheme=scheme, algorithm=algorithm, sign_with=sign_with
            )
            assert status == 202, (case, activity["type"], answer)
            assert await count_arrivals(a, activity["id"]) == 1, case
        # The duplicate of an accepted activity is answered 202 and not stored again.
        status, _ = await server.deliver(
            actor, a.url("/inbox"), note, scheme=scheme, algorithm=algorithm, sign_with=sign_with
        )
        assert status == 202
        assert await count_arrivals(a, note["id"]) == 1, case
    assert len(await arrivals(a)) == 2 * len(SIGNATURE_VARIANTS)


# --------------------------------------------------------------------------- refused


async def test_bad_signatures_are_401_and_store_nothing(
    start_instance: Start, foreign: Foreign
) -> None:
    """Every way a signature can be wrong is a 401 naming the reason, never a 500; nothing
    reaches `inbox_activities`, and the flood makes us refetch the signer's key only once."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    inbox = a.url("/users/alice/inbox")
    m = await foreign("mastodon")
    mallory = m.add_actor("mallory")
    bob = m.add_actor("bob")
    # A ghost: a key id and actor the foreign server answers 404 for.
    ghost = dataclasses.replace(
        mallory, id=m.url("/users/ghost"), main_key_id=m.url("/users/ghost#main-key")
    )
    warm_up = public_note(m, mallory)
    assert (await m.deliver(mallory, inbox, warm_up))[0] == 202
    assert len(fetches_of(m, mallory.id)) == 1

    gone_date = "Mon, 01 Jan 2024 00:00:00 GMT"
    ours = {"sign_with": "ours"}
    rfc = {"scheme": "rfc9421", "sign_with": "ours"}
    cases: list[tuple[str, ForeignActor, dict[str, Any], dict[str, Any], str]] = [
        ("tampered body", mallory, {"tamper": "body"}, {}, "does not match the body"),
        ("tampered body, digest redone", mallory, {"tamper": "digest"}, {}, "does not verify"),
        ("rfc9421 tampered body", mallory, {"tamper": "body", **rfc}, {}, "does not match"),
        ("rfc9421 digest redone", mallory, {"tamper": "digest", **rfc}, {}, "does not verify"),
        (
            "Digest not base64",
            mallory,
            {"headers": {"Digest": "SHA-256=@@not base64@@"}},
            {},
            "not valid base64",
        ),
        (
            "Content-Digest not bytes",
            mallory,
            {"headers": {"Content-Digest": "sha-256=abc"}, **rfc},
            {},
            "not a byte sequence",
        ),
        ("signature not base64", mallory, {"tamper": "bad_base64"}, {}, "not valid base64"),
        ("rfc9421 signature not base64", mallory, {"tamper": "bad_base64", **rfc}, {}, "base64"),
        ("no Digest", mallory, {"tamper": "drop_digest"}, {}, "must cover digest"),
        ("rfc9421 no digest", mallory, {"tamper": "drop_digest", **rfc}, {}, "content-digest"),
        ("no Date", mallory, {"tamper": "drop_date", **ours}, {}, "must cover date"),
        ("rfc9421 no created", mallory, {"tamper": "drop_date", **rfc}, {}, "neither a Date"),
        ("covered Digest missing", mallory, {"headers": {"Digest": None}}, {}, "'digest' is"),
        ("covered Date missing", mallory, {"headers": {"Date": None}}, {}, "'date' is missing"),
        ("Date 13 h old", mallory, {"tamper": "date_old"}, {}, "too old"),
        ("Date 2 h ahead", mallory, {"tamper": "date_future"}, {}, "in the future"),
        ("Date long past", mallory, {"headers": {"Date": gone_date}}, {}, "too old"),
        ("Date unparsable", mallory, {"headers": {"Date": "gisteren"}}, {}, "not a valid HTTP"),
        ("hmac with the public key", mallory, {"tamper": "hmac_with_public_key"}, {}, "hmac"),
        ("rfc9421 hmac", mallory, {"tamper": "hmac_with_public_key", **rfc}, {}, "hmac"),
        ("rsa-sha1", mallory, {"tamper": "rsa_sha1"}, {}, "'rsa-sha1'"),
        ("RSA key labelled ed25519", mallory, {"algorithm": "ed25519"}, {}, "not verify"),
        ("unsigned", mallory, {"tamper": "unsigned"}, {}, "not signed"),
        ("another actor's key", mallory, {}, {"actor": bob}, "signed by"),
        ("unknown key id (404)", ghost, {}, {}, "could not get key"),
    ]
    for name, signer, options, changes, expected in cases:
        activity = create(changes.get("actor", signer).id, text=name)
        status, body = await m.deliver(signer, inbox, activity, **options)
        code, error = error_of(body)
        assert (status, code) == (401, "bad_signature"), (name, status, body)
        assert expected in error, (name, error)
    # Malformed activities, however well signed: 400, never 500.
    for name, raw in (
        ("empty type list", m.dumps({**create(mallory.id), "type": []})),
        ("non-string type", m.dumps({**create(mallory.id), "type": [1]})),
        ("no id", m.dumps({k: v for k, v in create(mallory.id).items() if k != "id"})),
        ("no actor", m.dumps({k: v for k, v in create(mallory.id).items() if k != "actor"})),
        ("a list", b"[]"),
        ("not JSON", b"{"),
    ):
        status, body = await m.deliver(mallory, inbox, {}, body=raw)
        assert (status, error_of(body)[0]) == (400, "bad_request"), (name, body)
    # The Date window, honestly signed: 50 minutes old is inside Mastodon's 5 min + 1 h of
    # skew and accepted; two hours old has expired.
    late = create(mallory.id)
    prepared = cavage_post(inbox, m.dumps(late), mallory.rsa_key, when=ago(minutes=50))
    assert (await m.send(prepared))[0] == 202
    prepared = cavage_post(inbox, m.dumps(create(mallory.id)), mallory.rsa_key, when=ago(hours=2))
    status, body = await m.send(prepared)
    assert (status, error_of(body)[1]) == (401, "signature has expired")
    assert await arrivals(a) == [warm_up["id"], late["id"]]
    # One refetch of mallory's key after the first failed verification, then none (5 min).
    assert len(fetches_of(m, mallory.id)) == 2
    assert [r.status for r in fetches_of(m, ghost.id)] == [404]


async def test_key_id_on_a_private_address_is_refused_without_connecting(
    start_instance: Start, foreign: Foreign, net: NetLog
) -> None:
    """A keyId on 10/8 (and other private ranges) is refused before any connection or
    lookup, even in development where loopback is allowed."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    m = await foreign("mastodon")
    mallory = m.add_actor("mallory")
    for key_id in (
        "http://10.0.0.1/key",
        "http://10.0.0.1/users/mallory#main-key",
        "http://169.254.169.254/latest/meta-data#key",
        "http://192.168.1.1:8080/key",
        "http://[::ffff:10.0.0.1]/key",
        "http://[fd00::1]/key",
        "http://0x0a.0.0.1/key",
        "http://167772161/key",
    ):
        signer = dataclasses.replace(mallory, main_key_id=key_id)
        mark = net.mark()
        status, body = await m.deliver(signer, a.url("/users/alice/inbox"), public_note(m, mallory))
        code, error = error_of(body)
        assert (status, code) == (401, "bad_signature"), (key_id, body)
        assert error.startswith("keyId"), error
        connects, lookups = net.since(mark)
        # The only connection is the delivery itself, to the instance.
        assert {port for _, port in connects} <= {a.port}, (key_id, connects)
        assert all(host == "127.0.0.1" for host, _ in connects)
        assert lookups == [], (key_id, lookups)
    assert m.fetches == []
    assert await arrivals(a) == []
    assert not [c for c in net.connects if not _is_loopback(c[0])]


async def test_host_confusion_at_the_inbox_is_refused(
    start_instance: Start, foreign: Foreign, net: NetLog
) -> None:
    """Identity is the whole origin: the port counts, ids must sit on their actor's origin,
    and ambiguous spellings (upper case, trailing dot, userinfo) never pass for the real
    thing. Two foreign servers on 127.0.0.1 both have a "mallory"."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    inbox = a.url("/users/alice/inbox")
    m1 = await foreign("mastodon")
    m2 = await foreign("mastodon")
    mallory = m1.add_actor("mallory")
    twin = m2.add_actor("mallory")  # the same name on another port of 127.0.0.1
    host1, host2 = m1.domain, m2.domain
    port1 = URL(m1.base_url).port
    assert host1.split(":")[0] == host2.split(":")[0] and host1 != host2

    def key(key_id: str) -> ForeignActor:
        return dataclasses.replace(mallory, main_key_id=key_id)

    fresh = uuid.uuid4().hex
    cases: list[tuple[str, ForeignActor, dict[str, Any], int, str]] = [
        # The twin's key (port 2) for an activity of mallory on port 1, and the reverse.
        ("key on another port", twin, create(mallory.id), 401, "signed by"),
        ("actor on another port", mallory, create(twin.id), 401, "signed by"),
        # Signed by mallory, for mallory, but the id claims another origin.
        (
            "id on another port",
            mallory,
            create(mallory.id, f"http://{host2}/users/mallory/statuses/{fresh}"),
            401,
            "id is not on its actor's host",
        ),
        (
            "id on https",
            mallory,
            create(mallory.id, f"https://{host1}/users/mallory/statuses/{fresh}"),
            401,
            "id is not on its actor's host",
        ),
        (
            "id with userinfo",
            mallory,
            create(mallory.id, f"http://x@{host1}/users/mallory/statuses/{fresh}"),
            401,
            "id is not on its actor's host",
        ),
        (
            "id with a trailing dot",
            mallory,
            create(mallory.id, f"http://127.0.0.1.:{port1}/users/mallory/s/{fresh}"),
            401,
            "id is not on its actor's host",
        ),
        # Spellings of mallory's id that are not her id.
        ("actor upper-case", mallory, create(mallory.id.upper()), 401, "signed by"),
        ("actor upper-case scheme", mallory, create("HTTP" + mallory.id[4:]), 401, "signed by"),
        (
            "actor with userinfo",
            mallory,
            create(f"http://x@{host1}/users/mallory"),
            400,
            "userinfo",
        ),
        (
            "actor with a trailing dot",
            mallory,
            create(f"http://127.0.0.1.:{port1}/users/mallory"),
            400,
            "trailing dot",
        ),
        # Spellings of her key id.
        (
            "key id with userinfo",
            key(f"http://x@{host1}/users/mallory#main-key"),
            create(mallory.id),
            401,
            "keyId is not an http(s) URL",
        ),
        (
            "key id with a trailing dot",
            key(f"http://127.0.0.1.:{port1}/users/mallory#main-key"),
            create(mallory.id),
            401,
            "keyId is not an http(s) URL",
        ),
        (
            "key id upper-case scheme",
            key("HTTP" + mallory.main_key_id[4:]),
            create(mallory.id),
            401,
            "not published by its actor",
        ),
        # A key id naming our own host.
        (
            "key id on our host",
            key(a.url("/users/alice#main-key")),
            create(mallory.id),
            401,
            "key of this instance",
        ),
    ]
    for name, signer, activity, expected_status, expected in cases:
        status, body = await m1.deliver(signer, inbox, activity)
        code, error = error_of(body)
        assert status == expected_status, (name, status, body)
        assert code == {400: "bad_request", 401: "bad_signature"}[status], (name, code)
        assert expected in error, (name, error)
    # A signature made for another server, replayed here: the signed Host is not ours.
    prepared = m1.sign_request(mallory, "POST", m2.url("/inbox"), m1.dumps(create(mallory.id)))
    prepared.url = a.url("/inbox")
    status, body = await m1.send(prepared)
    assert (status, error_of(body)[1]) == (401, "Host header does not match this server")
    assert await arrivals(a) == []
    assert net.lookups == []


# --------------------------------------------------------------------------- key rotation


@pytest.mark.parametrize("key", ["rsa", "ed25519"])
async def test_key_rotation_refetches_once_then_is_rate_limited(
    start_instance: Start, foreign: Foreign, key: str
) -> None:
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    inbox = a.url("/users/alice/inbox")
    m = await foreign("mastodon")
    mallory = m.add_actor("mallory", key=key)
    signing: dict[str, Any] = (
        {"sign_with": "ours", "algorithm": "hs2019"} if key == "ed25519" else {}
    )

    async def deliver() -> tuple[int, dict[str, Any]]:
        note = public_note(m, mallory)
        status, _ = await m.deliver(mallory, inbox, note, **signing)
        return status, note

    status, first = await deliver()
    assert status == 202
    assert len(fetches_of(m, mallory.id)) == 1

    m.rotate_key(mallory)
    status, second = await deliver()
    assert status == 202  # the failed verification refetched the actor, once
    assert len(fetches_of(m, mallory.id)) == 2

    m.rotate_key(mallory)
    for _ in range(3):
        status, refused = await deliver()
        assert status == 401  # no second refetch within five minutes
        assert await count_arrivals(a, refused["id"]) == 0
    assert len(fetches_of(m, mallory.id)) == 2
    assert await arrivals(a) == [first["id"], second["id"]]

    # Five minutes later (moved back in the database, the shared record), one refetch again.
    async with a.runtime.pool.acquire() as conn:
        moved = await conn.execute(
            """UPDATE remote_keys SET refetched_at = refetched_at - interval '6 minutes'
               WHERE key_id = $1""",
            mallory.key_id,
        )
    assert moved == "UPDATE 1"
    status, third = await deliver()
    assert status == 202
    assert len(fetches_of(m, mallory.id)) == 3
    assert await arrivals(a) == [first["id"], second["id"], third["id"]]


# --------------------------------------------------------------------------- authorized fetch


async def test_authorized_fetch_requires_signed_gets(
    start_instance: Start, foreign: Foreign, http: aiohttp.ClientSession
) -> None:
    """Authorized fetch on (the default): posts, activities and collections only to signed
    GETs; discovery stays open; followers-only posts only to the followers' servers."""
    a = await start_instance("a")
    assert a.config.authorized_fetch
    await a.runtime.actors.create_person("alice", "correct horse battery")
    followers = a.url("/users/alice/followers")
    public = await publish(http, a, "alice", {"type": "Note", "content": "hi", "to": [PUBLIC]})
    private = await publish(
        http, a, "alice", {"type": "Note", "content": "psst", "to": [followers]}
    )
    post, activity = public["object"]["id"], public["id"]
    private_post = private["object"]["id"]
    assert URL(post).path.startswith("/objects/")

    m = await foreign("mastodon")
    mallory = m.add_actor("mallory")
    stranger_server = await foreign("lemmy")
    stranger = stranger_server.add_actor("stranger")

    # Unsigned: refused for everything that is content.
    for url in (
        post,
        activity,
        private_post,
        a.url("/users/alice/outbox"),
        followers,
        a.url("/users/alice/following"),
    ):
        assert await get_status(http, url) == 401, url
    # Discovery stays open to unsigned requests.
    for url in (
        a.url("/users/alice"),
        a.url("/actor"),
        a.url(f"/.well-known/webfinger?resource=acct:alice@{a.domain}"),
        a.url("/.well-known/nodeinfo"),
        a.url("/nodeinfo/2.1"),
    ):
        assert await get_status(http, url) == 200, url

    # Signed by a foreign server: the public post, its activity and the collections.
    status, doc = await m.signed_get(mallory, post)
    assert status == 200 and isinstance(doc, dict)
    assert doc["id"] == post and doc["content"] == public["object"]["content"]
    for url in (activity, a.url("/users/alice/outbox"), followers):
        assert (await m.signed_get(mallory, url))[0] == 200, url
    # A badly signed GET is no better than an unsigned one.
    for tamper in ("date_old", "bad_base64"):
        prepared = m.sign_request(mallory, "GET", post, None, tamper=tamper, accept=AP_JSON)
        assert (await m.send(prepared))[0] == 401, tamper

    # Followers-only: not to unsigned requests, nor to servers without a follower.
    assert (await m.signed_get(mallory, private_post))[0] == 404
    assert (await stranger_server.signed_get(stranger, private_post))[0] == 404
    follow = m.follow(mallory, a.url("/users/alice"))
    assert (await m.deliver(mallory, a.url("/users/alice/inbox"), follow))[0] == 202
    await settle(a)
    accept = await m.wait_for(lambda r: r.activity_type == "Accept")
    assert accept.signature_ok, accept.signature_error
    status, doc = await m.signed_get(mallory, private_post)
    assert status == 200 and isinstance(doc, dict) and doc["id"] == private_post
    # Any actor of the follower's server may read it (it is delivered there anyway) ...
    assert (await m.signed_get(m.instance_actor, private_post))[0] == 200
    # ... and still nobody else.
    assert (await stranger_server.signed_get(stranger, private_post))[0] == 404
    assert await get_status(http, private_post) == 401


async def test_authorized_fetch_off_serves_public_posts_unsigned(
    start_instance: Start, foreign: Foreign, http: aiohttp.ClientSession
) -> None:
    a = await start_instance("a", FEDERATIE_AUTHORIZED_FETCH="false")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    followers = a.url("/users/alice/followers")
    public = await publish(http, a, "alice", {"type": "Note", "content": "hi", "to": [PUBLIC]})
    private = await publish(
        http, a, "alice", {"type": "Note", "content": "psst", "to": [followers]}
    )
    async with http.get(public["object"]["id"], headers=AP) as response:
        assert response.status == 200
        assert (await response.json(content_type=None))["id"] == public["object"]["id"]
    assert await get_status(http, public["id"]) == 200
    assert await get_status(http, private["object"]["id"]) == 404
    assert await get_status(http, private["id"]) == 404
    m = await foreign("mastodon")
    stranger = m.add_actor("stranger")
    assert (await m.signed_get(stranger, private["object"]["id"]))[0] == 404
    # A bad signature is refused even where none is required.
    prepared = m.sign_request(
        stranger, "GET", public["object"]["id"], None, tamper="date_old", accept=AP_JSON
    )
    assert (await m.send(prepared))[0] == 401


# --------------------------------------------------------------------------- outbound fetches


async def test_our_fetches_are_signed_and_accepted_by_gotosocial(
    start_instance: Start, foreign: Foreign, http: aiohttp.ClientSession
) -> None:
    """GoToSocial refuses unsigned GETs: a delivery from it makes us fetch its key stub and
    actor with GETs signed by our instance actor, which it verifies (fetching our key)."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    g = await foreign("gotosocial")
    assert g.require_signed_fetch
    gary = g.add_actor("gary")
    follow = g.follow(gary, a.url("/users/alice"))
    assert (await g.deliver(gary, a.url("/users/alice/inbox"), follow))[0] == 202
    assert await count_arrivals(a, follow["id"]) == 1

    stub = fetches_of(g, gary.main_key_id)
    actor = fetches_of(g, gary.id)
    assert len(stub) == 1 and stub[0].signed  # public at GoToSocial, signed by us anyway
    assert len(actor) == 1 and actor[0].status == 200
    assert actor[0].signature_ok is True, actor[0].signature_error
    assert actor[0].signer == a.url("/actor")
    # The Accept we send back is signed too, and verifies at GoToSocial.
    await settle(a)
    accept = await g.wait_for(lambda r: r.activity_type == "Accept")
    assert accept.signature_ok is True, accept.signature_error
    assert accept.signer == a.url("/users/alice")

    # Fetching one of its posts: signed, accepted, and the document is the post.
    note = public_note(g, gary)
    document = await a.runtime.fetch_object(note["object"]["id"])
    assert document["id"] == note["object"]["id"]
    fetch = fetches_of(g, note["object"]["id"])
    assert len(fetch) == 1 and fetch[0].signature_ok is True and fetch[0].status == 200


# --------------------------------------------------------------------------- federation policy


async def make_follower(a: Instance, server: ForeignServer, actor: ForeignActor) -> None:
    """`actor` follows alice on `a`, accepted."""
    follow = server.follow(actor, a.url("/users/alice"))
    assert (await server.deliver(actor, a.url("/users/alice/inbox"), follow))[0] == 202
    await settle(a)
    accept = await server.wait_for(
        lambda r: r.activity_type == "Accept" and r.json["object"]["id"] == follow["id"]
    )
    assert accept.signature_ok, accept.signature_error


async def test_allowlist_from_the_environment(
    start_instance: Start, foreign: Foreign, net: NetLog
) -> None:
    """Allowlist mode: unlisted hosts are refused both ways, before any key fetch; listing
    one (exact port) opens it, at run time."""
    a = await start_instance("a", FEDERATIE_FEDERATION_MODE="allowlist")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    inbox = a.url("/users/alice/inbox")
    m = await foreign("mastodon")
    other = await foreign("lemmy")
    mallory = m.add_actor("mallory")
    olga = other.add_actor("olga")

    note = public_note(m, mallory)
    status, body = await m.deliver(mallory, inbox, note)
    assert (status, error_of(body)[0]) == (403, "forbidden")
    with pytest.raises(FetchRefused):
        await a.runtime.fetch_object(note["object"]["id"])
    with pytest.raises(FetchRefused):
        await a.runtime.remote.get(mallory.id)
    assert m.fetches == []  # not even the key was fetched

    await a.runtime.policy.list_domain(m.domain, DomainList.ALLOW, by="test")
    status, _ = await m.deliver(mallory, inbox, note)
    assert status == 202
    assert await a.runtime.fetch_object(note["object"]["id"])
    # Another port of the same address is another host: still refused, both ways.
    status, _ = await other.deliver(olga, inbox, public_note(other, olga))
    assert status == 403
    with pytest.raises(FetchRefused):
        await a.runtime.remote.get(olga.id)
    assert other.fetches == []
    # A look-alike name is refused by the policy before any lookup.
    look_alike = f"http://127.0.0.1.evil.test:{URL(m.base_url).port}/users/mallory"
    lying = dataclasses.replace(mallory, id=look_alike, main_key_id=look_alike + "#main-key")
    mark = net.mark()
    status, _ = await m.deliver(lying, inbox, create(look_alike))
    assert status == 403
    assert net.since(mark)[1] == []
    with pytest.raises(FetchRefused):
        await a.runtime.fetch_object(look_alike)
    assert net.lookups == []
    assert await arrivals(a) == [note["id"]]


async def test_blocklist_changed_at_run_time(
    start_instance: Start,
    foreign: Foreign,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    net: NetLog,
) -> None:
    """Open, then blocklist at run time: the blocked host is refused inbound (403, nothing
    stored), its deliveries are dropped unsent and nothing is fetched from it, while an
    unblocked follower gets the same post; opening again lets it back in."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    inbox = a.url("/users/alice/inbox")
    m = await foreign("mastodon")
    fine = await foreign("gotosocial")
    mallory = m.add_actor("mallory")
    frank = fine.add_actor("frank")
    await make_follower(a, m, mallory)
    await make_follower(a, fine, frank)
    before = await arrivals(a)

    await a.runtime.policy.set_mode(FederationMode.BLOCKLIST, by="test")
    await a.runtime.policy.list_domain(m.domain.upper(), DomainList.BLOCK, by="test")
    assert [(d.domain, d.list) for d in await a.runtime.policy.domains()] == [
        (m.domain, DomainList.BLOCK)
    ]

    # Entries are normalised as hosts are: an internationalised name blocks its A-label
    # host, so an actor there is refused before any lookup of that name.
    await a.runtime.policy.list_domain("Bürger.Example", DomainList.BLOCK, by="test")
    assert not await a.runtime.policy.allows("xn--brger-kva.example")
    status, _ = await m.deliver(mallory, inbox, create("http://bürger.example/users/x"))
    assert status == 403
    for handle in ("@x@BÜRGER.example", "@x@xn--brger-kva.example"):
        with pytest.raises(Forbidden):
            await a.runtime.lookup(handle)
    assert net.lookups == []
    await a.runtime.policy.remove_domain("xn--brger-kva.example", by="test")

    # Inbound: refused before the signature is even looked at.
    fetched = len(m.fetches)
    note = public_note(m, mallory)
    status, body = await m.deliver(mallory, inbox, note)
    assert (status, error_of(body)[0]) == (403, "forbidden")
    status, _ = await m.deliver(mallory, inbox, note, tamper="unsigned")
    assert status == 403
    # Signed GETs from the blocked host are refused too.
    post = await publish(
        http,
        a,
        "alice",
        {"type": "Note", "content": "x", "to": [PUBLIC], "cc": [a.url("/users/alice/followers")]},
    )
    assert (await m.signed_get(mallory, post["object"]["id"]))[0] == 403
    assert (await fine.signed_get(frank, post["object"]["id"]))[0] == 200

    # Outbound: the post's fan-out reaches the unblocked follower only; the blocked host's
    # delivery row is dropped without a request.
    caplog.set_level(logging.WARNING, logger="federatie.federation.delivery")
    await settle(a)
    refused = [r for r in caplog.records if r.getMessage() == "delivery.refused"]
    assert [getattr(r, "inbox", None) for r in refused] == [m.url("/inbox")]
    got = await fine.wait_for(lambda r: r.activity_type == "Create")
    assert got.json["id"] == post["id"] and got.signature_ok
    assert not [r for r in m.received if r.activity_type == "Create"]
    async with a.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM deliveries") == 0
        stored = await conn.fetchval("SELECT count(*) FROM activities WHERE uri = $1", post["id"])
    assert stored == 1
    with pytest.raises(FetchRefused):
        await a.runtime.fetch_object(note["object"]["id"])
    with pytest.raises(FetchRefused):
        await a.runtime.remote.get(mallory.id, refresh=True)
    assert len(m.fetches) == fetched
    assert await arrivals(a) == before

    # Open again, at run time: the same delivery is accepted.
    await a.runtime.policy.set_mode(FederationMode.OPEN, by="test")
    assert (await m.deliver(mallory, inbox, note))[0] == 202
    assert await arrivals(a) == [*before, note["id"]]


async def test_redirects_to_refused_hosts_are_not_followed(
    start_instance: Start, foreign: Foreign
) -> None:
    """The policy holds for every redirect hop: an allowed host redirecting to a blocked one
    (or to us) gets no request through to it."""
    a = await start_instance("a")
    blocked = await foreign("lemmy")
    bea = blocked.add_actor("bea")
    note = public_note(blocked, bea)
    seen: list[str] = []
    targets = {"/note": note["object"]["id"], "/actor": bea.id, "/us": a.url("/actor")}

    async def redirect(request: web.Request) -> web.Response:
        seen.append(request.path)
        raise web.HTTPFound(targets[request.path])

    app = web.Application()
    app.router.add_get("/{tail:.*}", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        redirector = f"http://127.0.0.1:{runner.addresses[0][1]}"
        await a.runtime.policy.set_mode(FederationMode.BLOCKLIST, by="test")
        await a.runtime.policy.list_domain(blocked.domain, DomainList.BLOCK, by="test")
        with pytest.raises(FetchRefused, match="does not federate"):
            await a.runtime.fetch_object(redirector + "/note")
        with pytest.raises(FetchRefused, match="does not federate"):
            await a.runtime.remote.get(redirector + "/actor")
        with pytest.raises(FetchRefused, match="on this instance"):
            await a.runtime.fetch_object(redirector + "/us")
        assert seen == ["/note", "/actor", "/us"]
        assert blocked.fetches == []

        # Unblocked, the same redirect is followed (signed on each hop).
        await a.runtime.policy.remove_domain(blocked.domain, by="test")
        document = await a.runtime.fetch_object(redirector + "/note")
        assert document["id"] == note["object"]["id"]
        assert [r.signature_ok for r in blocked.fetches] == [True]
    finally:
        await runner.cleanup()
