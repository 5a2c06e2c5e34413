"""SQL for people's profiles, avatars, the people directory and the groups a person is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federatie.domain.profiles import Avatar, ProfileFields
from federatie.storage.actors import _like_escaped
from federatie.storage.pool import Connection


def _fields(row: Any) -> ProfileFields:
    return ProfileFields(
        display_name=row["name"] or row["username"],
        bio=row["summary"],
        organisation=row["organisation"],
        job_title=row["job_title"],
        expertise=tuple(row["expertise"]),
        themes=tuple(row["themes"]),
    )


def _avatar(row: Any) -> Avatar | None:
    if row["avatar_sha256"] is None:
        return None
    return Avatar(
        row["avatar_sha256"], row["avatar_media_type"], row["avatar_width"], row["avatar_height"]
    )


_PROFILE_COLUMNS = """a.username, a.name, a.summary, p.organisation, p.job_title, p.expertise,
    p.themes, v.sha256 AS avatar_sha256, v.media_type AS avatar_media_type,
    v.width AS avatar_width, v.height AS avatar_height"""


async def select_profile(conn: Connection, person_id: int) -> tuple[ProfileFields, Avatar | None]:
    row = await conn.fetchrow(
        f"""SELECT {_PROFILE_COLUMNS}
            FROM actors a JOIN people p ON p.actor_id = a.id
            LEFT JOIN avatars v ON v.person_id = a.id
            WHERE a.id = $1""",
        person_id,
    )
    assert row is not None, f"person {person_id} has no profile"
    return _fields(row), _avatar(row)


async def update_profile(conn: Connection, person_id: int, fields: ProfileFields) -> None:
    await conn.execute(
        "UPDATE actors SET name = $2, summary = $3 WHERE id = $1",
        person_id,
        fields.display_name,
        fields.bio,
    )
    await conn.execute(
        """UPDATE people SET organisation = $2, job_title = $3, expertise = $4, themes = $5
           WHERE actor_id = $1""",
        person_id,
        fields.organisation,
        fields.job_title,
        list(fields.expertise),
        list(fields.themes),
    )


async def upsert_avatar(conn: Connection, person_id: int, avatar: Avatar, data: bytes) -> None:
    await conn.execute(
        """INSERT INTO avatars (person_id, sha256, media_type, width, height, data)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (person_id) DO UPDATE SET sha256 = EXCLUDED.sha256,
               media_type = EXCLUDED.media_type, width = EXCLUDED.width,
               height = EXCLUDED.height, data = EXCLUDED.data, updated_at = now()""",
        person_id,
        avatar.sha256,
        avatar.media_type,
        avatar.width,
        avatar.height,
        data,
    )


async def delete_avatar(conn: Connection, person_id: int) -> bool:
    status = await conn.execute("DELETE FROM avatars WHERE person_id = $1", person_id)
    return status.endswith(" 1")


async def select_avatar_data(conn: Connection, username: str) -> tuple[Avatar, bytes] | None:
    """A visible person's avatar and its bytes (suspended people show none)."""
    row = await conn.fetchrow(
        """SELECT v.sha256, v.media_type, v.width, v.height, v.data
           FROM avatars v JOIN actors a ON a.id = v.person_id
           WHERE a.local AND a.username = $1 AND a.suspended_at IS NULL""",
        username,
    )
    if row is None:
        return None
    return Avatar(row["sha256"], row["media_type"], row["width"], row["height"]), row["data"]


# ---------------------------------------------------------------------------- the directory


@dataclass(frozen=True)
class PersonCard:
    """A person as the directory lists them."""

    username: str
    fields: ProfileFields
    avatar: Avatar | None


# One condition per search word: each word must occur in some field of the person (an empty
# field is no match, not an unknown one, hence the coalesce).
_MATCHES_WORD = """coalesce(a.username ILIKE w OR a.name ILIKE w OR p.organisation ILIKE w
    OR p.job_title ILIKE w OR EXISTS (SELECT 1 FROM unnest(p.expertise) e WHERE e ILIKE w)
    OR EXISTS (SELECT 1 FROM unnest(p.themes) t WHERE t ILIKE w), false)"""
_SORT_KEY = "lower(coalesce({t}.name, {t}.username)), {t}.username"


async def select_directory(
    conn: Connection,
    *,
    words: list[str],
    organisation: str | None,
    theme: str | None,
    expertise: str | None,
    after: str | None,
    limit: int,
) -> list[PersonCard]:
    """Visible local people by name, each search word found somewhere in their profile,
    filtered by organisation, theme and expertise (exact, case-insensitive); keyset-paged
    by name after the person named `after`."""
    rows = await conn.fetch(
        f"""SELECT {_PROFILE_COLUMNS}
            FROM actors a JOIN people p ON p.actor_id = a.id
            LEFT JOIN avatars v ON v.person_id = a.id
            WHERE a.local AND a.type = 'Person' AND a.suspended_at IS NULL
              AND p.approved_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) w WHERE NOT {_MATCHES_WORD})
              AND ($2::text IS NULL OR lower(p.organisation) = lower($2))
              AND ($3::text IS NULL OR $3 = ANY(p.themes))
              AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM unnest(p.expertise) e
                                               WHERE lower(e) = lower($4)))
              AND ($5::text IS NULL OR ({_SORT_KEY.format(t="a")}) > (
                  SELECT {_SORT_KEY.format(t="x")} FROM actors x
                  WHERE x.local AND x.username = $5))
            ORDER BY {_SORT_KEY.format(t="a")} LIMIT $6""",
        [f"%{_like_escaped(word)}%" for word in words],
        organisation,
        theme,
        expertise,
        after,
        limit,
    )
    return [PersonCard(r["username"], _fields(r), _avatar(r)) for r in rows]


async def select_organisations(conn: Connection) -> list[str]:
    """The organisations visible people name, for the directory's filter."""
    rows = await conn.fetch(
        """SELECT min(p.organisation) AS organisation
           FROM people p JOIN actors a ON a.id = p.actor_id
           WHERE a.suspended_at IS NULL AND p.approved_at IS NOT NULL
             AND p.organisation IS NOT NULL
           GROUP BY lower(p.organisation) ORDER BY lower(p.organisation)"""
    )
    return [r["organisation"] for r in rows]


# ---------------------------------------------------------------------------- groups, follows


@dataclass(frozen=True)
class GroupLink:
    """A group a person belongs to, local or on another instance."""

    uri: str
    username: str
    host: str
    name: str | None
    local: bool


async def select_groups_of(
    conn: Connection, person_id: int, viewer_id: int | None
) -> list[GroupLink]:
    """The groups a person is a member or staff of, as `viewer_id` may see them.

    Who belongs to a members-only group is itself members-only: such local groups (and
    remote groups that approve their members, whose kind we cannot know) are listed only to
    the person themself and to fellow members.
    """
    rows = await conn.fetch(
        """WITH mine AS (
               SELECT followed_id AS group_id FROM follows
               WHERE follower_id = $1 AND state = 'accepted'
               UNION
               SELECT group_id FROM group_roles WHERE actor_id = $1)
           SELECT g.uri, g.username, g.host, g.name, g.local
           FROM mine JOIN actors g ON g.id = mine.group_id
           LEFT JOIN groups k ON k.actor_id = g.id
           WHERE g.type = 'Group' AND g.suspended_at IS NULL
             AND ($2::bigint = $1
                  OR (g.local AND k.kind <> 'members_only')
                  OR (NOT g.local AND NOT g.manually_approves_followers)
                  OR EXISTS (SELECT 1 FROM follows v WHERE v.follower_id = $2
                             AND v.followed_id = g.id AND v.state = 'accepted')
                  OR EXISTS (SELECT 1 FROM group_roles r WHERE r.actor_id = $2
                             AND r.group_id = g.id))
           ORDER BY lower(coalesce(g.name, g.username)), g.uri""",
        person_id,
        viewer_id,
    )
    return [GroupLink(r["uri"], r["username"], r["host"], r["name"], r["local"]) for r in rows]


async def select_follow(
    conn: Connection, follower_id: int, followed_id: int
) -> tuple[str, str | None] | None:
    """(state, the Follow activity's id) of one follow, or None."""
    row = await conn.fetchrow(
        "SELECT state, activity_uri FROM follows WHERE follower_id = $1 AND followed_id = $2",
        follower_id,
        followed_id,
    )
    return (row["state"], row["activity_uri"]) if row else None
