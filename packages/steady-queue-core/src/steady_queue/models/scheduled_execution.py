from django.db import models
from django.utils import timezone

from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .admission import JOB_FIELDS, admit
from .execution import QueuedExecution
from .job import Job
from .unique_key import release_unique_keys


class ScheduledExecution(QueuedExecution):
    """A job whose ``run_after`` is in the future. The dispatcher makes it ready when it is due."""

    scheduled_at = models.DateTimeField()

    class Meta:
        db_table = "steady_queue_scheduled_execution"
        indexes = [
            models.Index(fields=["scheduled_at", "-priority", "job"], name="sq_scheduled_dispatch"),
        ]


@retry_on_lock
def dispatch_due(batch_size):
    """Make up to ``batch_size`` due scheduled jobs ready, earliest first. Returns how many moved."""
    now = timezone.now()
    with write_transaction():
        due = skip_locked(
            ScheduledExecution.objects.filter(scheduled_at__lte=now).order_by("scheduled_at", "-priority", "job_id")
        )
        job_ids = list(due.values_list("job_id", flat=True)[:batch_size])
        if not job_ids:
            return 0
        ScheduledExecution.objects.filter(job_id__in=job_ids).delete()
        admit(list(Job.objects.filter(pk__in=job_ids).only(*JOB_FIELDS)), now)
    return len(job_ids)


def next_scheduled_at():
    """When the earliest scheduled job is due, or None."""
    return ScheduledExecution.objects.order_by("scheduled_at").values_list("scheduled_at", flat=True).first()


def _take(job_ids):
    """Delete the scheduled rows of these jobs that are still there; return their ids, in order.

    The delete is the fence against the dispatcher (and a cancel): it waits for a row another
    transaction holds, then finds it gone, so only one of them moves the job.
    """
    return [pk for pk in sorted(set(job_ids)) if ScheduledExecution.objects.filter(job_id=pk).delete()[0]]


@retry_on_lock
def run_now(job_ids):
    """Make scheduled jobs due now (ready, or blocked behind their concurrency limit). Returns the ids moved.

    The job's ``scheduled_at`` (its ``run_after``) becomes now: it is when the operator let it run.
    """
    now = timezone.now()
    with write_transaction():
        ids = _take(job_ids)
        if ids:
            Job.objects.filter(pk__in=ids).update(scheduled_at=now)
            admit(list(Job.objects.filter(pk__in=ids).only(*JOB_FIELDS)), now)
    return ids


@retry_on_lock
def discard(job_ids):
    """Delete scheduled jobs for good, before they run. Returns the ids deleted.

    A scheduled job holds no concurrency slot; a unique key it holds is released as a cancel releases it.
    """
    now = timezone.now()
    with write_transaction():
        ids = _take(job_ids)
        jobs = list(Job.objects.filter(pk__in=ids).only("token", "unique_key"))
        release_unique_keys(jobs, now)
        Job.objects.filter(pk__in=ids).delete()
    return ids
