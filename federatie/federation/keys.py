"""Local actors' signing keys, loaded from the database once per process and kept in memory.

Loading an RSA private key from PEM costs about 37 ms here: doing it per request would cap
delivery far below the signing rate. Keys do not change in place (rotation makes a new key
id), so the cache never goes stale within a process.
"""

from __future__ import annotations

import asyncio

from federatie.activitypub.signatures import SigningKey
from federatie.errors import NotFound
from federatie.storage import actors as sql
from federatie.storage.pool import Pool


class LocalKeys:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._keys: dict[int, SigningKey] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    async def signing_key(self, actor_id: int) -> SigningKey:
        """The RSA key of a local actor: what Mastodon and everyone else verify.

        Concurrent first callers wait for one load: the PEM parse holds the GIL, so 64 lanes
        of a first fan-out each loading the key stalled the event loop for seconds.
        """
        key = self._keys.get(actor_id)
        if key is not None:
            return key
        async with self._loading.setdefault(actor_id, asyncio.Lock()):
            return await self._load(actor_id)

    async def _load(self, actor_id: int) -> SigningKey:
        key = self._keys.get(actor_id)
        if key is None:
            async with self._pool.acquire() as conn:
                stored = await sql.select_private_keys(conn, actor_id)
            if stored is None:
                raise NotFound(f"local actor {actor_id} has no keys")
            key = await asyncio.to_thread(
                SigningKey.from_pem, stored.key_id, stored.rsa_private_pem
            )
            self._keys[actor_id] = key
        return key
