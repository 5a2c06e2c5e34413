"""The one asyncpg pool of a process, with JSON codecs on orjson."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# Records come back as asyncpg.Record; the aliases keep signatures short. The stubs make
# these classes generic, asyncpg itself does not, hence the two spellings.
if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    # What storage functions take: a pooled connection or a plain one (migrations, tests).
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    # jsonb in and out as Python values; orjson is several times faster than json here.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            format="text",
        )


async def create_pool(dsn: str, *, max_size: int = 10) -> Pool:
    """Open the pool; connections get the JSON codecs."""
    return await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, init=_init_connection, command_timeout=60
    )
