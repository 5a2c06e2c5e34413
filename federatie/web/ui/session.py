"""Who is using the web pages, and proof that a form came from our own pages.

* The session cookie holds a random token; the database holds its SHA-256 (services.people).
  It is `HttpOnly`, `SameSite=Lax`, and `Secure` with the `__Host-` prefix outside
  development, so no other host or script can set or read it.
* CSRF: a double-submit token. Every visitor gets a random token in a cookie of its own; each
  form carries it in a hidden `csrf_token` field (or an `X-CSRF-Token` header for scripts) and
  an unsafe request must present the same value. A cross-site page can neither read the
  cookie nor set it (`__Host-`), so it cannot forge the field. Requests whose `Origin` or
  `Sec-Fetch-Site` say they come from another site are refused as well.

Every blueprint of the web pages is made by `ui_blueprint`, which checks the token before any
unsafe request runs; `current_viewer()` refuses to serve an unsafe request whose token was
not checked, so a route outside such a blueprint cannot act for a signed-in person by mistake.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from quart import Blueprint, Response, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.config import Config
from federatie.errors import Forbidden, Unauthorized
from federatie.runtime import current_runtime
from federatie.services.people import SESSION_LIFETIME, Viewer

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Unauthorized):
    """The page needs a signed-in person; browsers are sent to the sign-in page."""

    code = "sign_in_required"


def cookie_prefix(config: Config) -> str:
    """`__Host-` (Secure, whole host, no Domain) outside development, where http is allowed."""
    return "" if config.development else "__Host-"


def _secure() -> bool:
    return not current_runtime().config.development


def session_cookie_name() -> str:
    return cookie_prefix(current_runtime().config) + "federatie-session"


def csrf_cookie_name() -> str:
    return cookie_prefix(current_runtime().config) + "federatie-csrf"


def set_cookie(response: Response | WerkzeugResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


# --------------------------------------------------------------------------- CSRF


def csrf_token() -> str:
    """The visitor's CSRF token (made on first use; `remember_csrf_token` sets the cookie)."""
    if "csrf_token" not in g:
        existing = request.cookies.get(csrf_cookie_name(), "")
        g.csrf_token = existing if len(existing) >= 32 else secrets.token_urlsafe(32)
    token: str = g.csrf_token
    return token


async def remember_csrf_token(response: Response) -> Response:
    """After any page that used the token: keep it in the visitor's cookie. (Async: Quart
    runs a plain function hook in a thread, a hop of every request through the executor.)"""
    token = g.get("csrf_token")
    if token and request.cookies.get(csrf_cookie_name()) != token:
        set_cookie(response, csrf_cookie_name(), token, int(SESSION_LIFETIME.total_seconds()))
    return response


def _same_site() -> bool:
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    expected = urlsplit(current_runtime().config.base_url)
    given = urlsplit(origin)
    return (given.scheme, given.netloc) == (expected.scheme, expected.netloc)


def verify_csrf(submitted: str | None) -> None:
    """Check a form's token against the cookie; Forbidden when it does not match."""
    cookie = request.cookies.get(csrf_cookie_name(), "")
    if not _same_site():
        raise Forbidden("this form was sent from another site")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise Forbidden("the form has expired; reload the page and try again")
    g.csrf_checked = True


async def _check_unsafe_request() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    content_type = request.mimetype
    if submitted is None and content_type == "application/x-www-form-urlencoded":
        submitted = (await request.form).get(CSRF_FIELD)
    if submitted is None and content_type == "multipart/form-data":
        # An upload: the route streams the body and calls verify_csrf with the form's field.
        return
    verify_csrf(submitted)


def ui_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of web pages: every unsafe request must carry the CSRF token."""
    blueprint = Blueprint(name, import_name)
    blueprint.before_request(_check_unsafe_request)
    return blueprint


# --------------------------------------------------------------------------- session


async def current_viewer() -> Viewer | None:
    """The signed-in person, or None. Cached for the request."""
    if request.method in UNSAFE_METHODS and not g.get("csrf_checked"):
        raise Forbidden("the form's CSRF token was not checked")
    if "viewer" not in g:
        token = request.cookies.get(session_cookie_name())
        g.viewer = await current_runtime().people.viewer(token) if token else None
    viewer: Viewer | None = g.viewer
    return viewer


async def require_viewer() -> Viewer:
    viewer = await current_viewer()
    if viewer is None:
        raise SignInRequired("sign in to see this page")
    return viewer


async def require_admin() -> Viewer:
    viewer = await require_viewer()
    if not viewer.is_admin:
        raise Forbidden("only administrators may do this")
    return viewer


def start_session(response: Response | WerkzeugResponse, token: str) -> None:
    set_cookie(response, session_cookie_name(), token, int(SESSION_LIFETIME.total_seconds()))
    # A new CSRF token with the new session, so a token planted before sign-in is worthless.
    set_cookie(
        response,
        csrf_cookie_name(),
        secrets.token_urlsafe(32),
        int(SESSION_LIFETIME.total_seconds()),
    )


def end_session(response: Response | WerkzeugResponse) -> None:
    response.delete_cookie(session_cookie_name(), path="/", secure=_secure(), samesite="Lax")
