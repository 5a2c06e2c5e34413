"""Blog posts as their authors write them: the fields, their limits, and checking input.

Input is the JSON of the blog API (see `federatie.web.blogs`). Every check raises a typed
error before anything is stored: 422 for a missing or malformed field, 413 for content over
`MAX_CONTENT_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from federatie.errors import PayloadTooLarge, Unprocessable

MARKDOWN = "text/markdown"
HTML = "text/html"
FORMATS = {"markdown": MARKDOWN, MARKDOWN: MARKDOWN, "html": HTML, HTML: HTML}

MAX_TITLE = 200
MAX_SUMMARY = 1000
MAX_CONTENT_BYTES = 100 * 1024
MAX_THEMES = 10
MAX_ATTACHMENTS = 20
ATTACHMENT_TYPES = frozenset({"Document", "Image", "Audio", "Video"})
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$")
# Fields of the API; `publish` only when creating.
EDITABLE = ("title", "content", "format", "summary", "themes", "attachment")


@dataclass(frozen=True)
class PostFields:
    """What the author controls. `content` is the source, in `source_type`."""

    title: str
    content: str
    source_type: str = MARKDOWN
    summary: str | None = None
    themes: tuple[str, ...] = ()
    attachment: tuple[dict[str, str], ...] = ()


def parse_new_post(body: Mapping[str, Any]) -> tuple[PostFields, bool]:
    """A new post (`title` and `content` required) and whether to publish it at once."""
    _no_unknown(body, (*EDITABLE, "publish"))
    publish = body.get("publish", False)
    if not isinstance(publish, bool):
        raise Unprocessable("publish must be true or false")
    return _complete(body), publish


def apply_changes(current: PostFields, body: Mapping[str, Any], *, replace_all: bool) -> PostFields:
    """PATCH changes the fields given; PUT (`replace_all`) replaces the whole post."""
    _no_unknown(body, EDITABLE)
    if replace_all:
        return _complete(body)
    changes = _parse(body)
    if not changes:
        raise Unprocessable(f"nothing to change: give one of {', '.join(EDITABLE)}")
    return replace(current, **changes)


def _complete(body: Mapping[str, Any]) -> PostFields:
    missing = [name for name in ("title", "content") if body.get(name) is None]
    if missing:
        raise Unprocessable(f"a post needs {' and '.join(missing)}")
    changes = _parse(body)
    return PostFields(**changes)


def _no_unknown(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Unprocessable(f"unknown field(s) {', '.join(unknown)}; use {', '.join(allowed)}")


def _parse(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "title" in body:
        out["title"] = _title(body["title"])
    if "content" in body:
        out["content"] = _content(body["content"])
    if "format" in body:
        fmt = body["format"]
        if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
            raise Unprocessable("format must be markdown or html")
        out["source_type"] = FORMATS[fmt.lower()]
    if "summary" in body:
        out["summary"] = _summary(body["summary"])
    if "themes" in body:
        out["themes"] = _themes(body["themes"])
    if "attachment" in body:
        out["attachment"] = _attachments(body["attachment"])
    return out


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Unprocessable(f"{what} must be a string")
    if "\x00" in value:
        raise Unprocessable(f"{what} contains a NUL character")
    return value


def _title(value: Any) -> str:
    title = " ".join(_text(value, "title").split())
    if not title:
        raise Unprocessable("the title is empty")
    if len(title) > MAX_TITLE:
        raise Unprocessable(f"the title is longer than {MAX_TITLE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise Unprocessable("the title contains control characters")
    return title


def _content(value: Any) -> str:
    content = _text(value, "content")
    if len(content.encode()) > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(f"the content is larger than {MAX_CONTENT_BYTES // 1024} KB")
    return content


def _summary(value: Any) -> str | None:
    if value is None:
        return None
    summary = " ".join(_text(value, "summary").split())
    if len(summary) > MAX_SUMMARY:
        raise Unprocessable(f"the summary is longer than {MAX_SUMMARY} characters")
    return summary or None


def normalise_theme(raw: Any) -> str:
    """As group themes: letters, digits, - and _, lower-case, without a leading #."""
    theme = _text(raw, "a theme").strip().lstrip("#").lower()
    if not theme or len(theme) > 50 or not all(c.isalnum() or c in "_-" for c in theme):
        raise Unprocessable(f"invalid theme {raw!r}: letters, digits, - and _ only")
    return theme


def _themes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Unprocessable("themes must be a list of strings")
    if len(value) > MAX_THEMES:
        raise Unprocessable(f"at most {MAX_THEMES} themes")
    return tuple(dict.fromkeys(normalise_theme(theme) for theme in value))


def _attachments(value: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list):
        raise Unprocessable("attachment must be a list of objects")
    if len(value) > MAX_ATTACHMENTS:
        raise Unprocessable(f"at most {MAX_ATTACHMENTS} attachments")
    return tuple(_attachment(item) for item in value)


def _attachment(item: Any) -> dict[str, str]:
    """`{"url", "type"?, "mediaType"?, "name"?}`: a link to a file, shown under the post."""
    if not isinstance(item, dict):
        raise Unprocessable("an attachment must be an object with a url")
    unknown = sorted(set(item) - {"type", "url", "mediaType", "name"})
    if unknown:
        raise Unprocessable(f"unknown attachment field(s) {', '.join(unknown)}")
    url = _text(item.get("url"), "an attachment's url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise Unprocessable(f"an attachment's url must be an http(s) URL: {url[:100]!r}")
    kind = item.get("type", "Document")
    if kind not in ATTACHMENT_TYPES:
        raise Unprocessable(f"an attachment's type is one of {', '.join(sorted(ATTACHMENT_TYPES))}")
    out = {"type": kind, "url": url}
    media_type = item.get("mediaType")
    if media_type is not None:
        if not isinstance(media_type, str) or not _MEDIA_TYPE.match(media_type):
            raise Unprocessable(f"invalid attachment mediaType {media_type!r}")
        out["mediaType"] = media_type.lower()
    name = item.get("name")
    if name is not None:
        name = " ".join(_text(name, "an attachment's name").split())
        if len(name) > 500:
            raise Unprocessable("an attachment's name is longer than 500 characters")
        if name:
            out["name"] = name
    return out
