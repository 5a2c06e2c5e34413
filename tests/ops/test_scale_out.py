"""Scale-out: two `federatie serve` and two `federatie worker` processes on one PostgreSQL.

Everything runs as it would on several hosts: separate operating-system processes, real HTTP
on 127.0.0.1, and one PostgreSQL server started for this test only (a pgserver data directory
of its own, not the session's test cluster and not the embedded one `serve` would start),
passed to every process as DATABASE_URL. Both web processes serve the same public domain
(the first one's host:port); requests to the second carry that domain in their Host header,
as a load balancer in front of both would pass it on, because signatures cover Host.

Twenty scripted Mastodon servers (twenty hosts) each have one follower of alice. What is
shown:

- a post made through either web process is readable through the other (signed fetch of the
  object and the outbox through web process 2);
- 50 posts to followers are 1,000 deliveries, each received exactly once across both
  workers (counted at the receivers by activity id and inbox), and both workers sent some;
- a worker killed with SIGKILL in the middle of a second batch loses nothing: once its
  leases run out the other worker sends the rest; only a delivery in flight at the kill may
  arrive twice, so at most one per host (a host's lane sends one delivery at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
import pytest
from foreign import ForeignServer, PreparedRequest, Received, started_foreign_server
from yarl import URL

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
HOSTS = 20
POSTS = 50  # 20 hosts x 50 posts = 1,000 deliveries
KILL_POSTS = 20  # the second batch: 400 deliveries, one worker killed in the middle
LEASE_SECONDS = 3


@pytest.fixture
def external_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of this test's own, with an empty `federatie` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pg-scale") / "data")

    async def create() -> None:
        conn = await asyncpg.connect(server.get_uri("postgres"))
        try:
            await conn.execute("CREATE DATABASE federatie")
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield server.get_uri("federatie")
    finally:
        server.cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    """`federatie` subprocesses sharing one environment; each logs to its own file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, asyncio.subprocess.Process] = {}

    async def run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "federatie",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, (args, err.decode())
        return out.decode()

    async def start(self, name: str, *args: str) -> asyncio.subprocess.Process:
        with (
            (self.logs / f"{name}.out").open("wb") as out,
            (self.logs / f"{name}.err").open("wb") as err,
        ):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "federatie", *args, env=self.env, stdout=out, stderr=err
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.err").read_text(errors="replace")[-3000:]

    async def stop_all(self) -> None:
        for process in self.running.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_ready(http: aiohttp.ClientSession, url: str, procs: Processes, name: str) -> None:
    process = procs.running[name]
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError(f"{name} exited {process.returncode}: {procs.log(name)}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} not ready: {procs.log(name)}")


async def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def via(prepared: PreparedRequest, port: int) -> PreparedRequest:
    """The same signed request (Host: the public domain) sent to another process's port."""
    prepared.url = str(URL(prepared.url, encoded=True).with_port(port))
    return prepared


@contextlib.asynccontextmanager
async def socket_owners(pids: dict[str, int], ports: set[int]) -> AsyncIterator[dict[int, str]]:
    """Local port -> process name for the TCP connections these processes hold to `ports`,
    sampled while the block runs (the outbound client keeps its connections alive)."""
    owners: dict[int, str] = {}

    async def sample() -> None:
        while True:
            for name, pid in pids.items():
                with contextlib.suppress(psutil.Error):
                    for c in psutil.Process(pid).net_connections(kind="tcp"):
                        if c.raddr and c.raddr.port in ports:
                            owners[c.laddr.port] = name
            await asyncio.sleep(0.02)

    task = asyncio.create_task(sample())
    try:
        yield owners
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def creates(servers: list[ForeignServer], ids: set[str]) -> list[tuple[ForeignServer, Received]]:
    return [
        (s, r)
        for s in servers
        for r in s.received
        if r.activity_type == "Create" and isinstance(r.json, dict) and r.json.get("id") in ids
    ]


def pair(server: ForeignServer, record: Received) -> tuple[str, str]:
    """(activity id, inbox URL) of one received delivery."""
    return record.json["id"], server.url(record.path)


async def test_two_web_and_two_worker_processes_share_one_database(
    external_postgres: str, tmp_path: Path
) -> None:
    port1, port2 = _free_port(), _free_port()
    domain = f"127.0.0.1:{port1}"
    env = {
        **os.environ,
        "DATABASE_URL": external_postgres,
        "FEDERATIE_DOMAIN": domain,
        "FEDERATIE_ENV": "development",
        "FEDERATIE_DATA_DIR": str(tmp_path / "data"),
        "FEDERATIE_INPROCESS_WORKER": "false",
        "FEDERATIE_LOG_LEVEL": "info",
        "FEDERATIE_LOG_FORMAT": "json",
        "FEDERATIE_DB_POOL_SIZE": "20",
    }
    procs = Processes(env, tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(procs.stop_all)
        http = await stack.enter_async_context(aiohttp.ClientSession())

        # What a deployment does: migrate first (the Kubernetes Job), then start processes.
        assert "up to date" in await procs.run("migrate")
        await procs.run("admin", "create-user", "alice", "--password", "correct horse battery")
        token = (await procs.run("admin", "token", "alice")).strip()
        await procs.start("web1", "serve", "--port", str(port1))
        await procs.start("web2", "serve", "--port", str(port2))
        await wait_ready(http, f"http://127.0.0.1:{port1}/readyz", procs, "web1")
        await wait_ready(http, f"http://127.0.0.1:{port2}/readyz", procs, "web2")
        worker_args = ("worker", "--concurrency", "8", "--lease-seconds", str(LEASE_SECONDS))
        workers = {
            "worker1": await procs.start("worker1", *worker_args),
            "worker2": await procs.start("worker2", *worker_args),
        }

        alice = f"http://{domain}/users/alice"
        servers = [
            await stack.enter_async_context(started_foreign_server("mastodon"))
            for _ in range(HOSTS)
        ]
        # Follows arrive at both web processes; the workers process them and send Accepts.
        for n, server in enumerate(servers):
            follower = server.add_actor("follower")
            body = server.dumps(server.follow(follower, alice))
            prepared = server.sign_request(follower, "POST", f"{alice}/inbox", body)
            status, answer = await server.send(via(prepared, port1 if n % 2 else port2))
            assert status == 202, answer
        await wait_until(
            lambda: all(any(r.activity_type == "Accept" for r in s.received) for s in servers),
            30,
            "every follow accepted",
        )

        async def publish(n: int, port: int) -> str:
            headers = {
                "Host": domain,
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/activity+json",
            }
            note = {
                "type": "Note",
                "content": f"<p>post {n}</p>",
                "to": [PUBLIC],
                "cc": [f"{alice}/followers"],
            }
            url = f"http://127.0.0.1:{port}/users/alice/outbox"
            async with http.post(url, json=note, headers=headers) as response:
                created = await response.json(content_type=None)
                assert response.status == 201, created
            activity_id: str = created["id"]
            return activity_id

        # ---- 1,000 deliveries, both workers running: each exactly once.
        foreign_ports = {URL(s.base_url).port or 0 for s in servers}
        pids = {name: p.pid for name, p in workers.items()}
        async with socket_owners(pids, foreign_ports) as owners:
            first = [await publish(n, port1 if n % 2 == 0 else port2) for n in range(POSTS)]
            await wait_until(
                lambda: len(creates(servers, set(first))) >= POSTS * HOSTS, 60, "1,000 deliveries"
            )
            await asyncio.sleep(0.5)  # room for a duplicate to show up
        received = creates(servers, set(first))
        counts = Counter(pair(s, r) for s, r in received)
        expected = {(a, s.url("/inbox")) for a in first for s in servers}
        assert set(counts) == expected
        assert max(counts.values()) == 1, [p for p, c in counts.items() if c > 1][:5]
        assert all(r.signature_ok for _, r in received)
        senders = Counter(owners.get(r.peer[1], "?") for _, r in received if r.peer)
        assert senders["worker1"] > 0 and senders["worker2"] > 0, senders

        # ---- A post made through web process 1 is visible through web process 2.
        reader = servers[0].add_actor("reader")
        status, created = await servers[0].signed_get(reader, first[0])  # web process 1
        assert status == 200 and isinstance(created, dict)
        object_id = created["object"]["id"] if isinstance(created["object"], dict) else None
        assert object_id
        prepared = servers[0].sign_request(reader, "GET", object_id, None)
        status, raw = await servers[0].send(via(prepared, port2))
        assert status == 200, raw
        assert json.loads(raw)["content"] == "<p>post 0</p>"
        status, raw = await servers[0].send(
            via(servers[0].sign_request(reader, "GET", f"{alice}/outbox", None), port2)
        )
        assert status == 200, raw
        assert json.loads(raw)["totalItems"] >= POSTS

        # ---- A worker killed in the middle of a batch loses nothing.
        for server in servers:
            server.inbox_delay = 0.05  # deliveries are in flight when the worker dies
        second = set()
        for n in range(KILL_POSTS):
            second.add(await publish(POSTS + n, port1))
        await wait_until(
            lambda: len(creates(servers, second)) >= KILL_POSTS * HOSTS // 4,
            30,
            "a quarter of the second batch",
        )
        killed = workers["worker1"]
        killed.send_signal(signal.SIGKILL)  # no clean shutdown: its leases stay taken
        await killed.wait()
        before = len(creates(servers, second))
        assert before < KILL_POSTS * HOSTS  # it really died in the middle
        conn = await asyncpg.connect(external_postgres)
        try:
            held = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE locked_by LIKE $1", f"%:{killed.pid}:%"
            )
        finally:
            await conn.close()
        assert held > 0  # it died holding work: lanes and jobs others must take over
        for server in servers:
            server.inbox_delay = 0.0
        await wait_until(
            lambda: (
                {pair(s, r) for s, r in creates(servers, second)}
                >= {(a, s.url("/inbox")) for a in second for s in servers}
            ),
            LEASE_SECONDS + 30,
            "the rest of the second batch after the lease ran out",
        )
        await asyncio.sleep(0.5)
        counts = Counter(pair(s, r) for s, r in creates(servers, second))
        assert set(counts) == {(a, s.url("/inbox")) for a in second for s in servers}
        twice = [p for p, c in counts.items() if c > 1]
        assert max(counts.values()) <= 2
        # One lane per host sends one delivery at a time: at most one in flight per host.
        assert len({inbox for _, inbox in twice}) == len(twice) <= HOSTS
        print(
            f"\nphase 1 senders {dict(senders)}; killed worker held {held} jobs, "
            f"{before} of {len(counts)} delivered before the kill, {len(twice)} sent twice"
        )
