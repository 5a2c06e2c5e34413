"""The IRIs of local actors and collections: one place decides the URL scheme.

Ids are stable forever (other servers store them), so they use names, never database ids,
for actors, and the paths here must not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from federatie.domain.actors import ActorType

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"

_SEGMENT = {ActorType.PERSON: "users", ActorType.GROUP: "groups"}


@dataclass(frozen=True)
class LocalIris:
    base_url: str

    def actor(self, actor_type: ActorType, username: str) -> str:
        if actor_type is ActorType.ORGANIZATION:
            return self.instance_actor()
        return f"{self.base_url}/{_SEGMENT[actor_type]}/{username}"

    def actor_uri_of_group(self, name: str) -> str:
        return self.actor(ActorType.GROUP, name)

    def instance_actor(self) -> str:
        return f"{self.base_url}/actor"

    def object(self, key: str) -> str:
        return f"{self.base_url}/objects/{key}"

    def activity(self, key: str) -> str:
        return f"{self.base_url}/activities/{key}"

    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @staticmethod
    def inbox(actor_uri: str) -> str:
        return f"{actor_uri}/inbox"

    @staticmethod
    def outbox(actor_uri: str) -> str:
        return f"{actor_uri}/outbox"

    @staticmethod
    def followers(actor_uri: str) -> str:
        return f"{actor_uri}/followers"

    @staticmethod
    def following(actor_uri: str) -> str:
        return f"{actor_uri}/following"

    @staticmethod
    def moderators(actor_uri: str) -> str:
        return f"{actor_uri}/moderators"

    @staticmethod
    def rsa_key_id(actor_uri: str) -> str:
        return f"{actor_uri}#main-key"

    @staticmethod
    def ed25519_key_id(actor_uri: str) -> str:
        return f"{actor_uri}#ed25519-key"

    def profile_page(self, actor_type: ActorType, username: str) -> str:
        """The HTML page is the actor id itself, served by content negotiation."""
        return self.actor(actor_type, username)
