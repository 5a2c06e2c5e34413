"""One handler per activity type, in an explicit registry.

A handler checks that the actor may do what it asks (same origin for Update and Delete, no
forged `attributedTo`), applies it idempotently, and returns a short outcome for the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from federatie.federation.handlers import content, follows, moderation, reactions
from federatie.federation.handlers.common import Activity

if TYPE_CHECKING:
    from federatie.runtime import Runtime

Handler = Callable[["Runtime", Activity], Awaitable[str]]

HANDLERS: dict[str, Handler] = {
    "Follow": follows.follow,
    "Join": follows.follow,  # Mobilizon and Smithereen join groups with Join
    "Accept": follows.accept,
    "Reject": follows.reject,
    "Undo": reactions.undo,
    "Leave": reactions.leave,  # Mobilizon leaves groups with Leave
    "Create": content.create,
    "Update": content.update,
    "Delete": content.delete,
    "Announce": reactions.announce,
    "Like": reactions.like,
    "Flag": moderation.flag,
}

__all__ = ["HANDLERS", "Activity", "Handler"]
