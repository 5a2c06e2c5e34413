"""One post to followers on S instances: time from publish to the last verified delivery,
against raw signing + POSTing to the same receivers, measured in the same run.

    .venv/bin/python bench/bench_fanout.py [--quick] [--hosts S] [--rounds R]
                                           [--concurrency C] [--remote-delay-ms D] [--json FILE]
                                           [--group [both]]

Set-up (not timed): an embedded PostgreSQL in a temporary directory (pgserver), one Federatie
instance started the way the tests start it (tests/harness.py; FEDERATIE_ENV=development,
FEDERATIE_INPROCESS_WORKER=false), one local person, and S (default 600, `--quick` 100)
remote followers inserted directly as `actors` and `follows` rows. Each follower lives on its
own "instance": a receiving aiohttp app in a child process listens on S loopback ports, and
as hosts are keyed by host:port every delivery goes to a distinct host (its shared inbox).
The receiver verifies every HTTP signature it gets with
`federatie.activitypub.signatures.parse_signature` / `verify_signature` and the person's
public key (loaded once), answers 202 (401 when a signature does not verify), and reports
when every host has had its delivery. Real RSA-2048 signatures throughout.

Each round (default 3, `--quick` 2), in turn:

- ceiling: sign with `sign_cavage` and POST the same activity body to the S shared inboxes
  with one aiohttp session (connection limits as Federatie's client: 256 total, 8 per host)
  at concurrency C (default 32), in this process, no database;
- ours: `runtime.publisher.publish(person, Note to followers)` while
  `runtime.worker(concurrency=C).run(stop)` runs, timed from the publish call to the
  receiver's arrival time of the last delivery (the fan-out job, S `deliveries` rows and S
  `deliver.host` lane jobs, each lane signing and POSTing through the Transport).

The instance's pool is 2C + 2 connections (66): a delivery lane holds one connection while it
takes a second, and `Runtime.worker` refuses more than (pool - 2) / 2 concurrent jobs, so
C = 64 would need 130, more than the embedded PostgreSQL's max_connections of 100.

A first, untimed publish opens the connections and loads the person's signing key (printed
as `fanout_cold_seconds`). `--remote-delay-ms` makes every receiver wait before answering, a
stand-in for real network round trips. Output lines:

    fanout_600_seconds 2.60 ceiling 1.20 ratio 0.46
    fanout_deliveries_per_s 231 ceiling 500 ratio 0.46
    fanout_cpu_ms_per_delivery server 3.10 postgres 1.28 ceiling server 1.52 postgres 0.00
    fanout_cold_seconds 6.15

JSON keys: fanout_seconds (and fanout_<S>_seconds), fanout_deliveries_per_s,
fanout_ceiling_per_s, fanout_ceiling_seconds, fanout_ratio, and the settings used.

`--group` measures a post into a group instead (`--group both`: the person mode, then this,
in one run, on one PostgreSQL). A local group, created by `runtime.actors.create_group` with
alice as its owner, has S remote members (accepted `follows` rows of the group, one per host
as above) and alice, also an accepted member. Alice publishes a Note `to: [Public], cc:
[group], audience: group`; its fan-out hands the Create to the group locally (an
`inbox_activities` row and an `inbox.process` job), whose Create handler relays it: the group
stores an Announce(Create) and, the post being public and top-level, a bare Announce of the
Note (for Mastodon), each with its own fan-out. So every host gets TWO deliveries, both
signed by the group; the receiver verifies them with the group's public key from the
`actors` table. The ceiling signs (with the group's key) and POSTs the two bodies the group
sent, first the Announce(Create) to every host, then the bare Announce to every host.

    group_fanout_100_seconds 0.57 ceiling 0.14 ratio 0.25        # Announce(Create) at every host
    group_fanout_deliveries_per_s 174 ceiling 703 ratio 0.25     # S / that time
    group_fanout_both_100_seconds 0.60 ceiling 0.25 ratio 0.42   # both Announces at every host
    group_fanout_both_deliveries_per_s 332 ceiling 789 ratio 0.42  # 2S / that time
    group_fanout_first_delivery_seconds 0.18   # publish to the first Announce(Create) anywhere
    group_fanout_cpu_ms_per_delivery server 2.82 postgres 1.35 ceiling server 1.32 postgres 0.00
    group_fanout_cold_seconds 1.09

Group JSON keys are the same names prefixed `group_` (group_fanout_seconds, group_hosts, ...),
plus group_fanout_both_* and group_fanout_first_delivery_seconds; CPU is per delivery of 2S.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import secrets
import socket
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import common
import orjson
from aiohttp import web

from federatie.activitypub.iris import AS_PUBLIC
from federatie.activitypub.signatures import (
    SigningKey,
    VerificationKey,
    parse_signature,
    sign_cavage,
    verify_signature,
)
from federatie.errors import SignatureError
from federatie.federation.delivery import wire_document

AP_JSON = "application/activity+json"


# --------------------------------------------------------------------------- the receiver


def _kind(body: bytes) -> str:
    """The kind of a delivery: `bare` for an Announce of an object by its id (a group's copy
    for Mastodon), else `main` (a Create to followers, or a group's Announce of a Create)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "main"
    if document.get("type") == "Announce" and isinstance(document.get("object"), str):
        return "bare"
    return "main"


def _receive(conn: Connection, hosts: int, key_id: str, owner: str, public_pem: str) -> None:
    """Child process: S loopback ports, one aiohttp app; verifies and counts deliveries."""
    key = VerificationKey.from_pem(key_id, owner, public_pem)

    async def main() -> None:
        state: dict[str, Any] = {"target": 0, "done": None, "kinds": frozenset({"main"})}
        seen: dict[str, set[str]] = {}  # host -> kinds of delivery it had
        complete: set[str] = set()  # hosts that had every expected kind
        counts = {"posts": 0, "verified": 0, "refused": 0}
        samples: list[str] = []
        times: dict[str, float] = {"first": 0.0, "last": 0.0, "first_main": 0.0, "last_main": 0.0}
        delay = 0.0

        async def inbox(request: web.Request) -> web.Response:
            body = await request.read()
            if delay:
                await asyncio.sleep(delay)
            path = request.raw_path
            headers = {name.lower(): value for name, value in request.headers.items()}
            try:
                parsed = parse_signature("POST", path, f"http://{request.host}{path}", headers)
                if parsed.key_id != key.key_id:
                    raise SignatureError(f"signed with {parsed.key_id}")
                verify_signature(parsed, key, body)
            except SignatureError as exc:
                counts["refused"] += 1
                if len(samples) < 3:
                    samples.append(exc.message)
                return web.Response(status=401)
            now = time.monotonic()
            counts["posts"] += 1
            counts["verified"] += 1
            times["first"] = times["first"] or now
            times["last"] = now
            kind = _kind(body)
            if kind == "main":
                times["first_main"] = times["first_main"] or now
                times["last_main"] = now
            kinds = seen.setdefault(request.host, set())
            kinds.add(kind)
            if kinds >= state["kinds"]:
                complete.add(request.host)
            done = state["done"]
            if done is not None and len(complete) >= state["target"] and not done.is_set():
                done.set()
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/inbox", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ports = []
        for _ in range(hosts):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            await web.SockSite(runner, sock).start()
            ports.append(sock.getsockname()[1])
        conn.send(ports)
        try:
            while True:
                command = await asyncio.to_thread(conn.recv)
                if command[0] != "expect":
                    break
                _, target, time_limit, delay, kinds = command
                seen.clear()
                complete.clear()
                counts.update(posts=0, verified=0, refused=0)
                samples.clear()
                times.update(first=0.0, last=0.0, first_main=0.0, last_main=0.0)
                state.update(target=target, done=asyncio.Event(), kinds=frozenset(kinds))
                cpu0 = time.process_time()
                conn.send("ready")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state["done"].wait(), time_limit)
                conn.send(
                    {
                        "hosts": len(complete),
                        **counts,
                        "samples": list(samples),
                        **times,
                        "cpu": time.process_time() - cpu0,
                    }
                )
        finally:
            await runner.cleanup()
            conn.send("bye")

    asyncio.run(main())


class Receiver:
    """The parent's handle on the receiving process."""

    def __init__(self, hosts: int, key_id: str, owner: str, public_pem: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_receive, args=(child, hosts, key_id, owner, public_pem), daemon=True
        )
        self._process.start()
        self.ports: list[int] = []

    async def started(self) -> list[int]:
        self.ports = await asyncio.to_thread(self._conn.recv)
        return self.ports

    async def expect(
        self, hosts: int, time_limit: float, delay_s: float, kinds: tuple[str, ...] = ("main",)
    ) -> None:
        """Reset the counters for a round; returns once the receiver is ready. A host counts
        once it has had a verified delivery of each of `kinds` (see `_kind`)."""
        self._conn.send(("expect", hosts, time_limit, delay_s, kinds))
        assert await asyncio.to_thread(self._conn.recv) == "ready"

    async def result(self) -> dict[str, Any]:
        """The round's outcome, once every host had a delivery or the round's time is up."""
        result: dict[str, Any] = await asyncio.to_thread(self._conn.recv)
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.send(("quit",))
            await asyncio.wait_for(asyncio.to_thread(self._conn.recv), 10)
        common.join_or_terminate(self._process)


# --------------------------------------------------------------------------- set-up


async def add_followers(conn: Any, person: Any, ports: list[int]) -> list[str]:
    """One remote follower of `person` (or group) per port, inserted directly; their shared
    inbox URLs."""
    uris = [f"http://127.0.0.1:{port}/users/f{i}" for i, port in enumerate(ports)]
    shared = [f"http://127.0.0.1:{port}/inbox" for port in ports]
    async with conn.transaction():
        ids = await conn.fetch(
            """INSERT INTO actors (uri, type, local, username, host, inbox, shared_inbox,
                                   followers, fetched_at)
               SELECT u, 'Person', false, 'f' || (n - 1), h, u || '/inbox', s,
                      u || '/followers', now()
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(u, h, s, n)
               RETURNING id""",
            uris,
            [f"127.0.0.1:{port}" for port in ports],
            shared,
        )
        await conn.executemany(
            """INSERT INTO follows (follower_id, followed_id, state, activity_uri)
               VALUES ($1, $2, 'accepted', $3)""",
            [(row["id"], person.id, f"{row['id']}#follow") for row in ids],
        )
    return shared


async def pending(conn: Any) -> dict[str, Any]:
    """What is left in the queue and in `deliveries`, to say why a round failed."""
    jobs = await conn.fetch(
        "SELECT kind, state, attempts, last_error FROM jobs ORDER BY id LIMIT 5"
    )
    deliveries = await conn.fetchval("SELECT count(*) FROM deliveries")
    return {"deliveries": deliveries, "jobs": [dict(row) for row in jobs]}


async def wait_quiet(conn: Any, time_limit: float) -> None:
    """Until no delivery row and no due job is left (the round's bookkeeping is done)."""
    deadline = time.monotonic() + time_limit
    while time.monotonic() < deadline:
        left = await conn.fetchval(
            "SELECT (SELECT count(*) FROM deliveries)"
            # Due jobs only: the hourly housekeeping job always waits for its next hour.
            " + (SELECT count(*) FROM jobs WHERE state = 'queued' AND run_at <= now())"
        )
        if left == 0:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("deliveries or jobs still pending after the round")


async def post_all(
    session: aiohttp.ClientSession,
    items: list[tuple[str, bytes]],
    key: SigningKey,
    concurrency: int,
) -> int:
    """The ceiling: sign and POST each (url, body) in order at `concurrency`; responses not 202."""
    queue = list(reversed(items))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            url, body = queue.pop()
            headers = {"Content-Type": AP_JSON}
            headers.update(sign_cavage("POST", url, headers, body, key))
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    failures += response.status != 202
            except aiohttp.ClientError:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


# --------------------------------------------------------------------------- the run


async def run(
    args: argparse.Namespace, cluster: Any, directory: Path, group: bool = False
) -> dict[str, Any]:
    """One mode: a person's post to S followers, or (`group`) a member's post into a group
    with S members, which the group Announces twice (see `--group`)."""
    harness = common.load_harness()
    overrides = {
        "FEDERATIE_ENV": "development",
        "FEDERATIE_INPROCESS_WORKER": "false",
        "FEDERATIE_DB_POOL_SIZE": str(args.pool_size),
    }
    name = "bench_group" if group else "bench"
    instance = await harness.start_instance(cluster, directory, name, **overrides)
    rt = instance.runtime
    # The bench's own queries use a connection of their own, never the instance's pool.
    admin = await asyncpg.connect(instance.config.database_url.reveal())
    person = await rt.actors.create_person("alice", secrets.token_urlsafe(24))
    sender = person
    if group:
        # The group signs what the S members get; alice (the owner) is a member too: an
        # accepted Follow of the group, as the group checks before relaying.
        sender = await rt.actors.create_group("bench", owner=person.username)
        await admin.execute(
            """INSERT INTO follows (follower_id, followed_id, state, activity_uri)
               VALUES ($1, $2, 'accepted', $3)""",
            person.id,
            sender.id,
            f"{person.uri}#follow-group",
        )
    # The receiver verifies with the sender's public key as the actors table has it.
    sender_pem = await admin.fetchval("SELECT public_key_pem FROM actors WHERE id = $1", sender.id)
    # The signing key is not loaded here: the first publish loads it, as in production.
    receiver = Receiver(args.hosts, rt.iris.rsa_key_id(sender.uri), sender.uri, sender_pem)
    cpu = common.CpuMeter(directory / "pg")
    profiles = common.Profiles(args.profile)
    delay = args.remote_delay_ms / 1000
    hosts = args.hosts
    # What every host must get: the Create, or the group's Announce(Create) and its bare
    # Announce of the Note (Mastodon compatibility).
    kinds = ("main", "bare") if group else ("main",)
    p = "group_fanout" if group else "fanout"
    figures: dict[str, Any] = {
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "hosts": hosts,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "db_pool_size": instance.config.db_pool_size,
        "remote_delay_ms": args.remote_delay_ms,
        "max_connections": int(await admin.fetchval("SHOW max_connections")),
    }
    seconds: dict[str, list[float]] = {
        "ours": [],
        "ceiling": [],
        "ours_all": [],
        "ceiling_all": [],
        "ours_first": [],
    }
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    try:
        inboxes = await add_followers(admin, sender, await receiver.started())
        worker = rt.worker(concurrency=args.concurrency)
        worker_task = asyncio.create_task(worker.run(stop))
        followers = rt.iris.followers(person.uri)

        async def publish(n: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
            await receiver.expect(hosts, args.time_limit, delay, kinds)
            started = time.monotonic()
            if group:
                note = {"type": "Note", "content": f"<p>Bericht {n} in de groep</p>"}
                addressing = {"to": [AS_PUBLIC], "cc": [sender.uri], "audience": sender.uri}
            else:
                note = {"type": "Note", "content": f"<p>Bericht {n} aan de volgers</p>"}
                addressing = {"to": [followers]}
            stored = await rt.publisher.publish(person, {**note, **addressing})
            got = await receiver.result()
            if got["hosts"] < hosts or got["refused"]:
                raise RuntimeError(
                    f"round {n}: {got['hosts']}/{hosts} hosts; {got}; {await pending(admin)}"
                )
            await wait_quiet(admin, args.time_limit)
            documents = [stored.document]
            if group:  # what the group sent: its Announce(Create), then the bare Announce
                rows = await admin.fetch(
                    """SELECT document::text FROM activities
                       WHERE actor_id = $1 AND type = 'Announce' ORDER BY id DESC LIMIT 2""",
                    sender.id,
                )
                documents = [orjson.loads(row[0]) for row in reversed(rows)]
            return documents, {
                "main": got["last_main"] - started,
                "all": got["last"] - started,
                "first": got["first_main"] - started,
            }

        documents, cold = await publish(0)
        figures[f"{p}_cold_seconds"] = cold["all"]
        key = await rt.keys.signing_key(sender.id)  # the ceiling signs with the same key
        bodies = [orjson.dumps(wire_document(document)) for document in documents]
        if group and [_kind(body) for body in bodies] != ["main", "bare"]:
            raise RuntimeError(f"the group sent {[d.get('type') for d in documents]}")
        figures["body_bytes"] = [len(body) for body in bodies] if group else len(bodies[0])
        # Every host's first body, then every host's second (the group's bare Announce).
        items = [(inbox, body) for body in bodies for inbox in inboxes]
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=8)
        async with aiohttp.ClientSession(connector=connector) as session:
            # Warm the ceiling's connections as the first publish warmed ours.
            await receiver.expect(hosts, args.time_limit, delay, kinds)
            await post_all(session, items, key, args.concurrency)
            await receiver.result()
            for n in range(1, args.rounds + 1):
                await receiver.expect(hosts, args.time_limit, delay, kinds)
                with profiles.phase(f"{p.replace('_', '-')}-ceiling"), cpu.phase("ceiling"):
                    started = time.monotonic()
                    failures = await post_all(session, items, key, args.concurrency)
                    got = await receiver.result()
                if failures or got["hosts"] < hosts:
                    raise RuntimeError(f"ceiling round {n}: {failures} failures; {got}")
                seconds["ceiling"].append(got["last_main"] - started)
                seconds["ceiling_all"].append(got["last"] - started)
                with profiles.phase(f"{p.replace('_', '-')}-ours"), cpu.phase("ours"):
                    _, elapsed = await publish(n)
                seconds["ours"].append(elapsed["main"])
                seconds["ours_all"].append(elapsed["all"])
                seconds["ours_first"].append(elapsed["first"])
    finally:
        stop.set()
        if worker_task is not None:
            await worker_task
        await receiver.close()
        await admin.close()
        await instance.stop()
        profiles.write()

    ours = statistics.median(seconds["ours"])
    ceiling = statistics.median(seconds["ceiling"])
    deliveries = hosts * len(kinds) * args.rounds
    ours_server, ours_pg = cpu.per_item_ms("ours", deliveries)
    ceiling_server, ceiling_pg = cpu.per_item_ms("ceiling", deliveries)
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    figures.update(
        {
            f"{p}_seconds": ours,
            f"{p}_{hosts}_seconds": ours,
            f"{p}_ceiling_seconds": ceiling,
            f"{p}_seconds_rounds": seconds["ours"],
            f"{p}_ceiling_seconds_rounds": seconds["ceiling"],
            f"{p}_deliveries_per_s": hosts / ours,
            f"{p}_ceiling_per_s": hosts / ceiling,
            f"{p}_ratio": ceiling / ours,
            # CPU per delivery: the sending process and the PostgreSQL cluster.
            f"{p}_server_cpu_ms": ours_server,
            f"{p}_postgres_cpu_ms": ours_pg,
            f"{p}_ceiling_server_cpu_ms": ceiling_server,
            f"{p}_ceiling_postgres_cpu_ms": ceiling_pg,
        }
    )
    if group:
        ours_all = statistics.median(seconds["ours_all"])
        ceiling_all = statistics.median(seconds["ceiling_all"])
        figures.update(
            {
                # Both Announces at every host: 2S deliveries.
                "group_fanout_both_seconds": ours_all,
                f"group_fanout_both_{hosts}_seconds": ours_all,
                "group_fanout_both_ceiling_seconds": ceiling_all,
                "group_fanout_both_seconds_rounds": seconds["ours_all"],
                "group_fanout_both_ceiling_seconds_rounds": seconds["ceiling_all"],
                "group_fanout_both_deliveries_per_s": 2 * hosts / ours_all,
                "group_fanout_both_ceiling_per_s": 2 * hosts / ceiling_all,
                "group_fanout_both_ratio": ceiling_all / ours_all,
                # Publish to the first Announce(Create) anywhere: the local hand-over to the
                # group, its inbox processing and relay, the group's fan-out job.
                "group_fanout_first_delivery_seconds": statistics.median(seconds["ours_first"]),
                "group_fanout_first_delivery_seconds_rounds": seconds["ours_first"],
            }
        )
        figures = {k if k.startswith("group_") else f"group_{k}": v for k, v in figures.items()}
    return figures


def print_figures(r: dict[str, Any], p: str, s: int) -> None:
    print(
        f"{p}_{s}_seconds {r[f'{p}_seconds']:.2f} "
        f"ceiling {r[f'{p}_ceiling_seconds']:.2f} ratio {r[f'{p}_ratio']:.2f}"
    )
    print(
        f"{p}_deliveries_per_s {r[f'{p}_deliveries_per_s']:.0f} "
        f"ceiling {r[f'{p}_ceiling_per_s']:.0f} ratio {r[f'{p}_ratio']:.2f}"
    )
    if p == "group_fanout":
        print(
            f"group_fanout_both_{s}_seconds {r['group_fanout_both_seconds']:.2f} "
            f"ceiling {r['group_fanout_both_ceiling_seconds']:.2f} "
            f"ratio {r['group_fanout_both_ratio']:.2f}"
        )
        print(
            f"group_fanout_both_deliveries_per_s {r['group_fanout_both_deliveries_per_s']:.0f} "
            f"ceiling {r['group_fanout_both_ceiling_per_s']:.0f} "
            f"ratio {r['group_fanout_both_ratio']:.2f}"
        )
        print(f"group_fanout_first_delivery_seconds {r['group_fanout_first_delivery_seconds']:.2f}")
    print(
        f"{p}_cpu_ms_per_delivery server {r[f'{p}_server_cpu_ms']:.2f} "
        f"postgres {r[f'{p}_postgres_cpu_ms']:.2f} "
        f"ceiling server {r[f'{p}_ceiling_server_cpu_ms']:.2f} "
        f"postgres {r[f'{p}_ceiling_postgres_cpu_ms']:.2f}"
    )
    print(f"{p}_cold_seconds {r[f'{p}_cold_seconds']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100 hosts, 2 rounds")
    parser.add_argument("--hosts", type=int, help="followers on distinct hosts (600; quick 100)")
    parser.add_argument("--rounds", type=int, help="timed publishes (default 3, quick 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="worker and ceiling")
    parser.add_argument(
        "--pool-size",
        type=int,
        help="FEDERATIE_DB_POOL_SIZE (default 2 * concurrency + 2, what the runtime asks for)",
    )
    parser.add_argument(
        "--remote-delay-ms", type=float, default=0.0, help="receivers wait this long to answer"
    )
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="bound on any one round, in seconds"
    )
    parser.add_argument(
        "--group",
        nargs="?",
        const="only",
        choices=["only", "both"],
        help="a member's post into a group with S members instead (`both`: the person mode, "
        "then the group mode, in one run)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="pyinstrument reports of the phases (slow)"
    )
    args = parser.parse_args()
    args.hosts = args.hosts or (100 if args.quick else 600)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.pool_size = args.pool_size or 2 * args.concurrency + 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("hypercorn").setLevel(logging.ERROR)

    common.exit_on_sigterm()
    modes = {None: [False], "only": [True], "both": [False, True]}[args.group]

    async def all_modes(cluster: Any, directory: Path) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        for group in modes:
            figures.update(await run(args, cluster, directory, group))
        return figures

    r = common.run_on_own_cluster("fanout", all_modes)

    if False in modes:
        print_figures(r, "fanout", r["hosts"])
    if True in modes:
        print_figures(r, "group_fanout", r["group_hosts"])
    common.write_json(args.json, r, sort_keys=True)
    common.print_if_verbose(r)


if __name__ == "__main__":
    main()
