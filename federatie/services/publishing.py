"""Publishing as a local actor: ActivityPub client-to-server (section 6) and server actions.

The server assigns ids, wraps a bare object in Create, checks that the actor may do what it
asks, stores, and queues the fan-out, all in one transaction. HTML content is sanitised.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from federatie.activitypub.html import sanitize_html
from federatie.activitypub.iris import AS_CONTEXT, AS_PUBLIC
from federatie.activitypub.normalize import id_of
from federatie.domain.actors import LocalActor
from federatie.errors import BadRequest, Forbidden, NotFound, Unprocessable
from federatie.federation.delivery import addressees, enqueue_fanout
from federatie.storage import activities as sql
from federatie.storage import follows as follows_sql
from federatie.storage.pool import Connection

if TYPE_CHECKING:
    from federatie.runtime import Runtime

OBJECT_TYPES = frozenset(
    {"Note", "Article", "Page", "Document", "Image", "Audio", "Video", "Event", "Question"}
)
ACTIVITY_TYPES = frozenset(
    {"Create", "Update", "Delete", "Follow", "Undo", "Like", "Announce", "Accept", "Reject"}
)
_ADDRESSING = ("to", "cc", "bto", "bcc", "audience")
# What a person may set on an object they publish; everything else is the server's to say.
_OBJECT_FIELDS = (
    "type",
    "name",
    "summary",
    "content",
    "contentMap",
    "source",
    "mediaType",
    "inReplyTo",
    "tag",
    "attachment",
    "sensitive",
    "url",
    "context",
    *_ADDRESSING,
)
_TEXT_FIELDS = ("content", "summary")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _uris(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        iri = id_of(item)
        if iri is not None:
            out.append(AS_PUBLIC if iri in ("Public", "as:Public") else iri)
    return out


def _addressing(source: dict[str, Any]) -> dict[str, list[str]]:
    return {field: _uris(source[field]) for field in _ADDRESSING if source.get(field)}


def is_public(document: dict[str, Any]) -> bool:
    return AS_PUBLIC in addressees(document)


class Publisher:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _new_id(self, kind: str) -> str:
        key = secrets.token_hex(12)
        return self._rt.iris.object(key) if kind == "object" else self._rt.iris.activity(key)

    async def publish(self, actor: LocalActor, submitted: dict[str, Any]) -> sql.StoredActivity:
        """Client-to-server: an activity or a bare object (wrapped in Create)."""
        kind = submitted.get("type")
        if not isinstance(kind, str):
            raise BadRequest("the activity needs a type")
        if kind in OBJECT_TYPES:
            submitted = {
                "type": "Create",
                "object": submitted,
                **{f: submitted[f] for f in _ADDRESSING if f in submitted},
            }
            kind = "Create"
        if kind not in ACTIVITY_TYPES:
            raise Unprocessable(f"publishing {kind!r} activities is not supported")
        handler = getattr(self, f"_{kind.lower()}")
        async with self._rt.pool.acquire() as conn, conn.transaction():
            activity: sql.StoredActivity = await handler(conn, actor, submitted)
            await enqueue_fanout(conn, activity.id)
        return activity

    async def store(
        self, conn: Connection, actor: LocalActor, document: dict[str, Any]
    ) -> sql.StoredActivity:
        """Store an activity by a local actor, with an id, `actor` and `published` set."""
        document = {"@context": AS_CONTEXT, **document}
        document.setdefault("id", self._new_id("activity"))
        document["actor"] = actor.uri
        document.setdefault("published", now_iso())
        activity_id = await sql.insert_activity(
            conn,
            uri=document["id"],
            type_=document["type"],
            actor_id=actor.id,
            object_uri=id_of(document.get("object")),
            local=True,
            public=is_public(document),
            document=document,
        )
        assert activity_id is not None
        stored = await sql.select_activity_by_id(conn, activity_id)
        assert stored is not None
        return stored

    async def _create(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        raw = submitted.get("object")
        if not isinstance(raw, dict) or raw.get("type") not in OBJECT_TYPES:
            raise Unprocessable("Create needs an object of a supported type")
        obj = {k: raw[k] for k in _OBJECT_FIELDS if k in raw}
        for field in _TEXT_FIELDS:
            if isinstance(obj.get(field), str):
                obj[field] = sanitize_html(obj[field])
        if "contentMap" in obj:  # the content per language (Mastodon: the status's language)
            languages = obj["contentMap"] if isinstance(obj["contentMap"], dict) else {}
            obj["contentMap"] = {
                str(lang): sanitize_html(text)
                for lang, text in languages.items()
                if isinstance(text, str)
            }
        source = obj.get("source")  # what the author wrote (section 3.3), for editing later
        if not (isinstance(source, dict) and isinstance(source.get("content"), str)):
            obj.pop("source", None)
        addressing = _addressing(submitted) or _addressing(raw)
        obj.update(addressing)
        obj["id"] = self._new_id("object")
        obj["attributedTo"] = actor.uri
        obj["published"] = now_iso()
        if "url" not in obj:
            obj["url"] = obj["id"]
        in_reply_to = id_of(obj.get("inReplyTo"))
        await sql.insert_object(
            conn,
            uri=obj["id"],
            type_=obj["type"],
            author_id=actor.id,
            local=True,
            in_reply_to=in_reply_to,
            group_id=None,
            public=is_public(obj),
            recipients=addressees(obj),
            published=None,
            document={"@context": AS_CONTEXT, **obj},
        )
        return await self.store(conn, actor, {"type": "Create", "object": obj, **addressing})

    async def _own_object(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredObject:
        uri = id_of(submitted.get("object"))
        if uri is None:
            raise BadRequest(f"{submitted['type']} needs an object")
        stored = await sql.select_object(conn, uri)
        if stored is None or not stored.local or stored.deleted_at is not None:
            raise NotFound(f"no object {uri} here")
        if stored.author_id != actor.id:
            raise Forbidden("only the author may change an object")
        return stored

    async def _update(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        stored = await self._own_object(conn, actor, submitted)
        changes = submitted["object"] if isinstance(submitted["object"], dict) else {}
        document = dict(stored.document)
        for field in ("name", "summary", "content", "tag", "attachment", "sensitive"):
            if field in changes:
                value = changes[field]
                document[field] = (
                    sanitize_html(value)
                    if field in _TEXT_FIELDS and isinstance(value, str)
                    else value
                )
        document["updated"] = now_iso()
        await sql.update_object(conn, stored.id, document)
        wire = {k: v for k, v in document.items() if k != "@context"}
        return await self.store(
            conn, actor, {"type": "Update", "object": wire, **_addressing(document)}
        )

    async def _delete(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        stored = await self._own_object(conn, actor, submitted)
        tombstone = {
            "id": stored.uri,
            "type": "Tombstone",
            "formerType": stored.type,
            "deleted": now_iso(),
        }
        await sql.tombstone_object(conn, stored.id, tombstone)
        return await self.store(
            conn, actor, {"type": "Delete", "object": tombstone, **_addressing(stored.document)}
        )

    async def _follow(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        target_uri = id_of(submitted.get("object"))
        if target_uri is None:
            raise BadRequest("Follow needs an object")
        target_id = await self._rt.resolve_actor_id(conn, target_uri)
        if target_id == actor.id:
            raise Unprocessable("one cannot follow oneself")
        activity = await self.store(
            conn, actor, {"type": "Follow", "object": target_uri, "to": [target_uri]}
        )
        await follows_sql.upsert_follow(conn, actor.id, target_id, "pending", activity.uri)
        return activity

    async def _undo(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        uri = id_of(submitted.get("object"))
        original = await sql.select_activity(conn, uri) if uri else None
        if original is None or original.actor_id != actor.id or original.undone_at is not None:
            raise NotFound("no activity of yours to undo")
        if original.type not in ("Follow", "Like", "Announce"):
            raise Unprocessable(f"an {original.type} cannot be undone; delete the object")
        await sql.mark_undone(conn, original.id)
        if original.type == "Follow" and original.object_uri:
            target_id = await sql.select_actor_id(conn, original.object_uri)
            if target_id is not None:
                await follows_sql.delete_follow(conn, actor.id, target_id)
        embedded = {k: v for k, v in original.document.items() if k != "@context"}
        return await self.store(
            conn, actor, {"type": "Undo", "object": embedded, **_addressing(original.document)}
        )

    async def _reaction(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any], default_to: list[str]
    ) -> sql.StoredActivity:
        uri = id_of(submitted.get("object"))
        if uri is None:
            raise BadRequest(f"{submitted['type']} needs an object")
        addressing = _addressing(submitted) or {"to": default_to}
        return await self.store(
            conn, actor, {"type": submitted["type"], "object": uri, **addressing}
        )

    async def _like(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        author = await self._author_of(conn, id_of(submitted.get("object")))
        return await self._reaction(conn, actor, submitted, [author] if author else [])

    async def _announce(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        author = await self._author_of(conn, id_of(submitted.get("object")))
        followers = self._rt.iris.followers(actor.uri)
        return await self._reaction(
            conn, actor, submitted, [AS_PUBLIC, followers, *([author] if author else [])]
        )

    async def _author_of(self, conn: Connection, uri: str | None) -> str | None:
        stored = await sql.select_object(conn, uri) if uri else None
        return stored.author_uri if stored else None

    async def _answer(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any], *, accept: bool
    ) -> sql.StoredActivity:
        """Approve or refuse a pending Follow of `actor` (manually approved followers)."""
        follow_uri = id_of(submitted.get("object"))
        row = await conn.fetchrow(
            """SELECT f.follower_id, i.body FROM follows f
               LEFT JOIN inbox_activities i ON i.activity_uri = f.activity_uri
               WHERE f.followed_id = $1 AND f.activity_uri = $2""",
            actor.id,
            follow_uri,
        )
        if row is None:
            raise NotFound("no follow request of yours with that id")
        if accept:
            await follows_sql.set_follow_state(conn, row["follower_id"], actor.id, "accepted")
        else:
            await follows_sql.delete_follow(conn, row["follower_id"], actor.id)
        follow = row["body"] or {"id": follow_uri, "type": "Follow", "object": actor.uri}
        return await self.store(conn, actor, self._response(follow, accept=accept))

    async def _accept(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        return await self._answer(conn, actor, submitted, accept=True)

    async def _reject(
        self, conn: Connection, actor: LocalActor, submitted: dict[str, Any]
    ) -> sql.StoredActivity:
        return await self._answer(conn, actor, submitted, accept=False)

    def _response(self, follow: dict[str, Any], *, accept: bool) -> dict[str, Any]:
        follower = id_of(follow.get("actor"))
        embedded = {k: v for k, v in follow.items() if k != "@context"}
        return {"type": "Accept" if accept else "Reject", "object": embedded, "to": [follower]}

    async def respond_to_follow(
        self, conn: Connection, target: LocalActor, follow: dict[str, Any], *, accept: bool
    ) -> None:
        """Accept or Reject a received Follow (in the caller's transaction)."""
        activity = await self.store(conn, target, self._response(follow, accept=accept))
        await enqueue_fanout(conn, activity.id)
