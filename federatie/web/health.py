"""Liveness and readiness probes for process supervisors and load balancers."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response

from federatie.runtime import current_runtime
from federatie.web.responses import json_response

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """The process answers: nothing else is checked, so a slow database never kills it."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    """Ready when the database answers within two seconds."""
    try:
        async with asyncio.timeout(2):
            async with current_runtime().pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready", with the reason
        return json_response({"status": "unavailable", "database": type(exc).__name__}, 503)
    return json_response({"status": "ok", "database": "ok"})
