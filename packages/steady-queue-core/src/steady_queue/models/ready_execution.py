from contextlib import nullcontext

from django.db import models
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Substr
from django.db.models.lookups import Exact
from django.utils import timezone

from steady_queue import queue_patterns
from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .claimed_execution import ClaimedExecution
from .execution import QueuedExecution
from .job import Job, jobs_from_rows
from .pause import Pause
from .unique_key import release_started


class ReadyExecution(QueuedExecution):
    """A job waiting for a worker. Workers claim these, highest priority first, then oldest."""

    @classmethod
    def insert_for(cls, jobs, now):
        """Make the given jobs ready (they must have no other state row)."""
        cls.objects.bulk_create(
            [cls(job_id=job.pk, queue_name=job.queue_name, priority=job.priority, created_at=now) for job in jobs]
        )

    class Meta:
        db_table = "steady_queue_ready_execution"
        indexes = [
            # The two claim queries, in their exact sort order: all queues, and one queue.
            models.Index(fields=["-priority", "job"], name="sq_ready_poll_all"),
            models.Index(fields=["queue_name", "-priority", "job"], name="sq_ready_poll_queue"),
        ]


@retry_on_lock
def claim(queue_patterns, limit, process_id, paused=None):
    """Move up to ``limit`` ready jobs to claimed for a process; return the claimed Jobs.

    Queues are served in the order given; within one, higher priority first, then oldest. Short
    transactions: row locks are skipped, not waited for, where the database has them. ``paused``
    is the list of paused queues when the caller just read it (a worker reads it once per poll).
    """
    from .tables import dialect

    sql = dialect()
    if not sql.claims_in_sql:
        return release_started(claim_portable(queue_patterns, limit, process_id))
    if paused is None:
        paused = paused_queue_names()
    columns = [field.attname for field in Job._meta.concrete_fields]
    jobs = []
    for pattern in queue_patterns:
        if len(jobs) >= limit:
            break
        # Each pattern's claim commits on its own: nothing spans the patterns but their order.
        with sql_transaction(sql):
            rows = sql.claim(pattern, limit - len(jobs), process_id, paused, columns)
        jobs += jobs_from_rows(sql.alias, columns, rows)
    # Unique tasks held until they start give their keys up now (one statement; none without them).
    return release_started(jobs)


def sql_transaction(sql):
    """The transaction around a hot path in SQL: none where it is one statement (a transaction of its own)."""
    return nullcontext() if sql.single_statement_writes else write_transaction(sql.alias)


def paused_queue_names():
    return list(Pause.objects.values_list("queue_name", flat=True))


def claim_portable(queue_patterns, limit, process_id):
    """claim() through the ORM alone, for databases without their own SQL in steady_queue.sql."""
    now = timezone.now()
    not_paused = ~Exists(Pause.objects.filter(queue_name=OuterRef("queue_name")))
    job_ids = []
    with write_transaction():
        for queue_filter in pattern_filters(queue_patterns):
            wanted = limit - len(job_ids)
            if wanted <= 0:
                break
            candidates = (
                ReadyExecution.objects.filter(queue_filter, not_paused)
                .exclude(job_id__in=job_ids)
                .order_by("-priority", "job_id")
            )
            job_ids += skip_locked(candidates).values_list("job_id", flat=True)[:wanted]
        if not job_ids:
            return []
        ClaimedExecution.objects.bulk_create(
            [ClaimedExecution(job_id=job_id, process_id=process_id, created_at=now) for job_id in job_ids]
        )
        ReadyExecution.objects.filter(job_id__in=job_ids).delete()
        jobs = Job.objects.in_bulk(job_ids)
    return [jobs[job_id] for job_id in job_ids]


def pattern_filters(patterns):
    """One filter per queue pattern, in the order they are served: 'email', 'mail*' or '*'."""
    for kind, text in map(queue_patterns.parse, patterns):
        if kind == "all":
            yield Q()
        elif kind == "prefix":
            # Not startswith: on SQLite that is LIKE, blind to case ("mail*" took queue "Mail").
            yield Q(Exact(Substr("queue_name", 1, len(text)), Value(text)))
        else:
            yield Q(queue_name=text)
