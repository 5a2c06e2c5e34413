"""Blogs: a person's blog and each group's blog, written as drafts and published as Articles.

A post starts as a draft (or is published at once). A draft is a row in `blog_posts` only:
it has no object, no activity and no job, so nothing can deliver or serve it; only its
author sees it (the API with their bearer token). Publishing stores the `Article` (see
`federatie.activitypub.articles`) and its `Create` and queues the fan-out, in one
transaction; editing a published post stores an `Update`, deleting it a `Delete` and a
Tombstone. A person's posts go to the public and their followers. A group's posts are
written by members, published by the author and addressed to the group (`cc` and
`audience`; members-only groups: `to` the group only), so the group relays them to its
members (FEP-1b12) and announces public top-level posts as the bare Article, which
Mastodon shows. The group may live on another instance: a member of it here writes into its
blog the same way (its membership is the accepted Follow of the group); as such a group does
not say whether it is members-only, a post into one that approves its members is addressed to
the group alone, as discussions are. Comments are ordinary replies (`inReplyTo` the Article)
from anywhere.

The HTTP API on top of this service is documented in `federatie.web.blogs`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from federatie.activitypub.articles import (
    ARTICLE_CONTEXT,
    article_document,
    hashtag,
    page_url,
    render_content,
    summary_html,
)
from federatie.activitypub.iris import AS_PUBLIC
from federatie.domain.actors import ActorType, GroupKind, LocalActor
from federatie.domain.blogs import PostFields, apply_changes, parse_new_post
from federatie.errors import Conflict, Forbidden, Gone, NotFound, Unprocessable
from federatie.federation.delivery import addressees, enqueue_fanout
from federatie.services.publishing import is_public, now_iso
from federatie.storage import activities as activities_sql
from federatie.storage import actors as actors_sql
from federatie.storage import blogs as sql
from federatie.storage import follows as follows_sql
from federatie.storage import remote_actors as remote_sql
from federatie.storage.blogs import BlogPost, Comment, JoinedGroup
from federatie.storage.pool import Connection
from federatie.storage.remote_actors import RemoteActorRow

if TYPE_CHECKING:
    from federatie.runtime import Runtime

_ADDRESSING = ("to", "cc", "audience")
THREAD_LIMIT = 1000
# A blog's group: one of ours, or one elsewhere that people here joined.
Group = LocalActor | RemoteActorRow


@dataclass(frozen=True)
class PostPage:
    """What the HTML page of a post shows."""

    post: BlogPost
    article: dict[str, Any]  # the Article as served (a draft: as it would be published)
    comments: list[Comment]


class BlogService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # ------------------------------------------------------------------ writing

    async def create(
        self, author: LocalActor, body: Mapping[str, Any], *, group: Group | None = None
    ) -> BlogPost:
        """A new post in the author's blog, or in `group`'s blog (members only)."""
        fields, publish = parse_new_post(body)
        if group is not None and group.type != ActorType.GROUP:
            raise NotFound("no such group")
        key = secrets.token_hex(12)
        async with self._rt.pool.acquire() as conn, conn.transaction():
            if group is not None:
                await self._check_member(conn, group, author)
            await sql.insert_post(
                conn,
                key=key,
                uri=self._rt.iris.object(key),
                author_id=author.id,
                group_id=group.id if group else None,
                fields=fields,
            )
            post = await self._load(conn, key, for_update=True)
            if publish:
                await self._publish(conn, post, author)
            return await self._load(conn, key)

    async def edit(
        self, author: LocalActor, key: str, body: Mapping[str, Any], *, replace_all: bool
    ) -> BlogPost:
        """Change a post; a published one federates an Update."""
        async with self._rt.pool.acquire() as conn, conn.transaction():
            post = self._own(await self._load(conn, key, for_update=True), author)
            fields = apply_changes(post.fields, body, replace_all=replace_all)
            if not post.draft:
                self._require_content(fields)
            await sql.update_fields(conn, post.id, fields)
            if not post.draft:
                await self._federate_update(conn, await self._load(conn, key), author)
            return await self._load(conn, key)

    async def publish(self, author: LocalActor, key: str) -> BlogPost:
        async with self._rt.pool.acquire() as conn, conn.transaction():
            post = self._own(await self._load(conn, key, for_update=True), author)
            if not post.draft:
                raise Conflict("this post is already published")
            await self._publish(conn, post, author)
            return await self._load(conn, key)

    async def delete(self, author: LocalActor, key: str) -> None:
        """A draft just goes; a published post becomes a Tombstone, and a Delete federates."""
        async with self._rt.pool.acquire() as conn, conn.transaction():
            post = self._own(await self._load(conn, key, for_update=True), author)
            if not post.draft:
                stored = await activities_sql.select_object(conn, post.uri)
                if stored is not None and stored.deleted_at is None:
                    tombstone = {
                        "id": stored.uri,
                        "type": "Tombstone",
                        "formerType": stored.type,
                        "deleted": now_iso(),
                    }
                    await activities_sql.tombstone_object(conn, stored.id, tombstone)
                    addressing = _addressing_of(stored.document)
                    activity = await self._rt.publisher.store(
                        conn, author, {"type": "Delete", "object": tombstone, **addressing}
                    )
                    await enqueue_fanout(conn, activity.id)
            await sql.delete_post(conn, post.id)

    async def _publish(self, conn: Connection, post: BlogPost, author: LocalActor) -> None:
        self._require_content(post.fields)
        group = await self._group_of(conn, post, author)
        article = self._article(post, group, published=now_iso(), updated=None)
        created = await activities_sql.insert_object(
            conn,
            uri=post.uri,
            type_="Article",
            author_id=author.id,
            local=True,
            in_reply_to=None,
            group_id=group.id if group else None,
            public=is_public(article),
            recipients=addressees(article),
            published=None,
            document=article,
        )
        if created is None:
            raise Conflict("this post was published before")
        await self._announce(conn, author, "Create", article)
        await sql.mark_published(conn, post.id)

    async def _federate_update(self, conn: Connection, post: BlogPost, author: LocalActor) -> None:
        stored = await activities_sql.select_object(conn, post.uri)
        if stored is None or stored.deleted_at is not None:
            raise Gone("this post was deleted")
        group = await self._group_of(conn, post, author)
        published = stored.document.get("published")
        article = self._article(
            post,
            group,
            published=published if isinstance(published, str) else now_iso(),
            updated=now_iso(),
            # An edit never changes who the post is for.
            addressing=_addressing_of(stored.document),
        )
        await activities_sql.update_object(conn, stored.id, article)
        await self._announce(conn, author, "Update", article)

    async def _announce(
        self, conn: Connection, author: LocalActor, kind: str, article: dict[str, Any]
    ) -> None:
        """Store Create or Update of the Article and queue its fan-out."""
        wire = {k: v for k, v in article.items() if k != "@context"}
        addressing = _addressing_of(article)
        activity = await self._rt.publisher.store(
            conn,
            author,
            {"@context": ARTICLE_CONTEXT, "type": kind, "object": wire, **addressing},
        )
        await enqueue_fanout(conn, activity.id)

    # ------------------------------------------------------------------ reading

    async def get(self, author: LocalActor, key: str) -> BlogPost:
        """A post as its author edits it (drafts included)."""
        async with self._rt.pool.acquire() as conn:
            return self._own(await self._load(conn, key), author)

    async def page(self, key: str, viewer: LocalActor | None) -> PostPage:
        """A post for its HTML page: published and public or readable by `viewer` (a
        members-only group's post by its members), or any post of `viewer`'s own; with the
        comments `viewer` may read.

        NotFound for drafts of others and posts `viewer` may not read; Gone once deleted.
        """
        async with self._rt.pool.acquire() as conn:
            post = await sql.select_post(conn, key)
            if post is None:
                stored = await activities_sql.select_object(conn, self._rt.iris.object(key))
                if stored is not None and stored.local and stored.deleted_at is not None:
                    raise Gone("this post was deleted")
                raise NotFound("no such post")
            own = viewer is not None and viewer.id == post.author_id
            if not own and post.draft:
                raise NotFound("no such post")
            if not (own or post.public) and (
                viewer is None or not await sql.is_readable(conn, post.uri, viewer.id)
            ):
                raise NotFound("no such post")
            if post.deleted_at is not None:
                raise Gone("this post was deleted")
            if post.draft:
                group = await self._group_of(conn, post, None)
                article = self._article(post, group, published=now_iso(), updated=None)
                return PostPage(post, article, [])
            stored = await activities_sql.select_object(conn, post.uri)
            assert stored is not None
            comments = await sql.select_thread(
                conn, post.uri, viewer.id if viewer else None, limit=THREAD_LIMIT
            )
        return PostPage(post, stored.document, comments)

    async def list_person(
        self, person: LocalActor, viewer: LocalActor | None, *, max_id: int | None, limit: int
    ) -> list[BlogPost]:
        """A person's own blog; to the person themself with every draft of theirs too."""
        async with self._rt.pool.acquire() as conn:
            return await sql.select_posts(
                conn,
                author_id=person.id,
                drafts_of=person.id if viewer and viewer.id == person.id else None,
                max_id=max_id,
                limit=limit,
            )

    async def list_drafts(self, author: LocalActor, *, limit: int) -> list[BlogPost]:
        """Every draft of the author's, their group posts' too, newest first."""
        async with self._rt.pool.acquire() as conn:
            return await sql.select_posts(conn, drafts_of=author.id, max_id=None, limit=limit)

    async def list_group(
        self, group: LocalActor, viewer: LocalActor | None, *, max_id: int | None, limit: int
    ) -> list[BlogPost]:
        """The group's posts that `viewer` may read (its members: a members-only group's)."""
        async with self._rt.pool.acquire() as conn:
            return await sql.select_posts(
                conn,
                group_id=group.id,
                viewer_id=viewer.id if viewer else None,
                max_id=max_id,
                limit=limit,
            )

    async def group(self, uri: str) -> Group:
        """A group by its id: ours, or one from elsewhere already known here."""
        async with self._rt.pool.acquire() as conn:
            return await self._group_by_uri(conn, uri)

    async def joined_groups(self, author: LocalActor) -> list[JoinedGroup]:
        """The groups whose blogs `author` may write in."""
        async with self._rt.pool.acquire() as conn:
            return await sql.select_joined_groups(conn, author.id)

    async def likes(self, post: BlogPost, viewer: LocalActor | None) -> tuple[int, str | None]:
        """How many like the post, and the viewer's own Like of it (to undo), if any."""
        async with self._rt.pool.acquire() as conn:
            count = await sql.count_likes(conn, post.uri)
            own = await sql.select_own_like(conn, viewer.id, post.uri) if viewer else None
        return count, own

    def view(self, post: BlogPost) -> dict[str, Any]:
        """The API's JSON for a post."""
        base = self._rt.config.base_url
        fields = post.fields
        return {
            "key": post.key,
            "id": post.uri,
            "url": page_url(base, post.key),
            "state": post.state,
            "title": fields.title,
            "summary": fields.summary,
            "format": "markdown" if fields.source_type == "text/markdown" else "html",
            "source": fields.content,
            "content": render_content(fields.content, fields.source_type),
            "themes": list(fields.themes),
            "attachment": list(fields.attachment),
            "author": post.author_uri,
            "group": post.group_uri,
            "created": _iso(post.created_at),
            "updated": _iso(post.updated_at),
            "published": _iso(post.published_at) if post.published_at else None,
            "deleted": post.deleted_at is not None,
        }

    # ------------------------------------------------------------------ helpers

    async def _load(self, conn: Connection, key: str, *, for_update: bool = False) -> BlogPost:
        post = await sql.select_post(conn, key, for_update=for_update)
        if post is None:
            raise NotFound("no such post")
        return post

    @staticmethod
    def _own(post: BlogPost, author: LocalActor) -> BlogPost:
        if post.author_id != author.id:
            if post.draft or not post.public:
                raise NotFound("no such post")  # a draft is nobody else's business
            raise Forbidden("only the author may change a post")
        return post

    @staticmethod
    def _require_content(fields: PostFields) -> None:
        if not fields.content.strip():
            raise Unprocessable("a published post needs content")

    async def _group_of(
        self, conn: Connection, post: BlogPost, author: LocalActor | None
    ) -> Group | None:
        """The post's group; with `author`, who must (still) be a member to post in it."""
        if post.group_uri is None:
            return None
        group = await self._group_by_uri(conn, post.group_uri)
        if author is not None:
            await self._check_member(conn, group, author)
        return group

    @staticmethod
    async def _group_by_uri(conn: Connection, uri: str) -> Group:
        group: Group | None = await actors_sql.select_local_actor_by_uri(conn, uri)
        if group is None:
            group = await remote_sql.select_remote_actor(conn, uri)
        if group is None or group.type != ActorType.GROUP:
            raise NotFound("no such group")
        return group

    async def _check_member(self, conn: Connection, group: Group, author: LocalActor) -> None:
        if isinstance(group, LocalActor):
            await self._rt.groups.check_member(conn, group, author.uri)
        elif await follows_sql.select_follow_state(conn, author.id, group.id) != "accepted":
            raise Forbidden(f"{author.uri} is not a member of {group.uri}")

    def _addressing(self, post: BlogPost, group: Group | None) -> dict[str, Any]:
        if group is None:
            return {"to": [AS_PUBLIC], "cc": [self._rt.iris.followers(post.author_uri)]}
        if isinstance(group, LocalActor):
            private = group.group_kind is GroupKind.MEMBERS_ONLY
        else:
            private = group.manually_approves_followers
        if private:
            return {"to": [group.uri], "audience": group.uri}
        return {"to": [AS_PUBLIC], "cc": [group.uri], "audience": group.uri}

    def _article(
        self,
        post: BlogPost,
        group: Group | None,
        *,
        published: str,
        updated: str | None,
        addressing: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        base = self._rt.config.base_url
        fields = post.fields
        content = render_content(fields.content, fields.source_type)
        return article_document(
            uri=post.uri,
            url=page_url(base, post.key),
            author=post.author_uri,
            title=fields.title,
            summary=summary_html(fields.summary, content),
            content=content,
            source=fields.content,
            source_type=fields.source_type,
            tags=[hashtag(base, theme) for theme in fields.themes],
            attachment=fields.attachment,
            published=published,
            updated=updated,
            addressing=addressing if addressing is not None else self._addressing(post, group),
        )


def _addressing_of(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: document[k] for k in _ADDRESSING if k in document}


def _iso(moment: datetime) -> str:
    text: str = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return text
