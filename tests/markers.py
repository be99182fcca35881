"""Marks for tests that hold only under some configurations of the suite."""

import os

import pytest

# Statement counts are those of the per-database SQL (steady_queue.sql); with
# STEADY_QUEUE_TEST_SQL_FAST_PATHS=0 the suite runs the ORM versions, which take more.
fast_sql_only = pytest.mark.skipif(
    os.environ.get("STEADY_QUEUE_TEST_SQL_FAST_PATHS") == "0",
    reason="counts the statements of the per-database SQL, switched off in this run",
)
