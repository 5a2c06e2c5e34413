"""The Mastodon client API (/api/v1, /api/v2) and OAuth 2, for existing fediverse apps."""
