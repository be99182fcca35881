"""Admission: a due job goes straight to its queue (ready), or waits (blocked) while its concurrency key is full.

Every path that makes a job runnable goes through here (enqueue, the dispatcher, retry, and the
release of blocked jobs), so concurrency limits hold whichever way a job arrives.
"""

from itertools import groupby

from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Least
from django.utils import timezone

from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .blocked_execution import BlockedExecution
from .job import Job
from .ready_execution import ReadyExecution
from .semaphore import Semaphore, acquire, delete_expired
from .tables import dialect


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
    In the database's own SQL where it has it: this runs for every finished limited task, and the
    ORM's own cost was most of the worker's time there.
    """
    sql = dialect()
    if sql.hands_over_slots_in_sql:
        if not sql.hand_over_slot(job, now):
            # The semaphore expired and was deleted meanwhile: all its slots are free again.
            unblock(job.concurrency_key, now, limit=job.concurrency_limit)
        return
    # Give the slot back first: the update locks the key's semaphore row until the transaction
    # ends, so no enqueue can slip in before the next blocked job takes the slot.
    given_back = Semaphore.objects.filter(key=job.concurrency_key).update(
        value=Least(F("value") + 1, job.concurrency_limit),
        expires_at=now + job.concurrency_duration,
        updated_at=now,
    )
    unblock(job.concurrency_key, now, limit=1 if given_back else job.concurrency_limit)


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
