"""The key of one call of a task, for @limits_concurrency and @unique: '<group>/<key>'.

Also the checks both decorators make of their arguments, so that they refuse the same mistakes
with the same words.
"""

from datetime import timedelta

from django.db import models

KEY_MAX_LENGTH = 255


def key_for_call(key, group, task, args, kwargs, error_class):
    """``key`` is a string, or a callable of the call's arguments returning a string or a saved model
    instance; ``group`` defaults to the task's path. Raises ``error_class(task_path, problem)``."""
    if callable(key):
        try:
            value = key(*args, **kwargs)
        except Exception as error:
            raise error_class(
                task.module_path, f"cannot be computed: its function raised {type(error).__name__}: {error}"
            ) from error
    else:
        value = key
    if isinstance(value, models.Model):
        if value.pk is None:
            raise error_class(task.module_path, f"is an unsaved {value._meta.label} instance.")
        value = f"{value._meta.label_lower}/{value.pk}"
    if not isinstance(value, str) or not value:
        raise error_class(task.module_path, f"must be a non-empty string or a saved model instance, not {value!r}.")
    full = f"{group or task.module_path}/{value}"
    if len(full) > KEY_MAX_LENGTH:
        raise error_class(
            task.module_path, f"is {len(full)} characters long; the limit is {KEY_MAX_LENGTH}: {full[:60]}..."
        )
    return full


def check_key_and_group(decorator, key, group):
    """Raise TypeError at decoration for a key or group that can never work."""
    if not (callable(key) or (isinstance(key, str) and key)):
        raise TypeError(f"{decorator} key must be a non-empty string or a callable, not {key!r}.")
    if group is not None and not (isinstance(group, str) and group):
        raise TypeError(f"{decorator} group must be a non-empty string, not {group!r}.")


def optional_duration(decorator, name, value):
    """A positive timedelta from a timedelta or seconds; None stays None. TypeError otherwise."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise TypeError(f"{decorator} {name} must be a positive timedelta or seconds, or None, not {value!r}.")
    return value
