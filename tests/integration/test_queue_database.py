"""STEADY_QUEUE["database"]: where the queue's tables live, and what the router sends there.

Most of these run in either topology and assert what it promises; with one database the queue's
alias is the default one. CI runs them with STEADY_QUEUE_TEST_TOPOLOGY=two-databases too.
"""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router, transaction
from django.test import override_settings

from steady_queue.cron.scheduler import Scheduler
from steady_queue.db import queue_database
from steady_queue.models import Job, RecurringExecution
from steady_queue.models.job import job_pk
from steady_queue.recurring_task import recurring
from steady_queue.routers import QueueRouter
from tests.databases import queue_connection
from tests.integration.test_atomicity import DROP, FAILING_TRIGGER
from tests.runtime import in_threads
from tests.testapp import tasks
from tests.testapp.models import Author

SEPARATE = queue_database() != DEFAULT_DB_ALIAS
two_databases = pytest.mark.skipif(not SEPARATE, reason="needs STEADY_QUEUE_TEST_TOPOLOGY=two-databases")


class RolledBack(Exception):
    pass


class EverythingToDefault:
    """A project router that claims every model for the default database."""

    def db_for_read(self, model, **hints):
        return DEFAULT_DB_ALIAS

    db_for_write = db_for_read


class QueueElsewhere:
    """A project router that sends the queue's models to a database STEADY_QUEUE does not name."""

    def db_for_read(self, model, **hints):
        return "elsewhere" if model._meta.app_label == "steady_queue" else None

    db_for_write = db_for_read


def tables(alias):
    return set(connections[alias].introspection.table_names())


@two_databases
@pytest.mark.django_db
def test_migrate_puts_the_queue_tables_in_the_queue_database_and_nothing_else_there():
    queue, application = tables(queue_database()), tables(DEFAULT_DB_ALIAS)
    assert Job._meta.db_table in queue
    assert {table for table in application if table.startswith("steady_queue_")} == set()
    # Only Django's own record of the migrations beside the queue's tables.
    assert queue - {"django_migrations"} == {table for table in queue if table.startswith("steady_queue_")}
    assert Author._meta.db_table in application and Author._meta.db_table not in queue


def test_the_router_migrates_the_queue_only_where_the_setting_says():
    queue = queue_database()
    assert QueueRouter().allow_migrate(queue, "steady_queue") is True
    assert QueueRouter().allow_migrate("elsewhere", "steady_queue") is False
    # The default database stays open to every app, whichever database holds the queue.
    assert QueueRouter().allow_migrate(DEFAULT_DB_ALIAS, "testapp") is None
    assert QueueRouter().allow_migrate(queue, "testapp") is (False if SEPARATE else None)


def test_the_router_sends_the_queues_reads_and_writes_there_and_leaves_other_models_alone():
    assert (router.db_for_read(Job), router.db_for_write(Job)) == (queue_database(), queue_database())
    assert QueueRouter().db_for_write(Author) is None and QueueRouter().db_for_read(Author) is None


@pytest.mark.parametrize("routers", [[], [f"{__name__}.EverythingToDefault"]], ids=["no router", "claimed"])
@two_databases
@pytest.mark.django_db  # the model checks ask the databases about their features
def test_a_queue_database_the_routers_do_not_reach_is_a_check_error(routers):
    with override_settings(DATABASE_ROUTERS=routers):
        errors = [m for m in checks.run_checks() if m.id == "steady_queue.E040"]
    assert len(errors) == 1
    assert f"STEADY_QUEUE['database'] is {queue_database()!r}" in errors[0].msg
    assert "go to 'default'" in errors[0].msg
    assert "steady_queue.routers.QueueRouter" in errors[0].hint


@pytest.mark.django_db  # the model checks ask the databases about their features
def test_routers_that_send_the_queue_elsewhere_than_the_setting_are_a_check_error():
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.QueueElsewhere", *settings.DATABASE_ROUTERS]):
        errors = [m for m in checks.run_checks() if m.id == "steady_queue.E040"]
    assert len(errors) == 1 and "go to 'elsewhere'" in errors[0].msg


@pytest.mark.django_db  # the model checks ask the databases about their features
def test_an_unknown_database_alias_is_a_settings_error():
    with override_settings(STEADY_QUEUE={**settings.STEADY_QUEUE, "database": "queues"}):
        errors = [m for m in checks.run_checks() if m.id == "steady_queue.E010"]
    assert [m.msg for m in errors] == [
        f"STEADY_QUEUE['database'] must be an alias in settings.DATABASES "
        f"({', '.join(repr(alias) for alias in settings.DATABASES)}), not 'queues'."
    ]


@pytest.mark.django_db(transaction=True)
def test_a_plain_enqueue_belongs_to_the_applications_transaction_only_on_the_same_database():
    """On a separate queue database the job commits at once: it outlives the rollback, and other
    processes (a worker) see it before the application's rows."""
    seen = {}

    def look():
        seen.update(job=Job.objects.filter(pk=job_pk(result.id)).exists(), author=Author.objects.exists())

    with pytest.raises(RolledBack), transaction.atomic(using=DEFAULT_DB_ALIAS):
        Author.objects.create(name="ada")
        result = tasks.add.enqueue(1, 2)
        in_threads(look)  # another connection, as a worker's
        raise RolledBack
    assert seen == {"job": SEPARATE, "author": False}
    assert not Author.objects.exists()
    assert Job.objects.filter(pk=job_pk(result.id)).exists() is SEPARATE


@pytest.mark.django_db(transaction=True)
def test_a_recurring_tick_and_its_job_commit_together_on_the_queue_database(registry):
    """A tick whose enqueue fails leaves no record that it ran, so that the scheduler fires it again."""
    recurring(schedule="* * * * *", key="digest")(tasks.add.using())
    scheduler = Scheduler()
    run_at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    with queue_connection.cursor() as cursor:
        for statement in FAILING_TRIGGER[queue_connection.vendor]:
            cursor.execute(statement)
    try:
        assert scheduler._fire(scheduler.specs[0], run_at) is False
    finally:
        with queue_connection.cursor() as cursor:
            for statement in DROP[queue_connection.vendor]:
                cursor.execute(statement)
    assert not RecurringExecution.objects.exists() and not Job.objects.exists()
    assert scheduler._fire(scheduler.specs[0], run_at) is True
    assert RecurringExecution.objects.get().job_id == Job.objects.get().pk


@two_databases
@pytest.mark.django_db(transaction=True)
def test_a_failed_enqueue_does_not_break_the_applications_transaction():
    """The queue's error dooms no transaction on the application's database: the caller may go on."""
    with queue_connection.cursor() as cursor:
        for statement in FAILING_TRIGGER[queue_connection.vendor]:
            cursor.execute(statement)
    try:
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            Author.objects.create(name="ada")
            with pytest.raises(DatabaseError):
                tasks.add.enqueue(1, 2)
            Author.objects.create(name="grace")
    finally:
        with queue_connection.cursor() as cursor:
            for statement in DROP[queue_connection.vendor]:
                cursor.execute(statement)
    assert Author.objects.count() == 2 and not Job.objects.exists()
