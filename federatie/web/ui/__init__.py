"""The web interface: server-rendered pages for people, in Dutch and English.

`register(app)` installs the translations, the context every template gets (who is signed in,
the instance's name, the CSRF token) and the page blueprints. Every page blueprint is made by
`session.ui_blueprint`, which enforces the CSRF check on unsafe requests.
"""

from __future__ import annotations

from quart import Quart

from federatie.web.ui import accounts, i18n
from federatie.web.ui.pages import page_context
from federatie.web.ui.session import csrf_token, remember_csrf_token

BLUEPRINTS = (accounts,)


def register(app: Quart) -> None:
    i18n.install(app.jinja_env)
    app.jinja_env.globals["csrf_token"] = csrf_token  # for imported form macros too
    app.context_processor(page_context)
    app.after_request(remember_csrf_token)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
