"""Fill a migrated Federatie database to Pleio scale, directly in SQL, in a few minutes.

    .venv/bin/python bench/seed.py --database-url DSN --base-url http://127.0.0.1:8000
                                   [--scale 1.0] [--seed 0.42]

At `--scale 1` (every count below scales linearly, with at least one of each):

- 100,000 local people and 5,000 local groups; group sizes fall off as a power law
  (largest 20,000 members, size of the k-th largest 20000 / k^0.8, at least 3: about 460,000
  memberships), plus remote members (1 in 20) from 20,000 remote actors on 500 hosts; each
  person follows 3 others (skewed towards a few popular people);
- 100,000 blog posts (55% in groups, in proportion to group size; 3% drafts), each published
  one gets an Article and its Create and, in a group, the group's two Announces (FEP-1b12);
- 200,000 comments on the posts (skewed: the busiest thread has several hundred), half local
  (a Note and its Create, relayed by the post's group) and half received from remote actors;
- 100,000 files' metadata (80% in group file spaces): file, version, Document, Create and the
  group's Announce;
- 1,000,000 remote activities received (`inbox_activities`, processed): the 100,000 remote
  comments, 150,000 posts into groups by remote members (each stored and announced twice by
  its group), 400,000 Likes and 100,000 Announces of local posts, a Follow per remote
  membership, and Updates, Deletes and Undos for the rest.

Documents are the shapes our own code stores: templates are built once with the real
functions (`article_document`, `file_document`, the Create/Announce wrappers of
`Publisher.store`) around placeholders, which SQL fills per row by concatenation, so nothing
goes through Python per row. Every `INSERT ... SELECT FROM generate_series` runs in
PostgreSQL; independent steps run on two connections at once. Ids of objects and activities
are spaced so that the different streams (posts, comments, files, remote posts ...)
interleave in id order as they would in time, and `published` grows with the id. The big
tables' secondary indexes are dropped for the load and built afterwards, and foreign-key
triggers are skipped where the role may (the rows are consistent by construction).

Keys: local actors need key pairs, and RSA-2048 generation costs ~50 ms each (100,000 people
would take 80 minutes), so a pool of 8 RSA and 8 Ed25519 pairs is generated and shared
between all seeded actors (remote actors' public keys too). Every actor still has its own key
id; signatures verify; only the key material repeats. Every seeded person has the same
password hash (one scrypt). Not seeded: the copies of group Announces that local delivery puts
into every local member's inbox (`inbox_items`), which would be tens of millions of rows; the
home timeline will have to decide how it materialises them.

The database must be migrated and hold no seeded data yet (the instance actor may exist).
Ends with VACUUM ANALYZE of every table, as autovacuum would have done on a database that
grew this large. `SEED_VERBOSE=1` prints each statement's time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from federatie.activitypub.articles import (
    ARTICLE_CONTEXT,
    article_document,
    hashtag,
    page_url,
    render_markdown,
    summary_html,
)
from federatie.activitypub.files import FILE_CONTEXT, FileFields, file_document
from federatie.activitypub.iris import AS_CONTEXT, AS_PUBLIC
from federatie.activitypub.signatures import generate_ed25519, generate_rsa_pem
from federatie.domain.passwords import hash_password

KEY_PAIRS = 8
YEARS = 5  # the seeded history spans this many years up to now
THEMES = [
    "water",
    "klimaat",
    "energie",
    "wonen",
    "zorg",
    "onderwijs",
    "mobiliteit",
    "digitalisering",
    "veiligheid",
    "cultuur",
    "natuur",
    "landbouw",
    "economie",
    "arbeidsmarkt",
    "jeugd",
    "ouderen",
    "armoede",
    "integratie",
    "privacy",
    "open_data",
    "inkoop",
    "financien",
    "omgevingswet",
    "participatie",
    "duurzaamheid",
    "gezondheid",
    "sport",
    "erfgoed",
    "europa",
    "innovatie",
]
FIRST_NAMES = [
    "Anne",
    "Bram",
    "Carla",
    "Daan",
    "Eva",
    "Fleur",
    "Gijs",
    "Hanna",
    "Ilse",
    "Joost",
    "Karin",
    "Lars",
    "Marieke",
    "Niels",
    "Olga",
    "Pieter",
    "Roos",
    "Sander",
    "Tessa",
    "Wouter",
]
LAST_NAMES = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
]
PARAGRAPHS = [
    "Het waterschap heeft de nieuwe peilbesluiten gepubliceerd. De gevolgen voor de "
    "landbouw in de polder worden in het najaar besproken met de betrokken gemeenten.",
    "In de werkgroep is afgesproken dat iedere gemeente voor de zomer een *eerste versie* "
    "van het omgevingsplan deelt, zodat we verschillen vroeg zien.",
    "De cijfers over de woningbouw in de regio staan in de bijlage. Opvallend is dat de "
    "doorlooptijd van vergunningen verder is gedaald, vooral bij kleine projecten.",
    "Tijdens de bijeenkomst in Utrecht kwamen drie vragen steeds terug: wie is eigenaar "
    "van de data, hoe delen we die veilig, en wie betaalt het beheer?",
    "Wie wil meelezen met het concept van de handreiking? Reacties graag voor vrijdag, "
    "dan kunnen we ze meenemen in de volgende versie voor het bestuurlijk overleg.",
    "Een korte terugblik op het congres: veel aandacht voor **participatie** en voor de "
    "vraag hoe je inwoners vroeg betrekt zonder verwachtingen te wekken die je niet waarmaakt.",
    "De evaluatie van de pilot laat zien dat de nieuwe werkwijze tijd bespaart, maar ook "
    "dat medewerkers meer ondersteuning nodig hebben bij de overgang naar het nieuwe systeem.",
    "Volgende week publiceren we de resultaten van de enquete onder de deelnemende "
    "organisaties. Dank aan iedereen die de moeite heeft genomen om te reageren.",
]
COMMENTS = [
    "Dank voor het delen, dit is heel bruikbaar voor ons eigen traject.",
    "Eens met de conclusie. Bij ons speelde precies hetzelfde vorig jaar.",
    "Is er ook een versie van de bijlage in een open formaat beschikbaar?",
    "Goed punt over het beheer. Wie neemt dat op zich na de pilotperiode?",
    "Wij zijn met iets vergelijkbaars bezig, laten we eens bellen volgende week.",
]
MEDIA_TYPES = [
    ("application/pdf", "pdf"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
]


@dataclass(frozen=True)
class Scale:
    """How much to seed; `Scale.of(1.0)` is Pleio's size."""

    people: int
    groups: int
    largest_group: int
    remote_actors: int
    remote_hosts: int
    follows_per_person: int
    posts: int
    local_comments: int
    remote_comments: int
    files: int
    remote_group_posts: int
    likes: int
    boosts: int
    updates: int
    deletes: int
    remote_activities: int

    @classmethod
    def of(cls, factor: float) -> Scale:
        def n(full: int, least: int = 1) -> int:
            return max(least, round(full * factor))

        return cls(
            people=n(100_000, 20),
            groups=n(5_000, 3),
            largest_group=n(20_000, 10),
            remote_actors=n(20_000, 10),
            remote_hosts=n(500, 2),
            follows_per_person=3,
            posts=n(100_000, 20),
            local_comments=n(100_000, 10),
            remote_comments=n(100_000, 10),
            files=n(100_000, 10),
            remote_group_posts=n(150_000, 10),
            likes=n(400_000, 10),
            boosts=n(100_000, 10),
            updates=n(100_000, 5),
            deletes=n(50_000, 5),
            remote_activities=n(1_000_000, 100),
        )


# --------------------------------------------------------------------------- templates


def _json(doc: Any) -> str:
    return orjson.dumps(doc).decode()


# Placeholders that stand for a whole JSON value (quotes included); all others sit inside
# JSON strings.
JSON_PLACEHOLDERS = frozenset({"TO", "CC", "AUD", "PARENT"})
ARTICLE_CONTEXT_JSON = _json(ARTICLE_CONTEXT)
FILE_CONTEXT_JSON = _json(FILE_CONTEXT)
AS_CONTEXT_JSON = _json(AS_CONTEXT)
MASTODON_CONTEXT_JSON = _json(
    [
        AS_CONTEXT,
        {
            "ostatus": "http://ostatus.org#",
            "atomUri": "ostatus:atomUri",
            "conversation": "ostatus:conversation",
            "sensitive": "as:sensitive",
            "toot": "http://joinmastodon.org/ns#",
        },
    ]
)


def templates(base: str) -> dict[str, str]:
    """Objects as our code stores them (without `@context`), around placeholders.

    JSON-valued: `"@TO@"`, `"@CC@"`, `"@AUD@"` (audience), `"@PARENT@"` (inReplyTo). In
    strings: `@K@` an object's key, `@A@` its author, `@N@` a number, `@TH@` a theme, `@T@`
    a time, `@R@` a remote actor, `@S@` a remote status, `@C@` a comment's text, `@NAME@`,
    `@MT@` (media type), `@DIGEST@`, `@SHARED@` (shared inbox). Built once with the functions
    that make the real documents, filled per row by SQL (`fill`).
    """
    source = "\n\n".join(PARAGRAPHS[:5])
    html = render_markdown(source)
    article = article_document(
        uri=f"{base}/objects/@K@",
        url=page_url(base, "@K@"),
        author="@A@",
        title="Bericht @N@ over @TH@",
        summary=summary_html(None, html),
        content=html,
        source=source,
        source_type="text/markdown",
        tags=[hashtag(base, "@TH@")],
        attachment=[],
        published="@T@",
        updated=None,
        addressing={"to": "@TO@", "cc": "@CC@", "audience": "@AUD@"},
    )
    del article["@context"]
    personal = {k: v for k, v in article.items() if k != "audience"}
    comment = {
        "id": f"{base}/objects/@K@",
        "type": "Note",
        "content": "<p>@C@</p>",
        "inReplyTo": "@PARENT@",
        "attributedTo": "@A@",
        "url": f"{base}/objects/@K@",
        "published": "@T@",
        "to": [AS_PUBLIC],
        "cc": "@CC@",
        "audience": "@AUD@",
    }
    document = file_document(
        FileFields(
            id=f"{base}/objects/@K@",
            name="@NAME@",
            media_type="@MT@",
            size=987654321,
            sha256="0" * 64,
            href=f"{base}/files/@K@/versions/1",
            attributed_to="@A@",
            to="@TO@",  # type: ignore[arg-type]
            cc="@CC@",  # type: ignore[arg-type]
            audience="@AUD@",
            published="@T@",
            updated=None,
        )
    )
    document["digestMultibase"] = "@DIGEST@"
    actor = "@R@"
    status = f"{actor}/statuses/@S@"
    remote_note = {
        "id": status,
        "type": "Note",
        "summary": None,
        "inReplyTo": "@PARENT@",
        "published": "@T@",
        "url": status,
        "attributedTo": actor,
        "to": [AS_PUBLIC],
        "cc": "@CC@",
        "audience": "@AUD@",
        "sensitive": False,
        "atomUri": status,
        "conversation": "tag:@S@:objectType=Conversation",
        "content": "<p>@C@</p>",
        "contentMap": {"nl": "<p>@C@</p>"},
        "attachment": [],
        "tag": [],
        "replies": {
            "id": f"{status}/replies",
            "type": "Collection",
            "first": {"type": "CollectionPage", "items": [], "partOf": f"{status}/replies"},
        },
    }
    remote_create = {
        "id": f"{status}/activity",
        "type": "Create",
        "actor": actor,
        "published": "@T@",
        "to": [AS_PUBLIC],
        "cc": "@CC@",
        "object": remote_note,
    }
    return {
        "group_article": _json(article),
        "person_article": _json(personal),
        "comment": _json(comment),
        "document": _json(document),
        "remote_create": _json(remote_create),
        "like": _json(
            {
                "@context": AS_CONTEXT,
                "id": f"{actor}#likes/@N@",
                "type": "Like",
                "actor": actor,
                "object": "@K@",
            }
        ),
        "boost": _json(
            {
                "@context": AS_CONTEXT,
                "id": f"{actor}/statuses/@S@/activity",
                "type": "Announce",
                "actor": actor,
                "published": "@T@",
                "to": [AS_PUBLIC],
                "cc": [f"{actor}/followers"],
                "object": "@K@",
            }
        ),
        "follow": _json(
            {
                "@context": AS_CONTEXT,
                "id": f"{actor}#follows/@N@",
                "type": "Follow",
                "actor": actor,
                "object": "@K@",
            }
        ),
        "delete": _json(
            {
                "@context": AS_CONTEXT,
                "id": f"{status}#delete",
                "type": "Delete",
                "actor": actor,
                "to": [AS_PUBLIC],
                "object": {"id": status, "type": "Tombstone", "atomUri": status},
            }
        ),
        "undo": _json(
            {
                "@context": AS_CONTEXT,
                "id": f"{actor}#likes/@N@/undo",
                "type": "Undo",
                "actor": actor,
                "object": {
                    "id": f"{actor}#likes/@N@",
                    "type": "Like",
                    "actor": actor,
                    "object": "@K@",
                },
            }
        ),
        "remote_person": _json(
            {
                "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
                "id": actor,
                "type": "Person",
                "preferredUsername": "@N@",
                "name": "@NAME@",
                "inbox": f"{actor}/inbox",
                "outbox": f"{actor}/outbox",
                "followers": f"{actor}/followers",
                "following": f"{actor}/following",
                "endpoints": {"sharedInbox": "@SHARED@"},
                "publicKey": {"id": f"{actor}#main-key", "owner": actor},
            }
        ),
    }


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def fill(template: str, **values: str) -> str:
    """SQL that builds `template` (JSON text with placeholders) with SQL text expressions in
    the placeholders' places, by concatenation: no per-row search and replace, which costs
    tens of microseconds on kilobytes of UTF-8. Values go in as they are: JSON-valued
    placeholders take JSON, the others text with neither quotes nor backslashes."""
    names = "|".join(re.escape(name) for name in values)
    pattern = re.compile(rf'"@({names})@"|@({names})@')
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(template):
        name = match[1] or match[2]
        if match[1] and name not in JSON_PLACEHOLDERS:
            # A text placeholder that is a whole string: keep its quotes.
            parts += [
                sql_literal(template[position : match.start()] + '"'),
                f"coalesce(({values[name]})::text, '')",
            ]
            position = match.end() - 1
            continue
        parts += [
            sql_literal(template[position : match.start()]),
            f"coalesce(({values[name]})::text, '')",
        ]
        position = match.end()
    parts.append(sql_literal(template[position:]))
    left = re.findall(r"@[A-Z]+@", "".join(parts[::2]))
    if left:
        raise ValueError(f"placeholders without a value: {sorted(set(left))}")
    return "(" + " || ".join(part for part in parts if part != "''") + ")"


def fill_tail(template: str, **values: str) -> str:
    """`fill` of a JSON object's text after its opening brace (see `with_context`)."""
    assert template.startswith("{")
    return fill(template[1:], **values)


def json_list(*items: str) -> str:
    """SQL for the JSON text of a list of SQL text expressions."""
    if not items:
        return "'[]'"
    return "('[\"' || " + " || '\", \"' || ".join(items) + " || '\"]')"


def json_string(item: str) -> str:
    """SQL for the JSON text of a string (SQL text expression), `null` for NULL."""
    return f"coalesce('\"' || {item} || '\"', 'null')"


# Documents are built as their "tail": the JSON text of an object after its opening brace, so
# that the same text makes the object with or without `@context` by concatenation alone.


def obj(tail: str) -> str:
    """SQL: the JSON text of the object whose tail is `tail` (no `@context`)."""
    return f"('{{' || {tail})"


def with_context(context: str, tail: str) -> str:
    """SQL: the JSON text of the object whose tail is `tail`, `@context` (JSON) first."""
    return f"""('{{"@context":' || {sql_literal(context)} || ',' || {tail})"""


def envelope(kind: str, key: str, actor: str, at: str, to: str, cc: str, inner: str) -> str:
    """SQL: the tail of an activity as `Publisher.store` keeps it (id, type, actor,
    published, to, cc, object). Arguments are SQL expressions; `inner` is JSON text."""
    return (
        f"""('"type":"{kind}","id":"' || $base || '/activities/' || {key}"""
        f""" || '","actor":"' || {actor} || '","published":"' || {at}"""
        f""" || '","to":' || {to} || ',"cc":' || {cc} || ',"object":' || {inner} || '}}')"""
    )


PUBLIC_SQL = f"'{AS_PUBLIC}'"
FIRST_NAMES_SQL = "(ARRAY[" + ", ".join(f"'{name.lower()}'" for name in FIRST_NAMES) + "])"
THEMES_SQL = "(ARRAY[" + ", ".join(f"'{theme}'" for theme in THEMES) + "])"

# Streams of objects and activities, and their place in the interleaving of ids.
POSTS, LOCAL_COMMENTS, FILES, REMOTE_COMMENTS, REMOTE_POSTS, LIKES, BOOSTS = range(7)
FOLLOWS, UPDATES, DELETES, UNDOS = 7, 8, 9, 10  # arrivals only
STREAMS = 11


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    args: dict[str, Any] = field(default_factory=dict)


def _bound(statement: str, args: dict[str, Any]) -> tuple[Any, ...]:
    """One statement with its `$name` parameters numbered ($1, $2 ...) and their values."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    numbered = re.sub(r"\$([a-z_]+)", number, statement)
    return (numbered, *(args[name] for name in names))


class Seeder:
    """Builds the SQL of every step from the scale and the ids already in the database."""

    def __init__(self, dsn: str, base_url: str, scale: Scale, seed: float, log: Any) -> None:
        self.dsn = dsn
        self.base = base_url.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.scale = scale
        self.seed = seed
        self.log = log
        self.timings: dict[str, float] = {}
        self.t = templates(self.base)
        # Set by run(): where the seeded ids start, and how many positions the time line has.
        self.actor_base = self.object_base = self.activity_base = self.inbox_base = 0
        self.slots = 1

    # ------------------------------------------------------------------ plumbing

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn)
        await conn.execute(
            "SET synchronous_commit = off; SET work_mem = '64MB';"
            " SET maintenance_work_mem = '512MB'; SET jit = off"
        )
        await conn.execute("SELECT setseed($1)", self.seed)
        # Rows are consistent by construction: skip the foreign-key triggers (a quarter of
        # the insert time) where we may (a superuser, as in the bench's own cluster).
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
        return conn

    async def _run(self, step: Step) -> None:
        """The step's statements in turn, each with the `$name` parameters it uses."""
        conn = await self._connect()
        started = time.perf_counter()
        args = {"base": self.base, **step.args}
        try:
            for statement in re.split(r";\s*\n", step.sql):
                if statement.strip():
                    t0 = time.perf_counter()
                    await conn.execute(*_bound(statement, args))
                    if os.environ.get("SEED_VERBOSE"):
                        head = " ".join(statement.split())[:70]
                        self.log(f"seed:   {time.perf_counter() - t0:6.2f} s  {head}")
        finally:
            await conn.close()
        self.timings[step.name] = round(time.perf_counter() - started, 2)
        self.log(f"seed: {step.name} {self.timings[step.name]:.1f} s")

    async def _chains(self, *chains: list[Step]) -> None:
        """Chains of dependent steps, two chains at a time (the machine has two cores)."""
        queue = list(chains)

        async def lane() -> None:
            while queue:
                for step in queue.pop(0):
                    await self._run(step)

        await asyncio.gather(lane(), lane())

    @staticmethod
    def _time(position: str) -> str:
        """The timestamp of a position in [0, 1) on the time line (the last YEARS years)."""
        return f"(now() - interval '{YEARS} years' * (1 - ({position})))"

    @staticmethod
    def _iso(timestamp: str) -> str:
        return f"""to_char({timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""

    def _slot(self, position: str) -> str:
        return f"floor(({position}) * {self.slots})::bigint"

    def _object_id(self, stream: int, position: str) -> str:
        return f"({self.object_base} + {self._slot(position)} * {STREAMS} + {stream})"

    def _activity_id(self, stream: int, position: str, sub: int) -> str:
        """Up to three activities per event: its Create (0), the group's Announce of it (1)
        and the group's bare Announce of the object (2)."""
        slot = self._slot(position)
        return f"({self.activity_base} + ({slot} * {STREAMS} + {stream}) * 3 + {sub})"

    def _inbox_id(self, stream: int, position: str) -> str:
        return f"({self.inbox_base} + {self._slot(position)} * {STREAMS} + {stream})"

    def _person(self, index: str) -> str:
        """The actor id of the person with 0-based index `index` (modulo people)."""
        return f"({self.actor_base + 1} + ({index})::bigint % {self.scale.people})"

    def _person_name(self, index: str) -> str:
        """`anne_1`, `bram_2` ...: names spread over the alphabet, as real ones are."""
        n = f"(({index})::bigint % {self.scale.people})"
        return f"({FIRST_NAMES_SQL}[1 + {n} % {len(FIRST_NAMES)}] || '_' || (1 + {n}))"

    def _person_uri(self, index: str) -> str:
        return f"($base || '/users/' || {self._person_name(index)})"

    @staticmethod
    def _group_name(k: str) -> str:
        """`klimaat_1`, `energie_2` ...: a theme and a number."""
        return f"({THEMES_SQL}[1 + ({k}) % {len(THEMES)}] || '_' || ({k}))"

    def _remote(self, index: str) -> str:
        s = self.scale
        first = self.actor_base + s.people + s.groups + 1
        return f"({first} + ({index})::bigint % {s.remote_actors})"

    def _member(self, k: str, j: str) -> str:
        """Person index of the j-th local member of group k (distinct for j < size)."""
        return f"((({k})::bigint * 104729 + ({j}) * 7) % {self.scale.people})"

    def _remote_member(self, k: str, j: str) -> str:
        return f"(({k})::bigint * 7919 + ({j}) * 13)"

    def _published_post(self, rank: str) -> str:
        """`n` of the rank-th (1-based) published post: every 33rd post is a draft."""
        return f"(({rank}) + (({rank}) - 1) / 32)"

    # ------------------------------------------------------------------ run

    async def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        s = self.scale
        conn = await self._connect()
        try:
            first = f"{FIRST_NAMES[0].lower()}_1"
            if await conn.fetchval("SELECT 1 FROM actors WHERE username = $1 AND local", first):
                raise SystemExit("this database is seeded already")
            bases = await conn.fetchrow(
                """SELECT (SELECT coalesce(max(id), 0) FROM actors) AS actors,
                          (SELECT coalesce(max(id), 0) FROM objects) AS objects,
                          (SELECT coalesce(max(id), 0) FROM activities) AS activities,
                          (SELECT coalesce(max(id), 0) FROM inbox_activities) AS inbox"""
            )
        finally:
            await conn.close()
        self.actor_base = bases["actors"]
        self.object_base = bases["objects"] + 1
        self.activity_base = bases["activities"] + 1
        self.inbox_base = bases["inbox"] + 1
        self.slots = max(
            s.posts,
            s.local_comments,
            s.remote_comments,
            s.files,
            s.remote_group_posts,
            s.likes,
            s.boosts,
            s.updates,
            s.deletes,
            s.remote_activities,
        )

        t0 = time.perf_counter()
        rsa_pairs = [generate_rsa_pem() for _ in range(KEY_PAIRS)]
        ed_pairs = [generate_ed25519() for _ in range(KEY_PAIRS)]
        password_hash = hash_password("a seeded password that nobody signs in with")
        self.timings["key pool"] = round(time.perf_counter() - t0, 2)
        self.log(f"seed: key pool and password hash {self.timings['key pool']:.1f} s")
        public_keys = [public for _, public in rsa_pairs]

        await self._chains(
            [self._people(public_keys), self._plan(), self._post_documents()],
            [self._groups(public_keys), self._remote_actors(public_keys)],
        )
        # Bulk loads go faster into tables without their secondary indexes: build them after.
        indexes = await self._drop_indexes(
            ("objects", "activities", "inbox_activities", "blog_posts", "files", "file_versions")
        )
        await self._chains(
            [self._remote_content(), self._remote_announces()],
            [self._articles(), self._post_activities()],
            [self._comments(), self._comment_activities()],
            [self._files(), self._file_activities()],
            [self._reactions(), self._blog_posts()],
            [self._people_rows(password_hash), self._keys(rsa_pairs, ed_pairs)],
            [self._memberships(), self._person_follows()],
        )
        await self._chains(*([step] for step in self._arrivals()))
        await self._chains(*([step] for step in indexes))
        await self._chains([self._inbox_items(), self._reset_sequences()], [self._actor_stats()])
        conn = await self._connect()
        try:
            await conn.execute(
                "DROP TABLE IF EXISTS seed_groups, seed_plan, seed_posts, seed_comments,"
                " seed_files, seed_remote, seed_reactions"
            )
            tables = await conn.fetch(
                """SELECT relname FROM pg_class
                   WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
                   ORDER BY pg_total_relation_size(oid) DESC"""
            )
        finally:
            await conn.close()
        # VACUUM ANALYZE table by table, the largest first, on both cores.
        await self._chains(
            *(
                [Step(f"vacuum {row['relname']}", f"VACUUM ANALYZE {row['relname']}")]
                for row in tables
            )
        )
        conn = await self._connect()
        try:
            counts = {
                table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in (
                    "actors",
                    "follows",
                    "blog_posts",
                    "objects",
                    "activities",
                    "files",
                    "file_versions",
                    "inbox_activities",
                    "inbox_items",
                )
            }
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await conn.close()
        return {
            "scale": asdict(self.scale),
            "seconds": round(time.perf_counter() - started, 1),
            "steps": self.timings,
            "rows": counts,
            "database_bytes": size,
        }

    async def _drop_indexes(self, tables: tuple[str, ...]) -> list[Step]:
        """Drop the tables' indexes and unique constraints but their primary keys; the steps
        that make them again."""
        conn = await self._connect()
        try:
            rows = await conn.fetch(
                """SELECT t.relname AS table_name, i.relname AS index_name,
                          pg_get_indexdef(i.oid) AS index_def, c.conname,
                          pg_get_constraintdef(c.oid) AS constraint_def
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                   JOIN pg_class t ON t.oid = x.indrelid
                   LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'u'
                   WHERE t.relname = ANY($1::text[]) AND NOT x.indisprimary
                     AND t.relnamespace = 'public'::regnamespace""",
                list(tables),
            )
            steps = []
            for row in rows:
                if row["conname"]:
                    await conn.execute(
                        f'ALTER TABLE {row["table_name"]} DROP CONSTRAINT "{row["conname"]}"'
                    )
                    sql = (
                        f'ALTER TABLE {row["table_name"]} ADD CONSTRAINT "{row["conname"]}"'
                        f" {row['constraint_def']}"
                    )
                else:
                    await conn.execute(f'DROP INDEX "{row["index_name"]}"')
                    sql = row["index_def"]
                steps.append(Step(f"index {row['index_name']}", sql))
        finally:
            await conn.close()
        return steps

    # ------------------------------------------------------------------ actors

    def _people(self, public_keys: list[str]) -> Step:
        s = self.scale
        return Step(
            "people",
            f"""INSERT INTO actors (id, uri, type, local, username, host, name, url, inbox,
                                    shared_inbox, outbox, followers, following, key_id,
                                    public_key_pem, manually_approves_followers, created_at)
                OVERRIDING SYSTEM VALUE
                SELECT {self._person("n")}, u, 'Person', true, {self._person_name("n")}, $host,
                       ($first::text[])[1 + n % {len(FIRST_NAMES)}] || ' '
                           || ($last::text[])[1 + (n / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}],
                       u, u || '/inbox', $base || '/inbox', u || '/outbox', u || '/followers',
                       u || '/following', u || '#main-key',
                       ($keys::text[])[1 + n % {KEY_PAIRS}], false,
                       {self._time(f"n::float8 / {s.people} * 0.5")}
                FROM (SELECT n, {self._person_uri("n")} AS u
                      FROM generate_series(0, {s.people - 1}) n) p""",
            {"host": self.host, "first": FIRST_NAMES, "last": LAST_NAMES, "keys": public_keys},
        )

    def _groups(self, public_keys: list[str]) -> Step:
        s = self.scale
        theme = f"replace(($themes::text[])[1 + k % {len(THEMES)}], '_', ' ')"
        return Step(
            "groups",
            f"""INSERT INTO actors (id, uri, type, local, username, host, name, summary, url,
                                    inbox, shared_inbox, outbox, followers, following, key_id,
                                    public_key_pem, manually_approves_followers, created_at)
                OVERRIDING SYSTEM VALUE
                SELECT {self.actor_base + s.people} + k, u, 'Group', true, {self._group_name("k")},
                       $host,
                       'Samenwerkruimte ' || {theme} || ' ' || k,
                       'Voor iedereen die werkt aan ' || {theme}
                           || ': kennis delen, vragen stellen en samen documenten maken. '
                           || 'Nieuwe leden stellen zich voor in hun eerste bijdrage.',
                       u, u || '/inbox', $base || '/inbox', u || '/outbox', u || '/followers',
                       u || '/following', u || '#main-key',
                       ($keys::text[])[1 + k % {KEY_PAIRS}], k % 20 >= 16,
                       {self._time(f"k::float8 / {s.groups} * 0.5")}
                FROM (SELECT k, $base || '/groups/' || {self._group_name("k")} AS u
                      FROM generate_series(1, {s.groups}) k) g""",
            {"host": self.host, "themes": THEMES, "keys": public_keys},
        )

    def _remote_actors(self, public_keys: list[str]) -> Step:
        s = self.scale
        document = fill(
            self.t["remote_person"],
            R="u",
            N="'r' || m",
            NAME="name",
            SHARED="'https://' || h || '/inbox'",
        )
        return Step(
            "remote actors",
            f"""INSERT INTO actors (id, uri, type, local, username, host, name, summary, url,
                                    inbox, shared_inbox, outbox, followers, following, key_id,
                                    public_key_pem, document, fetched_at, created_at)
                OVERRIDING SYSTEM VALUE
                SELECT {self._remote("m")}, u, 'Person', false, 'r' || m, h, name, '', u,
                       u || '/inbox', 'https://' || h || '/inbox', u || '/outbox',
                       u || '/followers', u || '/following', u || '#main-key',
                       ($keys::text[])[1 + m % {KEY_PAIRS}], {document}::jsonb, now(),
                       now() - interval '1 year'
                FROM (SELECT m, h, 'https://' || h || '/users/r' || m AS u,
                             ($first::text[])[1 + m % {len(FIRST_NAMES)}] || ' '
                                 || ($last::text[])[1 + (m / 7) % {len(LAST_NAMES)}] AS name
                      FROM (SELECT m, 'social' || (m % {s.remote_hosts}) || '.example' AS h
                            FROM generate_series(0, {s.remote_actors - 1}) m) x) r""",
            {
                "first": FIRST_NAMES,
                "last": LAST_NAMES,
                "keys": public_keys,
            },
        )

    def _plan(self) -> Step:
        """Staging: group sizes (seed_groups) and who posts where (seed_plan, in time order
        `n`; group posts in proportion to group size, written by members; personal posts by
        a skewed few)."""
        s = self.scale
        in_groups = round(s.posts * 0.55)
        return Step(
            "plan",
            f"""
            DROP TABLE IF EXISTS seed_groups, seed_plan;
            CREATE UNLOGGED TABLE seed_groups AS
            SELECT k, {self.actor_base + s.people} + k AS id,
                   $base || '/groups/' || {self._group_name("k")} AS uri,
                   least({s.people},
                         greatest(3, floor({s.largest_group} / power(k, 0.8))))::int AS size,
                   CASE WHEN k % 20 = 19 THEN 'members_only'
                        WHEN k % 20 >= 16 THEN 'closed' ELSE 'open' END AS kind
            FROM generate_series(1, {s.groups}) k;
            ALTER TABLE seed_groups ADD COLUMN remote_size int, ADD COLUMN share float8;
            UPDATE seed_groups SET remote_size = greatest(1, size / 20),
                share = size::float8 / (SELECT sum(size) FROM seed_groups);
            CREATE UNIQUE INDEX ON seed_groups (k);
            ANALYZE seed_groups;
            CREATE UNLOGGED TABLE seed_plan AS
            SELECT row_number() OVER (ORDER BY random()) AS n, k, author
            FROM (SELECT g.k, {self._member("g.k", "i * 31 % g.size")} AS author
                  FROM seed_groups g,
                       generate_series(1, round({in_groups} * g.share)::int) i
                  UNION ALL
                  SELECT NULL, floor({s.people} * power(random(), 2))::int
                  FROM generate_series(1, {s.posts - in_groups})) p""",
        )

    def _post_documents(self) -> Step:
        """seed_posts: each post with its Article's JSON (`tail`, see `obj`)."""
        members_only = "g.kind = 'members_only'"
        values = {
            "K": "x.key",
            "A": "x.author_uri",
            "N": "x.n",
            "TH": "x.theme",
            "T": "x.at",
            "TO": "x.to_",
            "CC": "x.cc",
        }
        person = fill_tail(self.t["person_article"], **values)
        group = fill_tail(self.t["group_article"], AUD=json_string("x.group_uri"), **values)
        return Step(
            "post documents",
            f"""
            DROP TABLE IF EXISTS seed_posts;
            CREATE UNLOGGED TABLE seed_posts AS
            SELECT x.*, CASE WHEN x.group_uri IS NULL THEN {person} ELSE {group} END AS tail
            FROM (SELECT q.n, q.n % 33 = 0 AS draft,
                         (q.n - 0.5) / (SELECT count(*) FROM seed_plan) AS position,
                         g.uri AS group_uri, g.id AS group_id,
                         coalesce(g.kind, 'person') AS kind,
                         substr(md5('post' || q.n), 1, 24) AS key,
                         {self._person_uri("q.author")} AS author_uri,
                         {self._person("q.author")} AS author_id,
                         ($themes::text[])[1 + q.n % {len(THEMES)}] AS theme,
                         {self._iso(self._time("(q.n - 0.5) / (SELECT count(*) FROM seed_plan)"))}
                             AS at,
                         CASE WHEN {members_only} THEN {json_list("g.uri")}
                              ELSE {json_list(PUBLIC_SQL)} END AS to_,
                         CASE WHEN g.k IS NULL
                              THEN {json_list(self._person_uri("q.author") + " || '/followers'")}
                              WHEN {members_only} THEN '[]'
                              ELSE {json_list("g.uri")} END AS cc
                  FROM seed_plan q LEFT JOIN seed_groups g ON g.k = q.k) x;
            CREATE UNIQUE INDEX ON seed_posts (n);
            ANALYZE seed_posts""",
            {"themes": THEMES},
        )

    def _people_rows(self, password_hash: str) -> Step:
        s = self.scale
        return Step(
            "people and group rows",
            f"""
            INSERT INTO people (actor_id, password_hash, is_admin, organisation, job_title)
            SELECT {self._person("n")}, $hash, n = 0, 'Organisatie ' || (n % 300),
                   ($titles::text[])[1 + n % 6]
            FROM generate_series(0, {s.people - 1}) n;
            INSERT INTO groups (actor_id, kind, themes)
            SELECT id, kind, ARRAY[($themes::text[])[1 + k % {len(THEMES)}],
                                   ($themes::text[])[1 + (k * 7) % {len(THEMES)}]]
            FROM seed_groups;
            INSERT INTO group_roles (group_id, actor_id, role)
            SELECT id, {self._person(self._member("k", "0"))}, 'owner' FROM seed_groups
            UNION ALL
            SELECT id, {self._person(self._member("k", "1"))}, 'admin' FROM seed_groups
            WHERE size > 20""",
            {
                "hash": password_hash,
                "themes": THEMES,
                "titles": [
                    "beleidsmedewerker",
                    "adviseur",
                    "projectleider",
                    "jurist",
                    "communicatieadviseur",
                    "data-analist",
                ],
            },
        )

    def _keys(self, rsa_pairs: list[tuple[str, str]], ed_pairs: list[tuple[str, str]]) -> Step:
        """Each local actor's private keys from the pool: the pair its public key came from."""
        s = self.scale
        return Step(
            "keys",
            f"""
            INSERT INTO actor_keys (actor_id, rsa_private_pem, ed25519_private_pem,
                                    ed25519_multibase)
            SELECT {self.actor_base + 1} + i, ($rsa::text[])[1 + x], ($ed::text[])[1 + x],
                   ($multibase::text[])[1 + x]
            FROM (SELECT i, (CASE WHEN i < {s.people} THEN i ELSE i - {s.people} + 1 END)
                                % {KEY_PAIRS} AS x
                  FROM generate_series(0, {s.people + s.groups - 1}) i) k;
            INSERT INTO remote_keys (key_id, actor_id, kind, material)
            SELECT key_id, id, 'rsa', public_key_pem FROM actors
            WHERE id > {self.actor_base + s.people + s.groups} AND NOT local""",
            {
                "rsa": [private for private, _ in rsa_pairs],
                "ed": [private for private, _ in ed_pairs],
                "multibase": [multibase for _, multibase in ed_pairs],
            },
        )

    def _memberships(self) -> Step:
        return Step(
            "memberships",
            f"""
            INSERT INTO follows (follower_id, followed_id, state, created_at)
            SELECT {self._person(self._member("g.k", "j"))}, g.id,
                   CASE WHEN g.kind <> 'open' AND j % 50 = 49 THEN 'pending' ELSE 'accepted' END,
                   {self._time("0.5 + random() * 0.5")}
            FROM seed_groups g, generate_series(0, g.size - 1) j;
            INSERT INTO follows (follower_id, followed_id, state, activity_uri, created_at)
            SELECT a.id, g.id, 'accepted', a.uri || '#follows/' || g.id,
                   {self._time("0.5 + random() * 0.5")}
            FROM seed_groups g, generate_series(0, g.remote_size - 1) j, actors a
            WHERE a.id = {self._remote(self._remote_member("g.k", "j"))}
            ON CONFLICT DO NOTHING""",
        )

    def _person_follows(self) -> Step:
        s = self.scale
        return Step(
            "person follows",
            f"""
            INSERT INTO follows (follower_id, followed_id, state, created_at)
            SELECT {self._person("n")},
                   {self._person(f"n + 1 + floor(({s.people} - 2) * power(random(), 3))::int")},
                   'accepted', {self._time("0.5 + random() * 0.5")}
            FROM generate_series(0, {s.people - 1}) n,
                 generate_series(1, {s.follows_per_person}) j
            ON CONFLICT DO NOTHING""",
        )

    # ------------------------------------------------------------------ blogs

    def _blog_posts(self) -> Step:
        at = self._time("position")
        return Step(
            "blog posts",
            f"""INSERT INTO blog_posts (key, uri, author_id, group_id, state, title, source,
                                        source_type, themes, created_at, updated_at,
                                        published_at)
                SELECT key, $base || '/objects/' || key, author_id, group_id,
                       CASE WHEN draft THEN 'draft' ELSE 'published' END,
                       'Bericht ' || n || ' over ' || theme, $source, 'text/markdown',
                       ARRAY[theme], {at}, {at}, CASE WHEN draft THEN NULL ELSE {at} END
                FROM seed_posts ORDER BY n""",
            {"source": "\n\n".join(PARAGRAPHS[:5])},
        )

    def _articles(self) -> Step:
        document = with_context(ARTICLE_CONTEXT_JSON, "tail")
        return Step(
            "articles",
            f"""INSERT INTO objects (id, uri, type, author_id, local, in_reply_to, group_id,
                                     public, recipients, published, document)
                OVERRIDING SYSTEM VALUE
                SELECT {self._object_id(POSTS, "position")}, $base || '/objects/' || key,
                       'Article', author_id, true, NULL, group_id, kind <> 'members_only',
                       ARRAY(SELECT jsonb_array_elements_text(to_::jsonb || cc::jsonb)
                             ), {self._time("position")}, {document}::jsonb
                FROM seed_posts WHERE NOT draft""",
        )

    def _group_addressing(self, group_uri: str = "group_uri") -> tuple[str, str]:
        """SQL for `to` and `cc` of a group's Announce: public, or only the members."""
        members = json_list(f"{group_uri} || '/followers'")
        return (
            f"CASE WHEN kind = 'members_only' THEN {members} ELSE {json_list(PUBLIC_SQL)} END",
            f"CASE WHEN kind = 'members_only' THEN '[]' ELSE {members} END",
        )

    def _activities_insert(self, rows: str) -> str:
        """INSERT of activity rows (id, doc as JSON text, actor_id, object_uri, public, at)."""
        return f"""
            INSERT INTO activities (id, uri, type, actor_id, object_uri, local, public,
                                    document, published)
            OVERRIDING SYSTEM VALUE
            SELECT id, doc->>'id', doc->>'type', actor_id, object_uri, local, public, doc, at
            FROM (SELECT id, doc::jsonb AS doc, actor_id, object_uri, local, public, at
                  FROM ({rows}) r) a"""

    def _create_and_announce(
        self, prefix: str, author: str, *, counter: str = "n", to: str = "to_", cc: str = "cc"
    ) -> tuple[str, str, str]:
        """A local object's Create by the column `author`, its group's Announce of that Create
        (both as JSON text SQL), and the SQL of the Create's id key; `prefix` keeps each
        stream's ids apart, `counter` is the stream's row number column."""
        create_key = f"substr(md5('{prefix}create' || {counter}), 1, 24)"
        create = envelope("Create", create_key, author, "at", to, cc, obj("tail"))
        group_to, group_cc = self._group_addressing()
        announce = envelope(
            "Announce",
            f"substr(md5('{prefix}announce' || {counter}), 1, 24)",
            "group_uri",
            "at",
            group_to,
            group_cc,
            obj(create),
        )
        return create, announce, create_key

    def _post_activities(self) -> Step:
        """Each post's Create; in a group also the group's Announce of it and, public, the
        bare Announce of the Article."""
        create, announce, create_key = self._create_and_announce("", "author_uri")
        to, cc = self._group_addressing()
        bare = envelope(
            "Announce",
            "substr(md5('bare' || n), 1, 24)",
            "group_uri",
            "at",
            to,
            cc,
            json_string("$base || '/objects/' || key"),
        )
        at = self._time("position")
        public = "kind <> 'members_only'"
        return Step(
            "post activities",
            self._activities_insert(
                f"""SELECT {self._activity_id(POSTS, "position", 0)} AS id,
                           {with_context(ARTICLE_CONTEXT_JSON, create)} AS doc,
                           author_id AS actor_id, $base || '/objects/' || key AS object_uri,
                           true AS local, {public} AS public, {at} AS at
                    FROM seed_posts WHERE NOT draft
                    UNION ALL
                    SELECT {self._activity_id(POSTS, "position", 1)},
                           {with_context(AS_CONTEXT_JSON, announce)}, group_id,
                           $base || '/activities/' || {create_key}, true,
                           {public}, {at}
                    FROM seed_posts WHERE NOT draft AND group_id IS NOT NULL
                    UNION ALL
                    SELECT {self._activity_id(POSTS, "position", 2)},
                           {with_context(AS_CONTEXT_JSON, bare)}, group_id,
                           $base || '/objects/' || key, true, true, {at}
                    FROM seed_posts WHERE NOT draft AND group_id IS NOT NULL
                                      AND kind <> 'members_only'"""
            ),
        )

    # ------------------------------------------------------------------ comments

    def _comment_rows(self, count: int) -> str:
        """`count` comments on published posts (FROM item `c`), in time order (`i`,
        `position`), each shortly after its post, skewed towards a few busy threads."""
        s = self.scale
        published = s.posts - s.posts // 33
        spread = max(1, s.posts // 50)
        return f"""(
            SELECT c.i, c.position, p.n AS parent_n, p.group_id, p.group_uri, p.kind,
                   $base || '/objects/' || p.key AS parent_uri
            FROM (SELECT row_number() OVER (ORDER BY sort) AS i,
                         (row_number() OVER (ORDER BY sort) - 0.5) / {count} AS position, n
                  FROM (SELECT {self._published_post("r")} AS n,
                               {self._published_post("r")} + random() * {spread} AS sort
                        FROM (SELECT 1 + floor({published} * power(random(), 2))::int AS r
                              FROM generate_series(1, {count})) r) t) c
            JOIN seed_posts p ON p.n = c.n
        ) c"""

    def _comments(self) -> Step:
        """Local comments (Notes): seed_comments with their JSON, and their objects."""
        s = self.scale
        note = fill_tail(
            self.t["comment"],
            K="key",
            A="author_uri",
            T="at",
            PARENT=json_string("parent_uri"),
            C=f"($texts::text[])[1 + i % {len(COMMENTS)}]",
            CC=f"CASE WHEN group_uri IS NULL THEN '[]' ELSE {json_list('group_uri')} END",
            AUD=f"CASE WHEN group_uri IS NULL THEN 'null' ELSE {json_list('group_uri')} END",
        )
        return Step(
            "comments",
            f"""
            DROP TABLE IF EXISTS seed_comments;
            CREATE UNLOGGED TABLE seed_comments AS
            SELECT x.*, {note} AS tail FROM (
                SELECT c.*, substr(md5('comment' || c.i), 1, 24) AS key,
                       {self._person("c.i * 7919")} AS author_id,
                       {self._person_uri("c.i * 7919")} AS author_uri,
                       {self._iso(self._time("c.position"))} AS at
                FROM {self._comment_rows(s.local_comments)}) x;
            INSERT INTO objects (id, uri, type, author_id, local, in_reply_to, group_id, public,
                                 recipients, published, document)
            OVERRIDING SYSTEM VALUE
            SELECT {self._object_id(LOCAL_COMMENTS, "position")}, $base || '/objects/' || key,
                   'Note', author_id, true, parent_uri, group_id, true,
                   ARRAY[{PUBLIC_SQL}] || CASE WHEN group_uri IS NULL THEN '{{}}'::text[]
                                               ELSE ARRAY[group_uri] END,
                   {self._time("position")},
                   {with_context(AS_CONTEXT_JSON, "tail")}::jsonb
            FROM seed_comments""",
            {"texts": COMMENTS},
        )

    def _comment_activities(self) -> Step:
        cc = f"CASE WHEN group_uri IS NULL THEN '[]' ELSE {json_list('group_uri')} END"
        create, announce, create_key = self._create_and_announce(
            "c", "author_uri", counter="i", to=json_list(PUBLIC_SQL), cc=cc
        )
        at = self._time("position")
        return Step(
            "comment activities",
            self._activities_insert(
                f"""SELECT {self._activity_id(LOCAL_COMMENTS, "position", 0)} AS id,
                           {with_context(AS_CONTEXT_JSON, create)} AS doc,
                           author_id AS actor_id, $base || '/objects/' || key AS object_uri,
                           true AS local, true AS public, {at} AS at
                    FROM seed_comments
                    UNION ALL
                    SELECT {self._activity_id(LOCAL_COMMENTS, "position", 1)},
                           {with_context(AS_CONTEXT_JSON, announce)}, group_id,
                           $base || '/activities/' || {create_key}, true,
                           kind <> 'members_only', {at}
                    FROM seed_comments WHERE group_id IS NOT NULL"""
            ),
        )

    # ------------------------------------------------------------------ files

    def _files(self) -> Step:
        s = self.scale
        in_groups = round(s.files * 0.8)
        to = (
            f"CASE WHEN group_uri IS NULL THEN {json_list(PUBLIC_SQL)}"
            f" WHEN kind = 'members_only' THEN {json_list('group_uri')}"
            f" ELSE {json_list('group_uri', PUBLIC_SQL)} END"
        )
        cc = json_list("coalesce(group_uri, uploader_uri) || '/followers'")
        document = self.t["document"].replace("987654321", "@SIZE@")
        document = document.replace('"type":"Document"', '"type":"@TYPE@"')
        tail = fill_tail(
            document,
            SIZE="size",
            TYPE="CASE WHEN media_type LIKE 'image/%' THEN 'Image' ELSE 'Document' END",
            K="key",
            NAME="name",
            MT="media_type",
            A="uploader_uri",
            T="at",
            AUD=json_string("group_uri"),
            TO="to_",
            CC="cc",
            DIGEST="'zQm' || substr(sha256, 1, 44)",
        )
        return Step(
            "files",
            f"""
            DROP TABLE IF EXISTS seed_files;
            CREATE UNLOGGED TABLE seed_files AS
            SELECT y.*, {tail} AS tail
            FROM (SELECT x.*, {to} AS to_, {cc} AS cc
                  FROM (SELECT f.*, substr(md5('file' || f.n), 1, 24) AS key,
                               {self._person_uri("f.uploader")} AS uploader_uri,
                               {self._person("f.uploader")} AS uploader_id,
                               {self._iso(self._time("f.position"))} AS at,
                               ($types::text[])[1 + f.n % {len(MEDIA_TYPES)}] AS media_type,
                               'bestand-' || f.n || '.'
                                   || ($extensions::text[])[1 + f.n % {len(MEDIA_TYPES)}]
                                   AS name,
                               md5('file' || f.n) || md5('bytes' || f.n) AS sha256,
                               1000 + (f.n * 7919) % 5000000 AS size
                        FROM (SELECT n, (n - 0.5) / {s.files} AS position, group_id,
                                     group_uri, coalesce(kind, 'person') AS kind, uploader
                              FROM (SELECT row_number() OVER (ORDER BY random()) AS n, u.*
                                    FROM (SELECT g.id AS group_id, g.uri AS group_uri, g.kind,
                                                 {self._member("g.k", "i * 17 % g.size")}
                                                     AS uploader
                                          FROM seed_groups g,
                                               generate_series(
                                                   1, round({in_groups} * g.share)::int) i
                                          UNION ALL
                                          SELECT NULL, NULL, NULL,
                                                 floor({s.people} * power(random(), 2))::int
                                          FROM generate_series(1, {s.files - in_groups})) u
                                   ) r) f) x) y;
            INSERT INTO files (key, local, object_uri, space_id, uploader_id, name, public,
                               created_at, updated_at)
            SELECT key, true, $base || '/objects/' || key, coalesce(group_id, uploader_id),
                   uploader_id, name, kind <> 'members_only', {self._time("position")},
                   {self._time("position")}
            FROM seed_files ORDER BY n;
            INSERT INTO file_versions (file_id, version, name, size, media_type, sha256, stored,
                                       uploader_id, created_at)
            SELECT f.id, 1, s.name, s.size, s.media_type, s.sha256, true, s.uploader_id,
                   f.created_at
            FROM seed_files s JOIN files f ON f.key = s.key;
            INSERT INTO objects (id, uri, type, author_id, local, in_reply_to, group_id, public,
                                 recipients, published, document)
            OVERRIDING SYSTEM VALUE
            SELECT {self._object_id(FILES, "position")}, $base || '/objects/' || key,
                   CASE WHEN media_type LIKE 'image/%' THEN 'Image' ELSE 'Document' END,
                   uploader_id, true, NULL, group_id, kind <> 'members_only',
                   ARRAY(SELECT jsonb_array_elements_text(to_::jsonb || cc::jsonb)),
                   {self._time("position")},
                   {with_context(FILE_CONTEXT_JSON, "tail")}::jsonb
            FROM seed_files""",
            {
                "types": [media for media, _ in MEDIA_TYPES],
                "extensions": [extension for _, extension in MEDIA_TYPES],
            },
        )

    def _file_activities(self) -> Step:
        """The uploader's Create; in a group the group's Announce of it."""
        create, announce, create_key = self._create_and_announce("f", "uploader_uri")
        at = self._time("position")
        public = "kind <> 'members_only'"
        return Step(
            "file activities",
            self._activities_insert(
                f"""SELECT {self._activity_id(FILES, "position", 0)} AS id,
                           {with_context(FILE_CONTEXT_JSON, create)} AS doc,
                           uploader_id AS actor_id, $base || '/objects/' || key AS object_uri,
                           true AS local, {public} AS public, {at} AS at
                    FROM seed_files
                    UNION ALL
                    SELECT {self._activity_id(FILES, "position", 1)},
                           {with_context(FILE_CONTEXT_JSON, announce)}, group_id,
                           $base || '/activities/' || {create_key}, true,
                           {public}, {at}
                    FROM seed_files WHERE group_id IS NOT NULL"""
            ),
        )

    # ------------------------------------------------------------------ remote content

    def _remote_content(self) -> Step:
        """Posts into groups by their remote members and remote comments on local posts:
        their Create(Note) as it arrived (seed_remote.tail, Mastodon-shaped) and objects."""
        s = self.scale
        tail = fill_tail(
            self.t["remote_create"],
            R="a.uri",
            S="x.status",
            T="x.at",
            C=f"($texts::text[])[1 + x.i % {len(COMMENTS)}]",
            PARENT=json_string("x.parent_uri"),
            AUD=json_string("x.group_uri"),
            CC=f"CASE WHEN x.group_uri IS NULL THEN '[]' ELSE {json_list('x.group_uri')} END",
        )
        posts = s.remote_group_posts
        return Step(
            "remote posts and comments",
            f"""
            DROP TABLE IF EXISTS seed_remote;
            CREATE UNLOGGED TABLE seed_remote AS
            SELECT x.*, a.uri AS actor_uri, {tail} AS tail
            FROM (
                SELECT {REMOTE_POSTS} AS stream, i, (i - 0.5) / {posts} AS position,
                       group_id, group_uri, kind, NULL::text AS parent_uri,
                       {self._remote(self._remote_member("k", "i % remote_size"))} AS actor_id,
                       {self._iso(self._time(f"(i - 0.5) / {posts}"))} AS at,
                       'p' || i AS status
                FROM (SELECT row_number() OVER (ORDER BY random()) AS i, g.k, g.id AS group_id,
                             g.uri AS group_uri, g.kind, g.remote_size
                      FROM seed_groups g,
                           generate_series(1, round({posts} * g.share)::int) j) r
                UNION ALL
                SELECT {REMOTE_COMMENTS}, i, position, group_id, group_uri, kind, parent_uri,
                       {self._remote("i * 104729")}, {self._iso(self._time("position"))},
                       'c' || i
                FROM {self._comment_rows(s.remote_comments)}
            ) x JOIN actors a ON a.id = x.actor_id;
            INSERT INTO objects (id, uri, type, author_id, local, in_reply_to, group_id, public,
                                 recipients, published, document)
            OVERRIDING SYSTEM VALUE
            SELECT CASE stream
                     WHEN {REMOTE_POSTS} THEN {self._object_id(REMOTE_POSTS, "position")}
                     ELSE {self._object_id(REMOTE_COMMENTS, "position")} END,
                   note->>'id', 'Note', actor_id, false, parent_uri, group_id, true,
                   ARRAY(SELECT jsonb_array_elements_text(note->'to')
                         UNION ALL SELECT jsonb_array_elements_text(note->'cc')),
                   {self._time("position")}, note
            FROM (SELECT *, ({obj("tail")})::jsonb->'object' AS note FROM seed_remote) r""",
            {"texts": COMMENTS},
        )

    def _remote_announces(self) -> Step:
        """The groups' Announces of what their remote members sent (bare ones of posts)."""
        to, cc = self._group_addressing()
        announce = envelope(
            "Announce",
            "substr(md5('rannounce' || stream || '.' || i), 1, 24)",
            "group_uri",
            "at",
            to,
            cc,
            obj("tail"),
        )
        bare = envelope(
            "Announce",
            "substr(md5('rbare' || i), 1, 24)",
            "group_uri",
            "at",
            to,
            cc,
            json_string("actor_uri || '/statuses/' || status"),
        )
        at = self._time("position")
        return Step(
            "remote content announces",
            self._activities_insert(
                f"""SELECT CASE stream
                             WHEN {REMOTE_POSTS}
                             THEN {self._activity_id(REMOTE_POSTS, "position", 1)}
                             ELSE {self._activity_id(REMOTE_COMMENTS, "position", 1)} END AS id,
                           {with_context(AS_CONTEXT_JSON, announce)} AS doc,
                           group_id AS actor_id,
                           actor_uri || '/statuses/' || status || '/activity' AS object_uri,
                           true AS local, kind <> 'members_only' AS public, {at} AS at
                    FROM seed_remote WHERE group_id IS NOT NULL
                    UNION ALL
                    SELECT {self._activity_id(REMOTE_POSTS, "position", 2)},
                           {with_context(AS_CONTEXT_JSON, bare)}, group_id,
                           actor_uri || '/statuses/' || status, true, true, {at}
                    FROM seed_remote
                    WHERE stream = {REMOTE_POSTS} AND kind <> 'members_only'"""
            ),
        )

    def _reactions(self) -> Step:
        """Remote Likes and Announces of local posts, kept as activities; staged for the
        arrivals step."""
        s = self.scale
        published = s.posts - s.posts // 33
        target = f"1 + floor({published} * power(random(), 2))::int"
        post = "$base || '/objects/' || substr(md5('post' || r.n), 1, 24)"
        like = fill(self.t["like"], R="a.uri", N="r.i", K=post)
        boost = fill(self.t["boost"], R="a.uri", S="'b' || r.i", T="r.at", K=post)
        return Step(
            "reactions",
            f"""
            DROP TABLE IF EXISTS seed_reactions;
            CREATE UNLOGGED TABLE seed_reactions AS
            SELECT r.stream, r.i, r.position, r.actor_id, a.uri AS actor_uri, {post} AS object_uri,
                   CASE r.stream WHEN {LIKES} THEN {like} ELSE {boost} END AS body
            FROM (SELECT stream, i, position, actor_id, {self._published_post("t")} AS n, at
                  FROM (SELECT {LIKES} AS stream, i, (i - 0.5) / {s.likes} AS position,
                               {self._remote("i::bigint * 7919")} AS actor_id, {target} AS t,
                               '' AS at
                        FROM generate_series(1, {s.likes}) i
                        UNION ALL
                        SELECT {BOOSTS}, i, (i - 0.5) / {s.boosts},
                               {self._remote("i::bigint * 104729")}, {target},
                               {self._iso(self._time(f"(i - 0.5) / {s.boosts}"))}
                        FROM generate_series(1, {s.boosts}) i) q) r
            JOIN actors a ON a.id = r.actor_id;
            """
            + self._activities_insert(
                f"""SELECT CASE stream WHEN {LIKES} THEN {self._activity_id(LIKES, "position", 0)}
                                       ELSE {self._activity_id(BOOSTS, "position", 0)} END AS id,
                           body AS doc, actor_id, object_uri, false AS local,
                           stream = {BOOSTS} AS public, {self._time("position")} AS at
                    FROM seed_reactions"""
            ),
        )

    def _arrivals(self) -> list[Step]:
        """Every remote activity received, processed: `remote_activities` in all."""
        s = self.scale
        rest = s.remote_activities - (
            s.remote_comments + s.remote_group_posts + s.likes + s.boosts + s.updates + s.deletes
        )
        update = (
            "jsonb_build_object('@context', body->'@context', 'id', (body->>'id') || '#update',"
            " 'type', 'Update', 'actor', body->'actor', 'to', body->'to',"
            " 'object', body->'object' || jsonb_build_object('updated', body->>'published'))"
        )
        follow = fill(self.t["follow"], R="a.uri", N="g.id", K="g.uri")
        delete = fill(self.t["delete"], R="a.uri", S="'weg' || i")
        undo = fill(self.t["undo"], R="actor_uri", N="i", K="object_uri")
        remote_follows = (
            "(SELECT count(*) FROM follows f JOIN actors a ON a.id = f.follower_id"
            " WHERE NOT a.local)"
        )
        follows = remote_follows
        undos = f"greatest(1, {rest} - {follows})"
        body = with_context(MASTODON_CONTEXT_JSON, "tail")
        insert = """
            INSERT INTO inbox_activities (id, activity_uri, actor_uri, type, body, received_at,
                                          processed_at, outcome)
            OVERRIDING SYSTEM VALUE
            SELECT id, body->>'id', actor_uri, body->>'type', body, at,
                   at + interval '40 milliseconds', outcome
            FROM ({rows}) x"""
        # Two statements, to run on both cores.
        return [
            Step(
                "arrivals: posts, comments, updates",
                insert.format(
                    rows=f"""
                SELECT CASE stream
                         WHEN {REMOTE_POSTS} THEN {self._inbox_id(REMOTE_POSTS, "position")}
                         ELSE {self._inbox_id(REMOTE_COMMENTS, "position")} END AS id,
                       {body}::jsonb AS body, actor_uri, {self._time("position")} AS at,
                       CASE WHEN group_id IS NULL THEN 'stored'
                            ELSE 'relayed by ' || substr(group_uri, length($base) + 9) END
                           AS outcome
                FROM seed_remote
                UNION ALL
                SELECT {self._inbox_id(UPDATES, f"(row_number() OVER () - 0.5) / {s.updates}")},
                       {update}, actor_uri,
                       {self._time(f"(row_number() OVER () - 0.5) / {s.updates}")}, 'updated'
                FROM (SELECT {body}::jsonb AS body, actor_uri FROM seed_remote
                      ORDER BY stream DESC, i LIMIT {s.updates}) u"""
                ),
            ),
            Step(
                "arrivals: reactions, follows, deletes, undos",
                insert.format(
                    rows=f"""
                SELECT CASE stream WHEN {LIKES} THEN {self._inbox_id(LIKES, "position")}
                                   ELSE {self._inbox_id(BOOSTS, "position")} END AS id,
                       body::jsonb AS body, actor_uri, {self._time("position")} AS at,
                       CASE stream WHEN {LIKES} THEN 'liked' ELSE 'announced' END AS outcome
                FROM seed_reactions
                UNION ALL
                SELECT {self._inbox_id(FOLLOWS, f"(row_number() OVER () - 0.5) / {follows}")},
                       {follow}::jsonb, a.uri, f.created_at, 'accepted'
                FROM follows f JOIN actors a ON a.id = f.follower_id
                JOIN actors g ON g.id = f.followed_id WHERE NOT a.local
                UNION ALL
                SELECT {self._inbox_id(DELETES, f"(i - 0.5) / {s.deletes}")}, {delete}::jsonb,
                       a.uri, {self._time(f"(i - 0.5) / {s.deletes}")}, 'nothing to delete'
                FROM generate_series(1, {s.deletes}) i
                JOIN actors a ON a.id = {self._remote("i * 31")}
                UNION ALL
                SELECT {self._inbox_id(UNDOS, f"(i - 0.5) / {undos}")}, {undo}::jsonb,
                       actor_uri, {self._time(f"(i - 0.5) / {undos}")}, 'undone'
                FROM seed_reactions WHERE stream = {LIKES} AND i <= {undos}"""
                ),
            ),
        ]

    def _inbox_items(self) -> Step:
        """Arrivals addressed to a local group are in the group's inbox collection."""
        return Step(
            "inbox items",
            f"""INSERT INTO inbox_items (actor_id, inbox_activity_id)
                SELECT g.id, i.id FROM inbox_activities i
                JOIN actors g
                  ON g.uri = coalesce(i.body->'object'->>'audience', i.body->>'object')
                WHERE g.local AND g.type = 'Group' AND i.type IN ('Create', 'Follow')
                  AND i.id >= {self.inbox_base}
                ON CONFLICT DO NOTHING""",
        )

    def _actor_stats(self) -> Step:
        """The counts the triggers of migration 0012 keep, which the bulk load skipped."""
        return Step("actor stats", "SELECT recount_actor_stats()")

    def _reset_sequences(self) -> Step:
        """Rows the instance makes later get ids above the seeded ones."""
        return Step(
            "sequences",
            """SELECT setval(pg_get_serial_sequence(t, 'id'), m)
               FROM (SELECT 'actors' AS t, (SELECT max(id) FROM actors) AS m
                     UNION ALL SELECT 'objects', (SELECT max(id) FROM objects)
                     UNION ALL SELECT 'activities', (SELECT max(id) FROM activities)
                     UNION ALL SELECT 'inbox_activities', (SELECT max(id) FROM inbox_activities)
                    ) s WHERE m IS NOT NULL""",
        )


async def seed_database(
    dsn: str, base_url: str, factor: float = 1.0, *, seed: float = 0.42, log: Any = print
) -> dict[str, Any]:
    """Seed `dsn` (migrated, unseeded) for the instance at `base_url`; figures of the run."""
    return await Seeder(dsn, base_url, Scale.of(factor), seed, log).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="a migrated, unseeded database")
    parser.add_argument("--base-url", required=True, help="the instance's public URL")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: Pleio's size")
    parser.add_argument("--seed", type=float, default=0.42, help="PostgreSQL setseed value")
    args = parser.parse_args()
    result = asyncio.run(
        seed_database(args.database_url, args.base_url, args.scale, seed=args.seed)
    )
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
