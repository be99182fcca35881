"""Real workers whose queue database goes through PgBouncer in transaction pooling mode.

Run with STEADY_QUEUE_TEST_DB=pgbouncer after ``python tests/pgbouncer.py start``; the rest of the
acceptance suite runs through PgBouncer too in that configuration.
"""

import time

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import default_task_backend

from steady_queue.models import Process
from tests.runtime import wait_for
from tests.testapp import tasks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "direct" not in settings.DATABASES,
        reason="runs through PgBouncer only: STEADY_QUEUE_TEST_DB=pgbouncer (python tests/pgbouncer.py start)",
    ),
]

WARNING = "do not reach this process"


def finished(result):
    return lambda: default_task_backend.get_result(result.id).is_finished


def test_the_queue_connection_prepares_no_statements():
    """Django's default: a transaction-pooling PgBouncer before 1.21 would lose them between transactions."""
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None


def test_without_a_direct_listener_the_lost_notifications_are_noticed_and_workers_poll(start_supervisor):
    supervisor = start_supervisor(
        {"listener_database": None, "workers": [{"polling_interval": 0.2}], "dispatchers": [{"polling_interval": 0.2}]}
    )
    wait_for(lambda: WARNING in supervisor.output, message="the warning about lost notifications")
    assert "STEADY_QUEUE['listener_database']" in supervisor.output
    # A worker that believed in its wake-ups would sleep 10 s between polls: three tasks in a row
    # would hardly each start within 5 s. Polling every 0.2 s, they do.
    for label in ("first", "second", "third"):
        time.sleep(0.5)  # the worker is idle, between two polls
        result = tasks.record.enqueue(label)
        wait_for(finished(result), timeout=5, message=f"the {label} task to run on the worker's next poll")
    supervisor.send(15)
    assert supervisor.wait() == 0
    # Once per watcher (the worker's and the dispatcher's), not once a minute.
    assert supervisor.output.count(WARNING) == 2


def test_with_a_direct_listener_an_idle_worker_is_woken_by_the_enqueue(start_supervisor):
    """With a 60 s polling interval, only a notification can start the task within seconds."""
    slow_polling = {"workers": [{"polling_interval": 60}], "dispatchers": [{"polling_interval": 60}]}
    supervisor = start_supervisor({**slow_polling, "listener_database": "direct"})
    wait_for(lambda: Process.objects.filter(kind="worker").exists(), message="a worker")
    time.sleep(1.0)  # the worker is now asleep in its long poll
    result = tasks.record.enqueue("woken")
    wait_for(finished(result), timeout=10, message="the task to run on a notification")
    supervisor.send(15)
    assert supervisor.wait() == 0
    assert WARNING not in supervisor.output


def test_many_tasks_run_through_the_pooler(start_supervisor):
    """Claims, finishes and heartbeats, thousands of statements on rotating server connections."""
    results = tasks.record.enqueue_many([(f"t{i}",) for i in range(300)])
    supervisor = start_supervisor({"workers": [{"threads": 4, "processes": 2, "polling_interval": 0.05}]})
    wait_for(lambda: all(finished(r)() for r in results), timeout=60, message="every task to finish")
    assert {default_task_backend.get_result(r.id).status for r in results} == {"SUCCESSFUL"}
    supervisor.send(15)
    assert supervisor.wait() == 0
    assert "prepared statement" not in supervisor.output  # none lost or duplicated between transactions
