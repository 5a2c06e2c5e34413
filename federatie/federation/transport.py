"""Signed server-to-server HTTP: every POST and every fetch carries an HTTP signature.

Draft-cavage is what the fediverse speaks (Mastodon, Lemmy, GoToSocial, Pleroma); RFC 9421 is
what Mastodon verifies since 4.5. We "double-knock": sign with the scheme remembered for the
host (cavage by default), and on 401 try the other one once; the scheme that worked is stored
per host in `remote_hosts`, shared by all processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federatie.activitypub.signatures import SigningKey, sign_cavage, sign_rfc9421
from federatie.activitypub.uris import host_of
from federatie.domain.policy import PolicySnapshot
from federatie.errors import BadRequest, FetchRefused
from federatie.federation.http import (
    Download,
    HttpResponse,
    HttpStatusError,
    SafeHttpClient,
    Signer,
    SupportsWrite,
)
from federatie.federation.policy import FederationPolicy
from federatie.storage import remote_hosts as hosts_sql
from federatie.storage.pool import Pool

CAVAGE = "cavage"
RFC9421 = "rfc9421"
_SIGNERS = {CAVAGE: sign_cavage, RFC9421: sign_rfc9421}


def _signer(scheme: str, key: SigningKey) -> Signer:
    sign = _SIGNERS[scheme]

    def signer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Mapping[str, str]:
        return sign(method, url, headers, body, key)

    return signer


class Transport:
    """Signs and sends; refuses hosts the federation policy excludes and our own host."""

    def __init__(
        self, client: SafeHttpClient, pool: Pool, policy: FederationPolicy, own_host: str
    ) -> None:
        self._client = client
        self._pool = pool
        self._policy = policy
        self._own_host = own_host.lower()
        self._schemes: dict[str, str] = {}

    async def fetch_json(self, url: str, key: SigningKey) -> tuple[dict[str, Any], str]:
        """GET an ActivityStreams document signed with `key`; return it and the final URL."""
        host = await self._check_host(url)
        scheme = await self._scheme(host)
        snapshot = await self._policy.snapshot()
        for attempt in (scheme, _other(scheme)):
            sign = self._hop_checked(_signer(attempt, key), snapshot)
            try:
                doc, response = await self._client.get_json(url, sign=sign)
            except HttpStatusError as exc:
                if exc.upstream_status == 401 and attempt == scheme:
                    continue
                raise
            await self._remember(host, attempt, scheme)
            await self._check_host(response.url)
            return doc, response.url
        raise AssertionError("unreachable")

    async def post(self, url: str, body: bytes, key: SigningKey) -> HttpResponse:
        """POST an activity; returns the response whatever its status (delivery judges it)."""
        host = await self._check_host(url)
        scheme = await self._scheme(host)
        headers = {"Content-Type": "application/activity+json"}
        response = await self._client.request(
            "POST",
            url,
            headers=headers,
            body=body,
            sign=_signer(scheme, key),
            follow_redirects=False,
        )
        if response.status == 401:
            retry = await self._client.request(
                "POST",
                url,
                headers=headers,
                body=body,
                sign=_signer(_other(scheme), key),
                follow_redirects=False,
            )
            if retry.status < 400:
                await self._remember(host, _other(scheme), scheme)
            return retry
        return response

    async def download(
        self,
        url: str,
        dest: SupportsWrite,
        key: SigningKey,
        *,
        max_bytes: int,
        time_limit: float | None = None,
    ) -> Download:
        """GET a file into `dest`, signed with `key` like `fetch_json` (members-only files are
        served only to signed fetches); nothing is written for a refused (non-2xx) answer."""
        host = await self._check_host(url)
        scheme = await self._scheme(host)
        snapshot = await self._policy.snapshot()
        for attempt in (scheme, _other(scheme)):
            sign = self._hop_checked(_signer(attempt, key), snapshot)
            try:
                result = await self._client.download(
                    url, dest, max_bytes=max_bytes, sign=sign, time_limit=time_limit
                )
            except HttpStatusError as exc:
                if exc.upstream_status == 401 and attempt == scheme:
                    continue
                raise
            await self._remember(host, attempt, scheme)
            return result
        raise AssertionError("unreachable")

    def _hop_checked(self, sign: Signer, snapshot: PolicySnapshot) -> Signer:
        """`sign`, refusing any redirect hop to a host the policy excludes or to ourselves:
        the client calls the signer for every hop before sending it, so a refused host is
        never sent a request (checking only the first and final URL would be too late)."""

        def signer(
            method: str, url: str, headers: Mapping[str, str], body: bytes | None
        ) -> Mapping[str, str]:
            try:
                host = host_of(url)
            except BadRequest as exc:
                raise FetchRefused(f"not a fetchable URL: {url!r}") from exc
            if host == self._own_host:
                raise FetchRefused(f"{url} is on this instance; local objects are never fetched")
            if not snapshot.allows(host):
                raise FetchRefused(f"this instance does not federate with {host}")
            return sign(method, url, headers, body)

        return signer

    async def _check_host(self, url: str) -> str:
        try:
            host = host_of(url)
        except BadRequest as exc:
            raise FetchRefused(f"not a fetchable URL: {url!r}") from exc
        if host == self._own_host:
            raise FetchRefused(f"{url} is on this instance; local objects are never fetched")
        if not await self._policy.allows(host):
            raise FetchRefused(f"this instance does not federate with {host}")
        return host

    async def _scheme(self, host: str) -> str:
        scheme = self._schemes.get(host)
        if scheme is None:
            async with self._pool.acquire() as conn:
                scheme = await hosts_sql.select_signature_scheme(conn, host) or CAVAGE
            self._schemes[host] = scheme
        return scheme

    async def _remember(self, host: str, used: str, expected: str) -> None:
        if used != expected:
            self._schemes[host] = used
            async with self._pool.acquire() as conn:
                await hosts_sql.upsert_signature_scheme(conn, host, used)


def _other(scheme: str) -> str:
    return RFC9421 if scheme == CAVAGE else CAVAGE
