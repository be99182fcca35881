"""A result id names one task for ever, whatever rolls back, is cleared or restarts a sequence."""

import pytest
from django.db import transaction
from django.db.migrations.executor import MigrationExecutor
from django.tasks import default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from steady_queue.models import Job
from steady_queue.models.job import job_pk
from tests.databases import queue_connection as connection
from tests.testapp import tasks


class RolledBack(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_task_id_never_names_the_next_task():
    with pytest.raises(RolledBack), transaction.atomic(using=connection.alias):
        gone = tasks.add.enqueue(1, 1)
        raise RolledBack
    kept = tasks.echo.enqueue("kept")
    if connection.vendor == "sqlite":
        # SQLite hands the rolled-back row id out again: only the token tells the two apart.
        assert job_pk(kept.id) == job_pk(gone.id)
    assert kept.id != gone.id
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(gone.id)
    assert default_task_backend.get_result(kept.id).args == ["kept"]


# Transactional: MySQL commits the open transaction before an ALTER TABLE, so a rollback could not undo it.
@pytest.mark.django_db(transaction=True)
def test_a_restarted_sequence_does_not_bring_an_old_id_back():
    old = tasks.add.enqueue(1, 1)
    Job.objects.all().delete()
    # What a flush or a restored backup does to the table's id sequence: it starts again below.
    table = Job._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, job_pk(old.id)])
        elif connection.vendor == "mysql":
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} AUTO_INCREMENT = {job_pk(old.id)}")
        else:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [job_pk(old.id) - 1, table])
    new = tasks.echo.enqueue("new")
    assert job_pk(new.id) == job_pk(old.id)
    assert new.id != old.id
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(old.id)


@pytest.mark.django_db
def test_ids_of_a_bulk_enqueue_are_distinct_and_unguessable_from_each_other():
    results = tasks.add.enqueue_many([(n, n) for n in range(50)])
    tokens = {result.id.partition("-")[2] for result in results}
    assert len(tokens) == 50
    assert [default_task_backend.get_result(r.id).args for r in results] == [[n, n] for n in range(50)]


@pytest.mark.django_db
@pytest.mark.parametrize("change", [lambda i: i.partition("-")[0], lambda i: i[:-1] + ("0" if i[-1] != "0" else "1")])
def test_an_id_with_a_wrong_or_missing_token_names_nothing(change):
    result = tasks.add.enqueue(1, 1)
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(change(result.id))


@pytest.mark.django_db(transaction=True)
def test_jobs_written_before_the_token_keep_their_plain_ids():
    executor = MigrationExecutor(connection)
    executor.migrate([("steady_queue", "0002_notifications")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Job._meta.db_table} (task_path, queue_name, priority, backend, arguments, created_at, "
                "worker_ids, errors) VALUES (%s, 'default', 0, 'default', %s, %s, '[]', '[]')",
                [
                    "tests.testapp.tasks.add",
                    '{"args": [2, 3], "kwargs": {}}',
                    connection.ops.adapt_datetimefield_value(timezone.now()),
                ],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("steady_queue"))
    (legacy,) = Job.objects.all()
    assert legacy.token == 0
    assert default_task_backend.get_result(str(legacy.pk)).args == [2, 3]
    assert tasks.add.enqueue(1, 1).id.startswith(f"{legacy.pk + 1}-")
