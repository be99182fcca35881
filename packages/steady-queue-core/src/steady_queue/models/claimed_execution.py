from dataclasses import dataclass
from datetime import datetime

from django.db import connections, models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from steady_queue.db import lock, queue_database, retry_on_lock, write_transaction

from .execution import Execution
from .failed_execution import FailedExecution
from .job import Job


class ClaimedExecution(Execution):
    """A job a worker process has taken and is running.

    The row is the fence for finishing: an attempt's outcome is recorded only by the transaction
    that deletes the claim, so a job whose process was pruned as dead (and whose claim was failed
    meanwhile) cannot also be reported finished, and no outcome is ever recorded twice.
    """

    process = models.ForeignKey(
        "steady_queue.Process", null=True, on_delete=models.DB_SET_NULL, related_name="claimed_executions"
    )

    class Meta:
        db_table = "steady_queue_claimed_execution"
        indexes = [
            models.Index(fields=["process", "job"], name="sq_claimed_process"),
        ]


@dataclass
class Success:
    """A task that returned: what finish_many() records."""

    job: Job
    started_at: datetime
    finished_at: datetime
    return_value: object

    @property
    def job_id(self):
        return self.job.pk


@retry_on_lock
def finish_many(successes, process_id, worker_name, *, preserve):
    """Record many successful attempts in one transaction; return the ids of the jobs recorded.

    Only jobs whose claim is still this process's are recorded (see ClaimedExecution).
    """
    from steady_queue.sql import for_connection

    using = queue_database()
    vendor_sql = for_connection(using)
    if vendor_sql is None:
        recorded = set()
        with write_transaction(using):
            for s in successes:
                if finish(s.job, process_id, worker_name, s.started_at, s.return_value, preserve=preserve):
                    recorded.add(s.job_id)
        return recorded
    limited = [s for s in successes if s.job.concurrency_key]
    if not limited and vendor_sql.WRITES_ARE_SINGLE_STATEMENTS:
        # One statement is a transaction of its own: no BEGIN and COMMIT round trips.
        return vendor_sql.finish(connections[using], process_id, worker_name, successes, preserve)
    with write_transaction(using):
        recorded = vendor_sql.finish(connections[using], process_id, worker_name, successes, preserve)
        # Slots are handed on in the transaction that recorded the outcomes: released exactly once.
        now = timezone.now()
        for s in limited:
            if s.job_id in recorded:
                _release_slot(s.job, now)
    return recorded


def _attempt_fields(job, worker_name, started_at, finished_at):
    return {
        "started_at": Coalesce(F("started_at"), started_at),
        "last_attempted_at": started_at,
        "finished_at": finished_at,
        "worker_ids": [*job.worker_ids, worker_name],
    }


@retry_on_lock
def finish(job, process_id, worker_name, started_at, return_value, *, preserve):
    """Record a successful attempt; False if the claim was no longer this process's."""
    now = timezone.now()
    with write_transaction():
        if not _release_claim(job.pk, process_id):
            return False
        _release_slot(job, now)
        if preserve:
            Job.objects.filter(pk=job.pk).update(
                return_value=return_value, **_attempt_fields(job, worker_name, started_at, now)
            )
        else:
            Job.objects.filter(pk=job.pk).delete()
    return True


@retry_on_lock
def fail(job, process_id, worker_name, started_at, error):
    """Record a failed attempt (``error``: class path, message, traceback); False if not ours."""
    now = timezone.now()
    with write_transaction():
        if not _release_claim(job.pk, process_id):
            return False
        Job.objects.filter(pk=job.pk).update(
            errors=[*job.errors, error], **_attempt_fields(job, worker_name, started_at, now)
        )
        FailedExecution.objects.create(job_id=job.pk, created_at=now)
        _release_slot(job, now)
    return True


def _release_slot(job, now):
    if job.concurrency_key:
        from .admission import release_slot

        release_slot(job, now)


def _release_claim(job_id, process_id):
    # Deleting the claim is the fence: only the transaction that removes it records an outcome.
    deleted, _ = ClaimedExecution.objects.filter(job_id=job_id, process_id=process_id).delete()
    return deleted


@retry_on_lock
def release_claims(claims):
    """Put claimed jobs back in their queue (a graceful stop that ran out of time). Returns the count."""
    from .ready_execution import ReadyExecution

    now = timezone.now()
    with write_transaction():
        job_ids = list(lock(claims).values_list("job_id", flat=True))
        jobs = Job.objects.filter(pk__in=job_ids).only("queue_name", "priority")
        ReadyExecution.insert_for(jobs, now)
        ClaimedExecution.objects.filter(job_id__in=job_ids).delete()
    return len(job_ids)


@retry_on_lock
def fail_claims(claims, error, *, release_slots):
    """Mark claimed jobs failed with a ProcessLostError: their process was lost. Returns the job ids.

    ``release_slots`` says whether the process is known to be gone. A process that was only
    declared dead (no heartbeat) may still be running the job, so its concurrency slots are left to
    expire rather than handed to the next job: a limit is never exceeded because of a prune.
    """
    now = timezone.now()
    record = error.as_record()
    with write_transaction():
        rows = list(lock(claims).select_related("process", "job"))
        for claim in rows:
            job = claim.job
            worker = claim.process.name if claim.process else "unknown"
            Job.objects.filter(pk=job.pk).update(
                errors=[*job.errors, record], **_attempt_fields(job, worker, claim.created_at, now)
            )
            if release_slots:
                _release_slot(job, now)
        FailedExecution.objects.bulk_create([FailedExecution(job_id=c.job_id, created_at=now) for c in rows])
        ClaimedExecution.objects.filter(job_id__in=[c.job_id for c in rows]).delete()
    return [c.job_id for c in rows]
