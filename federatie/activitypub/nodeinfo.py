"""NodeInfo 2.1 (nodeinfo.diaspora.software) and its discovery document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NODEINFO_21_REL = "http://nodeinfo.diaspora.software/ns/schema/2.1"
NODEINFO_21_PROFILE = "http://nodeinfo.diaspora.software/ns/schema/2.1#"
# FEP-2677: where to find the instance actor that signs this server's fetches.
INSTANCE_ACTOR_REL = "https://www.w3.org/ns/activitystreams#Application"


@dataclass(frozen=True)
class Usage:
    users_total: int
    users_active_half_year: int
    local_posts: int


def discovery(base_url: str, instance_actor: str) -> dict[str, Any]:
    return {
        "links": [
            {"rel": NODEINFO_21_REL, "href": f"{base_url}/nodeinfo/2.1"},
            {"rel": INSTANCE_ACTOR_REL, "href": instance_actor},
        ]
    }


def nodeinfo(
    *,
    version: str,
    open_registrations: bool,
    usage: Usage,
    instance_name: str,
    organisation_name: str,
) -> dict[str, Any]:
    return {
        "version": "2.1",
        "software": {
            "name": "federatie",
            "version": version,
            "homepage": "https://federatie.example/",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": usage.users_total,
                "activeHalfyear": usage.users_active_half_year,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": {"nodeName": instance_name, "organisationName": organisation_name},
    }
