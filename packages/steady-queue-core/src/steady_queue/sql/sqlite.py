"""SQLite: no row locks and no data-modifying CTEs, but RETURNING and one writer at a time.

Callers run these inside write_transaction() (BEGIN IMMEDIATE), which is what serializes claims.
"""

import json

from steady_queue import queue_patterns

JOB = "steady_queue_job"
READY = "steady_queue_ready_execution"
CLAIMED = "steady_queue_claimed_execution"
PAUSE = "steady_queue_pause"
SCHEDULED = "steady_queue_scheduled_execution"

# Whether insert_jobs() and finish() are each one statement: atomic without a transaction around them.
WRITES_ARE_SINGLE_STATEMENTS = False


def queue_condition(pattern):
    """SQL and parameters selecting the ready rows of one queue pattern."""
    kind, text = queue_patterns.parse(pattern)
    if kind == "all":
        return "", []
    if kind == "prefix":
        # substr, not LIKE: SQLite's LIKE ignores case.
        return "substr(r.queue_name, 1, %s) = %s AND", [len(text), text]
    return "r.queue_name = %s AND", [text]


def claim(using, pattern, limit, process_id, paused):
    """Claim up to ``limit`` ready jobs of one queue pattern, in one IMMEDIATE transaction.

    ``paused`` is not used: the pause table is read inside the transaction instead, which costs
    nothing here and honours a pause committed while this claim waited for the write lock (a
    list read before the wait would miss it and let a task enqueued after the pause through).
    """
    from django.db import connections
    from django.utils import timezone

    from steady_queue.db import write_transaction
    from steady_queue.models import Job

    connection = connections[using]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with write_transaction(using), connection.cursor() as cursor:
        ids = _claim_ids(cursor, pattern, limit, process_id, now)
        return list(Job.objects.using(using).filter(pk__in=ids).order_by("-priority", "pk")) if ids else []


def _claim_ids(cursor, pattern, limit, process_id, now):
    condition, params = queue_condition(pattern)
    cursor.execute(
        f"""
        DELETE FROM {READY} WHERE job_id IN (
            SELECT job_id FROM {READY} r
            WHERE {condition} r.queue_name NOT IN (SELECT queue_name FROM {PAUSE})
            ORDER BY priority DESC, job_id
            LIMIT %s
        ) RETURNING job_id
        """,
        [*params, limit],
    )
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    cursor.executemany(
        f"INSERT INTO {CLAIMED} (job_id, process_id, created_at) VALUES (%s, %s, %s)",
        [(job_id, process_id, now) for job_id in ids],
    )
    return ids


def finish(connection, process_id, worker_name, outcomes, preserve):
    """Record successful outcomes whose claim is still this process's; return their job ids.

    The caller provides the write transaction.
    """
    with connection.cursor() as cursor:
        return _finish(connection, cursor, process_id, worker_name, outcomes, preserve)


def _finish(connection, cursor, process_id, worker_name, outcomes, preserve):
    adapt = connection.ops.adapt_datetimefield_value
    ids = [o.job_id for o in outcomes]
    marks = ", ".join(["%s"] * len(ids))
    cursor.execute(
        f"DELETE FROM {CLAIMED} WHERE process_id = %s AND job_id IN ({marks}) RETURNING job_id", [process_id, *ids]
    )
    done = {row[0] for row in cursor.fetchall()}
    if not done:
        return done
    if not preserve:
        cursor.execute(f"DELETE FROM {JOB} WHERE id IN ({', '.join(['%s'] * len(done))})", list(done))
        return done
    cursor.executemany(
        f"""
        UPDATE {JOB} SET
            finished_at = %s,
            started_at = COALESCE(started_at, %s),
            last_attempted_at = %s,
            worker_ids = json_insert(worker_ids, '$[#]', %s),
            return_value = %s
        WHERE id = %s
        """,
        [
            (adapt(o.finished_at), adapt(o.started_at), adapt(o.started_at), worker_name,
             None if o.return_value is None else json.dumps(o.return_value), o.job_id)
            for o in outcomes
            if o.job_id in done
        ],
    )
    return done


# SQLite allows 32,766 parameters per statement; stay well below.
INSERT_CHUNK = 500


def insert_jobs(connection, jobs, now):
    """Insert jobs of one task call-site (they share all but their arguments) and their state rows.

    Two statements per 500 jobs; the caller provides the transaction. Sets each job's id.
    """
    adapt = connection.ops.adapt_datetimefield_value
    first = jobs[0]
    due = first.scheduled_at is None or first.scheduled_at <= now
    created, scheduled = adapt(now), adapt(first.scheduled_at)
    with connection.cursor() as cursor:
        for start in range(0, len(jobs), INSERT_CHUNK):
            chunk = jobs[start : start + INSERT_CHUNK]
            rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '[]', '[]')"] * len(chunk))
            params = []
            for job in chunk:
                params += [
                    job.token, job.task_path, job.queue_name, job.priority, job.backend, json.dumps(job.arguments),
                    scheduled, created, job.max_attempts, job.retry_lost,
                ]
            cursor.execute(
                f"INSERT INTO {JOB} (token, task_path, queue_name, priority, backend, arguments, scheduled_at, "
                f"created_at, max_attempts, retry_lost, worker_ids, errors) VALUES {rows} RETURNING id",
                params,
            )
            ids = sorted(row[0] for row in cursor.fetchall())
            for job, job_id in zip(chunk, ids, strict=True):
                job.pk = job_id
                job._state.adding = False
            if due:
                values = ", ".join(["(%s, %s, %s, %s)"] * len(ids))
                state_params = [v for job_id in ids for v in (job_id, first.queue_name, first.priority, created)]
                cursor.execute(
                    f"INSERT INTO {READY} (job_id, queue_name, priority, created_at) VALUES {values}", state_params
                )
            else:
                values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(ids))
                state_params = [
                    v for job_id in ids for v in (job_id, first.queue_name, first.priority, created, scheduled)
                ]
                cursor.execute(
                    f"INSERT INTO {SCHEDULED} (job_id, queue_name, priority, created_at, scheduled_at) "
                    f"VALUES {values}",
                    state_params,
                )
