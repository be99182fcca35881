"""enqueue_on_commit: the task is enqueued when the application commits, never if it rolls back."""

import pytest
from django.db import DEFAULT_DB_ALIAS, transaction

from steady_queue.arguments import SerializationError
from steady_queue.models import Job
from steady_queue.on_commit import enqueue_on_commit
from tests.testapp import tasks
from tests.testapp.models import Author

# Real commits: the callbacks run when the outermost transaction of the default database commits.
pytestmark = pytest.mark.django_db(transaction=True)


class RolledBack(Exception):
    pass


def enqueued():
    return [(job.task_path.rpartition(".")[2], job.arguments) for job in Job.objects.order_by("pk")]


def test_the_task_is_enqueued_when_the_applications_transaction_commits():
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        author = Author.objects.create(name="ada")
        enqueue_on_commit(tasks.echo, (author.pk,), {"greeting": "hello"})
        assert enqueued() == []
    assert enqueued() == [("echo", {"args": [author.pk], "kwargs": {"greeting": "hello"}})]


def test_nothing_is_enqueued_when_the_applications_transaction_rolls_back():
    with pytest.raises(RolledBack), transaction.atomic(using=DEFAULT_DB_ALIAS):
        Author.objects.create(name="ada")
        enqueue_on_commit(tasks.add, (1, 2))
        raise RolledBack
    assert enqueued() == [] and not Author.objects.exists()


def test_a_rolled_back_savepoint_takes_its_enqueues_with_it():
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        enqueue_on_commit(tasks.add, (1, 1))
        with pytest.raises(RolledBack), transaction.atomic(using=DEFAULT_DB_ALIAS):
            enqueue_on_commit(tasks.add, (2, 2))
            raise RolledBack
    assert enqueued() == [("add", {"args": [1, 1], "kwargs": {}})]


def test_outside_a_transaction_the_task_is_enqueued_at_once():
    enqueue_on_commit(tasks.add, (1, 2))
    assert enqueued() == [("add", {"args": [1, 2], "kwargs": {}})]


def test_arguments_the_queue_cannot_store_fail_inside_the_transaction():
    with pytest.raises(RolledBack), transaction.atomic(using=DEFAULT_DB_ALIAS):
        with pytest.raises(SerializationError, match=r"args\[0\]"):
            enqueue_on_commit(tasks.echo, (object(),))
        raise RolledBack
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        with pytest.raises(SerializationError):
            enqueue_on_commit(tasks.echo, (object(),))
    assert enqueued() == []


def test_a_task_configured_with_using_keeps_its_options():
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        enqueue_on_commit(tasks.add.using(queue_name="low", priority=5), (1, 2))
    job = Job.objects.get()
    assert (job.queue_name, job.priority) == ("low", 5)
