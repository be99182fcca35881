from django.db import models
from django.utils import timezone

from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .execution import QueuedExecution
from .ready_execution import ReadyExecution


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
        rows = list(due.values_list("job_id", "queue_name", "priority")[:batch_size])
        if not rows:
            return 0
        ReadyExecution.objects.bulk_create(
            [ReadyExecution(job_id=job_id, queue_name=queue, priority=priority, created_at=now)
             for job_id, queue, priority in rows]
        )
        ScheduledExecution.objects.filter(job_id__in=[row[0] for row in rows]).delete()
    return len(rows)
