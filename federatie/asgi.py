"""The ASGI entry point for Hypercorn worker processes: `federatie.asgi:app`.

`federatie serve --workers N` resolves the database (starting the embedded one if needed),
migrates, and passes everything through the environment, so each worker builds the same Config.
"""

from __future__ import annotations

from federatie.app import create_app
from federatie.config import load_config
from federatie.logs import configure_logging

_config = load_config()
configure_logging(_config.log_level, _config.log_format)
app = create_app(_config)
