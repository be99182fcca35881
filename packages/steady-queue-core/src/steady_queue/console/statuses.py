"""The states a task is listed under: one tab per state, each read from its own table.

Ready, scheduled, blocked, in progress and failed tasks are rows of narrow execution tables, listed
and counted there; finished and cancelled tasks are jobs with ``finished_at`` and no state row.
The lists of a state table are ordered by job id, that table's primary key; finished and cancelled
tasks by when they ended (the index on ``finished_at``), then by id. Pages follow each other by
keyset: a page's last row gives the key the next one starts after (``page_key()``, ``after()``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q

from steady_queue.cancellation import is_cancelled
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# Large and rarely needed in a list: read on the job's own page.
HEAVY_FIELDS = ("arguments", "return_value", "errors")


@dataclass(frozen=True)
class Status:
    slug: str
    label: str
    model: type
    # Failures and finished tasks: the latest first. Waiting and running tasks: the oldest first.
    newest_first: bool
    # Where the queue name and task path sit: the waiting and failed tables copy them from the job.
    queue_lookup: str = "job__queue_name"
    task_lookup: str = "job__task_path"
    related: tuple = ("job",)

    def rows(self, task_path=None, queue_name=None):
        """The rows in this state (execution rows, or jobs), filtered, in list order."""
        rows = self.queryset()
        if task_path:
            rows = rows.filter(**{self.task_lookup: task_path})
        if queue_name:
            rows = rows.filter(**{self.queue_lookup: queue_name})
        return rows.order_by("-pk" if self.newest_first else "pk")

    def page_key(self, row):
        """Where the page after ``row`` starts, as text for a URL."""
        return str(row.pk)

    def after(self, rows, key):
        """``rows`` (in list order) from the one after ``key``; None if ``key`` is not one of page_key()'s."""
        if not key.isdigit():
            return None
        return rows.filter(pk__lt=int(key)) if self.newest_first else rows.filter(pk__gt=int(key))

    def queryset(self):
        return self.model.objects.select_related(*self.related).defer(*self.deferred())

    def deferred(self):
        # The failed list shows each task's last error, kept in errors.
        heavy = [name for name in HEAVY_FIELDS if not (self.slug == "failed" and name == "errors")]
        return [f"job__{name}" for name in heavy]

    def job(self, row):
        """The job of a listed row, with its state row as ``job.state_row``."""
        row.job.state_row = row
        return row.job


@dataclass(frozen=True)
class JobStatus(Status):
    """A state that is a kind of job, not a table of its own: finished or cancelled."""

    queue_lookup: str = "queue_name"
    task_lookup: str = "task_path"
    related: tuple = ()

    def queryset(self):
        jobs = Job.objects.defer(*HEAVY_FIELDS).filter(finished_at__isnull=False)
        if self.slug == "cancelled":
            # "IS NOT NULL" spelled out, though the equality implies it: it is what leads the databases'
            # planners to the index on cancelled_at instead of a scan of every job.
            return jobs.filter(cancelled_at__isnull=False, cancelled_at=F("finished_at"))
        # Failed jobs have finished_at too (Django's TaskResult wants it); their failed row tells them apart.
        failed = Exists(FailedExecution.objects.filter(job_id=OuterRef("pk")))
        return jobs.exclude(failed).exclude(cancelled_at=F("finished_at"))

    def rows(self, task_path=None, queue_name=None):
        # The latest ended first. By id, the list would walk the jobs from the newest, past every task
        # still waiting (tens of milliseconds behind a backlog of 100,000); by finished_at, the index
        # on it hands over the latest at once.
        return super().rows(task_path, queue_name).order_by("-finished_at", "-pk")

    def page_key(self, row):
        return f"{(row.finished_at - EPOCH) // MICROSECOND}-{row.pk}"

    def after(self, rows, key):
        micros, _, pk = key.partition("-")
        if not (micros.isdigit() and pk.isdigit()):
            return None
        ended = EPOCH + int(micros) * MICROSECOND
        # The first condition alone bounds the index range; the second picks the rows past the key in it.
        return rows.filter(finished_at__lte=ended).filter(
            Q(finished_at__lt=ended) | Q(finished_at=ended, pk__lt=int(pk))
        )

    def job(self, row):
        row.state_row = None
        return row


STATUSES = {
    status.slug: status
    for status in [
        Status(
            "failed", "Failed", FailedExecution, newest_first=True, queue_lookup="queue_name", task_lookup="task_path"
        ),
        Status("in-progress", "In progress", ClaimedExecution, newest_first=False, related=("job", "process")),
        Status("blocked", "Blocked", BlockedExecution, newest_first=False, queue_lookup="queue_name"),
        Status("scheduled", "Scheduled", ScheduledExecution, newest_first=False, queue_lookup="queue_name"),
        Status("ready", "Ready", ReadyExecution, newest_first=False, queue_lookup="queue_name"),
        JobStatus("finished", "Finished", Job, newest_first=True),
        JobStatus("cancelled", "Cancelled", Job, newest_first=True),
    ]
}

# What a job page loads with the job: every state row, in one query.
STATE_RELATIONS = (
    "readyexecution", "scheduledexecution", "blockedexecution", "claimedexecution__process", "failedexecution",
)


def state_of(job):
    """The slug of a job's state, for a job loaded with select_related(*STATE_RELATIONS)."""
    for slug, relation in [
        ("in-progress", "claimedexecution"),
        ("failed", "failedexecution"),
        ("scheduled", "scheduledexecution"),
        ("blocked", "blockedexecution"),
        ("ready", "readyexecution"),
    ]:
        if getattr(job, relation, None) is not None:
            return slug
    if is_cancelled(job):
        return "cancelled"
    if job.finished_at is not None:
        return "finished"
    # Moving between two states as it was read (a retry being scheduled): the next read settles it.
    return "moving"
