-- Bans from a group: a banned actor cannot join again and its new posts are refused.
CREATE TABLE group_bans (
    group_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    banned_by bigint REFERENCES actors ON DELETE SET NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, actor_id)
);
