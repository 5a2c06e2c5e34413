"""Migrations: from empty, re-run as a no-op, numbering adds up, a newer database is refused."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from harness import PostgresCluster

from federatie.storage.migrate import MigrationError, check_schema, known_migrations, migrate


def test_migration_files_are_numbered_without_gaps() -> None:
    migrations = known_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_migrate_from_empty_then_rerun(postgres: PostgresCluster) -> None:
    conn = await asyncpg.connect(await postgres.new_empty_database())
    try:
        applied = await migrate(conn)
        assert [m.version for m in applied] == [m.version for m in known_migrations()]
        assert await migrate(conn) == []
        await check_schema(conn)
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert recorded == len(known_migrations())
        # Counters that need no durability write no WAL (0013).
        persistence = await conn.fetchval(
            "SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits'"
        )
        assert persistence == b"u"
    finally:
        await conn.close()


async def test_database_newer_than_code_is_refused(postgres: PostgresCluster) -> None:
    conn = await asyncpg.connect(await postgres.new_database())
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')"
        )
        with pytest.raises(MigrationError, match="newer than this code"):
            await migrate(conn)
        with pytest.raises(MigrationError, match="newer than this code"):
            await check_schema(conn)
    finally:
        await conn.close()


async def test_check_schema_refuses_unmigrated(postgres: PostgresCluster) -> None:
    conn = await asyncpg.connect(await postgres.new_empty_database())
    try:
        with pytest.raises(MigrationError, match="federatie migrate"):
            await check_schema(conn)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing(postgres: PostgresCluster, tmp_path: Path) -> None:
    for migration in known_migrations():
        (tmp_path / migration.path.name).write_text(migration.path.read_text())
    bad = len(known_migrations()) + 1
    (tmp_path / f"{bad:04d}_break_things.sql").write_text(
        "CREATE TABLE half_done (id int); SELECT no_such_function();"
    )
    conn = await asyncpg.connect(await postgres.new_database())
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == bad - 1
    finally:
        await conn.close()
