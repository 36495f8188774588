"""Celery (broker, queues, beat) and the transactional outbox; pulled into base.py.

Read after base.py made sure REDIS_URL and CELERY_BROKER_URL are set (embedded Redis when unset).
"""

import os

from celery.schedules import crontab

CELERY_RESULT_BACKEND = os.environ["REDIS_URL"]
CELERY_TASK_IGNORE_RESULT = True  # tasks that return something useful opt in (atrium.probe)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"

# Tasks are re-runnable, so a task is acknowledged only after it ran, and a worker that dies
# mid-task hands it back to the broker. One message at a time per worker slot, for fairness.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False  # tests too: they run a real worker
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged message after this; longer than any task's ETA (countdown).
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}

# Every worker consumes both queues unless started with -Q; `outbox` is latency-sensitive and
# can get its own workers when load grows.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "atrium.outbox.relay": {"queue": "outbox"},
    "atrium.*": {"queue": "default"},
    "loyalty.*": {"queue": "default"},
    "imports.*": {"queue": "default"},
}
CELERY_TASK_QUEUES = {
    name: {"exchange": name, "routing_key": name} for name in ("default", "outbox")
}

# Keep Django's JSON log lines (tenant, task id) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# tenant-schemas-celery: cache the Tenant row a worker looks up per schema.
CELERY_TASK_TENANT_CACHE_SECONDS = 30

# The schedule lives in code (no django-celery-beat tables): one public fan-out task per job,
# which enqueues the per-tenant task for every active tenant, staggered (ADR 0006).
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "atrium.fan_out",
        "schedule": 60.0,
        "kwargs": {
            "task_name": "atrium.outbox.relay",
            "spread_seconds": 30.0,
            "expires_seconds": 60.0,
        },
        "options": {"expires": 50.0},
    },
    "loyalty-expire-points": {
        "task": "atrium.fan_out",
        "schedule": crontab(hour=1, minute=30),
        "kwargs": {"task_name": "loyalty.expire_points", "spread_seconds": 1800.0},
    },
    "loyalty-evaluate-tiers": {
        "task": "atrium.fan_out",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"task_name": "loyalty.evaluate_tiers", "spread_seconds": 1800.0},
    },
    # Hourly, so each mall closes soon after its own midnight whatever its time zone; a run
    # closes only periods that ended before the tenant's today, so re-runs change nothing.
    "settlement-close-periods": {
        "task": "atrium.fan_out",
        "schedule": crontab(minute=5),
        "kwargs": {"task_name": "settlement.close_periods", "spread_seconds": 900.0},
    },
    "outbox-prune": {
        "task": "atrium.fan_out",
        "schedule": crontab(hour=4, minute=15),
        "kwargs": {"task_name": "atrium.outbox.prune", "spread_seconds": 600.0},
    },
}

# Delivery handlers of outbox events, in order (dotted paths; journeys and webhooks add theirs).
OUTBOX_HANDLERS = ["atrium.realtime.push_event"]
OUTBOX_MAX_ATTEMPTS = 10  # after that an event stays undelivered, with its last error, for a look
OUTBOX_RELAY_BATCH = 1000  # events one relay run delivers at most; the sweep does the rest
OUTBOX_RETENTION_DAYS = 7
