"""The queue's numbers for Prometheus, read from the database at each scrape.

Mounted by the project, apart from the console: ``path("metrics/steady-queue/", metrics)``, with
``from steady_queue.console.metrics import metrics``. Needs ``prometheus-client`` (the
``steady-queue-core[prometheus]`` extra); nothing else in the console does.

Every value is a gauge computed from the tables when scraped, so every web host serves the same
numbers and nothing is kept in memory. Tasks that ended are counted over a recent window rather
than as counters: the jobs table is no monotonic record (finished tasks are cleared after
``clear_finished_jobs_after``, or deleted at once without ``preserve_finished_jobs``; discarded
failures disappear), and a counter kept by one web process would see only that process's work.
"""

import hmac

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
except ModuleNotFoundError as error:
    raise ImproperlyConfigured(
        "steady_queue.console.metrics needs prometheus-client, which is not installed: "
        "pip install 'steady-queue-core[prometheus]', or remove the metrics URL."
    ) from error

from steady_queue.conf import get_config

from . import stats
from .access import VIEW_JOBS
from .statuses import STATUSES, JobStatus

# The states counted exactly (their own narrow tables); finished and cancelled tasks would need a
# count of the jobs table, whose cost grows with the history: the ended_* gauges stand for them.
EXACT_STATES = [slug for slug, status in STATUSES.items() if not isinstance(status, JobStatus)]
OUTCOMES = ("succeeded", "failed", "cancelled")


class QueueCollector:
    """The Prometheus collector: each scrape reads the queue's tables through ``steady_queue.console.stats``."""

    def collect(self):
        now = timezone.now()
        queues = stats.queues(now)
        yield gauge("queue_size", "Ready tasks in the queue.", ["queue"],
                    [((q.name,), q.size) for q in queues])
        yield gauge("queue_latency_seconds", "How long the queue's oldest ready task has waited (0 when empty).",
                    ["queue"], [((q.name,), q.latency) for q in queues])
        yield gauge("queue_paused", "1 when the queue is paused, else 0.", ["queue"],
                    [((q.name,), int(q.paused)) for q in queues])
        yield gauge("tasks", "Tasks in each state that has a table of its own.", ["state"],
                    [((slug,), stats.count_rows(STATUSES[slug]).count) for slug in EXACT_STATES])
        activity = stats.activity(now)
        ended = {"succeeded": activity.succeeded, "failed": activity.failed, "cancelled": activity.cancelled}
        yield gauge("tasks_ended_last_hour", "Tasks that ended in the last 60 minutes (this one included), "
                    "by outcome.", ["outcome"], [((o,), sum(ended[o])) for o in OUTCOMES])
        # The last complete minute: the current one is still filling, and would read low.
        yield gauge("tasks_ended_last_minute", "Tasks that ended in the last complete minute, by outcome.",
                    ["outcome"], [((o,), ended[o][-2]) for o in OUTCOMES])
        counts = stats.process_counts(now)
        yield gauge("processes", "Registered processes, by kind.", ["kind"],
                    [((kind,), total) for kind, (total, _) in sorted(counts.items())])
        yield gauge("processes_stale", "Registered processes silent for longer than process_alive_threshold.",
                    ["kind"], [((kind,), stale) for kind, (_, stale) in sorted(counts.items())])


def gauge(name, documentation, labels, samples):
    family = GaugeMetricFamily(f"steady_queue_{name}", documentation, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def authorized(request):
    """True for the configured bearer token; for a logged-in user, whether it may see the console's overview.

    Returns True, False (a known user without the permission: 403) or None (no valid credentials: 401).
    """
    token = get_config().console.metrics_token
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        # Compared in constant time: the time taken must not tell how much of a guess was right.
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode()) or None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user.is_active and user.is_staff and user.has_perm(VIEW_JOBS)


@never_cache
def metrics(request):
    """The metrics in Prometheus' text format, for the bearer token or staff who may see the console."""
    allowed = authorized(request)
    if allowed is None:
        response = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="steady_queue"'
        return response
    if not allowed:
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
