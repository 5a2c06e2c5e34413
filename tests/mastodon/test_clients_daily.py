"""Real client libraries in daily use: Mastodon.py and toot (PyPI) and masto (npm) post a
status with an image, read the home timeline page by page, follow a group on another real
instance and see its posts arrive, post into the group by mentioning it, favourite and
boost, read notifications, and receive a status on the streaming API.

The Python clients are synchronous and run in threads (the instances serve on this event
loop); masto runs in node as a subprocess. (Logging in is test_clients_login.py's subject;
here tokens are issued directly.)
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import toot
import toot.api
from files_support import jpeg_with_gps
from harness import Instance, people, settle
from mastodon import Mastodon, StreamListener
from mastodon_support import call

JS = Path(__file__).parent / "js"
NODE_MODULES = Path(__file__).parents[1] / "node_modules"


async def _node(*args: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(JS / "daily.mjs"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"NODE_PATH": str(NODE_MODULES), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        cwd=str(NODE_MODULES.parent),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def _subscribed(instance: Instance, stream: str) -> None:
    """Wait until the instance's streaming hub has a subscriber to `stream`."""
    from federatie.web.mastodon.streaming import HUB_KEY

    async with asyncio.timeout(20):
        while True:
            hub = instance.app.extensions.get(HUB_KEY)
            if hub is not None and any((stream,) in s.streams for s in hub._subscribers):
                return
            await asyncio.sleep(0.05)


async def _group_member(b: Instance, token: str) -> None:
    """bram on b owns and joined the group `water`."""
    await b.runtime.actors.create_group("water", owner="bram", title="Waterbeheer")
    group = await call(b, "GET", "/api/v1/accounts/lookup?acct=water", token=token)
    await call(b, "POST", f"/api/v1/accounts/{group.body['id']}/follow", token=token)
    await b.drain()


async def test_mastodon_py_daily_use(start_instance: Any) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "bram")
    bram = await b.runtime.actors.issue_token("bram")
    await _group_member(b, bram)
    client = Mastodon(
        access_token=await a.runtime.actors.issue_token("anna"), api_base_url=a.base_url
    )

    # A status with an image.
    media = await asyncio.to_thread(
        client.media_post, io.BytesIO(jpeg_with_gps()), mime_type="image/jpeg", description="Dijk"
    )
    posted = await asyncio.to_thread(client.status_post, "Inspectie vandaag", media_ids=[media])
    assert posted.media_attachments[0].description == "Dijk"
    assert posted.media_attachments[0].type == "image"

    # Join the group on b, then bram's posts in it arrive.
    found = await asyncio.to_thread(client.search_v2, f"@water@{b.domain}", resolve=True)
    group = found.accounts[0]
    assert group.group is True
    await asyncio.to_thread(client.account_follow, group.id)
    await settle(a, b)
    for n in range(3):
        await call(b, "POST", "/api/v1/statuses", token=bram, json={"status": f"@water Peil {n}"})
    await settle(a, b)

    # The home timeline, two at a time, with the Link header.
    page = await asyncio.to_thread(client.timeline_home, limit=2)
    seen = []
    while page:
        seen += page
        page = await asyncio.to_thread(client.fetch_next, page)
    assert len(seen) == 4
    relayed = [s for s in seen if s.reblog]
    assert len(relayed) == 3 and {s.account.acct for s in relayed} == {f"water@{b.domain}"}
    # (Posts from b carry b's `published`, to the second: not ordered against a's own posts
    # made within the same second, so only membership is checked here.)
    assert posted.id in {s.id for s in seen}

    # Into the group by mention; favourite and boost bram's post.
    mine = await asyncio.to_thread(client.status_post, f"@water@{b.domain} Bij ons droog")
    target = relayed[0].reblog
    assert (await asyncio.to_thread(client.status_favourite, target.id)).favourited is True
    boost = await asyncio.to_thread(client.status_reblog, target.id)
    assert boost.reblog.id == target.id
    await settle(a, b)
    bram_home = await call(b, "GET", "/api/v1/timelines/home", token=bram)
    assert mine.uri in {s["reblog"]["uri"] for s in bram_home.body if s["reblog"]}
    original = await call(b, "GET", "/api/v1/timelines/home?limit=40", token=bram)
    counted = [s for s in original.body if s["uri"] == target.uri]
    assert counted and counted[0]["favourites_count"] == 1

    # Notifications: bram favourites anna's post in the group.
    ours = next(s for s in bram_home.body if s["reblog"] and s["reblog"]["uri"] == mine.uri)
    await call(b, "POST", f"/api/v1/statuses/{ours['reblog']['id']}/favourite", token=bram)
    await settle(a, b)
    notifications = await asyncio.to_thread(client.notifications)
    assert [(n.type, n.account.acct) for n in notifications] == [("favourite", f"bram@{b.domain}")]

    # The streaming API (Server-Sent Events, as Mastodon.py reads it).
    received: list[Any] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()

    class Listener(StreamListener):  # type: ignore[misc]
        def on_update(self, status: Any) -> None:  # in Mastodon.py's thread
            received.append(status)
            loop.call_soon_threadsafe(arrived.set)

    handle = await asyncio.to_thread(client.stream_user, Listener(), run_async=True)
    try:
        await _subscribed(a, "user")
        streamed = await asyncio.to_thread(client.status_post, "Live")
        await asyncio.wait_for(arrived.wait(), 20)
    finally:
        # Closing waits for the reading thread, which wakes at the next event: make one
        # (from a thread too, so that this event loop keeps serving meanwhile).
        closing = asyncio.create_task(asyncio.to_thread(handle.close))
        await asyncio.to_thread(client.status_post, "Einde")
        await closing
    assert received[0].id == streamed.id


async def test_toot_daily_use(start_instance: Any, tmp_path: Path) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "bram")
    bram = await b.runtime.actors.issue_token("bram")
    await _group_member(b, bram)
    app = toot.App(a.domain, a.base_url, "unused", "unused")
    user = toot.User(a.domain, "anna", await a.runtime.actors.issue_token("anna"))

    image = tmp_path / "foto.jpg"
    image.write_bytes(jpeg_with_gps())
    with image.open("rb") as file:
        media = (await asyncio.to_thread(toot.api.upload_media, app, user, file, "Dijk")).json()
    posted = (
        await asyncio.to_thread(
            toot.api.post_status, app, user, "Met foto", media_ids=[media["id"]]
        )
    ).json()
    assert posted["media_attachments"][0]["id"] == media["id"]

    found = (
        await asyncio.to_thread(toot.api.search, app, user, f"@water@{b.domain}", resolve=True)
    ).json()
    await asyncio.to_thread(toot.api.follow, app, user, found["accounts"][0]["id"])
    await settle(a, b)
    for n in range(2):
        await call(b, "POST", "/api/v1/statuses", token=bram, json={"status": f"@water Nieuws {n}"})
    await settle(a, b)
    batches = list(
        await asyncio.to_thread(lambda: list(toot.api.home_timeline_generator(app, user, limit=1)))
    )
    statuses = [s for batch in batches for s in batch]
    assert len(statuses) == 3 and [len(batch) for batch in batches[:3]] == [1, 1, 1]
    relayed = [s for s in statuses if s["reblog"]]
    assert [s["account"]["acct"] for s in relayed] == [f"water@{b.domain}"] * 2
    group_post = relayed[0]["reblog"]

    mine = (
        await asyncio.to_thread(toot.api.post_status, app, user, f"@water@{b.domain} Gezien")
    ).json()
    assert (await asyncio.to_thread(toot.api.favourite, app, user, group_post["id"])).json()[
        "favourited"
    ]
    assert (await asyncio.to_thread(toot.api.reblog, app, user, group_post["id"])).json()["reblog"][
        "id"
    ] == group_post["id"]
    await settle(a, b)
    bram_home = await call(b, "GET", "/api/v1/timelines/home", token=bram)
    assert mine["uri"] in {s["reblog"]["uri"] for s in bram_home.body if s["reblog"]}
    ours = next(s for s in bram_home.body if s["reblog"] and s["reblog"]["uri"] == mine["uri"])
    await call(b, "POST", f"/api/v1/statuses/{ours['reblog']['id']}/reblog", token=bram)
    await settle(a, b)
    notified = list(
        await asyncio.to_thread(
            lambda: next(toot.api.notification_timeline_generator(app, user, limit=5))
        )
    )
    assert [s["uri"] for s in notified] == [mine["uri"]]


async def test_masto_daily_use(start_instance: Any, tmp_path: Path) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "bram")
    bram = await b.runtime.actors.issue_token("bram")
    await _group_member(b, bram)
    anna = await a.runtime.actors.issue_token("anna")
    image = tmp_path / "foto.jpg"
    image.write_bytes(jpeg_with_gps())

    posted = await _node("post", a.base_url, anna, str(image), "Vanuit masto")
    assert posted["mediaAttachments"][0]["description"] == "masto upload"

    found = await call(a, "GET", f"/api/v2/search?q=@water@{b.domain}&resolve=true", token=anna)
    await call(a, "POST", f"/api/v1/accounts/{found.body['accounts'][0]['id']}/follow", token=anna)
    await settle(a, b)
    for n in range(3):
        await call(
            b, "POST", "/api/v1/statuses", token=bram, json={"status": f"@water Bericht {n}"}
        )
    await settle(a, b)
    home = await _node("home", a.base_url, anna, "2")
    # Two full pages, then the empty one that ends the walk (no Link header on it).
    assert [len(page) for page in home["pages"]] == [2, 2, 0]
    first = (await call(a, "GET", "/api/v1/timelines/home", token=anna)).body
    assert [i for page in home["pages"] for i in page] == [s["id"] for s in first]

    group_post = next(s["reblog"] for s in first if s["reblog"])
    reacted = await _node("react", a.base_url, anna, group_post["id"])
    assert reacted["favourited"]["favourited"] is True
    assert reacted["reblog"]["reblog"]["id"] == group_post["id"]
    mentioned = await call(
        a,
        "POST",
        "/api/v1/statuses",
        token=anna,
        json={"status": f"@water@{b.domain} via masto"},
    )
    await settle(a, b)
    bram_home = await call(b, "GET", "/api/v1/timelines/home", token=bram)
    ours = next(
        s for s in bram_home.body if s["reblog"] and s["reblog"]["uri"] == mentioned.body["uri"]
    )
    await call(b, "POST", f"/api/v1/statuses/{ours['reblog']['id']}/favourite", token=bram)
    await settle(a, b)
    notifications = await _node("notifications", a.base_url, anna)
    assert [n["type"] for n in notifications] == ["favourite"]

    # The streaming API over WebSocket, the token as its protocol.
    stream = asyncio.create_task(_node("stream", a.base_url, anna))
    await _subscribed(a, "user")
    live = await call(a, "POST", "/api/v1/statuses", token=anna, json={"status": "Live"})
    update = await stream
    assert update["id"] == live.body["id"]
