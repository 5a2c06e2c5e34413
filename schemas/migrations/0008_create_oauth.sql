-- OAuth 2 for the Mastodon client API: registered apps, authorization codes (with PKCE), and
-- the app, refresh token and rotation of the bearer tokens in api_tokens. Secrets, codes and
-- tokens are kept only as SHA-256 digests.

CREATE TABLE oauth_apps (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id text NOT NULL UNIQUE,
    client_secret_sha256 bytea NOT NULL,
    name text NOT NULL,
    website text,
    redirect_uris text[] NOT NULL,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Single use: a code is deleted when it is exchanged (or found expired).
CREATE TABLE oauth_codes (
    code_sha256 bytea PRIMARY KEY,
    app_id bigint NOT NULL REFERENCES oauth_apps ON DELETE CASCADE,
    person_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    scopes text NOT NULL,
    code_challenge text,
    code_challenge_method text,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- A token of an app without a person (client_credentials) has no actor.
ALTER TABLE api_tokens ALTER COLUMN actor_id DROP NOT NULL;
ALTER TABLE api_tokens ADD COLUMN app_id bigint REFERENCES oauth_apps ON DELETE CASCADE;
ALTER TABLE api_tokens ADD COLUMN refresh_sha256 bytea UNIQUE;
CREATE INDEX api_tokens_app ON api_tokens (app_id) WHERE app_id IS NOT NULL;

-- Where a person stopped reading a timeline, kept for their apps (Mastodon's markers).
CREATE TABLE api_markers (
    person_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    timeline text NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, timeline)
);
