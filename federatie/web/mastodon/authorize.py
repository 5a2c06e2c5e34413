"""The sign-in and consent page of the OAuth authorization-code flow (/oauth/authorize).

A web page like the others (a `ui_blueprint`: the decision is a form with the CSRF token), so
only the signed-in person can approve, and only by their own click on our page. Signed-out
browsers go through /login and come back here. The out-of-band redirect shows the code.
"""

from __future__ import annotations

from quart import Response, redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from federatie.services.oauth import OOB_REDIRECT, OAuthProblem, code_in
from federatie.web.mastodon.oauth import oauth_request, oauth_service
from federatie.web.ui.i18n import gettext
from federatie.web.ui.pages import render_page
from federatie.web.ui.session import require_viewer, ui_blueprint

blueprint = ui_blueprint("mastodon_authorize", __name__)

# The request's parameters that the consent form carries to its POST.
_CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def scope_text(scope: str) -> str:
    """What a scope lets the app do, in the person's language."""
    top, _, area = scope.partition(":")
    if area:
        if top == "read":
            return gettext("Read your %(area)s", area=area)
        return gettext("Change your %(area)s", area=area)
    texts = {
        "read": gettext("Read everything in your account: posts, follows and notifications"),
        "write": gettext("Post, change and delete in your name"),
        "follow": gettext("Follow and unfollow people and groups for you"),
        "push": gettext("Receive your notifications"),
        "profile": gettext("See who you are (your profile only)"),
    }
    return texts.get(scope, scope)


async def _problem(problem: OAuthProblem) -> Response:
    return await render_page("oauth/problem.html", status=400, description=problem.description)


@blueprint.get("/oauth/authorize")
@blueprint.get("/oauth/authorize/")  # toot asks here
async def consent_page() -> Response:
    viewer = await require_viewer()
    http = await oauth_request()
    try:
        consent = await oauth_service().consent(http)
    except OAuthProblem as problem:
        return await _problem(problem)
    return await render_page(
        "oauth/authorize.html",
        app=consent.app,
        permissions=[scope_text(scope) for scope in consent.scopes],
        carried={key: http.params[key] for key in _CARRIED if http.params.get(key)},
        person=viewer.person,
    )


@blueprint.post("/oauth/authorize")
async def decide() -> Response | WerkzeugResponse:
    viewer = await require_viewer()
    http = await oauth_request()
    approved = http.params.get("decision") == "approve"
    try:
        result = await oauth_service().decide(http, viewer.person.id if approved else None)
    except OAuthProblem as problem:
        return await _problem(problem)
    location = result.location
    if location is None:
        return await _problem(OAuthProblem("invalid_request", str(result.body)))
    if location.startswith(OOB_REDIRECT):
        code = code_in(location)
        if code is None:
            return await render_page("oauth/denied.html")
        return await render_page("oauth/code.html", code=code)
    return redirect(location, 302)
