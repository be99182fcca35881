"""The console's pages at 1,000,000 jobs on PostgreSQL: median and worst milliseconds per page.

    python tests/benchmarks/console.py [--jobs 1000000] [--runs 7] [--database sq_console_bench] [--regenerate]

Generates the jobs in SQL (INSERT ... SELECT over generate_series: about a minute for a million)
into a database of its own on the PostgreSQL server the tests use (PGHOST, PGPORT, PGUSER,
PGPASSWORD; 127.0.0.1:5432 postgres/postgres by default), and keeps them for the next run unless
--regenerate. The mix, for a million: 200,000 ready tasks over 20 queues (one queue holds about
half of them), 50,000 scheduled, 20,000 blocked over 500 keys, 300 in progress on 10 workers,
30,000 failed over the last week and the rest finished (one in fifty cancelled), of which about
12,000 ended in the last hour, every minute of it. Then renders each page as a logged-in superuser through Django's
test client (the whole request: middleware, session, queries, template), once to warm up and
--runs times measured, and prints one line per page. The target is 200 ms per page.
"""

import argparse
import os
import statistics
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TARGET_MS = 200

# Shares of the jobs, by state, in the order of their ids (the oldest first); finished takes the rest.
SHARES = [("failed", 0.03), ("claimed", 0.0003), ("blocked", 0.02), ("scheduled", 0.05), ("ready", 0.2)]


def configure(database):
    os.environ["STEADY_QUEUE_TEST_DB"] = "postgres"
    os.environ["PGDATABASE"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import psycopg

    with psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"), port=os.environ.get("PGPORT", "5432"),
        user=os.environ.get("PGUSER", "postgres"), password=os.environ.get("PGPASSWORD", "postgres"),
        dbname="postgres", autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ranges(total):
    """(state, first id, last id) for each state: finished first (the oldest), then SHARES in order."""
    sizes = {state: int(total * share) for state, share in SHARES}
    first = total - sum(sizes.values()) + 1
    result = [("finished", 1, first - 1)]
    for state, _ in SHARES:
        result.append((state, first, first + sizes[state] - 1))
        first += sizes[state]
    return result


def generate(total):
    """Empty the queue's tables and fill them with ``total`` jobs (see the module's docstring)."""
    from django.db import connection

    bounds = {state: (low, high) for state, low, high in ranges(total)}
    f_low, f_high = bounds["finished"]
    # The last 12,000 finished jobs (scaled) ended in the last hour; the others over the week before.
    recent = f_high - max(int(total * 0.012), 60)
    # 20 queues for the waiting tasks, skewed: queue_00 holds about half, the others share the rest.
    queue = "'queue_' || lpad((CASE WHEN g % 2 = 0 THEN 0 ELSE g % 19 + 1 END)::text, 2, '0')"
    error = (
        """jsonb_build_array(jsonb_build_object('exception_class_path', 'builtins.ValueError',"""
        """ 'message', 'boom ' || g, 'traceback', 'Traceback (most recent call last):\n  ...\nValueError: boom'))"""
    )
    statements = [
        "TRUNCATE steady_queue_job, steady_queue_process, steady_queue_recurring_task, steady_queue_pause,"
        " steady_queue_semaphore, steady_queue_recurring_execution RESTART IDENTITY CASCADE",
        "SELECT setseed(0.14)",
        """INSERT INTO steady_queue_process (id, kind, name, pid, hostname, metadata, created_at, last_heartbeat_at)
            SELECT g, CASE WHEN g = 1 THEN 'supervisor' WHEN g = 12 THEN 'dispatcher' ELSE 'worker' END,
                   'process-' || g, 1000 + g, 'host-' || (g % 3), '{"queues": ["*"], "threads": 30}',
                   now() - interval '1 day', now() - CASE WHEN g = 11 THEN interval '1 hour' ELSE interval '5 s' END
            FROM generate_series(1, 12) g""",
        # Every job, then the state rows of those that have one.
        f"""INSERT INTO steady_queue_job (id, token, task_path, queue_name, priority, backend, arguments,
                scheduled_at, concurrency_key, concurrency_limit, concurrency_duration, max_attempts, retry_lost,
                created_at, cancelled_at, started_at, last_attempted_at, finished_at, worker_ids, errors, return_value)
            SELECT g, g, 'shop.tasks.task_' || (g % 12), {queue}, g % 3, 'default',
                   jsonb_build_object('args', jsonb_build_array(g), 'kwargs', '{{}}'::jsonb),
                   CASE WHEN g BETWEEN {bounds['scheduled'][0]} AND {bounds['scheduled'][1]}
                        THEN now() + (g % 3600) * interval '1 s' END,
                   CASE WHEN g BETWEEN {bounds['blocked'][0]} AND {bounds['blocked'][1]} THEN 'key_' || (g % 500) END,
                   CASE WHEN g BETWEEN {bounds['blocked'][0]} AND {bounds['blocked'][1]} THEN 1 END,
                   CASE WHEN g BETWEEN {bounds['blocked'][0]} AND {bounds['blocked'][1]} THEN interval '3 min' END,
                   1, false, t.created, CASE WHEN g <= {f_high} AND g % 50 = 0 THEN t.ended END,
                   CASE WHEN g <= {bounds['claimed'][1]} THEN t.ended END,
                   CASE WHEN g <= {bounds['claimed'][1]} THEN t.ended END,
                   CASE WHEN g <= {bounds['failed'][1]} THEN t.ended END,
                   '[]'::jsonb,
                   CASE WHEN g BETWEEN {bounds['failed'][0]} AND {bounds['failed'][1]} THEN {error}
                        ELSE '[]'::jsonb END,
                   NULL
            FROM generate_series(1, {total}) g,
            LATERAL (SELECT
                CASE WHEN g > {recent} AND g <= {f_high}
                     THEN now() - ({f_high} - g) * interval '3599 s' / {f_high - recent}
                     WHEN g <= {f_high} THEN now() - interval '1 hour' - ({recent} - g) * interval '7 days' / {recent}
                     WHEN g <= {bounds['failed'][1]}
                     THEN now() - ({bounds['failed'][1]} - g) * interval '7 days' / {bounds['failed'][1] - f_high}
                     ELSE now() - random() * interval '50 min' END AS ended) e,
            LATERAL (SELECT e.ended - random() * interval '2 s' AS created) t0,
            LATERAL (SELECT t0.created AS created, e.ended AS ended) t""",
        f"""INSERT INTO steady_queue_failed_execution (job_id, queue_name, task_path, created_at)
            SELECT id, queue_name, task_path, finished_at FROM steady_queue_job
            WHERE id BETWEEN {bounds['failed'][0]} AND {bounds['failed'][1]}""",
        f"""INSERT INTO steady_queue_claimed_execution (job_id, process_id, created_at)
            SELECT id, 2 + id % 10, now() - interval '10 s'
            FROM steady_queue_job WHERE id BETWEEN {bounds['claimed'][0]} AND {bounds['claimed'][1]}""",
        f"""INSERT INTO steady_queue_blocked_execution (job_id, queue_name, priority, concurrency_key, expires_at,
                created_at)
            SELECT id, queue_name, priority, concurrency_key, now() + interval '3 min', created_at
            FROM steady_queue_job WHERE id BETWEEN {bounds['blocked'][0]} AND {bounds['blocked'][1]}""",
        f"""INSERT INTO steady_queue_scheduled_execution (job_id, queue_name, priority, scheduled_at, created_at)
            SELECT id, queue_name, priority, scheduled_at, created_at
            FROM steady_queue_job WHERE id BETWEEN {bounds['scheduled'][0]} AND {bounds['scheduled'][1]}""",
        f"""INSERT INTO steady_queue_ready_execution (job_id, queue_name, priority, created_at)
            SELECT id, queue_name, priority, created_at
            FROM steady_queue_job WHERE id BETWEEN {bounds['ready'][0]} AND {bounds['ready'][1]}""",
        """INSERT INTO steady_queue_semaphore (key, value, expires_at, created_at, updated_at)
            SELECT 'key_' || g, 0, now() + interval '3 min', now(), now() FROM generate_series(0, 499) g""",
        """INSERT INTO steady_queue_recurring_task (key, schedule, task_path, arguments, queue_name, priority,
                description, static, created_at, updated_at)
            SELECT 'nightly-' || g, '0 3 * * *', 'shop.tasks.task_' || g, '{"args": [], "kwargs": {}}',
                   'queue_00', 0, '', true, now(), now()
            FROM generate_series(1, 5) g""",
        # Ticks of each recurring task, each with the finished job it enqueued.
        """INSERT INTO steady_queue_recurring_execution (task_key, run_at, job_id, created_at)
            SELECT 'nightly-' || (g % 5 + 1), now() - g * interval '1 day', g * 7, now()
            FROM generate_series(1, 200) g""",
        "SELECT setval(pg_get_serial_sequence('steady_queue_job', 'id'), (SELECT max(id) FROM steady_queue_job))",
        "SELECT setval(pg_get_serial_sequence('steady_queue_process', 'id'), 12)",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    # What autovacuum does after a bulk load: statistics for the planner, the visibility map for
    # index-only scans.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def job_count():
    from steady_queue.models import Job

    return Job.objects.count()


def pages():
    """(label, URL) of every page; a failed task's page stands for the task page."""
    from django.urls import reverse

    from steady_queue.console.statuses import STATUSES
    from steady_queue.models import FailedExecution

    console = "steady_queue_console:"
    result = [("overview", reverse(console + "overview")), ("queues", reverse(console + "queues"))]
    result += [(f"tasks: {slug}", reverse(console + "jobs", args=[slug])) for slug in STATUSES]
    result += [
        ("tasks: failed, filtered by task", reverse(console + "jobs", args=["failed"]) + "?task=shop.tasks.task_1"),
        ("tasks: ready, filtered by queue", reverse(console + "jobs", args=["ready"]) + "?queue=queue_03"),
        ("a task", reverse(console + "job", args=[FailedExecution.objects.order_by("-job_id")[0].job_id])),
        ("bulk retry confirmation", reverse(console + "bulk", args=["failed", "retry"])),
        ("workers", reverse(console + "workers")),
        ("recurring tasks", reverse(console + "recurring")),
    ]
    return result


def measure(run, runs):
    run()  # warm-up: the first request compiles templates and fills caches
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), max(timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="How many jobs the tables hold.")
    parser.add_argument("--runs", type=int, default=7, help="Measured renders of each page.")
    parser.add_argument("--database", default="sq_console_bench", help="The PostgreSQL database to fill.")
    parser.add_argument("--regenerate", action="store_true", help="Generate the jobs even if the count matches.")
    options = parser.parse_args()
    configure(options.database)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    if options.regenerate or job_count() != options.jobs:
        start = time.perf_counter()
        generate(options.jobs)
        print(f"generated {options.jobs:,} jobs in {time.perf_counter() - start:.0f} s")
    settings.ALLOWED_HOSTS = ["testserver"]
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", "admin@example.com", "x"
    )
    client = Client()
    client.force_login(user)

    def get(url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return run

    rows = [(label, *measure(get(url), options.runs)) for label, url in pages()]
    from django.core.management import get_commands

    if "steady_queue_status" in get_commands():
        status = lambda: call_command("steady_queue_status", stdout=StringIO())  # noqa: E731
        rows.append(("manage.py steady_queue_status", *measure(status, options.runs)))
    try:
        import steady_queue.console.metrics  # noqa: F401
    except Exception:  # ImproperlyConfigured without prometheus-client
        pass
    else:
        rows.append(("metrics (Prometheus scrape)", *measure(metrics_scrape(user), options.runs)))

    print(f"{options.jobs:,} jobs, PostgreSQL, {options.runs} runs per page (ms; target {TARGET_MS})")
    width = max(len(label) for label, *_ in rows)
    print(f"{'page':<{width}}  {'median':>7}  {'max':>7}")
    for label, median, worst in rows:
        flag = "" if worst < TARGET_MS else "  over the target"
        print(f"{label:<{width}}  {median:7.1f}  {worst:7.1f}{flag}")


def metrics_scrape(user):
    from django.test import RequestFactory

    from steady_queue.console.metrics import metrics

    request = RequestFactory().get("/metrics")
    request.user = user

    def run():
        response = metrics(request)
        assert response.status_code == 200, response.status_code
    return run


if __name__ == "__main__":
    main()
