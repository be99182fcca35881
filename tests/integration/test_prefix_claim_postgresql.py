"""PostgreSQL's claim of a prefix from its queues' heads, and plans made again when the tables fill up.

The order of what a prefix claims is tested with every claim in test_claim.py; here, what only
PostgreSQL's statement does: skip rows other transactions hold, give way to the walk, read no other
queue, and keep prepared plans fit for the tables as they are.
"""

import threading

import pytest
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from steady_queue.db import queue_database
from steady_queue.models import ReadyExecution
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from steady_queue.models.tables import dialect
from steady_queue.sql import postgresql_claims
from steady_queue.sql.postgresql_claims import prefix_upper_bound
from tests.databases import queue_connection
from tests.runtime import in_threads
from tests.testapp import tasks

pytestmark = pytest.mark.skipif(queue_connection.vendor != "postgresql", reason="PostgreSQL's own claim")


@pytest.fixture
def sql_claims():
    """The claims in PostgreSQL's own SQL (not the ORM's, which STEADY_QUEUE["sql_fast_paths"] = False runs)."""
    if not dialect().claims_in_sql:
        pytest.skip("the ORM's claims (sql_fast_paths off)")


def enqueue(label, queue):
    return job_pk(tasks.record_anywhere.using(queue_name=queue).enqueue(label).id)


def statements(queries):
    """Which claim statements ran: 'heads' (the prefix's) or 'walk'."""
    kinds = []
    for query in queries.captured_queries:
        if "WITH RECURSIVE" in query["sql"]:
            kinds.append("heads")
        elif "WITH" in query["sql"] and "picked AS" in query["sql"]:
            kinds.append("walk")
    return kinds


def test_the_upper_bound_of_a_prefix_in_code_point_order():
    assert prefix_upper_bound("mail") == "maim"
    assert prefix_upper_bound("q0") == "q1"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\ud7ff") == "\ue000"  # over the surrogates
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("") is None


@pytest.mark.django_db
def test_a_prefix_with_nothing_waiting_reads_no_other_queue(sql_claims):
    process = register("worker", "worker-test", 1, "host")
    for i in range(20):
        enqueue(f"other{i}", queue=f"other{i % 4}")
    with CaptureQueriesContext(queue_connection) as queries:
        assert claim(["mail*"], 10, process.pk) == []
    # One statement found no queue of the pattern: no walk through the other queues' rows after it.
    assert statements(queries) == ["heads"]


@pytest.mark.django_db
def test_a_prefix_with_more_queues_than_it_probes_is_walked(sql_claims, monkeypatch):
    monkeypatch.setattr(postgresql_claims, "PREFIX_QUEUES_MAX", 2)
    monkeypatch.setattr(postgresql_claims, "_wide_prefixes", {})
    process = register("worker", "worker-test", 1, "host")
    ids = [enqueue(f"t{i}", queue=f"q{i % 4}") for i in range(8)]
    with CaptureQueriesContext(queue_connection) as queries:
        assert [job.pk for job in claim(["q*"], 5, process.pk)] == ids[:5]
        assert [job.pk for job in claim(["q*"], 5, process.pk)] == ids[5:]
    # The second claim knew the prefix for a wide one and walked at once.
    assert statements(queries) == ["heads", "walk", "walk"]


@pytest.mark.django_db(transaction=True)
def test_a_prefix_claim_takes_the_next_rows_while_another_transaction_holds_the_first():
    process = register("worker", "worker-test", 1, "host")
    ids = [enqueue(f"t{i}", queue=f"q{i % 3}") for i in range(9)]
    held, done, claimed = threading.Event(), threading.Event(), []

    def hold_the_first_four():
        with transaction.atomic(using=queue_database()):
            rows = ReadyExecution.objects.using(queue_database()).select_for_update().filter(job_id__in=ids[:4])
            assert len(list(rows)) == 4
            held.set()
            done.wait(30)

    def claim_three():
        assert held.wait(30)
        try:
            claimed.extend(job.pk for job in claim(["q*"], 3, process.pk))
        finally:
            done.set()

    in_threads(hold_the_first_four, claim_three)
    # The heads' candidates were all held: after its tries, the walk skipped them and read on.
    assert claimed == ids[4:7]


def prepared_plan(connection, marker, parameters):
    """EXPLAIN of the statement the connection prepared whose text has ``marker``, with ``parameters``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{marker}%"])
        (name,) = cursor.fetchone()
        cursor.execute(f"EXPLAIN EXECUTE {name}({parameters})")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_plans_made_on_empty_tables_are_made_again_when_refreshed(sql_claims):
    process = register("worker", "worker-test", 1, "host")
    if not dialect().prepared_statements:
        pytest.skip("statements are not prepared (STEADY_QUEUE['prepared_statements'])")
    # New files, as after migrate: the planner takes the tables for a few empty pages, whatever
    # earlier tests left in their statistics (an ANALYZE's counts outlive its transaction).
    with queue_connection.cursor() as cursor:
        cursor.execute("TRUNCATE steady_queue_job, steady_queue_ready_execution, steady_queue_claimed_execution "
                       "CASCADE")
    for _ in range(8):  # the generic plan is PostgreSQL's from the sixth run on
        assert claim(["*"], 10, process.pk) == []
    tasks.add.enqueue_many([(i, i) for i in range(5000)])
    parameters = f"'{{}}', 10, {process.pk}"
    before = prepared_plan(queue_connection, "picked AS", parameters)
    dialect().refresh_plans()
    assert len(claim(["*"], 10, process.pk)) == 10
    after = prepared_plan(queue_connection, "picked AS", parameters)
    # Planned on empty tables, the claim read the whole jobs table for the ten rows it claimed.
    assert "Seq Scan" in before, before
    assert "Seq Scan" not in after, after
