import pytest
from django.db import DatabaseError

from steady_queue.models import Job, ReadyExecution
from tests.databases import queue_connection as connection
from tests.testapp import tasks

READY = ReadyExecution._meta.db_table

FAILING_TRIGGER = {
    "sqlite": [
        f"CREATE TRIGGER sq_test_fail BEFORE INSERT ON {READY} BEGIN SELECT RAISE(ABORT, 'ready insert failed'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION sq_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'ready insert failed'; END $$ "
        "LANGUAGE plpgsql",
        f"CREATE TRIGGER sq_test_fail BEFORE INSERT ON {READY} FOR EACH ROW EXECUTE FUNCTION sq_test_fail()",
    ],
    "mysql": [
        f"CREATE TRIGGER sq_test_fail BEFORE INSERT ON {READY} FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ready insert failed'"
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER sq_test_fail"],
    "postgresql": [f"DROP TRIGGER sq_test_fail ON {READY}", "DROP FUNCTION sq_test_fail()"],
    "mysql": ["DROP TRIGGER sq_test_fail"],
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bulk", [False, True])
def test_a_failure_after_the_job_insert_leaves_no_job(bulk):
    """Job and ready row commit together: when the database refuses the second, the first is undone."""
    with connection.cursor() as cursor:
        for statement in FAILING_TRIGGER[connection.vendor]:
            cursor.execute(statement)
    try:
        with pytest.raises(DatabaseError, match="ready insert failed"):
            if bulk:
                tasks.add.enqueue_many([(1, 2), (3, 4)])
            else:
                tasks.add.enqueue(1, 2)
    finally:
        with connection.cursor() as cursor:
            for statement in DROP[connection.vendor]:
                cursor.execute(statement)
    assert Job.objects.count() == 0
    tasks.add.enqueue(1, 2)
    assert Job.objects.count() == 1 and ReadyExecution.objects.count() == 1
