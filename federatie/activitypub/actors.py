"""Actor documents for local people, groups and the organisation, as other servers expect them.

Shapes follow Mastodon for people (publicKey with owner, endpoints.sharedInbox), FEP-521a for
the Ed25519 key (a Multikey under assertionMethod) and FEP-1b12 / Lemmy for groups
(attributedTo and `moderators` point at the moderators collection; manuallyApprovesFollowers
marks a group that approves members, which Lemmy reads as private and Mastodon as locked).
A person's profile travels as Mastodon shows profiles: the avatar as `icon`, organisation,
function and expertise as `attachment` PropertyValues (Mastodon's profile fields), themes as
`Hashtag` tags, and the biography as HTML in `summary`.
"""

from __future__ import annotations

import html
from typing import Any

from federatie.activitypub.iris import (
    AS_CONTEXT,
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    SECURITY_CONTEXT,
    LocalIris,
)
from federatie.domain.actors import ActorType, LocalActor
from federatie.domain.profiles import Avatar, Profile

# Extension terms we emit, defined inline so that no processor has to fetch our own context.
EXTENSION_TERMS: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "lemmy": "https://join-lemmy.org/ns#",
    "moderators": {"@id": "lemmy:moderators", "@type": "@id"},
    "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
    # Mastodon's profile fields.
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}

# As Fedify publishes it: DID v1 defines `assertionMethod` (FEP-521a), multikey/v1 `Multikey`.
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    EXTENSION_TERMS,
]


# The names of the profile fields on the wire; other servers show them as labels.
FIELD_ORGANISATION = "Organisation"
FIELD_FUNCTION = "Function"
FIELD_EXPERTISE = "Expertise"


def avatar_url(actor_uri: str, avatar: Avatar) -> str:
    """Changes with the image, so that it can be cached for good."""
    return f"{actor_uri}/avatar/{avatar.sha256[:16]}"


def text_html(text: str | None) -> str:
    """Plain text as HTML paragraphs (ActivityStreams `summary` is HTML)."""
    paragraphs = (p.strip() for p in (text or "").replace("\r\n", "\n").split("\n\n"))
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs if p
    )


def actor_document(
    actor: LocalActor, iris: LocalIris, profile: Profile | None = None
) -> dict[str, Any]:
    """The JSON-LD document served at the actor's id (a person's with their `profile`)."""
    uri = actor.uri
    doc: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": uri,
        "type": actor.type.value,
        "preferredUsername": actor.username,
        "name": actor.name or actor.username,
        "summary": actor.summary or "",
        "url": uri,
        "inbox": iris.inbox(uri),
        "outbox": iris.outbox(uri),
        "followers": iris.followers(uri),
        "following": iris.following(uri),
        "endpoints": {"sharedInbox": iris.shared_inbox()},
        "publicKey": {
            "id": iris.rsa_key_id(uri),
            "owner": uri,
            "publicKeyPem": actor.public_key_pem,
        },
        "assertionMethod": [
            {
                "id": iris.ed25519_key_id(uri),
                "type": "Multikey",
                "controller": uri,
                "publicKeyMultibase": actor.ed25519_multibase,
            }
        ],
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.type is not ActorType.ORGANIZATION,
        "published": actor.published,
    }
    if actor.type is ActorType.PERSON:
        # ActivityPub's uploadMedia: a multipart POST with `file` and `object` parts.
        doc["endpoints"]["uploadMedia"] = f"{uri}/files"
        doc["summary"] = text_html(actor.summary)
        if profile is not None:
            doc.update(_profile_properties(uri, iris, profile))
    if actor.type is ActorType.GROUP:
        moderators = iris.moderators(uri)
        doc["attributedTo"] = moderators
        doc["moderators"] = moderators
        doc["postingRestrictedToMods"] = False
        doc["tag"] = [
            {
                "type": "Hashtag",
                "name": f"#{theme}",
                "href": f"{iris.base_url}/groups?theme={theme}",
            }
            for theme in actor.themes
        ]
    return doc


def _profile_properties(uri: str, iris: LocalIris, profile: Profile) -> dict[str, Any]:
    fields = profile.fields
    shown = [
        (FIELD_ORGANISATION, fields.organisation),
        (FIELD_FUNCTION, fields.job_title),
        (FIELD_EXPERTISE, ", ".join(fields.expertise)),
    ]
    properties: dict[str, Any] = {
        "attachment": [
            {"type": "PropertyValue", "name": name, "value": html.escape(value, quote=False)}
            for name, value in shown
            if value
        ],
        "tag": [
            {
                "type": "Hashtag",
                "name": f"#{theme}",
                "href": f"{iris.base_url}/people?theme={theme}",
            }
            for theme in fields.themes
        ],
    }
    if profile.avatar is not None:
        properties["icon"] = {
            "type": "Image",
            "mediaType": profile.avatar.media_type,
            "url": avatar_url(uri, profile.avatar),
            "width": profile.avatar.width,
            "height": profile.avatar.height,
        }
    return properties
