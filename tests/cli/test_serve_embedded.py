"""The README's promise: `serve` on the embedded PostgreSQL, data kept across restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, accept: str = "application/activity+json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def _wait(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "FEDERATIE_DOMAIN": f"127.0.0.1:{port}",
            "FEDERATIE_ENV": "development",
            "FEDERATIE_DATA_DIR": str(tmp_path / "data"),
            "PORT": str(port),
        }
    )
    return env


def _serve(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "federatie", "serve", "--port", env["PORT"]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_serve_on_embedded_postgres_keeps_data(embedded_env: dict[str, str]) -> None:
    base = f"http://{embedded_env['FEDERATIE_DOMAIN']}"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "federatie",
            "admin",
            "create-user",
            "alice",
            "--password",
            "correct horse battery",
        ],
        env=embedded_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    for _ in range(2):  # start, stop, start again: alice is still there
        process = _serve(embedded_env)
        try:
            _wait(f"{base}/healthz", process)
            status, body = _get(
                f"{base}/.well-known/webfinger?resource=acct:alice@"
                f"{embedded_env['FEDERATIE_DOMAIN']}"
            )
            assert status == 200 and b"/users/alice" in body
            assert _get(f"{base}/readyz")[0] == 200
        finally:
            output = _stop(process)
        assert "FEDERATIE_DOMAIN" in output  # the effective configuration is printed
        assert "embedded PostgreSQL" in output
    assert (Path(embedded_env["FEDERATIE_DATA_DIR"]) / "postgres" / "PG_VERSION").exists()
