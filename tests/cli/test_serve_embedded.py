"""The README's promise: `serve` on the embedded PostgreSQL, data kept across restarts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from processes import embedded_env, free_port, http_get, stop, wait_until_serving


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "federatie", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_on_embedded_postgres_keeps_data(tmp_path: Path) -> None:
    port = free_port()
    domain = f"127.0.0.1:{port}"
    env = embedded_env(str(tmp_path / "data"))
    env.update({"FEDERATIE_DOMAIN": domain, "FEDERATIE_ENV": "development"})
    base = f"http://{domain}"
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
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    for _ in range(2):  # start, stop, start again: alice is still there
        process = _serve(env, port)
        try:
            wait_until_serving(f"{base}/healthz", process)
            status, body = http_get(f"{base}/.well-known/webfinger?resource=acct:alice@{domain}")
            assert status == 200 and b"/users/alice" in body
            assert http_get(f"{base}/readyz")[0] == 200
        finally:
            output = stop(process)
        assert "FEDERATIE_DOMAIN" in output  # the effective configuration is printed
        assert "embedded PostgreSQL" in output
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
