"""PostgreSQL: an enqueue is prepared on the server from the second time a connection runs it."""

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from steady_queue.conf import get_config
from steady_queue.models import Job
from steady_queue.sql import postgresql
from tests.databases import queue_connection as connection
from tests.markers import fast_sql_only
from tests.testapp import tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements"),
    # The ORM's enqueue (fast paths off) prepares nothing.
    fast_sql_only,
]


def prepared_job_inserts():
    """The statements this session prepared that insert jobs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            [f'%INSERT INTO "{Job._meta.db_table}"%'],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def fresh_session():
    """A new server session, and a connection that has run no enqueue yet."""
    connection.close()
    postgresql._statements_run.pop(connections[connection.alias], None)
    yield
    connection.close()


def test_an_enqueue_is_prepared_from_its_second_run(fresh_session):
    if not get_config().prepared_statements:
        pytest.skip("STEADY_QUEUE['prepared_statements'] is off here (PgBouncer)")
    tasks.add.enqueue(1, 2)
    assert prepared_job_inserts() == []  # a connection that enqueues once sends an unnamed statement
    tasks.add.enqueue(3, 4)
    assert len(prepared_job_inserts()) == 1
    tasks.add.enqueue(5, 6)
    tasks.add.enqueue_many([(7, 8), (9, 10)])
    assert len(prepared_job_inserts()) == 1  # the one statement, whatever the batch size
    assert sorted(Job.objects.values_list("arguments__args", flat=True)) == [
        [1, 2], [3, 4], [5, 6], [7, 8], [9, 10]
    ]


def test_no_enqueue_is_prepared_with_prepared_statements_off(fresh_session):
    with override_settings(STEADY_QUEUE={**settings.STEADY_QUEUE, "prepared_statements": False}):
        for i in range(3):
            tasks.add.enqueue(i, i)
        assert prepared_job_inserts() == []
    assert Job.objects.count() == 3


def test_no_enqueue_is_prepared_while_django_logs_queries(fresh_session):
    """DEBUG pages and tools show each statement with its values, as Django logs an unprepared one."""
    with CaptureQueriesContext(connection) as captured:
        for i in range(3):
            tasks.add.enqueue(i, i)
    assert prepared_job_inserts() == []
    assert all(query["sql"].lstrip().startswith("WITH") for query in captured.captured_queries)
