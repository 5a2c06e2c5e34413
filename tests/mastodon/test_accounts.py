"""Accounts, follows, follow requests, search and the start-up endpoints on real instances."""

from __future__ import annotations

from typing import Any

from harness import Instance, people, settle
from mastodon_support import call, token_for


async def test_start_up_endpoints_never_404(instance: Instance, anna: str) -> None:
    for version in ("v1", "v2"):
        found = await call(instance, "GET", f"/api/{version}/instance")
        assert found.status == 200, found.body
        assert found.body["version"].startswith("4.3.0 (compatible; Federatie")
    assert found.body["domain"] == instance.domain
    assert found.body["configuration"]["statuses"]["max_characters"] > 0
    empty = [
        "/api/v1/custom_emojis",
        "/api/v1/instance/rules",
        "/api/v1/instance/peers",
        "/api/v1/announcements",
        "/api/v1/trends/tags",
        "/api/v2/filters",
        "/api/v1/filters",
        "/api/v1/lists",
        "/api/v1/followed_tags",
        "/api/v1/blocks",
        "/api/v1/mutes",
        "/api/v1/bookmarks",
        "/api/v1/conversations",
        "/api/v1/follow_requests",
    ]
    for path in empty:
        answer = await call(instance, "GET", path, token=anna)
        assert answer.status == 200 and answer.body == [], (path, answer.body)
    assert (await call(instance, "GET", "/api/v1/lists")).status == 401
    prefs = await call(instance, "GET", "/api/v1/preferences", token=anna)
    assert prefs.body["posting:default:visibility"] == "public"
    # Markers are kept for the person's apps.
    assert (await call(instance, "GET", "/api/v1/markers", token=anna)).body == {}
    saved = await call(
        instance, "POST", "/api/v1/markers", token=anna, json={"home": {"last_read_id": "42"}}
    )
    assert saved.status == 200 and saved.body["home"]["last_read_id"] == "42", saved.body
    await call(instance, "POST", "/api/v1/markers", token=anna, data={"home[last_read_id]": "43"})
    markers = await call(instance, "GET", "/api/v1/markers?timeline[]=home", token=anna)
    assert markers.body["home"]["last_read_id"] == "43" and markers.body["home"]["version"] == 2
    bad = await call(
        instance, "POST", "/api/v1/markers", token=anna, json={"home": {"last_read_id": "x"}}
    )
    assert bad.status == 422 and bad.body["error"].startswith("Validation failed")


async def test_accounts_groups_and_errors(instance: Instance, anna: str) -> None:
    await instance.runtime.actors.create_group("team", owner="anna", title="Team Omgevingswet")
    me = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=anna)
    assert me.status == 200
    assert me.body["acct"] == "anna" and me.body["group"] is False
    assert me.body["source"]["follow_requests_count"] == 0
    assert me.body["avatar"].startswith(instance.base_url)
    group = await call(instance, "GET", "/api/v1/accounts/lookup?acct=team")
    assert group.status == 200 and group.body["group"] is True, group.body
    assert group.body["display_name"] == "Team Omgevingswet"
    by_id = await call(instance, "GET", f"/api/v1/accounts/{group.body['id']}")
    assert by_id.body["uri"] == instance.url("/groups/team")
    missing = await call(instance, "GET", "/api/v1/accounts/999999")
    assert missing.status == 404 and missing.body["error"] == "Record not found"
    for path in (
        f"/api/v1/accounts/{group.body['id']}/followers?limit=abc",
        f"/api/v1/accounts/{group.body['id']}/followers?max_id=x1",
        "/api/v1/accounts/search",
        "/api/v2/search?q=a&type=everything",
        "/api/v1/accounts/relationships?id[]=abc",
    ):
        answer = await call(instance, "GET", path, token=anna)
        assert answer.status == 422, (path, answer.body)
        assert answer.body["error"].startswith("Validation failed: "), answer.body
    changed = await call(
        instance,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        token=anna,
        data={"display_name": "Anna de Vries", "note": "Beleid & <b>uitvoering</b>"},
    )
    assert changed.status == 200, changed.body
    assert changed.body["display_name"] == "Anna de Vries"
    assert changed.body["note"] == "<p>Beleid &amp; &lt;b&gt;uitvoering&lt;/b&gt;</p>"
    assert changed.body["source"]["note"] == "Beleid & <b>uitvoering</b>"
    blank = await call(
        instance,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        token=anna,
        json={"display_name": " "},
    )
    assert blank.status == 422 and blank.body["error"].startswith("Validation failed")
    found = await call(instance, "GET", "/api/v1/accounts/search?q=te", token=anna)
    assert [a["acct"] for a in found.body] == ["team"]
    found = await call(instance, "GET", "/api/v2/search?q=@anna", token=anna)
    assert [a["acct"] for a in found.body["accounts"]] == ["anna"]


async def test_follow_a_group_and_page_its_members(instance: Instance, anna: str) -> None:
    await instance.runtime.actors.create_group("team", owner="anna")
    group_id = (await call(instance, "GET", "/api/v1/accounts/lookup?acct=team")).body["id"]
    names = ["bert", "carl", "dirk", "eva"]
    await people(instance, *names)
    for name in names:
        token = await instance.runtime.actors.issue_token(name, "read write follow")
        joined = await call(instance, "POST", f"/api/v1/accounts/{group_id}/follow", token=token)
        assert joined.status == 200 and joined.body["id"] == group_id, joined.body
    followed = await call(instance, "POST", f"/api/v1/accounts/{group_id}/follow", token=anna)
    assert followed.body["following"] or followed.body["requested"], followed.body
    await settle(instance)
    relation = await call(
        instance, "GET", f"/api/v1/accounts/relationships?id[]={group_id}", token=anna
    )
    assert relation.body[0]["following"] is True, relation.body
    # Pages of two, newest first, linked both ways.
    first = await call(instance, "GET", f"/api/v1/accounts/{group_id}/followers?limit=2")
    assert [a["acct"] for a in first.body] == ["anna", "eva"]
    links = _links(first.headers["Link"])
    second = await call(instance, "GET", links["next"].removeprefix(instance.base_url))
    assert [a["acct"] for a in second.body] == ["dirk", "carl"]
    back = await call(
        instance, "GET", _links(second.headers["Link"])["prev"].removeprefix(instance.base_url)
    )
    assert [a["acct"] for a in back.body] == ["anna", "eva"]
    # Leaving the group is unfollowing it.
    left = await call(instance, "POST", f"/api/v1/accounts/{group_id}/unfollow", token=anna)
    assert left.body["following"] is False
    await settle(instance)
    after = await call(instance, "GET", f"/api/v1/accounts/{group_id}/followers")
    assert "anna" not in [a["acct"] for a in after.body]
    mine = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=anna)
    following = await call(instance, "GET", f"/api/v1/accounts/{mine.body['id']}/following")
    assert following.body == []


async def test_follow_requests(instance: Instance, anna: str) -> None:
    await people(instance, "bert", "carl")
    async with instance.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE actors SET manually_approves_followers = true WHERE username = 'anna'"
        )
    anna_id = (await call(instance, "GET", "/api/v1/accounts/lookup?acct=anna")).body["id"]
    assert (await call(instance, "GET", f"/api/v1/accounts/{anna_id}")).body["locked"] is True
    ids: dict[str, str] = {}
    for name in ("bert", "carl"):
        token = await instance.runtime.actors.issue_token(name, "read write follow")
        asked = await call(instance, "POST", f"/api/v1/accounts/{anna_id}/follow", token=token)
        assert asked.status == 200
        ids[name] = (await call(instance, "GET", f"/api/v1/accounts/lookup?acct={name}")).body["id"]
    await settle(instance)
    waiting = await call(instance, "GET", "/api/v1/follow_requests", token=anna)
    assert sorted(a["acct"] for a in waiting.body) == ["bert", "carl"]
    me = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=anna)
    assert me.body["source"]["follow_requests_count"] == 2
    accepted = await call(
        instance, "POST", f"/api/v1/follow_requests/{ids['bert']}/authorize", token=anna
    )
    assert accepted.status == 200, accepted.body
    assert accepted.body["followed_by"] is True and accepted.body["requested_by"] is False
    refused = await call(
        instance, "POST", f"/api/v1/follow_requests/{ids['carl']}/reject", token=anna
    )
    assert refused.body["followed_by"] is False and refused.body["requested_by"] is False
    await settle(instance)
    again = await call(
        instance, "POST", f"/api/v1/follow_requests/{ids['carl']}/reject", token=anna
    )
    assert again.status == 404
    followers = await call(instance, "GET", f"/api/v1/accounts/{anna_id}/followers")
    assert [a["acct"] for a in followers.body] == ["bert"]
    assert (await call(instance, "GET", "/api/v1/follow_requests", token=anna)).body == []


async def test_resolve_and_follow_a_remote_account(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "anna")
    await people(b, "bob")
    token = await token_for(a, "anna")
    handle = f"@bob@{b.domain}"
    unresolved = await call(a, "GET", "/api/v2/search", params={"q": handle}, token=token)
    assert unresolved.body["accounts"] == []
    found = await call(
        a, "GET", "/api/v2/search", params={"q": handle, "resolve": "true"}, token=token
    )
    assert found.status == 200, found.body
    [bob] = found.body["accounts"]
    assert bob["acct"] == f"bob@{b.domain}" and bob["uri"] == b.url("/users/bob")
    # Cached now: found without asking again, by handle or by URL, and looked up.
    cached = await call(a, "GET", "/api/v1/accounts/search", params={"q": handle}, token=token)
    assert [x["id"] for x in cached.body] == [bob["id"]]
    by_url = await call(a, "GET", "/api/v2/search", params={"q": b.url("/users/bob")}, token=token)
    assert [x["id"] for x in by_url.body["accounts"]] == [bob["id"]]
    looked_up = await call(a, "GET", "/api/v1/accounts/lookup", params={"acct": bob["acct"]})
    assert looked_up.body["id"] == bob["id"]
    nobody = await call(
        a,
        "GET",
        "/api/v2/search",
        params={"q": f"@nobody@{b.domain}", "resolve": "true"},
        token=token,
    )
    assert nobody.status == 200 and nobody.body["accounts"] == []
    # A post by its URL: unknown until resolved, then kept; its hashtag is found too.
    note = await b.publish(
        "bob",
        {
            "type": "Note",
            "content": "<p>Nieuwe regels #Omgevingswet</p>",
            "tag": [{"type": "Hashtag", "name": "#Omgevingswet"}],
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    )
    post_url = note["object"]["id"]
    unknown = await call(a, "GET", "/api/v2/search", params={"q": post_url}, token=token)
    assert unknown.body["statuses"] == []
    post = await call(
        a, "GET", "/api/v2/search", params={"q": post_url, "resolve": "true"}, token=token
    )
    [status] = post.body["statuses"]
    assert status["uri"] == post_url and status["account"]["id"] == bob["id"], status
    tags = await call(a, "GET", "/api/v2/search", params={"q": "#omgev"}, token=token)
    assert tags.body["hashtags"] == [
        {"name": "omgevingswet", "url": a.url("/tags/omgevingswet"), "history": []}
    ]
    followed = await call(a, "POST", f"/api/v1/accounts/{bob['id']}/follow", token=token)
    assert followed.body["requested"] is True, followed.body
    await settle(a, b)
    relation = await call(
        a, "GET", "/api/v1/accounts/relationships", params={"id[]": bob["id"]}, token=token
    )
    assert relation.body[0]["following"] is True, relation.body
    bob_token = await b.runtime.actors.issue_token("bob", "read")
    bob_id = (await call(b, "GET", "/api/v1/accounts/verify_credentials", token=bob_token)).body[
        "id"
    ]
    on_b = await call(b, "GET", f"/api/v1/accounts/{bob_id}/followers")
    assert [x["acct"] for x in on_b.body] == [f"anna@{a.domain}"]


def _links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        url, rel = part.split(";")
        links[rel.strip().removeprefix('rel="').removesuffix('"')] = url.strip()[1:-1]
    return links
