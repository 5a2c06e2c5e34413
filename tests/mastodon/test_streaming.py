"""The streaming API on a real instance: WebSocket (token in the protocol header or query,
streams chosen in the URL or by subscribe messages) and Server-Sent Events; updates,
deletions and notifications arrive live, including what a worker stored from another real
instance (PostgreSQL NOTIFY, so any process storing reaches any web process's streams)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from harness import Instance, people, settle
from mastodon_support import call


async def _tokens(instance: Instance, *names: str) -> dict[str, str]:
    await people(instance, *names)
    return {name: await instance.runtime.actors.issue_token(name) for name in names}


def _ws_url(instance: Instance, query: str = "") -> str:
    return instance.url("/api/v1/streaming").replace("http://", "ws://") + query


async def _next_event(socket: aiohttp.ClientWebSocketResponse, event: str) -> dict[str, Any]:
    """The next message of kind `event` (others skipped), within a few seconds."""
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive_json()
            if message.get("event") == event:
                return dict(message)


async def _post(instance: Instance, token: str, text: str, **fields: Any) -> dict[str, Any]:
    answer = await call(
        instance, "POST", "/api/v1/statuses", token=token, json={"status": text, **fields}
    )
    assert answer.status == 200, answer.body
    status: dict[str, Any] = answer.body
    return status


async def test_user_and_public_streams_over_websocket(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna", "bert")
    bert = await call(instance, "GET", "/api/v1/accounts/lookup?acct=bert", token=tokens["anna"])
    await call(instance, "POST", f"/api/v1/accounts/{bert.body['id']}/follow", token=tokens["anna"])
    await instance.drain()
    async with aiohttp.ClientSession() as session:
        # The token as the WebSocket protocol, as masto and Mastodon's web app send it.
        user = await session.ws_connect(
            _ws_url(instance, "?stream=user"), protocols=[tokens["anna"]]
        )
        assert user.protocol == tokens["anna"]
        # Anyone may follow the public streams; subscribing by message.
        public = await session.ws_connect(_ws_url(instance))
        await public.send_json({"type": "subscribe", "stream": "public:local"})
        await public.send_json({"type": "subscribe", "stream": "hashtag", "tag": "Dijk"})
        await public.send_json({"type": "subscribe", "stream": "user"})
        refused = await public.receive_json(timeout=10)
        assert refused["status"] == 401 and "error" in refused
        await asyncio.sleep(0.2)  # the subscriptions are read before the post is made

        status = await _post(instance, tokens["bert"], "Nieuws over de #dijk")
        update = await _next_event(user, "update")
        assert update["stream"] == ["user"]
        payload = json.loads(update["payload"])  # a JSON string, as Mastodon sends it
        assert payload["id"] == status["id"] and payload["account"]["acct"] == "bert"
        seen = {tuple(m["stream"]) for m in [await _next_event(public, "update") for _ in "ab"]}
        assert seen == {("public:local",), ("hashtag", "dijk")}

        # A notification: bert favourites anna's post.
        mine = await _post(instance, tokens["anna"], "Van anna")
        assert json.loads((await _next_event(user, "update"))["payload"])["id"] == mine["id"]
        await call(
            instance, "POST", f"/api/v1/statuses/{mine['id']}/favourite", token=tokens["bert"]
        )
        await instance.drain()
        notification = await _next_event(user, "notification")
        body = json.loads(notification["payload"])
        assert body["type"] == "favourite" and body["status"]["id"] == mine["id"]

        # A deletion.
        await call(instance, "DELETE", f"/api/v1/statuses/{status['id']}", token=tokens["bert"])
        deleted = await _next_event(user, "delete")
        assert deleted["payload"] == status["id"]
        await user.close()
        await public.close()


async def test_refusals_and_health(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna")
    async with aiohttp.ClientSession() as session:
        for query in ("?stream=user&access_token=wrong", "?stream=user", "?stream=nonsense"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(_ws_url(instance, query))
            assert refused.value.status in (400, 401), query
        ok = await session.ws_connect(
            _ws_url(instance, f"?stream=user&access_token={tokens['anna']}")
        )
        await ok.close()
        async with session.get(instance.url("/api/v1/streaming/health")) as response:
            assert response.status == 200 and await response.text() == "OK"


async def test_server_sent_events_carry_what_another_instance_sent(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    a_tokens = await _tokens(a, "anna")
    b_tokens = await _tokens(b, "bram")
    found = await call(
        a, "GET", f"/api/v2/search?q=@bram@{b.domain}&resolve=true", token=a_tokens["anna"]
    )
    bram_id = found.body["accounts"][0]["id"]
    await call(a, "POST", f"/api/v1/accounts/{bram_id}/follow", token=a_tokens["anna"])
    await settle(a, b)
    headers = {"Authorization": f"Bearer {a_tokens['anna']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(a.url("/api/v1/streaming/user"), headers=headers) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        await response.content.readuntil(b"\n\n")  # the opening comment: subscribed
        status = await _post(b, b_tokens["bram"], "Van ver weg")
        await settle(a, b)  # a's worker stores it; a's web process hears of it
        async with asyncio.timeout(10):
            while True:
                chunk = (await response.content.readuntil(b"\n\n")).decode()
                if chunk.startswith("event: update"):
                    break
        payload = json.loads(chunk.split("data: ", 1)[1])
        assert payload["uri"] == status["uri"]
        assert payload["account"]["acct"] == f"bram@{b.domain}"
