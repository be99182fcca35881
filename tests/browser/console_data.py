"""The queue the browser tests look at: tasks in every state on several queues, workers and recurring tasks.

The same rows every time (only the times differ), so that the screenshots in the docs can be made again.
"""

from datetime import timedelta

from django.utils import timezone

from steady_queue.cancellation import cancel
from steady_queue.models import Process, RecurringExecution, RecurringTask
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from tests.testapp import tasks

# More than one page of the finished list (50), so that it has a "Next page".
FINISHED = 55
HOST = "app-1.example.internal"


def fill_console(run_tasks):
    """Fill the queue through the queue's own operations; return the counts per state."""
    tasks.add.enqueue_many([(i, i) for i in range(FINISHED - 3)])
    tasks.send_email.enqueue_many([(f"customer{i}@example.com",) for i in range(3)])
    tasks.fail.enqueue_many([("payment provider timed out",), ("card declined",), ("payment provider timed out",)])
    tasks.fail.using(queue_name="low").enqueue("report template missing")
    nightly = RecurringTask.objects.create(
        key="nightly-totals", schedule="0 3 * * *", task_path="tests.testapp.tasks.add",
        arguments={"args": [40, 2], "kwargs": {}}, queue_name="reports", description="Adds up the day's orders",
        next_run_at=timezone.now().replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=1),
    )
    RecurringTask.objects.create(
        key="hourly-digest", schedule="0 * * * *", task_path="tests.testapp.tasks.echo",
        arguments={"args": ["digest"], "kwargs": {"api_token": "not-for-your-eyes"}}, queue_name="email",
        next_run_at=timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
    )
    for days in range(3, 0, -1):
        tick = tasks.add.using(queue_name="reports").enqueue(40, 2)
        RecurringExecution.objects.create(
            task_key=nightly.key, run_at=nightly.next_run_at - timedelta(days=days), job_id=job_pk(tick.id)
        )
    run_tasks(worker_name="worker-2")
    Process.objects.filter(name="worker-2").update(
        hostname=HOST, pid=4243, metadata={"queues": ["*"], "threads": 5}
    )

    supervisor = register("supervisor", "supervisor-1", 4200, HOST)
    worker = register(
        "worker", "worker-1", 4242, HOST, supervisor_id=supervisor.pk, metadata={"queues": ["reports"], "threads": 3}
    )
    tasks.add.using(queue_name="reports").enqueue_many([(1, 1), (2, 2)])
    claim(["reports"], 2, worker.pk)

    tasks.add.enqueue_many([(i, 10) for i in range(3)])
    tasks.send_email.enqueue_many([("ada@example.com",), ("grace@example.com",)])
    tasks.add.using(run_after=timedelta(hours=2)).enqueue_many([(7, 7), (8, 8)])
    # One slot per key: the first holds it (ready), the other two wait for it (blocked).
    for label in ("first", "second", "third"):
        tasks.one_at_a_time.enqueue("invoice-42", label)
    cancelled = tasks.send_email.enqueue("unsubscribed@example.com")
    cancel(cancelled.id, by="console user operator")
    return {
        "failed": 4, "in-progress": 2, "blocked": 2, "scheduled": 2, "ready": 6,
        "finished": FINISHED + 3, "cancelled": 1,
    }
