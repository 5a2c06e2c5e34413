"""A few seconds of memory for answers that every anonymous reader gets alike.

WebFinger, actor documents, outbox pages and the pages visitors who are not signed in see
(groups, profiles, blogs, posts, the directory) are read far more often than they change (by
other servers, crawlers, link previews), and rendering one costs milliseconds of the web
process's single event loop (bench/README.md).
Each web process keeps such answers for `FEDERATIE_PUBLIC_CACHE_SECONDS` (0: off), the same
trade Mastodon makes with `Cache-Control: public` on its actor documents.

Rules that keep it safe:
* The caller runs its access checks (authorized fetch, blocks) before asking, and chooses the
  key: everything the answer depends on (path, query, representation, language).
* Only 200 answers without cookies are kept, each at most `MAX_BODY` bytes, at most
  `MAX_ENTRIES` answers and `MAX_BYTES` in all (least recently used go first), so that a
  crawler walking every page cannot make the process grow past a few tens of megabytes.
* A page's CSRF token is the visitor's own: it is kept as a placeholder and each reader gets
  their token back in its place.
* Concurrent misses of one key wait for one render, so a popular page that expires under load
  is rendered once, not by every waiting request.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from quart import Quart, Response, current_app

EXTENSION_KEY = "federatie.public_cache"
MAX_ENTRIES = 4096
MAX_BODY = 512 * 1024
MAX_BYTES = 32 * 1024 * 1024
# Unguessable, so no content a user wrote can contain it.
_TOKEN_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}".encode()


@dataclass(frozen=True)
class _Answer:
    expires: float
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self, visitor_token: str | None) -> Response:
        body = self.body
        if visitor_token is not None:
            body = body.replace(_TOKEN_PLACEHOLDER, visitor_token.encode())
        response = Response(body, status=self.status)
        response.headers.clear()
        response.headers.extend(self.headers)
        response.headers["Content-Length"] = str(len(body))
        return response


class PublicCache:
    """Per-process answers by key, each for `seconds` after it was rendered."""

    def __init__(
        self,
        seconds: float,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()
        self._bytes = 0  # of the bodies kept
        self._rendering: dict[Hashable, asyncio.Future[_Answer | None]] = {}
        self.hits = 0  # since the process started (for /metrics)
        self.misses = 0

    async def answer(
        self,
        key: Hashable,
        render: Callable[[], Awaitable[Response]],
        *,
        visitor_token: str | None = None,
    ) -> Response:
        """The kept answer for `key`, else `render()`'s (kept if it may be). `visitor_token`:
        this reader's CSRF token, which the rendered page contains and no other reader gets."""
        if self._seconds <= 0:
            return await render()
        kept = self._answers.get(key)
        if kept is not None and kept.expires > self._clock():
            self._answers.move_to_end(key)
            self.hits += 1
            return kept.response(visitor_token)
        underway = self._rendering.get(key)
        if underway is not None:
            kept = await asyncio.shield(underway)
            if kept is not None:
                self.hits += 1
                return kept.response(visitor_token)
            return await render()
        self.misses += 1
        future: asyncio.Future[_Answer | None] = asyncio.get_running_loop().create_future()
        self._rendering[key] = future
        kept = None
        try:
            response = await render()
            kept = await self._keep(key, response, visitor_token)
            return response
        finally:
            del self._rendering[key]
            future.set_result(kept)

    @property
    def entries(self) -> int:
        return len(self._answers)

    async def _keep(
        self, key: Hashable, response: Response, visitor_token: str | None
    ) -> _Answer | None:
        if response.status_code != 200 or "Set-Cookie" in response.headers:
            return None
        body = await response.get_data(as_text=False)
        if len(body) > min(MAX_BODY, self._max_bytes):
            return None
        if visitor_token is not None:
            body = body.replace(visitor_token.encode(), _TOKEN_PLACEHOLDER)
        headers = tuple(
            (name, value) for name, value in response.headers.items() if name != "Content-Length"
        )
        answer = _Answer(self._clock() + self._seconds, 200, headers, body)
        replaced = self._answers.pop(key, None)
        if replaced is not None:
            self._bytes -= len(replaced.body)
        self._answers[key] = answer
        self._bytes += len(body)
        while len(self._answers) > self._max_entries or self._bytes > self._max_bytes:
            _, evicted = self._answers.popitem(last=False)
            self._bytes -= len(evicted.body)
        return answer


def install(app: Quart, seconds: int) -> None:
    app.extensions[EXTENSION_KEY] = PublicCache(seconds)


def public_cache() -> PublicCache:
    """This web process's cache (see `install`)."""
    cache: PublicCache = current_app.extensions[EXTENSION_KEY]
    return cache
