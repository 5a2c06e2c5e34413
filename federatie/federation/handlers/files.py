"""Files in Create, Update and Delete: what a file object adds to the content handlers.

`content.create`, `content.update` and `content.delete` do everything they do for any object
(checks, storing, relaying to a local group); these wrappers, applied there as decorators,
then let the file service keep the file's metadata and fetch its bytes (`remember_remote`),
or drop a deleted file and its cached bytes (`forget_remote`). They run only after the
handler accepted the activity, so every authorship and origin check has already passed.
A failure to look at the file never fails the activity: the post itself is handled.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from federatie.activitypub.files import FILE_TYPES
from federatie.errors import FederatieError
from federatie.federation.handlers.common import Activity

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)

ContentHandler = Callable[["Runtime", Activity], Awaitable[str]]


def remembers_files(handler: ContentHandler) -> ContentHandler:
    """For Create and Update: a file object's metadata is kept and its bytes fetched."""

    @functools.wraps(handler)
    async def wrapped(rt: Runtime, activity: Activity) -> str:
        outcome = await handler(rt, activity)
        if not outcome.startswith(("refused", "ignored")):
            await _remember(rt, activity)
        return outcome

    return wrapped


def forgets_files(handler: ContentHandler) -> ContentHandler:
    """For Delete: a deleted file (or a deleted actor's files) and their cached bytes go."""

    @functools.wraps(handler)
    async def wrapped(rt: Runtime, activity: Activity) -> str:
        outcome = await handler(rt, activity)
        if activity.object_id is not None:
            await rt.files.forget_remote(activity.object_id)
        return outcome

    return wrapped


async def _remember(rt: Runtime, activity: Activity) -> None:
    raw = activity.raw_object
    object_id = activity.object_id
    try:
        if raw is None and object_id is not None and await _is_file(rt, object_id):
            raw = await rt.fetch_object(object_id)  # the handler fetched it too: not embedded
        if raw is not None and _file_type(raw.get("type")):
            await rt.files.remember_remote(raw)
    except FederatieError as exc:
        log.warning("files.remember_failed", extra={"object": object_id, "error": exc.message})


def _file_type(value: Any) -> bool:
    return any(kind in FILE_TYPES for kind in (value if isinstance(value, list) else [value]))


async def _is_file(rt: Runtime, uri: str) -> bool:
    async with rt.pool.acquire() as conn:
        kind = await conn.fetchval("SELECT type FROM objects WHERE uri = $1 AND NOT local", uri)
    return _file_type(kind)
