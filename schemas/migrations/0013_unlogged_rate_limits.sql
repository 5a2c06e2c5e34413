-- Rate-limit counters are written on every client-API request and every failed sign-in, and
-- need no durability: after a crash PostgreSQL empties an unlogged table, which only starts
-- every window afresh (Mastodon keeps the same counters in Redis). Unlogged, a hit writes no
-- WAL and its commit waits for no disk flush. Not copied to streaming replicas either, so a
-- promoted replica also starts with fresh windows.
ALTER TABLE rate_limits SET UNLOGGED;
