"""Notifications of local people, made where activities are processed.

The inbox handlers call these hooks after they accepted an activity; local activities reach
the same handlers (delivery hands them to local recipients as if they had arrived), so one
hook per kind covers both. Each hook is idempotent: an activity handled twice (a retried
job, a post reaching us directly and through its group) notifies once. The streaming API
hears of every new row through the `notifications` trigger (migration 0011).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from federatie.storage import notifications as sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime


async def post_stored(rt: Runtime, object_uri: str) -> None:
    """A Create was accepted: mentions of local people, and `status` for subscribers."""
    async with rt.pool.acquire() as conn:
        await sql.insert_for_post(conn, object_uri)


async def liked(rt: Runtime, actor_uri: str, object_uri: str) -> None:
    async with rt.pool.acquire() as conn:
        await sql.insert_for_reaction(conn, "favourite", actor_uri, object_uri)


async def announced(rt: Runtime, actor_uri: str, object_uri: str) -> None:
    """A boost; a group relaying its posts is no person boosting, and notifies nobody."""
    async with rt.pool.acquire() as conn:
        await sql.insert_for_reaction(conn, "reblog", actor_uri, object_uri)


async def followed(rt: Runtime, follower_id: int, followed_id: int, *, pending: bool) -> None:
    async with rt.pool.acquire() as conn:
        await sql.insert_for_follow(conn, follower_id, followed_id, pending)
