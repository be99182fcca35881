"""Concurrency limits through every path a job takes, against the real database."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.concurrency import ConcurrencyKeyError
from steady_queue.exceptions import ProcessExitError, ProcessPrunedError
from steady_queue.models import BlockedExecution, ClaimedExecution, Job, Process, ReadyExecution, Semaphore
from steady_queue.models.admission import maintain_concurrency
from steady_queue.models.claimed_execution import recover_claims
from steady_queue.models.failed_execution import retry
from steady_queue.models.job import job_pk
from steady_queue.models.process import prune, register
from steady_queue.models.ready_execution import claim
from steady_queue.models.scheduled_execution import dispatch_due
from tests.claims import claim_and_start
from tests.databases import queue_connection
from tests.testapp import tasks
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker():
    return register("worker", "worker-test", 1, "host")


def state(result):
    job_id = job_pk(result.id)
    for model, name in ((ReadyExecution, "ready"), (BlockedExecution, "blocked"), (ClaimedExecution, "claimed")):
        if model.objects.filter(job_id=job_id).exists():
            return name
    return default_task_backend.get_result(result.id).status.lower()


def free_slots(key):
    return Semaphore.objects.get(key=f"tests.testapp.tasks.one_at_a_time/{key}").value


def test_the_first_call_of_a_key_is_ready_the_next_ones_blocked():
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    other_key = tasks.one_at_a_time.enqueue("b", "1")
    assert [state(first), state(second), state(other_key)] == ["ready", "blocked", "ready"]
    assert default_task_backend.get_result(second.id).status == TaskResultStatus.READY
    assert free_slots("a") == 0
    blocked = BlockedExecution.objects.get()
    assert blocked.concurrency_key == "tests.testapp.tasks.one_at_a_time/a"
    assert blocked.expires_at > timezone.now() + timedelta(minutes=2)


def test_finishing_hands_the_slot_to_the_highest_priority_blocked_job(run_tasks):
    first = tasks.one_at_a_time.enqueue("a", "first")
    low = tasks.one_at_a_time.using(priority=-5).enqueue("a", "low")
    high = tasks.one_at_a_time.using(priority=50).enqueue("a", "high")
    run_tasks()
    assert state(first) == "successful"
    assert [state(high), state(low)] == ["ready", "blocked"]
    run_tasks()
    assert [state(high), state(low)] == ["successful", "ready"]
    run_tasks()
    assert state(low) == "successful"
    assert free_slots("a") == 1


def test_a_failing_job_releases_its_slot_too(run_tasks):
    failing = tasks.one_at_a_time_failing.enqueue("a", "boom")
    # Same group (module path of its own task) differs: use the same task to share the key.
    waiting = tasks.one_at_a_time_failing.enqueue("a", "next")
    assert state(waiting) == "blocked"
    run_tasks()
    assert state(failing) == "failed"
    assert state(waiting) == "ready"


def test_two_slots_let_two_run(worker):
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(5)]
    assert [state(r) for r in results] == ["ready", "ready", "blocked", "blocked", "blocked"]
    assert len(claim(["*"], 10, worker.pk)) == 2


def test_a_group_shares_one_limit_across_tasks():
    first = tasks.print_invoice.enqueue("invoice")
    second = tasks.print_label.enqueue("label")
    assert [state(first), state(second)] == ["ready", "blocked"]
    assert Semaphore.objects.get().key == "shared-printer/everyone"


def test_a_model_instance_key_is_its_type_and_primary_key():
    ada = Author.objects.create(name="Ada")
    tasks.per_author.enqueue(ada)
    tasks.per_author.enqueue(Author.objects.get(pk=ada.pk))
    assert Job.objects.first().concurrency_key == f"tests.testapp.tasks.per_author/testapp.author/{ada.pk}"
    assert BlockedExecution.objects.count() == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: tasks.one_at_a_time.enqueue(None, "x"),
            "must be a non-empty string or a saved model instance, not None",
        ),
        (lambda: tasks.one_at_a_time.enqueue("", "x"), "must be a non-empty string"),
        (
            lambda: tasks.one_at_a_time.enqueue(key="k"),
            "key of tests.testapp.tasks.one_at_a_time cannot be computed: its function raised TypeError",
        ),
        (lambda: tasks.one_at_a_time.enqueue("x" * 300, "x"), "characters long; the limit is 255"),
    ],
)
def test_bad_keys_fail_at_enqueue_and_write_nothing(call, message):
    with pytest.raises(ConcurrencyKeyError, match=message):
        call()
    assert not Job.objects.exists() and not Semaphore.objects.exists()


def test_bulk_enqueue_applies_the_limit_per_key():
    results = tasks.two_at_a_time.enqueue_many([("a", str(i)) for i in range(4)] + [("b", "0")])
    assert [state(r) for r in results] == ["ready", "ready", "blocked", "blocked", "ready"]


def test_scheduled_jobs_take_their_slot_when_they_become_due(run_tasks):
    running = tasks.one_at_a_time.enqueue("a", "now")
    later = tasks.one_at_a_time.using(run_after=timezone.now() + timedelta(milliseconds=1)).enqueue("a", "later")
    assert state(later) == "ready"  # reported READY, held in the scheduled table
    dispatch_due(10)
    assert state(later) == "blocked"
    run_tasks()
    assert state(running) == "successful" and state(later) == "ready"


def test_a_retried_job_queues_for_a_slot_again(run_tasks):
    failed = tasks.one_at_a_time_failing.enqueue("a", "1")
    run_tasks()
    holder = tasks.one_at_a_time_failing.enqueue("a", "2")
    assert state(holder) == "ready"
    retry([failed.id])
    assert state(failed) == "blocked"


def test_a_crashed_worker_gives_its_slot_to_the_next_job(worker):
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    claim_and_start(["*"], 10, worker)
    # What the supervisor does after reaping a worker that died.
    killed = ProcessExitError("worker", "w", 1, "was killed by SIGKILL")
    recover_claims(ClaimedExecution.objects.filter(process=worker), killed, release_slots=True)
    assert state(first) == "failed" and state(second) == "ready"


def test_a_crashed_worker_puts_its_unstarted_limited_job_back_with_its_slot(worker):
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    claim(["*"], 10, worker.pk)
    killed = ProcessExitError("worker", "w", 1, "was killed by SIGKILL")
    recovered = recover_claims(ClaimedExecution.objects.filter(process=worker), killed, release_slots=True)
    assert recovered.released == [job_pk(first.id)] and recovered.failed == []
    # Back in its queue still holding the key's one slot: the blocked job stays blocked.
    assert [state(first), state(second)] == ["ready", "blocked"]
    assert free_slots("a") == 0


def test_a_pruned_worker_keeps_its_slot_until_the_key_expires(worker):
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    claim_and_start(["*"], 10, worker)
    Process.objects.filter(pk=worker.pk).update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    prune(timedelta(minutes=5))
    assert default_task_backend.get_result(first.id).errors[-1].exception_class is ProcessPrunedError
    # It may still be running somewhere: the next job must not start yet.
    assert state(second) == "blocked"
    assert maintain_concurrency(100) == (0, 0)
    Semaphore.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert maintain_concurrency(100) == (1, 1)
    assert state(second) == "ready"


def test_maintenance_releases_jobs_stuck_behind_a_key_with_room(worker):
    tasks.one_at_a_time.enqueue("a", "1")
    stuck = tasks.one_at_a_time.enqueue("a", "2")
    Semaphore.objects.update(value=1)  # a slot freed while the blocked row was being written
    assert maintain_concurrency(100) == (0, 1)
    assert state(stuck) == "ready"


def test_a_graceful_stop_keeps_the_slot_with_the_job_back_in_the_queue(worker):
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    claim(["*"], 10, worker.pk)
    worker.deregister()
    assert [state(first), state(second)] == ["ready", "blocked"]
    assert free_slots("a") == 0


def test_finishing_after_the_semaphore_expired_still_releases_the_next_job(run_tasks):
    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    Semaphore.objects.all().delete()  # what maintenance does to an expired key
    run_tasks()
    assert state(first) == "successful"
    assert state(second) == "ready"


class AbandonedOutcome(Exception):
    pass


@pytest.mark.parametrize("outcome", ["finish_and_start", "fail"])
def test_the_slot_is_handed_on_inside_the_transaction_that_records_the_outcome(worker, outcome):
    from django.db import transaction

    from steady_queue.models.claimed_execution import Success, fail, finish_and_start

    first = tasks.one_at_a_time.enqueue("a", "1")
    second = tasks.one_at_a_time.enqueue("a", "2")
    (job,) = claim(["*"], 10, worker.pk)
    now = timezone.now()
    record = {"exception_class_path": "builtins.ValueError", "message": "x", "traceback": "ValueError: x\n"}
    with pytest.raises(AbandonedOutcome), transaction.atomic(using=queue_connection.alias):
        if outcome == "fail":
            fail(job, worker.pk, worker.name, now, record)
        else:
            finish_and_start([Success(job, now, now, None)], [], worker.pk, worker.name, preserve=True)
        assert state(second) == "ready"  # handed on together with the outcome ...
        raise AbandonedOutcome
    # ... and not at all when the outcome's transaction does not commit.
    assert [state(first), state(second)] == ["claimed", "blocked"]
    assert free_slots("a") == 0
