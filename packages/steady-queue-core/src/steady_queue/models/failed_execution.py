from django.db import models
from django.utils import timezone

from steady_queue.db import lock, retry_on_lock, write_transaction

from .execution import Execution
from .job import Job, existing_job_ids


class FailedExecution(Execution):
    """A job whose last attempt raised, or whose process died. It stays until retried or discarded.

    The error itself is kept in the job's ``errors`` history, so a retried job keeps every error.
    """

    # Copied from the job, as the waiting tables copy the queue: the console lists and counts failed
    # tasks by queue or task from this narrow table, without reading the jobs around them.
    queue_name = models.CharField(max_length=100)
    task_path = models.CharField(max_length=255)

    @classmethod
    def of(cls, job, now):
        """The (unsaved) failed row of ``job``."""
        return cls(job_id=job.pk, queue_name=job.queue_name, task_path=job.task_path, created_at=now)

    class Meta:
        db_table = "steady_queue_failed_execution"


def _failed(job_ids):
    failed = FailedExecution.objects.order_by("job_id")
    return failed if job_ids is None else failed.filter(job_id__in=existing_job_ids(job_ids))


def retry(job_ids=None, *, batch_size=500):
    """Put failed jobs back in their queue with the same id; ``None`` means every failed job.

    ``job_ids`` are result ids (``TaskResult.id``) or job row ids.

    Earlier attempts stay in the job's history (``TaskResult.attempts`` and ``errors``).
    Returns the number of jobs retried.
    """
    from .admission import JOB_FIELDS, admit

    @retry_on_lock
    def batch(after):
        now = timezone.now()
        with write_transaction():
            ids = list(lock(_failed(job_ids).filter(job_id__gt=after)).values_list("job_id", flat=True)[:batch_size])
            FailedExecution.objects.filter(job_id__in=ids).delete()
            # A cancel requested while it last ran is not a request to stop the new attempt.
            Job.objects.filter(pk__in=ids).update(finished_at=None, cancelled_at=None)
            # A retried job queues for its concurrency slot again, like a new one.
            admit(list(Job.objects.filter(pk__in=ids).only(*JOB_FIELDS)), now)
        return ids

    return _in_batches(batch)


def discard(job_ids=None, *, batch_size=500):
    """Delete failed jobs for good (result ids or row ids); ``None`` means every failed job.

    Returns the number deleted.
    """

    @retry_on_lock
    def batch(after):
        with write_transaction():
            ids = list(lock(_failed(job_ids).filter(job_id__gt=after)).values_list("job_id", flat=True)[:batch_size])
            Job.objects.filter(pk__in=ids).delete()
        return ids

    return _in_batches(batch)


def _in_batches(batch):
    total, after = 0, 0
    while ids := batch(after):
        total += len(ids)
        after = ids[-1]
    return total
