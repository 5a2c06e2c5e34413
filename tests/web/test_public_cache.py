"""The public cache (federatie/web/public_cache.py): what anonymous readers get from it, what
they never get from it (someone else's CSRF token, an answer their signature would not earn,
a signed-in person's page), and its own rules (one render per key at a time, only 200s
without cookies, bounded size, expiry). The harness turns the cache off; these tests turn it
on with a long life, so that a kept answer is seen to be kept."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from harness import Instance, people, settle
from quart import Quart, Response
from web_client import WebClient

from federatie.activitypub.iris import AS_PUBLIC
from federatie.web.public_cache import PublicCache

AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def cached(start_instance: Any) -> Instance:
    instance: Instance = await start_instance(
        "a", FEDERATIE_PUBLIC_CACHE_SECONDS="300", FEDERATIE_AUTHORIZED_FETCH="false"
    )
    return instance


async def _json(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with http.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        return response.headers["Content-Type"], await response.json(content_type=None)


async def test_actor_documents_are_kept_per_media_type(
    cached: Instance, http: aiohttp.ClientSession
) -> None:
    await people(cached, "anna")
    url = cached.url("/users/anna")
    _, first = await _json(http, url, AP)
    await cached.runtime.pool.execute(
        "UPDATE actors SET name = 'Anna Nieuw' WHERE username = 'anna'"
    )
    _, again = await _json(http, url, AP)
    assert again == first  # kept
    content_type, other = await _json(http, url, LD)  # another representation, its own key
    assert content_type.startswith("application/ld+json")
    assert other["name"] == "Anna Nieuw"


async def test_webfinger_keeps_answers_but_not_misses(
    cached: Instance, http: aiohttp.ClientSession
) -> None:
    domain = cached.config.domain
    url = cached.url(f"/.well-known/webfinger?resource=acct:bram@{domain}")
    async with http.get(url) as response:
        assert response.status == 404
    await people(cached, "bram")
    async with http.get(url) as response:  # the 404 was not kept
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert (await response.json(content_type=None))["subject"] == f"acct:bram@{domain}"


async def test_group_page_gives_every_visitor_their_own_csrf_token(cached: Instance) -> None:
    await people(cached, "anna")
    await cached.runtime.actors.create_group("water", owner="anna", title="Waterbeheer")
    first, second, dutch, member = (WebClient(cached) for _ in range(4))
    try:
        _, page_one = await first.get("/groups/water")
        _, page_two = await second.get("/groups/water")
        token_one = _CSRF.findall(page_one)
        token_two = _CSRF.findall(page_two)
        assert token_one and set(token_one) == {first.cookie("federatie-csrf")}
        assert token_two and set(token_two) == {second.cookie("federatie-csrf")}
        assert token_one[0] != token_two[0]
        # The kept page's form works for the second visitor, with their own token.
        async with second.session.post(
            cached.url("/language"),
            data={"csrf_token": token_two[0], "lang": "nl", "next": "/groups/water"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303

        # A signed-in member's page is rendered for them: their new discussion shows at once,
        # while visitors keep reading the kept page.
        await member.sign_in("anna")
        status, _, _ = await member.post(
            "/groups/water/discussions",
            {"title": "Dijkversterking", "content": "Wie doet mee?"},
            form_page="/groups/water",
        )
        assert status == 200
        _, mine = await member.get("/groups/water")
        assert "Dijkversterking" in mine
        _, theirs = await first.get("/groups/water")
        assert "Dijkversterking" not in theirs and "Waterbeheer" in theirs

        # Each language has its own page: a Dutch visitor gets a fresh, Dutch one.
        _, page_nl = await dutch.get("/groups/water", headers={"Accept-Language": "nl"})
        assert '<html lang="nl"' in page_nl and "Dijkversterking" in page_nl
    finally:
        for client in (first, second, dutch, member):
            await client.close()


async def test_directory_and_blog_pages_are_kept_for_visitors_only(cached: Instance) -> None:
    await people(cached, "anna")
    await cached.runtime.actors.create_group("water", owner="anna", title="Waterbeheer")
    guest, member = WebClient(cached), WebClient(cached)
    try:
        await member.sign_in("anna")
        for path in ("/groups", "/groups/water/blog", "/users/anna/blog"):
            status, _ = await guest.get(path)
            assert status == 200, path
        await cached.runtime.actors.create_group("fiets", owner="anna", title="Fietspaden")
        _, kept = await guest.get("/groups")
        _, fresh = await member.get("/groups")
        assert "Fietspaden" not in kept and "Fietspaden" in fresh
        _, fresh = await guest.get("/groups?q=fiets")  # another query, another key
        assert "Fietspaden" in fresh
    finally:
        await guest.close()
        await member.close()


async def test_kept_outbox_page_still_needs_a_signature(
    start_instance: Any, http: aiohttp.ClientSession
) -> None:
    a = await start_instance("a", FEDERATIE_PUBLIC_CACHE_SECONDS="300")
    b = await start_instance("b")
    await people(a, "alice")
    alice = await a.runtime.actors.get("alice")
    await a.runtime.publisher.publish(
        alice, {"type": "Note", "content": "Openbaar", "to": [AS_PUBLIC]}
    )
    await settle(a)
    page_url = a.url("/users/alice/outbox?page=true")
    signed = await b.runtime.fetch_object(page_url)
    assert len(signed["orderedItems"]) == 1
    async with http.get(page_url, headers=AP) as response:
        assert response.status == 401  # kept, but not for an unsigned reader
    assert await b.runtime.fetch_object(page_url) == signed


# ------------------------------------------------------------------ the cache's own rules


class Renders:
    """Render functions that note each time they run."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def of(self, key: str, response: Response, delay: float = 0) -> Any:
        async def render() -> Response:
            self.keys.append(key)
            await asyncio.sleep(delay)
            return response

        return render


async def test_concurrent_misses_render_once() -> None:
    cache, renders = PublicCache(60), Renders()
    render = renders.of("k", Response(b"same for all", content_type="text/plain"), delay=0.05)
    async with Quart(__name__).app_context():
        answers = await asyncio.gather(*(cache.answer("k", render) for _ in range(10)))
        bodies = {await answer.get_data(as_text=False) for answer in answers}
    assert renders.keys == ["k"] and bodies == {b"same for all"}
    assert answers[1].headers["Content-Type"] == "text/plain"
    assert answers[1].headers["Content-Length"] == str(len(b"same for all"))


async def test_only_plain_successes_are_kept_and_they_expire() -> None:
    now = [1000.0]
    cache, renders = PublicCache(5, max_entries=2, clock=lambda: now[0]), Renders()
    async with Quart(__name__).app_context():
        missing = Response(b"gone", status=404)
        with_cookie = Response(b"hello")
        with_cookie.set_cookie("session", "x")
        for _ in range(2):
            await cache.answer("404", renders.of("404", missing))
            await cache.answer("cookie", renders.of("cookie", with_cookie))
        assert renders.keys == ["404", "cookie", "404", "cookie"]

        for key in ("one", "two", "three"):  # room for two: "one" goes first
            await cache.answer(key, renders.of(key, Response(key.encode())))
        renders.keys.clear()
        await cache.answer("three", renders.of("three", Response(b"three")))
        await cache.answer("one", renders.of("one", Response(b"one")))
        assert renders.keys == ["one"]

        now[0] += 4.9
        await cache.answer("one", renders.of("one", Response(b"one")))
        assert renders.keys == ["one"]
        now[0] += 0.2
        await cache.answer("one", renders.of("one", Response(b"one")))
        assert renders.keys == ["one", "one"]  # expired


async def test_kept_bytes_are_bounded() -> None:
    cache, renders = PublicCache(60, max_bytes=250), Renders()
    async with Quart(__name__).app_context():
        for key in ("a", "b", "c"):  # 100 bytes each: "a" goes when "c" comes
            await cache.answer(key, renders.of(key, Response(b"x" * 100)))
        assert cache.entries == 2
        await cache.answer("b", renders.of("b", Response(b"x" * 100)))
        await cache.answer("a", renders.of("a", Response(b"x" * 100)))
        await cache.answer("big", renders.of("big", Response(b"x" * 300)))  # over the budget
        await cache.answer("b", renders.of("b", Response(b"x" * 100)))
    assert renders.keys == ["a", "b", "c", "a", "big"]  # "big" was not kept, nor pushed "b" out
    assert cache.entries == 2


async def test_zero_seconds_is_off() -> None:
    cache, renders = PublicCache(0), Renders()
    async with Quart(__name__).app_context():
        await cache.answer("k", renders.of("k", Response(b"x")))
        await cache.answer("k", renders.of("k", Response(b"x")))
    assert renders.keys == ["k", "k"]
