"""One measurement of one library, run inside that library's virtual environment.

    python harness.py SCENARIO [--n N] [--processes P] [--threads T] [--prefetch K]

Prints one JSON object. run.py drives it; see docs/benchmarks.rst.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_project.settings")
LIBRARY = os.environ.get("BENCH_LIBRARY", "steady-queue")

PENDING_SQL = {
    # Blocked tasks too: a limited drain has most of its tasks blocked, and they are work left.
    "steady-queue": "SELECT (SELECT count(*) FROM steady_queue_ready_execution)"
    " + (SELECT count(*) FROM steady_queue_claimed_execution)"
    " + (SELECT count(*) FROM steady_queue_scheduled_execution)"
    " + (SELECT count(*) FROM steady_queue_blocked_execution)",
    "steady-queue-0.3.0": "SELECT (SELECT count(*) FROM steady_queue_readyexecution)"
    " + (SELECT count(*) FROM steady_queue_claimedexecution)"
    " + (SELECT count(*) FROM steady_queue_scheduledexecution)",
    "django-tasks-db": "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status IN ('READY', 'RUNNING')",
}


def reset_database():
    if "django" in sys.modules:
        from django.db import connections

        # A scenario that resets more than once: its connections would name a dropped database.
        connections.close_all()
    if os.environ.get("BENCH_DB", "").startswith(("postgres", "pgbouncer")):
        import psycopg

        host, port, name = os.environ["BENCH_PG"].split(":")
        with psycopg.connect(host=host, port=port, user=os.environ.get("PGUSER", "postgres"),
                             password=os.environ.get("PGPASSWORD", "postgres"), dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    elif os.environ.get("BENCH_DB") == "mariadb":
        import MySQLdb

        host, port, name = os.environ["BENCH_MYSQL"].split(":")
        conn = MySQLdb.connect(host=host, port=int(port), user=os.environ.get("MYSQL_USER", "steady_queue"),
                               password=os.environ.get("MYSQL_PASSWORD", "steady_queue"))
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
            conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        finally:
            conn.close()
    else:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(os.environ["BENCH_SQLITE"] + suffix).unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pending():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(PENDING_SQL[LIBRARY])
        value = cursor.fetchone()[0]
    # The connection stays open: reconnecting 20 times a second took a fifth of a core from the run.
    return value


def enqueue_setup(task, n):
    """Fill the queue quickly before a run (not measured)."""
    from django.db import transaction

    if hasattr(task, "enqueue_many"):
        for start in range(0, n, 1000):
            task.enqueue_many([(i,) for i in range(start, min(n, start + 1000))])
        return
    for start in range(0, n, 500):
        with transaction.atomic():
            for i in range(start, min(n, start + 500)):
                task.enqueue(i)


def start_workers(args):
    from django.db import connections

    connections.close_all()
    manage = [sys.executable, str(HERE / "manage.py")]
    if LIBRARY == "django-tasks-db":
        command = [*manage, "db_worker", "--queue-name", "*", "--interval", "0.1", "--no-startup-delay"]
        return [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(args.processes)]
    if LIBRARY == "steady-queue":
        # Only what the run asks for: a configuration left out is measured at Steady Queue's defaults.
        given = {"threads": args.threads, "prefetch": args.prefetch,
                 "queues": args.queues and args.queues.split(",")}
        worker = {"processes": args.processes, **{key: value for key, value in given.items() if value is not None}}
    else:
        worker = {"processes": args.processes, "threads": args.threads or 3, "polling_interval": 0.1}
    # BENCH_SETTINGS: other STEADY_QUEUE keys a scenario sets (scale.py's kept finished jobs).
    os.environ["BENCH_CONFIG"] = json.dumps({"workers": [worker], **json.loads(os.environ.get("BENCH_SETTINGS", "{}"))})
    return [subprocess.Popen([*manage, "steady_queue"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]


def stop_workers(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def tree_cpu_seconds(roots):
    """CPU time (user + system) of the given processes and all their descendants, from /proc."""
    children, ticks = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    total, stack = 0, list(roots)
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def scenario_enqueue_single(args):
    reset_database()
    from bench_project.tasks import noop

    noop.enqueue(0)  # warm up: connection, imports
    started = time.perf_counter()
    for i in range(args.n):
        noop.enqueue(i)
    return {"per_second": args.n / (time.perf_counter() - started)}


def scenario_enqueue_bulk(args):
    reset_database()
    from bench_project.tasks import noop

    if not hasattr(noop, "enqueue_many"):
        return {"per_second": None, "note": "no bulk enqueue API"}
    noop.enqueue_many([(0,)])
    started = time.perf_counter()
    for start in range(0, args.n, 1000):
        noop.enqueue_many([(i,) for i in range(start, min(args.n, start + 1000))])
    return {"per_second": args.n / (time.perf_counter() - started)}


def drain(args, task_name):
    reset_database()
    from bench_project import tasks

    enqueue_setup(getattr(tasks, task_name), args.n)
    workers = start_workers(args)
    roots = [w.pid for w in workers]
    try:
        deadline = time.monotonic() + args.timeout
        while (left := pending()) == args.n and time.monotonic() < deadline:
            time.sleep(0.005)
        first_left, t0, cpu0 = left, time.monotonic(), tree_cpu_seconds(roots)
        while left and time.monotonic() < deadline:
            # Not more often: counting the tables takes the database's time from the workers.
            time.sleep(0.05)
            left = pending()
        t1, cpu1 = time.monotonic(), tree_cpu_seconds(roots)
    finally:
        stop_workers(workers)
    done = first_left - left
    return {
        "per_second": done / (t1 - t0) if t1 > t0 else None,
        "cpu_ms_per_task": (cpu1 - cpu0) * 1000 / done if done else None,
        "unfinished": left,
    }


def scenario_drain(args):
    return drain(args, "noop")


def scenario_drain_limited(args):
    return drain(args, "limited_noop")


def scenario_drain_guarded(args):
    """Tasks with max_attempts and a timeout, as a share of the plain drain: three pairs, alternating.

    A share of two single runs measured minutes apart is mostly the machine's noise (single drains
    differ by up to a third); run in turns, the two drains meet the same load.
    """
    plain, guarded = [], []
    for _ in range(3):
        plain.append(drain(args, "noop")["per_second"])
        guarded.append(drain(args, "guarded_noop")["per_second"])
    if None in plain or None in guarded:  # a drain that never started: no share to give
        return {"share": None, "runs": {"plain": plain, "guarded": guarded}}
    return {
        "share": statistics.median(guarded) / statistics.median(plain),
        "per_second": statistics.median(guarded),
        "plain_per_second": statistics.median(plain),
        "runs": {"plain": plain, "guarded": guarded},
    }


def scenario_sleep(args):
    return drain(args, "sleep_50ms")


def scenario_latency(args):
    reset_database()
    from bench_project.tasks import probe

    probe_file = Path(tempfile.mkstemp(prefix="bench-probe-")[1])
    os.environ["BENCH_PROBE_FILE"] = str(probe_file)
    workers = start_workers(args)
    try:
        probe.enqueue("warm-up")
        deadline = time.monotonic() + 60
        while "warm-up" not in probe_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        enqueued = {}
        for i in range(args.n):
            probe.enqueue(str(i))
            enqueued[str(i)] = time.time()
            time.sleep(0.05)  # an idle worker each time
        deadline = time.monotonic() + 60
        while len(probe_file.read_text().splitlines()) < args.n + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop_workers(workers)
    started = dict(line.split() for line in probe_file.read_text().splitlines())
    probe_file.unlink()
    latencies = sorted((float(started[t]) - at) * 1000 for t, at in enqueued.items() if t in started)
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "missing": args.n - len(latencies),
    }


def scenario_idle(args):
    """SQL statements per second the database receives from an idle host (needs pg_stat_statements)."""
    reset_database()
    import psycopg

    host, port, name = os.environ["BENCH_PG"].split(":")
    admin = psycopg.connect(host=host, port=port, user=os.environ.get("PGUSER", "postgres"),
                            password=os.environ.get("PGPASSWORD", "postgres"), dbname="postgres", autocommit=True)
    count = (
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = %s"
    )
    workers = start_workers(args)
    try:
        time.sleep(5)  # let start-up settle
        before = admin.execute(count, [name]).fetchone()[0]
        time.sleep(args.seconds)
        after = admin.execute(count, [name]).fetchone()[0]
    finally:
        stop_workers(workers)
        admin.close()
    return {"per_second": float(after - before) / args.seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--prefetch", type=lambda value: value if value == "auto" else int(value))
    parser.add_argument("--queues", help="the workers' queue patterns, comma-separated")
    parser.add_argument("--size", type=int, default=1_000_000, help="the table a scale scenario fills")
    parser.add_argument("--window", type=float, default=20, help="seconds a scale scenario's drain is measured")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    import scale

    name = f"scenario_{args.scenario}"
    result = (globals().get(name) or getattr(scale, name))(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
