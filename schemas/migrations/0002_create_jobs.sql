-- The durable job queue (federatie/jobs). A row is a job that is waiting, running (leased) or
-- dead. Finished jobs are deleted, so the hot part of the table stays small; dead jobs stay,
-- with their last error, for the admin pages until someone retries or purges them.

CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    -- Workers serve named queues ('delivery', 'inbox' …) so slow work cannot starve fast work.
    queue text NOT NULL DEFAULT 'default',
    priority smallint NOT NULL DEFAULT 0,
    -- When the job is due: now on enqueue, later after a failure (backoff) or when delayed.
    run_at timestamptz NOT NULL DEFAULT now(),
    -- Counted when a worker claims the job, so a worker that dies mid-job still uses one up.
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 20 CHECK (max_attempts > 0),
    -- The lease: a claimed job is the claimer's until locked_until; after that anyone may
    -- claim it again (at-least-once delivery when a worker dies).
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'dead')),
    died_at timestamptz,
    -- The same work enqueued again while a job for it is still pending is stored once.
    dedupe_key text
);

-- The claim query: due jobs of some queues, highest priority first, oldest first.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at) WHERE state = 'queued';
-- Only jobs with a key are indexed: most jobs (deliveries) have none and cost no entry here.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (kind, dedupe_key)
    WHERE state = 'queued' AND dedupe_key IS NOT NULL;
-- The admin pages list dead jobs, newest first.
CREATE INDEX jobs_dead ON jobs (died_at DESC) WHERE state = 'dead';

-- Rows are inserted, updated once or twice and deleted within seconds: vacuum often so that
-- dead tuples do not pile up in the claim index.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    fillfactor = 80
);
