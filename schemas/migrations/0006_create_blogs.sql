-- Blog posts of people and of groups, as their authors write and edit them.
-- A draft lives only in this table: never in objects or activities, so it can be neither
-- delivered nor served to anyone but its author. Publishing creates the Article in objects
-- (its id is /objects/<key>) and federates a Create; the row keeps the author's source
-- (Markdown or HTML) for later edits. Deleting a post removes its row; the object becomes a
-- Tombstone.
CREATE TABLE blog_posts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    -- The Article's id once published (/objects/<key>), fixed when the draft is made.
    uri text NOT NULL UNIQUE,
    author_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    -- A group's blog: the post is addressed to the group, which relays it (FEP-1b12).
    group_id bigint REFERENCES actors ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('draft', 'published')),
    title text NOT NULL,
    -- As the author wrote it; NULL: derived from the content when published.
    summary text,
    source text NOT NULL,
    source_type text NOT NULL CHECK (source_type IN ('text/markdown', 'text/html')),
    themes text[] NOT NULL DEFAULT '{}',
    attachment jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX blog_posts_author ON blog_posts (author_id, id DESC);
CREATE INDEX blog_posts_group ON blog_posts (group_id, id DESC) WHERE group_id IS NOT NULL;
