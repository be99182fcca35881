"""The Prometheus endpoint: the queue's numbers at scrape time, for the bearer token or permitted staff only."""

import importlib
import sys
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from steady_queue.conf import parse
from steady_queue.models import Process, ReadyExecution
from steady_queue.queues import pause

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.console.metrics_urls")]

URL = "/metrics/steady-queue/"
TOKEN = "a-scraper-token-of-some-length"


@pytest.fixture
def token(settings):
    settings.STEADY_QUEUE = {**settings.STEADY_QUEUE, "console": {"metrics_token": TOKEN}}


def scrape(client, **headers):
    """The samples of a scrape, as {(metric name, labels as sorted tuples): value}."""
    response = client.get(URL, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def by_label(samples, name, label):
    return {dict(labels)[label]: value for (metric, labels), value in samples.items() if metric == name}


def test_a_scrape_reports_queues_states_outcomes_and_processes(client, token, make_states):
    make_states(3)
    pause("low")
    ReadyExecution.objects.filter(queue_name="default").update(created_at=timezone.now() - timedelta(minutes=2))
    Process.objects.filter(name="console-worker").update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    samples = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    # The queues the console lists: with ready tasks, or paused (the test backends allow any name).
    assert by_label(samples, "steady_queue_queue_size", "queue") == {"default": 7, "low": 0}
    assert by_label(samples, "steady_queue_queue_paused", "queue") == {"default": 0, "low": 1}
    latency = by_label(samples, "steady_queue_queue_latency_seconds", "queue")
    # Two minutes ago, plus the instants the test took.
    assert 120 <= latency["default"] < 180 and latency["low"] == 0
    assert by_label(samples, "steady_queue_tasks", "state") == {
        "failed": 3, "in-progress": 3, "blocked": 3, "scheduled": 3, "ready": 7,
    }
    assert by_label(samples, "steady_queue_tasks_ended_last_hour", "outcome") == {
        "succeeded": 3, "failed": 3, "cancelled": 3,
    }
    assert by_label(samples, "steady_queue_processes", "kind") == {"worker": 2}
    assert by_label(samples, "steady_queue_processes_stale", "kind") == {"worker": 1}


def test_the_last_minute_counts_the_last_complete_minute(client, token, run_tasks):
    from steady_queue.models import Job
    from tests.testapp import tasks

    tasks.add.enqueue_many([(i, i) for i in range(4)])
    tasks.fail.enqueue("boom")
    run_tasks()
    # Ended one minute earlier: in the last complete minute, whatever the second the test runs at.
    Job.objects.update(finished_at=timezone.now() - timedelta(minutes=1))
    samples = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert by_label(samples, "steady_queue_tasks_ended_last_minute", "outcome") == {
        "succeeded": 4, "failed": 1, "cancelled": 0,
    }


def test_without_credentials_the_scrape_is_refused_with_401(client, token):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"steady_queue_" not in response.content


def test_a_wrong_token_is_refused(client, token):
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION=TOKEN).status_code == 401


def test_closed_by_default_no_token_opens_it(client):
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer None").status_code == 401


def test_staff_who_may_see_the_console_may_scrape(user_with):
    client = user_with("view_job")
    assert "steady_queue_tasks" in {name for name, _ in scrape(client)}


def test_staff_without_the_view_permission_get_403(user_with):
    assert user_with().get(URL).status_code == 403
    assert user_with("view_job", staff=False).get(URL).status_code == 403


def test_the_token_setting_is_checked():
    assert parse({"console": {"metrics_token": "short"}}).errors == (
        "STEADY_QUEUE['console']['metrics_token'] must be None or a string of at least 16 characters, not a str of 5.",
    )
    assert parse({"console": {"metrics_token": 1234567890123456789}}).errors
    assert parse({"console": {"metrics_token": TOKEN}}).console.metrics_token == TOKEN


def test_mounting_it_without_prometheus_client_says_what_to_install(monkeypatch):
    # None in sys.modules makes the import fail as if the distribution were not installed.
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "steady_queue.console.metrics")
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'steady-queue-core\[prometheus\]'"):
        importlib.import_module("steady_queue.console.metrics")
