from django.db import models
from django.utils import timezone

from steady_queue.db import retry_on_lock, write_transaction

from .execution import QueuedExecution
from .job import Job
from .semaphore import acquire_over_limit


class BlockedExecution(QueuedExecution):
    """A job waiting for a concurrency slot of its key to free up."""

    concurrency_key = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "steady_queue_blocked_execution"
        indexes = [
            # Releasing the next job of a key, highest priority first.
            models.Index(fields=["concurrency_key", "-priority", "job"], name="sq_blocked_release"),
            # The dispatcher's maintenance pass over expired blocks.
            models.Index(fields=["expires_at", "concurrency_key"], name="sq_blocked_maintenance"),
        ]


@retry_on_lock
def run_now(job_ids):
    """Make blocked jobs ready at once, over their concurrency limit if no slot is free. Returns the ids moved.

    Each job takes a slot of its key even when none is free: the semaphore goes below zero, so the
    slots handed back by the next jobs of the key to end pay the debt before any blocked job gets
    one. The key runs one job over its limit per job run now, and only until running jobs end.
    """
    from .admission import JOB_FIELDS
    from .ready_execution import ReadyExecution

    now = timezone.now()
    with write_transaction():
        # Deleting the row is the fence against a finishing job handing it a slot meanwhile.
        ids = [pk for pk in sorted(set(job_ids)) if BlockedExecution.objects.filter(job_id=pk).delete()[0]]
        jobs = sorted(Job.objects.filter(pk__in=ids).only(*JOB_FIELDS), key=lambda job: (job.concurrency_key, job.pk))
        # Keys in order, so that two of these lock the semaphores in the same order.
        for job in jobs:
            acquire_over_limit(job.concurrency_key, job.concurrency_limit, job.concurrency_duration, now)
        ReadyExecution.insert_for(jobs, now)
    return ids
