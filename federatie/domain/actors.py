"""Local actors: their kinds, names and the rules for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from federatie.errors import Unprocessable


class ActorType(StrEnum):
    PERSON = "Person"
    GROUP = "Group"
    ORGANIZATION = "Organization"


class GroupKind(StrEnum):
    """Open: join at once. Closed: readable, joining needs approval. Members-only: hidden."""

    OPEN = "open"
    CLOSED = "closed"
    MEMBERS_ONLY = "members_only"


class GroupRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MODERATOR = "moderator"


# Lower-case letters, digits and underscores, as Mastodon accepts in `acct:` handles.
_NAME = re.compile(r"^[a-z0-9_]{1,30}$")

# Names that would shadow routes or mislead people.
RESERVED_NAMES = frozenset(
    {
        "actor",
        "admin",
        "administrator",
        "api",
        "about",
        "auth",
        "files",
        "groups",
        "inbox",
        "instance",
        "login",
        "logout",
        "media",
        "moderator",
        "new",  # /groups/new is the form for a new group
        "nodeinfo",
        "oauth",
        "outbox",
        "postmaster",
        "root",
        "settings",
        "static",
        "support",
        "system",
        "users",
        "webmaster",
        "well_known",
    }
)


def normalise_name(raw: str) -> str:
    """Check a new person's or group's name; names are case-insensitive and kept lower-case."""
    name = raw.strip().lower()
    if not _NAME.match(name):
        raise Unprocessable(f"invalid name {raw!r}: use 1 to 30 letters, digits or underscores")
    if name in RESERVED_NAMES:
        raise Unprocessable(f"the name {name!r} is reserved")
    return name


def is_valid_lookup_name(raw: str) -> bool:
    """Whether a name could belong to a local actor (for look-ups: no error, just no match)."""
    return bool(_NAME.match(raw.lower()))


@dataclass(frozen=True)
class LocalActor:
    """A local actor as the protocol layer needs it to render documents."""

    id: int
    type: ActorType
    username: str
    uri: str
    name: str | None
    summary: str | None
    manually_approves_followers: bool
    public_key_pem: str
    ed25519_multibase: str
    published: str
    group_kind: GroupKind | None = None
    themes: tuple[str, ...] = ()
