"""The scheduler's database side, in-process: firing a tick once, syncing the persisted list."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.tasks import default_task_backend
from django.test import override_settings

from steady_queue.cron.scheduler import Scheduler
from steady_queue.models import Job, ReadyExecution, RecurringExecution, RecurringTask
from steady_queue.models.job import result_id
from steady_queue.recurring_task import recurring
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_registry(registry):
    """Every test here starts with no recurring task declared."""


def test_a_tick_is_enqueued_once_however_many_schedulers_fire_it(registry):
    recurring(schedule="* * * * *", key="digest", args=("x",), kwargs={"n": 1}, queue_name="low", priority=7)(
        tasks.echo
    )
    schedulers = [Scheduler(), Scheduler(), Scheduler()]
    spec = schedulers[0].specs[0]
    run_at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert all(s._fire(spec, run_at) for s in schedulers)

    job = Job.objects.get()
    assert (job.task_path, job.queue_name, job.priority) == ("tests.testapp.tasks.echo", "low", 7)
    assert job.arguments == {"args": ["x"], "kwargs": {"n": 1}}
    assert ReadyExecution.objects.filter(job=job).exists()
    execution = RecurringExecution.objects.get()
    assert (execution.task_key, execution.run_at, execution.job_id) == ("digest", run_at, job.pk)
    result = default_task_backend.get_result(result_id(job))
    assert result.task.func is tasks.echo.func

    schedulers[0]._fire(spec, datetime(2026, 11, 25, 9, 1, tzinfo=UTC))
    assert Job.objects.count() == 2


def test_clearing_the_job_does_not_reopen_the_tick(registry):
    recurring(schedule="* * * * *", key="digest")(tasks.add.using())
    scheduler = Scheduler()
    run_at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    scheduler._fire(scheduler.specs[0], run_at)
    Job.objects.all().delete()
    assert RecurringExecution.objects.get().job_id is None
    scheduler._fire(scheduler.specs[0], run_at)
    assert Job.objects.count() == 0


def test_sync_adds_updates_and_removes_persisted_tasks(registry):
    RecurringTask.objects.create(key="gone", schedule="@daily", task_path="x.y", queue_name="default")
    RecurringTask.objects.create(key="kept", schedule="@daily", task_path="x.y", queue_name="default")
    recurring(schedule="0 9 * * *", key="kept", description="now at nine")(tasks.echo)
    recurring(schedule="@hourly", key="new", priority=3)(tasks.add)
    scheduler = Scheduler()
    scheduler._sync()

    rows = {row.key: row for row in RecurringTask.objects.all()}
    assert sorted(rows) == ["kept", "new"]
    assert (rows["kept"].schedule, rows["kept"].task_path, rows["kept"].description) == (
        "0 9 * * *", "tests.testapp.tasks.echo", "now at nine",
    )
    assert rows["new"].priority == 3


def test_settings_tasks_are_scheduled_too(registry):
    configured = {"nightly": {"task": "tests.testapp.tasks.add", "schedule": "0 3 * * *", "args": [2, 3]}}
    with override_settings(STEADY_QUEUE={**settings.STEADY_QUEUE, "recurring_tasks": configured}):
        scheduler = Scheduler()
        scheduler._fire(scheduler.specs[0], datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    assert Job.objects.get().arguments == {"args": [2, 3], "kwargs": {}}
