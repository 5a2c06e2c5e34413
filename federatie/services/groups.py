"""Themed groups across instances (FEP-1b12): membership, relaying members' posts, moderation.

A group lives on one instance. Joining is a Follow of the Group actor (Join is accepted too);
open groups accept at once, closed and members-only groups wait for a moderator. A member on
any instance posts by addressing the group (`audience`, `to` or `cc`, or a Mention as Mastodon
users do); the group checks membership and bans, files the post under itself and Announces
the activity, unchanged, to its followers: one delivery per shared inbox. Members-only groups
address everything to their followers collection, never to the public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from federatie.activitypub.iris import AS_PUBLIC
from federatie.activitypub.normalize import id_of
from federatie.domain.actors import ActorType, GroupKind, GroupRole, LocalActor
from federatie.errors import Forbidden, NotFound, Unprocessable
from federatie.federation.delivery import addressees, enqueue_fanout
from federatie.storage import activities as sql
from federatie.storage import actors as actors_sql
from federatie.storage import follows as follows_sql
from federatie.storage import groups as groups_sql
from federatie.storage.pool import Connection

if TYPE_CHECKING:
    from federatie.runtime import Runtime

# What a group announces when a member addresses it (FEP-1b12).
RELAYED_TYPES = frozenset({"Create", "Update", "Delete", "Like"})


def group_candidates(document: dict[str, Any]) -> list[str]:
    """Where an activity could name a group: addressing, `audience`, and Mention tags."""
    found = addressees(document)
    for source in (document, document.get("object")):
        if not isinstance(source, dict):
            continue
        tags = source.get("tag")
        for tag in tags if isinstance(tags, list) else [tags]:
            if isinstance(tag, dict) and tag.get("type") == "Mention":
                href = id_of(tag.get("href"))
                if href and href not in found:
                    found.append(href)
    return found


class GroupService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def addressed_local_group(
        self, conn: Connection, document: dict[str, Any]
    ) -> LocalActor | None:
        """The first local group an activity is addressed to, if any."""
        prefix = self._rt.iris.actor_uri_of_group("")
        for uri in group_candidates(document):
            if not uri.startswith(prefix):
                continue  # not one of our groups' ids: no need to ask the database
            actor = await actors_sql.select_local_actor_by_uri(conn, uri)
            if actor is not None and actor.type is ActorType.GROUP:
                return actor
        return None

    async def check_member(self, conn: Connection, group: LocalActor, author: str) -> None:
        """Forbidden unless `author` is a member in good standing (checked before storing)."""
        author_id = await self._rt.resolve_actor_id(conn, author)
        if await is_banned(conn, group.id, author_id):
            raise Forbidden(f"{author} is banned from {group.username}")
        if await follows_sql.select_follow_state(conn, author_id, group.id) != "accepted":
            raise Forbidden(f"{author} is not a member of {group.username}")

    async def relay(self, group: LocalActor, activity: dict[str, Any], author: str) -> str:
        """A member's activity addressed to `group`: file it under the group and Announce it.

        An author may still delete their own post in the group after leaving it.
        """
        async with self._rt.pool.acquire() as conn, conn.transaction():
            if not await self._own_post_deleted(conn, group, activity, author):
                await self.check_member(conn, group, author)
            object_uri = id_of(activity.get("object"))
            if activity.get("type") == "Create" and object_uri:
                await conn.execute(
                    "UPDATE objects SET group_id = $2 WHERE uri = $1 AND group_id IS NULL",
                    object_uri,
                    group.id,
                )
            await self._announce(conn, group, activity)
        return f"relayed by {group.username}"

    async def _own_post_deleted(
        self, conn: Connection, group: LocalActor, activity: dict[str, Any], author: str
    ) -> bool:
        if activity.get("type") != "Delete":
            return False
        return bool(
            await conn.fetchval(
                """SELECT 1 FROM objects o JOIN actors a ON a.id = o.author_id
                   WHERE o.uri = $1 AND o.group_id = $2 AND a.uri = $3""",
                id_of(activity.get("object")),
                group.id,
                author,
            )
        )

    async def _announce(
        self, conn: Connection, group: LocalActor, activity: dict[str, Any]
    ) -> None:
        followers = self._rt.iris.followers(group.uri)
        inner = {k: v for k, v in activity.items() if k != "@context"}
        members_only = group.group_kind is GroupKind.MEMBERS_ONLY
        to = [followers] if members_only else [AS_PUBLIC]
        cc = [] if members_only else [followers]
        announce = await self._rt.publisher.store(
            conn, group, {"type": "Announce", "object": inner, "to": to, "cc": cc}
        )
        await enqueue_fanout(conn, announce.id)
        # Mastodon does not understand Announce(Create(Note)): like Lemmy, also announce the
        # bare object, for public top-level posts only (announcing every comment floods
        # Mastodon timelines: Lemmy issues 2224, 3603).
        obj = activity.get("object")
        if (
            not members_only
            and activity.get("type") == "Create"
            and isinstance(obj, dict)
            and not obj.get("inReplyTo")
            and AS_PUBLIC in addressees(activity)
        ):
            bare = await self._rt.publisher.store(
                conn, group, {"type": "Announce", "object": obj["id"], "to": to, "cc": cc}
            )
            await enqueue_fanout(conn, bare.id)

    # ------------------------------------------------------------------ moderation

    async def _moderated(self, conn: Connection, moderator: str, group_name: str) -> LocalActor:
        group = await actors_sql.select_local_actor(conn, group_name.lower(), ActorType.GROUP)
        if group is None:
            raise NotFound(f"no group named {group_name!r}")
        role = await conn.fetchval(
            """SELECT r.role FROM group_roles r JOIN actors a ON a.id = r.actor_id
               WHERE r.group_id = $1 AND a.local AND a.username = $2""",
            group.id,
            moderator.lower(),
        )
        if role is None:
            raise Forbidden(f"{moderator} does not moderate {group.username}")
        return group

    async def pending(self, moderator: str, group_name: str) -> list[str]:
        """The actors waiting for approval, oldest first."""
        async with self._rt.pool.acquire() as conn:
            group = await self._moderated(conn, moderator, group_name)
            rows = await conn.fetch(
                """SELECT a.uri FROM follows f JOIN actors a ON a.id = f.follower_id
                   WHERE f.followed_id = $1 AND f.state = 'pending' ORDER BY f.id""",
                group.id,
            )
        return [row["uri"] for row in rows]

    async def decide(self, moderator: str, group_name: str, member: str, *, accept: bool) -> None:
        """A moderator approves or refuses a request to join; the requester's server is told."""
        async with self._rt.pool.acquire() as conn, conn.transaction():
            group = await self._moderated(conn, moderator, group_name)
            follow = await self._follow_of(conn, group, member)
            member_id = await sql.select_actor_id(conn, member)
            assert member_id is not None
            if accept:
                await follows_sql.set_follow_state(conn, member_id, group.id, "accepted")
            else:
                await follows_sql.delete_follow(conn, member_id, group.id)
            await self._rt.publisher.respond_to_follow(conn, group, follow, accept=accept)

    async def ban(
        self,
        moderator: str,
        group_name: str,
        member: str,
        *,
        delete_posts: bool,
        reason: str | None = None,
    ) -> int:
        """Ban a member: they leave, are told, cannot rejoin, and new posts are refused.

        With `delete_posts`, their posts in the group are deleted everywhere (announced
        Deletes); otherwise they stay. Returns how many posts were deleted.
        """
        async with self._rt.pool.acquire() as conn, conn.transaction():
            group = await self._moderated(conn, moderator, group_name)
            member_id = await sql.select_actor_id(conn, member)
            if member_id is None:
                raise NotFound(f"{member} is unknown here")
            moderator_id = await conn.fetchval(
                "SELECT id FROM actors WHERE local AND username = $1", moderator.lower()
            )
            await conn.execute(
                """INSERT INTO group_bans (group_id, actor_id, banned_by, reason)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                group.id,
                member_id,
                moderator_id,
                reason,
            )
            state = await follows_sql.select_follow_state(conn, member_id, group.id)
            if state is not None:
                follow = await self._follow_of(conn, group, member)
                await follows_sql.delete_follow(conn, member_id, group.id)
                await self._rt.publisher.respond_to_follow(conn, group, follow, accept=False)
            deleted = 0
            if delete_posts:
                posts = await conn.fetch(
                    """SELECT uri FROM objects WHERE group_id = $1 AND author_id = $2
                       AND deleted_at IS NULL ORDER BY id""",
                    group.id,
                    member_id,
                )
                for post in posts:
                    await self._delete_in_group(conn, group, post["uri"])
                deleted = len(posts)
        return deleted

    async def delete_post(self, moderator: str, group_name: str, object_uri: str) -> None:
        """A moderator removes a post from the group, on every member's instance."""
        async with self._rt.pool.acquire() as conn, conn.transaction():
            group = await self._moderated(conn, moderator, group_name)
            in_group = await conn.fetchval(
                "SELECT 1 FROM objects WHERE uri = $1 AND group_id = $2 AND deleted_at IS NULL",
                object_uri,
                group.id,
            )
            if not in_group:
                raise NotFound("no such post in this group")
            await self._delete_in_group(conn, group, object_uri)

    async def set_role(
        self, owner: str, group_name: str, member: str, role: GroupRole | None
    ) -> None:
        """The owner makes a local member an admin or moderator, or takes the role away."""
        if role is GroupRole.OWNER:
            raise Unprocessable("a group changes owner with `federatie admin group transfer`")
        async with self._rt.pool.acquire() as conn, conn.transaction():
            group = await self._moderated(conn, owner, group_name)
            owner_id = await actors_sql.select_person_id(conn, owner.lower())
            assert owner_id is not None
            if await groups_sql.select_group_role(conn, group.id, owner_id) != GroupRole.OWNER:
                raise Forbidden("only the group's owner gives and takes roles")
            ref = await sql.select_actor_ref(conn, member)
            if ref is None or not ref.local or ref.type != ActorType.PERSON.value:
                raise NotFound(f"{member} is not a local person")
            if ref.id == owner_id:
                raise Unprocessable("the owner keeps their role")
            if role is not None and (
                await follows_sql.select_follow_state(conn, ref.id, group.id) != "accepted"
            ):
                raise Unprocessable(f"{member} is not a member of {group.username}")
            await groups_sql.set_group_role(conn, group.id, ref.id, role.value if role else None)

    async def unban(self, moderator: str, group_name: str, member: str) -> None:
        """Lift a ban: the actor may ask to join again (nothing is sent to them)."""
        async with self._rt.pool.acquire() as conn:
            group = await self._moderated(conn, moderator, group_name)
            if not await groups_sql.delete_group_ban(conn, group.id, member):
                raise NotFound(f"{member} is not banned from {group.username}")

    async def bans(self, moderator: str, group_name: str) -> list[groups_sql.Ban]:
        async with self._rt.pool.acquire() as conn:
            group = await self._moderated(conn, moderator, group_name)
            return await groups_sql.select_group_bans(conn, group.id)

    async def reports(self, moderator: str, group_name: str) -> list[groups_sql.Report]:
        """Open reports (Flags) about the group or the posts filed under it."""
        async with self._rt.pool.acquire() as conn:
            group = await self._moderated(conn, moderator, group_name)
            return await groups_sql.select_group_reports(conn, group.id, group.uri)

    async def resolve_report(self, moderator: str, group_name: str, report_id: int) -> None:
        async with self._rt.pool.acquire() as conn:
            group = await self._moderated(conn, moderator, group_name)
            if not await groups_sql.resolve_group_report(conn, group.id, group.uri, report_id):
                raise NotFound("no open report about this group with that number")

    async def _delete_in_group(self, conn: Connection, group: LocalActor, object_uri: str) -> None:
        stored = await sql.select_object(conn, object_uri)
        assert stored is not None
        tombstone = {"id": object_uri, "type": "Tombstone", "formerType": stored.type}
        await sql.tombstone_object(conn, stored.id, tombstone)
        followers = self._rt.iris.followers(group.uri)
        # The author too: after a ban (or leaving) their instance may hold no member any more,
        # and would otherwise keep showing the post as filed under the group.
        delete = await self._rt.publisher.store(
            conn,
            group,
            {"type": "Delete", "object": object_uri, "to": [followers], "cc": [stored.author_uri]},
        )
        await enqueue_fanout(conn, delete.id)

    async def _follow_of(self, conn: Connection, group: LocalActor, member: str) -> dict[str, Any]:
        row = await conn.fetchrow(
            """SELECT f.activity_uri, i.body FROM follows f
               JOIN actors a ON a.id = f.follower_id
               LEFT JOIN inbox_activities i ON i.activity_uri = f.activity_uri
               WHERE f.followed_id = $1 AND a.uri = $2""",
            group.id,
            member,
        )
        if row is None:
            raise NotFound(f"{member} has not asked to join {group.username}")
        body: dict[str, Any] = row["body"] or {
            "id": row["activity_uri"],
            "type": "Follow",
            "actor": member,
            "object": group.uri,
        }
        return body


async def is_banned(conn: Connection, group_id: int, actor_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM group_bans WHERE group_id = $1 AND actor_id = $2", group_id, actor_id
        )
    )
