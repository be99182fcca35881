"""write_transaction() and retry_on_lock() against real concurrent connections, outside any test transaction.

The other integration tests run inside a transaction, where both short-circuit; here two threads,
each with its own connection, collide the way two worker processes do.
"""

import threading
import time
from collections import Counter
from functools import partial

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from steady_queue.db import retry_on_lock, write_transaction
from steady_queue.sql.write_queue import NO_QUEUE, write_queue
from tests.runtime import in_threads, write_queue_is_free
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db(transaction=True)

# Author rows live in the default database, which holds the queue only in the one-database topology.
app_write_transaction = partial(write_transaction, DEFAULT_DB_ALIAS)


def read_then_write(name, attempts, transaction_factory, hold=0.0, wait=0.0):
    """A runtime-shaped transaction: read, think, then write."""

    def body():
        attempts[name] += 1
        with transaction_factory():
            list(Author.objects.all())
            time.sleep(hold)
            Author.objects.create(name=name)

    def start():
        time.sleep(wait)
        retry_on_lock(body)()

    return start


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's lock upgrade; PostgreSQL locks rows")
def test_on_sqlite_deferred_transactions_hit_the_lock_and_are_retried():
    attempts = Counter()
    in_threads(
        read_then_write("first", attempts, transaction.atomic, hold=0.4),
        read_then_write("second", attempts, transaction.atomic, wait=0.1),
    )
    assert sorted(Author.objects.values_list("name", flat=True)) == ["first", "second"]
    # The first one read, then found the second one's write lock when it wanted to write: SQLite
    # refuses such an upgrade at once ("database is locked"), and retry_on_lock ran it again.
    assert attempts["first"] >= 2 and attempts["second"] == 1


def test_write_transactions_queue_for_the_lock_instead_of_failing():
    attempts = Counter()
    in_threads(
        read_then_write("first", attempts, app_write_transaction, hold=0.4),
        read_then_write("second", attempts, app_write_transaction, wait=0.1),
    )
    assert sorted(Author.objects.values_list("name", flat=True)) == ["first", "second"]
    assert attempts == {"first": 1, "second": 1}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the write queue is SQLite's")
def test_on_sqlite_write_transactions_hold_the_write_queue_until_they_end():
    name = connection.settings_dict["NAME"]
    assert write_queue_is_free(name)
    with app_write_transaction():
        Author.objects.create(name="held")
        assert not write_queue_is_free(name)
    assert write_queue_is_free(name)
    # A transaction that fails gives it up too.
    with pytest.raises(RuntimeError), app_write_transaction():
        assert not write_queue_is_free(name)
        raise RuntimeError("the transaction fails")
    assert write_queue_is_free(name)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the write queue is SQLite's")
def test_on_sqlite_an_in_memory_database_has_no_write_queue():
    wrapper = type(connections[DEFAULT_DB_ALIAS])
    memory = wrapper({**connection.settings_dict, "NAME": ":memory:"}, alias="in_memory")  # never connected
    assert write_queue(memory) is NO_QUEUE


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite locks the database, not rows: no deadlocks")
def test_on_row_locking_databases_a_deadlock_is_retried():
    one, two = Author.objects.create(name="one"), Author.objects.create(name="two")
    attempts, both_locked_one_row = Counter(), threading.Barrier(2, timeout=10)

    def update_in_order(name, rows):
        @retry_on_lock
        def body():
            attempts[name] += 1
            with app_write_transaction():
                Author.objects.filter(pk=rows[0].pk).update(name=Concat(F("name"), Value(f"+{name}")))
                if attempts[name] == 1:
                    both_locked_one_row.wait()
                Author.objects.filter(pk=rows[1].pk).update(name=Concat(F("name"), Value(f"+{name}")))

        return body

    in_threads(update_in_order("a", (one, two)), update_in_order("b", (two, one)))
    # The database broke the deadlock by failing one transaction; it ran again and both committed.
    assert sorted(attempts.values()) == [1, 2]
    names = set(Author.objects.values_list("name", flat=True))
    assert names in ({"one+a+b", "two+a+b"}, {"one+b+a", "two+b+a"})


@pytest.mark.skipif(connection.vendor != "mysql", reason="InnoDB's lock wait timeout (error 1205)")
def test_on_mysql_a_lock_wait_timeout_is_retried():
    author = Author.objects.create(name="held")
    attempts, locked, waiter_retrying = Counter(), threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            list(Author.objects.select_for_update().filter(pk=author.pk))
            locked.set()
            # Keep the row until the waiter has given up once and tries again.
            waiter_retrying.wait(timeout=30)

    @retry_on_lock
    def body():
        attempts["waiter"] += 1
        if attempts["waiter"] > 1:
            waiter_retrying.set()
        with transaction.atomic():
            Author.objects.filter(pk=author.pk).update(name="updated")

    def waiter():
        locked.wait(timeout=30)
        with connection.cursor() as cursor:
            # The shortest wait InnoDB allows, so that the first try fails with 1205 in a second.
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        body()

    in_threads(holder, waiter)
    assert attempts["waiter"] >= 2
    assert Author.objects.get(pk=author.pk).name == "updated"
