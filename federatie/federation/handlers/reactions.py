"""Like, Announce and Undo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from federatie.activitypub.normalize import id_of, normalize
from federatie.activitypub.uris import same_origin
from federatie.errors import Forbidden, Unprocessable
from federatie.federation.handlers.common import Activity
from federatie.federation.handlers.content import relay_to_group, store_remote_object
from federatie.services import notifications
from federatie.services.groups import RELAYED_TYPES, group_candidates
from federatie.storage import activities as sql
from federatie.storage import follows as follows_sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime


async def _store_reaction(rt: Runtime, activity: Activity) -> bool:
    async with rt.pool.acquire() as conn:
        actor_id = await rt.resolve_actor_id(conn, activity.actor)
        stored = await sql.insert_activity(
            conn,
            uri=activity.id,
            type_=activity.document["type"],
            actor_id=actor_id,
            object_uri=activity.object_id,
            local=False,
            public=False,
            document=activity.raw,
        )
    return stored is not None


async def like(rt: Runtime, activity: Activity) -> str:
    if activity.object_id is None:
        raise Unprocessable("Like without an object")
    stored = await _store_reaction(rt, activity)  # ours are stored when published
    await notifications.liked(rt, activity.actor, activity.object_id)
    if not stored:
        return "duplicate"
    return await relay_to_group(rt, activity) or "liked"


async def announce(rt: Runtime, activity: Activity) -> str:
    """A group relaying its members' activities, or a boost of an object.

    A boosted object is kept only as its own origin serves it: an embedded object from
    another host than the announcer's is fetched from its origin, and refused when that fails.
    """
    object_id = activity.object_id
    if object_id is None:
        raise Unprocessable("Announce without an object")
    embedded = activity.raw_object
    if embedded is not None and embedded.get("type") in RELAYED_TYPES and "actor" in embedded:
        return await _relayed_by_group(rt, activity, embedded)
    async with rt.pool.acquire() as conn:
        known = await sql.select_object(conn, object_id)
    if known is None:
        if embedded is not None and same_origin(object_id, activity.actor):
            await store_remote_object(rt, embedded, expected_actor=None)
        else:
            await store_remote_object(rt, await rt.fetch_object(object_id), expected_actor=None)
    stored = await _store_reaction(rt, activity)
    await notifications.announced(rt, activity.actor, object_id)
    return "announced" if stored else "duplicate"


async def _relayed_by_group(rt: Runtime, activity: Activity, inner: dict[str, Any]) -> str:
    """FEP-1b12: a group we follow announces a member's activity, unchanged.

    We trust a group that a local person has joined to relay its members' activities (that
    is what joining means), so members-only posts need no fetch from the author's server.
    The inner activity must be addressed to the group, and is then handled as if its own
    actor had sent it, with all the usual checks (same origin, authorship).
    """
    from federatie.federation.handlers import HANDLERS  # the registry imports this module

    async with rt.pool.acquire() as conn:
        group = await sql.select_actor_ref(conn, activity.actor)
        followed = group is not None and await conn.fetchval(
            """SELECT 1 FROM follows f JOIN actors a ON a.id = f.follower_id
               WHERE f.followed_id = $1 AND f.state = 'accepted' AND a.local LIMIT 1""",
            group.id,
        )
    if group is None or group.type != "Group" or not followed:
        raise Forbidden("only a group that local people joined may relay activities")
    if activity.actor not in group_candidates(inner):
        raise Forbidden("a group relays only activities addressed to itself")
    if group.local:
        # Our own group relays only what this instance handled already; handling it again
        # would make the group announce it again to its local members, without end.
        return "via group: handled here already"
    inner_actor = id_of(inner.get("actor"))
    inner_id = inner.get("id")
    if inner_actor is None or not isinstance(inner_id, str):
        raise Unprocessable("the relayed activity has no id or actor")
    relayed = Activity(inner_id, inner_actor, normalize(inner), inner)
    outcome = await HANDLERS[str(inner.get("type"))](rt, relayed)
    object_uri = relayed.object_id
    if inner.get("type") == "Create" and object_uri:
        async with rt.pool.acquire() as conn:
            await conn.execute(
                "UPDATE objects SET group_id = $2 WHERE uri = $1 AND group_id IS NULL",
                object_uri,
                group.id,
            )
    return f"via group: {outcome}"


async def undo(rt: Runtime, activity: Activity) -> str:
    embedded = activity.embedded_object
    target_id = activity.object_id
    if target_id is None:
        raise Unprocessable("Undo without an object")
    kind = embedded.get("type") if embedded else None
    if embedded is not None and id_of(embedded.get("actor")) not in (None, activity.actor):
        raise Forbidden("one can only undo one's own activities")
    async with rt.pool.acquire() as conn:
        if embedded is not None and kind in ("Follow", "Join"):
            followed = await sql.select_actor_ref(conn, id_of(embedded.get("object")) or "")
            follower = await sql.select_actor_ref(conn, activity.actor)
            if followed is None or follower is None:
                return "ignored: unknown follow"
            removed = await follows_sql.delete_follow(conn, follower.id, followed.id)
            return "unfollowed" if removed else "ignored: not following"
        stored = await sql.select_activity(conn, target_id)
        if stored is None:
            return "ignored: unknown activity"
        actor_id = await sql.select_actor_id(conn, activity.actor)
        if stored.actor_id != actor_id:
            raise Forbidden("one can only undo one's own activities")
        await sql.mark_undone(conn, stored.id)
    return f"undid {stored.type}"


async def leave(rt: Runtime, activity: Activity) -> str:
    """Mobilizon's Leave of a group: the same as undoing one's Follow of it."""
    async with rt.pool.acquire() as conn:
        group = await sql.select_actor_ref(conn, activity.object_id or "")
        member = await sql.select_actor_ref(conn, activity.actor)
        if group is None or member is None or not group.local:
            return "ignored: not a group here"
        removed = await follows_sql.delete_follow(conn, member.id, group.id)
    return "left" if removed else "ignored: not a member"
