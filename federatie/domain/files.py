"""Rules for files: what a name may be, and how a file may be shown to a browser."""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

MAX_NAME_LENGTH: Final = 200
_MAX_EXTENSION: Final = 16
# Unicode categories that never belong in a name: controls (NUL, newline …), format
# characters (bidirectional overrides that disguise `gpj.exe`, zero-width joiners),
# surrogates, private use, unassigned, and line/paragraph separators.
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Reserved on Windows, and quoting trouble everywhere.
_REPLACED: Final = re.compile(r'[<>:"|?*]')
_SPACES: Final = re.compile(r"\s+")

# Served inline (shown in the browser): nothing here can run script. Everything else is
# an attachment (downloaded), above all what a browser would execute: HTML, SVG, XML, JS.
INLINE_TYPES: Final = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "application/pdf",
        "text/plain",
    }
)
# Every file response carries these: no content sniffing, and a sandbox even when a browser
# is tricked into rendering the file as a page.
FILE_SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


def sanitise_name(raw: str | None, fallback: str = "file") -> str:
    """A file or folder name that is safe to show and to offer as a download name.

    Only the last path segment of what a client sends counts (`../../etc/passwd` is
    `passwd`); white space (newlines too) becomes one space, other control and format
    characters are removed, Windows-reserved characters become `_`, leading dots and
    spaces and trailing dots are dropped, and the length is capped (keeping the extension).
    Names are never used as paths: blobs are stored by digest.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    name = _SPACES.sub(" ", _REPLACED.sub("_", name)).strip()
    name = name.lstrip(". ").rstrip(". ")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= _MAX_EXTENSION:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip(". ")
    return name or fallback


def is_inline(media_type: str) -> bool:
    return media_type in INLINE_TYPES


def content_type_header(media_type: str) -> str:
    """The Content-Type to serve: text gets its charset (we only call UTF-8 text text)."""
    if media_type.startswith("text/") or media_type in ("application/xml", "image/svg+xml"):
        return f"{media_type}; charset=utf-8"
    return media_type


def content_disposition(media_type: str, name: str) -> str:
    """`inline` only for `INLINE_TYPES`; the name as an ASCII fallback and RFC 5987 UTF-8."""
    kind = "inline" if is_inline(media_type) else "attachment"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
