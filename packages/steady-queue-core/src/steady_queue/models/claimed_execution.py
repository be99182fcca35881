from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from steady_queue.db import lock, retry_on_lock, write_transaction

from .execution import Execution
from .failed_execution import FailedExecution
from .job import Job
from .unique_key import release_unique_keys


class ClaimedExecution(Execution):
    """A job a worker process has taken and is running.

    The row is the fence for finishing: an attempt's outcome is recorded only by the transaction
    that deletes the claim, so a job whose process was pruned as dead (and whose claim was failed
    meanwhile) cannot also be reported finished, and no outcome is ever recorded twice.

    ``started_at`` is the start marker: committed before the task's code is called, so a claim
    without one is known never to have started. When its process dies, such a claim goes back to
    its queue; a started one is failed (it may have run, in part or in full).
    """

    # No index of its own: sq_claimed_process begins with it. A second index on every claim, start
    # and finish was a page more to write in each of their commits.
    process = models.ForeignKey(
        "steady_queue.Process",
        null=True,
        on_delete=models.DB_SET_NULL,
        related_name="claimed_executions",
        db_index=False,
    )
    # Not indexed: setting it is a HOT update on PostgreSQL (no index entry to add).
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "steady_queue_claimed_execution"
        indexes = [
            models.Index(fields=["process", "job"], name="sq_claimed_process"),
        ]


@dataclass
class Success:
    """A task that returned: what finish_and_start() records."""

    job: Job
    started_at: datetime
    finished_at: datetime
    return_value: object

    @property
    def job_id(self):
        return self.job.pk


@retry_on_lock
def finish_and_start(successes, start_ids, process_id, worker_name, *, preserve):
    """Record successful attempts and the start markers of other claims, in one transaction.

    Returns the job ids of (recorded, started): only claims still this process's count. A worker
    thread records the outcome of its last task with the start of its next one, so the marker that
    lets a crash tell unstarted claims apart costs no round trip of its own.
    """
    from .tables import dialect

    sql = dialect()
    now = timezone.now()
    if not sql.finishes_in_sql:
        recorded = set()
        with write_transaction(sql.alias):
            for s in successes:
                if finish(
                    s.job, process_id, worker_name, s.started_at, s.return_value,
                    preserve=preserve, finished_at=s.finished_at,
                ):
                    recorded.add(s.job_id)
            started = _mark_started(start_ids, process_id, now)
        return recorded, started
    limited = [s for s in successes if s.job.concurrency_key]
    unique = [s.job for s in successes if s.job.unique_key]
    if not limited and not unique and sql.single_statement_writes:
        # One statement is a transaction of its own: no BEGIN and COMMIT round trips.
        return sql.finish_and_start(process_id, worker_name, successes, start_ids, now, preserve)[:2]
    with write_transaction(sql.alias):
        # The dialect locks the limited jobs' semaphores on the way (PostgreSQL in the same statement),
        # before the unique keys below, in key order as everywhere.
        slot_keys = sorted({s.job.concurrency_key for s in limited})
        recorded, started, held = sql.finish_and_start(
            process_id, worker_name, successes, start_ids, now, preserve, slot_keys=slot_keys
        )
        # Slots are handed on in the transaction that recorded the outcomes: released exactly once.
        # So are the keys of @unique tasks held until they finish (see steady_queue.uniqueness).
        release_unique_keys([job for job in unique if job.pk in recorded], now)
        _release_slots([s.job for s in limited if s.job_id in recorded], now, held=held)
    return recorded, started


def _mark_started(job_ids, process_id, now):
    """The start markers through the ORM (call inside a transaction); the job ids marked."""
    if not job_ids:
        return set()
    started = set(lock(ClaimedExecution.objects.filter(process_id=process_id, job_id__in=job_ids))
                  .values_list("job_id", flat=True))
    ClaimedExecution.objects.filter(job_id__in=started).update(started_at=now)
    return started


def _attempt_fields(job, worker_name, started_at, finished_at):
    return {
        "started_at": Coalesce(F("started_at"), started_at),
        "last_attempted_at": started_at,
        "finished_at": finished_at,
        "worker_ids": [*job.worker_ids, worker_name],
    }


@retry_on_lock
def finish(job, process_id, worker_name, started_at, return_value, *, preserve, finished_at=None):
    """Record a successful attempt; False if the claim was no longer this process's.

    ``finished_at``: when the task returned, if it was not just now (a finisher's round records it later).
    """
    now = timezone.now()
    with write_transaction():
        if not _release_claim(job.pk, process_id):
            return False
        release_unique_keys([job], now)
        _release_slot(job, now)
        if preserve:
            Job.objects.filter(pk=job.pk).update(
                return_value=return_value, **_attempt_fields(job, worker_name, started_at, finished_at or now)
            )
        else:
            Job.objects.filter(pk=job.pk).delete()
    return True


@retry_on_lock
def fail(job, process_id, worker_name, started_at, error, *, retry_at=None):
    """Record a failed attempt (``error``: class path, message, traceback); False if not ours.

    With ``retry_at``, the next attempt is scheduled for then in the same transaction: it survives
    any crash from here on, and nothing else can schedule it a second time.
    """
    now = timezone.now()
    with write_transaction():
        if not _release_claim(job.pk, process_id):
            return False
        _release_slot(job, now)
        if _record_failed_attempt(job, worker_name, started_at, error, now, retry_at):
            FailedExecution.of(job, now).save(force_insert=True)
    return True


def _record_failed_attempt(job, worker_name, started_at, record, now, retry_at):
    """Add a failed attempt to the job, and its next attempt for ``retry_at`` (None: there is none).

    Returns True when the job failed for good: the caller adds its failed row.
    """
    if retry_at is None:
        # The end for good: a key held until the task finishes is released (not between attempts).
        release_unique_keys([job], now)
        Job.objects.filter(pk=job.pk).update(
            errors=[*job.errors, record], **_attempt_fields(job, worker_name, started_at, now)
        )
        return True
    Job.objects.filter(pk=job.pk).update(
        errors=[*job.errors, record], scheduled_at=retry_at, **_attempt_fields(job, worker_name, started_at, None)
    )
    schedule_attempt(job, retry_at, now)
    return False


def schedule_attempt(job, run_at, now):
    """Queue the job's next attempt for ``run_at``: scheduled, or admitted at once when it is due.

    Between attempts a concurrency-limited job holds no slot: it queues for one again like a new job.
    """
    from .admission import admit
    from .scheduled_execution import ScheduledExecution

    if run_at > now:
        ScheduledExecution.objects.create(
            job_id=job.pk, queue_name=job.queue_name, priority=job.priority, scheduled_at=run_at, created_at=now
        )
    else:
        admit([job], now)


def _release_slot(job, now):
    if job.concurrency_key:
        from .admission import release_slot

        release_slot(job, now)


def _release_slots(jobs, now, held=None):
    # All the batch's limited jobs at once: a key that finished k hands up to k slots on.
    if jobs:
        from .admission import release_slots

        release_slots(jobs, now, held=held)


def _release_claim(job_id, process_id):
    # Deleting the claim is the fence: only the transaction that removes it records an outcome.
    deleted, _ = ClaimedExecution.objects.filter(job_id=job_id, process_id=process_id).delete()
    return deleted


@retry_on_lock
def release_claims(claims):
    """Put claimed jobs back in their queue (a graceful stop that ran out of time). Returns the count."""
    with write_transaction():
        claims = list(lock(claims).select_related("job"))
        _put_back(claims, timezone.now())
    return len(claims)


def _put_back(claims, now):
    """Make claimed jobs ready again (a limited job keeps the slot it holds). Call in a transaction."""
    from .ready_execution import ReadyExecution

    ReadyExecution.insert_for([claim.job for claim in claims], now)
    ClaimedExecution.objects.filter(job_id__in=[claim.job_id for claim in claims]).delete()


@dataclass
class Recovered:
    """What recover_claims() did with the claims of a lost process: job ids put back, and failed."""

    released: list
    failed: list


@retry_on_lock
def recover_claims(claims, error, *, release_slots):
    """Deal with the claims of a lost process: put back those that never started, fail the others.

    A claim without its start marker never ran: it goes back to its queue untouched. A started one
    may have run, in part or in full, so it is not run again: it fails with ``error`` (a
    ProcessLostError), or retries only with ``retry_lost`` and attempts left, after the default
    backoff.

    ``release_slots`` says whether the process is known to be gone. A process that was only
    declared dead (no heartbeat) may still be running a started job, so its concurrency slot is left
    to expire rather than handed to the next job: a limit is never exceeded because of a prune. (A
    job put back keeps its slot, as a ready job does.)
    """
    from steady_queue.attempts import default_backoff

    now = timezone.now()
    record = error.as_record()
    with write_transaction():
        # Locked: a start marker being written meanwhile is waited for and seen; a start marker
        # written after this finds the claim gone, and its task is not run.
        rows = list(lock(claims).select_related("process", "job"))
        unstarted = [claim for claim in rows if claim.started_at is None]
        _put_back(unstarted, now)
        started = [claim for claim in rows if claim.started_at is not None]
        ClaimedExecution.objects.filter(job_id__in=[c.job_id for c in started]).delete()
        failed = []
        for claim in started:
            job = claim.job
            worker = claim.process.name if claim.process else "unknown"
            if release_slots:
                _release_slot(job, now)
            attempts, retry_at = len(job.worker_ids) + 1, None
            if job.retry_lost and attempts < job.max_attempts:
                # The task may have run, or part of it: the task asked for at-least-once here.
                retry_at = now + timedelta(seconds=default_backoff(attempts))
            if _record_failed_attempt(job, worker, claim.started_at, record, now, retry_at):
                failed.append(FailedExecution.of(job, now))
        FailedExecution.objects.bulk_create(failed)
    return Recovered(released=[c.job_id for c in unstarted], failed=[c.job_id for c in started])
