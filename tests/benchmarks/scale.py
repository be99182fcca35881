"""Scenarios that check Steady Queue stays flat as its tables grow, on PostgreSQL only.

harness.py runs them (``python harness.py drain_backlog --size 1000000 ...``). The tables are filled
in SQL (INSERT ... SELECT over generate_series, copying one job enqueued through the API, so every
column holds what enqueue writes), never through a million enqueue() calls. Most drains here start
with the workers up and idle, then commit the whole backlog in one statement, so neither process
start-up nor the fill is in the figure. See docs/benchmarks.rst, "As the tables grow".
"""

import os
import random
import statistics
import subprocess
import sys
import time

import harness
from harness import pending, reset_database, start_workers, stop_workers

# The database finished_kept fills once and keeps between runs (generating 10,000,000 jobs takes minutes).
KEPT_DATABASE = "bench_finished_kept"
EXECUTION_TABLES = ["steady_queue_ready_execution", "steady_queue_claimed_execution",
                    "steady_queue_blocked_execution", "steady_queue_semaphore", "steady_queue_job"]


def admin():
    import psycopg

    host, port, _name = os.environ["BENCH_PG"].split(":")
    return psycopg.connect(host=host, port=port, user=os.environ.get("PGUSER", "postgres"),
                           password=os.environ.get("PGPASSWORD", "postgres"), dbname="postgres", autocommit=True)


def execute(sql, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None


def fill(n, *, queue="'default'", finished_days_ago=None):
    """Add ``n`` jobs in two statements: ready ones, or finished that many days ago. Return the new ids' range."""
    from bench_project.tasks import noop
    from django.db import transaction

    from steady_queue.models import Job

    template = int(noop.enqueue(0).id.split("-")[0])
    # Every column copied from the template but these; the id comes from the sequence.
    override = {"token": "g", "queue_name": queue, "created_at": "now()"}
    if finished_days_ago is not None:
        for column in ("started_at", "last_attempted_at", "finished_at"):
            override[column] = f"now() - interval '{finished_days_ago} days'"
    columns = [f.column for f in Job._meta.concrete_fields if f.column != "id"]
    values = [override.get(column, f"j.{column}") for column in columns]
    with transaction.atomic():
        first = execute("SELECT last_value + 1 FROM steady_queue_job_id_seq")[0]
        execute(f"INSERT INTO steady_queue_job ({', '.join(columns)}) SELECT {', '.join(values)} "
                f"FROM steady_queue_job j, generate_series(1, %s) g WHERE j.id = %s", [n, template])
        last = execute("SELECT max(id) FROM steady_queue_job")[0]
        if finished_days_ago is None:
            execute("INSERT INTO steady_queue_ready_execution (job_id, queue_name, priority, created_at) "
                    "SELECT id, queue_name, priority, created_at FROM steady_queue_job WHERE id BETWEEN %s AND %s",
                    [first, last])
        Job.objects.filter(pk=template).delete()
    return first, last


def vacuum_analyze():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def dead_tuples():
    """Dead rows of the execution tables (pg_stat_user_tables), as autovacuum sees them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables "
                       "WHERE relname = ANY(%s)", [EXECUTION_TABLES])
        return {name: {"dead": dead, "live": live, "autovacuums": runs} for name, dead, live, runs in cursor}


def wait_for_workers(count, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if execute("SELECT count(*) FROM steady_queue_process WHERE kind = 'worker'")[0] >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"{count} workers did not register within {timeout} s")


def measure_drain(total, window):
    """Tasks done per second from now until the queue is empty or ``window`` seconds have passed.

    Also the rates of the first and the last third of that time: a drain that slows as it goes
    (dead rows piling up ahead of the claim) shows there before it shows in the whole.
    """
    from django.db import connection

    connection.close()
    t0, left = time.monotonic(), total
    samples = [(t0, total)]
    while left and time.monotonic() - t0 < window:
        time.sleep(0.05 if left < 50_000 else 0.5)
        left = pending()
        samples.append((time.monotonic(), left))
    elapsed = time.monotonic() - t0

    def rate(start, end):
        (ta, la), (tb, lb) = samples[start], samples[end]
        return (la - lb) / (tb - ta) if tb > ta else None

    third = len(samples) // 3
    return {"per_second": (total - left) / elapsed, "done": total - left, "seconds": elapsed,
            "first_third": rate(0, third) if third else None, "last_third": rate(-third - 1, -1) if third else None}


# The per-table autovacuum settings docs/benchmarks.rst recommends, applied when BENCH_AUTOVACUUM=queue.
QUEUE_AUTOVACUUM = {
    "steady_queue_ready_execution": "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, "
    "autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000, "
    "autovacuum_vacuum_cost_delay = 0",
    "steady_queue_claimed_execution": "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_vacuum_cost_delay = 0",
    "steady_queue_blocked_execution": "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_vacuum_cost_delay = 0",
    "steady_queue_semaphore": "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_vacuum_cost_delay = 0",
    "steady_queue_job": "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.01",
}


def apply_autovacuum_settings():
    if os.environ.get("BENCH_AUTOVACUUM") == "queue":
        for table, options in QUEUE_AUTOVACUUM.items():
            execute(f"ALTER TABLE {table} SET ({options})")


def drain_idle_workers(args, size, queue="'default'"):
    """Start the workers on an empty queue, commit ``size`` ready tasks at once, and measure."""
    apply_autovacuum_settings()
    workers = start_workers(args)
    try:
        wait_for_workers(args.processes)
        fill(size, queue=queue)
        result = measure_drain(size, args.window)
        result["dead_tuples"] = dead_tuples()
    finally:
        stop_workers(workers)
    return result


def scenario_drain_backlog(args):
    """The drain rate with ``size`` tasks waiting (a million): the claim reads the head of a deep index."""
    reset_database()
    return drain_idle_workers(args, args.size)


def scenario_many_queues(args):
    """``n`` tasks over 1,000 queues (q000 ... q999), the workers given ten prefixes (q0* ... q9*)."""
    reset_database()
    args.queues = args.queues or ",".join(f"q{digit}*" for digit in range(10))
    return drain_idle_workers(args, args.n, queue="'q' || lpad(mod(g, 1000)::text, 3, '0')")


def scenario_wide(args):
    """The plain drain with many processes and threads (16 x 10): SKIP LOCKED under contention."""
    reset_database()
    return drain_idle_workers(args, args.n)


def kept_database(size):
    """Point BENCH_PG at a database holding ``size`` finished jobs and no other, made once and kept."""
    host, port, _name = os.environ["BENCH_PG"].split(":")
    name = f"{KEPT_DATABASE}_{size}"
    os.environ["BENCH_PG"] = f"{host}:{port}:{name}"
    # Kept for 100 years: the dispatcher must not clear them while they are measured.
    os.environ["BENCH_SETTINGS"] = '{"clear_finished_jobs_after": 3153600000}'
    with admin() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f"CREATE DATABASE {name}")
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    execute("CREATE TABLE IF NOT EXISTS bench_kept (size bigint, top bigint)")
    top = execute("SELECT max(top) FROM bench_kept WHERE size = %s", [size])[0]
    if top is None:
        execute("TRUNCATE steady_queue_job, bench_kept RESTART IDENTITY CASCADE")
        started = time.monotonic()
        top = fill(size, finished_days_ago=0)[1]
        execute("INSERT INTO bench_kept VALUES (%s, %s)", [size, top])
        print(f"filled {size:,} finished jobs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    # What the last run added goes, and its ids come back: every run sees the same tables.
    execute("DELETE FROM steady_queue_job WHERE id > %s", [top])
    execute("SELECT setval('steady_queue_job_id_seq', %s)", [top])
    vacuum_analyze()


def enqueue_and_results(args):
    """Enqueue ``n`` tasks one at a time, drain them with two workers, then read 2,000 of the results."""
    from bench_project.tasks import noop
    from django.tasks import default_task_backend

    from steady_queue.models import Job
    from steady_queue.models.job import result_id

    noop.enqueue(0)
    started = time.perf_counter()
    for i in range(args.n // 10):
        noop.enqueue(i)
    enqueue_rate = (args.n // 10) / (time.perf_counter() - started)
    harness.enqueue_setup(noop, args.n)
    total = pending()
    workers = start_workers(args)
    try:
        while pending() == total:
            time.sleep(0.005)
        drain = measure_drain(total, 600)
    finally:
        stop_workers(workers)
    # Results of finished tasks across the whole table, the oldest included.
    top = execute("SELECT max(id) FROM steady_queue_job")[0]
    ids = random.Random(7).sample(range(1, top + 1), 2000)
    jobs = list(Job.objects.filter(pk__in=ids, finished_at__isnull=False).only("pk", "token"))
    timings = []
    for job in jobs:
        started = time.perf_counter()
        default_task_backend.get_result(result_id(job)).status  # noqa: B018
        timings.append((time.perf_counter() - started) * 1000)
    return {"drain": drain["per_second"], "enqueue": enqueue_rate, "get_result_ms": statistics.median(timings)}


def scenario_finished_kept(args):
    """Drain, enqueue and get_result with ``size`` finished jobs kept, as a share of an empty database."""
    reset_database()
    empty = enqueue_and_results(args)
    kept_database(args.size)
    full = enqueue_and_results(args)
    return {
        "drain_share": full["drain"] / empty["drain"],
        "enqueue_share": full["enqueue"] / empty["enqueue"],
        "get_result_share": full["get_result_ms"] / empty["get_result_ms"],
        "empty": empty, "kept": full,
    }


def scenario_drain_while_clearing(args):
    """A drain while the dispatcher clears ``size`` finished jobs, as a share of the same drain without them."""
    reset_database()
    fill(args.n)
    quiet = timed_drain(args)
    from django.db import connections

    connections.close_all()
    reset_database()
    fill(args.size, finished_days_ago=2)  # older than clear_finished_jobs_after (a day by default)
    fill(args.n)
    clearing = timed_drain(args)
    left = execute("SELECT count(*) FROM steady_queue_job WHERE finished_at < now() - interval '1 day'")[0]
    return {"share": clearing["per_second"] / quiet["per_second"], "quiet": quiet, "clearing": clearing,
            "not_yet_cleared": left}


def timed_drain(args):
    """The workers (and the dispatcher, which clears) start on a full queue; measured from the first task done."""
    from django.db import connection

    connection.close()
    total = pending()
    workers = start_workers(args)
    try:
        while pending() == total:
            time.sleep(0.01)
        result = measure_drain(pending(), args.window)
        result["dead_tuples"] = dead_tuples()
    finally:
        stop_workers(workers)
    return result


if __name__ == "__main__":
    subprocess.run([sys.executable, "harness.py", *sys.argv[1:]], check=True)
