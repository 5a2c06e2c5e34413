"""Sign-up, sign-in and -out, password change, CSRF, session cookies and sign-in limits,
over real HTTP against a real instance (no browser needed for these)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from harness import PASSWORD, Instance, people, value
from web_client import WebClient

from federatie.config import load_config
from federatie.services.people import MAX_FAILED_SIGNINS
from federatie.web.ui.session import cookie_prefix


@pytest.fixture
async def instance(start_instance: Any) -> Instance:
    """Sign-up is closed by default; these tests open it."""
    started: Instance = await start_instance("a", FEDERATIE_REGISTRATION="open")
    return started


@pytest.fixture
async def web(instance: Instance) -> AsyncIterator[WebClient]:
    client = WebClient(instance)
    yield client
    await client.close()


async def test_sign_up_then_sign_out_and_in_again(instance: Instance, web: WebClient) -> None:
    status, html, url = await web.post(
        "/signup",
        {
            "username": "Anna",
            "display_name": "Anna de Vries",
            "password": PASSWORD,
            "password_repeat": PASSWORD,
        },
        form_page="/signup",
        allow_redirects=False,
    )
    assert status == 303, html
    assert web.cookie("federatie-session")
    assert await value(instance, "SELECT count(*) FROM web_sessions") == 1
    # Only a digest of the token is stored.
    token = web.cookie("federatie-session")
    assert (
        token
        and await value(
            instance, "SELECT count(*) FROM web_sessions WHERE token_sha256 = $1", token.encode()
        )
        == 0
    )

    status, html, url = await web.post("/logout", {}, form_page="/")
    assert url == instance.url("/") and "Sign in" in html
    assert await value(instance, "SELECT count(*) FROM web_sessions") == 0
    await web.sign_in("anna")


async def test_sign_up_rejects_bad_input_with_labelled_messages(web: WebClient) -> None:
    cases = [
        ({"username": "no spaces", "password": PASSWORD}, "username", "letters, digits"),
        ({"username": "admin", "password": PASSWORD}, "username", "reserved"),
        ({"username": "kort", "password": "short"}, "password", "at least 10"),
    ]
    for fields, field, text in cases:
        data = {"display_name": "", "password_repeat": fields["password"], **fields}
        status, html, _ = await web.post("/signup", data, form_page="/signup")
        assert status == 422
        assert f'id="{field}-error"' in html and text in html
        assert f'aria-describedby="{field}-error"' in html or f'{field}-error"' in html
        assert 'aria-invalid="true"' in html and 'role="alert"' in html
    status, html, _ = await web.post(
        "/signup",
        {"username": "bob", "password": PASSWORD, "password_repeat": PASSWORD + "x"},
        form_page="/signup",
    )
    assert status == 422 and "The two passwords differ." in html


async def test_sign_up_modes(start_instance: Any) -> None:
    closed = await start_instance("c", FEDERATIE_REGISTRATION="closed")
    approval = await start_instance("d", FEDERATIE_REGISTRATION="approval")
    fields = {"username": "piet", "password": PASSWORD, "password_repeat": PASSWORD}
    for instance in (closed, approval):
        web = WebClient(instance)
        try:
            status, html, _ = await web.post("/signup", fields, form_page="/login")
            if instance is closed:
                assert status == 403
                assert await value(instance, "SELECT count(*) FROM people") == 0
            else:
                assert status == 200 and "An administrator will approve it" in html
                status, html, _ = await web.post(
                    "/login", {"username": "piet", "password": PASSWORD}
                )
                assert status == 403 and "awaits approval" in html
        finally:
            await web.close()


async def test_session_cookies_are_httponly_lax_and_secure_outside_development(
    instance: Instance,
) -> None:
    await people(instance, "anna")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(instance.url("/login")) as page:
            html = await page.text()
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        async with session.post(
            instance.url("/login"),
            data={"csrf_token": token, "username": "anna", "password": PASSWORD},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            cookies = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("federatie-session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Path=/" in session_cookie
    # In production the cookies carry the __Host- prefix, which browsers accept only
    # with Secure, Path=/ and no Domain.
    production = load_config(
        {"FEDERATIE_DOMAIN": "gov-a.example", "DATABASE_URL": "postgresql://x/y"}
    )
    assert cookie_prefix(production) == "__Host-" and cookie_prefix(instance.config) == ""


async def test_forms_without_the_csrf_token_are_refused(instance: Instance) -> None:
    await people(instance, "anna")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await session.get(instance.url("/login"))  # has the CSRF cookie, not the field
        for data in (
            {"username": "anna", "password": PASSWORD},
            {"username": "anna", "password": PASSWORD, "csrf_token": "x" * 43},
        ):
            async with session.post(instance.url("/login"), data=data) as response:
                assert response.status == 403
        # A cross-site form with the right token still fails on its Origin.
        async with session.get(instance.url("/login")) as page:
            token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
        async with session.post(
            instance.url("/login"),
            data={"csrf_token": token, "username": "anna", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        ) as response:
            assert response.status == 403
    assert await value(instance, "SELECT count(*) FROM web_sessions") == 0


async def test_sign_in_is_limited_after_failures(instance: Instance, web: WebClient) -> None:
    await people(instance, "anna")
    for _ in range(MAX_FAILED_SIGNINS):
        status, html, _ = await web.post("/login", {"username": "anna", "password": "wrong" * 3})
        assert status == 401 and "Wrong user name or password." in html
    status, html, _ = await web.post("/login", {"username": "anna", "password": PASSWORD})
    assert status == 429 and "Too many failed attempts" in html
    assert await value(instance, "SELECT count(*) FROM web_sessions") == 0


async def test_password_change_ends_other_sessions(instance: Instance) -> None:
    await people(instance, "anna")
    first, second = WebClient(instance), WebClient(instance)
    try:
        await first.sign_in("anna")
        await second.sign_in("anna")
        new = "a much longer passphrase"
        status, html, _ = await first.post(
            "/settings/password",
            {"current_password": "wrong", "new_password": new, "new_password_repeat": new},
            form_page="/settings/password",
        )
        assert status == 422 and "The current password is wrong." in html
        status, html, _ = await first.post(
            "/settings/password",
            {"current_password": PASSWORD, "new_password": new, "new_password_repeat": new},
            form_page="/settings/password",
        )
        assert "Your password was changed." in html
        status, html = await second.get("/settings/password", allow_redirects=False)
        assert status == 303  # signed out: sent to the sign-in page
        await second.sign_in("anna", new)
    finally:
        await first.close()
        await second.close()


async def test_pages_follow_the_browser_language_and_the_switch(instance: Instance) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(
            instance.url("/login"), headers={"Accept-Language": "nl-NL,nl;q=0.9"}
        ) as r:
            html = await r.text()
        assert '<html lang="nl">' in html and "Gebruikersnaam" in html
        async with session.get(instance.url("/login"), headers={"Accept-Language": "en"}) as r:
            html = await r.text()
        assert '<html lang="en">' in html and "User name" in html
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        async with session.post(
            instance.url("/language"),
            data={"csrf_token": token, "lang": "nl", "next": "/login"},
            headers={"Accept-Language": "en"},
        ) as r:
            assert str(r.url) == instance.url("/login")
            assert '<html lang="nl">' in await r.text()


async def test_next_parameter_cannot_leave_the_site(instance: Instance, web: WebClient) -> None:
    await people(instance, "anna")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        _, _, url = await web.post(
            "/login", {"username": "anna", "password": PASSWORD, "next": target}
        )
        assert url == instance.url("/home") or url.startswith(instance.url("/")), url
        assert "evil" not in url


async def test_pages_refuse_framing_and_sniffing(instance: Instance, web: WebClient) -> None:
    async with web.session.get(instance.url("/login")) as response:
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
