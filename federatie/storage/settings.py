"""SQL for instance settings that administrators change at run time (JSON values by key)."""

from __future__ import annotations

from typing import Any

import orjson

from federatie.storage.pool import Connection


async def select_settings(conn: Connection, *keys: str) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT key, value::text AS value FROM instance_settings WHERE key = ANY($1::text[])",
        list(keys),
    )
    return {row["key"]: orjson.loads(row["value"]) for row in rows}


async def upsert_setting(conn: Connection, key: str, value: Any) -> None:
    await conn.execute(
        """INSERT INTO instance_settings (key, value) VALUES ($1, $2::jsonb)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        key,
        orjson.dumps(value).decode(),
    )
