"""Read what other fediverse software sends into ONE internal shape.

Why: Mastodon, Lemmy, Pleroma/Akkoma, PeerTube, Mobilizon, GoToSocial and friends all speak
ActivityStreams 2, but differently: single values or arrays, embedded objects or bare IRIs,
``Public`` / ``as:Public`` / the full IRI, ``url`` as a string, a Link or a list of Links,
``contentMap`` instead of ``content``, ``attributedTo`` as a list (PeerTube: ``[Person, Group]``),
instance-specific ``@context`` documents, missing ``@context``. Code above this module sees only
the shape below and never has to care.

The internal shape
==================

A *node* is a plain ``dict`` keyed by ActivityStreams short names. Every node, top level or
embedded, always has these keys:

=================================  ==========================================================
``id``                             ``str | None``: an absolute IRI (``None``: blank node)
``type``                           ``str | None``: the first of ``types``
``types``                          ``list[str]``: every type, as a short name (``"Note"``,
                                   ``"Hashtag"``) or, for types we have no term for, the full
                                   IRI (``"http://litepub.social/ns#ChatMessage"``)
``actor`` ``object`` ``target``    ``str | dict | None``: an IRI, or an embedded node when the
``inReplyTo`` ``context``          sender embedded one with more than an ``id`` (a list keeps
                                   its first element)
``to`` ``cc`` ``bto`` ``bcc``      ``list[str]``: IRIs, de-duplicated, in order; the public
``audience``                       collection always as ``PUBLIC`` (the full ``#Public`` IRI)
``attributedTo``                   ``list[str]``: IRIs (embedded actors reduced to their ids)
``content`` ``name`` ``summary``   ``str | None``: the untagged value if there is one, else from
                                   the language map: ``und``, then ``en``, then ``nl``, then
                                   the alphabetically first language tag
``url``                            ``str | None``: a string as is; from a list, the ``href`` of
                                   the first Link with ``mediaType`` ``text/html``, else of
                                   the first entry
``tag`` ``attachment``             ``list[dict]``: nodes (a bare IRI becomes a node with only
                                   an ``id``)
=================================  ==========================================================

and these only when the document has them (so ``"sensitive" in node`` means "the sender said"):

* ``contentMap`` ``nameMap`` ``summaryMap``: ``dict[str, str]``, lower-cased language tag to
  text, for language-tagged values (including a ``{"@language": ...}`` default in
  ``@context``, as Pleroma/Akkoma send: their ``content`` lands in ``contentMap["und"]``).
* IRI-or-node, like ``object``: ``origin`` ``instrument`` ``result`` ``location``
  ``generator`` ``partOf`` ``first`` ``last`` ``next`` ``prev`` ``current`` ``replies``
  ``likes`` ``shares`` ``preview`` ``publicKey`` ``endpoints`` ``source``.
* IRI only (an embedded object is reduced to its ``id``): ``inbox`` ``outbox`` ``followers``
  ``following`` ``liked`` ``featured`` ``featuredTags`` ``movedTo`` ``moderators`` ``owner``
  ``href`` ``sharedInbox``; ``alsoKnownAs`` as ``list[str]``.
* Lists of nodes: ``icon`` ``image``; lists of IRIs-or-nodes: ``items`` ``orderedItems``
  ``oneOf`` ``anyOf``.
* Plain values passed through as given (ISO date strings stay strings): ``published``
  ``updated`` ``startTime`` ``endTime`` ``duration`` ``deleted`` ``closed`` ``mediaType``
  ``sensitive`` ``preferredUsername`` ``manuallyApprovesFollowers`` ``discoverable``
  ``indexable`` ``postingRestrictedToMods`` ``totalItems`` ``width`` ``height`` ``blurhash``
  ``votersCount`` ``hreflang`` ``publicKeyPem`` ``value``; ``focalPoint`` as a list.

Every other key is **dropped**. There is no ``extra``: what a key means depends on the sender's
``@context``, so an ``extra`` bag would carry exactly the ambiguity this module removes. Keep
the raw document if you need more (and to verify signatures, which must see the raw bytes).

A term counts only if the sender's ``@context`` gives it the meaning we give it (the
ActivityStreams context, security v1 and the usual Mastodon/Lemmy extension terms, see
:data:`COMPACTION_CONTEXT`). A ``sensitive`` that the sender never defined is dropped, as
JSON-LD says it must be. Types the sender never defined keep their bare name (the
ActivityStreams context's ``"@vocab": "_:"`` exists for exactly that).

Two paths, one result
=====================

:func:`normalize_full` is the reference: PyLD expands the document with the offline loader
(:mod:`federatie.activitypub.jsonld`), compacts it against :data:`COMPACTION_CONTEXT`, and the
result is shaped. It costs milliseconds. :func:`normalize_fast` reads the compact document
directly; it asks PyLD only to process each *distinct* ``@context`` once (cached) and compares
the sender's term definitions with ours, so it knows which keys mean what we think. Whatever it
cannot reproduce exactly (a key with our meaning under another name, value objects, nested
``@context``, compact-IRI keys or values, ...) makes it give up with
:class:`FastPathUnsupported`. :func:`normalize` takes the fast path unless the sender redefines
a core ActivityStreams term, and falls back to the full path whenever the fast path gives up.
Tests assert both paths agree on every fixture in ``tests/unit/payloads/``.

Quirks handled on both paths: a missing ``@context`` is read as ActivityStreams (Pleroma and
others omit it on embedded and sometimes on top-level objects); IRIs written ``as:...`` where
the sender never defined the ``as`` prefix are read as ActivityStreams IRIs (Lemmy's
``https://join-lemmy.org/context.json`` uses ``as:sensitive`` before the ActivityStreams
context is in scope; lemmy#5073); ``Public`` and ``as:Public`` (Pleroma) and the ``http://``
spelling of the public IRI all mean :data:`PUBLIC`.

Bad documents raise :class:`~federatie.errors.BadRequest`: not a JSON object, no ``type``, a
non-string ``type``, an ``id`` or IRI that is not an absolute IRI, invalid JSON-LD. The fast
path does not validate parts of a document it does not read.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from pyld import jsonld as _pyld

from federatie.activitypub import jsonld
from federatie.errors import BadRequest

__all__ = [
    "AS_CONTEXT",
    "COMPACTION_CONTEXT",
    "PUBLIC",
    "FastPathUnsupported",
    "id_of",
    "normalize",
    "normalize_fast",
    "normalize_full",
]

log = logging.getLogger(__name__)

AS_CONTEXT: Final = "https://www.w3.org/ns/activitystreams"
AS_NS: Final = "https://www.w3.org/ns/activitystreams#"
PUBLIC: Final = AS_NS + "Public"
_PUBLIC_ALIASES: Final = frozenset(
    {PUBLIC, "as:Public", "Public", "http://www.w3.org/ns/activitystreams#Public"}
)

# Extension terms, defined exactly as Mastodon (and Lemmy, for the lemmy: ones) define them,
# so that their documents agree with ours term for term and take the fast path.
_EXTENSION_TERMS: Final[dict[str, Any]] = {
    "toot": "http://joinmastodon.org/ns#",
    "schema": "http://schema.org#",
    "lemmy": "https://join-lemmy.org/ns#",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "Emoji": "toot:Emoji",
    "blurhash": "toot:blurhash",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "votersCount": "toot:votersCount",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "moderators": {"@type": "@id", "@id": "lemmy:moderators"},
    "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
}

COMPACTION_CONTEXT: Final[list[Any]] = [
    AS_CONTEXT,
    "https://w3id.org/security/v1",
    _EXTENSION_TERMS,
]
"""The context the full path compacts against: the meaning of every key of the shape."""

_CORE_REFS: Final = ("actor", "object", "target", "inReplyTo", "context")
_AUDIENCE: Final = ("to", "cc", "bto", "bcc", "audience")
_EXTRA_REFS: Final = frozenset(
    {
        "origin",
        "instrument",
        "result",
        "location",
        "generator",
        "partOf",
        "first",
        "last",
        "next",
        "prev",
        "current",
        "replies",
        "likes",
        "shares",
        "preview",
        "publicKey",
        "endpoints",
        "source",
    }
)
_IRI_ONLY: Final = frozenset(
    {
        "inbox",
        "outbox",
        "followers",
        "following",
        "liked",
        "featured",
        "featuredTags",
        "movedTo",
        "moderators",
        "owner",
        "href",
        "sharedInbox",
    }
)
_IRI_LISTS: Final = frozenset({"attributedTo", "alsoKnownAs"})
_NODE_LISTS: Final = frozenset({"tag", "attachment", "icon", "image"})
_REF_LISTS: Final = frozenset({"items", "orderedItems", "oneOf", "anyOf"})
_LITERALS: Final = frozenset(
    {
        "published",
        "updated",
        "startTime",
        "endTime",
        "duration",
        "deleted",
        "closed",
        "mediaType",
        "sensitive",
        "preferredUsername",
        "manuallyApprovesFollowers",
        "discoverable",
        "indexable",
        "postingRestrictedToMods",
        "totalItems",
        "width",
        "height",
        "blurhash",
        "votersCount",
        "hreflang",
        "publicKeyPem",
        "value",
    }
)
_LITERAL_LISTS: Final = frozenset({"focalPoint"})
_TEXTS: Final = ("content", "name", "summary")
_TEXT_KEYS: Final = frozenset(_TEXTS) | {t + "Map" for t in _TEXTS}

KEPT: Final = frozenset(
    {"id", "type", "url", *_CORE_REFS, *_AUDIENCE}
    | _EXTRA_REFS
    | _IRI_ONLY
    | _IRI_LISTS
    | _NODE_LISTS
    | _REF_LISTS
    | _LITERALS
    | _LITERAL_LISTS
    | _TEXT_KEYS
)
"""Every key the shape reads (compact names in :data:`COMPACTION_CONTEXT`)."""

# Redefining one of these sends the whole document down the full path.
_CORE_TERMS: Final = frozenset(
    {"id", "type", "url", "href", "tag", "attachment", "published", "updated"}
    | set(_CORE_REFS)
    | set(_AUDIENCE)
    | {"attributedTo"}
    | _TEXT_KEYS
)

MAX_DEPTH: Final = 24
"""Deeper nesting is refused: no legitimate activity needs it, and recursion has a limit."""

_ABSOLUTE_IRI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S*\Z")
_PREFERRED_LANGUAGES: Final = ("und", "en", "nl")
_MISSING: Final = object()


class FastPathUnsupported(Exception):
    """The fast path cannot reproduce PyLD's reading of this document; use the full path."""


# --------------------------------------------------------------------------------------------
# Shared helpers


def _fix_as_iri(iri: str) -> str:
    """``as:x`` where ``as`` was never defined means the ActivityStreams term (Lemmy quirk)."""
    if iri.startswith("as:") and not iri.startswith("as://"):
        return AS_NS + iri[3:]
    return iri


def _many(value: Any) -> list[Any]:
    """A value as a list: None -> [], nested lists flattened (as JSON-LD does), None dropped."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    for item in value:
        if isinstance(item, list):
            out.extend(x for x in _many(item))
        elif item is not None:
            out.append(item)
    return out


def _one(value: Any) -> Any:
    items = _many(value)
    return items[0] if items else None


def _pick_language(texts: Mapping[str, str]) -> str | None:
    for lang in _PREFERRED_LANGUAGES:
        if lang in texts:
            return texts[lang]
    if texts:
        return texts[min(texts)]
    return None


def id_of(value: Any) -> str | None:
    """The IRI a normalised value stands for: the string itself, or a node's ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    return None


# --------------------------------------------------------------------------------------------
# Readers: how keys, types, IRIs and values are read. The two paths differ only here.


class _Reader:
    """The full path's reader: the document is already compacted against our context."""

    language: str | None = None

    def keys(self, node: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in node.items() if k in KEPT and v is not None}

    def type_name(self, value: str) -> str:
        return value

    def iri(self, value: str) -> str:
        # Compaction may have written an IRI with one of our prefixes (as:Public, toot:...).
        prefix, sep, rest = value.partition(":")
        if sep and not rest.startswith("//"):
            namespace = _ours().prefixes.get(prefix)
            if namespace is not None:
                return namespace + rest
        return value

    def value_object(self, value: Any) -> None:
        """Called on a JSON-LD value we read only after PyLD: the full path accepts it."""

    def not_an_iri(self, value: Any, what: str) -> None:
        """Called on a non-string where an IRI belongs (raises)."""
        raise BadRequest(f"{what}: expected an IRI, got {type(value).__name__}")


class _FastReader(_Reader):
    """Reads the sender's compact form through a :class:`_Plan` of its ``@context``."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.language = plan.language

    def keys(self, node: Mapping[str, Any]) -> dict[str, Any]:
        plan = self.plan
        out: dict[str, Any] = {}
        for key, value in node.items():
            if value is None:
                continue  # JSON-LD null: the key is absent
            name = plan.keys.get(key)
            if name is None:
                if key in ("@id", "@type"):
                    name = key[1:]
                elif key.startswith("@") or key in plan.bail:
                    raise FastPathUnsupported(f"key {key!r}")
                elif ":" in key:
                    if plan.expand(key) in _ours().kept_iris:
                        raise FastPathUnsupported(f"compact IRI key {key!r}")
                    continue
                else:
                    continue  # undefined or foreign term: JSON-LD drops it too
            if name in out:
                raise FastPathUnsupported(f"two keys for {name!r}")
            out[name] = value
        return out

    def type_name(self, value: str) -> str:
        plan = self.plan
        cached = plan.type_names.get(value)
        if cached is not None:
            return cached
        definition = plan.mappings.get(value, _MISSING)
        if definition is None or (isinstance(definition, Mapping) and "@context" in definition):
            raise FastPathUnsupported(f"type {value!r} is null or has a scoped context")
        iri = plan.expand(value)
        if iri.startswith("@"):
            raise FastPathUnsupported(f"type {value!r} is a keyword alias")
        name = _our_type_name(iri)
        if len(plan.type_names) < _TYPE_CACHE_MAX:
            plan.type_names[value] = name
        return name

    def iri(self, value: str) -> str:
        if value.startswith(("https://", "http://")) or value in _PUBLIC_ALIASES:
            return value
        raise FastPathUnsupported(f"IRI {value[:60]!r} needs JSON-LD IRI expansion")

    def value_object(self, value: Any) -> None:
        raise FastPathUnsupported("value object or malformed value")

    def not_an_iri(self, value: Any, what: str) -> None:
        # JSON-LD reads a number where an IRI belongs as a literal under another key, which
        # the shape drops; only the full path can tell exactly.
        raise FastPathUnsupported(f"{what}: literal where an IRI belongs")


# --------------------------------------------------------------------------------------------
# The shape, from a reader's view of a node


def _to_iri(value: Any, r: _Reader, what: str) -> str:
    if not isinstance(value, str):
        r.not_an_iri(value, what)
        raise BadRequest(f"{what}: expected an IRI, got {type(value).__name__}")
    iri = r.iri(value)
    if iri in _PUBLIC_ALIASES:
        return PUBLIC
    if iri.startswith("_:") or not _ABSOLUTE_IRI.match(iri):
        raise BadRequest(f"{what}: not an absolute IRI: {iri[:100]!r}")
    return iri


def _skeleton() -> dict[str, Any]:
    return {
        "id": None,
        "type": None,
        "types": [],
        "actor": None,
        "object": None,
        "target": None,
        "inReplyTo": None,
        "context": None,
        "to": [],
        "cc": [],
        "bto": [],
        "bcc": [],
        "audience": [],
        "attributedTo": [],
        "content": None,
        "name": None,
        "summary": None,
        "url": None,
        "tag": [],
        "attachment": [],
    }


def _ref(value: Any, r: _Reader, depth: int, what: str) -> str | dict[str, Any] | None:
    """An IRI, or an embedded node; a node with nothing but an ``id`` is just its IRI."""
    item = _one(value)
    if item is None:
        return None
    if isinstance(item, str):
        if r.language and what in _ours().literal_keys:
            r.value_object(item)  # a language-tagged literal on the full path, not an IRI
        return _to_iri(item, r, what)
    if isinstance(item, dict):
        if "@value" in item:
            r.value_object(item)
            return None  # a literal where a reference belongs is not a reference
        view = r.keys(item)
        if not view:
            return None
        if view.keys() == {"id"}:
            return _to_iri(view["id"], r, what)
        return _shape_view(view, r, depth + 1)
    r.not_an_iri(item, what)
    raise BadRequest(f"{what}: expected an IRI or an object, got {type(item).__name__}")


def _iri_list(value: Any, r: _Reader, depth: int, what: str) -> list[str]:
    out: list[str] = []
    for item in _many(value):
        ref = _ref(item, r, depth, what)
        iri = id_of(ref)
        if iri is not None and iri not in out:
            out.append(iri)
    return out


def _ref_list(value: Any, r: _Reader, depth: int, what: str) -> list[str | dict[str, Any]]:
    out: list[str | dict[str, Any]] = []
    for item in _many(value):
        ref = _ref(item, r, depth, what)
        if ref is not None:
            out.append(ref)
    return out


def _node_list(value: Any, r: _Reader, depth: int, what: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in _many(value):
        ref = _ref(item, r, depth, what)
        if isinstance(ref, str):
            node = _skeleton()
            node["id"] = ref
            out.append(node)
        elif ref is not None:
            out.append(ref)
    return out


def _literal(value: Any, r: _Reader) -> Any:
    item = _one(value)
    if isinstance(item, dict):
        r.value_object(item)  # the fast path leaves every object here to PyLD
        if "@value" in item:
            return item["@value"]
        return None  # an object where a plain value belongs: nothing we can use
    return item


def _texts(view: Mapping[str, Any], base: str, r: _Reader) -> tuple[str | None, dict[str, str]]:
    """The plain text and the language map of ``content``/``name``/``summary``."""
    plain: list[str] = []
    tagged: dict[str, str] = {}
    for item in _many(view.get(base)):
        if isinstance(item, str):
            if r.language:
                tagged.setdefault(r.language, item)
            else:
                plain.append(item)
        elif isinstance(item, dict):
            r.value_object(item)
            text, lang = item.get("@value"), item.get("@language")
            if isinstance(text, str):
                if isinstance(lang, str):
                    tagged.setdefault(lang.lower(), text)
                else:
                    plain.append(text)
    language_map = view.get(base + "Map")
    if isinstance(language_map, dict):
        for lang, values in language_map.items():
            for item in _many(values):
                if not isinstance(item, str):
                    r.value_object(item)  # only PyLD knows; on the full path it cannot happen
                    continue
                if lang == "@none":
                    plain.append(item)
                else:
                    tagged.setdefault(lang.lower(), item)
    elif language_map is not None:
        r.value_object(language_map)  # not a language map: JSON-LD decides what it is
    return (plain[0] if plain else _pick_language(tagged)), tagged


def _url(value: Any, r: _Reader, depth: int) -> str | None:
    refs = _ref_list(value, r, depth, "url")
    if not refs:
        return None
    chosen = refs[0]
    for ref in refs:
        if isinstance(ref, dict) and ref.get("mediaType") == "text/html":
            chosen = ref
            break
    if isinstance(chosen, dict):
        href = chosen.get("href")
        return href if isinstance(href, str) else chosen["id"]
    return chosen


def _shape_view(view: Mapping[str, Any], r: _Reader, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise BadRequest(f"document nested deeper than {MAX_DEPTH} levels")
    out = _skeleton()
    ident = view.get("id")
    if ident is not None:
        out["id"] = _to_iri(ident, r, "id")
    types: list[str] = []
    for value in _many(view.get("type")):
        if not isinstance(value, str):
            raise BadRequest(f"type: expected a string, got {type(value).__name__}")
        name = r.type_name(value)
        if name.startswith("_:"):  # a type the sender did not define: keep its bare name
            name = name[2:]
        if name not in types:
            types.append(name)
    out["types"] = types
    out["type"] = types[0] if types else None
    for key, value in view.items():
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(out, key, value, r, depth)
    for base in _TEXTS:
        if base in view or base + "Map" in view:
            text, language_map = _texts(view, base, r)
            out[base] = text
            if language_map:
                out[base + "Map"] = language_map
    return out


_Handler = Callable[[dict[str, Any], str, Any, _Reader, int], None]


def _h_core_ref(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    out[key] = _ref(value, r, depth, key)


def _h_extra_ref(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    ref = _ref(value, r, depth, key)
    if ref is not None:
        out[key] = ref


def _h_iri_only(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    iri = id_of(_ref(value, r, depth, key))
    if iri is not None:
        out[key] = iri


def _h_audience(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    out[key] = _iri_list(value, r, depth, key)


def _h_iri_list(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    iris = _iri_list(value, r, depth, key)
    if iris or key == "attributedTo":
        out[key] = iris


def _h_node_list(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    nodes = _node_list(value, r, depth, key)
    if nodes or key in ("tag", "attachment"):
        out[key] = nodes


def _h_ref_list(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    refs = _ref_list(value, r, depth, key)
    if refs:
        out[key] = refs


def _h_literal(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    literal = _literal(value, r)
    if literal is not None:
        out[key] = literal


def _h_literal_list(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    items = [_literal(item, r) for item in _many(value)]
    items = [item for item in items if item is not None]
    if items:
        out[key] = items


def _h_url(out: dict[str, Any], key: str, value: Any, r: _Reader, depth: int) -> None:
    out["url"] = _url(value, r, depth)


_HANDLERS: Final[dict[str, _Handler]] = {
    "url": _h_url,
    **dict.fromkeys(_CORE_REFS, _h_core_ref),
    **dict.fromkeys(_AUDIENCE, _h_audience),
    **dict.fromkeys(_EXTRA_REFS, _h_extra_ref),
    **dict.fromkeys(_IRI_ONLY, _h_iri_only),
    **dict.fromkeys(_IRI_LISTS, _h_iri_list),
    **dict.fromkeys(_NODE_LISTS, _h_node_list),
    **dict.fromkeys(_REF_LISTS, _h_ref_list),
    **dict.fromkeys(_LITERALS, _h_literal),
    **dict.fromkeys(_LITERAL_LISTS, _h_literal_list),
}


def _shape_top(doc: Mapping[str, Any], r: _Reader) -> dict[str, Any]:
    view = r.keys({k: v for k, v in doc.items() if k != "@context"})
    node = _shape_view(view, r, 0)
    if node["type"] is None:
        raise BadRequest("the document has no type")
    return node


def _check_object(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict):
        return doc
    if not isinstance(doc, Mapping):
        raise BadRequest("an ActivityStreams document must be a JSON object")
    return dict(doc)


# --------------------------------------------------------------------------------------------
# Our own processed context, and plans for senders' contexts


def _process_context(ctx: Any) -> Any:
    processor = _pyld.JsonLdProcessor()
    options = {
        "documentLoader": jsonld.lenient_document_loader,
        "base": None,
        "processingMode": "json-ld-1.1",
    }
    initial = processor.process_context(None, None, options)
    return processor.process_context(initial, ctx, options)


def _signature(definition: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a term definition means, for comparing the sender's with ours."""
    iri = definition.get("@id")
    if isinstance(iri, str):
        iri = _fix_as_iri(iri)
    container = definition.get("@container") or ()
    return (
        iri,
        definition.get("@type"),
        tuple(sorted(container)),
        definition.get("@language", _MISSING),
        definition.get("@direction", _MISSING),
        definition.get("@index"),
        definition.get("@nest"),
        bool(definition.get("reverse")),
        # A scoped context never compares equal: we cannot tell what it changes.
        object() if "@context" in definition else None,
    )


@dataclass(frozen=True, slots=True)
class _OurContext:
    signatures: dict[str, tuple[Any, ...]]
    kept_iris: frozenset[str]
    prefixes: dict[str, str]
    vocab: str | None
    literal_keys: frozenset[str]  # kept keys whose strings are literals, not IRIs


@functools.cache
def _ours() -> _OurContext:
    active = _process_context(COMPACTION_CONTEXT)
    mappings = active["mappings"]
    missing = sorted(k for k in KEPT if not mappings.get(k))
    if missing:
        raise RuntimeError(f"COMPACTION_CONTEXT does not define {missing}")
    signatures = {k: _signature(mappings[k]) for k in KEPT}
    kept_iris = frozenset(
        sig[0] for k, sig in signatures.items() if k not in ("id", "type") and sig[0]
    )
    prefixes = {
        term: d["@id"] for term, d in mappings.items() if d and d.get("_prefix") and "@id" in d
    }
    literal_keys = frozenset(k for k, sig in signatures.items() if sig[1] != "@id")
    return _OurContext(signatures, kept_iris, prefixes, active.get("@vocab"), literal_keys)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path needs to know about one sender ``@context``."""

    keys: dict[str, str]  # sender key -> our key, where the definitions agree
    bail: frozenset[str]  # keys whose values only PyLD can place
    mappings: Mapping[str, Any]  # the sender's processed term definitions
    vocab: str | None
    language: str | None
    redefines_core: bool  # a core term means something else: prefer the full path
    usable: str | None  # None, or why the fast path cannot read this context at all
    type_names: dict[str, str] = field(default_factory=dict)  # sender type -> our name

    def expand(self, value: str) -> str:
        """A term, compact IRI or IRI as PyLD would expand it (vocab-relative)."""
        definition = self.mappings.get(value)
        if isinstance(definition, Mapping) and isinstance(definition.get("@id"), str):
            return _fix_as_iri(definition["@id"])
        prefix, sep, suffix = value.partition(":")
        if sep:
            if prefix == "_" or suffix.startswith("//"):
                return value
            prefix_definition = self.mappings.get(prefix)
            if isinstance(prefix_definition, Mapping) and prefix_definition.get("_prefix"):
                return _fix_as_iri(str(prefix_definition["@id"]) + suffix)
            return _fix_as_iri(value)
        if self.vocab is not None:
            return self.vocab + value
        return value


def _build_plan(ctx: Any) -> _Plan:
    try:
        active = _process_context(ctx)
    except Exception as exc:  # any failure: the full path reports it properly
        raise FastPathUnsupported("context does not process") from exc
    ours = _ours()
    mappings: Mapping[str, Any] = active["mappings"]
    usable: str | None = None
    if active.get("@vocab") not in (None, ours.vocab):
        usable = f"@vocab {active.get('@vocab')!r}"
    elif "@base" in active or "@direction" in active:
        usable = "@base or @direction"
    elif any(mappings.get(s) for s in ("http", "https")):
        usable = "redefines http/https"
    keys: dict[str, str] = {}
    bail: set[str] = set()
    redefines_core = False
    for term, definition in mappings.items():
        if not definition:
            continue  # null-defined: the term is undefined, JSON-LD drops it
        if term in ("id", "type"):
            if definition.get("@id") == "@" + term and not definition.get("@container"):
                keys[term] = term
            else:
                redefines_core = True
                bail.add(term)
            continue
        iri = definition.get("@id")
        if isinstance(iri, str) and iri.startswith("@"):
            bail.add(term)  # another alias of a keyword
            continue
        signature = _signature(definition)
        if term in KEPT:
            if signature == ours.signatures[term]:
                keys[term] = term
                continue
            redefines_core = redefines_core or term in _CORE_TERMS
            if signature[0] in ours.kept_iris:
                bail.add(term)
            # else: our name for a foreign property; compaction can never map it back to a
            # key we keep, so dropping it is what the full path does too.
        elif signature[0] in ours.kept_iris:
            bail.add(term)  # one of our properties under another name
    for term in ("id", "type"):
        if term not in keys and term not in bail:
            usable = usable or f"{term!r} is not an alias of @{term}"
    language = active.get("@language")
    return _Plan(
        keys=keys,
        bail=frozenset(bail),
        mappings=mappings,
        vocab=active.get("@vocab"),
        language=language.lower() if isinstance(language, str) else None,
        redefines_core=redefines_core,
        usable=usable,
    )


_PLAN_CACHE_MAX: Final = 512
_TYPE_CACHE_MAX: Final = 256
_plans: dict[bytes, _Plan] = {}


def _plan_for(ctx: Any) -> _Plan:
    try:
        key = orjson.dumps(ctx, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise FastPathUnsupported("context is not plain JSON") from exc
    plan = _plans.get(key)
    if plan is None:
        plan = _build_plan(ctx)
        if len(_plans) >= _PLAN_CACHE_MAX:
            _plans.clear()  # strangers can send endless distinct contexts: stay bounded
        _plans[key] = plan
    return plan


@functools.lru_cache(maxsize=4096)
def _our_type_name(iri: str) -> str:
    """How compaction against our context writes the type ``iri`` (asked of PyLD, once)."""
    try:
        compacted = jsonld.compact({"@type": [iri]}, COMPACTION_CONTEXT)
    except jsonld.JsonLdError as exc:  # e.g. an IRI confused with one of our prefixes
        raise FastPathUnsupported(f"type {iri!r} does not compact") from exc
    name = compacted.get("type")
    if not isinstance(name, str):
        raise FastPathUnsupported(f"type {iri!r} does not compact to one string")
    return name


# --------------------------------------------------------------------------------------------
# The two paths


def _context_of(doc: Mapping[str, Any]) -> Any:
    # No @context at all: read as ActivityStreams (Pleroma and others omit it).
    return doc.get("@context", AS_CONTEXT)


def normalize_fast(doc: Any) -> dict[str, Any]:
    """The fast path alone; raises :class:`FastPathUnsupported` where it cannot be exact."""
    doc = _check_object(doc)
    plan = _plan_for(_context_of(doc))
    if plan.usable is not None:
        raise FastPathUnsupported(plan.usable)
    return _shape_top(doc, _FastReader(plan))


def _fix_expanded(value: Any) -> Any:
    """Rewrite undefined-prefix ``as:`` IRIs in expanded JSON-LD (Lemmy quirk, see above)."""
    if isinstance(value, list):
        return [_fix_expanded(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@value":
            out[key] = item
            continue
        if key == "@id" and isinstance(item, str):
            fixed: Any = _fix_as_iri(item)
        elif key == "@type":
            fixed = [_fix_as_iri(t) if isinstance(t, str) else t for t in _many(item)]
            if isinstance(item, str):
                fixed = fixed[0]
        else:
            fixed = _fix_expanded(item)
        name = _fix_as_iri(key) if key.startswith("as:") else key
        if name in out and isinstance(out[name], list) and isinstance(fixed, list):
            out[name] = out[name] + fixed
        else:
            out[name] = fixed
    return out


_FULL_READER: Final = _Reader()


def normalize_full(doc: Any) -> dict[str, Any]:
    """The reference path: PyLD expand (offline) -> compact against our context -> shape."""
    doc = _check_object(doc)
    source = dict(doc)
    source.setdefault("@context", AS_CONTEXT)
    try:
        expanded = _fix_expanded(jsonld.expand(source))
        compacted = jsonld.compact(expanded, COMPACTION_CONTEXT)
    except jsonld.JsonLdError as exc:
        raise BadRequest(f"invalid JSON-LD: {exc.args[0] if exc.args else exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # PyLD lets some malformed input through to Python errors (a dict where an IRI
        # belongs inside a term definition, a relative @context URL without a base).
        raise BadRequest(f"invalid JSON-LD: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("document nested too deeply") from exc
    compacted.pop("@context", None)
    return _shape_top(compacted, _FULL_READER)


def normalize(doc: Any) -> dict[str, Any]:
    """Normalise an incoming ActivityStreams document to the internal shape (module docstring).

    Takes the fast path when the sender's context agrees with ours on every core term, and the
    full PyLD path otherwise or whenever the fast path cannot be exact.
    """
    doc = _check_object(doc)
    try:
        plan = _plan_for(_context_of(doc))
        if plan.usable is None and not plan.redefines_core:
            return _shape_top(doc, _FastReader(plan))
    except FastPathUnsupported as why:
        log.debug("full JSON-LD path: %s", why)
    return normalize_full(doc)
