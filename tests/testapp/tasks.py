"""Module-level task functions for the tests (django.tasks refuses nested functions)."""

from django.tasks import task


@task()
def add(a, b):
    return a + b


@task(queue_name="email", priority=10)
def send_email(address, subject="Hello"):
    return f"sent {subject} to {address}"


@task()
def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@task(takes_context=True)
def with_context(context, value):
    return {"attempt": context.attempt, "value": value}


@task(backend="open", queue_name="anything-goes")
def open_queue_task():
    return None
