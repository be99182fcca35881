"""A private PostgreSQL server for the benchmarks, with pg_stat_statements to count statements.

Every library is measured against the same server and settings (PostgreSQL's defaults, durable
commits included); only pg_stat_statements is added, to count what an idle host sends.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

PORT = int(os.environ.get("BENCH_PG_PORT", "55432"))
DATA = Path(os.environ.get("BENCH_PG_DATA", "/tmp/steady-queue-bench-pg"))


def binaries():
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql).")
    return versions[-1]


def run_as_postgres(command):
    if os.geteuid() == 0:
        command = ["su", "postgres", "-c", " ".join(command)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def start():
    """Start the server (creating it the first time); return 'host:port'."""
    bin_dir = binaries()
    if not (DATA / "PG_VERSION").exists():
        shutil.rmtree(DATA, ignore_errors=True)
        DATA.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(DATA, "postgres", "postgres")
        password_file = DATA.parent / "steady-queue-bench-pw"
        password_file.write_text("postgres\n")
        os.chmod(password_file, 0o644)
        run_as_postgres([str(bin_dir / "initdb"), "-D", str(DATA), "-U", "postgres", "--auth=scram-sha-256",
                         f"--pwfile={password_file}"])
        with open(DATA / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {PORT}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '/tmp'\n"
                "max_connections = 300\nshared_preload_libraries = 'pg_stat_statements'\n"
                "pg_stat_statements.track_utility = on\n"
            )
    status = subprocess.run(["su", "postgres", "-c", f"{bin_dir / 'pg_ctl'} -D {DATA} status"]
                            if os.geteuid() == 0 else [str(bin_dir / "pg_ctl"), "-D", str(DATA), "status"],
                            capture_output=True)
    if status.returncode != 0:
        run_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(DATA), "-l", str(DATA / "server.log"), "-w", "start"])
    for _ in range(50):
        ready = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(PORT)], capture_output=True)
        if ready.returncode == 0:
            break
        time.sleep(0.2)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=PORT, user="postgres", password="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"127.0.0.1:{PORT}", version


def stop():
    run_as_postgres([str(binaries() / "pg_ctl"), "-D", str(DATA), "-m", "fast", "stop"])
