"""STEADY_QUEUE['listener_database'] and the warnings for a queue database that looks pooled."""

import pytest
from django.db import connections

from steady_queue.checks import pooler_warnings
from steady_queue.conf import parse

ON_POSTGRESQL = connections["default"].vendor == "postgresql"
BOUNCER = {"ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1", "PORT": 6432, "NAME": "app"}


def test_by_default_the_listener_uses_the_queue_database():
    assert parse(None).listener_database is None


def test_an_unknown_alias_is_refused_with_the_known_ones():
    (message,) = parse({"listener_database": "direkt"}).errors
    assert "STEADY_QUEUE['listener_database'] must be None or an alias in settings.DATABASES" in message
    assert "'default'" in message and "'direkt'" in message


@pytest.mark.skipif(ON_POSTGRESQL, reason="needs a database other than PostgreSQL as 'default'")
def test_a_database_other_than_postgresql_is_refused():
    (message,) = parse({"listener_database": "default"}).errors
    assert "PostgreSQL's LISTEN/NOTIFY" in message and "remove the setting" in message


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL as 'default'")
def test_a_postgresql_alias_is_accepted():
    config = parse({"listener_database": "default"})
    assert config.errors == ()
    assert config.listener_database == "default"


def test_a_pooled_queue_database_without_a_listener_database_is_warned_about():
    (warning,) = pooler_warnings("default", BOUNCER, None)
    assert warning.id == "steady_queue.W002"
    assert "listener_database" in warning.hint


def test_a_pooler_is_recognised_by_its_host_name_too():
    database = {**BOUNCER, "PORT": 5432, "HOST": "db-pooler.example.com"}
    assert [w.id for w in pooler_warnings("default", database, None)] == ["steady_queue.W002"]


def test_prepared_statements_through_a_pooler_are_warned_about():
    database = {**BOUNCER, "OPTIONS": {"prepare_threshold": 5}}
    (warning,) = pooler_warnings("default", database, "direct")
    assert warning.id == "steady_queue.W003"
    assert "prepared statement" in warning.msg


def test_steady_queues_prepared_statements_through_a_pooler_are_warned_about():
    (warning,) = pooler_warnings("default", BOUNCER, "direct", prepared_statements=True)
    assert warning.id == "steady_queue.W003"
    assert "STEADY_QUEUE['prepared_statements'] = False" in warning.hint
    assert pooler_warnings("default", {**BOUNCER, "PORT": 5432}, None, prepared_statements=True) == []


def test_a_direct_connection_or_a_configured_pooler_is_not_warned_about():
    assert pooler_warnings("default", {**BOUNCER, "PORT": 5432}, None) == []
    assert pooler_warnings("default", BOUNCER, "direct") == []
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "pgbouncer.sqlite3"}
    assert pooler_warnings("default", sqlite, None) == []
