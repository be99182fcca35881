"""Recurring tasks declared with @recurring, installed only for the scheduler tests that ask for them."""

from django.tasks import task

from steady_queue.recurring_task import recurring
from tests.testapp.tasks import _record_start


@recurring(schedule="* * * * * * *", key="every-second-a", args=("a",))
@recurring(schedule="* * * * * * *", key="every-second-b", args=("b",))
@task()
def tick(label):
    _record_start(f"tick:{label}")
    return label
