"""What a running instance holds, built once per process: config, database pool, services.

`build_runtime` is the composition root shared by the web app, the `worker` command and the
tests; `Runtime.worker()` gives a job worker with every job kind registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from quart import current_app

from federatie import __version__
from federatie.activitypub.iris import LocalIris
from federatie.activitypub.signatures import FreshnessPolicy
from federatie.activitypub.uris import host_of
from federatie.config import Config
from federatie.domain.actors import LocalActor
from federatie.errors import BadRequest, ConfigError, FetchError, NotFound
from federatie.federation.delivery import (
    DELIVER_HOST,
    DELIVERY_QUEUE,
    FANOUT,
    INBOX_QUEUE,
    PROCESS_INBOX,
    Delivery,
)
from federatie.federation.http import HttpClientSettings, HttpStatusError, SafeHttpClient
from federatie.federation.inbox import Inbox
from federatie.federation.keys import LocalKeys
from federatie.federation.policy import FederationPolicy
from federatie.federation.processing import InboxProcessor
from federatie.federation.remote_actors import RemoteActor, RemoteActors
from federatie.federation.transport import Transport
from federatie.federation.verify import RequestVerifier
from federatie.jobs.queue import JobQueue
from federatie.jobs.worker import Worker
from federatie.metrics import Metrics
from federatie.services.actors import ActorService
from federatie.services.discussions import Discussions
from federatie.services.files import FETCH_REMOTE_FILE, FileService
from federatie.services.groups import GroupService
from federatie.services.housekeeping import HOUSEKEEPING, Housekeeping
from federatie.services.instance import InstanceSettingsService
from federatie.services.people import PeopleService
from federatie.services.publishing import Publisher
from federatie.storage import activities as activities_sql
from federatie.storage.pool import Connection, Pool, create_pool

EXTENSION_KEY = "federatie"
AP_MEDIA_TYPES = ("application/activity+json", "application/ld+json")
WORKER_QUEUES = (INBOX_QUEUE, DELIVERY_QUEUE, "default")


@dataclass
class Runtime:
    config: Config
    pool: Pool
    iris: LocalIris
    actors: ActorService
    policy: FederationPolicy
    keys: LocalKeys
    http: SafeHttpClient
    transport: Transport
    remote: RemoteActors
    verifier: RequestVerifier
    queue: JobQueue
    instance_actor: LocalActor
    publisher: Publisher = field(init=False)
    groups: GroupService = field(init=False)
    discussions: Discussions = field(init=False)
    files: FileService = field(init=False)
    inbox: Inbox = field(init=False)
    delivery: Delivery = field(init=False)
    processor: InboxProcessor = field(init=False)
    metrics: Metrics = field(init=False, default_factory=Metrics)
    instance_settings: InstanceSettingsService = field(init=False)
    people: PeopleService = field(init=False)
    housekeeping: Housekeeping = field(init=False)

    def __post_init__(self) -> None:
        self.instance_settings = InstanceSettingsService(self.pool, self.config)
        self.people = PeopleService(self.pool, self.actors, self.instance_settings)
        self.housekeeping = Housekeeping(self)
        self.publisher = Publisher(self)
        self.groups = GroupService(self)
        self.discussions = Discussions(self)
        self.files = FileService(self)
        self.inbox = Inbox(self)
        self.delivery = Delivery(self)
        self.processor = InboxProcessor(self)

    async def resolve_actor_id(self, conn: Connection, uri: str) -> int:
        """The row id of a known actor, fetching (and caching) a remote one if needed."""
        actor_id = await activities_sql.select_actor_id(conn, uri)
        if actor_id is not None:
            return actor_id
        if host_of(uri) == self.config.domain:
            raise NotFound(f"no local actor {uri}")
        return (await self.remote.get(uri)).id

    async def fetch_object(self, uri: str) -> dict[str, Any]:
        """A remote object as its origin serves it, with a signed GET by the instance actor."""
        key = await self.keys.signing_key(self.instance_actor.id)
        try:
            document, final_url = await self.transport.fetch_json(uri, key)
        except HttpStatusError as exc:
            if 400 <= exc.upstream_status < 500 and exc.upstream_status not in (408, 429):
                raise NotFound(f"{uri} cannot be fetched ({exc.upstream_status})") from exc
            raise
        if document.get("id") != final_url:
            raise NotFound(f"the document at {final_url} is not {uri}")
        return document

    async def lookup(self, query: str) -> RemoteActor:
        """A remote actor (a group to join, a person) by `@name@host` or by URL."""
        query = query.strip()
        if query.startswith(("https://", "http://")):
            return await self.remote.get(query)
        name, _, host = query.removeprefix("@").partition("@")
        if not name or not host or "/" in host or "@" in host:
            raise BadRequest(f"{query!r} is not a handle like @name@host or a URL")
        host = host.lower()
        if host == self.config.domain:
            raise BadRequest("that handle is on this instance")
        await self.policy.check(host)
        url = f"{self.config.scheme}://{host}/.well-known/webfinger?resource=acct:{name}@{host}"
        try:
            # No redirects: a hop to a host the policy refuses would be contacted unchecked.
            response = await self.http.request(
                "GET",
                url,
                headers={"Accept": "application/jrd+json"},
                follow_redirects=False,
                accept_statuses=range(200, 300),
            )
        except HttpStatusError as exc:
            if exc.upstream_status in (404, 410):  # WebFinger's answer for an unknown name
                raise NotFound(f"{query} is not known on {host}") from exc
            raise
        try:
            jrd = orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            raise FetchError(f"WebFinger at {host} answered with malformed JSON") from exc
        links = jrd.get("links") if isinstance(jrd, dict) else None
        for link in links if isinstance(links, list) else []:
            if (
                isinstance(link, dict)
                and link.get("rel") == "self"
                and isinstance(link.get("href"), str)
                and str(link.get("type", "")).startswith(AP_MEDIA_TYPES)
            ):
                return await self.remote.get(link["href"])
        raise NotFound(f"{query} has no ActivityPub actor")

    def worker(self, *, concurrency: int | None = None, lease: timedelta | None = None) -> Worker:
        """A worker for every job kind. A job may hold one connection while it takes another
        (a delivery lane keeps its host's lock), so at most half the pool runs jobs, less the
        worker's own listening and claiming connections; more would wait for ever."""
        fits = max(1, (self.config.db_pool_size - 2) // 2)
        if concurrency is None:
            concurrency = fits
        elif concurrency > fits:
            raise ConfigError(
                f"FEDERATIE_DB_POOL_SIZE: {self.config.db_pool_size} connections carry at most "
                f"{fits} concurrent jobs; raise it to {2 * concurrency + 2} for {concurrency}"
            )
        handlers = {
            FANOUT: self.delivery.fanout,
            DELIVER_HOST: self.delivery.deliver_host,
            PROCESS_INBOX: self.processor.process,
            FETCH_REMOTE_FILE: self.files.fetch_remote,
            HOUSEKEEPING: self.housekeeping.run,
        }
        return Worker(
            self.pool,
            self.queue,
            handlers,
            queues=WORKER_QUEUES,
            concurrency=concurrency,
            lease=lease or timedelta(minutes=5),
            startup=self.housekeeping.schedule,
        )

    async def close(self) -> None:
        await self.http.close()
        await self.files.blobs.close()
        await self.pool.close()


async def build_runtime(config: Config) -> Runtime:
    """Connect and wire everything; the database must be migrated (see storage.migrate)."""
    from federatie.storage.migrate import check_schema

    if config.database_url is None:
        raise ConfigError("DATABASE_URL: the runtime needs a resolved database URL")
    pool = await create_pool(config.database_url.reveal(), max_size=config.db_pool_size)
    try:
        async with pool.acquire() as conn:
            await check_schema(conn)
        iris = LocalIris(config.base_url)
        actors = ActorService(pool, iris, config.domain, config.organisation_name)
        instance_actor = await actors.ensure_instance_actor()
        policy = FederationPolicy(pool, config.federation_mode)
        keys = LocalKeys(pool)
        http = SafeHttpClient(
            HttpClientSettings(
                user_agent=f"Federatie/{__version__} (+{config.base_url}/)",
                allow_http=config.development,
                allow_loopback=config.development,
                ca_bundle=str(config.ca_bundle) if config.ca_bundle else None,
            )
        )
        await http.start()
        transport = Transport(http, pool, policy, config.domain)

        async def instance_key() -> Any:
            return await keys.signing_key(instance_actor.id)

        remote = RemoteActors(pool, transport, instance_key)
        skew = timedelta(seconds=config.signature_clock_skew)
        verifier = RequestVerifier(
            remote,
            policy,
            own_host=config.domain,
            allow_loopback=config.development,
            freshness=FreshnessPolicy(
                max_future=skew,
                clock_skew=skew,
                max_age=timedelta(seconds=config.signature_max_age),
            ),
        )
    except BaseException:
        await pool.close()
        raise
    return Runtime(
        config=config,
        pool=pool,
        iris=iris,
        actors=actors,
        policy=policy,
        keys=keys,
        http=http,
        transport=transport,
        remote=remote,
        verifier=verifier,
        queue=JobQueue(pool),
        instance_actor=instance_actor,
    )


def current_runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
