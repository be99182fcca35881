"""SQL the database modules share: correct on any database once names are quoted.

``SharedSQL`` is the half of ``Dialect`` (``base``) that writes statements: the hand-over of
concurrency slots, the recording of outcomes and start markers, the insertion of jobs' state
rows. A module overrides a method where its database has a better way (PostgreSQL's one statement
for a whole round, MySQL's derived tables), and opts in to each hot path by a flag. These are not
the portable versions: those are written with the ORM and live with their callers in
``steady_queue.models``, for the databases without a module and for ``sql_fast_paths = False``.
"""

import json
from collections import Counter


class SharedSQL:
    """Statements the database modules share; ``Dialect`` supplies the tables, connection and helpers."""

    def hand_over_slots(self, hand_overs, now):
        """Move up to ``slots`` blocked jobs of each key to ready; leave each semaphore at ``free`` less those.

        ``hand_overs``: admission.HandOver rows, their semaphores locked by the caller, inside the
        transaction that records the outcomes. The picks (pick_blocked), then three statements for
        all the keys: the blocked rows deleted, the ready rows inserted, the semaphores updated.
        """
        s, b, r = self.tables.semaphore, self.tables.blocked, self.tables.ready
        stamp = self.adapt_datetime(now)
        with self.statement_cursor() as cursor:
            picked = self.pick_blocked(cursor, [(h.key, h.slots) for h in hand_overs if h.slots > 0])
            if picked:
                ids = [row[0] for row in picked]
                cursor.execute(f"DELETE FROM {b} WHERE {b.job_id} IN ({self.marks(ids)})", ids)
                cursor.execute(
                    f"INSERT INTO {r} ({r.job_id}, {r.queue_name}, {r.priority}, {r.created_at}) "
                    f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(picked))}",
                    [v for job_id, queue, priority, _ in picked for v in (job_id, queue, priority, stamp)],
                )
            taken = Counter(row[3] for row in picked)
            cases = " ".join(["WHEN %s THEN %s"] * len(hand_overs))
            cursor.execute(
                f"UPDATE {s} SET {s.value} = CASE {s.key} {cases} END, {s.expires_at} = CASE {s.key} {cases} END, "
                f"{s.updated_at} = %s WHERE {s.key} IN ({self.marks(hand_overs)})",
                [
                    *(v for h in hand_overs for v in (h.key, h.free - taken[h.key])),
                    *(v for h in hand_overs for v in (h.key, self.adapt_datetime(h.expires_at))),
                    stamp,
                    *(h.key for h in hand_overs),
                ],
            )

    def next_blocked_sql(self):
        """The next blocked jobs of one key (parameters: the key, how many), highest priority first."""
        b = self.tables.blocked
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.connection.features.has_select_for_update_skip_locked else ""
        return (
            f"SELECT {b.job_id}, {b.queue_name}, {b.priority}, {b.concurrency_key} FROM {b} "
            f"WHERE {b.concurrency_key} = %s ORDER BY {b.priority} DESC, {b.job_id} LIMIT %s{skip_locked}"
        )

    def pick_blocked(self, cursor, wanted):
        """Lock the next ``slots`` blocked jobs of each (key, slots); their (job_id, queue_name, priority, key).

        A statement per key here; dialects that can pick for every key in one statement do.
        """
        picked = []
        for key, slots in wanted:
            cursor.execute(self.next_blocked_sql(), [key, slots])
            picked += cursor.fetchall()
        return picked

    def assign_unique_keys(self, rows):
        """Record each won unique key's holder (rows carry key, job_id, result_id): a statement per row."""
        u = self.tables.unique_key
        with self.statement_cursor() as cursor:
            cursor.executemany(
                f"UPDATE {u} SET {u.job_id} = %s, {u.result_id} = %s WHERE {u.key} = %s",
                [(row.job_id, row.result_id, row.key) for row in rows],
            )

    def take(self, table, job_ids):
        """Delete the state rows of these jobs from ``table`` (a Table); return the ids of those deleted."""
        with self.statement_cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {table.job_id} IN ({self.marks(job_ids)}) RETURNING {table.job_id}",
                job_ids,
            )
            return [row[0] for row in cursor.fetchall()]

    def append_to_json_array(self, column):
        """SQL appending the parameter to the JSON array in ``column`` (for finish_rows)."""
        raise NotImplementedError

    def finish(self, process_id, worker_name, outcomes, preserve):
        """Record successful outcomes whose claim is still this process's; return their job ids.

        Call inside write_transaction(): the claims are taken (take_claims), then a statement per
        job records its outcome, for the dialects without array parameters.
        """
        with self.statement_cursor() as cursor:
            done = self.take_claims(cursor, process_id, [o.job_id for o in outcomes])
            if done:
                self.finish_rows(cursor, done, worker_name, outcomes, preserve)
        return done

    def finish_and_start(self, process_id, worker_name, outcomes, start_ids, now, preserve, slot_keys=()):
        """Record successful outcomes and start markers, and lock the semaphores of ``slot_keys``.

        Returns the job ids of (finished, started) and {key: (value, expires_at)} of the semaphores
        that exist (None: the caller locks them). Call inside write_transaction(); dialects with
        single_statement_writes do it all in one statement. Only claims still this process's are
        finished or started.
        """
        finished = self.finish(process_id, worker_name, outcomes, preserve) if outcomes else set()
        started = self.mark_started(process_id, start_ids, now) if start_ids else set()
        held = self.lock_semaphores(slot_keys) if slot_keys and self.hands_over_slots_in_sql else None
        return finished, started, held

    def lock_semaphores(self, keys):
        """semaphore.lock_all() in this database's SQL: no query to compile in every round of a worker."""
        s = self.tables.semaphore
        # In key order, as every other transaction locks semaphores. (SQLite has no row locks: its
        # write transaction holds the whole database.)
        for_update = " FOR UPDATE" if self.connection.features.has_select_for_update else ""
        with self.statement_cursor() as cursor:
            cursor.execute(
                f"SELECT {s.key}, {s.value}, {s.expires_at} FROM {s} WHERE {s.key} IN ({self.marks(keys)}) "
                f"ORDER BY {s.key}{for_update}",
                list(keys),
            )
            rows = cursor.fetchall()
        return {key: (value, self.read_datetime(expiry)) for key, value, expiry in rows}

    def mark_started(self, process_id, job_ids, now):
        """Set the start marker of these claims if still this process's; return their job ids."""
        c = self.tables.claimed
        lock = " FOR UPDATE" if self.connection.features.has_select_for_update else ""
        mine = f"{c.process_id} = %s AND {c.job_id} IN ({self.marks(job_ids)})"
        with self.statement_cursor() as cursor:
            # Locked first (where rows can be): a pruner that took the claims meanwhile has removed them.
            cursor.execute(f"SELECT {c.job_id} FROM {c} WHERE {mine}{lock}", [process_id, *job_ids])
            started = {row[0] for row in cursor.fetchall()}
            if started:
                cursor.execute(
                    f"UPDATE {c} SET {c.started_at} = %s WHERE {c.job_id} IN ({self.marks(started)})",
                    [self.adapt_datetime(now), *started],
                )
        return started

    def take_claims(self, cursor, process_id, job_ids):
        """Delete the claims of these jobs that are still this process's; return their job ids."""
        raise NotImplementedError

    def finish_rows(self, cursor, done, worker_name, outcomes, preserve):
        """Record the outcomes of the jobs in ``done`` (their claims just deleted)."""
        j = self.tables.job
        if not preserve:
            cursor.execute(f"DELETE FROM {j} WHERE {j.id} IN ({self.marks(done)})", list(done))
            return
        adapt = self.adapt_datetime
        cursor.executemany(
            f"""
            UPDATE {j} SET
                {j.finished_at} = %s,
                {j.started_at} = COALESCE({j.started_at}, %s),
                {j.last_attempted_at} = %s,
                {j.worker_ids} = {self.append_to_json_array(j.worker_ids)},
                {j.return_value} = %s
            WHERE {j.id} = %s
            """,
            [
                (adapt(o.finished_at), adapt(o.started_at), adapt(o.started_at), worker_name,
                 None if o.return_value is None else json.dumps(o.return_value), o.job_id)
                for o in outcomes
                if o.job_id in done
            ],
        )

    def job_row(self, job, created, scheduled):
        """The values of INSERTED_JOB_COLUMNS but the two empty arrays, adapted for this database."""
        return [
            job.token, job.task_path, job.queue_name, job.priority, job.backend, json.dumps(job.arguments),
            scheduled, created, job.max_attempts, job.retry_lost,
        ]

    def insert_state_rows(self, cursor, ids, first, created, scheduled):
        """Ready rows for the jobs, or scheduled rows when ``scheduled`` (their time) is given."""
        values = [first.queue_name, first.priority, created] + ([] if scheduled is None else [scheduled])
        cursor.execute(
            self.statement(("insert_state_rows", len(ids), scheduled is None), self._insert_state_rows_sql),
            [v for job_id in ids for v in (job_id, *values)],
        )

    def _insert_state_rows_sql(self, count, ready):
        table = self.tables.ready if ready else self.tables.scheduled
        names = ["job_id", "queue_name", "priority", "created_at"] + ([] if ready else ["scheduled_at"])
        row_marks = "(" + ", ".join(["%s"] * len(names)) + ")"
        return f"INSERT INTO {table} ({table.columns(names)}) VALUES {', '.join([row_marks] * count)}"
