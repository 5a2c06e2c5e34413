-- Counts shown with every account and group (followers or members, following, statuses),
-- kept as they change instead of counted when read: counting the 21,000 members of a large
-- group took 8 ms of every view of its page, and the accounts of one Mastodon timeline page
-- 11 ms (bench/README.md). Mastodon keeps the same figures in its account_stats.
--
-- One narrow row per actor, so that a count changing does not rewrite the actor's wide row.
-- Triggers keep it: every actor gets its row when inserted; follows and objects move the
-- counts. Counters are only ever UPDATEd (a row missing, say while its actor is being
-- deleted, is left alone), and the two rows a follow touches are updated in id order, so
-- that concurrent follows cannot deadlock on them. `recount_actor_stats()` recomputes every
-- row from the tables (bulk loads with triggers off, repairs).

CREATE TABLE actor_stats (
    actor_id bigint PRIMARY KEY REFERENCES actors ON DELETE CASCADE,
    followers integer NOT NULL DEFAULT 0,  -- accepted follows of this actor (a group: members)
    following integer NOT NULL DEFAULT 0,  -- accepted follows by this actor
    statuses integer NOT NULL DEFAULT 0,   -- live objects by this actor that show as statuses
    last_status_at timestamptz
);

-- The object types that count as statuses; storage/mastodon_accounts.py STATUS_TYPES is the
-- same list (a test compares them).
CREATE FUNCTION counts_as_status(object_type text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN object_type IN ('Note', 'Article', 'Page', 'Question');

CREATE FUNCTION actor_stats_new_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO actor_stats (actor_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER actor_stats_new_actor AFTER INSERT ON actors
    FOR EACH ROW EXECUTE FUNCTION actor_stats_new_actor();

CREATE FUNCTION actor_stats_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP <> 'INSERT' AND OLD.state = 'accepted';
    now_accepted boolean := TG_OP <> 'DELETE' AND NEW.state = 'accepted';
    f follows := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    delta integer := now_accepted::integer - was::integer;
BEGIN
    IF delta = 0 THEN
        RETURN NULL;
    END IF;
    IF f.follower_id <= f.followed_id THEN
        UPDATE actor_stats SET following = following + delta WHERE actor_id = f.follower_id;
        UPDATE actor_stats SET followers = followers + delta WHERE actor_id = f.followed_id;
    ELSE
        UPDATE actor_stats SET followers = followers + delta WHERE actor_id = f.followed_id;
        UPDATE actor_stats SET following = following + delta WHERE actor_id = f.follower_id;
    END IF;
    RETURN NULL;
END $$;

-- Follows change state (pending to accepted) but never change whom they join.
CREATE TRIGGER actor_stats_follow AFTER INSERT OR DELETE OR UPDATE OF state ON follows
    FOR EACH ROW EXECUTE FUNCTION actor_stats_follow();

CREATE FUNCTION actor_stats_object() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP <> 'INSERT'
        AND OLD.deleted_at IS NULL AND counts_as_status(OLD.type);
    now_counted boolean := TG_OP <> 'DELETE'
        AND NEW.deleted_at IS NULL AND counts_as_status(NEW.type);
BEGIN
    IF was AND NOT now_counted THEN
        UPDATE actor_stats SET statuses = statuses - 1 WHERE actor_id = OLD.author_id;
    ELSIF now_counted AND NOT was THEN
        UPDATE actor_stats
        SET statuses = statuses + 1,
            last_status_at = greatest(last_status_at, least(NEW.published, NEW.created_at))
        WHERE actor_id = NEW.author_id;
    END IF;
    RETURN NULL;
END $$;

-- An object keeps its author; a Delete sets deleted_at (and may make it a Tombstone).
CREATE TRIGGER actor_stats_object AFTER INSERT OR DELETE OR UPDATE OF deleted_at, type ON objects
    FOR EACH ROW EXECUTE FUNCTION actor_stats_object();

CREATE FUNCTION recount_actor_stats() RETURNS void LANGUAGE sql AS $$
    INSERT INTO actor_stats (actor_id, followers, following, statuses, last_status_at)
    SELECT a.id,
           coalesce(fr.n, 0), coalesce(fg.n, 0), coalesce(st.n, 0), st.last_at
    FROM actors a
    LEFT JOIN (SELECT followed_id AS id, count(*) AS n FROM follows
               WHERE state = 'accepted' GROUP BY followed_id) fr ON fr.id = a.id
    LEFT JOIN (SELECT follower_id AS id, count(*) AS n FROM follows
               WHERE state = 'accepted' GROUP BY follower_id) fg ON fg.id = a.id
    LEFT JOIN (SELECT author_id AS id, count(*) AS n, max(least(published, created_at)) AS last_at
               FROM objects WHERE deleted_at IS NULL AND counts_as_status(type)
               GROUP BY author_id) st ON st.id = a.id
    ON CONFLICT (actor_id) DO UPDATE
    SET followers = EXCLUDED.followers, following = EXCLUDED.following,
        statuses = EXCLUDED.statuses, last_status_at = EXCLUDED.last_status_at;
$$;

SELECT recount_actor_stats();
