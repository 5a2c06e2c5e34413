"""Statuses as Mastodon apps write them: plain text with @mentions, #hashtags and links, a
visibility, a content warning. Pure functions; resolving mentions is the service's work.

Text becomes HTML as Mastodon renders it: escaped, paragraphs at blank lines, `<br>` at line
breaks, links for URLs, `h-card` mentions and `hashtag` links, so that every app and server
shows it as Mastodon's own posts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from federatie.activitypub.iris import AS_PUBLIC as PUBLIC
from federatie.errors import Unprocessable

MAX_CHARACTERS = 5000
MAX_MEDIA = 4


class Visibility(StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"
    DIRECT = "direct"


# Mastodon's patterns (app/models/account.rb MENTION_RE, tag.rb HASHTAG_RE), simplified.
MENTION = re.compile(r"(?<![\w/@])@([a-z0-9_]+)(?:@([a-z0-9.-]+(?::\d+)?[a-z0-9]))?", re.I)
HASHTAG = re.compile(r"(?<![\w/#&])#(\w{1,100})")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.I)
_TOKENS = re.compile(f"{_URL.pattern}|{MENTION.pattern}|{HASHTAG.pattern}", re.I)


@dataclass(frozen=True)
class Mentioned:
    """A resolved mention: the actor's id (IRI), profile URL and `@name@host` handle."""

    uri: str
    url: str
    acct: str


def mention_handles(text: str, own_host: str) -> list[tuple[str, str | None]]:
    """(name, host or None for local) of each `@name` or `@name@host` in the text, once."""
    found: dict[tuple[str, str | None], None] = {}
    for match in MENTION.finditer(text):
        name, host = match[1].lower(), (match[2] or "").lower() or None
        found.setdefault((name, None if host == own_host else host), None)
    return list(found)


def hashtags(text: str) -> list[str]:
    """The hashtags of a text, lower-cased, once each, in order."""
    return list(dict.fromkeys(m[1].lower() for m in HASHTAG.finditer(text)))


def render_text(
    text: str,
    mentions: Mapping[tuple[str, str | None], Mentioned],
    base_url: str,
) -> str:
    """Plain text to HTML as Mastodon renders it; unresolved mentions stay text."""
    paragraphs = re.split(r"\n\s*\n", text.strip().replace("\r\n", "\n"))
    rendered = []
    for paragraph in paragraphs:
        lines = [_render_line(line, mentions, base_url) for line in paragraph.split("\n")]
        rendered.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(rendered)


def _render_line(
    line: str, mentions: Mapping[tuple[str, str | None], Mentioned], base_url: str
) -> str:
    out, position = [], 0
    for match in _TOKENS.finditer(line):
        out.append(html.escape(line[position : match.start()], quote=False))
        token = match[0]
        out.append(_render_token(token, mentions, base_url))
        position = match.end()
    out.append(html.escape(line[position:], quote=False))
    return "".join(out)


def _render_token(
    token: str, mentions: Mapping[tuple[str, str | None], Mentioned], base_url: str
) -> str:
    if token.startswith("@"):
        name, _, host = token[1:].partition("@")
        found = mentions.get((name.lower(), host.lower() or None))
        if found is None:
            return html.escape(token, quote=False)
        return (
            f'<span class="h-card"><a href="{html.escape(found.url)}" class="u-url mention">'
            f"@<span>{html.escape(name)}</span></a></span>"
        )
    if token.startswith("#"):
        tag = token[1:]
        return (
            f'<a href="{html.escape(tag_url(base_url, tag))}" class="mention hashtag" '
            f'rel="tag">#<span>{html.escape(tag)}</span></a>'
        )
    escaped = html.escape(token)
    return f'<a href="{escaped}" rel="nofollow noopener noreferrer">{escaped}</a>'


def tag_url(base_url: str, tag: str) -> str:
    return f"{base_url}/tags/{tag.lower()}"


def addressing(
    visibility: Visibility,
    followers: str,
    mentioned: list[str],
) -> dict[str, list[str]]:
    """`to` and `cc` of a status, as Mastodon addresses each visibility."""
    if visibility is Visibility.PUBLIC:
        return {"to": [PUBLIC], "cc": [followers, *mentioned]}
    if visibility is Visibility.UNLISTED:
        return {"to": [followers], "cc": [PUBLIC, *mentioned]}
    if visibility is Visibility.PRIVATE:
        return {"to": [followers], "cc": mentioned}
    if not mentioned:
        raise Unprocessable("Validation failed: a direct message must mention someone")
    return {"to": mentioned, "cc": []}


def visibility_of(document: Mapping[str, Any]) -> Visibility:
    """How Mastodon reads a post's addressing: public in `to`, public in `cc`, a followers
    collection (or a group: its members), or only the people named."""
    to, cc = _list(document.get("to")), _list(document.get("cc"))
    if PUBLIC in to:
        return Visibility.PUBLIC
    if PUBLIC in cc:
        return Visibility.UNLISTED
    if document.get("audience") or any(a.endswith("/followers") for a in to + cc):
        return Visibility.PRIVATE
    return Visibility.DIRECT


def _list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i if isinstance(i, str) else str(i.get("id")) for i in items if i]


def parse_visibility(value: str | None, default: Visibility = Visibility.PUBLIC) -> Visibility:
    if value in (None, ""):
        return default
    try:
        return Visibility(value)
    except ValueError:
        raise Unprocessable(f"Validation failed: Visibility {value!r} is not valid") from None
