import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "steady_queue", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_claim_indexes_sort_priority_descending():
    from django.db import connection

    from steady_queue.models import ReadyExecution

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ReadyExecution._meta.db_table)
    poll_all = constraints["sq_ready_poll_all"]
    assert poll_all["columns"] == ["priority", "job_id"]
    assert poll_all["orders"] == ["DESC", "ASC"]
    assert constraints["sq_ready_poll_queue"]["columns"] == ["queue_name", "priority", "job_id"]
    assert constraints["sq_ready_poll_queue"]["orders"] == ["ASC", "DESC", "ASC"]
