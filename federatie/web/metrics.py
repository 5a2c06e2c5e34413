"""`/metrics` in the Prometheus text format, behind a bearer token (FEDERATIE_METRICS_TOKEN).

Without the setting `/metrics` answers 404, so nothing leaks by default. Counters and
histograms live in the process that counts them (a registry per Runtime): every web process
and every `federatie worker` keeps its own, and each web process is scraped separately.
Gauges (queue depth, failing hosts, pool use) are read from the database at scrape time.
"""

from __future__ import annotations

import hmac
import time

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from quart import Blueprint, Quart, Response, g, request

from federatie.metrics import Metrics
from federatie.runtime import EXTENSION_KEY, current_runtime
from federatie.web.public_cache import public_cache

blueprint = Blueprint("metrics", __name__)

INBOX_SUFFIX = "/inbox"


def register(app: Quart) -> None:
    """Time and count every request, and serve /metrics (one call in create_app)."""
    app.register_blueprint(blueprint)

    @app.before_request
    async def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    async def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        runtime = app.extensions.get(EXTENSION_KEY)
        if started is None or runtime is None:
            return response
        metrics: Metrics = runtime.metrics
        rule = request.url_rule
        route = rule.rule if rule is not None else "(unmatched)"
        status = response.status_code
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
        if request.method == "POST" and route.endswith(INBOX_SUFFIX):
            if status < 300:
                metrics.inbox.labels(route, "accepted", "").inc()
            elif status < 500:
                reason = g.get("error_code") or f"http_{status}"
                metrics.inbox.labels(route, "refused", reason).inc()
        return response


@blueprint.get("/metrics")
async def metrics() -> Response:
    runtime = current_runtime()
    token = runtime.config.metrics_token
    if token is None:
        return Response("not found\n", 404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token.reveal()}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return Response(
            "a bearer token is required\n",
            401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    m: Metrics = runtime.metrics
    for gauge in (m.queue_depth, m.queue_due, m.queue_dead, m.queue_oldest):
        gauge.clear()
    for stats in await runtime.queue.stats():
        m.queue_depth.labels(stats.queue, stats.kind).set(stats.queued)
        m.queue_due.labels(stats.queue, stats.kind).set(stats.due)
        m.queue_dead.labels(stats.queue, stats.kind).set(stats.dead)
        m.queue_oldest.labels(stats.queue, stats.kind).set(stats.oldest_due_seconds)
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE failures > 0) AS failing,
                      count(*) FILTER (WHERE unreachable_since IS NOT NULL) AS unreachable
               FROM remote_hosts"""
        )
    assert row is not None
    m.failing_hosts.set(row["failing"])
    m.unreachable_hosts.set(row["unreachable"])
    pool = runtime.pool
    m.pool_size.set(pool.get_size())
    m.pool_idle.set(pool.get_idle_size())
    m.pool_max.set(pool.get_max_size())
    cache = public_cache()
    m.public_cache_answers.labels("hit").set(cache.hits)
    m.public_cache_answers.labels("miss").set(cache.misses)
    m.public_cache_entries.set(cache.entries)
    return Response(generate_latest(m.registry), 200, content_type=CONTENT_TYPE_LATEST)
