"""Accept fast, process later: the inbox verifies, stores the raw activity, answers 202.

Pipeline: size cap (the web layer) -> JSON -> shape -> federation policy -> signature, with
the signer required to be the activity's actor -> the activity id on the actor's origin ->
stored durably with its processing job in one transaction -> 202. A duplicate (the same
activity id, for example delivered to a personal and the shared inbox) is answered 202 and
not processed again. Nothing is stored on any refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from federatie.activitypub.normalize import id_of
from federatie.activitypub.uris import host_of, same_origin
from federatie.domain.actors import LocalActor
from federatie.errors import BadRequest, Forbidden, SignatureError
from federatie.federation.delivery import INBOX_QUEUE, PROCESS_INBOX
from federatie.storage import activities as sql

if TYPE_CHECKING:
    from federatie.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    activity_id: str
    duplicate: bool


def parse_activity(body: bytes) -> dict[str, Any]:
    """The body as a JSON object with a string type, id and actor; BadRequest otherwise."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("the body is not a JSON object")
    kind = document.get("type")
    if not (
        isinstance(kind, str)
        or (isinstance(kind, list) and kind and all(isinstance(k, str) for k in kind))
    ):
        raise BadRequest("the activity has no type")
    if not isinstance(document.get("id"), str):
        raise BadRequest("the activity has no id")
    if id_of(document.get("actor")) is None:
        raise BadRequest("the activity has no actor")
    return document


class Inbox:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def accept(
        self,
        recipient: LocalActor | None,
        *,
        method: str,
        path_and_query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Accepted:
        rt = self._rt
        document = parse_activity(body)
        actor = id_of(document["actor"])
        assert actor is not None
        try:
            actor_host = host_of(actor)
        except BadRequest as exc:
            raise BadRequest(f"bad actor id: {exc.message}") from exc
        if actor_host == rt.config.domain:
            raise SignatureError("activities of local actors do not arrive over HTTP")
        if not await rt.policy.allows(actor_host):
            raise Forbidden(f"this instance does not federate with {actor_host}")
        signer = await rt.verifier.verify(
            method, path_and_query, rt.config.base_url + path_and_query, headers, body
        )
        if signer.actor != actor:
            raise SignatureError(f"signed by {signer.actor}, but the activity's actor is {actor}")
        activity_id = document["id"]
        if not same_origin(activity_id, actor):
            raise SignatureError("the activity id is not on its actor's host")
        type_ = document["type"] if isinstance(document["type"], str) else str(document["type"][0])
        async with rt.pool.acquire() as conn:
            arrival = await sql.store_arrival(
                conn,
                activity_id,
                actor,
                type_,
                document,
                [recipient.id] if recipient is not None else [],
                job_kind=PROCESS_INBOX,
                job_queue=INBOX_QUEUE,
            )
        duplicate = arrival.duplicate
        log.info(
            "inbox.accepted",
            extra={
                "activity_id": activity_id,
                "type": type_,
                "remote_host": actor_host,
                "duplicate": duplicate,
            },
        )
        return Accepted(activity_id, duplicate)
