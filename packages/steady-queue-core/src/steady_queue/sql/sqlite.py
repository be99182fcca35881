"""SQLite: no row locks and no data-modifying CTEs, but RETURNING and one writer at a time.

Callers run the writes here inside write_transaction() (the write queue, then BEGIN IMMEDIATE),
which is what serializes claims.
"""

import json
import logging
import re
import sqlite3
from contextlib import contextmanager
from functools import lru_cache

from django.db import transaction

from .base import INSERTED_JOB_COLUMNS, Dialect
from .write_queue import write_queue

logger = logging.getLogger("steady_queue")

# SQLite allows 32,766 parameters per statement; stay well below.
INSERT_CHUNK = 500
# Bytes of the journal a runtime connection keeps between transactions (see prepare_runtime_connection).
PERSISTED_JOURNAL_LIMIT = 4 * 1024 * 1024
# Keys whose blocked jobs one statement picks (a compound SELECT; SQLite allows 500 terms).
PICK_CHUNK = 200


WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# Django's "format" placeholders, as its SQLite cursor finds them (a literal "%s" is written "%%s").
FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")


@lru_cache(maxsize=512)
def driver_sql(sql):
    """A statement written with Django's placeholders (%s) in the driver's own (?).

    Remembered by text: an enqueue's statements come back the same (Dialect.statement); a worker's
    vary with how many ids they carry, and a miss costs what Django's cursor pays every time.
    """
    return FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


class DriverCursor:
    """sqlite3's own cursor, with what Django's cursor does for a statement that matters here.

    Django's cursor converts the placeholders of every statement with a regular expression and
    passes it through three layers of wrappers: that came to 8 to 10 µs a statement, more than
    SQLite's own work for an enqueue's inserts (measured: docs/sqlite.rst). This one converts each
    statement once (driver_sql), refuses to run in a transaction Django knows is broken, and raises
    Django's exceptions, as Django's does. It is only used where nothing observes statements
    (SQLite.statement_cursor()), and takes Django's "format" placeholders only (a list of
    parameters, not a mapping).
    """

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection):
        self._connection = connection
        self._cursor = connection.connection.cursor()

    def execute(self, sql, params=None):
        self._connection.validate_no_broken_transaction()
        with self._connection.wrap_database_errors:
            if params is None:
                return self._cursor.execute(sql)
            return self._cursor.execute(driver_sql(sql), params)

    def executemany(self, sql, param_list):
        self._connection.validate_no_broken_transaction()
        with self._connection.wrap_database_errors:
            return self._cursor.executemany(driver_sql(sql), param_list)

    def fetchall(self):
        with self._connection.wrap_database_errors:
            return self._cursor.fetchall()

    def fetchone(self):
        with self._connection.wrap_database_errors:
            return self._cursor.fetchone()

    def fetchmany(self, size=1):
        with self._connection.wrap_database_errors:
            return self._cursor.fetchmany(size)

    def __iter__(self):
        return iter(self.fetchall())

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def close(self):
        # As Django's cursor: the connection may be closed already (enqueue_transaction closes it
        # when its ROLLBACK fails), and the error that got us here is the one to raise.
        try:
            self._cursor.close()
        except sqlite3.Error:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def queue_autocommit_writes(execute, sql, params, many, context):
    """An execute wrapper: a statement that writes in autocommit takes its turn in the write queue.

    On a runtime process's connections to a database in WAL mode (prepare_runtime_connection):
    there, a task's own writes (a ``save()`` outside ``atomic()``) share the database with the
    runtime's queued writers, which hand SQLite's lock on at once; left to SQLite's busy handler,
    which sleeps between tries, such a write could wait past the busy timeout and fail the task
    with "database is locked". Not in rollback-journal mode: there a read the task left open (an
    ``iterator()``) holds a lock that the queue's holder must wait for to commit, and the two would
    wait for each other until the busy timeout. Statements inside a transaction, and executemany()
    (a commit per row), go as they are. An ``INSERT ... RETURNING`` commits when its rows are
    fetched, after the queue is given up: it still took its lock in turn.
    """
    raw = context["connection"].connection
    if many or raw is None or raw.in_transaction or not WRITE_STATEMENT.match(sql):
        return execute(sql, params, many, context)
    with write_queue(context["connection"]):
        return execute(sql, params, many, context)


class SQLite(Dialect):
    wake_ups = "data_version"

    inserts_jobs_in_sql = True
    claims_in_sql = True
    finishes_in_sql = True
    hands_over_slots_in_sql = True
    assigns_unique_keys_in_sql = True
    deletes_with_returning = True
    # IMMEDIATE whatever the configured transaction_mode: the transaction only writes, and so waits
    # its turn through the busy timeout.
    begin_enqueue = "BEGIN IMMEDIATE"

    @staticmethod
    def prepare_runtime_connection(connection):
        # In rollback-journal mode a commit of the default DELETE mode creates the journal file,
        # syncs its directory, and deletes it again; PERSIST keeps the file and zeroes its header
        # instead, as durable and about a tenth cheaper per commit, which bounds how fast workers
        # drain (measured: docs/sqlite.rst). Per connection: the application's own connections keep
        # theirs, and the modes work side by side. In WAL mode the connection's autocommit writes
        # queue instead (queue_autocommit_writes). Straight on the driver's connection: no execute
        # wrapper of the application's sees these statements.
        raw = connection.connection
        try:
            mode = raw.execute("PRAGMA journal_mode").fetchone()[0].lower()
            if mode == "delete":
                raw.execute("PRAGMA journal_mode = PERSIST")
                # A kept journal stays as large as the largest transaction since; cut it back after one.
                raw.execute(f"PRAGMA journal_size_limit = {PERSISTED_JOURNAL_LIMIT}")
        except sqlite3.Error as error:
            logger.warning("Could not tune a connection to %s for the runtime: %s", connection.alias, error)
            return
        # First in the list: Django's execute_wrapper() blocks remove the last entry when they end.
        # The list outlives a connection: installed once per thread's DatabaseWrapper.
        if mode == "wal" and queue_autocommit_writes not in connection.execute_wrappers:
            connection.execute_wrappers.insert(0, queue_autocommit_writes)

    def statement_cursor(self):
        """The driver's own cursor (DriverCursor) where nothing observes statements, else Django's.

        Observed: Django logs queries (DEBUG, or a test capturing them), or an execute wrapper is
        installed. The runtime's own wrapper (queue_autocommit_writes) only acts on a write outside
        a transaction: inside one, it would let the statement through untouched anyway.
        """
        connection = self.connection
        if connection.queries_logged:
            return connection.cursor()
        connection.ensure_connection()
        for wrapper in connection.execute_wrappers:
            if wrapper is not queue_autocommit_writes or not connection.connection.in_transaction:
                return connection.cursor()
        connection.validate_thread_sharing()
        return DriverCursor(connection)

    @staticmethod
    def write_turn(connection):
        # Writers outside the queue wait in SQLite's busy handler, which sleeps between tries: behind
        # a stream of queued writers handing the lock on at once, they could wait past any timeout.
        return write_queue(connection)

    @staticmethod
    @contextmanager
    def write_transaction(connection):
        # Queued first (see write_queue): SQLite's lock is then usually free when BEGIN IMMEDIATE asks.
        queue = write_queue(connection)
        # BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails with "database
        # is locked" at once when another holds the write lock; an immediate one waits for it
        # through the busy timeout. Connecting reads transaction_mode from the settings: connect
        # first, then override it.
        connection.ensure_connection()
        previous = connection.transaction_mode
        connection.transaction_mode = "IMMEDIATE"
        try:
            with queue, transaction.atomic(using=connection.alias):
                # The mode is read when the transaction begins; restore it for the caller's own code.
                connection.transaction_mode = previous
                yield
        finally:
            connection.transaction_mode = previous

    def read_datetime(self, value):
        # Naive (or text) from the driver; Django's converter parses it and makes it aware under USE_TZ.
        return self.connection.ops.convert_datetimefield_value(value, None, self.connection)

    @staticmethod
    def is_lock_error(error):
        cause = SQLite.driver_error(error)
        if not isinstance(cause, sqlite3.OperationalError):
            return False
        message = str(cause).lower()
        return "database is locked" in message or "database table is locked" in message

    def claim(self, pattern, limit, process_id, paused, columns):
        """Claim up to ``limit`` ready jobs of one queue pattern; rows of the jobs' ``columns``.

        Call inside write_transaction(). ``paused`` is not used: the pause table is read inside the
        transaction instead, which costs nothing here and honours a pause committed while this
        claim waited for the write lock (a list read before the wait would miss it and let a task
        enqueued after the pause through).
        """
        r, p = self.tables.ready, self.tables.pause
        condition, params = self.queue_condition(pattern)
        with self.statement_cursor() as cursor:
            cursor.execute(
                f"""
                DELETE FROM {r} WHERE {r.job_id} IN (
                    SELECT {r.job_id} FROM {r}
                    WHERE {condition} {r.queue_name} NOT IN (SELECT {p.queue_name} FROM {p})
                    ORDER BY {r.priority} DESC, {r.job_id}
                    LIMIT %s
                ) RETURNING {r.job_id}
                """,
                [*params, limit],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            return self.claim_moved(cursor, ids, process_id, columns)

    def append_to_json_array(self, column):
        return f"json_insert({column}, '$[#]', %s)"

    def take_claims(self, cursor, process_id, job_ids):
        c = self.tables.claimed
        cursor.execute(
            f"DELETE FROM {c} WHERE {c.process_id} = %s AND {c.job_id} IN ({self.marks(job_ids)}) "
            f"RETURNING {c.job_id}",
            [process_id, *job_ids],
        )
        return {row[0] for row in cursor.fetchall()}

    def mark_started(self, process_id, job_ids, now):
        # One statement: no row to lock first, the write transaction holds the whole database.
        c = self.tables.claimed
        with self.statement_cursor() as cursor:
            cursor.execute(
                f"UPDATE {c} SET {c.started_at} = %s WHERE {c.process_id} = %s "
                f"AND {c.job_id} IN ({self.marks(job_ids)}) RETURNING {c.job_id}",
                [self.adapt_datetime(now), process_id, *job_ids],
            )
            return {row[0] for row in cursor.fetchall()}

    def finish_rows(self, cursor, done, worker_name, outcomes, preserve):
        if not preserve:
            return super().finish_rows(cursor, done, worker_name, outcomes, preserve)
        # One statement for the round's outcomes, joined to their values (UPDATE ... FROM).
        j = self.tables.job
        adapt = self.adapt_datetime
        rows = [o for o in outcomes if o.job_id in done]
        cursor.execute(
            f"""
            UPDATE {j} SET
                {j.finished_at} = v.column2,
                {j.started_at} = COALESCE({j}.{j.started_at}, v.column3),
                {j.last_attempted_at} = v.column3,
                {j.worker_ids} = {self.append_to_json_array(f'{j}.{j.worker_ids}')},
                {j.return_value} = v.column4
            FROM (VALUES {", ".join(["(%s, %s, %s, %s)"] * len(rows))}) AS v
            WHERE {j}.{j.id} = v.column1
            """,
            [
                worker_name,
                *(
                    value
                    for o in rows
                    for value in (
                        o.job_id, adapt(o.finished_at), adapt(o.started_at),
                        None if o.return_value is None else json.dumps(o.return_value),
                    )
                ),
            ],
        )

    def insert_jobs(self, jobs, now, cursor=None):
        """Insert jobs of one task call-site (they share all but their arguments) and their state rows.

        Two statements per 500 jobs; call inside a transaction. Sets each job's id.
        """
        first = jobs[0]
        due = first.scheduled_at is None or first.scheduled_at <= now
        created = self.adapt_datetime(now)
        scheduled = None if first.scheduled_at is None else self.adapt_datetime(first.scheduled_at)
        with self.cursor_or_own(cursor) as cursor:
            for start in range(0, len(jobs), INSERT_CHUNK):
                chunk = jobs[start : start + INSERT_CHUNK]
                params = [value for job in chunk for value in self.job_row(job, created, scheduled)]
                cursor.execute(self.statement(("insert_jobs", len(chunk)), self._insert_jobs_sql), params)
                ids = sorted(row[0] for row in cursor.fetchall())
                for job, job_id in zip(chunk, ids, strict=True):
                    job.pk = job_id
                    job._state.adding = False
                self.insert_state_rows(cursor, ids, first, created, None if due else scheduled)

    def _insert_jobs_sql(self, count):
        j = self.tables.job
        row_marks = "(" + ", ".join(["%s"] * (len(INSERTED_JOB_COLUMNS) - 2)) + ", '[]', '[]')"
        return (
            f"INSERT INTO {j} ({j.columns(INSERTED_JOB_COLUMNS)}) "
            f"VALUES {', '.join([row_marks] * count)} RETURNING {j.id}"
        )

    def pick_blocked(self, cursor, wanted):
        # A compound SELECT of each key's first jobs; no row locks to take (the write lock
        # serializes hand-overs).
        picked = []
        for start in range(0, len(wanted), PICK_CHUNK):
            chunk = wanted[start : start + PICK_CHUNK]
            cursor.execute(
                " UNION ALL ".join([f"SELECT * FROM ({self.next_blocked_sql()})"] * len(chunk)),
                [v for pair in chunk for v in pair],
            )
            picked += cursor.fetchall()
        return picked
