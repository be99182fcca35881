"""Steady Queue beside steady-queue 0.3.0 and django-tasks-db 0.13.0, on PostgreSQL, SQLite and MariaDB.

    python tests/benchmarks/run.py [--quick] [--runs 3] [--only steady-queue,...] [--databases mariadb,...]
                                   [--only-rows main,fair,scale]

The peers are installed from PyPI into their own virtual environments under tests/benchmarks/.venvs
(they share import names with Steady Queue, so never into the project's environment). Every
library runs the same tasks, the same numbers of tasks and processes, and the same database
server and settings, once at its defaults and once at its best documented settings. Prints one
table of figures (medians of --runs runs), targets and ratios, and the machine and versions they
were measured on; the scale rows (scale.py) are Steady Queue's alone. See docs/benchmarks.rst.
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
from typing import NamedTuple

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
# Every library at its defaults, and at its best documented settings: persistent connections
# (CONN_MAX_AGE=None) for all; for Steady Queue also more threads (docs/benchmarks.rst has the
# sweep that chose 32). Neither peer has a documented worker option that speeds a drain up: steady-queue
# 0.3.0 closes its connections after every task whatever CONN_MAX_AGE says, and django-tasks-db's
# db_worker runs one task at a time per process (its --interval only matters when idle).
PERSISTENT = {"conn_max_age": "none"}
TUNED = {"threads": 32, **PERSISTENT}  # prefetch "auto", the default
COLUMNS = [
    ("0.3.0 defaults", "steady-queue-0.3.0", {}),
    ("0.3.0 best", "steady-queue-0.3.0", PERSISTENT),
    ("tasks-db defaults", "django-tasks-db", {}),
    ("tasks-db best", "django-tasks-db", PERSISTENT),
    ("defaults", "steady-queue", {}),
    ("tuned", "steady-queue", TUNED),
]
OURS = ("defaults", "tuned")

# Drains are long enough that start-up is not the figure: 20,000 tasks, measured from the first one
# done to the last, or for 30 s when a library is slower than that.
DRAIN = {"n": 20000, "timeout": 30}
EQUAL = {**DRAIN, "threads": 1}  # 2 processes x 1 thread: django-tasks-db's only shape
PLAIN = "drain, PostgreSQL, 2 worker processes (tasks/s)"


class Row(NamedTuple):
    label: str
    scenario: str
    database: str
    arguments: dict
    field: str
    # A figure every configuration of ours must reach; {column: figure}: those columns only;
    # (row, share): that share of another row's figure, configuration by configuration;
    # ("times", column, factor): that multiple of another column's figure on this row.
    target: object
    better: str = "high"
    group: str = "main"
    runs: int | None = None  # None: --runs


ROWS = [
    # The fair comparison (--only-rows fair), part of the main rows.
    Row(PLAIN, "drain", "postgres", DRAIN, "per_second", {"defaults": 5000, "tuned": 20000}, group="fair"),
    Row("drain, SQLite, 2 worker processes (tasks/s)", "drain", "sqlite", DRAIN, "per_second", {"defaults": 5000},
        group="fair"),
    # Equal slots: the same processes x threads for every library.
    Row("drain, PostgreSQL, equal slots 2 x 1 (tasks/s)", "drain", "postgres", EQUAL, "per_second",
        ("times", "tasks-db best", 3), group="fair"),
    # MariaDB (the machine's server, see .ci/run): no NOTIFY, so its workers poll (every 0.1 s here).
    Row("drain, MariaDB, 2 worker processes (tasks/s)", "drain", "mariadb", DRAIN, "per_second", 3000),
    # Concurrency limits: every finish hands its key's slot to the next blocked task.
    # Medians of three whatever --runs says: the MariaDB row is judged against the PostgreSQL one,
    # and a share of two single runs is mostly the machine's noise.
    Row("drain, PostgreSQL, limit 1 per key over 500 keys (tasks/s)", "drain_limited", "postgres", DRAIN,
        "per_second", (PLAIN, 0.5), runs=3),
    Row("drain, MariaDB, limit 1 per key over 500 keys (tasks/s)", "drain_limited", "mariadb", DRAIN,
        "per_second", ("drain, PostgreSQL, limit 1 per key over 500 keys (tasks/s)", 0.8), runs=3),
    Row("worker CPU per task, PostgreSQL (ms)", "drain", "postgres", DRAIN, "cpu_ms_per_task", {"tuned": 0.05}, "low",
        group="fair"),
    Row("enqueue one at a time, PostgreSQL (/s)", "enqueue_single", "postgres", {"n": 2000}, "per_second", 1500),
    Row("enqueue one at a time, SQLite (/s)", "enqueue_single", "sqlite", {"n": 2000}, "per_second", 3400),
    # SQLite as docs/sqlite.rst recommends (WAL, transaction_mode IMMEDIATE; check steady_queue.I001),
    # and with synchronous=NORMAL, which may lose the last commits on power loss (labelled).
    Row("enqueue one at a time, SQLite WAL + IMMEDIATE (/s)", "enqueue_single", "sqlite-wal-immediate", {"n": 2000},
        "per_second", 4000),
    Row("enqueue one at a time, SQLite WAL + IMMEDIATE + synchronous=NORMAL (/s)", "enqueue_single",
        "sqlite-wal-immediate-normal", {"n": 2000}, "per_second", 4000),
    Row("drain, SQLite WAL + IMMEDIATE, 2 worker processes (tasks/s)", "drain", "sqlite-wal-immediate", DRAIN,
        "per_second", {"defaults": 5000}),
    Row("enqueue->start p50, SQLite WAL + IMMEDIATE, idle worker (ms)", "latency", "sqlite-wal-immediate",
        {"n": 200}, "p50_ms", 10, "low"),
    Row("bulk enqueue, PostgreSQL (/s)", "enqueue_bulk", "postgres", {"n": 20000}, "per_second", 20000),
    Row("enqueue->start p50, PostgreSQL, idle worker (ms)", "latency", "postgres", {"n": 200}, "p50_ms", 10, "low"),
    Row("enqueue->start p99, PostgreSQL, idle worker (ms)", "latency", "postgres", {"n": 200}, "p99_ms", 50, "low"),
    Row("enqueue->start p50, SQLite, idle worker (ms)", "latency", "sqlite", {"n": 200}, "p50_ms", 30, "low"),
    # Polling every 0.1 s: half an interval at the median, an interval at worst.
    Row("enqueue->start p50, MariaDB, idle worker (ms)", "latency", "mariadb", {"n": 200}, "p50_ms", 60, "low"),
    Row("enqueue->start p99, MariaDB, idle worker (ms)", "latency", "mariadb", {"n": 200}, "p99_ms", 110, "low"),
    Row("SQL statements/s from an idle host, PostgreSQL", "idle", "postgres", {"seconds": 20}, "per_second", 2, "low"),
    Row("50 ms tasks, 2 processes x 10 threads (tasks/s)", "sleep", "postgres",
        {"n": 1000, "threads": 10, "timeout": 60}, "per_second", 360),
    # Retries and a timeout configured, every task succeeding: the success path pays nothing for them.
    # Measured against the plain drain in turns, three pairs (harness.py scenario_drain_guarded).
    Row("drain, PostgreSQL, tasks with max_attempts and timeout (share of the plain drain)", "drain_guarded",
        "postgres", DRAIN, "share", 0.95, runs=1),
    # The same server through PgBouncer in transaction mode (pgbouncer: the listener connects
    # directly; pgbouncer-polling: no direct listener, the workers poll every 0.1 s).
    Row("drain, PgBouncer, listener direct (tasks/s)", "drain", "pgbouncer", DRAIN, "per_second", (PLAIN, 0.8)),
    Row("drain, PgBouncer, no direct listener (tasks/s)", "drain", "pgbouncer-polling", DRAIN,
        "per_second", (PLAIN, 0.8)),
    Row("enqueue->start p50, PgBouncer, listener direct (ms)", "latency", "pgbouncer", {"n": 200}, "p50_ms", 10,
        "low"),
    Row("enqueue->start p50, PgBouncer, no direct listener (ms)", "latency", "pgbouncer-polling", {"n": 200},
        "p50_ms", 100, "low"),
    # As the tables grow (scale.py; Steady Queue on PostgreSQL, one run each). The workers are up and
    # idle when the backlog commits, and the drain is measured for a fixed window or until empty.
    Row("scale: 1,000,000 tasks waiting, drain (tasks/s)", "drain_backlog", "postgres",
        {"size": 1_000_000, "window": 20}, "per_second", (PLAIN, 0.8), group="scale", runs=1),
    Row("scale: 10,000,000 finished kept, drain (share of empty)", "finished_kept", "postgres",
        {"size": 10_000_000, "n": 20000}, "drain_share", 0.8, group="scale", runs=1),
    Row("scale: 10,000,000 finished kept, enqueue (share of empty)", "finished_kept", "postgres",
        {"size": 10_000_000, "n": 20000}, "enqueue_share", 0.8, group="scale", runs=1),
    Row("scale: 10,000,000 finished kept, get_result time (share of empty)", "finished_kept", "postgres",
        {"size": 10_000_000, "n": 20000}, "get_result_share", 1.2, "low", group="scale", runs=1),
    Row("scale: drain while 1,000,000 finished are cleared (share of without)", "drain_while_clearing",
        "postgres", {"size": 1_000_000, "n": 200_000, "window": 20}, "share", 0.8, group="scale", runs=1),
    Row("scale: 1,000 queues, workers on 10 prefixes q0*..q9* (tasks/s)", "many_queues", "postgres",
        {"n": 20000, "window": 60}, "per_second", (PLAIN, 0.8), group="scale", runs=1),
    Row("scale: 16 processes x 10 threads, drain (tasks/s)", "wide", "postgres",
        {"processes": 16, "threads": 10, "n": 100_000, "window": 60}, "per_second", (PLAIN, 1.0),
        group="scale", runs=1),
]
# Scenarios of Steady Queue's own features or scale, which the peers are not measured on.
OURS_ONLY = {"drain_guarded", "drain_limited", "drain_backlog", "finished_kept", "drain_while_clearing",
             "many_queues", "wide"}
# Scenarios whose figure a worker setting can change; the enqueue ones run in the harness's own
# process, whose one connection lasts the whole run whatever CONN_MAX_AGE says.
WORKER_SCENARIOS = {"drain", "latency", "idle", "sleep"}
# Databases a peer does not run on (steady-queue 0.3.0 is measured on PostgreSQL and SQLite only).
PEER_DATABASES = {"steady-queue-0.3.0": {"postgres", "sqlite"}}
QUICK = {"n": 0.2, "seconds": 0.5, "timeout": 0.5, "window": 0.5, "size": 0.02}
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
    """One run of harness.py in the library's environment; its JSON, or {"error": ...}."""
    env = {**os.environ, "BENCH_LIBRARY": library, "BENCH_DB": database, "PYTHONWARNINGS": "ignore"}
    name = library.replace("-", "_").replace(".", "_")
    env["BENCH_PG"] = f"{pg_address}:bench_{name}"
    env["BENCH_PGBOUNCER"] = f"127.0.0.1:{BOUNCER_PORT}"
    env["BENCH_SQLITE"] = f"/tmp/bench_{name}.sqlite3"
    mysql_server = f"{os.environ.get('MYSQL_HOST', '127.0.0.1')}:{os.environ.get('MYSQL_PORT', '3306')}"
    env["BENCH_MYSQL"] = f"{mysql_server}:bench_{name}"
    settings = {**config, **arguments}
    if "conn_max_age" in settings:
        env["BENCH_CONN_MAX_AGE"] = settings.pop("conn_max_age")
    args = []
    for key, value in settings.items():
        if quick and key in QUICK:
            value = type(value)(max(1, value * QUICK[key]))
        args += [f"--{key}", str(value)]
    completed = subprocess.run(
        [python_for(library), str(HERE / "harness.py"), scenario, *args],
        capture_output=True, text=True, env=env, cwd=HERE, timeout=3600,
    )
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def runs_of(row, column):
    """Whether a column is measured on a row: peers skip our own scenarios, and settings that cannot matter."""
    _label, library, config = column
    if library != "steady-queue":
        if row.scenario in OURS_ONLY or row.database.startswith("pgbouncer"):
            return False
        if row.database not in PEER_DATABASES.get(library, {row.database}):
            return False
        if config and row.scenario not in WORKER_SCENARIOS:
            return False
    return True


def cache_key(row, column):
    _label, library, config = column
    settings = {**config, **row.arguments}
    if library == "django-tasks-db":
        # One task at a time per process whatever the thread settings: 2 x 1 is its only shape.
        settings = {k: v for k, v in settings.items() if k not in ("threads", "prefetch")}
    return (library, row.scenario, row.database, json.dumps(settings, sort_keys=True))


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
        return "--"
    if field.endswith("share"):
        return f"{value:.0%}"
    if field in ("cpu_ms_per_task", "p50_ms", "p99_ms") or value < 10:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def judge(row, figure):
    """(shown target, met, ratio text) of one row, from figure(row label, column label)."""
    better = max if row.better == "high" else min

    def reaches(value, goal):
        return value is not None and goal is not None and (value >= goal if row.better == "high" else value <= goal)

    def times(value, base):
        if not value or not base:
            return "--"
        return f"{value / base:.1f}x" if row.better == "high" else f"{base / value:.1f}x"

    ours = {name: figure(row.label, name) for name in OURS}
    mark = "≥ " if row.better == "high" else "≤ "
    target = row.target
    if isinstance(target, dict):
        met = all(reaches(ours[name], goal) for name, goal in target.items())
        shown = ", ".join(f"{name} {mark}{fmt(goal, row.field)}" for name, goal in target.items())
    elif isinstance(target, tuple) and target[0] == "times":
        _, column, factor = target
        base = figure(row.label, column)
        met = all(reaches(value, base and factor * base) for value in ours.values())
        shown = f"{mark}{factor}x {column}"
    elif isinstance(target, tuple):
        # A share of another row's figure, configuration by configuration.
        reference, share = target
        pairs = [(ours[name], figure(reference, name)) for name in OURS]
        pairs = [(value, base) for value, base in pairs if value is not None and base is not None]
        met = bool(pairs) and all(reaches(value, share * base) for value, base in pairs)
        shown = f"{mark}{share:.0%} of {'the plain drain' if reference == PLAIN else 'row above'}"
    elif row.group == "scale":  # flat for every configuration, not only the best
        met = all(reaches(value, target) for value in ours.values())
        shown = mark + fmt(target, row.field)
    else:
        values = [v for v in ours.values() if v is not None]
        met = reaches(better(values) if values else None, target)
        shown = mark + fmt(target, row.field)
    # Ours against each peer's best figure (its defaults or its best settings, whichever is better).
    peers = {}
    for label, library, _config in COLUMNS:
        if library != "steady-queue" and figure(row.label, label) is not None:
            peers.setdefault(library, []).append(figure(row.label, label))
    if not peers:
        return shown, met, ""
    short = {"steady-queue-0.3.0": "0.3.0", "django-tasks-db": "tasks-db"}
    if row.arguments.get("threads") == 1:  # equal slots: each configuration of ours against the best peer
        best_peer = better(better(values) for values in peers.values())
        ratio = ", ".join(f"{name} {times(value, best_peer)}" for name, value in ours.items())
    else:
        values = [v for v in ours.values() if v is not None]
        best_ours = better(values) if values else None
        ratio = ", ".join(f"{short[library]} {times(best_ours, better(values))}" for library, values in peers.items())
    return shown, met, ratio


def select_rows(options):
    rows = [row for row in ROWS if not options.databases or row.database in options.databases.split(",")]
    if options.only_rows:
        groups = set(options.only_rows.split(","))
        rows = [row for row in rows if row.group in groups or (row.group == "fair" and "main" in groups)]
    # The rows a target refers to are measured too, so that it can be judged.
    labels = {row.label for row in rows}
    wanted = {row.target[0] for row in rows if isinstance(row.target, tuple) and row.target[0] != "times"}
    return [row for row in ROWS if row.label in labels or row.label in wanted]


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and one run: a smoke test, not figures")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated libraries: steady-queue,steady-queue-0.3.0,django-tasks-db")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--databases", help="comma-separated: only the rows on these (postgres,sqlite,mariadb,...)")
    parser.add_argument("--only-rows",
                        help="comma-separated groups of rows: main (beside the peers), fair (its drains), scale")
    options = parser.parse_args()
    rows = select_rows(options)
    columns = [c for c in COLUMNS if not options.only or c[1] in options.only.split(",")]

    pg_address, pg_version = pgcluster.start()
    if any(row.database.startswith("pgbouncer") for row in rows):
        from tests import pgbouncer

        pgbouncer.start(BOUNCER_PORT, server_port=int(pg_address.split(":")[1]))
    results, cache = {}, {}
    started, load_before = time.monotonic(), loadavg()
    for row in rows:
        runs = 1 if options.quick else row.runs or options.runs
        for column in columns:
            if not runs_of(row, column):
                continue
            key = cache_key(row, column)
            if key not in cache:
                began = time.monotonic()
                cache[key] = [measure(column[1], column[2], row.scenario, row.database, row.arguments, pg_address,
                                      options.quick) for _ in range(runs)]
                print(f"  {column[0]:<18} {row.scenario:<20} {row.database:<8} {time.monotonic() - began:4.0f} s "
                      f"{cache[key]}", file=sys.stderr, flush=True)
            values = [s.get(row.field) for s in cache[key] if s.get(row.field) is not None]
            results[(row.label, column[0])] = statistics.median(values) if values else None

    def figure(label, column):
        return results.get((label, column))

    print(f"\nSteady Queue benchmark ({'quick smoke run' if options.quick else f'medians of {options.runs} runs'}, "
          f"{time.monotonic() - started:.0f} s, load average {load_before} before, {loadavg()} after)")
    print(f"machine: {machine()}")
    print(f"PostgreSQL {pg_version} (private server, default settings + pg_stat_statements); "
          f"SQLite {sqlite3.sqlite_version} (Django's default settings, rollback journal, unless a row names WAL)")
    if any(row.database == "mariadb" for row in rows):
        print(f"MariaDB {mariadb_version()} (the machine's server, default settings; READ COMMITTED)")
    for library in dict.fromkeys(c[1] for c in columns):
        library_version, django_version = versions(library)
        print(f"{library}: {library_version}, Django {django_version}")
    print(f"defaults: no setting given but 2 worker processes (polling 0.1 s for the peers, Steady Queue's "
          f"default); best: {PERSISTENT}; tuned: {TUNED}. Scale rows: one run each.")
    if options.quick:
        print(f"quick: every size scaled down (the labels give full sizes): {QUICK}")
    print()
    header = ["workload", *[c[0] for c in columns], "target", "met", "ours vs each peer's best"]
    lines = [header]
    for row in rows:
        shown, met, ratio = judge(row, figure)
        lines.append([row.label] + [fmt(figure(row.label, c[0]), row.field) for c in columns]
                     + [shown, "yes" if met else "NO", ratio])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    if options.json:
        raw = {" | ".join(map(str, key)): samples for key, samples in cache.items()}
        options.json.write_text(json.dumps(raw, indent=2))
    if any(row.scenario == "enqueue_single" and row.database.startswith("sqlite") for row in rows):
        sqlite_floor(options.quick)
    if (not options.databases and not options.only_rows) or "console" in (options.databases or "").split(","):
        console_pages(pg_address, options.quick)


def sqlite_floor(quick):
    """What this machine's disk allows an enqueue on SQLite (sqlite_floor.py), beside the enqueue rows."""
    print("\nSQLite's driver alone writing an enqueue's rows, one transaction each (the ceiling of the "
          "enqueue rows above on this disk):", flush=True)
    runs = ["--n", "500", "--runs", "1"] if quick else ["--n", "3000", "--runs", "3"]
    subprocess.run([sys.executable, str(Path(__file__).with_name("sqlite_floor.py")), *runs], check=True)


def console_pages(pg_address, quick):
    """The operator console's pages at a million jobs (console.py), on the same private server."""
    host, port = pg_address.split(":")[:2]
    env = {**os.environ, "PGHOST": host, "PGPORT": port, "PGUSER": "postgres", "PGPASSWORD": "postgres"}
    jobs = "100000" if quick else "1000000"
    print("\nThe operator console, every page rendered as a superuser (target: each under 200 ms):", flush=True)
    subprocess.run([sys.executable, str(Path(__file__).with_name("console.py")), "--jobs", jobs], env=env, check=True)


if __name__ == "__main__":
    main()
