"""SafeHttpClient against real aiohttp servers on 127.0.0.1; nothing of ours is mocked.

Two test doubles stand in for the outside world only: a stub DNS resolver (injected through the
client's `resolver` parameter) and an autouse guard on the event loop's `sock_connect` and
`getaddrinfo`. The guard records every connection attempt and name lookup and makes any
attempt to reach a non-loopback address fail in the test process itself, so these tests can
never send traffic off the machine, and the refusal tests can assert that nothing was even
attempted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import io
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federatie.errors import ConfigError, FetchError, FetchRefused, PayloadTooLarge
from federatie.federation.http import (
    HttpClientSettings,
    HttpStatusError,
    SafeHttpClient,
    is_forbidden_address,
    is_forbidden_hostname,
)

UA = "Federatie/0.1 (+https://gov.example/)"

# ---------------------------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------------------------


class NetLog:
    """What the guarded event loop was asked to do."""

    def __init__(self) -> None:
        self.connects: list[Any] = []
        self.lookups: list[str] = []


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
async def net(monkeypatch: pytest.MonkeyPatch) -> NetLog:
    """Record connects and lookups; never let one leave loopback."""
    loop = asyncio.get_running_loop()
    log = NetLog()
    real_connect = loop.sock_connect
    real_getaddrinfo = loop.getaddrinfo

    async def sock_connect(sock: socket.socket, address: Any) -> None:
        log.connects.append(address)
        if not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"test guard: refused non-loopback connect {address}")
        await real_connect(sock, address)

    async def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        log.lookups.append(str(host))
        if host not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no DNS for {host!r}")
        return await real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return log


class Seen:
    """What a test server received: one entry per request."""

    def __init__(self) -> None:
        self.peers: list[Any] = []
        self.requests: list[dict[str, Any]] = []


Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp apps on 127.0.0.1:0; return their base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def make_app(seen: Seen, routes: list[web.RouteDef]) -> web.Application:
    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        assert request.transport is not None
        seen.peers.append(request.transport.get_extra_info("peername"))
        seen.requests.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return app


def settings(**overrides: Any) -> HttpClientSettings:
    base: dict[str, Any] = {"user_agent": UA, "allow_http": True, "allow_loopback": True}
    base.update(overrides)
    return HttpClientSettings(**base)


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    async with SafeHttpClient(settings()) as c:
        yield c


class StubResolver(AbstractResolver):
    """A fake DNS: fixed answers per name, each answer list used in turn."""

    def __init__(self, answers: Mapping[str, list[list[str]]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise OSError(f"stub DNS: no such name {host!r}")
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for a in addresses
        ]

    async def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Working requests
# ---------------------------------------------------------------------------------------------


async def test_get_and_post_roundtrip(serve: Serve, client: SafeHttpClient) -> None:
    seen = Seen()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello", headers={"X-Thing": "1"})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), status=202)

    base = await serve(make_app(seen, [web.get("/hello", hello), web.post("/echo", echo)]))

    got = await client.request("GET", f"{base}/hello")
    assert (got.status, got.body, got.url) == (200, b"hello", f"{base}/hello")
    assert got.headers["x-thing"] == "1"  # case-insensitive

    posted = await client.request(
        "POST", f"{base}/echo", body=b"x" * 1000, headers={"Content-Type": "text/plain"}
    )
    assert (posted.status, posted.body) == (202, b"x" * 1000)
    assert all(r["headers"]["User-Agent"] == UA for r in seen.requests)
    assert seen.requests[1]["headers"]["Content-Type"] == "text/plain"


async def test_connection_is_reused(serve: Serve, client: SafeHttpClient, net: NetLog) -> None:
    seen = Seen()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    base = await serve(make_app(seen, [web.get("/", ok), web.post("/", ok)]))
    for _ in range(5):
        await client.request("GET", f"{base}/")
        await client.request("POST", f"{base}/", body=b"{}")
    assert len(seen.requests) == 10
    assert len(set(seen.peers)) == 1
    assert len(net.connects) == 1


async def test_signer_runs_per_hop_with_hop_url(serve: Serve, client: SafeHttpClient) -> None:
    seen = Seen()

    async def r1(request: web.Request) -> web.Response:
        raise web.HTTPFound("/r2")

    async def r2(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/final?x=1")

    async def final(request: web.Request) -> web.Response:
        return web.Response(text="done")

    base = await serve(
        make_app(seen, [web.post("/r1", r1), web.post("/r2", r2), web.post("/final", final)])
    )
    calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def signer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Mapping[str, str]:
        calls.append((method, url, dict(headers), body))
        return {"Signature": f"sig-for {method} {url}"}

    resp = await client.request("POST", f"{base}/r1", body=b"payload", sign=signer)
    assert resp.body == b"done"
    assert resp.url == f"{base}/final?x=1"
    urls = [f"{base}/r1", f"{base}/r2", f"{base}/final?x=1"]
    assert [c[1] for c in calls] == urls
    # 302 and 307 keep the method and body: a redirected delivery stays a delivery.
    assert [c[0] for c in calls] == ["POST"] * 3
    assert all(c[3] == b"payload" and c[2]["User-Agent"] == UA for c in calls)
    assert [r["headers"]["Signature"] for r in seen.requests] == [f"sig-for POST {u}" for u in urls]
    assert [r["body"] for r in seen.requests] == [b"payload"] * 3


async def test_303_turns_into_get_without_body(serve: Serve, client: SafeHttpClient) -> None:
    seen = Seen()

    async def other(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/result")

    async def result(request: web.Request) -> web.Response:
        return web.Response(text="result")

    base = await serve(make_app(seen, [web.post("/submit", other), web.get("/result", result)]))
    resp = await client.request(
        "POST", f"{base}/submit", body=b"data", headers={"Content-Type": "text/plain"}
    )
    assert resp.body == b"result"
    last = seen.requests[-1]
    assert (last["method"], last["body"]) == ("GET", b"")
    assert "Content-Type" not in last["headers"]


async def test_follow_redirects_false_returns_the_redirect(
    serve: Serve, client: SafeHttpClient
) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("http://10.0.0.1/")

    base = await serve(make_app(Seen(), [web.get("/", moved)]))
    resp = await client.request("GET", f"{base}/", follow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == "http://10.0.0.1/"


async def test_credentials_dropped_on_cross_origin_redirect(
    serve: Serve, client: SafeHttpClient
) -> None:
    seen_b = Seen()

    async def landing(request: web.Request) -> web.Response:
        return web.Response(text="b")

    base_b = await serve(make_app(seen_b, [web.get("/", landing)]))

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{base_b}/")

    base_a = await serve(make_app(Seen(), [web.get("/", away)]))
    await client.request("GET", f"{base_a}/", headers={"Authorization": "Bearer t", "X-K": "v"})
    assert "Authorization" not in seen_b.requests[0]["headers"]
    assert seen_b.requests[0]["headers"]["X-K"] == "v"


async def test_status_filter_raises_typed_error(serve: Serve, client: SafeHttpClient) -> None:
    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410, text="gone")

    base = await serve(make_app(Seen(), [web.get("/", gone)]))
    assert (await client.request("GET", f"{base}/")).status == 410  # no filter: returned
    with pytest.raises(HttpStatusError) as info:
        await client.request("GET", f"{base}/", accept_statuses=range(200, 300))
    assert info.value.upstream_status == 410
    assert info.value.status == 502


async def test_per_host_limit_is_fair(serve: Serve) -> None:
    """More callers than slots: at most `per_host_limit` in flight, and nobody starves.

    aiohttp's own pool lets a task that just released a connection take it back before a woken
    waiter runs, so with it alone some of these requests wait until they time out.
    """
    in_flight = peak = 0

    async def work(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return web.Response(text="ok")

    base = await serve(make_app(Seen(), [web.post("/", work)]))
    latencies: list[float] = []
    async with SafeHttpClient(settings(per_host_limit=2, total_timeout=1.0)) as c:
        deadline = time.monotonic() + 1.5

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                await c.request("POST", f"{base}/", body=b"x")
                latencies.append(time.monotonic() - started)

        await asyncio.gather(*(worker() for _ in range(16)))
    assert peak == 2
    assert max(latencies) < 0.5


# ---------------------------------------------------------------------------------------------
# SSRF
# ---------------------------------------------------------------------------------------------

FORBIDDEN_LITERALS = [
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://2130706433/",  # 127.0.0.1 in legacy numeric forms
    "http://0x7f.1/",
    "http://127.1/",
    "http://017700000001/",
    "http://\uff11\uff10.\uff10.\uff10.\uff11/",  # fullwidth digits, normalised to 10.0.0.1
]


@pytest.mark.parametrize("url", FORBIDDEN_LITERALS)
@pytest.mark.parametrize("allow_loopback", [False, True])
async def test_forbidden_literal_addresses_refused_before_any_io(
    url: str, allow_loopback: bool, net: NetLog
) -> None:
    async with SafeHttpClient(settings(allow_loopback=allow_loopback)) as c:
        with pytest.raises(FetchRefused, match="refused"):
            await c.request("GET", url)
    assert net.connects == []
    assert net.lookups == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://[::1]/"]
)
async def test_loopback_refused_without_dev_switch(serve: Serve, url: str, net: NetLog) -> None:
    seen = Seen()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="reached")

    base = await serve(make_app(seen, [web.get("/", ok)]))
    port = base.rsplit(":", 1)[1]
    async with SafeHttpClient(settings(allow_loopback=False)) as c:
        with pytest.raises(FetchRefused, match="not a public address"):
            await c.request("GET", url.format(port=port))
    assert seen.requests == []
    assert net.connects == []


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
async def test_localhost_names_refused_without_resolving(host: str, net: NetLog) -> None:
    async with SafeHttpClient(settings(allow_loopback=False)) as c:
        with pytest.raises(FetchRefused, match="local host"):
            await c.request("GET", f"http://{host}:9/")
    assert net.lookups == []
    assert net.connects == []


async def test_localhost_allowed_with_dev_switch(serve: Serve, client: SafeHttpClient) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    base = await serve(make_app(Seen(), [web.get("/", ok)]))
    port = base.rsplit(":", 1)[1]
    assert (await client.request("GET", f"http://localhost:{port}/")).body == b"ok"


async def test_name_resolving_to_private_address_refused_by_resolver(net: NetLog) -> None:
    dns = StubResolver({"evil.test": [["10.0.0.1"]], "meta.test": [["169.254.169.254"]]})
    async with SafeHttpClient(settings(allow_loopback=True), resolver=dns) as c:
        with pytest.raises(FetchRefused, match=r"'evil\.test' resolves to forbidden address 10"):
            await c.request("GET", "http://evil.test/")
        with pytest.raises(FetchRefused, match=r"169\.254\.169\.254"):
            await c.request("GET", "http://meta.test/latest/meta-data")
    assert dns.asked == ["evil.test", "meta.test"]  # the check ran in the resolver path
    assert net.connects == []


async def test_any_forbidden_answer_refuses_the_whole_name(net: NetLog) -> None:
    dns = StubResolver({"mixed.test": [["127.0.0.1", "10.0.0.1"]]})
    async with SafeHttpClient(settings(allow_loopback=True), resolver=dns) as c:
        with pytest.raises(FetchRefused, match=r"10\.0\.0\.1"):
            await c.request("GET", "http://mixed.test/")
    assert net.connects == []


async def test_connects_to_exactly_the_checked_address(serve: Serve, net: NetLog) -> None:
    """`peer.test` exists only in the stub DNS: reaching the server proves no second lookup."""
    seen = Seen()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text=request.host)

    base = await serve(make_app(seen, [web.get("/", ok)]))
    port = int(base.rsplit(":", 1)[1])
    dns = StubResolver({"peer.test": [["127.0.0.1"]]})
    async with SafeHttpClient(settings(), resolver=dns) as c:
        resp = await c.request("GET", f"http://peer.test:{port}/")
    assert resp.body == f"peer.test:{port}".encode()
    assert net.lookups == []  # the system resolver was never asked
    assert [a[0] for a in net.connects] == ["127.0.0.1"]


async def test_rebinding_answer_is_checked_when_it_is_used(serve: Serve, net: NetLog) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    base_1 = await serve(make_app(Seen(), [web.get("/", ok)]))
    base_2 = await serve(make_app(Seen(), [web.get("/", ok)]))
    port_1, port_2 = (b.rsplit(":", 1)[1] for b in (base_1, base_2))
    # First answer harmless, second one the metadata service (a rebinding DNS server).
    dns = StubResolver({"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]})
    async with SafeHttpClient(settings(), resolver=dns) as c:
        assert (await c.request("GET", f"http://rebind.test:{port_1}/")).body == b"ok"
        with pytest.raises(FetchRefused, match=r"169\.254\.169\.254"):
            await c.request("GET", f"http://rebind.test:{port_2}/")
    assert all(a[0] == "127.0.0.1" for a in net.connects)


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/",
        "http://evil.test/",
    ],
)
async def test_redirect_to_forbidden_target_refused(
    serve: Serve, location: str, net: NetLog
) -> None:
    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    base = await serve(make_app(Seen(), [web.get("/", bounce)]))
    dns = StubResolver({"evil.test": [["10.0.0.1"]]})
    async with SafeHttpClient(settings(), resolver=dns) as c:
        with pytest.raises(FetchRefused, match="refused"):
            await c.request("GET", f"{base}/")
    assert all(_is_loopback(a[0]) for a in net.connects)


async def test_redirect_limit(serve: Serve) -> None:
    async def hop(request: web.Request) -> web.Response:
        n, end = int(request.match_info["n"]), int(request.query["end"])
        if n < end:
            raise web.HTTPFound(f"/hop/{n + 1}?end={end}")
        return web.Response(text=f"after {n}")

    base = await serve(make_app(Seen(), [web.get("/hop/{n}", hop)]))
    async with SafeHttpClient(settings(max_redirects=3)) as c:
        assert (await c.request("GET", f"{base}/hop/0?end=3")).body == b"after 3"
        with pytest.raises(FetchError, match="too many redirects"):
            await c.request("GET", f"{base}/hop/0?end=4")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "ftp://127.0.0.1/", "file:///etc/passwd", "gopher://x.test/"]
)
async def test_only_https_in_production_mode(url: str, net: NetLog) -> None:
    async with SafeHttpClient(settings(allow_http=False)) as c:
        with pytest.raises(FetchRefused, match="scheme"):
            await c.request("GET", url)
    assert net.connects == []


async def test_credentials_in_url_refused(client: SafeHttpClient) -> None:
    with pytest.raises(FetchRefused, match="credentials"):
        await client.request("GET", "http://user:pw@127.0.0.1:9/")


async def test_header_injection_refused_before_connecting(
    client: SafeHttpClient, net: NetLog
) -> None:
    with pytest.raises(FetchRefused, match="invalid request header"):
        await client.request("GET", "http://127.0.0.1:9/", headers={"X-A": "a\r\nHost: evil"})

    def bad_signer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Mapping[str, str]:
        return {"Signature": "x\ny"}

    with pytest.raises(FetchRefused, match="invalid request header"):
        await client.request("GET", "http://127.0.0.1:9/", sign=bad_signer)
    assert net.connects == []


def test_is_forbidden_address_table() -> None:
    for ip in ["10.0.0.1", "169.254.169.254", "192.168.1.1", "172.31.255.255", "100.64.0.1"]:
        assert is_forbidden_address(ip, allow_loopback=True)
    for ip in ["0.0.0.0", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1", "garbage"]:
        assert is_forbidden_address(ip, allow_loopback=True)
    for ip in ["198.51.100.7", "2001:db8::1", "192.0.2.1", "240.0.0.1", "::10.0.0.1"]:
        assert is_forbidden_address(ip, allow_loopback=True)
    for ip in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"]:
        assert is_forbidden_address(ip, allow_loopback=False)
        assert not is_forbidden_address(ip, allow_loopback=True)
    for ip in ["93.184.215.14", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]:
        assert not is_forbidden_address(ip, allow_loopback=False)
    assert is_forbidden_hostname("localhost", allow_loopback=False)
    assert is_forbidden_hostname("social.example", allow_loopback=False) is None


# ---------------------------------------------------------------------------------------------
# Time-outs and size caps
# ---------------------------------------------------------------------------------------------


async def test_slow_response_times_out(serve: Serve) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"start")
        await asyncio.sleep(5)
        return resp

    base = await serve(make_app(Seen(), [web.get("/", slow), web.get("/body", slow_body)]))
    async with SafeHttpClient(settings(total_timeout=0.5)) as c:
        for path in ("/", "/body"):
            started = time.monotonic()
            with pytest.raises(FetchError, match=r"timed out after 0\.5s") as info:
                await c.request("GET", f"{base}{path}")
            assert time.monotonic() - started < 2
            assert f"{base}{path}" in str(info.value)


async def test_connection_refused_is_a_typed_error(client: SafeHttpClient) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="request failed") as info:
        await client.request("GET", f"http://127.0.0.1:{port}/")
    assert type(info.value) is FetchError


async def test_unknown_name_is_a_typed_error() -> None:
    async with SafeHttpClient(settings(), resolver=StubResolver({})) as c:
        with pytest.raises(FetchError, match="request failed"):
            await c.request("GET", "http://nowhere.test/")


CAP = 1000


async def _size_app(serve: Serve) -> str:
    async def fixed(request: web.Request) -> web.Response:
        return web.Response(body=b"a" * int(request.query["n"]))

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(int(request.query["n"]) // 100):
            await resp.write(b"b" * 100)
        return resp

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(b"\0" * (8 * 1024 * 1024)), headers={"Content-Encoding": "gzip"}
        )

    return await serve(
        make_app(
            Seen(),
            [web.get("/fixed", fixed), web.get("/chunked", chunked), web.get("/bomb", bomb)],
        )
    )


async def test_oversized_body_refused(serve: Serve, client: SafeHttpClient) -> None:
    base = await _size_app(serve)
    assert len((await client.request("GET", f"{base}/fixed?n={CAP}", max_bytes=CAP)).body) == CAP
    ok = await client.request("GET", f"{base}/chunked?n={CAP}", max_bytes=CAP)
    assert "Content-Length" not in ok.headers
    assert len(ok.body) == CAP
    with pytest.raises(PayloadTooLarge, match="Content-Length 1001"):
        await client.request("GET", f"{base}/fixed?n={CAP + 1}", max_bytes=CAP)
    with pytest.raises(PayloadTooLarge, match="exceeds 1000 bytes"):
        await client.request("GET", f"{base}/chunked?n={100 * CAP}", max_bytes=CAP)
    # The cap applies to decompressed bytes: a small gzip bomb is stopped too.
    with pytest.raises(PayloadTooLarge, match="exceeds"):
        await client.request("GET", f"{base}/bomb")  # default cap: max_json_bytes (1 MiB)
    # The client is still usable afterwards.
    assert (await client.request("GET", f"{base}/fixed?n=3")).body == b"aaa"


async def test_download_streams_with_media_cap(serve: Serve) -> None:
    base = await _size_app(serve)
    async with SafeHttpClient(settings(max_media_bytes=CAP)) as c:
        sink = io.BytesIO()
        done = await c.download(f"{base}/chunked?n={CAP}", sink)
        assert (done.status, done.size, sink.getvalue()) == (200, CAP, b"b" * CAP)

        sink = io.BytesIO()
        with pytest.raises(PayloadTooLarge, match="Content-Length"):
            await c.download(f"{base}/fixed?n={CAP + 1}", sink)
        assert sink.getvalue() == b""  # refused before writing anything

        with pytest.raises(PayloadTooLarge, match="exceeds"):
            await c.download(f"{base}/chunked?n={10 * CAP}", io.BytesIO())

        class AsyncSink:
            def __init__(self) -> None:
                self.data = b""

            async def write(self, data: bytes) -> None:
                self.data += data

        async_sink = AsyncSink()
        await c.download(f"{base}/fixed?n=10", async_sink, max_bytes=10)
        assert async_sink.data == b"a" * 10

        with pytest.raises(HttpStatusError):
            await c.download(f"{base}/missing", io.BytesIO())


# ---------------------------------------------------------------------------------------------
# get_json
# ---------------------------------------------------------------------------------------------


async def test_get_json_content_types_and_parsing(serve: Serve, client: SafeHttpClient) -> None:
    seen = Seen()
    docs: dict[str, tuple[str, bytes]] = {
        "as": ("application/activity+json", b'{"type": "Person"}'),
        "ld": (
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            b'{"type": "Note"}',
        ),
        "json": ("application/json", b'{"links": []}'),
        "html": ("text/html", b"<html>hi</html>"),
        "broken": ("application/activity+json", b'{"type": '),
        "list": ("application/activity+json", b"[1, 2]"),
    }

    async def doc(request: web.Request) -> web.Response:
        ctype, body = docs[request.match_info["name"]]
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, content_type="application/activity+json", text="{}")

    base = await serve(make_app(seen, [web.get("/doc/{name}", doc), web.get("/404", missing)]))

    obj, resp = await client.get_json(f"{base}/doc/as")
    assert obj == {"type": "Person"}
    assert resp.status == 200
    assert "application/activity+json" in seen.requests[0]["headers"]["Accept"]
    assert (await client.get_json(f"{base}/doc/ld"))[0] == {"type": "Note"}

    with pytest.raises(FetchError, match="unexpected content type 'application/json'"):
        await client.get_json(f"{base}/doc/json")
    nodeinfo, _ = await client.get_json(
        f"{base}/doc/json", accept="application/json", content_types={"application/json"}
    )
    assert nodeinfo == {"links": []}

    with pytest.raises(FetchError, match="unexpected content type 'text/html'"):
        await client.get_json(f"{base}/doc/html")
    with pytest.raises(FetchError, match="malformed JSON"):
        await client.get_json(f"{base}/doc/broken")
    with pytest.raises(FetchError, match="not an object"):
        await client.get_json(f"{base}/doc/list")
    with pytest.raises(HttpStatusError) as info:
        await client.get_json(f"{base}/404")
    assert info.value.upstream_status == 404


async def test_get_json_size_cap(serve: Serve) -> None:
    async def big(request: web.Request) -> web.Response:
        body = orjson.dumps({"pad": "x" * 5000})
        return web.Response(body=body, headers={"Content-Type": "application/activity+json"})

    base = await serve(make_app(Seen(), [web.get("/", big)]))
    async with SafeHttpClient(settings(max_json_bytes=4096)) as c:
        with pytest.raises(PayloadTooLarge):
            await c.get_json(f"{base}/")


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------


def _make_pki(tmp: Path) -> tuple[Path, ssl.SSLContext]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Federatie Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    return ca_file, server_ctx


@pytest.fixture
async def tls_base(serve: Serve, tmp_path: Path) -> tuple[str, Path]:
    ca_file, server_ctx = _make_pki(tmp_path)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    async def downgrade(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/")

    app = make_app(Seen(), [web.get("/", ok), web.get("/downgrade", downgrade)])
    return await serve(app, ssl_context=server_ctx), ca_file


async def test_tls_needs_the_extra_ca(
    tls_base: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ca_file = tls_base
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    production_like = {"allow_http": False}
    async with SafeHttpClient(settings(**production_like)) as c:
        with pytest.raises(FetchError, match="certificate") as info:
            await c.request("GET", f"{base}/")
        assert not isinstance(info.value, FetchRefused)
    async with SafeHttpClient(settings(ca_bundle=str(ca_file), **production_like)) as c:
        assert (await c.request("GET", f"{base}/")).body == b"secure"
        # https -> http downgrade is a refused hop in https-only mode.
        with pytest.raises(FetchRefused, match="scheme 'http'"):
            await c.request("GET", f"{base}/downgrade")


async def test_tls_honours_ssl_cert_file(
    tls_base: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ca_file = tls_base
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with SafeHttpClient(settings(allow_http=False)) as c:
        assert (await c.request("GET", f"{base}/")).body == b"secure"


async def test_bad_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    client = SafeHttpClient(settings(ca_bundle=str(tmp_path / "absent.pem")))
    with pytest.raises(ConfigError, match="ca_bundle"):
        await client.start()
    await client.close()


# ---------------------------------------------------------------------------------------------
# Settings and life cycle
# ---------------------------------------------------------------------------------------------


def test_settings_validated() -> None:
    with pytest.raises(ConfigError):
        HttpClientSettings(user_agent=" ")
    with pytest.raises(ConfigError):
        HttpClientSettings(user_agent=UA, total_timeout=0)
    defaults = HttpClientSettings(user_agent=UA)
    assert (defaults.allow_http, defaults.allow_loopback) == (False, False)


async def test_unstarted_client_raises_typed_error() -> None:
    with pytest.raises(FetchError, match="before start"):
        await SafeHttpClient(settings()).request("GET", "http://127.0.0.1:9/")
