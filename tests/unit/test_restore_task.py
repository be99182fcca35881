"""restore_task(): the Task a job row names, shared between rows that name it alike."""

from django.utils import timezone

from steady_queue.models.job import new_job
from steady_queue.results import restore_task
from tests.testapp import tasks


def row(**given):
    values = {
        "task_path": "tests.testapp.tasks.add", "queue_name": "default", "priority": 0, "backend": "default",
        "arguments": {"args": [1, 2], "kwargs": {}}, "created_at": timezone.now(),
    }
    return new_job(**{**values, **given})


def test_rows_that_name_a_task_alike_share_one_task():
    first, second = restore_task(row()), restore_task(row(arguments={"args": [3, 4], "kwargs": {}}))
    assert first is second
    assert first.func is tasks.add.func and first.queue_name == "default"


def test_a_row_gets_its_own_queue_priority_and_run_time():
    plain = restore_task(row())
    moved = restore_task(row(queue_name="other", priority=7))
    assert moved is not plain and (moved.queue_name, moved.priority) == ("other", 7)
    later = timezone.now()
    scheduled = restore_task(row(scheduled_at=later))
    assert scheduled.run_after == later and plain.run_after is None
    assert restore_task(row(scheduled_at=later)) is not scheduled


def test_a_task_redefined_under_its_path_is_restored_anew(monkeypatch):
    before = restore_task(row())

    def replacement(a, b):
        return a * b

    monkeypatch.setattr(tasks, "add", tasks.add.__class__.__new__(tasks.add.__class__))
    for name in type(tasks.add).__dataclass_fields__:
        object.__setattr__(tasks.add, name, getattr(before, name))
    object.__setattr__(tasks.add, "func", replacement)
    after = restore_task(row())
    assert after is not before and after.func is replacement


def test_a_task_that_no_longer_imports_is_not_kept():
    missing = restore_task(row(task_path="tests.testapp.no_such_module.task"))
    assert restore_task(row(task_path="tests.testapp.no_such_module.task")) is not missing
