"""Remote actors and their keys: fetched with a signed GET, checked, cached in PostgreSQL.

A fetched document counts only when its `id` is the URL it came from (after redirects), its
type is an actor type, and its inbox and keys live on its own origin: an actor document can
not speak for another host (Mastodon CVE-2024-23832). Keys are looked up by key id; an
unknown key id is fetched; a key that fails to verify is refetched at most once per key per
five minutes (rotation), so a flood of bad signatures cannot make us flood its host.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from federatie.activitypub.normalize import id_of, normalize
from federatie.activitypub.signatures import SigningKey, VerificationKey
from federatie.activitypub.uris import host_of, same_origin
from federatie.errors import BadRequest, FetchError, SignatureError
from federatie.federation.transport import Transport
from federatie.storage import remote_actors as sql
from federatie.storage.pool import Pool
from federatie.storage.remote_actors import RemoteActorRow

log = logging.getLogger(__name__)

ACTOR_TYPES = frozenset({"Person", "Group", "Organization", "Service", "Application"})
ACTOR_MAX_AGE = timedelta(days=1)
KEY_REFETCH_INTERVAL = timedelta(minutes=5)

RemoteActor = RemoteActorRow


@dataclass(frozen=True)
class _ParsedActor:
    fields: dict[str, Any]
    keys: list[tuple[str, str, str]]


class RemoteActors:
    def __init__(
        self,
        pool: Pool,
        transport: Transport,
        instance_key: Callable[[], Awaitable[SigningKey]],
    ) -> None:
        self._pool = pool
        self._transport = transport
        self._instance_key = instance_key
        self._keys: dict[str, tuple[VerificationKey, datetime]] = {}

    async def get(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        """The cached actor, fetched when unknown, stale, or when `refresh` is asked."""
        async with self._pool.acquire() as conn:
            cached = await sql.select_remote_actor(conn, uri)
        fresh = (
            cached is not None
            and cached.fetched_at is not None
            and (datetime.now(UTC) - cached.fetched_at < ACTOR_MAX_AGE)
        )
        if cached is not None and fresh and not refresh:
            return cached
        return await self._fetch_actor(uri)

    async def verification_key(
        self, key_id: str, *, after_failure: bool = False
    ) -> VerificationKey:
        """The public key for `key_id`; `after_failure` asks for a newer one (key rotation).

        After a failed verification we try, in order: a newer key another process stored,
        then one refetch, unless this key was fetched less than five minutes ago.
        """
        cached = self._keys.get(key_id)
        if cached is not None and not after_failure:
            return cached[0]
        async with self._pool.acquire() as conn:
            row = await sql.select_remote_key(conn, key_id)
        if row is not None:
            if not after_failure or cached is None or row.fetched_at > cached[1]:
                return self._remember(row)
            async with self._pool.acquire() as conn:
                allowed = await sql.claim_key_refetch(conn, key_id, KEY_REFETCH_INTERVAL)
            if not allowed:
                raise SignatureError("the signature does not verify with the actor's key")
        await self._fetch_key_owner(key_id)
        async with self._pool.acquire() as conn:
            row = await sql.select_remote_key(conn, key_id)
        if row is None:
            raise SignatureError(f"key {key_id} is not published by its actor")
        return self._remember(row)

    def _remember(self, row: sql.RemoteKeyRow) -> VerificationKey:
        if row.kind == "rsa":
            key = VerificationKey.from_pem(row.key_id, row.owner, row.material)
        else:
            key = VerificationKey.from_multibase(row.key_id, row.owner, row.material)
        self._keys[row.key_id] = (key, row.fetched_at)
        return key

    async def _fetch_key_owner(self, key_id: str) -> None:
        """Fetch the document at the key id; if it is a key document, fetch its owner."""
        url = key_id.split("#", 1)[0]
        raw, final_url = await self._fetch(url)
        doc = normalize(raw)
        if doc.get("type") in ACTOR_TYPES and doc.get("id") == final_url:
            await self._store(final_url, raw, doc)
            return
        # GoToSocial's key ids have no fragment and serve a stub: follow `owner` to the actor.
        public_key = _first(doc.get("publicKey"))
        owner = (
            doc.get("owner")
            or raw.get("controller")  # a bare Multikey document
            or (id_of(public_key.get("owner")) if isinstance(public_key, dict) else None)
            # A stub carrying only assertionMethod (an Ed25519 key) names its actor by `id`.
            or (doc.get("id") if doc.get("type") in ACTOR_TYPES else None)
        )
        if not isinstance(owner, str) or not same_origin(owner, key_id):
            raise SignatureError(f"{key_id} does not lead to an actor on its own host")
        await self._fetch_actor(owner)

    async def _fetch_actor(self, uri: str) -> RemoteActor:
        raw, final_url = await self._fetch(uri)
        doc = normalize(raw)
        if doc.get("id") != final_url:
            raise FetchError(f"document at {final_url} claims the id {doc.get('id')!r}")
        return await self._store(final_url, raw, doc)

    async def _fetch(self, url: str) -> tuple[dict[str, Any], str]:
        key = await self._instance_key()
        return await self._transport.fetch_json(url, key)

    async def _store(self, uri: str, raw: dict[str, Any], doc: dict[str, Any]) -> RemoteActor:
        parsed = _parse_actor(uri, raw, doc)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await sql.upsert_remote_actor(conn, **parsed.fields)
            await sql.replace_remote_keys(conn, row.id, parsed.keys)
        for key_id, _, _ in parsed.keys:
            self._keys.pop(key_id, None)
        log.info("actor.fetched", extra={"actor": uri, "keys": len(parsed.keys)})
        return row


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _parse_actor(uri: str, raw: dict[str, Any], doc: dict[str, Any]) -> _ParsedActor:
    """Check an actor document and pick out what we store; BadRequest when it is unusable."""
    actor_type = doc.get("type")
    if actor_type not in ACTOR_TYPES:
        raise BadRequest(f"{uri} is a {actor_type!r}, not an actor")
    inbox = doc.get("inbox")
    if not isinstance(inbox, str) or not same_origin(inbox, uri):
        raise BadRequest(f"actor {uri} has no inbox on its own host")
    endpoints = doc.get("endpoints")
    shared_inbox = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    if shared_inbox is not None and not same_origin(shared_inbox, uri):
        shared_inbox = None
    keys: list[tuple[str, str, str]] = []
    public_key = _first(doc.get("publicKey"))
    if isinstance(public_key, dict):
        key_id, owner, pem = (
            public_key.get("id"),
            public_key.get("owner"),
            public_key.get("publicKeyPem"),
        )
        if (
            isinstance(key_id, str)
            and isinstance(pem, str)
            and owner == uri
            and same_origin(key_id, uri)
        ):
            keys.append((key_id, "rsa", pem))
    # FEP-521a keys live under assertionMethod (security/multikey context), outside the
    # normalised shape: read them from the raw document, checking controller and origin.
    methods = raw.get("assertionMethod")
    for method in methods if isinstance(methods, list) else [methods]:
        if not isinstance(method, dict):
            continue
        key_id, controller = method.get("id"), method.get("controller")
        multibase = method.get("publicKeyMultibase")
        if (
            isinstance(key_id, str)
            and isinstance(multibase, str)
            and controller == uri
            and same_origin(key_id, uri)
            and method.get("type") == "Multikey"
        ):
            keys.append((key_id, "ed25519", multibase))
    username = doc.get("preferredUsername")
    if not isinstance(username, str) or not username:
        username = uri.rstrip("/").rsplit("/", 1)[-1]
    return _ParsedActor(
        fields={
            "uri": uri,
            "type": actor_type,
            "username": username,
            "host": host_of(uri),
            "name": doc.get("name"),
            "summary": doc.get("summary"),
            "url": doc.get("url"),
            "inbox": inbox,
            "shared_inbox": shared_inbox,
            "outbox": doc.get("outbox"),
            "followers": doc.get("followers"),
            "following": doc.get("following"),
            "manually_approves_followers": doc.get("manuallyApprovesFollowers") is True,
            "document": doc,
        },
        keys=keys,
    )
