"""One storage suite for every blob store: the local disk and an S3 bucket on a real
S3-compatible server (SeaweedFS on 127.0.0.1, see tests/s3server.py); then a real instance
keeping its files in S3, over HTTP, and `doctor` checking the bucket.

Each test writes random bytes, so digests never collide between tests sharing the bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from files_support import get, jpeg_with_gps, key_of, sha256, upload
from harness import people, value
from s3server import S3Server

from federatie.blobs import BlobStore, LocalBlobStore, Staging, open_blob_store
from federatie.blobs.s3 import S3BlobStore, blob_key
from federatie.config import load_config
from federatie.doctor import run_checks
from federatie.errors import ConfigError, NotFound
from federatie.services.accounts import AccountService

PART = 5 * 1024 * 1024  # S3's smallest part, so that the multipart test stays small


@dataclass
class Subject:
    store: BlobStore
    staging: Staging

    async def put(self, data: bytes) -> bool:
        return await self.store.put(self.staging.from_bytes(data))

    async def read(self, digest: str, start: int = 0, end: int | None = None) -> bytes:
        blob = await self.store.open(digest)
        return b"".join([chunk async for chunk in blob.chunks(start, end)])


@pytest.fixture(params=["local", "s3"])
async def subject(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> AsyncIterator[Subject]:
    root = tmp_path / "files"
    store: BlobStore
    if request.param == "local":
        store = LocalBlobStore(root)
    else:
        store = S3BlobStore(s3_server.config(), part_size=PART)
    yield Subject(store, Staging(root / "tmp"))
    assert Staging(root / "tmp").pending() == []  # every put consumed its staged file
    await store.close()


async def test_put_open_read_and_store_once(subject: Subject) -> None:
    data = os.urandom(700 * 1024)  # a few read chunks
    digest = sha256(data)
    assert not await subject.store.exists(digest)
    assert await subject.put(data) is True
    assert await subject.store.exists(digest)
    blob = await subject.store.open(digest)
    assert blob.size == len(data)
    assert await subject.read(digest) == data
    assert await subject.put(data) is False  # the same bytes again: already there
    assert await subject.read(digest) == data


async def test_ranges(subject: Subject) -> None:
    data = os.urandom(600 * 1024 + 17)
    digest = sha256(data)
    await subject.put(data)
    boundary = 256 * 1024
    for start, end in [
        (0, 1),
        (5, 10),
        (boundary - 3, boundary + 3),  # across a read chunk
        (100, 2 * boundary + 100),
        (len(data) - 16, None),
        (len(data) - 1, len(data)),
        (0, None),
    ]:
        assert await subject.read(digest, start, end) == data[start:end], (start, end)
    assert await subject.read(digest, 10, len(data) + 1000) == data[10:]  # clamped to the size
    assert await subject.read(digest, len(data), None) == b""
    assert await subject.read(digest, 50, 50) == b""


async def test_empty_blob(subject: Subject) -> None:
    digest = sha256(b"")
    await subject.put(b"")
    assert (await subject.store.open(digest)).size == 0
    assert await subject.read(digest) == b""
    await subject.store.delete(digest)  # the empty blob is shared by every test: remove it


async def test_missing_blobs_and_delete(subject: Subject) -> None:
    absent = secrets.token_hex(32)
    assert not await subject.store.exists(absent)
    with pytest.raises(NotFound):
        await subject.store.open(absent)
    await subject.store.delete(absent)  # nothing there: nothing happens

    data = os.urandom(1000)
    await subject.put(data)
    await subject.store.delete(sha256(data))
    assert not await subject.store.exists(sha256(data))
    with pytest.raises(NotFound):
        await subject.store.open(sha256(data))
    assert await subject.put(data) is True  # stored again after deletion

    for wrong in ("../../etc/passwd", "A" * 64, sha256(data)[:63]):
        with pytest.raises(ValueError, match="not a hex SHA-256"):
            await subject.store.open(wrong)


async def test_big_file_in_parts_with_bounded_memory(subject: Subject, s3_server: S3Server) -> None:
    data = os.urandom(4 * PART + 1234)  # five parts in S3
    digest = sha256(data)
    staged = subject.staging.from_bytes(data)
    assert not await subject.store.exists(digest)  # the client is made (and its model loaded)
    tracemalloc.start()
    try:
        assert await subject.store.put(staged) is True
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * PART, peak  # a part or two in memory, never the whole file
    assert hashlib.sha256(await subject.read(digest)).hexdigest() == digest
    assert await subject.read(digest, PART - 5, PART + 5) == data[PART - 5 : PART + 5]
    if isinstance(subject.store, S3BlobStore):
        client = await subject.store.client()
        head = await client.head_object(Bucket=s3_server.bucket, Key=blob_key(digest))
        assert head["ETag"].strip('"').endswith("-5")  # a multipart upload of five parts
        uploads = await client.list_multipart_uploads(Bucket=s3_server.bucket)
        assert not [u for u in uploads.get("Uploads", []) if u["Key"] == blob_key(digest)]


async def test_concurrent_puts_of_one_digest(subject: Subject) -> None:
    small, big = os.urandom(3000), os.urandom(PART + 100)
    for data in (small, big):
        copies = [subject.staging.from_bytes(data) for _ in range(4)]
        stored = await asyncio.gather(*(subject.store.put(copy) for copy in copies))
        assert any(stored)
        assert await subject.read(sha256(data)) == data


async def test_abandoned_reads_release_their_connections(subject: Subject) -> None:
    """A browser that stops a download mid-way must not keep a connection to the store:
    more abandoned reads than the client's pool holds, then a whole read still works."""
    data = os.urandom(1024 * 1024)
    await subject.put(data)

    async def abandon() -> None:
        chunks = (await subject.store.open(sha256(data))).chunks()
        assert await anext(chunks)
        await chunks.aclose()  # type: ignore[attr-defined]

    await asyncio.wait_for(asyncio.gather(*(abandon() for _ in range(40))), 30)
    assert await asyncio.wait_for(subject.read(sha256(data)), 10) == data


# ----------------------------------------------------------------------------- configuration


def config_with(**settings: str) -> Any:
    return load_config({"FEDERATIE_DOMAIN": "gov-a.example", **settings})


def test_configuration_of_the_file_store(tmp_path: Path) -> None:
    assert config_with().s3 is None
    s3 = config_with(
        FEDERATIE_FILE_STORE="S3",
        FEDERATIE_S3_BUCKET="federatie-files",
        FEDERATIE_S3_ENDPOINT="https://minio.internal:9000/",
        FEDERATIE_S3_ACCESS_KEY="id",
        FEDERATIE_S3_SECRET_KEY="very secret",
    )
    assert s3.s3 is not None
    assert (s3.s3.endpoint, s3.s3.bucket, s3.s3.region) == (
        "https://minio.internal:9000",
        "federatie-files",
        "us-east-1",
    )
    described = dict(s3.describe())
    assert described["FEDERATIE_FILE_STORE"] == "s3"
    assert described["FEDERATIE_S3_SECRET_KEY"] == "***"
    assert "very secret" not in repr(s3)
    aws = config_with(FEDERATIE_FILE_STORE="s3", FEDERATIE_S3_BUCKET="files.example")
    assert aws.s3 is not None and aws.s3.endpoint is None and aws.s3.access_key is None
    assert isinstance(open_blob_store(aws), S3BlobStore)
    local = config_with(FEDERATIE_DATA_DIR=str(tmp_path))
    assert isinstance(open_blob_store(local), LocalBlobStore)

    for settings, named in [
        ({"FEDERATIE_FILE_STORE": "nfs"}, "FEDERATIE_FILE_STORE"),
        ({"FEDERATIE_FILE_STORE": "s3"}, "FEDERATIE_S3_BUCKET: required"),
        ({"FEDERATIE_S3_BUCKET": "files"}, "FEDERATIE_S3_BUCKET: set, but"),
        ({"FEDERATIE_FILE_STORE": "s3", "FEDERATIE_S3_BUCKET": "Files_1"}, "FEDERATIE_S3_BUCKET"),
        (
            {
                "FEDERATIE_FILE_STORE": "s3",
                "FEDERATIE_S3_BUCKET": "files",
                "FEDERATIE_S3_ACCESS_KEY": "id",
            },
            "FEDERATIE_S3_SECRET_KEY: required",
        ),
        (
            {
                "FEDERATIE_FILE_STORE": "s3",
                "FEDERATIE_S3_BUCKET": "files",
                "FEDERATIE_S3_ENDPOINT": "minio.internal:9000",
            },
            "FEDERATIE_S3_ENDPOINT",
        ),
        (
            {
                "FEDERATIE_FILE_STORE": "s3",
                "FEDERATIE_S3_BUCKET": "files",
                "FEDERATIE_S3_ENDPOINT": "https://s3.example/bucket",
            },
            "FEDERATIE_S3_ENDPOINT",
        ),
    ]:
        with pytest.raises(ConfigError, match=named) as raised:
            config_with(**settings)
        assert "\n" not in str(raised.value)


# ----------------------------------------------------------------------------- a real instance


async def test_an_instance_keeps_its_files_in_s3(
    start_instance: Any, s3_server: S3Server, tmp_path: Path
) -> None:
    a = await start_instance("a", **s3_server.settings())
    await people(a, "alice")
    token = await a.runtime.actors.issue_token("alice")
    url = a.url("/users/alice/files")

    data = os.urandom(300 * 1024)
    first = await upload(url, token, data, "rapport.bin")
    assert first.status == 201, first.body
    document = first.json()
    served = await get(a.url(f"/files/{key_of(document)}"))
    assert served.status == 200 and served.body == data
    part = await get(a.url(f"/files/{key_of(document)}"), Range="bytes=1000-262243")
    assert part.status == 206 and part.body == data[1000:262244]
    assert part.headers["Content-Range"] == f"bytes 1000-262243/{len(data)}"

    photo = (await upload(url, token, jpeg_with_gps(), "foto.jpg")).json()
    thumbnail = await get(photo["preview"]["href"])
    assert thumbnail.status == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    again = (await upload(url, token, data, "kopie.bin")).json()  # the same bytes: one object

    digests = set(
        await value(
            a,
            """SELECT array_agg(DISTINCT d) FROM file_versions,
               unnest(ARRAY[sha256, thumbnail_sha256]) AS d WHERE d IS NOT NULL""",
        )
    )
    assert len(digests) == 3 and sha256(data) in digests  # the file, the photo, its thumbnail
    bucket = S3BlobStore(s3_server.config())
    try:
        assert all([await bucket.exists(digest) for digest in digests])
        assert not list((a.config.data_dir / "files").glob("sha256/*/*/*"))  # nothing on disk
        assert a.runtime.files.staging.pending() == []

        # The person's export streams the bytes out of the bucket into the archive.
        accounts = AccountService(a.runtime.pool, a.runtime.iris, bucket)
        archive, uploaded = await accounts.export("alice")
        zipped = tmp_path / "alice.zip"
        assert await accounts.write_archive(archive, uploaded, zipped) == 3  # JSON + 2 blobs
        with zipfile.ZipFile(zipped) as exported:
            assert exported.read(f"files/{sha256(data)}") == data

        async with aiohttp.ClientSession() as http:
            for doc in (document, again, photo):
                async with http.delete(
                    a.url(f"/files/{key_of(doc)}"), headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    assert response.status == 204
        # Collected once nothing used them any more.
        assert not any([await bucket.exists(digest) for digest in digests])
    finally:
        await bucket.close()


async def test_doctor_checks_the_bucket(start_instance: Any, s3_server: S3Server) -> None:
    a = await start_instance("a", **s3_server.settings())
    port = closed_port()
    broken = {
        "secret_key": "not-the-key",
        "bucket": "no-such-bucket",
        "endpoint": f"http://127.0.0.1:{port}",
    }

    async def file_store(**changes: str) -> tuple[bool, str]:
        config = a.config.replace(s3=s3_server.config(**changes)) if changes else a.config
        checks = {check.name: check for check in await run_checks(config)}
        return checks["file store"].ok, checks["file store"].detail

    healthy = await file_store()
    failed = [await file_store(**{name: value}) for name, value in broken.items()]
    assert healthy == (
        True,
        f"bucket {s3_server.bucket} at {s3_server.endpoint} is writable; "
        f"staging in {a.config.data_dir / 'files'} is writable",
    )
    assert not any(ok for ok, _ in failed), failed
    wrong_key, no_bucket, no_server = (detail for _, detail in failed)
    assert "(403)" in wrong_key  # a HEAD has no body to say more
    assert "NoSuchBucket" in no_bucket
    assert f"127.0.0.1:{port}" in no_server


def closed_port() -> int:
    """A loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
