"""SQLite: no row locks and no data-modifying CTEs, but RETURNING and one writer at a time.

Callers run these inside write_transaction() (BEGIN IMMEDIATE), which is what serializes claims.
"""

import json

JOB = "steady_queue_job"
READY = "steady_queue_ready_execution"
CLAIMED = "steady_queue_claimed_execution"
PAUSE = "steady_queue_pause"

# Whether finish() is a single statement, safe to run outside a transaction.
SINGLE_STATEMENT_FINISH = False


def queue_condition(pattern):
    if pattern == "*":
        return "", []
    if pattern.endswith("*"):
        # substr, not LIKE: SQLite's LIKE ignores case.
        return "substr(r.queue_name, 1, %s) = %s AND", [len(pattern) - 1, pattern[:-1]]
    return "r.queue_name = %s AND", [pattern]


def claim(using, pattern, limit, process_id):
    """Claim up to ``limit`` ready jobs of one queue pattern, in one IMMEDIATE transaction."""
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
            WHERE {condition} NOT EXISTS (SELECT 1 FROM {PAUSE} p WHERE p.queue_name = r.queue_name)
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
