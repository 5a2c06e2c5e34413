"""Rendering web pages: the context every template gets, notices, safe redirects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from quart import Response, g, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.runtime import current_runtime
from federatie.web.public_cache import public_cache
from federatie.web.ui.i18n import current_locale
from federatie.web.ui.session import UNSAFE_METHODS, csrf_token, current_viewer, set_cookie

NOTICE_COOKIE = "federatie-notice"
MAX_NOTICE_LENGTH = 300


async def page_context() -> dict[str, Any]:
    """What base.html needs on every page: who is signed in, the instance, the language."""
    settings = await current_runtime().instance_settings.current()
    unchecked_form = request.method in UNSAFE_METHODS and not g.get("csrf_checked")
    viewer = g.get("viewer") if unchecked_form else await current_viewer()
    return {
        "viewer": viewer,
        "instance": settings,
        "lang": current_locale(),
        "notice": unquote(request.cookies.get(NOTICE_COOKIE, ""))[:MAX_NOTICE_LENGTH] or None,
        "current_path": request.full_path.rstrip("?"),
    }


async def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """An HTML response; `page_context` is added by the app's context processor."""
    html = await render_template(template, **context)
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    if request.cookies.get(NOTICE_COOKIE):
        response.delete_cookie(NOTICE_COOKIE, path="/")  # shown once
    return response


async def alike_for_visitors(render: Callable[[], Awaitable[Response]]) -> Response:
    """A page that is the same for everyone not signed in (per language) comes from the
    public cache for them; signed-in people (a session, or a bearer token some pages take)
    and a page carrying a notice are rendered."""
    if (
        request.cookies.get(NOTICE_COOKIE)
        or request.headers.get("Authorization")
        or await current_viewer() is not None
    ):
        return await render()
    key = ("page", request.path, request.query_string, current_locale())
    return await public_cache().answer(key, render, visitor_token=csrf_token())


def redirect_with_notice(location: str, notice: str | None = None) -> WerkzeugResponse:
    """Post/Redirect/Get, with a one-time message for the next page."""
    response = redirect(location, 303)
    if notice:
        set_cookie(response, NOTICE_COOKIE, quote(notice[:MAX_NOTICE_LENGTH]), 60)
    return response


def safe_next(target: str | None, default: str = "/home") -> str:
    """A local path to return to after a form; anything pointing elsewhere becomes `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target
