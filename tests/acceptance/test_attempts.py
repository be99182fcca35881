"""Retries and timeouts with the real ``manage.py steady_queue``."""

import os
import signal
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, default_task_backend

from steady_queue.exceptions import BackoffError, ProcessExitError, TaskTimeout
from steady_queue.models import Process, ScheduledExecution
from steady_queue.models.job import job_pk
from tests.runtime import wait_for
from tests.testapp import attempt_tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


def result_of(enqueued):
    return default_task_backend.get_result(enqueued.id)


def finished(*results):
    return lambda: all(result_of(r).is_finished for r in results)


def runs(prefix):
    return list(TaskRun.objects.filter(label__startswith=prefix).order_by("started_at"))


def test_a_task_failing_twice_then_succeeding_runs_three_times_under_one_id(start_supervisor):
    enqueued = attempt_tasks.flaky_default_backoff.enqueue("twice", 2)
    supervisor = start_supervisor()
    # Between attempts the task reads READY, with the time of its next attempt.
    wait_for(lambda: ScheduledExecution.objects.filter(job_id=job_pk(enqueued.id)).exists(), message="a retry")
    between = result_of(enqueued)
    assert between.status == TaskResultStatus.READY
    assert between.task.run_after is not None and len(between.errors) == 1 and between.attempts == 1
    wait_for(finished(enqueued), timeout=30, message="the third attempt")
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 3
    assert result.attempts == 3 and len(result.worker_ids) == 3
    assert [error.exception_class for error in result.errors] == [ConnectionError, ConnectionError]
    assert "attempt 2 of twice failed" in result.errors[1].traceback
    started = [run.started_at for run in runs("twice:")]
    assert [run.label for run in runs("twice:")] == ["twice:1", "twice:2", "twice:3"]
    # The default backoff waits 0.5-1 s after the first failure and 1-2 s after the second (plus
    # the time a worker takes to pick the task up again).
    first_wait, second_wait = (b - a for a, b in zip(started, started[1:], strict=False))
    assert timedelta(seconds=0.5) <= first_wait <= timedelta(seconds=2.5)
    assert timedelta(seconds=1) <= second_wait <= timedelta(seconds=3.5)
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    # task_finished is sent once, when the task ends for good; each failed attempt logs a warning.
    assert supervisor.output.count("attempt 1 of 3 failed, next attempt at") == 1
    assert supervisor.output.count("attempt 2 of 3 failed, next attempt at") == 1


def test_a_task_that_always_fails_fails_after_exactly_max_attempts(start_supervisor):
    enqueued = attempt_tasks.flaky.enqueue("always", 99)
    supervisor = start_supervisor()
    wait_for(finished(enqueued), timeout=30, message="the last attempt")
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3 and len(result.errors) == 3
    assert [run.label for run in runs("always:")] == ["always:1", "always:2", "always:3"]
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_errors_listed_in_never_retry_on_and_a_broken_backoff_end_the_retries(start_supervisor):
    value_error = attempt_tasks.gives_up_on_value_errors.enqueue("value")
    broken = attempt_tasks.bad_backoff.enqueue("broken")
    supervisor = start_supervisor()
    wait_for(finished(value_error, broken), timeout=30, message="both to fail")
    assert result_of(value_error).attempts == 1 and result_of(value_error).errors[0].exception_class is ValueError
    failure = result_of(broken)
    assert failure.status == TaskResultStatus.FAILED and failure.attempts == 1
    assert failure.errors[0].exception_class is BackoffError
    assert "returned -1, not a number of seconds" in failure.errors[0].traceback
    assert "ConnectionError: fails, and its backoff is wrong" in failure.errors[0].traceback
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_synchronous_task_past_its_timeout_fails_and_its_worker_is_replaced(start_supervisor):
    hung = [attempt_tasks.hangs.enqueue(f"hung-{n}") for n in range(3)]
    retried = attempt_tasks.hangs_then_retries.enqueue("retried")
    supervisor = start_supervisor()
    wait_for(finished(*hung, retried), timeout=60, message="the timeouts")
    for enqueued in hung:
        result = result_of(enqueued)
        assert result.status == TaskResultStatus.FAILED
        assert result.errors[0].exception_class is TaskTimeout
        assert "Where the task was at its deadline" in result.errors[0].traceback
        # Recorded at the deadline: the task's own runtime was 1 s.
        assert result.finished_at - result.started_at < timedelta(seconds=3)
    second = result_of(retried)
    assert second.status == TaskResultStatus.SUCCESSFUL and second.return_value == "second attempt"
    assert second.errors[0].exception_class is TaskTimeout
    # The worker that held runaway threads retired; its supervisor started new ones.
    wait_for(lambda: "ran past its timeout" in supervisor.output, message="the retirement")
    assert "Replacing worker" in supervisor.output
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert not Process.objects.exists()


def test_an_async_task_past_its_timeout_is_cancelled_in_its_event_loop(start_supervisor):
    enqueued = attempt_tasks.hangs_async.enqueue("async")
    supervisor = start_supervisor()
    wait_for(finished(enqueued), timeout=30, message="the timeout")
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED and result.errors[0].exception_class is TaskTimeout
    # Cancelled where it ran: no thread was lost, so no worker had to retire.
    assert "ran past its timeout" not in supervisor.output
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_task_that_allows_it_is_retried_after_its_worker_is_killed(start_supervisor):
    enqueued = attempt_tasks.outlives_its_worker.enqueue("lost", 30)
    supervisor = start_supervisor()
    wait_for(lambda: runs("lost:"), message="the first attempt")
    worker = Process.objects.get(kind="worker")
    os.kill(worker.pid, signal.SIGKILL)
    wait_for(finished(enqueued), timeout=30, message="the second attempt")
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 2
    assert result.errors[0].exception_class is ProcessExitError
    assert [run.label for run in runs("lost:")] == ["lost:1", "lost:2"]
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_hundred_tasks_that_never_return_fail_at_their_deadline_while_other_work_goes_on(start_supervisor):
    from tests.testapp import tasks

    hung = [attempt_tasks.never_returns.enqueue(f"never-{n}") for n in range(100)]
    quick = tasks.add.enqueue_many([(n, n) for n in range(200)])
    workers = [
        {"queues": ["low"], "threads": 10, "processes": 2, "polling_interval": 0.05},
        {"queues": ["default"], "threads": 3, "polling_interval": 0.05},
    ]
    supervisor = start_supervisor({"workers": workers, "shutdown_timeout": 2})
    wait_for(finished(*hung), timeout=120, message="every hung task to time out")
    results = [result_of(enqueued) for enqueued in hung]
    assert all(r.status == TaskResultStatus.FAILED and r.errors[0].exception_class is TaskTimeout for r in results)
    # Each failure was recorded at its deadline (2 s), not when some later event noticed it. A
    # worker's watchdog records its ten one after the other, each a write waiting its turn for the
    # database: the last of them 2.1 s after its start here, but 2.67 s once in CI on SQLite.
    delays = sorted(r.finished_at - r.last_attempted_at for r in results)
    assert delays[len(delays) // 2] < timedelta(seconds=2.5) and delays[-1] < timedelta(seconds=4)
    # The other worker was never held up: its tasks were done before the last timeout.
    done = [result_of(enqueued) for enqueued in quick]
    assert all(r.status == TaskResultStatus.SUCCESSFUL for r in done)
    assert max(r.finished_at for r in done) < max(r.finished_at for r in results)
    assert supervisor.output.count("ran past its timeout") >= 5  # retired workers, each replaced
    assert supervisor.output.count("Replacing worker") >= 5
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=2 + 5 + 5) == 0  # shutdown_timeout, the supervisor's grace, slack
