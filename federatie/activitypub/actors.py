"""Actor documents for local people, groups and the organisation, as other servers expect them.

Shapes follow Mastodon for people (publicKey with owner, endpoints.sharedInbox), FEP-521a for
the Ed25519 key (a Multikey under assertionMethod) and FEP-1b12 / Lemmy for groups
(attributedTo and `moderators` point at the moderators collection; manuallyApprovesFollowers
marks a group that approves members, which Lemmy reads as private and Mastodon as locked).
"""

from __future__ import annotations

from typing import Any

from federatie.activitypub.iris import (
    AS_CONTEXT,
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    SECURITY_CONTEXT,
    LocalIris,
)
from federatie.domain.actors import ActorType, LocalActor

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
}

# As Fedify publishes it: DID v1 defines `assertionMethod` (FEP-521a), multikey/v1 `Multikey`.
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    EXTENSION_TERMS,
]


def actor_document(actor: LocalActor, iris: LocalIris) -> dict[str, Any]:
    """The JSON-LD document served at the actor's id."""
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
