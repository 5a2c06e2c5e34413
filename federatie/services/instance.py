"""Instance settings an administrator changes from the web pages: name, organisation and
registration mode. Each overrides the FEDERATIE_* setting of the same meaning, which stays the
default; they are read from the database on use, so every process agrees at once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from federatie.config import Config, RegistrationMode
from federatie.errors import Unprocessable
from federatie.storage import settings as sql
from federatie.storage.pool import Pool

_KEYS = ("instance_name", "organisation_name", "registration")
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class InstanceSettings:
    instance_name: str
    organisation_name: str
    registration: RegistrationMode


class InstanceSettingsService:
    def __init__(self, pool: Pool, config: Config) -> None:
        self._pool = pool
        self._defaults = InstanceSettings(
            config.instance_name, config.organisation_name, config.registration
        )

    async def current(self) -> InstanceSettings:
        async with self._pool.acquire() as conn:
            stored = await sql.select_settings(conn, *_KEYS)
        return _apply(self._defaults, stored)

    async def update(
        self, *, instance_name: str, organisation_name: str, registration: str
    ) -> InstanceSettings:
        """Validate and store all three; Unprocessable names the first bad one."""
        values: dict[str, Any] = {
            "instance_name": _name("instance_name", instance_name),
            "organisation_name": _name("organisation_name", organisation_name),
        }
        try:
            values["registration"] = RegistrationMode(registration).value
        except ValueError as exc:
            raise Unprocessable("registration: choose open, approval or closed") from exc
        async with self._pool.acquire() as conn, conn.transaction():
            for key, value in values.items():
                await sql.upsert_setting(conn, key, value)
        return _apply(self._defaults, values)


def _name(field: str, value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise Unprocessable(f"{field}: between 1 and {MAX_NAME_LENGTH} characters")
    return cleaned


def _apply(defaults: InstanceSettings, stored: dict[str, Any]) -> InstanceSettings:
    settings = defaults
    if isinstance(stored.get("instance_name"), str):
        settings = replace(settings, instance_name=stored["instance_name"])
    if isinstance(stored.get("organisation_name"), str):
        settings = replace(settings, organisation_name=stored["organisation_name"])
    if stored.get("registration") in {m.value for m in RegistrationMode}:
        settings = replace(settings, registration=RegistrationMode(stored["registration"]))
    return settings
