"""The write side of enqueue: jobs and their first state row, together or not at all."""

from django.db import connections, transaction

from steady_queue.db import queue_database
from steady_queue.models import Job, ScheduledExecution
from steady_queue.models.admission import admit
from steady_queue.models.tables import dialect


def insert_jobs(jobs, now):
    """Insert jobs (unsaved, sharing one queue database) and the ready or scheduled row of each.

    One transaction, or part of the caller's: rolling the caller back removes the jobs too. Three
    statements whatever the number of jobs (the database may split very large batches), plus two
    or three per distinct concurrency key.
    """
    using = queue_database()
    sql = dialect(using)
    # Unique tasks take the ORM path too: the fast paths do not write the jobs' unique_key.
    if sql.inserts_jobs_in_sql and not any(job.concurrency_key or job.unique_key for job in jobs):
        with sql.enqueue_transaction() as cursor:
            sql.insert_jobs(jobs, now, cursor)
        return jobs
    # No savepoint: the inserts either all succeed or the caller's transaction is doomed anyway,
    # and a savepoint would cost two more round trips on every enqueue.
    with transaction.atomic(using=using, savepoint=False):
        if connections[using].features.can_return_rows_from_bulk_insert:
            Job.objects.using(using).bulk_create(jobs)
        else:
            # A database that cannot say which ids a multi-row insert took (MySQL): one by one.
            for job in jobs:
                job.save(using=using, force_insert=True)
        due, scheduled = [], []
        for job in jobs:
            if job.scheduled_at is not None and job.scheduled_at > now:
                scheduled.append(
                    ScheduledExecution(
                        job_id=job.pk,
                        queue_name=job.queue_name,
                        priority=job.priority,
                        scheduled_at=job.scheduled_at,
                        created_at=now,
                    )
                )
            else:
                due.append(job)
        admit(due, now)
        if scheduled:
            ScheduledExecution.objects.using(using).bulk_create(scheduled)
    return jobs
