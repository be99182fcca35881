"""The write side of enqueue: jobs and their first state row, together or not at all."""

from django.db import connections, transaction

from steady_queue.db import queue_database
from steady_queue.models import Job, ScheduledExecution
from steady_queue.models.admission import admit


def insert_jobs(jobs, now):
    """Insert jobs (unsaved, sharing one queue database) and the ready or scheduled row of each.

    One transaction, or part of the caller's: rolling the caller back removes the jobs too. Three
    statements whatever the number of jobs (the database may split very large batches), plus two
    or three per distinct concurrency key.
    """
    using = queue_database()
    from steady_queue.sql import for_connection

    vendor_sql = for_connection(using)
    # Unique tasks take the ORM path too: the fast paths do not write the jobs' unique_key.
    if vendor_sql is not None and not any(job.concurrency_key or job.unique_key for job in jobs):
        connection = connections[using]
        if vendor_sql.WRITES_ARE_SINGLE_STATEMENTS:
            # One statement: a transaction of its own, or part of the caller's.
            vendor_sql.insert_jobs(connection, jobs, now)
        else:
            with transaction.atomic(using=using, savepoint=False):
                vendor_sql.insert_jobs(connection, jobs, now)
        return jobs
    # No savepoint: the inserts either all succeed or the caller's transaction is doomed anyway,
    # and a savepoint would cost two more round trips on every enqueue.
    with transaction.atomic(using=using, savepoint=False):
        Job.objects.using(using).bulk_create(jobs)
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
