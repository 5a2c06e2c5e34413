"""Use cases: each runs the domain rules, the storage writes and the jobs in one transaction."""
