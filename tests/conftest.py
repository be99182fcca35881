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
