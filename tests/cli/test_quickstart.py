"""The README's run command: `quickstart` on the embedded PostgreSQL, with a first
administrator and a demo group, printing the URL and the credentials; a restart keeps them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from processes import embedded_env, free_port, http_get, stop, wait_until_serving


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "federatie", "quickstart", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_quickstart_gives_an_admin_a_demo_group_and_keeps_them(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(str(tmp_path / "data"))
    base = f"http://127.0.0.1:{port}"

    process = _start(env, port)
    try:
        wait_until_serving(f"{base}/healthz", process)
        status, body = http_get(f"{base}/groups/demo")
        assert status == 200 and json.loads(body)["type"] == "Group"
        status, body = http_get(
            f"{base}/.well-known/webfinger?resource=acct:beheerder@127.0.0.1:{port}"
        )
        assert status == 200
    finally:
        first = stop(process)
    assert f"{base}/groups/demo" in first
    match = re.search(r"First administrator: beheerder / (\S+)", first)
    assert match, first

    process = _start(env, port)
    try:
        wait_until_serving(f"{base}/healthz", process)
    finally:
        second = stop(process)
    assert "Administrator: beheerder (password as printed at the first start)" in second
    assert match.group(1) not in second  # the password is shown once
