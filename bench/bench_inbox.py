"""The shared inbox end to end: signed Create(Note) POSTs accepted, then processed, against
the bare-HTTP and RSA-verify ceilings measured in the same run.

    .venv/bin/python bench/bench_inbox.py [--quick] [--actors N] [--requests M]
                                          [--concurrency C] [--json FILE]

Set-up (not timed): an embedded PostgreSQL in a temporary directory (pgserver), one Federatie
instance started the way the tests start it (tests/harness.py: a migrated database, `create_app`
on Hypercorn on a pre-bound 127.0.0.1 port, FEDERATIE_ENV=development,
FEDERATIE_INPROCESS_WORKER=false), and a loopback aiohttp "remote" server serving N actor
documents (default 1000, `--quick` 200). A few RSA-2048 key pairs are generated and shared
between actors, but every actor has its own document and its own keyId, so the instance
fetches and caches N keys. Every request is signed (draft-cavage rsa-sha256, by
`federatie.activitypub.signatures.sign_cavage`) BEFORE any timing starts, in this process;
the requests are then sent by a client in a child process, so neither signing nor the HTTP
client competes with the server's event loop.

Phases:

1. cold: one Create(Note) per actor, so each actor's key is fetched once (not a headline
   figure, printed as `inbox_cold_accepted_per_s`); its jobs are drained before measuring.
2. accept: M distinct signed Create(Note) POSTs (default 4000, `--quick` 800) to the shared
   inbox at concurrency C (default 48), in rounds alternating with the ceiling: the same
   requests POSTed to a bare Quart+Hypercorn app in this process that reads the body and
   answers 202. Between rounds, raw `cryptography` RSA-2048 PKCS#1 v1.5 verifies are timed
   on one core (the other ceiling). Latency is measured per request by the client.
3. process: the M `inbox.process` jobs drained by `Runtime.worker().drain()` (the
   concurrency the runtime picks for its pool, or `--worker-concurrency`), timed.

Output lines:

    inbox_accepted_per_s 227 ceiling 589 ratio 0.39
    inbox_p50_ms 195.0 ceiling 74.0
    inbox_p99_ms 459.9 ceiling 205.2
    inbox_accepted_vs_verify 227 ceiling 26637 ratio 0.01
    inbox_processed_per_s 198
    inbox_cpu_ms_per_request server 3.35 postgres 1.02 client 0.70 ceiling server 1.35 ...
    process_cpu_ms_per_arrival server 3.03 postgres 2.68
    inbox_cold_accepted_per_s 78

JSON keys: inbox_accepted_per_s, inbox_ceiling_per_s, inbox_ratio, inbox_processed_per_s,
inbox_p50_ms, inbox_p99_ms, verify_ceiling_per_s and the settings used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
import statistics
import time
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import common
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federatie.activitypub.signatures import SigningKey, generate_rsa_pem, sign_cavage

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
AP_JSON = "application/activity+json"
# A request as the client sends it: path, headers, body.
Request = tuple[str, dict[str, str], bytes]


# --------------------------------------------------------------------------- the client


async def _send(
    session: aiohttp.ClientSession,
    base_url: str,
    requests: list[Request],
    concurrency: int,
    time_limit: float,
) -> dict[str, Any]:
    """POST `requests` with `concurrency` workers; stops at the end or after `time_limit` s."""
    latencies: list[float] = []
    errors: list[str] = []
    next_index = 0
    deadline = time.monotonic() + time_limit

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(requests) and time.monotonic() < deadline:
            path, headers, body = requests[next_index]
            next_index += 1
            started = time.perf_counter()
            try:
                async with session.post(base_url + path, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if status == 202:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors.append(f"HTTP {status}")

    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "ok": len(latencies),
        "errors": len(errors),
        "error_sample": errors[:3],
        "elapsed": time.perf_counter() - wall0,
        "client_cpu": time.process_time() - cpu0,
        "latencies": latencies,
    }


def _client(conn: Connection) -> None:
    """Child process: holds the pre-signed requests and sends slices of them on command."""

    async def main() -> None:
        requests: list[Request] = []
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command[0] == "load":
                requests = command[1]
                conn.send("loaded")
            elif command[0] == "run":
                _, base_url, start, stop, concurrency, time_limit = command
                connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
                async with aiohttp.ClientSession(connector=connector) as session:
                    result = await _send(
                        session, base_url, requests[start:stop], concurrency, time_limit
                    )
                conn.send(result)
            else:
                conn.send("bye")
                return

    asyncio.run(main())


class Client:
    """The parent's handle on the client process; every call waits off the event loop."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_client, args=(child,), daemon=True)
        self._process.start()

    async def _ask(self, *command: Any) -> Any:
        self._conn.send(command)
        return await asyncio.to_thread(self._conn.recv)

    async def load(self, requests: list[Request]) -> None:
        await self._ask("load", requests)

    async def run(
        self, base_url: str, start: int, stop: int, concurrency: int, time_limit: float
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._ask(
            "run", base_url, start, stop, concurrency, time_limit
        )
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ask("quit"), 5)
        common.join_or_terminate(self._process)


# --------------------------------------------------------------------------- the remote side


class Remote:
    """N actors on one loopback aiohttp server, with keys shared between groups of actors."""

    def __init__(self, actors: int, key_pairs: int) -> None:
        self.count = actors
        self.sock = _bind_loopback()
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        pems = [generate_rsa_pem() for _ in range(key_pairs)]
        self._public = [public for _, public in pems]
        self._private = [private for private, _ in pems]
        self._loaded: dict[int, Any] = {}
        self.fetches = 0
        self._documents = {i: orjson.dumps(self.document(i)) for i in range(actors)}

    def actor(self, i: int) -> str:
        return f"{self.base}/users/u{i}"

    def signing_key(self, i: int) -> SigningKey:
        pair = i % len(self._private)
        if pair not in self._loaded:
            self._loaded[pair] = SigningKey.from_pem("x#k", self._private[pair]).private_key
        return SigningKey(self.actor(i) + "#main-key", self._loaded[pair])

    def document(self, i: int) -> dict[str, Any]:
        uri = self.actor(i)
        return {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": uri,
            "type": "Person",
            "preferredUsername": f"u{i}",
            "name": f"Remote user {i}",
            "inbox": uri + "/inbox",
            "outbox": uri + "/outbox",
            "followers": uri + "/followers",
            "following": uri + "/following",
            "endpoints": {"sharedInbox": self.base + "/inbox"},
            "publicKey": {
                "id": uri + "#main-key",
                "owner": uri,
                "publicKeyPem": self._public[i % len(self._public)],
            },
        }

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        async def actor(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            index = int(name[1:]) if name[1:].isdigit() else -1
            body = self._documents.get(index)
            if body is None:
                return web.Response(status=404)
            self.fetches += 1
            return web.Response(body=body, content_type=AP_JSON)

        app = web.Application()
        app.router.add_get("/users/{name}", actor)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.SockSite(runner, self.sock)
        await site.start()
        try:
            yield
        finally:
            await runner.cleanup()


def note_activity(actor: str, seq: int) -> dict[str, Any]:
    """A Create(Note) shaped like Mastodon's (tests/unit/payloads/mastodon_create_note.json)."""
    status = f"{actor}/statuses/{seq}"
    published = "2026-11-29T09:15:22Z"
    content = (
        "<p>Nieuwe cijfers over de woningbouw staan online, deel "
        f'{seq}. <a href="{actor}/tags/woningbouw" class="mention hashtag" rel="tag">'
        "#<span>woningbouw</span></a></p>"
    )
    addressing = {"to": [PUBLIC], "cc": [actor + "/followers"]}
    return {
        "@context": [
            AS,
            {
                "ostatus": "http://ostatus.org#",
                "atomUri": "ostatus:atomUri",
                "conversation": "ostatus:conversation",
                "sensitive": "as:sensitive",
                "toot": "http://joinmastodon.org/ns#",
                "Hashtag": "as:Hashtag",
            },
        ],
        "id": status + "/activity",
        "type": "Create",
        "actor": actor,
        "published": published,
        **addressing,
        "object": {
            "id": status,
            "type": "Note",
            "summary": None,
            "inReplyTo": None,
            "published": published,
            "url": status,
            "attributedTo": actor,
            **addressing,
            "sensitive": False,
            "atomUri": status,
            "conversation": f"tag:bench,2026-11-29:objectId={seq}:objectType=Conversation",
            "content": content,
            "contentMap": {"nl": content},
            "attachment": [],
            "tag": [{"type": "Hashtag", "href": f"{actor}/tags/woningbouw", "name": "#woningbouw"}],
        },
    }


def signed_requests(remote: Remote, inbox_url: str, first: int, count: int) -> list[Request]:
    """`count` distinct signed Create(Note) POSTs, actors taken round-robin from `first`."""
    path = "/" + inbox_url.split("/", 3)[3]
    out: list[Request] = []
    for n in range(count):
        i = (first + n) % remote.count
        body = orjson.dumps(note_activity(remote.actor(i), first + n))
        headers = {"Content-Type": AP_JSON}
        headers.update(sign_cavage("POST", inbox_url, headers, body, remote.signing_key(i)))
        out.append((path, headers, body))
    return out


# --------------------------------------------------------------------------- the ceilings


def _bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def bare_endpoint() -> AsyncIterator[str]:
    """A trivial Quart app on Hypercorn (as the harness serves Federatie): read, answer 202."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig
    from quart import Quart, Response, request

    app = Quart("bare")

    @app.post("/inbox")
    async def inbox() -> Response:
        await request.get_data(cache=True, as_text=False, parse_form_data=False)
        return Response(b'{"status":"accepted"}', 202, content_type="application/json")

    sock = _bind_loopback()
    port = sock.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 2
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await task


class VerifyCeiling:
    """Raw `cryptography` RSA-2048 PKCS#1 v1.5 SHA-256 verifies, timed in slices."""

    def __init__(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = private.public_key()
        self._message = b"(request-target): post /inbox\nhost: x\ndate: y\ndigest: z"
        self._signature = private.sign(self._message, padding.PKCS1v15(), hashes.SHA256())
        self.calls = 0
        self.seconds = 0.0

    def measure(self, seconds: float) -> None:
        verify = self._public.verify
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(32):
                verify(self._signature, self._message, padding.PKCS1v15(), hashes.SHA256())
            self.calls += 32
            now = time.perf_counter()
            if now >= deadline:
                self.seconds += now - start
                return

    @property
    def per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- the run


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


async def _count_processed(rt: Any) -> int:
    async with rt.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM inbox_activities WHERE processed_at IS NOT NULL"
        )
    return count


def _worker(rt: Any, concurrency: int | None) -> Any:
    """`Runtime.worker()`, with its own choice of concurrency unless one is asked for."""
    return rt.worker() if concurrency is None else rt.worker(concurrency=concurrency)


async def _drain(rt: Any, concurrency: int | None, time_limit: float) -> tuple[int, float]:
    """Processed arrivals and seconds taken by `Worker.drain`, bounded by `time_limit`."""
    before = await _count_processed(rt)
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await _worker(rt, concurrency).drain(timeout=time_limit)
    elapsed = time.perf_counter() - started
    return await _count_processed(rt) - before, elapsed


async def run(args: argparse.Namespace, cluster: Any, directory: Path) -> dict[str, Any]:
    harness = common.load_harness()
    setup_started = time.perf_counter()
    remote = Remote(args.actors, args.key_pairs)
    verify = VerifyCeiling()
    overrides = {"FEDERATIE_ENV": "development", "FEDERATIE_INPROCESS_WORKER": "false"}
    if args.pool_size:
        overrides["FEDERATIE_DB_POOL_SIZE"] = str(args.pool_size)
    instance = await harness.start_instance(cluster, directory, "bench", **overrides)
    client = Client()
    profiles = common.Profiles(args.profile)
    cpu = common.CpuMeter(directory / "pg")
    figures: dict[str, Any] = {
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "actors": args.actors,
        "key_pairs": args.key_pairs,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "worker_concurrency": _worker(instance.runtime, args.worker_concurrency).concurrency,
        "db_pool_size": instance.config.db_pool_size,
        "signing": "pre-signed in the parent before timing; sent from a child process",
    }
    totals = {"ours": [0, 0.0, 0.0], "bare": [0, 0.0, 0.0]}
    latencies: dict[str, list[float]] = {"ours": [], "bare": []}
    try:
        inbox_url = instance.url("/inbox")
        cold = signed_requests(remote, inbox_url, 0, args.actors)
        measured = signed_requests(remote, inbox_url, args.actors, args.requests)
        await client.load(cold + measured)
        # Only the client needs them: keep the server process's heap (and its GC) lean.
        del cold, measured
        figures["setup_s"] = round(time.perf_counter() - setup_started, 2)
        rt = instance.runtime
        async with remote.serving(), bare_endpoint() as bare_url:
            # 1. cold: every actor's key is fetched and cached once.
            with profiles.phase("inbox-cold"):
                result = await client.run(
                    instance.base_url, 0, args.actors, args.concurrency, args.time_limit
                )
            if result["errors"] or result["ok"] != args.actors:
                raise RuntimeError(f"cold phase failed: {result['error_sample']}")
            figures["inbox_cold_accepted_per_s"] = result["ok"] / result["elapsed"]
            figures["key_fetches"] = remote.fetches
            processed, _ = await _drain(rt, args.worker_concurrency, args.time_limit)
            figures["cold_processed"] = processed
            # Warm the bare endpoint's connections and code paths alike.
            await client.run(bare_url, 0, min(200, args.actors), args.concurrency, 10)

            # 2. accept, in rounds alternating with the ceilings.
            errors: list[str] = []
            per_round = -(-args.requests // args.rounds)
            for r in range(args.rounds):
                start = args.actors + r * per_round
                stop = min(args.actors + args.requests, start + per_round)
                for name, url in (("bare", bare_url), ("ours", instance.base_url)):
                    with profiles.phase(f"inbox-accept-{name}"), cpu.phase(f"accept-{name}"):
                        result = await client.run(
                            url, start, stop, args.concurrency, args.time_limit
                        )
                    totals[name][0] += result["ok"]
                    totals[name][1] += result["elapsed"]
                    totals[name][2] += result["client_cpu"]
                    latencies[name] += result["latencies"]
                    errors += result["error_sample"] if result["errors"] else []
                verify.measure(args.verify_seconds / args.rounds)
            if errors:
                raise RuntimeError(f"accept phase had errors: {errors[:3]}")

            # 3. process what was accepted.
            with profiles.phase("inbox-process"), cpu.phase("process"):
                processed, elapsed = await _drain(rt, args.worker_concurrency, args.time_limit)
            async with rt.pool.acquire() as conn:
                outcomes = {
                    row["outcome"]: row["n"]
                    for row in await conn.fetch(
                        "SELECT coalesce(outcome, 'unprocessed') AS outcome, count(*) AS n"
                        " FROM inbox_activities GROUP BY 1"
                    )
                }
    finally:
        await client.close()
        await instance.stop()
        profiles.write()

    ours_n, ours_s, ours_cpu = totals["ours"]
    bare_n, bare_s, bare_cpu = totals["bare"]
    ours_server, ours_pg = cpu.per_item_ms("accept-ours", int(ours_n))
    bare_server, bare_pg = cpu.per_item_ms("accept-bare", int(bare_n))
    process_server, process_pg = cpu.per_item_ms("process", processed)
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    figures.update(
        {
            "inbox_accepted_per_s": ours_n / ours_s,
            "inbox_ceiling_per_s": bare_n / bare_s,
            "inbox_p50_ms": _percentile(latencies["ours"], 50),
            "inbox_p99_ms": _percentile(latencies["ours"], 99),
            "inbox_ceiling_p50_ms": _percentile(latencies["bare"], 50),
            "inbox_ceiling_p99_ms": _percentile(latencies["bare"], 99),
            "inbox_processed_per_s": processed / elapsed,
            "inbox_processed": processed,
            "verify_ceiling_per_s": verify.per_s,
            # Where the CPU goes, per request: the server process (Federatie or the bare
            # app), the PostgreSQL cluster, and the load-generating client process.
            "inbox_server_cpu_ms": ours_server,
            "inbox_postgres_cpu_ms": ours_pg,
            "inbox_client_cpu_ms": 1000 * ours_cpu / max(ours_n, 1),
            "inbox_ceiling_server_cpu_ms": bare_server,
            "inbox_ceiling_postgres_cpu_ms": bare_pg,
            "inbox_ceiling_client_cpu_ms": 1000 * bare_cpu / max(bare_n, 1),
            "process_server_cpu_ms": process_server,
            "process_postgres_cpu_ms": process_pg,
            "outcomes": outcomes,
        }
    )
    figures["inbox_ratio"] = figures["inbox_accepted_per_s"] / figures["inbox_ceiling_per_s"]
    figures["inbox_verify_ratio"] = (
        figures["inbox_accepted_per_s"] / figures["verify_ceiling_per_s"]
    )
    figures["inbox_processed_ratio"] = (
        figures["inbox_processed_per_s"] / figures["inbox_accepted_per_s"]
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 actors, 800 requests")
    parser.add_argument("--actors", type=int, help="remote actors (default 1000, quick 200)")
    parser.add_argument("--requests", type=int, help="measured POSTs (default 4000, quick 800)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 4, quick 2)")
    parser.add_argument("--concurrency", type=int, default=48, help="client concurrency")
    parser.add_argument("--key-pairs", type=int, default=8, help="RSA key pairs shared by actors")
    parser.add_argument(
        "--worker-concurrency", type=int, help="inbox.process drain (default: the runtime's)"
    )
    parser.add_argument("--pool-size", type=int, help="FEDERATIE_DB_POOL_SIZE (default: its own)")
    parser.add_argument("--verify-seconds", type=float, default=1.0, help="verify ceiling time")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="bound on any one phase, in seconds"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="pyinstrument reports of the phases (slow)"
    )
    args = parser.parse_args()
    args.actors = args.actors or (200 if args.quick else 1000)
    args.requests = args.requests or (800 if args.quick else 4000)
    args.rounds = args.rounds or (2 if args.quick else 4)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("hypercorn").setLevel(logging.ERROR)

    common.exit_on_sigterm()
    r = common.run_on_own_cluster("inbox", lambda cluster, directory: run(args, cluster, directory))

    print(
        f"inbox_accepted_per_s {r['inbox_accepted_per_s']:.0f} "
        f"ceiling {r['inbox_ceiling_per_s']:.0f} ratio {r['inbox_ratio']:.2f}"
    )
    print(f"inbox_p50_ms {r['inbox_p50_ms']:.1f} ceiling {r['inbox_ceiling_p50_ms']:.1f}")
    print(f"inbox_p99_ms {r['inbox_p99_ms']:.1f} ceiling {r['inbox_ceiling_p99_ms']:.1f}")
    print(
        f"inbox_accepted_vs_verify {r['inbox_accepted_per_s']:.0f} "
        f"ceiling {r['verify_ceiling_per_s']:.0f} ratio {r['inbox_verify_ratio']:.2f}"
    )
    print(f"inbox_processed_per_s {r['inbox_processed_per_s']:.0f}")
    print(
        f"inbox_cpu_ms_per_request server {r['inbox_server_cpu_ms']:.2f} "
        f"postgres {r['inbox_postgres_cpu_ms']:.2f} client {r['inbox_client_cpu_ms']:.2f}"
        f" ceiling server {r['inbox_ceiling_server_cpu_ms']:.2f} "
        f"postgres {r['inbox_ceiling_postgres_cpu_ms']:.2f} "
        f"client {r['inbox_ceiling_client_cpu_ms']:.2f}"
    )
    print(
        f"process_cpu_ms_per_arrival server {r['process_server_cpu_ms']:.2f} "
        f"postgres {r['process_postgres_cpu_ms']:.2f}"
    )
    print(f"inbox_cold_accepted_per_s {r['inbox_cold_accepted_per_s']:.0f}")
    common.write_json(args.json, r, sort_keys=True)
    common.print_if_verbose(r)


if __name__ == "__main__":
    main()
