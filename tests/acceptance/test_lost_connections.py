"""A real ``manage.py steady_queue`` whose database connections are cut while it runs.

A claim cut off during its COMMIT may have committed all the same: MariaDB commits and reports only
the lost connection. The worker then owns claims that none of its threads runs.
"""

import os
from datetime import timedelta

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.models import ClaimedExecution, Process, ScheduledExecution
from steady_queue.models.job import job_pk
from tests.databases import queue_connection
from tests.runtime import wait_for
from tests.testapp import tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(queue_connection.vendor == "sqlite", reason="SQLite has no connections to cut"),
    # Cutting PostgreSQL's connections behind PgBouncer cuts its pooled server connections only: it
    # opens new ones and the worker's own connection, to PgBouncer, never breaks.
    pytest.mark.skipif(
        os.environ.get("STEADY_QUEUE_TEST_DB") == "pgbouncer", reason="PgBouncer hides cut server connections"
    ),
]


def cut_other_connections():
    """End every connection to the queue's database but this one, as a failover or a proxy would."""
    name = queue_connection.settings_dict["NAME"]
    with queue_connection.cursor() as cursor:
        if queue_connection.vendor == "mysql":
            cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                           [name])
            for (thread_id,) in cursor.fetchall():
                cursor.execute(f"KILL CONNECTION {int(thread_id)}")
        else:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )


def test_a_claim_whose_result_was_lost_is_put_back_and_runs(start_supervisor):
    supervisor = start_supervisor()
    worker = wait_for(lambda: Process.objects.filter(kind="worker").first(), message="a worker")
    warm_up = tasks.record.enqueue("warm-up")
    wait_for(lambda: default_task_backend.get_result(warm_up.id).status == TaskResultStatus.SUCCESSFUL,
             message="the worker's first task")
    # What a claim that committed unseen leaves: a job claimed in the worker's name, in no thread.
    orphan = tasks.record.using(run_after=timezone.now() + timedelta(days=1)).enqueue("orphan")
    with transaction.atomic(using=queue_connection.alias):
        ScheduledExecution.objects.filter(job_id=job_pk(orphan.id)).delete()
        ClaimedExecution.objects.create(job_id=job_pk(orphan.id), process_id=worker.pk)

    # The worker's next claim fails on its cut connection: it then gives back what it does not run.
    cut_other_connections()
    wait_for(lambda: default_task_backend.get_result(orphan.id).status == TaskResultStatus.SUCCESSFUL,
             message="the orphaned claim to be put back and run")
    assert "claim cut off in its commit put back" in supervisor.output
    supervisor.send(15)
    assert supervisor.wait() == 0
