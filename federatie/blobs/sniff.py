"""What a file really is, from its bytes: a small magic-number sniffer.

The media type an uploader (or another server) claims is never used: a file named `x.png`
that holds `<html><script>` is HTML, and is served as such (as an attachment). The rules
follow the WHATWG MIME Sniffing standard's signatures, are deliberately conservative about
markup (HTML, SVG and XML are recognised anywhere near the start, not only at byte 0, so that
they are never served inline as something harmless), and fall back to
`application/octet-stream`. ZIP containers are opened to tell office documents apart.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Final

OCTET_STREAM: Final = "application/octet-stream"
SNIFF_BYTES: Final = 4096

# Exact signatures at offset 0.
_PREFIXES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"BZh", "application/x-bzip2"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"{\\rtf", "application/rtf"),
    (b"%!PS", "application/postscript"),
    (b"\x00asm", "application/wasm"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
)
_RIFF: Final = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP_BRANDS: Final = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"msf1": "image/heic",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
}
_ODF_TYPES: Final = frozenset(
    {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.graphics",
        "application/epub+zip",
    }
)
_OOXML: Final = (
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
# Markup a browser would act on. Searched for anywhere in the sniffed text, case-insensitive:
# a "text" file with a script tag in it is treated as HTML (an attachment), never as plain text.
_HTML_MARKERS: Final = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|object|embed|frameset|frame|style"
    rb"|meta|link|base|form|img|a|div|table|title|svg|math|template|p|br|h1|font|b)[\s/>]",
    re.IGNORECASE,
)
_SVG: Final = re.compile(rb"<svg[\s/>]", re.IGNORECASE)
_XML: Final = re.compile(rb"^<\?xml[\s?]", re.IGNORECASE)
# WHATWG's "binary data bytes": a file with one of these is not text.
_BINARY_BYTES: Final = frozenset({*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)})


def sniff(head: bytes) -> str:
    """The media type of a file whose first bytes (up to `SNIFF_BYTES`) are `head`."""
    for prefix, media_type in _PREFIXES:
        if head.startswith(prefix):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head[:128] else "audio/ogg"
    if _mp3_frame(head):
        return "audio/mpeg"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return _sniff_text(head)


def sniff_file(path: Path) -> str:
    """`sniff` on the file's start; ZIP containers are opened to name office documents."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    media_type = sniff(head)
    if media_type == "application/zip":
        return _sniff_zip(path, head)
    return media_type


def _mp3_frame(head: bytes) -> bool:
    """An MPEG audio frame header: sync bits, a valid version, layer and bit rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    return version != 1 and layer != 0 and bitrate not in (0, 15) and (head[2] >> 2) & 3 != 3


def _sniff_zip(path: Path, head: bytes) -> str:
    if head[30:38] == b"mimetype":
        declared = head[38:100].split(b"PK", 1)[0].decode("ascii", "replace").strip()
        if declared in _ODF_TYPES:
            return declared
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "application/zip"
    if "[Content_Types].xml" in names:
        for prefix, media_type in _OOXML:
            if any(name.startswith(prefix) for name in names):
                return media_type
    return "application/zip"


def _sniff_text(head: bytes) -> str:
    text = head
    for bom in (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe"):
        if text.startswith(bom):
            if bom != b"\xef\xbb\xbf":
                # UTF-16 text: decode enough to look for markup; never inline.
                codec = "utf-16-be" if bom == b"\xfe\xff" else "utf-16-le"
                decoded = text[2:].decode(codec, "replace")
                return _markup(decoded.encode("utf-8", "replace")) or OCTET_STREAM
            text = text[3:]
    markup = _markup(text)
    if markup is not None:
        return markup
    if any(byte in _BINARY_BYTES for byte in text):
        return OCTET_STREAM
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sniffed window may end inside a character; anything else is not UTF-8.
        if exc.start < len(text) - 3:
            return OCTET_STREAM
    return "text/plain"


def _markup(text: bytes) -> str | None:
    stripped = text.lstrip(b" \t\r\n\f")
    if _XML.match(stripped):
        return "image/svg+xml" if _SVG.search(text) else "application/xml"
    if _SVG.search(text):
        return "image/svg+xml"
    if _HTML_MARKERS.search(text):
        return "text/html"
    return None
