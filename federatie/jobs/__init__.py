"""A generic PostgreSQL job queue and worker loop; knows nothing of ActivityPub."""

from federatie.jobs.queue import (
    DEFAULT_MAX_ATTEMPTS,
    NOTIFY_CHANNEL,
    Job,
    JobQueue,
    JobStats,
    RetryPolicy,
    backoff_delay,
)
from federatie.jobs.worker import Handler, PermanentFailure, RetryLater, Worker

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "NOTIFY_CHANNEL",
    "Handler",
    "Job",
    "JobQueue",
    "JobStats",
    "PermanentFailure",
    "RetryLater",
    "RetryPolicy",
    "Worker",
    "backoff_delay",
]
