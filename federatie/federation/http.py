"""The one outbound HTTP client: every request the server sends goes through `SafeHttpClient`.

Deliveries, actor and key fetches and media downloads all go to addresses that remote (and
possibly hostile) servers choose, so the same rules must hold for every one of them:

* SSRF: only public unicast addresses are contacted. Literal IPs are checked before anything
  is sent; host names are checked inside the DNS resolver the connection pool uses, so the
  address that was checked is the address that is connected to (no DNS-rebinding gap).
  `allow_loopback` is a development switch that admits loopback peers, never other private
  ranges. Proxies from the environment are ignored (`trust_env=False`): a proxy would do its
  own DNS and so defeat the address check.
* Only `https`, unless `allow_http`.
* Redirects are followed by hand, at most `max_redirects` hops, each hop re-checked and
  re-signed (an HTTP signature covers the target URL).
* Size caps on the (decompressed) body, read in chunks; time-outs over the whole exchange.
* TLS verified against the system store (or `SSL_CERT_FILE`) plus an optional extra bundle.
* Every failure is a typed `FetchError`; aiohttp exceptions never reach callers.

aiohttp is used because it was measured here at about 1/28 of httpx's CPU per request; the
pool keeps connections alive per host.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Collection, Container, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol, Self

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy
from yarl import URL

from federatie.errors import ConfigError, FederatieError, FetchError, FetchRefused, PayloadTooLarge

__all__ = [
    "AP_ACCEPT",
    "AP_CONTENT_TYPES",
    "AddressFilteringResolver",
    "Download",
    "HttpClientSettings",
    "HttpResponse",
    "HttpStatusError",
    "SafeHttpClient",
    "Signer",
    "build_ssl_context",
    "is_forbidden_address",
    "is_forbidden_hostname",
]

MiB: Final = 1024 * 1024

Signer = Callable[[str, str, Mapping[str, str], bytes | None], Mapping[str, str]]
"""(method, url, headers, body) -> extra headers (e.g. Date, Digest, Signature) for one hop.

Called once per hop, redirects included, because the signature covers the target URL. The
headers passed in are the ones the client will send (caller's headers plus User-Agent); the
`Host` header is derived by aiohttp from the URL, so signers take the host from `url`.
"""

AP_ACCEPT: Final = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

AP_CONTENT_TYPES: Final = frozenset({"application/activity+json", "application/ld+json"})
"""Media types `get_json` accepts by default (parameters such as `profile` are ignored).

Plain `application/json` is deliberately NOT accepted by default: peers' media stores and
user-upload areas commonly serve uploaded `.json` files as `application/json`, and accepting
those would let anyone who can upload a file to a server forge ActivityPub objects that appear
to come from that server's origin (the attack behind Mastodon's 2024 content-type hardening).
Callers fetching non-ActivityStreams JSON (NodeInfo, WebFinger's `application/jrd+json`) pass
their own `content_types`.
"""

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

_SMALL_BODY: Final = 64 * 1024  # drain up to this much of an unwanted body to keep the connection
_CHUNK: Final = 64 * 1024

# ---------------------------------------------------------------------------------------------
# Address policy
# ---------------------------------------------------------------------------------------------

# Explicit lists on top of the `ipaddress` properties, because those properties changed between
# Python releases (e.g. 100.64.0.0/10 is neither private nor global) and the policy must not.
_FORBIDDEN_V4: Final = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; connecting to 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback (admitted separately when allow_loopback)
        "169.254.0.0/16",  # link-local, including 169.254.169.254 cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including 255.255.255.255
    )
)
_FORBIDDEN_V6: Final = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",  # unspecified
        "::1/128",  # loopback (admitted separately when allow_loopback)
        "::/96",  # deprecated IPv4-compatible addresses
        "::ffff:0:0/96",  # IPv4-mapped (unwrapped and checked as IPv4 before we get here)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")

# Hex or dotted-decimal forms that `inet_aton` still accepts (0x7f.1, 017700000001, 127.1).
_NUMERIC_HOST: Final = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?$")


def _address_forbidden(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool
) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by that address.
        if addr.ipv4_mapped is not None:
            return _address_forbidden(addr.ipv4_mapped, allow_loopback)
        if addr in _NAT64_WELL_KNOWN:
            # A NAT64 gateway would reach the embedded IPv4 address; loopback is never meant.
            return _address_forbidden(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), False)
        if addr.sixtofour is not None and _address_forbidden(addr.sixtofour, False):
            return True
        if addr.teredo is not None:
            return True
    if addr.is_loopback:
        return not allow_loopback
    if (
        addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    ):
        return True
    if isinstance(addr, ipaddress.IPv4Address):
        return any(addr in net for net in _FORBIDDEN_V4)
    return addr.is_site_local or any(addr in net for net in _FORBIDDEN_V6)


@functools.lru_cache(maxsize=4096)
def is_forbidden_address(ip: str, allow_loopback: bool) -> bool:
    """True when `ip` must not be contacted: anything but a public unicast address.

    Loopback (127/8, ::1, and their IPv4-mapped forms) is admitted only when `allow_loopback`;
    private, link-local (cloud metadata), CGNAT, multicast, reserved, unspecified and
    documentation ranges never are, nor IPv6 forms embedding such an IPv4 address (mapped,
    NAT64, 6to4) or Teredo. Unparseable input is forbidden. Reused by the inbox for keyId hosts.
    Cached: a pure function of its arguments, on the path of every request.
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return _address_forbidden(addr, allow_loopback)


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


@functools.lru_cache(maxsize=4096)
def is_forbidden_hostname(host: str, allow_loopback: bool) -> str | None:
    """Why `host` (a URL host) is refused without resolving it, or None if it may be resolved.

    Literal IPs get the full address check; `localhost` names (RFC 6761) are refused unless
    `allow_loopback`; legacy numeric forms (`2130706433`, `0x7f.1`, `127.1`) are refused outright
    because resolvers would map them onto addresses the caller cannot see.
    """
    if not host:
        return "no host"
    if ":" in host or host.replace(".", "").isdigit():
        # aiohttp treats these as literal addresses and never asks the resolver, so they must
        # be judged here.
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return f"host {host!r} is not a canonical IP address"
        if isinstance(addr, ipaddress.IPv4Address) and str(addr) != host:
            return f"host {host!r} is not a canonical IPv4 address"
        if _address_forbidden(addr, allow_loopback):
            return f"address {host} is not a public address"
        return None
    if _NUMERIC_HOST.match(host.lower()):
        return f"host {host!r} is a non-canonical numeric address"
    if _is_localhost_name(host) and not allow_loopback:
        return f"host {host!r} is the local host"
    return None


class AddressFilteringResolver(AbstractResolver):
    """DNS resolver for the connection pool that refuses names resolving to forbidden addresses.

    Why a resolver and not a check before the request: checking a name with one lookup and then
    letting the connector look it up again leaves a DNS-rebinding gap (the attacker's DNS answers
    a public address to the check and 169.254.169.254 to the connect). The `TCPConnector` connects
    to exactly the addresses this resolver returns (and caches exactly those), so the addresses
    checked here are the addresses connected to. If ANY address of a name is forbidden, the whole
    name is refused rather than filtered: a name pointing into a private range is not a peer.
    """

    def __init__(self, inner: AbstractResolver, *, allow_loopback: bool) -> None:
        self._inner = inner
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve through the wrapped resolver; raise `FetchRefused` on any forbidden address."""
        if _is_localhost_name(host) and not self._allow_loopback:
            raise FetchRefused(f"refused: host {host!r} is the local host")
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if is_forbidden_address(result["host"], self._allow_loopback):
                raise FetchRefused(
                    f"refused: host {host!r} resolves to forbidden address {result['host']}"
                )
        if not results:
            raise OSError(f"no addresses for {host!r}")
        return results

    async def close(self) -> None:
        """Close the wrapped resolver (the connector only closes resolvers it created)."""
        await self._inner.close()


# ---------------------------------------------------------------------------------------------
# Settings, results, errors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpClientSettings:
    """Outbound HTTP policy. The defaults are the production ones (https only, no loopback)."""

    user_agent: str
    allow_http: bool = False
    allow_loopback: bool = False
    ca_bundle: str | None = None
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    max_json_bytes: int = 1 * MiB
    max_media_bytes: int = 50 * MiB
    max_redirects: int = 3
    per_host_limit: int = 8
    total_limit: int = 256

    def __post_init__(self) -> None:
        """Refuse nonsense at start-up rather than at the first delivery."""
        if not self.user_agent.strip():
            raise ConfigError("http.user_agent must not be empty")
        for name in ("connect_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"http.{name} must be positive")
        for name in ("max_json_bytes", "max_media_bytes", "per_host_limit", "total_limit"):
            if getattr(self, name) < 1:
                raise ConfigError(f"http.{name} must be at least 1")
        if self.max_redirects < 0:
            raise ConfigError("http.max_redirects must not be negative")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response: final status, headers and (capped) body, and the final URL."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str


@dataclass(frozen=True, slots=True)
class Download:
    """A response whose body went to a file: `size` bytes were written."""

    status: int
    headers: CIMultiDictProxy[str]
    url: str
    size: int


class HttpStatusError(FetchError):
    """The final response had a status outside `accept_statuses`.

    `upstream_status` is the remote status (a delivery treats 4xx as final, 5xx as retryable);
    `status` stays the one the web layer would answer with (502).
    """

    def __init__(self, message: str, *, upstream_status: int, url: str) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.url = url


class SupportsWrite(Protocol):
    """A sink for `download`: a binary file, or anything whose `write` may be awaited."""

    def write(self, data: bytes, /) -> Any:
        """Write one chunk; may return an awaitable (for asynchronous files)."""


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------


def build_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """System trust store plus `SSL_CERT_FILE` plus the optional extra `ca_bundle`.

    `ssl.create_default_context()` calls OpenSSL's `set_default_verify_paths`, which reads
    `SSL_CERT_FILE`/`SSL_CERT_DIR` in place of the built-in store on OpenSSL builds (the Linux
    norm, checked here with CPython 3.11 / OpenSSL 3.0). `SSL_CERT_FILE` is also loaded
    explicitly so that it is honoured on builds that ignore the variable. `ca_bundle` is added on
    top: it extends trust (e.g. a government private CA) rather than replacing the system store.
    Hostname checking and TLS >= 1.2 come with the default context.
    """
    ctx = ssl.create_default_context()
    env_file = os.environ.get("SSL_CERT_FILE")
    if env_file and os.path.isfile(env_file):
        ctx.load_verify_locations(cafile=env_file)
    if ca_bundle is not None:
        try:
            ctx.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"http.ca_bundle {ca_bundle!r} cannot be loaded: {exc}") from exc
    return ctx


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _has(headers: Mapping[str, str], name: str) -> bool:
    lname = name.lower()
    return any(k.lower() == lname for k in headers)


_HEADER_BREAK: Final = re.compile(r"[\r\n\0]")  # would split or end the header block
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS: Final = frozenset({"content-type", "content-length", "digest", "content-digest"})


@dataclass(slots=True)
class _Slot:
    semaphore: asyncio.Semaphore
    users: int = 0


class SafeHttpClient:
    """The server's only outbound HTTP client (see the module docstring for the policy).

    Use as `async with SafeHttpClient(settings) as client:` or call `start()`/`close()`.
    `resolver` replaces the system DNS resolver underneath the address filter; it exists for
    tests (a stub DNS), the filter always applies.
    """

    def __init__(
        self, settings: HttpClientSettings, *, resolver: AbstractResolver | None = None
    ) -> None:
        self.settings = settings
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AddressFilteringResolver | None = None
        self._schemes = frozenset({"https", "http"} if settings.allow_http else {"https"})
        self._slots: dict[tuple[str, str, int | None], _Slot] = {}
        self._all_slots = asyncio.Semaphore(settings.total_limit)

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the connection pool. Must run inside the event loop that will use it."""
        if self._session is not None:
            return
        s = self.settings
        ssl_context = build_ssl_context(s.ca_bundle)
        inner = self._inner_resolver or aiohttp.ThreadedResolver()
        self._resolver = AddressFilteringResolver(inner, allow_loopback=s.allow_loopback)
        connector = aiohttp.TCPConnector(
            ssl=ssl_context,
            resolver=self._resolver,
            limit=s.total_limit,
            limit_per_host=s.per_host_limit,
            use_dns_cache=True,  # caches the filtered answers only
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The whole exchange (slot wait and redirects included) is bounded by the deadline in
            # request()/download(), so aiohttp only bounds the TCP/TLS set-up. Its `connect` would
            # also count the wait for a pooled connection (our queue's business), and `sock_read`
            # re-arms a timer on every read, which the deadline makes redundant.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=s.connect_timeout, sock_read=None
            ),
            cookie_jar=aiohttp.DummyCookieJar(),  # no state carried between servers
            trust_env=False,  # an environment proxy would resolve names itself: SSRF hole
            auto_decompress=True,  # size caps apply to the decompressed bytes
            raise_for_status=False,
        )

    async def close(self) -> None:
        """Close pooled connections and the resolver. Safe to call twice."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        resolver, self._resolver = self._resolver, None
        if resolver is not None:
            await resolver.close()

    async def __aenter__(self) -> Self:
        """Start the pool."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the pool."""
        await self.close()

    # -- public API ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
        sign: Signer | None = None,
        accept_statuses: Container[int] | None = None,
        time_limit: float | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole response body.

        `max_bytes` defaults to `max_json_bytes` (bodies read into memory are API documents;
        media goes through `download`). `accept_statuses`: when given, any other final status
        raises `HttpStatusError`; when None every status is returned for the caller to judge.
        `time_limit` overrides `total_timeout` for this call and covers all redirect hops.
        Raises `FetchRefused`, `FetchError`, `HttpStatusError` or `PayloadTooLarge`.
        """
        cap = self.settings.max_json_bytes if max_bytes is None else max_bytes
        limit = self.settings.total_timeout if time_limit is None else time_limit
        with self._guard(method, url, limit):
            async with (
                asyncio.timeout(limit),
                self._open(
                    method, url, headers=headers, body=body, follow=follow_redirects, sign=sign
                ) as (resp, final),
            ):
                await self._check_status(resp, final, accept_statuses)
                if method.upper() == "HEAD":
                    data = b""  # Content-Length describes the GET body; there is none here
                else:
                    data = await _read_capped(resp, cap, final)
                return HttpResponse(resp.status, resp.headers, data, final)
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: _guard may swallow)

    async def get_json(
        self,
        url: str,
        *,
        sign: Signer | None = None,
        accept: str = AP_ACCEPT,
        content_types: Collection[str] = AP_CONTENT_TYPES,
        max_bytes: int | None = None,
    ) -> tuple[dict[str, Any], HttpResponse]:
        """GET a JSON object; require a 2xx status and one of `content_types`.

        See `AP_CONTENT_TYPES` for why plain `application/json` is not accepted by default.
        Raises `FetchError` for a wrong content type, malformed JSON or a non-object document.
        """
        resp = await self.request(
            "GET",
            url,
            headers={"Accept": accept},
            sign=sign,
            max_bytes=max_bytes,
            accept_statuses=range(200, 300),
        )
        mime = _mime(resp.headers.get("Content-Type", ""))
        if mime not in content_types:
            raise FetchError(f"unexpected content type {mime or 'none'!r} from {resp.url}")
        try:
            doc = orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise FetchError(f"malformed JSON from {resp.url}: {exc}") from None
        if not isinstance(doc, dict):
            raise FetchError(f"JSON from {resp.url} is not an object")
        return doc, resp

    async def download(
        self,
        url: str,
        dest: SupportsWrite,
        *,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
        sign: Signer | None = None,
        time_limit: float | None = None,
    ) -> Download:
        """GET `url` (2xx only) and stream the body into `dest` in chunks, capped.

        `max_bytes` defaults to `max_media_bytes`. On `PayloadTooLarge` (or any error) part of
        the body may already have been written: the caller discards `dest`. Nothing is written
        for a non-2xx status or a Content-Length over the cap.
        """
        cap = self.settings.max_media_bytes if max_bytes is None else max_bytes
        limit = self.settings.total_timeout if time_limit is None else time_limit
        with self._guard("GET", url, limit):
            async with (
                asyncio.timeout(limit),
                self._open("GET", url, headers=headers, body=None, follow=True, sign=sign) as (
                    resp,
                    final,
                ),
            ):
                await self._check_status(resp, final, range(200, 300))
                _check_length(resp, cap, final)
                size = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise PayloadTooLarge(f"response from {final} exceeds {cap} bytes")
                    written = dest.write(chunk)
                    if inspect.isawaitable(written):
                        await written
                return Download(resp.status, resp.headers, final, size)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals -------------------------------------------------------------------------

    def _refusal(self, url: URL) -> str | None:
        """Why `url` may not be requested (scheme, credentials, host), or None."""
        if url.scheme not in self._schemes:
            allowed = " or ".join(sorted(self._schemes))
            return f"scheme {url.scheme!r} is not allowed (only {allowed})"
        if url.user is not None or url.password is not None:
            return "URLs with credentials are not allowed"
        # raw_host (IDNA-encoded, as aiohttp connects to it) rather than the display form.
        return is_forbidden_hostname(url.raw_host or "", self.settings.allow_loopback)

    @contextmanager
    def _guard(self, method: str, url: str, limit: float) -> Iterator[None]:
        """Translate every failure into a typed error, so aiohttp exceptions never leak."""
        try:
            yield
        except FederatieError:
            raise
        except TimeoutError as exc:  # asyncio.timeout, and aiohttp's ServerTimeoutError
            raise FetchError(f"timed out after {limit:g}s: {method} {url}") from exc
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
            raise FetchError(
                f"TLS failure (certificate or handshake): {method} {url}: {exc}"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchRefused(f"refused: invalid URL {url!r}") from exc
        except ValueError as exc:  # e.g. a CR/LF smuggled into a header value
            raise FetchRefused(f"refused: invalid request {method} {url}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(
                f"request failed: {method} {url}: {type(exc).__name__}: {exc}"
            ) from exc

    @asynccontextmanager
    async def _slot(self, url: URL) -> AsyncIterator[None]:
        """Hold one of the host's `per_host_limit` slots (and one of `total_limit`), FIFO.

        Why not just aiohttp's pool limits: its waiters are not served in order (a task that
        releases a connection and asks again can take it back before a woken waiter runs), so
        under load some requests starve until they time out; measured here as 5 s stalls at
        64 concurrent POSTs to one host with a median of 1.4 ms. `asyncio.Semaphore` is FIFO,
        and while we hold a slot aiohttp's pool for the host never runs out. Redirect hops to
        other hosts run under the first host's slot.
        """
        key = (url.scheme, url.raw_host or "", url.port)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(asyncio.Semaphore(self.settings.per_host_limit))
        slot.users += 1
        try:
            async with slot.semaphore, self._all_slots:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[key]

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise FetchError("SafeHttpClient used before start() or after close()")
        return self._session

    @asynccontextmanager
    async def _open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        follow: bool,
        sign: Signer | None,
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, str]]:
        """Yield the final response (after redirects) and its URL; release it afterwards."""
        session = self._require_session()
        method = method.upper()
        try:
            target = URL(url)
        except (ValueError, TypeError) as exc:
            raise FetchRefused(f"refused: invalid URL {url!r}") from exc
        base: dict[str, str] = dict(headers or {})
        if not _has(base, "User-Agent"):
            base["User-Agent"] = self.settings.user_agent
        reason = self._refusal(target)
        if reason is not None:  # refused requests do not queue for a slot
            raise FetchRefused(f"refused {target}: {reason}")
        hops = 0
        async with self._slot(target):
            while True:
                if hops:
                    reason = self._refusal(target)
                    if reason is not None:
                        raise FetchRefused(f"refused {target}: {reason}")
                send = dict(base)
                if sign is not None:
                    send.update(sign(method, str(target), dict(send), body))
                for name, value in send.items():
                    if _HEADER_BREAK.search(name) or _HEADER_BREAK.search(value):
                        raise FetchRefused(f"refused: invalid request header {name!r} for {target}")
                async with session.request(
                    method, target, headers=send, data=body, allow_redirects=False
                ) as resp:
                    location = resp.headers.get("Location")
                    if not (follow and resp.status in REDIRECT_STATUSES):
                        yield resp, str(target)
                        return
                    if location is None:
                        raise FetchError(f"redirect {resp.status} without Location from {target}")
                    hops += 1
                    if hops > self.settings.max_redirects:
                        limit = self.settings.max_redirects
                        raise FetchError(f"too many redirects (more than {limit}) from {url}")
                    try:
                        following = target.join(URL(location))
                    except (ValueError, TypeError) as exc:
                        raise FetchRefused(f"refused: invalid redirect from {target}") from exc
                    await _drain(resp)
                if resp.status == 303 and method != "HEAD":
                    # 303 See Other: fetch the other resource with GET. 301/302 keep the method:
                    # a signed POST delivery silently turned into a GET would look delivered.
                    method, body = "GET", None
                    base = {k: v for k, v in base.items() if k.lower() not in _BODY_HEADERS}
                if following.origin() != target.origin():
                    base = {k: v for k, v in base.items() if k.lower() not in _CREDENTIAL_HEADERS}
                target = following

    @staticmethod
    async def _check_status(
        resp: aiohttp.ClientResponse, url: str, accept: Container[int] | None
    ) -> None:
        if accept is None or resp.status in accept:
            return
        await _drain(resp)
        raise HttpStatusError(
            f"status {resp.status} from {url}", upstream_status=resp.status, url=url
        )


def _check_length(resp: aiohttp.ClientResponse, cap: int, url: str) -> None:
    """Refuse before reading when the declared length is already over the cap."""
    length = resp.content_length
    if length is not None and length > cap:
        raise PayloadTooLarge(f"response from {url} has Content-Length {length} > {cap} bytes")


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, url: str) -> bytes:
    """Read the body, aborting as soon as it exceeds `cap` bytes (after decompression)."""
    _check_length(resp, cap, url)
    if resp.content_length is not None and "Content-Encoding" not in resp.headers:
        # Identity body with a length already checked: aiohttp reads exactly that much.
        return await resp.read()
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise PayloadTooLarge(f"response from {url} exceeds {cap} bytes")
    return bytes(buf)


async def _drain(resp: aiohttp.ClientResponse) -> None:
    """Read a small unwanted body so the connection can be reused; leave big ones unread.

    An unread body makes aiohttp close the connection on release, which is the right cost for
    a large body but a waste for the usual few bytes of a redirect or error page.
    """
    length = resp.content_length
    if length is not None and length <= _SMALL_BODY and "Content-Encoding" not in resp.headers:
        await resp.read()
