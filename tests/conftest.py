import os
import queue
import socket
from concurrent.futures import Future

import pytest
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def capture_queries():
    """Capture the SQL statements run on the queue's database inside a with block."""
    from django.db import connections

    from steady_queue.db import queue_database

    return lambda: CaptureQueriesContext(connections[queue_database()])


def pytest_report_header(config):
    from django.conf import settings
    from django.db import connection

    return (
        f"steady_queue tests on {connection.vendor} ({connection.settings_dict['ENGINE']}), "
        f"{settings.TOPOLOGY} ({', '.join(settings.DATABASES)})"
    )


def pytest_collection_modifyitems(items):
    """With a separate queue database, every database test may use it as well as the default one.

    pytest-django lets a test reach only the databases its django_db mark names (default: the
    default one). Rather than name them in every module, a mark that does not choose is widened
    here, so the same tests run in either topology.
    """
    from django.db import DEFAULT_DB_ALIAS

    from steady_queue.db import queue_database

    databases = {DEFAULT_DB_ALIAS, queue_database()}
    if len(databases) == 1:
        return
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            widened = pytest.mark.django_db(*marker.args, **{**marker.kwargs, "databases": databases})
            # Prepended: the closest mark is the one pytest-django reads.
            item.add_marker(widened, append=False)


@pytest.fixture
def start_supervisor(tmp_path):
    """Start real ``manage.py steady_queue`` processes; all are killed when the test ends."""
    from tests.runtime import SupervisorProcess

    started = []

    def start(config=None, args=(), env=None):
        supervisor = SupervisorProcess(tmp_path, config, args, env)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.kill_everything()


@pytest.fixture
def recurring_app(monkeypatch):
    """The processes the test starts load tests.recurringapp, whose @recurring tasks fire every second."""
    monkeypatch.setenv("STEADY_QUEUE_TEST_RECURRING_APP", "1")


@pytest.fixture
def registry():
    """An empty @recurring registry for the test, restored afterwards."""
    from steady_queue import recurring_task

    saved = dict(recurring_task._registry)
    recurring_task._registry.clear()
    yield recurring_task._registry
    recurring_task._registry.clear()
    recurring_task._registry.update(saved)


class FinisherGaveUp(BaseException):
    """What the finisher's thread is told when finish_and_start raised on the test's thread.

    Not an Exception, so that the finisher drops the batch instead of recording it one by one: that
    fallback would use a connection of its own, which waits behind the test's transaction.
    """


@pytest.fixture
def run_tasks(monkeypatch):
    """Run ready tasks the way a worker does, and return the jobs it ran.

    ``run_tasks(queues=("*",), limit=100, preserve=True, worker_name="worker-test", after_claim=None)``
    registers a worker process (once per name), claims at most ``limit`` jobs from ``queues`` and
    performs each in an Attempt that hands its success to a real Finisher. The claims get their start
    markers at once; ``after_claim(jobs)``, if given, runs between then and the attempts. Every
    outcome is recorded when it returns.

    In a worker the Finisher records on its own thread, with that thread's database connection. A
    test here runs inside a transaction that is rolled back afterwards: another connection would not
    see the test's rows, and what it wrote would stay. Marking the tests transactional would solve
    that at a price: every table emptied after each test, which made them three to four times
    slower (about 60 ms more a test on SQLite, 150 ms on PostgreSQL). Instead, the finisher's one
    database call, finish_and_start, is handed over to the test's thread, which makes it on the test's
    connection while the finisher's thread waits for the answer. Batching, retrying, task_finished
    and the lost-claim warning stay on the finisher's thread, as in a worker; production code is
    untouched. The fallback after finish_and_start raised (Attempt.record_success, one success at a time,
    on the finisher's own connection) is not taken here: the error fails the test instead, and the
    tests of that path call Attempt without a finisher.
    """
    from steady_queue.models import Process
    from steady_queue.models.process import register
    from steady_queue.models.ready_execution import claim
    from steady_queue.worker import finishing
    from steady_queue.worker.attempt import Attempt

    finish_and_start = finishing.finish_and_start
    handed_over = queue.SimpleQueue()
    errors = []

    def finish_and_start_on_the_test_thread(*args, **kwargs):
        answer = Future()

        def call():
            try:
                answer.set_result(finish_and_start(*args, **kwargs))
            except Exception as error:
                errors.append(error)
                answer.set_exception(FinisherGaveUp(error))

        handed_over.put(call)
        return answer.result()

    monkeypatch.setattr(finishing, "finish_and_start", finish_and_start_on_the_test_thread)

    def record_everything(finisher):
        while not finisher.flush(timeout=0):
            try:
                call = handed_over.get(timeout=0.005)
            except queue.Empty:
                continue
            call()

    def run(queues=("*",), limit=100, preserve=True, worker_name="worker-test", after_claim=None):
        process = Process.objects.filter(name=worker_name).first() or register(
            "worker", worker_name, os.getpid(), socket.gethostname()
        )
        jobs = claim(list(queues), limit, process.pk)
        # The start markers, as a worker's threads have them recorded before their tasks run.
        finish_and_start([], [job.pk for job in jobs], process.pk, process.name, preserve=preserve)
        if after_claim is not None:
            after_claim(jobs)
        finisher = finishing.Finisher(process.pk, process.name, preserve)
        worker = {"process_id": process.pk, "worker_name": process.name, "preserve_finished_jobs": preserve}
        try:
            for job in jobs:
                Attempt(job, **worker, finisher=finisher).perform()
        finally:
            record_everything(finisher)
            finisher.stop()
        if errors:
            raise errors[0]
        return jobs

    return run
