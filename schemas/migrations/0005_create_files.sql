-- Files: uploaded into a group's or a person's file space, in folders, with versions; and the
-- files of other instances that reached us (metadata always, bytes up to a size).
-- The bytes live in the blob store (federatie/blobs), content-addressed by SHA-256, so
-- identical files are stored once; names here never reach the file system.

-- Folders of a file space (a group or a person); a file lives in a folder or in the root.
CREATE TABLE file_folders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    space_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    name text NOT NULL,
    created_by bigint REFERENCES actors ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX file_folders_name ON file_folders (space_id, lower(name));

-- A file: ours (`local`, served at /files/<key>) or a cached remote one (/files/remote/<key>).
-- `object_uri` is its ActivityStreams Document (ours: /objects/<key>, in `objects`).
CREATE TABLE files (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    local boolean NOT NULL,
    object_uri text NOT NULL UNIQUE,
    -- Whose file space: a group (its `audience`) or the uploading person.
    space_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    folder_id bigint REFERENCES file_folders ON DELETE SET NULL,
    uploader_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    name text NOT NULL,
    public boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_space ON files (space_id, id DESC);
CREATE INDEX files_folder ON files (folder_id, id DESC) WHERE folder_id IS NOT NULL;
-- A deleted actor's cached files.
CREATE INDEX files_uploader ON files (uploader_id) WHERE NOT local;

-- Every upload to a file is a version; the highest number is the current one.
CREATE TABLE file_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id bigint NOT NULL REFERENCES files ON DELETE CASCADE,
    version integer NOT NULL CHECK (version > 0),
    name text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    -- Sniffed from the bytes, never taken from the uploader (remote and not yet cached: as
    -- the origin declared it, used for nothing but display).
    media_type text NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- Whether the blob store holds the bytes: always for ours; for a remote file once fetched
    -- and verified against the digest its origin published.
    stored boolean NOT NULL,
    -- Remote files: where the origin serves this version.
    url text,
    width integer,
    height integer,
    thumbnail_sha256 text CHECK (thumbnail_sha256 ~ '^[0-9a-f]{64}$'),
    thumbnail_media_type text,
    uploader_id bigint REFERENCES actors ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_id, version)
);
-- Blob garbage collection asks "does any version still use this digest?".
CREATE INDEX file_versions_sha256 ON file_versions (sha256) WHERE stored;
CREATE INDEX file_versions_thumbnail ON file_versions (thumbnail_sha256)
    WHERE thumbnail_sha256 IS NOT NULL;
