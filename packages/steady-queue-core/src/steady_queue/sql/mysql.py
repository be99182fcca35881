"""MySQL 8.0.1+ and MariaDB 10.6+ (InnoDB): row locks with SKIP LOCKED, no data-modifying CTEs.

Written for READ COMMITTED, Django's default isolation level here: InnoDB then locks the rows a
statement touches and not the gaps between them, which is what kept Solid Queue's users on
REPEATABLE READ deadlocking between an enqueue's insert and a claim's delete. The state tables
are keyed by job id, so a claim deletes by primary key and locks exactly the rows it took.

No RETURNING on MySQL: a statement that must know which rows it removed locks them first
(MariaDB has DELETE ... RETURNING, and uses it). Its driver sends executemany() of anything but
an INSERT as one statement per row, so a batch of rows goes into one statement here instead.
"""

import json

from django.conf import settings

from .base import INSERTED_JOB_COLUMNS, Dialect

# ER_LOCK_WAIT_TIMEOUT and ER_LOCK_DEADLOCK: InnoDB rolled the statement (deadlock: the whole
# transaction) back; running the transaction again is the documented remedy.
LOCK_ERRORS = {1205, 1213}
# The return values one statement of finish_rows() carries, at most (one larger value goes alone).
OUTCOME_CHUNK_BYTES = 1_000_000


class MySQL(Dialect):
    snapshot_reads = True

    inserts_jobs_in_sql = True
    claims_in_sql = True
    finishes_in_sql = True
    hands_over_slots_in_sql = True
    assigns_unique_keys_in_sql = True
    begin_enqueue = "START TRANSACTION"

    @staticmethod
    def is_lock_error(error):
        cause = MySQL.driver_error(error)
        code = cause.args[0] if cause.args else None
        return isinstance(code, int) and code in LOCK_ERRORS

    def read_datetime(self, value):
        # Naive from the driver. Django's converter makes a value aware whatever USE_TZ says; the
        # ORM only calls it under USE_TZ, and so does this.
        if settings.USE_TZ:
            return self.connection.ops.convert_datetimefield_value(value, None, self.connection)
        return value

    def starts_with(self, column, prefix):
        # LEFT(), not LIKE: no escaping of the prefix's own % and _.
        return f"LEFT({column}, %s) = %s", [len(prefix), prefix]

    def claim(self, pattern, limit, process_id, paused, columns):
        """Claim up to ``limit`` ready jobs of one queue pattern; rows of the jobs' ``columns``.

        Call inside write_transaction(): the locked rows are moved in the same transaction.
        """
        r = self.tables.ready
        condition, params = self.queue_condition(pattern)
        not_paused = f"{r.queue_name} NOT IN ({self.marks(paused)}) AND" if paused else ""
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {r.job_id} FROM {r} WHERE {condition} {not_paused} TRUE "
                f"ORDER BY {r.priority} DESC, {r.job_id} LIMIT %s FOR UPDATE SKIP LOCKED",
                [*params, *paused, limit],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            cursor.execute(f"DELETE FROM {r} WHERE {r.job_id} IN ({self.marks(ids)})", ids)
            return self.claim_moved(cursor, ids, process_id, columns)

    def append_to_json_array(self, column):
        return f"JSON_ARRAY_APPEND({column}, '$', %s)"

    def take_claims(self, cursor, process_id, job_ids):
        c = self.tables.claimed
        mine = f"{c.process_id} = %s AND {c.job_id} IN ({self.marks(job_ids)})"
        if self.connection.mysql_is_mariadb:
            cursor.execute(f"DELETE FROM {c} WHERE {mine} RETURNING {c.job_id}", [process_id, *job_ids])
            return {row[0] for row in cursor.fetchall()}
        # Lock the claims first: only this transaction may then delete them, and a pruner that
        # failed them meanwhile has removed them, so they are not found.
        cursor.execute(f"SELECT {c.job_id} FROM {c} WHERE {mine} FOR UPDATE", [process_id, *job_ids])
        done = {row[0] for row in cursor.fetchall()}
        if done:
            cursor.execute(f"DELETE FROM {c} WHERE {c.job_id} IN ({self.marks(done)})", list(done))
        return done

    def mark_started(self, process_id, job_ids, now):
        """Set the start marker of these claims if still this process's; return their job ids.

        The update locks what it matches (a pruner that took a claim meanwhile has removed it), and
        Django's MySQL connections count matched rows: when all matched, no read is needed.
        """
        c = self.tables.claimed
        mine = f"{c.process_id} = %s AND {c.job_id} IN ({self.marks(job_ids)})"
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {c} SET {c.started_at} = %s WHERE {mine}", [self.adapt_datetime(now), process_id, *job_ids]
            )
            if cursor.rowcount == len(set(job_ids)):
                return set(job_ids)
            # Some were not this process's any more. The ones updated are locked by now; FOR UPDATE
            # reads them as they are, not as a REPEATABLE READ snapshot would.
            cursor.execute(f"SELECT {c.job_id} FROM {c} WHERE {mine} FOR UPDATE", [process_id, *job_ids])
            return {row[0] for row in cursor.fetchall()}

    def finish_rows(self, cursor, done, worker_name, outcomes, preserve):
        """Record the outcomes of the jobs in ``done``: a statement per chunk, the outcomes as a derived table."""
        if not preserve:
            return super().finish_rows(cursor, done, worker_name, outcomes, preserve)
        adapt = self.adapt_datetime
        chunk, size = [], 0
        for o in outcomes:
            if o.job_id not in done:
                continue
            returned = None if o.return_value is None else json.dumps(o.return_value)
            length = len(returned or "")
            # Within the server's max_allowed_packet (16 MB by default) whatever the return values.
            if chunk and size + length > OUTCOME_CHUNK_BYTES:
                self._finish_chunk(cursor, chunk, worker_name)
                chunk, size = [], 0
            chunk.append((o.job_id, adapt(o.finished_at), adapt(o.started_at), returned))
            size += length
        if chunk:
            self._finish_chunk(cursor, chunk, worker_name)

    def _finish_chunk(self, cursor, rows, worker_name):
        j = self.tables.job
        outcome_rows = " UNION ALL ".join(
            ["SELECT %s AS job, %s AS finished, %s AS began, %s AS returned"] + ["SELECT %s, %s, %s, %s"]
            * (len(rows) - 1)
        )
        ids = [row[0] for row in rows]
        # The WHERE keeps the plan a lookup of each job by its primary key, the rows it locks exactly
        # the jobs it records.
        cursor.execute(
            f"""
            UPDATE {j} JOIN ({outcome_rows}) AS outcome ON {j}.{j.id} = outcome.job SET
                {j}.{j.finished_at} = outcome.finished,
                {j}.{j.started_at} = COALESCE({j}.{j.started_at}, outcome.began),
                {j}.{j.last_attempted_at} = outcome.began,
                {j}.{j.worker_ids} = {self.append_to_json_array(f"{j}.{j.worker_ids}")},
                {j}.{j.return_value} = outcome.returned
            WHERE {j}.{j.id} IN ({self.marks(ids)})
            """,
            [*(value for row in rows for value in row), worker_name, *ids],
        )

    def insert_jobs(self, jobs, now, cursor=None):
        """Insert jobs of one task call-site and their state rows; call inside a transaction.

        Two statements where INSERT ... RETURNING exists (MariaDB 10.5+); MySQL, which cannot say
        which ids a multi-row insert took, inserts the jobs one by one. Sets each job's id.
        """
        j = self.tables.job
        first = jobs[0]
        due = first.scheduled_at is None or first.scheduled_at <= now
        created, scheduled = self.adapt_datetime(now), self.adapt_datetime(first.scheduled_at)
        row_marks = "(" + ", ".join(["%s"] * (len(INSERTED_JOB_COLUMNS) - 2)) + ", '[]', '[]')"
        rows = [self.job_row(job, created, scheduled) for job in jobs]
        insert = f"INSERT INTO {j} ({j.columns(INSERTED_JOB_COLUMNS)}) VALUES "
        with self.cursor_or_own(cursor) as cursor:
            if self.connection.features.can_return_rows_from_bulk_insert:
                cursor.execute(
                    insert + ", ".join([row_marks] * len(rows)) + f" RETURNING {j.id}",
                    [v for row in rows for v in row],
                )
                ids = sorted(row[0] for row in cursor.fetchall())
            else:
                ids = []
                for row in rows:
                    cursor.execute(insert + row_marks, row)
                    ids.append(cursor.lastrowid)
            for job, job_id in zip(jobs, ids, strict=True):
                job.pk = job_id
                job._state.adding = False
            self.insert_state_rows(cursor, ids, first, created, None if due else scheduled)

    def pick_blocked(self, cursor, wanted):
        # One statement for all the keys: a UNION of each key's locking read (its own LIMIT and SKIP LOCKED).
        if not wanted:
            return []
        cursor.execute(
            " UNION ALL ".join([f"({self.next_blocked_sql()})"] * len(wanted)), [v for pair in wanted for v in pair]
        )
        return list(cursor.fetchall())
