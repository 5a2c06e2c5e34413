"""A person's profile as colleagues see it: name, organisation, function, expertise, themes,
a short biography and an avatar; and the rules for what a person may enter.

Display name and biography are the actor's `name` and `summary` (plain text here; the actor
document sends the biography as HTML). Expertise is free text ("Omgevingswet", "inkoop"),
themes are slugs as groups and blog posts have them, so that one theme links a person to
the groups and posts about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from federatie.domain.blogs import normalise_theme
from federatie.errors import Unprocessable

MAX_NAME = 100
MAX_BIO = 2000
MAX_ORGANISATION = 200
MAX_JOB_TITLE = 200
MAX_EXPERTISE = 10
MAX_EXPERTISE_LENGTH = 60
MAX_THEMES = 10
AVATAR_MAX_BYTES = 10 * 1024 * 1024
# What an avatar may be uploaded as (sniffed from the bytes, never taken from the browser).
AVATAR_UPLOAD_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


class ProfileFieldError(Unprocessable):
    """One field of a profile is not acceptable; `field` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Avatar:
    sha256: str
    media_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ProfileFields:
    """What a person edits about themselves."""

    display_name: str
    bio: str | None
    organisation: str | None
    job_title: str | None
    expertise: tuple[str, ...]
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """A local person's profile as pages and the actor document show it."""

    fields: ProfileFields
    avatar: Avatar | None


def parse_profile(
    *,
    display_name: str,
    bio: str,
    organisation: str,
    job_title: str,
    expertise: str | Iterable[str],
    themes: str | Iterable[str],
) -> ProfileFields:
    """Check and clean a profile as a form sends it (lists may be comma-separated text)."""
    name = " ".join(display_name.split())
    if not name or len(name) > MAX_NAME:
        raise ProfileFieldError("display_name", f"between 1 and {MAX_NAME} characters")
    text = "\n".join(line.rstrip() for line in bio.strip().splitlines())
    if len(text) > MAX_BIO:
        raise ProfileFieldError("bio", f"at most {MAX_BIO} characters")
    return ProfileFields(
        display_name=name,
        bio=text or None,
        organisation=_line("organisation", organisation, MAX_ORGANISATION),
        job_title=_line("job_title", job_title, MAX_JOB_TITLE),
        expertise=_expertise(expertise),
        themes=_themes(themes),
    )


def _line(field: str, value: str, limit: int) -> str | None:
    cleaned = " ".join(value.split())
    if len(cleaned) > limit:
        raise ProfileFieldError(field, f"at most {limit} characters")
    return cleaned or None


def _items(value: str | Iterable[str]) -> list[str]:
    raw = value.split(",") if isinstance(value, str) else list(value)
    return [" ".join(item.split()) for item in raw if item.strip()]


def _expertise(value: str | Iterable[str]) -> tuple[str, ...]:
    items = _items(value)
    if len(items) > MAX_EXPERTISE or any(len(item) > MAX_EXPERTISE_LENGTH for item in items):
        raise ProfileFieldError(
            "expertise",
            f"at most {MAX_EXPERTISE} entries of at most {MAX_EXPERTISE_LENGTH} characters",
        )
    # Case-insensitively once, in the order given.
    unique: dict[str, str] = {}
    for item in items:
        unique.setdefault(item.casefold(), item)
    return tuple(unique.values())


def _themes(value: str | Iterable[str]) -> tuple[str, ...]:
    items = _items(value)
    if len(items) > MAX_THEMES:
        raise ProfileFieldError("themes", f"at most {MAX_THEMES} themes")
    try:
        return tuple(dict.fromkeys(normalise_theme(item) for item in items))
    except Unprocessable as exc:
        raise ProfileFieldError("themes", exc.message) from exc
