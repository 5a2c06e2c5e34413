"""OAuth 2 for the Mastodon client API, on Authlib's server (RFC 6749 grants, RFC 7636 PKCE,
RFC 7009 revocation).

Why Authlib: it is the well-kept Python implementation of the server side, so the protocol's
checks (client authentication, redirect URIs, single-use codes bound to their redirect URI,
PKCE, refresh) are not ours to get wrong. It has no Quart integration and its grants are
synchronous, so this module is the thin adapter: each protocol step runs in a worker thread,
and the storage hooks Authlib calls there run our asyncpg queries back on the event loop
(`run_coroutine_threadsafe`). Token requests are rare (once per app log-in), so a thread each
costs nothing that matters.

Mastodon's behaviour, which apps rely on: access tokens do not expire (most apps cannot
refresh), scopes must lie within those the app registered (`read` when none are asked for),
`urn:ietf:wg:oauth:2.0:oob` shows the code to the person instead of redirecting. A refresh
token is issued as well; using it rotates both tokens. PKCE accepts S256 only, and is
required of apps that do not send their client secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from federatie.domain.scopes import DEFAULT_SCOPE, SCOPES, unknown_scopes
from federatie.domain.scopes import grants as scope_grants
from federatie.errors import Unprocessable
from federatie.storage import oauth as sql
from federatie.storage.pool import Pool

OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
CODE_LIFETIME = timedelta(minutes=10)
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
MAX_REDIRECT_URIS = 10

T = TypeVar("T")


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class HttpRequest:
    """What the protocol needs of an HTTP request: query and form merged, as Mastodon does."""

    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str]
    repeated: Mapping[str, list[str]]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return dict(self.headers).get("Location")


@dataclass(frozen=True)
class Consent:
    """A valid authorization request, for the consent page."""

    app: sql.OAuthApp
    scopes: list[str]
    redirect_uri: str


class OAuthProblem(Exception):
    """An authorization request that cannot even be shown to the person (unknown app, bad
    redirect URI): the page tells them; there is nowhere safe to send them back to."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


# --------------------------------------------------------------------------- Authlib models


@dataclass(frozen=True)
class _Person:
    id: int


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, app: sql.OAuthApp) -> None:
        self.app = app

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.app.redirect_uris[0] if len(self.app.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        wanted = (scope or DEFAULT_SCOPE).split()
        registered = self.app.scopes.split()
        if all(scope_grants(registered, one) for one in wanted):
            return " ".join(wanted)
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret), self.app.client_secret_sha256)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Every app may also act as a public client; each grant lists the methods it takes.
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class _Code:
    def __init__(self, code: sql.AuthorizationCode) -> None:
        self.person_id = code.person_id
        self.code_challenge = code.code_challenge
        self.code_challenge_method = code.code_challenge_method
        self._redirect_uri = code.redirect_uri
        self._scopes = code.scopes

    def get_redirect_uri(self) -> str:
        return self._redirect_uri

    def get_scope(self) -> str:
        return self._scopes


class _Token(TokenMixin):  # type: ignore[misc]
    def __init__(self, token: sql.IssuedToken) -> None:
        self.token = token

    def check_client(self, client: _Client) -> bool:
        return self.token.app_id == client.app.id

    def get_scope(self) -> str:
        return self.token.scopes

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, http: HttpRequest) -> None:
        super().__init__(http.method, http.url, headers=http.headers)
        payload = BasicOAuth2Payload(dict(http.params))
        payload._datalist = {key: list(values) for key, values in http.repeated.items()}
        self.payload = payload
        self._params = dict(http.params)

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return self._params


# --------------------------------------------------------------------------- grants


class _OnlyS256(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (as Mastodon): `plain` would send the secret in the clear."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib's class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    server: _Server

    def save_authorization_code(self, code: str, request: _Request) -> None:
        data = request.payload.data
        self.server.wait(
            self.server.store_code(
                code_sha256=digest(code),
                app_id=request.client.app.id,
                person_id=request.user.id,
                redirect_uri=request.payload.redirect_uri or "",
                scopes=request.scope,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )
        )

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        found = self.server.wait(self.server.take_code(digest(code), client.app.id))
        return _Code(found) if found else None

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing left to do: `query_authorization_code` took (deleted) the code already."""

    def authenticate_user(self, authorization_code: _Code) -> _Person:
        return _Person(authorization_code.person_id)


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_requested_scope(self) -> None:
        super().validate_requested_scope()
        if self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError()


class _RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: _Server

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        found = self.server.wait(self.server.live_token(refresh_sha256=digest(refresh_token)))
        return _Token(found) if found else None

    def authenticate_user(self, refresh_token: _Token) -> _Person | None:
        person_id = refresh_token.token.person_id
        return _Person(person_id) if person_id is not None else None

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        self.server.wait(self.server.revoke(refresh_token.token.id))


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    server: _Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        hashed = digest(token_string)
        found = self.server.wait(
            self.server.live_token(access_sha256=hashed, refresh_sha256=hashed)
        )
        return _Token(found) if found else None

    def revoke_token(self, token: _Token, request: _Request) -> None:
        self.server.wait(self.server.revoke(token.token.id))


# --------------------------------------------------------------------------- the server


class _Server(AuthorizationServer):  # type: ignore[misc]
    """Authlib's server for one request, bound to the event loop that owns the pool."""

    def __init__(self, pool: Pool, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._pool = pool
        self._loop = loop
        self.register_grant(_AuthorizationCodeGrant, [_OnlyS256(required=True)])
        self.register_grant(_ClientCredentialsGrant)
        self.register_grant(_RefreshTokenGrant)
        self.register_endpoint(_Revocation)
        self.register_token_generator("default", self._new_token)

    def wait(self, coroutine: Awaitable[T]) -> T:
        """Run a storage coroutine on the event loop from Authlib's worker thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()  # type: ignore[arg-type]

    # Authlib's hooks -------------------------------------------------------------

    def query_client(self, client_id: str) -> _Client | None:
        app = self.wait(self._select_app(client_id))
        return _Client(app) if app else None

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        refresh = token.get("refresh_token")
        user = request.user
        self.wait(
            self._insert_token(
                token_sha256=digest(token["access_token"]),
                refresh_sha256=digest(refresh) if refresh else None,
                app_id=request.client.app.id,
                person_id=user.id if user is not None else None,
                scopes=token["scope"],
            )
        )

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> HttpAnswer:
        return HttpAnswer(status, body if isinstance(body, dict) else {}, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's framework integrations emit signals here; nothing listens to them."""

    @staticmethod
    def _new_token(
        grant_type: str,
        client: _Client,
        user: _Person | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "scope": scope or DEFAULT_SCOPE,
            "created_at": int(time.time()),
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    # storage, on the event loop ----------------------------------------------------

    async def _select_app(self, client_id: str) -> sql.OAuthApp | None:
        async with self._pool.acquire() as conn:
            return await sql.select_app(conn, client_id)

    async def _insert_token(self, **values: Any) -> None:
        async with self._pool.acquire() as conn:
            await sql.insert_app_token(conn, **values)

    async def store_code(self, **values: Any) -> None:
        async with self._pool.acquire() as conn:
            await sql.insert_code(conn, lifetime=CODE_LIFETIME, **values)

    async def take_code(self, code_sha256: bytes, app_id: int) -> sql.AuthorizationCode | None:
        async with self._pool.acquire() as conn:
            return await sql.take_code(conn, code_sha256, app_id)

    async def live_token(
        self, *, access_sha256: bytes | None = None, refresh_sha256: bytes | None = None
    ) -> sql.IssuedToken | None:
        async with self._pool.acquire() as conn:
            return await sql.select_live_token(
                conn, access_sha256=access_sha256, refresh_sha256=refresh_sha256
            )

    async def revoke(self, token_id: int) -> None:
        async with self._pool.acquire() as conn:
            await sql.revoke_token(conn, token_id)


# --------------------------------------------------------------------------- the service


class OAuthService:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def _in_thread(self, step: Callable[[_Server], T]) -> T:
        server = _Server(self._pool, asyncio.get_running_loop())
        return await asyncio.to_thread(step, server)

    async def register_app(
        self, *, name: str, redirect_uris: list[str], scopes: str, website: str | None
    ) -> tuple[sql.OAuthApp, str]:
        """A new app and its client secret (which only its digest keeps from now on)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise Unprocessable("Validation failed: Application name can't be blank")
        if not redirect_uris or len(redirect_uris) > MAX_REDIRECT_URIS:
            raise Unprocessable("Validation failed: Redirect URI must be one to ten URIs")
        for uri in redirect_uris:
            if uri != OOB_REDIRECT and not _absolute_uri(uri):
                raise Unprocessable("Validation failed: Redirect URI must be an absolute URI.")
        wanted = scopes.split() or [DEFAULT_SCOPE]
        if unknown := unknown_scopes(wanted):
            raise Unprocessable(f"Validation failed: Scopes are invalid ({' '.join(unknown)})")
        if website is not None and website and not website.startswith(("https://", "http://")):
            raise Unprocessable("Validation failed: Website is not a http(s) URL")
        client_secret = secrets.token_urlsafe(32)
        async with self._pool.acquire() as conn:
            app = await sql.insert_app(
                conn,
                client_id=secrets.token_urlsafe(32),
                client_secret_sha256=digest(client_secret),
                name=name,
                website=website or None,
                redirect_uris=list(dict.fromkeys(redirect_uris)),
                scopes=" ".join(dict.fromkeys(wanted)),
            )
        return app, client_secret

    async def app_of_token(self, token: str) -> sql.OAuthApp | None:
        async with self._pool.acquire() as conn:
            return await sql.select_token_app(conn, digest(token))

    async def token(self, http: HttpRequest) -> HttpAnswer:
        """POST /oauth/token: authorization_code, client_credentials, refresh_token."""
        return await self._in_thread(lambda server: server.create_token_response(_Request(http)))

    async def revoke(self, http: HttpRequest) -> HttpAnswer:
        """POST /oauth/revoke (RFC 7009): always 200 for a token that is unknown already."""
        return await self._in_thread(
            lambda server: server.create_endpoint_response("revocation", _Request(http))
        )

    async def consent(self, http: HttpRequest) -> Consent:
        """Check an authorization request before the consent page shows it."""

        def step(server: _Server) -> Consent:
            try:
                grant = server.get_consent_grant(_Request(http), end_user=None)
            except OAuth2Error as error:
                raise OAuthProblem(error.error, error.description or error.error) from error
            return Consent(grant.client.app, grant.request.scope.split(), grant.redirect_uri)

        return await self._in_thread(step)

    async def decide(self, http: HttpRequest, person_id: int | None) -> HttpAnswer:
        """The person approved (`person_id`) or denied (None) the request: a redirect to the app
        with a code or `access_denied` (for the out-of-band URI, the Location carries it)."""

        def step(server: _Server) -> HttpAnswer:
            request = _Request(http)
            try:
                grant = server.get_consent_grant(request, end_user=None)
            except OAuth2Error as error:
                raise OAuthProblem(error.error, error.description or error.error) from error
            user = _Person(person_id) if person_id is not None else None
            answer: HttpAnswer = server.create_authorization_response(
                request, grant_user=user, grant=grant
            )
            return answer

        return await self._in_thread(step)


def code_in(location: str) -> str | None:
    """The authorization code in a redirect Location (for the out-of-band page)."""
    values = parse_qs(urlsplit(location).query).get("code")
    return values[0] if values else None


def _absolute_uri(uri: str) -> bool:
    """An absolute URI without a fragment: https, http, or an app's own scheme (`myapp://`)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and not parts.fragment and (bool(parts.netloc) or ":" in uri)
