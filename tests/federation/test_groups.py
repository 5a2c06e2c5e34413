"""Themed groups across real instances (FEP-1b12): joining, relaying, moderation, privacy.

The group lives on instance B; its members live on A and C; D is a fourth instance with no
member, running all along, to prove that members-only posts never reach it. Scripted foreign
servers stand in for Mastodon and Lemmy users. Jobs are drained with `settle`, never slept on.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from harness import Instance, follow_state, people, rows, settle, value

from federatie.domain.actors import GroupKind
from federatie.errors import BadRequest, Forbidden, NotFound

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP = "application/activity+json"


# ----------------------------------------------------------------------------- helpers


async def stored(instance: Instance, uri: str) -> Any:
    """The object row with the uri of the group it is filed under (None when absent)."""
    found = await rows(
        instance,
        """SELECT o.in_reply_to, o.deleted_at, o.document, g.uri AS group_uri
           FROM objects o LEFT JOIN actors g ON g.id = o.group_id WHERE o.uri = $1""",
        uri,
    )
    return found[0] if found else None


async def outcomes(instance: Instance, activity_uri: str) -> list[str]:
    found = await rows(
        instance, "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity_uri
    )
    return [r["outcome"] for r in found]


def group_post(group: str, content: str, *, public: bool = True, **extra: Any) -> dict[str, Any]:
    """A Note posted into a group: addressed to it, `audience` the group."""
    if public:
        addressing: dict[str, Any] = {"to": [PUBLIC], "cc": [group]}
    else:
        addressing = {"to": [group]}
    return {"type": "Note", "content": content, "audience": group, **addressing, **extra}


async def join(instance: Instance, name: str, group: str) -> dict[str, Any]:
    return await instance.publish(name, {"type": "Follow", "object": group})


async def http_get(url: str, accept: str = AP) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": accept}) as r,
    ):
        return r.status, await r.text()


# ----------------------------------------------------------------------------- open groups


async def test_open_group_relays_threads_and_moderator_deletes_across_three_instances(
    start_instance: Any,
) -> None:
    a, b, c = [await start_instance(n) for n in "abc"]
    await people(a, "alice")
    await people(b, "owner")
    await people(c, "carol")
    await b.runtime.actors.create_group("water", owner="owner", title="Waterbeheer")
    group = b.url("/groups/water")
    alice, carol = a.url("/users/alice"), c.url("/users/carol")

    await join(a, "alice", group)
    await join(c, "carol", group)
    await settle(a, b, c)
    for instance, member in ((a, alice), (b, alice), (c, carol), (b, carol)):
        assert await follow_state(instance, member, group) == "accepted"

    create = await a.publish("alice", group_post(group, "<p>Het water stijgt</p>"))
    post = create["object"]
    await settle(a, b, c)
    # C has no follow of alice: the post reached C only through the group's Announce.
    assert await follow_state(c, carol, alice) is None
    for instance in (a, b, c):
        row = await stored(instance, post["id"])
        assert row is not None and row["group_uri"] == group, instance.name
    on_c = await stored(c, post["id"])
    assert on_c["document"]["content"] == "<p>Het water stijgt</p>"
    announce = await value(
        b,
        """SELECT uri FROM activities WHERE type = 'Announce' AND local
           AND document->'object'->>'id' = $1""",
        create["id"],
    )
    assert announce is not None  # the member's Create, announced unchanged
    assert (await outcomes(c, announce))[0].startswith("via group:")

    reply = (
        await c.publish("carol", group_post(group, "<p>Dijken ophogen</p>", inReplyTo=post["id"]))
    )["object"]
    await settle(a, b, c)
    answer = (
        await a.publish("alice", group_post(group, "<p>Mee eens</p>", inReplyTo=reply["id"]))
    )["object"]
    await settle(a, b, c)
    thread = {post["id"]: None, reply["id"]: post["id"], answer["id"]: reply["id"]}
    for instance in (a, b, c):
        for uri, parent in thread.items():
            row = await stored(instance, uri)
            assert row is not None, (instance.name, uri)
            assert row["in_reply_to"] == parent, (instance.name, uri)
            assert row["group_uri"] == group, (instance.name, uri)

    # A moderator (the owner on B) removes the opening post: gone on every member's instance,
    # including the author's own.
    with pytest.raises(NotFound):  # only posts filed under the group
        await b.runtime.groups.delete_post("owner", "water", b.url("/objects/nothing"))
    await b.runtime.groups.delete_post("owner", "water", post["id"])
    await settle(a, b, c)
    for instance in (a, b, c):
        row = await stored(instance, post["id"])
        assert row["deleted_at"] is not None, instance.name
        assert row["document"]["type"] == "Tombstone", instance.name
        assert (await stored(instance, reply["id"]))["deleted_at"] is None, instance.name


# ----------------------------------------------------------------------------- closed groups


async def test_closed_group_approval_refusal_strangers_and_bans(start_instance: Any) -> None:
    a, b, c = [await start_instance(n) for n in "abc"]
    await people(a, "alice", "dave", "erin", "frank")
    await people(b, "owner", "bystander")
    await people(c, "carol")
    await b.runtime.actors.create_group("besloten", owner="owner", kind=GroupKind.CLOSED)
    groups = b.runtime.groups
    group = b.url("/groups/besloten")
    alice, dave, frank = (a.url(f"/users/{n}") for n in ("alice", "dave", "frank"))
    carol = c.url("/users/carol")

    for instance, name in ((a, "alice"), (a, "dave"), (a, "frank"), (c, "carol")):
        await join(instance, name, group)
    await settle(a, b, c)
    assert set(await groups.pending("owner", "besloten")) == {alice, dave, frank, carol}
    for member in (alice, dave, frank):
        assert await follow_state(a, member, group) == "pending"
        assert await follow_state(b, member, group) == "pending"
    with pytest.raises(Forbidden):  # only the group's moderators decide
        await groups.decide("bystander", "besloten", alice, accept=True)
    # While waiting, alice is no member: what she posts is refused.
    early = await a.publish("alice", group_post(group, "<p>te vroeg</p>"))
    await settle(a, b, c)
    assert (await outcomes(b, early["id"]))[0].startswith("refused")
    assert await stored(b, early["object"]["id"]) is None

    for member in (alice, frank, carol):
        await groups.decide("owner", "besloten", member, accept=True)
    await groups.decide("owner", "besloten", dave, accept=False)
    await settle(a, b, c)
    assert await groups.pending("owner", "besloten") == []
    for instance, member in ((a, alice), (b, alice), (a, frank), (c, carol), (b, carol)):
        assert await follow_state(instance, member, group) == "accepted"
    # The refused request leaves no follow on either side.
    assert await follow_state(a, dave, group) is None
    assert await follow_state(b, dave, group) is None

    # A stranger (erin never asked to join) posts to the group: refused, not even stored.
    stranger = await a.publish("erin", group_post(group, "<p>ongevraagd</p>"))
    await settle(a, b, c)
    assert (await outcomes(b, stranger["id"]))[0].startswith("refused")
    assert await stored(b, stranger["object"]["id"]) is None
    assert await stored(c, stranger["object"]["id"]) is None

    # Ban without deleting: alice's earlier post stays, her new ones are refused.
    before = (await a.publish("alice", group_post(group, "<p>eerder</p>")))["object"]
    await settle(a, b, c)
    assert (await stored(c, before["id"]))["group_uri"] == group
    assert await groups.ban("owner", "besloten", alice, delete_posts=False) == 0
    await settle(a, b, c)
    assert await follow_state(b, alice, group) is None
    assert await follow_state(a, alice, group) is None  # she was told (Reject)
    after = await a.publish("alice", group_post(group, "<p>na de ban</p>"))
    await settle(a, b, c)
    assert (await outcomes(b, after["id"]))[0].startswith("refused")
    assert await stored(b, after["object"]["id"]) is None
    assert await stored(c, after["object"]["id"]) is None
    for instance in (b, c):
        assert (await stored(instance, before["id"]))["deleted_at"] is None, instance.name
    # Asking to join again is refused, and she is told so.
    again = await join(a, "alice", group)
    await settle(a, b, c)
    assert (await outcomes(b, again["id"]))[0].startswith("refused")
    assert await follow_state(b, alice, group) is None
    assert await follow_state(a, alice, group) is None
    assert await groups.pending("owner", "besloten") == []

    # Ban with deleting: carol's posts are tombstoned on A (frank is a member there), on B,
    # and on C, her own instance, where no member remains after the ban.
    posts = [
        (await c.publish("carol", group_post(group, f"<p>bericht {n}</p>")))["object"]["id"]
        for n in range(2)
    ]
    await settle(a, b, c)
    for instance in (a, b, c):
        for uri in posts:
            assert (await stored(instance, uri))["group_uri"] == group, instance.name
    assert await groups.ban("owner", "besloten", carol, delete_posts=True) == 2
    await settle(a, b, c)
    for instance in (a, b, c):
        for uri in posts:
            row = await stored(instance, uri)
            assert row["deleted_at"] is not None, (instance.name, uri)
            assert row["document"]["type"] == "Tombstone", (instance.name, uri)
        # The post of a member banned without deleting is untouched.
        assert (await stored(instance, before["id"]))["deleted_at"] is None, instance.name


# ----------------------------------------------------------------------------- members-only


async def test_members_only_group_reaches_members_only_and_is_unreadable_otherwise(
    start_instance: Any, foreign: Any
) -> None:
    # Authorized fetch off on A and B: an unsigned GET is refused for membership alone.
    a = await start_instance("a", FEDERATIE_AUTHORIZED_FETCH="false")
    b = await start_instance("b", FEDERATIE_AUTHORIZED_FETCH="false")
    c, d = [await start_instance(n) for n in "cd"]
    await people(a, "alice")
    await people(b, "owner")
    await people(c, "carol")
    await people(d, "dave")
    await b.runtime.actors.create_group(
        "kring", owner="owner", title="Besloten kring", kind=GroupKind.MEMBERS_ONLY
    )
    group = b.url("/groups/kring")
    alice, carol = a.url("/users/alice"), c.url("/users/carol")
    await join(a, "alice", group)
    follow_c = await join(c, "carol", group)
    await settle(a, b, c, d)
    assert await follow_state(b, alice, group) == "pending"  # members-only: approval needed
    for member in (alice, carol):
        await b.runtime.groups.decide("owner", "kring", member, accept=True)
    await settle(a, b, c, d)
    assert await follow_state(c, carol, group) == "accepted"

    secret = "<p>alleen voor leden: zeekraal</p>"
    post = (await a.publish("alice", group_post(group, secret, public=False)))["object"]
    await settle(a, b, c, d)
    for instance in (a, b, c):
        assert (await stored(instance, post["id"]))["group_uri"] == group, instance.name
    assert (await stored(c, post["id"]))["document"]["content"] == secret
    assert await stored(d, post["id"]) is None
    assert await value(d, "SELECT count(*) FROM inbox_activities") == 0
    announces = await rows(
        b,
        """SELECT uri, document FROM activities WHERE type = 'Announce' AND local
           AND object_uri IS NOT NULL""",
    )
    assert len(announces) == 1  # no bare-object Announce for Mastodon: nothing public
    announce = announces[0]["uri"]
    document = announces[0]["document"]
    assert document["to"] == [b.url("/groups/kring/followers")]
    assert PUBLIC not in str(document)

    # Control: a public post of alice is readable unsigned, and a member's server reads
    # the group's Announce: the refusals below are about membership.
    public = (await a.publish("alice", {"type": "Note", "content": "x", "to": [PUBLIC]}))["object"]
    assert (await http_get(public["id"]))[0] == 200
    assert (await c.runtime.fetch_object(announce))["object"]["object"]["content"] == secret

    # Unsigned GETs of the post (on A) and of the group's Announce (on B).
    for url in (post["id"], announce):
        status, body = await http_get(url)
        assert status == 404 and "zeekraal" not in body, url
    # Signed by D's instance actor: a server without members.
    for url in (post["id"], announce, b.url("/groups/kring/followers")):
        with pytest.raises(NotFound):
            await d.runtime.fetch_object(url)
    # Signed by an actor on a foreign server.
    mastodon = await foreign("mastodon")
    snoop = mastodon.add_actor("snoop")
    for url in (post["id"], announce, b.url("/groups/kring/followers")):
        status, body = await mastodon.signed_get(snoop, url)
        assert status == 404 and "zeekraal" not in str(body), url
    # The group's outbox lists nothing of it, to a signed foreign fetch.
    status, outbox = await mastodon.signed_get(snoop, b.url("/groups/kring/outbox"))
    assert status == 200 and isinstance(outbox, dict)
    assert outbox["totalItems"] == 0
    status, page = await mastodon.signed_get(snoop, outbox["first"])
    assert status == 200 and announce not in str(page) and "zeekraal" not in str(page)
    # Who the members are is members-only as well; a member's server may see it.
    members = await c.runtime.fetch_object(b.url("/groups/kring/followers"))
    assert members["totalItems"] == 2
    # The group's page and the directory show no post.
    for url in (group, b.url("/groups")):
        status, html = await http_get(url, "text/html")
        assert status == 200 and "zeekraal" not in html, url

    # Carol leaves: the next post reaches B and A, not C (and still not D).
    await c.publish("carol", {"type": "Undo", "object": follow_c["id"]})
    await settle(a, b, c, d)
    assert await follow_state(b, carol, group) is None
    arrived_on_c = await value(c, "SELECT count(*) FROM inbox_activities")
    later = (await a.publish("alice", group_post(group, "<p>later</p>", public=False)))["object"]
    await settle(a, b, c, d)
    assert (await stored(b, later["id"]))["group_uri"] == group
    assert (await stored(a, later["id"]))["group_uri"] == group
    assert await stored(c, later["id"]) is None
    assert await value(c, "SELECT count(*) FROM inbox_activities") == arrived_on_c
    assert await value(d, "SELECT count(*) FROM inbox_activities") == 0


# ----------------------------------------------------------------------------- other software


async def test_mastodon_and_lemmy_users_follow_post_and_receive(
    start_instance: Any, foreign: Any
) -> None:
    a, b = [await start_instance(n) for n in "ab"]
    await people(a, "alice")
    await people(b, "owner")
    await b.runtime.actors.create_group("water", owner="owner")
    group = b.url("/groups/water")
    group_inbox = b.url("/groups/water/inbox")
    mastodon, lemmy = await foreign("mastodon"), await foreign("lemmy")
    fan, poster = mastodon.add_actor("fan"), mastodon.add_actor("poster")
    redditor = lemmy.add_actor("redditor")

    await join(a, "alice", group)
    for server, actor in ((mastodon, fan), (mastodon, poster), (lemmy, redditor)):
        status, _ = await server.deliver(actor, group_inbox, server.follow(actor, group))
        assert status == 202
    await settle(a, b)
    for server, actor in ((mastodon, fan), (mastodon, poster), (lemmy, redditor)):
        assert await follow_state(b, actor.id, group) == "accepted"
        accept = await server.wait_for(
            lambda r, who=actor.id: r.activity_type == "Accept" and r.json["object"]["actor"] == who
        )
        assert accept.signature_ok is True, accept.signature_error

    # A member's public top-level post: Mastodon gets the bare object announced; Lemmy the
    # activity announced unchanged.
    create = await a.publish("alice", group_post(group, "<p>Het water stijgt</p>"))
    post = create["object"]["id"]
    await settle(a, b)
    bare = await mastodon.wait_for(
        lambda r: r.activity_type == "Announce" and r.json["object"] == post
    )
    assert bare.signature_ok is True, bare.signature_error
    assert bare.json["actor"] == group and PUBLIC in bare.json["to"]
    relayed = await lemmy.wait_for(
        lambda r: (
            r.activity_type == "Announce"
            and isinstance(r.json["object"], dict)
            and r.json["object"]["id"] == create["id"]
        )
    )
    assert relayed.signature_ok is True, relayed.signature_error
    assert relayed.json["object"]["object"]["content"] == "<p>Het water stijgt</p>"

    # A Mastodon member posts publicly, the group in cc and mentioned (how Mastodon users
    # post to Lemmy communities), delivered to the shared inbox.
    toot = mastodon.note(poster, "@water dijken!", to=[PUBLIC], cc=[group], mention=[group])
    status, _ = await mastodon.deliver(poster, b.url("/inbox"), toot)
    assert status == 202
    # ... and once with the group only in a Mention tag.
    tagged = mastodon.note(
        poster, "@water nog een", to=[PUBLIC], cc=[poster.followers or ""], mention=[group]
    )
    tagged["cc"].remove(group)  # shared with the object and its served copy
    assert group not in tagged["object"]["cc"] and group not in tagged["object"]["to"]
    status, _ = await mastodon.deliver(poster, group_inbox, tagged)
    assert status == 202
    # A Lemmy member posts a Page to the community and comments on alice's post.
    page = lemmy.note(redditor, "Waterpeil", to=[group, PUBLIC], audience=group, title="Waterpeil")
    comment = lemmy.note(
        redditor, "Klopt", to=[PUBLIC], cc=[group], audience=group, in_reply_to=post
    )
    for activity in (page, comment):
        status, _ = await lemmy.deliver(redditor, group_inbox, activity)
        assert status == 202
    await settle(a, b)

    for activity in (toot, tagged, page, comment):
        uri = activity["object"]["id"]
        for instance in (a, b):
            row = await stored(instance, uri)
            assert row is not None and row["group_uri"] == group, (instance.name, uri)
    assert (await stored(a, page["object"]["id"]))["document"]["type"] == "Page"
    assert (await stored(a, comment["object"]["id"]))["in_reply_to"] == post
    # Lemmy receives the Mastodon toot relayed; Mastodon gets no bare Announce of a comment.
    await lemmy.wait_for(
        lambda r: (
            r.activity_type == "Announce"
            and isinstance(r.json["object"], dict)
            and r.json["object"]["id"] == toot["id"]
        )
    )
    bare_objects = [
        r.json["object"]
        for r in mastodon.received
        if r.activity_type == "Announce" and isinstance(r.json["object"], str)
    ]
    assert comment["object"]["id"] not in bare_objects
    assert {post, toot["object"]["id"], page["object"]["id"]} <= set(bare_objects)


# ----------------------------------------------------------------------------- finding groups


async def test_directory_filters_and_remote_lookup_by_handle(start_instance: Any) -> None:
    a, b = [await start_instance(n) for n in "ab"]
    await people(a, "alice", "bob")
    await people(b, "owner")
    create_group = b.runtime.actors.create_group
    await create_group(
        "water", owner="owner", title="Waterbeheer Rivierenland", themes=["Water", "#klimaat"]
    )
    await create_group(
        "besloten", owner="owner", title="Bewonersoverleg", kind=GroupKind.CLOSED, themes=["wonen"]
    )
    await create_group("kring", owner="owner", kind=GroupKind.MEMBERS_ONLY, themes=["water"])
    for name in ("alice", "bob"):
        await join(a, name, b.url("/groups/water"))
    await join(a, "alice", b.url("/groups/besloten"))  # pending: not a member yet
    await settle(a, b)

    async def directory(query: str = "") -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(b.url("/groups" + query), headers={"Accept": "application/json"}) as r,
        ):
            assert r.status == 200, await r.text()
            result: dict[str, Any] = await r.json()
            return result

    listed = {item["name"]: item for item in (await directory())["items"]}
    assert list(listed) == ["besloten", "kring", "water"]
    assert listed["water"] == {
        "id": b.url("/groups/water"),
        "name": "water",
        "handle": f"@water@{b.domain}",
        "title": "Waterbeheer Rivierenland",
        "themes": ["water", "klimaat"],
        "kind": "open",
        "members": 2,
    }
    assert (listed["besloten"]["kind"], listed["besloten"]["members"]) == ("closed", 0)
    assert (listed["kring"]["kind"], listed["kring"]["title"]) == ("members_only", "kring")

    async def names(query: str) -> list[str]:
        return [item["name"] for item in (await directory(query))["items"]]

    assert await names("?theme=water") == ["kring", "water"]
    assert await names("?theme=%23Klimaat") == ["water"]
    assert await names("?q=rivier") == ["water"]
    assert await names("?q=overleg") == ["besloten"]
    assert await names("?q=overleg&theme=water") == []
    assert await names("?after=besloten") == ["kring", "water"]
    first = await directory("?limit=2")
    assert [i["name"] for i in first["items"]] == ["besloten", "kring"]
    assert first["next"] is not None and "after=kring" in first["next"]
    status, html = await http_get(b.url("/groups?theme=wonen"), "text/html")
    assert status == 200 and "Bewonersoverleg" in html and "Waterbeheer" not in html

    # From A, the group is found by its handle, as a person types it.
    for handle in (f"@water@{b.domain}", f"water@{b.domain}", f" @WATER@{b.domain.upper()} "):
        found = await a.runtime.lookup(handle)
        assert (found.uri, found.type) == (b.url("/groups/water"), "Group"), handle
    assert (await a.runtime.lookup(b.url("/groups/kring"))).uri == b.url("/groups/kring")
    for bad in ("water", "@water", "@water@", f"@@{b.domain}", f"@water@{b.domain}/x", "@a@b@c"):
        with pytest.raises(BadRequest):
            await a.runtime.lookup(bad)
    with pytest.raises(BadRequest):  # a local handle is no remote lookup
        await a.runtime.lookup(f"@alice@{a.domain}")
    with pytest.raises(NotFound):
        await a.runtime.lookup(f"@nobody@{b.domain}")


async def test_likes_and_leavers_deletes_are_relayed_and_posts_reach_inboxes(
    start_instance: Any,
) -> None:
    a, b, c = [await start_instance(name) for name in "abc"]
    await people(a, "alice")
    await people(b, "owner")
    await people(c, "carol")
    await b.runtime.actors.create_group("water", owner="owner", title="Water")
    group = b.url("/groups/water")
    await join(a, "alice", group)
    await join(c, "carol", group)
    await settle(a, b, c)
    post = await a.publish("alice", group_post(group, "<p>over dijken</p>"))
    await settle(a, b, c)
    post_id = post["object"]["id"]
    # The relayed post is in carol's inbox on C (it came through the group's Announce).
    filed = await value(
        c,
        """SELECT count(*) FROM inbox_items i JOIN actors p ON p.id = i.actor_id
           WHERE p.username = 'carol'""",
    )
    assert filed >= 1
    # A member's Like addressed to the group is announced: A learns of carol's Like.
    like = await c.publish("carol", {"type": "Like", "object": post_id, "to": [group]})
    await settle(a, b, c)
    assert await value(a, "SELECT count(*) FROM activities WHERE uri = $1", like["id"]) == 1
    # Alice leaves, then deletes her post: the group still relays her own Delete.
    follow_id = await value(
        a,
        "SELECT activity_uri FROM follows f JOIN actors g ON g.id = f.followed_id WHERE g.uri = $1",
        group,
    )
    await a.publish("alice", {"type": "Undo", "object": follow_id})
    await settle(a, b, c)
    await a.publish("alice", {"type": "Delete", "object": post_id})
    await settle(a, b, c)
    for instance in (b, c):
        assert (await stored(instance, post_id))["deleted_at"] is not None
    # Search text is literal: `_` and `%` match only themselves.
    async with aiohttp.ClientSession() as session:
        for q in ("_", "%"):
            async with session.get(
                b.url("/groups"), params={"q": q}, headers={"Accept": "application/json"}
            ) as r:
                assert (await r.json())["items"] == []
