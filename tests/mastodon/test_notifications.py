"""Notifications over the Mastodon API: made where activities are processed (locally and from
another real instance), listed with filters and paging, fetched, dismissed and cleared."""

from __future__ import annotations

from typing import Any

from harness import Instance, people, settle
from mastodon_support import call

from federatie.services import notifications


async def _tokens(instance: Instance, *names: str) -> dict[str, str]:
    await people(instance, *names)
    return {name: await instance.runtime.actors.issue_token(name) for name in names}


async def _ok(instance: Instance, method: str, path: str, token: str, **kwargs: Any) -> Any:
    answer = await call(instance, method, path, token=token, **kwargs)
    assert answer.status == 200, (path, answer.body)
    return answer.body


async def test_notifications_of_local_activity(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna", "bert")
    await instance.runtime.actors.create_person("carla", "correct horse battery")
    anna_account = await _ok(instance, "GET", "/api/v1/accounts/lookup?acct=anna", tokens["bert"])
    await _ok(instance, "POST", f"/api/v1/accounts/{anna_account['id']}/follow", tokens["bert"])
    await instance.drain()  # one at a time: notifications are listed in the order they came
    # Carla wants to hear of each of anna's posts (Mastodon's follow option `notify`).
    carla = await instance.runtime.actors.issue_token("carla")
    await _ok(
        instance,
        "POST",
        f"/api/v1/accounts/{anna_account['id']}/follow",
        carla,
        json={"notify": True},
    )
    await instance.drain()
    status = await _ok(
        instance, "POST", "/api/v1/statuses", tokens["anna"], json={"status": "Hoi allemaal"}
    )
    await _ok(instance, "POST", f"/api/v1/statuses/{status['id']}/favourite", tokens["bert"])
    await instance.drain()
    await _ok(instance, "POST", f"/api/v1/statuses/{status['id']}/reblog", tokens["bert"])
    await instance.drain()
    mention = await _ok(
        instance, "POST", "/api/v1/statuses", tokens["bert"], json={"status": "@anna kijk eens"}
    )
    await instance.drain()
    # Handling an activity again (an at-least-once job) notifies once.
    await notifications.post_stored(instance.runtime, mention["uri"])
    await notifications.liked(instance.runtime, instance.url("/users/bert"), status["uri"])

    found = await _ok(instance, "GET", "/api/v1/notifications", tokens["anna"])
    assert [n["type"] for n in found] == ["mention", "reblog", "favourite", "follow", "follow"]
    assert [n["account"]["acct"] for n in found] == ["bert", "bert", "bert", "carla", "bert"]
    assert found[0]["status"]["id"] == mention["id"]
    assert found[1]["status"]["id"] == found[2]["status"]["id"] == status["id"]
    assert "status" not in found[3] and "status" not in found[4]
    # Filters and paging.
    only = await _ok(
        instance, "GET", "/api/v1/notifications?types[]=favourite&types[]=follow", tokens["anna"]
    )
    assert [n["type"] for n in only] == ["favourite", "follow", "follow"]
    without = await _ok(
        instance, "GET", "/api/v1/notifications?exclude_types[]=mention", tokens["anna"]
    )
    assert [n["type"] for n in without] == ["reblog", "favourite", "follow", "follow"]
    page = await call(instance, "GET", "/api/v1/notifications?limit=2", token=tokens["anna"])
    assert [n["id"] for n in page.body] == [n["id"] for n in found[:2]]
    assert f"max_id={found[1]['id']}" in page.headers["Link"]
    count = await _ok(instance, "GET", "/api/v1/notifications/unread_count", tokens["anna"])
    assert count == {"count": 5}
    # One, then dismissed, then all cleared; nobody else sees or dismisses them.
    one = await _ok(instance, "GET", f"/api/v1/notifications/{found[3]['id']}", tokens["anna"])
    assert one["type"] == "follow"
    assert (
        await call(instance, "GET", f"/api/v1/notifications/{found[3]['id']}", token=tokens["bert"])
    ).status == 404
    await _ok(instance, "POST", f"/api/v1/notifications/{found[3]['id']}/dismiss", tokens["anna"])
    left = await _ok(instance, "GET", "/api/v1/notifications", tokens["anna"])
    assert len(left) == 4
    carla_sees = await _ok(instance, "GET", "/api/v1/notifications", carla)
    assert [(n["type"], n["status"]["id"]) for n in carla_sees] == [("status", status["id"])]
    await _ok(instance, "POST", "/api/v1/notifications/clear", tokens["anna"])
    assert await _ok(instance, "GET", "/api/v1/notifications", tokens["anna"]) == []
    assert (await call(instance, "GET", "/api/v1/notifications")).status == 401


async def test_follow_requests_and_remote_notifications(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    a_tokens = await _tokens(a, "anna")
    b_tokens = await _tokens(b, "bram")
    # Anna approves followers by hand: bram's follow is a request.
    async with a.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE actors SET manually_approves_followers = true WHERE username = 'anna'"
        )
    found = await _ok(
        b, "GET", f"/api/v2/search?q=@anna@{a.domain}&resolve=true&type=accounts", b_tokens["bram"]
    )
    await _ok(b, "POST", f"/api/v1/accounts/{found['accounts'][0]['id']}/follow", b_tokens["bram"])
    await settle(a, b)
    requests = await _ok(a, "GET", "/api/v1/notifications", a_tokens["anna"])
    assert [(n["type"], n["account"]["acct"]) for n in requests] == [
        ("follow_request", f"bram@{b.domain}")
    ]
    # Anna lets him follow her; her posts reach him, and his reactions reach her.
    await _ok(
        a,
        "POST",
        f"/api/v1/follow_requests/{requests[0]['account']['id']}/authorize",
        a_tokens["anna"],
    )
    await settle(a, b)
    status = await _ok(a, "POST", "/api/v1/statuses", a_tokens["anna"], json={"status": "Hallo"})
    await settle(a, b)
    home = await _ok(b, "GET", "/api/v1/timelines/home", b_tokens["bram"])
    assert [s["uri"] for s in home] == [status["uri"]]
    await _ok(b, "POST", f"/api/v1/statuses/{home[0]['id']}/favourite", b_tokens["bram"])
    await settle(a, b)
    await _ok(b, "POST", f"/api/v1/statuses/{home[0]['id']}/reblog", b_tokens["bram"])
    await settle(a, b)
    await _ok(
        b,
        "POST",
        "/api/v1/statuses",
        b_tokens["bram"],
        json={"status": f"@anna@{a.domain} gezien?", "visibility": "direct"},
    )
    await settle(a, b)
    found = await _ok(a, "GET", "/api/v1/notifications", a_tokens["anna"])
    assert [n["type"] for n in found] == ["mention", "reblog", "favourite", "follow_request"]
    assert found[0]["status"]["visibility"] == "direct"
    assert found[1]["status"]["id"] == found[2]["status"]["id"] == status["id"]
