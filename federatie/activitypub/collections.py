"""OrderedCollection and OrderedCollectionPage with keyset paging (`max_id` / `min_id`).

Keyset cursors, not offsets: a page stays cheap at a million items, and new items arriving
while someone pages do not shift what they see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federatie.activitypub.iris import AS_CONTEXT
from federatie.errors import BadRequest

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 80


@dataclass(frozen=True)
class PageRequest:
    """Which page: items older than `max_id`, or newer than `min_id`, newest first."""

    max_id: int | None
    min_id: int | None
    limit: int


def parse_page_request(args: Mapping[str, str]) -> PageRequest | None:
    """None asks for the collection itself; `page`, `max_id` or `min_id` ask for a page."""
    if not any(key in args for key in ("page", "max_id", "min_id", "limit")):
        return None
    try:
        max_id = int(args["max_id"]) if "max_id" in args else None
        min_id = int(args["min_id"]) if "min_id" in args else None
        limit = int(args.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError as exc:
        raise BadRequest("max_id, min_id and limit must be whole numbers") from exc
    if limit < 1:
        raise BadRequest("limit must be positive")
    return PageRequest(max_id, min_id, min(limit, MAX_PAGE_SIZE))


def ordered_collection(uri: str, total: int) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": uri,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": f"{uri}?page=true",
    }


def ordered_collection_page(
    uri: str, total: int | None, page: PageRequest, items: Sequence[tuple[int, Any]]
) -> dict[str, Any]:
    """A page of (cursor, item) pairs, newest first, with `next` and `prev` links.

    `totalItems` only when `total` is given: the collection itself carries it, and a page
    need not (Mastodon's pages do not), which spares a count of the whole collection on
    every page served."""
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": _page_uri(uri, page),
        "type": "OrderedCollectionPage",
        "partOf": uri,
        "orderedItems": [item for _, item in items],
    }
    if total is not None:
        doc["totalItems"] = total
    if items and len(items) >= page.limit:
        doc["next"] = f"{uri}?max_id={items[-1][0]}"
    if items and (page.max_id is not None or page.min_id is not None):
        doc["prev"] = f"{uri}?min_id={items[0][0]}"
    return doc


def _page_uri(uri: str, page: PageRequest) -> str:
    if page.max_id is not None:
        return f"{uri}?max_id={page.max_id}"
    if page.min_id is not None:
        return f"{uri}?min_id={page.min_id}"
    return f"{uri}?page=true"
