"""The SQLite write queue's lock file across processes: held while held, never kept by a child."""

import subprocess
import sys
import textwrap
import types

import pytest

from steady_queue.sql.write_queue import NO_QUEUE, write_queue
from tests.runtime import write_queue_is_free

# Takes the queue, forks a child that lives on, and waits to be killed while holding it. The child
# says its pid itself: by then its fork hooks have run (had the parent said it, the test could kill
# the parent before the child ever ran, and find the lock still held by the child's inherited copy).
HOLDER = textwrap.dedent(
    """
    import os, sys, time, types
    from steady_queue.sql.write_queue import write_queue

    connection = types.SimpleNamespace(settings_dict={"NAME": sys.argv[1]}, is_in_memory_db=lambda: False)
    write_queue(connection).__enter__()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
    """
)


def test_a_holder_killed_with_sigkill_leaves_the_queue_free_even_if_its_children_live_on(tmp_path):
    database = tmp_path / "db.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)], stdout=subprocess.PIPE, text=True)
    child = int(holder.stdout.readline())
    try:
        assert not write_queue_is_free(database)
        holder.kill()
        holder.wait(10)
        # The child inherited the holder's open lock file: had it kept it, the lock would live on.
        assert write_queue_is_free(database)
    finally:
        holder.kill()
        subprocess.run(["kill", "-9", str(child)], check=False)
        holder.stdout.close()


@pytest.mark.parametrize("name", [":memory:", "file:memdb?mode=memory&cache=shared"])
def test_no_queue_where_there_is_no_file_to_lock(name):
    connection = types.SimpleNamespace(settings_dict={"NAME": name}, is_in_memory_db=lambda: name == ":memory:")
    assert write_queue(connection) is NO_QUEUE


def test_no_queue_where_the_lock_file_cannot_be_made(tmp_path):
    connection = types.SimpleNamespace(
        settings_dict={"NAME": str(tmp_path / "missing-directory" / "db.sqlite3")}, is_in_memory_db=lambda: False
    )
    assert write_queue(connection) is NO_QUEUE
