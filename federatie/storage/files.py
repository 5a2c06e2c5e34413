"""SQL for files, their versions and folders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from federatie.storage.pool import Connection

# ---------------------------------------------------------------------------- locks


async def lock_space(conn: Connection, space_id: int) -> None:
    """Serialise uploads into one file space (the quota check and the insert), per transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"files:{space_id}")


async def lock_blob(conn: Connection, sha256: str) -> None:
    """Serialise storing and collecting one blob: a blob is deleted only while no transaction
    that is about to reference it can be between its `put` and its commit."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"blob:{sha256}")


# ---------------------------------------------------------------------------- folders


@dataclass(frozen=True)
class Folder:
    id: int
    key: str
    space_id: int
    name: str
    created_at: datetime
    files: int = 0


async def insert_folder(
    conn: Connection, key: str, space_id: int, name: str, created_by: int
) -> Folder | None:
    """A new folder; None when the space has one of that name (case-insensitive)."""
    row = await conn.fetchrow(
        """INSERT INTO file_folders (key, space_id, name, created_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING id, key, space_id, name, created_at""",
        key,
        space_id,
        name,
        created_by,
    )
    return Folder(**dict(row)) if row else None


async def select_folder(conn: Connection, space_id: int, key: str) -> Folder | None:
    row = await conn.fetchrow(
        """SELECT id, key, space_id, name, created_at FROM file_folders
           WHERE space_id = $1 AND key = $2""",
        space_id,
        key,
    )
    return Folder(**dict(row)) if row else None


async def select_folders(conn: Connection, space_id: int) -> list[Folder]:
    rows = await conn.fetch(
        """SELECT d.id, d.key, d.space_id, d.name, d.created_at,
                  (SELECT count(*) FROM files f WHERE f.folder_id = d.id) AS files
           FROM file_folders d WHERE d.space_id = $1 ORDER BY lower(d.name)""",
        space_id,
    )
    return [Folder(**dict(row)) for row in rows]


# ---------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileRow:
    id: int
    key: str
    local: bool
    object_uri: str
    space_id: int
    space_uri: str
    space_type: str
    space_followers: str | None
    group_kind: str | None
    folder_key: str | None
    uploader_id: int
    uploader_uri: str
    name: str
    public: bool
    created_at: datetime
    updated_at: datetime


_FILE_COLUMNS = """f.id, f.key, f.local, f.object_uri, f.space_id, s.uri AS space_uri,
    s.type AS space_type, s.followers AS space_followers, g.kind AS group_kind,
    d.key AS folder_key, f.uploader_id, u.uri AS uploader_uri, f.name, f.public,
    f.created_at, f.updated_at"""
_FILE_FROM = """files f JOIN actors s ON s.id = f.space_id JOIN actors u ON u.id = f.uploader_id
    LEFT JOIN groups g ON g.actor_id = f.space_id LEFT JOIN file_folders d ON d.id = f.folder_id"""


async def insert_file(
    conn: Connection,
    *,
    key: str,
    local: bool,
    object_uri: str,
    space_id: int,
    folder_id: int | None,
    uploader_id: int,
    name: str,
    public: bool,
) -> int | None:
    """None when a file for this object exists (a remote Create seen twice)."""
    file_id: int | None = await conn.fetchval(
        """INSERT INTO files (key, local, object_uri, space_id, folder_id, uploader_id, name,
                              public)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (object_uri) DO NOTHING RETURNING id""",
        key,
        local,
        object_uri,
        space_id,
        folder_id,
        uploader_id,
        name,
        public,
    )
    return file_id


async def select_file(conn: Connection, key: str, *, local: bool) -> FileRow | None:
    row = await conn.fetchrow(
        f"SELECT {_FILE_COLUMNS} FROM {_FILE_FROM} WHERE f.key = $1 AND f.local = $2", key, local
    )
    return FileRow(**dict(row)) if row else None


async def select_file_by_object(conn: Connection, object_uri: str) -> FileRow | None:
    row = await conn.fetchrow(
        f"SELECT {_FILE_COLUMNS} FROM {_FILE_FROM} WHERE f.object_uri = $1", object_uri
    )
    return FileRow(**dict(row)) if row else None


async def rename_file(conn: Connection, file_id: int, name: str) -> None:
    await conn.execute(
        "UPDATE files SET name = $2, updated_at = now() WHERE id = $1", file_id, name
    )


async def delete_file(conn: Connection, file_id: int) -> list[str]:
    """Remove a file and its versions; the digests they used (to collect the blobs)."""
    rows = await conn.fetch(
        "SELECT sha256, thumbnail_sha256 FROM file_versions WHERE file_id = $1", file_id
    )
    await conn.execute("DELETE FROM files WHERE id = $1", file_id)
    return _digests(rows)


async def delete_remote_files_of_deleted_objects(conn: Connection, uri: str) -> list[str]:
    """Cached remote files whose object (or whose uploader, for a deleted actor) is `uri` and
    is now a Tombstone: removed; the digests their versions used."""
    rows = await conn.fetch(
        """WITH candidates AS (
               SELECT f.id, f.object_uri FROM files f WHERE f.object_uri = $1 AND NOT f.local
               UNION ALL
               SELECT f.id, f.object_uri FROM files f JOIN actors u ON u.id = f.uploader_id
               WHERE u.uri = $1 AND NOT f.local
           ), gone AS (
               SELECT c.id FROM candidates c JOIN objects o ON o.uri = c.object_uri
               WHERE o.deleted_at IS NOT NULL
           ), used AS (
               SELECT v.sha256, v.thumbnail_sha256 FROM file_versions v
               WHERE v.file_id IN (SELECT id FROM gone)
           ), removed AS (
               DELETE FROM files WHERE id IN (SELECT id FROM gone)
           )
           SELECT * FROM used""",
        uri,
    )
    return _digests(rows)


async def space_usage(conn: Connection, space_id: int) -> int:
    """Bytes of every version of the space's own files (what the quota counts)."""
    used: int = await conn.fetchval(
        """SELECT coalesce(sum(v.size), 0)::bigint FROM file_versions v
           JOIN files f ON f.id = v.file_id WHERE f.space_id = $1 AND f.local""",
        space_id,
    )
    return used


async def digest_in_use(conn: Connection, sha256: str) -> bool:
    """Whether a file version or a status's media (migration 0011) still uses the blob."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM file_versions WHERE sha256 = $1 AND stored)
                   OR EXISTS (SELECT 1 FROM file_versions WHERE thumbnail_sha256 = $1)
                   OR EXISTS (SELECT 1 FROM media_attachments
                              WHERE sha256 = $1 OR thumbnail_sha256 = $1)""",
            sha256,
        )
    )


FolderFilter = Literal["all", "root"] | int


async def select_documents_page(
    conn: Connection,
    space_id: int,
    folder: FolderFilter,
    *,
    max_id: int | None,
    min_id: int | None,
    limit: int,
) -> list[tuple[int, dict[str, Any]]]:
    """A page of the space's own files as their Documents, newest first (keyset paging)."""
    order = "ASC" if min_id is not None and max_id is None else "DESC"
    rows = await conn.fetch(
        f"""SELECT f.id, o.document FROM files f JOIN objects o ON o.uri = f.object_uri
            WHERE f.space_id = $1 AND f.local AND {_FOLDER_CONDITION}
              AND ($4::bigint IS NULL OR f.id < $4) AND ($5::bigint IS NULL OR f.id > $5)
            ORDER BY f.id {order} LIMIT $6""",
        space_id,
        folder == "root",
        folder if isinstance(folder, int) else None,
        max_id,
        min_id,
        limit,
    )
    pairs = [(row["id"], _without_context(row["document"])) for row in rows]
    return pairs if order == "DESC" else pairs[::-1]


async def count_documents(conn: Connection, space_id: int, folder: FolderFilter) -> int:
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM files f WHERE f.space_id = $1 AND f.local
            AND {_FOLDER_CONDITION}""",
        space_id,
        folder == "root",
        folder if isinstance(folder, int) else None,
    )
    return count


_FOLDER_CONDITION = """(($2 AND f.folder_id IS NULL) OR f.folder_id = $3
                        OR (NOT $2 AND $3::bigint IS NULL))"""


@dataclass(frozen=True)
class ListedFile:
    """A file of a space, or one version of a file, as the folder pages show it."""

    id: int
    key: str
    name: str
    version: int
    size: int
    media_type: str
    has_thumbnail: bool
    uploader_uri: str
    uploader_username: str
    uploader_name: str | None
    created_at: datetime


async def select_listing(
    conn: Connection, space_id: int, folder: FolderFilter, *, max_id: int | None, limit: int
) -> list[ListedFile]:
    """A page of the space's own files at their current version, newest first."""
    rows = await conn.fetch(
        f"""SELECT f.id, f.key, f.name, v.version, v.size, v.media_type,
                   v.thumbnail_sha256 IS NOT NULL AS has_thumbnail, u.uri AS uploader_uri,
                   u.username AS uploader_username, u.name AS uploader_name, v.created_at
            FROM files f
            JOIN LATERAL (SELECT * FROM file_versions WHERE file_id = f.id
                          ORDER BY version DESC LIMIT 1) v ON true
            JOIN actors u ON u.id = coalesce(v.uploader_id, f.uploader_id)
            WHERE f.space_id = $1 AND f.local AND {_FOLDER_CONDITION}
              AND ($4::bigint IS NULL OR f.id < $4)
            ORDER BY f.id DESC LIMIT $5""",
        space_id,
        folder == "root",
        folder if isinstance(folder, int) else None,
        max_id,
        limit,
    )
    return [ListedFile(**dict(row)) for row in rows]


async def select_versions(conn: Connection, file_id: int) -> list[ListedFile]:
    """Every version of a file, newest first, with who uploaded it."""
    rows = await conn.fetch(
        """SELECT f.id, f.key, v.name, v.version, v.size, v.media_type,
                  v.thumbnail_sha256 IS NOT NULL AS has_thumbnail, u.uri AS uploader_uri,
                  u.username AS uploader_username, u.name AS uploader_name, v.created_at
           FROM file_versions v JOIN files f ON f.id = v.file_id
           JOIN actors u ON u.id = coalesce(v.uploader_id, f.uploader_id)
           WHERE v.file_id = $1 ORDER BY v.version DESC""",
        file_id,
    )
    return [ListedFile(**dict(row)) for row in rows]


# ---------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class Version:
    id: int
    file_id: int
    version: int
    name: str
    size: int
    media_type: str
    sha256: str
    stored: bool
    url: str | None
    width: int | None
    height: int | None
    thumbnail_sha256: str | None
    thumbnail_media_type: str | None
    created_at: datetime


_VERSION_COLUMNS = """id, file_id, version, name, size, media_type, sha256, stored, url, width,
    height, thumbnail_sha256, thumbnail_media_type, created_at"""


async def insert_version(
    conn: Connection,
    *,
    file_id: int,
    name: str,
    size: int,
    media_type: str,
    sha256: str,
    stored: bool,
    url: str | None,
    width: int | None,
    height: int | None,
    thumbnail_sha256: str | None,
    thumbnail_media_type: str | None,
    uploader_id: int | None,
) -> Version:
    """The file's next version (1 for a new file)."""
    row = await conn.fetchrow(
        f"""INSERT INTO file_versions (file_id, version, name, size, media_type, sha256, stored,
                                       url, width, height, thumbnail_sha256,
                                       thumbnail_media_type, uploader_id)
            VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM file_versions
                         WHERE file_id = $1),
                    $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            RETURNING {_VERSION_COLUMNS}""",
        file_id,
        name,
        size,
        media_type,
        sha256,
        stored,
        url,
        width,
        height,
        thumbnail_sha256,
        thumbnail_media_type,
        uploader_id,
    )
    assert row is not None
    return Version(**dict(row))


async def select_version(conn: Connection, file_id: int, version: int | None) -> Version | None:
    """A version by number, or the current (highest) one."""
    row = await conn.fetchrow(
        f"""SELECT {_VERSION_COLUMNS} FROM file_versions
            WHERE file_id = $1 AND ($2::integer IS NULL OR version = $2)
            ORDER BY version DESC LIMIT 1""",
        file_id,
        version,
    )
    return Version(**dict(row)) if row else None


async def select_version_by_id(conn: Connection, version_id: int) -> Version | None:
    row = await conn.fetchrow(
        f"SELECT {_VERSION_COLUMNS} FROM file_versions WHERE id = $1", version_id
    )
    return Version(**dict(row)) if row else None


async def mark_stored(
    conn: Connection,
    version_id: int,
    *,
    size: int,
    media_type: str,
    width: int | None,
    height: int | None,
    thumbnail_sha256: str | None,
    thumbnail_media_type: str | None,
) -> bool:
    """A remote version's bytes are now in the blob store; False if it is gone meanwhile."""
    result = await conn.execute(
        """UPDATE file_versions SET stored = true, media_type = $2, width = $3, height = $4,
               thumbnail_sha256 = $5, thumbnail_media_type = $6, size = $7
           WHERE id = $1 AND NOT stored""",
        version_id,
        media_type,
        width,
        height,
        thumbnail_sha256,
        thumbnail_media_type,
        size,
    )
    return result.endswith(" 1")


async def unstore_older_versions(conn: Connection, file_id: int, current: int) -> list[str]:
    """A remote file has a new version: only the current one's bytes are kept here."""
    rows = await conn.fetch(
        """UPDATE file_versions v SET stored = false, thumbnail_sha256 = NULL,
               thumbnail_media_type = NULL
           FROM file_versions old
           WHERE v.id = old.id AND v.file_id = $1 AND v.version < $2
             AND (v.stored OR v.thumbnail_sha256 IS NOT NULL)
           RETURNING old.sha256, old.thumbnail_sha256""",
        file_id,
        current,
    )
    return _digests(rows)


def _digests(rows: Any) -> list[str]:
    found: dict[str, None] = {}
    for row in rows:
        for value in (row["sha256"], row["thumbnail_sha256"]):
            if value:
                found.setdefault(value, None)
    return list(found)


def _without_context(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "@context"}
