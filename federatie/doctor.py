"""`federatie admin doctor`: check an instance's set-up, one line per check.

Each check answers OK or FAIL with the reason; a check that depends on a failed one fails
with that reason rather than being skipped, so the output always has the same lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from federatie.blobs import BlobStore, Staging, open_blob_store
from federatie.config import Config
from federatie.errors import FederatieError
from federatie.federation.http import build_ssl_context
from federatie.storage.migrate import check_schema

CLOCK_SKEW_LIMIT_SECONDS = 30.0
TIMEOUT_SECONDS = 5.0
# The S3 client loads botocore's service model first and retries a refused connection twice.
S3_TIMEOUT_SECONDS = 15.0
CHECKS = (
    "configuration",
    "database",
    "migrations",
    "file store",
    "outbound TLS",
    "clock",
    "webfinger",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def config_failed(message: str) -> list[Check]:
    """The report when the configuration itself does not load."""
    return [Check("configuration", False, message)] + [
        Check(name, False, "configuration does not load") for name in CHECKS[1:]
    ]


async def run_checks(config: Config, database_error: str | None = None) -> list[Check]:
    """Every check against `config`, whose database URL is resolved (or `database_error`)."""
    results = [Check("configuration", True, f"loaded ({config.domain}, {config.env.value})")]
    conn: Any = None
    if database_error is None and config.database_url is not None:
        try:
            conn = await asyncio.wait_for(
                asyncpg.connect(config.database_url.reveal()), TIMEOUT_SECONDS
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            database_error = f"not reachable: {_reason(exc)}"
    elif database_error is None:
        database_error = "DATABASE_URL is not set"
    try:
        if conn is None:
            assert database_error is not None
            results.append(Check("database", False, database_error))
            results.append(Check("migrations", False, "database not reachable"))
        else:
            version = await conn.fetchval("SHOW server_version")
            results.append(Check("database", True, f"reachable (PostgreSQL {version})"))
            results.append(await _check("migrations", lambda: _migrations(conn)))
        results.append(await _check("file store", lambda: _file_store(config)))
        results.append(await _check("outbound TLS", lambda: _tls(config)))
        if conn is None:
            results.append(Check("clock", False, "database not reachable"))
        else:
            results.append(await _check("clock", lambda: _clock(conn)))
        results.append(await _check("webfinger", lambda: _webfinger(config)))
    finally:
        if conn is not None:
            await conn.close()
    return results


async def _check(name: str, action: Callable[[], Awaitable[str]]) -> Check:
    try:
        return Check(name, True, await action())
    except Exception as exc:  # every failure is a FAIL line with its reason
        return Check(name, False, _reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FederatieError):
        return exc.message
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


async def _migrations(conn: Any) -> str:
    await check_schema(conn)
    version = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return f"up to date (version {version})"


async def _file_store(config: Config) -> str:
    root = config.data_dir / "files"

    def probe() -> None:
        root.mkdir(parents=True, exist_ok=True)
        path = root / f".doctor-{secrets.token_hex(6)}"
        try:
            path.write_bytes(b"ok")
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    try:
        await asyncio.to_thread(probe)
    except OSError as exc:
        raise RuntimeError(f"{root} is not writable: {exc.strerror or exc}") from exc
    if config.s3 is None:
        return f"{root} is writable"
    # Uploads are staged under `root` before they go to the bucket: both must work.
    where = f"bucket {config.s3.bucket} at {config.s3.endpoint or 'AWS S3'}"
    store = open_blob_store(config)
    try:
        await asyncio.wait_for(_round_trip(store, root), S3_TIMEOUT_SECONDS)
    except TimeoutError:
        raise RuntimeError(f"{where} did not answer within {S3_TIMEOUT_SECONDS:g} s") from None
    except Exception as exc:
        raise RuntimeError(f"{where}: {_reason(exc)}") from exc
    finally:
        await store.close()
    return f"{where} is writable; staging in {root} is writable"


async def _round_trip(store: BlobStore, root: Path) -> None:
    """Store, read back and delete a random blob, the way uploads and downloads do."""
    data = secrets.token_bytes(32)
    staged = await asyncio.to_thread(Staging(root / "tmp").from_bytes, data)
    digest = staged.digest
    await store.put(staged)
    try:
        blob = await store.open(digest)
        if b"".join([chunk async for chunk in blob.chunks()]) != data:
            raise RuntimeError("the store gave back other bytes")
    finally:
        await store.delete(digest)


async def _tls(config: Config) -> str:
    ca_bundle = str(config.ca_bundle) if config.ca_bundle else None
    context: ssl.SSLContext = build_ssl_context(ca_bundle)
    count = context.cert_store_stats().get("x509_ca", 0)
    if count == 0:
        raise RuntimeError("no trusted CA certificates: outbound https would fail")
    extra = f" including {ca_bundle}" if ca_bundle else ""
    return f"{count} trusted CA certificates{extra}"


async def _clock(conn: Any) -> str:
    before = datetime.now(UTC)
    database_now: datetime = await conn.fetchval("SELECT now()")
    after = datetime.now(UTC)
    here = before + (after - before) / 2
    skew = (database_now - here).total_seconds()
    if abs(skew) > CLOCK_SKEW_LIMIT_SECONDS:
        raise RuntimeError(
            f"this machine and the database differ by {skew:+.1f} s "
            f"(more than {CLOCK_SKEW_LIMIT_SECONDS:.0f} s): signatures will be refused"
        )
    return f"within {abs(skew):.2f} s of the database"


async def _webfinger(config: Config) -> str:
    resource = f"{config.base_url}/actor"
    url = f"{config.base_url}/.well-known/webfinger"
    context = build_ssl_context(str(config.ca_bundle) if config.ca_bundle else None)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                url,
                params={"resource": resource},
                headers={"Accept": "application/jrd+json"},
                ssl=context if config.scheme == "https" else False,
                allow_redirects=False,
            ) as response,
        ):
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RuntimeError(f"not reachable: {url}: {_reason(exc) or 'timeout'}") from exc
    if status != 200:
        raise RuntimeError(f"{url} answered HTTP {status}")
    try:
        jrd = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RuntimeError(f"{url} did not answer JSON") from exc
    links = jrd.get("links") if isinstance(jrd, dict) else None
    if not any(
        isinstance(link, dict) and link.get("rel") == "self" and link.get("href") == resource
        for link in (links if isinstance(links, list) else [])
    ):
        raise RuntimeError(f"{url} does not describe {resource}: another server at this domain?")
    return f"{config.domain} answers for its instance actor"
