"""actor_stats (migration 0012): the counts its triggers keep match what counting the tables
says, through every way follows and objects change; the readers show them."""

from __future__ import annotations

import asyncio
from typing import Any

from harness import Instance, people, rows, value

from federatie.storage.follows import count_follows
from federatie.storage.mastodon_accounts import STATUS_TYPES, select_accounts


async def _actor(instance: Instance, name: str, type_: str = "Person") -> int:
    actor_id: int = await value(
        instance,
        """INSERT INTO actors (uri, type, local, username, host, inbox, followers)
           VALUES ('https://remote.example/' || $1, $2, false, $1, 'remote.example',
                   'https://remote.example/' || $1 || '/inbox',
                   'https://remote.example/' || $1 || '/followers') RETURNING id""",
        name,
        type_,
    )
    return actor_id


async def _object(instance: Instance, author: int, type_: str = "Note") -> int:
    object_id: int = await value(
        instance,
        """INSERT INTO objects (uri, type, author_id, local, public, document)
           VALUES ('https://remote.example/o/' || gen_random_uuid(), $1, $2, false, true, '{}')
           RETURNING id""",
        type_,
        author,
    )
    return object_id


async def _kept(instance: Instance) -> list[Any]:
    return [
        tuple(r)
        for r in await rows(
            instance,
            "SELECT actor_id, followers, following, statuses FROM actor_stats ORDER BY actor_id",
        )
    ]


async def _recounted(instance: Instance) -> list[Any]:
    await instance.runtime.pool.execute("SELECT recount_actor_stats()")
    return await _kept(instance)


async def test_counts_follow_every_change(instance: Instance) -> None:
    anna, bram, group = (
        await _actor(instance, "anna"),
        await _actor(instance, "bram"),
        await _actor(instance, "water", "Group"),
    )
    execute = instance.runtime.pool.execute
    await execute(
        "INSERT INTO follows (follower_id, followed_id, state) VALUES ($1, $3, 'accepted'),"
        " ($2, $3, 'pending'), ($3, $1, 'accepted')",
        anna,
        bram,
        group,
    )
    await execute("UPDATE follows SET state = 'accepted' WHERE follower_id = $1", bram)
    await execute("UPDATE follows SET state = 'accepted' WHERE follower_id = $1", bram)  # no-op
    await execute("DELETE FROM follows WHERE follower_id = $1 AND followed_id = $2", group, anna)
    note, article, _file = (
        await _object(instance, anna),
        await _object(instance, anna, "Article"),
        await _object(instance, anna, "Document"),  # not a status
    )
    await _object(instance, bram)
    await execute("UPDATE objects SET deleted_at = now() WHERE id = $1", note)
    await execute("UPDATE objects SET deleted_at = now() WHERE id = $1", note)  # again: no-op
    await execute("UPDATE objects SET type = 'Tombstone' WHERE id = $1", article)
    await execute("DELETE FROM objects WHERE author_id = $1", bram)

    kept = await _kept(instance)
    assert {r[0]: r[1:] for r in kept}[group] == (2, 0, 0)
    assert {r[0]: r[1:] for r in kept}[anna] == (0, 1, 0)
    assert {r[0]: r[1:] for r in kept}[bram] == (0, 1, 0)
    assert kept == await _recounted(instance)

    # Deleting an actor takes its follows (and their counts on the other side) with it.
    await execute("DELETE FROM actors WHERE id = $1", anna)
    assert {r[0]: r[1:] for r in await _kept(instance)}[group] == (1, 0, 0)
    assert await _kept(instance) == await _recounted(instance)


async def test_concurrent_follows_of_one_group_count_every_one(instance: Instance) -> None:
    group = await _actor(instance, "water", "Group")
    followers = [await _actor(instance, f"p{i}") for i in range(40)]

    async def join(follower: int) -> None:
        async with instance.runtime.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO follows (follower_id, followed_id, state) VALUES ($1, $2, 'accepted')",
                follower,
                group,
            )
            # And the other way round in the same transaction: locks taken in id order.
            await conn.execute(
                "INSERT INTO follows (follower_id, followed_id, state) VALUES ($2, $1, 'pending')",
                follower,
                group,
            )
            await conn.execute(
                "UPDATE follows SET state = 'accepted' WHERE follower_id = $2 AND followed_id = $1",
                follower,
                group,
            )

    await asyncio.gather(*(join(f) for f in followers))
    async with instance.runtime.pool.acquire() as conn:
        assert await count_follows(conn, group, "followers") == 40
        assert await count_follows(conn, group, "following") == 40
    assert await _kept(instance) == await _recounted(instance)


async def test_readers_show_the_kept_counts(instance: Instance) -> None:
    await people(instance, "anna")
    await instance.runtime.actors.create_group("water", owner="anna", title="Water")
    group_id = await value(instance, "SELECT id FROM actors WHERE username = 'water'")
    anna_id = await value(instance, "SELECT id FROM actors WHERE username = 'anna'")
    await instance.runtime.pool.execute(
        "UPDATE actor_stats SET followers = 12345, statuses = 7 WHERE actor_id = $1", group_id
    )
    async with instance.runtime.pool.acquire() as conn:
        accounts = await select_accounts(conn, [group_id, anna_id])
    assert accounts[group_id].followers_count == 12345
    assert accounts[group_id].statuses_count == 7
    assert [g.members for g in await instance.runtime.actors.list_groups()] == [12345]


async def test_status_types_match_the_sql_function(instance: Instance) -> None:
    for type_ in (*STATUS_TYPES, "Document", "Tombstone", "Event"):
        counted = await value(instance, "SELECT counts_as_status($1)", type_)
        assert counted == (type_ in STATUS_TYPES), type_
