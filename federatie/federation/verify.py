"""Who is speaking: verify an inbound request's HTTP signature and name its signer.

The algorithm always comes from the key we hold, never from the request (`httpsig` trusts the
request's label, so an HMAC keyed with an actor's *public* key would pass as that actor).
Linked-Data signatures inside bodies are never trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from federatie.activitypub.signatures import (
    FreshnessPolicy,
    check_freshness_and_digest,
    parse_signature,
    verify_with_key,
)
from federatie.activitypub.uris import parse_actor_url
from federatie.errors import BadRequest, FetchError, Forbidden, SignatureError
from federatie.federation.http import is_forbidden_hostname
from federatie.federation.policy import FederationPolicy
from federatie.federation.remote_actors import RemoteActors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signer:
    """The verified signer of a request: the key's owner actor and its host."""

    actor: str
    key_id: str
    host: str


class RequestVerifier:
    def __init__(
        self,
        remote: RemoteActors,
        policy: FederationPolicy,
        *,
        own_host: str,
        allow_loopback: bool,
        freshness: FreshnessPolicy | None = None,
    ) -> None:
        self._remote = remote
        self._policy = policy
        self._own_host = own_host.lower()
        self._allow_loopback = allow_loopback
        self._freshness = freshness or FreshnessPolicy()

    async def verify(
        self,
        method: str,
        path_and_query: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Signer:
        """SignatureError (401) unless validly signed; Forbidden (403) for refused hosts."""
        parsed = parse_signature(method, path_and_query, url, headers)
        try:
            key_url = parse_actor_url(parsed.key_id)
        except BadRequest as exc:
            raise SignatureError(f"keyId is not an http(s) URL: {exc.message}") from exc
        if key_url.authority == self._own_host:
            raise SignatureError("keyId names a key of this instance")
        refused = is_forbidden_hostname(key_url.host, self._allow_loopback)
        if refused:
            raise SignatureError(f"keyId host refused: {refused}")
        if not await self._policy.allows(key_url.authority):
            raise Forbidden(f"this instance does not federate with {key_url.authority}")
        check_freshness_and_digest(parsed, body, policy=self._freshness)
        try:
            key = await self._remote.verification_key(parsed.key_id)
            try:
                verify_with_key(parsed, key)
            except SignatureError:
                # The actor may have rotated its key: look once more, then give up.
                key = await self._remote.verification_key(parsed.key_id, after_failure=True)
                verify_with_key(parsed, key)
        except (FetchError, BadRequest) as exc:
            raise SignatureError(f"could not get key {parsed.key_id}: {exc.message}") from exc
        return Signer(actor=key.owner, key_id=key.key_id, host=key_url.authority)
