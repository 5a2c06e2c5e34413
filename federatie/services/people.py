"""People at the web interface: signing up, signing in and out, changing a password.

Sessions are rows in PostgreSQL keyed by the SHA-256 of a random token that only the browser
holds, so every web process sees the same sessions and a stolen database holds no usable
token. Failed sign-ins are counted per account and per address in the database too; after
`MAX_FAILED_SIGNINS` in `SIGNIN_WINDOW`, sign-in is refused until the window passes, whether
or not the password is right, so guessing gains nothing from trying faster.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from federatie.config import RegistrationMode
from federatie.domain.actors import LocalActor
from federatie.domain.passwords import check_password_strength, hash_password, verify_password
from federatie.errors import FederatieError, Forbidden, TooManyRequests, Unprocessable
from federatie.services.actors import ActorService
from federatie.services.instance import InstanceSettingsService
from federatie.storage import rate_limits
from federatie.storage import sessions as sql
from federatie.storage.pool import Pool

SESSION_LIFETIME = timedelta(days=30)
SIGNIN_WINDOW = timedelta(minutes=15)
MAX_FAILED_SIGNINS = 10

# Verified against when the name is unknown, so that a wrong name costs as long as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = hash_password("not a password of anyone")


class SignInFailed(FederatieError):
    """Wrong name or password (one message for both), or an account not approved yet."""

    status = 401
    code = "sign_in_failed"


class AwaitingApproval(SignInFailed):
    code = "awaiting_approval"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of a request."""

    person: LocalActor
    is_admin: bool
    session_sha256: bytes


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class PeopleService:
    def __init__(
        self, pool: Pool, actors: ActorService, instance: InstanceSettingsService
    ) -> None:
        self._pool = pool
        self._actors = actors
        self._instance = instance

    async def sign_up(
        self, name: str, password: str, display_name: str | None
    ) -> tuple[LocalActor, bool]:
        """A new person and whether they may sign in now (False: awaiting approval)."""
        mode = (await self._instance.current()).registration
        if mode is RegistrationMode.CLOSED:
            raise Forbidden("this instance does not take sign-ups")
        approved = mode is RegistrationMode.OPEN
        person = await self._actors.create_person(
            name, password, display_name=display_name, approved=approved
        )
        return person, approved

    async def sign_in(
        self, name: str, password: str, address: str, user_agent: str | None
    ) -> str:
        """A new session token for the person, or SignInFailed / TooManyRequests."""
        username = name.strip().lower()
        buckets = (f"signin:user:{username}", f"signin:address:{address}")
        async with self._pool.acquire() as conn:
            for bucket in buckets:
                window = await rate_limits.current(conn, bucket, SIGNIN_WINDOW)
                if window is not None and window.hits >= MAX_FAILED_SIGNINS:
                    raise TooManyRequests("too many failed sign-ins; try again later")
            found = await sql.select_credentials(conn, username)
        stored = found.password_hash if found else _DUMMY_HASH
        valid = await asyncio.to_thread(verify_password, password, stored)
        if found is None or not valid:
            async with self._pool.acquire() as conn:
                for bucket in buckets:
                    await rate_limits.hit(conn, bucket, SIGNIN_WINDOW)
            raise SignInFailed("wrong name or password")
        if not found.approved:
            raise AwaitingApproval("this account awaits approval by an administrator")
        token = secrets.token_urlsafe(32)
        agent = user_agent or ""
        async with self._pool.acquire() as conn:
            await sql.insert_session(
                conn, token_digest(token), found.person_id, SESSION_LIFETIME, agent[:300]
            )
        return token

    async def viewer(self, token: str) -> Viewer | None:
        digest = token_digest(token)
        async with self._pool.acquire() as conn:
            found = await sql.select_session_person(conn, digest)
            if found is None:
                return None
            if found.needs_touch:
                await sql.touch_session(conn, digest, SESSION_LIFETIME)
        return Viewer(found.person, found.is_admin, digest)

    async def sign_out(self, viewer: Viewer) -> None:
        async with self._pool.acquire() as conn:
            await sql.delete_session(conn, viewer.session_sha256)

    async def change_password(self, viewer: Viewer, current: str, new: str) -> None:
        """Needs the current password; ends every other session of the person."""
        async with self._pool.acquire() as conn:
            stored = await sql.select_password_hash(conn, viewer.person.id)
        if not await asyncio.to_thread(verify_password, current, stored or _DUMMY_HASH):
            raise Unprocessable("current_password: the current password is wrong")
        check_password_strength(new)
        new_hash = await asyncio.to_thread(hash_password, new)
        async with self._pool.acquire() as conn, conn.transaction():
            await sql.update_password_hash(conn, viewer.person.id, new_hash)
            await sql.delete_other_sessions(conn, viewer.person.id, viewer.session_sha256)
