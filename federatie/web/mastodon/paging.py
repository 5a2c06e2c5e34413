"""Mastodon's pagination: `max_id`, `since_id`, `min_id` and `limit`, answered with a `Link`.

Ids are our row ids (bigint), sent as strings as Mastodon does. `max_id` asks for items older
than it, `since_id` for the newest items newer than it, `min_id` for the items right after it
(walking forwards). Storage queries order by id descending, or ascending when `ascending` (a
`min_id` walk) and then `arrange` the rows newest first, as every list is served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from quart import Response, request

from federatie.runtime import current_runtime
from federatie.web.mastodon.errors import validation_failed
from federatie.web.responses import json_response

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
_CURSORS = ("max_id", "since_id", "min_id")


@dataclass(frozen=True)
class Page:
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    @property
    def ascending(self) -> bool:
        """A `min_id` walk: select the oldest rows after `min_id` first."""
        return self.min_id is not None

    @property
    def after(self) -> int | None:
        """Rows must have an id above this (exclusive)."""
        if self.min_id is not None and self.since_id is not None:
            return max(self.min_id, self.since_id)
        return self.min_id if self.min_id is not None else self.since_id

    @property
    def before(self) -> int | None:
        """Rows must have an id below this (exclusive)."""
        return self.max_id

    @property
    def order(self) -> str:
        """The SQL direction for the page's `ORDER BY id`."""
        return "ASC" if self.ascending else "DESC"

    def arrange(self, rows: Sequence[T]) -> list[T]:
        """Rows as fetched in `order`, newest first (the order every list is served in)."""
        return list(rows)[::-1] if self.ascending else list(rows)


def parse_page(
    args: Mapping[str, str] | None = None,
    *,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Page:
    """The page a request asks for; 422 on an id or limit that is not a number."""
    args = request.args if args is None else args
    cursors: dict[str, int | None] = {}
    for name in _CURSORS:
        raw = args.get(name, "").strip()
        if not raw:
            cursors[name] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= 18:
            cursors[name] = int(raw)
        else:
            raise validation_failed(f"{name} must be an id")
    raw_limit = args.get("limit", "").strip()
    if not raw_limit:
        limit = default_limit
    else:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise validation_failed("limit must be a number") from None
        if limit < 1:
            raise validation_failed("limit must be positive")
    return Page(
        max_id=cursors["max_id"],
        since_id=cursors["since_id"],
        min_id=cursors["min_id"],
        limit=min(limit, max_limit),
    )


def link_header(ids: Sequence[int], page: Page) -> str | None:
    """`Link` with `next` (older: max_id) and `prev` (newer: min_id) for items served newest
    first; None for an empty page, as Mastodon sends none then."""
    if not ids:
        return None
    base = current_runtime().config.base_url + request.path
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in (*_CURSORS, "limit")]
    limit = [("limit", str(page.limit))]
    older = urlencode([*kept, *limit, ("max_id", str(ids[-1]))])
    newer = urlencode([*kept, *limit, ("min_id", str(ids[0]))])
    return f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'


def paged_response(items: Sequence[Any], ids: Sequence[int], page: Page) -> Response:
    """A JSON list with its `Link` header; `ids` are the page's cursors, in the same order."""
    response = json_response(list(items))
    link = link_header(ids, page)
    if link:
        response.headers["Link"] = link
    return response
