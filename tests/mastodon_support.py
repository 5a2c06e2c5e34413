"""Helpers for the Mastodon API tests: register an app, go through the consent page the way a
browser does (plain HTTP with the session cookie and the form's CSRF token), get tokens, and
call the API with one. (Not named `mastodon*`-only: Mastodon.py's package is `mastodon`.)"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from harness import Instance
from web.web_client import WebClient

OOB = "urn:ietf:wg:oauth:2.0:oob"
REDIRECT = "https://app.example/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Any


async def call(
    instance: Instance,
    method: str,
    path: str,
    *,
    token: str | None = None,
    **kwargs: Any,
) -> Answer:
    """One HTTP call to the instance; the body parsed as JSON when it is JSON."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, instance.url(path), headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        try:
            body: Any = await response.json(content_type=None)
        except ValueError:
            body = text
        return Answer(response.status, body, response.headers)


async def register_app(
    instance: Instance, scopes: str = "read write follow push", redirect_uri: str = REDIRECT
) -> App:
    answer = await call(
        instance,
        "POST",
        "/api/v1/apps",
        json={"client_name": "Test app", "redirect_uris": redirect_uri, "scopes": scopes},
    )
    assert answer.status == 200, answer.body
    return App(answer.body["client_id"], answer.body["client_secret"], redirect_uri, scopes)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


async def consent(
    browser: WebClient, authorize_url: str, *, approve: bool = True
) -> tuple[int, str, str]:
    """Open the consent page at `authorize_url` (signed in already) and press a button:
    (status, Location or page, the page's HTML)."""
    status, page = await browser.get(authorize_url)
    assert status == 200, page[:2000]
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}
    fields["decision"] = "approve" if approve else "deny"
    async with browser.session.post(
        browser.instance.url("/oauth/authorize"), data=fields, allow_redirects=False
    ) as response:
        body = await response.text()
        return response.status, response.headers.get("Location", body), page


def authorize_path(app: App, *, scopes: str | None = None, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": scopes or app.scopes,
        **extra,
    }
    return "/oauth/authorize?" + urlencode(query)


def code_from(location: str) -> str:
    codes = parse_qs(urlsplit(location).query).get("code")
    assert codes, location
    return codes[0]


async def token_for(
    instance: Instance,
    username: str,
    scopes: str = "read write follow push",
    *,
    browser: WebClient | None = None,
) -> str:
    """The whole authorization-code flow with PKCE, as an app and its person go through it."""
    app = await register_app(instance, scopes)
    own_browser = browser is None
    browser = browser or WebClient(instance)
    try:
        if own_browser:
            await browser.sign_in(username)
        verifier, challenge = pkce_pair()
        status, location, _ = await consent(
            browser,
            authorize_path(app, code_challenge=challenge, code_challenge_method="S256"),
        )
    finally:
        if own_browser:
            await browser.close()
    assert status == 302, location
    answer = await call(
        instance,
        "POST",
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code_from(location),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert answer.status == 200, answer.body
    token: str = answer.body["access_token"]
    return token
