"""What a database module provides, and the quoted names its SQL is written with.

A ``Dialect`` answers two kinds of question for the runtime:

- how the database behaves where the callers must adapt (always in force: how a write transaction
  begins, which errors mean a lock got in the way, whether reads see a snapshot, how workers are woken);
- which hot paths it runs in SQL of its own. Each of those flags chooses between a method of the
  dialect (its own, or one ``SharedSQL`` gives every module) and the ORM version its caller in
  ``steady_queue.models`` keeps. The ORM versions are correct on every database Django supports:
  they run where a database has no module, and the test suite runs them on every database with
  ``STEADY_QUEUE["sql_fast_paths"] = False``.

Names of tables and columns are never written here: they come from the models' ``_meta``,
quoted by the connection (``Table``), and the models build them (this package imports no model).
"""

from contextlib import contextmanager, nullcontext

from django.db import Error, connections, transaction
from django.utils import timezone

from steady_queue import queue_patterns

from .shared import SharedSQL

# The flags that choose a hot path in SQL over its ORM version; STEADY_QUEUE["sql_fast_paths"] = False
# turns them all off. Flags about how the database behaves stay on: callers are only correct with them.
FAST_PATHS = (
    "inserts_jobs_in_sql",
    "claims_in_sql",
    "finishes_in_sql",
    "hands_over_slots_in_sql",
    "assigns_unique_keys_in_sql",
    "releases_unique_keys_in_sql",
    "deletes_with_returning",
)

# The largest row count whose statements Dialect.statement() remembers.
STATEMENT_CACHE_ROWS = 32

# The columns the fast enqueue writes; the others take their database defaults or NULL.
INSERTED_JOB_COLUMNS = (
    "token", "task_path", "queue_name", "priority", "backend", "arguments", "scheduled_at", "created_at",
    "max_attempts", "retry_lost", "worker_ids", "errors",
)


class Dialect(SharedSQL):
    """A database without a module of its own: every hot path through the ORM, polling for work.

    The statements its subclasses share are in ``SharedSQL``.
    """

    # --- How the database behaves (always in force) ---

    # A transaction's plain reads may see the snapshot of its first read (InnoDB under REPEATABLE
    # READ): a locking read is what sees the rows committed since.
    snapshot_reads = False
    # How workers learn of new work between polls: "notify" (LISTEN/NOTIFY), "data_version"
    # (a counter other connections' commits change) or None (polling alone).
    wake_ups = None

    # --- Hot paths in this database's SQL (see FAST_PATHS) ---

    inserts_jobs_in_sql = False
    claims_in_sql = False
    finishes_in_sql = False
    # A finished concurrency-limited task hands its slot to the next blocked task.
    hands_over_slots_in_sql = False
    assigns_unique_keys_in_sql = False
    releases_unique_keys_in_sql = False
    # DELETE ... RETURNING: take state rows and learn which were there, in one statement.
    deletes_with_returning = False
    # The writing hot paths (insert_jobs, claim, finish) are one statement each: atomic without a
    # transaction around them.
    single_statement_writes = False
    # The statement that begins an enqueue's own transaction (see enqueue_transaction); None: atomic().
    begin_enqueue = None

    def __init__(self, alias, tables, fast_paths=True, prepared_statements=False):
        self.alias = alias
        self.tables = tables
        self._statements = {}
        # Whether the dialect may prepare its statements on the server (where it has a way to).
        self.prepared_statements = prepared_statements
        if not fast_paths:
            for flag in FAST_PATHS:
                setattr(self, flag, False)

    @staticmethod
    def write_transaction(connection):
        """A transaction for the runtime's writes, begun outside any other."""
        return transaction.atomic(using=connection.alias)

    @staticmethod
    def prepare_runtime_connection(connection):
        """Tune a new connection of a runtime process (supervisor, worker, dispatcher, scheduler)."""

    def refresh_plans(self):
        """Plan this connection's prepared statements again at their next run, for tables that have
        grown (or shrunk) since they were planned."""

    @staticmethod
    def write_turn(connection):
        """The wait for a writer's turn before it writes outside any transaction (SQLite's write queue)."""
        return nullcontext()

    @contextmanager
    def enqueue_transaction(self):
        """The transaction insert_jobs() runs in: its own, or part of the caller's.

        Outside any transaction, a dialect with ``begin_enqueue`` sends it and COMMIT itself, and
        yields the cursor it sent them on, for the inserts (None otherwise).
        Django's atomic() would cost MySQL's driver two more round trips (autocommit switched off
        and back on around the inserts), and SQLite 10 to 15 µs of its bookkeeping (3 to 6% of an
        enqueue in WAL mode).
        """
        if self.single_statement_writes:
            yield None
            return
        connection = self.connection
        if self.begin_enqueue is None or connection.in_atomic_block or not connection.get_autocommit():
            with transaction.atomic(using=self.alias, savepoint=False):
                yield None
            return
        with self.write_turn(connection), self.statement_cursor() as cursor:
            cursor.execute(self.begin_enqueue)
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except Error:
                    # The database ended the transaction itself (SQLite does on some errors), or
                    # the connection broke: either way the next use starts on a fresh one.
                    connection.close()
                raise

    def statement(self, key, build):
        """A statement built once per dialect: ``build(*key[1:])`` the first time ``key`` (its name,
        the row count it carries, and whatever else its text depends on) is asked for.

        For the statements of the hottest paths (an enqueue's inserts): their text only depends on
        the tables' names and how many rows they carry, and building it cost more than sending it.
        Keys that carry a row count over ``STATEMENT_CACHE_ROWS`` are built every time: a batch
        that large pays for its text many times over in rows, and the cache stays small.
        """
        try:
            return self._statements[key]
        except KeyError:
            sql = build(*key[1:])
            if key[1] <= STATEMENT_CACHE_ROWS:
                self._statements[key] = sql
            return sql

    def statement_cursor(self):
        """A cursor for the dialect's statements (Django's, where a database module has no faster one)."""
        return self.connection.cursor()

    def cursor_or_own(self, cursor):
        """``cursor`` if there is one (left open), else a statement cursor of its own to use and close."""
        return self.statement_cursor() if cursor is None else nullcontext(cursor)

    @property
    def connection(self):
        # Looked up on each use: connections are per thread, a dialect is shared by them.
        return connections[self.alias]

    @staticmethod
    def is_lock_error(error):
        """Whether ``error`` (Django's wrapper or the driver's own) says a lock got in the way."""
        return False

    @staticmethod
    def driver_error(error):
        """The driver's own exception behind Django's wrapper (or the error itself)."""
        return error.__cause__ if error.__cause__ is not None else error

    def queue_condition(self, pattern):
        """SQL and parameters selecting the ready rows of one queue pattern (empty for all queues)."""
        r = self.tables.ready
        column = f"{r}.{r.queue_name}"
        kind, text = queue_patterns.parse(pattern)
        if kind == "all":
            return "", []
        if kind == "prefix":
            sql, params = self.starts_with(column, text)
            return f"{sql} AND", params
        return f"{column} = %s AND", [text]

    def starts_with(self, column, prefix):
        """SQL and parameters: ``column`` begins with ``prefix``, case-sensitively and without LIKE's
        wildcards (a queue name may contain % or _)."""
        return f"substr({column}, 1, %s) = %s", [len(prefix), prefix]

    def claim_moved(self, cursor, ids, process_id, columns):
        """Claim jobs whose ready rows this transaction just took; the jobs' ``columns``, claim order."""
        j, c = self.tables.job, self.tables.claimed
        stamp = self.adapt_datetime(timezone.now())
        cursor.execute(
            f"INSERT INTO {c} ({c.job_id}, {c.process_id}, {c.created_at}) "
            f"VALUES {', '.join(['(%s, %s, %s)'] * len(ids))}",
            [value for job_id in ids for value in (job_id, process_id, stamp)],
        )
        cursor.execute(
            f"SELECT {j.columns(columns)} FROM {j} WHERE {j.id} IN ({self.marks(ids)}) "
            f"ORDER BY {j.priority} DESC, {j.id}",
            ids,
        )
        return cursor.fetchall()

    def adapt_datetime(self, value):
        return self.connection.ops.adapt_datetimefield_value(value)

    def read_datetime(self, value):
        """A datetime column's value from a raw cursor, as the ORM would read it (the driver's, here)."""
        return value

    def marks(self, values):
        return ", ".join(["%s"] * len(values))
