-- Indexes for the read path at Pleio scale, each checked with EXPLAIN ANALYZE on the data of
-- bench/seed.py (100,000 people, 5,000 groups, 1.4 million activities); see bench/README.md.

-- An outbox page counts and lists an actor's public activities (storage/activities.py,
-- count_outbox and select_outbox_page). With only activities_outbox (every local activity)
-- the count fetched each row from the heap to test public, undone_at and type: 26,000 heap
-- pages, 230 ms, for the largest group. This index holds exactly the rows an outbox shows,
-- so the count is an index-only scan (2 ms) and a page reads 20 entries.
CREATE INDEX activities_public_outbox ON activities (actor_id, id)
    WHERE local AND public AND undone_at IS NULL
      AND type IN ('Create', 'Announce', 'Update', 'Delete', 'Like');

-- The group directory lists local groups by name (storage/actors.py,
-- select_group_directory). People and groups share actors_local_username, so the first
-- page walked 5,000 people's entries to find 20 groups (40 ms).
CREATE INDEX actors_local_groups ON actors (username) WHERE local AND type = 'Group';
