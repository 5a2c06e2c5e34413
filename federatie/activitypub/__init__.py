"""The ActivityPub wire protocol: pure functions over values, no database, no web framework."""
