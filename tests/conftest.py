import pytest
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def capture_queries():
    """Capture the SQL statements run on the default database inside a with block."""
    from django.db import connection

    return lambda: CaptureQueriesContext(connection)


def pytest_report_header(config):
    from django.db import connection

    return f"steady_queue tests on {connection.vendor} ({connection.settings_dict['ENGINE']})"


@pytest.fixture
def start_supervisor(tmp_path):
    """Start real ``manage.py steady_queue`` processes; all are killed when the test ends."""
    from tests.runtime import SupervisorProcess

    started = []

    def start(config=None, args=()):
        supervisor = SupervisorProcess(tmp_path, config, args)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.kill_everything()


@pytest.fixture
def registry():
    """An empty @recurring registry for the test, restored afterwards."""
    from steady_queue import recurring_task

    saved = dict(recurring_task._registry)
    recurring_task._registry.clear()
    yield recurring_task._registry
    recurring_task._registry.clear()
    recurring_task._registry.update(saved)
