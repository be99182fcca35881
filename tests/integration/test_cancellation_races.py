"""A cancel racing a claim, the dispatcher or a slot hand-over, on real concurrent connections: one winner.

Outside any test transaction, so that each thread's connection sees what the others commit. The
race with real worker processes is in tests/acceptance/test_cancellation.py.
"""

import os
import random
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.cancellation import cancel, cancel_many, cancel_requested, is_cancelled
from steady_queue.db import write_transaction
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.claimed_execution import finish
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from steady_queue.models.scheduled_execution import dispatch_due
from tests.runtime import in_threads
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = 0.5


@pytest.fixture
def worker():
    return register("worker", "worker-race", os.getpid(), socket.gethostname())


def test_a_claim_that_holds_the_row_wins_and_the_cancel_becomes_a_request(worker):
    result = tasks.add.enqueue(1, 2)
    claimed, answers = threading.Event(), {}

    def claim_and_hold():
        with write_transaction():
            answers["claimed"] = [job.pk for job in claim(["*"], 10, worker.pk)]
            claimed.set()
            time.sleep(HOLD)

    def cancel_meanwhile():
        claimed.wait(10)
        started = time.monotonic()
        answers["cancelled"] = cancel(result.id)
        answers["waited"] = time.monotonic() - started

    in_threads(claim_and_hold, cancel_meanwhile)
    assert answers["claimed"] == [job_pk(result.id)]
    assert answers["cancelled"] is False
    assert answers["waited"] > HOLD / 2  # it waited for the claim's transaction, then found the row gone
    assert cancel_requested(result.id) is True
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.RUNNING


def test_a_cancel_that_holds_the_row_wins_and_the_claim_takes_nothing(worker):
    result = tasks.add.enqueue(1, 2)
    cancelled, answers = threading.Event(), {}

    def cancel_and_hold():
        with write_transaction():
            answers["cancelled"] = cancel(result.id)
            cancelled.set()
            time.sleep(HOLD)

    def claim_meanwhile():
        cancelled.wait(10)
        answers["claimed"] = claim(["*"], 10, worker.pk)

    in_threads(cancel_and_hold, claim_meanwhile)
    assert answers == {"cancelled": True, "claimed": []}
    assert default_task_backend.get_result(result.id).errors[-1].exception_class.__name__ == "TaskCancelled"
    assert not ClaimedExecution.objects.exists()


@pytest.mark.parametrize("how", ["cancel", "cancel_many"])
def test_a_cancel_meets_a_task_the_dispatcher_moved_meanwhile(worker, how):
    result = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 2)
    ScheduledExecution.objects.update(scheduled_at=timezone.now() - timedelta(seconds=1))
    dispatched, answers = threading.Event(), {}

    def dispatch_and_hold():
        with write_transaction():
            answers["dispatched"] = dispatch_due(10)
            dispatched.set()
            time.sleep(HOLD)

    def cancel_meanwhile():
        dispatched.wait(10)
        # cancel_many looks once: only the order of the states (scheduled before ready) finds it.
        answers["cancelled"] = cancel(result.id) if how == "cancel" else cancel_many(result_ids=[result.id]) == 1

    in_threads(dispatch_and_hold, cancel_meanwhile)
    # Scheduled when the cancel began, ready when the dispatcher committed: found there, and cancelled.
    assert answers == {"dispatched": 1, "cancelled": True}
    assert not ReadyExecution.objects.exists() and not ScheduledExecution.objects.exists()


@pytest.mark.parametrize("kind", ["plain", "limited"])
def test_claims_dispatches_and_cancels_in_threads_leave_each_task_run_or_cancelled(worker, kind):
    """Three claimers finishing what they claim, a dispatcher, two cancellers: 300 tasks, one fate each."""
    count = 300
    due_soon = timezone.now() + timedelta(hours=1)
    if kind == "plain":
        now_ = tasks.add.enqueue_many([(i, i) for i in range(count // 2)])
        later_ = tasks.add.using(run_after=due_soon).enqueue_many([(i, i) for i in range(count // 2)])
    else:
        now_ = tasks.two_at_a_time.enqueue_many([(f"k{i % 3}", str(i)) for i in range(count // 2)])
        later_ = tasks.two_at_a_time.using(run_after=due_soon).enqueue_many(
            [(f"k{i % 3}", f"later{i}") for i in range(count // 2)]
        )
    results = now_ + later_
    ScheduledExecution.objects.update(scheduled_at=timezone.now())
    ids = [r.id for r in results]
    random.Random(7).shuffle(ids)
    finished, cancelled_one, cancelled_many = set(), set(), []
    lock = threading.Lock()
    cancelling_done = threading.Event()

    deadline = time.monotonic() + 60

    def waiting_left():
        # A task left waiting for ever (a slot never handed on) fails the test instead of hanging it.
        assert time.monotonic() < deadline, "tasks still waiting after 60 s"
        return (
            ReadyExecution.objects.exists()
            or ScheduledExecution.objects.exists()
            or (BlockedExecution.objects.exists())
        )

    def claimer():
        while True:
            jobs = claim(["*"], 5, worker.pk)
            for job in jobs:
                finish(job, worker.pk, worker.name, timezone.now(), None, preserve=True)
            with lock:
                finished.update(job.pk for job in jobs)
            if not jobs and cancelling_done.is_set() and not waiting_left():
                return
            # Slow enough that the cancels race the claims all along, on SQLite's one lock too.
            time.sleep(0.01)

    def dispatcher():
        while not (cancelling_done.is_set() and not waiting_left()):
            if not dispatch_due(7):
                time.sleep(0.002)

    def canceller(share):
        rng = random.Random(len(share))
        position = 0
        while position < len(share):
            size = rng.choice([1, 1, 1, 4, 16])
            batch, position = share[position : position + size], position + size
            if size == 1:
                if cancel(batch[0]):
                    with lock:
                        cancelled_one.add(job_pk(batch[0]))
            else:
                number = cancel_many(result_ids=batch, batch_size=rng.choice([3, 500]))
                with lock:
                    cancelled_many.append(number)

    def cancellers():
        in_threads(lambda: canceller(ids[::2]), lambda: canceller(ids[1::2]))
        cancelling_done.set()

    in_threads(claimer, claimer, claimer, dispatcher, cancellers)

    jobs = {job.pk: job for job in Job.objects.all()}
    cancelled = {pk for pk, job in jobs.items() if is_cancelled(job)}
    assert len(jobs) == count
    assert cancelled.isdisjoint(finished) and cancelled | finished == set(jobs)
    assert cancelled_one <= cancelled and len(cancelled_one) + sum(cancelled_many) == len(cancelled)
    for model in (ReadyExecution, ScheduledExecution, BlockedExecution, ClaimedExecution, FailedExecution):
        assert not model.objects.exists(), model.__name__
    assert all(jobs[pk].finished_at is not None for pk in finished)
    if kind == "limited":
        # Every slot came back: none leaked by a cancel, none given back twice.
        assert set(Semaphore.objects.values_list("value", flat=True)) == {2}
    print(f"\n{kind}: {len(cancelled)} cancelled, {len(finished)} claimed and finished")
