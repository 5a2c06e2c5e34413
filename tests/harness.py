"""Real instances for tests: an embedded PostgreSQL, databases cloned from a migrated template,
and Federatie apps served by Hypercorn on 127.0.0.1 ports, talking real HTTP.

See tests/README.md for how to use the fixtures built on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart

from federatie.app import create_app
from federatie.config import Config, load_config
from federatie.runtime import EXTENSION_KEY, Runtime
from federatie.storage.migrate import migrate
from federatie.storage.pool import _init_connection

TEMPLATE = "federatie_template"
_counter = itertools.count(1)


class PostgresCluster:
    """One embedded PostgreSQL for the whole test session, with a migrated template database."""

    def __init__(self, directory: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            self._server = pgserver.get_server(directory, cleanup_mode="stop")
        self.admin_dsn = self._server.get_uri("postgres")
        asyncio.run(self._make_template())

    def dsn(self, database: str) -> str:
        return self._server.get_uri(database)

    async def _make_template(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.dsn(TEMPLATE))
        try:
            await _init_connection(conn)
            await migrate(conn)
        finally:
            await conn.close()

    async def new_database(self, prefix: str = "test") -> str:
        """A fresh, migrated database (a copy of the template: milliseconds, not seconds)."""
        name = f"{prefix}_{next(_counter)}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        finally:
            await conn.close()
        return self.dsn(name)

    async def new_empty_database(self, prefix: str = "empty") -> str:
        name = f"{prefix}_{next(_counter)}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.dsn(name)

    def stop(self) -> None:
        self._server.cleanup()


@dataclass
class Instance:
    """A running Federatie instance on 127.0.0.1:<port>."""

    name: str
    config: Config
    app: Quart
    port: int
    _stop: asyncio.Event = field(repr=False)
    _task: asyncio.Task[Any] = field(repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def domain(self) -> str:
        return self.config.domain

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.extensions[EXTENSION_KEY]
        return runtime

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def stop(self) -> None:
        self._stop.set()
        await self._task

    async def publish(self, username: str, document: dict[str, Any]) -> dict[str, Any]:
        """Client-to-server: POST to the person's outbox with a bearer token; the activity."""
        if username not in self._tokens:
            self._tokens[username] = await self.runtime.actors.issue_token(username)
        headers = {
            "Authorization": f"Bearer {self._tokens[username]}",
            "Content-Type": "application/activity+json",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.url(f"/users/{username}/outbox"), json=document, headers=headers
            ) as response,
        ):
            body = await response.json(content_type=None)
            assert response.status == 201, body
            activity: dict[str, Any] = body
            return activity

    async def drain(self) -> int:
        """Run every due job of this instance (inbox processing, fan-out, delivery)."""
        return await self.runtime.worker().drain()


PASSWORD = "correct horse battery"


async def people(instance: Instance, *names: str) -> None:
    """Create local people (all with the test password)."""
    for name in names:
        await instance.runtime.actors.create_person(name, PASSWORD)


async def rows(instance: Instance, query: str, *args: Any) -> list[Any]:
    async with instance.runtime.pool.acquire() as conn:
        return list(await conn.fetch(query, *args))


async def value(instance: Instance, query: str, *args: Any) -> Any:
    async with instance.runtime.pool.acquire() as conn:
        return await conn.fetchval(query, *args)


async def follow_state(instance: Instance, follower: str, followed: str) -> str | None:
    """The state of a follow as `instance` records it: pending, accepted or None."""
    result: str | None = await value(
        instance,
        """SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id
           JOIN actors b ON b.id = f.followed_id WHERE a.uri = $1 AND b.uri = $2""",
        follower,
        followed,
    )
    return result


async def settle(*instances: Instance, rounds: int = 50) -> None:
    """Drain all instances until a whole round runs no job: the network is quiet."""
    for _ in range(rounds):
        ran = 0
        for instance in instances:
            if not instance._task.done():
                ran += await instance.drain()
        if ran == 0:
            return
    raise AssertionError(f"jobs still running after {rounds} rounds")


def instance_config(database_url: str, port: int, data_dir: Path, **overrides: str) -> Config:
    environ = {
        "FEDERATIE_DOMAIN": f"127.0.0.1:{port}",
        "FEDERATIE_ENV": "development",
        "FEDERATIE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "FEDERATIE_LOG_LEVEL": "warning",
        # Tests run jobs explicitly with `drain`/`settle`, so that nothing depends on timing.
        "FEDERATIE_INPROCESS_WORKER": "false",
        "FEDERATIE_DB_POOL_SIZE": "20",  # room for 9 concurrent jobs when draining
        # Tests read their own writes at once; tests/web/test_public_cache.py turns it on.
        "FEDERATIE_PUBLIC_CACHE_SECONDS": "0",
        **overrides,
    }
    return load_config(environ)


async def start_instance(
    cluster: PostgresCluster,
    data_dir: Path,
    name: str = "a",
    *,
    database_url: str | None = None,
    port_socket: socket.socket | None = None,
    **overrides: str,
) -> Instance:
    """Bind a loopback port first (the port is part of the instance's domain), then serve."""
    sock = port_socket or _bind_loopback()
    port = sock.getsockname()[1]
    database_url = database_url or await cluster.new_database(f"inst_{name}")
    config = instance_config(database_url, port, data_dir / name, **overrides)
    app = create_app(config)
    hconfig = HypercornConfig()
    # Hypercorn takes ownership of the descriptor and closes it when it stops.
    hconfig.bind = [f"fd://{sock.detach()}"]
    hconfig.accesslog = None
    hconfig.errorlog = None
    hconfig.graceful_timeout = 2
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, hconfig, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    instance = Instance(name, config, app, port, stop, task)
    await wait_until_ready(instance.url("/healthz"), task)
    return instance


async def wait_until_ready(url: str, task: asyncio.Task[Any], timeout: float = 20) -> None:
    async with aiohttp.ClientSession() as session:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if task.done():
                task.result()  # raises what made the server stop
                raise RuntimeError("the instance stopped while starting")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s")
            await asyncio.sleep(0.02)


def _bind_loopback(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def running_instances(cluster: PostgresCluster, data_dir: Path) -> AsyncIterator[Any]:
    """A factory `await start(name, **settings)`; everything started is stopped at the end."""
    started: list[Instance] = []

    async def start(name: str = "a", *, like: Instance | None = None, **overrides: str) -> Instance:
        """A new instance, or with `like=` a restart of a stopped one (same port, database)."""
        if like is not None:
            assert like.config.database_url is not None
            instance = await start_instance(
                cluster,
                data_dir,
                like.name,
                database_url=like.config.database_url.reveal(),
                port_socket=_bind_loopback(like.port),
                **overrides,
            )
        else:
            instance = await start_instance(cluster, data_dir, name, **overrides)
        started.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in reversed(started):
            if not instance._task.done():
                await instance.stop()
