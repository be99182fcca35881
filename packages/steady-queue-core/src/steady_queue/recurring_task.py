"""``@recurring``: enqueue a task on a cron schedule.

The decorator (and ``STEADY_QUEUE["recurring_tasks"]``) only record and check the configuration;
the scheduler in ``steady-queue-cron`` fires it. Every check happens at import time, with a message
naming the key, so a mistake shows up on every host, not only where the scheduler runs.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.tasks import Task
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from django.utils.module_loading import import_string

from steady_queue import arguments
from steady_queue.exceptions import SteadyQueueError

KEY_MAX_LENGTH = 255


class RecurringTaskError(SteadyQueueError, ImproperlyConfigured):
    """A recurring task is configured wrongly (raised at import, or when settings are checked)."""

    def __init__(self, key, problem):
        self.key = key
        super().__init__(problem if key is None else f"Recurring task {key!r}: {problem}")


@dataclass(frozen=True)
class RecurringTaskSpec:
    """One recurring configuration: which task, when, with which arguments, on which queue."""

    key: str
    schedule: str
    task_path: str
    args: list
    kwargs: dict
    queue_name: str
    priority: int
    description: str = ""
    source: str = "decorator"  # or "settings"

    def task(self):
        """The task, configured with this recurring task's queue and priority."""
        return import_string(self.task_path).using(queue_name=self.queue_name, priority=self.priority)


_registry = {}


def recurring(schedule, key, args=(), kwargs=None, queue_name=None, priority=None, description=None):
    """Enqueue the task on a cron schedule. Apply it outside ``@task()``; it may be stacked.

    ``schedule`` is a crontab expression (``"0 9 * * 1-5"``, ``"@daily"``...), evaluated in the
    project's time zone. ``key`` names this configuration and must be unique in the project.
    ``args`` and ``kwargs`` are passed to the task at every run. ``queue_name`` and ``priority``
    default to the task's own. ``description`` is shown in the admin.
    """

    def decorator(task):
        if not isinstance(task, Task):
            raise RecurringTaskError(
                key, f"@recurring must be applied outside @task(), to the task it returns; got {task!r}."
            )
        spec = build_spec(task, key, schedule, args, kwargs, queue_name, priority, description, "decorator")
        existing = _registry.get(spec.key)
        if existing is not None and existing != spec:
            raise RecurringTaskError(
                spec.key, f"the key is used twice: by {existing.task_path} and by {spec.task_path}."
            )
        _registry[spec.key] = spec
        return task

    return decorator


def build_spec(task, key, schedule, args, kwargs, queue_name, priority, description, source):
    """Check one recurring configuration and return its spec; RecurringTaskError names the key."""
    if not isinstance(key, str) or not key or len(key) > KEY_MAX_LENGTH:
        raise RecurringTaskError(
            None, f"A recurring task key must be a non-empty string of at most {KEY_MAX_LENGTH} characters: {key!r}."
        )
    check_schedule(key, schedule)
    if args is None:
        args = ()
    if not isinstance(args, (list, tuple)):
        raise RecurringTaskError(key, f"args must be a list or tuple, not {args!r}.")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise RecurringTaskError(key, f"kwargs must be a dict, not {kwargs!r}.")
    try:
        encoded_args, encoded_kwargs = arguments.serialize(args, kwargs or {})
    except arguments.SerializationError as error:
        raise RecurringTaskError(key, str(error)) from error
    priority = task.priority if priority is None else priority
    whole = isinstance(priority, int) and not isinstance(priority, bool)
    if not whole or not TASK_MIN_PRIORITY <= priority <= TASK_MAX_PRIORITY:
        raise RecurringTaskError(
            key, f"priority must be a whole number from {TASK_MIN_PRIORITY} to {TASK_MAX_PRIORITY}, not {priority!r}."
        )
    queue_name = task.queue_name if queue_name is None else queue_name
    allowed = task.get_backend().queues
    if not isinstance(queue_name, str) or (allowed and queue_name not in allowed):
        raise RecurringTaskError(
            key,
            f"queue {queue_name!r} is not allowed by the {task.backend!r} backend "
            f"(QUEUES: {', '.join(sorted(allowed))})."
        )
    if description is not None and not isinstance(description, str):
        raise RecurringTaskError(key, f"description must be a string, not {description!r}.")
    return RecurringTaskSpec(
        key=key,
        schedule=schedule,
        task_path=task.module_path,
        args=encoded_args,
        kwargs=encoded_kwargs,
        queue_name=queue_name,
        priority=priority,
        description=description or "",
        source=source,
    )


def check_schedule(key, schedule):
    from crontab import CronTab

    if not isinstance(schedule, str) or not schedule.strip():
        raise RecurringTaskError(key, f"schedule must be a crontab expression, not {schedule!r}.")
    try:
        CronTab(schedule)
    except ValueError as error:
        raise RecurringTaskError(key, f"invalid schedule {schedule!r}: {error}") from error


def settings_specs(configured):
    """The recurring tasks of STEADY_QUEUE['recurring_tasks'] (key -> options), checked."""
    specs = {}
    for key, options in configured.items():
        try:
            task = import_string(options["task"])
        except ImportError as error:
            raise RecurringTaskError(key, f"cannot import task {options['task']!r}: {error}") from error
        if not isinstance(task, Task):
            raise RecurringTaskError(key, f"{options['task']!r} is not a task (use @task()).")
        specs[key] = build_spec(
            task,
            key,
            options.get("schedule"),
            options.get("args", ()),
            options.get("kwargs"),
            options.get("queue_name"),
            options.get("priority"),
            options.get("description"),
            "settings",
        )
    return specs


def recurring_tasks():
    """Every recurring task of the project: the decorators' (of modules imported so far) and the settings'."""
    from steady_queue.conf import get_config

    from_settings = settings_specs(get_config().recurring_tasks)
    twice = sorted(set(from_settings) & set(_registry))
    if twice:
        raise RecurringTaskError(
            None,
            f"Recurring task key(s) {', '.join(map(repr, twice))} are defined both by @recurring and in "
            "STEADY_QUEUE['recurring_tasks']."
        )
    return sorted([*_registry.values(), *from_settings.values()], key=lambda spec: spec.key)
