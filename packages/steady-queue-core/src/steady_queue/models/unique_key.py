"""The keys of unique tasks (``steady_queue.uniqueness``): one row per key held, the key its primary key.

Two enqueues of one key cannot both insert its row: the primary key decides, inside the transaction
that inserts the job, on every database (no partial index, so MariaDB enforces it as well as
PostgreSQL and SQLite). A row is held (``expires_at`` NULL) from enqueue until its task starts or
ends for good, then deleted, or kept until ``expires_at`` when the task has a window.

The row points at its job by id and result id, without a foreign key: a window outlives a job
cleared meanwhile (or deleted at once, with ``preserve_finished_jobs`` off), and deleting jobs,
which happens to every finished job, costs no look-up in this table. A row whose release was
missed (its job was deleted while it held the key, or ended by a path that does not release) is
recognised from the job's own state by the next enqueue of the key, and by the dispatcher's purge.
"""

import logging
import secrets
from datetime import UTC, datetime

from django.db import DatabaseError, connections, models
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, Value
from django.utils import timezone

from .job import Job, parse_result_id, result_id
from .tables import dialect

logger = logging.getLogger("steady_queue.uniqueness")

# A hold that is over whatever the time: its task is gone.
RELEASED = datetime.min.replace(tzinfo=UTC)

# How many times one enqueue tries again for keys that changed hands while it looked (released
# between its insert and its read, or held by a task that had ended). Each round settles every key
# that did not move meanwhile, so more than two is already a rarity.
CLAIM_ROUNDS = 20


class UniqueKey(models.Model):
    """A key of a unique task, held by one task (its job) from enqueue until it starts or ends."""

    key = models.CharField(max_length=255, primary_key=True)
    # The holder: its row id (NULL only inside the enqueue that is inserting it) and its result id,
    # which tells a later job that reuses the row id apart.
    job_id = models.BigIntegerField(null=True, blank=True)
    result_id = models.CharField(max_length=40)
    # Held until the task ends for good (True), or until it starts (False).
    until_finished = models.BooleanField(default=False)
    # The window: how much longer the key is held after that moment.
    hold_for = models.DurationField(null=True, blank=True)
    # NULL while held until an event; the end of the window once it is known.
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_unique_key"
        indexes = [models.Index(fields=["expires_at"], name="sq_unique_key_expires")]

    def __str__(self):
        return f"{self.key} (task {self.result_id})"


def claim(candidates, now, using):
    """Take the keys of ``candidates`` (unsaved rows) that no task holds. Inside the enqueue's transaction.

    Returns ``(won, holders)``: the rows inserted (their ``job_id`` and ``result_id`` to be set by
    ``assign()`` once the jobs exist), and for each key another task holds, ``(row, job)`` with the
    holder's Job (loaded as ``results.fetch_result`` loads it), or None once its row is gone.

    A conflicting insert is ignored, not an error (it waits, on PostgreSQL and MariaDB, for a
    transaction inserting the same key to end). A row found expired, or held by a task that has
    ended or is gone, is deleted (only if it still names that holder) and the key tried again.
    Keys are inserted in order, so two enqueues of several keys cannot deadlock on each other.
    Three statements for keys that are free or held (insert, read, read the holders), two more for
    a key to take over.
    """
    marker = f"claiming-{secrets.token_hex(8)}"
    rows = UniqueKey.objects.using(using)
    wanted = {row.key: row for row in candidates}
    won, holders = [], {}
    for _ in range(CLAIM_ROUNDS):
        keys = sorted(wanted)
        for row in wanted.values():
            row.result_id, row.created_at = marker, now
        rows.bulk_create([wanted[key] for key in keys], ignore_conflicts=True)
        found = {row.key: row for row in _read(rows.filter(key__in=keys))}
        jobs = _holder_jobs([row for row in found.values() if row.result_id != marker], using)
        again, stale = {}, []
        for key in keys:
            row = found.get(key)
            if row is None:
                # Released between the insert and the read: try again.
                again[key] = wanted[key]
            elif row.result_id == marker:
                won.append(row)
            else:
                job = jobs.get(row.result_id)
                ends = held_until(row, job)
                if ends is None or ends > now:
                    holders[key] = (row, job)
                else:
                    # Expired, or its task has ended (or is gone) and the release was missed: replace it.
                    stale.append(row)
                    again[key] = wanted[key]
        _delete_exactly(rows, stale)
        if not again:
            return won, holders
        wanted = again
    raise RuntimeError(f"The unique keys {sorted(wanted)} kept changing hands for {CLAIM_ROUNDS} rounds.")


def assign(won, jobs_by_key, using):
    """Record the inserted jobs as the holders of the keys ``claim()`` won.

    In the database's own SQL where it has it: the ORM's bulk_update builds a CASE per row and
    field, which took more time than the rest of a large enqueue.
    """
    for row in won:
        job = jobs_by_key[row.key]
        row.job_id, row.result_id = job.pk, result_id(job)
    if not won:
        return
    sql = dialect(using)
    if sql.assigns_unique_keys_in_sql:
        sql.assign_unique_keys(won)
        return
    for row in won:
        UniqueKey.objects.using(using).filter(key=row.key).update(job_id=row.job_id, result_id=row.result_id)


def held_until(row, job):
    """When a row's hold ends, judged from its job: None while it is held with no end known yet.

    The time may be past: the hold is over. ``job`` is the holder, None when it no longer exists,
    loaded with its claim (``select_related("claimedexecution")``).
    """
    if row.expires_at is not None:
        return row.expires_at
    if job is None:
        return RELEASED
    if row.until_finished:
        moment = job.finished_at
    else:
        claimed = getattr(job, "claimedexecution", None)
        moment = job.started_at or (claimed.created_at if claimed is not None else None)
        if moment is None and job.finished_at is not None:
            # Ended without starting (cancelled): there is no start to count a window from.
            return job.finished_at
    if moment is None:
        return None
    return moment + row.hold_for if row.hold_for else moment


def release_started(jobs, now=None):
    """Release the keys held until their tasks start, for jobs a worker has just claimed.

    Called after the claim commits, for claimed jobs with a ``unique_key`` only (none: no query).
    One statement on PostgreSQL. Never raises: the claimed jobs must reach the worker whatever
    happens here, and a key left held is released when its task ends, or found released from the
    job's state by the next enqueue of the key.
    """
    if not any(job.unique_key for job in jobs):
        return jobs
    from steady_queue.db import queue_database, retry_on_lock, write_transaction

    @retry_on_lock
    def release():
        with write_transaction(using):
            _release(jobs, now or timezone.now(), using, ended=False)

    using = queue_database()
    try:
        release()
    except DatabaseError as error:
        if connections[using].in_atomic_block:
            raise
        logger.warning(
            "Could not release the unique keys of started tasks %s (%s); they are released when the tasks end",
            ", ".join(result_id(job) for job in jobs if job.unique_key), error,
        )
    return jobs


def release_unique_keys(jobs, now):
    """The jobs ended for good (succeeded, failed after their last attempt, cancelled): release their keys.

    Call it in the transaction that records the end, with the Job instances (``pk``, ``token`` and
    ``unique_key`` loaded); jobs without a unique key cost nothing, and none costs no query. A key
    held until the task finishes is deleted, or kept for its window from ``now``; a key held until
    the task starts and still held (the task never started) is deleted.
    """
    from steady_queue.db import queue_database

    if any(job.unique_key for job in jobs):
        _release(jobs, now, queue_database(), ended=True)


def _release(jobs, now, using, *, ended):
    held = sorted({(job.unique_key, result_id(job)) for job in jobs if job.unique_key})
    keys, ids = [key for key, _ in held], [rid for _, rid in held]
    sql = dialect(using)
    if sql.releases_unique_keys_in_sql:
        sql.release_unique_keys(keys, ids, now, ended)
        return
    rows = UniqueKey.objects.using(using).filter(key__in=keys, result_id__in=ids, expires_at__isnull=True)
    if not ended:
        rows = rows.filter(until_finished=False)
    extend = Q(hold_for__isnull=False) & (Q(until_finished=True) if ended else Q())
    stamp = DateTimeField()
    window_end = ExpressionWrapper(Value(now, output_field=stamp) + F("hold_for"), output_field=stamp)
    rows.filter(extend).update(expires_at=window_end)
    rows.exclude(extend).delete()


def purge(now, batch_size=500):
    """The dispatcher's pass: delete keys whose window has passed, and release keys still held by
    tasks that ended without releasing them (a batch of those per pass). Returns the number of rows.
    """
    from steady_queue.db import queue_database, retry_on_lock, write_transaction

    @retry_on_lock
    def expired():
        keys = list(UniqueKey.objects.filter(expires_at__lte=now).values_list("key", flat=True)[:batch_size])
        if keys:
            UniqueKey.objects.filter(key__in=keys, expires_at__lte=now).delete()
        return len(keys)

    @retry_on_lock
    def ended():
        # Read first, write only when there is something to release: every write is guarded by the
        # holder's result id, so a row that changed hands meanwhile is left alone.
        unfinished = Job.objects.filter(pk=OuterRef("job_id"), finished_at__isnull=True)
        rows = list(
            UniqueKey.objects.filter(expires_at__isnull=True, job_id__isnull=False)
            .exclude(Exists(unfinished))
            .order_by("key")[:batch_size]
        )
        jobs = _holder_jobs(rows, queue_database())
        ends = {row.key: held_until(row, jobs.get(row.result_id)) for row in rows}
        over = [row for row in rows if ends[row.key] is not None and ends[row.key] <= now]
        later = [row for row in rows if ends[row.key] is not None and ends[row.key] > now]
        if over or later:
            with write_transaction():
                for row in later:
                    UniqueKey.objects.filter(key=row.key, result_id=row.result_id, expires_at__isnull=True).update(
                        expires_at=ends[row.key]
                    )
                _delete_exactly(UniqueKey.objects.filter(expires_at__isnull=True), over)
        return len(over)

    total = 0
    while deleted := expired():
        total += deleted
        if deleted < batch_size:
            break
    return total + ended()


def _read(queryset):
    # Where plain reads see the snapshot of the transaction's first read (MySQL), a locking read
    # sees the rows committed since, as the next round of claim() must. PostgreSQL (each statement
    # sees what committed before it) and SQLite (one writer at a time) need no lock here.
    if not dialect(queryset.db).snapshot_reads:
        return list(queryset)
    return list(queryset.select_for_update())


def _holder_jobs(rows, using):
    """The holders' Jobs by result id, with their claim and failed rows; a result id not found is absent."""
    if not rows:
        return {}
    pks = [parsed[0] for parsed in map(parse_result_id, (row.result_id for row in rows)) if parsed]
    found = Job.objects.using(using).select_related("claimedexecution__process", "failedexecution").filter(pk__in=pks)
    return {result_id(job): job for job in found}


def _delete_exactly(rows, stale):
    """Delete these rows if they still belong to the same holder (another enqueue may have replaced them)."""
    if stale:
        condition = Q()
        for row in stale:
            condition |= Q(key=row.key, result_id=row.result_id)
        rows.filter(condition).delete()
