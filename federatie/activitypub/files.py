"""Files on the wire: an ActivityStreams `Document` (or `Image`/`Audio`/`Video`), FEP-1311 style.

    {"type": "Document", "id": ".../objects/<key>", "name": "notulen.pdf",
     "mediaType": "application/pdf", "size": 52311,
     "digestMultibase": "zQm…",                 # base58btc multihash, sha2-256
     "url": {"type": "Link", "href": ".../files/<key>/versions/2", "mediaType": "application/pdf"},
     "attributedTo": uploader, "audience": group, "to": [...], "cc": [...],
     "published": ..., "updated": ...}

The integrity field is `digestMultibase` (Verifiable Credential Data Integrity's term, as
FEP-1311 recommends) on the object; we do not send `digest`, whose meaning varies between
vocabularies. Reading, we also take `digestMultibase` (or a multibase `digest`) from the `url`
Link. `size` is PeerTube's term, as FEP-1311 uses it. The `url` names one version and never
changes, so a copy can always be checked against the digest beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from federatie.activitypub.iris import AS_CONTEXT
from federatie.activitypub.normalize import PUBLIC, id_of
from federatie.activitypub.signatures import b58decode, b58encode

FILE_TYPES: Final = frozenset({"Document", "Image", "Audio", "Video"})
FILE_TERMS: Final[dict[str, Any]] = {
    "digestMultibase": "https://w3id.org/security#digestMultibase",
    "size": "https://joinpeertube.org/ns#size",
}
FILE_CONTEXT: Final[list[Any]] = [AS_CONTEXT, FILE_TERMS]
_SHA256_MULTIHASH: Final = b"\x12\x20"  # multihash: sha2-256, 32 bytes


def as_type(media_type: str) -> str:
    """The ActivityStreams type for a media type (FEP-1311 prefers these to Document)."""
    main = media_type.split("/", 1)[0]
    return {"image": "Image", "audio": "Audio", "video": "Video"}.get(main, "Document")


def digest_multibase(sha256_hex: str) -> str:
    """`z` + base58btc(multihash(sha2-256)): starts with `zQm`."""
    return "z" + b58encode(_SHA256_MULTIHASH + bytes.fromhex(sha256_hex))


def parse_digest_multibase(value: object) -> str | None:
    """The hex SHA-256 in a base58btc sha2-256 multihash, or None for anything else."""
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 100:
        return None
    try:
        raw = b58decode(value[1:])
    except ValueError:
        return None
    if len(raw) != 34 or not raw.startswith(_SHA256_MULTIHASH):
        return None
    return raw[2:].hex()


@dataclass(frozen=True)
class FileFields:
    """What a local file's Document says."""

    id: str
    name: str
    media_type: str
    size: int
    sha256: str
    href: str
    attributed_to: str
    to: list[str]
    cc: list[str]
    audience: str | None
    published: str
    updated: str | None
    width: int | None = None
    height: int | None = None
    preview: str | None = None
    preview_media_type: str | None = None


def file_document(fields: FileFields) -> dict[str, Any]:
    """The Document (without `@context`: the caller adds `FILE_CONTEXT` where it belongs)."""
    doc: dict[str, Any] = {
        "id": fields.id,
        "type": as_type(fields.media_type),
        "name": fields.name,
        "mediaType": fields.media_type,
        "size": fields.size,
        "digestMultibase": digest_multibase(fields.sha256),
        "url": {"type": "Link", "href": fields.href, "mediaType": fields.media_type},
        "attributedTo": fields.attributed_to,
        "to": fields.to,
        "cc": fields.cc,
        "published": fields.published,
    }
    if fields.audience:
        doc["audience"] = fields.audience
    if fields.updated:
        doc["updated"] = fields.updated
    if fields.width and fields.height:
        doc["width"], doc["height"] = fields.width, fields.height
    if fields.preview:
        doc["preview"] = {
            "type": "Link",
            "href": fields.preview,
            "mediaType": fields.preview_media_type,
        }
    return doc


@dataclass(frozen=True)
class RemoteFileFields:
    """What we take from another server's file object (raw JSON, not the normalised form,
    which drops `size` and `digestMultibase`)."""

    id: str
    name: str | None
    media_type: str | None
    size: int | None
    sha256: str
    href: str
    audience: list[str]
    public: bool
    width: int | None
    height: int | None


def parse_file_object(raw: dict[str, Any]) -> RemoteFileFields | None:
    """A remote Document/Image/Audio/Video with a sha2-256 digest and a URL, or None."""
    kind = raw.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if not any(k in FILE_TYPES for k in kinds) or not isinstance(raw.get("id"), str):
        return None
    href, link = _href(raw.get("url"))
    if href is None:
        return None
    sha256 = parse_digest_multibase(raw.get("digestMultibase"))
    if sha256 is None and link is not None:
        sha256 = parse_digest_multibase(link.get("digestMultibase")) or parse_digest_multibase(
            link.get("digest")
        )
    if sha256 is None:
        return None
    size = raw.get("size", link.get("size") if link else None)
    media_type = raw.get("mediaType") or (link.get("mediaType") if link else None)
    name = raw.get("name")
    addressed = [*_ids(raw.get("to")), *_ids(raw.get("cc"))]
    return RemoteFileFields(
        id=raw["id"],
        name=name if isinstance(name, str) else None,
        media_type=media_type if isinstance(media_type, str) else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        sha256=sha256,
        href=href,
        audience=_ids(raw.get("audience")),
        public=any(a in (PUBLIC, "as:Public", "Public") for a in addressed),
        width=_dimension(raw.get("width")),
        height=_dimension(raw.get("height")),
    )


def _href(url: Any) -> tuple[str | None, dict[str, Any] | None]:
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, str):
        return url, None
    if isinstance(url, dict):
        href = id_of(url.get("href"))
        return href, url
    return None, None


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [iri for iri in (id_of(item) for item in items) if iri]


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
