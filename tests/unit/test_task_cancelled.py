"""TaskCancelled: recorded on a task cancelled while it waited, its message built from the facts."""

from datetime import UTC, datetime

from django.tasks.exceptions import TaskException

from steady_queue.exceptions import SteadyQueueError, TaskCancelled

WHEN = datetime(2026, 5, 1, 12, 30, 5, 123456, tzinfo=UTC)


def test_it_is_a_steady_queue_error():
    error = TaskCancelled("ready", WHEN)
    assert isinstance(error, SteadyQueueError) and isinstance(error, TaskException)


def test_the_message_says_who_when_and_in_which_state():
    assert str(TaskCancelled("ready", WHEN, by="admin user alice")) == (
        "Cancelled by admin user alice at 2026-05-01 12:30:05 UTC while it waited for a worker"
    )
    assert (
        str(TaskCancelled("scheduled", WHEN))
        == "Cancelled at 2026-05-01 12:30:05 UTC while it waited for its run_after time"
    )
    assert str(TaskCancelled("blocked", WHEN)).endswith("while it waited for a concurrency slot")


def test_its_record_is_what_task_result_errors_read_back():
    message = "Cancelled at 2026-05-01 12:30:05 UTC while it waited for a worker"
    assert TaskCancelled("ready", WHEN).as_record() == {
        "exception_class_path": "steady_queue.exceptions.TaskCancelled",
        "message": message,
        "traceback": f"steady_queue.exceptions.TaskCancelled: {message}\n",
    }
