"""What operators do from Python and the command line: retry, discard, pause, and the upkeep passes."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus, default_task_backend
from django.test import override_settings
from django.utils import timezone

from steady_queue.exceptions import ProcessPrunedError
from steady_queue.models import (
    ClaimedExecution,
    FailedExecution,
    Job,
    Pause,
    Process,
    ReadyExecution,
    ScheduledExecution,
)
from steady_queue.models.failed_execution import discard, retry
from steady_queue.models.job import clear_finished, job_pk
from steady_queue.models.process import fail_orphaned_claims, prune, register
from steady_queue.models.ready_execution import claim
from steady_queue.models.scheduled_execution import dispatch_due
from steady_queue.queues import pause, paused_queues, resume
from tests.claims import claim_and_start
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def status(result):
    return default_task_backend.get_result(result.id).status


def test_retry_puts_a_failed_job_back_with_the_same_id_and_its_history(run_tasks):
    enqueued = tasks.report_attempt.enqueue(fail_first=True)
    run_tasks(worker_name="worker-a")
    assert status(enqueued) == TaskResultStatus.FAILED

    assert retry([enqueued.id]) == 1
    assert status(enqueued) == TaskResultStatus.READY
    assert not FailedExecution.objects.exists()
    run_tasks(worker_name="worker-b")

    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"attempt": 2, "id": enqueued.id}
    assert result.worker_ids == ["worker-a", "worker-b"]
    assert [e.exception_class for e in result.errors] == [RuntimeError]
    assert result.started_at < result.last_attempted_at


def test_retry_and_discard_work_in_batches_over_every_failed_job(run_tasks):
    failed = [tasks.fail.enqueue(str(i)) for i in range(7)]
    ok = tasks.add.enqueue(1, 1)
    run_tasks()
    assert retry(batch_size=3) == 7
    assert ReadyExecution.objects.count() == 7
    run_tasks()
    assert discard(batch_size=2) == 7
    assert not Job.objects.filter(pk__in=[job_pk(r.id) for r in failed]).exists()
    assert status(ok) == TaskResultStatus.SUCCESSFUL


def test_retry_and_discard_ignore_jobs_that_did_not_fail(run_tasks):
    ok = tasks.add.enqueue(1, 1)
    waiting = tasks.add.enqueue(2, 2)
    run_tasks()
    tasks.add.enqueue(3, 3)
    assert retry([ok.id, waiting.id]) == 0
    assert discard([ok.id]) == 0
    assert Job.objects.count() == 3


def test_pause_and_resume_from_python():
    tasks.send_email.enqueue("a@example.com")
    process = register("worker", "w", 1, "host")
    assert pause("email") is True
    assert pause("email") is False
    assert paused_queues() == ["email"]
    assert claim(["*"], 10, process.pk) == []
    assert resume("email") is True
    assert len(claim(["*"], 10, process.pk)) == 1
    with pytest.raises(ValueError, match="not a pattern"):
        pause("mail*")


def test_pause_and_resume_from_the_command_line(capsys):
    call_command("steady_queue_pause", "email", "reports")
    assert set(Pause.objects.values_list("queue_name", flat=True)) == {"email", "reports"}
    call_command("steady_queue_pause")
    assert capsys.readouterr().out.splitlines()[-2:] == ["email", "reports"]
    call_command("steady_queue_pause", "email", "--resume")
    assert list(Pause.objects.values_list("queue_name", flat=True)) == ["reports"]
    with pytest.raises(CommandError, match="may only have"):
        call_command("steady_queue_pause", "*x")


def test_pausing_a_queue_no_backend_has_is_refused(capsys):
    backends = {
        "default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": ["default", "email"]},
        "other": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": ["reports"]},
    }
    with override_settings(TASKS=backends):
        with pytest.raises(CommandError, match="No backend has a queue 'nosuchqueue': .* list default, email, reports"):
            call_command("steady_queue_pause", "nosuchqueue")
        assert not Pause.objects.exists()
        call_command("steady_queue_pause", "reports")
    assert list(Pause.objects.values_list("queue_name", flat=True)) == ["reports"]


def test_pausing_an_unused_queue_name_warns_when_any_name_is_allowed(capsys):
    tasks.send_email.enqueue("a@example.com")
    with override_settings(TASKS={"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"}}):
        call_command("steady_queue_pause", "emial", "email")
    output = capsys.readouterr()
    assert output.out.splitlines() == ["Paused emial", "Paused email"]
    assert output.err.splitlines() == ["No task has been enqueued to 'emial' yet: is the name right?"]


def test_dispatch_moves_due_jobs_in_batches():
    past = timezone.now() - timedelta(seconds=1)
    for i in range(5):
        tasks.add.using(run_after=timezone.now() + timedelta(milliseconds=1), priority=i).enqueue(i, i)
    tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(9, 9)
    ScheduledExecution.objects.exclude(scheduled_at__gt=timezone.now() + timedelta(minutes=1)).update(
        scheduled_at=past
    )
    assert dispatch_due(2) == 2
    assert dispatch_due(2) == 2
    assert dispatch_due(2) == 1
    assert dispatch_due(2) == 0
    assert ReadyExecution.objects.count() == 5
    assert list(ReadyExecution.objects.order_by("-priority").values_list("priority", flat=True)) == [4, 3, 2, 1, 0]
    assert ScheduledExecution.objects.count() == 1


def test_pruning_fails_the_started_claims_of_silent_processes():
    enqueued = tasks.add.enqueue(1, 1)
    silent = register("worker", "worker-silent", 99, "lost-host")
    alive = register("worker", "worker-alive", 98, "host")
    claim_and_start(["*"], 1, silent)
    Process.objects.filter(pk=silent.pk).update(last_heartbeat_at=timezone.now() - timedelta(minutes=10))

    assert prune(timedelta(minutes=5)) == ["worker-silent"]
    assert list(Process.objects.values_list("name", flat=True)) == [alive.name]
    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is ProcessPrunedError
    assert "worker-silent (pid 99 on lost-host) sent no heartbeat" in result.errors[0].traceback
    assert result.worker_ids == ["worker-silent"]


def test_pruning_puts_the_unstarted_claims_of_silent_processes_back_in_their_queue():
    started, unstarted = tasks.add.enqueue(1, 1), tasks.add.enqueue(2, 2)
    silent = register("worker", "worker-silent", 99, "lost-host")
    claim_and_start(["*"], 1, silent)
    claim(["*"], 1, silent.pk)
    Process.objects.filter(pk=silent.pk).update(last_heartbeat_at=timezone.now() - timedelta(minutes=10))

    assert prune(timedelta(minutes=5)) == ["worker-silent"]
    assert status(started) == TaskResultStatus.FAILED
    assert status(unstarted) == TaskResultStatus.READY
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(unstarted.id)]
    # Nothing of the attempt that never began is recorded against the task.
    assert default_task_backend.get_result(unstarted.id).worker_ids == []
    assert not ClaimedExecution.objects.exists()


def test_a_start_marker_after_the_prune_finds_the_claim_gone():
    from steady_queue.models.claimed_execution import finish_and_start

    enqueued = tasks.add.enqueue(1, 1)
    silent = register("worker", "worker-silent", 99, "lost-host")
    claim(["*"], 1, silent.pk)
    Process.objects.filter(pk=silent.pk).update(last_heartbeat_at=timezone.now() - timedelta(minutes=10))
    prune(timedelta(minutes=5))
    # The worker was alive after all, and was about to start the task: it must not.
    assert finish_and_start([], [job_pk(enqueued.id)], silent.pk, silent.name, preserve=True) == (set(), set())
    assert status(enqueued) == TaskResultStatus.READY


def test_one_round_records_each_outcome_and_only_the_claims_still_its_own():
    from steady_queue.models.claimed_execution import Success, finish_and_start

    done = [tasks.add.enqueue(1, 1), tasks.add.enqueue(2, 2), tasks.add.enqueue(3, 3)]
    to_start = [tasks.add.enqueue(4, 4), tasks.add.enqueue(5, 5)]
    process = register("worker", "worker-a", 1, "host")
    jobs = {job.pk: job for job in claim_and_start(["*"], 3, process)}
    claim(["*"], 2, process.pk)
    # One claim to finish and one to start were taken away meanwhile (their process declared dead).
    lost_done, lost_start = job_pk(done[2].id), job_pk(to_start[1].id)
    ClaimedExecution.objects.filter(job_id__in=[lost_done, lost_start]).delete()
    began = timezone.now() - timedelta(seconds=2)
    successes = [
        Success(jobs[job_pk(result.id)], began + timedelta(seconds=i), began + timedelta(seconds=i + 1), value)
        for i, (result, value) in enumerate(zip(done, [{"n": 0}, None, {"n": 2}], strict=True))
    ]
    start_ids = [job_pk(result.id) for result in to_start]

    recorded, started = finish_and_start(successes, start_ids, process.pk, process.name, preserve=True)

    assert recorded == {job_pk(done[0].id), job_pk(done[1].id)}
    assert started == {job_pk(to_start[0].id)}
    for i, (result, value) in enumerate(zip(done[:2], [{"n": 0}, None], strict=True)):
        job = Job.objects.get(pk=job_pk(result.id))
        assert (job.return_value, job.finished_at, job.last_attempted_at) == (
            value, began + timedelta(seconds=i + 1), began + timedelta(seconds=i)
        )
        assert job.worker_ids == ["worker-a"]
    assert Job.objects.get(pk=lost_done).finished_at is None
    assert ClaimedExecution.objects.get(job_id=job_pk(to_start[0].id)).started_at is not None


def test_large_return_values_are_recorded_over_several_statements(monkeypatch):
    from steady_queue.models.claimed_execution import Success, finish_and_start
    from steady_queue.sql import mysql

    # On MySQL and MariaDB each statement carries return values up to this many bytes (1 MB really).
    monkeypatch.setattr(mysql, "OUTCOME_CHUNK_BYTES", 25)
    enqueued = [tasks.add.enqueue(i, i) for i in range(5)]
    process = register("worker", "worker-a", 1, "host")
    jobs = claim_and_start(["*"], 5, process)
    now = timezone.now()
    values = ["x" * 30, "short", "y" * 10, None, "z" * 10]
    successes = [Success(job, now, now, value) for job, value in zip(jobs, values, strict=True)]

    recorded, _ = finish_and_start(successes, [], process.pk, process.name, preserve=True)

    assert recorded == {job.pk for job in jobs}
    stored = dict(Job.objects.filter(pk__in=recorded).values_list("pk", "return_value"))
    assert [stored[job.pk] for job in jobs] == values
    assert all(status(result) == TaskResultStatus.SUCCESSFUL for result in enqueued)


def test_a_pruned_process_learns_it_from_its_heartbeat():
    process = register("worker", "worker-x", 1, "host")
    assert process.heartbeat() is True
    Process.objects.filter(pk=process.pk).update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    prune(timedelta(minutes=5))
    assert process.heartbeat() is False


def test_claims_without_a_process_are_failed_if_started_else_put_back():
    enqueued, unstarted = tasks.add.enqueue(1, 1), tasks.add.enqueue(2, 2)
    process = register("worker", "worker-gone", 1, "host")
    claim_and_start(["*"], 1, process)
    claim(["*"], 1, process.pk)
    Process.objects.filter(pk=process.pk).delete()
    assert {c.process_id for c in ClaimedExecution.objects.all()} == {None}
    assert fail_orphaned_claims() == [job_pk(enqueued.id)]
    assert status(enqueued) == TaskResultStatus.FAILED
    assert status(unstarted) == TaskResultStatus.READY


def test_deregistering_puts_claims_back_in_their_queue():
    enqueued = tasks.send_email.enqueue("a@example.com")
    process = register("worker", "worker-stopping", 1, "host")
    claim(["*"], 1, process.pk)
    assert process.deregister() == 1
    assert not Process.objects.exists()
    ready = ReadyExecution.objects.get()
    assert (ready.job_id, ready.queue_name, ready.priority) == (job_pk(enqueued.id), "email", 10)


def test_clear_finished_deletes_old_successes_only(run_tasks):
    old_ok = tasks.add.enqueue(1, 1)
    new_ok = tasks.add.enqueue(2, 2)
    old_failed = tasks.fail.enqueue("x")
    waiting = tasks.add.using(run_after=timezone.now() + timedelta(days=9)).enqueue(3, 3)
    run_tasks()
    old = [job_pk(old_ok.id), job_pk(old_failed.id)]
    Job.objects.filter(pk__in=old).update(finished_at=timezone.now() - timedelta(days=2))
    assert clear_finished(timezone.now() - timedelta(days=1), batch_size=1) == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {job_pk(r.id) for r in (new_ok, old_failed, waiting)}


def test_the_dispatcher_clears_a_backlog_a_batch_per_poll_with_pauses(run_tasks):
    from steady_queue.conf import DispatcherConfig
    from steady_queue.worker.dispatcher import Dispatcher

    done = [tasks.add.enqueue(i, i) for i in range(5)]
    run_tasks()
    Job.objects.filter(pk__in=[job_pk(r.id) for r in done]).update(finished_at=timezone.now() - timedelta(days=2))
    dispatcher = Dispatcher(DispatcherConfig(2, timedelta(seconds=1), False, timedelta(seconds=1)))
    dispatcher._clear_finished_jobs()
    # One batch, then a pause before the next: scheduled tasks are dispatched in between.
    assert Job.objects.count() == 3
    assert dispatcher._clearing is not None
    for _ in range(3):
        dispatcher._next_clearing = 0
        dispatcher._clear_finished_jobs()
    assert Job.objects.count() == 0 and dispatcher._clearing is None
