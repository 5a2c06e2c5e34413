"""The scripted foreign servers (tests/foreign.py) themselves, so federation tests can trust them.

Two doubles talk real HTTP on 127.0.0.1 to each other: signatures made by one (httpsig or our
signer) are verified by the other (httpsig or our verifier), every hostile request shape is
shown to be refused *for the intended reason* (and, where the cryptography is meant to stay
intact, that httpsig still accepts it), and the documents look like the software imitated.
No Federatie instance is involved.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from foreign import (
    PUBLIC,
    TAMPERS,
    ForeignActor,
    ForeignServer,
    Received,
    started_foreign_server,
)
from httpsig.utils import parse_signature_header
from httpsig.verify import HeaderVerifier
from yarl import URL

from federatie.activitypub.signatures import VerificationKey

Start = Callable[..., Awaitable[ForeignServer]]
AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def foreign() -> AsyncIterator[Start]:
    """`await foreign("lemmy")` starts a double; all are stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(software: str = "mastodon", **options: Any) -> ForeignServer:
            return await stack.enter_async_context(started_foreign_server(software, **options))

        yield start


async def _pair(
    foreign: Start, sender: str = "mastodon", receiver: str = "mastodon", key: str = "rsa"
) -> tuple[ForeignServer, ForeignActor, ForeignServer, ForeignActor]:
    a = await foreign(sender)
    b = await foreign(receiver)
    return a, a.add_actor("alice", key=key), b, b.add_actor("bob")


def _note(server: ForeignServer, actor: ForeignActor, text: str = "hallo") -> dict[str, Any]:
    return server.note(actor, text, to=[PUBLIC], cc=[actor.followers] if actor.followers else [])


def _httpsig_verifies(record: Received, secret: str) -> bool:
    """What httpsig's verifier (which believes the algorithm label) says about a request."""
    params = parse_signature_header(record.headers["Signature"])
    try:
        verdict = HeaderVerifier(
            {k.lower(): v for k, v in record.headers.items()},
            secret,
            required_headers=params["headers"].split(),
            method=record.method,
            path=record.path,
            sign_header="signature",
        ).verify()
    except ValueError:  # binascii.Error: the signature is not even base64
        return False
    return bool(verdict)


def _digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


# --------------------------------------------------------------------------- valid signatures


@pytest.mark.parametrize(
    ("sender", "receiver"),
    [("mastodon", "gotosocial"), ("gotosocial", "lemmy"), ("lemmy", "mastodon")],
)
async def test_httpsig_rsa_sha256_delivery_verifies(
    foreign: Start, sender: str, receiver: str
) -> None:
    a, alice, b, bob = await _pair(foreign, sender, receiver)
    activity = _note(a, alice)
    status, _ = await a.deliver(alice, bob.inbox, activity)
    assert status == 202
    got = await b.wait_for(lambda r: r.activity_type == "Create")
    assert got.signature_ok is True, got.signature_error
    assert (got.verifier, got.scheme, got.algorithm) == ("httpsig", "cavage", "rsa-sha256")
    assert got.key_id == alice.key_id and got.signer == alice.id
    assert got.inbox == bob.id and got.json == activity and got.path == URL(bob.inbox).path
    assert got.headers["Content-Type"] == "application/activity+json"
    assert got.headers["Digest"] == _digest(got.body)
    assert 'headers="(request-target) host date digest"' in got.headers["Signature"]
    assert got.headers["User-Agent"] == a.user_agent
    # The receiver fetched the key with a GET signed by its own instance actor.
    fetch = await a.wait_for_fetch(lambda r: r.path == URL(alice.key_id).path)
    assert fetch.signed
    if sender == "gotosocial":  # key stubs are public; their GETs are not checked
        assert (fetch.signature_ok, fetch.signature_error) == (None, "not checked: exempt path")
    else:
        assert fetch.signature_ok is True and fetch.signer == b.instance_actor.id


async def test_shared_inbox_and_raw_body(foreign: Start) -> None:
    a, alice, b, _ = await _pair(foreign, "mastodon", "lemmy")
    group = b.add_actor("water", type="Group")
    assert group.shared_inbox == b.url("/inbox")
    status, _ = await a.deliver(alice, b.url("/inbox"), {}, body=b"not json at all")
    assert status == 202
    got = await b.wait_for(lambda r: r.inbox == "shared")
    assert got.json is None and got.body == b"not json at all"
    assert got.signature_ok is True, got.signature_error

    # A POST to a path that is no inbox is answered 404 and kept apart, for debugging.
    assert (await a.deliver(alice, b.url("/u/nobody/inbox"), _note(a, alice)))[0] == 404
    assert [r.path for r in b.misdirected] == ["/u/nobody/inbox"] and len(b.received) == 1
    assert await a.inbox_of(group.id) == group.inbox


VARIANTS = [
    # key, scheme, algorithm label, signer
    ("rsa", "cavage", "hs2019", "ours"),
    ("rsa", "cavage", None, "ours"),
    ("rsa", "cavage", "hs2019", "httpsig"),
    ("rsa", "cavage", None, "httpsig"),
    ("ed25519", "cavage", "hs2019", "ours"),
    ("ed25519", "cavage", None, "ours"),
    ("ed25519", "cavage", "ed25519", "ours"),
    ("rsa", "rfc9421", None, "ours"),
    ("rsa", "rfc9421", "rsa-v1_5-sha256", "ours"),
    ("ed25519", "rfc9421", None, "ours"),
]


@pytest.mark.parametrize("sender", ["mastodon", "lemmy", "gotosocial"])
@pytest.mark.parametrize(("key", "scheme", "algorithm", "sign_with"), VARIANTS)
async def test_other_signatures_verify_with_our_verifier(
    foreign: Start, sender: str, key: str, scheme: str, algorithm: str | None, sign_with: str
) -> None:
    a, alice, b, bob = await _pair(foreign, sender, "mastodon", key=key)
    activity = _note(a, alice)
    status, _ = await a.deliver(
        alice, bob.inbox, activity, scheme=scheme, algorithm=algorithm, sign_with=sign_with
    )
    assert status == 202
    got = await b.wait_for(lambda r: r.activity_type == "Create")
    assert got.signature_ok is True, got.signature_error
    assert got.verifier == "federatie" and got.scheme == scheme
    assert got.key_id == alice.key_id and got.signer == alice.id
    if scheme == "cavage":
        assert got.algorithm == algorithm
        label = re.search(r'algorithm="([^"]*)"', got.headers["Signature"])
        assert (label.group(1) if label else None) == algorithm
    else:
        assert "Signature-Input" in got.headers and "Digest" not in got.headers
        assert got.headers["Content-Digest"].startswith("sha-256=:")
        assert ("alg=" in got.headers["Signature-Input"]) == (algorithm is not None)
    if key == "ed25519":
        assert alice.key_id == alice.ed25519_key_id != alice.main_key_id


async def test_impossible_combinations_are_refused(foreign: Start) -> None:
    a = await foreign()
    ed = a.add_actor("ed", key="ed25519")
    rsa = a.add_actor("rsa")
    with pytest.raises(ValueError, match="httpsig signs RSA only"):
        a.sign_request(ed, "POST", a.url("/inbox"), b"{}")
    with pytest.raises(ValueError, match="RFC 9421"):
        a.sign_request(rsa, "POST", a.url("/inbox"), b"{}", scheme="rfc9421")
    with pytest.raises(ValueError, match="unknown tamper"):
        a.sign_request(rsa, "POST", a.url("/inbox"), b"{}", tamper="nonsense")
    with pytest.raises(ValueError, match="needs a request with a body"):
        a.sign_request(rsa, "GET", a.url("/users/rsa"), None, tamper="body")


# --------------------------------------------------------------------------- hostile requests

# Why each tampered request must be refused, as the double records it.
EXPECTED = {
    "body": "Digest does not match the body",
    "digest": "does not verify",
    "date_old": "too old",
    "date_future": "in the future",
    "drop_digest": "does not cover digest",
    "drop_date": "does not cover date",
    "bad_base64": "not valid base64",
    "hmac_with_public_key": "unsupported signature algorithm 'hmac-sha256'",
    "rsa_sha1": "unsupported signature algorithm 'rsa-sha1'",
}
# Tampers that leave the cryptography intact: httpsig still says yes, which proves the request
# is broken only where intended (and, for the HMAC forgery, that it is a genuine forgery).
CRYPTO_INTACT = {
    "body",
    "date_old",
    "date_future",
    "drop_digest",
    "drop_date",
    "rsa_sha1",
    "hmac_with_public_key",
}


def test_every_tamper_mode_is_covered() -> None:
    assert set(EXPECTED) | {"unsigned"} == TAMPERS


@pytest.mark.parametrize("tamper", sorted(EXPECTED))
async def test_tampered_cavage_requests_are_refused_for_the_intended_reason(
    foreign: Start, tamper: str
) -> None:
    a, alice, b, bob = await _pair(foreign)
    activity = _note(a, alice, "original")
    status, _ = await a.deliver(alice, bob.inbox, activity, tamper=tamper)
    assert status == 202  # recorded, not refused: the double only judges
    got = await b.wait_for(lambda r: r.method == "POST")
    assert got.signed
    assert got.signature_ok is False
    assert got.signature_error is not None and EXPECTED[tamper] in got.signature_error
    assert got.key_id in (alice.key_id, alice.main_key_id)

    assert _httpsig_verifies(got, alice.rsa_public_pem) is (tamper in CRYPTO_INTACT)
    h = got.headers
    sig = parse_signature_header(h["Signature"])
    covered = sig["headers"].split()
    if tamper == "body":
        assert got.json["object"]["content"].endswith("(forged)")
        assert h["Digest"] != _digest(got.body)
    elif tamper == "digest":
        assert got.json["object"]["content"].endswith("(forged)")
        assert h["Digest"] == _digest(got.body)  # consistent, but not what was signed
    elif tamper in ("drop_digest", "drop_date"):
        dropped = tamper.removeprefix("drop_")
        assert dropped not in covered and dropped not in h
    elif tamper == "hmac_with_public_key":
        assert sig["algorithm"] == "hmac-sha256"
    elif tamper == "rsa_sha1":
        assert sig["algorithm"] == "rsa-sha1"
    elif tamper == "bad_base64":
        with pytest.raises(ValueError):
            base64.b64decode(sig["signature"], validate=True)


async def test_unsigned_request_has_no_verdict(foreign: Start) -> None:
    a, alice, b, bob = await _pair(foreign)
    await a.deliver(alice, bob.inbox, _note(a, alice), tamper="unsigned")
    got = await b.wait_for(lambda r: r.method == "POST")
    assert not got.signed
    assert got.signature_ok is None and got.signature_error is None and got.key_id is None
    assert got.headers["Digest"] == _digest(got.body)


@pytest.mark.parametrize(
    ("scheme", "tamper"),
    [
        *[
            ("cavage", t)
            for t in (
                "body",
                "digest",
                "date_old",
                "date_future",
                "drop_digest",
                "drop_date",
                "bad_base64",
            )
        ],
        *[
            ("rfc9421", t)
            for t in (
                "body",
                "digest",
                "date_old",
                "date_future",
                "drop_digest",
                "drop_date",
                "bad_base64",
                "hmac_with_public_key",
            )
        ],
    ],
)
@pytest.mark.parametrize("key", ["rsa", "ed25519"])
async def test_tampered_requests_signed_by_us_are_refused(
    foreign: Start, scheme: str, tamper: str, key: str
) -> None:
    a, alice, b, bob = await _pair(foreign, "gotosocial", "mastodon", key=key)
    await a.deliver(
        alice,
        bob.inbox,
        _note(a, alice),
        scheme=scheme,
        algorithm="hs2019",
        sign_with="ours",
        tamper=tamper,
    )
    got = await b.wait_for(lambda r: r.method == "POST")
    assert got.signature_ok is False and got.verifier == "federatie"
    assert got.signature_error is not None
    assert "could not fetch" not in got.signature_error  # refused for the request, not the key


async def test_reject_bad_signatures_answers_401(foreign: Start) -> None:
    a, alice, b, bob = await _pair(foreign)
    b.reject_bad_signatures = True
    assert (await a.deliver(alice, bob.inbox, _note(a, alice), tamper="digest"))[0] == 401
    assert (await a.deliver(alice, bob.inbox, _note(a, alice), tamper="unsigned"))[0] == 401
    assert (await a.deliver(alice, bob.inbox, _note(a, alice)))[0] == 202
    assert [r.status for r in b.received] == [401, 401, 202]


# --------------------------------------------------------------------------- inbox behaviour


async def test_respond_inbox_with(foreign: Start, http: aiohttp.ClientSession) -> None:
    a, alice, b, bob = await _pair(foreign)
    b.respond_inbox_with(410)
    assert (await a.deliver(alice, bob.inbox, _note(a, alice)))[0] == 410
    assert (await a.deliver(alice, bob.inbox, _note(a, alice)))[0] == 410

    b.respond_inbox_with(202)
    b.respond_inbox_with(429, {"Retry-After": "2"}, times=1)
    prepared = a.sign_request(alice, "POST", bob.inbox, a.dumps(_note(a, alice)))
    url = URL(prepared.url, encoded=True)
    async with http.post(url, headers=prepared.headers, data=prepared.body) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "2"
    assert (await a.deliver(alice, bob.inbox, _note(a, alice)))[0] == 202
    assert [r.status for r in b.received] == [410, 410, 429, 202]
    assert all(r.signature_ok for r in b.received)


async def test_wait_for_waits_and_times_out(foreign: Start) -> None:
    a, alice, b, bob = await _pair(foreign)
    with pytest.raises(TimeoutError, match="no matching inbox POST"):
        await b.wait_for(lambda r: True, timeout=0.1)
    follow = a.follow(alice, bob.id)
    await a.deliver(alice, bob.inbox, follow)
    got = await b.wait_for(lambda r: r.activity_type == "Follow", timeout=5)
    assert got.json["id"] == follow["id"]


# --------------------------------------------------------------------------- keys


async def test_rotate_key_changes_the_served_key_and_receivers_refetch(foreign: Start) -> None:
    a, alice, b, bob = await _pair(foreign)
    status, before = await b.signed_get(bob, alice.id)
    assert status == 200 and isinstance(before, dict)
    await a.deliver(alice, bob.inbox, _note(a, alice, "one"))
    first = await b.wait_for(lambda r: "one" in r.body.decode())
    assert first.signature_ok is True
    key_fetches = len([f for f in a.fetches if f.path == URL(alice.id).path])

    a.rotate_key(alice)
    status, after = await b.signed_get(bob, alice.id)
    assert status == 200 and isinstance(after, dict)
    assert after["publicKey"]["id"] == before["publicKey"]["id"] == alice.key_id
    assert after["publicKey"]["publicKeyPem"] != before["publicKey"]["publicKeyPem"]
    assert after["publicKey"]["publicKeyPem"] == alice.rsa_public_pem

    # b still caches the old key: verification fails once, b refetches, and succeeds.
    await a.deliver(alice, bob.inbox, _note(a, alice, "two"))
    second = await b.wait_for(lambda r: "two" in r.body.decode())
    assert second.signature_ok is True, second.signature_error
    assert len([f for f in a.fetches if f.path == URL(alice.id).path]) == key_fetches + 2
    cached, current = b.keys[alice.key_id].public_key, alice.rsa_key.public_key
    assert isinstance(cached, rsa.RSAPublicKey) and isinstance(current, rsa.RSAPublicKey)
    assert cached.public_numbers() == current.public_numbers()


async def test_rotate_ed25519_key(foreign: Start) -> None:
    a, alice, b, bob = await _pair(foreign, "gotosocial", "lemmy", key="ed25519")
    old = alice.ed25519_multibase
    send: dict[str, Any] = {"algorithm": None, "sign_with": "ours"}
    await a.deliver(alice, bob.inbox, _note(a, alice, "one"), **send)
    a.rotate_key(alice)
    assert alice.ed25519_multibase != old and alice.key_id == alice.ed25519_key_id
    await a.deliver(alice, bob.inbox, _note(a, alice, "two"), **send)
    second = await b.wait_for(lambda r: "two" in r.body.decode())
    assert second.signature_ok is True, second.signature_error


# --------------------------------------------------------------------------- signed fetch


async def test_require_signed_fetch_gotosocial(foreign: Start, http: aiohttp.ClientSession) -> None:
    a, alice, gts, bob = await _pair(foreign, "mastodon", "gotosocial")
    assert gts.require_signed_fetch  # GoToSocial always wants signed GETs
    created = _note(gts, bob)
    note_url = created["object"]["id"]
    for url in (bob.id, note_url, bob.followers or ""):
        async with http.get(url, headers=AP) as response:
            assert response.status == 401, url
        assert gts.fetches[-1].signature_ok is None
        status, doc = await a.signed_get(alice, url)
        assert status == 200, url
        assert isinstance(doc, dict) and doc["id"] == url
        assert gts.fetches[-1].signature_ok is True and gts.fetches[-1].signer == alice.id

    # A signature that is present but stale is refused too.
    prepared = a.sign_request(alice, "GET", note_url, None, tamper="date_old", accept=AP["Accept"])
    assert (await a.send(prepared))[0] == 401
    assert gts.fetches[-1].signature_ok is False and "too old" in str(
        gts.fetches[-1].signature_error
    )

    # The key stub and the instance actor stay public, or nobody could verify anything.
    async with http.get(bob.key_id, headers=AP) as response:
        assert response.status == 200
        stub = await response.json(content_type=None)
    assert stub["id"] == bob.id and stub["publicKey"]["id"] == bob.key_id
    assert set(stub) == {"@context", "id", "preferredUsername", "publicKey", "type"}
    async with http.get(gts.instance_actor.id, headers=AP) as response:
        assert response.status == 200


async def test_require_signed_fetch_mastodon_restricts_actors(
    foreign: Start, http: aiohttp.ClientSession
) -> None:
    a, alice, m, bob = await _pair(foreign, "lemmy", "mastodon")
    note_url = _note(m, bob)["object"]["id"]
    async with http.get(note_url, headers=AP) as response:
        assert response.status == 200  # public fetch mode by default
    m.require_signed_fetch = True
    async with http.get(note_url, headers=AP) as response:
        assert response.status == 401
    # Authorized fetch: an unsigned GET of an actor gets only what key fetching needs.
    async with http.get(bob.id, headers=AP) as response:
        assert response.status == 200
        restricted = await response.json(content_type=None)
    assert restricted["publicKey"]["id"] == bob.key_id
    assert "followers" not in restricted and "preferredUsername" in restricted
    status, full = await a.signed_get(alice, bob.id)
    assert status == 200 and isinstance(full, dict) and full["followers"] == bob.followers


# --------------------------------------------------------------------------- documents


async def test_mastodon_documents(foreign: Start, http: aiohttp.ClientSession) -> None:
    m = await foreign("mastodon")
    alice = m.add_actor("alice")
    async with http.get(
        m.url("/.well-known/webfinger"), params={"resource": f"acct:alice@{m.domain}"}
    ) as response:
        assert response.headers["Content-Type"].startswith("application/jrd+json")
        jrd = await response.json(content_type=None)
    assert jrd["subject"] == f"acct:alice@{m.domain}"
    assert jrd["aliases"] == [m.url("/@alice"), alice.id]
    assert {"rel": "self", "type": "application/activity+json", "href": alice.id} in jrd["links"]

    async with http.get(alice.id, headers=AP) as response:
        assert response.headers["Content-Type"] == "application/activity+json; charset=utf-8"
        doc = await response.json(content_type=None)
    assert doc["@context"][:2] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
    ]
    assert doc["id"] == m.url("/users/alice") and doc["type"] == "Person"
    assert doc["publicKey"] == {
        "id": m.url("/users/alice#main-key"),
        "owner": alice.id,
        "publicKeyPem": alice.rsa_public_pem,
    }
    assert doc["endpoints"] == {"sharedInbox": m.url("/inbox")}
    assert doc["inbox"] == alice.inbox and doc["followers"] == alice.id + "/followers"
    assert doc["preferredUsername"] == "alice" and doc["url"] == m.url("/@alice")

    async with http.get(m.url("/actor"), headers=AP) as response:
        instance = await response.json(content_type=None)
    assert instance["type"] == "Application" and instance["preferredUsername"] == m.domain

    async with http.get(m.url("/.well-known/nodeinfo")) as response:
        href = (await response.json())["links"][0]["href"]
    async with http.get(href) as response:
        assert (await response.json())["software"]["name"] == "mastodon"


async def test_gotosocial_documents(foreign: Start, http: aiohttp.ClientSession) -> None:
    g = await foreign("gotosocial")
    a = await foreign("mastodon")
    alice = a.add_actor("alice")
    bob = g.add_actor("bob")
    assert bob.key_id == g.url("/users/bob/main-key") and "#" not in bob.key_id
    assert bob.shared_inbox is None
    status, doc = await a.signed_get(alice, bob.id)
    assert status == 200 and isinstance(doc, dict)
    assert doc["publicKey"]["id"] == bob.key_id
    assert "endpoints" not in doc  # GoToSocial has no shared inbox
    assert list(doc) == sorted(doc)  # go-fed serialises with sorted keys
    assert doc["@context"][0] == "https://w3id.org/security/v1"
    async with http.get(g.url("/inbox")) as response:
        assert response.status == 404
    async with http.get(
        g.url("/.well-known/webfinger"), params={"resource": f"acct:bob@{g.domain}"}
    ) as response:
        jrd = await response.json(content_type=None)
    assert jrd["aliases"] == [bob.id, g.url("/@bob")]
    assert g.instance_actor.id == g.url(f"/users/{g.domain}")


async def test_lemmy_documents(foreign: Start, http: aiohttp.ClientSession) -> None:
    lemmy = await foreign("lemmy")
    person = lemmy.add_actor("water")
    group = lemmy.add_actor("water", type="Group")
    group.moderators.append(person.id)
    assert person.id == lemmy.url("/u/water") and group.id == lemmy.url("/c/water")
    assert person.followers is None and group.followers == group.id + "/followers"

    async with http.get(group.id, headers=AP) as response:
        doc = await response.json(content_type=None)
    assert doc["type"] == "Group" and doc["attributedTo"] == group.id + "/moderators"
    assert doc["endpoints"]["sharedInbox"] == lemmy.url("/inbox")
    assert doc["publicKey"]["id"] == group.id + "#main-key"
    assert doc["postingRestrictedToMods"] is False
    async with http.get(doc["attributedTo"], headers=AP) as response:
        mods = await response.json(content_type=None)
    assert mods["orderedItems"] == [person.id]
    async with http.get(person.id, headers=AP) as response:
        assert "followers" not in await response.json(content_type=None)

    async with http.get(
        lemmy.url("/.well-known/webfinger"), params={"resource": f"acct:water@{lemmy.domain}"}
    ) as response:
        jrd = await response.json(content_type=None)
    selves = [link for link in jrd["links"] if link["rel"] == "self"]
    kind = "https://www.w3.org/ns/activitystreams#type"
    assert [(s["href"], s["properties"][kind]) for s in selves] == [
        (person.id, "Person"),
        (group.id, "Group"),
    ]
    async with http.get(lemmy.url("/"), headers=AP) as response:
        site = await response.json(content_type=None)
    assert site["id"] == lemmy.url("/") and site["publicKey"]["id"] == lemmy.url("/#main-key")


@pytest.mark.parametrize("software", ["mastodon", "lemmy", "gotosocial"])
async def test_ed25519_actor_has_a_multikey(
    foreign: Start, http: aiohttp.ClientSession, software: str
) -> None:
    server = await foreign(software, require_signed_fetch=False)
    ed = server.add_actor("ed", key="ed25519")
    async with http.get(ed.id, headers=AP) as response:
        doc = await response.json(content_type=None)
    (method,) = doc["assertionMethod"]
    assert method["type"] == "Multikey" and method["controller"] == ed.id
    assert method["id"] == ed.key_id and doc["publicKey"]["id"] == ed.main_key_id
    assert "https://w3id.org/security/multikey/v1" in doc["@context"]
    key = VerificationKey.from_multibase(ed.key_id, ed.id, method["publicKeyMultibase"])
    assert ed.ed25519_key is not None
    assert key.public_key == ed.ed25519_key.public_key


async def test_gone_actors_and_objects(foreign: Start, http: aiohttp.ClientSession) -> None:
    m = await foreign()
    alice = m.add_actor("alice")
    note_url = _note(m, alice)["object"]["id"]
    m.remove_object(note_url)
    m.remove_actor(alice)
    for url in (note_url, alice.id):
        async with http.get(url, headers=AP) as response:
            assert response.status == 410
    async with http.get(m.url("/users/nobody"), headers=AP) as response:
        assert response.status == 404


# --------------------------------------------------------------------------- activity shapes


async def test_mastodon_note_shape(foreign: Start, http: aiohttp.ClientSession) -> None:
    m = await foreign("mastodon")
    alice = m.add_actor("alice")
    carol = "http://127.0.0.1:9/users/carol"
    create = m.note(alice, "hoi", to=[PUBLIC], cc=[alice.followers or ""], mention=[carol])
    note = create["object"]
    context = create["@context"]
    assert context[0] == "https://www.w3.org/ns/activitystreams"
    assert context[1]["toot"] == "http://joinmastodon.org/ns#"
    assert context[1]["atomUri"] == "ostatus:atomUri"
    assert re.fullmatch(re.escape(alice.id) + r"/statuses/\d+", note["id"])
    assert create["id"] == note["id"] + "/activity"
    assert note["url"] == m.url(f"/@alice/{note['id'].rsplit('/', 1)[1]}")
    assert note["atomUri"] == note["id"] and note["conversation"].startswith("tag:")
    assert note["content"] == "<p>hoi</p>" and note["contentMap"] == {"en": "<p>hoi</p>"}
    assert create["to"] == [PUBLIC] and create["cc"] == [alice.followers, carol]
    assert note["tag"] == [{"type": "Mention", "href": carol, "name": "@carol@127.0.0.1:9"}]
    async with http.get(note["id"], headers=AP) as response:
        served = await response.json(content_type=None)
    assert served["id"] == note["id"] and served["@context"] == context


async def test_lemmy_post_and_comment_shape(foreign: Start) -> None:
    lemmy = await foreign("lemmy")
    person = lemmy.add_actor("picard")
    group = lemmy.add_actor("tenforward", type="Group")
    post = lemmy.note(person, "body", to=[group.id, PUBLIC], audience=group.id, title="Title")
    assert post["type"] == "Create" and post["object"]["type"] == "Page"
    assert post["audience"] == post["object"]["audience"] == group.id
    assert post["to"] == [group.id, PUBLIC] and post["cc"] == []
    assert post["object"]["name"] == "Title" and post["object"]["id"] == lemmy.url("/post/1")
    assert post["id"].startswith(lemmy.url("/activities/create/"))
    assert post["object"]["source"] == {"content": "body", "mediaType": "text/markdown"}
    comment = lemmy.note(
        person,
        "reply",
        to=[PUBLIC],
        cc=[group.id],
        in_reply_to=post["object"]["id"],
        audience=group.id,
    )
    assert comment["object"]["type"] == "Note"
    assert comment["object"]["inReplyTo"] == post["object"]["id"]
    assert comment["object"]["id"].startswith(lemmy.url("/comment/"))
    announce = lemmy.announce(group, post)
    assert announce["actor"] == group.id and announce["object"]["id"] == post["id"]
    assert "@context" not in announce["object"]


async def test_gotosocial_shapes(foreign: Start) -> None:
    g = await foreign("gotosocial")
    bob = g.add_actor("bob")
    create = g.note(bob, "hi", to=[PUBLIC], cc=[bob.followers or ""])
    assert create["to"] == PUBLIC and create["cc"] == bob.followers  # bare, not arrays
    assert create["id"] == create["object"]["id"] + "/activity#Create"
    assert re.fullmatch(re.escape(bob.id) + r"/statuses/[0-9A-Z]{26}", create["object"]["id"])
    assert list(create["object"]) == sorted(create["object"])
    assert "interactionPolicy" in create["object"]
    delete = g.delete(bob, create["object"]["id"])
    assert "id" not in delete  # GoToSocial really sends Delete without an id
    like = g.like(bob, "http://127.0.0.1:9/notes/1", object_author="http://127.0.0.1:9/u/x")
    assert like["to"] == "http://127.0.0.1:9/u/x" and "/liked/" in like["id"]


@pytest.mark.parametrize("software", ["mastodon", "lemmy", "gotosocial"])
async def test_every_builder_delivers_and_verifies(foreign: Start, software: str) -> None:
    a, alice, b, bob = await _pair(foreign, software, "mastodon")
    create = _note(a, alice)
    note_id = create["object"]["id"]
    follow = a.follow(alice, bob.id)
    like = a.like(alice, note_id, object_author=alice.id)
    edited = {**create["object"], "content": "<p>edited</p>"}
    activities = [
        create,
        follow,
        a.undo(alice, follow),
        like,
        a.undo(alice, like),
        a.announce(alice, note_id, object_author=alice.id),
        a.update(alice, edited),
        a.update(alice),
        a.accept(alice, b.follow(bob, alice.id)),
        a.reject(alice, b.follow(bob, alice.id)),
        a.delete(alice, note_id),
        a.delete(alice, alice.id),
    ]
    for activity in activities:
        assert activity["actor"] == alice.id
        if "id" in activity:
            assert activity["id"].startswith(a.base_url + "/")
        assert (await a.deliver(alice, bob.inbox, activity))[0] == 202
    assert [r.activity_type for r in b.received] == [x["type"] for x in activities]
    assert all(r.signature_ok for r in b.received), [r.signature_error for r in b.received]
    undo = activities[2]
    assert undo["type"] == "Undo" and undo["object"]["id"] == follow["id"]
    status, served = await b.signed_get(bob, note_id)
    assert status == 200 and isinstance(served, dict) and served["content"] == "<p>edited</p>"
