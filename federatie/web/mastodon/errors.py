"""Mastodon's error wording for the client API.

The `{"error": …}` body itself comes from web/errors.py, the one place errors become HTTP;
here are the messages Mastodon uses, which apps show to people as they are.
"""

from __future__ import annotations

from federatie.errors import NotFound, Unprocessable


def validation_failed(detail: str) -> Unprocessable:
    """422 for a malformed or missing parameter, worded as Mastodon words it."""
    return Unprocessable(f"Validation failed: {detail}")


def record_not_found() -> NotFound:
    return NotFound("Record not found")
