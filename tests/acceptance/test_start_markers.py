"""A worker SIGKILLed at every point of the claim -> start -> finish path loses no task and runs none twice.

Each test runs one worker thread with a line of claimed tasks waiting behind it (prefetch), and
kills the worker process once at one point (tests.testapp.kill_points). Its supervisor recovers
the claims and starts a new worker, which runs what is left. Tasks that never started go back to
their queue and run once; the task that may have started is failed with ProcessExitError and not
run again; nothing else is touched.
"""

from collections import Counter

import pytest
from django.tasks import TaskResultStatus, default_task_backend

from steady_queue.exceptions import ProcessExitError
from tests.runtime import wait_for
from tests.testapp import tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

LINE = 6
ONE_THREAD_WITH_A_LINE = {"workers": [{"queues": ["*"], "threads": 1, "prefetch": LINE, "polling_interval": 0.05}]}


def run_with_a_kill(start_supervisor, tmp_path, point, results):
    once = tmp_path / "killed"
    supervisor = start_supervisor(
        ONE_THREAD_WITH_A_LINE,
        env={"STEADY_QUEUE_TEST_KILL_AT": point, "STEADY_QUEUE_TEST_KILL_ONCE": str(once)} if point else {},
    )
    finished = lambda: all(default_task_backend.get_result(r.id).is_finished for r in results)  # noqa: E731
    wait_for(finished, timeout=60, message="every task to finish")
    supervisor.stop()
    assert point is None or once.exists(), f"the worker never reached {point}"
    outcomes = {r.id: default_task_backend.get_result(r.id) for r in results}
    runs = Counter(TaskRun.objects.values_list("label", flat=True))
    return supervisor, outcomes, runs


def enqueue_records(count=LINE + 2):
    return [tasks.record.enqueue(f"task-{i}") for i in range(count)]


def failed_by_the_kill(outcomes):
    return [
        result for result in outcomes.values()
        if result.status == TaskResultStatus.FAILED and result.errors[0].exception_class is ProcessExitError
    ]


def assert_the_rest_ran_once(outcomes, runs, results, except_for=()):
    for result in results:
        if result.id in except_for:
            continue
        assert outcomes[result.id].status == TaskResultStatus.SUCCESSFUL, outcomes[result.id].errors
        assert outcomes[result.id].attempts == 1
    assert max(runs.values()) == 1, runs


def test_killed_after_the_claim_before_the_start_marker_every_task_runs_once(start_supervisor, tmp_path):
    results = enqueue_records()
    supervisor, outcomes, runs = run_with_a_kill(start_supervisor, tmp_path, "before_start", results)
    # Nothing had started: every claimed task went back to its queue, none failed.
    assert failed_by_the_kill(outcomes) == []
    assert_the_rest_ran_once(outcomes, runs, results)
    assert len(runs) == len(results)
    assert "unstarted back in their queue" in supervisor.output


def test_killed_after_the_start_marker_the_task_fails_without_running_and_the_line_runs_once(
    start_supervisor, tmp_path
):
    results = enqueue_records()
    _supervisor, outcomes, runs = run_with_a_kill(start_supervisor, tmp_path, "after_start", results)
    (killed,) = failed_by_the_kill(outcomes)
    # It may have started as far as anyone can tell: failed, never run again (its code never ran).
    assert killed.attempts == 1
    label = f"task-{[r.id for r in results].index(killed.id)}"
    assert runs[label] == 0
    # The tasks waiting in line behind it had not started: back in their queue, run once each.
    assert_the_rest_ran_once(outcomes, runs, results, except_for={killed.id})
    assert len(runs) == len(results) - 1


def test_killed_in_the_task_it_fails_and_the_line_runs_once(start_supervisor, tmp_path):
    killer = tasks.kill_own_process.enqueue("killer")
    results = [killer, *enqueue_records()]
    # kill_own_process kills every worker it runs in: it runs once, as the first claimed task.
    _supervisor, outcomes, runs = run_with_a_kill(start_supervisor, tmp_path, None, results)
    assert [r.id for r in failed_by_the_kill(outcomes)] == [killer.id]
    assert runs["killer"] == 1
    assert_the_rest_ran_once(outcomes, runs, results, except_for={killer.id})


def test_killed_after_the_task_returned_before_its_outcome_it_fails_and_is_not_run_again(
    start_supervisor, tmp_path
):
    results = enqueue_records()
    _supervisor, outcomes, runs = run_with_a_kill(start_supervisor, tmp_path, "before_outcome", results)
    (killed,) = failed_by_the_kill(outcomes)
    label = f"task-{[r.id for r in results].index(killed.id)}"
    # It ran to the end once; its outcome was lost with the process, and it is not run again.
    assert runs[label] == 1
    assert_the_rest_ran_once(outcomes, runs, results, except_for={killed.id})
    assert len(runs) == len(results)


def test_killed_after_the_outcome_was_recorded_it_stays_recorded(start_supervisor, tmp_path):
    results = enqueue_records()
    _supervisor, outcomes, runs = run_with_a_kill(start_supervisor, tmp_path, "after_outcome", results)
    # The first task's outcome went out with the next task's start marker: the first stays
    # successful, and the next one, which may have begun when the process died, is failed.
    assert outcomes[results[0].id].status == TaskResultStatus.SUCCESSFUL
    assert [r.id for r in failed_by_the_kill(outcomes)] == [results[1].id]
    assert runs["task-1"] <= 1
    assert_the_rest_ran_once(outcomes, runs, results, except_for={results[1].id})


def test_a_whole_host_killed_its_unstarted_claims_run_once_after_the_prune(start_supervisor, tmp_path):
    from steady_queue.exceptions import ProcessPrunedError

    running = tasks.record.enqueue("running", seconds=30)
    line = enqueue_records(LINE)
    first = start_supervisor(ONE_THREAD_WITH_A_LINE)
    wait_for(lambda: TaskRun.objects.filter(label="running").exists(), message="the long task to start")
    # Supervisor and worker at once, as a lost host: nothing is left to clean up after them.
    first.kill_everything()
    start_supervisor(ONE_THREAD_WITH_A_LINE)
    results = [running, *line]
    wait_for(lambda: all(default_task_backend.get_result(r.id).is_finished for r in results), timeout=60,
             message="the prune and every task to finish")
    outcomes = {r.id: default_task_backend.get_result(r.id) for r in results}
    assert outcomes[running.id].errors[0].exception_class is ProcessPrunedError
    runs = Counter(TaskRun.objects.values_list("label", flat=True))
    assert runs["running"] == 1
    assert_the_rest_ran_once(outcomes, runs, line)
