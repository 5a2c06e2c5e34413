"""`create_app(config)`: the one place that wires the parts of an instance together."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Quart

from federatie.config import Config
from federatie.errors import ConfigError
from federatie.runtime import EXTENSION_KEY, Runtime, build_runtime
from federatie.web import (
    actors,
    blogs,
    federation,
    files,
    groups,
    health,
    mastodon,
    metrics,
    public_cache,
    ui,
    wellknown,
)
from federatie.web.errors import register_error_handlers


def create_app(config: Config) -> Quart:
    """An instance bound to `config`; it connects to the database when serving starts.

    The database must already be migrated (`federatie migrate`, or `serve`, which migrates
    before it starts the web processes), so that many processes can start at once. With
    FEDERATIE_INPROCESS_WORKER (the default) the app also runs the job worker.
    """
    if config.database_url is None:
        raise ConfigError("DATABASE_URL: create_app needs a resolved database URL")
    app = Quart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_inbox_bytes
    app.request_class = files.request_class(config)  # upload routes: a larger body cap
    register_error_handlers(app)
    metrics.register(app)  # request counters and latency; /metrics behind a token
    for module in (health, wellknown, actors, federation, groups, blogs, files):
        app.register_blueprint(module.blueprint)
    ui.register(app)  # the web pages: sessions, CSRF, languages
    mastodon.register(app)  # the Mastodon client API and OAuth 2, for fediverse apps
    _drop_flask_context_processors(app)
    public_cache.install(app, config.public_cache_seconds)
    worker_stop = asyncio.Event()
    worker_task: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start() -> None:
        runtime = await build_runtime(config)
        app.extensions[EXTENSION_KEY] = runtime
        if config.inprocess_worker:
            worker_stop.clear()
            worker_task.append(asyncio.create_task(runtime.worker().run(worker_stop)))

    @app.after_serving
    async def stop() -> None:
        worker_stop.set()
        while worker_task:
            task = worker_task.pop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime: Runtime | None = app.extensions.pop(EXTENSION_KEY, None)
        if runtime is not None:
            await runtime.close()

    return app


def _drop_flask_context_processors(app: Quart) -> None:
    """Every blueprint brings Flask's plain-function default context processor, which Quart
    runs in a thread on each template rendered by that blueprint's routes; outside Flask's
    contexts it returns nothing (the app's own, async, processor provides `g`, `request`
    and `session`). Without them no page rendering waits for the executor."""
    for name, processors in app.template_context_processors.items():
        if name is not None:
            processors[:] = [p for p in processors if p.__module__ != "flask.templating"]
