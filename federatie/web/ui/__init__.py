"""The web interface: server-rendered pages for people, in Dutch and English.

`register(app)` installs the translations, the context every template gets (who is signed in,
the instance's name, the CSRF token) and the page blueprints. Every page blueprint is made by
`session.ui_blueprint`, which enforces the CSRF check on unsafe requests.
"""

from __future__ import annotations

from quart import Quart, Response

from federatie.web.ui import accounts, admin, blogs, files, groups, home, i18n, profiles, remote
from federatie.web.ui.pages import page_context
from federatie.web.ui.session import csrf_token, remember_csrf_token

BLUEPRINTS = (accounts, groups, remote, blogs, files, profiles, home, admin)


async def protect_pages(response: Response) -> Response:
    """Headers for every HTML page: no framing by other sites (clickjacking on forms such as
    OAuth consent, RFC 6819 4.4.1.9), no MIME sniffing, no full URLs leaked to other sites."""
    if response.mimetype == "text/html":
        # A route with a stricter policy of its own (served files: a sandbox) keeps it.
        for name, value in (
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", "frame-ancestors 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
        ):
            response.headers.setdefault(name, value)
    return response


def register(app: Quart) -> None:
    i18n.install(app.jinja_env)
    app.jinja_env.globals["csrf_token"] = csrf_token  # for imported form macros too
    app.context_processor(page_context)
    app.after_request(remember_csrf_token)
    app.after_request(protect_pages)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
