"""The S3-compatible server of the object-store tests (see tests/s3server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from s3server import S3Server, named_server, running_seaweedfs


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on 127.0.0.1 for the whole run, or the server FEDERATIE_TEST_S3_* name."""
    named = named_server()
    if named is not None:
        yield named
        return
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
