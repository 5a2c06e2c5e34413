"""Normalisation of what other servers send: one shape, two paths that must agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from federatie.activitypub import normalize as nz
from federatie.activitypub.normalize import (
    PUBLIC,
    FastPathUnsupported,
    id_of,
    normalize,
    normalize_fast,
    normalize_full,
)
from federatie.errors import BadRequest

PAYLOADS = Path(__file__).parent / "payloads"
AS = "https://www.w3.org/ns/activitystreams"
CORE_KEYS = {
    "id", "type", "types", "actor", "object", "target", "inReplyTo", "context",
    "to", "cc", "bto", "bcc", "audience", "attributedTo", "content", "name", "summary",
    "url", "tag", "attachment",
}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


ALL_PAYLOADS = sorted(p.name for p in PAYLOADS.glob("*.json"))


def test_there_are_fixtures_from_every_server_family() -> None:
    families = {name.split("_")[0] for name in ALL_PAYLOADS}
    assert {"mastodon", "lemmy", "pleroma", "mobilizon", "peertube", "gotosocial"} <= families


@pytest.mark.parametrize("name", ALL_PAYLOADS)
def test_fast_and_full_paths_agree(name: str) -> None:
    doc = load(name)
    untouched = copy.deepcopy(doc)
    full = normalize_full(doc)
    fast = normalize_fast(doc)
    assert fast == full
    assert normalize(doc) == full
    assert doc == untouched  # neither path mutates its input


@pytest.mark.parametrize("name", ALL_PAYLOADS)
def test_every_node_has_the_core_keys(name: str) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "types" in node:
                assert node.keys() >= CORE_KEYS
                assert isinstance(node["to"], list)
                assert all(isinstance(i, str) for i in node["to"] + node["cc"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(normalize(load(name)))


def test_mastodon_create_note() -> None:
    act = normalize(load("mastodon_create_note.json"))
    assert act["type"] == "Create"
    assert act["id"] == "https://mastodon.example/users/alice/statuses/113270113456789012/activity"
    assert act["actor"] == "https://mastodon.example/users/alice"
    assert act["to"] == [PUBLIC]
    assert act["cc"] == [
        "https://mastodon.example/users/alice/followers",
        "https://gemeente.example/groups/wonen",
    ]
    note = act["object"]
    assert isinstance(note, dict)
    assert note["type"] == "Note"
    assert note["attributedTo"] == ["https://mastodon.example/users/alice"]
    assert note["content"].startswith('<p><span class="h-card"')
    assert note["contentMap"] == {"nl": note["content"]}
    assert note["summary"] is None
    assert note["inReplyTo"] is None
    assert note["sensitive"] is False
    assert note["url"] == "https://mastodon.example/@alice/113270113456789012"
    mention, hashtag = note["tag"]
    assert (mention["type"], mention["href"], mention["name"]) == (
        "Mention",
        "https://gemeente.example/groups/wonen",
        "@wonen@gemeente.example",
    )
    assert (hashtag["type"], hashtag["name"]) == ("Hashtag", "#woningbouw")
    (image,) = note["attachment"]
    assert image["type"] == "Document"
    assert image["mediaType"] == "image/png"
    assert image["url"].endswith("/5f1e2d3c4b5a6978.png")
    assert image["focalPoint"] == [0.0, 0.0]
    assert (image["width"], image["height"]) == (1200, 675)
    assert image["blurhash"].startswith("UBL_")
    assert note["replies"]["first"]["type"] == "CollectionPage"
    assert note["likes"]["totalItems"] == 3
    # Mastodon extension keys we do not model are dropped, not passed through.
    assert "conversation" not in note and "atomUri" not in note
    assert "signature" not in act


def test_mastodon_person() -> None:
    person = normalize(load("mastodon_person.json"))
    assert person["type"] == "Person"
    assert person["preferredUsername"] == "alice"
    assert person["name"] == "Alice de Vries"
    assert person["inbox"] == "https://mastodon.example/users/alice/inbox"
    assert person["outbox"] == "https://mastodon.example/users/alice/outbox"
    assert person["followers"] == "https://mastodon.example/users/alice/followers"
    assert person["featured"] == "https://mastodon.example/users/alice/collections/featured"
    assert person["endpoints"]["sharedInbox"] == "https://mastodon.example/inbox"
    assert person["manuallyApprovesFollowers"] is False
    assert person["discoverable"] is True
    assert person["alsoKnownAs"] == ["https://oud.example/users/alice"]
    key = person["publicKey"]
    assert key["id"] == "https://mastodon.example/users/alice#main-key"
    assert key["owner"] == "https://mastodon.example/users/alice"
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    (field,) = person["attachment"]
    assert (field["type"], field["name"]) == ("PropertyValue", "Website")
    assert "alice.example" in field["value"]
    assert person["icon"][0]["url"].endswith("avatar.png")
    assert person["image"][0]["mediaType"] == "image/jpeg"
    assert "devices" not in person and "memorial" not in person


def test_lemmy_create_page() -> None:
    act = normalize(load("lemmy_create_page.json"))
    assert act["type"] == "Create"
    assert act["audience"] == ["https://lemmy.example/c/omgevingswet"]
    page = act["object"]
    assert page["type"] == "Page"
    assert page["name"] == "Ervaringen met het omgevingsplan na een jaar"
    assert page["audience"] == ["https://lemmy.example/c/omgevingswet"]
    assert page["to"] == ["https://lemmy.example/c/omgevingswet", PUBLIC]
    assert page["cc"] == []
    # Lemmy's context defines sensitive as "as:sensitive" before "as" exists (lemmy#5073).
    assert page["sensitive"] is False
    assert page["source"]["mediaType"] == "text/markdown"
    (link,) = page["attachment"]
    assert link["type"] == "Link"
    assert link["href"] == "https://iplo.example/regels-en-kaarten/omgevingsplan/"
    assert "language" not in page  # Lemmy's schema.org inLanguage is not part of our shape


def test_lemmy_announce_by_group() -> None:
    announce = normalize(load("lemmy_announce_create_page.json"))
    assert announce["type"] == "Announce"
    assert announce["actor"] == "https://lemmy.example/c/omgevingswet"
    assert announce["cc"] == ["https://lemmy.example/c/omgevingswet/followers"]
    create = announce["object"]
    assert create["type"] == "Create"
    assert create["actor"] == "https://lemmy.example/u/pieter"
    page = create["object"]
    assert page["id"] == "https://lemmy.example/post/48213"
    assert page["audience"] == ["https://lemmy.example/c/omgevingswet"]
    assert id_of(page["attributedTo"][0]) == "https://lemmy.example/u/pieter"


def test_lemmy_group_actor() -> None:
    group = normalize(load("lemmy_group.json"))
    assert group["type"] == "Group"
    assert group["preferredUsername"] == "omgevingswet"
    assert group["attributedTo"] == ["https://lemmy.example/c/omgevingswet/moderators"]
    assert group["postingRestrictedToMods"] is False
    assert group["endpoints"]["sharedInbox"] == "https://lemmy.example/inbox"
    assert group["publicKey"]["owner"] == "https://lemmy.example/c/omgevingswet"
    assert group["summary"].startswith("<p>Uitwisseling")
    assert group["icon"][0]["url"].endswith("icon.webp")
    # The join-lemmy context we ship does not define "featured": JSON-LD drops it.
    assert "featured" not in group


def test_pleroma_note_single_values_and_as_public() -> None:
    note = normalize(load("pleroma_note.json"))
    assert note["type"] == "Note"
    assert note["to"] == [PUBLIC]  # sent as the single string "as:Public"
    assert note["cc"] == ["https://pleroma.example/users/bert/followers"]  # single string
    assert note["attributedTo"] == ["https://pleroma.example/users/bert"]
    assert (
        note["context"] == "https://pleroma.example/contexts/4f0a1f63-6a0e-4d55-9a2e-8e1c2b7d3a10"
    )
    # {"@language": "und"} in @context: plain strings are language-tagged "und".
    assert note["content"].startswith("Vergadering van de werkgroep")
    assert note["contentMap"] == {"und": note["content"]}
    assert note["summary"] == ""
    (tag,) = note["tag"]  # a single object, not a list
    assert (tag["type"], tag["name"]) == ("Hashtag", "#werkgroep")
    assert tag["href"] == "https://pleroma.example/tags/werkgroep"
    assert "sensitive" not in note  # null means "not said"


def test_article_language_maps() -> None:
    article = normalize(load("wordpress_article_language_maps.json"))
    assert article["type"] == "Article"
    assert article["content"] == article["contentMap"]["en"]  # no und: en before nl
    assert article["contentMap"].keys() == {"nl", "en"}
    assert article["name"] == "Grensoverschrijdende samenwerking in de Eems-Dollardregio"
    assert article["nameMap"]["de"].startswith("Grenzüberschreitende")
    assert article["summary"] == "Grenzüberschreitende Zusammenarbeit"  # de < fr
    assert article["summaryMap"].keys() == {"de", "fr"}
    assert article["url"] == "https://blog.provincie.example/2025/02/eems-dollard/"
    assert article["attributedTo"] == ["https://blog.provincie.example/author/redactie/"]
    assert article["attachment"][0]["type"] == "Image"


def test_mobilizon_event_attributed_to_group() -> None:
    event = normalize(load("mobilizon_event.json"))
    assert event["type"] == "Event"
    assert event["attributedTo"] == ["https://mobilizon.example/@buurtraad_noord"]
    assert event["actor"] == "https://mobilizon.example/@jan"
    assert event["startTime"] == "2025-03-12T18:30:00+01:00"
    assert event["endTime"] == "2025-03-12T21:00:00+01:00"
    assert event["name"] == "Inloopavond herinrichting Stationsplein"
    banner, meeting = event["attachment"]
    assert banner["url"] == "https://mobilizon.example/media/1a2b3c4d5e.jpg"
    assert (meeting["type"], meeting["href"]) == ("Link", "https://meet.example/stationsplein")
    # Mobilizon maps "location" to schema.org, not to as:location: not our location.
    assert "location" not in event


def test_peertube_video() -> None:
    video = normalize(load("peertube_video.json"))
    assert video["type"] == "Video"
    assert video["attributedTo"] == [
        "https://peertube.example/accounts/griffie",
        "https://peertube.example/video-channels/gemeenteraad",
    ]
    assert video["url"] == "https://peertube.example/w/8Yq3nXz2Lm4Pq"  # the text/html Link
    assert video["duration"] == "PT7384S"
    assert video["mediaType"] == "text/markdown"
    assert [i["width"] for i in video["icon"]] == [280, 850]
    assert video["tag"][0]["name"] == "gemeenteraad"
    assert video["shares"].endswith("/announces")


def test_gotosocial_create_note() -> None:
    act = normalize(load("gotosocial_create_note.json"))
    assert act["type"] == "Create"
    assert act["to"] == [PUBLIC]
    assert act["cc"] == ["https://gts.example/users/marloes/followers"]
    note = act["object"]
    assert note["type"] == "Note"
    assert note["content"] == "<p>Reactie op het conceptbesluit staat open tot vrijdag.</p>"
    assert note["contentMap"] == {"nl": note["content"]}
    assert note["url"] == "https://gts.example/@marloes/statuses/01JAB4Q7ZP3K9X2M5N8R6T1V0W"
    assert note["replies"]["first"]["partOf"].endswith("/replies")
    assert note["tag"] == [] and note["attachment"] == []
    assert "interactionPolicy" not in note  # from https://gotosocial.org/ns, unknown to us


# ------------------------------------------------------------------------------------------
# Individual quirks, each checked on both paths


def both(doc: dict[str, Any]) -> dict[str, Any]:
    full = normalize_full(doc)
    assert normalize_fast(doc) == full
    assert normalize(doc) == full
    return full


def note(**fields: Any) -> dict[str, Any]:
    return {"@context": AS, "id": "https://a.example/n/1", "type": "Note", **fields}


@pytest.mark.parametrize(
    "public", [PUBLIC, "as:Public", "Public", "http://www.w3.org/ns/activitystreams#Public"]
)
def test_every_spelling_of_public(public: str) -> None:
    assert both(note(to=public, cc=[public, "https://a.example/u/x"]))["cc"] == [
        PUBLIC,
        "https://a.example/u/x",
    ]


def test_missing_context_is_activitystreams() -> None:
    doc = note(content="hoi", to="https://a.example/u/x")
    del doc["@context"]
    out = both(doc)
    assert out["content"] == "hoi"
    assert out["to"] == ["https://a.example/u/x"]


def test_url_forms() -> None:
    assert both(note(url="https://a.example/x"))["url"] == "https://a.example/x"
    link = {"type": "Link", "href": "https://a.example/l", "mediaType": "text/html"}
    assert both(note(url=link))["url"] == "https://a.example/l"
    links = [
        {"type": "Link", "href": "https://a.example/v.mp4", "mediaType": "video/mp4"},
        link,
    ]
    assert both(note(url=links))["url"] == "https://a.example/l"
    assert both(note(url=links[:1]))["url"] == "https://a.example/v.mp4"
    assert both(note(url=["https://a.example/1", "https://a.example/2"]))["url"] == (
        "https://a.example/1"
    )


def test_attributed_to_forms() -> None:
    person = {"type": "Person", "id": "https://a.example/u/p"}
    group = {"type": "Group", "id": "https://a.example/g/g"}
    assert both(note(attributedTo="https://a.example/u/p"))["attributedTo"] == [
        "https://a.example/u/p"
    ]
    assert both(note(attributedTo=person))["attributedTo"] == ["https://a.example/u/p"]
    assert both(note(attributedTo=[person, group, "https://a.example/u/p"]))["attributedTo"] == [
        "https://a.example/u/p",
        "https://a.example/g/g",
    ]


def test_object_reference_or_embedded() -> None:
    assert both({"@context": AS, "type": "Like", "object": "https://b.example/n/1"})["object"] == (
        "https://b.example/n/1"
    )
    # an embedded object with only an id is the same as its IRI
    only_id = {"@context": AS, "type": "Like", "object": {"id": "https://b.example/n/1"}}
    assert both(only_id)["object"] == "https://b.example/n/1"
    inner = note(content="x")
    del inner["@context"]
    embedded = both({"@context": AS, "type": "Like", "object": inner})
    assert embedded["object"]["content"] == "x"
    assert id_of(embedded["object"]) == "https://a.example/n/1"


def test_tag_single_object_and_bare_iri() -> None:
    tags = both(note(tag=["https://a.example/tags/x", {"type": "Mention", "href": "https://b"}]))[
        "tag"
    ]
    assert tags[0]["id"] == "https://a.example/tags/x" and tags[0]["type"] is None
    assert tags[1]["type"] == "Mention"


def test_compact_iri_type_and_as_prefix_type() -> None:
    doc = {"@context": AS, "type": "as:Note", "id": "https://a.example/n/1"}
    assert normalize(doc)["type"] == "Note"
    assert normalize_full(doc)["type"] == "Note"


def test_undefined_type_keeps_its_bare_name() -> None:
    out = both(note(tag=[{"type": "Emoji", "name": ":blob:"}]))  # Emoji undefined by sender
    assert out["tag"][0]["type"] == "Emoji"


def test_extension_term_the_sender_did_not_define_is_dropped() -> None:
    # JSON-LD: "sensitive" means nothing without a definition, so both paths drop it.
    assert "sensitive" not in both(note(sensitive=True))
    defined = note(sensitive=True)
    defined["@context"] = [AS, {"sensitive": "as:sensitive"}]
    assert both(defined)["sensitive"] is True


def test_lemmy_as_prefix_quirk_in_full_path() -> None:
    doc = {
        "@context": ["https://join-lemmy.org/context.json", AS],
        "type": "Page",
        "id": "https://l.example/post/1",
        "sensitive": True,
    }
    assert both(doc)["sensitive"] is True


def test_default_language_from_context() -> None:
    doc = note(content="hallo", contentMap={"en": "hello"}, name="titel")
    doc["@context"] = [AS, {"@language": "NL"}]
    out = both(doc)
    assert out["contentMap"] == {"nl": "hallo", "en": "hello"}
    assert out["content"] == "hello"  # preference order: und, en, nl
    assert out["nameMap"] == {"nl": "titel"}


def test_value_objects_fall_back_to_the_full_path() -> None:
    doc = note(content={"@value": "hoi", "@language": "nl"})
    with pytest.raises(FastPathUnsupported):
        normalize_fast(doc)
    assert normalize(doc) == normalize_full(doc)
    assert normalize(doc)["contentMap"] == {"nl": "hoi"}


def test_redefined_core_term_takes_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # identity/v1 after ActivityStreams redefines name, url, Person: the full path decides.
    doc = {
        "@context": [AS, "https://w3id.org/identity/v1"],
        "type": "Note",
        "id": "https://a.example/n/1",
        "name": "schema.org's name now",
        "content": "still ours",
    }
    full = normalize_full(doc)
    assert full["name"] is None and full["content"] == "still ours"
    calls: list[Any] = []
    real_shape = nz._shape_top

    def spy(d: Any, r: Any) -> Any:
        calls.append(type(r).__name__)
        return real_shape(d, r)

    monkeypatch.setattr(nz, "_shape_top", spy)
    assert normalize(doc) == full
    assert calls == ["_Reader"]


def test_mastodon_payload_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(doc: Any) -> Any:
        raise AssertionError("full path taken")

    monkeypatch.setattr(nz, "normalize_full", refuse)
    assert normalize(load("mastodon_create_note.json"))["type"] == "Create"


def test_nested_context_falls_back() -> None:
    inner = note(content="x")
    inner["@context"] = [AS, {"sensitive": "as:sensitive"}]
    inner["sensitive"] = True
    doc = {"@context": AS, "type": "Create", "object": inner}
    with pytest.raises(FastPathUnsupported):
        normalize_fast(doc)
    assert normalize(doc)["object"]["sensitive"] is True


# ------------------------------------------------------------------------------------------
# Bad documents


@pytest.mark.parametrize("doc", [None, [], "Note", 5, [note()]])
def test_not_an_object(doc: Any) -> None:
    with pytest.raises(BadRequest):
        normalize(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"@context": AS, "id": "https://a.example/n/1", "content": "no type"},
        note(type=5),
        note(type=["Note", {"x": 1}]),
        note(id=5),
        note(id=["https://a.example/n/1"]),
        note(id="/relative/id"),
        note(to="not an iri"),
        {"@context": {"@vocab": 5}, "type": "Note"},
    ],
)
def test_bad_documents_are_bad_requests_on_both_paths(doc: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        normalize_full(doc)
    with pytest.raises(BadRequest):
        normalize(doc)


def test_literal_where_an_iri_belongs_is_not_an_iri() -> None:
    # JSON-LD reads 7 as a literal, which compacts to another key: the shape has no actor.
    doc = note(actor=7)
    with pytest.raises(FastPathUnsupported):
        normalize_fast(doc)
    assert normalize(doc)["actor"] is None
    assert normalize_full(doc)["actor"] is None


def test_deep_nesting_is_refused() -> None:
    doc: dict[str, Any] = note()
    for _ in range(nz.MAX_DEPTH + 5):
        doc = {"@context": AS, "type": "Announce", "object": doc}
    with pytest.raises(BadRequest):
        normalize(doc)


def test_id_of() -> None:
    assert id_of("https://a.example/x") == "https://a.example/x"
    assert id_of({"id": "https://a.example/x", "type": "Note"}) == "https://a.example/x"
    assert id_of({"type": "Note"}) is None
    assert id_of(None) is None
    assert id_of(5) is None


# ------------------------------------------------------------------------------------------
# Robustness: odd values anywhere never make the paths disagree or escape as other errors

ODD_VALUES: list[Any] = [
    None, 5, True, 1.5, "x", "/relative", "_:b0", "as:Public", "Public", "https://z.example/b",
    [], {}, [None], [[1]], {"@id": 5}, {"@value": 1}, {"@value": "v", "@language": "FR"},
    {"@list": [1]}, {"@context": 5}, {"en": "e"}, {"id": "https://y.example/a"},
    {"id": "https://x.example", "type": ["Note", 3]},
    {"type": "Link", "href": "https://q.example", "mediaType": "text/html"},
]  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, (dict, list)):
            out.extend(_paths(value, (*prefix, key)))
    return out


def _outcome(fn: Any, doc: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(doc)
    except BadRequest:
        return "bad", None
    except FastPathUnsupported:
        return "bail", None


@pytest.mark.parametrize("name", ALL_PAYLOADS)
def test_mutated_payloads_never_disagree(name: str) -> None:
    import random

    base = load(name)
    paths = _paths(base)
    rng = random.Random(name)
    for _ in range(150):
        doc = copy.deepcopy(base)
        path = rng.choice(paths)
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
        full = _outcome(normalize_full, doc)
        fast = _outcome(normalize_fast, doc)
        chosen = _outcome(normalize, doc)
        if fast[0] == "ok" and full[0] == "ok":
            assert fast == full, path
        if full[0] == "ok":
            assert chosen == full, path
        # else: the fast path may accept garbage in parts of a document it does not read


def test_no_network_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    doc = note(content="x")
    doc["@context"] = [AS, "https://unknown.example/ns", "https://w3id.org/security/v1"]
    assert normalize_full(doc)["content"] == "x"
    assert normalize(doc)["content"] == "x"
