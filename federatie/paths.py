"""Where the files that ship beside the package live (migrations, JSON-LD contexts)."""

from __future__ import annotations

import os
from pathlib import Path


def schemas_dir() -> Path:
    """`schemas/` at the repository root, or `FEDERATIE_SCHEMAS_DIR` for other layouts."""
    override = os.environ.get("FEDERATIE_SCHEMAS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "schemas"
