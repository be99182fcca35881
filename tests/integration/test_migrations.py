import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "steady_queue", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_claim_indexes_sort_priority_descending():
    from steady_queue.models import ReadyExecution
    from tests.databases import queue_connection as connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ReadyExecution._meta.db_table)
    poll_all = constraints["sq_ready_poll_all"]
    assert poll_all["columns"] == ["priority", "job_id"]
    assert poll_all["orders"] == ["DESC", "ASC"]
    assert constraints["sq_ready_poll_queue"]["columns"] == ["queue_name", "priority", "job_id"]
    assert constraints["sq_ready_poll_queue"]["orders"] == ["ASC", "DESC", "ASC"]


@pytest.mark.django_db
def test_the_claim_reads_the_ready_index_in_order_without_sorting():
    """EXPLAIN on PostgreSQL: the claim walks sq_ready_poll_all under its LIMIT, no Sort node below it."""
    from tests.databases import queue_connection as connection

    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    from steady_queue.models.tables import dialect
    from tests.testapp import tasks

    sql = dialect()

    tasks.add.enqueue_many([(i, i) for i in range(2000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE steady_queue_ready_execution")
        # For one queue either index serves (the planner picks by the statistics): both are ordered.
        for pattern, index in (("*", "sq_ready_poll_all"), ("default", "sq_ready_poll_")):
            condition, params = sql.queue_condition(pattern)
            cursor.execute("EXPLAIN " + sql.claim_sql(condition, ["id"]), [*params, [], 10, 1])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            picked = plan.split("CTE picked", 1)[1].split("CTE moved", 1)[0]
            assert f"Index Scan using {index}" in picked, plan
            assert "Sort" not in picked, plan
