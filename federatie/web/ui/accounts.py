"""Signing up, in and out, changing one's password, and choosing the language."""

from __future__ import annotations

from quart import Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.config import RegistrationMode
from federatie.errors import Conflict, Forbidden, TooManyRequests, Unprocessable
from federatie.runtime import current_runtime
from federatie.services.people import AwaitingApproval, SignInFailed
from federatie.web.ui.i18n import LANGUAGE_COOKIE, LOCALES, gettext
from federatie.web.ui.pages import redirect_with_notice, render_page, safe_next
from federatie.web.ui.session import (
    current_viewer,
    end_session,
    require_viewer,
    set_cookie,
    start_session,
    ui_blueprint,
)

blueprint = ui_blueprint("accounts", __name__)

ONE_YEAR = 365 * 24 * 3600


@blueprint.get("/")
async def landing() -> Response | WerkzeugResponse:
    if await current_viewer() is not None:
        return redirect_with_notice("/home")
    return await render_page("landing.html")


@blueprint.get("/login")
async def sign_in_form() -> Response:
    return await render_page("accounts/sign_in.html", next=safe_next(request.args.get("next")))


@blueprint.post("/login")
async def sign_in() -> Response | WerkzeugResponse:
    form = await request.form
    name, password = form.get("username", ""), form.get("password", "")
    target = safe_next(form.get("next"))
    errors: dict[str, str] = {}
    if not name.strip():
        errors["username"] = gettext("Enter your user name.")
    if not password:
        errors["password"] = gettext("Enter your password.")
    status = 422
    if not errors:
        runtime = current_runtime()
        try:
            token = await runtime.people.sign_in(
                name, password, request.remote_addr or "", request.headers.get("User-Agent")
            )
        except TooManyRequests:
            errors["username"] = gettext(
                "Too many failed attempts. Wait a quarter of an hour and try again."
            )
            status = 429
        except AwaitingApproval:
            errors["username"] = gettext("This account awaits approval by an administrator.")
            status = 403
        except SignInFailed:
            errors["username"] = gettext("Wrong user name or password.")
            status = 401
        else:
            response = redirect_with_notice(target, gettext("You are signed in."))
            start_session(response, token)
            return response
    return await render_page(
        "accounts/sign_in.html", status=status, errors=errors, username=name, next=target
    )


@blueprint.post("/logout")
async def sign_out() -> WerkzeugResponse:
    viewer = await current_viewer()
    if viewer is not None:
        await current_runtime().people.sign_out(viewer)
    response = redirect_with_notice("/", gettext("You are signed out."))
    end_session(response)
    return response


@blueprint.get("/signup")
async def sign_up_form() -> Response:
    settings = await current_runtime().instance_settings.current()
    status = 403 if settings.registration is RegistrationMode.CLOSED else 200
    return await render_page("accounts/sign_up.html", status=status, values={})


@blueprint.post("/signup")
async def sign_up() -> Response | WerkzeugResponse:
    form = await request.form
    values = {key: form.get(key, "") for key in ("username", "display_name")}
    password, repeated = form.get("password", ""), form.get("password_repeat", "")
    errors: dict[str, str] = {}
    if password != repeated:
        errors["password_repeat"] = gettext("The two passwords differ.")
    if not errors:
        try:
            _, approved = await current_runtime().people.sign_up(
                values["username"], password, values["display_name"].strip() or None
            )
        except Forbidden:
            return await render_page(
                "accounts/sign_up.html", status=403, values=values, errors={}
            )
        except Conflict:
            errors["username"] = gettext("This name is taken. Choose another.")
        except Unprocessable as exc:
            errors = _sign_up_errors(exc.message)
        else:
            if not approved:
                return redirect_with_notice(
                    "/", gettext("Your account was made. An administrator will approve it.")
                )
            token = await current_runtime().people.sign_in(
                values["username"], password, request.remote_addr or "", None
            )
            response = redirect_with_notice("/home", gettext("Welcome! Your account was made."))
            start_session(response, token)
            return response
    return await render_page("accounts/sign_up.html", status=422, values=values, errors=errors)


def _sign_up_errors(message: str) -> dict[str, str]:
    """The services' complaint about a new name or password, as the form's translated text."""
    if message.startswith("password"):
        return {"password": gettext("Use at least 10 characters.")}
    if "is reserved" in message:
        return {"username": gettext("This name is reserved. Choose another.")}
    return {"username": gettext("Use 1 to 30 letters, digits or underscores.")}


@blueprint.get("/settings/password")
async def password_form() -> Response:
    await require_viewer()
    return await render_page("accounts/password.html")


@blueprint.post("/settings/password")
async def change_password() -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    form = await request.form
    new = form.get("new_password", "")
    errors: dict[str, str] = {}
    if new != form.get("new_password_repeat", ""):
        errors["new_password_repeat"] = gettext("The two passwords differ.")
    else:
        try:
            await current_runtime().people.change_password(
                viewer, form.get("current_password", ""), new
            )
        except Unprocessable as exc:
            if exc.message.startswith("current_password"):
                errors["current_password"] = gettext("The current password is wrong.")
            else:
                errors["new_password"] = gettext("Use at least 10 characters.")
        else:
            return redirect_with_notice("/home", gettext("Your password was changed."))
    return await render_page("accounts/password.html", status=422, errors=errors)


@blueprint.post("/language")
async def choose_language() -> WerkzeugResponse:
    form = await request.form
    locale = form.get("lang", "")
    response = redirect_with_notice(safe_next(form.get("next"), "/"))
    if locale in LOCALES:
        set_cookie(response, LANGUAGE_COOKIE, locale, ONE_YEAR)
    return response
