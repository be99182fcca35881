"""The real ``manage.py steady_queue``: started, signalled and killed, with every task accounted for."""

import os
import signal

import pytest
from django.tasks import TaskResultStatus, default_task_backend

from steady_queue.exceptions import ProcessExitError, ProcessPrunedError
from steady_queue.models import ClaimedExecution, Process, ReadyExecution
from tests.runtime import wait_for
from tests.testapp import tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(results):
    return [default_task_backend.get_result(r.id).status for r in results]


def all_status(results, status):
    return lambda: all(s == status for s in statuses(results))


def runs_started(count):
    return lambda: TaskRun.objects.count() >= count


def children(kind=None):
    rows = Process.objects.exclude(kind="supervisor")
    return list(rows.filter(kind=kind) if kind else rows)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_runs_tasks_then_stops_cleanly(start_supervisor, signum):
    results = tasks.record.enqueue_many([(f"t{i}",) for i in range(20)])
    supervisor = start_supervisor()
    wait_for(all_status(results, TaskResultStatus.SUCCESSFUL), message="all tasks to succeed")
    wait_for(lambda: len(children()) == 2, message="worker and dispatcher rows")

    supervisor.send(signum)
    assert supervisor.wait() == 0
    assert Process.objects.count() == 0
    assert sorted(TaskRun.objects.values_list("label", flat=True)) == sorted(f"t{i}" for i in range(20))
    output = supervisor.output
    assert "Started worker" in output and "Started dispatcher" in output
    assert "Stopped supervisor" in output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_lets_running_tasks_finish(start_supervisor, signum):
    results = tasks.record.enqueue_many([(f"slow{i}", 1.0) for i in range(3)])
    supervisor = start_supervisor()
    wait_for(runs_started(3), message="three tasks to start")

    supervisor.send(signum)
    assert supervisor.wait() == 0
    assert statuses(results) == [TaskResultStatus.SUCCESSFUL] * 3
    assert TaskRun.objects.count() == 3  # nothing ran twice
    assert not ClaimedExecution.objects.exists() and not Process.objects.exists()


def test_graceful_stop_puts_tasks_past_the_timeout_back_in_the_queue(start_supervisor):
    results = tasks.record.enqueue_many([(f"long{i}", 30.0) for i in range(3)])
    supervisor = start_supervisor({"shutdown_timeout": 1})
    wait_for(runs_started(3), message="three tasks to start")

    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    assert statuses(results) == [TaskResultStatus.READY] * 3
    assert ReadyExecution.objects.count() == 3
    assert not ClaimedExecution.objects.exists() and not Process.objects.exists()
    assert "3 unfinished task(s) of worker" in supervisor.output
    assert TaskRun.objects.filter(finished_at__isnull=False).count() == 0


def test_quit_exits_at_once_and_a_later_supervisor_prunes_the_dead(start_supervisor):
    results = tasks.record.enqueue_many([(f"cut{i}", 30.0) for i in range(2)])
    first = start_supervisor()
    wait_for(runs_started(2), message="two tasks to start")

    first.send(signal.SIGQUIT)
    assert first.wait(timeout=5) == 0
    assert statuses(results) == [TaskResultStatus.RUNNING] * 2
    assert Process.objects.count() == 3  # nothing cleaned up: they are recovered by pruning

    second = start_supervisor()
    wait_for(all_status(results, TaskResultStatus.FAILED), timeout=30, message="pruning to fail the tasks")
    errors = [default_task_backend.get_result(r.id).errors[-1] for r in results]
    assert all(e.exception_class is ProcessPrunedError for e in errors)
    assert "sent no heartbeat" in errors[0].traceback
    fresh = tasks.record.enqueue("after")
    wait_for(all_status([fresh], TaskResultStatus.SUCCESSFUL), message="the new supervisor to run tasks")
    second.send(signal.SIGTERM)
    assert second.wait() == 0


def test_children_of_a_killed_supervisor_stop_gracefully(start_supervisor):
    results = tasks.record.enqueue_many([(f"orphan{i}", 0.5) for i in range(3)])
    supervisor = start_supervisor()
    wait_for(runs_started(3), message="three tasks to start")

    supervisor.send(signal.SIGKILL)
    supervisor.wait()
    wait_for(lambda: not children(), message="the children to deregister")
    assert statuses(results) == [TaskResultStatus.SUCCESSFUL] * 3
    # Only the supervisor's own row is left, for pruning to remove.
    assert list(Process.objects.values_list("kind", flat=True)) == ["supervisor"]


def test_a_killed_worker_fails_its_tasks_and_is_replaced(start_supervisor):
    results = tasks.record.enqueue_many([(f"victim{i}", 30.0) for i in range(2)])
    supervisor = start_supervisor()
    wait_for(runs_started(2), message="two tasks to start")
    (worker,) = children("worker")

    os.kill(worker.pid, signal.SIGKILL)
    wait_for(all_status(results, TaskResultStatus.FAILED), message="the tasks to be failed")
    for result in results:
        error = default_task_backend.get_result(result.id).errors[-1]
        assert error.exception_class is ProcessExitError
        assert f"(pid {worker.pid}) was killed by SIGKILL while running this task" in error.traceback
    replacement = wait_for(
        lambda: [w for w in children("worker") if w.pid != worker.pid], message="a replacement worker"
    )
    assert replacement[0].supervisor_id == worker.supervisor_id
    fresh = tasks.record.enqueue("after")
    wait_for(all_status([fresh], TaskResultStatus.SUCCESSFUL), message="the replacement to run tasks")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_one_worker_touches_only_that_worker(start_supervisor, signum):
    """The existing port's bug: one child's SIGTERM ran the supervisor's shutdown and removed every row."""
    supervisor = start_supervisor({"workers": [{"processes": 2, "polling_interval": 0.05}]})
    wait_for(lambda: len(children("worker")) == 2 and len(children("dispatcher")) == 1, message="three children")
    before = {p.name: p for p in Process.objects.all()}
    victim = children("worker")[0]

    os.kill(victim.pid, signum)
    wait_for(lambda: victim.name not in {p.name for p in Process.objects.all()}, message="the victim to deregister")
    wait_for(lambda: len(children("worker")) == 2, message="a replacement worker")

    after = {p.name: p for p in Process.objects.all()}
    survivors = set(before) - {victim.name}
    assert survivors <= set(after)
    assert all(after[name].pid == before[name].pid for name in survivors)
    results = tasks.record.enqueue_many([(f"after{i}",) for i in range(6)])
    wait_for(all_status(results, TaskResultStatus.SUCCESSFUL), message="tasks to keep running")
    assert supervisor.popen.poll() is None
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    assert "Traceback" not in supervisor.output


def test_quit_to_one_worker_fails_its_tasks_and_it_is_replaced(start_supervisor):
    result = tasks.record.enqueue("quit", 30.0)
    supervisor = start_supervisor()
    wait_for(runs_started(1), message="the task to start")
    (worker,) = children("worker")

    os.kill(worker.pid, signal.SIGQUIT)
    wait_for(all_status([result], TaskResultStatus.FAILED), message="the task to be failed")
    error = default_task_backend.get_result(result.id).errors[-1]
    assert error.exception_class is ProcessExitError
    assert "exited with status 1" in error.traceback
    wait_for(lambda: [w for w in children("worker") if w.pid != worker.pid], message="a replacement worker")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_worker_whose_row_was_pruned_stops_itself(start_supervisor):
    supervisor = start_supervisor()
    (worker,) = wait_for(lambda: children("worker"), message="a worker")
    Process.objects.filter(pk=worker.pk).delete()  # what another host's supervisor does to the dead

    notice = "was pruned as dead by a supervisor, stopping"
    wait_for(lambda: notice in supervisor.output, message="the worker to notice")
    wait_for(lambda: [w for w in children("worker") if w.pid != worker.pid], message="a replacement worker")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_second_sigterm_stops_at_once(start_supervisor):
    results = tasks.record.enqueue_many([(f"long{i}", 30.0) for i in range(2)])
    supervisor = start_supervisor({"shutdown_timeout": 20})
    wait_for(runs_started(2), message="two tasks to start")
    supervisor.send(signal.SIGTERM)
    wait_for(lambda: "received SIGTERM, stopping" in supervisor.output, message="the first signal")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=5) == 0
    assert "received SIGQUIT, stopping" in supervisor.output  # turned into an immediate stop
    assert statuses(results) == [TaskResultStatus.RUNNING] * 2  # left for pruning


def test_a_worker_killed_during_a_graceful_stop_is_still_accounted_for(start_supervisor):
    result = tasks.record.enqueue("stuck", 30.0)
    supervisor = start_supervisor({"shutdown_timeout": 10})
    wait_for(runs_started(1), message="the task to start")
    (worker,) = children("worker")
    supervisor.send(signal.SIGTERM)
    wait_for(lambda: "received SIGTERM" in supervisor.output, message="the stop to begin")
    os.kill(worker.pid, signal.SIGKILL)
    assert supervisor.wait() == 0
    assert statuses([result]) == [TaskResultStatus.FAILED]
    assert not ClaimedExecution.objects.exists() and not Process.objects.exists()


def test_a_slow_graceful_stop_keeps_heartbeating(start_supervisor):
    """A stop that takes longer than the alive threshold must not get its tasks pruned as dead."""
    result = tasks.record.enqueue("slow", 4.5)
    stopping = start_supervisor({"shutdown_timeout": 8})
    wait_for(runs_started(1), message="the task to start")
    watcher = start_supervisor({"workers": [], "dispatchers": [{"polling_interval": 1}]})
    stopping.send(signal.SIGTERM)
    assert stopping.wait() == 0
    assert statuses([result]) == [TaskResultStatus.SUCCESSFUL]
    watcher.send(signal.SIGTERM)
    assert watcher.wait() == 0
    assert "Pruned" not in watcher.output
