from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import steady_queue
from steady_queue.conf import get_config, parse


def test_defaults_match_the_documentation():
    config = parse(None)
    assert config.errors == ()
    (worker,) = config.workers
    assert worker.queues == ("*",)
    assert worker.threads == 8
    assert worker.processes == 1
    assert worker.polling_interval == timedelta(seconds=0.1)
    (dispatcher,) = config.dispatchers
    assert dispatcher.batch_size == 500
    assert dispatcher.polling_interval == timedelta(seconds=1)
    assert dispatcher.concurrency_maintenance is True
    assert dispatcher.concurrency_maintenance_interval == timedelta(minutes=10)
    assert config.process_heartbeat_interval == timedelta(seconds=60)
    assert config.process_alive_threshold == timedelta(minutes=5)
    assert config.shutdown_timeout == timedelta(seconds=5)
    assert config.preserve_finished_jobs is True
    assert config.clear_finished_jobs_after == timedelta(days=1)
    assert config.default_concurrency_control_period == timedelta(minutes=3)


def test_a_partial_worker_entry_takes_the_other_defaults():
    config = parse({"workers": [{"queues": ["email"]}, {"threads": 2, "polling_interval": 2}]})
    assert config.errors == ()
    assert config.workers[0].queues == ("email",)
    assert config.workers[0].threads == 8
    assert config.workers[1].queues == ("*",)
    assert config.workers[1].threads == 2
    assert config.workers[1].polling_interval == timedelta(seconds=2)


def test_durations_accept_seconds_and_timedelta():
    config = parse({"shutdown_timeout": 0, "process_heartbeat_interval": timedelta(seconds=30)})
    assert config.errors == ()
    assert config.shutdown_timeout == timedelta(0)
    assert config.process_heartbeat_interval == timedelta(seconds=30)


def test_queues_accept_a_single_name_and_prefix_wildcards():
    config = parse({"workers": [{"queues": "email"}, {"queues": ["mail*", "default"]}]})
    assert config.errors == ()
    assert config.workers[0].queues == ("email",)
    assert config.workers[1].queues == ("mail*", "default")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "STEADY_QUEUE must be a dict, not list."),
        ({"threads": 3}, "STEADY_QUEUE has an unknown key 'threads'"),
        ({"workers": {"queues": ["a"]}}, "STEADY_QUEUE['workers'] must be a list of dicts"),
        ({"workers": ["email"]}, "STEADY_QUEUE['workers'][0] must be a dict, not 'email'."),
        ({"workers": [{"queue": ["a"]}]}, "STEADY_QUEUE['workers'][0] has an unknown key 'queue'"),
        ({"workers": [{"threads": 0}]}, "STEADY_QUEUE['workers'][0]['threads'] must be at least 1, not 0."),
        ({"workers": [{"threads": "4"}]}, "STEADY_QUEUE['workers'][0]['threads'] must be an integer, not '4'."),
        ({"workers": [{"processes": True}]}, "['processes'] must be an integer, not True."),
        ({"workers": [{"prefetch": "lots"}]}, "['prefetch'] must be \"auto\" or an integer, not 'lots'."),
        ({"workers": [{"prefetch": -1}]}, "['prefetch'] must be at least 0, not -1."),
        ({"workers": [{"queues": []}]}, "['queues'] must be a non-empty list of queue names"),
        ({"workers": [{"queues": ["*mail"]}]}, "queue pattern '*mail' may only have '*' at its end"),
        ({"workers": [{"queues": ["a,b"]}]}, "queue name 'a,b' may not contain commas"),
        ({"workers": [{"polling_interval": 0}]}, "['polling_interval'] must be positive, not 0."),
        ({"dispatchers": [{"batch_size": 0}]}, "STEADY_QUEUE['dispatchers'][0]['batch_size'] must be at least 1"),
        ({"dispatchers": [{"concurrency_maintenance": "yes"}]}, "must be True or False, not 'yes'."),
        ({"shutdown_timeout": -1}, "STEADY_QUEUE['shutdown_timeout'] must be zero or positive, not -1."),
        ({"process_heartbeat_interval": "60s"}, "must be a number of seconds or a timedelta, not '60s'."),
        ({"preserve_finished_jobs": 1}, "STEADY_QUEUE['preserve_finished_jobs'] must be True or False"),
        (
            {"process_heartbeat_interval": 60, "process_alive_threshold": 30},
            "['process_alive_threshold'] must be longer than 'process_heartbeat_interval'",
        ),
    ],
)
def test_invalid_settings_are_reported(raw, message):
    errors = parse(raw).errors
    assert any(message in error for error in errors), errors


def test_every_problem_is_reported_at_once():
    errors = parse({"workers": [{"threads": 0, "processes": 0}], "shutdown_timeout": "x"}).errors
    assert len(errors) == 3


def test_the_heartbeat_rule_is_reported_with_the_other_problems():
    errors = parse(
        {"workers": [{"threads": 0}], "process_heartbeat_interval": 60, "process_alive_threshold": 30}
    ).errors
    assert len(errors) == 2
    assert any("must be longer than 'process_heartbeat_interval'" in error for error in errors)


def test_get_config_refuses_invalid_settings():
    with override_settings(STEADY_QUEUE={"workers": [{"threads": 0}]}):
        with pytest.raises(ImproperlyConfigured, match=r"\['threads'\] must be at least 1"):
            get_config()


def test_module_level_names_follow_the_settings():
    assert steady_queue.default_concurrency_control_period == timedelta(minutes=3)
    with override_settings(STEADY_QUEUE={"default_concurrency_control_period": 60}):
        assert steady_queue.default_concurrency_control_period == timedelta(minutes=1)
    assert steady_queue.default_concurrency_control_period == timedelta(minutes=3)
    assert steady_queue.shutdown_timeout == timedelta(seconds=5)
    with pytest.raises(AttributeError):
        steady_queue.no_such_setting  # noqa: B018
