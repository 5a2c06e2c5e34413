"""Timelines over the Mastodon API: home (people followed, their boosts, groups joined as the
groups' boosts), public (local and federated), hashtag, an account's statuses, and paging
with max_id, since_id, min_id and the Link header; groups on another real instance."""

from __future__ import annotations

import re
from typing import Any

from harness import Instance, people, settle
from mastodon_support import call


async def _tokens(instance: Instance, *names: str) -> dict[str, str]:
    await people(instance, *names)
    return {name: await instance.runtime.actors.issue_token(name) for name in names}


async def _post(instance: Instance, token: str, text: str, **fields: Any) -> dict[str, Any]:
    answer = await call(
        instance, "POST", "/api/v1/statuses", token=token, json={"status": text, **fields}
    )
    assert answer.status == 200, answer.body
    status: dict[str, Any] = answer.body
    return status


async def _get(instance: Instance, path: str, token: str | None = None) -> Any:
    answer = await call(instance, "GET", path, token=token)
    assert answer.status == 200, (path, answer.body)
    return answer


def _links(header: str) -> dict[str, str]:
    """rel -> path and query of a Link header."""
    found = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header):
        found[rel] = url.split("://", 1)[1].split("/", 1)[1]
    return {rel: "/" + path for rel, path in found.items()}


async def _follow(instance: Instance, token: str, account_id: str) -> None:
    answer = await call(instance, "POST", f"/api/v1/accounts/{account_id}/follow", token=token)
    assert answer.status == 200, answer.body


async def test_home_timeline_with_paging(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna", "bert", "carla")
    bert_posts = [await _post(instance, tokens["bert"], f"Bericht {n}") for n in range(5)]
    await _post(instance, tokens["carla"], "Niet gevolgd")
    own = await _post(instance, tokens["anna"], "Van mezelf")
    await _follow(instance, tokens["anna"], bert_posts[0]["account"]["id"])
    await instance.drain()
    expected = [own["id"], *(s["id"] for s in reversed(bert_posts))]

    # Walk back with the Link header's `next`, two at a time.
    seen: list[str] = []
    path = "/api/v1/timelines/home?limit=2"
    while True:
        answer = await _get(instance, path, tokens["anna"])
        if not answer.body:
            assert "Link" not in answer.headers
            break
        seen += [s["id"] for s in answer.body]
        path = _links(answer.headers["Link"])["next"]
    assert seen == expected
    # `prev` (min_id) walks forward again from the oldest page: the page right after.
    oldest = await _get(instance, f"/api/v1/timelines/home?max_id={expected[3]}", tokens["anna"])
    assert [s["id"] for s in oldest.body] == expected[4:]
    newer = await _get(
        instance,
        _links(oldest.headers["Link"])["prev"].replace("limit=20", "limit=2"),
        tokens["anna"],
    )
    assert [s["id"] for s in newer.body] == expected[2:4]
    # since_id: the newest ones above it, newest first.
    since = await _get(
        instance, f"/api/v1/timelines/home?since_id={expected[3]}&limit=2", tokens["anna"]
    )
    assert [s["id"] for s in since.body] == expected[:2]

    # A boost by someone followed shows as that person's boost.
    carla_post = await _post(instance, tokens["carla"], "Geboost")
    boosted = await call(
        instance, "POST", f"/api/v1/statuses/{carla_post['id']}/reblog", token=tokens["bert"]
    )
    home = await _get(instance, "/api/v1/timelines/home?limit=1", tokens["anna"])
    assert home.body[0]["id"] == boosted.body["id"]
    assert home.body[0]["account"]["acct"] == "bert"
    assert home.body[0]["reblog"]["id"] == carla_post["id"]
    # Bad cursors are malformed parameters.
    bad = await call(instance, "GET", "/api/v1/timelines/home?max_id=x", token=tokens["anna"])
    assert bad.status == 422
    assert (await call(instance, "GET", "/api/v1/timelines/home")).status == 401


async def test_public_and_tag_timelines(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna")
    tagged = await _post(instance, tokens["anna"], "Over #Water")
    plain = await _post(instance, tokens["anna"], "Gewoon")
    unlisted = await _post(instance, tokens["anna"], "Stil #water", visibility="unlisted")
    private = await _post(instance, tokens["anna"], "Prive #water", visibility="private")
    await _post(instance, tokens["anna"], "Antwoord", in_reply_to_id=plain["id"])
    public = await _get(instance, "/api/v1/timelines/public")
    assert [s["id"] for s in public.body] == [plain["id"], tagged["id"]]
    local = await _get(instance, "/api/v1/timelines/public?local=true")
    assert [s["id"] for s in local.body] == [plain["id"], tagged["id"]]
    remote = await _get(instance, "/api/v1/timelines/public?remote=true")
    assert remote.body == []
    tag = await _get(instance, "/api/v1/timelines/tag/water")
    assert [s["id"] for s in tag.body] == [tagged["id"]]
    assert unlisted["id"] not in str(tag.body) and private["id"] not in str(tag.body)
    account = await _get(
        instance,
        f"/api/v1/accounts/{plain['account']['id']}/statuses?exclude_replies=true",
        tokens["anna"],
    )
    assert [s["id"] for s in account.body] == [
        private["id"],
        unlisted["id"],
        plain["id"],
        tagged["id"],
    ]


async def test_group_posts_in_home_as_the_groups_boosts(instance: Instance) -> None:
    tokens = await _tokens(instance, "anna", "bert")
    await instance.runtime.actors.create_group("omgeving", owner="bert", title="Omgeving")
    group = await _get(instance, "/api/v1/accounts/lookup?acct=omgeving", tokens["anna"])
    assert group.body["group"] is True
    for name in ("anna", "bert"):
        await _follow(instance, tokens[name], group.body["id"])
    await instance.drain()
    # Bert posts into the group by mentioning it; anna does not follow bert.
    post = await _post(instance, tokens["bert"], "@omgeving Vergadering om 10 uur")
    await instance.drain()
    home = await _get(instance, "/api/v1/timelines/home", tokens["anna"])
    assert home.body[0]["account"]["acct"] == "omgeving"
    assert home.body[0]["account"]["group"] is True
    assert home.body[0]["reblog"]["id"] == post["id"]
    assert home.body[0]["reblog"]["account"]["acct"] == "bert"
    # For bert it is his own post, once.
    own = await _get(instance, "/api/v1/timelines/home", tokens["bert"])
    assert [s["id"] for s in own.body] == [post["id"]]
    # The group's account lists what it relayed.
    relayed = await _get(instance, f"/api/v1/accounts/{group.body['id']}/statuses")
    assert [s["reblog"]["id"] for s in relayed.body] == [post["id"]]
    # A reply to a group post goes into the group too.
    reply = await _post(instance, tokens["anna"], "Ik kom", in_reply_to_id=post["id"])
    await instance.drain()
    bert_home = await _get(instance, "/api/v1/timelines/home", tokens["bert"])
    assert reply["id"] in {s.get("reblog", {}) and s["reblog"]["id"] for s in bert_home.body}


async def test_group_on_another_instance(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    a_tokens = await _tokens(a, "anna")
    b_tokens = await _tokens(b, "bram")
    await b.runtime.actors.create_group("water", owner="bram", title="Waterbeheer")
    await _follow(
        b, b_tokens["bram"], (await _get(b, "/api/v1/accounts/lookup?acct=water")).body["id"]
    )
    # Anna finds the group on b, and joins it by following it.
    found = await _get(
        a, f"/api/v2/search?q=@water@{b.domain}&resolve=true&type=accounts", a_tokens["anna"]
    )
    group = found.body["accounts"][0]
    assert group["group"] is True and group["acct"] == f"water@{b.domain}"
    await _follow(a, a_tokens["anna"], group["id"])
    await settle(a, b)
    # Bram posts in the group: it arrives at a as the group's boost.
    post = await _post(b, b_tokens["bram"], "@water Peil stijgt #hoogwater")
    await settle(a, b)
    home = await _get(a, "/api/v1/timelines/home", a_tokens["anna"])
    assert home.body, "the group's post did not arrive"
    assert home.body[0]["account"]["acct"] == f"water@{b.domain}"
    assert home.body[0]["reblog"]["uri"] == post["uri"]
    assert home.body[0]["reblog"]["account"]["acct"] == f"bram@{b.domain}"
    # Anna posts into the group by mentioning it; the group relays it to bram.
    mine = await _post(a, a_tokens["anna"], f"@water@{b.domain} Dijk bij ons is in orde")
    await settle(a, b)
    bram_home = await _get(b, "/api/v1/timelines/home", b_tokens["bram"])
    relayed = [s for s in bram_home.body if s["reblog"] and s["reblog"]["uri"] == mine["uri"]]
    assert relayed and relayed[0]["account"]["acct"] == "water"
    # Bram favourites and boosts anna's post; she hears of it on a.
    bram_id = relayed[0]["reblog"]["id"]
    assert (
        await call(b, "POST", f"/api/v1/statuses/{bram_id}/favourite", token=b_tokens["bram"])
    ).status == 200
    assert (
        await call(b, "POST", f"/api/v1/statuses/{bram_id}/reblog", token=b_tokens["bram"])
    ).status == 200
    await settle(a, b)
    status = await _get(a, f"/api/v1/statuses/{mine['id']}", a_tokens["anna"])
    assert status.body["favourites_count"] == 1 and status.body["reblogs_count"] == 1
