-- Profiles: what colleagues look for in the people directory (organisation, function and
-- expertise were in `people` from the start; themes are new), and the avatar.

-- Themes ("vakgebied") as groups and blog posts have them: lower-case slugs.
ALTER TABLE people ADD COLUMN themes text[] NOT NULL DEFAULT '{}';

-- A person's avatar: the uploaded image re-encoded at most 320 pixels wide and high, without
-- metadata (a few tens of kilobytes). Kept here rather than in the file store: it belongs to
-- no file space, is never published as a Document, needs no garbage collection of blobs
-- shared with files, and every web process serves it straight from the database.
CREATE TABLE avatars (
    person_id bigint PRIMARY KEY REFERENCES actors ON DELETE CASCADE,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    data bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
