"""PostgreSQL's claims: lock, move and read in one statement; a prefix pattern served queue by queue.

A claim walks the ready rows in the order they are served (priority, then age) and stops once it
has enough. For every queue (``*``) or one queue that walk reads little more than it takes. For a
prefix (``mail*``) it also skips the rows of every other queue ahead of the pattern's, and those
are the rows of the patterns served after it, which wait until it is empty: so a pattern with
nothing left read the whole table on every claim (4.7 to 9 ms over 45,000 waiting rows; see
docs/benchmarks.rst, "As the tables grow"). A prefix is therefore claimed from its queues'
heads: its queues are found one index probe each, with their first rows, and only the rows that
can be among the first ``limit`` are read and locked.
"""

import time

from steady_queue import queue_patterns

# Claims of a prefix that find rows of theirs taken by another worker meanwhile, before the walk.
PREFIX_CLAIM_TRIES = 3
# Statements one claim of a prefix runs at most (each takes at least a row per queue waiting).
PREFIX_CLAIM_STATEMENTS = 8
# A prefix with more queues than this waiting is claimed by the walk: one probe per queue costs
# more than the walk saves when the pattern's rows are most of the table.
PREFIX_QUEUES_MAX = 128
# Prefixes found with more queues waiting than that, and when (time.monotonic()): walked without
# probing them first for WIDE_FOR seconds.
_wide_prefixes = {}
WIDE_FOR = 60.0


def prefix_upper_bound(prefix):
    """The least string above every string that starts with ``prefix`` in code point order (the
    "C" collation of a UTF-8 database); None when there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates are no characters of a UTF-8 string
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


class PostgreSQLClaims:
    """PostgreSQL's claims, mixed into its dialect (which gives ``tables``, ``cursor()``, ``queue_condition()``)."""

    def claim(self, pattern, limit, process_id, paused, columns):
        """Claim up to ``limit`` ready jobs of one queue pattern; rows of the jobs' ``columns``.

        Each statement is a transaction of its own.
        """
        kind, prefix = queue_patterns.parse(pattern)
        upper = prefix_upper_bound(prefix) if kind == "prefix" else None
        rows = []
        if upper is not None and time.monotonic() - _wide_prefixes.get(prefix, -WIDE_FOR) >= WIDE_FOR:
            statement = self.prefix_claim_sql(columns)
            contended = 0
            for _ in range(PREFIX_CLAIM_STATEMENTS):
                want = limit - len(rows)
                with self.cursor(prepare=True) as cursor:
                    cursor.execute(statement, {"prefix": prefix, "upper": upper, "paused": list(paused),
                                               "limit": want, "process": process_id})
                    result = cursor.fetchall()
                queues, considered = result[-1][:2]
                if queues > PREFIX_QUEUES_MAX:
                    _wide_prefixes[prefix] = time.monotonic()
                    break  # too many queues to probe each: the walk
                claimed = [row[2:] for row in result[:-1]]
                rows += claimed
                if len(rows) >= limit or not considered:
                    return rows  # its fill, or nothing of the pattern waits (but what others hold)
                if len(claimed) < considered:
                    # Others took candidates meanwhile (locked, or gone by the time they were locked).
                    contended += 1
                    if contended == PREFIX_CLAIM_TRIES:
                        break
                # Else every candidate was claimed: with fewer queues than rows wanted, more may wait
                # after the last queue's head, for the next statement.
            else:
                return rows
        condition, params = self.queue_condition(pattern)
        with self.cursor(prepare=True) as cursor:
            cursor.execute(self.claim_sql(condition, columns), [*params, list(paused), limit - len(rows), process_id])
            return rows + cursor.fetchall()

    def claim_sql(self, condition, columns):
        """The claim of one queue pattern by a walk in serving order: lock, move and read in one statement."""
        r = self.tables.ready
        picked = f"""
            picked AS (
                SELECT {r.job_id} AS picked_id FROM {r}
                -- Paused queues come as a parameter the planner can see (usually an empty array), so
                -- the plan stays an ordered walk of the index under LIMIT, whatever the table statistics.
                WHERE {condition} {r}.{r.queue_name} <> ALL(%s::text[])
                ORDER BY {r.priority} DESC, {r.job_id}
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            )"""
        j = self.tables.job
        return f"""
            WITH {picked}, {self._moved_and_claimed()}
            SELECT {j.columns(columns, qualified=True)} FROM {j}
            WHERE {j}.{j.id} = ANY(ARRAY(SELECT claimed_id FROM claimed))
            ORDER BY {j}.{j.priority} DESC, {j}.{j.id}
        """

    def prefix_claim_sql(self, columns):
        """The claim of a prefix from its queues' heads: the jobs' rows, each after two zeros, then one
        row of two counts (queues probed, candidates; see claim()) and nulls.

        Named parameters: ``prefix``, its ``upper`` bound, ``paused`` queues, ``limit``, ``process``.
        """
        j, r = self.tables.job, self.tables.ready
        # In the "C" collation a prefix is one range of sq_ready_poll_prefix, whatever the database's
        # own collation (in most, "mail-b" sorts between "maila" and "mailc"), and the first entry of
        # each queue there is its head: the row it serves first.
        name = f'{r}.{r.queue_name} COLLATE "C"'
        index_order = f"{name}, {r.priority} DESC, {r.job_id}"
        ctes = f"""
            queues AS (
                -- The pattern's queues with waiting rows and their heads, one index probe each;
                -- one more than PREFIX_QUEUES_MAX at most.
                (SELECT {r.queue_name} AS queue, {r.priority} AS head_priority, {r.job_id} AS head_id, 1 AS found
                 FROM {r} WHERE {name} >= %(prefix)s AND {name} < %(upper)s ORDER BY {index_order} LIMIT 1)
                UNION ALL
                (SELECT following.*, queues.found + 1 FROM queues CROSS JOIN LATERAL (
                    SELECT {r.queue_name}, {r.priority}, {r.job_id} FROM {r}
                    WHERE {name} > queues.queue COLLATE "C" AND {name} < %(upper)s ORDER BY {index_order} LIMIT 1
                 ) following WHERE queues.found <= {PREFIX_QUEUES_MAX})
            ), ranked AS (
                SELECT queue, head_priority, head_id,
                    row_number() OVER (ORDER BY head_priority DESC, head_id) AS head_rank
                FROM queues WHERE queue <> ALL(%(paused)s::text[])
                    AND (SELECT max(found) FROM queues) <= {PREFIX_QUEUES_MAX}
            ), threshold AS (
                -- The limit-th head (the last, with fewer queues): the rows at or before it are the
                -- pattern's first, at least one per head before it, so all the claim may take.
                SELECT head_priority AS last_priority, head_id AS last_id FROM ranked
                WHERE head_rank = LEAST(%(limit)s, (SELECT count(*) FROM ranked))
            ), candidates AS MATERIALIZED (
                -- The rows at or before the threshold, read in two index ranges per queue so that the
                -- reads stop there; the queue whose head comes n-th holds at most limit - n + 1 of the
                -- first rows (the n - 1 heads before it come before all of its rows).
                SELECT head.candidate_id FROM ranked CROSS JOIN threshold CROSS JOIN LATERAL (
                    (SELECT {r.job_id} AS candidate_id FROM {r}
                     WHERE {name} = ranked.queue COLLATE "C" AND {r.priority} > threshold.last_priority
                     ORDER BY {r.priority} DESC, {r.job_id} LIMIT %(limit)s - ranked.head_rank + 1)
                    UNION ALL
                    (SELECT {r.job_id} FROM {r}
                     WHERE {name} = ranked.queue COLLATE "C" AND {r.priority} = threshold.last_priority
                        AND {r.job_id} <= threshold.last_id
                     ORDER BY {r.priority} DESC, {r.job_id} LIMIT %(limit)s - ranked.head_rank + 1)
                ) head
                WHERE ranked.head_rank <= %(limit)s
            ), picked AS (
                -- Each found by its primary key and sorted: ordered by the columns themselves, a
                -- generic plan walked sq_ready_poll_all for them instead.
                SELECT {r.job_id} AS picked_id FROM {r}
                WHERE {r.job_id} = ANY(ARRAY(SELECT candidate_id FROM candidates))
                ORDER BY 0 - {r.priority}, {r.job_id} + 0
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )"""
        # The jobs read as the walk reads them (by primary key from an array), then one row of the
        # counts: joined to the counts, a plan made while the table was small read it whole.
        nulls = ", ".join(["NULL"] * len(columns))
        # The jobs in serving order where they are read with it (positions: the union has no table).
        read_order = ["1", "2"] + [f"{columns.index(name) + 3}{direction}" for name, direction in
                              (("priority", " DESC"), ("id", "")) if name in columns]
        return f"""
            WITH RECURSIVE {ctes}, {self._moved_and_claimed("%(process)s")}
            SELECT 0 AS queues, 0 AS candidates, {j.columns(columns, qualified=True)} FROM {j}
            WHERE {j}.{j.id} = ANY(ARRAY(SELECT claimed_id FROM claimed))
            UNION ALL
            SELECT (SELECT coalesce(max(found), 0) FROM queues), (SELECT count(*) FROM candidates), {nulls}
            ORDER BY {", ".join(read_order)}
        """

    def _moved_and_claimed(self, process="%s"):
        """The CTEs that move the ``picked`` ready rows to claimed; ``process``: the process id's placeholder."""
        r, c = self.tables.ready, self.tables.claimed
        return f"""
            moved AS (
                -- The ids as an array, here and in the read: the planner then looks each row up by its
                -- primary key. Joined to a CTE instead, it hashed whole tables while they were small
                -- enough (tens of thousands of jobs): 3.7 ms for a claim of 100 that takes 1.3.
                DELETE FROM {r} WHERE {r}.{r.job_id} = ANY(ARRAY(SELECT picked_id FROM picked))
                RETURNING {r}.{r.job_id} AS moved_id
            ), claimed AS (
                INSERT INTO {c} ({c.job_id}, {c.process_id}, {c.created_at})
                SELECT moved_id, {process}, statement_timestamp() FROM moved
                RETURNING {c.job_id} AS claimed_id
            )"""
