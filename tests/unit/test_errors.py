"""One error hierarchy: every Steady Queue error is a SteadyQueueError, itself Django's TaskException."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.tasks.exceptions import TaskException

from steady_queue.arguments import DeserializationError, SerializationError
from steady_queue.concurrency import ConcurrencyKeyError
from steady_queue.exceptions import (
    ProcessExitError,
    ProcessLostError,
    ProcessMissingError,
    ProcessPrunedError,
    SteadyQueueError,
)
from steady_queue.recurring_task import RecurringTaskError


@pytest.mark.parametrize(
    ("error", "also"),
    [
        (SerializationError("args[0]", "is bad."), TypeError),
        (DeserializationError("gone"), SteadyQueueError),
        (ConcurrencyKeyError("app.tasks.t", "is bad."), ValueError),
        (RecurringTaskError("daily", "is bad."), ImproperlyConfigured),
        (ProcessExitError("worker", "w-1", 42, "was killed by SIGKILL"), ProcessLostError),
        (ProcessPrunedError("worker", "w-1", 42, "host", 301.2), ProcessLostError),
        (ProcessMissingError(), ProcessLostError),
    ],
)
def test_every_error_is_a_steady_queue_error_and_a_task_exception(error, also):
    assert isinstance(error, SteadyQueueError)
    assert isinstance(error, TaskException)
    assert isinstance(error, also)


def test_messages_are_built_from_the_facts_given():
    assert str(SerializationError("kwargs['when']", "is bad.")) == "kwargs['when'] is bad."
    assert str(ConcurrencyKeyError("app.tasks.t", "is bad.")) == "The concurrency key of app.tasks.t is bad."
    assert str(RecurringTaskError("daily", "is bad.")) == "Recurring task 'daily': is bad."
    assert str(ProcessExitError("worker", "w-1", 42, "was killed by SIGKILL")) == (
        "worker w-1 (pid 42) was killed by SIGKILL while running this task"
    )
    assert str(ProcessPrunedError("worker", "w-1", 42, "host", 301.2)) == (
        "worker w-1 (pid 42 on host) sent no heartbeat for 301 s and was declared dead while running this task"
    )
    record = ProcessMissingError().as_record()
    assert record["exception_class_path"] == "steady_queue.exceptions.ProcessMissingError"
    assert record["traceback"] == (
        "steady_queue.exceptions.ProcessMissingError: the process that claimed this task no longer exists\n"
    )
