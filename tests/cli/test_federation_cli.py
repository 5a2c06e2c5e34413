"""`federatie admin federation ...`: the federation policy as operators change it, a real
process against a real database, and a running instance that obeys the change."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from foreign import PUBLIC, ForeignServer
from harness import Instance


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "federatie", "admin", "federation", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines on stderr (every line must be one)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")},
        "DATABASE_URL": database_url,
        "FEDERATIE_DOMAIN": "gov-a.example",
        "FEDERATIE_DATA_DIR": str(tmp_path),
    }


async def stored(database_url: str) -> tuple[str | None, list[tuple[str, str, str]]]:
    conn = await asyncpg.connect(database_url)
    try:
        mode = await conn.fetchval(
            "SELECT value #>> '{}' FROM instance_settings WHERE key = 'federation_mode'"
        )
        rows = await conn.fetch(
            "SELECT domain, list, created_by FROM federation_domains ORDER BY domain"
        )
    finally:
        await conn.close()
    return mode, [(r["domain"], r["list"], r["created_by"]) for r in rows]


async def test_mode_allow_block_remove_and_list(env: dict[str, str], database_url: str) -> None:
    done = run(env, "list")
    assert (done.returncode, done.stdout) == (0, "mode\topen\n"), done.stderr

    done = run(env, "mode", "allowlist")
    assert (done.returncode, done.stdout) == (0, "federation mode is now allowlist\n")
    [event] = events(done.stderr)
    assert event["event"] == "federation.mode_changed" and event["level"] == "warning"
    assert event["mode"] == "allowlist" and event["by"].startswith("cli:")

    done = run(env, "allow", " Gov-B.Example:8443 ")
    assert (done.returncode, done.stdout) == (0, "gov-b.example:8443 is on the allowlist\n")
    [event] = events(done.stderr)
    assert event["event"] == "federation.domain_listed"
    assert (event["domain"], event["list"]) == ("gov-b.example:8443", "allow")
    assert event["by"].startswith("cli:")

    done = run(env, "block", "Bürger.example")  # stored as the host requests carry
    assert (done.returncode, done.stdout) == (0, "xn--brger-kva.example is on the blocklist\n")
    [event] = events(done.stderr)
    assert (event["event"], event["list"]) == ("federation.domain_listed", "block")

    done = run(env, "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "mode\tallowlist",
        "allow\tgov-b.example:8443",
        "block\txn--brger-kva.example",
    ]
    mode, domains = await stored(database_url)
    assert mode == "allowlist"
    assert [(d, kind) for d, kind, _ in domains] == [
        ("gov-b.example:8443", "allow"),
        ("xn--brger-kva.example", "block"),
    ]
    assert all(by.startswith("cli:") for _, _, by in domains)

    # Listing a domain again moves it to the other list.
    done = run(env, "block", "gov-b.example:8443")
    assert done.returncode == 0, done.stderr
    done = run(env, "remove", "BÜRGER.example")
    assert (done.returncode, done.stdout) == (0, "xn--brger-kva.example removed\n")
    [event] = events(done.stderr)
    assert (event["event"], event["domain"]) == (
        "federation.domain_removed",
        "xn--brger-kva.example",
    )
    assert run(env, "list").stdout.splitlines() == ["mode\tallowlist", "block\tgov-b.example:8443"]

    done = run(env, "remove", "nowhere.example")
    assert done.returncode == 1
    assert done.stderr == "federatie: error: nowhere.example is not listed\n"


def test_mode_from_the_environment_until_changed(env: dict[str, str]) -> None:
    env = {**env, "FEDERATIE_FEDERATION_MODE": "blocklist"}
    assert run(env, "list").stdout == "mode\tblocklist\n"
    assert run(env, "mode", "open").returncode == 0
    assert run(env, "list").stdout == "mode\topen\n"  # the stored mode wins over the default


@pytest.mark.parametrize(
    ("verb", "domain"),
    [
        ("allow", "https://gov-b.example"),
        ("block", "admin@gov-b.example"),
        ("allow", "gov-b.example/path"),
        ("block", "gov b.example"),
        ("allow", "gov-b..example"),
        ("block", "-gov.example"),
        ("allow", "gov-b.example."),
        ("block", "gov-b.example:99999"),
        ("allow", "::1"),  # an IPv6 address needs its brackets
        ("block", "\uff47ov.example"),  # full-width: IDNA would map it, it has no one meaning
        ("allow", ""),
    ],
)
async def test_bad_domains_are_one_line_errors_and_store_nothing(
    env: dict[str, str], database_url: str, verb: str, domain: str
) -> None:
    done = run(env, verb, "--", domain)  # `--`: "-gov.example" is an operand, not an option
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"federatie: error: invalid domain {domain!r}")
    assert await stored(database_url) == (None, [])


def test_bad_mode_is_a_usage_error(env: dict[str, str]) -> None:
    done = run(env, "mode", "closed")
    assert done.returncode == 2
    assert "invalid choice: 'closed'" in done.stderr


async def test_a_running_instance_obeys_the_cli(
    start_instance: Callable[..., Awaitable[Instance]],
    foreign: Callable[..., Awaitable[ForeignServer]],
    env: dict[str, str],
) -> None:
    """The CLI writes to the instance's database; the instance picks the change up within
    its one-second policy cache and refuses the blocked host's delivery."""
    a = await start_instance("a")
    await a.runtime.actors.create_person("alice", "correct horse battery")
    m = await foreign("mastodon")
    mallory = m.add_actor("mallory")
    assert a.config.database_url is not None
    env = {
        **env,
        "DATABASE_URL": a.config.database_url.reveal(),
        "FEDERATIE_DOMAIN": a.domain,
        "FEDERATIE_ENV": "development",  # a loopback domain needs it, as the instance does
    }

    def note() -> dict[str, Any]:
        return m.note(mallory, "hallo", to=[PUBLIC])

    assert (await m.deliver(mallory, a.url("/users/alice/inbox"), note()))[0] == 202
    assert run(env, "mode", "blocklist").returncode == 0
    assert run(env, "block", m.domain).returncode == 0
    # The instance caches its policy for a second: poll its own view until it changes.
    for _ in range(100):
        if not await a.runtime.policy.allows(m.domain):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the instance did not see the CLI's block within 5 s")
    refused = note()
    status, _ = await m.deliver(mallory, a.url("/users/alice/inbox"), refused)
    assert status == 403
    async with a.runtime.pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM inbox_activities WHERE activity_uri = $1", refused["id"]
        )
    assert count == 0
