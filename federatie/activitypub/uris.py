"""Strict URL and origin handling for every "same server?" decision.

Origins are compared on parsed, normalised (scheme, host, port) triples, never by string
surgery: Mastodon's CVE-2023-42451 compared hosts with string operations and let
`evil.test` pass as another domain, and CVE-2024-23832 accepted objects whose host differed
from their actor's. Anything ambiguous (userinfo, percent-encoded or backslashed hosts,
trailing dots, invisible characters, non-normalised IDNA) is refused outright, because two
URL parsers that disagree about such input are how these bugs happen.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass

from federatie.errors import BadRequest

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}

_MAX_URL_LENGTH = 4096  # actor and object ids are short; a huge one is an attack or a bug
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# ASCII control characters, space, DEL and backslash: WHATWG URL parsing turns `\` into `/`
# for http(s), so `https://evil.test\@gov.example` is evil.test to a browser and aiohttp
# but gov.example to urllib.parse. We refuse it rather than pick a side.
_BAD_ASCII = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?")
_DIGITS = re.compile(r"[0-9]+")
# WHATWG treats a host whose last label is a number (decimal, 0x-hex, octal) as IPv4,
# so `0x7f.1` is 127.0.0.1 to a fetcher; only canonical dotted quads are allowed.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """An http(s) URL after validation.

    `host` is lower-case ASCII (IDNA A-labels for internationalised names; IPv6 literals in
    brackets), `port` is always set (the scheme's default when absent), `path` is the raw
    path ("/" when empty) and `query` the raw query without "?" ("" when absent). The
    fragment is dropped: it never reaches the server.
    """

    scheme: str
    host: str
    port: int
    path: str
    query: str

    @property
    def default_port(self) -> bool:
        return DEFAULT_PORTS[self.scheme] == self.port

    @property
    def authority(self) -> str:
        """Host with the port only when it is not the scheme's default: the `Host` header."""
        return self.host if self.default_port else f"{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"

    @property
    def target(self) -> str:
        """Path and query as they appear in the request line (`(request-target)`)."""
        return f"{self.path}?{self.query}" if self.query else self.path


def _refuse_bad_characters(url: str) -> None:
    if _BAD_ASCII.search(url):
        raise BadRequest("URL contains whitespace, control characters or a backslash")
    if not url.isascii():
        for ch in url:
            # Invisible and look-alike hazards: controls, format characters (zero-width
            # joiners, bidi overrides), separators, private-use and unassigned code points.
            if ord(ch) > 0x7F and unicodedata.category(ch)[0] in "CZ":
                raise BadRequest("URL contains invisible or control characters")


def _ascii_label(label: str) -> str:
    if len(label) > 63 or not _LABEL.fullmatch(label):
        raise BadRequest(f"invalid host label {label!r}")
    if label.startswith("xn--"):
        # An A-label must be valid Punycode that round-trips, else two IDNA libraries may
        # disagree about which name it is.
        try:
            unicode_label = label.encode("ascii").decode("idna")
            again = unicode_label.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise BadRequest(f"invalid punycode host label {label!r}") from exc
        if again != label:
            raise BadRequest(f"punycode host label {label!r} is not canonical")
    return label


def _unicode_label(label: str) -> str:
    lowered = label.lower()
    try:
        ace = lowered.encode("idna").decode("ascii")
        back = ace.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise BadRequest(f"host label {label!r} is not valid IDNA") from exc
    # Refuse labels that IDNA would *map* rather than merely encode (full-width letters,
    # the Kelvin sign, `ß` -> `ss`): fetchers using IDNA 2008/UTS 46 may map them
    # differently from Python's IDNA 2003 codec, so such a name has no single meaning.
    if back != lowered or not ace.startswith("xn--"):
        raise BadRequest(f"host label {label!r} is not in IDNA normal form")
    return _ascii_label(ace)


def normalize_host(host: str) -> str:
    """The canonical ASCII form of a host name or IP literal; BadRequest when ambiguous."""
    if not host:
        raise BadRequest("URL has no host")
    _refuse_bad_characters(host)
    if host.startswith("["):
        if not host.endswith("]"):
            raise BadRequest("unterminated IPv6 literal")
        try:
            # No zone ids (`%eth0`): ipaddress accepts them, URLs must not carry them.
            if "%" in host:
                raise ValueError("zone id")
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError as exc:
            raise BadRequest("invalid IPv6 literal") from exc
    if "%" in host:
        raise BadRequest("percent-encoded characters in host")
    if host.endswith("."):
        # `gov.example.` resolves like `gov.example` but compares differently.
        raise BadRequest("trailing dot in host")
    labels = host.split(".")
    if any(not label for label in labels):
        raise BadRequest("empty label in host")
    normal = [
        _ascii_label(label.lower()) if label.isascii() else _unicode_label(label)
        for label in labels
    ]
    result = ".".join(normal)
    if len(result) > 253:
        raise BadRequest("host name too long")
    if _NUMERIC_LABEL.fullmatch(normal[-1]):
        try:
            return str(ipaddress.IPv4Address(result))
        except ValueError as exc:
            raise BadRequest("numeric host is not a dotted-quad IPv4 address") from exc
    return result


def _split_authority(authority: str) -> tuple[str, int | None]:
    if "@" in authority:
        # `https://gov.example@evil.test/` is evil.test: userinfo has no place in an id.
        raise BadRequest("userinfo in URL")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise BadRequest("unterminated IPv6 literal")
        host, rest = authority[: close + 1], authority[close + 1 :]
        if rest and not rest.startswith(":"):
            raise BadRequest("junk after IPv6 literal")
        port_text = rest[1:] if rest else None
    else:
        if authority.count(":") > 1:
            raise BadRequest("too many colons in host")
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
    if port_text is None:
        return host, None
    if not _DIGITS.fullmatch(port_text) or len(port_text) > 5:
        raise BadRequest("invalid port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise BadRequest("port out of range")
    return host, port


def parse_actor_url(url: str) -> ParsedUrl:
    """Parse an http(s) URL strictly; raises BadRequest for anything ambiguous."""
    if not isinstance(url, str):
        raise BadRequest("URL is not a string")
    return _parse_cached(url)


# Pure and hot (every signed request parses our own URL and its Host), so memoise; failures
# raise and are not cached. Bounded, so hostile input can only churn it.
@functools.lru_cache(maxsize=4096)
def _parse_cached(url: str) -> ParsedUrl:
    if len(url) > _MAX_URL_LENGTH:
        raise BadRequest("URL too long")
    _refuse_bad_characters(url)
    match = _SCHEME.match(url)
    if match is None:
        raise BadRequest("not an absolute URL")
    scheme = match.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise BadRequest(f"URL scheme {scheme!r} is not http or https")
    rest = url[match.end() :]
    end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if 0 <= index < end:
            end = index
    authority, tail = rest[:end], rest[end:]
    if not authority:
        raise BadRequest("URL has no host")
    raw_host, port = _split_authority(authority)
    host = normalize_host(raw_host)
    tail = tail.partition("#")[0]
    path, _, query = tail.partition("?")
    return ParsedUrl(
        scheme=scheme,
        host=host,
        port=DEFAULT_PORTS[scheme] if port is None else port,
        path=path or "/",
        query=query,
    )


def origin(url: str) -> str:
    """`scheme://host[:port]`, the port only when not the default; BadRequest if invalid."""
    return parse_actor_url(url).origin


def host_of(url: str) -> str:
    """Host with a non-default port (`127.0.0.1:8001`): the value of a `Host` header."""
    return parse_actor_url(url).authority


def same_origin(a: str, b: str) -> bool:
    """True when both URLs parse and share scheme, host and port. Never raises."""
    try:
        pa, pb = parse_actor_url(a), parse_actor_url(b)
    except BadRequest:
        return False
    return (pa.scheme, pa.host, pa.port) == (pb.scheme, pb.host, pb.port)


def _host_and_port(value: str) -> tuple[str, int | None]:
    raw_host, port = _split_authority(value)
    return normalize_host(raw_host), port


def _is_ip_literal(host: str) -> bool:
    return host.startswith("[") or bool(_NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]))


def host_matches_domain(host: str, domain: str) -> bool:
    """Exact match of a host against a policy-list domain, after normalisation.

    A port in `domain` must match exactly; a domain without a port matches any port.
    Never raises: an unparsable host or domain matches nothing.
    """
    try:
        h, h_port = _host_and_port(host)
        d, d_port = _host_and_port(domain)
    except BadRequest:
        return False
    return h == d and (d_port is None or d_port == h_port)


def is_subdomain_of(host: str, domain: str) -> bool:
    """True for `domain` itself and any name below it, compared label by label.

    For blocklists: blocking `evil.test` blocks `a.evil.test` but not `notevil.test`.
    IP literals only ever match exactly. Never raises.
    """
    try:
        h, h_port = _host_and_port(host)
        d, d_port = _host_and_port(domain)
    except BadRequest:
        return False
    if d_port is not None and d_port != h_port:
        return False
    if h == d:
        return True
    if _is_ip_literal(h) or _is_ip_literal(d):
        return False
    return h.endswith("." + d)
