"""Follow (and Join), and the Accept or Reject that answers one of ours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from federatie.activitypub.normalize import id_of
from federatie.errors import Forbidden
from federatie.federation.handlers.common import Activity
from federatie.services import notifications
from federatie.services.groups import is_banned
from federatie.storage import activities as sql
from federatie.storage import actors as actors_sql
from federatie.storage import follows as follows_sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime


async def follow(rt: Runtime, activity: Activity) -> str:
    """Record the follow; accept at once unless the target approves followers by hand."""
    target_uri = activity.object_id
    async with rt.pool.acquire() as conn:
        target = await actors_sql.select_local_actor_by_uri(conn, target_uri or "")
    if target is None:
        return "ignored: not a local actor"
    async with rt.pool.acquire() as conn, conn.transaction():
        follower_id = await rt.resolve_actor_id(conn, activity.actor)
        if await is_banned(conn, target.id, follower_id):
            # Told with a Reject (as Mastodon tells a blocked account), or the request would
            # stay pending on the follower's server forever.
            await rt.publisher.respond_to_follow(conn, target, activity.raw, accept=False)
            return f"refused: {activity.actor} is banned from {target.username}"
        state = "pending" if target.manually_approves_followers else "accepted"
        current = await follows_sql.select_follow_state(conn, follower_id, target.id)
        await follows_sql.upsert_follow(conn, follower_id, target.id, state, activity.id)
        accepted = current == "accepted" or state == "accepted"
        if accepted:
            await rt.publisher.respond_to_follow(conn, target, activity.raw, accept=True)
    await notifications.followed(rt, follower_id, target.id, pending=not accepted)
    return "accepted" if accepted else "pending approval"


async def _our_follow(rt: Runtime, activity: Activity) -> tuple[int, int] | None:
    """(follower id, followed id) of the Follow of ours that this Accept or Reject answers."""
    embedded = activity.embedded_object
    async with rt.pool.acquire() as conn:
        if embedded is not None and embedded.get("actor") and embedded.get("object"):
            follower_uri, followed_uri = id_of(embedded["actor"]), id_of(embedded["object"])
        else:
            ours = await sql.select_activity(conn, activity.object_id or "")
            if ours is None or ours.type != "Follow":
                return None
            follower_uri = await conn.fetchval(
                "SELECT uri FROM actors WHERE id = $1", ours.actor_id
            )
            followed_uri = ours.object_uri
        if followed_uri != activity.actor:
            raise Forbidden("only the followed actor can answer a Follow")
        follower = await sql.select_actor_ref(conn, follower_uri or "")
        followed = await sql.select_actor_ref(conn, activity.actor)
    if follower is None or not follower.local or followed is None:
        return None
    return follower.id, followed.id


async def accept(rt: Runtime, activity: Activity) -> str:
    pair = await _our_follow(rt, activity)
    if pair is None:
        return "ignored: answers no follow of ours"
    async with rt.pool.acquire() as conn:
        changed = await follows_sql.set_follow_state(conn, *pair, "accepted")
    return "follow accepted" if changed else "ignored: no such follow"


async def reject(rt: Runtime, activity: Activity) -> str:
    pair = await _our_follow(rt, activity)
    if pair is None:
        return "ignored: answers no follow of ours"
    async with rt.pool.acquire() as conn:
        await follows_sql.delete_follow(conn, *pair)
    return "follow rejected"
