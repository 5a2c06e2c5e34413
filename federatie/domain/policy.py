"""The federation policy as a value: with whom this instance federates.

`open` federates with everyone; `blocklist` with everyone except listed domains and their
subdomains; `allowlist` only with listed hosts (the mode a closed government network needs).
An entry without a port matches every port of that host; an entry with a port only that port.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from federatie.activitypub.uris import normalize_host
from federatie.config import FederationMode
from federatie.errors import BadRequest, Unprocessable


class DomainList(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True)
class PolicySnapshot:
    mode: FederationMode
    allowed: frozenset[str]
    blocked: frozenset[str]

    def allows(self, host: str) -> bool:
        """Whether we may exchange anything with `host` (with optional port).

        `host` is normalised as entries are, so that a caller passing a raw name (upper
        case, Unicode) is judged like one passing the URL-parsed form; a host that does not
        normalise is refused.
        """
        if self.mode is FederationMode.OPEN:
            return True
        canonical = _canonical(host)
        if canonical is None:
            return False
        host = canonical
        if self.mode is FederationMode.BLOCKLIST:
            return not any(_blocks(entry, host) for entry in self.blocked)
        return any(_same_host(entry, host) for entry in self.allowed)


def _split(host: str) -> tuple[str, str | None]:
    if host.startswith("["):  # [::1]:8000
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] or None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, port
    return host, None


def _same_host(entry: str, host: str) -> bool:
    entry_name, entry_port = _split(entry)
    name, port = _split(host)
    return entry_name == name and (entry_port is None or entry_port == port)


def _blocks(entry: str, host: str) -> bool:
    entry_name, entry_port = _split(entry)
    name, port = _split(host)
    if entry_port is not None and entry_port != port:
        return False
    return name == entry_name or name.endswith("." + entry_name)


@functools.lru_cache(maxsize=4096)
def _canonical(host: str) -> str | None:
    try:
        return normalise_domain(host)
    except Unprocessable:
        return None


def normalise_domain(raw: str) -> str:
    """A policy entry: a host name or IP, lower-case, with optional port; nothing else.

    The name is normalised as hosts are when URLs are parsed (IDNA A-labels, canonical IP
    literals), or an entry such as `bürger.example` would never match the host
    `xn--brger-kva.example` that requests carry, and a blocklist would silently not block.
    """
    domain = raw.strip().lower()
    name, port = _split(domain)
    if domain.startswith("["):
        name = f"[{name}]"
    if domain != (name if port is None else f"{name}:{port}"):
        name = ""  # junk after an IPv6 literal
    try:
        host = normalize_host(name)
    except BadRequest:
        host = ""
    if not host or (port is not None and not 0 < int(port) < 65536):
        raise Unprocessable(f"invalid domain {raw!r}: give a host name, optionally with :port")
    if port is not None and int(port) in (80, 443):
        # URLs leave their scheme's default port out, so such an entry would never match
        # (and a blocklist entry would fail open): it means the whole host.
        port = None
    return host if port is None else f"{host}:{int(port)}"
