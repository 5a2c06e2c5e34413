"""The administration pages over real HTTP: only administrators get in; instance settings,
the federation policy, reports, accounts and the operator's dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness import PASSWORD, Instance, people, value
from web_client import WebClient

from federatie import __version__
from federatie.config import FederationMode

PAGES = ("/admin", "/admin/settings", "/admin/federation", "/admin/reports", "/admin/users")


@pytest.fixture
async def admin(instance: Instance) -> AsyncIterator[WebClient]:
    await instance.runtime.actors.create_person("beheer", PASSWORD, admin=True)
    await people(instance, "anna")
    client = WebClient(instance)
    await client.sign_in("beheer")
    yield client
    await client.close()


async def test_only_administrators_get_in(instance: Instance, admin: WebClient) -> None:
    for path in PAGES:
        status, html = await admin.get(path)
        assert status == 200, path
        assert html.count("<h1>") == 1 and 'aria-current="page"' in html
    anna = WebClient(instance)
    try:
        for path in PAGES:
            status, _ = await anna.get(path, allow_redirects=False)
            assert status == 303, path  # signed out: to the sign-in page
        await anna.sign_in("anna")
        for path in PAGES:
            status, html = await anna.get(path)
            assert status == 403 and "Not allowed" in html, path
        for path, data in (
            ("/admin/settings", {"instance_name": "X", "organisation_name": "Y"}),
            ("/admin/federation/mode", {"mode": "allowlist"}),
            ("/admin/users/anna/grant-admin", {}),
        ):
            status, _, _ = await anna.post(path, data, form_page="/")
            assert status == 403, path
        assert await value(instance, "SELECT count(*) FROM instance_settings") == 0
        assert not await value(
            instance,
            "SELECT is_admin FROM people JOIN actors ON id = actor_id WHERE username = 'anna'",
        )
    finally:
        await anna.close()


async def test_forms_need_the_csrf_token(instance: Instance, admin: WebClient) -> None:
    for path, data in (
        (
            "/admin/settings",
            {"instance_name": "X", "organisation_name": "Y", "registration": "open"},
        ),
        ("/admin/federation/mode", {"mode": "allowlist"}),
        ("/admin/users/anna/suspend", {}),
    ):
        async with admin.session.post(instance.url(path), data=data) as response:
            assert response.status == 403, path
    assert (await instance.runtime.policy.snapshot()).mode is FederationMode.OPEN


async def test_instance_settings(instance: Instance, admin: WebClient) -> None:
    fields = {
        "instance_name": "Samenwerken",
        "organisation_name": "Gemeente Utrecht",
        "registration": "approval",
    }
    status, html, url = await admin.post("/admin/settings", fields, form_page="/admin/settings")
    assert status == 200 and url == instance.url("/admin/settings")
    assert "The settings were saved." in html and "Gemeente Utrecht" in html
    assert '<option value="approval" selected>' in html
    assert (await instance.runtime.instance_settings.current()).instance_name == "Samenwerken"

    for field, bad in (("instance_name", "  "), ("registration", "everyone")):
        status, html, _ = await admin.post(
            "/admin/settings", {**fields, field: bad}, form_page="/admin/settings"
        )
        assert status == 422
        assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
        assert 'role="alert"' in html


async def test_federation_policy(instance: Instance, admin: WebClient) -> None:
    status, html, _ = await admin.post(
        "/admin/federation/mode", {"mode": "allowlist"}, form_page="/admin/federation"
    )
    assert status == 200 and "The federation mode was saved." in html
    assert (await instance.runtime.policy.snapshot()).mode is FederationMode.ALLOWLIST
    status, html, _ = await admin.post(
        "/admin/federation/domains",
        {"domain": "Gemeente.Example:443", "list": "allow"},
        form_page="/admin/federation",
    )
    assert status == 200 and "gemeente.example was added." in html
    assert await instance.runtime.policy.allows("gemeente.example")
    assert "web:beheer" in html  # who listed it

    status, html, _ = await admin.post(
        "/admin/federation/domains",
        {"domain": "not a domain/", "list": "allow"},
        form_page="/admin/federation",
    )
    assert status == 422 and 'id="domain-error"' in html and "host name" in html
    status, html, _ = await admin.post(
        "/admin/federation/mode", {"mode": "closed"}, form_page="/admin/federation"
    )
    assert status == 422 and 'id="mode-error"' in html

    status, html, _ = await admin.post(
        "/admin/federation/domains/remove",
        {"domain": "gemeente.example"},
        form_page="/admin/federation",
    )
    assert status == 200 and "gemeente.example was removed." in html
    assert not await instance.runtime.policy.allows("gemeente.example")


async def test_reports(instance: Instance, admin: WebClient) -> None:
    anna = instance.url("/users/anna")
    post = await instance.publish(
        "anna", {"type": "Note", "content": "<p>Koop nu!</p>", "to": [anna + "/followers"]}
    )
    reporter = await value(instance, "SELECT id FROM actors WHERE username = 'beheer'")
    await value(
        instance,
        """INSERT INTO reports (activity_uri, reporter_id, object_uris, content)
           VALUES ('https://b.example/flags/1', $1, $2, 'Spam')""",
        reporter,
        [post["object"]["id"], anna, "https://gone.example/objects/9"],
    )
    status, html = await admin.get("/admin/reports")
    assert status == 200
    for text in ("Report 1", "Spam", "Koop nu!", "Account", "Not known here", "manage account"):
        assert text in html, text
    status, html, _ = await admin.post("/admin/reports/1/resolve", {}, form_page="/admin/reports")
    assert status == 200 and "No open reports." in html
    status, html = await admin.get("/admin/reports?state=resolved")
    assert "Report 1" in html and "Handled on" in html
    status, _, _ = await admin.post("/admin/reports/1/resolve", {}, form_page="/admin/reports")
    assert status == 404


async def test_accounts(start_instance: Any) -> None:
    instance = await start_instance("a", FEDERATIE_REGISTRATION="approval")
    await instance.runtime.actors.create_person("beheer", PASSWORD, admin=True)
    await people(instance, "anna")
    for name in ("piet", "kees"):
        await instance.runtime.people.sign_up(name, PASSWORD, None)
    web = WebClient(instance)
    try:
        await web.sign_in("beheer")
        status, html = await web.get("/admin/users?status=pending")
        assert status == 200 and "@piet" in html and "@kees" in html and "@anna" not in html

        status, html, _ = await web.post("/admin/users/piet/approve", {}, form_page="/admin")
        assert status == 200 and "piet can now sign in." in html
        status, html, _ = await web.post("/admin/users/kees/refuse", {}, form_page="/admin")
        assert status == 200 and "The sign-up of kees was refused." in html
        assert await value(instance, "SELECT count(*) FROM actors WHERE username = 'kees'") == 0
        piet = WebClient(instance)
        try:
            await piet.sign_in("piet")
        finally:
            await piet.close()

        status, html, _ = await web.post("/admin/users/anna/suspend", {}, form_page="/admin")
        assert status == 200 and "anna is suspended." in html
        status, _ = await web.get("/users/anna")
        assert status == 404
        status, html, _ = await web.post("/admin/users/anna/unsuspend", {}, form_page="/admin")
        assert "The suspension of anna was lifted." in html
        status, html, _ = await web.post("/admin/users/anna/grant-admin", {}, form_page="/admin")
        assert "anna is now an administrator." in html
        assert await value(
            instance,
            "SELECT is_admin FROM people JOIN actors ON id = actor_id WHERE username = 'anna'",
        )
        # Not oneself, and not what does not exist.
        for action in ("suspend", "revoke-admin"):
            status, html, _ = await web.post(f"/admin/users/beheer/{action}", {}, form_page="/")
            assert status == 409 and "You cannot do this to your own account." in html
            assert 'role="alert"' in html
        status, html, _ = await web.post("/admin/users/piet/approve", {}, form_page="/")
        assert status == 404 and "There is no such account." in html
        status, _, _ = await web.post("/admin/users/anna/explode", {}, form_page="/")
        assert status == 404

        status, html = await web.get("/admin/users?q=ann")
        assert "@anna" in html and "@piet" not in html
    finally:
        await web.close()


async def test_dashboard(instance: Instance, admin: WebClient) -> None:
    async with instance.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO remote_hosts (host, failures, first_failure_at, last_failure_at,
                                         retry_at, unreachable_since)
               VALUES ('down.example', 7, now() - interval '2 days', now(),
                       now() + interval '1 hour', now() - interval '1 day')"""
        )
        await conn.execute(
            """INSERT INTO jobs (kind, payload, queue, state, attempts, last_error, died_at)
               VALUES ('deliver.host', '{"host": "down.example"}', 'delivery', 'dead', 20,
                       'network: connection refused', now()),
                      ('fanout', '{"activity_id": 1}', 'delivery', 'queued', 0, NULL, NULL)"""
        )
    status, html = await admin.get("/admin")
    assert status == 200
    for text in (
        f"Federatie {__version__}",
        "down.example",
        "Unreachable for more than a day",
        "network: connection refused",
        "given up",
        "fanout",
        "in use",
    ):
        assert text in html, text
