"""storage.activities.store_arrival: an arrival, its job, its inbox entries and the wake-up of
workers in one statement; a duplicate gets no second job but is filed for new recipients."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from harness import Instance, people, rows, value

from federatie.federation.delivery import INBOX_QUEUE, PROCESS_INBOX
from federatie.jobs.queue import NOTIFY_CHANNEL, enqueue_for_each
from federatie.storage.activities import store_arrival

ACTIVITY = "https://remote.example/activities/1"
ACTOR = "https://remote.example/users/eve"


async def test_one_job_per_arrival_filed_for_every_recipient(instance: Instance) -> None:
    await people(instance, "anna", "bert")
    ids = "SELECT id FROM actors WHERE username = $1"
    anna, bert = await value(instance, ids, "anna"), await value(instance, ids, "bert")
    woken: list[str] = []
    listener = await asyncpg.connect(instance.config.database_url.reveal())  # type: ignore[union-attr]
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: woken.append(args[-1]))
    try:
        document = {"id": ACTIVITY, "type": "Create", "actor": ACTOR}
        async with instance.runtime.pool.acquire() as conn:
            first = await store_arrival(
                conn,
                ACTIVITY,
                ACTOR,
                "Create",
                document,
                [anna],
                job_kind=PROCESS_INBOX,
                job_queue=INBOX_QUEUE,
            )
            again = await store_arrival(
                conn,
                ACTIVITY,
                ACTOR,
                "Create",
                document,
                [anna, bert],
                job_kind=PROCESS_INBOX,
                job_queue=INBOX_QUEUE,
            )
        for _ in range(100):
            if woken:
                break
            await asyncio.sleep(0.01)
    finally:
        await listener.close()
    assert not first.duplicate and again.duplicate and again.id == first.id
    jobs = await rows(
        instance, "SELECT kind, queue, payload FROM jobs WHERE kind = $1", PROCESS_INBOX
    )
    assert [tuple(j) for j in jobs] == [(PROCESS_INBOX, INBOX_QUEUE, {"id": first.id})]
    filed = await value(
        instance,
        """SELECT array_agg(actor_id ORDER BY actor_id) FROM inbox_items
           WHERE inbox_activity_id = $1""",
        first.id,
    )
    assert filed == sorted([anna, bert])
    assert woken == [INBOX_QUEUE]  # the first statement woke the workers; the duplicate did not


@pytest.mark.parametrize("kind", ["Inbox", "inbox'; DROP TABLE jobs; --", ""])
def test_enqueue_for_each_takes_only_names(kind: str) -> None:
    with pytest.raises(ValueError):
        enqueue_for_each("arrival", "'{}'::jsonb", kind=kind)
