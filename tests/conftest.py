"""Shared fixtures: one embedded PostgreSQL per test session, fresh databases per test,
and real Federatie instances on loopback ports. See tests/README.md."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from foreign import started_foreign_server
from harness import Instance, PostgresCluster, running_instances


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(tmp_path_factory.mktemp("pg") / "data")
    yield cluster
    cluster.stop()


@pytest.fixture
async def database_url(postgres: PostgresCluster) -> str:
    return await postgres.new_database()


@pytest.fixture
async def start_instance(postgres: PostgresCluster, tmp_path: Path) -> AsyncIterator[Any]:
    """`await start_instance("b", FEDERATIE_AUTHORIZED_FETCH="false")` starts an instance."""
    async with running_instances(postgres, tmp_path) as start:
        yield start


@pytest.fixture
async def instance(start_instance: Any) -> Instance:
    started: Instance = await start_instance("a")
    return started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def foreign() -> AsyncIterator[Any]:
    """A factory for scripted foreign servers: `m = await foreign("mastodon")`.

    Each speaks real HTTP with real signatures on 127.0.0.1 (see tests/foreign.py); all are
    stopped when the test ends.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(software: str = "mastodon", **options: Any) -> Any:
            return await stack.enter_async_context(started_foreign_server(software, **options))

        yield start
