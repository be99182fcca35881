"""Admission: a due job goes straight to its queue (ready), or waits (blocked) while its concurrency key is full.

Every path that makes a job runnable goes through here (enqueue, the dispatcher, retry, and the
release of blocked jobs), so concurrency limits hold whichever way a job arrives.
"""

from itertools import groupby

from django.db import connections
from django.db.models import Exists, OuterRef
from django.utils import timezone

from steady_queue.db import queue_database, retry_on_lock, skip_locked, write_transaction

from .blocked_execution import BlockedExecution
from .job import Job
from .ready_execution import ReadyExecution
from .semaphore import Semaphore, acquire, delete_expired


def admit(jobs, now):
    """Insert a ready or blocked row for each job (Job instances with their queue fields). In a transaction."""
    ready = [job for job in jobs if not job.concurrency_key]
    blocked = []
    limited = sorted((job for job in jobs if job.concurrency_key), key=lambda job: job.concurrency_key)
    for key, group in groupby(limited, key=lambda job: job.concurrency_key):
        # Highest priority first within one key, then oldest, as they would be claimed.
        group = sorted(group, key=lambda job: (-job.priority, job.pk))
        taken = acquire(key, group[0].concurrency_limit, group[0].concurrency_duration, len(group), now)
        ready += group[:taken]
        blocked += group[taken:]
    if ready:
        ReadyExecution.insert_for(ready, now)
    if blocked:
        BlockedExecution.objects.bulk_create(
            [
                BlockedExecution(
                    job_id=j.pk,
                    queue_name=j.queue_name,
                    priority=j.priority,
                    concurrency_key=j.concurrency_key,
                    expires_at=now + j.concurrency_duration,
                    created_at=now,
                )
                for j in blocked
            ]
        )
    return len(ready), len(blocked)


def release_slot(job, now):
    """The job no longer holds its slot: hand it to the next blocked job of the key, or give it back.

    Called in the transaction that records the job's outcome, so a slot is released exactly once.
    Plain SQL rather than the ORM: it runs for every finished limited task, and the ORM's own cost
    was most of the worker's time there.
    """
    connection = connections[queue_database()]
    adapt = connection.ops.adapt_datetimefield_value
    expires, stamp = adapt(now + job.concurrency_duration), adapt(now)
    semaphore, blocked, ready = (
        Semaphore._meta.db_table,
        BlockedExecution._meta.db_table,
        ReadyExecution._meta.db_table,
    )
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with connection.cursor() as cursor:
        # Give the slot back first: this locks the key's semaphore row until the transaction ends,
        # so no enqueue can slip in between and the hand-over below is safe.
        cursor.execute(
            f"UPDATE {semaphore} SET value = CASE WHEN value + 1 > %s THEN %s ELSE value + 1 END, "
            f"expires_at = %s, updated_at = %s WHERE key = %s",
            [job.concurrency_limit, job.concurrency_limit, expires, stamp, job.concurrency_key],
        )
        if cursor.rowcount == 0:
            # The semaphore expired and was deleted meanwhile: all its slots are free again.
            unblock(job.concurrency_key, now, limit=job.concurrency_limit)
            return
        cursor.execute(
            f"SELECT job_id, queue_name, priority FROM {blocked} WHERE concurrency_key = %s "
            f"ORDER BY priority DESC, job_id LIMIT 1{skip_locked}",
            [job.concurrency_key],
        )
        waiting = cursor.fetchone()
        if waiting is None:
            return
        cursor.execute(
            f"UPDATE {semaphore} SET value = value - 1, expires_at = %s, updated_at = %s WHERE key = %s AND value > 0",
            [expires, stamp, job.concurrency_key],
        )
        if cursor.rowcount != 1:
            return
        cursor.execute(f"DELETE FROM {blocked} WHERE job_id = %s", [waiting[0]])
        cursor.execute(
            f"INSERT INTO {ready} (job_id, queue_name, priority, created_at) VALUES (%s, %s, %s, %s)",
            [waiting[0], waiting[1], waiting[2], stamp],
        )


def unblock(key, now, limit=None):
    """Move blocked jobs of ``key`` to ready while the key has free slots. In a transaction."""
    waiting = skip_locked(BlockedExecution.objects.filter(concurrency_key=key).order_by("-priority", "job_id"))
    candidates = list(waiting.values_list("job_id", flat=True)[: limit or 1])
    if not candidates:
        return 0
    jobs = sorted(Job.objects.filter(pk__in=candidates).only(*JOB_FIELDS), key=lambda job: candidates.index(job.pk))
    taken = acquire(key, jobs[0].concurrency_limit, jobs[0].concurrency_duration, len(jobs), now)
    released = jobs[:taken]
    if released:
        BlockedExecution.objects.filter(job_id__in=[j.pk for j in released]).delete()
        ReadyExecution.insert_for(released, now)
    return len(released)


@retry_on_lock
def maintain_concurrency(batch_size):
    """The dispatcher's pass: reclaim expired semaphores, release blocked jobs whose key has room.

    Returns (semaphores expired, jobs released).
    """
    now = timezone.now()
    with write_transaction():
        expired = delete_expired(now, batch_size)
        full = Semaphore.objects.filter(key=OuterRef("concurrency_key"), value__lte=0)
        keys = list(
            BlockedExecution.objects.filter(~Exists(full))
            .order_by("concurrency_key")
            .values_list("concurrency_key", flat=True)
            .distinct()[:batch_size]
        )
        released = sum(unblock(key, now, limit=batch_size) for key in keys)
    return expired, released


JOB_FIELDS = ("queue_name", "priority", "concurrency_key", "concurrency_limit", "concurrency_duration")
