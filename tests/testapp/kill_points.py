"""SIGKILL a worker process at one named point of the claim -> start -> finish path, once.

Test-only: installed by TestAppConfig.ready() in a ``manage.py steady_queue`` started with
STEADY_QUEUE_TEST_KILL_AT=<point> and STEADY_QUEUE_TEST_KILL_ONCE=<path of a file that does not
exist yet>. The first process to reach the point creates the file and kills itself; the process
its supervisor starts in its place runs on. The points:

- ``before_start``: a start marker is about to be written (the claim is committed, the marker not);
- ``after_start``: the marker is committed, the task's code not called yet (Django's task_started);
- ``before_outcome``: a task returned and its outcome is about to be written;
- ``after_outcome``: the outcome is committed (Django's task_finished).

A task that kills its own process (tests.testapp.tasks.kill_own_process) is the point "in the task".
"""

import os
import re
import signal

from django.db.backends.signals import connection_created
from django.tasks.signals import task_finished, task_started

POINTS = ("before_start", "after_start", "before_outcome", "after_outcome")


def kill_once():
    try:
        os.close(os.open(os.environ["STEADY_QUEUE_TEST_KILL_ONCE"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


# Names as the connection quotes them: "..." on PostgreSQL and SQLite, `...` on MySQL.
CLAIMS = r"[`\"]?steady_queue_claimed_execution[`\"]?"
WRITES_START = re.compile(rf"UPDATE {CLAIMS} SET [`\"]?started_at")
TAKES_CLAIM = re.compile(rf"DELETE FROM {CLAIMS}")


def _before(point):
    pattern = WRITES_START if point == "before_start" else TAKES_CLAIM

    def wrapper(execute, sql, params, many, context):
        if pattern.search(sql):
            kill_once()
        return execute(sql, params, many, context)

    return wrapper


def install(point):
    if point not in POINTS:
        raise ValueError(f"STEADY_QUEUE_TEST_KILL_AT must be one of {POINTS}, got {point!r}")
    if point in ("before_start", "before_outcome"):

        def wrap(sender, connection, **kwargs):
            connection.execute_wrappers.append(_before(point))

        connection_created.connect(wrap, weak=False)
    else:
        signal_ = task_started if point == "after_start" else task_finished
        signal_.connect(lambda sender, **kwargs: kill_once(), weak=False)
