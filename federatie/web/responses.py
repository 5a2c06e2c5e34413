"""Response helpers shared by the blueprints: JSON on orjson, and content negotiation."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Response, request

AS_MEDIA_TYPE = "application/activity+json"
LD_MEDIA_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def json_response(data: Any, status: int = 200, content_type: str = "application/json") -> Response:
    response = Response(orjson.dumps(data), status=status, content_type=content_type)
    return response


def wants_activitypub() -> bool:
    """ActivityPub JSON for AP media types (and plain JSON); HTML for browsers.

    Mastodon and others send `application/activity+json` or `application/ld+json` with the
    ActivityStreams profile; browsers send `text/html` first.
    """
    accept = request.headers.get("Accept", "").lower()
    if "application/activity+json" in accept or "application/ld+json" in accept:
        return True
    if "text/html" in accept:
        return False
    return "application/json" in accept


def wants_html() -> bool:
    """A browser: HTML is acceptable and no JSON flavour was asked for first."""
    accept = request.headers.get("Accept", "").lower()
    return "text/html" in accept and not wants_activitypub()


def activity_media_type() -> str:
    """The JSON-LD media type the client asked for (ld+json, else activity+json)."""
    accept = request.headers.get("Accept", "").lower()
    return LD_MEDIA_TYPE if "application/ld+json" in accept else AS_MEDIA_TYPE


def activity_response(doc: dict[str, Any], status: int = 200) -> Response:
    """Serve a JSON-LD document in the media type the client asked for."""
    response = json_response(doc, status, activity_media_type())
    response.headers["Vary"] = "Accept"
    return response
