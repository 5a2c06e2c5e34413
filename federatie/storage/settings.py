"""SQL for instance settings that administrators change at run time (JSON values by key;
the pool's codec turns jsonb into Python values and back)."""

from __future__ import annotations

from typing import Any

from federatie.storage.pool import Connection


async def select_settings(conn: Connection, *keys: str) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT key, value FROM instance_settings WHERE key = ANY($1::text[])", list(keys)
    )
    return {row["key"]: row["value"] for row in rows}


async def upsert_setting(conn: Connection, key: str, value: Any) -> None:
    await conn.execute(
        """INSERT INTO instance_settings (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        key,
        value,
    )
