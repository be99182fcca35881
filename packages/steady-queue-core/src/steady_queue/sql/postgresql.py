"""PostgreSQL: single-statement claims, enqueues and finishes (data-modifying CTEs), array-bound batches."""

import json
import sys
import weakref
from functools import cache

from .base import INSERTED_JOB_COLUMNS, Dialect
from .postgresql_claims import PostgreSQLClaims

# SQLSTATEs of a transaction another one got in the way of: deadlock_detected,
# serialization_failure, lock_not_available. PostgreSQL has rolled the transaction back.
LOCK_STATES = {"40P01", "40001", "55P03"}

# The statements each connection (Django's, per thread) has run: run again, an enqueue is prepared.
_statements_run = weakref.WeakKeyDictionary()


def ran_before(connection, sql):
    """Whether ``connection`` ran ``sql`` before; it is remembered as run from now on."""
    run = _statements_run.setdefault(connection, set())
    if sql in run:
        return True
    run.add(sql)
    return False


def id_array(ids):
    """Ids as the text of an array, for ``%s::bigint[]``.

    psycopg dumps a list element by element in Python: the lists of the finisher's one-task
    statement took 80 µs to dump (a fifth of a one-thread worker's CPU per task), a string 10.
    """
    return "{" + ",".join([str(int(i)) for i in ids]) + "}"


@cache
def cursor_classes():
    """Django's server-binding psycopg cursor, and one that prepares what it runs (imported late:
    a project without psycopg imports this module too)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        """Prepares each statement it runs on the server, once per connection (psycopg keeps them)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return ServerBindingCursor, PreparingCursor


class PostgreSQL(PostgreSQLClaims, Dialect):
    wake_ups = "notify"

    inserts_jobs_in_sql = True
    claims_in_sql = True
    finishes_in_sql = True
    hands_over_slots_in_sql = True
    assigns_unique_keys_in_sql = True
    releases_unique_keys_in_sql = True
    deletes_with_returning = True
    single_statement_writes = True

    def cursor(self, prepare=False):
        """A cursor that sends the parameters apart from the SQL (server-side binding).

        Django's default psycopg cursor quotes every parameter into the statement's text, an array
        element by element, in Python: for the finisher's and the claim's arrays that took more of
        the worker's time than the statements themselves. With ``prepare`` (the workers' statements,
        run thousands of times on one connection) and STEADY_QUEUE["prepared_statements"], each
        statement is also prepared the first time a connection runs it: planning the finisher's
        statement took PostgreSQL longer than running it. Otherwise each is the extended protocol's
        unnamed statement, which any PgBouncer serves, and which costs no extra round trip on a
        connection that runs it once (an enqueue from a web request: insert_jobs prepares from the
        second run on).
        """
        connection = self.connection
        connection.ensure_connection()
        raw = connection.connection
        prepare = prepare and self.prepared_statements
        if prepare and raw.prepare_threshold is None:
            # Django's default (None) turns psycopg's prepared statements off altogether; a
            # threshold never reached turns them on for the statements that ask (below) alone.
            raw.prepare_threshold = sys.maxsize
        cursor_class = cursor_classes()[1 if prepare else 0]
        # Through Django's cursor wrapper: its error translation and execute_wrapper() hooks apply.
        return connection._prepare_cursor(cursor_class(raw))

    def refresh_plans(self):
        # A prepared statement's generic plan is made once from the tables' size then, and kept
        # until an ANALYZE: planned on empty tables, a claim read the whole jobs table for the
        # rows it claimed (10 to 25 ms each with 20,000 waiting). DISCARD PLANS keeps the
        # statements prepared (psycopg's cache stays right) and plans each again at its next run.
        if self.prepared_statements:
            with self.cursor() as cursor:
                cursor.execute("DISCARD PLANS")

    @staticmethod
    def is_lock_error(error):
        return getattr(PostgreSQL.driver_error(error), "sqlstate", None) in LOCK_STATES

    def starts_with(self, column, prefix):
        return f"starts_with({column}, %s)", [prefix]

    def finish(self, process_id, worker_name, outcomes, preserve):
        """Record successful outcomes whose claim is still this process's; return their job ids."""
        return self.finish_and_start(process_id, worker_name, outcomes, [], None, preserve)[0]

    def finish_and_start(self, process_id, worker_name, outcomes, start_ids, now, preserve, slot_keys=()):
        """Record outcomes and start markers of claims still this process's, and lock semaphores: one statement.

        Returns the job ids of (finished, started) and {key: (value, expires_at)} of the semaphores of
        ``slot_keys`` that exist, locked in key order (call inside a transaction then). The parts
        touch different rows (a task's start was recorded before it ran), which one statement may
        change together.
        """
        c, s = self.tables.claimed, self.tables.semaphore
        ctes, params, selects = [], [], []
        # The claims are found by their primary key, and their process only compared ("+ 0" keeps
        # the planner off the process's index): prepared, the statement's generic plan read the
        # process's index, every entry the process had left since the last vacuum (669 to 6,042
        # in a drain) to find eight rows. The jobs below, by primary key from an array (see postgresql_claims).
        if start_ids:
            ctes.append(
                f"started AS (UPDATE {c} SET {c.started_at} = %s WHERE {c.job_id} = ANY(%s::bigint[]) "
                f"AND {c.process_id} + 0 = %s RETURNING {c.job_id} AS started_id)"
            )
            params += [now, id_array(start_ids), process_id]
            selects.append("SELECT 's', started_id, NULL, NULL::int, NULL::timestamptz FROM started")
        if outcomes:
            finish_ctes, finish_params = self._finish_ctes(process_id, worker_name, outcomes, preserve)
            ctes += finish_ctes
            params += finish_params
            selects.append("SELECT 'f', finished_id, NULL, NULL::int, NULL::timestamptz FROM finished")
        if slot_keys:
            # Locked in key order, as every other transaction locks semaphores (see semaphore.lock_all).
            ctes.append(
                f"held AS (SELECT {s.key} AS held_key, {s.value} AS held_value, {s.expires_at} AS held_expiry "
                f"FROM {s} WHERE {s.key} = ANY(%s) ORDER BY {s.key} FOR UPDATE)"
            )
            params.append(list(slot_keys))
            selects.append("SELECT 'h', NULL::bigint, held_key, held_value, held_expiry FROM held")
        if not ctes:
            return set(), set(), {}
        with self.cursor(prepare=True) as cursor:
            cursor.execute(f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}", params)
            rows = cursor.fetchall()
        finished = {job_id for kind, job_id, *_ in rows if kind == "f"}
        started = {job_id for kind, job_id, *_ in rows if kind == "s"}
        held = {key: (value, expiry) for kind, _, key, value, expiry in rows if kind == "h"}
        return finished, started, held

    def _finish_ctes(self, process_id, worker_name, outcomes, preserve):
        j, c = self.tables.job, self.tables.claimed
        ids = id_array([o.job_id for o in outcomes])
        done = (
            f"done AS (DELETE FROM {c} WHERE {c.job_id} = ANY(%s::bigint[]) AND {c.process_id} + 0 = %s "
            f"RETURNING {c.job_id} AS done_id)"
        )
        if not preserve:
            finished = (
                f"finished AS (DELETE FROM {j} WHERE {j.id} = ANY(ARRAY(SELECT done_id FROM done)) "
                f"RETURNING {j.id} AS finished_id)"
            )
            return [done, finished], [ids, process_id]
        # The outcomes as one JSON document, dumped by one json.dumps() (see id_array()); a JSON null
        # becomes SQL NULL in jsonb_to_recordset().
        document = json.dumps([
            {"outcome_id": o.job_id, "began": o.started_at.isoformat(), "ended": o.finished_at.isoformat(),
             "returned": o.return_value}
            for o in outcomes
        ])
        finished = f"""finished AS (
            UPDATE {j} SET
                {j.finished_at} = v.ended,
                {j.started_at} = COALESCE({j}.{j.started_at}, v.began),
                {j.last_attempted_at} = v.began,
                {j.worker_ids} = {j}.{j.worker_ids} || to_jsonb(%s::text),
                {j.return_value} = v.returned
            FROM jsonb_to_recordset(%s::jsonb)
                AS v(outcome_id bigint, began timestamptz, ended timestamptz, returned jsonb)
            WHERE {j}.{j.id} = v.outcome_id AND {j}.{j.id} = ANY(ARRAY(SELECT done_id FROM done))
            RETURNING {j}.{j.id} AS finished_id
        )"""
        return [done, finished], [ids, process_id, worker_name, document]

    def mark_started(self, process_id, job_ids, now):
        return self.finish_and_start(process_id, None, [], job_ids, now, True)[1]

    def insert_jobs(self, jobs, now, cursor=None):
        """Insert jobs of one task call-site (they share all but their arguments) and their state rows.

        One statement whatever the number of jobs, so no transaction to begin (``cursor`` is always
        None here: see enqueue_transaction); sets each job's id.
        """
        j, r, s = self.tables.job, self.tables.ready, self.tables.scheduled
        first = jobs[0]
        due = first.scheduled_at is None or first.scheduled_at <= now
        if due:
            state = (
                f"INSERT INTO {r} ({r.job_id}, {r.queue_name}, {r.priority}, {r.created_at}) "
                f"SELECT new_id, %s, %s, %s FROM inserted"
            )
        else:
            state = (
                f"INSERT INTO {s} ({s.job_id}, {s.queue_name}, {s.priority}, {s.created_at}, {s.scheduled_at}) "
                f"SELECT new_id, %s, %s, %s, %s FROM inserted"
            )
        sql = f"""
            WITH inserted AS (
                INSERT INTO {j} ({j.columns(INSERTED_JOB_COLUMNS)})
                SELECT t.tok, %s, %s, %s, %s, t.args, %s, %s, %s, %s, '[]'::jsonb, '[]'::jsonb
                FROM ROWS FROM (jsonb_array_elements(%s::jsonb), unnest(%s::bigint[]))
                    WITH ORDINALITY AS t(args, tok, n)
                ORDER BY n
                RETURNING {j.id} AS new_id
            ), state AS ({state})
            SELECT new_id FROM inserted ORDER BY new_id
        """
        params = [
            first.task_path, first.queue_name, first.priority, first.backend, first.scheduled_at, now,
            first.max_attempts, first.retry_lost,
            # The arguments as one JSON document and the tokens as array text: dumped in one call
            # each, where lists cost psycopg a dump per element (see id_array()).
            json.dumps([job.arguments for job in jobs]),
            id_array([job.token for job in jobs]),
            first.queue_name, first.priority, now,
        ]
        if not due:
            params.append(first.scheduled_at)
        # Prepared from its second run on a connection: a web request's connection that enqueues
        # once pays no extra round trip, and one that enqueues again stops paying for the plan,
        # about a quarter of an enqueue (measured: docs/configuration.rst, prepared_statements).
        # Not while Django logs queries: it would log a prepared statement as its raw text and
        # parameters, where DEBUG pages and tools show the statement with its values.
        connection = self.connection
        prepare = not connection.queries_logged and ran_before(connection, sql)
        with self.cursor(prepare=prepare) as cursor:
            cursor.execute(sql, params)
            for job, (job_id,) in zip(jobs, cursor.fetchall(), strict=True):
                job.pk = job_id
                job._state.adding = False

    def assign_unique_keys(self, rows):
        u = self.tables.unique_key
        with self.cursor() as cursor:
            cursor.execute(
                f"UPDATE {u} SET {u.job_id} = v.holder, {u.result_id} = v.rid "
                f"FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS v(k, holder, rid) WHERE {u}.{u.key} = v.k",
                [[row.key for row in rows], [row.job_id for row in rows], [row.result_id for row in rows]],
            )

    def release_unique_keys(self, keys, result_ids, now, ended):
        """Release the keys these holders hold: delete them, or start their window (see models.unique_key)."""
        u = self.tables.unique_key
        # One statement: the rows it deletes and the rows it updates are disjoint.
        scope = "TRUE" if ended else f"NOT {u.until_finished}"
        extend = f"{u.hold_for} IS NOT NULL" + (f" AND {u.until_finished}" if ended else "")
        mine = f"{u.key} = ANY(%s) AND {u.result_id} = ANY(%s) AND {u.expires_at} IS NULL AND {scope}"
        with self.cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {u} WHERE {mine} AND NOT ({extend})) "
                f"UPDATE {u} SET {u.expires_at} = %s + {u.hold_for} WHERE {mine} AND {extend}",
                [keys, result_ids, now, keys, result_ids],
            )

    def hand_over_slots(self, hand_overs, now):
        """Move up to ``slots`` blocked jobs of each key to ready; leave each semaphore at ``free`` less those.

        One statement for all the keys (their semaphores locked by the caller, admission.release_slots).
        An expiry that did not change is written back as it was: the update stays HOT.
        """
        s, b, r = self.tables.semaphore, self.tables.blocked, self.tables.ready
        sql = f"""
            WITH grants AS (
                SELECT * FROM unnest(%s::text[], %s::int[], %s::int[], %s::timestamptz[])
                    AS g(slot_key, slots, free, expiry)
            ), picked AS (
                SELECT w.* FROM grants CROSS JOIN LATERAL (
                    SELECT {b.job_id} AS picked_id FROM {b}
                    WHERE {b.concurrency_key} = grants.slot_key
                    ORDER BY {b.priority} DESC, {b.job_id}
                    LIMIT grants.slots
                    FOR UPDATE SKIP LOCKED
                ) w WHERE grants.slots > 0
            ), moved AS (
                DELETE FROM {b} WHERE {b}.{b.job_id} = ANY(ARRAY(SELECT picked_id FROM picked))
                RETURNING {b}.{b.job_id} AS moved_id, {b}.{b.queue_name} AS moved_queue,
                    {b}.{b.priority} AS moved_priority, {b}.{b.concurrency_key} AS moved_key
            ), readied AS (
                INSERT INTO {r} ({r.job_id}, {r.queue_name}, {r.priority}, {r.created_at})
                SELECT moved_id, moved_queue, moved_priority, %s FROM moved
            ), taken AS (
                SELECT moved_key, count(*) AS jobs FROM moved GROUP BY moved_key
            )
            UPDATE {s} SET {s.value} = grants.free - COALESCE(taken.jobs, 0), {s.expires_at} = grants.expiry,
                {s.updated_at} = %s
            FROM grants LEFT JOIN taken ON taken.moved_key = grants.slot_key
            WHERE {s}.{s.key} = grants.slot_key
        """
        params = [
            [h.key for h in hand_overs], [h.slots for h in hand_overs], [h.free for h in hand_overs],
            [h.expires_at for h in hand_overs], now, now,
        ]
        with self.cursor(prepare=True) as cursor:
            cursor.execute(sql, params)
