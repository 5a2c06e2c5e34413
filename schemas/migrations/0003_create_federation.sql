-- Federation: the policy, what remote hosts are like, what arrived in inboxes, objects and
-- activities (ours and cached remote ones), and reports.

-- Listed domains for the blocklist and allowlist modes; the mode itself is the
-- instance setting 'federation_mode'.
CREATE TABLE federation_domains (
    domain text PRIMARY KEY,
    list text NOT NULL CHECK (list IN ('allow', 'block')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text
);

-- Per remote host: which signature scheme it answered to (double-knock memory) and its health.
CREATE TABLE remote_hosts (
    host text PRIMARY KEY,
    signature_scheme text NOT NULL DEFAULT 'cavage' CHECK (signature_scheme IN ('cavage', 'rfc9421')),
    last_success_at timestamptz,
    first_failure_at timestamptz,
    last_failure_at timestamptz,
    failures integer NOT NULL DEFAULT 0,
    -- While a host is failing, its delivery lane waits until retry_at (one prober, not many).
    retry_at timestamptz,
    unreachable_since timestamptz
);

-- Every activity that reached one of our inboxes, stored before we answer 202.
CREATE TABLE inbox_activities (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_uri text NOT NULL UNIQUE,
    actor_uri text NOT NULL,
    type text NOT NULL,
    body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome text
);
CREATE INDEX inbox_activities_unprocessed ON inbox_activities (id) WHERE processed_at IS NULL;

-- Which local actors an activity was delivered to (their inbox collection).
CREATE TABLE inbox_items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    inbox_activity_id bigint NOT NULL REFERENCES inbox_activities ON DELETE CASCADE,
    UNIQUE (actor_id, inbox_activity_id)
);

-- Posts, articles, documents and replies: ours and cached remote ones.
CREATE TABLE objects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    type text NOT NULL,
    author_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    local boolean NOT NULL,
    in_reply_to text,
    group_id bigint REFERENCES actors ON DELETE SET NULL,
    public boolean NOT NULL,
    recipients text[] NOT NULL DEFAULT '{}',
    published timestamptz NOT NULL DEFAULT now(),
    updated timestamptz,
    deleted_at timestamptz,
    document jsonb NOT NULL
);
CREATE INDEX objects_author ON objects (author_id, id DESC);
CREATE INDEX objects_in_reply_to ON objects (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE INDEX objects_group ON objects (group_id, id DESC) WHERE group_id IS NOT NULL;

-- Activities: those local actors published (their outbox) and remote Like/Announce we keep.
CREATE TABLE activities (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    type text NOT NULL,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    object_uri text,
    local boolean NOT NULL,
    public boolean NOT NULL,
    document jsonb NOT NULL,
    published timestamptz NOT NULL DEFAULT now(),
    undone_at timestamptz
);
CREATE INDEX activities_outbox ON activities (actor_id, id DESC) WHERE local;
CREATE INDEX activities_object ON activities (object_uri, type) WHERE undone_at IS NULL;

-- Flags (reports) received from other servers or made here, for the moderators.
CREATE TABLE reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_uri text UNIQUE,
    reporter_id bigint REFERENCES actors ON DELETE SET NULL,
    object_uris text[] NOT NULL,
    content text,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);

-- Remote actors' public keys by key id: RSA (publicKey) and Ed25519 (assertionMethod, FEP-521a).
CREATE TABLE remote_keys (
    key_id text PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('rsa', 'ed25519')),
    material text NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    -- When a failed verification last made us refetch (at most once per key per 5 minutes).
    refetched_at timestamptz
);
CREATE INDEX remote_keys_actor ON remote_keys (actor_id);

-- Outgoing deliveries waiting for their host's lane: one row per (inbox, activity), sent per
-- host in the order the activities were created, so a peer that was down gets them in order.
CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host text NOT NULL,
    inbox text NOT NULL,
    activity_id bigint NOT NULL REFERENCES activities ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (inbox, activity_id)
);
CREATE INDEX deliveries_host ON deliveries (host, activity_id, id);
