"""@unique tasks for the tests (module level: django.tasks refuses nested functions)."""

from django.tasks import task

from steady_queue.concurrency import limits_concurrency
from steady_queue.uniqueness import unique
from tests.testapp.tasks import record


@unique(key=lambda account, label="", seconds=0.0: f"account-{account}")
@task()
def refresh(account, label="", seconds=0.0):
    """Held until it starts (the default)."""
    return record.func(f"refresh:{account}:{label}", seconds)


@unique(key=lambda account, label="", seconds=0.0: f"account-{account}", until="finished")
@task()
def rebuild(account, label="", seconds=0.0):
    """Held until it ends for good."""
    return record.func(f"rebuild:{account}:{label}", seconds)


@unique(key="the-only-one", until="finished", window=60)
@task()
def nightly(label=""):
    """Held until it finishes, then one more minute."""
    return label


@unique(key="the-only-one", window=60)
@task()
def warm_cache(label=""):
    """Held until it starts, then one more minute."""
    return label


@unique(key=lambda author: author)
@task()
def per_author(author):
    return author.name


@unique(key="shared", group="sync-group")
@task()
def sync_a():
    return "a"


@unique(key="shared", group="sync-group")
@task()
def sync_b():
    return "b"


@unique(key=lambda account: f"account-{account}", until="finished")
@task(max_attempts=3, backoff=lambda error, result: 0, takes_context=True)
def flaky(context, account):
    """Fails its first two attempts, then succeeds."""
    if context.attempt < 3:
        raise RuntimeError(f"attempt {context.attempt} fails")
    return context.attempt


@unique(key=lambda account: f"account-{account}", until="finished")
@task()
def always_fails(account):
    raise RuntimeError("failing on purpose")


@unique(key=lambda key, label: key)
@limits_concurrency(key=lambda key, label: key)
@task()
def unique_and_limited(key, label):
    return label


def _raise(account):
    raise LookupError(f"no account {account}")


@unique(key=_raise)
@task()
def broken_key(account):
    return account


@unique(key=lambda value: value)
@task()
def key_is_argument(value):
    return value
