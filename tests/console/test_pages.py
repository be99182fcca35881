"""Every console page renders what the tables hold, with a number of queries that does not grow with them."""

import pytest
from django.urls import reverse

from steady_queue.models import Job
from steady_queue.models.job import job_pk
from tests.testapp import tasks

pytestmark = pytest.mark.django_db

STATES = ["failed", "in-progress", "blocked", "scheduled", "ready", "finished", "cancelled"]
PAGES = [
    ("overview", []),
    ("queues", []),
    *[("jobs", [state]) for state in STATES],
    ("workers", []),
    ("recurring", []),
]


def page_url(name, args):
    return reverse(f"steady_queue_console:{name}", args=args)


@pytest.mark.parametrize(("name", "args"), PAGES, ids=[name if not args else args[0] for name, args in PAGES])
def test_a_page_makes_as_many_queries_with_30_tasks_per_state_as_with_3(
    admin_client, make_states, count_queries, name, args
):
    url = page_url(name, args)
    make_states(3)
    with count_queries() as few:
        assert admin_client.get(url).status_code == 200
    make_states(27)
    with count_queries() as many:
        assert admin_client.get(url).status_code == 200
    assert many() == few()
    # Each page's own bound, as documented in docs/console.rst: session and user, then the page's reads.
    assert few() <= QUERY_BOUNDS[args[0] if args else name]


QUERY_BOUNDS = {
    "overview": 13, "queues": 4, "workers": 4, "recurring": 4,
    **{state: 10 for state in STATES},
}


def test_the_job_page_makes_a_fixed_number_of_queries(admin_client, make_states, count_queries):
    make_states(3)
    failed = Job.objects.filter(failedexecution__isnull=False).first()
    with count_queries() as counted:
        assert admin_client.get(page_url("job", [failed.pk])).status_code == 200
    assert counted() <= 3


def test_each_list_shows_its_tasks_and_the_counts_of_every_state(admin_client, make_states):
    make_states(3)
    response = admin_client.get(page_url("jobs", ["ready"]))
    tabs = {tab.slug: str(count) for tab, count, _ in response.context["tabs"]}
    # Blocked: 3 of the 4 limited tasks wait for the one slot; ready: 3 adds, 3 ticks' adds and that one.
    assert tabs == {
        "failed": "3", "in-progress": "3", "blocked": "3", "scheduled": "3", "ready": "7", "finished": "3",
        "cancelled": "3",
    }
    assert len(response.context["jobs"]) == 7


def test_the_lists_filter_by_task_and_queue(admin_client, make_states):
    make_states(3)
    by_task = admin_client.get(page_url("jobs", ["ready"]), {"task": "tests.testapp.tasks.one_at_a_time"})
    assert [job.task_path for job in by_task.context["jobs"]] == ["tests.testapp.tasks.one_at_a_time"]
    by_queue = admin_client.get(page_url("jobs", ["failed"]), {"queue": "nope"})
    assert by_queue.context["jobs"] == []
    assert str(dict((t.slug, c) for t, c, _ in by_queue.context["tabs"])["failed"]) == "0"


def test_pages_follow_each_other_by_job_id(admin_client, settings):
    results = tasks.add.enqueue_many([(i, i) for i in range(60)])
    first = admin_client.get(page_url("jobs", ["ready"]))
    second = admin_client.get(first.context["next_url"])
    seen = [job.pk for job in first.context["jobs"]] + [job.pk for job in second.context["jobs"]]
    assert seen == sorted(job_pk(result.id) for result in results)
    assert second.context["next_url"] is None


def test_finished_pages_follow_each_other_by_finish_time_then_id(admin_client, run_tasks):
    from datetime import timedelta

    from django.utils import timezone

    tasks.add.enqueue_many([(i, i) for i in range(60)])
    run_tasks()
    began = timezone.now() - timedelta(hours=1)
    ids = list(Job.objects.order_by("pk").values_list("pk", flat=True))
    # Three jobs end in each second, the later ids the earlier: neither order alone is the list's, and
    # the first page ends inside a second, so the next one must start within it.
    for n, pk in enumerate(reversed(ids)):
        Job.objects.filter(pk=pk).update(finished_at=began + timedelta(seconds=n // 3, microseconds=7))
    first = admin_client.get(page_url("jobs", ["finished"]))
    second = admin_client.get(first.context["next_url"])
    assert len(first.context["jobs"]) == 50 and second.context["next_url"] is None
    seen = [(job.finished_at, job.pk) for job in first.context["jobs"] + second.context["jobs"]]
    assert seen == sorted(Job.objects.values_list("finished_at", "pk"), reverse=True)
    # A key that is none (edited by hand, or a job id from before the upgrade): the first page.
    for key in ("nonsense", "123", "12-x"):
        again = admin_client.get(page_url("jobs", ["finished"]), {"after": key})
        assert [job.pk for job in again.context["jobs"]] == [job.pk for job in first.context["jobs"]]


def test_times_are_shown_to_the_second_with_the_iso_time_on_hover(admin_client):
    result = tasks.add.enqueue(1, 2)
    job = Job.objects.get(pk=job_pk(result.id))
    page = admin_client.get(page_url("job", [job.pk])).content.decode()
    assert f'title="{job.created_at.isoformat()}">{job.created_at:%Y-%m-%d %H:%M:%S}</time>' in page


def test_the_job_page_shows_the_traceback_and_masks_secret_arguments(admin_client, run_tasks, settings):
    settings.STEADY_QUEUE = {**settings.STEADY_QUEUE, "console": {"masked_argument_keys": ["password"]}}
    result = tasks.echo.enqueue(user="ada", db_password="hunter2")
    failed = tasks.fail.enqueue("the reason")
    run_tasks()
    page = admin_client.get(page_url("job", [job_pk(result.id)])).content.decode()
    assert "hunter2" not in page and "ada" in page and "********" in page
    failed_page = admin_client.get(page_url("job", [job_pk(failed.id)])).content.decode()
    assert "Traceback (most recent call last)" in failed_page and "ValueError: the reason" in failed_page


def test_the_workers_page_lists_each_process_with_its_running_tasks(admin_client, make_states):
    make_states(2)
    response = admin_client.get(page_url("workers", []))
    worker = next(p for p in response.context["processes"] if p.name == "console-worker")
    assert (worker.queues, worker.threads, worker.stale) == (["reports"], 3, False)
    assert [job.task_path for job in worker.jobs] == ["tests.testapp.tasks.add"] * 2


def test_a_process_silent_longer_than_the_threshold_is_marked_stale(admin_client, make_states):
    from datetime import timedelta

    from django.utils import timezone

    from steady_queue.models import Process

    make_states(1)
    Process.objects.filter(name="console-worker").update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    response = admin_client.get(page_url("workers", []))
    assert {p.name: p.stale for p in response.context["processes"]} == {"console-worker": True, "worker-test": False}
    assert b"sq-badge stale" in response.content


def test_the_recurring_page_shows_the_last_runs_of_each_task(admin_client, make_states):
    make_states(7)
    response = admin_client.get(page_url("recurring", []))
    (task,) = response.context["tasks"]
    assert len(task.last_runs) == 5
    assert [run["run_at"] for run in task.last_runs] == sorted((run["run_at"] for run in task.last_runs), reverse=True)
