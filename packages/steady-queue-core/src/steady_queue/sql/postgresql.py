"""PostgreSQL: single-statement claims and enqueues (data-modifying CTEs), array-bound batches."""

from steady_queue import queue_patterns

JOB = "steady_queue_job"
READY = "steady_queue_ready_execution"
CLAIMED = "steady_queue_claimed_execution"
SCHEDULED = "steady_queue_scheduled_execution"

# Whether insert_jobs() and finish() are each one statement: atomic without a transaction around them.
WRITES_ARE_SINGLE_STATEMENTS = True


def claim_sql(queue_filter, job_columns):
    """The claim of one queue pattern: lock, move and read in one statement (one round trip, one commit)."""
    return f"""
        WITH picked AS (
            SELECT job_id FROM {READY} r
            -- Paused queues come as a parameter the planner can see (usually an empty array), so
            -- the plan stays an ordered walk of the index under LIMIT, whatever the table statistics.
            WHERE {queue_filter} r.queue_name <> ALL(%s::text[])
            ORDER BY priority DESC, job_id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
        ), moved AS (
            DELETE FROM {READY} r USING picked WHERE r.job_id = picked.job_id RETURNING r.job_id
        ), claimed AS (
            INSERT INTO {CLAIMED} (job_id, process_id, created_at)
            SELECT job_id, %s, statement_timestamp() FROM moved
            RETURNING job_id
        )
        SELECT {", ".join(f"j.{c}" for c in job_columns)} FROM {JOB} j JOIN claimed c ON c.job_id = j.id
        ORDER BY j.priority DESC, j.id
    """


def queue_condition(pattern):
    """SQL and parameters selecting the ready rows of one queue pattern."""
    kind, text = queue_patterns.parse(pattern)
    if kind == "all":
        return "", []
    if kind == "prefix":
        return "starts_with(r.queue_name, %s) AND", [text]
    return "r.queue_name = %s AND", [text]


def claim(using, pattern, limit, process_id, paused):
    """Claim up to ``limit`` ready jobs of one queue pattern; one statement, its own transaction."""
    from steady_queue.models import Job

    condition, params = queue_condition(pattern)
    columns = [field.column for field in Job._meta.concrete_fields]
    return list(
        Job.objects.using(using).raw(claim_sql(condition, columns), [*params, list(paused), limit, process_id])
    )


def finish(connection, process_id, worker_name, outcomes, preserve):
    """Record successful outcomes whose claim is still this process's; return their job ids."""
    with connection.cursor() as cursor:
        cursor.execute(finish_sql(preserve), finish_params(process_id, worker_name, outcomes, preserve))
        return {row[0] for row in cursor.fetchall()}


def finish_sql(preserve):
    if not preserve:
        return f"""
            WITH done AS (
                DELETE FROM {CLAIMED} WHERE process_id = %s AND job_id = ANY(%s) RETURNING job_id
            )
            DELETE FROM {JOB} WHERE id IN (SELECT job_id FROM done) RETURNING id
        """
    return f"""
        WITH done AS (
            DELETE FROM {CLAIMED} WHERE process_id = %s AND job_id = ANY(%s) RETURNING job_id
        )
        UPDATE {JOB} AS j SET
            finished_at = v.finished_at,
            started_at = COALESCE(j.started_at, v.started_at),
            last_attempted_at = v.started_at,
            worker_ids = j.worker_ids || to_jsonb(%s::text),
            return_value = v.return_value
        FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::jsonb[])
            AS v(id, started_at, finished_at, return_value)
        WHERE j.id = v.id AND j.id IN (SELECT job_id FROM done)
        RETURNING j.id
    """


def finish_params(process_id, worker_name, outcomes, preserve):
    from psycopg.types.json import Jsonb

    ids = [o.job_id for o in outcomes]
    if not preserve:
        return [process_id, ids]
    return [
        process_id,
        ids,
        worker_name,
        ids,
        [o.started_at for o in outcomes],
        [o.finished_at for o in outcomes],
        [None if o.return_value is None else Jsonb(o.return_value) for o in outcomes],
    ]


def insert_jobs(connection, jobs, now):
    """Insert jobs of one task call-site (they share all but their arguments) and their state rows.

    One statement whatever the number of jobs; sets each job's id.
    """
    from psycopg.types.json import Jsonb

    first = jobs[0]
    due = first.scheduled_at is None or first.scheduled_at <= now
    state = (
        f"INSERT INTO {READY} (job_id, queue_name, priority, created_at) SELECT id, %s, %s, %s FROM j"
        if due
        else f"INSERT INTO {SCHEDULED} (job_id, queue_name, priority, created_at, scheduled_at) "
        f"SELECT id, %s, %s, %s, %s FROM j"
    )
    sql = f"""
        WITH j AS (
            INSERT INTO {JOB} (token, task_path, queue_name, priority, backend, arguments, scheduled_at,
                               created_at, max_attempts, retry_lost, worker_ids, errors)
            SELECT t.token, %s, %s, %s, %s, a, %s, %s, %s, %s, '[]'::jsonb, '[]'::jsonb
            FROM unnest(%s::jsonb[], %s::bigint[]) WITH ORDINALITY AS t(a, token, n) ORDER BY n
            RETURNING id
        ), state AS ({state})
        SELECT id FROM j ORDER BY id
    """
    params = [
        first.task_path, first.queue_name, first.priority, first.backend, first.scheduled_at, now,
        first.max_attempts, first.retry_lost,
        [Jsonb(job.arguments) for job in jobs],
        [job.token for job in jobs],
        first.queue_name, first.priority, now,
    ]
    if not due:
        params.append(first.scheduled_at)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for job, (job_id,) in zip(jobs, cursor.fetchall(), strict=True):
            job.pk = job_id
            job._state.adding = False
