"""The README's run command: `quickstart` on the embedded PostgreSQL, with a first
administrator and a demo group, printing the URL and the credentials; a restart keeps them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, accept: str = "application/activity+json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "federatie", "quickstart", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(port: int, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"quickstart exited: {output}")
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("quickstart did not start")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_quickstart_gives_an_admin_a_demo_group_and_keeps_them(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")}
    env.pop("DATABASE_URL", None)
    env["FEDERATIE_DATA_DIR"] = str(tmp_path / "data")
    base = f"http://127.0.0.1:{port}"

    process = _start(env, port)
    try:
        _wait(port, process)
        status, body = _get(f"{base}/groups/demo")
        assert status == 200 and json.loads(body)["type"] == "Group"
        status, body = _get(
            f"{base}/.well-known/webfinger?resource=acct:beheerder@127.0.0.1:{port}"
        )
        assert status == 200
    finally:
        first = _stop(process)
    assert f"{base}/groups/demo" in first
    match = re.search(r"First administrator: beheerder / (\S+)", first)
    assert match, first

    process = _start(env, port)
    try:
        _wait(port, process)
    finally:
        second = _stop(process)
    assert "Administrator: beheerder (password as printed at the first start)" in second
    assert match.group(1) not in second  # the password is shown once
