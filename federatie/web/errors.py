"""The one place where errors become HTTP responses.

Body shape `{"error": "..."}` is Mastodon's, which fediverse clients already understand.
Browsers asking for HTML get the same status with an error page instead, and a page that
needs a signed-in person sends them to the sign-in page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from quart import Quart, Response, g, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.errors import FederatieError
from federatie.web.responses import json_response, wants_html

log = logging.getLogger(__name__)


async def _error_response(status: int, message: str, code: str) -> Response:
    if wants_html():
        from federatie.web.ui.pages import render_page

        return await render_page("error.html", status=status, status_code=status, message=message)
    return json_response({"error": message, "code": code}, status)


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(FederatieError)
    async def federatie_error(error: FederatieError) -> Response | WerkzeugResponse:
        if error.status >= 500:
            log.error("request.failed", extra={"path": request.path, "error": error.message})
        g.error_code = error.code  # for the metrics of refused inbox activities
        if error.code == "sign_in_required" and wants_html():
            return redirect("/login?next=" + quote(request.full_path.rstrip("?")), 303)
        return await _error_response(error.status, error.message, error.code)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return await _error_response(status, error.description or error.name, "http_error")

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("request.crashed", extra={"path": request.path})
        return json_response({"error": "internal server error"}, 500)
