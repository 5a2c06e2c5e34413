"""Numbered SQL migrations in `schemas/migrations/NNNN_verb_noun.sql`.

Each file runs in its own transaction and is recorded in `schema_migrations`. An advisory lock
makes concurrent starters (several web and worker processes) apply them once. A database that
records a migration this code does not know is newer than the code: we refuse to run on it
rather than write to a schema we do not understand.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from federatie.errors import FederatieError
from federatie.paths import schemas_dir
from federatie.storage.pool import Connection

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number shared by all processes of one database.
_LOCK_KEY = 0x_FEDE_0001


class MigrationError(FederatieError):
    """The database's schema does not fit this code."""

    code = "migration_error"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def known_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files, in order; numbering must be 1, 2, 3 … without gaps."""
    directory = directory or schemas_dir() / "migrations"
    if not directory.is_dir() or not any(directory.glob("*.sql")):
        # Never report "up to date" for a database we did not even look at.
        raise MigrationError(
            f"no migrations found in {directory}: set FEDERATIE_SCHEMAS_DIR to the schemas/ "
            "directory of this release"
        )
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {expected:04d} is missing before {migration.path}")
    return migrations


async def migrate(conn: Connection, directory: Path | None = None) -> list[Migration]:
    """Apply what is missing; return what was applied. Re-running is a no-op."""
    migrations = known_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            row["version"]: row["name"]
            for row in await conn.fetch("SELECT version, name FROM schema_migrations")
        }
        _check_not_ahead(applied, migrations)
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info(
                "migration.applied",
                extra={"version": migration.version, "migration": migration.name},
            )
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def check_schema(conn: Connection) -> None:
    """Refuse a database that is behind or ahead of this code (used by workers and web)."""
    migrations = known_migrations()
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations")
    except asyncpg.UndefinedTableError as exc:
        raise MigrationError("the database has no schema yet: run `federatie migrate`") from exc
    applied = {row["version"]: row["name"] for row in rows}
    _check_not_ahead(applied, migrations)
    missing = [m for m in migrations if m.version not in applied]
    if missing:
        raise MigrationError(
            f"the database lacks migration {missing[0].version:04d}: run `federatie migrate`"
        )


def _check_not_ahead(applied: dict[int, str], migrations: list[Migration]) -> None:
    known = {m.version: m.name for m in migrations}
    ahead = sorted(v for v in applied if v not in known)
    if ahead:
        raise MigrationError(
            f"the database has schema version {max(applied)}, newer than this code "
            f"({max(known, default=0)}): upgrade Federatie before starting it"
        )
    for version, name in applied.items():
        if known[version] != name:
            raise MigrationError(
                f"migration {version:04d} is recorded as {name!r} but the code has "
                f"{known[version]!r}: the database belongs to another version"
            )
