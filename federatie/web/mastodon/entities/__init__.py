"""Mastodon's JSON entities, built from our rows."""
