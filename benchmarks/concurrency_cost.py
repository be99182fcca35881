"""Throughput of a concurrency-limited task against an unlimited one, on one database.

    python benchmarks/concurrency_cost.py [--db sqlite|postgres] [--tasks 3000] [--keys 500]

Enqueues the same number of no-op tasks three ways (no limit; a limit of 1 over many keys, so the
limit itself never makes tasks wait; a limit of 1 over few keys, so most tasks wait blocked), drains
each with `manage.py steady_queue` (2 processes x 4 threads) and prints tasks per second.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = {"workers": [{"processes": 2, "threads": 4, "polling_interval": 0.05}],
          "dispatchers": [{"polling_interval": 0.2}]}


def setup(db):
    os.environ["BENCH_DB"] = db
    os.environ["BENCH_CONFIG"] = json.dumps(CONFIG)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_project.settings")
    sys.path.insert(0, str(HERE))
    if db == "postgres":
        import psycopg

        with psycopg.connect(host="127.0.0.1", user=os.environ.get("PGUSER", "postgres"),
                             password=os.environ.get("PGPASSWORD", "postgres"), dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS steady_queue_bench")
            conn.execute("CREATE DATABASE steady_queue_bench")
    else:
        Path(HERE / "bench.sqlite3").unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drain(label, enqueue):
    from django.db import connection

    from steady_queue.models import Job

    Job.objects.all().delete()
    enqueue()
    total = Job.objects.count()
    connection.close()
    supervisor = subprocess.Popen([sys.executable, str(HERE / "manage.py"), "steady_queue"], env=os.environ)
    started = time.monotonic()
    while Job.objects.filter(finished_at__isnull=True).exists():
        time.sleep(0.05)
        connection.close()
    elapsed = time.monotonic() - started
    supervisor.terminate()
    supervisor.wait()
    print(f"{label:<42} {total:>6} tasks {elapsed:7.2f} s {total / elapsed:9.0f} tasks/s")
    return total / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--keys", type=int, default=500)
    args = parser.parse_args()
    setup(args.db)
    from bench_project.tasks import limited_noop, noop

    n = args.tasks
    print(f"database: {args.db}; workers: 2 processes x 4 threads (includes process start-up, ~1 s)")
    plain = drain("no limit", lambda: noop.enqueue_many([(i,) for i in range(n)]))
    many = drain(f"limit 1 over {args.keys} keys", lambda: limited_noop.enqueue_many(
        [(i, f"k{i % args.keys}") for i in range(n)]))
    few = drain("limit 1 over 8 keys (mostly blocked)", lambda: limited_noop.enqueue_many(
        [(i, f"k{i % 8}") for i in range(n)]))
    print(f"cost of the limit: {plain / many:.2f}x (many keys), {plain / few:.2f}x (8 keys)")


if __name__ == "__main__":
    main()
