"""A browser-like HTTP client for the web pages: a cookie jar, and forms sent with their CSRF
token, as a page would send them. For tests that need no real browser."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from harness import PASSWORD, Instance

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebClient:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        # unsafe=True: keep cookies for an IP-address host such as 127.0.0.1.
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Accept": "text/html", "Accept-Language": "en"},
        )

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.session.get(self.instance.url(path), **kwargs) as response:
            return response.status, await response.text()

    async def csrf(self, path: str = "/login") -> str:
        _, html = await self.get(path)
        match = _CSRF.search(html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def post(
        self, path: str, data: dict[str, str], *, form_page: str = "/login", **kwargs: Any
    ) -> tuple[int, str, str]:
        """POST a form with the CSRF token of `form_page`: (status, body, final URL)."""
        fields = {"csrf_token": await self.csrf(form_page), **data}
        async with self.session.post(self.instance.url(path), data=fields, **kwargs) as response:
            return response.status, await response.text(), str(response.url)

    async def sign_in(self, name: str, password: str = PASSWORD) -> None:
        status, html, _ = await self.post(
            "/login", {"username": name, "password": password}, allow_redirects=False
        )
        assert status == 303, html[:2000]
        assert self.cookie("federatie-session")

    def cookie(self, name: str) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None
