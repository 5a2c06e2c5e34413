"""Throughput of reading a Mastodon Create(Note): raw PyLD versus our fast and full paths.

Why: the inbox normalises every delivery; this shows what the fast path saves. All work is
offline (bundled contexts), single-threaded, on one payload.

    .venv/bin/python bench/bench_jsonld.py [--seconds N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from federatie.activitypub import jsonld
from federatie.activitypub.normalize import (
    COMPACTION_CONTEXT,
    normalize,
    normalize_fast,
    normalize_full,
)

PAYLOAD = Path(__file__).resolve().parents[1] / "tests/unit/payloads/mastodon_create_note.json"


def rate(fn: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``fn`` over roughly ``seconds`` (after a short warm-up)."""
    for _ in range(3):
        fn()
    calls = 0
    batch = 1
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed
        batch = min(batch * 2, 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    doc = json.loads(PAYLOAD.read_text(encoding="utf-8"))
    normalize_fast(doc)  # the fast path must apply to this payload, or the comparison is moot

    def expand_compact() -> Any:
        return jsonld.compact(jsonld.expand(doc), COMPACTION_CONTEXT)

    figures: dict[str, float] = {
        "jsonld_expand_per_s": rate(lambda: jsonld.expand(doc), args.seconds),
        "jsonld_expand_compact_per_s": rate(expand_compact, args.seconds),
        "normalize_full_per_s": rate(lambda: normalize_full(doc), args.seconds),
        "normalize_fast_per_s": rate(lambda: normalize(doc), args.seconds),
    }
    figures["fast_over_full_ratio"] = (
        figures["normalize_fast_per_s"] / figures["normalize_full_per_s"]
    )
    for name, value in figures.items():
        print(f"{name} {value:.1f}" if name.endswith("ratio") else f"{name} {value:.0f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
