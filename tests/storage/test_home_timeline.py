"""The home timeline queries (the web's and the Mastodon API's): who sees what, keyset paging,
and that they stay index scans on a database of some thousands of objects (checked with
EXPLAIN)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import PASSWORD, Instance, rows, value

from federatie.activitypub.iris import AS_PUBLIC
from federatie.storage.mastodon_timelines import select_home
from federatie.storage.statuses import GROUP_RELAY, REBLOG
from federatie.storage.timelines import _CURSOR, _HOME, select_home_timeline

GROUPS = 200
AUTHORS = 200
OBJECTS = 5000


async def _remote_actor(instance: Instance, uri: str, type_: str) -> int:
    actor_id: int = await value(
        instance,
        """INSERT INTO actors (uri, type, local, username, host, inbox, followers)
           VALUES ($1, $2, false, split_part($1, '/', 5), 'remote.example', $1 || '/inbox',
                   $1 || '/followers') RETURNING id""",
        uri,
        type_,
    )
    return actor_id


async def _post(
    instance: Instance,
    author: int,
    *,
    group: int | None = None,
    public: bool = True,
    recipients: list[str] | None = None,
    deleted: bool = False,
    text: str = "",
) -> int:
    uri = f"https://remote.example/objects/{await value(instance, 'SELECT count(*) FROM objects')}"
    object_id: int = await value(
        instance,
        """INSERT INTO objects (uri, type, author_id, local, group_id, public, recipients,
                                deleted_at, document)
           VALUES ($1, 'Note', $2, false, $3, $4, $5, CASE WHEN $6 THEN now() END, $7)
           RETURNING id""",
        uri,
        author,
        group,
        public,
        recipients or ([AS_PUBLIC] if public else []),
        deleted,
        {"id": uri, "type": "Note", "content": text},
    )
    return object_id


async def _follow(
    instance: Instance, follower: int, followed: int, state: str = "accepted"
) -> None:
    await value(
        instance,
        "INSERT INTO follows (follower_id, followed_id, state) VALUES ($1, $2, $3)",
        follower,
        followed,
        state,
    )


async def _timeline(instance: Instance, person: int, **window: Any) -> list[str]:
    async with instance.runtime.pool.acquire() as conn:
        items = await select_home_timeline(
            conn,
            person,
            max_id=window.get("max_id"),
            limit=window.get("limit", 50),
            min_id=window.get("min_id"),
        )
    return [item.document["content"] for item in items]


@pytest.fixture
async def anna(instance: Instance) -> int:
    person = await instance.runtime.actors.create_person("anna", PASSWORD)
    return person.id


async def test_what_a_person_sees(instance: Instance, anna: int) -> None:
    joined = await _remote_actor(instance, "https://remote.example/groups/water", "Group")
    other_group = await _remote_actor(instance, "https://remote.example/groups/other", "Group")
    pending_group = await _remote_actor(instance, "https://remote.example/groups/closed", "Group")
    friend = await _remote_actor(instance, "https://remote.example/users/friend", "Person")
    stranger = await _remote_actor(instance, "https://remote.example/users/stranger", "Person")
    await _follow(instance, anna, joined)
    await _follow(instance, anna, pending_group, "pending")
    await _follow(instance, anna, friend)
    anna_uri = instance.url("/users/anna")
    members = ["https://remote.example/groups/water/followers"]

    await _post(instance, stranger, group=joined, public=False, recipients=members, text="g1")
    await _post(instance, stranger, group=other_group, text="not my group")
    await _post(instance, stranger, group=pending_group, text="not a member yet")
    await _post(instance, friend, text="f public")
    friends = ["https://remote.example/users/friend/followers"]
    await _post(instance, friend, public=False, recipients=friends, text="f followers")
    await _post(instance, friend, public=False, recipients=[anna_uri], text="f to anna")
    await _post(instance, friend, public=False, recipients=["https://x.example/u"], text="f dm")
    await _post(
        instance,
        friend,
        group=other_group,
        public=False,
        recipients=["https://remote.example/groups/other/followers"],
        text="f elsewhere",
    )
    await _post(instance, friend, deleted=True, text="f deleted")
    await _post(instance, stranger, text="stranger public")
    await _post(instance, anna, public=False, recipients=[], text="mine")
    suspended = await _remote_actor(instance, "https://remote.example/users/gone", "Person")
    await value(instance, "UPDATE actors SET suspended_at = now() WHERE id = $1", suspended)
    await _post(instance, suspended, group=joined, text="by a suspended author")

    assert await _timeline(instance, anna) == ["mine", "f to anna", "f followers", "f public", "g1"]


async def test_keyset_pages(instance: Instance, anna: int) -> None:
    group = await _remote_actor(instance, "https://remote.example/groups/water", "Group")
    friend = await _remote_actor(instance, "https://remote.example/users/friend", "Person")
    await _follow(instance, anna, group)
    await _follow(instance, anna, friend)
    for n in range(25):
        await _post(
            instance, friend if n % 2 else anna, group=group if n % 3 else None, text=str(n)
        )
    expected = [str(n) for n in reversed(range(25))]
    first = await _timeline(instance, anna, limit=10)
    assert first == expected[:10]
    ids = [r["id"] for r in await rows(instance, "SELECT id FROM objects ORDER BY id DESC")]
    second = await _timeline(instance, anna, limit=10, max_id=ids[9])
    assert second == expected[10:20]
    assert await _timeline(instance, anna, limit=10, max_id=ids[19]) == expected[20:]
    # Upwards from the oldest: the ten just above it, still newest first.
    assert await _timeline(instance, anna, limit=10, min_id=ids[24]) == expected[14:24]
    assert await _timeline(instance, anna, limit=10, min_id=ids[0]) == []


async def test_the_plan_stays_on_indexes(instance: Instance, anna: int) -> None:
    """5000 objects in 200 groups by 200 authors (a few dozen each, as most groups are
    quiet): the query seeks each followed actor's newest entries in `objects_group` and
    `objects_author` and never reads the whole objects table."""
    async with instance.runtime.pool.acquire() as conn:
        await conn.execute(
            f"""INSERT INTO actors (uri, type, local, username, host, inbox, followers)
                SELECT 'https://r' || n % 7 || '.example/' || kind || '/a' || n,
                       CASE kind WHEN 'groups' THEN 'Group' ELSE 'Person' END, false,
                       'a' || n, 'r' || n % 7 || '.example', 'https://r.example/inbox',
                       'https://r' || n % 7 || '.example/' || kind || '/a' || n || '/followers'
                FROM generate_series(1, {GROUPS + AUTHORS}) n,
                     LATERAL (SELECT CASE WHEN n <= {GROUPS} THEN 'groups' ELSE 'users' END
                              AS kind) k"""
        )
        await conn.execute(
            f"""INSERT INTO objects (uri, type, author_id, local, group_id, public, recipients,
                                     document)
                SELECT 'https://r.example/o/' || n, 'Note', au.id, false, g.id, true,
                       ARRAY['{AS_PUBLIC}'], jsonb_build_object('content', n::text)
                FROM generate_series(1, {OBJECTS}) n
                JOIN actors au ON au.username = 'a' || ({GROUPS} + 1 + n % {AUTHORS})
                LEFT JOIN actors g ON n % 2 = 0 AND g.username = 'a' || (1 + n % {GROUPS})
                ORDER BY n"""
        )
        await conn.execute(
            """INSERT INTO follows (follower_id, followed_id, state)
               SELECT $1, id, 'accepted' FROM actors
               WHERE username IN ('a1', 'a2', 'a3', 'a250', 'a251')""",
            anna,
        )
        await conn.execute("ANALYZE")
        timeline = await select_home_timeline(conn, anna, max_id=None, limit=20)
        assert len(timeline) == 20
        assert [t.id for t in timeline] == sorted((t.id for t in timeline), reverse=True)
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + _HOME.format(cursor=_CURSOR, order="DESC"),
            anna,
            None,
            None,
            20,
        )
    nodes = list(_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    scans = {(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes}
    assert ("Seq Scan", "objects", None) not in scans, scans
    # The groups' and the authors' objects are each found through an index on that column
    # (which index exactly is the planner's choice among those that lead with it).
    used = {index for _, _, index in scans if index}
    assert any(i.startswith("objects_group") for i in used), scans
    assert any(i.startswith("objects_author") for i in used), scans


def _nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


async def test_mastodon_home_does_not_read_a_groups_announces(
    instance: Instance, anna: int
) -> None:
    """A joined group's posts show as its boosts (relays), read from the posts filed under
    it; its Announces of them are not read at all. Reading them as boosts only to filter
    each out walked all 35,000 of a large group's Announces at Pleio scale (480 ms)."""
    group = await _remote_actor(instance, "https://remote.example/groups/water", "Group")
    friend = await _remote_actor(instance, "https://remote.example/users/friend", "Person")
    author = await _remote_actor(instance, "https://remote.example/users/author", "Person")
    await _follow(instance, anna, group)
    await _follow(instance, anna, friend)
    async with instance.runtime.pool.acquire() as conn:
        await conn.execute(
            f"""INSERT INTO objects (uri, type, author_id, local, group_id, public, recipients,
                                     published, document)
                SELECT 'https://remote.example/o/' || n, 'Note', $1, false, $2, true,
                       ARRAY['{AS_PUBLIC}'], now() - interval '1 hour' + n * interval '1 s',
                       jsonb_build_object('content', 'g' || n)
                FROM generate_series(1, 2000) n""",
            author,
            group,
        )
        await conn.execute(
            """INSERT INTO activities (uri, type, actor_id, object_uri, local, public,
                                       document, published)
               SELECT o.uri || '/announce', 'Announce', $1, o.uri, false, true, '{}',
                      o.published
               FROM objects o WHERE o.group_id = $1""",
            group,
        )
        other = await _post(instance, author, text="boosted by friend")
        await conn.execute(
            """INSERT INTO activities (uri, type, actor_id, object_uri, local, public, document)
               SELECT uri || '/boost', 'Announce', $1, uri, false, true, '{}'
               FROM objects WHERE id = $2""",
            friend,
            other,
        )
        await conn.execute("ANALYZE")

        captured: list[tuple[str, tuple[Any, ...]]] = []

        class Capture:
            async def fetch(self, sql: str, *args: Any) -> list[Any]:
                captured.append((sql, args))
                return await conn.fetch(sql, *args)

        page = await select_home(Capture(), anna, _Window(limit=5))  # type: ignore[arg-type]
        sql, args = captured[0]
        plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    assert [entry.kind for entry in page] == [REBLOG] + [GROUP_RELAY] * 4
    nodes = list(_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    read = sum(
        n.get("Actual Rows", 0) * n.get("Actual Loops", 1)
        for n in nodes
        if n.get("Relation Name") == "activities"
    )
    assert read <= 10, read


class _Window:
    def __init__(self, limit: int) -> None:
        self.before = None
        self.after = None
        self.ascending = False
        self.limit = limit
