"""The administration pages (administrators only): the operator's dashboard, instance
settings, the federation policy, reports received, and accounts."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from quart import Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.config import FederationMode, RegistrationMode
from federatie.domain.policy import DomainList
from federatie.errors import Conflict, NotFound, Unprocessable
from federatie.runtime import current_runtime
from federatie.services.admin import REPORTS_PAGE, USERS_PAGE, AdminService
from federatie.storage.admin import ReportState, UserFilter
from federatie.web.ui.i18n import gettext
from federatie.web.ui.pages import redirect_with_notice, render_page
from federatie.web.ui.session import require_admin, ui_blueprint

blueprint = ui_blueprint("admin", __name__)

_SETTINGS = ("instance_name", "organisation_name", "registration")
_USER_FILTERS = ("all", "pending", "suspended", "admins")
_USER_ACTIONS = ("approve", "refuse", "suspend", "unsuspend", "grant-admin", "revoke-admin")


def _service() -> AdminService:
    return AdminService(current_runtime())


# ---------------------------------------------------------------------------- dashboard


@blueprint.get("/admin")
async def dashboard() -> Response:
    await require_admin()
    data = await _service().dashboard()
    return await render_page("admin/dashboard.html", active="dashboard", data=data)


# ---------------------------------------------------------------------------- settings


@blueprint.get("/admin/settings")
async def settings_form() -> Response:
    await require_admin()
    current = await current_runtime().instance_settings.current()
    values = {
        "instance_name": current.instance_name,
        "organisation_name": current.organisation_name,
        "registration": current.registration.value,
    }
    return await _settings_page(values)


@blueprint.post("/admin/settings")
async def save_settings() -> Response | WerkzeugResponse:
    await require_admin()
    form = await request.form
    values = {key: form.get(key, "") for key in _SETTINGS}
    try:
        await current_runtime().instance_settings.update(**values)
    except Unprocessable as exc:
        field = exc.message.split(":", 1)[0]
        if field == "registration":
            message = gettext("Choose how people get an account.")
        else:
            message = gettext("Enter between 1 and 100 characters.")
        return await _settings_page(values, {field: message}, 422)
    return redirect_with_notice("/admin/settings", gettext("The settings were saved."))


async def _settings_page(
    values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    modes = [
        (RegistrationMode.CLOSED.value, gettext("Closed: administrators create accounts")),
        (RegistrationMode.APPROVAL.value, gettext("Sign-up, approved by an administrator")),
        (RegistrationMode.OPEN.value, gettext("Open: anyone may sign up")),
    ]
    return await render_page(
        "admin/settings.html",
        status=status,
        active="settings",
        values=values,
        errors=errors or {},
        registration_modes=modes,
    )


# ---------------------------------------------------------------------------- federation


@blueprint.get("/admin/federation")
async def federation() -> Response:
    await require_admin()
    return await _federation_page()


@blueprint.post("/admin/federation/mode")
async def set_mode() -> Response | WerkzeugResponse:
    viewer = await require_admin()
    raw = (await request.form).get("mode", "")
    try:
        mode = FederationMode(raw)
    except ValueError:
        errors = {"mode": gettext("Choose open, blocklist or allowlist.")}
        return await _federation_page(errors=errors, status=422)
    await current_runtime().policy.set_mode(mode, by=f"web:{viewer.person.username}")
    return redirect_with_notice("/admin/federation", gettext("The federation mode was saved."))


@blueprint.post("/admin/federation/domains")
async def add_domain() -> Response | WerkzeugResponse:
    viewer = await require_admin()
    form = await request.form
    domain, listed = form.get("domain", ""), form.get("list", "")
    errors: dict[str, str] = {}
    if listed not in (DomainList.ALLOW.value, DomainList.BLOCK.value):
        errors["list"] = gettext("Choose the allowlist or the blocklist.")
    else:
        try:
            added = await current_runtime().policy.list_domain(
                domain, DomainList(listed), by=f"web:{viewer.person.username}"
            )
        except Unprocessable:
            errors["domain"] = gettext(
                "Enter a host name such as gemeente.example, with a port if needed."
            )
        else:
            return redirect_with_notice(
                "/admin/federation", gettext("%(domain)s was added.", domain=added)
            )
    return await _federation_page(
        errors=errors, values={"domain": domain, "list": listed}, status=422
    )


@blueprint.post("/admin/federation/domains/remove")
async def remove_domain() -> Response | WerkzeugResponse:
    viewer = await require_admin()
    domain = (await request.form).get("domain", "")
    try:
        removed = await current_runtime().policy.remove_domain(
            domain, by=f"web:{viewer.person.username}"
        )
    except (NotFound, Unprocessable):
        return redirect_with_notice("/admin/federation", gettext("That domain was not listed."))
    return redirect_with_notice(
        "/admin/federation", gettext("%(domain)s was removed.", domain=removed)
    )


async def _federation_page(
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    policy = current_runtime().policy
    snapshot = await policy.snapshot()
    modes = [
        (FederationMode.OPEN.value, gettext("Open: federate with every instance")),
        (FederationMode.BLOCKLIST.value, gettext("Blocklist: every instance but the blocked")),
        (FederationMode.ALLOWLIST.value, gettext("Allowlist: only the allowed instances")),
    ]
    lists = [
        (DomainList.ALLOW.value, gettext("Allowlist")),
        (DomainList.BLOCK.value, gettext("Blocklist")),
    ]
    return await render_page(
        "admin/federation.html",
        status=status,
        active="federation",
        mode=snapshot.mode.value,
        modes=modes,
        lists=lists,
        domains=await policy.domains(),
        errors=errors or {},
        values=values or {"domain": "", "list": DomainList.ALLOW.value},
    )


# ---------------------------------------------------------------------------- reports


@blueprint.get("/admin/reports")
async def reports() -> Response:
    await require_admin()
    state: ReportState = "resolved" if request.args.get("state") == "resolved" else "open"
    before = _int_arg("before")
    found = await _service().reports(state, before)
    more = None
    if len(found) == REPORTS_PAGE:
        more = f"/admin/reports?state={state}&before={found[-1].id}"
    return await render_page(
        "admin/reports.html", active="reports", state=state, reports=found, more=more
    )


@blueprint.post("/admin/reports/<int:report_id>/resolve")
async def resolve_report(report_id: int) -> WerkzeugResponse:
    viewer = await require_admin()
    await _service().resolve(viewer.person, report_id)
    return redirect_with_notice("/admin/reports", gettext("The report was marked as handled."))


# ---------------------------------------------------------------------------- accounts


@blueprint.get("/admin/users")
async def users() -> Response:
    await require_admin()
    return await _users_page()


@blueprint.post("/admin/users/<name>/<action>")
async def user_action(name: str, action: str) -> Response | WerkzeugResponse:
    viewer = await require_admin()
    if action not in _USER_ACTIONS:
        raise NotFound("no such action")
    service = _service()
    admin = viewer.person
    try:
        if action == "approve":
            await service.approve(admin, name)
            notice = gettext("%(name)s can now sign in.", name=name)
        elif action == "refuse":
            await service.refuse(admin, name)
            notice = gettext("The sign-up of %(name)s was refused.", name=name)
        elif action == "suspend":
            await service.suspend(admin, name)
            notice = gettext("%(name)s is suspended.", name=name)
        elif action == "unsuspend":
            await service.unsuspend(admin, name)
            notice = gettext("The suspension of %(name)s was lifted.", name=name)
        else:
            grant = action == "grant-admin"
            await service.set_admin(admin, name, is_admin=grant)
            notice = (
                gettext("%(name)s is now an administrator.", name=name)
                if grant
                else gettext("%(name)s is no longer an administrator.", name=name)
            )
    except Conflict as exc:
        if "themselves" in exc.message:
            problem = gettext("You cannot do this to your own account.")
        else:
            problem = gettext("A deleted account cannot be restored.")
        return await _users_page(problem=problem, status=409)
    except NotFound:
        return await _users_page(problem=gettext("There is no such account."), status=404)
    back = (await request.form).get("back", "")
    target = back if back.startswith("/admin/users") else "/admin/users"
    return redirect_with_notice(target, notice)


async def _users_page(problem: str | None = None, status: int = 200) -> Response:
    args = request.args
    status_filter = cast(
        UserFilter, args.get("status") if args.get("status") in _USER_FILTERS else "all"
    )
    query = args.get("q", "").strip()[:100] or None
    accounts = await _service().accounts(status_filter, query, args.get("after") or None)
    more = None
    if len(accounts) == USERS_PAGE:
        more = "/admin/users?" + urlencode(
            {"status": status_filter, "q": query or "", "after": accounts[-1].username}
        )
    filters = [
        ("all", gettext("Everyone")),
        ("pending", gettext("Awaiting approval")),
        ("suspended", gettext("Suspended")),
        ("admins", gettext("Administrators")),
    ]
    return await render_page(
        "admin/users.html",
        status=status,
        active="users",
        accounts=accounts,
        status_filter=status_filter,
        filters=filters,
        query=query or "",
        more=more,
        problem=problem,
        back=request.full_path.rstrip("?") if request.method == "GET" else "/admin/users",
    )


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None
