"""Flag: a report from another server, into the moderation queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from federatie.activitypub.normalize import id_of
from federatie.federation.handlers.common import Activity
from federatie.storage import activities as sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime


async def flag(rt: Runtime, activity: Activity) -> str:
    value = activity.raw.get("object")  # the normalised shape keeps only the first
    targets = [
        iri
        for item in (value if isinstance(value, list) else [value])
        if (iri := id_of(item)) is not None
    ]
    async with rt.pool.acquire() as conn:
        reporter_id = await rt.resolve_actor_id(conn, activity.actor)
        await sql.insert_report(
            conn, activity.id, reporter_id, targets, activity.document.get("content")
        )
    return f"reported {len(targets)} item(s)"
