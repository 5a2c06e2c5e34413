"""The offline JSON-LD layer: bundled contexts only; strict loader globally, lenient on payloads."""

from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld as pyld_jsonld

from federatie.activitypub import jsonld

AS = "https://www.w3.org/ns/activitystreams"
AS_NS = "https://www.w3.org/ns/activitystreams#"

REQUIRED = [
    AS,
    "http://www.w3.org/ns/activitystreams",
    "https://www.w3.org/ns/activitystreams.jsonld",
    "https://w3id.org/security/v1",
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/identity/v1",
    "https://litepub.social/litepub/context.jsonld",
    "https://join-lemmy.org/context.json",
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_index_lists_every_file_and_every_file_parses() -> None:
    directory = jsonld.contexts_dir()
    index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    assert set(REQUIRED) <= set(index)
    for url, name in index.items():
        doc = json.loads((directory / name).read_text(encoding="utf-8"))
        assert "@context" in doc, url
    on_disk = {p.name for p in directory.iterdir() if p.suffix in (".jsonld", ".json")}
    assert on_disk - {"index.json"} == set(index.values()) | {"pleroma-litepub-0.1.jsonld"}


@pytest.mark.parametrize("url", REQUIRED)
def test_offline_loader_serves_bundled_contexts(url: str, no_network: None) -> None:
    remote = jsonld.offline_document_loader(url)
    assert remote["documentUrl"] == url
    assert remote["contextUrl"] is None
    assert remote["contentType"] == "application/ld+json"
    assert "@context" in remote["document"]
    assert jsonld.known_context(url)


def test_activitystreams_variants_are_the_same_document() -> None:
    docs = [
        jsonld.offline_document_loader(u)["document"]
        for u in (AS, "http://www.w3.org/ns/activitystreams", AS + ".jsonld")
    ]
    assert docs[0] == docs[1] == docs[2]
    assert docs[0]["@context"]["as"] == AS_NS


def test_loader_hands_out_copies() -> None:
    first = jsonld.offline_document_loader(AS)["document"]
    first["@context"]["Note"] = "mangled"
    assert jsonld.offline_document_loader(AS)["document"]["@context"]["Note"] == "as:Note"


def test_unknown_url_is_refused_with_a_clear_message(no_network: None) -> None:
    with pytest.raises(jsonld.JsonLdError) as caught:
        jsonld.offline_document_loader("https://evil.example/ctx.jsonld")
    assert "https://evil.example/ctx.jsonld" in caught.value.args[0]
    assert "network" in caught.value.args[0]
    assert caught.value.code == "loading document failed"
    assert not jsonld.known_context("https://evil.example/ctx.jsonld")


def test_pleroma_instance_litepub_is_served_from_the_bundle() -> None:
    url = "https://pleroma.example/schemas/litepub-0.1.jsonld"
    assert jsonld.known_context(url)
    doc = jsonld.offline_document_loader(url)["document"]
    assert AS in doc["@context"]
    assert not jsonld.known_context("https://pleroma.example/other/litepub-0.1.jsonld")
    assert not jsonld.known_context("https://a.example/x/schemas/litepub-0.1.jsonld")


def test_importing_installs_the_offline_loader_globally() -> None:
    assert pyld_jsonld.get_document_loader() is jsonld.offline_document_loader
    jsonld.install_offline_loader()
    jsonld.install_offline_loader()
    assert pyld_jsonld.get_document_loader() is jsonld.offline_document_loader


def test_plain_pyld_refuses_unknown_remote_contexts(no_network: None) -> None:
    doc = {"@context": "https://evil.example/ctx.jsonld", "name": "x"}
    with pytest.raises(pyld_jsonld.JsonLdError):
        pyld_jsonld.expand(doc)


def test_plain_pyld_expands_with_bundled_contexts(no_network: None) -> None:
    expanded = pyld_jsonld.expand({"@context": AS, "type": "Note", "content": "hoi"})
    assert expanded[0]["@type"] == [AS_NS + "Note"]


def test_unknown_context_in_a_payload_is_empty_and_logged(
    no_network: None, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://akkoma.example/schemas/custom-context.jsonld"
    doc = {
        "@context": [AS, url],
        "id": "https://akkoma.example/objects/1",
        "type": "Note",
        "content": "hoi",
        "customTerm": 1,
    }
    with caplog.at_level(logging.INFO, logger="federatie.activitypub.jsonld"):
        expanded = jsonld.expand(doc)
    node = expanded[0]
    assert node["@type"] == [AS_NS + "Note"]
    assert node[AS_NS + "content"] == [{"@value": "hoi"}]
    # Undefined by any context we know: kept as a bare-named blank-node property.
    assert node["_:customTerm"] == [{"@value": 1}]
    assert url in caplog.text


def test_expand_leaves_relative_iris_relative() -> None:
    expanded = jsonld.expand({"@context": AS, "type": "Note", "id": "/notes/1"})
    assert expanded[0]["@id"] == "/notes/1"


def test_compact_wrapper_accepts_a_bare_context() -> None:
    expanded = jsonld.expand({"@context": AS, "type": "Note", "to": "as:Public"})
    compacted = jsonld.compact(expanded, AS)
    assert compacted["type"] == "Note"
    assert compacted["to"] == "as:Public"


def test_schemas_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "jsonld"
    shutil.copytree(jsonld.contexts_dir(), target)
    index = json.loads((target / "index.json").read_text(encoding="utf-8"))
    index["https://example.org/extra"] = "activitystreams.jsonld"
    (target / "index.json").write_text(json.dumps(index), encoding="utf-8")
    monkeypatch.setenv(jsonld.SCHEMAS_DIR_ENV, str(tmp_path))
    jsonld.clear_cache()
    try:
        assert jsonld.schemas_dir() == tmp_path
        assert jsonld.known_context("https://example.org/extra")
    finally:
        monkeypatch.delenv(jsonld.SCHEMAS_DIR_ENV)
        jsonld.clear_cache()
    assert not jsonld.known_context("https://example.org/extra")


def test_default_schemas_dir_is_the_repository_one() -> None:
    assert (jsonld.schemas_dir() / "jsonld" / "index.json").is_file()
    assert jsonld.schemas_dir().parent == Path(jsonld.__file__).resolve().parents[2]
