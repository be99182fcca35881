"""The cursor a dialect's statements run on: observers see them all, and Django's rules still hold.

On SQLite, where nothing observes the statements, they go to the driver's own cursor (DriverCursor)
instead of Django's; these tests hold that path to what Django's cursor guarantees.
"""

import pytest
from django.db import DatabaseError, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from steady_queue.models import Job, ReadyExecution
from steady_queue.models.tables import dialect
from steady_queue.sql.sqlite import DriverCursor, SQLite, driver_sql, queue_autocommit_writes
from tests.databases import queue_connection as connection
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_statements_of_an_enqueue_are_seen_by_a_query_log():
    with CaptureQueriesContext(connection) as captured:
        tasks.add.enqueue(1, 2)
    statements = " ".join(query["sql"] for query in captured.captured_queries)
    assert Job._meta.db_table in statements
    assert ReadyExecution._meta.db_table in statements


def test_statements_of_an_enqueue_go_through_an_execute_wrapper():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        tasks.add.enqueue(1, 2)
    assert any(Job._meta.db_table in sql for sql in seen)
    assert any(ReadyExecution._meta.db_table in sql for sql in seen)


def test_no_enqueue_in_a_transaction_django_knows_is_broken():
    with transaction.atomic(using=connection.alias):
        transaction.set_rollback(True, using=connection.alias)
        with pytest.raises(TransactionManagementError):
            tasks.add.enqueue(1, 2)
    assert Job.objects.count() == 0


def test_a_database_error_is_django_s():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's driver cursor")
    sql = dialect(connection.alias)
    with sql.statement_cursor() as cursor:
        assert isinstance(cursor, DriverCursor)
        with pytest.raises(DatabaseError, match="no such table"):
            cursor.execute("SELECT * FROM sq_no_such_table WHERE 1 = %s", [1])
    assert connection.errors_occurred


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT %s, %s", "SELECT ?, ?"),
        ("SELECT 'a%%s' WHERE x = %s", "SELECT 'a%s' WHERE x = ?"),
        ("SELECT 10 %% 3", "SELECT 10 % 3"),
    ],
)
def test_driver_sql_converts_placeholders_as_django_does(sql, expected):
    assert driver_sql(sql) == expected


def test_the_sqlite_driver_cursor_is_only_used_unobserved():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's driver cursor")
    sql = dialect(connection.alias)
    assert isinstance(sql, SQLite)
    with sql.statement_cursor() as cursor:
        assert isinstance(cursor, DriverCursor)
    with CaptureQueriesContext(connection), sql.statement_cursor() as cursor:
        assert not isinstance(cursor, DriverCursor)
    with connection.execute_wrapper(lambda execute, *args: execute(*args)), sql.statement_cursor() as cursor:
        assert not isinstance(cursor, DriverCursor)


def test_the_runtime_s_own_wrapper_keeps_the_driver_cursor_inside_a_transaction_only():
    """queue_autocommit_writes queues a runtime's autocommit writes: outside a transaction, statements must meet it."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's driver cursor")
    sql = dialect(connection.alias)
    connection.execute_wrappers.insert(0, queue_autocommit_writes)
    try:
        with sql.statement_cursor() as cursor:
            assert not isinstance(cursor, DriverCursor)
        with transaction.atomic(using=connection.alias), sql.statement_cursor() as cursor:
            assert isinstance(cursor, DriverCursor)
    finally:
        connection.execute_wrappers.remove(queue_autocommit_writes)


def test_a_driver_cursor_closes_quietly_after_its_connection():
    """enqueue_transaction closes the connection when its ROLLBACK fails: the error to raise is the first one."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("SQLite's driver cursor, on a database file")
    sql = dialect(connection.alias)
    with pytest.raises(ValueError, match="the first error"):
        with sql.statement_cursor() as cursor:
            assert isinstance(cursor, DriverCursor)
            cursor.execute("SELECT 1")
            connection.close()
            raise ValueError("the first error")
