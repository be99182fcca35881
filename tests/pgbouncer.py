"""A PgBouncer in transaction pooling mode in front of a local PostgreSQL, for the tests, CI and benchmarks.

    python tests/pgbouncer.py start [--port 6432] [--server-port 5432]
    python tests/pgbouncer.py stop [--port 6432]

``start`` writes a pgbouncer.ini and a userlist into a directory of its own under the system's temp
directory and starts PgBouncer as a daemon; it returns at once when one already answers on the
port. Every database name is forwarded (``* =``), so test databases created on the fly are
reachable. The user and password are PGUSER / PGPASSWORD (postgres / postgres by default).
PgBouncer refuses to run as root: as root it is started with ``-u postgres``.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_PORT = int(os.environ.get("STEADY_QUEUE_PGBOUNCER_PORT", "6432"))

INI = """\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {directory}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = {pool_size}
; Idle server connections go soon: the tests drop their databases at the end of a session, and
; PostgreSQL's DROP DATABASE waits only five seconds for other sessions on it to leave.
server_idle_timeout = 2
; What Django sends on connecting; PgBouncer would otherwise refuse it.
ignore_startup_parameters = extra_float_digits,options
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""


def directory_for(port):
    return Path(tempfile.gettempdir()) / f"steady-queue-pgbouncer-{port}"


def answers(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start(port=DEFAULT_PORT, server_host="127.0.0.1", server_port=5432, pool_size=40):
    """Start PgBouncer on ``port`` unless something already answers there; return its directory."""
    directory = directory_for(port)
    if answers(port):
        if running(port):
            return directory
        # A distribution's own PgBouncer service, say, with other databases and pool mode.
        raise SystemExit(f"Port {port} is taken by something else; set STEADY_QUEUE_PGBOUNCER_PORT to a free port.")
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise SystemExit("pgbouncer is not installed (apt-get install pgbouncer).")
    directory.mkdir(parents=True, exist_ok=True)
    user, password = os.environ.get("PGUSER", "postgres"), os.environ.get("PGPASSWORD", "postgres")
    (directory / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(INI.format(server_host=server_host, server_port=server_port, port=port, pool_size=pool_size,
                              directory=directory))
    command = [binary, "-d", "-q", str(ini)]
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        for path in directory.iterdir():
            shutil.chown(path, "postgres")
        command[1:1] = ["-u", "postgres"]
    subprocess.run(command, check=True)
    deadline = time.monotonic() + 10
    while not answers(port):
        if time.monotonic() > deadline:
            log = directory / "pgbouncer.log"
            raise SystemExit(f"PgBouncer did not start on port {port}:\n{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    return directory


def running(port):
    """The process id of the PgBouncer start() started on ``port``, if it still runs."""
    try:
        pid = int((directory_for(port) / "pgbouncer.pid").read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def stop(port=DEFAULT_PORT):
    """Stop the PgBouncer that start() started on ``port``; True if one was running."""
    pid = running(port)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while answers(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--server-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    options = parser.parse_args()
    if options.action == "start":
        directory = start(options.port, server_port=options.server_port)
        print(f"PgBouncer (transaction pooling) on 127.0.0.1:{options.port} -> :{options.server_port}; {directory}")
    else:
        print("stopped" if stop(options.port) else "not running")


if __name__ == "__main__":
    main()
