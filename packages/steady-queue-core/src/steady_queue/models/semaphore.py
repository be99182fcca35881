from django.db import models
from django.db.models import Case, F, Value, When
from django.utils import timezone

from steady_queue.db import lock


class Semaphore(models.Model):
    """The free slots of one concurrency key: ``value`` counts how many more jobs may start.

    Every change happens with the row locked, inside the transaction that moves the job, so the
    count and the jobs holding slots never drift apart. Each change leaves ``expires_at`` at least
    the key's duration away (see expiry_after_change); a semaphore left untouched past it is
    deleted by the dispatcher's maintenance (all slots free).
    """

    key = models.CharField(max_length=255, unique=True)
    value = models.IntegerField(default=1)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_semaphore"

    def __str__(self):
        return f"{self.key} ({self.value} free)"


# How much further than its duration a change pushes a semaphore's expiry back, as a share of it.
EXPIRY_SLACK = 0.5


def expiry_after_change(expires_at, now, duration):
    """The expiry of a semaphore changed at ``now``: at least ``duration`` away, and rarely rewritten.

    It is pushed back (by one and a half durations) only when nearer than ``duration``: the other
    changes leave it as it is, so a busy key rewrites it once per half a duration rather than on
    every hand-over, and on PostgreSQL those updates touch no index (they stay HOT). The price: a
    semaphore left untouched expires between one and one and a half durations after its last change.
    """
    if expires_at is not None and expires_at >= now + duration:
        return expires_at
    return _pushed_back(now, duration)


def pushed_back_expiry(now, duration):
    """expiry_after_change() as an expression, for an update that does not read the row first."""
    return Case(When(expires_at__lt=now + duration, then=Value(_pushed_back(now, duration))), default=F("expires_at"))


def _pushed_back(now, duration):
    return now + duration * (1 + EXPIRY_SLACK)


def lock_all(keys):
    """Lock the semaphores of ``keys``, in key order; {key: (value, expires_at)} of those that exist.

    Call inside a transaction. In order, so that two transactions lock shared keys in the same order.
    """
    rows = lock(Semaphore.objects.filter(key__in=keys).order_by("key")).values_list("key", "value", "expires_at")
    return {key: (value, expires_at) for key, value, expires_at in rows}


def acquire(key, limit, duration, count, now):
    """Take up to ``count`` slots of ``key``; return how many were taken. Call inside a transaction."""
    row = lock(Semaphore.objects.filter(key=key)).first()
    if row is None:
        Semaphore.objects.bulk_create(
            [Semaphore(key=key, value=limit, expires_at=now + duration, created_at=now, updated_at=now)],
            ignore_conflicts=True,
        )
        row = lock(Semaphore.objects.filter(key=key)).first()
    taken = min(max(row.value, 0), count)
    if taken:
        Semaphore.objects.filter(pk=row.pk).update(
            value=F("value") - taken, expires_at=expiry_after_change(row.expires_at, now, duration), updated_at=now
        )
    return taken


def acquire_over_limit(key, limit, duration, now):
    """Take one slot of ``key``, free or not: without a free one, the value goes below zero (a debt).

    Call inside a transaction. Giving slots back never raises the value above the limit, so the
    debt is paid by the next slots given back, which no blocked job gets meanwhile.
    """
    if not acquire(key, limit, duration, 1, now):
        Semaphore.objects.filter(key=key).update(
            value=F("value") - 1, expires_at=pushed_back_expiry(now, duration), updated_at=now
        )


def delete_expired(now, batch_size):
    """Delete semaphores untouched past their expiry: their slots are all free again."""
    expired = list(Semaphore.objects.filter(expires_at__lt=now).values_list("pk", flat=True)[:batch_size])
    if expired:
        Semaphore.objects.filter(pk__in=expired, expires_at__lt=now).delete()
    return len(expired)
