"""HTTP signatures, pure and I/O-free: draft-cavage (as Mastodon speaks it) and RFC 9421.

Verification is two steps so the caller can fetch the key in between:
`parse_signature` checks syntax and builds the signing string, `verify_signature` checks
freshness, the body digest and the cryptography. Every failure is a `SignatureError`.

The algorithm is always chosen from the key, never from the request: a request that names
`hmac-sha256` and was "signed" with the actor's public PEM as the HMAC secret is the classic
algorithm-confusion forgery, and is exactly what httpsig's `HeaderVerifier` accepts, which
is why this module is built on `cryptography` alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from federatie.activitypub.uris import ParsedUrl, parse_actor_url
from federatie.errors import BadRequest, SignatureError

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
Scheme: TypeAlias = Literal["cavage", "rfc9421"]

MIN_RSA_BITS = 2048

# draft-cavage `algorithm` labels we accept. The label is only checked for agreement with
# the key; it never selects the algorithm (see module docstring).
CAVAGE_ALGORITHMS = frozenset({"rsa-sha256", "hs2019", "ed25519"})
# RFC 9421 section 6.2.2 registry entries we can verify. hmac-sha256 is deliberately absent:
# we only hold public keys, and a public key used as an HMAC secret is no secret.
RFC9421_ALGORITHMS = frozenset(
    {"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519", "ecdsa-p256-sha256"}
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_HEADER = 16 * 1024  # a signature header bigger than this is not a signature


# --------------------------------------------------------------------------- base58 / keys

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58_ALPHABET)}
# Multicodec prefixes (unsigned varints) used by FEP-521a Multikey.
_ED25519_PUB = b"\xed\x01"
_RSA_PUB = b"\x85\x24"  # 0x1205 rsa-pub, followed by a PKCS#1 DER RSAPublicKey


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (the `z` multibase), leading zero bytes as `1`s."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_B58_ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of `b58encode`; ValueError on characters outside the alphabet."""
    if len(text) > 4096:
        raise ValueError("base58 text too long")
    number = 0
    for ch in text:
        index = _B58_INDEX.get(ch)
        if index is None:
            raise ValueError(f"invalid base58 character {ch!r}")
        number = number * 58 + index
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multikey_multibase(public_key: PublicKey) -> str:
    """FEP-521a `publicKeyMultibase`: `z` + base58btc(multicodec prefix + raw key)."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "z" + b58encode(_ED25519_PUB + raw)
    if isinstance(public_key, rsa.RSAPublicKey):
        der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return "z" + b58encode(_RSA_PUB + der)
    raise ValueError("only Ed25519 and RSA keys have a Multikey encoding here")


def _check_public_key(public_key: object) -> PublicKey:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise SignatureError(f"RSA key of {public_key.key_size} bits is too weak")
        return public_key
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return public_key
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return public_key
    raise SignatureError("unsupported public key type")


def _check_key_id(key_id: str) -> None:
    # The key id is written into a quoted string (cavage) and an sf-string (RFC 8941), both
    # of which only carry printable ASCII without `"` or `\`.
    if not key_id or not all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in key_id):
        raise ValueError(f"key id {key_id!r} is not printable ASCII without quotes")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One of our private keys with the id remote servers fetch it by.

    Loading an RSA PEM costs ~37 ms (OpenSSL checks the key; 40-60 ms on a busy 2-core
    machine), so build these once per actor and cache them; signing with a loaded key
    costs ~1 ms. `from_pem` raises ValueError for a PEM that is not an RSA or Ed25519 key.
    """

    key_id: str
    private_key: PrivateKey

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError("signing keys are RSA or Ed25519")

    @classmethod
    def from_pem(cls, key_id: str, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError("signing keys are RSA or Ed25519")
        return cls(key_id, key)

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def sign(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 for RSA (what every fediverse server verifies)."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return self.private_key.sign(message)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A remote actor's public key: `owner` is the actor the key speaks for."""

    key_id: str
    owner: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_public_key(self.public_key)

    @classmethod
    def from_pem(cls, key_id: str, owner: str, pem: str) -> VerificationKey:
        """SPKI or PKCS#1 PEM (both occur in `publicKeyPem`); SignatureError if unusable."""
        try:
            key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
        except (ValueError, UnicodeError, UnsupportedAlgorithm) as exc:
            raise SignatureError("public key PEM could not be loaded") from exc
        return cls(key_id, owner, _check_public_key(key))

    @classmethod
    def from_multibase(cls, key_id: str, owner: str, multibase: str) -> VerificationKey:
        """FEP-521a Multikey `publicKeyMultibase` (Ed25519, or RSA as rsa-pub)."""
        if not multibase.startswith("z"):
            raise SignatureError("Multikey must be base58btc (`z` prefix)")
        try:
            data = b58decode(multibase[1:])
            if data.startswith(_ED25519_PUB) and len(data) == 34:
                key: object = ed25519.Ed25519PublicKey.from_public_bytes(data[2:])
            elif data.startswith(_RSA_PUB):
                key = serialization.load_der_public_key(data[2:])
            else:
                raise ValueError("unknown multicodec prefix or length")
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise SignatureError(f"Multikey could not be decoded: {exc}") from exc
        return cls(key_id, owner, _check_public_key(key))


def generate_rsa_pem() -> tuple[str, str]:
    """A new RSA-2048 (e=65537) key pair as (PKCS#8 private PEM, SPKI public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _private_pem(key), _public_pem(key.public_key())


def generate_ed25519() -> tuple[str, str]:
    """A new Ed25519 key pair as (PKCS#8 private PEM, Multikey `publicKeyMultibase`)."""
    key = ed25519.Ed25519PrivateKey.generate()
    return _private_pem(key), multikey_multibase(key.public_key())


def _private_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _public_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


# --------------------------------------------------------------------------- digests, dates


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise SignatureError("value is not valid base64") from exc


def digest_header(body: bytes) -> str:
    """`Digest: SHA-256=<base64>` (RFC 3230, as Mastodon sends and checks it)."""
    return "SHA-256=" + _b64(hashlib.sha256(body).digest())


def content_digest_header(body: bytes) -> str:
    """`Content-Digest: sha-256=:<base64>:` (RFC 9530, a structured-field dictionary)."""
    return "sha-256=:" + _b64(hashlib.sha256(body).digest()) + ":"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_http_date(moment: datetime) -> str:
    """RFC 9110 IMF-fixdate, locale-independent (strftime's %a/%b follow the locale)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    t = moment.astimezone(UTC)
    return (
        f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_MONTH_NUMBER = {name: number for number, name in enumerate(_MONTHS, 1)}


def parse_http_date(value: str) -> datetime:
    """An HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms, as Ruby's
    `Time.httpdate` takes them for Mastodon); SignatureError when unparsable."""
    if len(value) > 64:
        raise SignatureError("Date header is not a valid HTTP date")
    fixdate = _IMF_FIXDATE.fullmatch(value)
    if fixdate is not None:  # the form everyone sends, parsed without email.utils' cost
        day, month, year, hour, minute, second = fixdate.groups()
        try:
            return datetime(
                int(year),
                _MONTH_NUMBER[month],
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
        except ValueError as exc:
            raise SignatureError("Date header is not a valid HTTP date") from exc
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise SignatureError("Date header is not a valid HTTP date") from exc
    if parsed.tzinfo is None:  # asctime and `-0000` carry no zone; HTTP dates are GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- RFC 8941


class _Token(str):
    """An sf-token (serialised bare), as opposed to an sf-string (serialised quoted)."""

    __slots__ = ()


_Bare: TypeAlias = int | float | str | bytes | bool
_Params: TypeAlias = dict[str, _Bare]


@dataclass(slots=True)
class _Item:
    value: _Bare
    params: _Params


@dataclass(slots=True)
class _InnerList:
    items: list[_Item]
    params: _Params


_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_SF_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_SF_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SF_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_SF_STRING = re.compile(r'"([ !#-\[\]-~]*(?:\\["\\][ !#-\[\]-~]*)*)"')
_SF_UNESCAPE = re.compile(r'\\(["\\])')


class _SFParser:
    """A strict RFC 8941 parser for the dictionaries RFC 9421 and RFC 9530 use."""

    def __init__(self, text: str) -> None:
        if len(text) > _MAX_HEADER:
            raise SignatureError("structured header too long")
        self.s = text.strip(" \t")
        self.i = 0

    def fail(self, what: str) -> SignatureError:
        return SignatureError(f"malformed structured header: {what} at offset {self.i}")

    def peek(self) -> str:
        return self.s[self.i : self.i + 1]

    def dictionary(self) -> dict[str, _Item | _InnerList]:
        result: dict[str, _Item | _InnerList] = {}
        while self.i < len(self.s):
            key = self.key()
            if self.peek() == "=":
                self.i += 1
                member: _Item | _InnerList = (
                    self.inner_list() if self.peek() == "(" else self.item()
                )
            else:
                member = _Item(True, self.params())
            result[key] = member  # RFC 8941 4.2.2: a repeated key overwrites
            while self.peek() in (" ", "\t"):
                self.i += 1
            if self.i >= len(self.s):
                return result
            if self.peek() != ",":
                raise self.fail("expected ','")
            self.i += 1
            while self.peek() in (" ", "\t"):
                self.i += 1
            if self.i >= len(self.s):
                raise self.fail("trailing comma")
        return result

    def key(self) -> str:
        m = _SF_KEY.match(self.s, self.i)
        if m is None:
            raise self.fail("expected a key")
        self.i = m.end()
        return m.group()

    def inner_list(self) -> _InnerList:
        self.i += 1  # "("
        items: list[_Item] = []
        while True:
            while self.peek() == " ":
                self.i += 1
            if self.peek() == ")":
                self.i += 1
                return _InnerList(items, self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail("expected ' ' or ')' in inner list")

    def item(self) -> _Item:
        value = self.bare()
        return _Item(value, self.params())

    def params(self) -> _Params:
        params: _Params = {}
        while self.peek() == ";":
            self.i += 1
            while self.peek() == " ":
                self.i += 1
            key = self.key()
            value: _Bare = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare()
            params[key] = value
        return params

    def bare(self) -> _Bare:
        ch = self.peek()
        if ch == '"':
            return self.string()
        if ch == ":":
            m = _SF_BYTES.match(self.s, self.i)
            if m is None:
                raise self.fail("bad byte sequence")
            self.i = m.end()
            return _b64decode_strict(m.group(1))
        if ch == "?":
            text = self.s[self.i : self.i + 2]
            if text not in ("?0", "?1"):
                raise self.fail("bad boolean")
            self.i += 2
            return text == "?1"
        if ch == "-" or ch.isdigit():
            return self.number()
        m = _SF_TOKEN.match(self.s, self.i)
        if m is None:
            raise self.fail("unexpected character")
        self.i = m.end()
        return _Token(m.group())

    def number(self) -> int | float:
        m = _SF_NUMBER.match(self.s, self.i)
        if m is None:
            raise self.fail("bad number")
        text = m.group()
        digits = text.lstrip("-")
        whole, _, fraction = digits.partition(".")
        if (not fraction and len(whole) > 15) or (
            fraction and (len(whole) > 12 or len(fraction) > 3)
        ):
            raise self.fail("number out of range")
        self.i = m.end()
        return float(text) if fraction else int(text)

    def string(self) -> str:
        # sf-string: printable ASCII, with only `\"` and `\\` as escapes (RFC 8941 3.3.3).
        m = _SF_STRING.match(self.s, self.i)
        if m is None:
            raise self.fail("bad string")
        self.i = m.end()
        text = m.group(1)
        return _SF_UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _parse_sf_dictionary(text: str) -> dict[str, _Item | _InnerList]:
    return _SFParser(text).dictionary()


def _ser_bare(value: _Bare) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, bytes):
        return ":" + _b64(value) + ":"
    if isinstance(value, _Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ser_params(params: _Params) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={_ser_bare(value)}"
        for key, value in params.items()
    )


def _ser_item(item: _Item) -> str:
    return _ser_bare(item.value) + _ser_params(item.params)


def _ser_inner_list(inner: _InnerList) -> str:
    return "(" + " ".join(_ser_item(item) for item in inner.items) + ")" + _ser_params(inner.params)


# --------------------------------------------------------------------------- signing


def _ascii_base(lines: list[str]) -> bytes:
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError as exc:
        # An HTTP client percent-encodes such a URL on the wire, and the signature would
        # then cover different bytes than were sent.
        raise BadRequest("URL to sign must be ASCII (percent-encode it first)") from exc


def _check_host_header(headers: Mapping[str, str], authority: str) -> None:
    for name, value in headers.items():
        if name.lower() == "host" and value.strip().lower() != authority:
            raise BadRequest(f"Host header {value!r} does not match the URL ({authority})")


def sign_cavage(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key: SigningKey,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign a request the way Mastodon signs and expects it.

    Returns `Date`, `Host`, `Digest` (when there is a body) and `Signature`, to add to or
    overwrite in `headers`. The `Signature` value is byte for byte what httpsig's
    `HeaderSigner` emits for the same RSA key and headers. `headers` is only checked for a
    conflicting `Host`, which would make the signature unverifiable.
    """
    target = parse_actor_url(url)
    authority = target.authority
    _check_host_header(headers, authority)
    date = format_http_date(_now(now))
    out = {"Date": date, "Host": authority}
    covered = ["(request-target)", "host", "date"]
    lines = [f"(request-target): {method.lower()} {target.target}", f"host: {authority}"]
    lines.append(f"date: {date}")
    if body is not None:
        digest = digest_header(body)
        out["Digest"] = digest
        covered.append("digest")
        lines.append(f"digest: {digest}")
    signature = _b64(key.sign(_ascii_base(lines)))
    # Mastodon labels RSA signatures rsa-sha256; for other keys draft-cavage-12 says hs2019
    # ("derive from the key"), which Mastodon also accepts.
    algorithm = "rsa-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "hs2019"
    # Parameter order as httpsig's build_signature_template: keyId, algorithm, signature,
    # headers. Receivers parse these as a map, so the order is free; matching lets tests
    # compare with an independent implementation byte for byte.
    out["Signature"] = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",'
        f'signature="{signature}",headers="{" ".join(covered)}"'
    )
    return out


def sign_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key: SigningKey,
    now: datetime | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """RFC 9421 `Signature-Input` and `Signature` (and RFC 9530 `Content-Digest`).

    Covers `@method`, `@target-uri` and, with a body, `content-digest`, with `created` and
    `keyid` parameters; `alg` is omitted because the verifier derives it from the key
    (RFC 9421 section 3.2), as Mastodon 4.5 expects. `headers` is checked for a conflicting
    `Host`.
    """
    if not _SF_KEY.fullmatch(label):
        raise ValueError(f"signature label {label!r} is not an RFC 8941 key")
    target = parse_actor_url(url)
    _check_host_header(headers, target.authority)
    covered: list[_Item] = [_Item("@method", {}), _Item("@target-uri", {})]
    values = [method.upper(), target.origin + target.target]
    out: dict[str, str] = {}
    if body is not None:
        digest = content_digest_header(body)
        out["Content-Digest"] = digest
        covered.append(_Item("content-digest", {}))
        values.append(digest)
    created = int(_now(now).timestamp())
    inner = _InnerList(covered, {"created": created, "keyid": key.key_id})
    params = _ser_inner_list(inner)
    lines = [f"{_ser_item(item)}: {value}" for item, value in zip(covered, values, strict=True)]
    lines.append(f'"@signature-params": {params}')
    signature = key.sign(_ascii_base(lines))
    out["Signature-Input"] = f"{label}={params}"
    out["Signature"] = f"{label}=:{_b64(signature)}:"
    return out


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    """Mastodon's time window (`SignedRequest`): 1 h skew, 5 min default life, 12 h cap."""

    max_future: timedelta = timedelta(hours=1)
    default_ttl: timedelta = timedelta(minutes=5)
    clock_skew: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """A syntactically valid signature, ready for `verify_signature` once the key is known.

    `covered` lists the covered components (cavage names such as `(request-target)`, or
    RFC 9421 identifiers such as `@method`), `base` is the exact byte string that was
    signed, `algorithm` the label the sender claimed (only ever checked against the key).
    `created`, `expires`, `date`, `digest` and `content_digest` are set only when the
    signature covers them: an uncovered value is attacker-controlled and never trusted.
    """

    scheme: Scheme
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    base: bytes
    signature: bytes
    created: datetime | None
    expires: datetime | None
    date: str | None
    label: str | None
    digest: str | None = None
    content_digest: str | None = None
    # Other bases that also count as valid (cavage only): Mastodon before 4.2 signed
    # `(request-target)` without the query string, and Mastodon still accepts that.
    legacy_bases: tuple[bytes, ...] = field(default=())


def _combined_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names; repeated fields joined with ", " as RFC 9110 section 5.3 says."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        out[lname] = f"{out[lname]}, {value}" if lname in out else value
    return out


def _has_body(method: str, h: Mapping[str, str]) -> bool:
    if method.upper() in _BODY_METHODS or "transfer-encoding" in h:
        return True
    length = h.get("content-length", "0").strip()
    return length not in ("", "0")


def _field_value(h: Mapping[str, str], name: str) -> str:
    value = h.get(name)
    if value is None:
        raise SignatureError(f"covered header {name!r} is missing")
    return value.strip(" \t")


def _epoch(value: float, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise SignatureError(f"{what} is out of range") from exc


def _join_base(lines: list[str]) -> bytes:
    for line in lines:
        if "\n" in line or "\r" in line:
            # A newline in a value would let one component forge another line of the base.
            raise SignatureError("newline in a covered component")
    try:
        # ASGI servers decode header bytes as latin-1, so encoding back gives the wire bytes.
        return "\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise SignatureError("covered component is not representable on the wire") from exc


def _request_url(url: str) -> ParsedUrl:
    try:
        return parse_actor_url(url)
    except BadRequest as exc:
        raise SignatureError(f"request URL unusable: {exc.message}") from exc


def parse_signature(
    method: str, path_and_query: str, url: str, headers: Mapping[str, str]
) -> ParsedSignature:
    """Find and syntax-check the request's signature; SignatureError on anything amiss.

    `path_and_query` is the request target exactly as received; `url` the effective
    request URI (scheme and authority as this server is reached, e.g. from the configured
    base URL). RFC 9421 (`Signature-Input`) wins when present, as its Appendix A advises;
    otherwise a cavage `Signature` header, or `Authorization: Signature ...`.
    """
    try:
        h = _combined_headers(headers)
        if "signature-input" in h:
            return _parse_rfc9421(method, path_and_query, url, h)
        raw = h.get("signature")
        if raw is None:
            auth = h.get("authorization", "")
            if auth[:10].lower() == "signature ":
                raw = auth[10:]
        if raw is None:
            raise SignatureError("request is not signed")
        return _parse_cavage(method, path_and_query, url, h, raw)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        # Belt and braces: malformed input must surface as a 401, never a 500.
        raise SignatureError(f"malformed signature: {exc}") from exc


# token68-ish param names and values per draft-cavage-12 section 4.1 (auth-param syntax).
_CAVAGE_PARAM = re.compile(
    r"[ \t]*([A-Za-z0-9!#$%&'*+.^_`|~\-]+)[ \t]*=[ \t]*"
    r"(?:\"([^\"\\\x00-\x1f\x7f]*(?:\\[^\x00-\x1f\x7f][^\"\\\x00-\x1f\x7f]*)*)\""
    r"|([A-Za-z0-9!#$%&'*+.^_`|~\-/]+))"
    r"[ \t]*(,|$)"
)
_UNESCAPE = re.compile(r"\\(.)")
_CAVAGE_CREATED = re.compile(r"[0-9]{1,12}")
_CAVAGE_EXPIRES = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def _parse_cavage_params(raw: str) -> dict[str, str]:
    if len(raw) > _MAX_HEADER:
        raise SignatureError("Signature header too long")
    # Old node-http-signature put the auth scheme into the Signature header; Mastodon
    # tolerates the prefix, so do we.
    if raw[:10].lower() == "signature ":
        raw = raw[10:]
    params: dict[str, str] = {}
    pos = 0
    while True:
        m = _CAVAGE_PARAM.match(raw, pos)
        if m is None:
            raise SignatureError("Signature header is not a list of key=value parameters")
        name, quoted, token, sep = m.groups()
        if name in params:
            raise SignatureError(f"Signature parameter {name!r} repeated")
        if quoted is None:
            params[name] = token
        else:
            params[name] = _UNESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        pos = m.end()
        if sep != ",":
            if pos != len(raw):
                raise SignatureError("junk after Signature parameters")
            return params


def _check_request_host(h: Mapping[str, str], target: ParsedUrl) -> str:
    """The Host header as sent, after checking it names this server (so a signature made
    for another server cannot be replayed here)."""
    raw = h.get("host")
    if raw is None:
        return target.authority
    host = raw.strip(" \t")
    try:
        sent = parse_actor_url(f"{target.scheme}://{host}/")
    except BadRequest as exc:
        raise SignatureError("Host header is malformed") from exc
    if (sent.host, sent.port) != (target.host, target.port):
        raise SignatureError("Host header does not match this server")
    return host


def _cavage_covered(
    params: Mapping[str, str], method: str, h: Mapping[str, str]
) -> tuple[str, ...]:
    """The covered header list, refused unless it binds the request to this server, a time
    and (with a body) the content: stricter than Mastodon, which only wants `host` on GET."""
    # draft-cavage-12 section 2.1.6: the default list is "(created)"; older drafts "date".
    covered = tuple(params.get("headers", "(created)").lower().split())
    if not covered:
        raise SignatureError("Signature covers no headers")
    if len(set(covered)) != len(covered):
        raise SignatureError("Signature lists a header twice")
    if "(request-target)" not in covered:
        raise SignatureError("Signature must cover (request-target)")
    if "host" not in covered:
        raise SignatureError("Signature must cover host")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("Signature must cover date or (created)")
    if _has_body(method, h) and "digest" not in covered and "content-digest" not in covered:
        raise SignatureError("Signature must cover digest for a request with a body")
    return covered


def _parse_cavage(
    method: str, path_and_query: str, url: str, h: Mapping[str, str], raw: str
) -> ParsedSignature:
    params = _parse_cavage_params(raw)
    key_id = params.get("keyId", "")
    if not key_id:
        raise SignatureError("Signature has no keyId")
    signature = _b64decode_strict(params.get("signature", ""))
    if not signature:
        raise SignatureError("Signature has no signature value")
    algorithm = params.get("algorithm")
    if algorithm is not None:
        algorithm = algorithm.lower()
        if algorithm not in CAVAGE_ALGORITHMS:
            raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    covered = _cavage_covered(params, method, h)
    target = _request_url(url)

    created: datetime | None = None
    expires: datetime | None = None
    lines: list[str] = []
    legacy: list[str] | None = None
    for name in covered:
        if name == "(request-target)":
            line = f"(request-target): {method.lower()} {path_and_query}"
            path = path_and_query.partition("?")[0]
            if path != path_and_query:
                legacy = [*lines, f"(request-target): {method.lower()} {path}"]
        elif name in ("(created)", "(expires)"):
            # Mastodon: these pseudo-headers only exist with hs2019 (draft-cavage-12).
            if algorithm == "rsa-sha256":
                raise SignatureError(f"{name} is not allowed with rsa-sha256")
            param = name[1:-1]
            value = params.get(param, "")
            pattern = _CAVAGE_CREATED if param == "created" else _CAVAGE_EXPIRES
            if not pattern.fullmatch(value):
                raise SignatureError(f"{name} covered but its parameter is missing or bad")
            moment = _epoch(float(value), param)
            if param == "created":
                created = moment
            else:
                expires = moment
            line = f"{name}: {value}"
        elif name == "host":
            line = f"host: {_check_request_host(h, target)}"
        else:
            line = f"{name}: {_field_value(h, name)}"
        if legacy is not None and name != "(request-target)":
            legacy.append(line)
        lines.append(line)
    return ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        covered=covered,
        base=_join_base(lines),
        signature=signature,
        created=created,
        expires=expires,
        date=_field_value(h, "date") if "date" in covered else None,
        label=None,
        digest=_field_value(h, "digest") if "digest" in covered else None,
        content_digest=(_field_value(h, "content-digest") if "content-digest" in covered else None),
        legacy_bases=(_join_base(legacy),) if legacy is not None else (),
    )


_FIELD_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~\-]+")


def _query_param_value(query: str, name: str) -> str:
    # RFC 9421 section 2.2.8: decode as application/x-www-form-urlencoded, then re-encode.
    wanted = urllib.parse.unquote_plus(name)
    found = [v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k == wanted]
    if len(found) != 1:
        raise SignatureError(f"query parameter {name!r} absent or repeated")
    return urllib.parse.quote(found[0], safe="*").replace("~", "%7E")


def _component_value(
    item: _Item, method: str, path_and_query: str, target: ParsedUrl, h: Mapping[str, str]
) -> str:
    name = item.value
    if not isinstance(name, str) or isinstance(name, _Token):
        raise SignatureError("component identifiers must be strings")
    path, _, query = path_and_query.partition("?")
    if name.startswith("@"):
        if name == "@query-param":
            qname = item.params.get("name")
            if set(item.params) != {"name"} or not isinstance(qname, str):
                raise SignatureError("@query-param needs exactly a string name parameter")
            return _query_param_value(query, qname)
        if item.params:
            raise SignatureError(f"unsupported parameters on {name}")
        derived = {
            "@method": method,
            "@target-uri": target.origin + path_and_query,
            "@authority": target.authority,
            "@scheme": target.scheme,
            "@request-target": path_and_query,
            "@path": path or "/",
            "@query": "?" + query,
        }
        value = derived.get(name)
        if value is None:
            # @status and anything unknown: this is a request, and we are strict.
            raise SignatureError(f"unsupported derived component {name}")
        return value
    if item.params:
        # sf, key, bs, req, tr (sections 2.1.1-2.1.4, 2.4): not needed by any fediverse
        # server today; refusing is safer than half-supporting.
        raise SignatureError(f"unsupported parameters on component {name!r}")
    if not _FIELD_NAME.fullmatch(name):
        raise SignatureError(f"component {name!r} is not a lower-case field name")
    return _field_value(h, name)


def _rfc9421_base(
    method: str, path_and_query: str, target: ParsedUrl, h: Mapping[str, str], inner: _InnerList
) -> tuple[bytes, list[str]]:
    """The signature base (RFC 9421 section 2.5) and the serialised component identifiers."""
    lines: list[str] = []
    identifiers: list[str] = []
    seen: set[str] = set()
    for item in inner.items:
        identifier = _ser_item(item)
        if identifier in seen:
            raise SignatureError(f"component {identifier} covered twice")
        if item.value == "@signature-params":
            raise SignatureError("@signature-params cannot be covered")
        seen.add(identifier)
        identifiers.append(identifier)
        lines.append(f"{identifier}: {_component_value(item, method, path_and_query, target, h)}")
    # The parameters line re-serialises what was parsed (section 2.3), never the raw text.
    params = "(" + " ".join(identifiers) + ")" + _ser_params(inner.params)
    lines.append(f'"@signature-params": {params}')
    return _join_base(lines), identifiers


def _select_rfc9421(h: Mapping[str, str], label: str | None) -> tuple[str, _InnerList, bytes]:
    inputs = _parse_sf_dictionary(h["signature-input"])
    signatures = _parse_sf_dictionary(h.get("signature", ""))
    if label is None:
        # Several signatures can coexist (a proxy may add its own); take the first one the
        # sender both described and supplied.
        label = next((k for k in inputs if k in signatures), None)
        if label is None:
            raise SignatureError("no Signature matches any Signature-Input label")
    inner, sig = inputs.get(label), signatures.get(label)
    if not isinstance(inner, _InnerList):
        raise SignatureError(f"Signature-Input {label!r} is not an inner list")
    if not isinstance(sig, _Item) or not isinstance(sig.value, bytes) or not sig.value:
        raise SignatureError(f"Signature {label!r} is not a byte sequence")
    return label, inner, sig.value


def signature_base_rfc9421(
    method: str,
    path_and_query: str,
    url: str,
    headers: Mapping[str, str],
    label: str | None = None,
) -> bytes:
    """The RFC 9421 signature base for the request's Signature-Input, without any policy
    checks (tests use it on the RFC's own examples)."""
    h = _combined_headers(headers)
    _, inner, _ = _select_rfc9421(h, label)
    return _rfc9421_base(method, path_and_query, _request_url(url), h, inner)[0]


def _int_param(params: _Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SignatureError(f"signature parameter {name} must be a non-negative integer")
    return value


def _parse_rfc9421(
    method: str, path_and_query: str, url: str, h: Mapping[str, str]
) -> ParsedSignature:
    label, inner, signature = _select_rfc9421(h, None)
    params = inner.params
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or isinstance(key_id, _Token) or not key_id:
        raise SignatureError("Signature-Input has no keyid string")
    alg = params.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in RFC9421_ALGORITHMS):
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    created, expires = _int_param(params, "created"), _int_param(params, "expires")

    names = {item.value for item in inner.items if isinstance(item.value, str)}
    query = path_and_query.partition("?")[2]
    if "@method" not in names:
        raise SignatureError("signature must cover @method")
    if "@target-uri" not in names:
        has_path = "@path" in names or "@request-target" in names
        has_query = not query or "@query" in names or "@request-target" in names
        if "@authority" not in names or not has_path or not has_query:
            raise SignatureError("signature must cover @target-uri, or @authority and @path")
    if _has_body(method, h) and "content-digest" not in names and "digest" not in names:
        raise SignatureError("signature must cover content-digest for a request with a body")
    target = _request_url(url)
    base, identifiers = _rfc9421_base(method, path_and_query, target, h, inner)
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=alg,
        covered=tuple(identifier.replace('"', "") for identifier in identifiers),
        base=base,
        signature=signature,
        created=_epoch(created, "created") if created is not None else None,
        expires=_epoch(expires, "expires") if expires is not None else None,
        date=_field_value(h, "date") if "date" in names else None,
        label=label,
        digest=_field_value(h, "digest") if "digest" in names else None,
        content_digest=_field_value(h, "content-digest") if "content-digest" in names else None,
    )


# --------------------------------------------------------------------------- verification

_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def _check_digest_values(offered: dict[str, bytes], body: bytes, header: str) -> None:
    known = {alg: value for alg, value in offered.items() if alg in _DIGESTS}
    if not known:
        names = ", ".join(offered) or "none"
        raise SignatureError(f"{header} offers no SHA-256 or SHA-512 digest (offered: {names})")
    for alg, value in known.items():
        expected = _DIGESTS[alg](body).digest()
        if len(value) != len(expected):
            raise SignatureError(f"{header} {alg} value has the wrong length")
        if not hmac.compare_digest(value, expected):
            raise SignatureError(f"{header} {alg} does not match the body")


def _check_legacy_digest(value: str, body: bytes) -> None:
    # RFC 3230: `SHA-256=abc, SHA-512=def`; algorithm names are case-insensitive.
    if len(value) > _MAX_HEADER:
        raise SignatureError("Digest header too long")
    offered: dict[str, bytes] = {}
    for part in value.split(","):
        alg, eq, encoded = part.strip().partition("=")
        if not eq or not alg:
            raise SignatureError("Digest header is malformed")
        alg = alg.lower()
        offered[alg] = _b64decode_strict(encoded.strip()) if alg in _DIGESTS else b""
    _check_digest_values(offered, body, "Digest")


def _check_content_digest(value: str, body: bytes) -> None:
    offered: dict[str, bytes] = {}
    for alg, member in _parse_sf_dictionary(value).items():
        if isinstance(member, _Item) and isinstance(member.value, bytes):
            offered[alg] = member.value
        elif alg in _DIGESTS:
            raise SignatureError(f"Content-Digest {alg} is not a byte sequence")
        else:
            offered[alg] = b""
    _check_digest_values(offered, body, "Content-Digest")


def _check_freshness(parsed: ParsedSignature, now: datetime, policy: FreshnessPolicy) -> None:
    date = parse_http_date(parsed.date) if parsed.date is not None else None
    start = parsed.created or date
    if start is None:
        raise SignatureError("signature covers neither a Date nor a created time")
    for moment in (parsed.created, date):
        if moment is None:
            continue
        if moment > now + policy.max_future:
            raise SignatureError("signature is dated in the future")
        if now - moment > policy.max_age:
            raise SignatureError("signature is too old")
    # Mastodon's window: expiry defaults to created + 5 min, is capped at created + 12 h,
    # and is enforced with an hour of clock skew.
    expiry = parsed.expires or start + policy.default_ttl
    expiry = min(expiry, start + policy.max_age)
    if now > expiry + policy.clock_skew:
        raise SignatureError("signature has expired")


def verify_bytes(
    public_key: PublicKey, message: bytes, signature: bytes, alg: str | None = None
) -> None:
    """Verify `signature` over `message`; the key type decides the algorithm.

    `alg` (an RFC 9421 registry name) may only confirm what the key implies, with one
    widening: an RSA key verifies `rsa-pss-sha512` when that is named explicitly.
    """
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if alg in (None, "rsa-v1_5-sha256"):
                public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            elif alg == "rsa-pss-sha512":
                # RFC 9421 section 3.3.1: MGF1 with SHA-512 and a 64-byte salt.
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
                public_key.verify(signature, message, pss, hashes.SHA512())
            else:
                raise SignatureError(f"algorithm {alg!r} does not fit an RSA key")
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            if alg not in (None, "ed25519"):
                raise SignatureError(f"algorithm {alg!r} does not fit an Ed25519 key")
            public_key.verify(signature, message)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if alg not in (None, "ecdsa-p256-sha256") or not isinstance(
                public_key.curve, ec.SECP256R1
            ):
                raise SignatureError(f"algorithm {alg!r} does not fit this EC key")
            # RFC 9421 section 3.3.4: r || s, 32 bytes each, not DER.
            if len(signature) != 64:
                raise SignatureError("ECDSA P-256 signature must be 64 bytes")
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            der = encode_dss_signature(r, s)
            public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        else:
            raise SignatureError("unsupported key type")
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc
    except ValueError as exc:
        raise SignatureError(f"signature does not verify: {exc}") from exc


def _cavage_alg(label: str | None, public_key: PublicKey) -> str:
    if isinstance(public_key, rsa.RSAPublicKey) and label in (None, "hs2019", "rsa-sha256"):
        return "rsa-v1_5-sha256"
    if isinstance(public_key, ed25519.Ed25519PublicKey) and label in (None, "hs2019", "ed25519"):
        return "ed25519"
    raise SignatureError(f"algorithm {label!r} does not fit the actor's key")


def verify_signature(
    parsed: ParsedSignature,
    key: VerificationKey,
    body: bytes | None,
    now: datetime | None = None,
    policy: FreshnessPolicy = FreshnessPolicy(),  # frozen, so one shared default is safe
) -> None:
    """Check freshness, the body digest and the signature; SignatureError says why.

    On success the request was signed by `key.owner`. `body` is the raw request body
    (None for none); a body is only accepted under a covered Digest or Content-Digest.
    """
    check_freshness_and_digest(parsed, body, now, policy)
    verify_with_key(parsed, key)


def check_freshness_and_digest(
    parsed: ParsedSignature,
    body: bytes | None,
    now: datetime | None = None,
    policy: FreshnessPolicy = FreshnessPolicy(),
) -> None:
    """The checks that need no key: run them before fetching one, so that a stale or
    tampered request never makes us fetch (or refetch) anything."""
    _check_freshness(parsed, _now(now), policy)
    if body is not None and parsed.digest is None and parsed.content_digest is None:
        raise SignatureError("request has a body but the signature covers no digest")
    if parsed.digest is not None:
        _check_legacy_digest(parsed.digest, body or b"")
    if parsed.content_digest is not None:
        _check_content_digest(parsed.content_digest, body or b"")


def verify_with_key(parsed: ParsedSignature, key: VerificationKey) -> None:
    """Only the cryptographic check, with the algorithm the key dictates."""
    if parsed.scheme == "cavage":
        alg = _cavage_alg(parsed.algorithm, key.public_key)
        for base in (parsed.base, *parsed.legacy_bases):
            try:
                verify_bytes(key.public_key, base, parsed.signature, alg)
                return
            except SignatureError:
                continue
        raise SignatureError(f"signature does not verify with key {key.key_id}")
    verify_bytes(key.public_key, parsed.base, parsed.signature, parsed.algorithm)
