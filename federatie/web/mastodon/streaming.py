"""The streaming API (https://docs.joinmastodon.org/methods/streaming/): live timelines.

`/api/v1/streaming` is a WebSocket (as Mastodon's streaming server and apps like masto,
Elk and Phanpy use it): the token comes as `access_token` in the query, as a bearer
`Authorization` header, or as the WebSocket protocol (`Sec-WebSocket-Protocol`, echoed
back); streams are chosen with `?stream=` or with `{"type": "subscribe", "stream": …}`
messages. The same streams are served as Server-Sent Events at `/api/v1/streaming/<stream>`
(Mastodon.py reads those). Streams: `user`, `user:notification`, `public`,
`public:local`, `public:remote`, `hashtag` and `hashtag:local` (with `tag`). Events:
`update` and `delete` (statuses), `notification`; payloads are JSON strings, as Mastodon's.

Any process may store a post (a web process publishing, a worker handling an inbox), so
database triggers (migration 0011) announce new posts, boosts, deletions and notifications
with PostgreSQL NOTIFY, and each web process listens once, in a `StreamHub`, and decides per
subscriber whether an event belongs in their streams, with the same queries as the
timelines, rendering it for that viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy
from quart import Blueprint, Response, current_app, request, websocket

from federatie.domain.scopes import grants
from federatie.runtime import Runtime, current_runtime
from federatie.storage import mastodon_timelines as timelines_sql
from federatie.storage import notifications as notifications_sql
from federatie.storage import statuses as statuses_sql
from federatie.storage.pool import Connection
from federatie.storage.statuses import Entry
from federatie.web.mastodon.auth import ApiCaller, optional_caller, token_caller
from federatie.web.mastodon.entities.status import render_statuses
from federatie.web.mastodon.notifications import render_notifications
from federatie.web.mastodon.paging import Page

log = logging.getLogger(__name__)

CHANNEL = "federatie_stream"
HUB_KEY = "federatie.streaming"
HEARTBEAT_SECONDS = 15.0
QUEUE_SIZE = 500
USER_STREAMS = frozenset({"user", "user:notification"})
PUBLIC_STREAMS = frozenset({"public", "public:local", "public:remote", "public:media"})
TAG_STREAMS = frozenset({"hashtag", "hashtag:local"})

blueprint = Blueprint("mastodon_streaming", __name__)

Stream = tuple[str, ...]


class StreamRefused(Exception):
    """A stream that the caller may not have, or that does not exist."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(eq=False)
class Subscriber:
    """One WebSocket or event stream: who listens, to what, and what waits to be sent."""

    caller: ApiCaller | None
    streams: set[Stream] = field(default_factory=set)
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    @property
    def viewer_id(self) -> int | None:
        return self.caller.person.id if self.caller else None

    def offer(self, stream: Stream, event: str, payload: str) -> None:
        message = {"stream": list(stream), "event": event, "payload": payload}
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:  # a client that reads nothing loses events, not memory
            log.info("streaming.dropped", extra={"stream": list(stream), "event": event})


def stream_of(caller: ApiCaller | None, name: str, tag: str | None) -> Stream:
    """The stream a request names, if this caller may have it."""
    if name in USER_STREAMS:
        if caller is None:
            raise StreamRefused(401, "Missing access token")
        if not grants(caller.scopes, "read:statuses") and not grants(
            caller.scopes, "read:notifications"
        ):
            raise StreamRefused(403, "Access token does not have the required scopes")
        return (name,)
    if name in PUBLIC_STREAMS:
        return (name,)
    if name in TAG_STREAMS:
        clean = (tag or "").lstrip("#").strip().lower()
        if not clean:
            raise StreamRefused(400, "No tag for stream provided")
        return (name, clean)
    raise StreamRefused(400, "Unknown stream type")


class StreamHub:
    """The LISTEN connection of one web process and the subscribers it feeds."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._subscribers: set[Subscriber] = set()
        self._events: asyncio.Queue[str] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._listener: PoolConnectionProxy[asyncpg.Record] | None = None
        self._task: asyncio.Task[None] | None = None

    async def add(self, subscriber: Subscriber) -> None:
        async with self._lock:
            if self._listener is not None and self._listener.is_closed():
                await self._release()  # lost (a database restart): listen again
            if self._listener is None:
                await self._listen()
        self._subscribers.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def _listen(self) -> None:
        conn = await self._rt.pool.acquire()
        try:
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            await self._rt.pool.release(conn)
            raise
        self._listener = conn
        if self._task is None:
            self._task = asyncio.create_task(self._dispatch())

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._events.put_nowait(str(payload))

    async def _release(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if not conn.is_closed():
                await conn.remove_listener(CHANNEL, self._notified)
        # A lost connection still has our listener; asyncpg warns when the pool takes it back.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", asyncpg.InterfaceWarning)
            await self._rt.pool.release(conn)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()

    async def _dispatch(self) -> None:
        while True:
            payload = await self._events.get()
            if not self._subscribers:
                continue
            try:
                event = orjson.loads(payload)
                async with self._rt.pool.acquire() as conn:
                    await self._handle(conn, str(event["event"]), int(event["id"]))
            except Exception:
                log.exception("streaming.event_failed", extra={"payload": payload})

    async def _handle(self, conn: Connection, kind: str, row_id: int) -> None:
        if kind == "notification":
            await self._notification(conn, row_id)
            return
        if kind in ("object", "relay", "delete"):
            status_kind = statuses_sql.GROUP_RELAY if kind == "relay" else statuses_sql.POST
            status_id = await statuses_sql.select_object_status_id(conn, row_id, status_kind)
        else:
            status_id = await statuses_sql.select_announce_status_id(conn, row_id)
        if status_id is None:
            return
        if kind in ("delete", "unannounce"):
            for subscriber in list(self._subscribers):
                for stream in subscriber.streams:
                    if kind == "delete" or stream[0] == "user":
                        subscriber.offer(stream, "delete", str(status_id))
            return
        window = Page(max_id=status_id + 1, since_id=status_id - 1, min_id=None, limit=1)
        for subscriber in list(self._subscribers):
            for stream in subscriber.streams:
                if kind != "object" and stream[0] != "user":
                    continue  # public streams carry posts, not boosts
                found = await _select(conn, subscriber, stream, window)
                if found:
                    rendered = await render_statuses(
                        conn, found, subscriber.viewer_id, self._rt.config.base_url
                    )
                    for status in rendered:
                        subscriber.offer(stream, "update", orjson.dumps(status).decode())

    async def _notification(self, conn: Connection, notification_id: int) -> None:
        found = await notifications_sql.select_by_id(conn, notification_id)
        if found is None:
            return
        recipient_id, notification = found
        for subscriber in list(self._subscribers):
            if subscriber.viewer_id != recipient_id:
                continue
            for stream in subscriber.streams:
                if stream[0] not in USER_STREAMS:
                    continue
                rendered = await render_notifications(
                    conn, [notification], recipient_id, self._rt.config.base_url
                )
                for entity in rendered:
                    subscriber.offer(stream, "notification", orjson.dumps(entity).decode())


async def _select(
    conn: Connection, subscriber: Subscriber, stream: Stream, window: Page
) -> list[Entry]:
    """The status in `window` (one id) if it belongs in this subscriber's stream."""
    name = stream[0]
    if name == "user":
        if subscriber.viewer_id is None:
            return []
        return await timelines_sql.select_home(conn, subscriber.viewer_id, window)
    if name in PUBLIC_STREAMS or name in TAG_STREAMS:
        local = True if name.endswith(":local") else False if name == "public:remote" else None
        return await timelines_sql.select_public(
            conn,
            subscriber.viewer_id,
            window,
            local=local,
            only_media=name == "public:media",
            tag=stream[1] if name in TAG_STREAMS else None,
        )
    return []


def hub() -> StreamHub:
    """This app's hub (each app, and so each test instance, has its own)."""
    found: StreamHub | None = current_app.extensions.get(HUB_KEY)
    if found is None:
        found = current_app.extensions[HUB_KEY] = StreamHub(current_runtime())
    return found


@blueprint.after_app_serving
async def _close_hub() -> None:
    found: StreamHub | None = current_app.extensions.pop(HUB_KEY, None)
    if found is not None:
        await found.close()


# ----------------------------------------------------------------------------- WebSocket


@blueprint.websocket("/api/v1/streaming")
async def stream_socket() -> Response | None:
    token = websocket.args.get("access_token", "")
    scheme, _, bearer = websocket.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = token or bearer.strip()
    protocols = websocket.requested_subprotocols
    token = token or (protocols[0] if protocols else "")
    caller = await token_caller(token) if token else None
    if token and caller is None:
        return Response(orjson.dumps({"error": "Invalid access token"}), 401)
    subscriber = Subscriber(caller)
    name = websocket.args.get("stream")
    try:
        if name:
            subscriber.streams.add(stream_of(caller, name, websocket.args.get("tag")))
    except StreamRefused as exc:
        return Response(orjson.dumps({"error": exc.message}), exc.status)
    await websocket.accept(subprotocol=token if token and token in protocols else None)
    streaming = hub()
    await streaming.add(subscriber)
    sender = asyncio.create_task(_send_all(subscriber))
    try:
        while True:
            await _command(subscriber, await websocket.receive())
    finally:
        streaming.remove(subscriber)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return None


async def _send_all(subscriber: Subscriber) -> None:
    while True:
        message = await subscriber.queue.get()
        await websocket.send(orjson.dumps(message).decode())


async def _command(subscriber: Subscriber, raw: str | bytes) -> None:
    """`{"type": "subscribe" | "unsubscribe", "stream": …, "tag": …}`; errors are answered
    on the socket, as Mastodon's streaming server does."""
    try:
        message = orjson.loads(raw)
        kind, name, tag = message.get("type"), message.get("stream"), message.get("tag")
        if kind not in ("subscribe", "unsubscribe") or not isinstance(name, str):
            raise StreamRefused(400, "Unknown message type")
        stream = stream_of(subscriber.caller, name, tag if isinstance(tag, str) else None)
    except (orjson.JSONDecodeError, AttributeError):
        await websocket.send(orjson.dumps({"error": "Invalid JSON", "status": 400}).decode())
        return
    except StreamRefused as exc:
        await websocket.send(orjson.dumps({"error": exc.message, "status": exc.status}).decode())
        return
    if kind == "subscribe":
        subscriber.streams.add(stream)
    else:
        subscriber.streams.discard(stream)


# ----------------------------------------------------------------------------- event streams


@blueprint.get("/api/v1/streaming/health")
async def health() -> Response:
    return Response("OK", content_type="text/plain")


_SSE_PATHS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "public/media": "public:media",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
}


@blueprint.get("/api/v1/streaming/<path:path>")
async def event_stream(path: str) -> Response:
    """Server-Sent Events: `event: update` then `data: <payload>`, with a heartbeat."""
    name = _SSE_PATHS.get(path.strip("/"))
    caller = await optional_caller()
    try:
        if name is None:
            raise StreamRefused(404, "Unknown stream type")
        stream = stream_of(caller, name, request.args.get("tag"))
    except StreamRefused as exc:
        return Response(
            orjson.dumps({"error": exc.message}), exc.status, content_type="application/json"
        )
    subscriber = Subscriber(caller, {stream})
    streaming = hub()
    await streaming.add(subscriber)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b":)\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b":thump\n\n"
                    continue
                yield f"event: {message['event']}\ndata: {message['payload']}\n\n".encode()
        finally:
            streaming.remove(subscriber)

    response = Response(events(), content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    response.timeout = None
    return response
