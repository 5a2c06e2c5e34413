-- Actors: local people, groups and the organisation (instance actor), and cached remote actors.
-- People and groups share one name space per instance (a WebFinger name never means two actors:
-- Lemmy's user/community collisions made Mastodon resolve the wrong actor, Lemmy issue 2037).

CREATE TABLE actors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    type text NOT NULL CHECK (type IN ('Person', 'Group', 'Organization', 'Service', 'Application')),
    local boolean NOT NULL,
    username text NOT NULL,
    host text NOT NULL,
    name text,
    summary text,
    url text,
    inbox text NOT NULL,
    shared_inbox text,
    outbox text,
    followers text,
    following text,
    key_id text,
    public_key_pem text,
    manually_approves_followers boolean NOT NULL DEFAULT false,
    document jsonb,
    fetched_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    suspended_at timestamptz
);
CREATE UNIQUE INDEX actors_local_username ON actors (username) WHERE local;
CREATE INDEX actors_host ON actors (host);

-- Private keys of local actors: RSA for draft-cavage signatures, Ed25519 for FEP-521a.
CREATE TABLE actor_keys (
    actor_id bigint PRIMARY KEY REFERENCES actors ON DELETE CASCADE,
    rsa_private_pem text NOT NULL,
    ed25519_private_pem text NOT NULL,
    ed25519_multibase text NOT NULL
);

CREATE TABLE people (
    actor_id bigint PRIMARY KEY REFERENCES actors ON DELETE CASCADE,
    password_hash text NOT NULL,
    is_admin boolean NOT NULL DEFAULT false,
    organisation text,
    job_title text,
    expertise text[] NOT NULL DEFAULT '{}'
);

-- A group's title and description are the actor's name and summary.
CREATE TABLE groups (
    actor_id bigint PRIMARY KEY REFERENCES actors ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('open', 'closed', 'members_only')),
    themes text[] NOT NULL DEFAULT '{}'
);

-- Who chairs a group. Membership itself is an accepted Follow of the group (FEP-1b12).
CREATE TABLE group_roles (
    group_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'moderator')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, actor_id)
);
CREATE UNIQUE INDEX group_roles_one_owner ON group_roles (group_id) WHERE role = 'owner';

CREATE TABLE follows (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follower_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    followed_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('pending', 'accepted')),
    activity_uri text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (follower_id, followed_id)
);
CREATE INDEX follows_followed ON follows (followed_id, state, id);
CREATE INDEX follows_follower ON follows (follower_id, state, id);

-- Bearer tokens for the client APIs; only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    token_sha256 bytea NOT NULL UNIQUE,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Settings an administrator changes at run time (federation mode, registration …).
CREATE TABLE instance_settings (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
