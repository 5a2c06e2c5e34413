"""Mastodon's OAuth scopes (https://docs.joinmastodon.org/api/oauth-scopes/).

A top-level scope grants its sub-scopes (`read` grants `read:statuses`); `follow` is the
legacy union of the follow-related read and write scopes, deprecated since Mastodon 3.5 and
still requested by apps.
"""

from __future__ import annotations

from collections.abc import Iterable

_FOLLOW_SCOPES = frozenset(
    {
        "read:follows",
        "read:blocks",
        "read:mutes",
        "write:follows",
        "write:blocks",
        "write:mutes",
    }
)

_READ = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
_WRITE = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)

# Every scope an app may ask for (the admin scopes are not offered: no admin API here).
SCOPES: tuple[str, ...] = (
    "read",
    "write",
    "follow",
    "push",
    "profile",
    *(f"read:{name}" for name in _READ),
    *(f"write:{name}" for name in _WRITE),
)
DEFAULT_SCOPE = "read"


def grants(scopes: Iterable[str], needed: str) -> bool:
    """Whether a token with `scopes` may do what needs scope `needed`."""
    held = frozenset(scopes)
    if needed in held:
        return True
    top, _, _ = needed.partition(":")
    if top in held:
        return True
    return "follow" in held and needed in _FOLLOW_SCOPES


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
