"""Where file bytes live: a small interface, and the local-disk store behind it.

Blobs are content-addressed by the hex SHA-256 of their bytes, so identical files are stored
once and a name (a person's file name) never becomes a path. `BlobStore` is what the rest of
the server uses; `LocalBlobStore` keeps blobs under `<data dir>/files/sha256/ab/cd/<digest>`,
`s3.S3BlobStore` in a bucket of an object store (FEDERATIE_FILE_STORE picks one).

Writes are atomic: bytes are staged in a temporary file on the same file system (see
`staging`), fsynced, then renamed into place and the directory fsynced, so a blob is either
absent or complete, never half written. Deciding when a blob may be deleted (no version uses
it any more) is the caller's business (`services.files`), under a lock per digest.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from federatie.blobs.staging import StagedFile
from federatie.config import Config
from federatie.errors import ConfigError, NotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 256 * 1024


def check_digest(digest: str) -> str:
    """A lower-case hex SHA-256, or ValueError: digests become paths, so they are checked."""
    if not _DIGEST.match(digest):
        raise ValueError(f"not a hex SHA-256 digest: {digest!r}")
    return digest


class BlobReader(Protocol):
    """An opened blob: its size, and its bytes from `start` to `end` (exclusive) in chunks."""

    @property
    def size(self) -> int: ...

    def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...


class BlobStore(Protocol):
    async def put(self, staged: StagedFile) -> bool:
        """Store a finished staged file under its digest, consuming it; False when a blob
        with that digest was already there (the staged copy is then discarded)."""
        ...

    async def open(self, digest: str) -> BlobReader:
        """The blob with this digest; `NotFound` when there is none."""
        ...

    async def delete(self, digest: str) -> None:
        """Remove the blob; nothing happens when it is absent."""
        ...

    async def exists(self, digest: str) -> bool: ...

    async def close(self) -> None:
        """Release connections (the runtime closes its store when it stops)."""
        ...


def open_blob_store(config: Config) -> BlobStore:
    """The configured store: local disk under `<data dir>/files`, or an S3 bucket."""
    if config.s3 is None:
        return LocalBlobStore(config.data_dir / "files")
    try:
        from federatie.blobs.s3 import S3BlobStore
    except ImportError as exc:
        raise ConfigError(
            f"FEDERATIE_FILE_STORE: s3 needs `pip install 'federatie[s3]'` ({exc.name} is missing)"
        ) from exc
    return S3BlobStore(config.s3)


class LocalBlob:
    """A blob on local disk. The file is opened when reading starts and closed when it ends
    (or the reader is abandoned), so an unread response holds no descriptor."""

    def __init__(self, path: Path, size: int) -> None:
        self._path = path
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    async def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        stop = self._size if end is None else min(end, self._size)
        fd = await asyncio.to_thread(os.open, self._path, os.O_RDONLY)
        try:
            position = start
            while position < stop:
                data = await asyncio.to_thread(os.pread, fd, min(_CHUNK, stop - position), position)
                if not data:
                    break
                position += len(data)
                yield data
        finally:
            os.close(fd)


class LocalBlobStore:
    """Blobs in a directory tree on local disk, fanned out by the first four hex digits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "sha256").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / "sha256" / digest[:2] / digest[2:4] / digest

    async def put(self, staged: StagedFile) -> bool:
        return await asyncio.to_thread(self._put, staged)

    def _put(self, staged: StagedFile) -> bool:
        target = self.path(staged.finish())
        if target.exists():
            staged.discard()
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.close()
        # Same file system (the staging directory is under the root): an atomic rename. Two
        # concurrent puts of one digest both rename complete files with the same bytes.
        os.replace(staged.path, target)
        _fsync_directory(target.parent)
        return True

    async def open(self, digest: str) -> BlobReader:
        path = self.path(digest)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            raise NotFound(f"no blob {digest}") from None
        return LocalBlob(path, size)

    async def delete(self, digest: str) -> None:
        await asyncio.to_thread(self.path(digest).unlink, missing_ok=True)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self.path(digest).is_file)

    async def close(self) -> None:
        """Nothing to release."""

    def count(self) -> int:
        """How many blobs are stored (for tests and administrators)."""
        return sum(1 for path in (self.root / "sha256").glob("*/*/*") if path.is_file())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
