import functools
import json
import secrets

from django.db import connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone


def new_result_token():
    """A random, never zero, 63-bit number that makes a job's result id unique for ever (see Job.token)."""
    return new_result_tokens(1)[0]


def new_result_tokens(count):
    """``count`` new_result_token()s from one read of the system's randomness.

    A read per token (secrets.randbits) was an eighth of a bulk enqueue's time.
    """
    data = secrets.token_bytes(8 * count)
    return [(int.from_bytes(data[at : at + 8]) >> 1) or 1 for at in range(0, 8 * count, 8)]


class Job(models.Model):
    """One enqueued call of a task. Its state is whichever execution row points at it.

    Ready, scheduled, blocked, claimed and failed work each have their own table; a job with none of
    them and a ``finished_at`` has finished. The hot queries only read the narrow execution tables.
    """

    # Row ids can come back: a transaction that rolls back returns its ids to SQLite, and a flushed
    # or restored table restarts its sequence. The result id joins the row id with this random
    # token, so an id that named one task never names another. Rows written before the token
    # existed keep 0 and their old, plain ids.
    token = models.BigIntegerField(default=new_result_token, editable=False)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=100)
    priority = models.SmallIntegerField(default=0)
    backend = models.CharField(max_length=100, default="default")
    arguments = models.JSONField(default=dict)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # From @limits_concurrency, fixed at enqueue so every later step needs no import of the task.
    # NULL means "no limit" (an empty key is refused at enqueue, so "" never stands for it).
    concurrency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    concurrency_limit = models.PositiveSmallIntegerField(null=True, blank=True)
    concurrency_duration = models.DurationField(null=True, blank=True)
    # From @unique: the key this job claimed at enqueue (steady_queue_unique_key), NULL for other tasks.
    unique_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Task options fixed at enqueue, so that a supervisor failing the tasks of a dead process can
    # decide about retries without importing them.
    max_attempts = models.PositiveSmallIntegerField(default=1, db_default=1)
    retry_lost = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the task was cancelled before it ran; finished_at is set with it.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # A history of attempts, for TaskResult: filled by the worker when an attempt ends.
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker_ids = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    return_value = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "steady_queue_job"
        indexes = [
            # Clearing finished jobs in batches, oldest first.
            models.Index(fields=["finished_at"], name="sq_job_finished"),
            models.Index(fields=["queue_name", "finished_at"], name="sq_job_queue_finished"),
            # The console's lists and counts filtered by task: with the id in the index, PostgreSQL
            # merge-joins it with a state table's primary key without reading the jobs themselves.
            models.Index(fields=["task_path", "id"], name="sq_job_task_path_id"),
            # The console's cancelled tasks, counted on every list page: few and scattered among the
            # finished ones, so without it "cancelled_at IS NOT NULL" reads the whole table. Plain, not
            # partial: MySQL and MariaDB have no partial index, and every database range-scans NULLs out.
            models.Index(fields=["cancelled_at"], name="sq_job_cancelled"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=-100, priority__lte=100), name="sq_job_priority_range"
            ),
        ]

    def __str__(self):
        return f"{self.task_path} #{self.pk}"


def new_job(**values):
    """``Job(**values)`` (attribute names), built as Django builds a model it reads: positionally.

    Enqueueing builds a Job per task, and Django's keyword construction looks every field up in the
    keywords and asks each missing one for its default through several calls: 11.6 µs a job, where
    this takes 8.6 (a bulk enqueue on PostgreSQL went 6% faster). It sets the same values (defaults
    included, fresh for each job) and sends the same pre_init and post_init signals.
    """
    args = [values.pop(name) if name in values else default() for name, default in _fields_and_defaults()]
    if values:
        raise TypeError(f"Job has no field(s) {', '.join(sorted(values))}")
    return Job(*args)


@functools.cache
def _fields_and_defaults():
    return [(field.attname, field.get_default) for field in Job._meta.concrete_fields]


def jobs_from_rows(using, attnames, rows):
    """Job instances from rows a statement of steady_queue.sql read (values in ``attnames`` order).

    Values pass through the fields' converters, as the ORM's own reads do (JSON text, dates).
    """
    connection = connections[using]
    fields = [Job._meta.get_field(name) for name in attnames]
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(Job._meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if isinstance(field, models.JSONField) and field.decoder is None:
            found = [_json_value if f == field.from_db_value else f for f in found]
        if found:
            converters.append((index, column, found))
    # Model.__init__ only when something listens to it (see loaded_job()).
    build = Job.from_db if pre_init.has_listeners(Job) or post_init.has_listeners(Job) else loaded_job
    jobs = []
    for row in rows:
        values = list(row)
        for index, column, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        jobs.append(build(using, attnames, values))
    return jobs


# A claimed job's error and worker lists are mostly empty, and its return value null: the JSON
# decoder's own work (a regular expression on each side) was two thirds of building a Job.
_EMPTY_JSON = {"[]": list, "{}": dict}


def _json_value(value, expression, connection):
    """JSONField.from_db_value for a whole column of our own (no key transform, no decoder class)."""
    if not isinstance(value, str):  # None, or already decoded by the driver
        return value
    empty = _EMPTY_JSON.get(value)
    if empty is not None:
        return empty()
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # as Django's JSONField does with text that is not JSON


def loaded_job(using, attnames, values):
    """What ``Job.from_db()`` returns, built without ``Model.__init__``.

    A worker builds a Job for each task it claims; __init__ took 6.7 of its 8 µs a job (7% of a
    worker's CPU at 32 threads), setting each attribute and sending pre_init and post_init. The
    attributes go into the instance's dictionary, where __init__ puts them too (no field of Job
    has a descriptor that sets), and jobs_from_rows() calls Job.from_db() instead when the init
    signals have receivers.
    """
    job = Job.__new__(Job)
    job.__dict__.update(zip(attnames, values, strict=True))
    state = job._state = ModelState()
    state.adding = False
    state.db = using
    return job


def result_id(job):
    """The id of a job's TaskResult: its row id and token, "42-1f0c9a7be3d25586"."""
    return f"{job.pk}-{job.token:016x}" if job.token else str(job.pk)


def parse_result_id(value):
    """The (row id, token) a result id names, or None if it cannot be one."""
    if not isinstance(value, str):
        return None
    pk, separator, token = value.partition("-")
    if not pk.isdigit() or (separator and (len(token) != 16 or token.strip("0123456789abcdef"))):
        return None
    return int(pk), int(token, 16) if separator else 0


def job_pk(value):
    """The row id a result id names (whether or not the job exists), or None."""
    parsed = parse_result_id(value)
    return parsed and parsed[0]


def existing_job_ids(ids):
    """The row ids of the jobs named by result ids (strings) or row ids (integers) that exist."""
    wanted = {}
    for value in ids:
        parsed = (value, None) if isinstance(value, int) else parse_result_id(value)
        if parsed is not None:
            wanted[parsed[0]] = parsed[1]
    found = Job.objects.filter(pk__in=wanted).values_list("pk", "token")
    return sorted(pk for pk, token in found if wanted[pk] in (None, token))


def clear_finished(finished_before, *, batch_size=500):
    """Delete successfully finished jobs older than ``finished_before``, in batches. Returns the count."""
    total = 0
    while deleted := clear_finished_batch(finished_before, batch_size=batch_size):
        total += deleted
    return total


def clear_finished_batch(finished_before, *, batch_size=500):
    """Delete one batch of the jobs clear_finished() deletes; return how many (fewer: none are left)."""
    from steady_queue.db import retry_on_lock

    from .failed_execution import FailedExecution

    # Failed jobs also have finished_at (as Django's TaskResult wants); they stay until discarded.
    finished = Job.objects.filter(finished_at__lt=finished_before).exclude(
        models.Exists(FailedExecution.objects.filter(job_id=models.OuterRef("pk")))
    )

    @retry_on_lock
    def batch():
        ids = list(finished.values_list("pk", flat=True)[:batch_size])
        if ids:
            Job.objects.filter(pk__in=ids).delete()
        return len(ids)

    return batch()
