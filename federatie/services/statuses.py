"""Statuses from Mastodon apps, published through the Publisher (client-to-server).

A new status is a `Note` by the person, addressed as Mastodon addresses its visibilities,
with `h-card` mentions and hashtags, media as `attachment`, the content warning as `summary`
(`sensitive`), the language as `contentMap` and the text as `source`. A status that mentions a
group the author belongs to, or replies to a post in a group, is posted into that group: the
group is addressed and is the `audience` (FEP-1b12), so the group relays it to its members and
apps show it as the group's boost. An `Idempotency-Key` makes a retried request return the
status made the first time (for an hour). Favourites are `Like`s, boosts `Announce`s, both
undone with `Undo`; a Like of a post in a group goes to the group as well, which relays it.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from federatie.activitypub import statuses as text
from federatie.activitypub.statuses import Mentioned, Visibility
from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.errors import FederatieError, Forbidden, NotFound, Unprocessable
from federatie.services import media as media_service
from federatie.storage import actors as actors_sql
from federatie.storage import mastodon_accounts as accounts_sql
from federatie.storage import media as media_sql
from federatie.storage import statuses as sql
from federatie.storage.statuses import ActorBrief, Entry

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewStatus:
    """What an app sends to post a status (already parsed, not yet checked)."""

    text: str
    visibility: Visibility
    in_reply_to_id: int | None = None
    media_ids: list[int] = field(default_factory=list)
    sensitive: bool = False
    spoiler_text: str = ""
    language: str | None = None
    idempotency_key: str | None = None


class StatusService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # ------------------------------------------------------------------ reading

    async def entry(self, status_id: int, viewer: LocalActor | None) -> Entry:
        """A status the viewer may read; 404 (Mastodon's "Record not found") otherwise."""
        async with self._rt.pool.acquire() as conn:
            found = await sql.select_entry(conn, status_id, viewer.id if viewer else None)
        if found is None:
            raise NotFound("Record not found")
        return found

    async def _post(self, status_id: int, viewer: LocalActor) -> tuple[Entry, sql.Post]:
        found = await self.entry(status_id, viewer)
        async with self._rt.pool.acquire() as conn:
            post = (await sql.select_posts(conn, [found.object_id], viewer.id))[found.object_id]
        return found, post

    # ------------------------------------------------------------------ posting

    async def create(self, author: LocalActor, new: NewStatus) -> Entry:
        """Post a status (or return the one posted under the same Idempotency-Key)."""
        if new.idempotency_key:
            async with self._rt.pool.acquire() as conn, conn.transaction():
                await sql.lock_idempotency_key(conn, author.id, new.idempotency_key)
                made = await sql.select_idempotent(conn, author.id, new.idempotency_key)
                if made is None:
                    made = await self._create(author, new)
                    await sql.insert_idempotent(conn, author.id, new.idempotency_key, made)
        else:
            made = await self._create(author, new)
        async with self._rt.pool.acquire() as conn:
            post = (await sql.select_posts(conn, [made], author.id))[made]
        return Entry(post.status_id, sql.POST, made, None, None)

    async def _create(self, author: LocalActor, new: NewStatus) -> int:
        rt = self._rt
        content = new.text.strip()
        if not content and not new.media_ids:
            raise Unprocessable("Validation failed: Text can't be blank")
        if len(new.text) > text.MAX_CHARACTERS:
            raise Unprocessable(
                f"Validation failed: Text character limit of {text.MAX_CHARACTERS} exceeded"
            )
        if len(new.media_ids) > text.MAX_MEDIA:
            raise Unprocessable(f"Validation failed: at most {text.MAX_MEDIA} media per status")
        parent = await self._parent(author, new.in_reply_to_id)
        mentioned = await self._resolve_mentions(new.text)
        groups = await self._groups(author, mentioned, parent)
        async with rt.pool.acquire() as conn:
            media = await media_sql.select_unattached(conn, author.id, new.media_ids)
        if len(media) != len(set(new.media_ids)):
            raise Unprocessable("Validation failed: media not found or already attached")
        base_url = rt.config.base_url
        rendered = text.render_text(
            new.text, {key: m for key, (m, _) in mentioned.items()}, base_url
        )
        mention_uris = [m.uri for m, _ in mentioned.values()]
        recipients = list(dict.fromkeys([*mention_uris, *(g.uri for g in groups)]))
        if parent is not None and parent.author_uri not in recipients:
            recipients.append(parent.author_uri)
        recipients = [r for r in recipients if r != author.uri]
        addressing: dict[str, Any] = text.addressing(
            new.visibility, rt.iris.followers(author.uri), recipients
        )
        closed = [g for g in groups if g.members_only]
        if closed:  # a members-only group's posts never reach the public or outsiders
            addressing = {"to": [g.uri for g in closed], "cc": []}
        if groups:
            addressing["audience"] = groups[0].uri
        note: dict[str, Any] = {
            "type": "Note",
            "content": rendered,
            "source": {"content": new.text, "mediaType": "text/plain"},
            "tag": [
                *(
                    {"type": "Mention", "href": m.uri, "name": f"@{m.acct}"}
                    for m, _ in mentioned.values()
                ),
                *(
                    {"type": "Hashtag", "href": text.tag_url(base_url, t), "name": f"#{t}"}
                    for t in text.hashtags(new.text)
                ),
            ],
            "attachment": [media_service.attachment(base_url, m) for m in media],
            "sensitive": new.sensitive or bool(new.spoiler_text.strip()),
            **addressing,
        }
        if new.spoiler_text.strip():
            note["summary"] = html.escape(new.spoiler_text.strip(), quote=False)
        if new.language:
            note["contentMap"] = {new.language: rendered}
        if parent is not None:
            note["inReplyTo"] = parent.uri
        activity = await rt.publisher.publish(author, note)
        object_uri = activity.document["object"]["id"]
        async with rt.pool.acquire() as conn, conn.transaction():
            object_id = await sql.select_object_id_by_uri(conn, object_uri)
            assert object_id is not None
            await media_sql.attach(conn, [m.id for m in media], object_id)
        log.info(
            "status.created",
            extra={"object_id": object_uri, "groups": [g.uri for g in groups]},
        )
        return object_id

    async def _parent(self, viewer: LocalActor, status_id: int | None) -> _Parent | None:
        if status_id is None:
            return None
        found = await self.entry(status_id, viewer)
        async with self._rt.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT o.uri, a.uri AS author_uri, o.group_id FROM objects o
                   JOIN actors a ON a.id = o.author_id WHERE o.id = $1""",
                found.object_id,
            )
        assert row is not None
        return _Parent(row["uri"], row["author_uri"], row["group_id"])

    async def _resolve_mentions(
        self, status_text: str
    ) -> dict[tuple[str, str | None], tuple[Mentioned, ActorBrief]]:
        """Each `@name` (local) and `@name@host` the text names, as far as it can be found:
        known actors, else looked up with WebFinger. Unknown ones stay plain text."""
        rt = self._rt
        found: dict[tuple[str, str | None], tuple[Mentioned, ActorBrief]] = {}
        for name, host in text.mention_handles(status_text, rt.config.domain):
            async with rt.pool.acquire() as conn:
                actor_id = await accounts_sql.select_account_id_by_acct(
                    conn, name, host or rt.config.domain
                )
            if actor_id is None and host is not None:
                try:
                    actor_id = (await rt.lookup(f"@{name}@{host}")).id
                except FederatieError as exc:
                    log.info(
                        "status.mention_unresolved",
                        extra={"handle": f"@{name}@{host}", "error": exc.message},
                    )
            if actor_id is None:
                continue
            async with rt.pool.acquire() as conn:
                actor = await sql.select_actor_by_id(conn, actor_id)
            if actor is not None:
                found[(name, host)] = (
                    Mentioned(actor.uri, actor.url or actor.uri, actor.acct),
                    actor,
                )
        return found

    async def _groups(
        self,
        author: LocalActor,
        mentioned: dict[tuple[str, str | None], tuple[Mentioned, ActorBrief]],
        parent: _Parent | None,
    ) -> list[_Group]:
        """The groups this status goes into: mentioned groups the author belongs to, and the
        group of the post it answers."""
        candidates = [a.id for _, a in mentioned.values() if a.type == ActorType.GROUP.value]
        if parent is not None and parent.group_id is not None:
            candidates.append(parent.group_id)
        groups: list[_Group] = []
        async with self._rt.pool.acquire() as conn:
            for group_id in dict.fromkeys(candidates):
                if not await sql.is_member(conn, author.id, group_id):
                    continue
                group = await sql.select_actor_by_id(conn, group_id)
                if group is None:
                    continue
                local = await actors_sql.select_local_actor_by_uri(conn, group.uri)
                members_only = local is not None and local.group_kind is GroupKind.MEMBERS_ONLY
                groups.append(_Group(group.uri, members_only))
        return groups

    async def delete(self, author: LocalActor, status_id: int) -> Entry:
        """Delete one's own status everywhere (a `Delete` with a Tombstone)."""
        found, post = await self._post(status_id, author)
        if found.kind != sql.POST or post.author_id != author.id:
            raise NotFound("Record not found")
        await self._rt.publisher.publish(author, {"type": "Delete", "object": post.uri})
        return found

    # ------------------------------------------------------------------ reactions

    async def favourite(self, person: LocalActor, status_id: int) -> Entry:
        _, post = await self._post(status_id, person)
        if not post.favourited:
            like: dict[str, Any] = {"type": "Like", "object": post.uri}
            group_uri = await self._group_uri(post)
            if group_uri is not None:  # the group relays it to its members (FEP-1b12)
                author = await self._author_uri(post)
                like["to"] = [author, group_uri]
            await self._rt.publisher.publish(person, like)
        return _as_post(post)

    async def unfavourite(self, person: LocalActor, status_id: int) -> Entry:
        _, post = await self._post(status_id, person)
        await self._undo(person, post.uri, "Like")
        return _as_post(post)

    async def reblog(self, person: LocalActor, status_id: int) -> Entry:
        """Boost a post; a boost of it already made is returned as it is."""
        _, post = await self._post(status_id, person)
        if text.visibility_of(post.document) not in (Visibility.PUBLIC, Visibility.UNLISTED):
            raise Forbidden("This action is not allowed")
        async with self._rt.pool.acquire() as conn:
            uri = await sql.select_own_reaction(conn, person.id, post.uri, "Announce")
        if uri is None:
            announce = {"type": "Announce", "object": post.uri}
            uri = (await self._rt.publisher.publish(person, announce)).uri
        async with self._rt.pool.acquire() as conn:
            boost = await sql.select_reblog_entry(conn, uri)
        assert boost is not None
        return boost

    async def unreblog(self, person: LocalActor, status_id: int) -> Entry:
        _, post = await self._post(status_id, person)
        await self._undo(person, post.uri, "Announce")
        return _as_post(post)

    async def _undo(self, person: LocalActor, object_uri: str, kind: str) -> None:
        async with self._rt.pool.acquire() as conn:
            uri = await sql.select_own_reaction(conn, person.id, object_uri, kind)
        if uri is not None:
            await self._rt.publisher.publish(person, {"type": "Undo", "object": uri})

    async def _group_uri(self, post: sql.Post) -> str | None:
        if post.group_id is None:
            return None
        async with self._rt.pool.acquire() as conn:
            group = await sql.select_actor_by_id(conn, post.group_id)
        return group.uri if group else None

    async def _author_uri(self, post: sql.Post) -> str:
        async with self._rt.pool.acquire() as conn:
            author = await sql.select_actor_by_id(conn, post.author_id)
        if author is None:
            raise NotFound("Record not found")
        return author.uri


@dataclass(frozen=True)
class _Parent:
    uri: str
    author_uri: str
    group_id: int | None


@dataclass(frozen=True)
class _Group:
    uri: str
    members_only: bool


def _as_post(post: sql.Post) -> Entry:
    """The post itself (a reaction asked of a boost is a reaction to the post)."""
    return Entry(post.status_id, sql.POST, post.id, None, None)
