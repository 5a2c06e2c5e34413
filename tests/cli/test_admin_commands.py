"""The `federatie` command as operators run it: a real process against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "federatie", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")},
        "DATABASE_URL": database_url,
        "FEDERATIE_DOMAIN": "gov-a.example",
        "FEDERATIE_DATA_DIR": str(tmp_path),
    }


async def test_create_user_group_token_and_lists(env: dict[str, str], database_url: str) -> None:
    done = run(
        env, "admin", "create-user", "Alice", "--password", "correct horse battery", "--admin"
    )
    assert done.returncode == 0, done.stderr
    assert "@alice@gov-a.example" in done.stdout
    done = run(
        env,
        "admin",
        "create-group",
        "water",
        "--owner",
        "alice",
        "--title",
        "Waterbeheer",
        "--members-only",
        "--theme",
        "water",
    )
    assert done.returncode == 0, done.stderr
    token = run(env, "admin", "token", "alice")
    assert token.returncode == 0, token.stderr
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 40  # the token and nothing else
    users = run(env, "admin", "list-users")
    assert "alice\tadmin" in users.stdout
    groups = run(env, "admin", "list-groups")
    assert "water\tmembers_only\t0 members\towner=alice\tWaterbeheer" in groups.stdout
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT token_sha256 FROM api_tokens")
        assert lines[0].encode() not in stored  # only a hash is kept
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["admin", "create-user", "bad name", "--password", "correct horse battery"],
            "invalid name",
        ),
        (["admin", "create-user", "x" * 31, "--password", "correct horse battery"], "invalid name"),
        (["admin", "create-user", "inbox", "--password", "correct horse battery"], "reserved"),
        (["admin", "create-user", "bob", "--password", "short"], "password too short"),
        (["admin", "create-group", "g", "--owner", "nobody"], "no local person"),
        (["admin", "token", "nobody"], "no local person"),
    ],
)
async def test_bad_input_is_one_line_and_stores_nothing(
    env: dict[str, str], database_url: str, args: list[str], message: str
) -> None:
    done = run(env, *args)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0
    assert message in done.stderr
    conn = await asyncpg.connect(database_url)
    try:
        # Only the organisation's actor may exist (commands do not create it either).
        assert await conn.fetchval("SELECT count(*) FROM actors WHERE type <> 'Organization'") == 0
    finally:
        await conn.close()


def test_name_collision_between_person_and_group(env: dict[str, str]) -> None:
    assert (
        run(env, "admin", "create-user", "water", "--password", "correct horse battery").returncode
        == 0
    )
    done = run(env, "admin", "create-group", "water", "--owner", "water")
    assert done.returncode == 1
    assert "already taken" in done.stderr


def test_bad_configuration_stops_with_the_setting_named(env: dict[str, str]) -> None:
    done = run({**env, "FEDERATIE_ENV": "staging"}, "migrate")
    assert done.returncode == 1
    assert done.stderr.startswith("federatie: error: FEDERATIE_ENV")
    done = run({k: v for k, v in env.items() if k != "FEDERATIE_DOMAIN"}, "migrate")
    assert "FEDERATIE_DOMAIN" in done.stderr
