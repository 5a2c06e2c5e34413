-- The Mastodon client API's statuses, timelines, notifications, media and streaming.

-- Status ids as Mastodon makes them (snowflakes: milliseconds << 16, then a sequence), so that
-- apps that sort by id (Tusky compares length, then text) see timeline order. A post and the
-- boosts of it share no table, so the low two bits say what an id names: 0 an object, 1 an
-- Announce by a person, 2 a post as its group relayed it (shown as the group's boost). 14 bits
-- of the row id follow the time, which keeps ids unique within a millisecond.
-- Declared immutable (the epoch of a timestamptz does not depend on the time zone) so that it
-- can be indexed; PostgreSQL then does not inline the body.
CREATE FUNCTION status_id(at timestamptz, row_id bigint, kind integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (floor(extract(epoch FROM at) * 1000)::bigint << 16) | ((row_id & 16383) << 2) | kind;

-- A post's time is when it was published, but never later than when it arrived here, so that
-- another server cannot pin a post to the top of timelines with a date in the future.
-- (Existing rows get the time of this migration, so their `published` counts.)
ALTER TABLE objects ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
CREATE FUNCTION object_status_id(published timestamptz, created_at timestamptz, row_id bigint,
                                 kind integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN status_id(least(published, created_at), row_id, kind);

CREATE INDEX objects_status_id ON objects (object_status_id(published, created_at, id, 0));
CREATE INDEX activities_status_id ON activities (status_id(published, id, 1))
    WHERE type = 'Announce';
-- The home timeline reads, per account followed, its newest posts, boosts or (a group) the
-- posts filed under it: one short index scan each (storage/mastodon_timelines.py).
CREATE INDEX objects_author_status_id
    ON objects (author_id, object_status_id(published, created_at, id, 0));
CREATE INDEX objects_group_status_id
    ON objects (group_id, object_status_id(published, created_at, id, 0))
    WHERE group_id IS NOT NULL;
CREATE INDEX activities_announces ON activities (actor_id, status_id(published, id, 1))
    WHERE type = 'Announce' AND undone_at IS NULL;
-- Reactions to one object by one actor (favourited? boosted?) and the home timeline's
-- boosts by the people one follows.
CREATE INDEX activities_actor_type ON activities (actor_id, type, object_uri)
    WHERE undone_at IS NULL;

-- Notifications for local people. One per (kind, from, object): handlers may run an activity
-- twice (at-least-once jobs, the same post reaching us directly and through its group).
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    type text NOT NULL CHECK (
        type IN ('mention', 'status', 'reblog', 'follow', 'follow_request', 'favourite')
    ),
    from_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    object_id bigint REFERENCES objects ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX notifications_once
    ON notifications (recipient_id, type, from_id, coalesce(object_id, 0));
CREATE INDEX notifications_recipient ON notifications (recipient_id, id DESC);

-- "Notify me when they post" (Mastodon's follow option `notify`): `status` notifications.
ALTER TABLE follows ADD COLUMN notify boolean NOT NULL DEFAULT false;

-- Idempotency-Key of status creation: a retried request returns the status made first.
-- Keys count for an hour, as in Mastodon.
CREATE TABLE status_idempotency_keys (
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    key text NOT NULL,
    object_id bigint NOT NULL REFERENCES objects ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, key)
);

-- Media uploaded for statuses, before and after they are attached. The bytes are blobs in the
-- file store (stripped of metadata like every upload), named by these rows as well as by
-- file versions; blob collection asks both.
CREATE TABLE media_attachments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    owner_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    -- The status it belongs to, once posted; until then only its owner sees it.
    object_id bigint REFERENCES objects ON DELETE SET NULL,
    position smallint NOT NULL DEFAULT 0,
    media_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    width integer,
    height integer,
    thumbnail_sha256 text CHECK (thumbnail_sha256 ~ '^[0-9a-f]{64}$'),
    thumbnail_media_type text,
    description text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_attachments_sha256 ON media_attachments (sha256);
CREATE INDEX media_attachments_thumbnail ON media_attachments (thumbnail_sha256)
    WHERE thumbnail_sha256 IS NOT NULL;
CREATE INDEX media_attachments_object ON media_attachments (object_id) WHERE object_id IS NOT NULL;

-- The streaming API: whatever process stores a post, a boost or a notification, every web
-- process hears of it on this channel (ids only; each stream renders for its own viewer).
CREATE FUNCTION notify_stream() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event text;
BEGIN
    IF TG_TABLE_NAME = 'notifications' THEN
        event := 'notification';
    ELSIF TG_TABLE_NAME = 'activities' THEN
        event := CASE WHEN TG_OP = 'INSERT' THEN 'announce' ELSE 'unannounce' END;
    ELSIF TG_OP = 'INSERT' THEN
        event := 'object';
    ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        event := 'delete';
    ELSIF NEW.group_id IS NOT NULL AND OLD.group_id IS NULL THEN
        event := 'relay';
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('federatie_stream', json_build_object('event', event, 'id', NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER objects_stream AFTER INSERT OR UPDATE OF deleted_at, group_id ON objects
    FOR EACH ROW EXECUTE FUNCTION notify_stream();
CREATE TRIGGER activities_stream_insert AFTER INSERT ON activities
    FOR EACH ROW WHEN (NEW.type = 'Announce') EXECUTE FUNCTION notify_stream();
CREATE TRIGGER activities_stream_undo AFTER UPDATE OF undone_at ON activities
    FOR EACH ROW WHEN (NEW.type = 'Announce' AND NEW.undone_at IS NOT NULL
                       AND OLD.undone_at IS NULL)
    EXECUTE FUNCTION notify_stream();
CREATE TRIGGER notifications_stream AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notify_stream();
