"""Where the files that ship beside the package live (migrations, JSON-LD contexts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCHEMAS_DIR_ENV = "FEDERATIE_SCHEMAS_DIR"


def schemas_dir() -> Path:
    """`schemas/`: `FEDERATIE_SCHEMAS_DIR` if set, else the source tree's (a checkout or an
    editable install), else the copy a regular install puts in `<prefix>/share/federatie`."""
    override = os.environ.get(SCHEMAS_DIR_ENV)
    if override:
        return Path(override)
    source_tree = Path(__file__).resolve().parent.parent / "schemas"
    if source_tree.is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "federatie" / "schemas"
