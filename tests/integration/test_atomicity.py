import pytest
from django.db import DatabaseError
from django.db.models.query import QuerySet

from steady_queue.models import Job, ReadyExecution
from tests.testapp import tasks


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_job_insert_leaves_no_job(monkeypatch):
    """Job and ready row commit together: the job insert is undone when the second insert fails."""
    original = QuerySet.bulk_create

    def bulk_create(self, objs, *args, **kwargs):
        if self.model is ReadyExecution:
            raise DatabaseError("connection lost between the two inserts")
        return original(self, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", bulk_create)
    with pytest.raises(DatabaseError):
        tasks.add.enqueue(1, 2)
    monkeypatch.undo()

    assert Job.objects.count() == 0
    tasks.add.enqueue(1, 2)
    assert Job.objects.count() == 1 and ReadyExecution.objects.count() == 1
