"""Processing a stored inbox arrival: normalise it and hand it to its type's handler.

Runs in a worker, never on the request path. Handlers are idempotent (an arrival may be
processed again after a worker died) and may fetch what they need with signed requests.
A refusal (forbidden, invalid, not ours) marks the arrival processed with the reason; a
network failure propagates so that the job is retried with backoff.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from federatie.activitypub.normalize import normalize
from federatie.errors import BadRequest, Forbidden, NotFound, SignatureError, Unprocessable
from federatie.federation.delivery import addressees
from federatie.federation.handlers import HANDLERS, Activity
from federatie.jobs.queue import Job
from federatie.storage import activities as sql
from federatie.storage.pool import Connection

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)

_REFUSALS = (BadRequest, Forbidden, NotFound, Unprocessable, SignatureError)
# Outcomes after which the activity belongs in its local recipients' inboxes.
_FILED_OUTCOMES = (
    "stored",
    "updated",
    "deleted",
    "announced",
    "accepted",
    "pending",
    "liked",
    "via group: stored",
    "via group: updated",
    "via group: deleted",
    "via group: liked",
)


async def _file_for_recipients(
    conn: Connection, arrival_id: int, actor_uri: str, body: dict[str, Any]
) -> None:
    """Put an arrival (often via the shared inbox) into the inbox of each local recipient:
    local actors it names, and local followers of its actor when it names their followers."""
    addresses = addressees(body)
    await conn.execute(
        """INSERT INTO inbox_items (actor_id, inbox_activity_id)
           SELECT a.id, $1::bigint FROM actors a WHERE a.local AND a.uri = ANY($2::text[])
           UNION
           SELECT f.follower_id, $1::bigint FROM follows f
           JOIN actors sender ON sender.id = f.followed_id
           JOIN actors follower ON follower.id = f.follower_id
           WHERE sender.uri = $3 AND sender.followers = ANY($2::text[])
             AND f.state = 'accepted' AND follower.local
           ON CONFLICT DO NOTHING""",
        arrival_id,
        addresses,
        actor_uri,
    )


class InboxProcessor:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def process(self, job: Job) -> None:
        """The `inbox.process` job: one arrival, by id."""
        rt = self._rt
        async with rt.pool.acquire() as conn:
            arrival = await sql.select_inbox_activity(conn, job.payload["id"])
        if arrival is None or arrival.processed_at is not None:
            return
        try:
            document = normalize(arrival.body)
            handler = HANDLERS.get(document["type"] or "")
            if handler is None:
                outcome = f"ignored: {document['type']} is not handled"
            else:
                activity = Activity(arrival.activity_uri, arrival.actor_uri, document, arrival.body)
                outcome = await handler(rt, activity)
        except _REFUSALS as exc:
            outcome = f"refused: {exc.message}"
            log.info(
                "inbox.refused", extra={"activity_id": arrival.activity_uri, "error": exc.message}
            )
        async with rt.pool.acquire() as conn, conn.transaction():
            if outcome.startswith(_FILED_OUTCOMES):
                await _file_for_recipients(conn, arrival.id, arrival.actor_uri, arrival.body)
            await sql.mark_processed(conn, arrival.id, outcome)
