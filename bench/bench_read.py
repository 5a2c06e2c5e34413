"""The read path under concurrent load from wrk, on a small instance and at Pleio scale, each
endpoint against a bare Quart+Hypercorn endpoint serving the same bytes in the same run.

    .venv/bin/python bench/bench_read.py [--quick] [--scale F] [--seconds S] [--rounds R]
                                         [--connections C] [--web-processes N] [--no-small]
                                         [--endpoints NAME ...] [--json FILE] [--profile DIR]
                                         [--seeded DATABASE_URL BASE_URL]

Needs `wrk` (Debian package `wrk`): installed with apt-get when missing and running as root,
else the script stops and says so.

Set-up, per phase (not timed): an embedded PostgreSQL in a temporary directory (pgserver), a
fresh migrated database, one Federatie instance started as the tests start it
(tests/harness.py: `create_app` on Hypercorn on 127.0.0.1, FEDERATIE_ENV=development,
FEDERATIE_INPROCESS_WORKER=false, pool of 20) but in a child process of its own, so that its
resident memory is that of a web process; the database is then filled by `bench/seed.py`,
and a `federatie worker` process is started on it (idle: nothing is queued). The phases:

- small: `seed.py` at scale 0.001 (100 people, 5 groups, 100 posts ...); full runs only;
- pleio: `seed.py` at `--scale` (default 1: 100,000 people, 5,000 groups, 100,000 posts,
  1,000,000 remote activities; `--quick` 0.02). Its figures are the headline ones.

Endpoints (GET, each rotating over many targets so that the database is read, not one hot
row): `webfinger` (200 people, acct: URIs), `actor` (the same people,
application/activity+json), `group_page` (/groups/<name>, text/html), `outbox_page`
(/groups/<name>/outbox?page=true, application/activity+json, signed by a remote actor as
authorized fetch requires: one RSA verify per request), for 100 groups: the 10 largest and
90 others; full runs add `group_blog` (/groups/<name>/blog, HTML), `directory` (/groups,
HTML), `directory_search` (/groups?q=<theme>) and `blog_post` (/blog/<key>, HTML with its
comment thread: the 10 busiest threads and 90 other posts). `home_timeline` is a hook for the
client API (`home_timeline_target`): measured once /api/v1/timelines/home exists. Every
target is fetched once first (all must answer 200); an endpoint whose single request takes
over 2 s is not put under load, its time is reported instead.

Per endpoint, R rounds (default 2, quick 1) alternate the ceiling and ours, S seconds each
(default 3, quick 2), both with `wrk -t1 -c C --latency` (C = 64): requests/s, p50, p99,
and the server process's CPU per request (/proc). The ceiling serves the bytes our first
target answered, with its content type, from a bare Quart app on Hypercorn in its own
child process. After the rounds: resident memory (VmRSS, peak VmHWM) of the web and worker
processes, and the database's size. `--web-processes N` starts N instances (and N bare apps)
sharing one port with SO_REUSEPORT, as `federatie serve --workers N` shares it; CPU is then
summed and the RSS is the largest process's.

    webfinger_rps 1200 ceiling 3000 ratio 0.40   p99_ms 70.1 ceiling 30.2   cpu_ms 0.80 ...
    ...
    home_timeline not loaded: one request alone took 6138 ms
    web_rss_mb 100 peak 110 worker_rss_mb 83 database_mb 4641 seed_seconds 180 (scale 1.0)

JSON keys (pleio phase; the small phase's are prefixed `small_`): `<endpoint>_rps`,
`<endpoint>_ceiling_rps`, `<endpoint>_ratio`, `<endpoint>_p50_ms`, `<endpoint>_p99_ms`,
`<endpoint>_ceiling_p99_ms`, `<endpoint>_cpu_ms`, `<endpoint>_ceiling_cpu_ms`,
`<endpoint>_bytes`, `web_rss_mb`, `web_peak_rss_mb`, `worker_rss_mb`, `database_mb`,
`seed_seconds`, `seed` (rows and step times).

`--profile DIR` records the web process with py-spy (if installed) during each endpoint's
rounds of ours (`DIR/<phase>-<endpoint>.txt`, py-spy's raw format, for flame graphs);
profiled figures are not figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import common
import seed

from federatie.activitypub.signatures import SigningKey, generate_rsa_pem, sign_cavage
from federatie.storage import actors as actors_sql

AP_JSON = "application/activity+json"
HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"  # what a browser sends
READER = "https://reader.example/users/bench"  # the remote actor that signs outbox fetches
REQUIRED = ("webfinger", "actor", "group_page", "outbox_page")
EXTRA = ("group_blog", "directory", "directory_search", "blog_post")


# --------------------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian when missing and we may, else a clear stop."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench_read: wrk is missing, installing the Debian package", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
            subprocess.run(install, env=env, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "bench_read needs wrk, the HTTP load generator: install it (Debian/Ubuntu: "
        "`sudo apt-get install wrk`) and run again"
    )


def _lua_string(text: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def wrk_script(requests: list[tuple[str, dict[str, str]]]) -> str:
    """A wrk Lua script: rotate over `requests` (path, headers), print JSON at the end."""
    # Built in init(): only then has wrk set the Host header that wrk.format adds.
    lines = ["local requests = {}", "init = function(args)"]
    for path, headers in requests:
        fields = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
        lines.append(
            f'  requests[#requests + 1] = wrk.format("GET", {_lua_string(path)}, {{{fields}}})'
        )
    lines.append("end")
    lines.append(
        """
local i = 0
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""
    )
    return "\n".join(lines)


async def run_wrk(
    wrk: str, base_url: str, script: Path, seconds: float, connections: int
) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    for line in out.decode().splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[8:])
            return result
    raise RuntimeError(f"wrk printed no result: {out.decode()[-500:]} {err.decode()[-500:]}")


# --------------------------------------------------------------------------- processes


def listening_socket(port: int) -> socket.socket:
    """127.0.0.1:`port` (0: any free one), shareable: with SO_REUSEPORT several processes
    listen on one port and the kernel spreads connections between them, as between the
    workers of `federatie serve --workers N`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _serve_instance(
    conn: Connection, database_url: str, data_dir: str, cache_seconds: int, port: int
) -> None:
    """Child process: one Federatie instance as the tests start it, until told to stop
    (on `port`, or any free one when 0), with the public cache kept `cache_seconds`."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("hypercorn").setLevel(logging.ERROR)

    async def main() -> None:
        harness = common.load_harness()
        overrides = {
            "FEDERATIE_ENV": "development",
            "FEDERATIE_INPROCESS_WORKER": "false",
            # wrk sends thousands of client-API calls with one token: count them (the
            # counting is part of the cost), but do not refuse them.
            "FEDERATIE_API_RATE_LIMIT": "100000000",
            # The harness turns it off for tests; a server runs with it (default 5).
            "FEDERATIE_PUBLIC_CACHE_SECONDS": str(cache_seconds),
        }
        sock = listening_socket(port)
        instance = await harness.start_instance(
            None,
            Path(data_dir),
            "read",
            database_url=database_url,
            port_socket=sock,
            **overrides,
        )
        conn.send((os.getpid(), instance.base_url))
        await asyncio.to_thread(conn.recv)
        await instance.stop()
        conn.send("stopped")

    asyncio.run(main())


def _serve_bare(conn: Connection, bodies: dict[str, tuple[bytes, str]], port: int) -> None:
    """Child process: a bare Quart app on Hypercorn answering /<name> with fixed bytes."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig
    from quart import Quart, Response

    app = Quart("bare")

    @app.get("/<name>")
    async def body(name: str) -> Response:
        data, content_type = bodies[name]
        return Response(data, 200, content_type=content_type)

    async def main() -> None:
        sock = listening_socket(port)
        bound = sock.getsockname()[1]
        config = HypercornConfig()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 2
        stop = asyncio.Event()
        task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        conn.send((os.getpid(), f"http://127.0.0.1:{bound}"))
        await asyncio.to_thread(conn.recv)
        stop.set()
        await task

    asyncio.run(main())


class Child:
    """A spawned child process that answers (pid, base URL) and stops when told."""

    def __init__(self, target: Any, *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        self.pid = 0
        self.base_url = ""

    async def started(self) -> Child:
        ready = await asyncio.to_thread(self._conn.poll, 60)
        if not ready:
            raise RuntimeError("a bench child process did not start")
        self.pid, self.base_url = self._conn.recv()
        return self

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.send("stop")
            await asyncio.to_thread(self._conn.poll, 10)
        common.join_or_terminate(self.process)


class Servers:
    """N child processes serving on one port (SO_REUSEPORT): `target(conn, *args, port)`."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.base_url = children[0].base_url
        self.pids = [child.pid for child in children]

    @classmethod
    async def start(cls, count: int, port: int, target: Any, *args: Any) -> Servers:
        children = [await Child(target, *args, port).started()]
        port = int(children[0].base_url.rsplit(":", 1)[1])
        for _ in range(count - 1):
            children.append(await Child(target, *args, port).started())
        return cls(children)

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids)

    def memory_mb(self) -> tuple[float, float]:
        """The largest VmRSS and VmHWM among the processes."""
        sizes = [process_memory_mb(pid) for pid in self.pids]
        return max(rss for rss, _ in sizes), max(peak for _, peak in sizes)

    async def stop(self) -> None:
        for child in self.children:
            await child.stop()


def process_memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB: resident now, and its peak."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def worker_process(database_url: str, domain: str, data_dir: Path) -> AsyncIterator[int]:
    """`federatie worker` on the instance's database (idle unless jobs are queued)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FEDERATIE_DOMAIN": domain,
        "FEDERATIE_ENV": "development",
        "FEDERATIE_DATA_DIR": str(data_dir),
        "FEDERATIE_LOG_LEVEL": "warning",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "federatie", "worker", env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line.startswith(b"worker "):
            raise RuntimeError(f"federatie worker did not start: {line!r}")
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()


# --------------------------------------------------------------------------- targets


@dataclass
class Endpoint:
    name: str
    requests: list[tuple[str, dict[str, str]]]
    body: bytes = b""
    content_type: str = ""
    slowest_ms: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


async def reader_key(conn: asyncpg.Connection) -> SigningKey:
    """A remote actor (with its key, as if fetched) that signs our outbox fetches."""
    private, public = generate_rsa_pem()
    await conn.execute("DELETE FROM actors WHERE uri = $1", READER)  # from an earlier run
    actor_id = await conn.fetchval(
        """INSERT INTO actors (uri, type, local, username, host, inbox, shared_inbox, key_id,
                               public_key_pem, fetched_at)
           VALUES ($1, 'Service', false, 'bench', 'reader.example', $1 || '/inbox',
                   'https://reader.example/inbox', $1 || '#main-key', $2, now())
           RETURNING id""",
        READER,
        public,
    )
    await conn.execute(
        "INSERT INTO remote_keys (key_id, actor_id, kind, material) VALUES ($1, $2, 'rsa', $3)",
        READER + "#main-key",
        actor_id,
        public,
    )
    return SigningKey.from_pem(READER + "#main-key", private)


def signed(base_url: str, path: str, key: SigningKey) -> dict[str, str]:
    headers = {"Accept": AP_JSON}
    headers.update(sign_cavage("GET", base_url + path, headers, None, key))
    del headers["Host"]  # wrk sends the URL's host, which is what was signed
    return headers


async def endpoints(
    conn: asyncpg.Connection, base_url: str, domain: str, names: tuple[str, ...]
) -> list[Endpoint]:
    """The targets of every endpoint, chosen from what the database holds."""
    await conn.execute("SELECT setseed(0.5)")
    people = [
        r["username"]
        for r in await conn.fetch(
            """SELECT a.username FROM actors a JOIN people p ON p.actor_id = a.id
               WHERE a.local ORDER BY random() LIMIT 200"""
        )
    ]
    largest = [
        r["username"]
        for r in await conn.fetch(
            """SELECT a.username FROM actors a JOIN groups g ON g.actor_id = a.id
               ORDER BY (SELECT count(*) FROM follows f WHERE f.followed_id = a.id) DESC
               LIMIT 10"""
        )
    ]
    others = [
        r["username"]
        for r in await conn.fetch(
            """SELECT a.username FROM actors a JOIN groups g ON g.actor_id = a.id
               WHERE g.kind <> 'members_only' AND NOT a.username = ANY($1::text[])
               ORDER BY random() LIMIT 90""",
            largest,
        )
    ]
    groups = largest + others
    busiest = [
        r["key"]
        for r in await conn.fetch(
            """SELECT b.key FROM blog_posts b
               JOIN (SELECT in_reply_to, count(*) AS n FROM objects
                     WHERE in_reply_to IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10) t
                 ON t.in_reply_to = b.uri"""
        )
    ]
    posts = busiest + [
        r["key"]
        for r in await conn.fetch(
            """SELECT b.key FROM blog_posts b JOIN objects o ON o.uri = b.uri
               WHERE b.state = 'published' AND o.public AND NOT b.key = ANY($1::text[])
               ORDER BY random() LIMIT 90""",
            busiest,
        )
    ]
    themes = [r[0] for r in await conn.fetch("SELECT DISTINCT unnest(themes) FROM groups")]
    key = await reader_key(conn)
    html = {"Accept": HTML}
    make = {
        "webfinger": lambda: [
            (f"/.well-known/webfinger?resource={quote(f'acct:{p}@{domain}')}", {}) for p in people
        ],
        "actor": lambda: [(f"/users/{p}", {"Accept": AP_JSON}) for p in people],
        "group_page": lambda: [(f"/groups/{g}", html) for g in groups],
        "outbox_page": lambda: [
            (path, signed(base_url, path, key))
            for path in (f"/groups/{g}/outbox?page=true" for g in groups)
        ],
        "group_blog": lambda: [(f"/groups/{g}/blog", html) for g in groups],
        "directory": lambda: [("/groups", html)],
        "directory_search": lambda: [(f"/groups?q={t[:5]}", html) for t in themes],
        "blog_post": lambda: [(f"/blog/{k}", html) for k in posts],
    }
    return [Endpoint(name, make[name]()) for name in names]


async def home_timeline_target(
    conn: asyncpg.Connection, session: aiohttp.ClientSession, base_url: str
) -> Endpoint | None:
    """The client API's home timeline (GET /api/v1/timelines/home) with a bearer token of
    the seeded person who follows most (people and groups). None if the route answers 404."""
    token = secrets.token_urlsafe(32)
    person = await conn.fetchval(
        """SELECT a.id FROM actors a JOIN people p ON p.actor_id = a.id
           ORDER BY (SELECT count(*) FROM follows f WHERE f.follower_id = a.id) DESC LIMIT 1"""
    )
    await actors_sql.insert_token(
        conn, person, hashlib.sha256(token.encode()).digest(), "read write follow push"
    )
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    path = "/api/v1/timelines/home"
    async with session.get(base_url + path, headers=headers) as response:
        if response.status == 404:
            return None
    return Endpoint("home_timeline", [(path, headers), (path + "?limit=40", headers)])


# A target slower than this alone is not put under load: 64 of them at once would keep the
# database busy long after wrk stops, and tell nothing more than the one request does.
TOO_SLOW_MS = 2000.0


async def warm_up(session: aiohttp.ClientSession, base_url: str, endpoint: Endpoint) -> None:
    """Fetch every target once (each must answer 200); keep the first body for the ceiling
    and the slowest single request's time."""
    for index, (path, headers) in enumerate(endpoint.requests):
        started = time.perf_counter()
        async with session.get(base_url + path, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{endpoint.name}: {path} answered {response.status}")
            if index == 0:
                endpoint.body = body
                endpoint.content_type = response.headers.get("Content-Type", "")
        elapsed = 1000 * (time.perf_counter() - started)
        endpoint.slowest_ms = max(endpoint.slowest_ms, elapsed)
        if endpoint.slowest_ms > TOO_SLOW_MS:
            return


# --------------------------------------------------------------------------- a phase


@dataclass
class Phase:
    name: str
    scale: float
    names: tuple[str, ...]
    seeded: tuple[str, str] | None = None  # (database URL, base URL) seeded before


async def start_profiler(
    args: argparse.Namespace, pid: int, name: str
) -> asyncio.subprocess.Process | None:
    """py-spy recording `pid` for one wrk run, if py-spy is installed (not a dependency)."""
    if args.py_spy is None:
        return None
    return await asyncio.create_subprocess_exec(
        args.py_spy, "record", "--pid", str(pid), "--rate", "250",
        "--duration", str(max(1, round(args.seconds))), "--format", "raw", "--nonblocking",
        "-o", str(args.profile / f"{name}.txt"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def measure(
    args: argparse.Namespace,
    wrk: str,
    web: Servers,
    bare: Servers,
    endpoint: Endpoint,
    directory: Path,
    label: str,
) -> None:
    ours_script = directory / f"{label}-{endpoint.name}.lua"
    ours_script.write_text(wrk_script(endpoint.requests))
    bare_script = directory / f"{label}-{endpoint.name}-bare.lua"
    bare_script.write_text(wrk_script([(f"/{endpoint.name}", {})]))
    totals: dict[str, dict[str, Any]] = {
        side: {"requests": 0, "seconds": 0.0, "cpu": 0.0, "p50": [], "p99": [], "errors": 0}
        for side in ("ours", "bare")
    }
    for _ in range(args.rounds):
        for side, child, script in (("bare", bare, bare_script), ("ours", web, ours_script)):
            profiler = None
            if side == "ours" and args.profile:
                profiler = await start_profiler(args, child.pids[0], f"{label}-{endpoint.name}")
            cpu0 = child.cpu_seconds()
            result = await run_wrk(wrk, child.base_url, script, args.seconds, args.connections)
            cpu = child.cpu_seconds() - cpu0
            if profiler is not None:
                await asyncio.wait_for(profiler.wait(), args.seconds + 30)
            total = totals[side]
            total["requests"] += result["requests"]
            total["seconds"] += result["duration_us"] / 1e6
            total["cpu"] += cpu
            total["p50"].append(result["p50_us"] / 1000)
            total["p99"].append(result["p99_us"] / 1000)
            errors = {k: result[k] for k in ("connect", "read", "write", "status", "timeout")}
            total["errors"] += sum(errors.values())
            total.setdefault("error_kinds", []).append(errors)
    ours, base = totals["ours"], totals["bare"]
    if ours["errors"] or base["errors"]:
        raise RuntimeError(f"{endpoint.name}: wrk saw errors: ours {ours}, ceiling {base}")
    if not ours["requests"]:
        # Not one answer within the run: wrk has no latency to report, the figure is a floor.
        ours["p50"] = ours["p99"] = [1000 * args.seconds]
    rps = ours["requests"] / ours["seconds"]
    ceiling = base["requests"] / base["seconds"]
    endpoint.figures = {
        "rps": rps,
        "ceiling_rps": ceiling,
        "ratio": rps / ceiling,
        # The worst round's percentile: the figure a target must meet.
        "p50_ms": max(ours["p50"]),
        "p99_ms": max(ours["p99"]),
        "ceiling_p50_ms": max(base["p50"]),
        "ceiling_p99_ms": max(base["p99"]),
        "cpu_ms": 1000 * ours["cpu"] / max(ours["requests"], 1),
        "ceiling_cpu_ms": 1000 * base["cpu"] / max(base["requests"], 1),
        "bytes": len(endpoint.body),
        "targets": len(endpoint.requests),
    }


async def run_phase(
    args: argparse.Namespace, wrk: str, cluster: Any, directory: Path, phase: Phase
) -> dict[str, Any]:
    port = 0
    if phase.seeded:
        database_url, base_url = phase.seeded
        port = int(base_url.rsplit(":", 1)[1].rstrip("/"))
    else:
        database_url = await cluster.new_database(f"read_{phase.name}")
        admin = await asyncpg.connect(cluster.admin_dsn)
        try:
            # Bulk loading: fewer checkpoints (a bench cluster setting, not the instance's).
            await admin.execute("ALTER SYSTEM SET max_wal_size = '16GB'")
            await admin.execute("ALTER SYSTEM SET checkpoint_timeout = '30min'")
            await admin.execute("SELECT pg_reload_conf()")
        finally:
            await admin.close()
    data_dir = directory / phase.name
    data_dir.mkdir()
    web = await Servers.start(
        args.web_processes,
        port,
        _serve_instance,
        database_url,
        str(data_dir),
        args.public_cache_seconds,
    )
    figures: dict[str, Any] = {"scale": phase.scale}
    bare: Servers | None = None
    try:
        domain = web.base_url.split("://", 1)[1]
        started = time.perf_counter()
        if not phase.seeded:
            figures["seed"] = await seed.seed_database(
                database_url, web.base_url, phase.scale, log=lambda line: None
            )
        figures["seed_seconds"] = round(time.perf_counter() - started, 1)
        conn = await asyncpg.connect(database_url)
        try:
            targets = await endpoints(conn, web.base_url, domain, phase.names)
            async with aiohttp.ClientSession() as session:
                for endpoint in targets:
                    await warm_up(session, web.base_url, endpoint)
                hook = await home_timeline_target(conn, session, web.base_url)
                figures["home_timeline"] = "route found" if hook else "no route yet (404)"
                if hook:
                    # The client API is not this benchmark's: a failing route is reported,
                    # not a reason to lose the other figures.
                    try:
                        await warm_up(session, web.base_url, hook)
                        targets.append(hook)
                    except RuntimeError as exc:
                        figures["home_timeline"] = str(exc)
                        print(f"home_timeline not measured: {exc}", flush=True)
        finally:
            await conn.close()
        bodies = {e.name: (e.body, e.content_type) for e in targets}
        bare = await Servers.start(args.web_processes, 0, _serve_bare, bodies)
        async with worker_process(database_url, domain, data_dir) as worker_pid:
            for endpoint in targets:
                if endpoint.slowest_ms > TOO_SLOW_MS:
                    endpoint.figures = {"single_request_ms": endpoint.slowest_ms}
                else:
                    await measure(args, wrk, web, bare, endpoint, directory, phase.name)
                print_endpoint(phase, endpoint)
            figures["worker_rss_mb"], figures["worker_peak_rss_mb"] = process_memory_mb(worker_pid)
        figures["web_rss_mb"], figures["web_peak_rss_mb"] = web.memory_mb()
        figures["bare_rss_mb"], _ = bare.memory_mb()
        conn = await asyncpg.connect(database_url)
        try:
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await conn.close()
        figures["database_mb"] = size / 2**20
        for endpoint in targets:
            for key, value in endpoint.figures.items():
                figures[f"{endpoint.name}_{key}"] = value
    finally:
        if bare is not None:
            await bare.stop()
        await web.stop()
    return figures


def print_endpoint(phase: Phase, endpoint: Endpoint) -> None:
    prefix = "" if phase.name == "pleio" else f"{phase.name}_"
    f = endpoint.figures
    if "rps" not in f:
        print(
            f"{prefix}{endpoint.name} not loaded: one request alone took "
            f"{f['single_request_ms']:.0f} ms",
            flush=True,
        )
        return
    print(
        f"{prefix}{endpoint.name}_rps {f['rps']:.0f} ceiling {f['ceiling_rps']:.0f} "
        f"ratio {f['ratio']:.2f}   p99_ms {f['p99_ms']:.1f} ceiling {f['ceiling_p99_ms']:.1f}"
        f"   cpu_ms {f['cpu_ms']:.2f} ceiling {f['ceiling_cpu_ms']:.2f}   {f['bytes']} B",
        flush=True,
    )


async def run(args: argparse.Namespace, cluster: Any, directory: Path) -> dict[str, Any]:
    wrk = args.wrk
    names = (
        tuple(args.endpoints) if args.endpoints else REQUIRED if args.quick else REQUIRED + EXTRA
    )
    phases = [Phase("pleio", args.scale, names, args.seeded)]
    if not args.no_small:
        phases.insert(0, Phase("small", 0.001, tuple(n for n in names if n in REQUIRED)))
    figures: dict[str, Any] = {
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "web_processes": args.web_processes,
        "public_cache_seconds": args.public_cache_seconds,
    }
    for phase in phases:
        result = await run_phase(args, wrk, cluster, directory, phase)
        prefix = "" if phase.name == "pleio" else f"{phase.name}_"
        figures.update({f"{prefix}{key}": value for key, value in result.items()})
        print(
            f"{prefix}web_rss_mb {result['web_rss_mb']:.0f} peak {result['web_peak_rss_mb']:.0f}"
            f" worker_rss_mb {result['worker_rss_mb']:.0f}"
            f" database_mb {result['database_mb']:.0f} seed_seconds {result['seed_seconds']:.0f}"
            f" (scale {phase.scale})",
            flush=True,
        )
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="scale 0.02, 4 endpoints, 1 round")
    parser.add_argument("--scale", type=float, help="seed.py scale (default 1, quick 0.02)")
    parser.add_argument("--seconds", type=float, help="per wrk run (default 3, quick 2)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 2, quick 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="instances (and bare apps) sharing the port, as `serve --workers N` (default 1)",
    )
    parser.add_argument(
        "--public-cache-seconds",
        type=int,
        default=5,
        help="FEDERATIE_PUBLIC_CACHE_SECONDS of the instance (default 5, the server's; 0: off)",
    )
    parser.add_argument("--no-small", action="store_true", help="skip the small instance")
    parser.add_argument(
        "--endpoints", nargs="+", choices=REQUIRED + EXTRA, help="measure only these"
    )
    parser.add_argument(
        "--seeded",
        nargs=2,
        metavar=("DATABASE_URL", "BASE_URL"),
        help="measure a database seed.py filled before (for BASE_URL) instead of seeding",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy of the web process")
    args = parser.parse_args()
    args.scale = args.scale if args.scale is not None else (0.02 if args.quick else 1.0)
    args.seconds = args.seconds or (2.0 if args.quick else 3.0)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.no_small = args.no_small or args.quick
    args.py_spy = None
    if args.profile:
        beside = Path(sys.executable).parent / "py-spy"
        args.py_spy = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
        if args.py_spy is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        args.profile.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)

    args.wrk = ensure_wrk()
    common.exit_on_sigterm()
    r = common.run_on_own_cluster("read", lambda cluster, directory: run(args, cluster, directory))
    common.write_json(args.json, r, sort_keys=True)
    common.print_if_verbose(r)


if __name__ == "__main__":
    main()
