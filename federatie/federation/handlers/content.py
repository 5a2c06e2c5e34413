"""Create, Update and Delete of posts, articles and documents (and of actors themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from federatie.activitypub.html import sanitize_html
from federatie.activitypub.normalize import id_of, normalize
from federatie.activitypub.uris import host_of, same_origin
from federatie.errors import Forbidden, Unprocessable
from federatie.federation.delivery import addressees
from federatie.federation.handlers.common import Activity, require_same_origin
from federatie.federation.handlers.files import forgets_files, remembers_files
from federatie.federation.remote_actors import ACTOR_TYPES
from federatie.services import notifications
from federatie.services.publishing import OBJECT_TYPES, is_public
from federatie.storage import activities as sql
from federatie.storage import follows as follows_sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime

_HTML_FIELDS = ("content", "summary")


def clean_object(document: dict[str, Any]) -> dict[str, Any]:
    """A normalised remote object with its HTML sanitised and the name as plain text."""
    cleaned = dict(document)
    for field in _HTML_FIELDS:
        if isinstance(cleaned.get(field), str):
            cleaned[field] = sanitize_html(cleaned[field])
        language_map = cleaned.get(f"{field}Map")
        if isinstance(language_map, dict):
            cleaned[f"{field}Map"] = {
                lang: sanitize_html(text)
                for lang, text in language_map.items()
                if isinstance(text, str)
            }
    return cleaned


def _published(document: dict[str, Any]) -> datetime | None:
    value = document.get("published")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


async def store_remote_object(
    rt: Runtime, raw: dict[str, Any], *, expected_actor: str | None
) -> str:
    """Store a remote object once; `expected_actor` must be among its authors when given.

    The author is the first `attributedTo` on the object's own host; the object id must be
    on the same host, so nobody can store an object in another server's name.
    """
    document = normalize(raw)
    uri = document.get("id")
    if not isinstance(uri, str):
        raise Unprocessable("the object has no id")
    if document.get("type") not in OBJECT_TYPES:
        return f"ignored: {document.get('type')} objects are not kept"
    authors = document.get("attributedTo") or []
    author = next((a for a in authors if same_origin(a, uri)), None)
    if author is None:
        raise Forbidden(f"object {uri} has no author on its own host")
    if expected_actor is not None and expected_actor not in authors:
        raise Forbidden(f"{expected_actor} is not the author of {uri}")
    cleaned = clean_object(document)
    async with rt.pool.acquire() as conn:
        author_id = await rt.resolve_actor_id(conn, author)
        created = await sql.insert_object(
            conn,
            uri=uri,
            type_=document["type"],
            author_id=author_id,
            local=False,
            in_reply_to=id_of(document.get("inReplyTo")),
            group_id=None,
            public=is_public(document),
            recipients=addressees(document),
            published=_published(document),
            document=cleaned,
        )
    return "stored" if created else "duplicate"


@remembers_files
async def create(rt: Runtime, activity: Activity) -> str:
    embedded = activity.raw_object
    object_id = activity.object_id
    if object_id is None:
        raise Unprocessable("Create without an object")
    require_same_origin(activity, object_id, "object")
    async with rt.pool.acquire() as conn:
        group = await rt.groups.addressed_local_group(conn, activity.raw)
        if group is not None:  # a banned actor's or a stranger's post is not even stored
            await rt.groups.check_member(conn, group, activity.actor)
    raw = embedded if embedded is not None else await rt.fetch_object(object_id)
    outcome = await store_remote_object(rt, raw, expected_actor=activity.actor)
    await notifications.post_stored(rt, object_id)
    return await relay_to_group(rt, activity) or outcome


async def relay_to_group(rt: Runtime, activity: Activity) -> str | None:
    """When a member addresses one of our groups, the group announces it (FEP-1b12)."""
    async with rt.pool.acquire() as conn:
        group = await rt.groups.addressed_local_group(conn, activity.raw)
    if group is None:
        return None
    return await rt.groups.relay(group, activity.raw, activity.actor)


@remembers_files
async def update(rt: Runtime, activity: Activity) -> str:
    object_id = activity.object_id
    if object_id is None:
        raise Unprocessable("Update without an object")
    require_same_origin(activity, object_id, "object")
    embedded = activity.embedded_object or {}
    if embedded.get("type") in ACTOR_TYPES or object_id == activity.actor:
        if object_id != activity.actor:
            raise Forbidden("an actor can only update itself")
        if host_of(activity.actor) == rt.config.domain:
            return "ignored: a local actor"  # a profile edit handed to local followers
        await rt.remote.get(activity.actor, refresh=True)  # refetch, never trust the copy
        return "actor refreshed"
    async with rt.pool.acquire() as conn:
        stored = await sql.select_object(conn, object_id)
    if stored is None:
        return "ignored: unknown object"
    if stored.author_uri != activity.actor:
        raise Forbidden("only the author may update an object")
    if stored.deleted_at is not None:
        return "ignored: deleted"
    if stored.local:  # our own author's, handed to a local group: stored when it was made
        return await relay_to_group(rt, activity) or "updated"
    raw = activity.raw_object or await rt.fetch_object(object_id)
    document = normalize(raw)
    if document.get("id") != object_id:
        raise Unprocessable("the updated object changed its id")
    async with rt.pool.acquire() as conn:
        await sql.update_object(conn, stored.id, clean_object(document))
    return await relay_to_group(rt, activity) or "updated"


@forgets_files
async def delete(rt: Runtime, activity: Activity) -> str:
    object_id = activity.object_id
    if object_id is None:
        raise Unprocessable("Delete without an object")
    if await _deleted_by_its_group(rt, activity, object_id):
        return "deleted by its group's moderators"
    require_same_origin(activity, object_id, "object")
    async with rt.pool.acquire() as conn, conn.transaction():
        if object_id == activity.actor:
            actor_id = await sql.select_actor_id(conn, activity.actor)
            if actor_id is None:
                return "ignored: unknown actor"
            removed = await sql.tombstone_objects_of(conn, actor_id)
            await follows_sql.delete_follows_of(conn, actor_id)
            await conn.execute(
                "UPDATE actors SET suspended_at = now() WHERE id = $1 AND NOT local", actor_id
            )
            return f"actor deleted with {removed} object(s)"
        stored = await sql.select_object(conn, object_id)
        if stored is None:
            return "ignored: unknown object"
        if stored.author_uri != activity.actor:
            raise Forbidden("only the author may delete an object")
        if not stored.local:  # ours became a Tombstone when the Delete was made
            tombstone = {"id": object_id, "type": "Tombstone", "formerType": stored.type}
            await sql.tombstone_object(conn, stored.id, tombstone)
    return await relay_to_group(rt, activity) or "deleted"


async def _deleted_by_its_group(rt: Runtime, activity: Activity, object_id: str) -> bool:
    """A group may delete any post filed under it: its moderators' decision (FEP-1b12)."""
    async with rt.pool.acquire() as conn:
        stored = await sql.select_object(conn, object_id)
        if stored is None or stored.deleted_at is not None:
            return False
        group_uri = await conn.fetchval(
            """SELECT a.uri FROM objects o JOIN actors a ON a.id = o.group_id
               WHERE o.id = $1 AND a.type = 'Group' AND NOT a.local""",
            stored.id,
        )
        if group_uri is None or group_uri != activity.actor:
            return False
        tombstone = {"id": object_id, "type": "Tombstone", "formerType": stored.type}
        await sql.tombstone_object(conn, stored.id, tombstone)
    return True
