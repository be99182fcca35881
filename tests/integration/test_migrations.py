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
    # PostgreSQL's index for prefixes: by queue name in the "C" collation (an expression: no column).
    assert ("sq_ready_poll_prefix" in constraints) == (connection.vendor == "postgresql")


def claim_plans(waiting, limit, patterns, columns=("id",)):
    """EXPLAIN of the claim of each queue pattern on PostgreSQL, with ``waiting`` tasks ready and analyzed."""
    from tests.databases import queue_connection as connection

    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    from steady_queue.models.tables import dialect
    from tests.testapp import tasks

    sql = dialect()
    tasks.add.enqueue_many([(i, i) for i in range(waiting)])
    plans = {}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE steady_queue_ready_execution")
        cursor.execute("ANALYZE steady_queue_job")
        for pattern in patterns:
            condition, params = sql.queue_condition(pattern)
            cursor.execute("EXPLAIN " + sql.claim_sql(condition, list(columns)), [*params, [], limit, 1])
            plans[pattern] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


@pytest.mark.django_db
def test_the_claim_reads_the_ready_index_in_order_without_sorting():
    """EXPLAIN on PostgreSQL: the claim walks sq_ready_poll_all under its LIMIT, no Sort node below it."""
    plans = claim_plans(2000, 10, ["*", "default"])
    # For one queue either index serves (the planner picks by the statistics): both are ordered.
    for pattern, index in (("*", "sq_ready_poll_all"), ("default", "sq_ready_poll_")):
        plan = plans[pattern]
        picked = plan.split("CTE picked", 1)[1].split("CTE moved", 1)[0]
        assert f"Index Scan using {index}" in picked, plan
        assert "Sort" not in picked, plan


@pytest.mark.django_db
def test_the_claim_finds_the_rows_it_moves_and_reads_by_primary_key():
    """EXPLAIN on PostgreSQL: no table read whole. Joined to its CTEs, the claim hashed the ready
    and job tables while they were small (thousands of rows): three times the time of a claim."""
    plan = claim_plans(5000, 100, ["*"], columns=["id", "arguments"])["*"]
    assert "Seq Scan" not in plan, plan
    assert "Hash" not in plan, plan
    assert "Index Scan using steady_queue_ready_execution_pkey" in plan, plan
    assert "Index Scan using steady_queue_job_pkey" in plan, plan


@pytest.mark.django_db
def test_the_claim_of_a_prefix_reads_its_queues_heads_from_their_index():
    """EXPLAIN on PostgreSQL: the queues of a prefix and their first rows come from sq_ready_poll_prefix
    (a range in the "C" collation), and no table is read whole."""
    from tests.databases import queue_connection as connection

    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    from steady_queue.models.tables import dialect
    from steady_queue.sql.postgresql_claims import prefix_upper_bound
    from tests.testapp import tasks

    for queue in range(40):
        tasks.record_anywhere.using(queue_name=f"q{queue:02}").enqueue_many([(i,) for i in range(50)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE steady_queue_ready_execution")
        cursor.execute("ANALYZE steady_queue_job")
        cursor.execute(
            "EXPLAIN " + dialect().prefix_claim_sql(["id", "priority"]),
            {"prefix": "q1", "upper": prefix_upper_bound("q1"), "paused": [], "limit": 10, "process": 1},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sq_ready_poll_prefix" in plan, plan
    assert "sq_ready_poll_all" not in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_failed_rows_written_before_0011_get_their_queue_and_task_from_the_job():
    """The console filters failed tasks on the failed table's own copy: older rows must have it too."""
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    from steady_queue.console.statuses import STATUSES
    from steady_queue.models import FailedExecution, Job
    from tests.databases import queue_connection as connection

    executor = MigrationExecutor(connection)
    executor.migrate([("steady_queue", "0010_claimed_process_index")])
    try:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            for task_path, queue in (("shop.tasks.charge", "payments"), ("shop.tasks.mail", "default")):
                cursor.execute(
                    f"INSERT INTO {Job._meta.db_table} (token, task_path, queue_name, priority, backend, arguments,"
                    " created_at, finished_at, worker_ids, errors, max_attempts, retry_lost)"
                    " VALUES (1, %s, %s, 0, 'default', '{}', %s, %s, '[]', '[]', 1, %s)",
                    [task_path, queue, now, now, False],
                )
            cursor.execute(
                f"INSERT INTO {FailedExecution._meta.db_table} (job_id, created_at)"
                f" SELECT id, created_at FROM {Job._meta.db_table}",
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("steady_queue"))
    rows = FailedExecution.objects.order_by("job_id").values_list("queue_name", "task_path")
    assert list(rows) == [("payments", "shop.tasks.charge"), ("default", "shop.tasks.mail")]
    failed = STATUSES["failed"]
    assert [row.job.task_path for row in failed.rows(queue_name="payments")] == ["shop.tasks.charge"]
    assert [row.job.queue_name for row in failed.rows(task_path="shop.tasks.mail")] == ["default"]


@pytest.mark.django_db
def test_a_round_finds_its_claims_by_primary_key_in_the_prepared_plan():
    """EXPLAIN of the generic plan PostgreSQL keeps for the prepared round: the claims by primary key.

    By the process's index instead, a round read every entry its process had left since the last
    vacuum to find its few rows.
    """
    import re
    from datetime import timedelta

    from django.utils import timezone

    from steady_queue.models import ClaimedExecution, Job, Process
    from steady_queue.models.claimed_execution import Success
    from steady_queue.models.tables import dialect
    from tests.databases import queue_connection as connection

    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    from tests.testapp import tasks

    tasks.add.enqueue_many([(i, i) for i in range(2000)])
    processes = [Process.objects.create(kind="worker", name=f"w{i}", pid=i, hostname="host") for i in range(200)]
    jobs = list(Job.objects.order_by("id"))
    ClaimedExecution.objects.bulk_create(
        ClaimedExecution(job=job, process=processes[i % len(processes)]) for i, job in enumerate(jobs)
    )
    mine = processes[0]
    claims = [job for i, job in enumerate(jobs) if i % len(processes) == 0]
    now = timezone.now()
    outcomes = [Success(job, now - timedelta(seconds=1), now, None) for job in claims[:4]]
    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        dialect().finish_and_start(mine.pk, "w0", outcomes, [job.pk for job in claims[4:8]], now, True)
    sql, params = captured[-1]
    numbered = iter(range(1, len(params) + 1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE steady_queue_claimed_execution")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("PREPARE round AS " + re.sub(r"%s", lambda _: f"${next(numbered)}", sql))
        try:
            cursor.execute(f"EXPLAIN EXECUTE round({', '.join(['%s'] * len(params))})", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE round")
    assert "sq_claimed_process" not in plan, plan
    assert "steady_queue_claimed_execution_pkey" in plan, plan
