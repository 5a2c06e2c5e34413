"""The MediaAttachment entity (https://docs.joinmastodon.org/entities/MediaAttachment/): our
uploads from their rows, other servers' from the `attachment` of their posts."""

from __future__ import annotations

from typing import Any

from federatie.services.media import media_url
from federatie.storage.media import Media

_KINDS = (("image/gif", "gifv"), ("image/", "image"), ("video/", "video"), ("audio/", "audio"))
_AS_TYPES = {"Image": "image", "Video": "video", "Audio": "audio"}


def _kind(media_type: str | None) -> str:
    for prefix, kind in _KINDS:
        if media_type and media_type.startswith(prefix):
            return "image" if kind == "gifv" else kind  # a GIF stays an image: we keep it as is
    return "unknown"


def _meta(width: int | None, height: int | None) -> dict[str, Any]:
    if not width or not height:
        return {}
    size = {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}
    return {"original": size, "small": size}


def media_entity(media: Media, base_url: str) -> dict[str, Any]:
    url = media_url(base_url, media)
    return {
        "id": str(media.id),
        "type": _kind(media.media_type),
        "url": url,
        "preview_url": f"{url}/small" if media.thumbnail_sha256 else url,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": _meta(media.width, media.height),
        "description": media.description,
        "blurhash": None,
    }


def remote_media_entity(node: dict[str, Any], entity_id: int) -> dict[str, Any] | None:
    """An attachment of another server's post; None when it has no usable URL."""
    url = node.get("url") if isinstance(node.get("url"), str) else node.get("href")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    media_type = node.get("mediaType") if isinstance(node.get("mediaType"), str) else None
    kind = _kind(media_type)
    if kind == "unknown":
        kind = _AS_TYPES.get(str(node.get("type")), "unknown")
    width, height = node.get("width"), node.get("height")
    name = node.get("name")
    return {
        "id": str(entity_id),
        "type": kind,
        "url": url,
        "preview_url": url,
        "remote_url": url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": _meta(width, height) if isinstance(width, int) and isinstance(height, int) else {},
        "description": name if isinstance(name, str) else None,
        "blurhash": node.get("blurhash") if isinstance(node.get("blurhash"), str) else None,
    }
