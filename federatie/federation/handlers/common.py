"""What every handler shares: the activity as handed over, and ownership checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federatie.activitypub.normalize import id_of
from federatie.activitypub.uris import same_origin
from federatie.errors import Forbidden


@dataclass(frozen=True)
class Activity:
    """A verified arrival: `actor` signed it; `document` is normalised, `raw` as received."""

    id: str
    actor: str
    document: dict[str, Any]
    raw: dict[str, Any]

    @property
    def object_id(self) -> str | None:
        return id_of(self.document.get("object"))

    @property
    def embedded_object(self) -> dict[str, Any] | None:
        value = self.document.get("object")
        return value if isinstance(value, dict) else None

    @property
    def raw_object(self) -> dict[str, Any] | None:
        value = self.raw.get("object")
        return value if isinstance(value, dict) else None


def require_same_origin(activity: Activity, uri: str, what: str) -> None:
    """An actor speaks only for its own host (Mastodon CVE-2024-23832)."""
    if not same_origin(uri, activity.actor):
        raise Forbidden(f"{activity.actor} cannot speak for {what} {uri} on another host")
