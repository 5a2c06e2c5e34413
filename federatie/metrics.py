"""The counters and gauges of one process, in their own Prometheus registry.

Counters live per process (per Runtime): every web process and every `federatie worker`
keeps its own. `federatie/web/metrics.py` serves them at `/metrics`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The counters of one process (one Runtime), in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "federatie_http_requests",
            "HTTP requests by route (URL rule), method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "federatie_http_request_duration_seconds",
            "HTTP request latency by route (URL rule) and method",
            ["route", "method"],
            registry=r,
        )
        self.inbox = Counter(
            "federatie_inbox_activities",
            "Activities POSTed to an inbox: accepted, or refused with the error code",
            ["route", "outcome", "reason"],
            registry=r,
        )
        self.deliveries = Counter(
            "federatie_deliveries",
            "Outbound deliveries by outcome: delivered, rejected (4xx), retried, refused",
            ["outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "federatie_jobs_queued",
            "Queued jobs by queue and kind (read at scrape time)",
            ["queue", "kind"],
            registry=r,
        )
        self.queue_due = Gauge(
            "federatie_jobs_due", "Jobs due to run now", ["queue", "kind"], registry=r
        )
        self.queue_dead = Gauge(
            "federatie_jobs_dead", "Jobs given up on", ["queue", "kind"], registry=r
        )
        self.queue_oldest = Gauge(
            "federatie_jobs_oldest_due_seconds",
            "Age of the oldest due job",
            ["queue", "kind"],
            registry=r,
        )
        self.failing_hosts = Gauge(
            "federatie_remote_hosts_failing", "Remote hosts whose deliveries fail", registry=r
        )
        self.unreachable_hosts = Gauge(
            "federatie_remote_hosts_unreachable",
            "Remote hosts failing for more than a day",
            registry=r,
        )
        self.pool_size = Gauge(
            "federatie_db_pool_connections", "Open database connections of this process", registry=r
        )
        self.pool_idle = Gauge(
            "federatie_db_pool_idle_connections", "Idle database connections", registry=r
        )
        self.pool_max = Gauge("federatie_db_pool_max_connections", "Pool size limit", registry=r)
        self.public_cache_answers = Gauge(
            "federatie_public_cache_answers",
            "Answers of the public cache since the process started: hit (kept) or miss (rendered)",
            ["outcome"],
            registry=r,
        )
        self.public_cache_entries = Gauge(
            "federatie_public_cache_entries", "Answers the public cache keeps now", registry=r
        )

    def delivery(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()
