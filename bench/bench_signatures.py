"""Signing and verification rates: ours against raw `cryptography` (the ceiling) and httpsig.

    python bench/bench_signatures.py [--seconds N] [--json FILE]

Every rate is measured for N seconds with RSA-2048 and a 1 KiB body, the shape of an
ActivityPub delivery. The ceiling is one PKCS#1 v1.5 SHA-256 operation on a pre-loaded key,
timed interleaved with each candidate (0.1 s slices) so that a busy machine skews both
alike; the ratio says how much our header building, parsing and checks cost on top.
httpsig's verifier re-imports the PEM on every request because its API takes a PEM per
`HeaderVerifier`; that is how it is used, so that is what is measured.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federatie.activitypub.signatures import (
    SigningKey,
    VerificationKey,
    generate_rsa_pem,
    parse_signature,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ACTOR = "https://gov.example/users/alice"
KEY_ID = ACTOR + "#main-key"
INBOX = "https://peer.example/inbox"
BODY = (b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Create",' + b" " * 1024)[
    :1024
]
COVERED = ["(request-target)", "host", "date", "digest"]


def _run(fn: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Calls made and time taken running `fn` for about `seconds`, in doubling batches."""
    calls = 0
    batch = 1
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls, now - start
        batch = min(batch * 2, 64)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`."""
    fn()  # warm up caches and lazy imports
    calls, elapsed = _run(fn, seconds)
    return calls / elapsed


def rate_pair(
    fn: Callable[[], object], ceiling: Callable[[], object], seconds: float
) -> tuple[float, float]:
    """Rates of `fn` and `ceiling`, interleaved in 0.1 s slices so that load from other
    processes on a shared machine hits both alike and the ratio stays meaningful."""
    fn()
    ceiling()
    totals = {"fn": [0, 0.0], "ceiling": [0, 0.0]}
    slices = max(1, round(seconds / 0.1))
    for _ in range(slices):
        for name, function in (("fn", fn), ("ceiling", ceiling)):
            calls, elapsed = _run(function, 0.1)
            totals[name][0] += calls
            totals[name][1] += elapsed
    return (
        totals["fn"][0] / totals["fn"][1],
        totals["ceiling"][0] / totals["ceiling"][1],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    seconds: float = args.seconds

    private_pem, public_pem = generate_rsa_pem()
    started = time.perf_counter()
    key = SigningKey.from_pem(KEY_ID, private_pem)
    pem_load_ms = (time.perf_counter() - started) * 1000
    vkey = VerificationKey.from_pem(KEY_ID, ACTOR, public_pem)
    private = key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    public = private.public_key()

    signed = sign_cavage("POST", INBOX, {}, BODY, key, NOW)
    signing_string = parse_signature("POST", "/inbox", INBOX, signed).base
    raw_signature = private.sign(signing_string, padding.PKCS1v15(), hashes.SHA256())
    signed_9421 = {"Host": "peer.example"} | sign_rfc9421("POST", INBOX, {}, BODY, key, NOW)

    def raw_sign() -> None:
        private.sign(signing_string, padding.PKCS1v15(), hashes.SHA256())

    def raw_verify() -> None:
        public.verify(raw_signature, signing_string, padding.PKCS1v15(), hashes.SHA256())

    def cavage_sign() -> None:
        sign_cavage("POST", INBOX, {}, BODY, key, NOW)

    def cavage_verify() -> None:
        verify_signature(parse_signature("POST", "/inbox", INBOX, signed), vkey, BODY, NOW)

    def rfc9421_sign() -> None:
        sign_rfc9421("POST", INBOX, {}, BODY, key, NOW)

    def rfc9421_verify() -> None:
        verify_signature(parse_signature("POST", "/inbox", INBOX, signed_9421), vkey, BODY, NOW)

    figures: dict[str, float] = {"rsa_pem_load_ms": round(pem_load_ms, 1)}
    ceiling_sign = rate(raw_sign, seconds)
    ceiling_verify = rate(raw_verify, seconds)
    figures["raw_sign_per_s"] = round(ceiling_sign)
    figures["raw_verify_per_s"] = round(ceiling_verify)
    print(f"rsa_pem_load_ms {pem_load_ms:.1f}")
    print(f"raw_sign_per_s {ceiling_sign:.0f}")
    print(f"raw_verify_per_s {ceiling_verify:.0f}")

    def report(name: str, fn: Callable[[], object], ceiling_fn: Callable[[], object]) -> None:
        measured, ceiling = rate_pair(fn, ceiling_fn, seconds)
        figures[f"{name}_per_s"] = round(measured)
        figures[f"{name}_ceiling_per_s"] = round(ceiling)
        figures[f"{name}_ratio"] = round(measured / ceiling, 3)
        print(f"{name}_per_s {measured:.0f} ceiling {ceiling:.0f} ratio {measured / ceiling:.2f}")

    report("cavage_sign", cavage_sign, raw_sign)
    report("cavage_verify", cavage_verify, raw_verify)
    report("rfc9421_sign", rfc9421_sign, raw_sign)
    report("rfc9421_verify", rfc9421_verify, raw_verify)

    try:
        from httpsig.sign import HeaderSigner  # optional: a test extra only
        from httpsig.verify import HeaderVerifier
    except ImportError:
        print("httpsig not installed: skipping its figures")
    else:
        signer = HeaderSigner(
            KEY_ID, private_pem, algorithm="rsa-sha256", headers=COVERED, sign_header="signature"
        )
        plain = {k: v for k, v in signed.items() if k != "Signature"}
        httpsig_headers = {k.lower(): v for k, v in signed.items()}

        def httpsig_sign() -> None:
            signer.sign(plain, host="peer.example", method="POST", path="/inbox")

        def httpsig_verify() -> None:
            verifier = HeaderVerifier(
                httpsig_headers,
                public_pem,
                required_headers=COVERED,
                method="POST",
                path="/inbox",
                sign_header="signature",
            )
            if not verifier.verify():
                raise AssertionError("httpsig failed to verify our signature")

        report("httpsig_sign", httpsig_sign, raw_sign)
        report("httpsig_verify", httpsig_verify, raw_verify)

    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
