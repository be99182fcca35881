"""@unique tasks through every path a job takes, against the real database (SQLite or PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from steady_queue.cron.scheduler import Scheduler
from steady_queue.models import BlockedExecution, Job, ReadyExecution, RecurringExecution, UniqueKey
from steady_queue.models.job import job_pk, result_id
from steady_queue.models.scheduled_execution import dispatch_due
from steady_queue.models.unique_key import purge, release_unique_keys
from steady_queue.recurring_task import recurring
from steady_queue.task import Call
from steady_queue.uniqueness import UniqueKeyError, enqueue_or_find, unique
from tests.databases import queue_connection
from tests.markers import fast_sql_only
from tests.testapp import tasks
from tests.testapp import unique_tasks as ut
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db

REFRESH = "tests.testapp.unique_tasks.refresh"


def status(result):
    return default_task_backend.get_result(result.id).status


def test_a_duplicate_returns_the_pending_task_and_writes_nothing():
    sent = []
    task_enqueued.connect(receiver := lambda sender, task_result, **kw: sent.append(task_result.id))
    try:
        first = ut.refresh.enqueue(1, "first")
        second = ut.refresh.enqueue(1, "second")
        other = ut.refresh.enqueue(2, "other")
    finally:
        task_enqueued.disconnect(receiver)
    assert second.id == first.id != other.id
    assert (second.status, second.args) == (TaskResultStatus.READY, [1, "first"])
    assert second.task.func is ut.refresh.func
    assert Job.objects.count() == 2 and ReadyExecution.objects.count() == 2
    assert sorted(UniqueKey.objects.values_list("key", "result_id")) == [
        (f"{REFRESH}/account-1", first.id), (f"{REFRESH}/account-2", other.id),
    ]
    assert Job.objects.get(pk=job_pk(first.id)).unique_key == f"{REFRESH}/account-1"
    # task_enqueued: only for the tasks that were enqueued.
    assert sent == [first.id, other.id]


def test_enqueue_many_takes_the_first_call_of_each_key_in_the_batch():
    held = ut.refresh.enqueue(3, "held")
    calls = [Call(1, "a"), (2, "b"), {"account": 1, "label": "c"}, (3, "d"), (2, "e"), (4, "f")]
    outcomes = default_task_backend.enqueue_or_find(ut.refresh, calls)
    ids = [result.id for result, _ in outcomes]
    assert [enqueued for _, enqueued in outcomes] == [True, True, False, False, False, True]
    assert ids[2] == ids[0] and ids[4] == ids[1] and ids[3] == held.id
    assert len(set(ids)) == 4
    assert sorted(Job.objects.values_list("arguments__args", flat=True)) == sorted(
        [[3, "held"], [1, "a"], [2, "b"], [4, "f"]]
    )
    # enqueue_many itself: the same results, without the flags; a batch of duplicates only writes nothing.
    again = ut.refresh.enqueue_many([(1,), (1,), (4,)])
    assert [r.id for r in again] == [ids[0], ids[0], ids[5]]
    assert Job.objects.count() == 4


def test_held_until_started_a_claim_releases_the_key(run_tasks):
    first = ut.refresh.enqueue(1, "first")
    seen = {}

    def after_claim(jobs):
        # The worker took it: the key is free before the task even runs.
        seen["keys"] = UniqueKey.objects.count()
        seen["next"] = ut.refresh.enqueue(1, "while running")

    run_tasks(after_claim=after_claim)
    assert seen["keys"] == 0
    assert seen["next"].id != first.id and status(seen["next"]) == TaskResultStatus.READY
    assert status(first) == TaskResultStatus.SUCCESSFUL
    assert ut.refresh.enqueue(1, "third").id == seen["next"].id


def test_held_until_finished_holds_through_running_and_ends_with_the_task(run_tasks):
    first = ut.rebuild.enqueue(1, "first")
    seen = {}

    def after_claim(jobs):
        seen["while running"] = ut.rebuild.enqueue(1, "while running")

    run_tasks(after_claim=after_claim)
    assert seen["while running"].id == first.id
    assert seen["while running"].status == TaskResultStatus.RUNNING
    assert status(first) == TaskResultStatus.SUCCESSFUL
    after = ut.rebuild.enqueue(1, "after")
    assert after.id != first.id and Job.objects.count() == 2


def test_a_retried_task_keeps_its_key_until_it_ends_for_good(run_tasks):
    first = ut.flaky.enqueue(7)
    for attempt in (1, 2):
        run_tasks()
        # Failed, waiting for its next attempt: still the one pending task of its key.
        result = status(first)
        assert result == TaskResultStatus.READY, attempt
        assert ut.flaky.enqueue(7).id == first.id
    run_tasks()
    assert status(first) == TaskResultStatus.SUCCESSFUL
    assert ut.flaky.enqueue(7).id != first.id


def test_a_task_that_failed_for_good_no_longer_holds_its_key(run_tasks):
    failed = ut.always_fails.enqueue(1)
    run_tasks()
    assert status(failed) == TaskResultStatus.FAILED
    assert ut.always_fails.enqueue(1).id != failed.id


def test_a_window_after_finishing_returns_the_finished_task(run_tasks):
    first = ut.nightly.enqueue("first")
    run_tasks()
    duplicate = ut.nightly.enqueue("second")
    assert duplicate.id == first.id and duplicate.status == TaskResultStatus.SUCCESSFUL
    assert duplicate.return_value == "first"
    # A minute later the window is over.
    Job.objects.update(finished_at=timezone.now() - timedelta(seconds=61))
    UniqueKey.objects.exclude(expires_at=None).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ut.nightly.enqueue("third").id != first.id


def test_a_window_after_starting_counts_from_the_claim(run_tasks):
    first = ut.warm_cache.enqueue("first")
    before = timezone.now()
    run_tasks()
    row = UniqueKey.objects.get()
    assert before + timedelta(seconds=60) <= row.expires_at <= timezone.now() + timedelta(seconds=60)
    assert ut.warm_cache.enqueue("second").id == first.id
    UniqueKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    third = ut.warm_cache.enqueue("third")
    assert third.id != first.id
    assert UniqueKey.objects.get().result_id == third.id


def test_a_window_outlives_its_cleared_job(run_tasks):
    first = ut.nightly.enqueue("first")
    run_tasks()
    release_unique_keys([Job.objects.get()], timezone.now())  # what the finish path does
    Job.objects.all().delete()  # cleared (or preserve_finished_jobs off)
    duplicate = ut.nightly.enqueue("second")
    assert duplicate.id == first.id and duplicate.status == TaskResultStatus.SUCCESSFUL
    assert not Job.objects.exists()
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(duplicate.id)


def test_a_key_whose_job_was_deleted_while_it_waited_is_free_again():
    first = ut.refresh.enqueue(1)
    Job.objects.all().delete()
    second = ut.refresh.enqueue(1)
    assert second.id != first.id
    assert UniqueKey.objects.get().result_id == second.id


def test_a_scheduled_task_holds_its_key_until_it_runs(run_tasks):
    later = ut.refresh.using(run_after=timedelta(milliseconds=1)).enqueue(1, "later")
    assert ut.refresh.enqueue(1, "now").id == later.id
    dispatch_due(10)
    assert ut.refresh.enqueue(1, "now").id == later.id
    run_tasks()
    assert ut.refresh.enqueue(1, "now").id != later.id


def test_a_model_instance_key_is_its_type_and_primary_key():
    ada = Author.objects.create(name="Ada")
    first = ut.per_author.enqueue(ada)
    assert ut.per_author.enqueue(Author.objects.get(pk=ada.pk)).id == first.id
    assert UniqueKey.objects.get().key == f"tests.testapp.unique_tasks.per_author/testapp.author/{ada.pk}"


def test_a_group_shares_keys_across_tasks():
    first = ut.sync_a.enqueue()
    second = ut.sync_b.enqueue()
    assert second.id == first.id and second.task.func is ut.sync_a.func
    assert UniqueKey.objects.get().key == "sync-group/shared"


def test_unique_and_limited_together():
    first = ut.unique_and_limited.enqueue("k", "1")
    assert ut.unique_and_limited.enqueue("k", "2").id == first.id
    other = ut.unique_and_limited.enqueue("other", "1")
    assert ReadyExecution.objects.count() == 2 and not BlockedExecution.objects.exists()
    assert other.id != first.id


def test_a_rolled_back_enqueue_leaves_the_key_free():
    with pytest.raises(RuntimeError), transaction.atomic(using=queue_connection.alias):
        ut.refresh.enqueue(1)
        raise RuntimeError("the caller changes its mind")
    assert not UniqueKey.objects.exists()
    ut.refresh.enqueue(1)
    assert Job.objects.count() == 1


def test_an_expired_hold_is_replaced():
    first = ut.nightly.enqueue()
    UniqueKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    second = ut.nightly.enqueue()
    assert second.id != first.id
    row = UniqueKey.objects.get()
    assert (row.result_id, row.expires_at, row.job_id) == (second.id, None, job_pk(second.id))


def test_release_sets_the_window_or_deletes_the_row():
    kept, gone, not_started = ut.nightly.enqueue(), ut.rebuild.enqueue(1), ut.refresh.enqueue(1)
    now = timezone.now()
    release_unique_keys(list(Job.objects.all()), now)
    row = UniqueKey.objects.get()
    assert (row.result_id, row.expires_at) == (kept.id, now + timedelta(seconds=60))
    assert {gone.id, not_started.id}.isdisjoint(UniqueKey.objects.values_list("result_id", flat=True))
    # Released twice, or by a task that no longer holds it: nothing changes.
    release_unique_keys(list(Job.objects.all()), now + timedelta(hours=1))
    assert UniqueKey.objects.get().expires_at == now + timedelta(seconds=60)
    release_unique_keys(list(Job.objects.filter(unique_key=None)), now)  # no unique job: no query


def test_release_costs_nothing_for_jobs_without_a_key(capture_queries):
    tasks.add.enqueue(1, 2)
    jobs = list(Job.objects.all())
    with capture_queries() as queries:
        release_unique_keys(jobs, timezone.now())
    assert queries.captured_queries == []


def test_the_finish_path_releases_keys_with_the_outcome(run_tasks):
    ut.rebuild.enqueue(1)
    nightly = ut.nightly.enqueue()
    before = timezone.now()
    run_tasks()
    (row,) = UniqueKey.objects.all()
    assert row.result_id == nightly.id
    assert before + timedelta(seconds=60) <= row.expires_at <= timezone.now() + timedelta(seconds=60)


def test_finishing_one_task_at_a_time_releases_its_key_too():
    from steady_queue.models.claimed_execution import finish
    from steady_queue.models.process import register
    from steady_queue.models.ready_execution import claim

    worker = register("worker", "worker-unique", 1, "host")
    ut.rebuild.enqueue(1)
    (job,) = claim(["*"], 10, worker.pk)
    assert UniqueKey.objects.exists()  # held until it finishes
    assert finish(job, worker.pk, worker.name, timezone.now(), None, preserve=False)
    assert not UniqueKey.objects.exists() and not Job.objects.exists()


def test_the_purge_deletes_expired_keys_and_keys_of_ended_tasks():
    ut.nightly.enqueue()
    UniqueKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    ended = [ut.rebuild.enqueue(1), ut.refresh.enqueue(1)]
    # Ended by a path that did not release their keys.
    Job.objects.filter(pk__in=[job_pk(r.id) for r in ended]).update(finished_at=timezone.now())
    pending = ut.rebuild.enqueue(3)
    assert purge(timezone.now()) == 3
    assert list(UniqueKey.objects.values_list("result_id", flat=True)) == [pending.id]
    assert purge(timezone.now()) == 0


def test_the_purge_keeps_a_window_that_is_not_over(run_tasks):
    first = ut.nightly.enqueue()
    run_tasks()
    UniqueKey.objects.update(expires_at=None)  # as if the finish path had not released it
    purge(timezone.now())
    row = UniqueKey.objects.get()
    assert row.expires_at == Job.objects.get().finished_at + timedelta(seconds=60)
    assert ut.nightly.enqueue().id == first.id


def test_enqueue_or_find_says_whether_it_enqueued():
    first, enqueued = enqueue_or_find(ut.refresh, (1,))
    again, enqueued_again = enqueue_or_find(ut.refresh, (), {"account": 1})
    plain, plain_enqueued = enqueue_or_find(tasks.add, (1, 2))
    assert (enqueued, enqueued_again, plain_enqueued) == (True, False, True)
    assert again.id == first.id and plain.id != first.id


@fast_sql_only
def test_a_plain_enqueue_writes_no_key_and_keeps_its_statements(capture_queries):
    with capture_queries() as queries:
        tasks.add.enqueue_many([(i, i) for i in range(3)])
    assert len(queries.captured_queries) == (1 if queries.connection.vendor == "postgresql" else 2)
    assert not UniqueKey.objects.exists() and not Job.objects.exclude(unique_key=None).exists()


@fast_sql_only
def test_a_unique_enqueue_costs_a_few_statements(capture_queries):
    with capture_queries() as queries:
        ut.refresh.enqueue_many([(i,) for i in range(50)])
    # Insert the keys, read them, insert the jobs and their ready rows, record the holders.
    assert len(queries.captured_queries) == 5, [q["sql"][:80] for q in queries.captured_queries]
    with capture_queries() as queries:
        ut.refresh.enqueue_many([(i,) for i in range(50)])
    # All held: insert the keys (ignored), read them, read the holders.
    assert len(queries.captured_queries) == 3, [q["sql"][:80] for q in queries.captured_queries]


# Recurring ticks of a unique task.


def test_a_recurring_tick_is_skipped_while_the_previous_run_holds_the_key(registry, run_tasks):
    recurring(schedule="* * * * *", key="rebuild-1", args=(1,))(ut.rebuild)
    scheduler = Scheduler()
    spec = scheduler.specs[0]
    ticks = [datetime(2026, 11, 25, 9, minute, tzinfo=UTC) for minute in range(3)]
    assert scheduler._fire(spec, ticks[0])
    assert scheduler._fire(spec, ticks[1])
    job = Job.objects.get()
    executions = dict(RecurringExecution.objects.values_list("run_at", "job_id"))
    assert executions == {ticks[0]: job.pk, ticks[1]: None}  # the second tick is done, with no job
    run_tasks()
    assert scheduler._fire(spec, ticks[2])
    assert Job.objects.count() == 2
    assert RecurringExecution.objects.get(run_at=ticks[2]).job_id == Job.objects.latest("pk").pk


# Bad input.


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ut.broken_key.enqueue(5), "cannot be computed: its function raised LookupError: no account 5"),
        (lambda: ut.key_is_argument.enqueue(None), "must be a non-empty string or a saved model instance, not None"),
        (lambda: ut.key_is_argument.enqueue(""), "must be a non-empty string or a saved model instance, not ''"),
        (lambda: ut.key_is_argument.enqueue(42), "not 42"),
        (lambda: ut.key_is_argument.enqueue("x" * 300), "characters long; the limit is 255"),
        (lambda: ut.refresh.enqueue(), "cannot be computed: its function raised TypeError"),
        (lambda: ut.key_is_argument.enqueue_many([("ok",), (None,)]), "not None"),
    ],
)
def test_bad_keys_fail_at_enqueue_and_write_nothing(call, message):
    with pytest.raises(UniqueKeyError, match=message) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith("The unique key of tests.testapp.unique_tasks.")
    assert not Job.objects.exists() and not UniqueKey.objects.exists()


def plain(x):
    return x


@pytest.mark.parametrize(
    ("decorate", "message"),
    [
        (lambda: unique(key=None), "key must be a non-empty string or a callable, not None"),
        (lambda: unique(key=""), "key must be a non-empty string or a callable, not ''"),
        (lambda: unique(key="k", until="done"), "until must be 'started' or 'finished', not 'done'"),
        (lambda: unique(key="k", window=0), "window must be a positive timedelta or seconds, or None, not"),
        (lambda: unique(key="k", window=timedelta(seconds=-1)), "window must be a positive timedelta"),
        (lambda: unique(key="k", window="1h"), "window must be a positive timedelta or seconds, or None, not '1h'"),
        (lambda: unique(key="k", group=""), "group must be a non-empty string, not ''"),
        (lambda: unique(key="k")(plain), "must be applied outside @task()"),
        (lambda: unique(key="k")(ut.refresh), "tests.testapp.unique_tasks.refresh is already unique"),
    ],
)
def test_bad_declarations_fail_at_decoration(decorate, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decorate()


def test_window_in_seconds_is_a_timedelta():
    assert unique(key="k", window=90)(tasks.add).uniqueness.window == timedelta(seconds=90)


def test_result_ids_of_duplicates_name_the_holder_row():
    first = ut.refresh.enqueue(1)
    job = Job.objects.get()
    assert result_id(job) == first.id == ut.refresh.enqueue(1).id


def test_the_end_for_good_releases_the_key_in_its_own_transaction(run_tasks):
    from steady_queue.cancellation import cancel
    from steady_queue.models.unique_key import UniqueKey

    failed = ut.always_fails.enqueue(2)
    run_tasks()
    assert status(failed) == TaskResultStatus.FAILED
    cancelled = ut.rebuild.using(run_after=timedelta(hours=1)).enqueue(3)
    assert cancel(cancelled.id) is True
    # Released when the end was recorded, not only when a later enqueue finds the holder ended.
    assert not UniqueKey.objects.filter(result_id__in=[failed.id, cancelled.id]).exists()
