from django.tasks import task

from steady_queue.concurrency import limits_concurrency


@task()
def noop(n):
    return None


@limits_concurrency(key=lambda n, key: key, to=1)
@task()
def limited_noop(n, key):
    return None
