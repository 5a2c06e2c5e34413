"""What the SSRF checks, caps and redirect handling of SafeHttpClient cost, against raw aiohttp.

Both clients POST 1 KB bodies at a fixed concurrency to the same loopback aiohttp server, which
runs in a child process so that `time.process_time()` in this process measures client CPU only.
The raw `aiohttp.ClientSession` is the ceiling; it gets the same connection limits, so the
ratio isolates our per-request overhead. The two clients alternate in short rounds and the
totals are compared, so load drift on the machine hits both alike. Output lines:

    http_client_posts_per_s 7000 ceiling 7600 ratio 0.92
    http_client_cpu_ms_per_request 0.120 ceiling 0.110 ratio 1.09

Usage: python bench/bench_http_client.py [--seconds N] [--concurrency C] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web
from common import write_json

from federatie.federation.http import HttpClientSettings, SafeHttpClient

BODY = b'{"type":"Create","pad":"' + b"x" * (1024 - 26) + b'"}'
assert len(BODY) == 1024


def _serve(conn: Connection) -> None:
    """Child process: an inbox-like endpoint that reads the body and answers 202."""

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/inbox", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


Post = Callable[[], Awaitable[None]]
ROUND_S = 0.5


async def _drive(post: Post, seconds: float, concurrency: int) -> tuple[int, float, float]:
    """Run `concurrency` workers for `seconds`; return (requests, wall s, cpu s)."""
    count = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < deadline:
            await post()
            count += 1

    deadline = time.monotonic() + seconds
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count, time.perf_counter() - wall0, time.process_time() - cpu0


async def run(seconds: float, concurrency: int, per_host: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        url = f"http://127.0.0.1:{port}/inbox"
        headers = {"Content-Type": "application/activity+json"}

        settings = HttpClientSettings(
            user_agent="Federatie-bench/0.1",
            allow_http=True,
            allow_loopback=True,
            per_host_limit=per_host,
        )
        connector = aiohttp.TCPConnector(limit=settings.total_limit, limit_per_host=per_host)
        async with (
            aiohttp.ClientSession(connector=connector) as raw,
            SafeHttpClient(settings) as safe,
        ):

            async def post_raw() -> None:
                async with raw.post(url, data=BODY, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 202

            async def post_safe() -> None:
                resp = await safe.request("POST", url, body=BODY, headers=headers)
                assert resp.status == 202

            # Warm both pools, then alternate short rounds so that drift in machine load
            # (two processes share the CPUs) hits both clients alike.
            await _drive(post_raw, 0.5, concurrency)
            await _drive(post_safe, 0.5, concurrency)
            rounds = max(1, round(seconds / ROUND_S))
            totals = {"raw": [0, 0.0, 0.0], "safe": [0, 0.0, 0.0]}
            for _ in range(rounds):
                for name, post in (("raw", post_raw), ("safe", post_safe)):
                    n, wall, cpu = await _drive(post, seconds / rounds, concurrency)
                    totals[name][0] += n
                    totals[name][1] += wall
                    totals[name][2] += cpu
            raw_n, raw_wall, raw_cpu = totals["raw"]
            safe_n, safe_wall, safe_cpu = totals["safe"]
    finally:
        server.terminate()
        server.join()

    result = {
        "seconds": seconds,
        "rounds": rounds,
        "concurrency": concurrency,
        "per_host_limit": per_host,
        "body_bytes": len(BODY),
        "http_client_posts_per_s": safe_n / safe_wall,
        "ceiling_posts_per_s": raw_n / raw_wall,
        "http_client_cpu_ms_per_request": 1000 * safe_cpu / safe_n,
        "ceiling_cpu_ms_per_request": 1000 * raw_cpu / raw_n,
    }
    result["posts_ratio"] = result["http_client_posts_per_s"] / result["ceiling_posts_per_s"]
    result["cpu_ratio"] = (
        result["http_client_cpu_ms_per_request"] / result["ceiling_cpu_ms_per_request"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per client")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--per-host", type=int, default=8, help="connection limit per host (both clients)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    r = asyncio.run(run(args.seconds, args.concurrency, args.per_host))
    print(
        f"http_client_posts_per_s {r['http_client_posts_per_s']:.0f} "
        f"ceiling {r['ceiling_posts_per_s']:.0f} ratio {r['posts_ratio']:.2f}"
    )
    print(
        f"http_client_cpu_ms_per_request {r['http_client_cpu_ms_per_request']:.3f} "
        f"ceiling {r['ceiling_cpu_ms_per_request']:.3f} ratio {r['cpu_ratio']:.2f}"
    )
    write_json(args.json, r)


if __name__ == "__main__":
    main()
