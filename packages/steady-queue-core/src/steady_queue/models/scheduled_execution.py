from django.db import models
from django.utils import timezone

from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .admission import JOB_FIELDS, admit
from .execution import QueuedExecution
from .job import Job


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
