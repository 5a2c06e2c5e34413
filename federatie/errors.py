"""Typed errors. Every error a request can meet is one of these; `web.errors` maps them to HTTP.

Code below the web layer raises these and never builds HTTP responses itself, so that the
status code for a failure is decided in exactly one place.
"""

from __future__ import annotations


class FederatieError(Exception):
    """Base class: `status` is the HTTP status the web layer answers with, `code` a stable slug."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(FederatieError):
    """The request is malformed (bad JSON, bad parameter)."""

    status = 400
    code = "bad_request"


class Unauthorized(FederatieError):
    """No valid credentials: missing or bad HTTP signature, bad token."""

    status = 401
    code = "unauthorized"


class SignatureError(Unauthorized):
    """An HTTP signature is missing, malformed, stale, or does not verify."""

    code = "bad_signature"


class Forbidden(FederatieError):
    """Authenticated, but not allowed: blocked domain, not a member, wrong owner."""

    status = 403
    code = "forbidden"


class NotFound(FederatieError):
    """No such actor, object or route."""

    status = 404
    code = "not_found"


class Gone(FederatieError):
    """The object existed and was deleted (a Tombstone)."""

    status = 410
    code = "gone"


class Conflict(FederatieError):
    """The request clashes with existing state (name taken, duplicate)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(FederatieError):
    """The body exceeds a configured size limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(FederatieError):
    """The body's content type is not one we accept here."""

    status = 415
    code = "unsupported_media_type"


class Unprocessable(FederatieError):
    """Well-formed, but semantically invalid (an activity missing its actor, a bad name)."""

    status = 422
    code = "unprocessable"


class TooManyRequests(FederatieError):
    """A rate limit is reached (failed sign-ins, client API calls); try again later."""

    status = 429
    code = "rate_limited"


class ConfigError(FederatieError):
    """Invalid configuration; the message names the setting. Stops start-up."""

    code = "bad_configuration"


class FetchError(FederatieError):
    """An outbound request failed: time-out, too large, bad status, bad content type."""

    status = 502
    code = "fetch_failed"


class FetchRefused(FetchError):
    """An outbound request was refused before sending: private address, policy, scheme."""

    code = "fetch_refused"
