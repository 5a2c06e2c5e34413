"""Administrators' operations on accounts: suspend, unsuspend, delete, transfer, export.

Used by `federatie admin …`. Suspension hides the actor (its pages answer 404) and makes its
tokens invalid; nothing is deleted and nothing federates. Deletion federates a `Delete` of the
actor to every server that may hold its content, tombstones its objects here, and marks the
account deleted (suspended, with no password and no tokens; it cannot be unsuspended).
"""

from __future__ import annotations

import asyncio
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from federatie.activitypub.actors import actor_document
from federatie.activitypub.iris import AS_CONTEXT, AS_PUBLIC, LocalIris
from federatie.activitypub.uris import host_of
from federatie.blobs.store import BlobStore
from federatie.domain.actors import GroupRole
from federatie.domain.profiles import Profile
from federatie.errors import BadRequest, Conflict, NotFound
from federatie.federation.delivery import DELIVER_HOST, DELIVERY_QUEUE
from federatie.jobs.queue import JobQueue
from federatie.services.publishing import now_iso
from federatie.storage import activities as activities_sql
from federatie.storage import actors as actors_sql
from federatie.storage import follows as follows_sql
from federatie.storage import profiles as profiles_sql
from federatie.storage.pool import Connection, Pool

# What a deleted person's password hash becomes: no password verifies against it.
DELETED_MARK = "!deleted"


@dataclass(frozen=True)
class DeletedAccount:
    uri: str
    objects: int
    inboxes: int


async def _person(conn: Connection, name: str) -> Any:
    row = await conn.fetchrow(
        """SELECT a.id, a.uri, a.username, a.followers, a.suspended_at, p.password_hash
           FROM actors a JOIN people p ON p.actor_id = a.id
           WHERE a.local AND a.username = $1""",
        name.lower(),
    )
    if row is None:
        raise NotFound(f"no local person named {name!r}")
    return row


class AccountService:
    def __init__(self, pool: Pool, iris: LocalIris, blobs: BlobStore) -> None:
        self._pool = pool
        self._iris = iris
        self._blobs = blobs

    async def suspend(self, name: str) -> None:
        async with self._pool.acquire() as conn:
            person = await _person(conn, name)
            await conn.execute(
                "UPDATE actors SET suspended_at = coalesce(suspended_at, now()) WHERE id = $1",
                person["id"],
            )

    async def unsuspend(self, name: str) -> None:
        async with self._pool.acquire() as conn:
            person = await _person(conn, name)
            if person["password_hash"] == DELETED_MARK:
                raise Conflict(f"{name!r} was deleted; a deleted account cannot be restored")
            await conn.execute("UPDATE actors SET suspended_at = NULL WHERE id = $1", person["id"])

    async def delete(self, name: str) -> DeletedAccount:
        """Queue a Delete of the actor to every server that got its content; tombstone here."""
        async with self._pool.acquire() as conn, conn.transaction():
            person = await _person(conn, name)
            if person["password_hash"] == DELETED_MARK:
                raise Conflict(f"{name!r} is already deleted")
            actor_id: int = person["id"]
            inboxes = await _inboxes_that_got_content(conn, actor_id)
            document = {
                "@context": AS_CONTEXT,
                "id": self._iris.activity(secrets.token_hex(12)),
                "type": "Delete",
                "actor": person["uri"],
                "object": person["uri"],
                "to": [AS_PUBLIC],
                "cc": [person["followers"]],
                "published": now_iso(),
            }
            activity_id = await activities_sql.insert_activity(
                conn,
                uri=document["id"],
                type_="Delete",
                actor_id=actor_id,
                object_uri=person["uri"],
                local=True,
                public=True,
                document=document,
            )
            assert activity_id is not None
            targets: dict[str, str] = {}
            for inbox in inboxes:
                try:
                    targets[inbox] = host_of(inbox)
                except BadRequest:
                    continue
            if targets:
                await conn.executemany(
                    """INSERT INTO deliveries (host, inbox, activity_id) VALUES ($1, $2, $3)
                       ON CONFLICT DO NOTHING""",
                    [(host, inbox, activity_id) for inbox, host in targets.items()],
                )
                await JobQueue.enqueue_many(
                    conn,
                    DELIVER_HOST,
                    [{"host": h} for h in sorted(set(targets.values()))],
                    queue=DELIVERY_QUEUE,
                )
            removed = await activities_sql.tombstone_objects_of(conn, actor_id)
            await conn.execute("DELETE FROM blog_posts WHERE author_id = $1", actor_id)
            await follows_sql.delete_follows_of(conn, actor_id)
            await conn.execute("DELETE FROM group_roles WHERE actor_id = $1", actor_id)
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE actor_id = $1 "
                "AND revoked_at IS NULL",
                actor_id,
            )
            await conn.execute(
                "UPDATE people SET password_hash = $2 WHERE actor_id = $1", actor_id, DELETED_MARK
            )
            await conn.execute(
                "UPDATE actors SET suspended_at = coalesce(suspended_at, now()) WHERE id = $1",
                actor_id,
            )
        return DeletedAccount(person["uri"], removed, len(targets))

    async def transfer_group(self, group: str, to: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            group_id = await conn.fetchval(
                """SELECT a.id FROM actors a JOIN groups g ON g.actor_id = a.id
                   WHERE a.local AND a.username = $1""",
                group.lower(),
            )
            if group_id is None:
                raise NotFound(f"no local group named {group!r}")
            person = await _person(conn, to)
            if person["suspended_at"] is not None:
                raise Conflict(f"{to!r} is suspended and cannot own a group")
            # The former owner stays on as an administrator of the group.
            await conn.execute(
                """UPDATE group_roles SET role = $2 WHERE group_id = $1 AND role = 'owner'
                   AND actor_id <> $3""",
                group_id,
                GroupRole.ADMIN.value,
                person["id"],
            )
            await actors_sql.insert_group_role(conn, group_id, person["id"], GroupRole.OWNER)

    async def export(self, name: str) -> tuple[dict[str, Any], list[str]]:
        """A person's data as an ActivityStreams archive, and the digests of their uploads.

        Only what the person made (their actor, outbox, objects, blog posts, files) and their
        own follow lists: nothing that others sent them.
        """
        async with self._pool.acquire() as conn:
            person = await _person(conn, name)
            actor_id = person["id"]
            was_suspended = person["suspended_at"] is not None
            if was_suspended:  # the actor document is built from the visible row
                actor = None
            else:
                actor = await actors_sql.select_local_actor(conn, person["username"])
            fields, avatar = await profiles_sql.select_profile(conn, actor_id)
            outbox = await conn.fetch(
                "SELECT document FROM activities WHERE actor_id = $1 AND local ORDER BY id",
                actor_id,
            )
            objects = await conn.fetch(
                "SELECT document FROM objects WHERE author_id = $1 AND local ORDER BY id",
                actor_id,
            )
            posts = await conn.fetch(
                """SELECT b.key, b.uri, b.state, b.title, b.summary, b.source, b.source_type,
                          b.themes, b.attachment, b.created_at, b.updated_at, b.published_at,
                          g.uri AS group_uri
                   FROM blog_posts b LEFT JOIN actors g ON g.id = b.group_id
                   WHERE b.author_id = $1 ORDER BY b.id""",
                actor_id,
            )
            files = await conn.fetch(
                """SELECT f.id, f.key, f.object_uri, f.name, f.public, f.created_at,
                          s.uri AS space
                   FROM files f JOIN actors s ON s.id = f.space_id
                   WHERE f.local AND (f.uploader_id = $1 OR f.space_id = $1) ORDER BY f.id""",
                actor_id,
            )
            versions = await conn.fetch(
                """SELECT v.file_id, v.version, v.name, v.size, v.media_type, v.sha256,
                          v.created_at
                   FROM file_versions v JOIN files f ON f.id = v.file_id
                   WHERE f.local AND (f.uploader_id = $1 OR f.space_id = $1)
                     AND (v.uploader_id = $1 OR f.space_id = $1)
                   ORDER BY v.file_id, v.version""",
                actor_id,
            )
            following = await conn.fetch(
                """SELECT a.uri, f.state FROM follows f JOIN actors a ON a.id = f.followed_id
                   WHERE f.follower_id = $1 ORDER BY f.id""",
                actor_id,
            )
            followers = await conn.fetch(
                """SELECT a.uri, f.state FROM follows f JOIN actors a ON a.id = f.follower_id
                   WHERE f.followed_id = $1 ORDER BY f.id""",
                actor_id,
            )
        by_file: dict[int, list[dict[str, Any]]] = {}
        digests: list[str] = []
        for v in versions:
            entry = {
                "version": v["version"],
                "name": v["name"],
                "size": v["size"],
                "mediaType": v["media_type"],
                "sha256": v["sha256"],
                "created": _iso(v["created_at"]),
                "archivePath": f"files/{v['sha256']}",
            }
            by_file.setdefault(v["file_id"], []).append(entry)
            digests.append(v["sha256"])

        def collection(name: str, items: list[Any]) -> dict[str, Any]:
            return {
                "id": f"{person['uri']}/{name}",
                "type": "OrderedCollection",
                "totalItems": len(items),
                "orderedItems": items,
            }

        archive = {
            "@context": AS_CONTEXT,
            "type": "Collection",
            "summary": f"Export of {person['uri']}",
            "published": now_iso(),
            "actor": actor_document(actor, self._iris, Profile(fields, avatar))
            if actor is not None
            else {"id": person["uri"], "type": "Person", "preferredUsername": person["username"]},
            "suspended": was_suspended,
            "outbox": collection("outbox", [r["document"] for r in outbox]),
            "objects": collection("objects", [r["document"] for r in objects]),
            "blogPosts": [
                {
                    **{k: r[k] for k in ("key", "state", "title", "summary", "source", "themes")},
                    "id": r["uri"],
                    "sourceType": r["source_type"],
                    "attachment": r["attachment"],
                    "group": r["group_uri"],
                    "created": _iso(r["created_at"]),
                    "updated": _iso(r["updated_at"]),
                    "published": _iso(r["published_at"]),
                }
                for r in posts
            ],
            "files": [
                {
                    "id": r["object_uri"],
                    "key": r["key"],
                    "name": r["name"],
                    "space": r["space"],
                    "public": r["public"],
                    "created": _iso(r["created_at"]),
                    "versions": by_file.get(r["id"], []),
                }
                for r in files
            ],
            "following": collection(
                "following", [{"id": r["uri"], "state": r["state"]} for r in following]
            ),
            "followers": collection(
                "followers", [{"id": r["uri"], "state": r["state"]} for r in followers]
            ),
        }
        return archive, digests

    async def write_archive(self, archive: dict[str, Any], digests: list[str], output: Path) -> int:
        """JSON, or a zip (`archive.json` + `files/<sha256>`) when `output` ends in .zip, the
        bytes streamed from whichever blob store holds them; files written (the JSON counts as
        one). A blob that is missing from the store is left out."""
        body = orjson.dumps(archive, option=orjson.OPT_INDENT_2)
        if output.suffix.lower() != ".zip":
            await asyncio.to_thread(output.write_bytes, body)
            return 1
        written = 1
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive_zip:
            archive_zip.writestr("archive.json", body)
            for digest in dict.fromkeys(digests):
                try:
                    blob = await self._blobs.open(digest)
                except NotFound:
                    continue
                with archive_zip.open(f"files/{digest}", "w", force_zip64=True) as member:
                    async for chunk in blob.chunks():
                        member.write(chunk)
                written += 1
        return written


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat(timespec="seconds").replace("+00:00", "Z")
    return text


async def _inboxes_that_got_content(conn: Connection, actor_id: int) -> list[str]:
    """Remote inboxes that may hold the person's content or know of them: their followers,
    whom they follow (people and groups), the remote members of local groups they joined
    (which relayed their posts), and inboxes with deliveries of theirs still pending."""
    rows = await conn.fetch(
        """SELECT coalesce(a.shared_inbox, a.inbox) AS inbox
           FROM follows f JOIN actors a ON a.id = f.follower_id
           WHERE f.followed_id = $1 AND NOT a.local
           UNION
           SELECT coalesce(a.shared_inbox, a.inbox)
           FROM follows f JOIN actors a ON a.id = f.followed_id
           WHERE f.follower_id = $1 AND NOT a.local
           UNION
           SELECT coalesce(r.shared_inbox, r.inbox)
           FROM follows f JOIN actors g ON g.id = f.followed_id AND g.local AND g.type = 'Group'
           JOIN follows m ON m.followed_id = g.id AND m.state = 'accepted'
           JOIN actors r ON r.id = m.follower_id AND NOT r.local
           WHERE f.follower_id = $1
           UNION
           SELECT d.inbox FROM deliveries d JOIN activities x ON x.id = d.activity_id
           WHERE x.actor_id = $1""",
        actor_id,
    )
    return sorted(r["inbox"] for r in rows if r["inbox"])
