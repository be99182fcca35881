"""Which processes ``manage.py steady_queue`` starts, from settings and flags."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from steady_queue.recurring_task import recurring
from steady_queue.worker import configuration
from steady_queue.worker.configuration import process_specs
from tests.testapp import tasks


@pytest.fixture(autouse=True)
def _empty_registry(registry):
    """Every test here starts with no recurring task declared."""


def kinds(specs):
    return [spec.kind for spec in specs]


def test_default_is_one_worker_and_one_dispatcher():
    specs = process_specs()
    assert kinds(specs) == ["worker", "dispatcher"]
    assert specs[0].kwargs["worker_config"].queues == ("*",)
    assert specs[0].kwargs["worker_config"].threads == 8


def test_flags_describe_one_worker_pool():
    with override_settings(STEADY_QUEUE={"workers": [{"queues": ["a"]}, {"queues": ["b"]}]}):
        specs = process_specs(queues=("email", "mail*"), processes=2)
    assert kinds(specs) == ["worker", "worker", "dispatcher"]
    assert specs[0].kwargs["worker_config"].queues == ("email", "mail*")


def test_only_flags():
    assert kinds(process_specs(only_work=True)) == ["worker"]
    assert kinds(process_specs(only_dispatch=True)) == ["dispatcher"]
    with pytest.raises(ImproperlyConfigured, match="cannot be used together"):
        process_specs(only_work=True, only_dispatch=True)


def test_the_scheduler_joins_when_there_are_recurring_tasks():
    recurring(schedule="@daily", key="daily")(tasks.echo)
    assert kinds(process_specs()) == ["worker", "dispatcher", "scheduler"]
    assert kinds(process_specs(skip_recurring=True)) == ["worker", "dispatcher"]
    assert kinds(process_specs(only_work=True)) == ["worker"]


def test_without_steady_queue_cron_a_warning_says_so(monkeypatch, caplog):
    recurring(schedule="@daily", key="daily")(tasks.echo)
    # What importlib.metadata answers on a host where steady-queue-cron is not installed.
    monkeypatch.setattr(configuration, "entry_points", lambda **kwargs: ())
    with caplog.at_level(logging.WARNING, logger="steady_queue.supervisor"):
        assert kinds(process_specs()) == ["worker", "dispatcher"]
    assert "1 recurring task(s) are defined but steady-queue-cron is not installed" in caplog.text
