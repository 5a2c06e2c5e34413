"""Discussions in groups, ours and other instances': who may read them, starting and replying.

A discussion is a Note (or a Lemmy Page) filed under a group with its replies. A group of ours
files a member's post when it relays it; a group elsewhere, when its Announce reaches us. A
post a local person makes through these pages is filed at once, so that its thread can be
shown before the group's relay comes round.

Reading: a members-only group of ours shows nothing to non-members; otherwise public posts
are for everyone and posts addressed only to the group are for its members. Posting into a
members-only group addresses the group alone. A group elsewhere does not say whether it is
members-only, only whether it approves members (`manuallyApprovesFollowers`): posts into
such a group address it alone too, rather than risk making members-only talk public.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from federatie.activitypub.iris import AS_PUBLIC
from federatie.domain.actors import GroupKind, LocalActor
from federatie.errors import Forbidden, NotFound, Unprocessable
from federatie.storage import groups as sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime

MAX_TITLE = 200
MAX_TEXT = 20_000
PAGE_SIZE = 20
_PARAGRAPHS = re.compile(r"\n\s*\n")


def text_to_html(text: str) -> str:
    """Plain text as typed into a form: escaped, blank lines make paragraphs."""
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


@dataclass(frozen=True)
class GroupRef:
    """A Group actor, ours or another instance's, as the discussion pages need it."""

    id: int
    uri: str
    local: bool
    approves_members: bool
    members_only: bool  # known for our own groups only

    @classmethod
    def of_local(cls, group: LocalActor) -> GroupRef:
        return cls(
            group.id,
            group.uri,
            True,
            group.manually_approves_followers,
            group.group_kind is GroupKind.MEMBERS_ONLY,
        )


@dataclass(frozen=True)
class Standing:
    """What the person looking at a group may do there."""

    membership: sql.Membership | None  # None: not signed in

    @property
    def is_member(self) -> bool:
        return self.membership is not None and self.membership.is_member

    @property
    def is_staff(self) -> bool:
        return self.membership is not None and self.membership.role is not None


class Discussions:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def standing(self, group: GroupRef, person: LocalActor | None) -> Standing:
        if person is None:
            return Standing(None)
        async with self._rt.pool.acquire() as conn:
            return Standing(await sql.select_membership(conn, group.id, person.id))

    @staticmethod
    def can_read(group: GroupRef, standing: Standing) -> bool:
        return standing.is_member or not group.members_only

    async def discussions(
        self, group: GroupRef, standing: Standing, *, before: int | None
    ) -> list[sql.Post]:
        if not self.can_read(group, standing):
            return []
        async with self._rt.pool.acquire() as conn:
            return await sql.select_discussions(
                conn, group.id, with_private=standing.is_member, before=before, limit=PAGE_SIZE
            )

    async def thread(self, group: GroupRef, standing: Standing, root_id: int) -> list[sql.Post]:
        """The discussion's posts, opening post first; NotFound when it cannot be read."""
        posts: list[sql.Post] = []
        if self.can_read(group, standing):
            async with self._rt.pool.acquire() as conn:
                posts = await sql.select_thread(
                    conn, group.id, root_id, with_private=standing.is_member
                )
        if not posts:
            raise NotFound("no such discussion in this group")
        return posts

    async def start(self, person: LocalActor, group: GroupRef, title: str, text: str) -> int:
        """A new discussion by a member; the row id of its opening post."""
        title = " ".join(title.split())
        if not title or len(title) > MAX_TITLE:
            raise Unprocessable(f"the subject must have 1 to {MAX_TITLE} characters")
        return await self._post(person, group, text, name=title, parent=None)

    async def reply(self, person: LocalActor, group: GroupRef, parent_id: int, text: str) -> int:
        """A member's reply to a post of a discussion; the row id of the discussion."""
        async with self._rt.pool.acquire() as conn:
            parent = await sql.select_group_post(conn, group.id, parent_id)
        if parent is None:
            raise NotFound("no such post in this group")
        await self._post(person, group, text, name=None, parent=parent.uri)
        async with self._rt.pool.acquire() as conn:
            root = await sql.select_thread_root(conn, group.id, parent.uri)
        if root is None:
            raise NotFound("no such discussion in this group")
        return root

    async def _post(
        self,
        person: LocalActor,
        group: GroupRef,
        text: str,
        *,
        name: str | None,
        parent: str | None,
    ) -> int:
        if not text.strip() or len(text) > MAX_TEXT:
            raise Unprocessable(f"the message must have 1 to {MAX_TEXT} characters")
        standing = await self.standing(group, person)
        if not standing.is_member:
            raise Forbidden("only members can post in this group")
        private = group.members_only if group.local else group.approves_members
        addressing: dict[str, object] = (
            {"to": [group.uri]} if private else {"to": [AS_PUBLIC], "cc": [group.uri]}
        )
        note: dict[str, object] = {
            "type": "Note",
            "content": text_to_html(text),
            "audience": group.uri,
            **addressing,
        }
        if name is not None:
            note["name"] = name
        if parent is not None:
            note["inReplyTo"] = parent
        activity = await self._rt.publisher.publish(person, note)
        object_uri = activity.document["object"]["id"]
        async with self._rt.pool.acquire() as conn:
            return await sql.file_under_group(conn, object_uri, group.id)
