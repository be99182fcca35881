"""Fixtures of the console tests: tasks in every state, users with chosen permissions, query counts."""

import os
import socket
from contextlib import ExitStack, contextmanager
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steady_queue.cancellation import cancel_many
from steady_queue.db import queue_database
from steady_queue.models import Process, RecurringExecution, RecurringTask
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from tests.testapp import tasks


@pytest.fixture
def make_states(run_tasks):
    """``make_states(n)`` adds n tasks in each state (and a worker, a recurring task with n ticks)."""

    def make(n):
        tasks.fail.using(queue_name="low").enqueue_many([(f"boom {i}",) for i in range(n)])
        tasks.add.using(queue_name="low").enqueue_many([(i, i) for i in range(n)])
        run_tasks(queues=("low",))
        worker = Process.objects.filter(name="console-worker").first() or register(
            "worker", "console-worker", os.getpid(), socket.gethostname(),
            metadata={"queues": ["reports"], "threads": 3},
        )
        tasks.add.using(queue_name="reports").enqueue_many([(i, i) for i in range(n)])
        claim(["reports"], n, worker.pk)
        tasks.add.enqueue_many([(i, i) for i in range(n)])
        tasks.add.using(run_after=timedelta(hours=1)).enqueue_many([(i, i) for i in range(n)])
        for i in range(n + 1):
            tasks.one_at_a_time.enqueue("console", str(i))
        tasks.send_email.enqueue_many([(f"{i}@example.com",) for i in range(n)])
        cancel_many(queue_name="email")
        recurring, _ = RecurringTask.objects.get_or_create(
            key="nightly-add", defaults={"schedule": "0 3 * * *", "task_path": "tests.testapp.tasks.add",
                                         "arguments": {"args": [1, 2], "kwargs": {}}, "queue_name": "default"}
        )
        start = RecurringExecution.objects.count()
        for i in range(n):
            result = tasks.add.enqueue(1, 2)
            RecurringExecution.objects.create(
                task_key=recurring.key, run_at=timezone.now() - timedelta(days=start + i), job_id=job_pk(result.id)
            )

    return make


@pytest.fixture
def count_queries():
    """``with count_queries() as counted:`` counts the statements on every database (``counted()``)."""

    @contextmanager
    def count():
        contexts = [CaptureQueriesContext(connections[alias]) for alias in {DEFAULT_DB_ALIAS, queue_database()}]
        with ExitStack() as stack:
            for context in contexts:
                stack.enter_context(context)
            yield lambda: sum(len(context.captured_queries) for context in contexts)

    return count


@pytest.fixture
def user_with(client):
    """``user_with(*permission codenames, staff=True)``: a logged-in user holding exactly those permissions."""

    def make(*codenames, staff=True):
        user = User.objects.create_user(f"user{User.objects.count()}", password="x", is_staff=staff)
        permissions = Permission.objects.filter(content_type__app_label="steady_queue", codename__in=codenames)
        user.user_permissions.set(permissions)
        client.force_login(user)
        return client

    return make
