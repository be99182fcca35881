"""Steady Queue beside steady-queue 0.3.0 and django-tasks-db 0.13.0, on PostgreSQL, SQLite and MariaDB.

    python tests/benchmarks/run.py [--quick] [--runs 3] [--only steady-queue,...] [--databases mariadb,...]

The peers are installed from PyPI into their own virtual environments under tests/benchmarks/.venvs
(they share import names with Steady Queue, so never into the project's environment). Every
library runs the same tasks, the same numbers of tasks and processes, and the same database
server and settings. Prints one table of figures (medians of --runs runs) and ratios, and the
machine and versions they were measured on. See docs/benchmarks.rst.
"""

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT.parent))  # the repository root, for tests.pgbouncer
import pgcluster  # noqa: E402

PEERS = {
    "steady-queue-0.3.0": ["steady-queue==0.3.0"],
    "django-tasks-db": ["django-tasks-db==0.13.0"],
}
COMMON = ["django>=6.1,<6.2", "psycopg[binary]>=3.2", "mysqlclient>=2.2"]
TUNED = {"threads": 3, "prefetch": 100}

DRAIN = {"n": 5000, "timeout": 60}

# (label, scenario, database, harness arguments, field, target, better)
ROWS = [
    # A drain is measured over the time its tasks take to run (start-up excluded), for 60 s at most.
    ("drain, PostgreSQL, 2 worker processes (tasks/s)", "drain", "postgres", DRAIN, "per_second", 6000, "high"),
    ("drain, SQLite, 2 worker processes (tasks/s)", "drain", "sqlite", DRAIN, "per_second", 6000, "high"),
    # MariaDB (the machine's server, see .ci/run): no NOTIFY, so its workers poll (every 0.1 s here).
    ("drain, MariaDB, 2 worker processes (tasks/s)", "drain", "mariadb", DRAIN, "per_second", 3000, "high"),
    # Concurrency limits: every finish hands its key's slot to the next blocked task.
    ("drain, PostgreSQL, limit 1 per key over 500 keys (tasks/s)", "drain_limited", "postgres", DRAIN,
     "per_second", ("drain, PostgreSQL, 2 worker processes (tasks/s)", 0.5), "high"),
    ("drain, MariaDB, limit 1 per key over 500 keys (tasks/s)", "drain_limited", "mariadb", DRAIN,
     "per_second", ("drain, PostgreSQL, limit 1 per key over 500 keys (tasks/s)", 0.8), "high"),
    ("worker CPU per task, PostgreSQL (ms)", "drain", "postgres", DRAIN, "cpu_ms_per_task", 0.15, "low"),
    ("enqueue one at a time, PostgreSQL (/s)", "enqueue_single", "postgres", {"n": 2000}, "per_second", 1500, "high"),
    ("enqueue one at a time, SQLite (/s)", "enqueue_single", "sqlite", {"n": 2000}, "per_second", 3400, "high"),
    ("bulk enqueue, PostgreSQL (/s)", "enqueue_bulk", "postgres", {"n": 20000}, "per_second", 20000, "high"),
    ("enqueue->start p50, PostgreSQL, idle worker (ms)", "latency", "postgres", {"n": 200}, "p50_ms", 10, "low"),
    ("enqueue->start p99, PostgreSQL, idle worker (ms)", "latency", "postgres", {"n": 200}, "p99_ms", 50, "low"),
    ("enqueue->start p50, SQLite, idle worker (ms)", "latency", "sqlite", {"n": 200}, "p50_ms", 30, "low"),
    # Polling every 0.1 s: half an interval at the median, an interval at worst.
    ("enqueue->start p50, MariaDB, idle worker (ms)", "latency", "mariadb", {"n": 200}, "p50_ms", 60, "low"),
    ("enqueue->start p99, MariaDB, idle worker (ms)", "latency", "mariadb", {"n": 200}, "p99_ms", 110, "low"),
    ("SQL statements/s from an idle host, PostgreSQL", "idle", "postgres", {"seconds": 20}, "per_second", 2, "low"),
    ("50 ms tasks, 2 processes x 10 threads (tasks/s)", "sleep", "postgres", {"n": 1000, "threads": 10, "timeout": 60},
     "per_second", 360, "high"),
    # Retries and a timeout configured, every task succeeding: the success path pays nothing for them.
    ("drain, PostgreSQL, tasks with max_attempts and timeout (tasks/s)", "drain_guarded", "postgres", DRAIN,
     "per_second", ("drain, PostgreSQL, 2 worker processes (tasks/s)", 0.95), "high"),
    # The same server through PgBouncer in transaction mode (pgbouncer: the listener connects
    # directly; pgbouncer-polling: no direct listener, the workers poll every 0.1 s).
    ("drain, PgBouncer, listener direct (tasks/s)", "drain", "pgbouncer", DRAIN,
     "per_second", ("drain, PostgreSQL, 2 worker processes (tasks/s)", 0.8), "high"),
    ("drain, PgBouncer, no direct listener (tasks/s)", "drain", "pgbouncer-polling", DRAIN,
     "per_second", ("drain, PostgreSQL, 2 worker processes (tasks/s)", 0.8), "high"),
    ("enqueue->start p50, PgBouncer, listener direct (ms)", "latency", "pgbouncer", {"n": 200}, "p50_ms", 10, "low"),
    ("enqueue->start p50, PgBouncer, no direct listener (ms)", "latency", "pgbouncer-polling", {"n": 200},
     "p50_ms", 100, "low"),
]
# Scenarios of Steady Queue's own features, which the peers do not have.
OURS_ONLY = {"drain_guarded", "drain_limited"}
# Databases a peer does not run on (steady-queue 0.3.0 is measured on PostgreSQL and SQLite only).
PEER_DATABASES = {"steady-queue-0.3.0": {"postgres", "sqlite"}}
QUICK = {"n": 0.2, "seconds": 0.5}
BOUNCER_PORT = int(os.environ.get("BENCH_PGBOUNCER_PORT", "56432"))


def python_for(library, rebuild=False):
    if library.startswith("steady-queue") and library != "steady-queue-0.3.0":
        return sys.executable
    venv = HERE / ".venvs" / library
    python = venv / "bin" / "python"
    if rebuild or not python.exists():
        print(f"installing {library} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[library], *COMMON], check=True)
    return str(python)


def measure(library, config, scenario, database, arguments, pg_address, quick):
    env = {**os.environ, "BENCH_LIBRARY": "steady-queue" if library.startswith("steady-queue (") else library,
           "BENCH_DB": database, "PYTHONWARNINGS": "ignore"}
    name = library.split(" ")[0].replace("-", "_").replace(".", "_")
    env["BENCH_PG"] = f"{pg_address}:bench_{name}"
    env["BENCH_PGBOUNCER"] = f"127.0.0.1:{BOUNCER_PORT}"
    env["BENCH_SQLITE"] = f"/tmp/bench_{name}.sqlite3"
    mysql_server = f"{os.environ.get('MYSQL_HOST', '127.0.0.1')}:{os.environ.get('MYSQL_PORT', '3306')}"
    env["BENCH_MYSQL"] = f"{mysql_server}:bench_{name}"
    args = []
    for key, value in {**config, **arguments}.items():
        if quick and key in QUICK:
            value = type(value)(max(1, value * QUICK[key]))
        args += [f"--{key}", str(value)]
    completed = subprocess.run(
        [python_for(env["BENCH_LIBRARY"]), str(HERE / "harness.py"), scenario, *args],
        capture_output=True, text=True, env=env, cwd=HERE, timeout=1800,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def versions(library):
    code = ("import importlib.metadata as m, django; "
            "print(m.version({!r}), django.get_version())".format(
                {"steady-queue-0.3.0": "steady-queue", "django-tasks-db": "django-tasks-db"}.get(library,
                                                                                              "steady-queue-core")))
    out = subprocess.run([python_for(library), "-c", code], capture_output=True, text=True).stdout.split()
    return out if len(out) == 2 else ["?", "?"]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = next((line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")), "0")
    return f"{os.cpu_count()} cores ({cpu}), {int(memory) // 1024 // 1024} GiB, {platform.platform()}"


def mariadb_version():
    import MySQLdb

    connection = MySQLdb.connect(host=os.environ.get("MYSQL_HOST", "127.0.0.1"),
                                 port=int(os.environ.get("MYSQL_PORT", "3306")),
                                 user=os.environ.get("MYSQL_USER", "steady_queue"),
                                 password=os.environ.get("MYSQL_PASSWORD", "steady_queue"))
    try:
        return connection.get_server_info()
    finally:
        connection.close()


def fmt(value, field):
    if value is None:
        return "n/a"
    if field in ("cpu_ms_per_task", "p50_ms", "p99_ms") or value < 10:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and one run: a smoke test, not figures")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated libraries: steady-queue,steady-queue-0.3.0,django-tasks-db")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--databases", help="comma-separated: only the rows on these (postgres,sqlite,mariadb,...)")
    options = parser.parse_args()
    runs = 1 if options.quick else options.runs
    rows = [row for row in ROWS if not options.databases or row[2] in options.databases.split(",")]

    pg_address, pg_version = pgcluster.start()
    if any(row[2].startswith("pgbouncer") for row in rows):
        from tests import pgbouncer

        pgbouncer.start(BOUNCER_PORT, server_port=int(pg_address.split(":")[1]))
    columns = [("steady-queue-0.3.0", {}), ("django-tasks-db", {}),
               ("steady-queue (defaults)", {}), ("steady-queue (tuned)", TUNED)]
    if options.only:
        wanted = options.only.split(",")
        columns = [c for c in columns if c[0].split(" ")[0] in wanted]
    results, cache = {}, {}
    started = time.monotonic()
    for label, scenario, database, arguments, field, _target, _better in rows:
        for library, config in columns:
            if (scenario in OURS_ONLY or database.startswith("pgbouncer")) and not library.startswith("steady-queue ("):
                continue
            if database not in PEER_DATABASES.get(library, {database}):
                continue
            key = (library, scenario, database, json.dumps(arguments, sort_keys=True))
            if key not in cache:
                samples = [measure(library, config, scenario, database, arguments, pg_address, options.quick)
                           for _ in range(runs)]
                cache[key] = samples
                print(f"  {library:<26} {scenario:<15} {database:<8} {samples}", file=sys.stderr, flush=True)
            values = [s.get(field) for s in cache[key] if s.get(field) is not None]
            results[(label, library)] = statistics.median(values) if values else None

    print(f"\nSteady Queue benchmark ({'quick smoke run' if options.quick else f'medians of {runs} runs'}, "
          f"{time.monotonic() - started:.0f} s)")
    print(f"machine: {machine()}")
    print(f"PostgreSQL {pg_version} (private server, default settings + pg_stat_statements); "
          f"SQLite {sqlite3.sqlite_version} (Django's default settings, rollback journal)")
    if any(row[2] == "mariadb" for row in rows):
        print(f"MariaDB {mariadb_version()} (the machine's server, default settings; READ COMMITTED)")
    for library, _ in columns:
        library_version, django_version = versions(library.split(" ")[0])
        print(f"{library}: {library_version}, Django {django_version}")
    print(f"Steady Queue tuned = {TUNED}; every library: 2 worker processes, polling 0.1 s\n")
    header = ["workload", *[c[0] for c in columns], "target", "met", "vs best peer"]
    lines = [header]
    for label, _scenario, _db, _args, _field, target, better in rows:
        row = [label] + [fmt(results.get((label, c[0])), _field) for c in columns]
        ours = [results.get((label, c[0])) for c in columns if c[0].startswith("steady-queue (")]
        peers = [results.get((label, c[0])) for c in columns if not c[0].startswith("steady-queue (")]
        ours = [v for v in ours if v is not None]
        peers = [v for v in peers if v is not None]
        best = (max if better == "high" else min)(ours) if ours else None
        if isinstance(target, tuple):
            # A share of another row's figure, configuration by configuration.
            reference, share = target
            pairs = [(results.get((label, c[0])), results.get((reference, c[0]))) for c in columns
                     if c[0].startswith("steady-queue (")]
            pairs = [(value, base) for value, base in pairs if value is not None and base is not None]
            met = bool(pairs) and all(value >= share * base for value, base in pairs)
            shown_target = f"≥ {share:.0%} of the plain drain"
        else:
            met = best is not None and (best >= target if better == "high" else best <= target)
            shown_target = ("≥ " if better == "high" else "≤ ") + fmt(target, _field)
        best_peer = (max if better == "high" else min)(peers) if peers else None
        ratio = "n/a"
        if best and best_peer:
            ratio = f"{best / best_peer:.1f}x" if better == "high" else f"{best_peer / best:.1f}x"
        lines.append(row + [shown_target, "yes" if met else "NO", ratio])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    if options.json:
        options.json.write_text(json.dumps({f"{k[0]} | {k[1]}": v for k, v in results.items()}, indent=2))
    if not options.databases or "console" in options.databases.split(","):
        console_pages(pg_address, options.quick)


def console_pages(pg_address, quick):
    """The operator console's pages at a million jobs (console.py), on the same private server."""
    host, port = pg_address.split(":")[:2]
    env = {**os.environ, "PGHOST": host, "PGPORT": port, "PGUSER": "postgres", "PGPASSWORD": "postgres"}
    jobs = "100000" if quick else "1000000"
    print("\nThe operator console, every page rendered as a superuser (target: each under 200 ms):", flush=True)
    subprocess.run([sys.executable, str(Path(__file__).with_name("console.py")), "--jobs", jobs], env=env, check=True)


if __name__ == "__main__":
    main()
