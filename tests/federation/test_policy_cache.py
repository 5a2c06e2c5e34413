"""The federation policy's one-second cache: callers that find it stale share one reload, and
a change made by this process is seen at once, even while a reload is under way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from harness import Instance

from federatie.domain.policy import DomainList
from federatie.storage import policy as policy_sql


@pytest.fixture
async def instance(start_instance: Any) -> Instance:
    blocking: Instance = await start_instance("a", FEDERATIE_FEDERATION_MODE="blocklist")
    return blocking


@pytest.fixture
def reloads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the policy's reads of the domain lists, each made slow enough to overlap."""
    counted: list[int] = []
    original = policy_sql.select_domains

    async def slow_select(conn: Any) -> Any:
        counted.append(1)
        domains = await original(conn)
        await asyncio.sleep(0.05)  # what was read may change meanwhile
        return domains

    monkeypatch.setattr(policy_sql, "select_domains", slow_select)
    return counted


async def test_concurrent_callers_share_one_reload(instance: Instance, reloads: list[int]) -> None:
    policy = instance.runtime.policy
    await policy.list_domain("evil.example", DomainList.BLOCK, by="test")
    answers = await asyncio.gather(*(policy.allows("evil.example") for _ in range(20)))
    assert answers == [False] * 20
    assert len(reloads) == 1


async def test_a_change_during_a_reload_is_seen_at_once(
    instance: Instance, reloads: list[int]
) -> None:
    policy = instance.runtime.policy
    await policy.list_domain("evil.example", DomainList.BLOCK, by="test")
    under_way = asyncio.create_task(policy.allows("other.example"))
    await asyncio.sleep(0.01)  # the reload has read the lists without other.example
    await policy.list_domain("other.example", DomainList.BLOCK, by="test")
    assert await under_way is True  # it began before the change
    assert await policy.allows("other.example") is False
