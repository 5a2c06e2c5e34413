"""SQL for media attachments of statuses (the Mastodon API's media)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from federatie.storage.pool import Connection


@dataclass(frozen=True)
class Media:
    id: int
    key: str
    owner_id: int
    object_id: int | None
    position: int
    media_type: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    thumbnail_sha256: str | None
    thumbnail_media_type: str | None
    description: str | None
    created_at: datetime


_COLUMNS = """id, key, owner_id, object_id, position, media_type, size, sha256, width, height,
    thumbnail_sha256, thumbnail_media_type, description, created_at"""


async def insert_media(
    conn: Connection,
    *,
    key: str,
    owner_id: int,
    media_type: str,
    size: int,
    sha256: str,
    width: int | None,
    height: int | None,
    thumbnail_sha256: str | None,
    thumbnail_media_type: str | None,
    description: str | None,
) -> Media:
    row = await conn.fetchrow(
        f"""INSERT INTO media_attachments (key, owner_id, media_type, size, sha256, width,
                                           height, thumbnail_sha256, thumbnail_media_type,
                                           description)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}""",
        key,
        owner_id,
        media_type,
        size,
        sha256,
        width,
        height,
        thumbnail_sha256,
        thumbnail_media_type,
        description,
    )
    assert row is not None
    return Media(**dict(row))


async def select_media(conn: Connection, media_id: int) -> Media | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM media_attachments WHERE id = $1", media_id)
    return Media(**dict(row)) if row else None


async def select_media_by_key(conn: Connection, key: str) -> Media | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM media_attachments WHERE key = $1", key)
    return Media(**dict(row)) if row else None


async def select_unattached(conn: Connection, owner_id: int, ids: Sequence[int]) -> list[Media]:
    """The owner's media among `ids` that belong to no status yet, in the order of `ids`."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM media_attachments
            WHERE owner_id = $1 AND id = ANY($2::bigint[]) AND object_id IS NULL""",
        owner_id,
        list(ids),
    )
    by_id = {row["id"]: Media(**dict(row)) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def attach(conn: Connection, ids: Sequence[int], object_id: int) -> None:
    await conn.execute(
        """UPDATE media_attachments m SET object_id = $2, position = p.position
           FROM unnest($1::bigint[]) WITH ORDINALITY AS p(id, position)
           WHERE m.id = p.id""",
        list(ids),
        object_id,
    )


async def select_attached(conn: Connection, object_ids: Sequence[int]) -> dict[int, list[Media]]:
    """The media of these statuses, in their order."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM media_attachments WHERE object_id = ANY($1::bigint[])
            ORDER BY object_id, position""",
        list(set(object_ids)),
    )
    found: dict[int, list[Media]] = {}
    for row in rows:
        found.setdefault(row["object_id"], []).append(Media(**dict(row)))
    return found


async def update_description(
    conn: Connection, media_id: int, owner_id: int, description: str | None
) -> Media | None:
    """Change the description of an unattached medium (a posted status is edited instead)."""
    row = await conn.fetchrow(
        f"""UPDATE media_attachments SET description = $3
            WHERE id = $1 AND owner_id = $2 AND object_id IS NULL RETURNING {_COLUMNS}""",
        media_id,
        owner_id,
        description,
    )
    return Media(**dict(row)) if row else None


async def delete_unattached_before(conn: Connection, cutoff: datetime) -> list[str]:
    """Media uploaded before `cutoff` that no status took: removed; the digests they used
    (to collect the blobs)."""
    rows = await conn.fetch(
        """DELETE FROM media_attachments WHERE object_id IS NULL AND created_at < $1
           RETURNING sha256, thumbnail_sha256""",
        cutoff,
    )
    return [d for row in rows for d in (row["sha256"], row["thumbnail_sha256"]) if d]
