"""Statuses and media over the Mastodon API on a real instance: posting (visibility, mentions,
hashtags, content warnings, language, replies, media), Idempotency-Key, reading and who may,
context, favourites and boosts, deletion, and the errors apps must understand."""

from __future__ import annotations

import io

import aiohttp
from files_support import jpeg_with_gps
from harness import Instance, people, rows
from mastodon_support import call
from PIL import Image


async def _setup(instance: Instance, *names: str) -> dict[str, str]:
    await people(instance, *names)
    return {name: await instance.runtime.actors.issue_token(name) for name in names}


async def _post(instance: Instance, token: str, **fields: object) -> dict[str, object]:
    answer = await call(instance, "POST", "/api/v1/statuses", token=token, json=fields)
    assert answer.status == 200, answer.body
    status: dict[str, object] = answer.body
    return status


async def test_post_and_read_a_status(instance: Instance) -> None:
    tokens = await _setup(instance, "anna", "bert")
    # Form-encoded, as Mastodon.py and toot send it.
    answer = await call(
        instance,
        "POST",
        "/api/v1/statuses",
        token=tokens["anna"],
        data={
            "status": "Hallo @bert, zie #Omgevingswet en https://example.org/a?b=1.\n\nTweede",
            "spoiler_text": "Beleid",
            "language": "nl",
            "visibility": "public",
        },
    )
    assert answer.status == 200, answer.body
    status = answer.body
    assert status["id"].isdigit() and len(status["id"]) >= 17  # a snowflake, as Mastodon's
    assert status["account"]["acct"] == "anna"
    assert status["visibility"] == "public"
    assert status["spoiler_text"] == "Beleid" and status["sensitive"] is True
    assert status["language"] == "nl"
    assert status["mentions"][0]["acct"] == "bert"
    assert status["tags"] == [{"name": "omgevingswet", "url": instance.url("/tags/omgevingswet")}]
    content = status["content"]
    assert 'class="u-url mention"' in content and instance.url("/users/bert") in content
    assert 'class="mention hashtag"' in content
    assert '<a href="https://example.org/a?b=1"' in content
    assert content.count("<p>") == 2
    assert status["uri"].startswith(instance.url("/objects/"))
    # The Note as it federates: addressing, tags, language, source.
    document = (await rows(instance, "SELECT document FROM objects WHERE uri = $1", status["uri"]))[
        0
    ]["document"]
    assert document["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert instance.url("/users/bert") in document["cc"]
    assert document["summary"] == "Beleid" and document["sensitive"] is True
    assert list(document["contentMap"]) == ["nl"]
    assert document["source"]["mediaType"] == "text/plain"

    # Anyone may read a public status, with or without a token.
    anonymous = await call(instance, "GET", f"/api/v1/statuses/{status['id']}")
    assert anonymous.status == 200 and anonymous.body["id"] == status["id"]
    as_bert = await call(instance, "GET", f"/api/v1/statuses/{status['id']}", token=tokens["bert"])
    assert as_bert.body["favourited"] is False
    many = await call(instance, "GET", f"/api/v1/statuses?id[]={status['id']}&id[]=123")
    assert [s["id"] for s in many.body] == [status["id"]]


async def test_visibility_decides_who_reads(instance: Instance) -> None:
    tokens = await _setup(instance, "anna", "bert", "carla")
    private = await _post(instance, tokens["anna"], status="Alleen volgers", visibility="private")
    direct = await _post(instance, tokens["anna"], status="@bert geheim", visibility="direct")
    unlisted = await _post(instance, tokens["anna"], status="Stil", visibility="unlisted")
    assert (private["visibility"], direct["visibility"], unlisted["visibility"]) == (
        "private",
        "direct",
        "unlisted",
    )
    for status in (private, direct):
        assert (await call(instance, "GET", f"/api/v1/statuses/{status['id']}")).status == 404
        hidden = await call(
            instance, "GET", f"/api/v1/statuses/{status['id']}", token=tokens["carla"]
        )
        assert hidden.status == 404 and hidden.body["error"] == "Record not found"
    assert (
        await call(instance, "GET", f"/api/v1/statuses/{direct['id']}", token=tokens["bert"])
    ).status == 200
    # Bert follows anna: now he reads her followers-only posts.
    await instance.publish("bert", {"type": "Follow", "object": instance.url("/users/anna")})
    await instance.drain()
    seen = await call(instance, "GET", f"/api/v1/statuses/{private['id']}", token=tokens["bert"])
    assert seen.status == 200
    # Boosting a followers-only post is refused.
    refused = await call(
        instance, "POST", f"/api/v1/statuses/{private['id']}/reblog", token=tokens["bert"]
    )
    assert refused.status == 403


async def test_idempotency_key_returns_the_first_status(instance: Instance) -> None:
    tokens = await _setup(instance, "anna")
    headers = {"Idempotency-Key": "abc-123"}
    first = await call(
        instance,
        "POST",
        "/api/v1/statuses",
        token=tokens["anna"],
        json={"status": "Eenmaal"},
        headers=headers,
    )
    again = await call(
        instance,
        "POST",
        "/api/v1/statuses",
        token=tokens["anna"],
        json={"status": "Eenmaal"},
        headers=headers,
    )
    other = await _post(instance, tokens["anna"], status="Eenmaal")
    assert first.status == again.status == 200
    assert first.body["id"] == again.body["id"] != other["id"]
    count = await rows(instance, "SELECT count(*) AS n FROM objects WHERE type = 'Note'")
    assert count[0]["n"] == 2


async def test_replies_context_favourites_and_boosts(instance: Instance) -> None:
    tokens = await _setup(instance, "anna", "bert")
    root = await _post(instance, tokens["anna"], status="Vraag")
    reply = await _post(
        instance, tokens["bert"], status="@anna antwoord", in_reply_to_id=root["id"]
    )
    assert reply["in_reply_to_id"] == root["id"]
    assert reply["in_reply_to_account_id"] == root["account"]["id"]
    deeper = await _post(instance, tokens["anna"], status="Dank", in_reply_to_id=reply["id"])
    context = await call(instance, "GET", f"/api/v1/statuses/{reply['id']}/context")
    assert [s["id"] for s in context.body["ancestors"]] == [root["id"]]
    assert [s["id"] for s in context.body["descendants"]] == [deeper["id"]]

    bert = tokens["bert"]
    favourited = await call(
        instance, "POST", f"/api/v1/statuses/{root['id']}/favourite", token=bert
    )
    assert favourited.status == 200, favourited.body
    assert favourited.body["favourited"] is True and favourited.body["favourites_count"] == 1
    # Again is a no-op.
    again = await call(instance, "POST", f"/api/v1/statuses/{root['id']}/favourite", token=bert)
    assert again.body["favourites_count"] == 1
    boost = await call(instance, "POST", f"/api/v1/statuses/{root['id']}/reblog", token=bert)
    assert boost.status == 200, boost.body
    assert boost.body["reblog"]["id"] == root["id"] and boost.body["account"]["acct"] == "bert"
    assert boost.body["reblog"]["reblogged"] is True and boost.body["reblog"]["reblogs_count"] == 1
    assert boost.body["id"] != root["id"]
    # The boost is a status of its own.
    fetched = await call(instance, "GET", f"/api/v1/statuses/{boost.body['id']}")
    assert fetched.status == 200 and fetched.body["reblog"]["id"] == root["id"]
    for kind in ("favourited_by", "reblogged_by"):
        who = await call(instance, "GET", f"/api/v1/statuses/{root['id']}/{kind}")
        assert [a["acct"] for a in who.body] == ["bert"], kind
    await instance.drain()
    undone = await call(instance, "POST", f"/api/v1/statuses/{root['id']}/unfavourite", token=bert)
    assert undone.body["favourited"] is False and undone.body["favourites_count"] == 0
    unboost = await call(instance, "POST", f"/api/v1/statuses/{root['id']}/unreblog", token=bert)
    assert unboost.body["reblogged"] is False and unboost.body["reblogs_count"] == 0
    assert (await call(instance, "GET", f"/api/v1/statuses/{boost.body['id']}")).status == 404


async def test_delete_returns_the_text(instance: Instance) -> None:
    tokens = await _setup(instance, "anna", "bert")
    status = await _post(instance, tokens["anna"], status="Weg #ermee")
    refused = await call(
        instance, "DELETE", f"/api/v1/statuses/{status['id']}", token=tokens["bert"]
    )
    assert refused.status == 404
    deleted = await call(
        instance, "DELETE", f"/api/v1/statuses/{status['id']}", token=tokens["anna"]
    )
    assert deleted.status == 200 and deleted.body["text"] == "Weg #ermee"
    assert (await call(instance, "GET", f"/api/v1/statuses/{status['id']}")).status == 404
    tombstone = await rows(instance, "SELECT document FROM objects WHERE uri = $1", status["uri"])
    assert tombstone[0]["document"]["type"] == "Tombstone"


async def test_errors_in_mastodon_shape(instance: Instance) -> None:
    tokens = await _setup(instance, "anna")
    read_only = await instance.runtime.actors.issue_token("anna", "read")
    unauthenticated = await call(instance, "POST", "/api/v1/statuses", json={"status": "x"})
    assert unauthenticated.status == 401 and "error" in unauthenticated.body
    bad_token = await call(instance, "POST", "/api/v1/statuses", token="nope", json={"status": "x"})
    assert bad_token.status == 401
    no_scope = await call(
        instance, "POST", "/api/v1/statuses", token=read_only, json={"status": "x"}
    )
    assert no_scope.status == 403 and "error" in no_scope.body
    for body in (
        {"status": ""},
        {"status": "x", "visibility": "everyone"},
        {"status": "x", "media_ids": ["abc"]},
        {"status": "x" * 5001},
        {"status": "x", "media_ids": ["999"]},
    ):
        answer = await call(instance, "POST", "/api/v1/statuses", token=tokens["anna"], json=body)
        assert answer.status == 422, (body, answer.body)
        assert answer.body["error"].startswith("Validation failed"), answer.body
    assert (await call(instance, "GET", "/api/v1/statuses/notanid")).status == 404


async def test_media_upload_attach_and_describe(instance: Instance) -> None:
    tokens = await _setup(instance, "anna", "bert")
    form = aiohttp.FormData()
    form.add_field("file", jpeg_with_gps(), filename="foto.jpg", content_type="image/jpeg")
    form.add_field("description", "Een rode rechthoek")
    uploaded = await call(instance, "POST", "/api/v2/media", token=tokens["anna"], data=form)
    assert uploaded.status == 200, uploaded.body
    media = uploaded.body
    assert media["type"] == "image" and media["description"] == "Een rode rechthoek"
    assert media["meta"]["original"]["width"] == 64
    # The bytes are served without the camera's metadata.
    async with aiohttp.ClientSession() as session, session.get(media["url"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("image/jpeg")
        served = await response.read()
    assert b"Spycam" not in served and b"geheim" not in served
    assert Image.open(io.BytesIO(served)).size == (64, 48)
    async with aiohttp.ClientSession() as session, session.get(media["preview_url"]) as response:
        assert response.status == 200
    # Describe it, then post it.
    described = await call(
        instance,
        "PUT",
        f"/api/v1/media/{media['id']}",
        token=tokens["anna"],
        json={"description": "Rood"},
    )
    assert described.body["description"] == "Rood"
    assert (
        await call(instance, "GET", f"/api/v1/media/{media['id']}", token=tokens["bert"])
    ).status == 404
    status = await _post(instance, tokens["anna"], status="Kijk", media_ids=[media["id"]])
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    assert status["media_attachments"][0]["description"] == "Rood"
    document = (await rows(instance, "SELECT document FROM objects WHERE uri = $1", status["uri"]))[
        0
    ]["document"]
    assert document["attachment"][0]["url"] == media["url"]
    assert document["attachment"][0]["name"] == "Rood"
    # Attached media cannot be attached again, nor described any more.
    again = await call(
        instance,
        "POST",
        "/api/v1/statuses",
        token=tokens["anna"],
        json={"status": "Nog eens", "media_ids": [media["id"]]},
    )
    assert again.status == 422
    late = await call(
        instance,
        "PUT",
        f"/api/v1/media/{media['id']}",
        token=tokens["anna"],
        json={"description": "Te laat"},
    )
    assert late.status == 422
    # Not a picture, video or sound: refused.
    text_form = aiohttp.FormData()
    text_form.add_field("file", b"gewoon tekst", filename="a.txt", content_type="text/plain")
    refused = await call(instance, "POST", "/api/v2/media", token=tokens["anna"], data=text_form)
    assert refused.status == 422
