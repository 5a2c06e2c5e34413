"""The federation policy as a value: with whom this instance federates.

`open` federates with everyone; `blocklist` with everyone except listed domains and their
subdomains; `allowlist` only with listed hosts (the mode a closed government network needs).
An entry without a port matches every port of that host; an entry with a port only that port.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from federatie.config import FederationMode
from federatie.errors import Unprocessable


class DomainList(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True)
class PolicySnapshot:
    mode: FederationMode
    allowed: frozenset[str]
    blocked: frozenset[str]

    def allows(self, host: str) -> bool:
        """Whether we may exchange anything with `host` (lower-case, with optional port)."""
        host = host.lower()
        if self.mode is FederationMode.OPEN:
            return True
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


def normalise_domain(raw: str) -> str:
    """A policy entry: a host name or IP, lower-case, with optional port; nothing else."""
    domain = raw.strip().lower()
    name, port = _split(domain)
    valid_name = bool(name) and all(c.isalnum() or c in ".-:" for c in name)
    if (
        not valid_name
        or name.startswith((".", "-"))
        or name.endswith((".", "-"))
        or ".." in name
        or (port is not None and not 0 < int(port) < 65536)
    ):
        raise Unprocessable(f"invalid domain {raw!r}: give a host name, optionally with :port")
    return domain
