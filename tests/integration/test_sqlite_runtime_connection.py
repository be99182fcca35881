"""A runtime process's SQLite connections: in WAL mode a task's autocommit writes wait their turn in the queue."""

import subprocess
import sys
import textwrap
import threading

import pytest
from django.db import connections, transaction

from steady_queue.db import queue_database
from steady_queue.models import Pause
from steady_queue.sql.sqlite import SQLite, queue_autocommit_writes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connections[queue_database()].vendor != "sqlite", reason="SQLite's write queue"),
]

# Takes the write queue (not SQLite's lock) and holds it until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time, types
    from steady_queue.sql.write_queue import write_queue

    connection = types.SimpleNamespace(settings_dict={"NAME": sys.argv[1]}, is_in_memory_db=lambda: False)
    write_queue(connection).__enter__()
    print("held", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def journal_mode(request):
    """The queue database switched to the mode the test is parametrized with, back to DELETE after."""
    queue = connections[queue_database()]
    with queue.cursor() as cursor:
        cursor.execute(f"PRAGMA journal_mode={request.param}")
    yield request.param
    with queue.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=delete")


@pytest.fixture
def queue_held_elsewhere():
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(connections[queue_database()].settings_dict["NAME"])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait(10)
    holder.stdout.close()


def in_a_runtime_thread(write, queued=True):
    """Run ``write`` in a thread whose queue connection is prepared as a runtime process's; an Event set when done."""
    done = threading.Event()

    def run():
        connection = connections[queue_database()]
        try:
            connection.ensure_connection()
            SQLite.prepare_runtime_connection(connection)
            SQLite.prepare_runtime_connection(connection)  # a reconnect: installed once all the same
            assert connection.execute_wrappers.count(queue_autocommit_writes) == (1 if queued else 0)
            write()
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return done, thread


@pytest.mark.parametrize("journal_mode", ["wal"], indirect=True)
def test_an_autocommit_write_waits_for_the_queue(journal_mode, queue_held_elsewhere):
    done, thread = in_a_runtime_thread(lambda: Pause.objects.create(queue_name="saved-by-a-task"))
    try:
        # SQLite's own lock is free: only the queue holds the write back.
        assert not done.wait(1.0)
        queue_held_elsewhere.kill()
        assert done.wait(10)
    finally:
        queue_held_elsewhere.kill()
        thread.join(10)
    assert Pause.objects.filter(queue_name="saved-by-a-task").exists()


@pytest.mark.parametrize("journal_mode", ["wal"], indirect=True)
def test_writes_inside_a_transaction_do_not_queue_statement_by_statement(journal_mode, queue_held_elsewhere):
    def write():
        with transaction.atomic(using=queue_database()):
            Pause.objects.create(queue_name="in-a-transaction")

    done, thread = in_a_runtime_thread(write)
    try:
        # Its transaction takes SQLite's lock as a whole; a queue taken inside it could deadlock.
        assert done.wait(10)
    finally:
        thread.join(10)
    assert Pause.objects.filter(queue_name="in-a-transaction").exists()


def test_in_rollback_journal_mode_autocommit_writes_do_not_queue(queue_held_elsewhere):
    # A read the task left open would hold a lock the queue's holder waits for to commit: the two
    # would wait for each other until the busy timeout. So in this mode they do not queue.
    done, thread = in_a_runtime_thread(lambda: Pause.objects.create(queue_name="rollback-mode"), queued=False)
    try:
        assert done.wait(10)
    finally:
        thread.join(10)
    assert Pause.objects.filter(queue_name="rollback-mode").exists()
