"""Admission: a due job goes straight to its queue (ready), or waits (blocked) while its concurrency key is full.

Every path that makes a job runnable goes through here (enqueue, the dispatcher, retry, and the
release of blocked jobs), so concurrency limits hold whichever way a job arrives.
"""

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Least
from django.utils import timezone

from steady_queue.db import retry_on_lock, skip_locked, write_transaction

from .blocked_execution import BlockedExecution
from .job import Job
from .ready_execution import ReadyExecution
from .semaphore import Semaphore, acquire, delete_expired, expiry_after_change, lock_all, pushed_back_expiry
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


@dataclass(frozen=True)
class HandOver:
    """What release_slots() decided for one key; the dialect's hand_over_slots() carries it out.

    ``free``: the key's free slots once the finished jobs gave theirs back (before any blocked job
    takes one); ``slots``: how many of its blocked jobs may take one now; ``expires_at``: the
    semaphore's expiry after this change.
    """

    key: str
    free: int
    slots: int
    expires_at: datetime


def release_slots(jobs, now, held=None):
    """These jobs no longer hold their slots: hand them to the next blocked jobs of their keys, or give them back.

    Called in the transaction that records the jobs' outcomes, so a slot is released exactly once.
    Where the database has its own SQL for it, one set of statements serves every key of a finisher
    batch: the dialect's finish_and_start() locks the keys' semaphores and passes what it read as
    ``held`` (on PostgreSQL within the statement that records the outcomes), and hand_over_slots()
    moves the blocked jobs and sets the counts.
    """
    sql = dialect()
    if not sql.hands_over_slots_in_sql:
        for job in sorted(jobs, key=lambda job: job.concurrency_key):
            _release_slot_orm(job, now)
        return
    finished = {}
    for job in jobs:
        finished.setdefault(job.concurrency_key, []).append(job)
    if held is None:
        held = lock_all(sorted(finished))
    else:
        held = {key: row for key, row in held.items() if key in finished}
    hand_overs = []
    for key, (value, expires_at) in held.items():
        first, done = finished[key][0], len(finished[key])
        # Given back first: a debt (a value below zero, see acquire_over_limit) is paid before any
        # blocked job gets a slot, and no key ever has more free slots than its limit.
        free = min(value + done, first.concurrency_limit)
        expiry = expiry_after_change(expires_at, now, first.concurrency_duration)
        hand_overs.append(HandOver(key, free, min(done, max(free, 0)), expiry))
    if hand_overs:
        sql.hand_over_slots(hand_overs, now)
    for key in sorted(finished.keys() - held.keys()):
        # The semaphore expired and was deleted meanwhile: all its slots are free again.
        unblock(key, now, limit=finished[key][0].concurrency_limit)


def release_slot(job, now):
    """The job no longer holds its slot: see release_slots."""
    release_slots([job], now)


def _release_slot_orm(job, now):
    # Give the slot back first: the update locks the key's semaphore row until the transaction
    # ends, so no enqueue can slip in before the next blocked job takes the slot.
    given_back = Semaphore.objects.filter(key=job.concurrency_key).update(
        value=Least(F("value") + 1, job.concurrency_limit),
        expires_at=pushed_back_expiry(now, job.concurrency_duration),
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
