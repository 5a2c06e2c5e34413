"""JSON-LD without the network: bundled contexts, an offline document loader, thin PyLD wrappers.

PyLD's default document loader fetches every remote ``@context`` URL a document names. For an
inbox that reads documents from strangers that is a server-side request forgery hole (and a
latency and availability hazard), so this module replaces it:

* The contexts the fediverse actually uses are shipped as files in ``schemas/jsonld/`` and
  listed in ``schemas/jsonld/index.json`` (URL -> file). They are parsed once and kept in memory.
* :func:`offline_document_loader` serves only those, and raises PyLD's ``JsonLdError`` for any
  other URL. It never opens a socket. :func:`install_offline_loader` makes it PyLD's global
  default, and importing this module does so: a module-level side effect, on purpose, so that
  *any* code in the process that calls ``pyld.jsonld`` directly is safe by default rather than
  safe only if someone remembered a set-up call. It is idempotent and only swaps a function.
* :func:`expand` and :func:`compact`, the wrappers the rest of Federatie uses on payloads, are
  lenient about *unknown* context URLs: such a URL is treated as an empty context and logged.
  Pleroma/Akkoma, Mobilizon, GoToSocial and others name instance- or project-specific context
  URLs; refusing them would break federation with those servers, and fetching them is exactly
  the SSRF we are avoiding. Terms those contexts would have defined stay undefined: with the
  ActivityStreams ``"@vocab": "_:"`` they survive expansion as blank-node properties and come
  back under their bare names on compaction, i.e. they behave as plain JSON keys.

Pleroma and Akkoma name ``https://<their host>/schemas/litepub-0.1.jsonld``, a file every such
instance serves from the same source tree; that pattern is answered with our copy of Pleroma's
file rather than treated as empty, so Pleroma's ``sensitive``/``Hashtag``/``Emoji`` keep meaning.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pyld import jsonld as _pyld

from federatie.paths import SCHEMAS_DIR_ENV, schemas_dir

__all__ = [
    "SCHEMAS_DIR_ENV",
    "JsonLdError",
    "compact",
    "contexts_dir",
    "expand",
    "install_offline_loader",
    "known_context",
    "known_context_urls",
    "lenient_document_loader",
    "offline_document_loader",
    "schemas_dir",
]

log = logging.getLogger(__name__)

JsonLdError = _pyld.JsonLdError
"""PyLD's error type, re-exported so callers need not import ``pyld`` themselves."""


# Pleroma/Akkoma: every instance names its own copy of the same file.
_PLEROMA_LITEPUB_RE: Final = re.compile(r"\Ahttps?://[^/\s?#]+/schemas/litepub-0\.1\.jsonld\Z")
_PLEROMA_LITEPUB_FILE: Final = "pleroma-litepub-0.1.jsonld"

_CONTENT_TYPE: Final = "application/ld+json"
_MAX_LOGGED_UNKNOWN: Final = 1024

_lock = threading.Lock()
_bundle: dict[str, Any] | None = None
_logged_unknown: set[str] = set()


def contexts_dir() -> Path:
    """The directory holding the bundled ``*.jsonld`` context files and ``index.json``."""
    return schemas_dir() / "jsonld"


def _load_bundle() -> dict[str, Any]:
    """Parse ``index.json`` and every context file it names, once per process."""
    global _bundle  # noqa: PLW0603 - a load-once cache
    if _bundle is not None:
        return _bundle
    with _lock:
        if _bundle is not None:
            return _bundle
        directory = contexts_dir()
        index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            raise ValueError(f"{directory / 'index.json'} must map context URLs to file names")
        parsed: dict[str, Any] = {}
        docs: dict[str, Any] = {}
        for url, name in {**index, "pleroma-litepub": _PLEROMA_LITEPUB_FILE}.items():
            if name not in parsed:
                parsed[name] = json.loads((directory / name).read_text(encoding="utf-8"))
            docs[url] = parsed[name]
        _bundle = docs
        return docs


def clear_cache() -> None:
    """Forget the parsed contexts (tests that point ``FEDERATIE_SCHEMAS_DIR`` elsewhere)."""
    global _bundle  # noqa: PLW0603 - a load-once cache
    with _lock:
        _bundle = None
        _logged_unknown.clear()


def _lookup(url: str) -> Any | None:
    docs = _load_bundle()
    doc = docs.get(url)
    if doc is None and _PLEROMA_LITEPUB_RE.match(url):
        doc = docs["pleroma-litepub"]
    return doc


def known_context(url: str) -> bool:
    """Whether ``url`` is a context we can serve offline (bundled, or Pleroma's litepub path)."""
    return _lookup(url) is not None


def known_context_urls() -> frozenset[str]:
    """The exact URLs listed in ``index.json`` (the Pleroma pattern is not enumerable)."""
    return frozenset(u for u in _load_bundle() if u != "pleroma-litepub")


def _remote_document(url: str, document: Any, *, cacheable: bool) -> dict[str, Any]:
    rd: dict[str, Any] = {
        "contentType": _CONTENT_TYPE,
        "contextUrl": None,
        "documentUrl": url,
        # PyLD rewrites relative URLs inside a loaded context in place: hand it a copy.
        "document": copy.deepcopy(document),
    }
    if cacheable:
        # PyLD keeps a resolved context across operations only when the loader tags it
        # "static"; bundled contexts never change, so resolve each of them once per process.
        rd["tag"] = "static"
    return rd


def offline_document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """PyLD document loader serving only bundled contexts; anything else raises ``JsonLdError``.

    ``options`` is accepted for PyLD's calling convention and ignored: there are no headers to
    send because nothing is ever sent.
    """
    del options
    doc = _lookup(url)
    if doc is None:
        raise JsonLdError(
            f"refusing to load JSON-LD document {url!r}: only the contexts bundled in "
            f"{contexts_dir()} are served, nothing is fetched from the network",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return _remote_document(url, doc, cacheable=True)


def lenient_document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Like :func:`offline_document_loader`, but an unknown URL yields an empty context.

    Used for payloads from other servers; see the module docstring for why. Still never fetches.
    """
    del options
    doc = _lookup(url)
    if doc is not None:
        return _remote_document(url, doc, cacheable=True)
    if url not in _logged_unknown:
        if len(_logged_unknown) < _MAX_LOGGED_UNKNOWN:
            _logged_unknown.add(url)
        log.info("unknown JSON-LD context %r treated as empty (not fetched)", url)
    else:
        log.debug("unknown JSON-LD context %r treated as empty (not fetched)", url)
    # Not tagged "static": a stranger's URL must not take a slot in PyLD's shared cache.
    return _remote_document(url, {"@context": {}}, cacheable=False)


def install_offline_loader() -> None:
    """Make :func:`offline_document_loader` PyLD's global default loader. Idempotent."""
    if _pyld.get_document_loader() is not offline_document_loader:
        _pyld.set_document_loader(offline_document_loader)


def _options(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    # base None: leave relative IRIs relative instead of resolving them against PyLD's
    # placeholder http://example.org/base/, so that they can be recognised and refused.
    options: dict[str, Any] = {"documentLoader": lenient_document_loader, "base": None}
    if extra:
        options.update(extra)
    return options


def expand(doc: Any, options: Mapping[str, Any] | None = None) -> list[Any]:
    """PyLD ``expand`` with the lenient offline loader and no base IRI."""
    result: list[Any] = _pyld.expand(doc, _options(options))
    return result


def compact(doc: Any, ctx: Any, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """PyLD ``compact`` against ``ctx`` with the lenient offline loader and no base IRI."""
    if not (isinstance(ctx, Mapping) and "@context" in ctx):
        ctx = {"@context": ctx}
    result: dict[str, Any] = _pyld.compact(doc, ctx, _options(options))
    return result


install_offline_loader()
