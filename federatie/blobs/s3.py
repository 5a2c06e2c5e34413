"""Blobs in a bucket of an S3-compatible object store (AWS S3, MinIO, Ceph RGW, SeaweedFS…),
for deployments where several machines or pods serve the same files.

Client: aiobotocore, botocore's S3 client (the request signing, retries, error model and
endpoint rules AWS itself maintains, so every S3-compatible server speaks it) on aiohttp,
which Federatie already uses for outbound HTTP. It is async: a download streams from the
bucket to the browser in the event loop, where boto3 would hold a thread per blocking read.
It is the optional extra `federatie[s3]`, as botocore is large and one machine needs none of it.

The layout is the local store's: `sha256/ab/cd/<digest>`. A put asks first (HEAD) whether
the digest is there, then uploads with `If-None-Match: *`, so of concurrent puts of one
digest one stores and the others learn it was there (a server ignoring the condition
overwrites the same bytes, which is harmless). A file up to one part goes in one PUT, a larger
one in a multipart upload read part by part from the staged file, so memory holds a part or
two whatever the file's size; a failed multipart upload is aborted. Reads are ranged GETs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from federatie.blobs.staging import StagedFile
from federatie.blobs.store import BlobReader, check_digest
from federatie.config import S3Config
from federatie.errors import NotFound

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024  # S3 wants at least 5 MiB per part but the last
_MAX_PARTS = 10_000  # S3's limit per multipart upload
_CHUNK = 256 * 1024
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def blob_key(digest: str) -> str:
    check_digest(digest)
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Blob:
    """A blob in the bucket; each `chunks` call is one ranged GET, streamed."""

    def __init__(self, store: S3BlobStore, key: str, size: int) -> None:
        self._store = store
        self._key = key
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    async def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        stop = self._size if end is None else min(end, self._size)
        if start >= stop:
            return
        client = await self._store.client()
        try:
            answer = await client.get_object(
                Bucket=self._store.bucket, Key=self._key, Range=f"bytes={start}-{stop - 1}"
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise NotFound(f"no blob {self._key}") from None
            raise
        async with answer["Body"] as body:
            async for data in body.iter_chunks(_CHUNK):
                yield data


class S3BlobStore:
    """Blobs in one bucket. The client (and its connection pool) is made on first use, in the
    event loop that uses it, and released by `close`."""

    def __init__(self, settings: S3Config, *, part_size: int = PART_SIZE) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.part_size = part_size
        self._client: S3Client | None = None
        self._exit = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def client(self) -> S3Client:
        async with self._lock:
            client = self._client
            if client is None:
                client = await self._exit.enter_async_context(self._create_client())
                self._client = client
            return client

    def _create_client(self) -> ClientCreatorContext[S3Client]:
        s3 = self.settings
        config = AioConfig(
            region_name=s3.region,
            signature_version="s3v4",
            # Servers other than AWS rarely have a DNS name per bucket; AWS still answers
            # path-style requests, but its own endpoint picks the best style itself.
            s3={"addressing_style": "path" if s3.endpoint else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
            # botocore's default CRC checksums on every request are refused by many
            # S3-compatible servers; integrity comes from the digest we store under.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return get_session().create_client(
            "s3",
            endpoint_url=s3.endpoint,
            aws_access_key_id=s3.access_key.reveal() if s3.access_key else None,
            aws_secret_access_key=s3.secret_key.reveal() if s3.secret_key else None,
            config=config,
        )

    async def close(self) -> None:
        self._client = None
        await self._exit.aclose()

    async def put(self, staged: StagedFile) -> bool:
        try:
            digest = await asyncio.to_thread(staged.finish)
            if await self.exists(digest):
                return False
            staged.close()
            key = blob_key(digest)
            if staged.size <= self.part_size:
                data = await asyncio.to_thread(staged.path.read_bytes)
                return await self._put_whole(key, data)
            return await self._put_parts(key, staged.path, staged.size)
        finally:
            staged.discard()

    async def _put_whole(self, key: str, data: bytes) -> bool:
        client = await self.client()
        try:
            await client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) == "PreconditionFailed":
                return False  # a concurrent put stored it first
            raise
        return True

    async def _put_parts(self, key: str, path: Path, size: int) -> bool:
        client = await self.client()
        part_size = max(self.part_size, -(-size // _MAX_PARTS))
        upload = await client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                while data := await asyncio.to_thread(handle.read, part_size):
                    number = len(parts) + 1
                    answer = await client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            finally:
                handle.close()
            await client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException as exc:
            # An abort that fails leaves the parts to the bucket's lifecycle rule (see deploy/).
            with contextlib.suppress(ClientError, OSError):
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            if isinstance(exc, ClientError) and _code(exc) == "PreconditionFailed":
                return False
            raise
        return True

    async def open(self, digest: str) -> BlobReader:
        key = blob_key(digest)
        size = await self._size(key)
        if size is None:
            raise NotFound(f"no blob {digest}")
        return S3Blob(self, key, size)

    async def delete(self, digest: str) -> None:
        client = await self.client()
        await client.delete_object(Bucket=self.bucket, Key=blob_key(digest))

    async def exists(self, digest: str) -> bool:
        return await self._size(blob_key(digest)) is not None

    async def _size(self, key: str) -> int | None:
        client = await self.client()
        try:
            answer = await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return answer["ContentLength"]
