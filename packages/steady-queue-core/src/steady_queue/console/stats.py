"""The console's numbers, as plain data: counts per state, queue sizes and latency, the last hour's activity.

Every function costs a fixed number of queries, whatever the size of the tables, and each query
reads either a narrow state table, or an index range bounded by time or by ``COUNT_CAP`` rows:

- counts of the state tables are exact (a COUNT over the narrow table); counts that need the jobs
  table (finished and cancelled tasks, any count filtered by task) stop at ``COUNT_CAP`` rows;
- queue sizes and latency read the ready table once, grouped by queue;
- the last hour reads the jobs that ended in it, through the index on ``finished_at``;
- recent failures read the last rows of the failed table by its primary key.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, Max, Min, OuterRef, Q
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone

from steady_queue.conf import get_config
from steady_queue.models import ClaimedExecution, FailedExecution, Job, Pause, Process, ReadyExecution
from steady_queue.queues import allowed_queue_names

from .statuses import STATUSES, JobStatus

COUNT_CAP = 10_000


@dataclass(frozen=True)
class Tally:
    """A count; ``capped`` when counting stopped at the cap and there are more."""

    count: int
    capped: bool = False

    def __str__(self):
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


def status_counts(task_path=None, queue_name=None, cap=COUNT_CAP):
    """The number of tasks in each state (slug -> Tally), with the list filters applied."""
    return {slug: count_rows(status, task_path, queue_name, cap) for slug, status in STATUSES.items()}


def count_rows(status, task_path=None, queue_name=None, cap=COUNT_CAP):
    rows = status.rows(task_path, queue_name).order_by()
    # A state table alone, without the jobs table: counted exactly.
    own_queue_column = not queue_name or status.queue_lookup == "queue_name"
    own_task_column = not task_path or status.task_lookup == "task_path"
    narrow = not isinstance(status, JobStatus) and own_task_column and own_queue_column
    if narrow:
        return Tally(rows.count())
    # Counting stops after cap + 1 rows: enough to say "more than the cap", never a scan of the table.
    count = rows[: cap + 1].count()
    return Tally(min(count, cap), capped=count > cap)


@dataclass(frozen=True)
class QueueStats:
    name: str
    size: int
    oldest_ready_at: datetime | None
    # The age of the oldest ready task, in seconds: how long the queue's next task has waited.
    latency: float
    paused: bool


def queues(now=None):
    """Every queue the backends allow, the workers name, has ready tasks or is paused, by name. Two queries."""
    now = now or timezone.now()
    ready = {
        row["queue_name"]: row
        for row in ReadyExecution.objects.order_by()
        .values("queue_name")
        .annotate(size=Count("pk"), oldest=Min("created_at"))
    }
    paused = set(Pause.objects.values_list("queue_name", flat=True))
    names = (allowed_queue_names() or set()) | configured_queue_names() | set(ready) | paused
    stats = []
    for name in sorted(names):
        row = ready.get(name, {"size": 0, "oldest": None})
        latency = max((now - row["oldest"]).total_seconds(), 0.0) if row["oldest"] else 0.0
        stats.append(QueueStats(name, row["size"], row["oldest"], latency, name in paused))
    return stats


def configured_queue_names():
    """The queues STEADY_QUEUE["workers"] names one by one (patterns such as "mail*" name none)."""
    return {name for worker in get_config().workers for name in worker.queues if "*" not in name}


@dataclass
class Activity:
    """The last ``minutes`` minutes, one entry per minute, oldest first."""

    starts: list
    succeeded: list
    failed: list
    cancelled: list
    # Queue name -> the longest wait (seconds) before the last attempt of the tasks that ended each minute.
    waits: dict = field(default_factory=dict)


def activity(now=None, minutes=60):
    """Tasks that ended per minute (succeeded, failed, cancelled) and each queue's waits. One query.

    Read from the jobs that ended in the window: tasks deleted when they finished
    (``preserve_finished_jobs`` off) and failures already discarded are not counted.
    """
    now = now or timezone.now()
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    starts = [first + timedelta(minutes=index) for index in range(minutes)]
    failed = Exists(FailedExecution.objects.filter(job_id=OuterRef("pk")))
    wait = ExpressionWrapper(
        F("last_attempted_at") - Coalesce("scheduled_at", "created_at"), output_field=DurationField()
    )
    rows = (
        Job.objects.filter(finished_at__gte=first)
        .annotate(minute=TruncMinute("finished_at"))
        .order_by()
        .values("queue_name", "minute")
        .annotate(
            ended=Count("pk"),
            failed=Count("pk", filter=Q(failed)),
            cancelled=Count("pk", filter=Q(cancelled_at=F("finished_at"))),
            wait=Max(wait),
        )
    )
    index = {start: position for position, start in enumerate(starts)}
    result = Activity(starts, [0] * minutes, [0] * minutes, [0] * minutes)
    for row in rows:
        position = index.get(row["minute"])
        if position is None:
            continue  # finished "in the future": a host whose clock runs ahead
        result.failed[position] += row["failed"]
        result.cancelled[position] += row["cancelled"]
        result.succeeded[position] += row["ended"] - row["failed"] - row["cancelled"]
        waits = result.waits.setdefault(row["queue_name"], [0.0] * minutes)
        if row["wait"] is not None:
            waits[position] = max(waits[position], row["wait"].total_seconds())
    return result


@dataclass(frozen=True)
class ProcessStats:
    pk: int
    name: str
    kind: str
    hostname: str
    pid: int
    queues: list
    threads: int | None
    last_heartbeat_at: datetime
    heartbeat_age: float
    # No heartbeat for process_alive_threshold: the next prune will declare it dead.
    stale: bool
    supervisor: str | None
    jobs: list


@dataclass(frozen=True)
class RunningJob:
    pk: int
    task_path: str
    queue_name: str
    claimed_at: datetime


def processes(now=None, limit=500):
    """The registered processes (at most ``limit``) with the tasks each runs. Two queries."""
    now = now or timezone.now()
    threshold = get_config().process_alive_threshold
    rows = list(Process.objects.select_related("supervisor").order_by("hostname", "kind", "name")[:limit])
    running = {}
    claims = (
        ClaimedExecution.objects.filter(process_id__in=[row.pk for row in rows])
        .select_related("job")
        .only("created_at", "process_id", "job__task_path", "job__queue_name")
        .order_by("job_id")
    )
    for claim in claims:
        running.setdefault(claim.process_id, []).append(
            RunningJob(claim.job_id, claim.job.task_path, claim.job.queue_name, claim.created_at)
        )
    return [
        ProcessStats(
            pk=row.pk,
            name=row.name,
            kind=row.kind,
            hostname=row.hostname,
            pid=row.pid,
            queues=list(row.metadata.get("queues") or []),
            threads=row.metadata.get("threads"),
            last_heartbeat_at=row.last_heartbeat_at,
            heartbeat_age=max((now - row.last_heartbeat_at).total_seconds(), 0.0),
            stale=now - row.last_heartbeat_at > threshold,
            supervisor=row.supervisor.name if row.supervisor else None,
            jobs=running.get(row.pk, []),
        )
        for row in rows
    ]


def process_counts(now=None):
    """How many processes of each kind are registered, and how many of them are stale. One query."""
    now = now or timezone.now()
    silent_since = now - get_config().process_alive_threshold
    rows = Process.objects.order_by().values("kind").annotate(
        total=Count("pk"), stale=Count("pk", filter=Q(last_heartbeat_at__lt=silent_since))
    )
    return {row["kind"]: (row["total"], row["stale"]) for row in rows}


@dataclass(frozen=True)
class Failure:
    pk: int
    task_path: str
    queue_name: str
    failed_at: datetime
    # The last error's class path and message; empty for a failure recorded without one.
    error_class: str
    message: str


def recent_failures(limit=5):
    """The last ``limit`` failed tasks, the newest job first as the failed list orders them. One query.

    Read through the failed table's primary key, so the cost is ``limit`` rows whatever its size.
    """
    rows = (
        FailedExecution.objects.select_related("job")
        .only("created_at", "job__task_path", "job__queue_name", "job__errors")
        .order_by("-pk")[:limit]
    )
    failures = []
    for row in rows:
        last = row.job.errors[-1] if row.job.errors else {}
        failures.append(
            Failure(
                row.pk, row.job.task_path, row.job.queue_name, row.created_at,
                last.get("exception_class_path", ""), last.get("message", ""),
            )
        )
    return failures
