"""schemathesis (PyPI) against a real running instance: every operation in our OpenAPI
description (which it loads and checks first), with generated valid and invalid inputs and a
valid token, must never answer with a server error (5xx). It runs `st` as a subprocess, so
the instance keeps serving on this event loop; the example count is kept small so that the run
stays under a minute here.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from harness import people
from mastodon_support import token_for

SCHEMA = Path(__file__).parents[2] / "schemas" / "openapi" / "mastodon.yaml"


async def test_no_server_errors(start_instance: Any, tmp_path: Path) -> None:
    instance = await start_instance("a", FEDERATIE_API_RATE_LIMIT="100000")
    await people(instance, "anna", "bert")
    await instance.runtime.actors.create_group("team", owner="bert")
    token = await token_for(instance, "anna")
    st = Path(sys.executable).parent / "st"
    process = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        str(SCHEMA),
        "--url",
        instance.base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "5",
        "--seed",
        "8",
        "--generation-database",
        "none",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--no-color",
        "--max-failures",
        "10",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-15000:]
