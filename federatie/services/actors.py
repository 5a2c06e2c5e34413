"""Creating and finding local actors: people, groups, and the organisation (instance actor)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from federatie.activitypub.iris import LocalIris
from federatie.activitypub.signatures import generate_ed25519, generate_rsa_pem
from federatie.domain.actors import (
    ActorType,
    GroupKind,
    GroupRole,
    LocalActor,
    is_valid_lookup_name,
    normalise_name,
)
from federatie.domain.passwords import check_password_strength, hash_password
from federatie.errors import Conflict, NotFound, Unprocessable
from federatie.storage import actors as sql
from federatie.storage.pool import Connection, Pool

TOKEN_SCOPES = "read write follow push"  # noqa: S105 (scope names, not a secret)


class ActorService:
    def __init__(self, pool: Pool, iris: LocalIris, host: str, organisation_name: str) -> None:
        self._pool = pool
        self._iris = iris
        self._host = host
        self._organisation_name = organisation_name

    async def create_person(
        self,
        name: str,
        password: str,
        *,
        admin: bool = False,
        display_name: str | None = None,
        approved: bool = True,
    ) -> LocalActor:
        """A new person; an unapproved one (sign-up in `approval` mode) cannot sign in yet."""
        username = normalise_name(name)
        check_password_strength(password)
        # scrypt and RSA generation take tens of milliseconds: keep them off the event loop.
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._pool.acquire() as conn, conn.transaction():
            actor_id = await self._insert_actor(
                conn, ActorType.PERSON, username, display_name or username, None, False
            )
            await sql.insert_person(conn, actor_id, password_hash, admin, approved)
        return await self.get(username)

    async def create_group(
        self,
        name: str,
        *,
        owner: str,
        title: str | None = None,
        description: str | None = None,
        kind: GroupKind = GroupKind.OPEN,
        themes: list[str] | None = None,
    ) -> LocalActor:
        username = normalise_name(name)
        clean_themes = [_theme(t) for t in themes or []]
        async with self._pool.acquire() as conn, conn.transaction():
            owner_id = await sql.select_person_id(conn, owner.lower())
            if owner_id is None:
                raise NotFound(f"no local person named {owner!r} to own the group")
            actor_id = await self._insert_actor(
                conn,
                ActorType.GROUP,
                username,
                (title or username).strip(),
                description,
                kind is not GroupKind.OPEN,
            )
            await sql.insert_group(conn, actor_id, kind, clean_themes)
            await sql.insert_group_role(conn, actor_id, owner_id, GroupRole.OWNER)
        return await self.get(username)

    async def ensure_instance_actor(self) -> LocalActor:
        """The Organization actor that signs fetches made for no one in particular (FEP-2677)."""
        async with self._pool.acquire() as conn:
            found = await sql.select_local_actor_by_uri(conn, self._iris.instance_actor())
            if found:
                return found
            async with conn.transaction():
                await self._insert_actor(
                    conn,
                    ActorType.ORGANIZATION,
                    self._host,
                    self._organisation_name,
                    None,
                    True,
                    tolerate_existing=True,
                )
            found = await sql.select_local_actor_by_uri(conn, self._iris.instance_actor())
        assert found is not None
        return found

    async def get(self, username: str, actor_type: ActorType | None = None) -> LocalActor:
        if not is_valid_lookup_name(username) and username != self._host:
            raise NotFound(f"no actor named {username!r}")
        async with self._pool.acquire() as conn:
            actor = await sql.select_local_actor(conn, username.lower(), actor_type)
        if actor is None:
            raise NotFound(f"no actor named {username!r}")
        return actor

    async def issue_token(self, username: str, scopes: str = TOKEN_SCOPES) -> str:
        """A new bearer token for a person; only its SHA-256 is stored."""
        token = secrets.token_urlsafe(32)
        async with self._pool.acquire() as conn:
            person_id = await sql.select_person_id(conn, username.lower())
            if person_id is None:
                raise NotFound(f"no local person named {username!r}")
            await sql.insert_token(conn, person_id, hashlib.sha256(token.encode()).digest(), scopes)
        return token

    async def list_people(self) -> list[sql.PersonSummary]:
        async with self._pool.acquire() as conn:
            return await sql.select_people(conn)

    async def list_groups(self) -> list[sql.GroupSummary]:
        async with self._pool.acquire() as conn:
            return await sql.select_groups(conn)

    async def _insert_actor(
        self,
        conn: Connection,
        actor_type: ActorType,
        username: str,
        name: str | None,
        summary: str | None,
        manually_approves: bool,
        *,
        tolerate_existing: bool = False,
    ) -> int:
        rsa_private, rsa_public = await asyncio.to_thread(generate_rsa_pem)
        ed_private, ed_multibase = generate_ed25519()
        uri = self._iris.actor(actor_type, username)
        actor_id = await sql.insert_local_actor(
            conn,
            actor_type=actor_type,
            username=username,
            uri=uri,
            host=self._host,
            name=name,
            summary=summary,
            inbox=self._iris.inbox(uri),
            shared_inbox=self._iris.shared_inbox(),
            outbox=self._iris.outbox(uri),
            followers=self._iris.followers(uri),
            following=self._iris.following(uri),
            key_id=self._iris.rsa_key_id(uri),
            public_key_pem=rsa_public,
            manually_approves_followers=manually_approves,
        )
        if actor_id is None:
            if tolerate_existing:
                return -1
            raise Conflict(f"the name {username!r} is already taken")
        await sql.insert_actor_keys(conn, actor_id, rsa_private, ed_private, ed_multibase)
        return actor_id


def _theme(raw: str) -> str:
    theme = raw.strip().lstrip("#").lower()
    if not theme or len(theme) > 50 or not all(c.isalnum() or c in "_-" for c in theme):
        raise Unprocessable(f"invalid theme {raw!r}: letters, digits, - and _ only")
    return theme
