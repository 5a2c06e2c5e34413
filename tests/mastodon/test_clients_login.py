"""Real client libraries log in and work: Mastodon.py and toot (PyPI) and masto (npm) each
register an app, go through the authorization-code flow on our consent page, verify their
credentials, and search and resolve an account on a second real instance.

The Python clients are synchronous and run in threads (the instances serve on this event
loop); masto runs in node as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import toot.api
import toot.auth
from harness import Instance, people
from mastodon import Mastodon
from mastodon_support import OOB, REDIRECT, code_from, consent
from web.web_client import WebClient

JS = Path(__file__).parent / "js"
NODE_MODULES = Path(__file__).parents[1] / "node_modules"
SCOPES = ["read", "write", "follow"]


async def _approve(browser: WebClient, url: str) -> str:
    """Press Allow on the consent page at `url`; the code, from the redirect or the page."""
    instance = browser.instance
    status, location, _ = await consent(browser, url.removeprefix(instance.base_url))
    if status == 302:
        return code_from(location)
    start = location.index('id="code"')
    return location[start:].split('value="', 1)[1].split('"', 1)[0]


async def test_clients_log_in_and_resolve_a_remote_account(
    start_instance: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "bob")
    handle = f"bob@{b.domain}"
    browser = WebClient(a)
    await browser.sign_in("anna")
    try:
        # Mastodon.py: its own app registration, authorization URL and log-in.
        client_id, client_secret = await asyncio.to_thread(
            Mastodon.create_app,
            "Mastodon.py test",
            scopes=SCOPES,
            redirect_uris=REDIRECT,
            api_base_url=a.base_url,
        )
        masto_py = Mastodon(client_id, client_secret, api_base_url=a.base_url)
        url = await asyncio.to_thread(
            masto_py.auth_request_url,
            redirect_uris=REDIRECT,
            scopes=SCOPES,
            state="abc",
            allow_http=True,
        )
        code = await _approve(browser, url)
        await asyncio.to_thread(
            masto_py.log_in, code=code, redirect_uri=REDIRECT, scopes=SCOPES, allow_http=True
        )
        me = await asyncio.to_thread(masto_py.account_verify_credentials)
        assert me.username == "anna" and me.acct == "anna"
        found = await asyncio.to_thread(masto_py.search_v2, "@" + handle, resolve=True)
        assert [x.acct for x in found.accounts] == [handle]
        instance = await asyncio.to_thread(masto_py.instance)
        assert instance.domain == a.domain

        # toot: its instance check, app registration, out-of-band log-in.
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "toot"))
        toot_app = await asyncio.to_thread(toot.auth.get_or_create_app, a.base_url)
        code = await _approve(browser, toot.api.get_browser_login_url(toot_app))
        user = await asyncio.to_thread(toot.auth.login_auth_code, toot_app, code)
        assert user.username == "anna"
        response = await asyncio.to_thread(toot.api.search, toot_app, user, handle, resolve=True)
        assert [x["acct"] for x in response.json()["accounts"]] == [handle]

        # masto (npm).
        registered = await _node("register", a.base_url)
        authorize = (
            f"/oauth/authorize?response_type=code&client_id={registered['clientId']}"
            f"&redirect_uri={OOB}&scope=read+write+follow"
        )
        code = await _approve(browser, authorize)
    finally:
        await browser.close()
    result = await _node(
        "login",
        a.base_url,
        registered["clientId"],
        registered["clientSecret"],
        code,
        OOB,
        "@" + handle,
    )
    assert result["me"]["username"] == "anna"
    assert [x["acct"] for x in result["found"]["accounts"]] == [handle]
    assert result["instance"] == a.domain


async def _node(*args: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(JS / "login.mjs"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"NODE_PATH": str(NODE_MODULES), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        cwd=str(NODE_MODULES.parent),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result
