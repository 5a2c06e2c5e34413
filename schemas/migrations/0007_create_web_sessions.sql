-- The web interface: sign-in sessions, rate limits, and accounts awaiting approval.
-- All of it lives here, not in process memory, so that any number of web processes agree.

-- Only a SHA-256 of the session token is kept; the cookie holds the token itself.
CREATE TABLE web_sessions (
    token_sha256 bytea PRIMARY KEY,
    person_id bigint NOT NULL REFERENCES actors ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    user_agent text
);
CREATE INDEX web_sessions_person ON web_sessions (person_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Fixed-window counters (failed sign-ins per account and per address, API calls per token).
CREATE TABLE rate_limits (
    bucket text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    hits integer NOT NULL
);

-- Sign-up in `approval` mode creates an account that cannot sign in until an admin approves.
-- Existing and admin-made accounts count as approved.
ALTER TABLE people ADD COLUMN approved_at timestamptz DEFAULT now();
