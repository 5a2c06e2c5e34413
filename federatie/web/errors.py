"""The one place where errors become HTTP responses.

Body shape `{"error": "..."}` is Mastodon's, which fediverse clients already understand.
"""

from __future__ import annotations

import logging

from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException

from federatie.errors import FederatieError
from federatie.web.responses import json_response

log = logging.getLogger(__name__)


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(FederatieError)
    async def federatie_error(error: FederatieError) -> Response:
        if error.status >= 500:
            log.error("request.failed", extra={"path": request.path, "error": error.message})
        g.error_code = error.code  # for the metrics of refused inbox activities
        return json_response({"error": error.message, "code": error.code}, error.status)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return json_response({"error": error.description or error.name}, status)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("request.crashed", extra={"path": request.path})
        return json_response({"error": "internal server error"}, 500)
