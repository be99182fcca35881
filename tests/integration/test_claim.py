from datetime import timedelta

import pytest
from django.utils import timezone

from steady_queue.models import ClaimedExecution, Job, Pause, ReadyExecution
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim as claim_fast
from steady_queue.models.ready_execution import claim_portable
from tests.databases import queue_connection
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def process():
    return register("worker", "worker-test", 1, "host")


@pytest.fixture(params=["database SQL", "portable ORM"])
def claim(request):
    """Every rule holds for the database's own SQL and for the ORM version other databases use."""
    return claim_fast if request.param == "database SQL" else claim_portable


def enqueue(label, queue="default", priority=0):
    return job_pk(tasks.record_anywhere.using(queue_name=queue, priority=priority).enqueue(label).id)


def labels(jobs):
    return [job.arguments["args"][0] for job in jobs]


def test_claim_moves_ready_rows_to_claimed(process, claim):
    ids = [enqueue(f"t{i}") for i in range(3)]
    jobs = claim(["*"], 10, process.pk)
    assert [job.pk for job in jobs] == ids
    assert not ReadyExecution.objects.exists()
    assert set(ClaimedExecution.objects.values_list("job_id", "process_id")) == {(i, process.pk) for i in ids}


def test_claim_takes_at_most_the_limit(process, claim):
    for i in range(5):
        enqueue(f"t{i}")
    assert len(claim(["*"], 2, process.pk)) == 2
    assert ReadyExecution.objects.count() == 3
    assert len(claim(["*"], 10, process.pk)) == 3
    assert claim(["*"], 10, process.pk) == []


def test_higher_priority_first_then_oldest(process, claim):
    enqueue("low", priority=-10)
    enqueue("old-normal")
    enqueue("urgent", priority=100)
    enqueue("new-normal")
    enqueue("high", priority=5)
    assert labels(claim(["*"], 10, process.pk)) == ["urgent", "high", "old-normal", "new-normal", "low"]


def test_queue_order_comes_before_priority(process, claim):
    enqueue("report", queue="reports", priority=100)
    enqueue("mail", queue="email", priority=-100)
    enqueue("other", queue="low", priority=50)
    assert labels(claim(["email", "reports", "*"], 10, process.pk)) == ["mail", "report", "other"]


def test_only_the_listed_queues_are_served(process, claim):
    enqueue("mail", queue="email")
    enqueue("report", queue="reports")
    assert labels(claim(["email"], 10, process.pk)) == ["mail"]
    assert list(ReadyExecution.objects.values_list("queue_name", flat=True)) == ["reports"]


def test_prefix_wildcards_match_queue_name_prefixes(process, claim):
    enqueue("a", queue="mail-digest")
    enqueue("b", queue="mailers", priority=5)
    enqueue("c", queue="email")
    enqueue("d", queue="default")
    assert labels(claim(["mail*"], 10, process.pk)) == ["b", "a"]
    assert labels(claim(["e*", "*"], 10, process.pk)) == ["c", "d"]


def test_a_prefix_serves_its_queues_together_by_priority_then_age(process, claim):
    # Names a collation may sort between the prefix's own ("mail-b" between "maila" and "mailc"
    # in most), and some that only look alike: PostgreSQL finds a prefix's queues in the "C"
    # collation, and the match stays exact and case-sensitive (but where the database compares
    # text blind to case: MariaDB's default collations).
    rows = [
        ("m1", "mail", 0), ("x1", "Mail", 9), ("m2", "maila", 5), ("x2", "mai", 9), ("m3", "mail-b", 0),
        ("m4", "mailé", 5), ("x3", "email", 9), ("m5", "mailbox", 0), ("m6", "mail", 5), ("x4", "maim", 9),
    ]
    if queue_connection.vendor == "mysql":
        rows.remove(("x1", "Mail", 9))
    for label, queue, priority in rows:
        enqueue(label, queue=queue, priority=priority)
    assert labels(claim(["mail*"], 4, process.pk)) == ["m2", "m4", "m6", "m1"]
    assert labels(claim(["mail*"], 10, process.pk)) == ["m3", "m5"]
    left = sorted(ReadyExecution.objects.values_list("queue_name", flat=True))
    assert left == sorted(queue for label, queue, _ in rows if label.startswith("x"))


def test_claims_of_a_prefix_over_more_queues_than_the_limit_take_its_rows_in_order(process, claim):
    # Twelve queues of three rows each, enqueued round-robin, and a few urgent rows in the last
    # queues: claims of five, then of fifty, take exactly the order of one claim over them all.
    expected = []
    for round_ in range(3):
        for queue in range(12):
            urgent = queue >= 9 and round_ == 2
            label = f"q{queue:02}-{round_}"
            enqueue(label, queue=f"q{queue:02}", priority=3 if urgent else 0)
            expected.append((-3 if urgent else 0, label))
    enqueue("other", queue="r00", priority=9)
    order = [label for _, label in sorted(expected, key=lambda item: item[0])]  # stable: age within a priority
    taken = []
    for _ in range(4):
        taken += labels(claim(["q*"], 5, process.pk))
    taken += labels(claim(["q*"], 50, process.pk))
    assert taken == order


def test_paused_queues_are_skipped_by_every_pattern(process, claim):
    enqueue("mail", queue="email")
    enqueue("report", queue="reports")
    Pause.objects.create(queue_name="email")
    assert labels(claim(["email"], 10, process.pk)) == []
    assert labels(claim(["e*"], 10, process.pk)) == []
    assert labels(claim(["*"], 10, process.pk)) == ["report"]
    Pause.objects.all().delete()
    assert labels(claim(["*"], 10, process.pk)) == ["mail"]


def test_a_queue_listed_twice_is_not_claimed_twice(process, claim):
    enqueue("one", queue="email")
    enqueue("two", queue="email")
    jobs = claim(["email", "*"], 10, process.pk)
    assert labels(jobs) == ["one", "two"]


def test_scheduled_jobs_are_not_claimed(process, claim):
    tasks.record_anywhere.using(run_after=timezone.now() + timedelta(hours=1)).enqueue("later")
    assert claim(["*"], 10, process.pk) == []
    assert Job.objects.count() == 1


def test_on_sqlite_a_pause_committed_before_the_claim_holds_whatever_list_the_worker_read(process):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's claim takes the list read at the start of the poll (see docs/running.rst)")
    enqueue("held", "email")
    Pause.objects.create(queue_name="email")
    # The worker read the paused queues before the pause, then waited for the write lock.
    assert claim_fast(["*"], 10, process.pk, paused=[]) == []
