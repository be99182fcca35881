"""What the disk allows an enqueue on SQLite: the driver alone writing what an enqueue writes.

    python tests/benchmarks/sqlite_floor.py [--n 3000] [--runs 3]

For each SQLite mode of the benchmark (bench_project.settings.SQLITE_MODES), a fresh database is
migrated as for Steady Queue, then Python's sqlite3 module, with no Django and no Steady Queue in
the loop, runs an enqueue's statements: BEGIN IMMEDIATE, the job's INSERT ... RETURNING, the ready
row's INSERT, COMMIT. Its rate is the ceiling of "enqueue one at a time" on this machine's disk:
the commit's fsync calls are most of it, and a library can only add to them. Prints the median of
``--runs`` runs per mode.
"""

import argparse
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("sqlite", "sqlite-wal-immediate", "sqlite-wal-immediate-normal")

JOB = (
    'INSERT INTO "steady_queue_job" ("token", "task_path", "queue_name", "priority", "backend", "arguments", '
    '"scheduled_at", "created_at", "max_attempts", "retry_lost", "worker_ids", "errors") '
    "VALUES (?, 'bench_project.tasks.noop', 'default', 0, 'default', ?, NULL, ?, 1, 0, '[]', '[]') RETURNING \"id\""
)
READY = (
    'INSERT INTO "steady_queue_ready_execution" ("job_id", "queue_name", "priority", "created_at") '
    "VALUES (?, 'default', 0, ?)"
)


def migrated(mode, path):
    """A fresh database at ``path``, migrated in ``mode``; the PRAGMAs a connection of that mode runs."""
    env = {**os.environ, "BENCH_DB": mode, "BENCH_SQLITE": str(path), "BENCH_LIBRARY": "steady-queue"}
    code = (
        "import harness; harness.reset_database(); "
        "from django.db import connection; print(connection.settings_dict['OPTIONS'].get('init_command', ''))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def rate(path, init_command, n):
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in filter(None, (part.strip() for part in init_command.split(";"))):
        connection.execute(pragma)
    created = "2026-11-27 12:00:00.000000"
    began = time.perf_counter()
    for i in range(n):
        connection.execute("BEGIN IMMEDIATE")
        arguments = f'{{"args": [{i}], "kwargs": {{}}}}'
        job_id = connection.execute(JOB, (secrets.randbits(63), arguments, created)).fetchone()[0]
        connection.execute(READY, (job_id, created))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - began
    connection.close()
    return n / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="enqueues per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode; the median is printed")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as directory:
        for mode in MODES:
            figures = []
            for _ in range(options.runs):
                path = Path(directory) / "floor.sqlite3"
                for suffix in ("", "-journal", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                figures.append(rate(path, migrated(mode, path), options.n))
            print(f"  {mode:32s} {statistics.median(figures):8,.0f} enqueues/s "
                  f"(runs: {', '.join(f'{f:,.0f}' for f in figures)})", flush=True)


if __name__ == "__main__":
    main()
