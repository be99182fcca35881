"""The chaos suite: real supervisors killed, restarted and starved, and every task accounted for.

    python tests/chaos/run.py [--db sqlite|postgres|mariadb|pgbouncer] [--quick]

Prints one table of figures per scenario and database, and exits non-zero when a target is missed
(a task missing, stuck, run twice when it must not, a limit exceeded, a tick enqueued twice...).
``--quick`` is the subset CI runs. See docs/reliability.rst.
"""

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "tests" / "manage.py"
CONFIG = {
    "process_heartbeat_interval": 1,
    "process_alive_threshold": 4,
    "shutdown_timeout": 2,
    "workers": [{"processes": 2, "threads": 4, "polling_interval": 0.1}],
    "dispatchers": [{"polling_interval": 0.2, "concurrency_maintenance_interval": 2}],
}

PREFIX_CONFIG = {**CONFIG, "workers": [{**CONFIG["workers"][0], "queues": ["def*", "*"]}]}


def configure(database):
    os.environ["STEADY_QUEUE_TEST_DB"] = database
    os.environ["STEADY_QUEUE_TEST_SUBPROCESS"] = "1"
    os.environ["STEADY_QUEUE_TEST_DB_NAME"] = "chaos.sqlite3" if database == "sqlite" else "steady_queue_chaos"
    os.environ["STEADY_QUEUE_TEST_CONFIG"] = json.dumps(CONFIG)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    sys.path.insert(0, str(ROOT))
    if database == "pgbouncer":
        # PostgreSQL through PgBouncer in transaction mode, the listener direct (tests/settings.py).
        from tests import pgbouncer

        pgbouncer.start()
        os.environ["STEADY_QUEUE_TEST_DB_NAME"] = "steady_queue_chaos_pgbouncer"
    import django

    django.setup()


def reset_database():
    """Every database of the run empty and migrated: the application's and, with two, the queue's."""
    from django.db import DEFAULT_DB_ALIAS

    from steady_queue.db import queue_database

    for alias in dict.fromkeys([DEFAULT_DB_ALIAS, queue_database()]):
        _reset_one(alias)


def _reset_one(alias):
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    database = settings.DATABASES[alias]
    if database["ENGINE"].endswith("sqlite3"):
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(database["NAME"]) + suffix).unlink(missing_ok=True)
    elif database["ENGINE"].endswith("mysql"):
        import MySQLdb

        conn = MySQLdb.connect(host=database["HOST"], port=int(database["PORT"]), user=database["USER"],
                               password=database["PASSWORD"])
        try:
            cursor = conn.cursor()
            cursor.execute(f"DROP DATABASE IF EXISTS `{database['NAME']}`")
            cursor.execute(f"CREATE DATABASE `{database['NAME']}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(host=database["HOST"], port=database["PORT"], user=database["USER"],
                             password=database["PASSWORD"], dbname="postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database['NAME']} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {database['NAME']}")
    call_command("migrate", database=alias, verbosity=0)


def Supervisor(log_dir, config=None, env=None):
    """A real ``manage.py steady_queue`` with the chaos configuration (tests.runtime does the rest)."""
    from tests.runtime import SupervisorProcess

    return SupervisorProcess(log_dir, config, ("-v", "1"), env, defaults=CONFIG)


def unfinished_count():
    from django.db import connections

    from steady_queue.models import BlockedExecution, ClaimedExecution, ReadyExecution, ScheduledExecution

    count = sum(m.objects.count() for m in (ReadyExecution, ClaimedExecution, ScheduledExecution, BlockedExecution))
    connections.close_all()
    return count


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def account(results):
    """Where every enqueued task ended: the figures of a run."""
    from django.tasks import default_task_backend
    from django.tasks.exceptions import TaskResultDoesNotExist

    from steady_queue.exceptions import ProcessLostError
    from tests.testapp.models import TaskRun

    figures = Counter()
    for result in results:
        try:
            outcome = default_task_backend.get_result(result.id)
        except TaskResultDoesNotExist:
            figures["missing"] += 1
            continue
        if outcome.status == "SUCCESSFUL":
            figures["succeeded"] += 1
        elif outcome.status == "FAILED":
            lost = any(issubclass(e.exception_class, ProcessLostError) for e in outcome.errors[-1:])
            figures["failed: process died" if lost else "failed: the task raised"] += 1
        else:
            figures[f"still {outcome.status}"] += 1
    finished = Counter(TaskRun.objects.filter(finished_at__isnull=False).values_list("label", flat=True))
    figures["finished more than once"] = sum(1 for n in finished.values() if n > 1)
    return figures


def account_retries(results):
    """Tasks with retries: no more attempts than allowed, no attempt run twice, none lost."""
    from django.tasks import default_task_backend
    from django.tasks.exceptions import TaskResultDoesNotExist

    from tests.testapp.models import TaskRun

    figures = Counter()
    for result in results:
        try:
            outcome = default_task_backend.get_result(result.id)
        except TaskResultDoesNotExist:
            figures["retrying: missing"] += 1
            continue
        figures[f"retrying: {outcome.status.lower()}"] += 1
        figures["retrying: more attempts than allowed"] += outcome.attempts > 3
        figures["retrying: retried"] += len(outcome.errors) > 0 and outcome.status == "SUCCESSFUL"
    started = Counter(TaskRun.objects.filter(label__contains="#").values_list("label", flat=True))
    figures["retrying: an attempt run twice"] = sum(1 for n in started.values() if n > 1)
    return figures


def max_overlap_per_key():
    from django.utils import timezone

    from steady_queue.models import Job
    from tests.testapp.models import TaskRun

    ends = {}
    for job in Job.objects.filter(task_path__endswith="chaos_limited"):
        key, label = job.arguments["args"][0], job.arguments["args"][1]
        ends[f"{key}:{label}"] = job.finished_at
    intervals = defaultdict(list)
    for label, started, finished in TaskRun.objects.values_list("label", "started_at", "finished_at"):
        if label in ends:
            # A run cut short by a kill ends, at the latest, when its failure was recorded.
            intervals[label.split(":")[0]].append((started, finished or ends[label] or timezone.now()))
    peaks = {}
    for key, spans in intervals.items():
        events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda e: (e[0], e[1]))
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        peaks[key] = peak
    return max(peaks.values()) if peaks else 0


def scenario_kills(log_dir, quick):
    """Scenarios 1 and 4: random SIGKILLs of workers and supervisors while tasks (some limited) run."""
    from steady_queue.models import Process
    from tests.testapp import tasks

    reset_database()
    n, chaos_seconds = (600, 12) if quick else (10000, 60)
    rng = random.Random(7)
    plain = [(f"t{i}", round(rng.uniform(0, 0.05), 3), rng.random() < 0.05) for i in range(int(n * 0.85))]
    limited = [(f"k{i % 5}", f"l{i}", 0.01) for i in range(n - len(plain))]
    # And a tenth more with retries: each fails its first 0 to 3 attempts (of 3).
    retrying = [(f"r{i}", rng.randint(0, 3), round(rng.uniform(0, 0.05), 3)) for i in range(n // 10)]
    results = tasks.chaos_work.enqueue_many(plain) + tasks.chaos_limited.enqueue_many(limited)
    retried = tasks.chaos_retrying.enqueue_many(retrying)
    # Every other supervisor's workers serve the tasks' queue through a prefix: on PostgreSQL they
    # claim by its own statement (sql/postgresql_claims.py), killed like the others.
    configs = itertools.cycle([None, PREFIX_CONFIG])
    supervisors = [Supervisor(log_dir, next(configs)), Supervisor(log_dir, next(configs))]
    kills = Counter()
    deadline = time.monotonic() + chaos_seconds
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(1.5, 3.0))
        if rng.random() < 0.7:
            workers = list(Process.objects.filter(kind="worker").values_list("pid", flat=True))
            if workers:
                try:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    kills["worker"] += 1
                except ProcessLookupError:
                    pass
        else:
            victim = rng.choice([s for s in supervisors if s.alive()])
            victim.popen.send_signal(signal.SIGKILL)
            victim.popen.wait()
            kills["supervisor"] += 1
            supervisors.append(Supervisor(log_dir, next(configs)))
    drained = wait_until(lambda: unfinished_count() == 0, 180 if not quick else 90)
    for supervisor in supervisors:
        supervisor.stop()
    figures = account(results)
    figures.update(account_retries(retried))
    figures["workers killed"], figures["supervisors killed"] = kills["worker"], kills["supervisor"]
    figures["drained"] = drained
    figures["max overlap, limit 1"] = max_overlap_per_key()
    return figures


def scenario_database_outage(log_dir, quick):
    """Scenario 2: connections terminated mid-run, and the server restarted (PostgreSQL)."""
    from django.db import connection, connections

    from tests.testapp import tasks

    reset_database()
    n = 1000 if quick else 5000
    results = tasks.chaos_work.enqueue_many([(f"o{i}", 0.01) for i in range(n)])
    supervisor = Supervisor(log_dir)
    time.sleep(2)
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                           [name])
            ids = [row[0] for row in cursor.fetchall()]
            for thread_id in ids:
                cursor.execute(f"KILL CONNECTION {int(thread_id)}")
            terminated = len(ids)
        else:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            terminated = cursor.fetchone()[0]
    connections.close_all()
    time.sleep(2)
    restarted = False
    if connection.vendor == "postgresql":
        # On MariaDB the killed connections are the outage: a restart would also fail any other suite using the server.
        version = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))[-1].name
        restarted = subprocess.run(["pg_ctlcluster", version, "main", "restart"], capture_output=True).returncode == 0
    drained = wait_until(lambda: _safe(unfinished_count) == 0, 120)
    still_running = supervisor.alive()
    supervisor.stop()
    figures = account(results)
    figures.update({"connections terminated": terminated, "server restarted": restarted, "drained": drained,
                    "supervisor still running": still_running})
    return figures


def _safe(function):
    try:
        return function()
    except Exception:
        from django.db import connections

        connections.close_all()
        return -1


def scenario_sqlite_contention(log_dir, quick):
    """Scenario 3 (SQLite): 2 processes x 4 threads and a process enqueueing all the while."""
    from tests.testapp import tasks

    reset_database()
    n = 500 if quick else 3000
    results = list(tasks.chaos_work.enqueue_many([(f"s{i}",) for i in range(n)]))
    supervisor = Supervisor(log_dir)
    errors = []

    def enqueue_more():
        for i in range(n // 2):
            try:
                results.append(tasks.chaos_work.enqueue(f"e{i}"))
            except Exception as error:  # what a web request would see
                errors.append(repr(error))

    enqueuer = threading.Thread(target=enqueue_more)
    enqueuer.start()
    enqueuer.join()
    drained = wait_until(lambda: unfinished_count() == 0, 120)
    supervisor.stop()
    log_text = supervisor.output
    figures = account(results)
    figures.update({"drained": drained, "enqueue errors": len(errors),
                    "'database is locked' in logs": log_text.lower().count("database is locked")})
    return figures


def scenario_recurring(log_dir, quick):
    """Scenario 5: three schedulers on every-second ticks, supervisors killed along the way."""
    from steady_queue.models import Job, RecurringExecution

    reset_database()
    seconds = 15 if quick else 300
    env = {"STEADY_QUEUE_TEST_RECURRING_APP": "1"}
    supervisors = [Supervisor(log_dir, {"workers": []}, env) for _ in range(3)]
    rng = random.Random(11)
    deadline = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(2, 5))
        victim = rng.choice([s for s in supervisors if s.alive()])
        victim.kill_everything()
        kills += 1
        supervisors.append(Supervisor(log_dir, {"workers": []}, env))
    for supervisor in supervisors:
        supervisor.stop()
    ticks = Counter(RecurringExecution.objects.values_list("task_key", "run_at"))
    jobs = Counter(
        (path, json.dumps(arguments, sort_keys=True), at)
        for path, arguments, at in Job.objects.values_list("task_path", "arguments", "scheduled_at")
    )
    return Counter({"ticks enqueued": len(ticks), "ticks enqueued twice": sum(1 for v in ticks.values() if v > 1),
                    "duplicate jobs": sum(v - 1 for v in jobs.values()), "supervisors killed": kills})


def scenario_graceful_stop(log_dir, quick):
    """Scenario 6: SIGTERM while tasks run; then a new supervisor finishes the rest."""
    from tests.testapp import tasks

    reset_database()
    n = 200 if quick else 1000
    results = tasks.chaos_work.enqueue_many([(f"g{i}", 0.2) for i in range(n)])
    first = Supervisor(log_dir, {"shutdown_timeout": 5})
    time.sleep(3)
    first.stop(signal.SIGTERM)
    second = Supervisor(log_dir)
    drained = wait_until(lambda: unfinished_count() == 0, 120)
    second.stop()
    figures = account(results)
    figures["drained"] = drained
    return figures


def scenario_claim_ahead(log_dir, quick):
    """Scenario 8: workers with long lines of claimed tasks (prefetch) SIGKILLed again and again.

    Only a task that started may fail with the process: each kill fails at most the tasks its
    threads were running; the claimed tasks waiting in line go back to their queue and run once.
    """
    import re

    from steady_queue.models import Process
    from tests.testapp import tasks
    from tests.testapp.models import TaskRun

    reset_database()
    n, chaos_seconds = (1500, 10) if quick else (5000, 40)
    threads, line = 4, 50
    config = {"workers": [{"processes": 2, "threads": threads, "prefetch": line, "polling_interval": 0.1}]}
    rng = random.Random(8)
    results = tasks.chaos_work.enqueue_many([(f"c{i}", round(rng.uniform(0, 0.02), 3)) for i in range(n)])
    supervisors = [Supervisor(log_dir, config), Supervisor(log_dir, config)]
    kills = 0
    deadline = time.monotonic() + chaos_seconds
    while time.monotonic() < deadline and unfinished_count():
        time.sleep(rng.uniform(0.7, 1.5))
        workers = list(Process.objects.filter(kind="worker").values_list("pid", flat=True))
        if workers:
            try:
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    drained = wait_until(lambda: unfinished_count() == 0, 120)
    for supervisor in supervisors:
        supervisor.stop()
    figures = account(results)
    started = Counter(TaskRun.objects.values_list("label", flat=True))
    figures["started more than once"] = sum(1 for count in started.values() if count > 1)
    figures["workers killed"] = kills
    figures["drained"] = drained
    # What the supervisors did with the killed workers' claims: their log lines, summed.
    put_back = failed = 0
    for supervisor in supervisors:
        for match in re.finditer(r"(\d+) started task\(s\) marked failed, (\d+) unstarted back", supervisor.output):
            failed, put_back = failed + int(match[1]), put_back + int(match[2])
    figures["unstarted claims put back"] = put_back
    # A kill can fail no more tasks than the threads of the worker it killed were running.
    figures["failed beyond the running tasks"] = max(0, figures["failed: process died"] - threads * kills)
    return figures


def scenario_bad_input(log_dir, quick):
    """Scenario 7: the bad-input catalogue (tests/integration/test_bad_input.py)."""
    catalogue = str(ROOT / "tests/integration/test_bad_input.py")
    # The catalogue runs as an ordinary test module, on its own test database.
    private = ("STEADY_QUEUE_TEST_SUBPROCESS", "STEADY_QUEUE_TEST_DB_NAME")
    environment = {key: value for key, value in os.environ.items() if key not in private}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", catalogue],
        capture_output=True, text=True, cwd=ROOT, env=environment,
    )
    last = completed.stdout.strip().splitlines()[-1]
    passed = int(last.split(" passed")[0].split()[-1]) if " passed" in last else 0
    return Counter({"cases passed": passed, "cases failed": 0 if completed.returncode == 0 else 1})


SCENARIOS = [
    ("1+4. kills under load", scenario_kills, {"sqlite", "postgresql", "mysql"},
     {"missing": 0, "still RUNNING": 0, "still READY": 0, "finished more than once": 0, "max overlap, limit 1": 1,
      "drained": True, "retrying: missing": 0, "retrying: ready": 0, "retrying: running": 0,
      "retrying: more attempts than allowed": 0, "retrying: an attempt run twice": 0}),
    ("2. database outage", scenario_database_outage, {"postgresql", "mysql"},
     {"missing": 0, "still RUNNING": 0, "drained": True, "supervisor still running": True}),
    ("3. SQLite contention", scenario_sqlite_contention, {"sqlite"},
     {"missing": 0, "enqueue errors": 0, "'database is locked' in logs": 0, "drained": True}),
    ("5. recurring under kills", scenario_recurring, {"sqlite", "postgresql", "mysql"},
     {"ticks enqueued twice": 0, "duplicate jobs": 0}),
    ("6. graceful stop under load", scenario_graceful_stop, {"sqlite", "postgresql", "mysql"},
     {"missing": 0, "finished more than once": 0, "failed: process died": 0, "drained": True}),
    ("7. bad input catalogue", scenario_bad_input, {"sqlite", "postgresql", "mysql"}, {"cases failed": 0}),
    ("8. claim-ahead under kills", scenario_claim_ahead, {"sqlite", "postgresql", "mysql"},
     {"missing": 0, "started more than once": 0, "finished more than once": 0,
      "failed beyond the running tasks": 0, "drained": True}),
]


def check(figures, targets):
    missed = []
    for name, wanted in targets.items():
        value = figures.get(name, 0 if not isinstance(wanted, bool) else False)
        ok = value == wanted if isinstance(wanted, bool) else value <= wanted
        if not ok:
            missed.append(f"{name} = {value} (target {'' if isinstance(wanted, bool) else '≤ '}{wanted})")
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "mariadb", "pgbouncer"], required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated scenario numbers")
    parser.add_argument(
        "--topology",
        choices=["one-database", "two-databases"],
        default=os.environ.get("STEADY_QUEUE_TEST_TOPOLOGY", "one-database"),
        help="two-databases: the queue's tables in a database of their own (tests/settings.py)",
    )
    options = parser.parse_args()
    # Read by tests/settings.py, here and in every supervisor the scenarios start.
    os.environ["STEADY_QUEUE_TEST_TOPOLOGY"] = options.topology
    configure(options.db)
    from django.db import connection

    log_dir = ROOT / ".test-dbs" / f"chaos-logs-{options.db}-{options.topology}"
    log_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    print(f"Chaos suite on {connection.vendor}, {options.topology}{' (quick)' if options.quick else ''}")
    for title, scenario, vendors, targets in SCENARIOS:
        if connection.vendor not in vendors or (options.only and title.split(".")[0] not in options.only.split(",")):
            continue
        started = time.monotonic()
        figures = scenario(log_dir, options.quick)
        missed = check(figures, targets)
        failures += [f"{title}: {m}" for m in missed]
        print(f"\n{title} ({time.monotonic() - started:.0f} s) {'OK' if not missed else 'TARGET MISSED'}")
        for name, value in sorted(figures.items()):
            print(f"  {name:<32} {value}")
    print("\nAll targets met." if not failures else "\nTargets missed:\n  " + "\n  ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
