"""Handing slots on for a whole finisher batch at once: per key, as many as finished, never over the limit."""

import pytest
from django.utils import timezone

from steady_queue.models import BlockedExecution, ClaimedExecution, ReadyExecution, Semaphore
from steady_queue.models.blocked_execution import run_now
from steady_queue.models.claimed_execution import Success, finish_and_start
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from tests.databases import queue_connection
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker():
    return register("worker", "worker-test", 1, "host")


def finish_together(worker, jobs):
    """Record the jobs' successes in one finisher batch."""
    now = timezone.now()
    successes = [Success(job, now, now, None) for job in jobs]
    return finish_and_start(successes, [], worker.pk, worker.name, preserve=True)[0]


def ids(results):
    return {job_pk(result.id) for result in results}


def ready_ids():
    return set(ReadyExecution.objects.values_list("job_id", flat=True))


def blocked_ids():
    return set(BlockedExecution.objects.values_list("job_id", flat=True))


def semaphore(task, key):
    return Semaphore.objects.get(key=f"{task.module_path}/{key}")


def test_a_key_that_finished_two_hands_two_slots_to_its_next_two_blocked_jobs(worker):
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(5)]
    running = claim(["*"], 10, worker.pk)
    assert len(running) == 2
    finish_together(worker, running)
    assert ready_ids() == ids(results[2:4])
    assert blocked_ids() == ids(results[4:])
    assert semaphore(tasks.two_at_a_time, "k").value == 0


@pytest.mark.django_db(transaction=True)
def test_slots_are_handed_on_with_time_zone_support_off(worker, settings):
    # The semaphores' expiry is read as the ORM reads it: naive without USE_TZ, to be compared
    # with a naive now (MySQL's converter alone would have made it aware).
    settings.USE_TZ = False
    # Connected afresh, as a process started with the setting: PostgreSQL's connection chooses its
    # datetime loaders when it opens.
    queue_connection.close()
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(3)]
    running = claim(["*"], 10, worker.pk)
    finish_together(worker, running)
    assert ready_ids() == ids(results[2:])
    assert timezone.is_naive(semaphore(tasks.two_at_a_time, "k").expires_at)


def test_a_key_hands_on_only_the_slots_of_the_jobs_that_finished(worker):
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(5)]
    first, still_running = claim(["*"], 10, worker.pk)
    finish_together(worker, [first])
    # One slot on: with the job still running, the key runs two, its limit.
    assert ready_ids() == ids(results[2:3])
    assert ClaimedExecution.objects.filter(job_id=still_running.pk).exists()
    assert semaphore(tasks.two_at_a_time, "k").value == 0


def test_slots_left_over_when_fewer_jobs_wait_are_given_back(worker):
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(3)]
    finish_together(worker, claim(["*"], 10, worker.pk))
    assert ready_ids() == ids(results[2:])
    assert semaphore(tasks.two_at_a_time, "k").value == 1


def test_each_key_of_a_batch_hands_on_its_own_slots(worker):
    a = [tasks.two_at_a_time.enqueue("a", str(i)) for i in range(4)]
    b = [tasks.one_at_a_time.enqueue("b", str(i)) for i in range(3)]
    c = tasks.one_at_a_time.enqueue("c", "alone")
    running = claim(["*"], 10, worker.pk)
    assert {job.pk for job in running} == ids([*a[:2], b[0], c])
    finish_together(worker, running)
    assert ready_ids() == ids([*a[2:4], b[1]])
    assert blocked_ids() == ids(b[2:])
    assert [semaphore(tasks.two_at_a_time, "a").value, semaphore(tasks.one_at_a_time, "b").value] == [0, 0]
    assert semaphore(tasks.one_at_a_time, "c").value == 1


def test_the_highest_priority_blocked_jobs_get_the_slots(worker):
    [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(2)]
    low = tasks.two_at_a_time.using(priority=-5).enqueue("k", "low")
    high = tasks.two_at_a_time.using(priority=50).enqueue("k", "high")
    old = tasks.two_at_a_time.enqueue("k", "old")
    tasks.two_at_a_time.enqueue("k", "new")
    finish_together(worker, claim(["*"], 10, worker.pk))
    assert ready_ids() == ids([high, old])
    assert job_pk(low.id) in blocked_ids()


def test_a_debt_is_paid_before_any_blocked_job_gets_a_slot(worker):
    results = [tasks.one_at_a_time.enqueue("k", str(i)) for i in range(4)]
    # Run the last one now, over the limit: the key owes a slot.
    assert run_now([job_pk(results[3].id)]) == [job_pk(results[3].id)]
    assert semaphore(tasks.one_at_a_time, "k").value == -1
    running = claim(["*"], 10, worker.pk)
    assert {job.pk for job in running} == ids([results[0], results[3]])
    finish_together(worker, running)
    # Two finished: the first slot pays the debt, the second goes to the next blocked job.
    assert ready_ids() == ids(results[1:2])
    assert blocked_ids() == ids(results[2:3])
    assert semaphore(tasks.one_at_a_time, "k").value == 0


def test_a_debt_larger_than_the_batch_releases_nothing(worker):
    results = [tasks.one_at_a_time.enqueue("k", str(i)) for i in range(4)]
    run_now(ids(results[2:]))
    assert semaphore(tasks.one_at_a_time, "k").value == -2
    (first,) = [job for job in claim(["*"], 10, worker.pk) if job.pk == job_pk(results[0].id)]
    finish_together(worker, [first])
    assert blocked_ids() == ids(results[1:2])
    assert semaphore(tasks.one_at_a_time, "k").value == -1


def test_a_key_whose_semaphore_expired_releases_up_to_its_limit(worker):
    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(5)]
    running = claim(["*"], 10, worker.pk)
    Semaphore.objects.all().delete()  # what maintenance does to an expired key
    finish_together(worker, running[:1])
    assert ready_ids() == ids(results[2:4])
    assert semaphore(tasks.two_at_a_time, "k").value == 0


def test_the_expiry_is_pushed_back_only_when_nearer_than_the_duration(worker):
    [tasks.one_at_a_time.enqueue("k", str(i)) for i in range(3)]
    duration = tasks.one_at_a_time.concurrency.effective_duration()
    far = timezone.now() + duration * 1.2
    Semaphore.objects.update(expires_at=far)
    finish_together(worker, claim(["*"], 10, worker.pk))
    assert semaphore(tasks.one_at_a_time, "k").expires_at == far
    near = timezone.now() + duration / 2
    Semaphore.objects.update(expires_at=near)
    before = timezone.now()
    finish_together(worker, claim(["*"], 10, worker.pk))
    assert semaphore(tasks.one_at_a_time, "k").expires_at >= before + duration


def test_a_key_never_runs_more_than_its_limit_batch_after_batch(worker):
    [tasks.two_at_a_time.enqueue(key, str(i)) for i in range(7) for key in ("a", "b")]
    while running := claim(["*"], 3, worker.pk):
        for key in ("a", "b"):
            holders = ClaimedExecution.objects.filter(job__concurrency_key__endswith=f"/{key}").count()
            queued = ReadyExecution.objects.filter(job__concurrency_key__endswith=f"/{key}").count()
            assert holders + queued <= 2
        finish_together(worker, running)
    assert not BlockedExecution.objects.exists()
    assert [semaphore(tasks.two_at_a_time, key).value for key in ("a", "b")] == [2, 2]


class AbandonedBatch(Exception):
    pass


def test_a_batch_hands_on_nothing_when_its_transaction_does_not_commit(worker):
    from django.db import transaction

    from tests.databases import queue_connection

    results = [tasks.two_at_a_time.enqueue("k", str(i)) for i in range(4)]
    running = claim(["*"], 10, worker.pk)
    with pytest.raises(AbandonedBatch), transaction.atomic(using=queue_connection.alias):
        finish_together(worker, running)
        assert ready_ids() == ids(results[2:])
        raise AbandonedBatch
    assert blocked_ids() == ids(results[2:])
    assert semaphore(tasks.two_at_a_time, "k").value == 0
