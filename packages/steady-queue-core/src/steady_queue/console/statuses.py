"""The states a task is listed under: one tab per state, each read from its own table.

Ready, scheduled, blocked, in progress and failed tasks are rows of narrow execution tables, listed
and counted there; finished and cancelled tasks are jobs with ``finished_at`` and no state row.
Every list is ordered by job id, the tables' primary key, so pages follow each other by keyset.
"""

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef

from steady_queue.cancellation import is_cancelled
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
)

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
