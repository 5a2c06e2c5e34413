"""OAuth 2 on a real instance: app registration, the authorization-code flow through the
consent page (with PKCE, and out of band), client credentials, refresh, revocation, scopes,
and the bearer tokens on the client-to-server outbox."""

from __future__ import annotations

import re
from typing import Any

from harness import Instance, people, value
from mastodon_support import (
    OOB,
    App,
    authorize_path,
    call,
    code_from,
    consent,
    pkce_pair,
    register_app,
    token_for,
)
from web.web_client import WebClient


def _exchange(app: App, code: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        **extra,
    }


async def test_authorization_code_flow_with_pkce(instance: Instance) -> None:
    await people(instance, "anna")
    app = await register_app(instance, "read write")
    browser = WebClient(instance)
    try:
        # Signed out, the consent page sends the browser to sign in, then back.
        path = authorize_path(app, scopes="read")
        status, _ = await browser.get(path, allow_redirects=False)
        assert status == 303
        await browser.sign_in("anna")
        verifier, challenge = pkce_pair()
        pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
        status, location, page = await consent(
            browser, authorize_path(app, scopes="read", state="xyz", **pkce)
        )
        assert "Test app" in page and "@anna" in page
        assert status == 302 and location.startswith(app.redirect_uri + "?"), location
        assert "state=xyz" in location
        # A wrong verifier fails, and spends the code: a code works once, whatever happens.
        code = code_from(location)
        wrong = await call(
            instance, "POST", "/oauth/token", data=_exchange(app, code, code_verifier="x" * 50)
        )
        assert wrong.status == 400 and wrong.body["error"] == "invalid_grant", wrong.body
        again = await call(
            instance, "POST", "/oauth/token", data=_exchange(app, code, code_verifier=verifier)
        )
        assert again.status == 400 and again.body["error"] == "invalid_grant"

        # A public client (no secret) must use PKCE.
        _, location, _ = await consent(browser, authorize_path(app, scopes="read"))
        bare = await call(
            instance, "POST", "/oauth/token", data=_exchange(app, code_from(location))
        )
        assert bare.status == 400 and bare.body["error"] == "invalid_request", bare.body

        # Done right, as a public client: the token, a refresh token, the scopes granted.
        _, location, _ = await consent(browser, authorize_path(app, scopes="read", **pkce))
        got = await call(
            instance,
            "POST",
            "/oauth/token",
            data=_exchange(app, code_from(location), code_verifier=verifier),
        )
    finally:
        await browser.close()
    assert got.status == 200, got.body
    assert got.body["token_type"] == "Bearer" and got.body["scope"] == "read"
    assert got.headers["Cache-Control"] == "no-store"
    token = got.body["access_token"]
    me = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=token)
    assert me.status == 200 and me.body["username"] == "anna", me.body
    own_app = await call(instance, "GET", "/api/v1/apps/verify_credentials", token=token)
    assert own_app.status == 200 and own_app.body["name"] == "Test app"
    assert "client_secret" not in own_app.body
    # Stored hashed only: neither the token nor the secret is in the database.
    assert await value(instance, "SELECT count(*) FROM api_tokens WHERE app_id IS NOT NULL") == 1
    dump = await value(
        instance, "SELECT string_agg(t::text, ' ') FROM api_tokens t WHERE app_id IS NOT NULL"
    )
    assert token not in dump and got.body["refresh_token"] not in dump
    # read only: writing is outside the scopes.
    follow = await call(instance, "POST", "/api/v1/accounts/1/follow", token=token)
    assert follow.status == 403
    assert follow.body["error"] == "This action is outside the authorized scopes"


async def test_out_of_band_code_and_denial(instance: Instance) -> None:
    await people(instance, "anna")
    app = await register_app(instance, "read write follow", redirect_uri=OOB)
    browser = WebClient(instance)
    try:
        await browser.sign_in("anna")
        status, page, _ = await consent(browser, authorize_path(app, scopes="read write"))
        assert status == 200, page
        code = re.search(r'id="code"[^>]*value="([^"]+)"', page)
        assert code, page
        denied_status, denied_page, _ = await consent(browser, authorize_path(app), approve=False)
    finally:
        await browser.close()
    assert denied_status == 200 and "Access denied" in denied_page
    got = await call(
        instance,
        "POST",
        "/oauth/token",
        data=_exchange(app, code.group(1), client_secret=app.client_secret),
    )
    assert got.status == 200 and got.body["scope"] == "read write", got.body


async def test_denial_and_bad_requests_on_the_consent_page(instance: Instance) -> None:
    await people(instance, "anna")
    app = await register_app(instance, "read")
    browser = WebClient(instance)
    try:
        await browser.sign_in("anna")
        status, location, _ = await consent(browser, authorize_path(app), approve=False)
        assert status == 302 and "error=access_denied" in location
        # More than the app registered, an unknown app, a foreign redirect: an error page.
        for path in (
            authorize_path(app, scopes="read write"),
            authorize_path(App("nobody", "", app.redirect_uri, "read")),
            authorize_path(App(app.client_id, "", "https://evil.example/", "read")),
        ):
            status, page = await browser.get(path)
            assert status == 400 and "cannot be authorized" in page, (path, page[:500])
        async with browser.session.get(instance.url(authorize_path(app))) as response:
            assert response.headers["X-Frame-Options"] == "DENY"  # no clickjacking of Allow
        # The decision is a form of ours: without the CSRF token it is refused.
        async with browser.session.post(
            instance.url("/oauth/authorize"),
            data={"client_id": app.client_id, "response_type": "code", "decision": "approve"},
            allow_redirects=False,
        ) as response:
            assert response.status == 403
    finally:
        await browser.close()


async def test_client_credentials_refresh_and_revocation(instance: Instance) -> None:
    await people(instance, "anna")
    app = await register_app(instance, "read write")
    credentials = {"client_id": app.client_id, "client_secret": app.client_secret}
    app_token = await call(
        instance,
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read", **credentials},
    )
    assert app_token.status == 200 and "refresh_token" not in app_token.body, app_token.body
    token = app_token.body["access_token"]
    seen = await call(instance, "GET", "/api/v1/apps/verify_credentials", token=token)
    assert seen.status == 200 and seen.body["name"] == "Test app"
    no_person = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=token)
    assert no_person.status == 422, no_person.body
    assert no_person.body["error"] == "This method requires an authenticated user"
    public = await call(instance, "GET", "/api/v1/accounts/lookup?acct=anna", token=token)
    assert public.status == 200, public.body  # an app's token reads what anyone may
    wrong_secret = await call(
        instance,
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", **credentials, "client_secret": "nope"},
    )
    assert wrong_secret.status in (400, 401) and wrong_secret.body["error"] == "invalid_client"
    too_much = await call(
        instance,
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "follow", **credentials},
    )
    assert too_much.status == 400 and too_much.body["error"] == "invalid_scope"

    # Refresh: new tokens, the old pair stops working.
    browser = WebClient(instance)
    try:
        await browser.sign_in("anna")
        _, location, _ = await consent(browser, authorize_path(app))
    finally:
        await browser.close()
    first = await call(
        instance,
        "POST",
        "/oauth/token",
        data=_exchange(app, code_from(location), client_secret=app.client_secret),
    )
    assert first.status == 200, first.body
    refreshed = await call(
        instance,
        "POST",
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.body["refresh_token"],
            **credentials,
        },
    )
    assert refreshed.status == 200, refreshed.body
    assert refreshed.body["scope"] == "read write"
    old = await call(
        instance, "GET", "/api/v1/accounts/verify_credentials", token=first.body["access_token"]
    )
    assert old.status == 401 and old.body["error"] == "The access token is invalid"
    new_token = refreshed.body["access_token"]
    new = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=new_token)
    assert new.status == 200
    reused = await call(
        instance,
        "POST",
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.body["refresh_token"],
            **credentials,
        },
    )
    assert reused.status == 400 and reused.body["error"] == "invalid_grant"

    # Revocation (RFC 7009): the token stops working; an unknown one is fine too.
    revoked = await call(
        instance, "POST", "/oauth/revoke", data={"token": new_token, **credentials}
    )
    assert revoked.status == 200 and revoked.body == {}
    gone = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=new_token)
    assert gone.status == 401
    unknown = await call(instance, "POST", "/oauth/revoke", data={"token": "x", **credentials})
    assert unknown.status == 200


async def test_tokens_authorise_the_outbox(instance: Instance) -> None:
    await people(instance, "anna")
    token = await token_for(instance, "anna", "read write")
    note: dict[str, Any] = {
        "type": "Note",
        "content": "Via OAuth",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    posted = await call(
        instance,
        "POST",
        "/users/anna/outbox",
        token=token,
        json=note,
        headers={"Content-Type": "application/activity+json"},
    )
    assert posted.status == 201, posted.body


async def test_app_registration_validation_and_metadata(instance: Instance) -> None:
    app = await call(
        instance,
        "POST",
        "/api/v1/apps",
        data={"client_name": "Form app", "redirect_uris": f"{OOB}\nmyapp://cb", "scopes": "read"},
    )
    assert app.status == 200, app.body
    assert app.body["redirect_uris"] == [OOB, "myapp://cb"] and app.body["scopes"] == ["read"]
    assert app.body["client_secret_expires_at"] == 0
    for bad in (
        {"redirect_uris": OOB},
        {"client_name": "x"},
        {"client_name": "x", "redirect_uris": OOB, "scopes": "read admin:everything"},
        {"client_name": "x", "redirect_uris": "not a uri"},
    ):
        refused = await call(instance, "POST", "/api/v1/apps", json=bad)
        assert refused.status == 422, (bad, refused.body)
        assert refused.body["error"].startswith("Validation failed"), refused.body
    meta = await call(instance, "GET", "/.well-known/oauth-authorization-server")
    assert meta.status == 200
    assert meta.body["token_endpoint"] == instance.url("/oauth/token")
    assert meta.body["code_challenge_methods_supported"] == ["S256"]
    assert "read:statuses" in meta.body["scopes_supported"]


async def test_bad_tokens_and_rate_limits(start_instance: Any) -> None:
    instance = await start_instance("a", FEDERATIE_API_RATE_LIMIT="3")
    await people(instance, "anna")
    bad = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token="nonsense")
    assert bad.status == 401 and bad.body["error"] == "The access token is invalid"
    token = await instance.runtime.actors.issue_token("anna", "read")
    answers = [
        await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=token)
        for _ in range(4)
    ]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].body["error"] == "Too many requests"
    assert answers[0].headers["X-RateLimit-Reset"].endswith("Z")
    # Another token has its own budget.
    other = await instance.runtime.actors.issue_token("anna", "read")
    fresh = await call(instance, "GET", "/api/v1/accounts/verify_credentials", token=other)
    assert fresh.status == 200
