"""`/metrics`: hidden without a token setting, guarded by the token, and counting real traffic."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from harness import Instance, people, settle

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
TOKEN = "metrics-token-for-tests-0123456789"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, or 0 when absent (label order as exposed does not matter)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[3] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match[4])
    return total


async def scrape(http: aiohttp.ClientSession, instance: Instance) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.get(instance.url("/metrics"), headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


async def test_metrics_are_404_without_the_setting(
    instance: Instance, http: aiohttp.ClientSession
) -> None:
    async with http.get(instance.url("/metrics")) as response:
        assert response.status == 404
    async with http.get(
        instance.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        assert response.status == 404


async def test_metrics_need_the_token(start_instance: Any, http: aiohttp.ClientSession) -> None:
    a = await start_instance("a", FEDERATIE_METRICS_TOKEN=TOKEN)
    async with http.get(a.url("/metrics")) as response:
        assert response.status == 401
    async with http.get(a.url("/metrics"), headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
    text = await scrape(http, a)
    assert "federatie_db_pool_connections" in text
    assert "federatie_remote_hosts_failing 0.0" in text
    assert 'federatie_public_cache_answers{outcome="hit"} 0.0' in text


async def test_public_cache_answers_are_counted(
    start_instance: Any, http: aiohttp.ClientSession
) -> None:
    a = await start_instance(
        "a", FEDERATIE_METRICS_TOKEN=TOKEN, FEDERATIE_PUBLIC_CACHE_SECONDS="60"
    )
    await people(a, "anna")
    for _ in range(3):
        async with http.get(
            a.url("/users/anna"), headers={"Accept": "application/activity+json"}
        ) as response:
            assert response.status == 200
    text = await scrape(http, a)
    assert sample(text, "federatie_public_cache_answers", outcome="miss") == 1
    assert sample(text, "federatie_public_cache_answers", outcome="hit") == 2
    assert sample(text, "federatie_public_cache_entries") == 1


async def test_counters_move_during_federation(
    start_instance: Any, http: aiohttp.ClientSession
) -> None:
    a = await start_instance("a", FEDERATIE_METRICS_TOKEN=TOKEN)
    b = await start_instance("b", FEDERATIE_METRICS_TOKEN=TOKEN)
    await people(a, "alice")
    await people(b, "bob")
    await a.publish("alice", {"type": "Follow", "object": b.url("/users/bob")})
    before = await scrape(http, a)  # the fan-out job is queued, not yet run
    assert sample(before, "federatie_jobs_queued", queue="delivery") >= 1
    await settle(a, b)
    await b.publish(
        "bob",
        {"type": "Note", "content": "Hallo", "to": [PUBLIC], "cc": [b.url("/users/bob/followers")]},
    )
    await settle(a, b)
    # A refused inbox POST (not JSON), counted with its error code.
    async with http.post(a.url("/inbox"), data=b"nonsense") as response:
        assert response.status == 400
    text_a = await scrape(http, a)
    text_b = await scrape(http, b)
    outbox = "/users/<name>/outbox"
    assert sample(text_b, "federatie_http_requests_total", route=outbox, status="201") >= 1
    assert sample(text_a, "federatie_http_request_duration_seconds_count", route=outbox) >= 1
    for text in (text_a, text_b):
        assert sample(text, "federatie_deliveries_total", outcome="delivered") >= 1
        assert sample(text, "federatie_inbox_activities_total", outcome="accepted") >= 1
    assert (
        sample(
            text_a,
            "federatie_inbox_activities_total",
            route="/inbox",
            outcome="refused",
            reason="bad_request",
        )
        == 1
    )
    assert sample(text_a, "federatie_jobs_queued", queue="delivery") == 0
    assert sample(text_a, "federatie_db_pool_max_connections") == a.config.db_pool_size
