"""Scripted foreign ActivityPub servers: test doubles of *other* fediverse software.

A `ForeignServer` is a real aiohttp server on 127.0.0.1 that looks like a Mastodon, Lemmy or
GoToSocial instance from the outside: actor documents, WebFinger, NodeInfo, collections and
objects in that software's shapes and URL layouts, real RSA / Ed25519 keys, and real HTTP
signatures in both directions. It never stands in for Federatie itself.

Signing is independent of our own code by default: draft-cavage `rsa-sha256` is produced by
`httpsig`'s `HeaderSigner`. What httpsig cannot do (Ed25519, RFC 9421, a signing string without
`date`) is done with `federatie.activitypub.signatures` when asked (`sign_with="ours"`).
Incoming signatures labelled `rsa-sha256` are verified with httpsig's `HeaderVerifier` plus
independent digest / date / coverage checks written here; every other label (hs2019, none,
ed25519, hmac-*, rsa-sha1) and RFC 9421 goes to our verifier, because httpsig believes the
label and would accept an HMAC keyed with the public key. The outcome is always recorded on
`Received`; requests are only refused when a test asks for that.

See tests/README.md, "Scripted foreign servers".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import functools
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from httpsig.sign import HeaderSigner
from httpsig.utils import parse_signature_header
from httpsig.verify import HeaderVerifier
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from federatie.activitypub.signatures import (
    SigningKey,
    VerificationKey,
    generate_ed25519,
    parse_signature,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)
from federatie.errors import SignatureError

AS = "https://www.w3.org/ns/activitystreams"
SECURITY = "https://w3id.org/security/v1"
MULTIKEY = "https://w3id.org/security/multikey/v1"
PUBLIC = AS + "#Public"
AP_JSON = "application/activity+json"
AP_ACCEPT = f'{AP_JSON}, application/ld+json; profile="{AS}"'

SOFTWARE = ("mastodon", "lemmy", "gotosocial")
VERSIONS = {"mastodon": "4.3.2", "lemmy": "0.19.5", "gotosocial": "0.17.3"}
TAMPERS = frozenset(
    {
        "body",  # body swapped after signing; Digest and signature still match the old body
        "digest",  # body swapped and Digest recomputed for it; the signature no longer fits
        "date_old",  # signed honestly, 13 hours ago
        "date_future",  # signed honestly, 2 hours from now
        "drop_digest",  # a body, but no Digest header and none covered
        "drop_date",  # no Date header and none covered (nor a created time)
        "bad_base64",  # the signature value is not base64
        "hmac_with_public_key",  # hmac-sha256 keyed with the actor's public PEM
        "rsa_sha1",  # a genuine RSA signature over SHA-1, labelled rsa-sha1
        "unsigned",  # no signature at all
    }
)
# Mastodon's window (SignedRequest): Date + 5 min of life + 1 h skew; at most 1 h ahead.
_MAX_AGE = timedelta(minutes=5) + timedelta(hours=1)
_MAX_FUTURE = timedelta(hours=1)

# ----------------------------------------------------------------------------- JSON-LD contexts

_MASTODON_ACTOR_CONTEXT: list[Any] = [
    AS,
    SECURITY,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
        "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
        "movedTo": {"@id": "as:movedTo", "@type": "@id"},
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "discoverable": "toot:discoverable",
        "suspended": "toot:suspended",
        "memorial": "toot:memorial",
        "indexable": "toot:indexable",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]
_MASTODON_NOTE_CONTEXT: list[Any] = [
    AS,
    {
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "toot": "http://joinmastodon.org/ns#",
        "votersCount": "toot:votersCount",
    },
]
_LEMMY_CONTEXT: list[Any] = [
    AS,
    SECURITY,
    {
        "lemmy": "https://join-lemmy.org/ns#",
        "litepub": "http://litepub.social/ns#",
        "pt": "https://joinpeertube.org/ns#",
        "sc": "http://schema.org/",
        "ChatMessage": "litepub:ChatMessage",
        "commentsEnabled": "pt:commentsEnabled",
        "sensitive": "as:sensitive",
        "matrixUserId": "lemmy:matrixUserId",
        "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
        "removeData": "lemmy:removeData",
        "stickied": "lemmy:stickied",
        "moderators": {"@type": "@id", "@id": "lemmy:moderators"},
        "expires": "as:endTime",
        "distinguished": "lemmy:distinguished",
        "language": "sc:inLanguage",
        "identifier": "sc:identifier",
    },
]
_GTS_ACTOR_CONTEXT: list[Any] = [
    SECURITY,
    AS,
    {
        "discoverable": "toot:discoverable",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
    },
]
_GTS_NOTE_CONTEXT: list[Any] = ["https://gotosocial.org/ns", AS, {"sensitive": "as:sensitive"}]


# ----------------------------------------------------------------------------- data


@dataclass(eq=False)
class ForeignActor:
    """An actor living on a `ForeignServer`, with its private keys.

    `key_id` is the key this actor signs with (the Ed25519 Multikey for `key="ed25519"`,
    else the RSA `publicKey`). Fields left None do not exist in that software (GoToSocial has
    no shared inbox, Lemmy persons no followers collection). Mutate `extra` to add or
    override fields of the served actor document; set `*_items` to fill collections.
    """

    name: str
    id: str
    type: str
    key_type: str
    key_id: str
    main_key_id: str
    inbox: str
    outbox: str
    shared_inbox: str | None
    followers: str | None
    following: str | None
    url: str
    rsa_key: SigningKey
    rsa_private_pem: str
    rsa_public_pem: str
    ed25519_key: SigningKey | None = None
    ed25519_multibase: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    followers_items: list[str] = field(default_factory=list)
    following_items: list[str] = field(default_factory=list)
    outbox_items: list[dict[str, Any]] = field(default_factory=list)
    moderators: list[str] = field(default_factory=list)
    gone: bool = False

    @property
    def signing_key(self) -> SigningKey:
        """The key `deliver` and `signed_get` sign with."""
        if self.key_type == "ed25519":
            assert self.ed25519_key is not None
            return self.ed25519_key
        return self.rsa_key

    @property
    def ed25519_key_id(self) -> str | None:
        return self.ed25519_key.key_id if self.ed25519_key is not None else None


@dataclass(eq=False)
class Received:
    """One request the double received, with the verdict on its signature.

    `signature_ok` is None when the request carried no signature (or, for a GET of an
    exempt path such as the instance actor, was not checked); `signature_error` then says
    why if it was not simply unsigned. `verifier` names who judged: "httpsig" or "federatie".
    `signer` is the owner of the key that verified.
    """

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any
    signature_ok: bool | None
    signature_error: str | None
    key_id: str | None
    arrived_at: datetime
    scheme: str | None = None
    algorithm: str | None = None
    verifier: str | None = None
    signer: str | None = None
    inbox: str | None = None
    status: int = 0
    # (address, port) of the sending socket: tells apart processes sharing one domain.
    peer: tuple[str, int] | None = None

    @property
    def signed(self) -> bool:
        h = self.headers
        return "signature" in h or "signature-input" in h or _auth_signature(h) is not None

    @property
    def activity_type(self) -> str | None:
        if isinstance(self.json, dict) and isinstance(self.json.get("type"), str):
            kind: str = self.json["type"]
            return kind
        return None


@dataclass
class PreparedRequest:
    """A signed (or deliberately broken) request, ready to send."""

    method: str
    url: str
    headers: CIMultiDict[str]
    body: bytes | None


@dataclass
class _Verdict:
    ok: bool | None = None
    error: str | None = None
    key_id: str | None = None
    scheme: str | None = None
    algorithm: str | None = None
    verifier: str | None = None
    signer: str | None = None


class _Refused(Exception):
    """A signature check failed; the message is what gets recorded."""


# ----------------------------------------------------------------------------- small helpers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sha256_digest(body: bytes) -> str:
    return "SHA-256=" + _b64(hashlib.sha256(body).digest())


def _sha256_content_digest(body: bytes) -> str:
    return "sha-256=:" + _b64(hashlib.sha256(body).digest()) + ":"


def _http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def _iso(moment: datetime, *, micro: bool = False) -> str:
    if micro:
        return moment.astimezone(UTC).isoformat()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid() -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _peer(request: web.Request) -> tuple[str, int] | None:
    peername = request.transport.get_extra_info("peername") if request.transport else None
    return (peername[0], peername[1]) if isinstance(peername, tuple) else None


def _auth_signature(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    return auth[10:] if auth[:10].lower() == "signature " else None


_CAVAGE_PAIR = re.compile(r'(\w+)="([^"]*)"')


def _relabel(signature: str, algorithm: str | None) -> str:
    """Rewrite the `algorithm` parameter of a cavage Signature value (it is not signed)."""
    pairs = [(k, v) for k, v in _CAVAGE_PAIR.findall(signature) if k != "algorithm"]
    if algorithm is not None:
        pairs.insert(1, ("algorithm", algorithm))
    return ",".join(f'{k}="{v}"' for k, v in pairs)


def _cavage_signing_string(
    covered: list[str], method: str, path_qs: str, headers: Mapping[str, str]
) -> bytes:
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path_qs}")
        else:
            lines.append(f"{name}: {headers[name]}")
    return "\n".join(lines).encode("ascii")


# RSA keys of stopped servers, handed out again: generating and loading one costs ~100 ms, and
# a key is only ever used by one running server at a time.
_SPARE_RSA: list[tuple[rsa.RSAPrivateKey, str, str]] = []


def _rsa_key_material() -> tuple[rsa.RSAPrivateKey, str, str]:
    """An RSA-2048 key not used by any running server, with its private and public PEM."""
    if _SPARE_RSA:
        return _SPARE_RSA.pop()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return key, private_pem, public_pem


@functools.lru_cache(maxsize=256)
def _httpsig_signer(key_id: str, secret: str, algorithm: str, covered: tuple[str, ...]) -> Any:
    """httpsig's HeaderSigner, cached: importing the PEM costs it ~60 ms."""
    return HeaderSigner(
        key_id, secret, algorithm=algorithm, headers=list(covered), sign_header="signature"
    )


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mention_tags(mention: Iterable[str | tuple[str, str]]) -> list[dict[str, str]]:
    tags = []
    for item in mention:
        if isinstance(item, tuple):
            href, name = item
        else:
            href = item
            parsed = URL(href)
            name = f"@{parsed.path.rstrip('/').rsplit('/', 1)[-1]}@{parsed.raw_authority}"
        tags.append({"type": "Mention", "href": href, "name": name})
    return tags


def _html(content: str) -> str:
    return content if content.lstrip().startswith("<") else f"<p>{html.escape(content)}</p>"


def _tampered_body(body: bytes) -> bytes:
    """A different body with the same shape: what a forger would put in."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body + b" "
    if isinstance(doc, dict):
        inner = doc.get("object")
        if isinstance(inner, dict) and isinstance(inner.get("content"), str):
            inner["content"] += " (forged)"
        else:
            doc["forged"] = True
        return json.dumps(doc).encode()
    return body + b" "


# ----------------------------------------------------------------------------- the server


class ForeignServer:
    """A Mastodon-, Lemmy- or GoToSocial-shaped server on 127.0.0.1; start with `start()`."""

    def __init__(self, software: str, *, require_signed_fetch: bool | None = None) -> None:
        if software not in SOFTWARE:
            raise ValueError(f"software must be one of {SOFTWARE}")
        self.software = software
        # GoToSocial always wants signed GETs; Mastodon only in authorized-fetch mode.
        self.require_signed_fetch = (
            software == "gotosocial" if require_signed_fetch is None else require_signed_fetch
        )
        # Answer 401 to inbox POSTs whose signature is missing or bad (recorded either way).
        self.reject_bad_signatures = False
        self.inbox_delay = 0.0
        self.received: list[Received] = []
        self.fetches: list[Received] = []
        # POSTs to paths that are no inbox here (answered 404), to debug misaddressed deliveries.
        self.misdirected: list[Received] = []
        # key id -> key, as fetched; a failed verification refetches once (key rotation).
        self.keys: dict[str, VerificationKey] = {}
        self.base_url = ""
        self.domain = ""
        self.instance_actor: ForeignActor
        self._actors: dict[str, ForeignActor] = {}  # path of the actor id -> actor
        self._key_paths: dict[str, ForeignActor] = {}  # GoToSocial stub key documents
        self._inboxes: dict[str, str] = {}  # inbox path -> "shared" or the actor's id
        self._objects: dict[str, dict[str, Any]] = {}
        self._gone: set[str] = set()
        self._inbox_default: tuple[int, dict[str, str]] = (202, {})
        self._inbox_queue: list[list[Any]] = []  # [status, headers, remaining]
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -------------------------------------------------------------------- lifecycle

    @classmethod
    async def start(
        cls, software: str = "mastodon", *, require_signed_fetch: bool | None = None
    ) -> ForeignServer:
        """Bind an ephemeral loopback port and serve; the port becomes part of the domain."""
        server = cls(software, require_signed_fetch=require_signed_fetch)
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", server._dispatch)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server._runner = runner
        port = runner.addresses[0][1]
        server.domain = f"127.0.0.1:{port}"
        server.base_url = f"http://{server.domain}"
        server._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        server.instance_actor = server._make_instance_actor()
        return server

    async def stop(self) -> None:
        """Stop serving (idempotent); the actors' RSA keys go back to the spare pool."""
        if self._runner is None:
            return
        await self._runner.cleanup()
        self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        for actor in self._actors.values():
            key = actor.rsa_key.private_key
            if isinstance(key, rsa.RSAPrivateKey):
                _SPARE_RSA.append((key, actor.rsa_private_pem, actor.rsa_public_pem))

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def user_agent(self) -> str:
        version = VERSIONS[self.software]
        if self.software == "mastodon":
            return f"http.rb/5.2.0 (Mastodon/{version}; +{self.base_url}/)"
        if self.software == "lemmy":
            return f"Lemmy/{version}; +{self.base_url}"
        return f"gotosocial (+{self.base_url}) gotosocial/{version}"

    # -------------------------------------------------------------------- actors and objects

    def add_actor(self, name: str, *, type: str = "Person", key: str = "rsa") -> ForeignActor:
        """Create an actor served at this software's path (Lemmy: /u/ or /c/ for groups)."""
        if key not in ("rsa", "ed25519"):
            raise ValueError("key must be 'rsa' or 'ed25519'")
        if self.software == "lemmy":
            path = f"/c/{name}" if type == "Group" else f"/u/{name}"
        else:
            path = f"/users/{name}"
        if path in self._actors:
            raise ValueError(f"actor {path} exists")
        return self._new_actor(name, path, type, key)

    def _make_instance_actor(self) -> ForeignActor:
        if self.software == "mastodon":
            actor = self._new_actor(self.domain, "/actor", "Application", "rsa")
            actor.url = self.url("/about/more?instance_actor=true")
            actor.extra["manuallyApprovesFollowers"] = True
        elif self.software == "lemmy":
            actor = self._new_actor(self.domain, "/", "Application", "rsa")
            actor.inbox = self.url("/inbox")
            actor.outbox = self.url("/outbox")
            actor.followers = actor.following = None
        else:
            actor = self._new_actor(self.domain, f"/users/{self.domain}", "Application", "rsa")
        self._inboxes[URL(actor.inbox).path] = actor.id
        return actor

    def _new_actor(self, name: str, path: str, type_: str, key: str) -> ForeignActor:
        actor_id = self.url(path)
        gts = self.software == "gotosocial"
        lemmy = self.software == "lemmy"
        stem = actor_id.rstrip("/")
        main_key_id = f"{stem}/main-key" if gts else f"{actor_id}#main-key"
        private_key, private_pem, public_pem = _rsa_key_material()
        rsa_key = SigningKey(main_key_id, private_key)
        ed_key: SigningKey | None = None
        multibase: str | None = None
        if key == "ed25519":
            ed_id = f"{stem}/ed25519-key" if gts else f"{actor_id}#ed25519-key"
            ed_pem, multibase = generate_ed25519()
            ed_key = SigningKey.from_pem(ed_id, ed_pem)
        actor = ForeignActor(
            name=name,
            id=actor_id,
            type=type_,
            key_type=key,
            key_id=ed_key.key_id if ed_key is not None else main_key_id,
            main_key_id=main_key_id,
            inbox=f"{stem}/inbox",
            outbox=f"{stem}/outbox",
            shared_inbox=None if gts else self.url("/inbox"),
            followers=None if lemmy and type_ != "Group" else f"{stem}/followers",
            following=None if lemmy else f"{stem}/following",
            url=actor_id if lemmy else self.url(f"/@{name}"),
            rsa_key=rsa_key,
            rsa_private_pem=private_pem,
            rsa_public_pem=public_pem,
            ed25519_key=ed_key,
            ed25519_multibase=multibase,
        )
        if lemmy and type_ == "Group":
            actor.extra["attributedTo"] = f"{stem}/moderators"
        self._actors[path] = actor
        self._inboxes[URL(actor.inbox).path] = actor.id
        if not gts:
            self._inboxes["/inbox"] = "shared"
        else:
            self._key_paths[URL(main_key_id).path] = actor
            if ed_key is not None:
                self._key_paths[URL(ed_key.key_id).path] = actor
        return actor

    def rotate_key(self, actor: ForeignActor) -> None:
        """New key pair under the same key id (the key `actor` signs with)."""
        if actor.key_type == "ed25519":
            assert actor.ed25519_key is not None
            pem, actor.ed25519_multibase = generate_ed25519()
            actor.ed25519_key = SigningKey.from_pem(actor.ed25519_key.key_id, pem)
        else:
            private_key, actor.rsa_private_pem, actor.rsa_public_pem = _rsa_key_material()
            actor.rsa_key = SigningKey(actor.main_key_id, private_key)

    def remove_actor(self, actor: ForeignActor) -> None:
        """The account is deleted: its document answers 410 Gone from now on."""
        actor.gone = True

    def add_object(self, doc: dict[str, Any]) -> None:
        """Serve `doc` at the path of its id, which must be on this server."""
        object_id = doc.get("id")
        if not isinstance(object_id, str) or not object_id.startswith(self.base_url + "/"):
            raise ValueError(f"object id {object_id!r} is not on {self.base_url}")
        path = URL(object_id).path
        self._objects[path] = doc
        self._gone.discard(path)

    def remove_object(self, object_id: str, *, gone: bool = True) -> None:
        """Stop serving an object: 410 Gone (a deleted post) or, with gone=False, 404."""
        path = URL(object_id).path
        self._objects.pop(path, None)
        if gone:
            self._gone.add(path)

    def actor_document(self, actor: ForeignActor, *, restricted: bool = False) -> dict[str, Any]:
        """The actor as this software serves it (`restricted`: Mastodon's unsigned view)."""
        public_key = {
            "id": actor.main_key_id,
            "owner": actor.id,
            "publicKeyPem": actor.rsa_public_pem,
        }
        if self.software == "mastodon":
            doc = self._mastodon_actor(actor, public_key)
            if restricted:
                keep = ("@context", "id", "type", "preferredUsername", "inbox", "outbox")
                doc = {k: v for k, v in doc.items() if k in (*keep, "publicKey", "endpoints")}
        elif self.software == "lemmy":
            doc = self._lemmy_actor(actor, public_key)
        else:
            doc = self._gts_actor(actor, public_key)
        if actor.ed25519_key is not None:
            context = doc["@context"]
            doc["@context"] = [*context, MULTIKEY] if isinstance(context, list) else [context]
            doc["assertionMethod"] = [self._multikey(actor)]
        doc.update(actor.extra)
        return dict(sorted(doc.items())) if self.software == "gotosocial" else doc

    def _multikey(self, actor: ForeignActor) -> dict[str, Any]:
        return {
            "id": actor.ed25519_key_id,
            "type": "Multikey",
            "controller": actor.id,
            "publicKeyMultibase": actor.ed25519_multibase,
        }

    def _mastodon_actor(self, actor: ForeignActor, public_key: dict[str, str]) -> dict[str, Any]:
        return {
            "@context": list(_MASTODON_ACTOR_CONTEXT),
            "id": actor.id,
            "type": actor.type,
            "following": actor.following,
            "followers": actor.followers,
            "inbox": actor.inbox,
            "outbox": actor.outbox,
            "featured": f"{actor.id}/collections/featured",
            "featuredTags": f"{actor.id}/collections/tags",
            "preferredUsername": actor.name,
            "name": actor.name.capitalize(),
            "summary": "",
            "url": actor.url,
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "indexable": False,
            "published": "2024-01-01T00:00:00Z",
            "memorial": False,
            "publicKey": public_key,
            "tag": [],
            "attachment": [],
            "endpoints": {"sharedInbox": actor.shared_inbox},
        }

    def _lemmy_actor(self, actor: ForeignActor, public_key: dict[str, str]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@context": list(_LEMMY_CONTEXT),
            "id": actor.id,
            "type": actor.type,
            "preferredUsername": actor.name,
            "name": actor.name.capitalize(),
            "inbox": actor.inbox,
            "outbox": actor.outbox,
        }
        if actor.type == "Group":
            doc.update(
                {
                    "summary": "<p>A community.</p>\n",
                    "source": {"content": "A community.", "mediaType": "text/markdown"},
                    "sensitive": False,
                    "followers": actor.followers,
                    "featured": f"{actor.id}/featured",
                    "postingRestrictedToMods": False,
                }
            )
        if actor.shared_inbox is not None and actor.type != "Application":
            doc["endpoints"] = {"sharedInbox": actor.shared_inbox}
        doc["publicKey"] = public_key
        doc["published"] = "2024-01-01T00:00:00.000000+00:00"
        return doc

    def _gts_actor(self, actor: ForeignActor, public_key: dict[str, str]) -> dict[str, Any]:
        doc = {
            "@context": list(_GTS_ACTOR_CONTEXT),
            "discoverable": True,
            "featured": f"{actor.id}/collections/featured",
            "followers": actor.followers,
            "following": actor.following,
            "id": actor.id,
            "inbox": actor.inbox,
            "manuallyApprovesFollowers": False,
            "name": actor.name.capitalize(),
            "outbox": actor.outbox,
            "preferredUsername": actor.name,
            "publicKey": public_key,
            "published": "2024-01-01T00:00:00Z",
            "summary": "",
            "tag": [],
            "type": actor.type,
            "url": actor.url,
        }
        return dict(sorted(doc.items()))

    # -------------------------------------------------------------------- activity builders

    def _activity_id(self, kind: str) -> str:
        return self.url(f"/activities/{kind}/{uuid.uuid4()}")

    def _finish(self, doc: dict[str, Any]) -> dict[str, Any]:
        """GoToSocial quirks: bare values for one-element to/cc/tag, keys sorted."""
        if self.software != "gotosocial":
            return doc
        for key in ("to", "cc", "tag"):
            value = doc.get(key)
            if isinstance(value, list) and len(value) == 1:
                doc[key] = value[0]
        inner = doc.get("object")
        if isinstance(inner, dict):
            doc["object"] = self._finish(inner)
        return dict(sorted(doc.items()))

    def note(
        self,
        actor: ForeignActor,
        content: str,
        *,
        to: Iterable[str],
        cc: Iterable[str] = (),
        in_reply_to: str | None = None,
        audience: str | None = None,
        mention: Iterable[str | tuple[str, str]] = (),
        title: str | None = None,
    ) -> dict[str, Any]:
        """A Create(Note) as this software sends it; the object is served at its id.

        Addressing is the caller's (`to`, `cc`); Mastodon and GoToSocial add mentioned
        actors to `cc` as they do. `mention` items are actor URIs or (URI, "@name@host").
        Lemmy: with `audience` (a group) and no `in_reply_to` this is a post, Create(Page)
        titled `title`; otherwise a comment, Create(Note).
        """
        to_list, cc_list = list(to), list(cc)
        tags = _mention_tags(mention)
        now = datetime.now(UTC)
        body = _html(content)
        if self.software == "lemmy":
            return self._lemmy_note(
                actor, content, body, to_list, cc_list, in_reply_to, audience, tags, title, now
            )
        for tag in tags:
            if tag["href"] not in to_list and tag["href"] not in cc_list:
                cc_list.append(tag["href"])
        if self.software == "mastodon":
            return self._mastodon_note(
                actor, body, to_list, cc_list, in_reply_to, audience, tags, now
            )
        return self._gts_note(actor, body, to_list, cc_list, in_reply_to, audience, tags, now)

    def _store(
        self, obj: dict[str, Any], context: Any, activity: dict[str, Any], actor: ForeignActor
    ) -> None:
        self.add_object({"@context": context, **obj})
        actor.outbox_items.insert(0, activity)

    def _mastodon_note(
        self,
        actor: ForeignActor,
        body: str,
        to: list[str],
        cc: list[str],
        in_reply_to: str | None,
        audience: str | None,
        tags: list[dict[str, str]],
        now: datetime,
    ) -> dict[str, Any]:
        status_id = (int(now.timestamp() * 1000) << 16) | (next(self._seq) & 0xFFFF)
        uri = f"{actor.id}/statuses/{status_id}"
        published = _iso(now)
        conversation = (
            f"tag:{self.domain},{now:%Y-%m-%d}:objectId={status_id}:objectType=Conversation"
        )
        obj: dict[str, Any] = {
            "id": uri,
            "type": "Note",
            "summary": None,
            "inReplyTo": in_reply_to,
            "published": published,
            "url": self.url(f"/@{actor.name}/{status_id}"),
            "attributedTo": actor.id,
            "to": to,
            "cc": cc,
            "sensitive": False,
            "atomUri": uri,
            "inReplyToAtomUri": in_reply_to,
            "conversation": conversation,
            "content": body,
            "contentMap": {"en": body},
            "attachment": [],
            "tag": tags,
            "replies": {
                "id": f"{uri}/replies",
                "type": "Collection",
                "first": {
                    "type": "CollectionPage",
                    "next": f"{uri}/replies?only_other_accounts=true&page=true",
                    "partOf": f"{uri}/replies",
                    "items": [],
                },
            },
        }
        if audience is not None:
            obj["audience"] = audience
        activity = {
            "@context": list(_MASTODON_NOTE_CONTEXT),
            "id": f"{uri}/activity",
            "type": "Create",
            "actor": actor.id,
            "published": published,
            "to": to,
            "cc": cc,
            "object": obj,
        }
        self._store(obj, _MASTODON_NOTE_CONTEXT, activity, actor)
        return activity

    def _lemmy_note(
        self,
        actor: ForeignActor,
        source: str,
        body: str,
        to: list[str],
        cc: list[str],
        in_reply_to: str | None,
        audience: str | None,
        tags: list[dict[str, str]],
        title: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        number = next(self._seq)
        is_post = audience is not None and in_reply_to is None
        obj: dict[str, Any] = {
            "type": "Page" if is_post else "Note",
            "id": self.url(f"/post/{number}" if is_post else f"/comment/{number}"),
            "attributedTo": actor.id,
            "to": to,
            "cc": cc,
        }
        if is_post:
            obj["name"] = title or re.sub(r"<[^>]+>", "", source)[:60] or "Untitled"
        obj.update(
            {
                "content": body,
                "mediaType": "text/html",
                "source": {"content": source, "mediaType": "text/markdown"},
            }
        )
        if in_reply_to is not None:
            obj["inReplyTo"] = in_reply_to
        if tags:
            obj["tag"] = tags
        if is_post:
            obj.update({"sensitive": False, "commentsEnabled": True, "stickied": False})
        else:
            obj["distinguished"] = False
        obj["language"] = {"identifier": "en", "name": "English"}
        obj["published"] = _iso(now, micro=True)
        if audience is not None:
            obj["audience"] = audience
        activity: dict[str, Any] = {
            "@context": list(_LEMMY_CONTEXT),
            "actor": actor.id,
            "to": to,
            "object": obj,
            "cc": cc,
        }
        if tags:
            activity["tag"] = tags
        if audience is not None:
            activity["audience"] = audience
        activity["type"] = "Create"
        activity["id"] = self._activity_id("create")
        self._store(obj, _LEMMY_CONTEXT, activity, actor)
        return activity

    def _gts_note(
        self,
        actor: ForeignActor,
        body: str,
        to: list[str],
        cc: list[str],
        in_reply_to: str | None,
        audience: str | None,
        tags: list[dict[str, str]],
        now: datetime,
    ) -> dict[str, Any]:
        ulid = _ulid()
        uri = f"{actor.id}/statuses/{ulid}"
        published = _iso(now)
        everyone = [PUBLIC]
        policy = {
            "always": everyone,
            "approvalRequired": [],
            "automaticApproval": everyone,
            "manualApproval": [],
        }
        obj: dict[str, Any] = {
            "attachment": [],
            "attributedTo": actor.id,
            "cc": cc,
            "content": body,
            "contentMap": {"en": body},
            "id": uri,
            "interactionPolicy": {"canAnnounce": policy, "canLike": policy, "canReply": policy},
            "published": published,
            "replies": {
                "first": {
                    "id": f"{uri}/replies?page=true",
                    "next": f"{uri}/replies?only_other_accounts=false&page=true",
                    "partOf": f"{uri}/replies",
                    "type": "CollectionPage",
                },
                "id": f"{uri}/replies",
                "type": "Collection",
            },
            "sensitive": False,
            "summary": "",
            "tag": [dict(sorted(t.items())) for t in tags],
            "to": to,
            "type": "Note",
            "url": self.url(f"/@{actor.name}/statuses/{ulid}"),
        }
        if in_reply_to is not None:
            obj["inReplyTo"] = in_reply_to
        if audience is not None:
            obj["audience"] = audience
        obj = self._finish(obj)
        activity = self._finish(
            {
                "@context": list(_GTS_NOTE_CONTEXT),
                "actor": actor.id,
                "cc": cc,
                "id": f"{uri}/activity#Create",
                "object": obj,
                "published": published,
                "to": to,
                "type": "Create",
            }
        )
        self._store(obj, _GTS_NOTE_CONTEXT, activity, actor)
        return activity

    def follow(self, actor: ForeignActor, target_uri: str) -> dict[str, Any]:
        """A Follow of `target_uri` (an actor), shaped per software."""
        if self.software == "mastodon":
            return {
                "@context": AS,
                "id": self.url(f"/{uuid.uuid4()}"),
                "type": "Follow",
                "actor": actor.id,
                "object": target_uri,
            }
        if self.software == "lemmy":
            return {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "to": [target_uri],
                "object": target_uri,
                "type": "Follow",
                "id": self._activity_id("follow"),
            }
        return self._finish(
            {
                "@context": AS,
                "actor": actor.id,
                "id": f"{actor.id}/follow/{_ulid()}",
                "object": target_uri,
                "to": [target_uri],
                "type": "Follow",
            }
        )

    def accept(self, actor: ForeignActor, follow: dict[str, Any]) -> dict[str, Any]:
        """Accept of a Follow (embedded, as all three embed it)."""
        return self._respond("Accept", actor, follow)

    def reject(self, actor: ForeignActor, follow: dict[str, Any]) -> dict[str, Any]:
        return self._respond("Reject", actor, follow)

    def _respond(self, kind: str, actor: ForeignActor, follow: dict[str, Any]) -> dict[str, Any]:
        inner = {k: v for k, v in follow.items() if k != "@context"}
        follower = inner.get("actor")
        if self.software == "mastodon":
            return {
                "@context": AS,
                "id": f"{actor.id}#{kind.lower()}s/follows/{next(self._seq)}",
                "type": kind,
                "actor": actor.id,
                "object": inner,
            }
        if self.software == "lemmy":
            return {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "to": [follower],
                "object": inner,
                "type": kind,
                "id": self._activity_id(kind.lower()),
            }
        return self._finish(
            {
                "@context": AS,
                "actor": actor.id,
                "id": f"{actor.id}/{kind.lower()}/{_ulid()}",
                "object": inner,
                "to": [follower],
                "type": kind,
            }
        )

    def undo(self, actor: ForeignActor, activity: dict[str, Any]) -> dict[str, Any]:
        """Undo of an earlier activity (embedded), shaped per software."""
        inner = {k: v for k, v in activity.items() if k != "@context"}
        kind = str(inner.get("type", "Activity"))
        if self.software == "mastodon":
            if kind == "Announce":
                undo_id = f"{inner.get('id')}/undo"
            else:
                undo_id = f"{actor.id}#{kind.lower()}s/{next(self._seq)}/undo"
            doc: dict[str, Any] = {"@context": AS, "id": undo_id, "type": "Undo", "actor": actor.id}
            for key in ("to", "cc"):
                if kind == "Announce" and key in inner:
                    doc[key] = inner[key]
            doc["object"] = inner
            return doc
        if self.software == "lemmy":
            doc = {"@context": list(_LEMMY_CONTEXT), "actor": actor.id}
            doc["to"] = inner.get("to", [PUBLIC])
            doc["object"] = inner
            doc["cc"] = inner.get("cc", [])
            if "audience" in inner:
                doc["audience"] = inner["audience"]
            doc["type"] = "Undo"
            doc["id"] = self._activity_id("undo")
            return doc
        doc = {
            "@context": AS,
            "actor": actor.id,
            "id": f"{inner.get('id')}/undo",
            "object": inner,
            "type": "Undo",
        }
        if "to" in inner:
            doc["to"] = inner["to"]
        return self._finish(doc)

    def like(
        self,
        actor: ForeignActor,
        object_uri: str,
        *,
        object_author: str | None = None,
        audience: str | None = None,
    ) -> dict[str, Any]:
        """A Like of `object_uri` (GoToSocial addresses it to `object_author`)."""
        if self.software == "mastodon":
            return {
                "@context": AS,
                "id": f"{actor.id}#likes/{next(self._seq)}",
                "type": "Like",
                "actor": actor.id,
                "object": object_uri,
            }
        if self.software == "lemmy":
            doc: dict[str, Any] = {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "object": object_uri,
                "type": "Like",
                "id": self._activity_id("like"),
            }
            if audience is not None:
                doc["audience"] = audience
            return doc
        doc = {
            "@context": AS,
            "actor": actor.id,
            "id": f"{actor.id}/liked/{_ulid()}",
            "object": object_uri,
            "type": "Like",
        }
        if object_author is not None:
            doc["to"] = [object_author]
        return self._finish(doc)

    def announce(
        self,
        actor: ForeignActor,
        object: str | dict[str, Any],
        *,
        object_author: str | None = None,
    ) -> dict[str, Any]:
        """A boost (Mastodon, GoToSocial) or a Lemmy group's Announce of an activity."""
        now = datetime.now(UTC)
        if self.software == "lemmy":
            inner = object
            if isinstance(inner, dict):
                inner = {k: v for k, v in inner.items() if k != "@context"}
            return {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "to": [PUBLIC],
                "object": inner,
                "cc": [actor.followers] if actor.followers else [],
                "type": "Announce",
                "id": self._activity_id("announce"),
            }
        cc = [c for c in (object_author, actor.followers) if c]
        if self.software == "mastodon":
            status_id = (int(now.timestamp() * 1000) << 16) | (next(self._seq) & 0xFFFF)
            return {
                "@context": AS,
                "id": f"{actor.id}/statuses/{status_id}/activity",
                "type": "Announce",
                "actor": actor.id,
                "published": _iso(now),
                "to": [PUBLIC],
                "cc": cc,
                "object": object,
            }
        return self._finish(
            {
                "@context": AS,
                "actor": actor.id,
                "cc": [c for c in (object_author, PUBLIC) if c],
                "id": f"{actor.id}/statuses/{_ulid()}",
                "object": object,
                "published": _iso(now),
                "to": [actor.followers] if actor.followers else [PUBLIC],
                "type": "Announce",
            }
        )

    def delete(
        self, actor: ForeignActor, object_uri: str, *, audience: str | None = None
    ) -> dict[str, Any]:
        """Delete of a post, or of the actor itself when `object_uri == actor.id`.

        Mastodon wraps a post in a Tombstone; GoToSocial sends no `id` at all (a real quirk).
        """
        if self.software == "mastodon":
            deleting_self = object_uri == actor.id
            return {
                "@context": [AS, {"ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri"}],
                "id": f"{object_uri}#delete",
                "type": "Delete",
                "actor": actor.id,
                "to": [PUBLIC],
                "object": object_uri
                if deleting_self
                else {"id": object_uri, "type": "Tombstone", "atomUri": object_uri},
            }
        if self.software == "lemmy":
            doc: dict[str, Any] = {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "to": [PUBLIC],
                "object": object_uri,
                "cc": [audience] if audience else [],
            }
            if audience is not None:
                doc["audience"] = audience
            doc["type"] = "Delete"
            doc["id"] = self._activity_id("delete")
            return doc
        return self._finish(
            {
                "@context": AS,
                "actor": actor.id,
                "cc": [actor.followers] if actor.followers else [],
                "object": object_uri,
                "to": [PUBLIC],
                "type": "Delete",
            }
        )

    def update(self, actor: ForeignActor, object: dict[str, Any] | None = None) -> dict[str, Any]:
        """Update of an object (edited post), or of the actor's own profile when None."""
        now = datetime.now(UTC)
        if object is None:
            inner = self.actor_document(actor)
            inner.pop("@context", None)
        else:
            inner = {k: v for k, v in object.items() if k != "@context"}
            inner.setdefault("updated", _iso(now))
            if isinstance(inner.get("id"), str) and inner["id"].startswith(self.base_url + "/"):
                self.add_object({**object, **inner})
        to = inner.get("to", [PUBLIC]) if object is not None else [PUBLIC]
        if self.software == "mastodon":
            doc: dict[str, Any] = {
                "@context": list(_MASTODON_NOTE_CONTEXT)
                if object
                else list(_MASTODON_ACTOR_CONTEXT),
                "id": f"{inner.get('id')}#updates/{int(now.timestamp())}",
                "type": "Update",
                "actor": actor.id,
                "to": to,
            }
            if object is not None:
                doc["published"] = _iso(now)
                doc["cc"] = inner.get("cc", [])
            doc["object"] = inner
            return doc
        if self.software == "lemmy":
            doc = {
                "@context": list(_LEMMY_CONTEXT),
                "actor": actor.id,
                "to": to,
                "object": inner,
                "cc": inner.get("cc", []),
            }
            if "audience" in inner:
                doc["audience"] = inner["audience"]
            doc["type"] = "Update"
            doc["id"] = self._activity_id("update")
            return doc
        doc = {
            "@context": list(_GTS_NOTE_CONTEXT) if object else list(_GTS_ACTOR_CONTEXT),
            "actor": actor.id,
            "cc": inner.get("cc", [actor.followers] if actor.followers else []),
            "id": f"{inner.get('id')}#updates/{_ulid()}",
            "object": self._finish(inner),
            "to": to,
            "type": "Update",
        }
        return self._finish(doc)

    # -------------------------------------------------------------------- inbox behaviour

    def respond_inbox_with(
        self, status: int, headers: dict[str, str] | None = None, times: int | None = None
    ) -> None:
        """Answer inbox POSTs with `status` (and `headers`) for the next `times` POSTs.

        `times=None` makes it the standing answer (replacing any queue); a number queues it
        in front of the standing answer, so `(429, {"Retry-After": "2"}, times=1)` answers
        one POST with 429 and the next with the standing answer (202 unless changed).
        """
        if times is None:
            self._inbox_default = (status, dict(headers or {}))
            self._inbox_queue.clear()
        elif times > 0:
            self._inbox_queue.append([status, dict(headers or {}), times])

    def _next_inbox_response(self, verdict: _Verdict) -> tuple[int, dict[str, str]]:
        if self._inbox_queue:
            entry = self._inbox_queue[0]
            entry[2] -= 1
            if entry[2] <= 0:
                self._inbox_queue.pop(0)
            return entry[0], entry[1]
        if self.reject_bad_signatures and verdict.ok is not True:
            return 401, {}
        return self._inbox_default

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0
    ) -> Received:
        """The first inbox POST (already received or still to come) matching `predicate`."""
        return await self._wait(self.received, predicate, timeout, "inbox POST")

    async def wait_for_fetch(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0
    ) -> Received:
        """The first GET matching `predicate`."""
        return await self._wait(self.fetches, predicate, timeout, "GET")

    async def _wait(
        self,
        items: list[Received],
        predicate: Callable[[Received], bool],
        timeout: float,
        what: str,
    ) -> Received:
        def find() -> Received | None:
            return next((r for r in items if predicate(r)), None)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    found = await self._changed.wait_for(find)
            except TimeoutError:
                seen = [f"{r.method} {r.path} {r.activity_type} {r.status}" for r in items]
                seen += [f"misdirected POST {r.path}" for r in self.misdirected]
                raise TimeoutError(
                    f"{self.software} double: no matching {what} in {timeout} s; saw {seen}"
                ) from None
        assert found is not None
        return found

    async def _record(self, items: list[Received], record: Received) -> None:
        items.append(record)
        async with self._changed:
            self._changed.notify_all()

    # -------------------------------------------------------------------- outgoing requests

    def sign_request(
        self,
        actor: ForeignActor,
        method: str,
        url: str,
        body: bytes | None,
        *,
        scheme: str = "cavage",
        algorithm: str | None = "rsa-sha256",
        sign_with: str = "httpsig",
        tamper: str | None = None,
        content_type: str = AP_JSON,
        accept: str | None = None,
    ) -> PreparedRequest:
        """Build the request `deliver` / `signed_get` send; see `deliver` for the options."""
        if tamper is not None and tamper not in TAMPERS:
            raise ValueError(f"unknown tamper {tamper!r}; one of {sorted(TAMPERS)}")
        if sign_with not in ("httpsig", "ours"):
            raise ValueError("sign_with is 'httpsig' or 'ours'")
        if body is None and tamper in ("body", "digest", "drop_digest"):
            raise ValueError(f"tamper {tamper!r} needs a request with a body")
        target = URL(url, encoded=True)
        path_qs = target.raw_path_qs
        authority = target.raw_authority
        now = datetime.now(UTC)
        if tamper == "date_old":
            now -= timedelta(hours=13)
        elif tamper == "date_future":
            now += timedelta(hours=2)
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Host"] = authority
        headers["Date"] = _http_date(now)
        headers["User-Agent"] = self.user_agent
        if accept is not None:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = content_type
        prepared = PreparedRequest(method.upper(), url, headers, body)
        if scheme == "cavage":
            self._sign_cavage(prepared, actor, path_qs, now, algorithm, sign_with, tamper)
        elif scheme == "rfc9421":
            self._sign_rfc9421(prepared, actor, now, algorithm, sign_with, tamper)
        else:
            raise ValueError("scheme is 'cavage' or 'rfc9421'")
        if tamper in ("body", "digest") and body is not None:
            prepared.body = _tampered_body(body)
            if tamper == "digest":
                if "Digest" in headers:
                    headers["Digest"] = _sha256_digest(prepared.body)
                if "Content-Digest" in headers:
                    headers["Content-Digest"] = _sha256_content_digest(prepared.body)
        return prepared

    def _sign_cavage(
        self,
        req: PreparedRequest,
        actor: ForeignActor,
        path_qs: str,
        now: datetime,
        algorithm: str | None,
        sign_with: str,
        tamper: str | None,
    ) -> None:
        h = req.headers
        covered = ["(request-target)", "host", "date"]
        if req.body is not None:
            h["Digest"] = _sha256_digest(req.body)
            covered.append("digest")
        if tamper == "drop_digest" and "digest" in covered:
            h.popall("Digest")
            covered.remove("digest")
        if tamper == "drop_date":
            h.popall("Date")
            covered.remove("date")
        if tamper == "unsigned":
            return
        plain = {k.lower(): v for k, v in h.items()}
        if tamper in ("hmac_with_public_key", "rsa_sha1"):
            secret, alg = (
                (actor.rsa_public_pem, "hmac-sha256")
                if tamper == "hmac_with_public_key"
                else (actor.rsa_private_pem, "rsa-sha1")
            )
            signer = _httpsig_signer(actor.main_key_id, secret, alg, tuple(covered))
            h["Signature"] = signer.sign(plain, method=req.method, path=path_qs)["signature"]
        elif sign_with == "httpsig":
            if actor.key_type != "rsa":
                raise ValueError("httpsig signs RSA only; use sign_with='ours' for Ed25519")
            signer = _httpsig_signer(
                actor.main_key_id, actor.rsa_private_pem, "rsa-sha256", tuple(covered)
            )
            value = signer.sign(plain, method=req.method, path=path_qs)["signature"]
            h["Signature"] = value if algorithm == "rsa-sha256" else _relabel(value, algorithm)
        elif "date" in covered and (req.body is None) == ("digest" not in covered):
            key = actor.signing_key
            signed = sign_cavage(req.method, req.url, {}, req.body, key, now)
            h.update(signed)
            h["Signature"] = _relabel(signed["Signature"], algorithm)
        else:  # a covered set sign_cavage does not make: sign our own string with our key
            key = actor.signing_key
            signature = _b64(key.sign(_cavage_signing_string(covered, req.method, path_qs, plain)))
            pairs = [
                ("keyId", key.key_id),
                ("signature", signature),
                ("headers", " ".join(covered)),
            ]
            h["Signature"] = _relabel(",".join(f'{k}="{v}"' for k, v in pairs), algorithm)
        if tamper == "bad_base64":
            h["Signature"] = re.sub(
                r'signature="[^"]*"', 'signature="@@not base64!@@"', h["Signature"]
            )

    def _sign_rfc9421(
        self,
        req: PreparedRequest,
        actor: ForeignActor,
        now: datetime,
        algorithm: str | None,
        sign_with: str,
        tamper: str | None,
    ) -> None:
        if sign_with != "ours":
            raise ValueError("httpsig cannot sign RFC 9421; pass sign_with='ours'")
        if tamper == "rsa_sha1":
            raise ValueError("rsa_sha1 exists only in draft-cavage")
        h = req.headers
        if tamper == "unsigned":
            if req.body is not None:
                h["Content-Digest"] = _sha256_content_digest(req.body)
            return
        key = actor.signing_key
        alg = None if algorithm in (None, "rsa-sha256", "hs2019") else algorithm
        if tamper in ("drop_date", "hmac_with_public_key") or alg is not None:
            digest = None
            if req.body is not None and tamper != "drop_digest":
                digest = _sha256_content_digest(req.body)
                h["Content-Digest"] = digest
            sign: Callable[[bytes], bytes] = key.sign
            if tamper == "hmac_with_public_key":
                secret = actor.rsa_public_pem.encode()
                alg = "hmac-sha256"
                key_id = actor.main_key_id

                def sign(message: bytes) -> bytes:
                    return hmac.new(secret, message, hashlib.sha256).digest()
            else:
                key_id = key.key_id
            created = None if tamper == "drop_date" else int(now.timestamp())
            h.update(self._rfc9421_custom(sign, key_id, req.method, req.url, digest, created, alg))
        else:
            body = None if tamper == "drop_digest" else req.body
            h.update(sign_rfc9421(req.method, req.url, {}, body, key, now))
        if tamper == "bad_base64":
            h["Signature"] = "sig1=:abc:"

    @staticmethod
    def _rfc9421_custom(
        sign: Callable[[bytes], bytes],
        key_id: str,
        method: str,
        url: str,
        content_digest: str | None,
        created: int | None,
        alg: str | None,
    ) -> dict[str, str]:
        components = [("@method", method.upper()), ("@target-uri", url)]
        if content_digest is not None:
            components.append(("content-digest", content_digest))
        inner = "(" + " ".join(_sf_string(name) for name, _ in components) + ")"
        if created is not None:
            inner += f";created={created}"
        inner += f";keyid={_sf_string(key_id)}"
        if alg is not None:
            inner += f";alg={_sf_string(alg)}"
        lines = [f"{_sf_string(name)}: {value}" for name, value in components]
        lines.append(f'"@signature-params": {inner}')
        signature = sign("\n".join(lines).encode("ascii"))
        out = {"Signature-Input": f"sig1={inner}", "Signature": f"sig1=:{_b64(signature)}:"}
        if content_digest is not None:
            out["Content-Digest"] = content_digest
        return out

    async def deliver(
        self,
        actor: ForeignActor,
        inbox_url: str,
        activity: dict[str, Any],
        *,
        scheme: str = "cavage",
        algorithm: str | None = "rsa-sha256",
        sign_with: str = "httpsig",
        headers: Mapping[str, str | None] | None = None,
        body: bytes | None = None,
        tamper: str | None = None,
    ) -> tuple[int, bytes]:
        """POST `activity` (or raw `body`) to `inbox_url`, signed as `actor`.

        scheme: "cavage" (covers `(request-target) host date digest`) or "rfc9421"
        (`@method @target-uri content-digest`, `created`, `keyid`). algorithm: the cavage
        label, "rsa-sha256", "hs2019" or None (omitted); the label is not part of the signed
        string, so httpsig can sign any label for RSA keys. For rfc9421 any other value is
        sent as the `alg` parameter. sign_with: "httpsig" (RSA, cavage only) or "ours"
        (needed for Ed25519, RFC 9421, and `drop_date` with cavage). headers: set after
        signing, overriding what was signed (None removes a header). tamper: see `TAMPERS`.
        Returns the status and body of the answer.
        """
        raw = body if body is not None else self.dumps(activity)
        prepared = self.sign_request(
            actor,
            "POST",
            inbox_url,
            raw,
            scheme=scheme,
            algorithm=algorithm,
            sign_with=sign_with,
            tamper=tamper,
        )
        for name, value in (headers or {}).items():
            prepared.headers.popall(name, None)
            if value is not None:
                prepared.headers[name] = value
        return await self.send(prepared)

    async def send(self, prepared: PreparedRequest) -> tuple[int, bytes]:
        """Send a `PreparedRequest` exactly as built."""
        assert self._session is not None, "server not started"
        async with self._session.request(
            prepared.method,
            URL(prepared.url, encoded=True),
            headers=prepared.headers,
            data=prepared.body,
            allow_redirects=False,
        ) as response:
            return response.status, await response.read()

    async def signed_get(
        self,
        actor: ForeignActor | None,
        url: str,
        accept: str = AP_JSON,
        *,
        scheme: str = "cavage",
    ) -> tuple[int, dict[str, Any] | bytes]:
        """GET `url` signed as `actor` (unsigned when None): httpsig for RSA, ours otherwise.

        Returns the status and the JSON object of the answer, or its bytes if not one.
        """
        if actor is None:
            prepared = self.sign_request(
                self.instance_actor, "GET", url, None, accept=accept, tamper="unsigned"
            )
        else:
            ours = scheme == "rfc9421" or actor.key_type != "rsa"
            prepared = self.sign_request(
                actor,
                "GET",
                url,
                None,
                scheme=scheme,
                accept=accept,
                algorithm="rsa-sha256" if actor.key_type == "rsa" else "hs2019",
                sign_with="ours" if ours else "httpsig",
            )
        status, raw = await self.send(prepared)
        try:
            doc = json.loads(raw)
        except ValueError:
            return status, raw
        return (status, doc) if isinstance(doc, dict) else (status, raw)

    async def inbox_of(self, actor_uri: str) -> str:
        """The inbox of a remote actor, fetched with a signed GET by the instance actor."""
        status, doc = await self.signed_get(self.instance_actor, actor_uri, AP_ACCEPT)
        if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("inbox"), str):
            raise RuntimeError(f"no inbox for {actor_uri}: {status}")
        inbox: str = doc["inbox"]
        return inbox

    def dumps(self, doc: Any) -> bytes:
        """JSON as this software writes it (GoToSocial sorts keys)."""
        sort = self.software == "gotosocial"
        return json.dumps(doc, ensure_ascii=False, sort_keys=sort).encode("utf-8")

    # -------------------------------------------------------------------- HTTP handling

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            target = self._inboxes.get(request.path)
            if target is None:
                body = await request.read()
                record = self._make_record(request, body, None, _Verdict(), 404)
                await self._record(self.misdirected, record)
                return web.Response(status=404)
            return await self._inbox(request, target)
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405)
        return await self._get(request)

    async def _inbox(self, request: web.Request, target: str) -> web.Response:
        body = await request.read()
        if self.inbox_delay:
            await asyncio.sleep(self.inbox_delay)  # a slow peer, for tests of work in flight
        verdict = await self._check_signature(request, body)
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        status, headers = self._next_inbox_response(verdict)
        record = self._make_record(request, body, parsed, verdict, status)
        record.inbox = target
        await self._record(self.received, record)
        return web.Response(status=status, headers=headers)

    def _make_record(
        self, request: web.Request, body: bytes, parsed: Any, verdict: _Verdict, status: int
    ) -> Received:
        return Received(
            method=request.method,
            path=request.raw_path,
            headers=request.headers,
            body=body,
            json=parsed,
            signature_ok=verdict.ok,
            signature_error=verdict.error,
            key_id=verdict.key_id,
            arrived_at=datetime.now(UTC),
            scheme=verdict.scheme,
            algorithm=verdict.algorithm,
            verifier=verdict.verifier,
            signer=verdict.signer,
            status=status,
            peer=_peer(request),
        )

    def _json(self, doc: Any, status: int = 200) -> web.Response:
        ctype = f"{AP_JSON}; charset=utf-8" if self.software == "mastodon" else AP_JSON
        return web.Response(status=status, body=self.dumps(doc), headers={"Content-Type": ctype})

    async def _get(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        exempt, actor, producer = self._route(request)
        if exempt or not self._has_signature(request.headers):
            verdict = _Verdict()
            if exempt and self._has_signature(request.headers):
                verdict.error = "not checked: exempt path"
        else:
            verdict = await self._check_signature(request, b"")
        refuse = self.require_signed_fetch and not exempt and verdict.ok is not True
        if producer is None:
            response = web.Response(status=410 if self._is_gone(path) else 404)
        elif refuse and actor is not None and self.software == "mastodon":
            # Authorized fetch: the actor minus everything but what key fetching needs.
            response = self._json(self.actor_document(actor, restricted=True))
        elif refuse:
            message = verdict.error or "request not signed"
            response = self._json({"error": message}, status=401)
        else:
            response = producer()
        await self._record(
            self.fetches, self._make_record(request, b"", None, verdict, response.status)
        )
        return response

    def _is_gone(self, path: str) -> bool:
        actor = self._actors.get(path)
        return path in self._gone or (actor is not None and actor.gone)

    def _route(
        self, request: web.Request
    ) -> tuple[bool, ForeignActor | None, Callable[[], web.Response] | None]:
        """(exempt from signed fetch, the actor if an actor document, response producer)."""
        path = request.path
        if path == "/.well-known/webfinger":
            return True, None, functools.partial(self._webfinger, request.query.get("resource", ""))
        if path in ("/.well-known/nodeinfo", "/nodeinfo/2.0", "/nodeinfo/2.1"):
            return True, None, functools.partial(self._nodeinfo, path)
        actor = self._actors.get(path)
        if actor is not None and not actor.gone:
            exempt = actor is self.instance_actor
            return exempt, actor, functools.partial(self._json, self.actor_document(actor))
        stub = self._key_paths.get(path)
        if stub is not None and not stub.gone:
            return True, None, functools.partial(self._json, self._gts_key_stub(stub, path))
        doc = self._objects.get(path)
        if doc is not None:
            return False, None, functools.partial(self._json, doc)
        for owner in self._actors.values():
            collection = (
                None
                if owner.gone
                else self._collection(owner, self.url(path), "page" in request.query)
            )
            if collection is not None:
                return False, None, functools.partial(self._json, collection)
        return False, None, None

    def _gts_key_stub(self, actor: ForeignActor, path: str) -> dict[str, Any]:
        stub: dict[str, Any] = {
            "@context": [SECURITY, AS],
            "id": actor.id,
            "preferredUsername": actor.name,
            "type": actor.type,
        }
        if actor.ed25519_key is not None and path == URL(actor.ed25519_key.key_id).path:
            stub["@context"] = [SECURITY, AS, MULTIKEY]
            stub["assertionMethod"] = [self._multikey(actor)]
        else:
            stub["publicKey"] = {
                "id": actor.main_key_id,
                "owner": actor.id,
                "publicKeyPem": actor.rsa_public_pem,
            }
        return dict(sorted(stub.items()))

    def _collection(self, actor: ForeignActor, url: str, paged: bool) -> dict[str, Any] | None:
        stem = actor.id.rstrip("/")
        if url == f"{stem}/moderators" and self.software == "lemmy":
            return {"type": "OrderedCollection", "id": url, "orderedItems": actor.moderators}
        if url in (f"{stem}/featured", f"{stem}/collections/featured"):
            return {
                "@context": AS,
                "id": url,
                "type": "OrderedCollection",
                "totalItems": 0,
                "orderedItems": [],
            }
        items: list[Any]
        if url == actor.followers:
            items = actor.followers_items
            if self.software == "lemmy":
                return {
                    "@context": list(_LEMMY_CONTEXT),
                    "id": url,
                    "type": "Collection",
                    "totalItems": len(items),
                    "items": [],
                }
        elif url == actor.following:
            items = actor.following_items
        elif url == actor.outbox:
            items = actor.outbox_items
        else:
            return None
        page_param = "1" if self.software == "mastodon" else "true"
        if paged:
            return {
                "@context": AS,
                "id": f"{url}?page={page_param}",
                "type": "OrderedCollectionPage",
                "totalItems": len(items),
                "partOf": url,
                "orderedItems": items,
            }
        return {
            "@context": AS,
            "id": url,
            "type": "OrderedCollection",
            "totalItems": len(items),
            "first": f"{url}?page={page_param}",
        }

    def _webfinger(self, resource: str) -> web.Response:
        matches: list[ForeignActor] = []
        if resource.startswith("acct:"):
            user, _, host = resource[5:].rpartition("@")
            if host == self.domain:
                matches = [a for a in self._actors.values() if a.name == user and not a.gone]
        else:
            found = self._actors.get(URL(resource).path) if resource.startswith("http") else None
            matches = [found] if found is not None and found.id == resource else []
        if not matches:
            return web.Response(status=404)
        first = matches[0]
        subject = f"acct:{first.name}@{self.domain}"
        profile = "http://webfinger.net/rel/profile-page"
        links: list[dict[str, Any]] = []
        jrd: dict[str, Any] = {"subject": subject}
        if self.software == "lemmy":
            jrd["subject"] = resource
            for actor in sorted(matches, key=lambda a: a.type == "Group"):
                links.append({"rel": profile, "type": "text/html", "href": actor.id})
                links.append(
                    {
                        "rel": "self",
                        "type": AP_JSON,
                        "href": actor.id,
                        "properties": {f"{AS}#type": actor.type},
                    }
                )
                if actor.type == "Person":
                    template = self.url("/activitypub/externalInteraction?uri={uri}")
                    links.append(
                        {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": template}
                    )
        elif self.software == "mastodon":
            jrd["aliases"] = [first.url, first.id]
            links = [
                {"rel": profile, "type": "text/html", "href": first.url},
                {"rel": "self", "type": AP_JSON, "href": first.id},
                {
                    "rel": "http://ostatus.org/schema/1.0/subscribe",
                    "template": self.url("/authorize_interaction?uri={uri}"),
                },
            ]
        else:
            jrd["aliases"] = [first.id, first.url]
            links = [
                {"rel": profile, "type": "text/html", "href": first.url},
                {"rel": "self", "type": AP_JSON, "href": first.id},
            ]
        jrd["links"] = links
        return web.Response(
            body=json.dumps(jrd).encode(),
            headers={"Content-Type": "application/jrd+json; charset=utf-8"},
        )

    def _nodeinfo(self, path: str) -> web.Response:
        version = "2.1" if self.software == "lemmy" else "2.0"
        if path == "/.well-known/nodeinfo":
            doc: dict[str, Any] = {
                "links": [
                    {
                        "rel": f"http://nodeinfo.diaspora.software/ns/schema/{version}",
                        "href": self.url(f"/nodeinfo/{version}"),
                    }
                ]
            }
        else:
            users = sum(1 for a in self._actors.values() if a.type == "Person")
            doc = {
                "version": version,
                "software": {"name": self.software, "version": VERSIONS[self.software]},
                "protocols": ["activitypub"],
                "services": {"outbound": [], "inbound": []},
                "usage": {
                    "users": {"total": users, "activeMonth": users, "activeHalfyear": users},
                    "localPosts": 0,
                },
                "openRegistrations": False,
                "metadata": {},
            }
        return web.Response(
            body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
        )

    # -------------------------------------------------------------------- verification

    @staticmethod
    def _has_signature(headers: Mapping[str, str]) -> bool:
        return (
            "signature" in headers
            or "signature-input" in headers
            or (_auth_signature(headers) is not None)
        )

    async def _check_signature(self, request: web.Request, body: bytes) -> _Verdict:
        """Judge the request's signature; never raises, the verdict says what was wrong."""
        h = request.headers
        verdict = _Verdict()
        if not self._has_signature(h):
            return verdict
        verdict.ok = False
        raw = h.get("signature") if "signature-input" not in h else None
        params: Mapping[str, str] = {}
        if raw is not None:
            try:
                params = {k.lower(): v for k, v in parse_signature_header(raw).items()}
            except Exception as exc:  # httpsig's parser on hostile input
                verdict.error = f"unparsable Signature header: {exc}"
                return verdict
            verdict.key_id = params.get("keyid")
        try:
            if raw is not None and params.get("algorithm") == "rsa-sha256":
                await self._verify_httpsig(request, body, params, verdict)
            else:
                await self._verify_ours(request, body, verdict)
        except _Refused as exc:
            verdict.error = str(exc)
        except SignatureError as exc:
            verdict.error = exc.message
        except Exception as exc:  # a double must record, never answer 500
            verdict.error = f"verifier crashed: {exc!r}"
        else:
            verdict.ok = True
        return verdict

    async def _verify_httpsig(
        self, request: web.Request, body: bytes, params: Mapping[str, str], verdict: _Verdict
    ) -> None:
        """rsa-sha256: httpsig for the cryptography, the policy checked here independently."""
        verdict.scheme, verdict.algorithm, verdict.verifier = "cavage", "rsa-sha256", "httpsig"
        key_id = params.get("keyid")
        verdict.key_id = key_id
        if not key_id:
            raise _Refused("Signature has no keyId")
        try:
            base64.b64decode(params.get("signature", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Refused("signature is not valid base64") from exc
        covered = params.get("headers", "date").lower().split()
        for needed in ("(request-target)", "host", "date"):
            if needed not in covered:
                raise _Refused(f"signature does not cover {needed}")
        h = request.headers
        if request.method == "POST" or body:
            if "digest" not in covered:
                raise _Refused("signature does not cover digest for a request with a body")
            self._check_digest(h.get("Digest", ""), body)
        if h.get("Host", "").lower() != self.domain:
            raise _Refused("Host header does not name this server")
        self._check_date(h.get("Date", ""))
        plain = {k.lower(): v for k, v in h.items()}

        def check(key: VerificationKey) -> bool:
            if not isinstance(key.public_key, rsa.RSAPublicKey):
                raise _Refused("rsa-sha256 label but the key is not RSA")
            pem = key.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
            try:
                ok = HeaderVerifier(
                    plain,
                    pem,
                    required_headers=covered,
                    method=request.method,
                    path=request.raw_path,
                    sign_header="signature",
                ).verify()
            except Exception as exc:  # httpsig raises bare Exceptions for missing headers
                raise _Refused(f"httpsig: {exc}") from exc
            return bool(ok)

        key, fresh = await self._resolve_key(key_id)
        verdict.signer = key.owner
        if check(key):
            return
        if not fresh:
            key, _ = await self._resolve_key(key_id, refresh=True)
            verdict.signer = key.owner
            if check(key):
                return
        raise _Refused(f"signature does not verify with key {key_id} (httpsig)")

    @staticmethod
    def _check_digest(header: str, body: bytes) -> None:
        offered = {}
        for part in header.split(","):
            name, eq, value = part.strip().partition("=")
            if eq:
                offered[name.lower()] = value.strip()
        if "sha-256" not in offered:
            raise _Refused("no SHA-256 Digest header")
        if offered["sha-256"] != _b64(hashlib.sha256(body).digest()):
            raise _Refused("Digest does not match the body")

    @staticmethod
    def _check_date(header: str) -> None:
        try:
            sent = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError) as exc:
            raise _Refused("Date header is not an HTTP date") from exc
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if sent > now + _MAX_FUTURE:
            raise _Refused("Date is in the future")
        if now - sent > _MAX_AGE:
            raise _Refused("Date is too old")

    async def _verify_ours(self, request: web.Request, body: bytes, verdict: _Verdict) -> None:
        """hs2019, no label, Ed25519, RFC 9421 (and refusals of hmac / sha1 labels)."""
        verdict.verifier = "federatie"
        h = request.headers
        verdict.scheme = "rfc9421" if "signature-input" in h else "cavage"
        url = self.base_url + request.raw_path
        headers = {k: v for k, v in h.items()}
        parsed = parse_signature(request.method, request.raw_path, url, headers)
        verdict.key_id, verdict.algorithm = parsed.key_id, parsed.algorithm
        payload = body if body else None
        key, fresh = await self._resolve_key(parsed.key_id)
        verdict.signer = key.owner
        try:
            verify_signature(parsed, key, payload)
        except SignatureError as exc:
            if fresh or "does not verify" not in exc.message:
                raise
            key, _ = await self._resolve_key(parsed.key_id, refresh=True)
            verdict.signer = key.owner
            verify_signature(parsed, key, payload)

    async def _resolve_key(
        self, key_id: str, *, refresh: bool = False
    ) -> tuple[VerificationKey, bool]:
        """(key, fetched just now): from the cache, else a signed GET of the key id."""
        cached = self.keys.get(key_id)
        if cached is not None and not refresh:
            return cached, False
        url = key_id.split("#", 1)[0]
        try:
            status, doc = await self.signed_get(self.instance_actor, url, AP_ACCEPT)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _Refused(f"could not fetch key {key_id}: {exc!r}") from exc
        if status != 200 or not isinstance(doc, dict):
            raise _Refused(f"could not fetch key {key_id}: HTTP {status}")
        key = _key_from_document(doc, key_id)
        self.keys[key_id] = key
        return key, True


def _key_from_document(doc: dict[str, Any], key_id: str) -> VerificationKey:
    """Find `key_id` in an actor, a GoToSocial key stub, or a bare key document."""
    candidates: list[Any] = [doc]
    for prop in ("publicKey", "assertionMethod", "verificationMethod"):
        value = doc.get(prop)
        candidates.extend(value if isinstance(value, list) else [value])
    for entry in candidates:
        if not isinstance(entry, dict) or entry.get("id") != key_id:
            continue
        owner = entry.get("owner") or entry.get("controller") or doc.get("id")
        if not isinstance(owner, str):
            raise _Refused(f"key {key_id} has no owner")
        if isinstance(entry.get("publicKeyPem"), str):
            return VerificationKey.from_pem(key_id, owner, entry["publicKeyPem"])
        if isinstance(entry.get("publicKeyMultibase"), str):
            return VerificationKey.from_multibase(key_id, owner, entry["publicKeyMultibase"])
    raise _Refused(f"key {key_id} not found in {doc.get('id')}")


@contextlib.asynccontextmanager
async def started_foreign_server(
    software: str = "mastodon", *, require_signed_fetch: bool | None = None
) -> AsyncIterator[ForeignServer]:
    """`async with started_foreign_server("lemmy") as lemmy:`; stopped on exit."""
    server = await ForeignServer.start(software, require_signed_fetch=require_signed_fetch)
    try:
        yield server
    finally:
        await server.stop()
