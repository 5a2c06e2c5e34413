"""OAuth 2 endpoints for apps: registration, token, revocation, server metadata.

The protocol is `services.oauth` (Authlib); the consent page is `authorize.py`. These routes
take no cookies, so they need no CSRF token: apps authenticate with their client credentials.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from federatie.domain.scopes import SCOPES
from federatie.errors import Unauthorized
from federatie.runtime import current_runtime
from federatie.services.oauth import HttpAnswer, HttpRequest, OAuthService
from federatie.storage.oauth import OAuthApp
from federatie.web.mastodon.errors import validation_failed
from federatie.web.mastodon.params import params, strings, text
from federatie.web.responses import json_response

blueprint = Blueprint("mastodon_oauth", __name__)


def oauth_service() -> OAuthService:
    return OAuthService(current_runtime().pool)


async def oauth_request() -> HttpRequest:
    """This request as the protocol sees it: at our public URL, query and body merged."""
    values = await params()
    flat = {key: _flat(key, value) for key, value in values.items()}
    repeated = {key: request.args.getlist(key) for key in request.args}
    if request.mimetype == "application/x-www-form-urlencoded":
        form = await request.form
        for key in form:
            repeated[key] = repeated.get(key, []) + form.getlist(key)
    return HttpRequest(
        method=request.method,
        url=current_runtime().config.base_url + request.path,
        headers={name.title(): value for name, value in request.headers.items()},
        params=flat,
        repeated=repeated,
    )


def _flat(key: str, value: object) -> str:
    """A parameter as the text the protocol expects (JSON bodies may carry other types)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(value)
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise validation_failed(f"{key} must be a string")


def answer(result: HttpAnswer) -> Response:
    response = json_response(result.body, result.status)
    for name, value in result.headers:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def application_entity(app: OAuthApp, client_secret: str | None = None) -> dict[str, object]:
    """Mastodon's Application entity; the secret only in the answer to its registration."""
    entity: dict[str, object] = {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split(),
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": app.redirect_uris,
        "vapid_key": "",
    }
    if client_secret is not None:
        entity["client_id"] = app.client_id
        entity["client_secret"] = client_secret
        entity["client_secret_expires_at"] = 0
    return entity


@blueprint.post("/api/v1/apps")
async def create_app() -> Response:
    values = await params()
    name = text(values, "client_name", required=True) or ""
    listed = strings(values, "redirect_uris")
    # One string may hold several URIs, one a line (Mastodon's form field).
    uris = [uri.strip() for item in listed for uri in item.splitlines() if uri.strip()]
    app, secret = await oauth_service().register_app(
        name=name,
        redirect_uris=uris,
        scopes=text(values, "scopes") or "",
        website=text(values, "website"),
    )
    return json_response(application_entity(app, secret))


@blueprint.get("/api/v1/apps/verify_credentials")
async def verify_app() -> Response:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    app = None
    if scheme.lower() == "bearer" and token.strip():
        app = await oauth_service().app_of_token(token.strip())
    if app is None:
        raise Unauthorized("The access token is invalid")
    return json_response(application_entity(app))


@blueprint.post("/oauth/token")
async def token() -> Response:
    response = answer(await oauth_service().token(await oauth_request()))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/oauth/revoke")
async def revoke() -> Response:
    return answer(await oauth_service().revoke(await oauth_request()))


@blueprint.get("/.well-known/oauth-authorization-server")
async def metadata() -> Response:
    """RFC 8414 server metadata, with the fields Mastodon adds (app registration)."""
    base = current_runtime().config.base_url
    return json_response(
        {
            "issuer": base + "/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": base + "/oauth/authorize",
            "token_endpoint": base + "/oauth/token",
            "revocation_endpoint": base + "/oauth/revoke",
            "app_registration_endpoint": base + "/api/v1/apps",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
        }
    )
