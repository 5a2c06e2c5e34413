"""Helpers for tests that run `federatie` as a real process serving on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def embedded_env(data_dir: str) -> dict[str, str]:
    """This environment less any Federatie setting or DATABASE_URL: the embedded default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")}
    env.pop("DATABASE_URL", None)
    env["FEDERATIE_DATA_DIR"] = data_dir
    return env


def http_get(url: str, accept: str = "application/activity+json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def wait_until_serving(url: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    """Poll `url` until it answers 200; fail with the output if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the server exited: {output}")
        try:
            if http_get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, as a process supervisor stops it; it must exit cleanly. Its output."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output
