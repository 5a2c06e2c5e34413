"""Staged files: bytes on their way into the blob store, hashed and counted as they are written.

An upload (or a download of another instance's file) is written to a temporary file in the
staging directory, SHA-256 and size computed on the way, refused as soon as it grows past its
cap. Only a finished (flushed and fsynced) staged file can be put into a store, so the digest a
blob is stored under is always the digest of its bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Self

from federatie.errors import PayloadTooLarge

# Left-overs of a crashed process; anything younger may be an upload in progress elsewhere.
_STALE_AFTER_SECONDS = 24 * 3600
_SUFFIX = ".part"


class StagedFile:
    """A temporary file that is being written; `finish()` makes its digest and size final.

    It offers the `write`/`seek`/`read`/`tell` a multipart parser or an HTTP download writes
    through. Writing more than `max_bytes` raises `PayloadTooLarge` (nothing more is written).
    """

    def __init__(self, directory: Path, max_bytes: int | None = None) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="staged-", suffix=_SUFFIX)
        self.path = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._hash = hashlib.sha256()
        self._digest: str | None = None
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, data: bytes) -> int:
        if self._digest is not None:
            raise ValueError("a finished staged file cannot be written to")
        if self.max_bytes is not None and self.size + len(data) > self.max_bytes:
            raise PayloadTooLarge(f"the file is larger than {self.max_bytes} bytes")
        self.size += len(data)
        self._hash.update(data)
        return self._file.write(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def head(self, size: int = 4096) -> bytes:
        """The first `size` bytes, without moving the write position."""
        self._file.flush()
        return os.pread(self._file.fileno(), size, 0)

    def finish(self) -> str:
        """Flush and fsync; the hex SHA-256 of everything written. Idempotent."""
        if self._digest is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._digest = self._hash.hexdigest()
        return self._digest

    @property
    def digest(self) -> str:
        if self._digest is None:
            raise ValueError("the staged file is not finished")
        return self._digest

    @property
    def finished(self) -> bool:
        return self._digest is not None

    def close(self) -> None:
        """Close the handle; the file stays (a store moves it away, or `discard` removes it)."""
        self._file.close()

    def discard(self) -> None:
        """Close and remove. Safe to call more than once, and after a store took the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class Staging:
    """The directory staged files are written in (on the same file system as a local store,
    so that storing is a rename, not a copy)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._sweep()

    def new(self, max_bytes: int | None = None) -> StagedFile:
        return StagedFile(self.directory, max_bytes)

    def from_bytes(self, data: bytes) -> StagedFile:
        """A finished staged file holding `data` (a processed image, a thumbnail)."""
        staged = self.new()
        try:
            staged.write(data)
            staged.finish()
        except BaseException:
            staged.discard()
            raise
        return staged

    def pending(self) -> list[Path]:
        """The staged files now on disk (tests check that refused uploads leave none)."""
        return sorted(self.directory.glob(f"*{_SUFFIX}"))

    def _sweep(self) -> None:
        cutoff = time.time() - _STALE_AFTER_SECONDS
        for path in self.directory.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
