"""Federation core across real instances: follows, posts, durable and ordered delivery.

Every instance is a real Federatie on its own port and database; scripted foreign servers
stand in for Mastodon where a test needs to watch the wire or misbehave. Jobs are drained
explicitly (`settle`), so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest
from harness import Instance, follow_state, people, rows, settle, value

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def note(author: Instance, name: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Note",
        "content": content,
        "to": [PUBLIC],
        "cc": [author.url(f"/users/{name}/followers")],
        **extra,
    }


async def test_follow_is_accepted_and_posts_arrive_once_per_server(
    start_instance: Any, foreign: Any
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice", "carol")
    await people(b, "bob")
    bob = b.url("/users/bob")
    for name in ("alice", "carol"):
        await a.publish(name, {"type": "Follow", "object": bob})
    mastodon = await foreign("mastodon")
    m1, m2 = mastodon.add_actor("m1"), mastodon.add_actor("m2")
    for follower in (m1, m2):
        status, _ = await mastodon.deliver(
            follower, b.url("/inbox"), mastodon.follow(follower, bob)
        )
        assert status == 202
    await settle(a, b)
    assert await follow_state(a, a.url("/users/alice"), bob) == "accepted"
    assert await follow_state(b, a.url("/users/carol"), bob) == "accepted"
    accepts = [r for r in mastodon.received if r.activity_type == "Accept"]
    assert len(accepts) == 2 and all(r.signature_ok for r in accepts)

    created = await b.publish("bob", note(b, "bob", "<p>Hallo allemaal</p>"))
    await settle(a, b)
    object_id = created["object"]["id"]
    # Instance A stored the post once, and filed it for both of its followers.
    assert await value(a, "SELECT count(*) FROM objects WHERE uri = $1", object_id) == 1
    filed = await rows(
        a,
        """SELECT a.username FROM inbox_items i
           JOIN inbox_activities x ON x.id = i.inbox_activity_id
           JOIN actors a ON a.id = i.actor_id WHERE x.activity_uri = $1 ORDER BY 1""",
        created["id"],
    )
    assert [r["username"] for r in filed] == ["alice", "carol"]
    # The foreign server, with two followers, got one POST: to its shared inbox.
    creates = await mastodon.wait_for(lambda r: r.activity_type == "Create")
    assert creates.inbox == "shared" or creates.path.endswith("/inbox")
    assert sum(1 for r in mastodon.received if r.activity_type == "Create") == 1
    assert creates.signature_ok is True


async def test_manual_approval_then_reject(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice", "dave")
    await people(b, "bob")
    bob = b.url("/users/bob")
    async with b.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE actors SET manually_approves_followers = true WHERE uri = $1", bob
        )
    follow = await a.publish("alice", {"type": "Follow", "object": bob})
    await settle(a, b)
    assert await follow_state(a, a.url("/users/alice"), bob) == "pending"
    assert await follow_state(b, a.url("/users/alice"), bob) == "pending"
    await b.publish("bob", {"type": "Accept", "object": follow["id"]})
    await settle(a, b)
    assert await follow_state(a, a.url("/users/alice"), bob) == "accepted"
    assert await follow_state(b, a.url("/users/alice"), bob) == "accepted"

    refused = await a.publish("dave", {"type": "Follow", "object": bob})
    await settle(a, b)
    assert await follow_state(b, a.url("/users/dave"), bob) == "pending"
    await b.publish("bob", {"type": "Reject", "object": refused["id"]})
    await settle(a, b)
    assert await follow_state(a, a.url("/users/dave"), bob) is None
    assert await follow_state(b, a.url("/users/dave"), bob) is None


async def test_update_delete_and_undo_propagate(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice")
    await people(b, "bob")
    bob = b.url("/users/bob")
    follow = await a.publish("alice", {"type": "Follow", "object": bob})
    await settle(a, b)
    created = await b.publish("bob", note(b, "bob", "<p>eerste versie</p>"))
    await settle(a, b)
    object_id = created["object"]["id"]

    await b.publish(
        "bob", {"type": "Update", "object": {"id": object_id, "content": "<p>tweede</p>"}}
    )
    await settle(a, b)
    document = await value(a, "SELECT document FROM objects WHERE uri = $1", object_id)
    assert document["content"] == "<p>tweede</p>"

    await b.publish("bob", {"type": "Delete", "object": object_id})
    await settle(a, b)
    stored = (await rows(a, "SELECT deleted_at, document FROM objects WHERE uri = $1", object_id))[
        0
    ]
    assert stored["deleted_at"] is not None and stored["document"]["type"] == "Tombstone"

    await a.publish("alice", {"type": "Undo", "object": follow["id"]})
    await settle(a, b)
    assert await follow_state(b, a.url("/users/alice"), bob) is None
    assert await follow_state(a, a.url("/users/alice"), bob) is None


async def test_client_to_server_post_reaches_followers_on_two_instances(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    c = await start_instance("c")
    await people(a, "alice")
    await people(b, "bob")
    await people(c, "carol")
    alice = a.url("/users/alice")
    await b.publish("bob", {"type": "Follow", "object": alice})
    await c.publish("carol", {"type": "Follow", "object": alice})
    await settle(a, b, c)
    # A bare object: the server wraps it in Create and assigns the ids.
    created = await a.publish("alice", note(a, "alice", "<p>Voor iedereen</p>"))
    assert created["type"] == "Create" and created["actor"] == alice
    assert created["object"]["attributedTo"] == alice
    await settle(a, b, c)
    for instance in (b, c):
        document = await value(
            instance, "SELECT document FROM objects WHERE uri = $1", created["object"]["id"]
        )
        assert document["content"] == "<p>Voor iedereen</p>"
    # The owner reads her outbox; the followers' owners read their inboxes.
    async with a.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM activities WHERE type = 'Create'") == 1


async def test_the_same_activity_three_times_is_processed_once(
    start_instance: Any, foreign: Any
) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    mastodon = await foreign("mastodon")
    mallory = mastodon.add_actor("mallory")
    alice = a.url("/users/alice")
    create = mastodon.note(mallory, "<p>drie keer</p>", to=[alice])
    for inbox in ("/inbox", "/users/alice/inbox", "/inbox"):
        status, _ = await mastodon.deliver(mallory, a.url(inbox), create)
        assert status == 202
    await settle(a)
    arrivals = await rows(
        a, "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", create["id"]
    )
    assert [r["outcome"] for r in arrivals] == ["stored"]
    assert await value(a, "SELECT count(*) FROM objects") == 1
    assert await value(a, "SELECT count(*) FROM inbox_items") == 1


async def test_a_peer_that_was_down_gets_everything_in_order(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice")
    await people(b, "bob")
    await b.publish("bob", {"type": "Follow", "object": a.url("/users/alice")})
    await settle(a, b)
    await b.stop()
    posted = [
        (await a.publish("alice", note(a, "alice", f"<p>bericht {n}</p>")))["id"] for n in range(5)
    ]
    await settle(a)  # every attempt fails: B is down
    assert await value(a, "SELECT count(*) FROM deliveries") == 5
    assert await value(a, "SELECT failures FROM remote_hosts WHERE host = $1", b.domain) >= 1

    b = await start_instance(like=b)
    # Time travel instead of sleeping through the backoff: the retry is due now.
    async with a.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET run_at = now()")
        await conn.execute("UPDATE remote_hosts SET retry_at = NULL")
    await settle(a, b)
    arrived = await rows(
        b, "SELECT activity_uri FROM inbox_activities WHERE type = 'Create' ORDER BY id"
    )
    assert [r["activity_uri"] for r in arrived] == posted  # all five, in order, once each
    assert await value(a, "SELECT count(*) FROM deliveries") == 0
    assert await value(a, "SELECT failures FROM remote_hosts WHERE host = $1", b.domain) == 0


async def test_a_killed_worker_loses_nothing(start_instance: Any, foreign: Any) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    alice = a.url("/users/alice")
    mastodon = await foreign("mastodon")
    follower = mastodon.add_actor("follower")
    await mastodon.deliver(follower, a.url("/inbox"), mastodon.follow(follower, alice))
    await settle(a)
    mastodon.inbox_delay = 0.4  # deliveries are in flight when the worker dies
    posted = {(await a.publish("alice", note(a, "alice", f"<p>{n}</p>")))["id"] for n in range(8)}
    assert a.config.database_url is not None
    env = {
        **os.environ,
        "DATABASE_URL": a.config.database_url.reveal(),
        "FEDERATIE_DOMAIN": a.domain,
        "FEDERATIE_ENV": "development",
        "FEDERATIE_LOG_LEVEL": "warning",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "federatie",
        "worker",
        "--lease-seconds",
        "2",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await mastodon.wait_for(
            lambda r: sum(x.activity_type == "Create" for x in mastodon.received) >= 2, timeout=30
        )
    finally:
        worker.kill()  # SIGKILL: no clean shutdown, leases stay taken
        await worker.wait()
    delivered_before = sum(r.activity_type == "Create" for r in mastodon.received)
    assert delivered_before < 8  # it really died in the middle of the batch
    mastodon.inbox_delay = 0.0
    await asyncio.sleep(2.1)  # the dead worker's lease runs out; that is what is under test
    await settle(a)
    received = [r.json["id"] for r in mastodon.received if r.activity_type == "Create"]
    assert set(received) == posted  # none lost
    assert len(received) - len(posted) <= 1  # at most the one in flight came twice


async def test_410_is_not_retried_and_429_waits_for_retry_after(
    start_instance: Any, foreign: Any
) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    alice = a.url("/users/alice")
    mastodon = await foreign("mastodon")
    follower = mastodon.add_actor("follower")
    await mastodon.deliver(follower, a.url("/inbox"), mastodon.follow(follower, alice))
    await settle(a)

    mastodon.respond_inbox_with(410, times=1)
    await a.publish("alice", note(a, "alice", "<p>weg</p>"))
    await settle(a)
    assert [r.status for r in mastodon.received if r.activity_type == "Create"] == [410]
    assert await value(a, "SELECT count(*) FROM deliveries") == 0
    assert await value(a, "SELECT count(*) FROM jobs") == 0  # nothing left to retry

    mastodon.respond_inbox_with(429, {"Retry-After": "1"}, times=1)
    await a.publish("alice", note(a, "alice", "<p>later</p>"))
    await settle(a)
    assert [r.status for r in mastodon.received if r.activity_type == "Create"] == [410, 429]
    assert await value(a, "SELECT count(*) FROM deliveries") == 1
    wait = await value(a, "SELECT run_at - now() FROM jobs WHERE kind = 'deliver.host'")
    assert 0 < wait.total_seconds() <= 1.0
    await asyncio.sleep(wait.total_seconds() + 0.05)  # Retry-After is what is under test
    await settle(a)
    assert [r.status for r in mastodon.received if r.activity_type == "Create"] == [410, 429, 202]
    assert await value(a, "SELECT count(*) FROM deliveries") == 0


async def test_forged_update_and_delete_change_nothing(start_instance: Any, foreign: Any) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    alice = a.url("/users/alice")
    mastodon = await foreign("mastodon")
    eve, mallory = mastodon.add_actor("eve"), mastodon.add_actor("mallory")
    create = mastodon.note(eve, "<p>origineel</p>", to=[alice])
    await mastodon.deliver(eve, a.url("/inbox"), create)
    await settle(a)
    object_id = create["object"]["id"]

    # Same host, other actor: only the author may change an object.
    forged = dict(create["object"], content="<p>vervalst</p>")
    await mastodon.deliver(mallory, a.url("/inbox"), mastodon.update(mallory, forged))
    await mastodon.deliver(mallory, a.url("/inbox"), mastodon.delete(mallory, object_id))
    # Another host: a second foreign server claims the object.
    other = await foreign("mastodon")
    intruder = other.add_actor("intruder")
    for activity in (other.update(intruder, forged), other.delete(intruder, object_id)):
        # As Mastodon builds them, their ids sit under the object's id: refused at the door.
        status, _ = await other.deliver(intruder, a.url("/inbox"), activity)
        assert status == 401
        # With ids on the intruder's own host they get in, and are refused when processed.
        activity["id"] = other.url(f"/users/intruder/activities/{activity['type']}")
        status, body = await other.deliver(intruder, a.url("/inbox"), activity)
        assert status == 202, body
    await settle(a)
    stored = (await rows(a, "SELECT deleted_at, document FROM objects WHERE uri = $1", object_id))[
        0
    ]
    assert stored["deleted_at"] is None
    assert stored["document"]["content"] == "<p>origineel</p>"
    outcomes = await rows(
        a, "SELECT outcome FROM inbox_activities WHERE type IN ('Update', 'Delete')"
    )
    assert len(outcomes) == 4 and all(r["outcome"].startswith("refused") for r in outcomes)


async def test_announce_of_an_unverifiable_object_is_refused(
    start_instance: Any, foreign: Any
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice")
    await people(b, "bob")
    mastodon = await foreign("mastodon")
    mallory = mastodon.add_actor("mallory")
    # Mallory embeds a post "by bob" that B never published.
    fake = {
        "id": b.url("/objects/never-published"),
        "type": "Note",
        "attributedTo": b.url("/users/bob"),
        "content": "<p>bob zei dit nooit</p>",
        "to": [PUBLIC],
    }
    announce = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": mastodon.url("/users/mallory/statuses/1/activity"),
        "type": "Announce",
        "actor": mallory.id,
        "object": fake,
        "to": [PUBLIC],
    }
    status, _ = await mastodon.deliver(mallory, a.url("/inbox"), announce)
    assert status == 202
    await settle(a, b)
    assert await value(a, "SELECT count(*) FROM objects") == 0
    assert await value(a, "SELECT count(*) FROM activities WHERE type = 'Announce'") == 0
    outcome = await value(a, "SELECT outcome FROM inbox_activities WHERE type = 'Announce'")
    assert outcome.startswith("refused")


@pytest.mark.parametrize("software", ["mastodon", "lemmy", "gotosocial"])
async def test_foreign_software_can_follow_and_receives_posts(
    start_instance: Any, foreign: Any, software: str
) -> None:
    a = await start_instance("a")
    await people(a, "alice")
    alice = a.url("/users/alice")
    server = await foreign(software)
    fan = server.add_actor("fan")
    status, _ = await server.deliver(fan, a.url("/users/alice/inbox"), server.follow(fan, alice))
    assert status == 202
    await settle(a)
    assert await follow_state(a, fan.id, alice) == "accepted"
    await a.publish("alice", note(a, "alice", "<p>Hallo fediverse</p>"))
    await settle(a)
    received = await server.wait_for(lambda r: r.activity_type == "Create")
    assert received.signature_ok is True
    assert received.json["object"]["content"] == "<p>Hallo fediverse</p>"
