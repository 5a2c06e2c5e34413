"""Outbound delivery as rows in PostgreSQL: fan-out, then one lane per remote host.

`fanout` expands an activity's addressing into inboxes (followers collections, actors,
groups), one per shared inbox where the recipient's server has one, and stores a `deliveries`
row per inbox plus a `deliver.host` job per host, in one transaction. Local recipients get the
activity through the same processing as a received one, without HTTP.

A host lane sends that host's deliveries one at a time in the order the activities were
created (fan-out jobs run concurrently, so delivery row ids are not that order), holding a
PostgreSQL advisory lock for the host, so a peer that was down receives everything in order
and never from two workers at once (the per-host concurrency limit is one lane). Outcomes:
2xx delivered; 410 and other 4xx (but 408 and 429) permanent, not retried; 429 waits for
`Retry-After`; 5xx, 408 and network errors retry with exponential backoff and jitter, the host's
`retry_at` marking one lane job as the prober while others step aside. A host failing for a
day is marked unreachable (shown to administrators) and still probed at the backoff's cap
(6 hours); deliveries older than seven days are dropped.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from federatie.activitypub.iris import AS_PUBLIC
from federatie.activitypub.uris import host_of
from federatie.errors import BadRequest, FederatieError, FetchError, FetchRefused
from federatie.jobs.queue import Job, JobQueue, backoff_delay
from federatie.jobs.worker import RetryLater
from federatie.storage import activities as sql
from federatie.storage import follows as follows_sql
from federatie.storage.pool import Connection

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)

FANOUT = "fanout"
DELIVER_HOST = "deliver.host"
PROCESS_INBOX = "inbox.process"
DELIVERY_QUEUE = "delivery"
INBOX_QUEUE = "inbox"

UNREACHABLE_AFTER = timedelta(days=1)
DELIVERY_EXPIRY = timedelta(days=7)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=6)
_LANE_BATCH = 100
_ADDRESS_FIELDS = ("to", "cc", "bto", "bcc", "audience")


def addressees(document: dict[str, Any]) -> list[str]:
    """Everyone an activity (and its embedded object) is addressed to, in order, once."""
    seen: dict[str, None] = {}
    for source in (document, document.get("object")):
        if not isinstance(source, dict):
            continue
        for field in _ADDRESS_FIELDS:
            value = source.get(field)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    seen.setdefault(item, None)
                elif isinstance(item, dict) and isinstance(item.get("id"), str):
                    seen.setdefault(item["id"], None)
    return list(seen)


def wire_document(document: dict[str, Any]) -> dict[str, Any]:
    """What goes on the wire: `bto` and `bcc` are stripped (ActivityPub section 6)."""
    wire = {k: v for k, v in document.items() if k not in ("bto", "bcc")}
    inner = wire.get("object")
    if isinstance(inner, dict) and ("bto" in inner or "bcc" in inner):
        wire["object"] = {k: v for k, v in inner.items() if k not in ("bto", "bcc")}
    return wire


def lane_lock_key(host: str) -> int:
    """A stable 32-bit advisory lock number for a host's lane (namespaced by the 2-key form)."""
    return zlib.crc32(host.encode()) - 2**31


@dataclass(frozen=True)
class Recipients:
    local_actor_ids: list[int]
    inboxes: dict[str, str]  # inbox URL -> host


async def enqueue_fanout(conn: Connection, activity_id: int) -> None:
    """Queue the fan-out of a stored activity (in the caller's transaction)."""
    await JobQueue.enqueue(
        conn, FANOUT, {"activity_id": activity_id}, queue=DELIVERY_QUEUE, priority=1
    )


class Delivery:
    """The job handlers for fan-out and host lanes, bound to a runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._rng = random.Random()  # noqa: S311 (jitter, not secrets)

    async def fanout(self, job: Job) -> None:
        rt = self._rt
        async with rt.pool.acquire() as conn:
            activity = await sql.select_activity_by_id(conn, job.payload["activity_id"])
        if activity is None:
            return  # deleted since; nothing to send
        recipients = await self._resolve(activity.actor_id, addressees(activity.document))
        async with rt.pool.acquire() as conn, conn.transaction():
            if recipients.inboxes:
                await conn.executemany(
                    """INSERT INTO deliveries (host, inbox, activity_id) VALUES ($1, $2, $3)
                       ON CONFLICT DO NOTHING""",
                    [(host, inbox, activity.id) for inbox, host in recipients.inboxes.items()],
                )
                hosts = sorted(set(recipients.inboxes.values()))
                await JobQueue.enqueue_many(
                    conn, DELIVER_HOST, [{"host": h} for h in hosts], queue=DELIVERY_QUEUE
                )
            if recipients.local_actor_ids:
                await deliver_locally(conn, activity.document, recipients.local_actor_ids)
        log.info(
            "fanout.done",
            extra={
                "activity_id": activity.uri,
                "inboxes": len(recipients.inboxes),
                "local": len(recipients.local_actor_ids),
            },
        )

    async def _resolve(self, sender_id: int, addresses: Iterable[str]) -> Recipients:
        rt = self._rt
        local_ids: dict[int, None] = {}
        inboxes: dict[str, str] = {}
        async with rt.pool.acquire() as conn:
            sender = await conn.fetchrow(
                "SELECT uri, followers FROM actors WHERE id = $1", sender_id
            )
        assert sender is not None
        for address in addresses:
            if address == AS_PUBLIC:
                continue
            targets = await self._expand(address, sender["followers"], sender_id)
            for actor_id, local, inbox in targets:
                if actor_id == sender_id:
                    continue
                if local:
                    local_ids.setdefault(actor_id, None)
                elif inbox:
                    try:
                        inboxes.setdefault(inbox, host_of(inbox))
                    except BadRequest:
                        log.warning("fanout.bad_inbox", extra={"inbox": inbox})
        return Recipients(list(local_ids), inboxes)

    async def _expand(
        self, address: str, sender_followers: str | None, sender_id: int
    ) -> list[tuple[int, bool, str | None]]:
        rt = self._rt
        async with rt.pool.acquire() as conn:
            # Our own followers, or a local group's followers addressed by its Announce.
            owner_id = (
                sender_id
                if address == sender_followers
                else await conn.fetchval(
                    "SELECT id FROM actors WHERE local AND followers = $1", address
                )
            )
            if owner_id is not None:
                return await follows_sql.select_follower_targets(conn, owner_id)
            ref = await sql.select_actor_ref(conn, address)
        if ref is not None and ref.local:
            return [(ref.id, True, None)]
        if host_of_or_none(address) == rt.config.domain:
            return []  # a local collection or object we do not expand
        try:
            remote = await rt.remote.get(address)
        except (FederatieError, ValueError) as exc:
            # Remote followers collections and unknown things are not actors: nothing to send.
            log.info("fanout.skip", extra={"address": address, "error": str(exc)})
            return []
        return [(remote.id, False, remote.shared_inbox or remote.inbox)]

    async def deliver_host(self, job: Job) -> None:
        """Send a host's pending deliveries in order; see the module docstring."""
        rt = self._rt
        host = job.payload["host"]
        async with rt.pool.acquire() as conn:
            # One round trip: a lane costs the sender's loop per delivery, and most lanes
            # carry one delivery (bench/README.md, fan-out).
            lane = await conn.fetchrow(
                """SELECT h.failures > 0 OR h.retry_at IS NOT NULL AS failing,
                          CASE WHEN h.retry_at IS NULL OR h.retry_at <= now() + interval '1 s'
                               THEN pg_try_advisory_lock(1717, $2) END AS locked
                   FROM (SELECT $1::text AS host) x
                   LEFT JOIN remote_hosts h ON h.host = x.host""",
                host,
                lane_lock_key(host),
            )
            assert lane is not None
            if lane["locked"] is None:
                return  # another lane job is the prober for this failing host
            if not lane["locked"]:
                return  # another worker is sending to this host right now; it re-checks
            try:
                await self._drain_lane(conn, host, failing=bool(lane["failing"]))
            finally:
                await conn.execute("SELECT pg_advisory_unlock(1717, $1)", lane_lock_key(host))

    async def _drain_lane(self, conn: Connection, host: str, *, failing: bool) -> None:
        rt = self._rt
        while True:
            rows = await conn.fetch(
                """SELECT d.id, d.inbox, d.created_at, a.actor_id, a.uri, a.document
                   FROM deliveries d JOIN activities a ON a.id = d.activity_id
                   WHERE d.host = $1 ORDER BY d.activity_id, d.id LIMIT $2""",
                host,
                _LANE_BATCH,
            )
            if not rows:
                if failing:  # a healthy host has nothing to reset
                    await _record_success(conn, host)
                return
            for row in rows:
                if datetime.now(UTC) - row["created_at"] > DELIVERY_EXPIRY:
                    log.warning(
                        "delivery.expired", extra={"inbox": row["inbox"], "activity_id": row["uri"]}
                    )
                    await _delete_delivery(conn, row["id"])
                    continue
                body = orjson.dumps(wire_document(row["document"]))
                key = await rt.keys.signing_key(row["actor_id"])
                try:
                    response = await rt.transport.post(row["inbox"], body, key)
                except FetchRefused as exc:
                    log.warning(
                        "delivery.refused", extra={"inbox": row["inbox"], "error": exc.message}
                    )
                    rt.metrics.delivery("refused")
                    await _delete_delivery(conn, row["id"])
                    continue
                except FetchError as exc:
                    await self._failed(conn, host, f"network: {exc.message}")
                status = response.status
                if status < 300 or (400 <= status < 500 and status not in (408, 429)):
                    if status >= 300:
                        log.warning(
                            "delivery.rejected",
                            extra={
                                "inbox": row["inbox"],
                                "activity_id": row["uri"],
                                "status": status,
                                "remote_host": host,
                            },
                        )
                    rt.metrics.delivery("delivered" if status < 300 else "rejected")
                    await _delete_delivery(conn, row["id"])
                    continue
                if status == 429:
                    rt.metrics.delivery("retried")
                    delay = _retry_after(response.headers.get("Retry-After"))
                    raise RetryLater(delay, f"{host} answered 429")
                await self._failed(conn, host, f"HTTP {status}")

    async def _failed(self, conn: Connection, host: str, reason: str) -> NoReturn:
        self._rt.metrics.delivery("retried")
        failures: int = await conn.fetchval(
            """INSERT INTO remote_hosts (host, failures, first_failure_at, last_failure_at)
               VALUES ($1, 1, now(), now())
               ON CONFLICT (host) DO UPDATE SET failures = remote_hosts.failures + 1,
                   first_failure_at = coalesce(remote_hosts.first_failure_at, now()),
                   last_failure_at = now()
               RETURNING failures""",
            host,
        )
        delay = backoff_delay(failures, base=RETRY_BASE, cap=RETRY_CAP, rng=self._rng)
        await conn.execute(
            """UPDATE remote_hosts SET retry_at = now() + $2::interval,
                   unreachable_since = CASE
                       WHEN first_failure_at < now() - $3::interval
                       THEN coalesce(unreachable_since, now()) END
               WHERE host = $1""",
            host,
            delay,
            UNREACHABLE_AFTER,
        )
        log.warning(
            "delivery.failed", extra={"remote_host": host, "error": reason, "failures": failures}
        )
        raise RetryLater(delay, f"{host}: {reason}")


async def deliver_locally(conn: Connection, document: dict[str, Any], actor_ids: list[int]) -> None:
    """Hand an activity to local recipients as if it had arrived in their inboxes."""
    uri = document.get("id")
    actor = document.get("actor")
    actor_uri = actor if isinstance(actor, str) else (actor or {}).get("id")
    if not isinstance(uri, str) or not isinstance(actor_uri, str):
        return
    await sql.store_arrival(
        conn,
        uri,
        actor_uri,
        str(document.get("type")),
        document,
        actor_ids,
        job_kind=PROCESS_INBOX,
        job_queue=INBOX_QUEUE,
    )


async def _delete_delivery(conn: Connection, delivery_id: int) -> None:
    await conn.execute("DELETE FROM deliveries WHERE id = $1", delivery_id)


async def _record_success(conn: Connection, host: str) -> None:
    await conn.execute(
        """UPDATE remote_hosts SET failures = 0, first_failure_at = NULL, retry_at = NULL,
               unreachable_since = NULL, last_success_at = now()
           WHERE host = $1 AND (failures > 0 OR retry_at IS NOT NULL)""",
        host,
    )


def _retry_after(value: str | None) -> timedelta:
    """Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); 60 s when absent or odd."""
    if value:
        value = value.strip()
        if value.isdigit():
            return timedelta(seconds=min(int(value), 86400))
        try:
            when = parsedate_to_datetime(value)
            return max(timedelta(0), min(when - datetime.now(UTC), timedelta(days=1)))
        except (TypeError, ValueError):
            pass
    return timedelta(seconds=60)


def host_of_or_none(url: str) -> str | None:
    try:
        return host_of(url)
    except BadRequest:
        return None
