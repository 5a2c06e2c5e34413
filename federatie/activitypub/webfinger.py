"""WebFinger (RFC 7033) resources and JRD documents, as Mastodon resolves `@name@host`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from federatie.errors import BadRequest


@dataclass(frozen=True)
class WebfingerQuery:
    """What a resource asks for: a name (acct:) or an actor URL on this host."""

    username: str | None = None
    actor_url: str | None = None


def parse_resource(resource: str | None, host: str, base_url: str) -> WebfingerQuery | None:
    """Parse `acct:name@host` or an actor URL; None when it names another host.

    Raises BadRequest for malformed resources (RFC 7033 §4.2: 400 when the resource is bad).
    """
    if not resource:
        raise BadRequest("the resource parameter is required")
    resource = resource.strip()
    if resource.lower().startswith("acct:"):
        account = unquote(resource[5:]).removeprefix("@")
        name, sep, acct_host = account.rpartition("@")
        if not sep or not name or not acct_host or "@" in name or any(c.isspace() for c in account):
            raise BadRequest(f"malformed acct resource {resource!r}")
        if acct_host.lower() != host.lower():
            return None
        return WebfingerQuery(username=name)
    if resource.startswith(("https://", "http://")):
        parts = urlsplit(resource)
        if not parts.hostname:
            raise BadRequest(f"malformed URL resource {resource!r}")
        if not resource.startswith(base_url + "/") and resource != base_url:
            return None
        return WebfingerQuery(actor_url=resource.split("#")[0])
    raise BadRequest(f"unsupported resource {resource!r}: use acct: or an https URL")


def jrd(subject: str, actor_uri: str, profile_url: str) -> dict[str, Any]:
    """The JRD for a local actor: `self` for ActivityPub, `profile-page` for people."""
    return {
        "subject": subject,
        "aliases": [actor_uri],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor_uri},
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": profile_url,
            },
        ],
    }
