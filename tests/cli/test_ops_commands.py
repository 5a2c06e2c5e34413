"""Operators' commands as real processes against real instances: suspend, unsuspend, delete
(federated to a second instance), group transfer, doctor and export."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from files_support import get, upload
from harness import Instance, people, settle, value

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP = "application/activity+json"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "federatie", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def arun(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`run` off the event loop: the instances it talks to are served by this loop."""
    return await asyncio.to_thread(run, env, *args)


def env_of(instance: Instance, **overrides: str) -> dict[str, str]:
    """The environment of a command run by the operator of `instance`."""
    assert instance.config.database_url is not None
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")},
        "DATABASE_URL": instance.config.database_url.reveal(),
        "FEDERATIE_DOMAIN": instance.domain,
        "FEDERATIE_ENV": "development",
        "FEDERATIE_DATA_DIR": str(instance.config.data_dir),
        "FEDERATIE_LOG_LEVEL": "warning",
        **overrides,
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_suspend_hides_the_actor_and_its_token_until_unsuspended(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    token = await a.runtime.actors.issue_token("alice")
    env = env_of(a)
    assert (await get(a.url("/users/alice"), accept=AP)).status == 200
    assert (await get(a.url("/users/alice/inbox"), token, accept=AP)).status == 200

    done = await arun(env, "admin", "user", "suspend", "alice")
    assert done.returncode == 0, done.stderr
    assert f"suspended @alice@{a.domain}" in done.stdout
    assert (await get(a.url("/users/alice"), accept=AP)).status == 404
    assert (await get(a.url("/users/alice/inbox"), token, accept=AP)).status in (401, 404)
    assert (
        await get(a.url(f"/.well-known/webfinger?resource=acct:alice@{a.domain}"))
    ).status == 404

    done = await arun(env, "admin", "user", "unsuspend", "alice")
    assert done.returncode == 0, done.stderr
    assert (await get(a.url("/users/alice"), accept=AP)).status == 200
    assert (await get(a.url("/users/alice/inbox"), token, accept=AP)).status == 200

    done = await arun(env, "admin", "user", "suspend", "nobody")
    assert done.returncode == 1 and "no local person" in done.stderr


async def test_delete_federates_a_delete_that_the_other_instance_processes(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice")
    await people(b, "bob")
    alice = a.url("/users/alice")
    await b.publish("bob", {"type": "Follow", "object": alice})
    await a.publish("alice", {"type": "Follow", "object": b.url("/users/bob")})
    await settle(a, b)
    created = await a.publish(
        "alice",
        {"type": "Note", "content": "Hallo", "to": [PUBLIC], "cc": [f"{alice}/followers"]},
    )
    await settle(a, b)
    note = created["object"]["id"]
    assert await value(b, "SELECT deleted_at IS NULL FROM objects WHERE uri = $1", note) is True
    token = await a.runtime.actors.issue_token("alice")

    done = await arun(env_of(a), "admin", "user", "delete", "alice")
    assert done.returncode == 0, done.stderr
    assert "1 object(s) tombstoned, Delete queued to 1 inbox(es)" in done.stdout
    await settle(a, b)

    # The other instance got the Delete of the actor and tombstoned what it held of theirs.
    assert await value(b, "SELECT deleted_at IS NOT NULL FROM objects WHERE uri = $1", note)
    assert await value(b, "SELECT suspended_at IS NOT NULL FROM actors WHERE uri = $1", alice)
    assert (
        await value(
            b,
            """SELECT outcome FROM inbox_activities WHERE type = 'Delete' AND actor_uri = $1""",
            alice,
        )
    ).startswith("actor deleted")
    # Here: gone, tombstoned, token dead, and it cannot come back.
    assert (await get(alice, accept=AP)).status == 404
    assert (await get(a.url("/users/alice/inbox"), token, accept=AP)).status in (401, 404)
    assert await value(a, "SELECT document->>'type' FROM objects WHERE uri = $1", note) == (
        "Tombstone"
    )
    assert await value(a, "SELECT count(*) FROM deliveries") == 0
    done = await arun(env_of(a), "admin", "user", "unsuspend", "alice")
    assert done.returncode == 1 and "deleted" in done.stderr


def test_group_transfer(database_url: str, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")},
        "DATABASE_URL": database_url,
        "FEDERATIE_DOMAIN": "gov-a.example",
        "FEDERATIE_DATA_DIR": str(tmp_path),
    }
    for name in ("alice", "bob"):
        done = run(env, "admin", "create-user", name, "--password", "correct horse battery")
        assert done.returncode == 0, done.stderr
    assert run(env, "admin", "create-group", "water", "--owner", "alice").returncode == 0
    done = run(env, "admin", "group", "transfer", "water", "--to", "bob")
    assert done.returncode == 0, done.stderr
    assert "owned by bob" in done.stdout
    assert "water\topen\t0 members\towner=bob" in run(env, "admin", "list-groups").stdout
    done = run(env, "admin", "group", "transfer", "water", "--to", "nobody")
    assert done.returncode == 1 and "no local person" in done.stderr
    done = run(env, "admin", "group", "transfer", "nogroup", "--to", "alice")
    assert done.returncode == 1 and "no local group" in done.stderr


def lines_of(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> 'OK …' or 'FAIL …'."""
    out = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, reason = rest.strip().partition(": ")
        out[name] = f"{status} {reason}"
    return out


async def test_doctor_healthy_and_each_broken_part_named(
    start_instance: Any, tmp_path: Path
) -> None:
    a = await start_instance("a")
    done = await arun(env_of(a), "admin", "doctor")
    checks = lines_of(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(checks) == [
        "configuration",
        "database",
        "migrations",
        "file store",
        "outbound TLS",
        "clock",
        "webfinger",
    ]
    assert all(v.startswith("OK") for v in checks.values()), checks

    down = f"postgresql://federatie@127.0.0.1:{closed_port()}/federatie"
    done = await arun(env_of(a, DATABASE_URL=down), "admin", "doctor")
    checks = lines_of(done)
    assert done.returncode == 1
    assert checks["database"].startswith("FAIL not reachable")
    assert checks["migrations"].startswith("FAIL")
    assert checks["webfinger"].startswith("OK")

    done = await arun(env_of(a, FEDERATIE_DOMAIN=f"127.0.0.1:{closed_port()}"), "admin", "doctor")
    checks = lines_of(done)
    assert done.returncode == 1
    assert checks["webfinger"].startswith("FAIL not reachable"), checks
    assert checks["database"].startswith("OK") and checks["file store"].startswith("OK")

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = await arun(env_of(a, FEDERATIE_DATA_DIR=str(blocker / "data")), "admin", "doctor")
    checks = lines_of(done)
    assert done.returncode == 1
    assert checks["file store"].startswith("FAIL") and "not writable" in checks["file store"]
    assert sum(v.startswith("FAIL") for v in checks.values()) == 1, checks

    done = await arun(env_of(a, FEDERATIE_ENV="staging"), "admin", "doctor")
    assert done.returncode == 1
    assert lines_of(done)["configuration"].startswith("FAIL FEDERATIE_ENV")


async def test_export_holds_what_the_person_made_and_nothing_private_of_others(
    start_instance: Any, tmp_path: Path
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice", "carol")
    await people(b, "bob")
    alice = a.url("/users/alice")
    for target in (b.url("/users/bob"), a.url("/users/carol")):
        await a.publish("alice", {"type": "Follow", "object": target})
    await b.publish("bob", {"type": "Follow", "object": alice})
    await settle(a, b)
    for author, instance in (("bob", b), ("carol", a)):
        await instance.publish(
            author,
            {
                "type": "Note",
                "content": f"secret of {author}",
                "to": [instance.url(f"/users/{author}/followers")],
            },
        )
    await a.publish(
        "alice",
        {
            "type": "Note",
            "content": "alice in public",
            "to": [PUBLIC],
            "cc": [f"{alice}/followers"],
        },
    )
    await a.publish(
        "alice", {"type": "Note", "content": "alice to followers", "to": [f"{alice}/followers"]}
    )
    token = await a.runtime.actors.issue_token("alice")
    uploaded = await upload(a.url("/users/alice/files"), token, b"alice's report", "report.txt")
    assert uploaded.status == 201, uploaded.body
    await settle(a, b)
    # Alice did receive the others' followers-only posts.
    received = await value(
        a, "SELECT count(*) FROM objects WHERE document->>'content' LIKE 'secret of %'"
    )
    assert received == 2

    async with a.runtime.pool.acquire() as conn:
        await conn.execute(
            """UPDATE people SET organisation = 'Waterschap Aa', job_title = 'Adviseur'
               WHERE actor_id = (SELECT id FROM actors WHERE username = 'alice')"""
        )

    output = tmp_path / "alice.json"
    done = await arun(env_of(a), "admin", "export", "alice", "--output", str(output))
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    archive = json.loads(text)
    assert archive["actor"]["id"] == alice
    # Her profile as her actor document carries it.
    assert "Waterschap Aa" in json.dumps(archive["actor"]["attachment"])
    contents = " ".join(str(o.get("content")) for o in archive["objects"]["orderedItems"])
    assert "alice in public" in contents and "alice to followers" in contents
    assert {a_["type"] for a_ in archive["outbox"]["orderedItems"]} >= {"Create", "Follow"}
    assert {f["id"] for f in archive["following"]["orderedItems"]} == {
        b.url("/users/bob"),
        a.url("/users/carol"),
    }
    assert [f["id"] for f in archive["followers"]["orderedItems"]] == [b.url("/users/bob")]
    assert [f["name"] for f in archive["files"]] == ["report.txt"]
    assert "secret of" not in text

    zipped = tmp_path / "alice.zip"
    done = await arun(env_of(a), "admin", "export", "alice", "--output", str(zipped))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(zipped) as archive_zip:
        names = archive_zip.namelist()
        assert "archive.json" in names
        digest = archive["files"][0]["versions"][0]["sha256"]
        assert archive_zip.read(f"files/{digest}") == b"alice's report"
        assert b"secret of" not in archive_zip.read("archive.json")


@pytest.mark.parametrize(
    "args", [["user", "delete", "nobody"], ["export", "nobody", "--output", "x.json"]]
)
def test_unknown_person_is_one_line(database_url: str, tmp_path: Path, args: list[str]) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDERATIE_")},
        "DATABASE_URL": database_url,
        "FEDERATIE_DOMAIN": "gov-a.example",
        "FEDERATIE_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "federatie", "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "no local person" in done.stderr
