"""HTTP signatures: round trips, every refusal, httpsig cross-checks and RFC 9421 vectors.

Keys are the RFC 9421 Appendix B test keys and `now` is fixed, so every signature here is
the same on every run (RSA PKCS#1 v1.5 and Ed25519 are deterministic).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
import rfc9421_vectors as V
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier

from federatie.activitypub.signatures import (
    FreshnessPolicy,
    ParsedSignature,
    SigningKey,
    VerificationKey,
    b58decode,
    b58encode,
    content_digest_header,
    digest_header,
    format_http_date,
    generate_ed25519,
    generate_rsa_pem,
    multikey_multibase,
    parse_http_date,
    parse_signature,
    sign_cavage,
    sign_rfc9421,
    signature_base_rfc9421,
    verify_bytes,
    verify_signature,
)
from federatie.errors import BadRequest, SignatureError

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ACTOR = "https://gov.example/users/alice"
KEY_ID = ACTOR + "#main-key"
INBOX = "https://peer.example/inbox"
BODY = b'{"type":"Create","actor":"https://gov.example/users/alice"}'

RSA_KEY = SigningKey.from_pem(KEY_ID, V.TEST_KEY_RSA_PRIVATE)
RSA_VKEY = VerificationKey.from_pem(KEY_ID, ACTOR, V.TEST_KEY_RSA_PUBLIC)
RSA_PUBLIC_PEM = RSA_KEY.public_key.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()
ED_KEY = SigningKey.from_pem(KEY_ID, V.TEST_KEY_ED25519_PRIVATE)
ED_VKEY = VerificationKey.from_pem(KEY_ID, ACTOR, V.TEST_KEY_ED25519_PUBLIC)
OTHER_VKEY = VerificationKey.from_pem(KEY_ID, ACTOR, V.TEST_KEY_RSA_PSS_PUBLIC)


def signed_post(
    key: SigningKey = RSA_KEY, body: bytes = BODY, now: datetime = NOW, url: str = INBOX
) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_cavage("POST", url, headers, body, key, now))
    return headers


def check(
    headers: Mapping[str, str],
    body: bytes | None = BODY,
    vkey: VerificationKey = RSA_VKEY,
    method: str = "POST",
    target: str = "/inbox",
    url: str = INBOX,
    now: datetime = NOW,
) -> ParsedSignature:
    parsed = parse_signature(method, target, url, headers)
    verify_signature(parsed, vkey, body, now)
    return parsed


def replace_param(headers: dict[str, str], old: str, new: str) -> dict[str, str]:
    assert old in headers["Signature"]
    return {**headers, "Signature": headers["Signature"].replace(old, new)}


def manual_cavage(
    covered: str,
    lines: list[str],
    extra: str = "",
    algorithm: str | None = "hs2019",
    key: SigningKey = RSA_KEY,
) -> str:
    """A cavage Signature value over hand-written signing-string lines."""
    signature = base64.b64encode(key.sign("\n".join(lines).encode())).decode()
    alg = f'algorithm="{algorithm}",' if algorithm else ""
    return f'keyId="{key.key_id}",{alg}headers="{covered}",signature="{signature}"{extra}'


# --------------------------------------------------------------------------- cavage


def test_cavage_post_round_trip_rsa_sha256() -> None:
    headers = signed_post()
    assert headers["Host"] == "peer.example"
    assert headers["Date"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert headers["Digest"] == digest_header(BODY)
    assert 'algorithm="rsa-sha256"' in headers["Signature"]
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    parsed = check(headers)
    assert parsed.scheme == "cavage"
    assert parsed.key_id == KEY_ID
    assert parsed.covered == ("(request-target)", "host", "date", "digest")
    assert parsed.base == (
        b"(request-target): post /inbox\nhost: peer.example\n"
        b"date: Wed, 01 May 2024 12:00:00 GMT\ndigest: " + digest_header(BODY).encode()
    )


def test_cavage_hs2019_label_and_no_label() -> None:
    headers = signed_post()
    check(replace_param(headers, 'algorithm="rsa-sha256"', 'algorithm="hs2019"'))
    check(replace_param(headers, 'algorithm="rsa-sha256",', ""))
    check(replace_param(headers, 'algorithm="rsa-sha256"', "algorithm=RSA-SHA256"))


def test_cavage_get_round_trip_and_header_set() -> None:
    headers = sign_cavage("GET", "https://peer.example/users/bob?page=2", {}, None, RSA_KEY, NOW)
    assert "Digest" not in headers
    assert 'headers="(request-target) host date"' in headers["Signature"]
    check(
        headers,
        None,
        method="GET",
        target="/users/bob?page=2",
        url="https://peer.example/users/bob",
    )


def test_cavage_ed25519_round_trip() -> None:
    headers = signed_post(ED_KEY)
    assert 'algorithm="hs2019"' in headers["Signature"]
    check(headers, vkey=ED_VKEY)
    check(replace_param(headers, 'algorithm="hs2019"', 'algorithm="ed25519"'), vkey=ED_VKEY)
    multikey = VerificationKey.from_multibase(KEY_ID, ACTOR, multikey_multibase(ED_KEY.public_key))
    check(headers, vkey=multikey)
    with pytest.raises(SignatureError, match="does not fit"):
        check(replace_param(headers, 'algorithm="hs2019"', 'algorithm="ed25519"'))
    with pytest.raises(SignatureError, match="does not fit"):
        check(replace_param(headers, 'algorithm="hs2019"', 'algorithm="rsa-sha256"'), vkey=ED_VKEY)


def test_cavage_authorization_header_form() -> None:
    headers = signed_post()
    signature = headers.pop("Signature")
    headers["Authorization"] = "Signature " + signature
    check(headers)


def test_cavage_buggy_signature_prefix_tolerated() -> None:
    headers = signed_post()
    check({**headers, "Signature": "Signature " + headers["Signature"]})


def test_mastodon_legacy_request_target_without_query() -> None:
    """Mastodon before 4.2 signed (request-target) without the query; it still accepts it."""
    headers = sign_cavage("GET", "https://peer.example/users/bob", {}, None, RSA_KEY, NOW)
    parsed = check(headers, None, method="GET", target="/users/bob?page=2")
    assert parsed.legacy_bases


def test_tampered_body() -> None:
    with pytest.raises(SignatureError, match="does not match the body"):
        check(signed_post(), BODY + b" ")


def test_wrong_digest() -> None:
    headers = {**signed_post(), "Digest": digest_header(b"something else")}
    with pytest.raises(SignatureError, match="does not match the body"):
        check(headers)


def test_digest_changed_and_body_matching_still_fails_signature() -> None:
    other = b'{"type":"Delete"}'
    headers = {**signed_post(), "Digest": digest_header(other)}
    with pytest.raises(SignatureError, match="does not verify"):
        check(headers, other)


@pytest.mark.parametrize(
    "digest",
    [
        "SHA-256=not*base64!",
        "SHA-256=" + base64.b64encode(b"short").decode(),
        "SHA-256",
        "=abc",
        "MD5=" + base64.b64encode(hashlib.md5(BODY).digest()).decode(),
        "SHA=" + base64.b64encode(hashlib.sha1(BODY).digest()).decode(),
        "SHA-256="
        + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
        + ",SHA-512="
        + base64.b64encode(hashlib.sha512(b"x").digest()).decode(),
        "",
    ],
)
def test_bad_digest_headers(digest: str) -> None:
    headers = {**signed_post(), "Digest": digest}
    with pytest.raises(SignatureError):
        check(headers)


def test_digest_with_several_algorithms() -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    value = f"MD5={md5}, sha-512={sha512},SHA-256={digest_header(BODY)[8:]}"
    lines = [
        "(request-target): post /inbox",
        "host: peer.example",
        f"date: {format_http_date(NOW)}",
        f"digest: {value}",
    ]
    sig = manual_cavage("(request-target) host date digest", lines, algorithm="rsa-sha256")
    headers = {"Host": "peer.example", "Date": format_http_date(NOW), "Digest": value}
    check({**headers, "Signature": sig})


def test_missing_digest_on_post() -> None:
    headers = sign_cavage("POST", INBOX, {}, None, RSA_KEY, NOW)  # signed without a body
    with pytest.raises(SignatureError, match="must cover digest"):
        check(headers)


def test_body_without_any_digest_refused() -> None:
    headers = sign_cavage("GET", INBOX, {}, None, RSA_KEY, NOW)
    parsed = parse_signature("GET", "/inbox", INBOX, headers)
    with pytest.raises(SignatureError, match="covers no digest"):
        verify_signature(parsed, RSA_VKEY, b"smuggled", NOW)


def test_digest_present_but_not_signed_on_get_with_body() -> None:
    headers = sign_cavage("GET", INBOX, {}, None, RSA_KEY, NOW)
    headers["Digest"] = digest_header(b"smuggled")
    headers["Content-Length"] = "8"
    with pytest.raises(SignatureError, match="must cover digest"):
        check(headers, b"smuggled", method="GET")


@pytest.mark.parametrize(
    ("covered", "error"),
    [
        ("host date digest", r"\(request-target\)"),
        ("(request-target) date digest", "cover host"),
        ("(request-target) host digest", "date or"),
        ("(request-target) host date", "digest"),
        ("(request-target) host host date digest", "twice"),
        ("", "no headers"),
    ],
)
def test_missing_required_header(covered: str, error: str) -> None:
    values = {
        "(request-target)": "post /inbox",
        "host": "peer.example",
        "date": format_http_date(NOW),
        "digest": digest_header(BODY),
    }
    lines = [f"{name}: {values[name]}" for name in covered.split()]
    headers = {"Host": "peer.example", "Date": format_http_date(NOW), "Digest": digest_header(BODY)}
    headers["Signature"] = manual_cavage(covered, lines)
    with pytest.raises(SignatureError, match=error):
        check(headers)


def test_default_headers_list_is_refused() -> None:
    headers = signed_post()
    headers["Signature"] = headers["Signature"].split(',headers="')[0]
    with pytest.raises(SignatureError, match="request-target"):
        check(headers)


def test_covered_header_missing() -> None:
    headers = signed_post()
    del headers["Date"]
    with pytest.raises(SignatureError, match="'date' is missing"):
        check(headers)


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(hours=1, minutes=1),  # too far in the future
        timedelta(days=365),
        -timedelta(hours=1, minutes=6),  # 5 min life + 1 h skew exceeded
        -timedelta(hours=13),
        -timedelta(days=3650),
    ],
)
def test_date_outside_window(delta: timedelta) -> None:
    headers = signed_post(now=NOW + delta)
    with pytest.raises(SignatureError, match=r"future|old|expired"):
        check(headers)


@pytest.mark.parametrize(
    "delta", [timedelta(minutes=59), timedelta(0), -timedelta(minutes=64), -timedelta(seconds=1)]
)
def test_date_inside_window(delta: timedelta) -> None:
    check(signed_post(now=NOW + delta))


@pytest.mark.parametrize(
    "date", ["yesterday", "", "Wed, 32 May 2024 12:00:00 GMT", "1714564800", "x" * 100]
)
def test_unparsable_date(date: str) -> None:
    lines = [
        "(request-target): post /inbox",
        "host: peer.example",
        f"date: {date}",
        f"digest: {digest_header(BODY)}",
    ]
    headers = {"Host": "peer.example", "Date": date, "Digest": digest_header(BODY)}
    headers["Signature"] = manual_cavage("(request-target) host date digest", lines)
    with pytest.raises(SignatureError):
        check(headers)


def test_obsolete_http_date_forms_accepted() -> None:
    assert parse_http_date("Wednesday, 01-May-24 12:00:00 GMT") == NOW
    assert parse_http_date("Wed May  1 12:00:00 2024") == NOW
    assert format_http_date(NOW.replace(tzinfo=None)) == "Wed, 01 May 2024 12:00:00 GMT"


def created_signature(
    created: str, expires: str | None = None, algorithm: str = "hs2019"
) -> dict[str, str]:
    covered = "(request-target) host (created) digest" + (" (expires)" if expires else "")
    lines = [
        "(request-target): post /inbox",
        "host: peer.example",
        f"(created): {created}",
        f"digest: {digest_header(BODY)}",
    ]
    extra = f",created={created}"
    if expires is not None:
        lines.append(f"(expires): {expires}")
        extra += f",expires={expires}"
    return {
        "Host": "peer.example",
        "Digest": digest_header(BODY),
        "Signature": manual_cavage(covered, lines, extra, algorithm=algorithm),
    }


def test_cavage_created_and_expires() -> None:
    now_ts = int(NOW.timestamp())
    parsed = check(created_signature(str(now_ts - 60)))
    assert parsed.created == NOW - timedelta(seconds=60)
    check(created_signature(str(now_ts - 7200), expires=str(now_ts + 60)))
    check(created_signature(str(now_ts), expires=f"{now_ts + 60}.5"))
    with pytest.raises(SignatureError, match="expired"):
        check(created_signature(str(now_ts - 7200), expires=str(now_ts - 3601)))
    with pytest.raises(SignatureError, match="future"):
        check(created_signature(str(now_ts + 3700)))
    with pytest.raises(SignatureError, match="old"):
        check(created_signature(str(now_ts - 13 * 3600), expires=str(now_ts + 3600)))
    with pytest.raises(SignatureError, match="not allowed with rsa-sha256"):
        check(created_signature(str(now_ts), algorithm="rsa-sha256"))
    with pytest.raises(SignatureError, match="parameter is missing or bad"):
        check(created_signature("soon"))


def test_uncovered_created_parameter_is_ignored() -> None:
    """Mastodon trusts `created` even when unsigned; we don't, so replays stay stale."""
    stale = signed_post(now=NOW - timedelta(hours=3))
    fresh = {**stale, "Signature": stale["Signature"] + f",created={int(NOW.timestamp())}"}
    with pytest.raises(SignatureError, match="expired"):
        check(fresh)


def test_freshness_policy_is_configurable() -> None:
    parsed = parse_signature("POST", "/inbox", INBOX, signed_post(now=NOW - timedelta(minutes=3)))
    strict = FreshnessPolicy(default_ttl=timedelta(minutes=1), clock_skew=timedelta(0))
    with pytest.raises(SignatureError, match="expired"):
        verify_signature(parsed, RSA_VKEY, BODY, NOW, strict)
    verify_signature(parsed, RSA_VKEY, BODY, NOW)


def test_wrong_key() -> None:
    with pytest.raises(SignatureError, match="does not verify"):
        check(signed_post(), vkey=OTHER_VKEY)
    with pytest.raises(SignatureError, match="does not fit"):
        check(signed_post(), vkey=ED_VKEY)


def test_signature_made_for_another_server_is_refused() -> None:
    headers = signed_post(url="https://other.example/inbox")
    with pytest.raises(SignatureError, match="Host header does not match"):
        check(headers)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('keyId="' + KEY_ID + '",', "", "keyId"),
        ('keyId="' + KEY_ID + '"', 'keyId=""', "keyId"),
        ('signature="', 'signature="!!', "base64"),
        ('signature="', 'signature="A', "base64"),
        ('algorithm="rsa-sha256"', 'algorithm="rsa-sha1"', "unsupported signature algorithm"),
        ('algorithm="rsa-sha256"', 'algorithm="hmac-sha256"', "unsupported signature algorithm"),
        ('algorithm="rsa-sha256"', 'algorithm="rsa-sha512"', "unsupported signature algorithm"),
        ('algorithm="rsa-sha256"', 'algorithm="rsa-sha256",algorithm="hs2019"', "repeated"),
        ('",headers', '" headers', "key=value"),
    ],
)
def test_malformed_cavage_parameters(old: str, new: str, error: str) -> None:
    with pytest.raises(SignatureError, match=error):
        check(replace_param(signed_post(), old, new))


def test_unsigned_request() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        parse_signature("POST", "/inbox", INBOX, {"Host": "peer.example"})
    with pytest.raises(SignatureError, match="not signed"):
        parse_signature("POST", "/inbox", INBOX, {"Authorization": "Bearer abc"})


def test_newline_injection_in_covered_header() -> None:
    headers = signed_post()
    headers["Date"] = headers["Date"] + "\ndigest: x"
    with pytest.raises(SignatureError):
        check(headers)


# --------------------------------------------------------------------------- httpsig


def test_httpsig_signed_request_verifies_with_us() -> None:
    date = format_http_date(NOW)
    signer = HeaderSigner(
        KEY_ID,
        V.TEST_KEY_RSA_PRIVATE,
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    )
    signed = signer.sign(
        {"Host": "peer.example", "Date": date, "Digest": digest_header(BODY)},
        host="peer.example",
        method="POST",
        path="/inbox",
    )
    check(dict(signed))


@pytest.mark.parametrize(("method", "body"), [("POST", BODY), ("GET", None)])
def test_we_sign_byte_for_byte_like_httpsig(method: str, body: bytes | None) -> None:
    url = "https://peer.example:8443/users/bob?page=1"
    ours = sign_cavage(method, url, {}, body, RSA_KEY, NOW)
    covered = ["(request-target)", "host", "date"] + (["digest"] if body is not None else [])
    signer = HeaderSigner(
        KEY_ID,
        V.TEST_KEY_RSA_PRIVATE,
        algorithm="rsa-sha256",
        headers=covered,
        sign_header="signature",
    )
    theirs = signer.sign(
        {k: v for k, v in ours.items() if k != "Signature"},
        host=ours["Host"],
        method=method,
        path="/users/bob?page=1",
    )
    assert ours["Host"] == "peer.example:8443"
    assert theirs["signature"] == ours["Signature"]


def test_hmac_with_public_key_forgery() -> None:
    """Algorithm confusion: HMAC keyed with the actor's *public* PEM, which anyone can fetch.

    httpsig's HeaderVerifier takes the algorithm from the request and accepts the forgery,
    which is why we never verify with httpsig. We refuse the label, and without a label the
    RSA key decides the algorithm, so the forgery still fails.
    """
    date = format_http_date(NOW)
    forged = HeaderSigner(
        KEY_ID,
        RSA_PUBLIC_PEM,
        algorithm="hmac-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    ).sign(
        {"Host": "peer.example", "Date": date, "Digest": digest_header(BODY)},
        host="peer.example",
        method="POST",
        path="/inbox",
    )
    forged = dict(forged)
    assert 'algorithm="hmac-sha256"' in forged["signature"]
    httpsig_verdict = HeaderVerifier(
        forged,
        RSA_PUBLIC_PEM,
        required_headers=["(request-target)", "host", "date", "digest"],
        method="POST",
        path="/inbox",
        sign_header="signature",
    ).verify()
    assert httpsig_verdict is True  # httpsig is fooled

    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        check(forged)
    unlabelled = {
        **forged,
        "signature": forged["signature"].replace('algorithm="hmac-sha256",', ""),
    }
    with pytest.raises(SignatureError, match="does not verify"):
        check(unlabelled)


def test_rsa_sha1_refused() -> None:
    signed = HeaderSigner(
        KEY_ID,
        V.TEST_KEY_RSA_PRIVATE,
        algorithm="rsa-sha1",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    ).sign(
        {"Host": "peer.example", "Date": format_http_date(NOW), "Digest": digest_header(BODY)},
        host="peer.example",
        method="POST",
        path="/inbox",
    )
    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        check(dict(signed))


# --------------------------------------------------------------------------- RFC 9421


def signed_9421(
    key: SigningKey = RSA_KEY, body: bytes | None = BODY, now: datetime = NOW, method: str = "POST"
) -> dict[str, str]:
    headers = {"Host": "peer.example", "Content-Type": "application/activity+json"}
    headers.update(sign_rfc9421(method, INBOX, headers, body, key, now))
    return headers


def test_rfc9421_round_trip_rsa_and_ed25519() -> None:
    headers = signed_9421()
    assert headers["Content-Digest"] == content_digest_header(BODY)
    assert headers["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "content-digest");created=1714564800;keyid="{KEY_ID}"'
    )
    parsed = check(headers)
    assert parsed.scheme == "rfc9421"
    assert parsed.label == "sig1"
    assert parsed.covered == ("@method", "@target-uri", "content-digest")
    assert parsed.created == NOW
    check(signed_9421(ED_KEY), vkey=ED_VKEY)
    check(signed_9421(body=None, method="GET"), None, method="GET")


def test_rfc9421_custom_label() -> None:
    headers = {"Host": "peer.example"}
    headers.update(sign_rfc9421("POST", INBOX, headers, BODY, RSA_KEY, NOW, label="fed"))
    assert check(headers).label == "fed"
    with pytest.raises(ValueError, match="label"):
        sign_rfc9421("POST", INBOX, {}, BODY, RSA_KEY, NOW, label="Bad Label")


def test_rfc9421_failures() -> None:
    with pytest.raises(SignatureError, match="does not match the body"):
        check(signed_9421(), BODY + b"!")
    with pytest.raises(SignatureError, match="does not verify"):
        check(signed_9421(), vkey=OTHER_VKEY)
    with pytest.raises(SignatureError, match="does not verify"):
        check(signed_9421(), method="PUT")
    with pytest.raises(SignatureError, match="future"):
        check(signed_9421(now=NOW + timedelta(hours=2)))
    with pytest.raises(SignatureError, match=r"expired|old"):
        check(signed_9421(now=NOW - timedelta(hours=2)))
    with pytest.raises(SignatureError, match="content-digest"):
        check(signed_9421(body=None))
    headers = signed_9421()
    del headers["Content-Digest"]
    with pytest.raises(SignatureError, match="'content-digest' is missing"):
        check(headers)
    headers = signed_9421()
    del headers["Signature"]
    with pytest.raises(SignatureError, match="no Signature matches"):
        check(headers)


def rewrite_input(
    headers: dict[str, str], params: str, covered: str | None = None
) -> dict[str, str]:
    """Re-sign after changing the Signature-Input parameters (and covered list)."""
    if covered is None:
        covered = '"@method" "@target-uri" "content-digest"'
    out = {**headers, "Signature-Input": f"sig1=({covered}){params}", "Signature": "sig1=:AA==:"}
    base = signature_base_rfc9421("POST", "/inbox", INBOX, out)
    signature = RSA_KEY.sign(base)
    out["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
    return out


def test_rfc9421_alg_must_fit_key() -> None:
    headers = signed_9421()
    params = f';created={int(NOW.timestamp())};keyid="{KEY_ID}"'
    check(rewrite_input(headers, params + ';alg="rsa-v1_5-sha256"'))
    with pytest.raises(SignatureError, match="does not fit an RSA key"):
        check(rewrite_input(headers, params + ';alg="ed25519"'))
    with pytest.raises(SignatureError, match="unsupported signature algorithm"):
        check(rewrite_input(headers, params + ';alg="hmac-sha256"'))
    with pytest.raises(SignatureError, match="does not verify"):
        check(rewrite_input(headers, params + ';alg="rsa-pss-sha512"'))
    with pytest.raises(SignatureError, match="keyid"):
        check(rewrite_input(headers, f";created={int(NOW.timestamp())}"))
    with pytest.raises(SignatureError, match="neither"):
        check(rewrite_input(headers, f';keyid="{KEY_ID}"'))
    with pytest.raises(SignatureError, match="non-negative integer"):
        check(rewrite_input(headers, f';created="now";keyid="{KEY_ID}"'))


def test_rfc9421_explicit_pss_with_rsa_key() -> None:
    headers = signed_9421()
    params = f';created={int(NOW.timestamp())};keyid="{KEY_ID}";alg="rsa-pss-sha512"'
    out = {**headers, "Signature-Input": f'sig1=("@method" "@target-uri" "content-digest"){params}'}
    base = signature_base_rfc9421("POST", "/inbox", INBOX, {**out, "Signature": "sig1=:AA==:"})
    private = RSA_KEY.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    out["Signature"] = (
        f"sig1=:{base64.b64encode(private.sign(base, pss, hashes.SHA512())).decode()}:"
    )
    check(out)


@pytest.mark.parametrize(
    "covered",
    [
        '"@target-uri" "content-digest"',  # no @method
        '"@method" "content-digest"',  # no target
        '"@method" "@path" "content-digest"',  # no authority
        '"@method" "@target-uri"',  # no digest on POST
    ],
)
def test_rfc9421_required_components(covered: str) -> None:
    params = f';created={int(NOW.timestamp())};keyid="{KEY_ID}"'
    with pytest.raises(SignatureError, match="must cover"):
        check(rewrite_input(signed_9421(), params, covered))


def test_rfc9421_authority_and_path_alternative() -> None:
    params = f';created={int(NOW.timestamp())};keyid="{KEY_ID}"'
    check(rewrite_input(signed_9421(), params, '"@method" "@authority" "@path" "content-digest"'))
    check(
        rewrite_input(
            signed_9421(), params, '"@method" "@authority" "@request-target" "content-digest"'
        )
    )
    with pytest.raises(SignatureError, match="unsupported"):
        check(
            rewrite_input(
                signed_9421(), params, '"@method" "@target-uri" "@status" "content-digest"'
            )
        )
    with pytest.raises(SignatureError, match="unsupported"):
        check(rewrite_input(signed_9421(), params, '"@method" "@target-uri" "content-digest";sf'))
    with pytest.raises(SignatureError, match="twice"):
        check(
            rewrite_input(
                signed_9421(), params, '"@method" "@method" "@target-uri" "content-digest"'
            )
        )
    with pytest.raises(SignatureError, match="strings"):
        check(rewrite_input(signed_9421(), params, '"@method" "@target-uri" content-digest'))
    with pytest.raises(SignatureError, match="lower-case"):
        check(rewrite_input(signed_9421(), params, '"@method" "@target-uri" "Content-Digest"'))


def test_content_digest_variants() -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    params = f';created={int(NOW.timestamp())};keyid="{KEY_ID}"'
    good = [f"sha-512=:{sha512}:", f"md5=:AAAA:, sha-512=:{sha512}:, {content_digest_header(BODY)}"]
    for value in good:
        check(rewrite_input({**signed_9421(), "Content-Digest": value}, params))
    bad = [
        "md5=:AAAA:",
        "sha-256=abc",
        f"sha-256=:{sha512}:",
        "sha-256=:not base64:",
        f"{content_digest_header(BODY)}, sha-512=:{content_digest_header(b'x')[9:-1]}:",
        "",
        "sha-256=:" + "A" * 43 + "=:,",
    ]
    for value in bad:
        with pytest.raises(SignatureError):
            check(rewrite_input({**signed_9421(), "Content-Digest": value}, params))


def test_rfc9421_wins_over_cavage_signature() -> None:
    cavage = signed_post()
    rfc = signed_9421()
    merged = {**cavage, **rfc}
    assert check(merged).scheme == "rfc9421"


# --------------------------------------------------------------------------- RFC 9421 vectors


def vector_headers(signature_input: str, signature: str) -> dict[str, str]:
    label = signature_input.split("=", 1)[0]
    return {
        **V.REQUEST_HEADERS,
        "Signature-Input": signature_input,
        "Signature": f"{label}=:{signature}:",
    }


@pytest.mark.parametrize(
    ("name", "alg"),
    [
        ("B21", "rsa-pss-sha512"),
        ("B22", "rsa-pss-sha512"),
        ("B23", "rsa-pss-sha512"),
        ("B26", None),
    ],
)
def test_rfc9421_appendix_b2_request_vectors(name: str, alg: str | None) -> None:
    signature_input = getattr(V, f"{name}_INPUT")
    signature = getattr(V, f"{name}_SIGNATURE")
    expected_base = getattr(V, f"{name}_BASE").encode()
    headers = vector_headers(signature_input, signature)
    base = signature_base_rfc9421(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)
    assert base == expected_base
    pem = V.TEST_KEY_ED25519_PUBLIC if name == "B26" else V.TEST_KEY_RSA_PSS_PUBLIC
    key = VerificationKey.from_pem("k", "o", pem)
    verify_bytes(key.public_key, base, base64.b64decode(signature), alg)
    with pytest.raises(SignatureError):
        verify_bytes(key.public_key, base + b" ", base64.b64decode(signature), alg)
    if alg is not None:  # PSS is only ever used when named explicitly
        with pytest.raises(SignatureError):
            verify_bytes(key.public_key, base, base64.b64decode(signature))


def test_rfc9421_b26_ed25519_reproduced() -> None:
    key = SigningKey.from_pem("test-key-ed25519", V.TEST_KEY_ED25519_PRIVATE)
    assert base64.b64encode(key.sign(V.B26_BASE.encode())).decode() == V.B26_SIGNATURE


def test_rfc9421_b24_ecdsa_p256_response_base() -> None:
    key = VerificationKey.from_pem("test-key-ecc-p256", "o", V.TEST_KEY_ECC_P256_PUBLIC)
    signature = base64.b64decode(V.B24_SIGNATURE)
    verify_bytes(key.public_key, V.B24_BASE.encode(), signature, "ecdsa-p256-sha256")
    verify_bytes(key.public_key, V.B24_BASE.encode(), signature)
    with pytest.raises(SignatureError):
        verify_bytes(key.public_key, V.B24_BASE.encode() + b"x", signature)
    with pytest.raises(SignatureError, match="64 bytes"):
        verify_bytes(key.public_key, V.B24_BASE.encode(), signature + b"\0")


def test_rfc9421_b25_hmac_base_matches_but_hmac_is_refused() -> None:
    headers = vector_headers(V.B25_INPUT, V.B25_SIGNATURE)
    base = signature_base_rfc9421(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)
    assert base == V.B25_BASE.encode()
    mac = hmac.new(base64.b64decode(V.TEST_SHARED_SECRET), base, hashlib.sha256).digest()
    assert base64.b64encode(mac).decode() == V.B25_SIGNATURE
    with pytest.raises(SignatureError, match="does not fit"):
        verify_bytes(RSA_VKEY.public_key, base, mac, "hmac-sha256")


def test_rfc9421_vectors_fail_our_policy_but_only_with_signature_error() -> None:
    """The Appendix B requests cover too little for an inbox (no content-digest, no query)."""
    for name in ("B21", "B22", "B25", "B26"):
        headers = vector_headers(getattr(V, f"{name}_INPUT"), getattr(V, f"{name}_SIGNATURE"))
        with pytest.raises(SignatureError, match="must cover"):
            parse_signature(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)


def test_rfc9421_b23_passes_policy_but_pss_needs_an_explicit_alg() -> None:
    """B.2.3 covers enough, and its sha-512 Content-Digest matches the body; but it has no
    `alg`, so the RSA key means PKCS#1 v1.5 and the PSS signature is refused."""
    headers = vector_headers(V.B23_INPUT, V.B23_SIGNATURE)
    parsed = parse_signature(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)
    assert parsed.base == V.B23_BASE.encode()
    assert parsed.created == datetime.fromtimestamp(V.CREATED, UTC)
    key = VerificationKey.from_pem("test-key-rsa-pss", "o", V.TEST_KEY_RSA_PSS_PUBLIC)
    at = datetime.fromtimestamp(V.CREATED + 10, UTC)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(parsed, key, V.REQUEST_BODY, at)
    verify_bytes(key.public_key, parsed.base, parsed.signature, "rsa-pss-sha512")


def test_rfc9421_request_content_digest_sha512_checks_body() -> None:
    """The test-request's sha-512 Content-Digest really is the digest of its body."""
    covered = '"@method" "@authority" "@path" "@query" "content-digest"'
    created = int(NOW.timestamp())
    headers = {
        **V.REQUEST_HEADERS,
        "Signature-Input": f'sig=({covered});created={created};keyid="k"',
    }
    headers["Signature"] = "sig=:AA==:"
    base = signature_base_rfc9421(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)
    headers["Signature"] = f"sig=:{base64.b64encode(ED_KEY.sign(base)).decode()}:"
    parsed = parse_signature(V.REQUEST_METHOD, V.REQUEST_TARGET, V.REQUEST_URL, headers)
    verify_signature(parsed, ED_VKEY, V.REQUEST_BODY, NOW)
    with pytest.raises(SignatureError, match="sha-512 does not match"):
        verify_signature(parsed, ED_VKEY, V.REQUEST_BODY + b" ", NOW)


class MultiHeaders(Mapping[str, str]):
    """A header map that, like a real HTTP request, can hold a field name twice."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __getitem__(self, key: str) -> str:
        return next(v for k, v in self.pairs if k == key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def items(self):  # type: ignore[override]
        return list(self.pairs)


def test_rfc9421_b4_transformations() -> None:
    signature = ("Signature", f"transform=:{V.TRANSFORM_SIGNATURE}:")
    signature_input = ("Signature-Input", V.TRANSFORM_INPUT)
    key = ED_VKEY.public_key
    base = signature_base_rfc9421(
        "GET",
        "/demo?name1=Value1&Name2=value2",
        "https://example.org/demo",
        MultiHeaders(
            [
                ("Host", "example.org"),
                ("Accept", "application/json"),
                ("Accept", "*/*"),
                signature_input,
                signature,
            ]
        ),
    )
    assert base == V.TRANSFORM_BASE.encode()
    ed = SigningKey.from_pem("test-key-ed25519", V.TEST_KEY_ED25519_PRIVATE)
    assert base64.b64encode(ed.sign(base)).decode() == V.TRANSFORM_SIGNATURE
    verify_bytes(key, base, base64.b64decode(V.TRANSFORM_SIGNATURE))
    # Added query parameter and collapsed Accept: same base, still valid.
    same = signature_base_rfc9421(
        "GET",
        "/demo?name1=Value1&Name2=value2&param=added",
        "https://example.org/demo",
        {
            "Accept": "application/json, */*",
            "Signature-Input": V.TRANSFORM_INPUT,
            "Signature": signature[1],
        },
    )
    assert same == base
    # Method changed, or Accept lines swapped: the signature no longer verifies.
    for method, accept in (("POST", "application/json, */*"), ("GET", "*/*, application/json")):
        changed = signature_base_rfc9421(
            method,
            "/demo",
            "https://example.org/demo",
            {"Accept": accept, "Signature-Input": V.TRANSFORM_INPUT, "Signature": signature[1]},
        )
        with pytest.raises(SignatureError):
            verify_bytes(key, changed, base64.b64decode(V.TRANSFORM_SIGNATURE))


# --------------------------------------------------------------------------- keys


def test_base58_and_multikey() -> None:
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"
    assert b58decode("StV1DL6CwTryKyV") == b"hello world"
    assert b58encode(b"\0\0\x01") == "112"
    assert b58decode("112") == b"\0\0\x01"
    assert b58encode(b"") == "" and b58decode("") == b""
    with pytest.raises(ValueError, match="base58"):
        b58decode("0OIl")
    ed_multibase = multikey_multibase(ED_VKEY.public_key)
    assert ed_multibase.startswith("z6Mk")  # 0xed01 prefix, as every FEP-521a Ed25519 key
    rsa_multibase = multikey_multibase(RSA_VKEY.public_key)
    assert rsa_multibase.startswith("z4MX")  # 0x1205 rsa-pub
    again = VerificationKey.from_multibase(KEY_ID, ACTOR, rsa_multibase)
    assert isinstance(again.public_key, rsa.RSAPublicKey)
    for bad in [
        "",
        "z",
        "m" + ed_multibase[1:],
        ed_multibase[:-2],
        "z0",
        "z" + b58encode(b"\xed\x01" + b"\0" * 31),
    ]:
        with pytest.raises(SignatureError):
            VerificationKey.from_multibase(KEY_ID, ACTOR, bad)


def test_key_generation() -> None:
    private_pem, multibase = generate_ed25519()
    signing = SigningKey.from_pem("https://gov.example/users/a#ed25519-key", private_pem)
    verifying = VerificationKey.from_multibase(
        signing.key_id, "https://gov.example/users/a", multibase
    )
    verify_bytes(verifying.public_key, b"message", signing.sign(b"message"))
    private_pem, public_pem = generate_rsa_pem()
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    signing = SigningKey.from_pem("https://gov.example/users/a#main-key", private_pem)
    assert isinstance(signing.private_key, rsa.RSAPrivateKey)
    assert signing.private_key.key_size == 2048
    assert signing.private_key.private_numbers().public_numbers.e == 65537
    verifying = VerificationKey.from_pem(signing.key_id, "https://gov.example/users/a", public_pem)
    verify_bytes(verifying.public_key, b"message", signing.sign(b"message"))


def test_bad_keys() -> None:
    for pem in ["", "not a pem", V.TEST_KEY_RSA_PUBLIC.replace("A", "B")]:
        with pytest.raises(SignatureError):
            VerificationKey.from_pem(KEY_ID, ACTOR, pem)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    weak_pem = weak.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(SignatureError, match="too weak"):
        VerificationKey.from_pem(KEY_ID, ACTOR, weak_pem.decode())
    with pytest.raises(SignatureError, match="too weak"):
        VerificationKey(KEY_ID, ACTOR, weak)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA or Ed25519"):
        SigningKey.from_pem(KEY_ID, ec_pem.decode())
    with pytest.raises(ValueError):
        SigningKey.from_pem(KEY_ID, V.TEST_KEY_RSA_PUBLIC)
    with pytest.raises(ValueError, match="key id"):
        SigningKey.from_pem('bad"id', V.TEST_KEY_RSA_PRIVATE)
    with pytest.raises(ValueError, match="key id"):
        SigningKey.from_pem("", V.TEST_KEY_RSA_PRIVATE)


def test_digest_helpers() -> None:
    assert digest_header(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert content_digest_header(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_sign_refuses_conflicting_host_and_bad_url() -> None:
    with pytest.raises(BadRequest, match="Host header"):
        sign_cavage("POST", INBOX, {"host": "other.example"}, BODY, RSA_KEY, NOW)
    with pytest.raises(BadRequest):
        sign_cavage("POST", "https://user@peer.example/inbox", {}, BODY, RSA_KEY, NOW)
    with pytest.raises(BadRequest, match="Host header"):
        sign_rfc9421("POST", INBOX, {"Host": "other.example"}, BODY, RSA_KEY, NOW)
    with pytest.raises(BadRequest, match="ASCII"):
        sign_cavage("POST", "https://peer.example/caf\u00e9", {}, BODY, RSA_KEY, NOW)
    with pytest.raises(BadRequest, match="ASCII"):
        sign_rfc9421("POST", "https://peer.example/caf\u00e9", {}, BODY, RSA_KEY, NOW)


# --------------------------------------------------------------------------- fuzz

_ALPHABET = 'abcdefkyIdAZ019+/=",;:()?*@#%-_.\\ \t\n\r\x00\x7f\u00e9\u0434\u200b()<>sig1'


def random_text(rng: random.Random, max_length: int = 120) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(max_length)))


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(3)
        index = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(index, len(chars) - 1)]
        elif op == 1:
            chars.insert(index, rng.choice(_ALPHABET))
        elif chars:
            chars[min(index, len(chars) - 1)] = rng.choice(_ALPHABET)
    return "".join(chars)


def only_signature_errors(headers: Mapping[str, str], body: bytes | None = BODY) -> None:
    try:
        parsed = parse_signature("POST", "/inbox", INBOX, headers)
        verify_signature(parsed, RSA_VKEY, body, NOW)
    except SignatureError:
        pass


def test_fuzz_garbage_signature_headers() -> None:
    rng = random.Random(20240501)
    valid_cavage = signed_post()
    valid_9421 = signed_9421()
    for _ in range(1500):
        only_signature_errors({"Host": "peer.example", "Signature": random_text(rng)})
        only_signature_errors({"Authorization": "Signature " + random_text(rng)})
        only_signature_errors({"Signature-Input": random_text(rng), "Signature": random_text(rng)})
        only_signature_errors({**valid_cavage, "Signature": mutate(rng, valid_cavage["Signature"])})
        for name in ("Signature-Input", "Signature", "Content-Digest"):
            only_signature_errors({**valid_9421, name: mutate(rng, valid_9421[name])})
        for name in ("Date", "Digest", "Host"):
            only_signature_errors({**valid_cavage, name: mutate(rng, valid_cavage[name])})
