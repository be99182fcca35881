"""A tasks module whose task names a queue the default backend does not list: it cannot be imported."""

from django.tasks import task


@task(queue_name="not-listed")
def misplaced():
    return None
