"""One frozen `Config`, built from FEDERATIE_* environment variables and an optional TOML file.

Environment variables win over the file, so an operator can override one setting without
editing it. Every check happens here, at start-up, and a failure names the setting.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from federatie.errors import ConfigError

E = TypeVar("E", bound=StrEnum)


class Environment(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


class RegistrationMode(StrEnum):
    CLOSED = "closed"
    APPROVAL = "approval"
    OPEN = "open"


class FederationMode(StrEnum):
    OPEN = "open"
    BLOCKLIST = "blocklist"
    ALLOWLIST = "allowlist"


class FileStore(StrEnum):
    LOCAL = "local"
    S3 = "s3"


@dataclass(frozen=True)
class Setting:
    """One documented setting: the environment variable, its TOML key and its meaning."""

    env: str
    default: str | None
    help: str
    secret: bool = False

    @property
    def key(self) -> str:
        return self.env.removeprefix("FEDERATIE_").lower()


# The single list of settings: parsing, `serve`'s printout and the README table follow it.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FEDERATIE_DOMAIN",
        None,
        "Public host of this instance, with optional port "
        "(`gov-a.example`, `127.0.0.1:8001`). Required.",
    ),
    Setting(
        "FEDERATIE_ENV",
        "production",
        "`production` (https only, no loopback peers) or "
        "`development` (allows plain http and loopback peers).",
    ),
    Setting("FEDERATIE_DATA_DIR", "./data", "Directory for the embedded PostgreSQL and files."),
    Setting(
        "DATABASE_URL",
        None,
        "PostgreSQL URL. Unset: an embedded PostgreSQL is started in `<data dir>/postgres`.",
        secret=True,
    ),
    Setting(
        "FEDERATIE_CA_BUNDLE",
        None,
        "Extra CA certificates (PEM file) trusted for outbound "
        "TLS, for networks with a private CA. `SSL_CERT_FILE` is honoured too.",
    ),
    Setting("FEDERATIE_INSTANCE_NAME", "Federatie", "Name of this instance shown to people."),
    Setting(
        "FEDERATIE_ORGANISATION_NAME",
        None,
        "Government body running the instance; the "
        "name of its Organization actor. Default: the domain.",
    ),
    Setting("FEDERATIE_REGISTRATION", "closed", "Sign-up mode: `closed`, `approval` or `open`."),
    Setting(
        "FEDERATIE_FEDERATION_MODE",
        "open",
        "Federation policy at first start: `open`, "
        "`blocklist` or `allowlist` (changeable at run time by an administrator).",
    ),
    Setting(
        "FEDERATIE_AUTHORIZED_FETCH",
        "true",
        "Require signed GETs for objects, collections "
        "and outboxes (members-only content always requires them).",
    ),
    Setting(
        "FEDERATIE_SIGNATURE_CLOCK_SKEW_SECONDS",
        "3600",
        "Clock difference tolerated on HTTP signatures: how far `Date`/`created` may lie in the "
        "future, and the grace after a signature's expiry (Mastodon: 1 hour).",
    ),
    Setting(
        "FEDERATIE_SIGNATURE_MAX_AGE_SECONDS",
        "43200",
        "Oldest signed request accepted, whatever its expiry (Mastodon: 12 hours).",
    ),
    Setting(
        "FEDERATIE_MAX_INBOX_BYTES", "1048576", "Largest accepted inbox body in bytes (413 above)."
    ),
    Setting(
        "FEDERATIE_INPROCESS_WORKER",
        "true",
        "Run the job worker (inbox processing, "
        "delivery) inside `serve`; set false when running `federatie worker` processes.",
    ),
    Setting(
        "FEDERATIE_DB_POOL_SIZE",
        "20",
        "Maximum PostgreSQL connections per process. A worker runs at most (size - 2) / 2 "
        "jobs at once, as a delivery holds a connection while it takes another.",
    ),
    Setting("FEDERATIE_LOG_LEVEL", "info", "`debug`, `info`, `warning` or `error`."),
    Setting("FEDERATIE_LOG_FORMAT", "json", "`json` (one event per line) or `text`."),
    Setting(
        "FEDERATIE_MAX_UPLOAD_BYTES",
        "52428800",
        "Largest file one upload may carry, in bytes (413 above; default 50 MiB).",
    ),
    Setting(
        "FEDERATIE_GROUP_QUOTA_BYTES",
        "10737418240",
        "Bytes of files (all versions) a group's file space may hold (413 above; default 10 GiB).",
    ),
    Setting(
        "FEDERATIE_CACHE_REMOTE_FILES_BYTES",
        "20971520",
        "Other instances' files up to this size are fetched, checked against their digest and "
        "served from here when their origin is down (default 20 MiB; 0: never).",
    ),
    Setting(
        "FEDERATIE_METRICS_TOKEN",
        None,
        "Bearer token that `/metrics` (Prometheus text format) requires (at least 16 "
        "characters). Unset: `/metrics` answers 404.",
        secret=True,
    ),
    Setting(
        "FEDERATIE_FILE_STORE",
        "local",
        "Where file bytes live: `local` (`<data dir>/files`) or `s3` (a bucket of an "
        "S3-compatible object store, set with the `FEDERATIE_S3_*` settings).",
    ),
    Setting(
        "FEDERATIE_S3_ENDPOINT",
        None,
        "URL of the S3 API (`https://minio.internal:9000`). Unset: AWS S3 in "
        "`FEDERATIE_S3_REGION`. Only with `FEDERATIE_FILE_STORE=s3`, as are the next four.",
    ),
    Setting("FEDERATIE_S3_BUCKET", None, "Bucket that holds the files; it must exist. Required."),
    Setting(
        "FEDERATIE_S3_REGION",
        "us-east-1",
        "Region the requests are signed for (most servers other than AWS accept any).",
    ),
    Setting(
        "FEDERATIE_S3_ACCESS_KEY",
        None,
        "Access key id. Unset together with the secret key: the AWS default credentials "
        "(`AWS_*` variables, a pod's or instance's role).",
        secret=True,
    ),
    Setting(
        "FEDERATIE_S3_SECRET_KEY",
        None,
        "Secret access key, with `FEDERATIE_S3_ACCESS_KEY`.",
        secret=True,
    ),
    Setting(
        "FEDERATIE_API_RATE_LIMIT",
        "300",
        "Mastodon client API requests allowed per 5 minutes per token, or per address without "
        "one (429 above; Mastodon: 300).",
    ),
    Setting(
        "FEDERATIE_PUBLIC_CACHE_SECONDS",
        "5",
        "Seconds each web process keeps answers that are alike for every anonymous reader "
        "(WebFinger, actor documents, outbox pages, pages for visitors not signed in); 0: off.",
    ),
)


@dataclass(frozen=True)
class Secret:
    """A value that never prints: `repr` and `str` mask it, `.reveal()` gives it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class S3Config:
    """The bucket that holds the files when FEDERATIE_FILE_STORE is s3."""

    bucket: str
    region: str
    endpoint: str | None  # None: AWS S3 in `region`
    access_key: Secret | None  # both None: the AWS default credential chain
    secret_key: Secret | None


@dataclass(frozen=True)
class Config:
    domain: str
    env: Environment
    data_dir: Path
    database_url: Secret | None
    ca_bundle: Path | None
    instance_name: str
    organisation_name: str
    registration: RegistrationMode
    federation_mode: FederationMode
    authorized_fetch: bool
    signature_clock_skew: int
    signature_max_age: int
    max_inbox_bytes: int
    inprocess_worker: bool
    db_pool_size: int
    log_level: str
    log_format: str
    max_upload_bytes: int
    group_quota_bytes: int
    cache_remote_files_bytes: int
    metrics_token: Secret | None = None
    s3: S3Config | None = None  # None: files on local disk
    api_rate_limit: int = 300
    public_cache_seconds: int = 5

    @property
    def development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def scheme(self) -> str:
        """https always in production; development serves plain http on loopback."""
        return "http" if self.development else "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (used when the CLI resolves the embedded database)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)

    def describe(self, *, embedded: bool = False) -> list[tuple[str, str]]:
        """The effective settings as (variable, printable value), secrets masked."""
        shown = {
            "FEDERATIE_DOMAIN": self.domain,
            "FEDERATIE_ENV": self.env.value,
            "FEDERATIE_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": mask_url(self.database_url.reveal())
            if self.database_url and not embedded
            else f"(embedded PostgreSQL in {self.data_dir / 'postgres'})",
            "FEDERATIE_CA_BUNDLE": str(self.ca_bundle) if self.ca_bundle else "(system)",
            "FEDERATIE_INSTANCE_NAME": self.instance_name,
            "FEDERATIE_ORGANISATION_NAME": self.organisation_name,
            "FEDERATIE_REGISTRATION": self.registration.value,
            "FEDERATIE_FEDERATION_MODE": self.federation_mode.value,
            "FEDERATIE_AUTHORIZED_FETCH": str(self.authorized_fetch).lower(),
            "FEDERATIE_SIGNATURE_CLOCK_SKEW_SECONDS": str(self.signature_clock_skew),
            "FEDERATIE_SIGNATURE_MAX_AGE_SECONDS": str(self.signature_max_age),
            "FEDERATIE_MAX_INBOX_BYTES": str(self.max_inbox_bytes),
            "FEDERATIE_INPROCESS_WORKER": str(self.inprocess_worker).lower(),
            "FEDERATIE_DB_POOL_SIZE": str(self.db_pool_size),
            "FEDERATIE_LOG_LEVEL": self.log_level,
            "FEDERATIE_LOG_FORMAT": self.log_format,
            "FEDERATIE_MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "FEDERATIE_GROUP_QUOTA_BYTES": str(self.group_quota_bytes),
            "FEDERATIE_CACHE_REMOTE_FILES_BYTES": str(self.cache_remote_files_bytes),
            "FEDERATIE_METRICS_TOKEN": "***" if self.metrics_token else "(unset: no /metrics)",
            **_describe_s3(self.s3),
            "FEDERATIE_API_RATE_LIMIT": str(self.api_rate_limit),
            "FEDERATIE_PUBLIC_CACHE_SECONDS": str(self.public_cache_seconds),
        }
        return [(s.env, shown[s.env]) for s in SETTINGS]


def _describe_s3(s3: S3Config | None) -> dict[str, str]:
    if s3 is None:
        unused = "(unused: local file store)"
        return {"FEDERATIE_FILE_STORE": FileStore.LOCAL.value} | {
            name: unused
            for name in (
                "FEDERATIE_S3_ENDPOINT",
                "FEDERATIE_S3_BUCKET",
                "FEDERATIE_S3_REGION",
                "FEDERATIE_S3_ACCESS_KEY",
                "FEDERATIE_S3_SECRET_KEY",
            )
        }
    default_credentials = "(AWS default credentials)"
    return {
        "FEDERATIE_FILE_STORE": FileStore.S3.value,
        "FEDERATIE_S3_ENDPOINT": s3.endpoint or f"(AWS S3 in {s3.region})",
        "FEDERATIE_S3_BUCKET": s3.bucket,
        "FEDERATIE_S3_REGION": s3.region,
        "FEDERATIE_S3_ACCESS_KEY": "***" if s3.access_key else default_credentials,
        "FEDERATIE_S3_SECRET_KEY": "***" if s3.secret_key else default_credentials,
    }


def mask_url(url: str) -> str:
    """Hide the password in a database URL."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def load_config(
    environ: Mapping[str, str] | None = None, config_file: Path | str | None = None
) -> Config:
    """Build the Config from a TOML file (optional) overlaid by environment variables."""
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, Any] = {}
    config_file = config_file or env.get("FEDERATIE_CONFIG_FILE")
    if config_file:
        file_values = _read_toml(Path(config_file))
    raw: dict[str, str | None] = {}
    for setting in SETTINGS:
        if setting.env in env and env[setting.env] != "":
            raw[setting.env] = env[setting.env]
        elif setting.key in file_values:
            raw[setting.env] = str(file_values[setting.key])
        else:
            raw[setting.env] = setting.default
    return _build(raw)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from exc
    known = {s.key for s in SETTINGS}
    for key in data:
        if key not in known:
            raise ConfigError(f"--config: unknown setting {key!r} in {path}")
    return data


def _build(raw: Mapping[str, str | None]) -> Config:
    env = _enum(raw, "FEDERATIE_ENV", Environment)
    domain = _domain(raw.get("FEDERATIE_DOMAIN"), env)
    database_url = raw.get("DATABASE_URL")
    if database_url is not None and not database_url.startswith(("postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL: must start with postgresql://")
    ca_bundle = raw.get("FEDERATIE_CA_BUNDLE")
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigError(f"FEDERATIE_CA_BUNDLE: no such file {ca_bundle}")
    log_level = (raw.get("FEDERATIE_LOG_LEVEL") or "info").lower()
    if log_level not in {"debug", "info", "warning", "error"}:
        raise ConfigError("FEDERATIE_LOG_LEVEL: must be debug, info, warning or error")
    log_format = (raw.get("FEDERATIE_LOG_FORMAT") or "json").lower()
    if log_format not in {"json", "text"}:
        raise ConfigError("FEDERATIE_LOG_FORMAT: must be json or text")
    return Config(
        domain=domain,
        env=env,
        data_dir=Path(raw.get("FEDERATIE_DATA_DIR") or "./data").resolve(),
        database_url=Secret(database_url) if database_url else None,
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        instance_name=_text(raw, "FEDERATIE_INSTANCE_NAME"),
        organisation_name=raw.get("FEDERATIE_ORGANISATION_NAME") or domain,
        registration=_enum(raw, "FEDERATIE_REGISTRATION", RegistrationMode),
        federation_mode=_enum(raw, "FEDERATIE_FEDERATION_MODE", FederationMode),
        authorized_fetch=_bool(raw, "FEDERATIE_AUTHORIZED_FETCH"),
        signature_clock_skew=_int(raw, "FEDERATIE_SIGNATURE_CLOCK_SKEW_SECONDS", minimum=0),
        signature_max_age=_int(raw, "FEDERATIE_SIGNATURE_MAX_AGE_SECONDS", minimum=60),
        max_inbox_bytes=_int(raw, "FEDERATIE_MAX_INBOX_BYTES", minimum=1024),
        inprocess_worker=_bool(raw, "FEDERATIE_INPROCESS_WORKER"),
        db_pool_size=_int(raw, "FEDERATIE_DB_POOL_SIZE", minimum=2),
        log_level=log_level,
        log_format=log_format,
        max_upload_bytes=_int(raw, "FEDERATIE_MAX_UPLOAD_BYTES", minimum=1),
        group_quota_bytes=_int(raw, "FEDERATIE_GROUP_QUOTA_BYTES", minimum=0),
        cache_remote_files_bytes=_int(raw, "FEDERATIE_CACHE_REMOTE_FILES_BYTES", minimum=0),
        metrics_token=_token(raw, "FEDERATIE_METRICS_TOKEN"),
        s3=_s3(raw),
        api_rate_limit=_int(raw, "FEDERATIE_API_RATE_LIMIT", minimum=1),
        public_cache_seconds=_int(raw, "FEDERATIE_PUBLIC_CACHE_SECONDS", minimum=0),
    )


def _domain(value: str | None, env: Environment) -> str:
    if not value:
        raise ConfigError("FEDERATIE_DOMAIN: required (the public host, e.g. gov-a.example)")
    domain = value.strip().lower()
    parts = urlsplit(f"//{domain}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"FEDERATIE_DOMAIN: bad port in {value!r}") from exc
    host = parts.hostname or ""
    if (
        not host
        or parts.path
        or parts.query
        or parts.username is not None
        or any(c in domain for c in "/@?#\\ ")
        or host.endswith(".")
    ):
        raise ConfigError(f"FEDERATIE_DOMAIN: {value!r} is not a host name with optional port")
    loopback = host in {"localhost", "::1"} or host.startswith("127.")
    if env is Environment.PRODUCTION and loopback:
        raise ConfigError("FEDERATIE_DOMAIN: loopback hosts need FEDERATIE_ENV=development")
    return domain if port is None else f"{host}:{port}"


_S3_NAMES = (
    "FEDERATIE_S3_ENDPOINT",
    "FEDERATIE_S3_BUCKET",
    "FEDERATIE_S3_ACCESS_KEY",
    "FEDERATIE_S3_SECRET_KEY",
)
# S3's rules for bucket names (dots allowed, as path-style requests carry them).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _s3(raw: Mapping[str, str | None]) -> S3Config | None:
    """The object store's settings; S3 settings beside a local store are refused, since an
    operator who set them surely meant the files to go there."""
    values = {name: (raw.get(name) or "").strip() for name in _S3_NAMES}
    if _enum(raw, "FEDERATIE_FILE_STORE", FileStore) is FileStore.LOCAL:
        for name, value in values.items():
            if value:
                raise ConfigError(f"{name}: set, but FEDERATIE_FILE_STORE is local (set it to s3)")
        return None
    bucket = values["FEDERATIE_S3_BUCKET"]
    if not bucket:
        raise ConfigError("FEDERATIE_S3_BUCKET: required when FEDERATIE_FILE_STORE is s3")
    if not _BUCKET.match(bucket):
        raise ConfigError(f"FEDERATIE_S3_BUCKET: {bucket!r} is not a valid bucket name")
    access_key, secret_key = values["FEDERATIE_S3_ACCESS_KEY"], values["FEDERATIE_S3_SECRET_KEY"]
    if bool(access_key) != bool(secret_key):
        missing = "FEDERATIE_S3_SECRET_KEY" if access_key else "FEDERATIE_S3_ACCESS_KEY"
        raise ConfigError(f"{missing}: required with the other S3 key (or leave both unset)")
    return S3Config(
        bucket=bucket,
        region=_text(raw, "FEDERATIE_S3_REGION"),
        endpoint=_endpoint(values["FEDERATIE_S3_ENDPOINT"]),
        access_key=Secret(access_key) if access_key else None,
        secret_key=Secret(secret_key) if secret_key else None,
    )


def _endpoint(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    try:
        good_port = parts.port != 0
    except ValueError:
        good_port = False
    if (
        not good_port
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigError(
            f"FEDERATIE_S3_ENDPOINT: {value!r} is not an http(s) URL of a host, with no path"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _token(raw: Mapping[str, str | None], name: str) -> Secret | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    if len(value) < 16:
        raise ConfigError(f"{name}: must be at least 16 characters")
    return Secret(value)


def _text(raw: Mapping[str, str | None], name: str) -> str:
    value = (raw.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    return value


def _bool(raw: Mapping[str, str | None], name: str) -> bool:
    value = (raw.get(name) or "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: must be true or false, not {value!r}")


def _int(raw: Mapping[str, str | None], name: str, *, minimum: int) -> int:
    value = raw.get(name) or ""
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: must be a whole number, not {value!r}") from exc
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}")
    return number


def _enum(raw: Mapping[str, str | None], name: str, kind: type[E]) -> E:
    value = (raw.get(name) or "").strip().lower()
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(m.value for m in kind)
        raise ConfigError(f"{name}: must be one of {allowed}, not {value!r}") from exc
