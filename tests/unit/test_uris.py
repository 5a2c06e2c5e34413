"""Origin checks must resist every host trick that has bitten fediverse servers."""

from __future__ import annotations

import pytest

from federatie.activitypub.uris import (
    ParsedUrl,
    host_matches_domain,
    host_of,
    is_subdomain_of,
    normalize_host,
    origin,
    parse_actor_url,
    same_origin,
)
from federatie.errors import BadRequest

ACTOR = "https://gov.example/users/a"


def test_parse_basic() -> None:
    assert parse_actor_url("https://gov.example/users/a?x=1#main-key") == ParsedUrl(
        scheme="https", host="gov.example", port=443, path="/users/a", query="x=1"
    )
    parsed = parse_actor_url("HTTP://GOV.Example:8080")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path) == (
        "http",
        "gov.example",
        8080,
        "/",
    )
    assert parsed.target == "/"
    assert parse_actor_url("https://gov.example/a?b=c").target == "/a?b=c"


def test_origin_and_host_of() -> None:
    assert origin("https://gov.example/users/a") == "https://gov.example"
    assert origin("https://gov.example:443/") == "https://gov.example"
    assert origin("http://gov.example:80/") == "http://gov.example"
    assert origin("https://gov.example:8443/x") == "https://gov.example:8443"
    assert host_of("http://127.0.0.1:8001/inbox") == "127.0.0.1:8001"
    assert host_of("https://GOV.example/") == "gov.example"
    assert host_of("http://[::1]:8000/") == "[::1]:8000"
    assert host_of("https://[0:0:0:0:0:0:0:1]/") == "[::1]"


@pytest.mark.parametrize(
    "url",
    [
        "https://GOV.example/x",
        "https://gov.example:443/",
        "https://gov.example",
        "https://gov.example/other/path?q=1#frag",
        "HTTPS://gov.EXAMPLE/users/b",
    ],
)
def test_same_origin_positive(url: str) -> None:
    assert same_origin(url, ACTOR)
    assert same_origin(ACTOR, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://gov.example.evil.test/users/a",  # suffix trick
        "https://evil.test/gov.example/users/a",
        "https://gov.example.:443/users/a",  # trailing dot
        "https://GOV.EXAMPLE./users/a",
        "https://gov.exa/mple/users/a",  # slash cuts the host
        "https://gov.example%2f@evil.test/",  # percent-encoding plus userinfo
        "https://gov.example%2F/",
        "https://gov.example@evil.test/",  # userinfo: the host is evil.test
        "https://user:pass@gov.example/",
        "https://evil.test\\@gov.example/",  # urllib says gov.example, WHATWG evil.test
        "https://gov.example\\.evil.test/",
        "https://xn--gv-fmc.example/users/a",  # punycode of "g\u043ev"
        "https://g\u043ev.example/users/a",  # Cyrillic small o (U+043E)
        "https://\uff47\uff4f\uff56.example/",  # full-width letters IDNA would map
        "https://gov.example:8443/users/a",  # other port
        "http://gov.example/users/a",  # other scheme
        "https://gov.example /",  # whitespace
        "https://gov.exam\u200bple/",  # zero-width space
        "https://gov.example\t/",
        "https://gov..example/",  # empty label
        "https://.gov.example/",
        "ftp://gov.example/users/a",
        "//gov.example/users/a",
        "gov.example",
        "",
        "https:///users/a",
        "https://gov.example:/",
        "https://gov.example:99999/",
        "https://gov.example:-1/",
    ],
)
def test_same_origin_negative(url: str) -> None:
    assert not same_origin(url, ACTOR)
    assert not same_origin(ACTOR, url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://gov.example/",
        "javascript:alert(1)",
        "https://",
        "https://user@gov.example/",
        "https://gov.example%2f@evil.test/",
        "https://gov%2eexample/",
        "https://evil.test\\@gov.example",
        "https://GOV.EXAMPLE./",
        "https://gov..example/",
        "https://gov.example\n/",
        "https://gov.example/\x00",
        "https://gov.example/a b",
        "https://gov.exa\u202emple/",  # bidi override
        "https://\uff47\uff4f\uff56.example/",
        "https://stra\u00dfe.example/",  # IDNA 2003 maps ß to ss, IDNA 2008 does not
        "https://\u212aey.example/",  # Kelvin sign lower-cases to ASCII k
        "https://xn--zz.example/",  # not valid punycode
        "https://-gov.example/",
        "https://gov-.example/",
        "https://gov!.example/",
        "https://" + "a" * 64 + ".example/",
        "http://0x7f.0.0.1/",  # WHATWG would call this 127.0.0.1
        "http://2130706433/",
        "http://127.1/",
        "http://127.000.000.001/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[fe80::1%25eth0]/",
        "http://a:b:c/",
        "https://gov.example/" + "a" * 5000,
    ],
)
def test_parse_refuses(url: str) -> None:
    with pytest.raises(BadRequest):
        parse_actor_url(url)


def test_idna_hosts_are_normalised_to_a_labels() -> None:
    assert parse_actor_url("https://b\u00fccher.example/").host == "xn--bcher-kva.example"
    assert parse_actor_url("https://B\u00dcCHER.example/").host == "xn--bcher-kva.example"
    assert same_origin("https://b\u00fccher.example/a", "https://xn--bcher-kva.example/b")
    assert parse_actor_url("https://g\u043ev.example/").host == "xn--gv-fmc.example"


def test_ip_literals() -> None:
    assert parse_actor_url("http://127.0.0.1:8001/").host == "127.0.0.1"
    assert parse_actor_url("http://[::1]/").host == "[::1]"
    assert normalize_host("[2001:DB8::1]") == "[2001:db8::1]"


def test_never_raises_for_non_strings() -> None:
    assert not same_origin(None, ACTOR)  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        parse_actor_url(b"https://gov.example/")  # type: ignore[arg-type]


def test_host_matches_domain() -> None:
    assert host_matches_domain("gov.example", "gov.example")
    assert host_matches_domain("GOV.example", "gov.EXAMPLE")
    assert host_matches_domain("gov.example:8443", "gov.example")
    assert host_matches_domain("127.0.0.1:8001", "127.0.0.1:8001")
    assert not host_matches_domain("127.0.0.1:8002", "127.0.0.1:8001")
    assert not host_matches_domain("a.gov.example", "gov.example")
    assert not host_matches_domain("gov.example.", "gov.example")
    assert not host_matches_domain("gov.example.evil.test", "gov.example")
    assert not host_matches_domain("g\u043ev.example", "gov.example")
    assert not host_matches_domain("", "gov.example")
    assert not host_matches_domain("gov.example", "")


def test_is_subdomain_of() -> None:
    assert is_subdomain_of("evil.test", "evil.test")
    assert is_subdomain_of("a.evil.test", "evil.test")
    assert is_subdomain_of("A.B.EVIL.test", "evil.test")
    assert not is_subdomain_of("notevil.test", "evil.test")
    assert not is_subdomain_of("evil.test.gov.example", "evil.test")
    assert not is_subdomain_of("evil.test", "a.evil.test")
    assert not is_subdomain_of("1.2.3.4", "3.4")
    assert not is_subdomain_of("a.evil.test.", "evil.test")
    assert not is_subdomain_of("a.evil.test", "")
    assert is_subdomain_of("a.evil.test:8443", "evil.test")
    assert not is_subdomain_of("a.evil.test:8443", "evil.test:443")
