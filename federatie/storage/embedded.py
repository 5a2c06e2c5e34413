"""The embedded PostgreSQL that runs when no DATABASE_URL is set, so a new user needs no set-up.

`pgserver` ships the PostgreSQL binaries. The server listens on a Unix socket only, keeps its
data in `<data dir>/postgres` across restarts, and is stopped when the last process using it
exits (pgserver counts the processes that hold a handle).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "federatie"


def start_embedded_postgres(data_dir: Path) -> tuple[Any, str]:
    """Start (or attach to) the embedded server; return its handle and the DSN of our database."""
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR on servers; harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

        pgdata = data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        server = get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        log.info("embedded.created", extra={"pgdata": str(pgdata)})
    return server, server.get_uri(DATABASE_NAME)
